"""Stages every pipeline composes: the memory check, prompts, source video/audio encoding,
conditioning, a denoising stage, upsampling, decoding."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import mlx.core as mx
import numpy as np

from ltx_core.components.noisers import GaussianNoiser
from ltx_core.model.text_encoder.cache import PromptEmbeddings
from ltx_core.pipelines.denoising import Denoiser, euler_loop, res2s_denoise
from ltx_core.pipelines.latents import (
    AudioLatentConditioning,
    AudioLatentSpace,
    ConditioningError,
    KeyframeConditioning,
    LatentIndexConditioning,
    VideoLatentSpace,
)
from ltx_core.pipelines.ledger import Component, ModelLedger
from ltx_core.pipelines.progress import ProgressReporter
from ltx_core.pipelines.request import GenerationRequest, ImageCondition
from ltx_core.types import AudioLatentShape, LatentState, VideoLatentShape, VideoPixelShape


def guidance_passes(request: GenerationRequest) -> int:
    """Forward passes per guided step: conditional, plus unconditional / perturbed / isolated
    modality when either modality's guider asks for it."""
    from ltx_core.components.guiders import MultiModalGuider

    video, audio = MultiModalGuider(request.video_guidance), MultiModalGuider(request.audio_guidance)
    checks = (
        MultiModalGuider.do_unconditional_generation,
        MultiModalGuider.do_perturbed_generation,
        MultiModalGuider.do_isolated_modality_generation,
    )
    return 1 + sum(int(check(video) or check(audio)) for check in checks)


def estimate_job(
    ledger: ModelLedger, descriptor, request: GenerationRequest, text_encoder: bool = True, stage_loras=None
):
    """The per-stage memory estimate of a job with the settings it will run with (the ledger's
    runtime); ``stage_loras``: stage name -> the LoRAs (LoraChoice) it applies, beyond those fused
    into the checkpoint. Reads headers only."""
    from dataclasses import replace

    from ltx_core.loader.lora import lora_footprint
    from ltx_core.memory import Guidance, estimate_for_runtime

    runtime = ledger.runtime
    guidance = None
    if descriptor.guided:
        guidance = Guidance(passes=guidance_passes(request), batched=runtime.batch_guidance_passes, contexts=2)
    return estimate_for_runtime(
        ledger.model_config, runtime, height=request.height, width=request.width, frames=request.frames,
        fps=request.fps, audio=request.generate_audio, guidance=guidance,
        stages=tuple(
            replace(stage, loras=lora_footprint([path for path, _ in ledger.net_loras(stage_loras.get(stage.name, ()))]))
            for stage in descriptor.memory_stages(request.spatial_upscale)
        ) if stage_loras else descriptor.memory_stages(request.spatial_upscale),
        gemma_config=ledger.gemma_config(), upsampler_config=ledger.upsampler_config(request.spatial_upscale),
        text_encoder=text_encoder and request.embeddings is None,
    )  # fmt: skip


def check_memory(
    ledger: ModelLedger, descriptor, request: GenerationRequest, text_encoder: bool = True, stage_loras=None
) -> None:
    """Refuse, before anything loads, a job predicted not to fit this machine's memory
    (``estimate_job``); ``text_encoder`` False: contexts are given."""
    from ltx_core.errors import ConfigError
    from ltx_core.memory import available_memory, check_fits
    from ltx_core.presets import load_presets

    estimate = estimate_job(ledger, descriptor, request, text_encoder, stage_loras)
    try:
        presets = load_presets()  # only for advice: a broken preset file must not block the check
    except ConfigError:
        presets = None
    check_fits(estimate, available_memory(margin_bytes=ledger.runtime.memory_margin), presets, ledger.runtime.name)


@dataclass(frozen=True)
class Prompts:
    embeddings: PromptEmbeddings
    prompt: str  # the prompt actually used (enhanced when asked)


def encode_prompts(ledger: ModelLedger, request: GenerationRequest, with_negative: bool) -> Prompts:
    """Prompt (and negative prompt) -> contexts; the text encoder is released right after."""
    from ltx_core.model.text_encoder.prompt_encoder import PromptEncoder

    if request.embeddings is not None:
        embeddings = PromptEncoder.load_precomputed(request.embeddings)
        if with_negative and embeddings.negative is None:
            raise ConditioningError(
                f"{request.embeddings} has no negative-prompt embeddings, which guidance needs; "
                "encode them with a negative prompt or use the distilled pipeline."
            )
        return Prompts(embeddings, request.prompt)
    prompt = request.prompt
    if request.enhance_prompt:  # before the text encoder loads: a separate enhancer is released first
        prompt = ledger.prompt_enhancer().enhance(prompt, image_to_video=bool(request.images), seed=request.seed)
        ledger.release(Component.PROMPT_ENHANCER)
    encoder = ledger.prompt_encoder()
    embeddings = encoder.encode(prompt, request.negative_prompt if with_negative else None)
    mx.eval(embeddings.arrays())
    ledger.release(Component.PROMPT_ENCODER)
    return Prompts(embeddings, prompt)


