"""Latent states for a generation: initial tokens and positions, conditioning items, noise.

Conditioning follows the official semantics: an item at latent frame 0 replaces latent tokens
(and keeps them clean with weight ``strength``); a keyframe at another frame index is appended
as extra tokens with its own positions, removed again after denoising.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import mlx.core as mx
import numpy as np

from ltx_core.components.noisers import GaussianNoiser
from ltx_core.components.patchifiers import AudioPatchifier, VideoLatentPatchifier
from ltx_core.errors import LTXError
from ltx_core.types import AudioLatentShape, LatentState, SpatioTemporalScale, VideoLatentShape


class ConditioningError(LTXError):
    """A conditioning input does not fit the video being generated."""


def extend_keyframes_mask(state: LatentState, new_tokens: int) -> mx.array | None:
    """The keyframes mask after appending ``new_tokens`` unmarked tokens (given-content
    conditioning is never marked, as in ltx-core)."""
    if state.keyframes_mask is None:
        return None
    pad = mx.zeros((state.keyframes_mask.shape[0], new_tokens, 1), state.keyframes_mask.dtype)
    return mx.concatenate([state.keyframes_mask, pad], axis=1)


def _initial_state(kind: str, expected: tuple, patchify, positions: mx.array, dtype: mx.Dtype, latent) -> LatentState:
    """Zeros (or ``latent``) as tokens with a full denoise mask."""
    if latent is None:
        latent = mx.zeros(expected, dtype)
    elif tuple(latent.shape) != expected:
        raise ConditioningError(f"initial {kind} latent has shape {tuple(latent.shape)}, expected {expected}")
    tokens = patchify(latent.astype(dtype))
    return LatentState(
        latent=tokens,
        denoise_mask=mx.ones((*tokens.shape[:2], 1), mx.float32),
        positions=positions,
        clean_latent=tokens,
    )


@dataclass(frozen=True)
class VideoLatentSpace:
    """Token layout of one video latent: shape, frame rate and the patchifier."""

    shape: VideoLatentShape
    fps: float
    patchifier: VideoLatentPatchifier = VideoLatentPatchifier(1)
    scale: SpatioTemporalScale = SpatioTemporalScale()

    @property
    def token_count(self) -> int:
        return self.shape.token_count()

    @property
    def tokens_per_frame(self) -> int:
        return self.shape.height * self.shape.width

    def initial_state(self, dtype: mx.Dtype = mx.float32, latent: mx.array | None = None) -> LatentState:
        """Zeros (or ``latent``, (B, C, F, H, W)) with a full denoise mask and the official positions.
        The first latent frame is marked in ``keyframes_mask``: the causal encoder gives it a single
        pixel frame (models without the keyframe embedding ignore the mask)."""
        state = _initial_state(
            "video", tuple(self.shape), self.patchifier.patchify, self.patchifier.positions(self.shape, self.fps, self.scale),
            dtype, latent,
        )  # fmt: skip
        marked = (mx.arange(state.latent.shape[1]) < self.tokens_per_frame).astype(mx.float32)
        keyframes = mx.broadcast_to(marked[None, :, None], state.denoise_mask.shape)
        return replace(state, keyframes_mask=keyframes)

    def finish(self, state: LatentState) -> mx.array:
        """Drop appended conditioning tokens and return the (B, C, F, H, W) latent."""
        return self.patchifier.unpatchify(state.latent[:, : self.token_count], self.shape)

    def preview(self, tokens: mx.array, scale: int = 8) -> np.ndarray:
        """A cheap (H*scale, W*scale, 3) uint8 look at the middle latent frame of a prediction:
        its first three channels, each stretched to 0-255. Not a decode: enough to watch the
        composition settle while denoising."""
        latent = self.patchifier.unpatchify(tokens[:1, : self.token_count], self.shape)
        frame = np.array(latent[0, :3, self.shape.frames // 2].astype(mx.float32))  # (3, H, W)
        low = frame.min(axis=(1, 2), keepdims=True)
        high = frame.max(axis=(1, 2), keepdims=True)
        image = ((frame - low) / np.maximum(high - low, 1e-6) * 255).astype(np.uint8).transpose(1, 2, 0)
        return np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)


@dataclass(frozen=True)
class AudioLatentSpace:
    shape: AudioLatentShape
    patchifier: AudioPatchifier = AudioPatchifier()

    def initial_state(self, dtype: mx.Dtype = mx.float32, latent: mx.array | None = None) -> LatentState:
        return _initial_state(
            "audio", tuple(self.shape), self.patchifier.patchify, self.patchifier.positions(self.shape), dtype, latent
        )

    def finish(self, state: LatentState) -> mx.array:
        return self.patchifier.unpatchify(state.latent[:, : self.shape.frames], self.shape)


@dataclass(frozen=True)
class LatentIndexConditioning:
    """Replace the tokens of latent frames starting at ``latent_index`` by ``latent`` (B, C, F, H, W)."""

    latent: mx.array
    strength: float
    latent_index: int = 0

    def apply(self, state: LatentState, space: VideoLatentSpace) -> LatentState:
        b, c, f, h, w = self.latent.shape
        target = space.shape
        if (b, c, h, w) != (target.batch, target.channels, target.height, target.width):
            raise ConditioningError(
                f"conditioning latent {tuple(self.latent.shape)} does not fit the video latent {tuple(target)}: "
                "the image must have the video's width and height"
            )
        if not 0 <= self.latent_index or self.latent_index + f > target.frames:
            raise ConditioningError(
                f"conditioning at latent frame {self.latent_index} with {f} frames is outside the video's "
                f"{target.frames} latent frames"
            )
        tokens = space.patchifier.patchify(self.latent.astype(state.latent.dtype))
        start = self.latent_index * target.height * target.width
        stop = start + tokens.shape[1]

        def put(values: mx.array, new: mx.array) -> mx.array:
            return mx.concatenate([values[:, :start], new, values[:, stop:]], axis=1)

        mask = mx.full((b, tokens.shape[1], 1), 1.0 - self.strength, state.denoise_mask.dtype)
        return replace(
            state,
            latent=put(state.latent, tokens),
            clean_latent=put(state.clean_latent, tokens),
            denoise_mask=put(state.denoise_mask, mask),
        )


@dataclass(frozen=True)
class AudioLatentConditioning:
    """Keep audio latent frames [``start``, ``start`` + T) equal to ``latent`` (B, C, T, M): its
    tokens replace the noisy ones and stay clean with weight ``strength`` (1: fixed, as the
    audio of audio-to-video; 0: regenerated)."""

    latent: mx.array
    strength: float = 1.0
    start: int = 0

    def apply(self, state: LatentState, space: "AudioLatentSpace") -> LatentState:
        b, c, t, m = self.latent.shape
        target = space.shape
        if (b, c, m) != (target.batch, target.channels, target.mel_bins):
            raise ConditioningError(
                f"conditioning audio latent {tuple(self.latent.shape)} does not fit the audio latent {tuple(target)}"
            )
        if self.start < 0 or self.start + t > target.frames:
            raise ConditioningError(
                f"audio conditioning at latent frame {self.start} with {t} frames is outside the clip's "
                f"{target.frames} audio latent frames"
            )
        tokens = space.patchifier.patchify(self.latent.astype(state.latent.dtype))
        start, stop = self.start, self.start + t

        def put(values: mx.array, new: mx.array) -> mx.array:
            return mx.concatenate([values[:, :start], new, values[:, stop:]], axis=1)

        mask = mx.full((b, t, 1), 1.0 - self.strength, state.denoise_mask.dtype)
        return replace(
            state,
            latent=put(state.latent, tokens),
            clean_latent=put(state.clean_latent, tokens),
            denoise_mask=put(state.denoise_mask, mask),
        )


def extend_attention_mask(
    state: LatentState, noisy_tokens: int, new_tokens: int, cross: float | None
) -> mx.array | None:
    """The (B, N+M, N+M) self-attention weights after appending M conditioning tokens.

    As the official conditioning does: existing weights are kept, the new tokens attend fully
    to each other, noisy tokens and new tokens attend to each other with weight ``cross``, and
    tokens of different conditioning groups do not attend to each other. No mask (None) while
    every weight would be 1.
    """
    if cross is None and state.attention_mask is None:
        return None
    batch, existing = state.latent.shape[0], state.latent.shape[1]
    total = existing + new_tokens
    weight = 1.0 if cross is None else float(cross)
    old = state.attention_mask if state.attention_mask is not None else mx.ones((batch, existing, existing))
    index = mx.arange(total)
    is_new = index >= existing
    is_noisy = index < noisy_tokens
    grown = mx.zeros((batch, total, total))
    grown = mx.where((~is_new)[:, None] & (~is_new)[None, :], mx.pad(old, [(0, 0), (0, new_tokens), (0, new_tokens)]), grown)
    grown = mx.where(is_new[:, None] & is_new[None, :], 1.0, grown)
    cross_block = (is_noisy[:, None] & is_new[None, :]) | (is_new[:, None] & is_noisy[None, :])
    return mx.where(cross_block, weight, grown)


@dataclass(frozen=True)
class ReferenceVideoConditioning:
    """IC-LoRA control: the reference video's latent (B, C, F, H, W) appended as clean tokens.

    IC-LoRAs trained on references downscaled by ``downscale_factor`` get their spatial positions
    multiplied back, so they line up with the target grid. ``attention`` below 1 weakens how much
    the generated tokens and the reference attend to each other.
    """

    latent: mx.array
    downscale_factor: int = 1
    strength: float = 1.0
    attention: float = 1.0

    def apply(self, state: LatentState, space: VideoLatentSpace) -> LatentState:
        tokens = space.patchifier.patchify(self.latent.astype(state.latent.dtype))
        shape = VideoLatentShape(*self.latent.shape)
        positions = space.patchifier.pixel_bounds(shape, space.scale, causal_fix=True).astype(np.float32)
        positions[:, 0] /= np.float32(space.fps)
        if self.downscale_factor != 1:
            positions[:, 1:] *= np.float32(self.downscale_factor)
        mask = mx.full((*tokens.shape[:2], 1), 1.0 - self.strength, state.denoise_mask.dtype)
        cross = self.attention if self.attention < 1.0 else None
        attention = extend_attention_mask(state, space.token_count, tokens.shape[1], cross)
        return LatentState(
            latent=mx.concatenate([state.latent, tokens], axis=1),
            denoise_mask=mx.concatenate([state.denoise_mask, mask], axis=1),
            positions=mx.concatenate([state.positions, mx.array(positions)], axis=2),
            clean_latent=mx.concatenate([state.clean_latent, tokens], axis=1),
            attention_mask=attention,
            keyframes_mask=extend_keyframes_mask(state, tokens.shape[1]),
        )


@dataclass(frozen=True)
class KeyframeConditioning:
    """Append ``keyframes`` (B, C, F, H, W) as extra tokens placed at pixel frame ``frame_index``.

    ``placeholder`` False (ltx-core 1.0.0): the content goes into the noisy and the clean latent
    and its tokens span the VAE's time scale. True (ltx-core 1.2.0 ``VideoConditionByKeyframeIndex``,
    for a latent encoding one pixel frame): zeros in the noisy latent, the content only in the
    clean latent, and a time span of exactly ``[frame, frame + 1)``. ``VersionSpec.keyframe_placeholder``
    says which a model version follows.
    """

    keyframes: mx.array
    frame_index: int
    strength: float
    placeholder: bool = False

    def apply(self, state: LatentState, space: VideoLatentSpace) -> LatentState:
        if self.keyframes.ndim != 5 or tuple(self.keyframes.shape[3:]) != (space.shape.height, space.shape.width):
            raise ConditioningError(
                f"keyframe latent {tuple(self.keyframes.shape)} does not fit the latent grid {tuple(space.shape)}"
            )
        tokens = space.patchifier.patchify(self.keyframes.astype(state.latent.dtype))
        shape = VideoLatentShape(*self.keyframes.shape)
        positions = space.patchifier.pixel_bounds(shape, space.scale, causal_fix=self.frame_index == 0)
        positions[:, 0] += self.frame_index
        if self.placeholder:
            positions[:, 0, :, 1] = positions[:, 0, :, 0] + 1
        positions = positions.astype(np.float32)
        positions[:, 0] /= np.float32(space.fps)
        mask = mx.full((*tokens.shape[:2], 1), 1.0 - self.strength, state.denoise_mask.dtype)
        noisy = mx.zeros_like(tokens) if self.placeholder else tokens
        return LatentState(
            latent=mx.concatenate([state.latent, noisy], axis=1),
            denoise_mask=mx.concatenate([state.denoise_mask, mask], axis=1),
            positions=mx.concatenate([state.positions, mx.array(positions)], axis=2),
            clean_latent=mx.concatenate([state.clean_latent, tokens], axis=1),
            attention_mask=extend_attention_mask(state, space.token_count, tokens.shape[1], None),
            keyframes_mask=extend_keyframes_mask(state, tokens.shape[1]),
            keyframe_slots=state.keyframe_slots,
        )


def noised_state(
    state: LatentState, noiser: GaussianNoiser, noise_scale: float = 1.0, noise: mx.array | None = None
) -> LatentState:
    """Mix noise into the state where its denoise mask allows (``noise`` may be injected)."""
    return noiser(state, noise_scale, noise)
