"""Seeded Gaussian noise, mixed into a latent state according to its denoise mask."""

from __future__ import annotations

from dataclasses import replace

import mlx.core as mx

from ltx_core.types import LatentState


class GaussianNoiser:
    """Each call draws the next noise tensor of one seeded stream, so a run's draws are
    reproducible from its seed and independent of anything else drawing random numbers."""

    def __init__(self, seed: int):
        self.seed = int(seed)
        self._key = mx.random.key(self.seed)

    def draw(self, shape: tuple[int, ...], dtype: mx.Dtype = mx.float32) -> mx.array:
        self._key, sub = mx.random.split(self._key)
        return mx.random.normal(shape, dtype=dtype, key=sub)

    def __call__(self, state: LatentState, noise_scale: float = 1.0, noise: mx.array | None = None) -> LatentState:
        """``latent = clean * (1 - mask) + mask * (latent * (1 - scale) + noise * scale)`` (ltx-core 1.2.0;
        1.0.0's ``noise * mask * scale + latent * (1 - mask * scale)`` is the same wherever the latent
        equals the clean latent, and is computed exactly so there); ``noise`` may be injected."""
        if noise is None:
            noise = self.draw(tuple(state.latent.shape), state.latent.dtype)
        scaled_mask = state.denoise_mask * noise_scale
        latent = noise * scaled_mask + state.latent * (1 - scaled_mask)
        if state.clean_latent is not state.latent:  # given keyframes: a zero placeholder, the content clean
            latent = latent + (state.clean_latent - state.latent) * (1 - state.denoise_mask)
        return replace(state, latent=latent.astype(state.latent.dtype))
