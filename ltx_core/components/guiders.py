"""The official multi-modal guider: CFG, STG, isolated-modality guidance and rescaling in one formula."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import mlx.core as mx


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
        """With ``skip_step`` N only every (N+1)-th step is guided; the others reuse the last
        guided prediction (official ``multi_modal_guider_denoising_func``)."""
        return self.params.skip_step != 0 and step % (self.params.skip_step + 1) != 0


def _std(x: mx.array) -> mx.array:
    """Unbiased standard deviation over all elements (as torch.Tensor.std())."""
    return mx.sqrt(mx.var(x.astype(mx.float32), ddof=1)).astype(x.dtype)
