"""The one run protocol every job follows: the pipeline prepares (validation, model files, memory:
nothing loads), produces latents, then this module decodes audio and video (tile by tile,
streamed into the encoder), writes the mp4 and its JSON sidecar atomically and returns the
record. It owns timing, progress, cancellation and the release of every model, whatever happens.
The studio and the CLI call ``run_job``."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlx.core as mx

from ltx_core.pipelines.blocks import decode_audio, decode_frames
from ltx_core.pipelines.descriptor import Latents, PipelineDescriptor
from ltx_core.pipelines.ledger import Component, ModelLedger, StageRecord
from ltx_core.pipelines.progress import (
    CancelToken,
    CountedTiles,
    ProgressCallback,
    ProgressReporter,
    cancel_scope,
    install_cancel_checks,
)
from ltx_core.pipelines.registry import pipeline_descriptor


@dataclass(frozen=True)
class OutputRecord:
    video: Path
    sidecar: Path
    seconds: float
    peak_memory: int
    stages: tuple[StageRecord, ...]
    prompt: str
    notices: tuple[str, ...]


def run_job(
    ledger: ModelLedger,
    pipeline: str | PipelineDescriptor,
    request: Any,
    output: str | Path,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    extra_settings: dict[str, Any] | None = None,
) -> OutputRecord:
    """Run one job of ``pipeline`` (a name or a descriptor) to a finished ``output`` mp4."""
    from ltx_core.media.output_folder import check_writable
    from ltx_core.media.video_write import write_mp4

    descriptor = pipeline_descriptor(pipeline) if isinstance(pipeline, str) else pipeline
    check_writable(Path(output).parent)  # before anything loads, not after the whole job
    started = time.monotonic()
    reporter = ProgressReporter(progress, cancel)
    first_stage = len(ledger.stages)
    with _instrumented(ledger, reporter), cancel_scope(cancel):
        try:
            job = descriptor.create(ledger)
            prepared, notices = job.prepare(request)
            latents: Latents = job.produce(prepared, reporter)
            notices = notices + latents.notices
            fps = latents.fps if latents.fps is not None else prepared.fps
            audio: tuple = latents.audio_track or ()  # (waveform, sample rate) carried over, or the decoded Audio
            if latents.audio is not None:
                with ledger.stage("audio decode"):
                    reporter.report("audio decode", 0, 1)
                    audio = (_trimmed(decode_audio(ledger, latents.audio), latents.audio_seconds),)
            settings = _settings(ledger, descriptor, prepared, latents, notices, extra_settings)
            if latents.video is None:  # audio only (text-to-audio): a WAV
                from ltx_core.media.audio_write import write_wav_output

                written = write_wav_output(output, audio[0], settings)
                stages = tuple(ledger.stages[first_stage:])
                reporter.report("done", 1, 1)
                return OutputRecord(written.path, written.sidecar, time.monotonic() - started,
                                    max((s.peak_bytes for s in stages), default=0), stages, latents.prompt, notices)  # fmt: skip
            with ledger.stage("video decode"):
                reporter.report("video decode", 0, 1)
                frames = decode_frames(ledger, latents.video, ledger.runtime.tiling_config(), seed=prepared.seed)
                if latents.frame_filter is not None:
                    frames = latents.frame_filter(frames)
                written = write_mp4(
                    output, _checked(frames, cancel), fps, *audio, settings=settings, audio_codec=latents.audio_codec
                )
            stages = tuple(ledger.stages[first_stage:])
            reporter.report("done", 1, 1)
            return OutputRecord(
                video=written.path,
                sidecar=written.sidecar,
                seconds=time.monotonic() - started,
                peak_memory=max((s.peak_bytes for s in stages), default=0),
                stages=stages,
                prompt=latents.prompt,
                notices=notices,
            )
        finally:
            ledger.finish_job()


@contextmanager
def _instrumented(ledger: ModelLedger, reporter: ProgressReporter) -> Iterator[None]:
    """For this job: the VAE passes report each tile (a long decode or encode is no longer one
    frozen "step 0/1") and the transformer checks the cancel token after each block, through the
    ledger's ``model_hook``, so every pipeline gets it."""
    from ltx_core.model.video_vae.tiling import decoder_tiles, encoder_tiles

    tiling = ledger.runtime.tiling_config()
    counted_passes = {
        Component.VIDEO_DECODER: ("video decode", decoder_tiles),
        Component.VIDEO_ENCODER: ("encode", encoder_tiles),
    }

    def hook(component: Component, model: Any) -> Any:
        if component == Component.TRANSFORMER:
            install_cancel_checks(model.velocity_model)
            return model
        if component in counted_passes:
            stage, tiles = counted_passes[component]
            def count(shape: tuple, tiles=tiles) -> int:
                return len(tiles(shape[2:], tiling, model.scale)) if tiling is not None else 1

            return CountedTiles(model, stage, reporter, count)
        return model

    ledger.model_hook = hook
    try:
        yield
    finally:
        ledger.model_hook = None


