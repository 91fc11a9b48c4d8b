"""Keyframe interpolation: any number of images at any frames, each with a strength. Every image,
a frame-0 one too, is appended as keyframe tokens with its own positions (the official
``image_conditionings_by_adding_guiding_latent``; ``VersionSpec.keyframe_placeholder`` says how).
Dev model with guidance, then a refinement with the distilled LoRA (the distilled model alone
hallucinates between keyframes)."""

from __future__ import annotations

from ltx_core.model_spec import Role
from ltx_core.pipelines.blocks import image_conditionings
from ltx_core.pipelines.descriptor import COMMON_FIELDS, GUIDED_FIELDS, REFINE_FIELDS, PipelineDescriptor, StagePlan
from ltx_core.pipelines.latents import VideoLatentSpace
from ltx_core.pipelines.request import GenerationRequest
from ltx_core.pipelines.staged import StagedPipeline


class KeyframePipeline(StagedPipeline):
    def conditionings(self, plan: StagePlan, request: GenerationRequest, space: VideoLatentSpace, height: int, width: int) -> list:
        return image_conditionings(self.ledger, request.images, space, height, width, replace_first=False)


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
