"""The res_2s sampler of the LTX-2.3 HQ recipe: a second-order exponential Runge-Kutta step (two
denoiser evaluations per step, the second at the geometric-mean sigma) with SDE noise injected at
the substep and at the step, as ltx-pipelines 1.0.0 (``utils/res2s.py``, ``utils/samplers.py``,
``Res2sDiffusionStep``) defines it.

In log-sigma time, with ``h = log(sigma / sigma_next)`` and ``c2 = 1/2``:

- ``phi_j(z) = (e^z - sum_{k<j} z^k / k!) / z^j`` (``1/j!`` at ``z = 0``);
- ``a21 = c2 * phi_1(-h c2)``, ``b2 = phi_2(-h) / c2``, ``b1 = phi_1(-h) - b2``;
- ``x_mid = x + h a21 (D(x, sigma) - x)``, re-noised from ``sigma`` to ``sqrt(sigma sigma_next)``;
- anchor refinement ("bong iteration", 100 rounds when ``h < 0.5`` and ``sigma > 0.03``): the
  anchor ``x`` is moved so that ``x_mid - h a21 (D1 - x) = x`` holds for the *noised* midpoint;
- ``x_next = x + h (b1 (D1 - x) + b2 (D(x_mid, sub_sigma) - x))``, re-noised to ``sigma_next``.

The re-noising (``Res2sDiffusionStep.step``) reads the update as a step from ``sigma`` to
``sigma_next``, takes ``sigma_up = sigma_next / 2`` and mixes
``alpha (x0 + sigma_down eps) + sigma_up noise`` with ``alpha = 1 - sigma_next + sqrt(sigma_next^2 -
sigma_up^2)`` and ``sigma_down = sqrt(sigma_next^2 - sigma_up^2) / alpha``. The noise is a float
Gaussian draw standardised over the whole tensor and then per sample (unbiased std). As in the
official "legacy" mode, conditioning tokens (denoise mask 0) are put back to their clean values
after every update, and a schedule that ends at 0 ends with sigma 0.0011 and one final denoiser
evaluation.

Noise: the official loop draws from two torch generators seeded -1 (steps) and 9999 (substeps)
whatever the user's seed. Torch's generator cannot be reproduced here, so this port draws from
two MLX streams seeded from the job's seed (``RES2S_STEP_SEED_OFFSET``, and the official +10000
for substeps), each restarted for every loop as the official generators are. Arithmetic is
float32 (the official loop uses float64 and casts the state to the model dtype each step).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import mlx.core as mx
import numpy as np

from ltx_core.components.diffusion_steps import blend_with_clean
from ltx_core.components.noisers import GaussianNoiser
from ltx_core.types import LatentState

C2 = 0.5  # midpoint substep (the sqrt in the substep sigma assumes it)
FINAL_SIGMA = 0.0011  # replaces a final sigma 0 (the last step's re-noising divides by sigma_next)
BONG_ITERATIONS = 100
BONG_MAX_H = 0.5
BONG_MIN_SIGMA = 0.03
SUBSTEP_SEED_OFFSET = 10_000  # official: substep seed = step seed + 10000
RES2S_STEP_SEED_OFFSET = 20_000  # ours: the step stream's seed = job seed + this (official: -1)


def phi(j: int, neg_h: float) -> float:
    """``phi_j(z)`` at ``z = neg_h`` (``1/j!`` near 0)."""
    if abs(neg_h) < 1e-10:
        return 1.0 / math.factorial(j)
    remainder = sum(neg_h**k / math.factorial(k) for k in range(j))
    return (math.exp(neg_h) - remainder) / neg_h**j


def res2s_coefficients(h: float, c2: float = C2) -> tuple[float, float, float]:
    """(a21, b1, b2) for a step of size ``h`` in log-sigma."""
    a21 = c2 * phi(1, -h * c2)
    b2 = phi(2, -h) / c2
    b1 = phi(1, -h) - b2
    return a21, b1, b2


def sde_coefficients(sigma_next: float) -> tuple[float, float, float]:
    """(alpha_ratio, sigma_down, sigma_up) of a re-noising to ``sigma_next`` with ``sigma_up = sigma_next / 2``."""
    sigma_up = min(sigma_next * 0.5, sigma_next * 0.9999)
    residual = math.sqrt(max(sigma_next**2 - sigma_up**2, 0.0))
    alpha_ratio = (1.0 - sigma_next) + residual
    sigma_down = residual / alpha_ratio if alpha_ratio != 0 else sigma_next
    return alpha_ratio, sigma_down, sigma_up


def sde_step(sample: mx.array, denoised: mx.array, sigma: float, sigma_next: float, noise: mx.array) -> mx.array:
    """Read ``sample -> denoised`` as a step from ``sigma`` to ``sigma_next`` and re-noise its end
    (``Res2sDiffusionStep.step``); a step to sigma 0 returns ``denoised``."""
    alpha_ratio, sigma_down, sigma_up = sde_coefficients(sigma_next)
    if sigma_up == 0 or sigma_next == 0:
        return denoised
    x = sample.astype(mx.float32)
    eps = (x - denoised.astype(mx.float32)) / (sigma - sigma_next)
    x0 = x - sigma * eps
    return (alpha_ratio * (x0 + sigma_down * eps) + sigma_up * noise.astype(mx.float32)).astype(denoised.dtype)


def normalise_noise(raw: mx.array) -> mx.array:
    """Standardise over the whole tensor, then per sample over (tokens, channels); unbiased std."""
    x = raw.astype(mx.float32)
    x = (x - x.mean()) / mx.sqrt(mx.var(x, ddof=1))
    axes = (-2, -1)
    return (x - x.mean(axis=axes, keepdims=True)) / mx.sqrt(mx.var(x, axis=axes, keepdims=True, ddof=1))


class Res2sNoise:
    """The loop's two noise streams (step and substep), seeded from a job seed; ``draw`` gives
    the raw Gaussian draw (normalised by the loop). Tests inject known draws by overriding it."""

    def __init__(self, seed: int):
        self.seed = int(seed)
        self.restart()

    def restart(self) -> None:
        step_seed = self.seed + RES2S_STEP_SEED_OFFSET
        self._streams = {"step": GaussianNoiser(step_seed), "substep": GaussianNoiser(step_seed + SUBSTEP_SEED_OFFSET)}

    def draw(self, stream: str, shape: tuple[int, ...]) -> mx.array:
        return self._streams[stream].draw(shape, mx.float32)


def res2s_schedule(sigmas: mx.array | np.ndarray) -> list[float]:
    """The sigmas as the loop walks them (float32 values): a final 0 becomes ``[0.0011, 0]``."""
    values = [float(v) for v in np.asarray(sigmas, dtype=np.float32)]
    if values[-1] == 0:
        values = values[:-1] + [float(np.float32(FINAL_SIGMA)), 0.0]
    return values


Denoise = Callable[[LatentState, "LatentState | None", mx.array, int], "tuple[mx.array, mx.array | None]"]


def res2s_loop(
    sigmas: mx.array,
    video: LatentState,
    audio: LatentState | None,
    denoiser: Denoise,
    noise: Res2sNoise,
    bong: bool = True,
    on_step: Callable[[int, int, mx.array], None] | None = None,
) -> tuple[LatentState, LatentState | None]:
    """Denoise from ``sigmas[0]`` to ``sigmas[-1]`` with res_2s; ``denoiser(video, audio, sigmas,
    index)`` returns the x0 predictions. ``on_step(step, total, video_x0)`` after each full step
    (evaluated state; cancellation may raise there). Two denoiser calls per step, plus one at the
    end when the schedule ends at 0."""
    noise.restart()
    total = int(sigmas.shape[0]) - 1
    schedule = res2s_schedule(sigmas)
    walked = mx.array(np.array(schedule, dtype=np.float32))
    states = [s for s in (video, audio) if s is not None]

    def blend(values, source_states):
        return [blend_with_clean(v, s.denoise_mask, s.clean_latent) for v, s in zip(values, source_states)]

    def renoise(anchors, targets, sigma, sigma_next, stream):
        draws = [normalise_noise(noise.draw(stream, tuple(s.latent.shape))) for s in states]
        stepped = [sde_step(a, t, sigma, sigma_next, n) for a, t, n in zip(anchors, targets, draws)]
        return blend(stepped, states)

    def with_latents(latents):
        updated = [replace(s, latent=x.astype(s.latent.dtype)) for s, x in zip(states, latents)]
        return updated[0], (updated[1] if audio is not None else None)

    for step in range(total):
        sigma, sigma_next = schedule[step], schedule[step + 1]
        h = -math.log(sigma_next / sigma)
        a21, b1, b2 = res2s_coefficients(h)
        sub_sigma = math.sqrt(sigma * sigma_next)
        anchors = [s.latent.astype(mx.float32) for s in states]

        first = blend(_outputs(denoiser(*with_latents(anchors), walked, step), audio), states)
        eps1 = [d.astype(mx.float32) - x for d, x in zip(first, anchors)]
        mids = [x + (h * a21) * e for x, e in zip(anchors, eps1)]
        mids = renoise(anchors, mids, sigma, sub_sigma, "substep")
        if bong and h < BONG_MAX_H and sigma > BONG_MIN_SIGMA:
            for _ in range(BONG_ITERATIONS):
                anchors = [m - (h * a21) * e for m, e in zip(mids, eps1)]
                eps1 = [d.astype(mx.float32) - x for d, x in zip(first, anchors)]
            mx.eval(anchors, eps1)

        mid_video, mid_audio = with_latents(mids)
        second = blend(_outputs(denoiser(mid_video, mid_audio, mx.array([sub_sigma], dtype=mx.float32), 0), audio), states)
        eps2 = [d.astype(mx.float32) - x for d, x in zip(second, anchors)]
        nexts = [x + h * (b1 * e1 + b2 * e2) for x, e1, e2 in zip(anchors, eps1, eps2)]
        nexts = renoise(anchors, nexts, sigma, sigma_next, "step")
        video, audio = with_latents(nexts)
        states = [s for s in (video, audio) if s is not None]
        mx.eval([s.latent for s in states])
        if on_step is not None:
            on_step(step, total, first[0])

    if schedule[-1] == 0:
        final = blend(_outputs(denoiser(video, audio, walked, total), audio), states)
        video, audio = with_latents(final)
        mx.eval([s.latent for s in (video, audio) if s is not None])
    return video, audio


def _outputs(result, audio) -> list[mx.array]:
    video_x0, audio_x0 = result
    return [video_x0] + ([audio_x0] if audio is not None else [])
