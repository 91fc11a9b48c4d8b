"""One-stage text/image-to-video with the dev model: LTX2Scheduler sigmas and the official
multi-modal guidance (CFG, STG, rescale, modality scale) at full size."""

from __future__ import annotations

from ltx_core.pipelines.staged import StagedPipeline, StagePlan


class OneStagePipeline(StagedPipeline):
    name = "one-stage"
    first = StagePlan("scheduler", guided=True)
    second = None