def latent_spaces(
    ledger: ModelLedger, height: int, width: int, frames: int, fps: float
) -> tuple[VideoLatentSpace, AudioLatentSpace]:
    pixel = VideoPixelShape(1, frames, height, width, fps)
    video = VideoLatentSpace(VideoLatentShape.from_pixel_shape(pixel, ledger.video_latent_channels), fps)
    audio = AudioLatentSpace(AudioLatentShape.from_video_pixel_shape(pixel, ledger.audio_latent_channels))
    return video, audio


def load_pixels(image: ImageCondition, height: int, width: int) -> mx.array:
    """(1, 3, 1, H, W) in [-1, 1] at the stage's size."""
    if isinstance(image.image, mx.array):
        pixels = image.image
        if pixels.ndim != 5 or tuple(pixels.shape[-2:]) != (height, width):
            raise ConditioningError(
                f"conditioning pixels must have shape (1, 3, 1, {height}, {width}), got {tuple(pixels.shape)}"
            )
        return pixels
    from ltx_core.media.image import load_image_conditioning

    if image.crf is None:
        raise ConditioningError("the image's CRF was not resolved from the model version (GenerationRequest.with_image_crf)")
    return load_image_conditioning(image.image, height, width, crf=image.crf)


def image_conditionings(
    ledger: ModelLedger,
    images: tuple[ImageCondition, ...],
    space: VideoLatentSpace,
    height: int,
    width: int,
    replace_first: bool = True,
) -> list:
    """Frame-0 images replace latent tokens (unless ``replace_first`` is False: the keyframe
    interpolation recipe guides with every image); images at other frames are appended as keyframe
    tokens with their own positions, the way the model version's official code appends them."""
    if not images:
        return []
    encoder = ledger.video_encoder()
    placeholder = ledger.version.keyframe_placeholder
    items = []
    for image in images:
        latent = encoder(load_pixels(image, height, width).astype(ledger.dtype))
        mx.eval(latent)
        if image.frame_index == 0 and replace_first:
            items.append(LatentIndexConditioning(latent, image.strength, 0))
        else:
            items.append(KeyframeConditioning(latent, image.frame_index, image.strength, placeholder))
    return items


def denoise_stage(
    ledger: ModelLedger,
    video_space: VideoLatentSpace,
    audio_space: AudioLatentSpace | None,
    sigmas: mx.array,
    denoiser: Denoiser,
    noiser: GaussianNoiser,
    conditionings: list,
    stage: str,
    reporter: ProgressReporter | None,
    noise_scale: float = 1.0,
    initial_video: mx.array | None = None,
    initial_audio: mx.array | None = None,
    audio_conditionings: tuple[AudioLatentConditioning, ...] = (),
    ancestral=None,
    sampler: str = "euler",
    seed: int = 0,
) -> tuple[mx.array, mx.array | None]:
    """Build the noised states (video first, then audio: the official draw order), denoise them,
    drop appended conditioning tokens and return the (B, C, F, H, W) / (B, C, T, M) latents.
    ``conditionings`` apply to the video state, ``audio_conditionings`` to the audio state;
    ``ancestral`` (an ``AncestralSampler``) samples with the ancestral Euler step; ``sampler``
    "res2s" denoises with the second-order res_2s loop, its SDE noise seeded from ``seed``."""
    video, audio = denoise_states(
        ledger, video_space, audio_space, sigmas, denoiser, noiser, conditionings, stage, reporter, noise_scale,
        initial_video, initial_audio, audio_conditionings, ancestral, sampler, seed,
    )  # fmt: skip
    return video_space.finish(video), audio_space.finish(audio) if audio is not None else None


def denoise_states(
    ledger: ModelLedger,
    video_space: VideoLatentSpace,
    audio_space: AudioLatentSpace | None,
    sigmas: mx.array,
    denoiser: Denoiser,
    noiser: GaussianNoiser,
    conditionings: list,
    stage: str,
    reporter: ProgressReporter | None,
    noise_scale: float = 1.0,
    initial_video: mx.array | None = None,
    initial_audio: mx.array | None = None,
    audio_conditionings: tuple[AudioLatentConditioning, ...] = (),
    ancestral=None,
    sampler: str = "euler",
    seed: int = 0,
) -> tuple[LatentState, LatentState | None]:
    """``denoise_stage`` up to the denoised token states, appended tokens still there (generated
    keyframe slots are read from them)."""
    video = video_space.initial_state(ledger.dtype, initial_video)
    for item in conditionings:
        video = item.apply(video, video_space)
    video = noiser(video, noise_scale)
    audio = None
    if audio_space is not None:
        audio = audio_space.initial_state(ledger.dtype, initial_audio)
        for item in audio_conditionings:
            audio = item.apply(audio, audio_space)
        audio = noiser(audio, noise_scale)
    elif audio_conditionings:
        raise ConditioningError("audio conditioning needs the audio stream (generate audio).")
    if sampler == "res2s":
        video, audio = res2s_denoise(sigmas, video, audio, denoiser, seed, stage, reporter, video_space.preview)
    else:
        video, audio = euler_loop(sigmas, video, audio, denoiser, stage, reporter, video_space.preview, ancestral)
    return video, audio


