"""Shapes of pixel and latent tensors, and the latent state carried through denoising."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import mlx.core as mx

# Not configurable in LTX-2: the video VAE compresses 8x in time and 32x in space; audio
# latents come from 16 kHz mel frames with hop 160, downsampled 4x in time (25 per second).
VIDEO_TIME_SCALE = 8
VIDEO_SPACE_SCALE = 32
AUDIO_SAMPLE_RATE = 16000
AUDIO_HOP_LENGTH = 160
AUDIO_LATENT_DOWNSAMPLE = 4
AUDIO_MEL_BINS = 16  # latent mel bins


class SpatioTemporalScale(NamedTuple):
    time: int = VIDEO_TIME_SCALE
    height: int = VIDEO_SPACE_SCALE
    width: int = VIDEO_SPACE_SCALE


class VideoPixelShape(NamedTuple):
    batch: int
    frames: int
    height: int
    width: int
    fps: float


class VideoLatentShape(NamedTuple):
    batch: int
    channels: int
    frames: int
    height: int
    width: int

    @staticmethod
    def from_pixel_shape(
        shape: VideoPixelShape, channels: int, scale: SpatioTemporalScale = SpatioTemporalScale()
    ) -> "VideoLatentShape":
        return VideoLatentShape(
            batch=shape.batch,
            channels=channels,
            frames=(shape.frames - 1) // scale.time + 1,
            height=shape.height // scale.height,
            width=shape.width // scale.width,
        )

    def token_count(self) -> int:
        return self.frames * self.height * self.width


class AudioLatentShape(NamedTuple):
    batch: int
    channels: int
    frames: int
    mel_bins: int = AUDIO_MEL_BINS

    @staticmethod
    def from_duration(batch: int, seconds: float, channels: int, mel_bins: int = AUDIO_MEL_BINS) -> "AudioLatentShape":
        per_second = AUDIO_SAMPLE_RATE / AUDIO_HOP_LENGTH / AUDIO_LATENT_DOWNSAMPLE
        return AudioLatentShape(batch, channels, round(seconds * per_second), mel_bins)

    @staticmethod
    def from_video_pixel_shape(shape: VideoPixelShape, channels: int, mel_bins: int = AUDIO_MEL_BINS) -> "AudioLatentShape":
        return AudioLatentShape.from_duration(shape.batch, float(shape.frames) / float(shape.fps), channels, mel_bins)

    def token_count(self) -> int:
        return self.frames


@dataclass(frozen=True)
class LatentState:
    """Patchified latent being denoised.

    latent/clean_latent: (B, T, C); denoise_mask: (B, T, 1) with 1 = denoise fully and 0 =
    keep the clean value; positions: (B, axes, T, 2); attention_mask: optional (B, T, T);
    keyframes_mask: optional (B, T, 1), 1 on tokens that encode a single pixel frame (the first
    latent frame of a video), which LTX-2.5's keyframe embedding marks.
    """

    latent: mx.array
    denoise_mask: mx.array
    positions: mx.array
    clean_latent: mx.array
    attention_mask: mx.array | None = None
    keyframes_mask: mx.array | None = None
    # (first token, keyframe count) of the generated keyframe slots appended last, if any
    keyframe_slots: tuple[int, int] | None = None

