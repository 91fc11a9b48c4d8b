"""Retake: regenerate the time window [start, end) seconds of an existing clip with a new prompt.

The source is encoded and its latent is the initial state; a temporal region mask (the official
``TemporalRegionMask`` semantics: a token is regenerated when its time span overlaps the window)
sets the denoise mask to 1 inside the window and 0 outside, so the noiser and every Euler step
leave the latent tokens outside untouched. Video and audio are selectable. After decoding, the
source's own frames are put back outside the window, so what the user kept is the source itself,
not its VAE reconstruction. A distilled checkpoint runs the distilled sigmas unguided; a dev
checkpoint runs the version's scheduler with multi-modal guidance (as the official pipeline's
``distilled`` switch does).

Audio, as the official retake: the source's sound is read for the clip's duration, turned into the
audio VAE's log-mel and encoded (cut, or zero-padded when the sound is shorter than the clip), and
the same temporal region mask applies to its tokens; when the audio is not regenerated it stays
fixed (denoise mask 0) and the video is still denoised beside it. Where the official output is the
decoded, re-synthesised soundtrack, ours keeps the user's own samples outside the window (as the
source's frames are put back outside it): the regenerated audio is decoded, resampled to the
source's rate and spliced in over [start, end) with a 20 ms fade just inside each edge; kept audio
is the source's samples throughout. A source without audio gets a soundtrack generated for the
whole clip."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import mlx.core as mx
import numpy as np

from ltx_core.components.guiders import MultiModalGuider, MultiModalGuiderParams
from ltx_core.components.noisers import GaussianNoiser
from ltx_core.components.schedulers import distilled_sigmas, ltx2_sigmas
from ltx_core.media.audio_read import AudioClip
from ltx_core.pipelines.blocks import (
    Prompts,
    decode_audio,
    denoise_stage,
    encode_prompts,
    encode_video,
    latent_spaces,
)
from ltx_core.pipelines.denoising import GuidedDenoiser, SimpleDenoiser
from ltx_core.pipelines.descriptor import Latents, PipelineDescriptor
from ltx_core.pipelines.latents import AudioLatentSpace, VideoLatentSpace
from ltx_core.pipelines.ledger import Component, ModelLedger
from ltx_core.pipelines.progress import ProgressReporter
from ltx_core.pipelines.request import GenerationRequest, RequestError
from ltx_core.pipelines.source_audio import (
    encode_clip_audio,
    read_clip_audio,
    shortest_encodable_seconds,
    splice_window,
    to_pcm16,
)
from ltx_core.pipelines.source_clip import (
    WINDOW_SLACK,
    SourceClip,
    check_edit_memory,
    open_source_clip,
    paste_frames,
    source_pixels,
)
from ltx_core.types import LatentState


@dataclass(frozen=True)
class TemporalRegionMask:
    """Denoise mask 1 on tokens whose time span overlaps [start, end) seconds, 0 elsewhere. Video
    spans are the tokens' pixel-frame bounds (causal first frame) over ``fps``; audio tokens carry
    their spans in seconds. [0, 0) keeps everything (a modality that is not regenerated)."""

    start: float
    end: float
    fps: float

    def apply(self, state: LatentState, space: VideoLatentSpace | AudioLatentSpace) -> LatentState:
        if isinstance(space, VideoLatentSpace):
            bounds = space.patchifier.pixel_bounds(space.shape, space.scale, causal_fix=True).astype(np.float32)
            spans = bounds[:, 0] / np.float32(self.fps)
        else:
            spans = np.array(space.patchifier.positions(space.shape))[:, 0]
        inside = (spans[..., 1] > self.start) & (spans[..., 0] < self.end)
        mask = mx.array(inside[..., None].astype(np.float32)).astype(state.denoise_mask.dtype)
        return replace(state, denoise_mask=mask)


@dataclass(frozen=True)
class RetakeRequest:
    source: str | Path
    start: float  # seconds, inclusive
    end: float  # seconds, exclusive
    prompt: str = ""
    negative_prompt: str = ""
    seed: int = 0
    regenerate_video: bool = True
    regenerate_audio: bool = True
    steps: int | None = None  # dev checkpoints (default: the version's)
    video_guidance: MultiModalGuiderParams | None = None  # dev checkpoints (default: the version's)
    audio_guidance: MultiModalGuiderParams | None = None
    enhance_prompt: bool = False


@dataclass(frozen=True)
class PreparedRetake:
    request: RetakeRequest
    clip: SourceClip
    generation: GenerationRequest  # the geometry, prompts, steps and guidance the denoising runs with
    guided: bool
    generate_audio: bool  # an audio stream is denoised (regenerated in the window, fixed, or made for a silent source)
    audio: AudioClip | None = None  # the source's sound over the clip, encoded as the audio stream's initial latent

    @property
    def seed(self) -> int:
        return self.request.seed

    @property
    def fps(self) -> float:
        return self.clip.fps


def check_window(start: float, end: float, duration: float) -> None:
    """One sentence for a window that is empty or leaves the clip."""
    if not (np.isfinite(start) and np.isfinite(end)) or start >= end:
        raise RequestError(f"the retake window's start ({start:g} s) must be before its end ({end:g} s).")
    if start < 0 or end > duration + WINDOW_SLACK:
        raise RequestError(
            f"the window {start:g}-{end:g} s is outside the clip (0-{duration:.3g} s): choose times inside it."
        )


def edit_denoising(ledger: ModelLedger, guided: bool, generation: GenerationRequest, prompts: Prompts, with_audio: bool):
    """(model, denoiser, sigmas) of an edit's one full-size stage: the distilled sigmas unguided,
    or (a dev checkpoint) the scheduler's ``generation.steps`` with multi-modal guidance."""
    model = ledger.transformer(())
    positive = prompts.embeddings.positive
    audio_context = positive.audio if with_audio else None
    if not guided:
        return model, SimpleDenoiser(model, positive.video, audio_context), distilled_sigmas(1)
    negative = prompts.embeddings.negative
    denoiser = GuidedDenoiser(
        model, positive.video, audio_context, MultiModalGuider(generation.video_guidance),
        MultiModalGuider(generation.audio_guidance), negative.video, negative.audio if with_audio else None,
        batch_passes=ledger.runtime.batch_guidance_passes,
    )  # fmt: skip
    return model, denoiser, ltx2_sigmas(generation.steps)


