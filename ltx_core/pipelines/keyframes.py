"""Keyframe interpolation: any number of images at any frames, each appended as keyframe
conditioning tokens with its own positions; dev model with guidance, then a refinement with the
distilled LoRA (the distilled model alone hallucinates between keyframes)."""

from __future__ import annotations

from ltx_core.pipelines.staged import StagedPipeline, StagePlan


class KeyframePipeline(StagedPipeline):
    name = "keyframes"
    first = StagePlan("scheduler", guided=True, images_as_keyframes=True)
    second = StagePlan("distilled_stage2", images_as_keyframes=True, distilled_lora=True)
    round_sizes = True
