"""Guidance: CFG, CFG-star rescaling, STG, APG and the official multi-modal guider."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import mlx.core as mx


def projection_coefficient(to_project: mx.array, onto: mx.array) -> mx.array:
    """Per-sample ``<a, b> / (|b|^2 + 1e-8)``, shape (B, 1)."""
    batch = to_project.shape[0]
    a = to_project.reshape(batch, -1)
    b = onto.reshape(batch, -1)
    return mx.sum(a * b, axis=1, keepdims=True) / (mx.sum(b * b, axis=1, keepdims=True) + 1e-8)


def _per_sample(coefficient: mx.array, like: mx.array) -> mx.array:
    return coefficient.reshape(coefficient.shape[0], *([1] * (like.ndim - 1)))


@dataclass(frozen=True)
class CFGGuider:
    """Classifier-free guidance delta ``(scale - 1) * (cond - uncond)``."""

    scale: float

    def delta(self, cond: mx.array, uncond: mx.array) -> mx.array:
        return (self.scale - 1) * (cond - uncond)

    def enabled(self) -> bool:
        return self.scale != 1.0


@dataclass(frozen=True)
class CFGStarRescalingGuider:
    """CFG against the unconditional prediction rescaled onto the conditional one."""

    scale: float

    def delta(self, cond: mx.array, uncond: mx.array) -> mx.array:
        rescaled = _per_sample(projection_coefficient(cond, uncond), uncond) * uncond
        return (self.scale - 1) * (cond - rescaled)

    def enabled(self) -> bool:
        return self.scale != 1.0


@dataclass(frozen=True)
class STGGuider:
    """Spatio-temporal guidance delta ``scale * (cond - perturbed)``."""

    scale: float

    def delta(self, cond: mx.array, perturbed: mx.array) -> mx.array:
        return self.scale * (cond - perturbed)

    def enabled(self) -> bool:
        return self.scale != 0.0


@dataclass(frozen=True)
class APGGuider:
    """Adaptive projected guidance: the parallel part of ``cond - uncond`` weighted by ``eta``,
    the orthogonal part kept, optionally norm-clipped to ``norm_threshold``."""

    scale: float
    eta: float = 1.0
    norm_threshold: float = 0.0

    def delta(self, cond: mx.array, uncond: mx.array) -> mx.array:
        guidance = cond - uncond
        if self.norm_threshold > 0:
            norm = mx.sqrt(mx.sum(guidance * guidance, axis=(-1, -2, -3), keepdims=True))
            guidance = guidance * mx.minimum(mx.ones_like(guidance), self.norm_threshold / norm)
        parallel = _per_sample(projection_coefficient(guidance, cond), cond) * cond
        return (parallel * self.eta + (guidance - parallel)) * (self.scale - 1)

    def enabled(self) -> bool:
        return self.scale != 1.0


@dataclass(frozen=True)
class MultiModalGuiderParams:
    cfg_scale: float = 1.0
    stg_scale: float = 0.0
    stg_blocks: tuple[int, ...] | None = field(default_factory=tuple)
    rescale_scale: float = 0.0
    modality_scale: float = 1.0
    skip_step: int = 0


@dataclass(frozen=True)
class MultiModalGuider:
    """Combines the conditional prediction with the unconditional (CFG), perturbed (STG) and
    isolated-modality predictions, then optionally rescales toward the conditional std."""

    params: MultiModalGuiderParams
    negative_context: mx.array | None = None

    def calculate(
        self,
        cond: mx.array,
        uncond_text: mx.array | float,
        uncond_perturbed: mx.array | float,
        uncond_modality: mx.array | float,
    ) -> mx.array:
        p = self.params
        pred = (
            cond
            + (p.cfg_scale - 1) * (cond - uncond_text)
            + p.stg_scale * (cond - uncond_perturbed)
            + (p.modality_scale - 1) * (cond - uncond_modality)
        )
        if p.rescale_scale != 0:
            factor = _std(cond) / _std(pred)
            pred = pred * (p.rescale_scale * factor + (1 - p.rescale_scale))
        return pred

    def do_unconditional_generation(self) -> bool:
        return not math.isclose(self.params.cfg_scale, 1.0)

    def do_perturbed_generation(self) -> bool:
        return not math.isclose(self.params.stg_scale, 0.0)

    def do_isolated_modality_generation(self) -> bool:
        return not math.isclose(self.params.modality_scale, 1.0)

    def should_skip_step(self, step: int) -> bool:
        return self.params.skip_step != 0 and step % (self.params.skip_step + 1) != 0


@dataclass(frozen=True)
class MultiModalGuiderFactory:
    """Guider parameters that may change with sigma: bins keyed by their upper sigma bound."""

    params_by_sigma: tuple[tuple[float, MultiModalGuiderParams], ...]
    negative_context: mx.array | None = None

    @classmethod
    def constant(cls, params: MultiModalGuiderParams, negative_context: mx.array | None = None) -> "MultiModalGuiderFactory":
        return cls(((float("inf"), params),), negative_context)

    @classmethod
    def from_dict(
        cls, sigma_to_params: Mapping[float, MultiModalGuiderParams], negative_context: mx.array | None = None
    ) -> "MultiModalGuiderFactory":
        if not sigma_to_params:
            raise ValueError("sigma_to_params must not be empty")
        ordered = tuple(sorted(sigma_to_params.items(), key=lambda kv: kv[0], reverse=True))
        return cls(ordered, negative_context)

    def params(self, sigma: float) -> MultiModalGuiderParams:
        """Params of the bin ``(next key, key]`` holding ``sigma``; the top bin above all keys."""
        sigma = float(sigma)
        at_or_above = [key for key, _ in self.params_by_sigma if key >= sigma]
        key = at_or_above[-1] if at_or_above else self.params_by_sigma[0][0]
        return next(p for k, p in self.params_by_sigma if k == key)

    def build_from_sigma(self, sigma: float) -> MultiModalGuider:
        return MultiModalGuider(self.params(sigma), self.negative_context)


def _std(x: mx.array) -> mx.array:
    """Unbiased standard deviation over all elements (as torch.Tensor.std())."""
    return mx.sqrt(mx.var(x.astype(mx.float32), ddof=1)).astype(x.dtype)
