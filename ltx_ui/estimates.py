"""What a job will cost before it runs: its duration from the studio's speed model (which learns
from finished jobs) and its peak memory from ``ltx_core.memory``."""

from __future__ import annotations

from ltx_core.errors import LTXError
from ltx_core.pipelines.registry import pipeline_descriptor
from ltx_core.pipelines.request import GenerationRequest
from ltx_core.pipelines.speed import Prediction
from ltx_ui.context import Studio, generation_plan_for


def memory_estimate(studio: Studio, pipeline: str, request: GenerationRequest):
    """Per-stage predicted peak memory of ``request`` with the models and memory mode in use."""
    from ltx_core.memory import Guidance, estimate_for_runtime
    from ltx_core.pipelines.blocks import guidance_passes

    descriptor = pipeline_descriptor(pipeline)
    ledger = studio.current_ledger()  # its runtime is what a job would run with (demo: float32, unquantized)
    guidance = None
    if descriptor.guided:
        guidance = Guidance(guidance_passes(request), ledger.runtime.batch_guidance_passes, contexts=2)
    return ledger.runtime.name, estimate_for_runtime(
        ledger.checkpoint.config, ledger.runtime, height=request.height, width=request.width, frames=request.frames,
        fps=request.fps, audio=request.generate_audio, stages=descriptor.memory_stages(), guidance=guidance,
        gemma_config=ledger.gemma_config(), upsampler_config=ledger.upsampler_config(),
    )  # fmt: skip


def duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def describe_duration(prediction: Prediction, jobs: int = 1) -> str:
    total = prediction.seconds * jobs
    if not prediction.learned:
        basis = "first guess: it learns from each finished job"
    elif prediction.guessed:
        basis = "partly a first guess: it learns from each finished job"
    else:
        basis = "learned from finished jobs on this machine"
    what = f"Estimated for {jobs} jobs:" if jobs > 1 else "Estimated:"
    return f"{what} **{duration(total)}** ({basis})"


def describe_generation(studio: Studio, pipeline: str, request: GenerationRequest, jobs: int = 1) -> str:
    """One line for next to Generate: time and peak memory of the job as set."""
    from ltx_core.memory import available_memory

    text = describe_duration(studio.predict(generation_plan_for(pipeline, request)), jobs)
    try:
        _, estimate = memory_estimate(studio, pipeline, request)
    except (LTXError, ValueError, KeyError, OSError):
        return text
    available = available_memory()
    verdict = "fits" if estimate.peak <= available else "**does not fit**"
    return f"{text} · peak memory ≈ **{estimate.peak / 1e9:.2f} GB** ({verdict} in the {available / 1e9:.1f} GB available)"
