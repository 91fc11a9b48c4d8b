"""The LTX-2.3 two-stage HQ recipe (ltx-pipelines ``ti2vid_two_stages_hq.py``): the dev model with
the distilled LoRA at a low strength, guided at half size with the second-order res_2s sampler
(15 steps on a schedule shifted for the stage's own token count, no STG, rescale 0.45 video /
1.0 audio, audio CFG 7), x2 latent upsampling, then the three stage-2 distilled sigmas with res_2s
and the distilled LoRA at a higher strength. Every number comes from the version spec
(``VersionSpec.hq``); versions without one do not offer this pipeline."""

from __future__ import annotations

from ltx_core.model_spec import VERSIONS, Role, VersionSpec
from ltx_core.pipelines.descriptor import (
    COMMON_FIELDS,
    GUIDED_FIELDS,
    REFINE_FIELDS,
    SLOT_FIELDS,
    PipelineDescriptor,
    StagePlan,
)
from ltx_core.pipelines.staged import StagedPipeline


class TwoStageHQPipeline(StagedPipeline):
    def distilled_lora_strength(self, plan: StagePlan) -> float:
        first, second = self.ledger.version.hq.distilled_lora_strengths
        return first if plan is self.first else second


def hq_defaults(version: VersionSpec) -> dict:
    hq = version.hq
    return dict(
        steps=hq.steps, video_guidance=hq.video_guidance, audio_guidance=hq.audio_guidance, height=hq.height,
        width=hq.width,
    )  # fmt: skip


TwoStageHQPipeline.descriptor = DESCRIPTOR = PipelineDescriptor(
    name="two-stage-hq",
    title="Two stages HQ (LTX-2.3, res_2s)",
    summary="The LTX-2.3 HQ recipe: res_2s sampler, 15 guided steps at half size with the distilled LoRA at 0.25, "
    "x2 upsampling, res_2s refinement with the distilled LoRA at 0.5.",
    first=StagePlan("scheduler_tokens", guided=True, distilled_lora=True, sampler="res2s"),
    second=StagePlan("distilled_stage2", distilled_lora=True, sampler="res2s"),
    round_sizes=True,
    needs=(Role.SPATIAL_UPSAMPLER, Role.DISTILLED_LORA),
    fields=COMMON_FIELDS | GUIDED_FIELDS | REFINE_FIELDS | SLOT_FIELDS,
    variant="dev",
    factory=TwoStageHQPipeline,
    versions=tuple(name for name, spec in VERSIONS.items() if spec.hq is not None),
    defaults=hq_defaults,
)
