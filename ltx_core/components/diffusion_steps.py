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


# The distilled pipeline seeds stage 1's ancestral noise with ``seed + 10000`` (ltx-pipelines 1.2.0).
ANCESTRAL_NOISE_SEED_OFFSET = 10_000


class EulerAncestralDiffusionStep:
    """Ancestral (SDE) Euler step for rectified flow (``alpha = 1 - sigma``), LTX-2.5's stage-1 stepper.

    Steps deterministically to ``sigma_down = sigma_next * (1 + (sigma_next / sigma - 1) * eta)``
    (an interpolation between the sample and the x0 prediction), then re-noises up to
    ``sigma_next``: the signal is scaled by ``alpha_next / alpha_down`` and ``noise * s_noise`` is
    added with weight ``sqrt(max(sigma_next**2 - sigma_down**2 * alpha_next**2 / alpha_down**2, 0))``.
    ``eta = 0`` is the plain Euler step; a step to ``sigma_next = 0`` returns the x0 prediction.
    All arithmetic is float32, as the reference's.
    """

    def __init__(self, eta: float = 1.0, s_noise: float = 1.0):
        self.eta = eta
        self.s_noise = s_noise

    def step(
        self,
        sample: mx.array,
        denoised: mx.array,
        sigmas: mx.array,
        step_index: int,
        noise: mx.array | None = None,
    ) -> mx.array:
        sigma = sigmas[step_index].astype(mx.float32)
        sigma_next = sigmas[step_index + 1].astype(mx.float32)
        if sigma_next.item() == 0:
            return denoised.astype(sample.dtype)
        if self.eta > 0 and noise is None:
            raise ValueError("EulerAncestralDiffusionStep needs a noise array when eta > 0")
        x = sample.astype(mx.float32)
        x0 = denoised.astype(mx.float32)
        eta = mx.array(self.eta, dtype=mx.float32)
        sigma_down = sigma_next * (1.0 + (sigma_next / sigma - 1.0) * eta)
        ratio = sigma_down / sigma
        x_next = ratio * x + (1.0 - ratio) * x0
        if self.eta > 0:
            assert noise is not None
            alpha_next = 1.0 - sigma_next
            alpha_down = 1.0 - sigma_down
            variance = sigma_next**2 - sigma_down**2 * alpha_next**2 / alpha_down**2
            renoise = mx.sqrt(mx.maximum(variance, 0.0))
            x_next = (alpha_next / alpha_down) * x_next + noise.astype(mx.float32) * self.s_noise * renoise
        return x_next.astype(sample.dtype)