def _trimmed(audio: Any, seconds: float | None) -> Any:
    """The decoded audio cut to ``seconds`` (a pipeline whose canvas outlasts its video)."""
    if seconds is None:
        return audio
    samples = min(audio.waveform.shape[-1], round(seconds * audio.sampling_rate))
    return dataclasses.replace(audio, waveform=audio.waveform[..., :samples])


def _checked(chunks, cancel: CancelToken | None):
    for chunk in chunks:
        if cancel is not None:
            cancel.check()
        yield chunk


def request_settings(descriptor: PipelineDescriptor, request: Any) -> dict[str, Any]:
    """The request's fields that ``descriptor`` uses, as JSON values."""
    fields = {k: v for k, v in dataclasses.asdict(request).items() if descriptor.uses(k)}
    if "images" in fields:
        fields["images"] = [
            {"image": str(i.image) if not isinstance(i.image, mx.array) else "<pixels>", "frame_index": i.frame_index,
             "strength": i.strength, "crf": i.crf}
            for i in request.images
        ]  # fmt: skip
    for name in ("loras", "control_loras"):
        if name in fields:
            fields[name] = [
                {"path": str(lora.path), "strength": lora.strength}
                | ({} if lora.stage2_strength is None else {"stage2_strength": lora.stage2_strength})
                for lora in getattr(request, name)
            ]
    for key, value in fields.items():
        if isinstance(value, Path):
            fields[key] = str(value)
    return fields


def _settings(
    ledger: ModelLedger,
    descriptor: PipelineDescriptor,
    request: Any,
    latents: Latents,
    notices: tuple[str, ...],
    extra: dict[str, Any] | None,
) -> dict[str, Any]:
    """Everything needed to reproduce the output (only what the pipeline used)."""
    paths, model = ledger.paths, ledger.model
    upsampler = paths.spatial_upsampler_for(getattr(request, "spatial_upscale", 2.0))
    return {
        "pipeline": descriptor.name,
        "request": latents.settings if latents.settings is not None else request_settings(descriptor, request),
        "prompt_used": latents.prompt,
        "notices": list(notices),
        "models": {
            "checkpoint": {"file": Path(paths.checkpoint).name, "identity": ledger.checkpoint.identity()},
            "model_version": model.version.version,
            "variant": model.variant,
            "gemma": str(paths.gemma) if paths.gemma else None,
            **{
                role: Path(path).name
                for role, path in (("text_encoder", paths.text_encoder), ("video_vae", paths.video_vae),
                                   ("audio_vae", paths.audio_vae))
                if path is not None
            },
            "spatial_upsampler": Path(upsampler).name if upsampler else None,
            "distilled_lora": Path(paths.distilled_lora).name if paths.distilled_lora else None,
            **({"prompt_enhancer": str(paths.enhancer)} if paths.enhancer and getattr(request, "enhance_prompt", False) else {}),
            # LoRAs ``convert --lora`` fused into the checkpoint (applied only as a difference when asked again)
            "fused_loras": [lora.describe() for lora in ledger.fused_loras],
        },
        "compute": ledger.runtime.describe(),
        "stages": [dataclasses.asdict(s) for s in ledger.stages],
        **(extra or {}),
    }
