"""Upscaling an existing video: spatial ×2 (latent upsampler, then the distilled model's short
refinement at the new size) and/or temporal ×2 (temporal upsampler: twice the frames at twice the
frame rate, same duration). The source's audio track is carried over."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import mlx.core as mx

from ltx_core.components.noisers import GaussianNoiser
from ltx_core.components.schedulers import distilled_sigmas
from ltx_core.memory.estimate import DenoisePass
from ltx_core.model_spec import Role
from ltx_core.pipelines.blocks import denoise_stage, encode_prompts, encode_video, latent_spaces
from ltx_core.pipelines.denoising import SimpleDenoiser
from ltx_core.pipelines.descriptor import Latents, PipelineDescriptor
from ltx_core.pipelines.ledger import Component, ModelLedger
from ltx_core.pipelines.progress import ProgressReporter
from ltx_core.pipelines.request import GenerationRequest, LoraChoice, RequestError


@dataclass(frozen=True)
class UpscaleRequest:
    source: str | Path
    spatial: bool = True
    temporal: bool = False
    prompt: str | None = None  # default: the prompt in the source's sidecar
    seed: int = 0
    max_frames: int | None = None


@dataclass(frozen=True)
class PreparedUpscale:
    request: UpscaleRequest
    prompt: str
    height: int  # the source's size used (multiples of 32)
    width: int
    frames: int  # 8k+1
    fps: float
    has_audio: bool

    @property
    def seed(self) -> int:
        return self.request.seed


def source_prompt(source: Path) -> str | None:
    """The prompt recorded in the sidecar written next to a generated video, if any."""
    sidecar = source.with_suffix(".json")
    try:
        settings = json.loads(sidecar.read_text()).get("settings", {})
    except (OSError, json.JSONDecodeError, AttributeError):
        return None
    return settings.get("prompt_used") if isinstance(settings, dict) else None


class UpscalePipeline:
    def __init__(self, ledger: ModelLedger):
        self.ledger = ledger

    def prepare(self, request: UpscaleRequest) -> tuple[PreparedUpscale, tuple[str, ...]]:
        """Probe the source, check the prompt, files and memory: before any model loads."""
        from ltx_core.media.ffmpeg import probe_video
        from ltx_core.media.video_read import usable_frame_count

        if not (request.spatial or request.temporal):
            raise RequestError("choose spatial and/or temporal upscaling.")
        source = Path(request.source)
        info = probe_video(source)
        prompt = request.prompt or source_prompt(source) or ""
        if request.spatial and not prompt:
            raise RequestError(
                "spatial upscaling refines the video with the model and needs its prompt: type one (no sidecar with "
                "the original prompt was found next to the video)."
            )
        roles = ((Role.SPATIAL_UPSAMPLER,) if request.spatial else ()) + ((Role.TEMPORAL_UPSAMPLER,) if request.temporal else ())
        self.ledger.check_files(*roles)
        frames = usable_frame_count(info.frames if request.max_frames is None else min(info.frames, request.max_frames))
        height, width = info.height // 32 * 32, info.width // 32 * 32
        if frames < 9 or height < 64 or width < 64:
            raise RequestError(f"{source.name} is too small to upscale ({info.width}x{info.height}, {info.frames} frames).")
        notices = []
        if (height, width) != (info.height, info.width):
            notices.append(f"{info.width}x{info.height} was cropped to {width}x{height} (multiples of 32).")
        if frames != info.frames:
            notices.append(f"the first {frames} of {info.frames} frames are used (8k+1 frames).")
        prepared = PreparedUpscale(request, prompt, height, width, frames, info.fps, info.has_audio)
        self._check_memory(prepared)
        return prepared, tuple(notices)

    def _check_memory(self, job: PreparedUpscale) -> None:
        """The refinement and the decode at the output size dominate (the encode of the source is
        no larger than its decode)."""
        from ltx_core.memory import MemoryEstimate, available_memory, check_fits, estimate_for_runtime

        ledger = self.ledger
        scale = 2 if job.request.spatial else 1
        frames = (job.frames - 1) * (2 if job.request.temporal else 1) + 1
        estimate = estimate_for_runtime(
            ledger.model_config, ledger.runtime, height=job.height * scale, width=job.width * scale,
            frames=frames, fps=job.fps, audio=False, stages=(DenoisePass("refine"),), gemma_config=ledger.gemma_config(),
        )  # fmt: skip
        if not job.request.spatial:  # no refinement: only the decode at the new length matters
            estimate = MemoryEstimate(tuple(s for s in estimate.stages if s.stage == "video decode"), {})
        check_fits(estimate, available_memory(margin_bytes=ledger.runtime.memory_margin), None, ledger.runtime.name)

    def produce(self, job: PreparedUpscale, reporter: ProgressReporter | None = None) -> Latents:
        from ltx_core.media.video_read import read_audio
        from ltx_core.model.upsampler.model import upsample_video

        ledger, request = self.ledger, job.request
        fps = job.fps
        with ledger.stage("encode"):
            if reporter is not None:
                reporter.report("encode", 0, 1)
            latent = encode_video(ledger, request.source, job.height, job.width, job.frames, ledger.runtime.tiling_config())
        statistics = ledger.video_statistics()
        if request.temporal:
            with ledger.stage("temporal upsample"):
                latent = upsample_video(latent, statistics, ledger.temporal_upsampler())
                mx.eval(latent)
                ledger.release(Component.TEMPORAL_UPSAMPLER)
                fps *= 2
        if request.spatial:
            with ledger.stage("spatial upsample"):
                latent = upsample_video(latent, statistics, ledger.spatial_upsampler())
                mx.eval(latent)
                ledger.release(Component.SPATIAL_UPSAMPLER)
            latent = self._refine(latent, job.prompt, request.seed, fps, reporter)
        settings = {
            "source": str(request.source),
            "spatial": request.spatial,
            "temporal": request.temporal,
            "seed": request.seed,
        }
        track = read_audio(Path(request.source)) if job.has_audio else None
        return Latents(latent, None, job.prompt, fps=fps, audio_track=track, settings=settings)

    def _refine(self, latent: mx.array, prompt: str, seed: int, fps: float, reporter) -> mx.array:
        """The distilled stage-2 refinement at the upsampled size (a dev checkpoint gets the
        distilled LoRA when one is configured)."""
        ledger = self.ledger
        _, _, frames_latent, h, w = latent.shape
        frames = (frames_latent - 1) * 8 + 1
        request = GenerationRequest(prompt=prompt, seed=seed, height=h * 32, width=w * 32, frames=frames, fps=fps)
        with ledger.stage("text encoder"):
            prompts = encode_prompts(ledger, request, with_negative=False)
        with ledger.stage("refine"):
            video_space, _ = latent_spaces(ledger, request.height, request.width, frames, fps)
            loras = ()
            if ledger.paths.distilled_lora is not None and ledger.model.variant != "distilled":
                loras = (LoraChoice(ledger.paths.distilled_lora, 1.0),)
            model = ledger.transformer(loras)
            denoiser = SimpleDenoiser(model, prompts.embeddings.positive.video, None)
            sigmas = distilled_sigmas(2)
            video, _ = denoise_stage(
                ledger, video_space, None, sigmas, denoiser, GaussianNoiser(seed), [], "refine", reporter,
                noise_scale=float(sigmas[0].item()), initial_video=latent,
            )  # fmt: skip
            model.velocity_model.clear_run_cache()
            ledger.release(Component.TRANSFORMER)
        return video


UpscalePipeline.descriptor = DESCRIPTOR = PipelineDescriptor(
    name="upscale",
    title="Upscale a video",
    summary="Spatial x2 (upsampler + distilled refinement) and/or temporal x2 of an existing video.",
    fields=frozenset({"source", "spatial", "temporal", "prompt", "seed"}),
    factory=UpscalePipeline,
)
