"""Extend: continue a clip forward by N seconds with a new prompt.

No official pipeline does this; it is built from the latent-replacement conditioning. The last
``overlap`` latent frames' worth of the source (its last 8(overlap-1)+1 pixel frames, which the
causal video encoder turns into exactly ``overlap`` latent frames, the first one from a single
frame as at the start of any clip) are encoded and placed at latent frame 0 of a new clip with
denoise mask 0: they stay fixed while the rest of the new clip is generated from noise, attending
to them, so motion and content continue. The output is the source up to the overlap, then the new
clip with the source's own frames put back over the overlap; the result is the source followed by
the extension (8k more frames: N seconds rounded up to whole latent frames).

Audio: the source's own waveform is kept up to its end; the new clip's generated audio follows,
cross-faded with the source over the overlap. Conditioning the new audio on the source's audio
needs the source's audio latent, i.e. its log-mel encoding (the audio-to-video front end), which
this build lacks: the new audio continues the new video, not the old sound."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import mlx.core as mx
import numpy as np

from ltx_core.components.guiders import MultiModalGuiderParams
from ltx_core.components.noisers import GaussianNoiser
from ltx_core.pipelines.blocks import Prompts, decode_audio, denoise_stage, encode_prompts, latent_spaces
from ltx_core.pipelines.descriptor import Latents, PipelineDescriptor
from ltx_core.pipelines.latents import LatentIndexConditioning
from ltx_core.pipelines.ledger import Component, ModelLedger
from ltx_core.pipelines.progress import ProgressReporter
from ltx_core.pipelines.request import GenerationRequest, RequestError
from ltx_core.pipelines.retake import edit_denoising
from ltx_core.pipelines.source_clip import (
    SourceClip,
    check_edit_memory,
    encode_pixels,
    open_source_clip,
    source_pixels,
)

MAX_SECONDS = 20.0


@dataclass(frozen=True)
class ExtendRequest:
    source: str | Path
    seconds: float  # added after the source's end (rounded up to whole latent frames)
    prompt: str = ""
    negative_prompt: str = ""
    seed: int = 0
    overlap: int = 2  # latent frames of the source the new clip starts from
    blend: bool = False  # cross-fade the overlap from the source's frames to the new clip's (timelines)
    steps: int | None = None  # dev checkpoints (default: the version's)
    video_guidance: MultiModalGuiderParams | None = None
    audio_guidance: MultiModalGuiderParams | None = None
    enhance_prompt: bool = False


@dataclass(frozen=True)
class PreparedExtend:
    request: ExtendRequest
    clip: SourceClip
    generation: GenerationRequest  # the new clip: overlap + extension frames at the source's size
    guided: bool

    @property
    def seed(self) -> int:
        return self.request.seed

    @property
    def fps(self) -> float:
        return self.clip.fps

    @property
    def overlap_frames(self) -> int:
        """Pixel frames of the source the new clip starts with."""
        return 8 * (self.request.overlap - 1) + 1

    @property
    def kept_frames(self) -> int:
        """Source frames before the new clip starts."""
        return self.clip.frames - self.overlap_frames


def extend_latents(
    ledger: ModelLedger, job: PreparedExtend, prompts: Prompts, noiser: GaussianNoiser, tail: mx.array,
    reporter: ProgressReporter | None = None,
) -> tuple[mx.array, mx.array | None]:  # fmt: skip
    """The new clip's latents, its first latent frames fixed to ``tail`` (the encoded overlap)."""
    generation = job.generation
    video_space, audio_space = latent_spaces(ledger, generation.height, generation.width, generation.frames, job.fps)
    if not generation.generate_audio:
        audio_space = None
    model, denoiser, sigmas = edit_denoising(ledger, job.guided, generation, prompts, audio_space is not None)
    video, audio = denoise_stage(
        ledger, video_space, audio_space, sigmas, denoiser, noiser, [LatentIndexConditioning(tail, 1.0, 0)], "extend",
        reporter,
    )  # fmt: skip
    model.velocity_model.clear_run_cache()
    ledger.release(Component.TRANSFORMER)
    return video, audio


