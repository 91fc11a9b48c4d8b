"""Stages every pipeline composes: prompts, conditioning, a denoising stage, upsampling, decoding."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import mlx.core as mx
import numpy as np

from ltx_core.components.noisers import GaussianNoiser
from ltx_core.model.text_encoder.cache import PromptEmbeddings
from ltx_core.pipelines.denoising import Denoiser, euler_loop
from ltx_core.pipelines.latents import (
    AudioLatentSpace,
    ConditioningError,
    KeyframeConditioning,
    LatentIndexConditioning,
    VideoLatentSpace,
)
from ltx_core.pipelines.ledger import ModelLedger
from ltx_core.pipelines.progress import ProgressReporter
from ltx_core.pipelines.request import GenerationRequest, ImageCondition
from ltx_core.types import AudioLatentShape, VideoLatentShape, VideoPixelShape


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
    encoder = ledger.get("prompt_encoder")
    prompt = request.prompt
    if request.enhance_prompt:
        prompt = encoder.enhance(prompt, image_to_video=bool(request.images), seed=request.seed)
    embeddings = encoder.encode(prompt, request.negative_prompt if with_negative else None)
    mx.eval(embeddings.arrays())
    ledger.release("prompt_encoder")
    return Prompts(embeddings, prompt)


def latent_spaces(
    ledger: ModelLedger, height: int, width: int, frames: int, fps: float
) -> tuple[VideoLatentSpace, AudioLatentSpace]:
    config = ledger.checkpoint.config
    pixel = VideoPixelShape(1, frames, height, width, fps)
    video = VideoLatentSpace(VideoLatentShape.from_pixel_shape(pixel, config["vae"]["latent_channels"]), fps)
    z_channels = config["audio_vae"]["model"]["params"]["ddconfig"]["z_channels"]
    audio = AudioLatentSpace(AudioLatentShape.from_video_pixel_shape(pixel, z_channels))
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

    return load_image_conditioning(image.image, height, width, crf=image.crf)


def image_conditionings(
    ledger: ModelLedger,
    images: tuple[ImageCondition, ...],
    space: VideoLatentSpace,
    height: int,
    width: int,
) -> list:
    """Frame-0 images replace latent tokens; images at other frames are appended as keyframe
    tokens with their own positions."""
    if not images:
        return []
    encoder = ledger.get("video_encoder")
    items = []
    for image in images:
        latent = encoder(load_pixels(image, height, width).astype(ledger.dtype))
        mx.eval(latent)
        if image.frame_index == 0:
            items.append(LatentIndexConditioning(latent, image.strength, 0))
        else:
            items.append(KeyframeConditioning(latent, image.frame_index, image.strength))
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
) -> tuple[mx.array, mx.array | None]:
    """Build the noised states (video first, then audio: the official draw order), denoise them,
    drop appended conditioning tokens and return the (B, C, F, H, W) / (B, C, T, M) latents."""
    video = video_space.initial_state(ledger.dtype, initial_video)
    for item in conditionings:
        video = item.apply(video, video_space)
    video = noiser(video, noise_scale)
    audio = None
    if audio_space is not None:
        audio = noiser(audio_space.initial_state(ledger.dtype, initial_audio), noise_scale)
    video, audio = euler_loop(sigmas, video, audio, denoiser, stage, reporter, video_space.preview)
    return video_space.finish(video), audio_space.finish(audio) if audio is not None else None


def upsample_spatially(ledger: ModelLedger, latent: mx.array) -> mx.array:
    from ltx_core.model.upsampler.model import upsample_video

    upsampled = upsample_video(latent, ledger.get("video_statistics"), ledger.get("spatial_upsampler"))
    mx.eval(upsampled)
    ledger.release("spatial_upsampler")
    return upsampled


def decode_pixels(
    ledger: ModelLedger, latent: mx.array, tiling=None, noise: mx.array | None = None, seed: int = 0
) -> Iterator[mx.array]:
    """Float pixels (B, 3, F, H, W) chunk by chunk (tile by tile in time when ``tiling`` is set)."""
    from ltx_core.model.video_vae.tiled import decode_pixels as decode

    yield from decode(latent, ledger.get("video_decoder"), tiling, noise=noise, key=mx.random.key(seed))


def decode_frames(ledger: ModelLedger, latent: mx.array, tiling=None, noise=None, seed: int = 0) -> Iterator[np.ndarray]:
    """uint8 (F, H, W, 3) chunks; the decoder is released when the last chunk is out."""
    from ltx_core.model.video_vae.tiled import decode_video

    yield from decode_video(latent, ledger.get("video_decoder"), tiling, noise=noise, key=mx.random.key(seed))
    ledger.release("video_decoder")


def decode_audio(ledger: ModelLedger, latent: mx.array):
    from ltx_core.model.audio_vae.audio import decode_audio as decode

    audio = decode(latent, ledger.get("audio_decoder"), ledger.get("vocoder"))
    mx.eval(audio.waveform)
    ledger.release("audio_decoder", "vocoder")
    return audio
