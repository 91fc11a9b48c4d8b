"""One-stage text/image-to-video with the dev model: LTX2Scheduler sigmas and the official
multi-modal guidance (CFG, STG, rescale, modality scale) at full size."""

from __future__ import annotations

from ltx_core.pipelines.descriptor import COMMON_FIELDS, GUIDED_FIELDS, SLOT_FIELDS, PipelineDescriptor, StagePlan
from ltx_core.pipelines.staged import StagedPipeline


class OneStagePipeline(StagedPipeline):
    pass


OneStagePipeline.descriptor = DESCRIPTOR = PipelineDescriptor(
    name="one-stage",
    title="One stage (dev, guided)",
    summary="The dev model at full size with CFG/STG guidance: slow, no upsampler needed.",
    first=StagePlan("scheduler", guided=True),
    fields=COMMON_FIELDS | GUIDED_FIELDS | SLOT_FIELDS,
    variant="dev",
    factory=OneStagePipeline,
)
