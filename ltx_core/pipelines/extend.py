"""Extend: continue a clip forward by N seconds with a new prompt (backward: lead into it,
``extend_backward.py``).

No official pipeline does this; it is built from the latent-replacement conditioning. The last
``overlap`` latent frames' worth of the source (its last 8(overlap-1)+1 pixel frames, which the
causal video encoder turns into exactly ``overlap`` latent frames, the first one from a single
frame as at the start of any clip) are encoded and placed at latent frame 0 of a new clip with
denoise mask 0: they stay fixed while the rest of the new clip is generated from noise, attending
to them, so motion and content continue. The output is the source up to the overlap, then the new
clip with the source's own frames put back over the overlap; the result is the source followed by
the extension (8k more frames: N seconds rounded up to whole latent frames).

Audio: the source's sound over the overlap is encoded (log-mel, audio VAE encoder, as
audio-to-video does) and the new clip's audio latent frames that it covers are fixed to it (denoise
mask 0, as the video overlap is), so the new sound is generated continuing the old one. The output
keeps the source's own samples (its rate and channels) up to its end, then the new clip's decoded
audio, resampled to that rate: with a 20 ms fade into it just before the source ends, or (``blend``,
the timeline) cross-faded over the whole overlap as the frames are. A source without audio gives an
extension without audio."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import mlx.core as mx
import numpy as np

from ltx_core.components.guiders import MultiModalGuiderParams
from ltx_core.components.noisers import GaussianNoiser
from ltx_core.media.audio_read import AudioClip
from ltx_core.pipelines.blocks import Prompts, decode_audio, denoise_stage, encode_prompts, latent_spaces
from ltx_core.pipelines.descriptor import Latents, PipelineDescriptor
from ltx_core.pipelines.extend_backward import (
    AudioHead,
    audio_then_source,
    extension_then_source,
    head_frames,
    head_latent,
    plan_audio_head,
)
from ltx_core.pipelines.latents import AudioLatentConditioning, LatentIndexConditioning
from ltx_core.pipelines.ledger import Component, ModelLedger
from ltx_core.pipelines.progress import ProgressReporter
from ltx_core.pipelines.request import GenerationRequest, RequestError
from ltx_core.pipelines.retake import edit_denoising
from ltx_core.pipelines.source_audio import (
    EDGE_FADE_SECONDS,
    encode_clip_audio,
    generated_at,
    read_clip_audio,
    shortest_encodable_seconds,
    to_pcm16,
)
from ltx_core.pipelines.source_clip import (
    SourceClip,
    check_edit_memory,
    encode_pixels,
    open_source_clip,
    source_pixels,
)

MAX_SECONDS = 20.0
DIRECTIONS = ("forward", "backward")


def overlap_pixel_frames(overlap: int, backward: bool = False) -> int:
    """Source frames an extension shares with the new clip for ``overlap`` latent frames: forward its
    last 8(overlap-1)+1 (the new clip's single-frame latent 0 and the ones after it), backward its
    first 8·overlap+1 (``extend_backward.head_frames``)."""
    return head_frames(overlap) if backward else 8 * (overlap - 1) + 1


@dataclass(frozen=True)
class ExtendRequest:
    source: str | Path
    seconds: float  # added after the source's end (rounded up to whole latent frames)
    prompt: str = ""
    negative_prompt: str = ""
    seed: int = 0
    overlap: int = 2  # latent frames of the source the new clip starts from
    blend: bool = False  # cross-fade the overlap from the source's frames to the new clip's (timelines)
    direction: str = "forward"  # "backward": the new part comes before the source, ending in its first frames
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
    audio: AudioClip | None = None  # the source's sound over the clip (kept in the output)
    audio_overlap_frames: int = 0  # the new clip's first audio latent frames fixed to the source's sound
    audio_head: AudioHead | None = None  # backward: the new clip's last audio latent frames fixed to it

    @property
    def seed(self) -> int:
        return self.request.seed

    @property
    def fps(self) -> float:
        return self.clip.fps

    @property
    def backward(self) -> bool:
        return self.request.direction == "backward"

    @property
    def overlap_frames(self) -> int:
        """Pixel frames of the source the new clip starts with (backward: ends with)."""
        return overlap_pixel_frames(self.request.overlap, self.backward)

    @property
    def kept_frames(self) -> int:
        """Source frames before the new clip starts (forward)."""
        return self.clip.frames - self.overlap_frames

    @property
    def added_frames(self) -> int:
        return self.generation.frames - self.overlap_frames

    @property
    def latent_index(self) -> int:
        """The new clip's first latent frame that holds the source's encoded frames."""
        return 1 + self.added_frames // 8 if self.backward else 0

    @property
    def output_frames(self) -> int:
        return self.clip.frames + self.added_frames


def extend_latents(
    ledger: ModelLedger, job: PreparedExtend, prompts: Prompts, noiser: GaussianNoiser, tail: mx.array,
    reporter: ProgressReporter | None = None, audio_tail: mx.array | None = None,
) -> tuple[mx.array, mx.array | None]:  # fmt: skip
    """The new clip's latents, its first latent frames fixed to ``tail`` (the encoded overlap) and,
    given ``audio_tail`` (the encoded sound of the overlap), its first audio latent frames to that."""
    generation = job.generation
    video_space, audio_space = latent_spaces(ledger, generation.height, generation.width, generation.frames, job.fps)
    if not generation.generate_audio:
        audio_space = None
    audio_start = job.audio_head.start if job.audio_head else 0
    audio_conditionings = (AudioLatentConditioning(audio_tail, 1.0, audio_start),) if audio_tail is not None else ()
    model, denoiser, sigmas = edit_denoising(ledger, job.guided, generation, prompts, audio_space is not None)
    video_conditioning = LatentIndexConditioning(tail, 1.0, job.latent_index)
    video, audio = denoise_stage(
        ledger, video_space, audio_space, sigmas, denoiser, noiser, [video_conditioning], "extend",
        reporter, audio_conditionings=audio_conditionings,
    )  # fmt: skip
    model.velocity_model.clear_run_cache()
    ledger.release(Component.TRANSFORMER)
    return video, audio


def covered_audio_frames(ledger: ModelLedger, generation: GenerationRequest, fps: float, seconds: float) -> int:
    """The new clip's audio latent frames whose whole time span lies in its first ``seconds``."""
    _, space = latent_spaces(ledger, generation.height, generation.width, generation.frames, fps)
    ends = np.array(space.patchifier.positions(space.shape))[0, 0, :, 1]
    return int((ends <= seconds + 1e-6).sum())


def source_audio(ledger: ModelLedger, clip: SourceClip, job: PreparedExtend, notices: list[str]) -> PreparedExtend:
    """``job`` with the source's sound and the audio latent frames its overlap fixes (none, with a
    notice, when too little of the overlap has sound to encode)."""
    from ltx_core.loader.audio_vae import audio_vae_config

    audio = read_clip_audio(clip.path, 0.0, clip.duration)
    shortest = shortest_encodable_seconds(audio_vae_config(ledger.audio_file))
    if job.backward:
        generation = job.generation
        _, space = latent_spaces(ledger, generation.height, generation.width, generation.frames, clip.fps)
        head = plan_audio_head(space, job.added_frames / clip.fps, generation.frames / clip.fps, audio.seconds)
        if head.frames and audio.seconds - head.cut >= shortest:
            return replace(job, audio=audio, audio_head=head)
        notices.append(f"the audio of {clip.path.name} is too short to encode ({audio.seconds:.2f} s): the "
                       "extension's audio is generated without it.")  # fmt: skip
        return replace(job, audio=audio)
    heard = audio.seconds - job.kept_frames / clip.fps  # seconds of sound in the overlap
    frames = covered_audio_frames(ledger, job.generation, clip.fps, heard) if heard > 0 else 0
    if heard < shortest or frames == 0:
        notices.append(
            f"the audio of {clip.path.name} ends at {audio.seconds:.2f} s, before the overlap: the extension's audio "
            "is generated without it."
        )
        frames = 0
    return replace(job, audio=audio, audio_overlap_frames=frames)


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
        if request.direction not in DIRECTIONS:
            raise RequestError(f"extend forward or backward, not {request.direction!r}.")
        backward = request.direction == "backward"
        if backward and request.blend:
            raise RequestError("blending the overlap is for forward extensions only: extend backward without it.")
        clip = open_source_clip(request.source, ledger.version, "extend")
        overlap_frames = overlap_pixel_frames(request.overlap, backward)
        if overlap_frames > clip.frames:
            most = (clip.frames - 1) // 8 + (0 if backward else 1)
            raise RequestError(f"{clip.path.name} has {clip.frames} frames: an overlap of at most {most} latent "
                               f"frames fits{' when extending backward' if backward else ''}.")  # fmt: skip
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
        check_edit_memory(ledger, generation, guided, "extend", overlap_frames, False)  # encode_pixels: at once
        job = PreparedExtend(request, clip, generation, guided)
        if clip.has_audio:
            job = source_audio(ledger, clip, job, notices)
        return job, tuple(notices)

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
            if job.backward:
                overlap = head_latent(encode_pixels(ledger, source[: job.overlap_frames]))
            else:
                overlap = encode_pixels(ledger, source[job.kept_frames :])
        audio_overlap = None
        if job.audio_overlap_frames or job.audio_head:
            with ledger.stage("audio encode"):
                audio_overlap = encode_overlap_audio(ledger, job)
        with ledger.stage("extend"):
            video, audio = extend_latents(
                ledger, job, prompts, noiser or GaussianNoiser(request.seed), overlap, reporter, audio_overlap
            )
        track = None
        if audio is not None:
            with ledger.stage("audio decode"):
                generated = decode_audio(ledger, audio)
                track = (audio_then_source(job.audio, generated, job.added_frames / job.fps, job.clip.duration,
                                           job.generation.frames / job.fps) if job.backward
                         else joined_audio(job, generated))  # fmt: skip
        if job.backward:
            frame_filter = partial(extension_then_source, source=source, added=job.added_frames)
        else:
            frame_filter = partial(source_then_extension, source=source, kept=job.kept_frames, blend=request.blend)
        return Latents(video, None, prompts.prompt, fps=job.fps, audio_track=track, settings=extend_settings(job),
                       frame_filter=frame_filter)  # fmt: skip


def encode_overlap_audio(ledger: ModelLedger, job: PreparedExtend) -> mx.array:
    """The source's sound over the overlap as the audio latent frames the new clip keeps: forward from
    the overlap's start; backward from the new clip's first audio latent boundary after the seam,
    its single-mel first frame dropped."""
    if job.backward:
        head = job.audio_head
        excerpt = head.excerpt(job.audio, job.overlap_frames / job.fps - head.cut)
        return head_latent(encode_clip_audio(ledger, excerpt, head.frames + 1))
    start = round(job.kept_frames / job.fps * job.audio.sample_rate)
    overlap = replace(job.audio, waveform=job.audio.waveform[:, start:])
    return encode_clip_audio(ledger, overlap, job.audio_overlap_frames)


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
    """The source's own samples to its end, then the new clip's audio (resampled to the source's rate
    and channels): faded in over the last 20 ms of the overlap, or over the whole overlap with
    ``blend``. int16 (samples, channels) and the rate."""
    source = job.audio
    rate, channels = source.sample_rate, source.waveform.shape[0]
    start = round(job.kept_frames / job.fps * rate)  # where the new clip starts in the output
    end = round(job.clip.frames / job.fps * rate)  # the overlap's end: the source's end
    new = generated_at(generated, rate, channels, round(job.generation.frames / job.fps * rate))
    old = np.zeros((channels, end), np.float32)
    old[:, : min(end, source.waveform.shape[1])] = source.waveform[:, :end]
    span = end - start
    fade = span if job.request.blend else min(span, round(EDGE_FADE_SECONDS * rate))
    weights = np.zeros(span, np.float32)
    weights[span - fade :] = (np.arange(fade, dtype=np.float32) + 1) / (fade + 1)
    mixed = old[:, start:] * (1 - weights) + new[:, :span] * weights
    return to_pcm16(np.concatenate([old[:, :start], mixed, new[:, span:]], axis=1)), rate


def extend_settings(job: PreparedExtend) -> dict:
    """The sidecar's request: what reproduces the extension, and its parent clip."""
    request, generation = job.request, job.generation
    settings = {
        "source": str(request.source), "seconds": request.seconds, "overlap": request.overlap, "blend": request.blend,
        "direction": request.direction, "prompt": request.prompt,
        "seed": request.seed, "enhance_prompt": request.enhance_prompt, "height": generation.height,
        "width": generation.width, "frames": job.output_frames, "fps": generation.fps,
    }  # fmt: skip
    if job.guided:
        settings.update(negative_prompt=request.negative_prompt, steps=generation.steps)
    return settings


ExtendPipeline.descriptor = DESCRIPTOR = PipelineDescriptor(
    name="extend",
    title="Extend a clip",
    summary="Continue an existing clip by N seconds with a new prompt, starting from its last latent frames "
            "(or lead into it: backward, ending in its first ones).",
    fields=frozenset({"source", "seconds", "overlap", "blend", "direction", "prompt", "negative_prompt", "seed", "steps",
                      "video_guidance", "audio_guidance", "enhance_prompt"}),
    factory=ExtendPipeline,
)
