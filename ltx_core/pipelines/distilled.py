"""Distilled two-stage pipeline: half-size stage with the 8 distilled sigmas (LTX-2.5: ancestral
Euler, as its version spec says), ×2 latent upsampling, full-size refinement with the 3 stage-2
sigmas (deterministic Euler); no guidance."""

from __future__ import annotations

from ltx_core.model_spec import Role
from ltx_core.pipelines.descriptor import COMMON_FIELDS, REFINE_FIELDS, SLOT_FIELDS, PipelineDescriptor, StagePlan
from ltx_core.pipelines.staged import StagedPipeline


class DistilledPipeline(StagedPipeline):
    pass


DistilledPipeline.descriptor = DESCRIPTOR = PipelineDescriptor(
    name="distilled",
    title="Distilled (fast)",
    summary="8 + 3 steps at half then full size, no guidance: the distilled checkpoint's recipe.",
    first=StagePlan("distilled", version_sampler=True),
    second=StagePlan("distilled_stage2"),
    needs=(Role.SPATIAL_UPSAMPLER,),
    fields=COMMON_FIELDS | REFINE_FIELDS | SLOT_FIELDS,
    factory=DistilledPipeline,
)
