"""Run a pipeline to a finished mp4: generate latents, decode audio then video (tile by tile,
streamed into the encoder), write the video and its JSON sidecar atomically. The studio and the
CLI call ``run_generation``; it reports progress, honours cancellation and always leaves the
ledger ready for the next job."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlx.core as mx

from ltx_core.pipelines.blocks import decode_audio, decode_frames
from ltx_core.pipelines.distilled import DistilledPipeline
from ltx_core.pipelines.ic_lora import ICLoraPipeline
from ltx_core.pipelines.keyframes import KeyframePipeline
from ltx_core.pipelines.ledger import ModelLedger, StageRecord
from ltx_core.pipelines.one_stage import OneStagePipeline
from ltx_core.pipelines.progress import CancelToken, ProgressCallback, ProgressReporter
from ltx_core.pipelines.request import GenerationRequest
from ltx_core.pipelines.two_stage import TwoStagePipeline

PIPELINES = {
    cls.name: cls for cls in (DistilledPipeline, OneStagePipeline, TwoStagePipeline, KeyframePipeline, ICLoraPipeline)
}


@dataclass(frozen=True)
class OutputRecord:
    video: Path
    sidecar: Path
    seconds: float
    peak_memory: int
    stages: tuple[StageRecord, ...]
    prompt: str
    notices: tuple[str, ...]


def pipeline_names() -> list[str]:
    return list(PIPELINES)


def run_generation(
    ledger: ModelLedger,
    pipeline: str,
    request: GenerationRequest,
    output: str | Path,
    tiling=None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    extra_settings: dict[str, Any] | None = None,
) -> OutputRecord:
    from ltx_core.media.video_write import write_mp4

    if pipeline not in PIPELINES:
        raise ValueError(f"unknown pipeline {pipeline!r}; choose one of {', '.join(PIPELINES)}")
    started = time.monotonic()
    reporter = ProgressReporter(progress, cancel)
    first_stage = len(ledger.stages)
    try:
        latents = PIPELINES[pipeline](ledger).generate(request, reporter)
        audio = None
        if latents.audio is not None:
            with ledger.stage("audio decode"):
                reporter.report("audio decode", 0, 1)
                audio = decode_audio(ledger, latents.audio)
        settings = _settings(ledger, pipeline, request, latents.prompt, latents.notices, extra_settings)
        with ledger.stage("video decode"):
            reporter.report("video decode", 0, 1)
            frames = _checked(decode_frames(ledger, latents.video, tiling, seed=request.seed), cancel)
            written = write_mp4(output, frames, request.fps, audio, settings=settings)
        stages = tuple(ledger.stages[first_stage:])
        record = OutputRecord(
            video=written.path,
            sidecar=written.sidecar,
            seconds=time.monotonic() - started,
            peak_memory=max((s.peak_bytes for s in stages), default=0),
            stages=stages,
            prompt=latents.prompt,
            notices=latents.notices,
        )
        reporter.report("done", 1, 1)
        return record
    finally:
        ledger.release_all(force=ledger.unload_policy != "keep_loaded")
        mx.clear_cache()


def _checked(chunks, cancel: CancelToken | None):
    for chunk in chunks:
        if cancel is not None:
            cancel.check()
        yield chunk


def _settings(
    ledger: ModelLedger,
    pipeline: str,
    request: GenerationRequest,
    prompt_used: str,
    notices: tuple[str, ...],
    extra: dict[str, Any] | None,
) -> dict[str, Any]:
    """Everything needed to reproduce the output."""
    fields = dataclasses.asdict(request)
    fields["images"] = [
        {"image": str(i.image) if not isinstance(i.image, mx.array) else "<pixels>", "frame_index": i.frame_index,
         "strength": i.strength, "crf": i.crf}
        for i in request.images
    ]  # fmt: skip
    fields["loras"] = [{"path": str(l.path), "strength": l.strength} for l in request.loras]
    paths = ledger.paths
    return {
        "pipeline": pipeline,
        "request": fields,
        "prompt_used": prompt_used,
        "notices": list(notices),
        "models": {
            "checkpoint": {"file": Path(paths.checkpoint).name, "identity": ledger.checkpoint.identity()},
            "gemma": str(paths.gemma) if paths.gemma else None,
            "spatial_upsampler": Path(paths.spatial_upsampler).name if paths.spatial_upsampler else None,
            "distilled_lora": Path(paths.distilled_lora).name if paths.distilled_lora else None,
        },
        "compute": {
            "dtype": str(ledger.dtype).rsplit(".", 1)[-1],
            "transformer_quantization": dataclasses.asdict(ledger.transformer_quantization)
            if ledger.transformer_quantization
            else None,
        },
        "stages": [dataclasses.asdict(s) for s in ledger.stages],
        **(extra or {}),
    }