def retake_latents(
    ledger: ModelLedger,
    job: PreparedRetake,
    prompts: Prompts,
    noiser: GaussianNoiser,
    source_video: mx.array,
    source_audio: mx.array | None,
    reporter: ProgressReporter | None = None,
) -> tuple[mx.array, mx.array | None]:
    """Denoise the window of the encoded source (video (1, C, F, H, W), audio (1, C, T, M) or None:
    the whole soundtrack is generated when ``job.generate_audio``)."""
    request, generation = job.request, job.generation
    video_space, audio_space = latent_spaces(ledger, generation.height, generation.width, generation.frames, job.fps)
    window = TemporalRegionMask(request.start, request.end, job.fps)
    kept = TemporalRegionMask(0.0, 0.0, job.fps)
    audio_conditionings = ()
    if not job.generate_audio:
        audio_space, source_audio = None, None
    elif source_audio is not None:
        audio_conditionings = (window if request.regenerate_audio else kept,)
    model, denoiser, sigmas = edit_denoising(ledger, job.guided, generation, prompts, audio_space is not None)
    video, audio = denoise_stage(
        ledger, video_space, audio_space, sigmas, denoiser, noiser, [window if request.regenerate_video else kept],
        "retake", reporter, initial_video=source_video, initial_audio=source_audio,
        audio_conditionings=audio_conditionings,
    )  # fmt: skip
    model.velocity_model.clear_run_cache()
    ledger.release(Component.TRANSFORMER)
    return video, audio


def source_audio(ledger: ModelLedger, clip: SourceClip, request: RetakeRequest, notices: list[str]) -> AudioClip | None:
    """The source's sound over the clip, to encode; None (with a notice) when it is too short to
    encode and only the video is retaken (the sound is then carried over as it is)."""
    from ltx_core.loader.audio_vae import audio_vae_config

    audio = read_clip_audio(clip.path, 0.0, clip.duration)
    shortest = shortest_encodable_seconds(audio_vae_config(ledger.audio_file))
    name = clip.path.name
    if audio.seconds < shortest:
        if request.regenerate_audio:
            raise RequestError(
                f"the audio of {name} is {audio.seconds:.3f} s long, too short to encode (at least {shortest:.3f} s): "
                "regenerate its video only."
            )
        notices.append(f"the audio of {name} is too short to encode ({audio.seconds:.3f} s): it is kept as it is.")
        return None
    if audio.seconds < clip.duration - 0.5 / clip.fps:
        notices.append(
            f"the audio of {name} ends at {audio.seconds:.2f} s, the clip at {clip.duration:.2f} s: past its end "
            "the audio latent is zeros (as the official retake pads it), and outside the window the output stays silent there."
        )
    return audio