def upsample_spatially(ledger: ModelLedger, latent: mx.array, *more: mx.array, spatial_upscale: float = 2.0) -> mx.array:
    """Spatial upsampling (x2, or x1.5 with that upsampler) of ``latent`` (and of each of ``more``:
    then a tuple of all)."""
    from ltx_core.model.upsampler.model import upsample_video

    upsampler = ledger.spatial_upsampler(spatial_upscale)
    upsampled = [upsample_video(x, ledger.video_statistics(), upsampler) for x in (latent, *more)]
    mx.eval(upsampled)
    ledger.release(Component.SPATIAL_UPSAMPLER)
    return tuple(upsampled) if more else upsampled[0]


def upsample_temporally(ledger: ModelLedger, latent: mx.array) -> mx.array:
    """x2 temporal upsampling (F latent frames -> 2F - 1); the upsampler stays loaded."""
    from ltx_core.model.upsampler.model import upsample_video

    upsampled = upsample_video(latent, ledger.video_statistics(), ledger.temporal_upsampler())
    mx.eval(upsampled)
    return upsampled


def encode_video(
    ledger: ModelLedger, source, height: int, width: int, frames: int, tiling=None
) -> mx.array:
    """A video file's first ``frames`` frames at ``height`` x ``width`` -> its normalised latent
    (B, C, F', H', W'); the encoder is released afterwards."""
    from ltx_core.media.video_read import load_video_conditioning
    from ltx_core.model.video_vae.tiled import tiled_encode

    pixels = load_video_conditioning(source, height, width, frames).astype(ledger.dtype)
    encoder = ledger.video_encoder()
    latent = tiled_encode(encoder, pixels, tiling) if tiling is not None else encoder(pixels)
    mx.eval(latent)
    ledger.release(Component.VIDEO_ENCODER)
    return latent


def encode_audio(ledger: ModelLedger, mel: mx.array) -> mx.array:
    """A log-mel spectrogram (B, channels, T, mel bins), as the audio VAE takes it, -> its
    normalised audio latent (B, C, T', M'); the encoder is released afterwards."""
    latent = ledger.audio_encoder()(mel.astype(ledger.dtype))
    mx.eval(latent)
    ledger.release(Component.AUDIO_ENCODER)
    return latent


def decode_tiling(ledger: ModelLedger, decoder, tiling=None):
    """The tiling ``decoder`` runs with: the diffusion decoder gets ``tiling`` (the preset's conv VAE
    tiling) fitted to its geometry (multiples of its strides, overlaps >= ``min_overlaps``)."""
    from ltx_core.model.video_vae.diffusion import DiffusionVideoDecoder

    if isinstance(decoder, DiffusionVideoDecoder):
        return decoder.fit_tiling(tiling)
    return tiling


def decode_pixels(
    ledger: ModelLedger, latent: mx.array, tiling=None, noise: mx.array | None = None, seed: int = 0
) -> Iterator[mx.array]:
    """Float pixels (B, 3, F, H, W) chunk by chunk (tile by tile in time when ``tiling`` is set),
    with the conv or the diffusion decoder (whichever the video VAE file holds)."""
    from ltx_core.model.video_vae.diffusion import DiffusionVideoDecoder
    from ltx_core.model.video_vae.diffusion.decode import decode_diffusion_pixels
    from ltx_core.model.video_vae.tiled import decode_pixels as decode

    decoder = ledger.video_decoder()
    tiling = decode_tiling(ledger, decoder, tiling)
    model = getattr(decoder, "wrapped", decoder)  # a job's progress reporting wraps it (CountedTiles)
    if isinstance(model, DiffusionVideoDecoder):
        yield from decode_diffusion_pixels(latent, model, tiling, noise=noise, key=mx.random.key(seed))
    else:
        yield from decode(latent, decoder, tiling, noise=noise, key=mx.random.key(seed))


def decode_frames(ledger: ModelLedger, latent: mx.array, tiling=None, noise=None, seed: int = 0) -> Iterator[np.ndarray]:
    """uint8 (F, H, W, 3) chunks, rounded as the model version says (``uint8_rounding``); the
    decoder is released when the last chunk is out."""
    from ltx_core.model.video_vae.tiled import to_uint8_frames

    rounding = ledger.version.uint8_rounding
    for pixels in decode_pixels(ledger, latent, tiling, noise, seed):
        yield to_uint8_frames(pixels, rounding)
    ledger.release(Component.VIDEO_DECODER)


def decode_audio(ledger: ModelLedger, latent: mx.array):
    from ltx_core.model.audio_vae.audio import decode_audio as decode

    audio = decode(latent, ledger.audio_decoder(), ledger.vocoder())
    mx.eval(audio.waveform)
    ledger.release(Component.AUDIO_DECODER, Component.VOCODER)
    return audio
