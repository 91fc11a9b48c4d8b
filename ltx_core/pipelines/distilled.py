"""Distilled two-stage pipeline: half-size stage with the 8 distilled sigmas, ×2 latent
upsampling, full-size refinement with the 3 stage-2 sigmas; no guidance."""

from __future__ import annotations

from ltx_core.pipelines.staged import StagedPipeline, StagePlan


class DistilledPipeline(StagedPipeline):
    name = "distilled"
    first = StagePlan("distilled")
    second = StagePlan("distilled_stage2")