class ExtendPipeline:
    def __init__(self, ledger: ModelLedger):
        self.ledger = ledger

    def prepare(self, request: ExtendRequest) -> tuple[PreparedExtend, tuple[str, ...]]:
        """Check the length, the overlap, the source, the prompt, files and memory: before any model loads."""
        ledger = self.ledger
        if not (isinstance(request.seconds, int | float) and 0 < request.seconds <= MAX_SECONDS):
            raise RequestError(f"extend by more than 0 and at most {MAX_SECONDS:g} seconds, not {request.seconds!r}.")
        if not (isinstance(request.overlap, int) and request.overlap >= 1):
            raise RequestError(f"the overlap is a whole number of latent frames (1 or more), not {request.overlap!r}.")
        clip = open_source_clip(request.source, ledger.version, "extend")
        overlap_frames = 8 * (request.overlap - 1) + 1
        if overlap_frames > clip.frames:
            most = (clip.frames - 1) // 8 + 1
            raise RequestError(f"{clip.path.name} has {clip.frames} frames: an overlap of at most {most} latent frames fits.")
        added = 8 * math.ceil(request.seconds * clip.fps / 8)
        notices = list(clip.notices)
        if not clip.has_audio:
            notices.append(f"{clip.path.name} has no audio: the extension has none either.")
        guided = ledger.model.variant != "distilled"
        generation = GenerationRequest.for_version(
            ledger.version, prompt=request.prompt, negative_prompt=request.negative_prompt, seed=request.seed,
            height=clip.height, width=clip.width, frames=overlap_frames + added, fps=clip.fps, steps=request.steps,
            video_guidance=request.video_guidance, audio_guidance=request.audio_guidance,
            generate_audio=clip.has_audio, enhance_prompt=request.enhance_prompt,
        )  # fmt: skip
        generation.validate(32)
        ledger.check_files()
        check_edit_memory(ledger, generation, guided, "extend")
        return PreparedExtend(request, clip, generation, guided), tuple(notices)

    def produce(
        self, job: PreparedExtend, reporter: ProgressReporter | None = None, noiser: GaussianNoiser | None = None,
        prompts: Prompts | None = None,
    ) -> Latents:  # fmt: skip
        ledger, request = self.ledger, job.request
        with ledger.stage("text encoder"):
            prompts = prompts or encode_prompts(ledger, job.generation, with_negative=job.guided)
        with ledger.stage("encode"):
            if reporter is not None:
                reporter.report("encode", 0, 1)
            source = source_pixels(job.clip)
            tail = encode_pixels(ledger, source[job.kept_frames :])
        with ledger.stage("extend"):
            video, audio = extend_latents(ledger, job, prompts, noiser or GaussianNoiser(request.seed), tail, reporter)
        track = None
        if audio is not None:
            with ledger.stage("audio decode"):
                track = joined_audio(job, decode_audio(ledger, audio))
        return Latents(video, None, prompts.prompt, fps=job.fps, audio_track=track, settings=extend_settings(job),
                       frame_filter=lambda chunks: source_then_extension(chunks, source, job.kept_frames, request.blend))  # fmt: skip


def source_then_extension(
    chunks: Iterator[np.ndarray], source: np.ndarray, kept: int, blend: bool = False
) -> Iterator[np.ndarray]:
    """The source's first ``kept`` frames, then the new clip's decoded frames with the source's own
    frames over the overlap (the new clip starts at source frame ``kept``). ``blend``: over the
    overlap, fade linearly from the source's frames to the new clip's, so the last overlap frame is
    the new clip's own and nothing jumps where the generated frames begin."""
    if kept:
        yield source[:kept]
    span = source.shape[0] - kept
    index = 0
    for chunk in chunks:
        chunk = np.array(chunk)
        overlap = source[kept + index : kept + index + chunk.shape[0]]
        if blend:
            weight = (np.arange(index, index + overlap.shape[0], dtype=np.float32) + 1)[:, None, None, None] / span
            mixed = overlap * (1 - weight) + chunk[: overlap.shape[0]] * weight
            chunk[: overlap.shape[0]] = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
        else:
            chunk[: overlap.shape[0]] = overlap
        index += chunk.shape[0]
        yield chunk


def joined_audio(job: PreparedExtend, generated) -> tuple[np.ndarray, int]:
    """The source's audio to its end, then the new clip's, cross-faded linearly over the overlap;
    int16 (samples, channels) at the generated audio's rate."""
    from ltx_core.media.video_read import read_audio
    from ltx_core.media.video_write import audio_to_pcm16

    new, rate = audio_to_pcm16(generated)
    old, _ = read_audio(job.clip.path, sample_rate=rate)
    if old.shape[1] != new.shape[1]:  # match the generated channel count
        old = np.repeat(old[:, :1], new.shape[1], axis=1) if old.shape[1] == 1 else old.mean(axis=1, keepdims=True)
    start = round(job.kept_frames / job.fps * rate)  # where the new clip starts in the output
    end = min(round(job.clip.frames / job.fps * rate), old.shape[0])  # the overlap's end
    old = old[:end].astype(np.float32)
    fade = max(0, end - start)
    ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)[:, None]
    mixed = old[start:end] * (1 - ramp) + new[:fade].astype(np.float32) * ramp
    joined = np.concatenate([old[:start], mixed, new[fade:].astype(np.float32)])
    return np.clip(np.rint(joined), -32768, 32767).astype(np.int16), rate


def extend_settings(job: PreparedExtend) -> dict:
    """The sidecar's request: what reproduces the extension, and its parent clip."""
    request, generation = job.request, job.generation
    settings = {
        "source": str(request.source), "seconds": request.seconds, "overlap": request.overlap, "blend": request.blend,
        "prompt": request.prompt,
        "seed": request.seed, "enhance_prompt": request.enhance_prompt, "height": generation.height,
        "width": generation.width, "frames": job.kept_frames + generation.frames, "fps": generation.fps,
    }  # fmt: skip
    if job.guided:
        settings.update(negative_prompt=request.negative_prompt, steps=generation.steps)
    return settings


ExtendPipeline.descriptor = DESCRIPTOR = PipelineDescriptor(
    name="extend",
    title="Extend a clip",
    summary="Continue an existing clip by N seconds with a new prompt, starting from its last latent frames.",
    fields=frozenset({"source", "seconds", "overlap", "blend", "prompt", "negative_prompt", "seed", "steps", "video_guidance",
                      "audio_guidance", "enhance_prompt"}),
    factory=ExtendPipeline,
)
