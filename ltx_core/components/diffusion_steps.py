"""Diffusion update rules."""

from __future__ import annotations

import mlx.core as mx


def to_velocity(sample: mx.array, denoised: mx.array, sigma: mx.array | float) -> mx.array:
    """``(sample - denoised) / sigma`` in float32, returned in the sample's dtype."""
    sigma = float(sigma.item()) if isinstance(sigma, mx.array) else float(sigma)
    if sigma == 0:
        raise ValueError("sigma can't be 0 when computing a velocity")
    return ((sample.astype(mx.float32) - denoised.astype(mx.float32)) / sigma).astype(sample.dtype)


def blend_with_clean(denoised: mx.array, denoise_mask: mx.array, clean: mx.array) -> mx.array:
    """Keep conditioning tokens clean: ``denoised * mask + clean * (1 - mask)``."""
    return (denoised * denoise_mask + clean.astype(mx.float32) * (1 - denoise_mask)).astype(denoised.dtype)


class EulerDiffusionStep:
    """First-order Euler step from ``sigmas[i]`` to ``sigmas[i + 1]`` along the velocity."""

    def step(self, sample: mx.array, denoised: mx.array, sigmas: mx.array, step_index: int) -> mx.array:
        sigma = sigmas[step_index]
        dt = sigmas[step_index + 1] - sigma
        velocity = to_velocity(sample, denoised, sigma)
        return (sample.astype(mx.float32) + velocity.astype(mx.float32) * dt).astype(sample.dtype)
