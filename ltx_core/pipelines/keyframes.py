"""Keyframe interpolation: any number of images at any frames, each with a strength. A frame-0
image replaces the first latent frame's tokens; every other image is appended as keyframe tokens
with its own positions. Dev model with guidance, then a refinement with the distilled LoRA (the
distilled model alone hallucinates between keyframes)."""

from __future__ import annotations

from ltx_core.model_spec import Role
from ltx_core.pipelines.descriptor import COMMON_FIELDS, GUIDED_FIELDS, REFINE_FIELDS, PipelineDescriptor, StagePlan
from ltx_core.pipelines.staged import StagedPipeline


class KeyframePipeline(StagedPipeline):
    pass


KeyframePipeline.descriptor = DESCRIPTOR = PipelineDescriptor(
    name="keyframes",
    title="Keyframe interpolation",
    summary="Two or more images at chosen frames; the dev model fills the motion between them.",
    first=StagePlan("scheduler", guided=True),
    second=StagePlan("distilled_stage2", distilled_lora=True),
    round_sizes=True,
    needs=(Role.SPATIAL_UPSAMPLER, Role.DISTILLED_LORA),
    fields=COMMON_FIELDS | GUIDED_FIELDS | REFINE_FIELDS,
    min_images=2,
    variant="dev",
    factory=KeyframePipeline,
)
