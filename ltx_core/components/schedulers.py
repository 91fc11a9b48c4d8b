"""Sigma schedules: the LTX-2 token-count-shifted schedule and the distilled step lists."""

from __future__ import annotations

import math

import mlx.core as mx
import numpy as np

BASE_SHIFT_ANCHOR = 1024
MAX_SHIFT_ANCHOR = 4096

# The distilled model was trained for exactly these sigmas.
DISTILLED_SIGMAS = (1.0, 0.99375, 0.9875, 0.98125, 0.975, 0.909375, 0.725, 0.421875, 0.0)
STAGE_2_DISTILLED_SIGMAS = (0.909375, 0.725, 0.421875, 0.0)


def ltx2_sigmas(
    steps: int,
    tokens: int | None = None,
    max_shift: float = 2.05,
    base_shift: float = 0.95,
    stretch: bool = True,
    terminal: float = 0.1,
) -> mx.array:
    """``steps + 1`` float32 sigmas from 1 to 0, shifted by the latent's token count
    (``F * H * W`` of the latent; 4096 when unknown) and stretched so the last non-zero
    sigma equals ``terminal``."""
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    tokens = MAX_SHIFT_ANCHOR if tokens is None else tokens
    slope = (max_shift - base_shift) / (MAX_SHIFT_ANCHOR - BASE_SHIFT_ANCHOR)
    shift = tokens * slope + (base_shift - slope * BASE_SHIFT_ANCHOR)
    sigmas = _linspace_float32(1.0, 0.0, steps + 1)
    nonzero = sigmas != 0
    exp_shift = np.float32(math.exp(shift))
    with np.errstate(divide="ignore"):
        # scalar / tensor as torch evaluates it (reciprocal, then multiply): near sigma = 1 the
        # stretch below amplifies a one-ulp difference ~1000x.
        shifted = (np.float32(1) / (exp_shift + (np.float32(1) / sigmas - np.float32(1)))) * exp_shift
    sigmas = np.where(nonzero, shifted, np.float32(0)).astype(np.float32)
    if stretch:
        one_minus = np.float32(1) - sigmas[nonzero]
        scale = one_minus[-1] / np.float32(1.0 - terminal)
        sigmas[nonzero] = np.float32(1) - one_minus / scale
    return mx.array(sigmas.astype(np.float32))


def distilled_sigmas(stage: int = 1) -> mx.array:
    return mx.array(DISTILLED_SIGMAS if stage == 1 else STAGE_2_DISTILLED_SIGMAS, dtype=mx.float32)


def refinement_sigmas(steps: int | None = None) -> mx.array:
    """The stage-2 refinement: its 3 distilled sigmas, or only the last ``steps`` of them (a
    lighter refinement that starts from less noise)."""
    full = len(STAGE_2_DISTILLED_SIGMAS) - 1
    if steps is None or steps == full:
        return distilled_sigmas(2)
    if not 1 <= steps <= full:
        raise ValueError(f"the refinement stage has 1 to {full} steps, got {steps}")
    return mx.array(STAGE_2_DISTILLED_SIGMAS[-(steps + 1) :], dtype=mx.float32)


def _linspace_float32(start: float, end: float, count: int) -> np.ndarray:
    """float32 linspace computed like torch's: from the start for the first half, from the end
    for the second, so both ends are exact."""
    if count == 1:
        return np.array([start], dtype=np.float32)
    step = np.float32((end - start) / (count - 1))
    index = np.arange(count, dtype=np.float32)
    half = count // 2
    values = np.where(
        np.arange(count) < half,
        np.float32(start) + step * index,
        np.float32(end) - step * (np.float32(count - 1) - index),
    )
    return values.astype(np.float32)
