"""Upscaling an existing video: spatial ×2 (latent upsampler, then the distilled model's short
refinement at the new size) and/or temporal ×2 (temporal upsampler: twice the frames at twice the
frame rate, same duration). The source's audio track is carried over."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import mlx.core as mx

from ltx_core.components.noisers import GaussianNoiser
from ltx_core.components.schedulers import distilled_sigmas
from ltx_core.pipelines.blocks import decode_frames, denoise_stage, encode_prompts, latent_spaces
from ltx_core.pipelines.denoising import SimpleDenoiser
from ltx_core.pipelines.ledger import ModelLedger
from ltx_core.pipelines.progress import CancelToken, ProgressCallback, ProgressReporter
from ltx_core.pipelines.request import GenerationRequest, LoraChoice, RequestError
from ltx_core.pipelines.runner import OutputRecord, _checked


@dataclass(frozen=True)
class UpscaleRequest:
    source: str | Path
    spatial: bool = True
    temporal: bool = False
    prompt: str | None = None  # default: the prompt in the source's sidecar
    seed: int = 0
    max_frames: int | None = None


def source_prompt(source: Path) -> str | None:
    """The prompt recorded in the sidecar written next to a generated video, if any."""
    sidecar = source.with_suffix(".json")
    try:
        settings = json.loads(sidecar.read_text()).get("settings", {})
    except (OSError, json.JSONDecodeError, AttributeError):
        return None
    return settings.get("prompt_used") if isinstance(settings, dict) else None


def run_upscale(
    ledger: ModelLedger,
    request: UpscaleRequest,
    output: str | Path,
    tiling=None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> OutputRecord:
    from ltx_core.media.ffmpeg import probe_video
    from ltx_core.media.video_read import load_video_conditioning, read_audio, usable_frame_count
    from ltx_core.media.video_write import write_mp4
    from ltx_core.model.upsampler.model import upsample_video
    from ltx_core.model.video_vae.tiled import tiled_encode

    if not (request.spatial or request.temporal):
        raise RequestError("choose spatial and/or temporal upscaling.")
    source = Path(request.source)
    info = probe_video(source)
    prompt = request.prompt or source_prompt(source)
    if request.spatial and not prompt:
        raise RequestError(
            "spatial upscaling refines the video with the model and needs its prompt: type one (no sidecar with "
            "the original prompt was found next to the video)."
        )
    if request.spatial:
        ledger.require("spatial_upsampler")
    if request.temporal:
        ledger.require("temporal_upsampler")
    frames = usable_frame_count(info.frames if request.max_frames is None else min(info.frames, request.max_frames))
    height, width = info.height // 32 * 32, info.width // 32 * 32
    if frames < 9 or height < 64 or width < 64:
        raise RequestError(f"{source.name} is too small to upscale ({info.width}x{info.height}, {info.frames} frames).")
    notices = []
    if (height, width) != (info.height, info.width):
        notices.append(f"{info.width}x{info.height} was cropped to {width}x{height} (multiples of 32).")
    if frames != info.frames:
        notices.append(f"the first {frames} of {info.frames} frames are used (8k+1 frames).")

    started = time.monotonic()
    reporter = ProgressReporter(progress, cancel)
    first_stage = len(ledger.stages)
    fps = info.fps
    try:
        with ledger.stage("encode"):
            reporter.report("encode", 0, 1)
            pixels = load_video_conditioning(source, height, width, frames).astype(ledger.dtype)
            encoder = ledger.get("video_encoder")
            latent = tiled_encode(encoder, pixels, tiling) if tiling is not None else encoder(pixels)
            mx.eval(latent)
            del pixels
            ledger.release("video_encoder")
        statistics = ledger.get("video_statistics")
        if request.temporal:
            with ledger.stage("temporal upsample"):
                latent = upsample_video(latent, statistics, ledger.get("temporal_upsampler"))
                mx.eval(latent)
                ledger.release("temporal_upsampler")
                fps *= 2
        if request.spatial:
            with ledger.stage("spatial upsample"):
                latent = upsample_video(latent, statistics, ledger.get("spatial_upsampler"))
                mx.eval(latent)
                ledger.release("spatial_upsampler")
            latent = _refine(ledger, latent, prompt, request.seed, fps, reporter)
        settings = {
            "pipeline": "upscale",
            "source": str(source),
            "spatial": request.spatial,
            "temporal": request.temporal,
            "prompt_used": prompt,
            "seed": request.seed,
            "notices": notices,
        }
        audio = None
        if info.has_audio:
            audio = read_audio(source)
        with ledger.stage("video decode"):
            reporter.report("video decode", 0, 1)
            chunks = _checked(decode_frames(ledger, latent, tiling, seed=request.seed), cancel)
            if audio is not None:
                written = write_mp4(output, chunks, fps, audio[0], audio[1], settings=settings)
            else:
                written = write_mp4(output, chunks, fps, settings=settings)
        stages = tuple(ledger.stages[first_stage:])
        reporter.report("done", 1, 1)
        return OutputRecord(
            video=written.path, sidecar=written.sidecar, seconds=time.monotonic() - started,
            peak_memory=max((s.peak_bytes for s in stages), default=0), stages=stages, prompt=prompt or "",
            notices=tuple(notices),
        )  # fmt: skip
    finally:
        ledger.release_all(force=ledger.unload_policy != "keep_loaded")


def _refine(ledger: ModelLedger, latent: mx.array, prompt: str, seed: int, fps: float, reporter) -> mx.array:
    """The distilled stage-2 refinement at the upsampled size (the dev checkpoint gets the
    distilled LoRA when one is configured)."""
    _, _, frames_latent, h, w = latent.shape
    frames = (frames_latent - 1) * 8 + 1
    request = GenerationRequest(prompt=prompt, seed=seed, height=h * 32, width=w * 32, frames=frames, fps=fps)
    with ledger.stage("text encoder"):
        prompts = encode_prompts(ledger, request, with_negative=False)
    with ledger.stage("refine"):
        video_space, _ = latent_spaces(ledger, request.height, request.width, frames, fps)
        loras = ()
        if ledger.paths.distilled_lora is not None and "distilled" not in Path(ledger.paths.checkpoint).name:
            loras = (LoraChoice(ledger.paths.distilled_lora, 1.0),)
        model = ledger.transformer(loras)
        denoiser = SimpleDenoiser(model, prompts.embeddings.positive.video, None)
        sigmas = distilled_sigmas(2)
        video, _ = denoise_stage(
            ledger, video_space, None, sigmas, denoiser, GaussianNoiser(seed), [], "refine", reporter,
            noise_scale=float(sigmas[0].item()), initial_video=latent,
        )  # fmt: skip
        model.velocity_model.clear_run_cache()
        ledger.release("transformer")
    return video
