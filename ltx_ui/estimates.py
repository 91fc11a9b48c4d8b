"""What a job will cost before it runs: its duration from the studio's speed model (which learns
from finished jobs) and its peak memory from ``ltx_core.memory``."""

from __future__ import annotations

from ltx_core.errors import LTXError
from ltx_core.pipelines.registry import pipeline_descriptor
from ltx_core.pipelines.request import GenerationRequest
from ltx_core.pipelines.speed import Prediction
from ltx_ui.context import Studio, generation_plan_for


def memory_estimate(studio: Studio, pipeline: str, request: GenerationRequest):
    """Per-stage predicted peak memory of ``request`` with the models and memory mode in use,
    counting the LoRAs each stage applies (as side paths, fused or streamed)."""
    descriptor = pipeline_descriptor(pipeline)
    ledger = studio.current_ledger()  # its runtime is what a job would run with (demo: float32, unquantized)
    return ledger.runtime.name, descriptor.create(ledger).memory_estimate(request)


def refusal(studio: Studio, estimate) -> str:
    """What a job that does not fit would be told (the stage, and a cheaper option: a smaller
    preset or size, or fusing its LoRAs with ``convert --lora``); "" when it fits."""
    from ltx_core.errors import ConfigError
    from ltx_core.memory import InsufficientMemoryError, available_memory, check_fits
    from ltx_core.presets import load_presets

    runtime = studio.current_ledger().runtime
    try:
        presets = load_presets()
    except ConfigError:
        presets = None
    try:
        check_fits(estimate, available_memory(margin_bytes=runtime.memory_margin), presets, runtime.name)
    except InsufficientMemoryError as exc:
        return str(exc)
    return ""


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
    available = available_memory(margin_bytes=studio.current_ledger().runtime.memory_margin)
    return f"{text} · {memory_line(estimate.peak, available, refusal(studio, estimate))}"


def memory_line(peak: int, available: int, why: str = "") -> str:
    """The peak against what this machine can give a job, in the unit the refusal uses (GiB)."""
    from ltx_core.memory import gib

    if peak <= available:
        return f"peak memory ≈ **{gib(peak)}** (fits in the {gib(available)} available)"
    return (f"peak memory ≈ **{gib(peak)}** (**does not fit** in the {gib(available)} available)"
            + (f"\n\n⚠️ {why[0].upper()}{why[1:]}" if why else ""))  # fmt: skip
