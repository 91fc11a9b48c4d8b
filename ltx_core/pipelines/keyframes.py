"""Keyframe interpolation: any number of images at any frames, each with a strength. A frame-0
image replaces the first latent frame's tokens; every other image is appended as keyframe tokens
with its own positions. Dev model with guidance, then a refinement with the distilled LoRA (the
distilled model alone hallucinates between keyframes)."""

from __future__ import annotations

from ltx_core.pipelines.staged import StagedPipeline, StagePlan


class KeyframePipeline(StagedPipeline):
    name = "keyframes"
    first = StagePlan("scheduler", guided=True)
    second = StagePlan("distilled_stage2", distilled_lora=True)
    round_sizes = True

    def check_models(self, request) -> None:
        from ltx_core.pipelines.request import RequestError

        super().check_models(request)
        if len(request.images) < 2:
            raise RequestError("keyframe interpolation needs at least two images at different frames.")
