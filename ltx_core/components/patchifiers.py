"""Latent <-> token conversion and the official position grids.

Video tokens are ordered (frame, row, column); positions are ``[start, end)`` bounds per
token in pixel units, with time in seconds (frame index / fps) and the causal first frame
starting at 0. Audio tokens are latent frames; positions are ``[start, end)`` in seconds.
"""

from __future__ import annotations

import mlx.core as mx
import numpy as np

from ltx_core.types import (
    AUDIO_HOP_LENGTH,
    AUDIO_LATENT_DOWNSAMPLE,
    AUDIO_SAMPLE_RATE,
    AudioLatentShape,
    SpatioTemporalScale,
    VideoLatentShape,
)


class VideoLatentPatchifier:
    """(B, C, F, H, W) <-> (B, F*H/p*W/p, C*p*p) with spatial patch size ``p`` (1 in LTX-2)."""

    def __init__(self, patch_size: int = 1):
        self.patch_size = patch_size

    def patchify(self, latent: mx.array) -> mx.array:
        b, c, f, h, w = latent.shape
        p = self.patch_size
        x = latent.reshape(b, c, f, h // p, p, w // p, p)
        x = x.transpose(0, 2, 3, 5, 1, 4, 6)  # b f h w c p q
        return x.reshape(b, f * (h // p) * (w // p), c * p * p)

    def unpatchify(self, tokens: mx.array, shape: VideoLatentShape) -> mx.array:
        p = self.patch_size
        f, h, w = shape.frames, shape.height // p, shape.width // p
        b = tokens.shape[0]
        x = tokens.reshape(b, f, h, w, -1, p, p)
        x = x.transpose(0, 4, 1, 2, 5, 3, 6)  # b c f h p w q
        return x.reshape(b, -1, f, h * p, w * p)

    def latent_bounds(self, shape: VideoLatentShape) -> np.ndarray:
        """(B, 3, T, 2) integer ``[start, end)`` of each token in latent cells."""
        p = self.patch_size
        starts = np.meshgrid(
            np.arange(0, shape.frames, 1), np.arange(0, shape.height, p), np.arange(0, shape.width, p), indexing="ij"
        )
        starts = np.stack(starts, axis=0).reshape(3, -1)
        ends = starts + np.array([1, p, p]).reshape(3, 1)
        bounds = np.stack([starts, ends], axis=-1)
        return np.broadcast_to(bounds[None], (shape.batch, *bounds.shape)).astype(np.int64)

    def pixel_bounds(
        self, shape: VideoLatentShape, scale: SpatioTemporalScale = SpatioTemporalScale(), causal_fix: bool = True
    ) -> np.ndarray:
        """(B, 3, T, 2) integer ``[start, end)`` in pixel frames and pixels."""
        pixel = self.latent_bounds(shape) * np.array(scale, dtype=np.int64).reshape(1, 3, 1, 1)
        if causal_fix:
            # The causal VAE encodes frame 0 alone: shift time so the first latent frame starts at 0.
            pixel[:, 0] = np.maximum(pixel[:, 0] + 1 - scale.time, 0)
        return pixel

    def positions(
        self,
        shape: VideoLatentShape,
        fps: float,
        scale: SpatioTemporalScale = SpatioTemporalScale(),
        causal_fix: bool = True,
    ) -> mx.array:
        """(B, 3, T, 2) float32 positions: (seconds, y pixels, x pixels)."""
        positions = self.pixel_bounds(shape, scale, causal_fix).astype(np.float32)
        positions[:, 0] = positions[:, 0] / np.float32(fps)
        return mx.array(positions)


class AudioPatchifier:
    """(B, C, T, F) <-> (B, T, C*F): one token per latent frame."""

    def __init__(
        self,
        sample_rate: int = AUDIO_SAMPLE_RATE,
        hop_length: int = AUDIO_HOP_LENGTH,
        latent_downsample: int = AUDIO_LATENT_DOWNSAMPLE,
        causal: bool = True,
        shift: int = 0,
    ):
        self.sample_rate = sample_rate
        self.hop_length = hop_length
        self.latent_downsample = latent_downsample
        self.causal = causal
        self.shift = shift

    def patchify(self, latent: mx.array) -> mx.array:
        b, c, t, f = latent.shape
        return latent.transpose(0, 2, 1, 3).reshape(b, t, c * f)

    def unpatchify(self, tokens: mx.array, shape: AudioLatentShape) -> mx.array:
        b, t, _ = tokens.shape
        return tokens.reshape(b, t, shape.channels, shape.mel_bins).transpose(0, 2, 1, 3)

    def _seconds(self, start: int, end: int) -> np.ndarray:
        mel_frame = np.arange(start, end, dtype=np.float32) * np.float32(self.latent_downsample)
        if self.causal:
            mel_frame = np.maximum(mel_frame + np.float32(1 - self.latent_downsample), np.float32(0))
        return mel_frame * np.float32(self.hop_length) / np.float32(self.sample_rate)

    def positions(self, shape: AudioLatentShape) -> mx.array:
        """(B, 1, T, 2) float32 ``[start, end)`` in seconds."""
        starts = self._seconds(self.shift, shape.frames + self.shift)
        ends = self._seconds(self.shift + 1, shape.frames + self.shift + 1)
        bounds = np.stack([starts, ends], axis=-1)[None, None]
        return mx.array(np.broadcast_to(bounds, (shape.batch, 1, shape.frames, 2)).copy())