class RetakePipeline:
    def __init__(self, ledger: ModelLedger):
        self.ledger = ledger

    def prepare(self, request: RetakeRequest) -> tuple[PreparedRetake, tuple[str, ...]]:
        """Check the window, the source, the prompt, files and memory: before any model loads."""
        ledger = self.ledger
        version = ledger.version
        if not (request.regenerate_video or request.regenerate_audio):
            raise RequestError("choose what to regenerate in the window: video, audio or both.")
        check_window(request.start, request.end, float("inf"))  # an empty window needs no probing
        clip = open_source_clip(request.source, version, "retake")
        check_window(request.start, request.end, clip.duration)
        notices = list(clip.notices)
        if not request.regenerate_video and not clip.has_audio:
            raise RequestError(f"{clip.path.name} has no audio to regenerate: regenerate its video.")
        audio = source_audio(ledger, clip, request, notices) if clip.has_audio else None
        generate_audio = audio is not None or (not clip.has_audio and request.regenerate_audio)
        if generate_audio and audio is None:
            notices.append(f"{clip.path.name} has no audio: a soundtrack is generated for the whole clip.")
        guided = ledger.model.variant != "distilled"
        generation = GenerationRequest.for_version(
            version, prompt=request.prompt, negative_prompt=request.negative_prompt, seed=request.seed,
            height=clip.height, width=clip.width, frames=clip.frames, fps=clip.fps, steps=request.steps,
            video_guidance=request.video_guidance, audio_guidance=request.audio_guidance,
            generate_audio=generate_audio, enhance_prompt=request.enhance_prompt,
        )  # fmt: skip
        generation.validate(32)
        ledger.check_files()
        check_edit_memory(ledger, generation, guided, "retake", clip.frames, True)  # encode_video: tiled
        return PreparedRetake(request, clip, generation, guided, generate_audio, audio), tuple(notices)

    def produce(
        self, job: PreparedRetake, reporter: ProgressReporter | None = None, noiser: GaussianNoiser | None = None,
        prompts: Prompts | None = None,
    ) -> Latents:  # fmt: skip
        from ltx_core.media.video_read import read_audio

        ledger, request, clip = self.ledger, job.request, job.clip
        with ledger.stage("text encoder"):
            prompts = prompts or encode_prompts(ledger, job.generation, with_negative=job.guided)
        with ledger.stage("encode"):
            if reporter is not None:
                reporter.report("encode", 0, 1)
            source_video = encode_video(ledger, clip.path, clip.height, clip.width, clip.frames, ledger.runtime.tiling_config())
        initial_audio = None
        if job.audio is not None:
            with ledger.stage("audio encode"):
                if reporter is not None:
                    reporter.report("audio encode", 0, 1)
                _, audio_space = latent_spaces(ledger, clip.height, clip.width, clip.frames, clip.fps)
                initial_audio = encode_clip_audio(ledger, job.audio, audio_space.shape.frames)
        with ledger.stage("retake"):
            video, audio = retake_latents(
                ledger, job, prompts, noiser or GaussianNoiser(request.seed), source_video, initial_audio, reporter
            )
        track = None
        if job.audio is not None and request.regenerate_audio:  # the user's samples outside the window
            with ledger.stage("audio decode"):
                track = splice_window(job.audio, decode_audio(ledger, audio), request.start, request.end, clip.duration)
            audio = None
        elif job.audio is not None:  # kept whole: the source's samples, not the fixed latent's decoding
            track, audio = (to_pcm16(job.audio.waveform), job.audio.sample_rate), None
        elif clip.has_audio:  # too short to encode: carried over as it is
            track = read_audio(clip.path)
        return Latents(
            video, audio, prompts.prompt, fps=clip.fps, audio_track=track, settings=retake_settings(job),
            frame_filter=self.keep_source_frames(job),
        )  # fmt: skip

    @staticmethod
    def keep_source_frames(job: PreparedRetake):
        """The decoded frames with the source's own frames outside the window (when the video is
        kept entirely, every frame)."""
        request, clip = job.request, job.clip
        pixels = source_pixels(clip)

        def kept(index: int) -> np.ndarray | None:
            inside = request.start <= index / clip.fps < request.end
            return None if inside and request.regenerate_video else pixels[index]

        return lambda chunks: paste_frames(chunks, kept)


def retake_settings(job: PreparedRetake) -> dict:
    """The sidecar's request: what reproduces the retake, and its parent clip (the gallery's lineage)."""
    request, generation = job.request, job.generation
    settings = {
        "source": str(request.source), "start": request.start, "end": request.end, "prompt": request.prompt,
        "seed": request.seed, "regenerate_video": request.regenerate_video,
        "regenerate_audio": request.regenerate_audio, "enhance_prompt": request.enhance_prompt,
        "height": generation.height, "width": generation.width, "frames": generation.frames, "fps": generation.fps,
    }  # fmt: skip
    if job.guided:
        from ltx_core.pipelines.runner import request_settings

        guided = request_settings(GUIDED_VIEW, generation)
        settings.update(negative_prompt=request.negative_prompt, steps=guided["steps"],
                        video_guidance=guided["video_guidance"], audio_guidance=guided["audio_guidance"])  # fmt: skip
    return settings


RetakePipeline.descriptor = DESCRIPTOR = PipelineDescriptor(
    name="retake",
    title="Retake part of a clip",
    summary="Regenerate a time window of an existing clip (video and/or audio) with a new prompt; the rest is kept.",
    fields=frozenset({"source", "start", "end", "prompt", "negative_prompt", "seed", "regenerate_video",
                      "regenerate_audio", "steps", "video_guidance", "audio_guidance", "enhance_prompt"}),
    factory=RetakePipeline,
)
GUIDED_VIEW = replace(DESCRIPTOR, fields=frozenset({"steps", "video_guidance", "audio_guidance"}))
