"""Two-stage with the dev model: guided half-size stage, ×2 upsampling, then a refinement with the
distilled LoRA applied. Sizes are rounded to multiples of 64 with a notice."""

from __future__ import annotations

from ltx_core.model_spec import Role
from ltx_core.pipelines.descriptor import (
    COMMON_FIELDS,
    GUIDED_FIELDS,
    REFINE_FIELDS,
    SLOT_FIELDS,
    PipelineDescriptor,
    StagePlan,
)
from ltx_core.pipelines.staged import StagedPipeline


class TwoStagePipeline(StagedPipeline):
    pass


TwoStagePipeline.descriptor = DESCRIPTOR = PipelineDescriptor(
    name="two-stage",
    title="Two stages (dev, guided + refinement)",
    summary="Guided half-size stage with the dev model, x2 upsampling, distilled-LoRA refinement.",
    first=StagePlan("scheduler", guided=True),
    second=StagePlan("distilled_stage2", distilled_lora=True),
    round_sizes=True,
    needs=(Role.SPATIAL_UPSAMPLER, Role.DISTILLED_LORA),
    fields=COMMON_FIELDS | GUIDED_FIELDS | REFINE_FIELDS | SLOT_FIELDS,
    variant="dev",
    factory=TwoStagePipeline,
)
