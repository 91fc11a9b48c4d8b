"""Every pipeline, by name: the CLI, the studio and the estimator ask ``PIPELINES``."""

from __future__ import annotations

from ltx_core.pipelines import (
    audio_to_video,
    dfr,
    distilled,
    extend,
    ic_lora,
    keyframes,
    one_stage,
    retake,
    text_to_audio,
    two_stage,
    two_stage_hq,
    upscale,
)
from ltx_core.pipelines.descriptor import PipelineDescriptor
from ltx_core.pipelines.request import RequestError

PIPELINES: dict[str, PipelineDescriptor] = {
    module.DESCRIPTOR.name: module.DESCRIPTOR
    for module in (distilled, one_stage, two_stage, two_stage_hq, keyframes, ic_lora, dfr, audio_to_video, text_to_audio,
                   upscale, retake, extend)
}
# Text/image-to-video recipes (a GenerationRequest); the others take their own request type.
GENERATION_PIPELINES = tuple(name for name, d in PIPELINES.items() if d.first is not None)


def pipeline_descriptor(name: str) -> PipelineDescriptor:
    if name not in PIPELINES:
        raise RequestError(f"unknown pipeline {name!r}: choose one of {', '.join(PIPELINES)}.")
    return PIPELINES[name]
