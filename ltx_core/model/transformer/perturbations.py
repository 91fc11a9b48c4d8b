"""Attention perturbations used by STG and modality guidance (skip an attention in some blocks)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import mlx.core as mx


class PerturbationType(Enum):
    SKIP_A2V_CROSS_ATTN = "skip_a2v_cross_attn"
    SKIP_V2A_CROSS_ATTN = "skip_v2a_cross_attn"
    SKIP_VIDEO_SELF_ATTN = "skip_video_self_attn"
    SKIP_AUDIO_SELF_ATTN = "skip_audio_self_attn"


@dataclass(frozen=True)
class Perturbation:
    """Skip one kind of attention in ``blocks`` (None: every block)."""

    type: PerturbationType
    blocks: tuple[int, ...] | None = None

    def applies(self, kind: PerturbationType, block: int) -> bool:
        return self.type == kind and (self.blocks is None or block in self.blocks)


@dataclass(frozen=True)
class BatchedPerturbations:
    """One tuple of perturbations per batch sample."""

    per_sample: tuple[tuple[Perturbation, ...], ...]

    @staticmethod
    def none(batch_size: int) -> "BatchedPerturbations":
        return BatchedPerturbations(tuple(() for _ in range(batch_size)))

    @staticmethod
    def same(batch_size: int, *perturbations: Perturbation) -> "BatchedPerturbations":
        return BatchedPerturbations(tuple(tuple(perturbations) for _ in range(batch_size)))

    def _flags(self, kind: PerturbationType, block: int) -> list[bool]:
        return [any(p.applies(kind, block) for p in sample) for sample in self.per_sample]

    def all(self, kind: PerturbationType, block: int) -> bool:
        return all(self._flags(kind, block))

    def any(self, kind: PerturbationType, block: int) -> bool:
        return any(self._flags(kind, block))

    def keep_mask(self, kind: PerturbationType, block: int, dtype: mx.Dtype) -> mx.array:
        """(B, 1, 1): 0 for perturbed samples, 1 for the others."""
        flags = self._flags(kind, block)
        return mx.array([0.0 if f else 1.0 for f in flags], dtype=dtype).reshape(len(flags), 1, 1)
