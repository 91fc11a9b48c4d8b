"""The DFR canvas: keyframe segments, the temporal tiles of each x2 round and their stitching
(the semantics of ltx-pipelines 1.2.0 ``dfr_layout``).

The video's ``frames - 1`` are padded up to whole segments of 24 or 32 frames (whichever pads
least, 32 on a tie); a generated keyframe sits at every segment end. A temporal round doubles the
frames and splits the canvas into keyframe-seam tiles: each tile after the first reaches one
segment back (its first latent is an image latent and its second was denoised against it, so
both fall in the dropped prefix) and hands over exactly at the shared seam keyframe.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import mlx.core as mx

from ltx_core.pipelines.request import RequestError

SEGMENT_CANDIDATES = (24, 32)
TILE_LEAD_SEGMENTS = 1
TEMPORAL_SCALE = 8


@dataclass(frozen=True)
class Tile:
    """One temporal tile: pixel frames ``[pixel_start, pixel_end]``, latent frames
    ``[latent_start, latent_stop)``; ``anchors`` are the seam keyframes inside it, ``slots`` the
    mid-segment keyframes it generates (global pixel frames), ``drop`` the latent frames of its
    prefix the stitch discards."""

    pixel_start: int
    pixel_end: int
    latent_start: int
    latent_stop: int
    anchors: tuple[int, ...]
    slots: tuple[int, ...]
    drop: int

    @property
    def frames(self) -> int:
        return (self.latent_stop - self.latent_start - 1) * TEMPORAL_SCALE + 1


def segment_length(content_frames: int) -> int:
    """The candidate segment that pads ``content_frames`` least (the larger one on a tie)."""
    pads = {s: (s - content_frames % s) % s for s in SEGMENT_CANDIDATES}
    return min(SEGMENT_CANDIDATES, key=lambda s: (pads[s], -s))


def resolve_canvas(frames: int) -> tuple[int, int, tuple[int, ...]]:
    """(canvas frames, segment length, keyframe positions ``S, 2S, ..., canvas - 1``)."""
    if frames < 9 or (frames - 1) % TEMPORAL_SCALE:
        raise RequestError(f"the DFR pipeline needs 8k+1 frames, at least 9, got {frames}.")
    content = frames - 1
    segment = segment_length(content)
    padded = content + (segment - content % segment) % segment
    return padded + 1, segment, tuple(segment * i for i in range(1, padded // segment + 1))


def _latent_index(pixel_frame: int) -> int:
    return pixel_frame // TEMPORAL_SCALE


def tile_ranges(seams: Sequence[int], frames: int, tiles: int) -> list[Tile]:
    """``tiles`` (at most one per segment) gapless tiles over a canvas of ``frames`` whose segment
    ends are ``seams`` (the last one the final frame)."""
    bounds = [0, *(int(s) for s in seams)]
    if bounds[-1] != frames - 1:
        raise ValueError(f"the last seam must be the final frame {frames - 1}, got {bounds[-1]}")
    for low, high in pairwise(bounds):
        if high - low < 2 * TEMPORAL_SCALE or (high - low) % TEMPORAL_SCALE:
            raise ValueError(f"segment {low}-{high} is not a whole number (>= 2) of latent frames")
    segments = len(bounds) - 1
    count = min(tiles, segments)
    base, extra = divmod(segments, count)
    result, own_low = [], 0
    for index in range(count):
        own_high = own_low + base + (1 if index < extra else 0)
        window_low = max(0, own_low - TILE_LEAD_SEGMENTS) if index else 0
        start, end = bounds[window_low], bounds[own_high]
        drop = _latent_index(bounds[own_low]) - _latent_index(start) + (1 if own_low else 0)
        result.append(
            Tile(
                pixel_start=start,
                pixel_end=end,
                latent_start=_latent_index(start),
                latent_stop=_latent_index(end) + 1,
                anchors=tuple(b for b in bounds[window_low : own_high + 1] if b),
                slots=tuple((bounds[i] + bounds[i + 1]) // 2 for i in range(window_low, own_high)),
                drop=drop,
            )
        )
        own_low = own_high
    return result


def stitch(latents: Sequence[mx.array], tiles: Sequence[Tile]) -> mx.array:
    """The tiles' (B, C, F, H, W) latents joined in time, each without its dropped prefix."""
    for latent, tile in zip(latents, tiles, strict=True):
        if latent.shape[2] != tile.latent_stop - tile.latent_start:
            raise ValueError(
                f"tile latent has {latent.shape[2]} frames, its range {tile.latent_start}-{tile.latent_stop}"
            )
    return mx.concatenate([latent[:, :, tile.drop :] for latent, tile in zip(latents, tiles)], axis=2)


def largest_denoised_frames(frames: int, rounds: int) -> int:
    """The most pixel frames one denoising pass of the recipe covers (the canvas, or a temporal
    round's largest tile), or the output if longer: what the memory check sizes."""
    canvas, _, seams = resolve_canvas(frames)
    largest, now, seams = canvas, canvas, list(seams)
    for round_index in range(1, rounds + 1):
        now, seams = 2 * (now - 1) + 1, [2 * s for s in seams]
        tiles = tile_ranges(seams, now, 2**round_index)
        largest = max(largest, *(t.frames for t in tiles))
        seams = sorted({*seams, *(s for t in tiles for s in t.slots)})
    return max(largest, (frames - 1) * 2**rounds + 1)
