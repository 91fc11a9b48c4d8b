"""Two-stage with the dev model: guided half-size stage, ×2 upsampling, then a refinement with the
distilled LoRA applied. Sizes are rounded to multiples of 64 with a notice."""

from __future__ import annotations

from ltx_core.pipelines.staged import StagedPipeline, StagePlan


class TwoStagePipeline(StagedPipeline):
    name = "two-stage"
    first = StagePlan("scheduler", guided=True)
    second = StagePlan("distilled_stage2", distilled_lora=True)
    round_sizes = True
