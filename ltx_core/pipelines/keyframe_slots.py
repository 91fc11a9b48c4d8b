"""Generated keyframe slots (LTX-2.5): extra single-pixel-frame tokens generated with the video.

Each slot is one latent frame's worth of tokens at the target's spatial size, appended after the
video with a full denoise mask and marked in the keyframes mask (the model's learned keyframe
embedding), its RoPE time span exactly ``[t, t + 1)`` pixel frames: the model generates a sharp
frame at ``t`` and conditions the video around it. Only a transformer trained with
``use_keyframes_abs_pos_embedding`` knows the marker, so requests are refused on other models.

The DFR pipeline pins carried keyframes with ``KeyframeConditioning(placeholder=True)`` (ltx-core
1.2.0's keyframe-by-index conditioning: a zero placeholder in the noisy latent, the content in the
clean latent, a single-pixel-frame span and no keyframe marker).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import pairwise

import mlx.core as mx
import numpy as np

from ltx_core.pipelines.latents import ConditioningError, VideoLatentSpace, extend_attention_mask
from ltx_core.pipelines.request import RequestError
from ltx_core.types import LatentState, VideoLatentShape


def evenly_spaced_keyframes(count: int, frames: int) -> tuple[int, ...]:
    """``count`` interior pixel frames spread evenly over ``frames`` (both ends excluded)."""
    if count < 0 or count > frames - 2:
        most = max(frames - 2, 0)
        raise RequestError(
            f"{count} generated keyframes do not fit a {frames}-frame video: choose 0 to {most} "
            "(each takes an interior frame)."
        )
    if count == 0:
        return ()
    # round half to even, as torch.linspace(...).round() does
    return tuple(int(v) for v in np.round(np.linspace(0, frames - 1, count + 2, dtype=np.float32))[1:-1])


def single_frame_positions(space: VideoLatentSpace, pixel_frame: int, frames: int = 1) -> np.ndarray:
    """(B, 3, T, 2) float32 positions of ``frames`` latent frames all spanning pixel frame
    ``[pixel_frame, pixel_frame + 1)`` in time (seconds) and the full spatial grid."""
    shape = space.shape._replace(frames=frames)
    positions = space.patchifier.pixel_bounds(shape, space.scale, causal_fix=False).astype(np.float32)
    positions[:, 0, :, 0] = np.float32(pixel_frame)
    positions[:, 0, :, 1] = np.float32(pixel_frame + 1)
    positions[:, 0] /= np.float32(space.fps)
    return positions


def _appended(state: LatentState, space: VideoLatentSpace, latent: mx.array, clean: mx.array, mask: mx.array,
              positions: np.ndarray, keyframes_mask: mx.array | None) -> LatentState:  # fmt: skip
    return replace(
        state,
        latent=mx.concatenate([state.latent, latent], axis=1),
        clean_latent=mx.concatenate([state.clean_latent, clean], axis=1),
        denoise_mask=mx.concatenate([state.denoise_mask, mask], axis=1),
        positions=mx.concatenate([state.positions, mx.array(positions)], axis=2),
        attention_mask=extend_attention_mask(state, space.token_count, latent.shape[1], None),
        keyframes_mask=keyframes_mask,
    )


@dataclass(frozen=True)
class GeneratedKeyframeSlots:
    """Slots at ``pixel_frames`` (strictly increasing); ``initial`` (B, C, K, H, W) seeds their noisy
    latent (it is then mixed with noise at the stage's noise scale), zeros otherwise. Apply it last:
    the state records where the slots are (``LatentState.keyframe_slots``)."""

    pixel_frames: tuple[int, ...]
    initial: mx.array | None = None

    def __post_init__(self) -> None:
        frames = tuple(int(f) for f in self.pixel_frames)
        if not frames or frames[0] < 0 or any(b <= a for a, b in pairwise(frames)):
            raise ConditioningError(f"generated keyframes need increasing frames from 0, got {list(frames)}")
        if self.initial is not None and (self.initial.ndim != 5 or self.initial.shape[2] != len(frames)):
            raise ConditioningError(
                f"initial keyframes {tuple(self.initial.shape)} must be (B, C, {len(frames)}, H, W)"
            )
        object.__setattr__(self, "pixel_frames", frames)

    def apply(self, state: LatentState, space: VideoLatentSpace) -> LatentState:
        if state.keyframe_slots is not None:
            raise ConditioningError("generated keyframe slots were already appended to this state; use one item")
        pixel_frames = (space.shape.frames - 1) * space.scale.time + 1
        if self.pixel_frames[-1] >= pixel_frames:
            raise ConditioningError(
                f"a generated keyframe at frame {self.pixel_frames[-1]} is outside the video's {pixel_frames} frames"
            )
        count, batch = len(self.pixel_frames), state.latent.shape[0]
        if self.initial is None:
            tokens = mx.zeros((batch, count * space.tokens_per_frame, state.latent.shape[2]), state.latent.dtype)
        else:
            if tuple(self.initial.shape[3:]) != (space.shape.height, space.shape.width):
                raise ConditioningError(
                    f"initial keyframes {tuple(self.initial.shape)} do not fit the latent grid {tuple(space.shape)}"
                )
            tokens = space.patchifier.patchify(self.initial.astype(state.latent.dtype))
        positions = np.concatenate([single_frame_positions(space, f) for f in self.pixel_frames], axis=2)
        mask = mx.ones((batch, tokens.shape[1], 1), state.denoise_mask.dtype)
        keyframes = state.keyframes_mask
        if keyframes is not None:
            keyframes = mx.concatenate([keyframes, mx.ones((batch, tokens.shape[1], 1), keyframes.dtype)], axis=1)
        grown = _appended(state, space, tokens, mx.zeros_like(tokens), mask, positions, keyframes)
        return replace(grown, keyframe_slots=(state.latent.shape[1], count))


def generated_keyframes(state: LatentState, space: VideoLatentSpace) -> mx.array | None:
    """The slots' content (B, C, K, H, W) of a (denoised) state, None without slots."""
    if state.keyframe_slots is None:
        return None
    first, count = state.keyframe_slots
    tokens = state.latent[:, first : first + count * space.tokens_per_frame]
    return space.patchifier.unpatchify(tokens, VideoLatentShape(*space.shape._replace(frames=count)))


def slot_conditionings(positions: Sequence[int]) -> list:
    """The conditioning for ``positions`` (empty: none)."""
    return [GeneratedKeyframeSlots(tuple(positions))] if positions else []
