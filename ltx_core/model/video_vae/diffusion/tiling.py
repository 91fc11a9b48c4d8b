"""Tile plans for the diffusion decoder, with ltx-core 1.2.0's ``diffusion_tiling`` geometry.

Stages 1-3 run once on the whole latent; the plan cuts the stage-4 input grid into
overlapping tiles, each decoded through stage 4 and the diffusion stage on its own and blended
into pixel space with symmetric trapezoidal masks. Sizes and overlaps are given in pixels and
frames; overlaps below the decoder's receptive halo are refused.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import mlx.core as mx
import numpy as np

from ltx_core.errors import ConfigError


@dataclass(frozen=True)
class AxisTiling:
    """Tile size and overlap along one axis, in frames (time) or pixels (height, width); 0 = untiled."""

    tile_size: int = 0
    overlap: int = 0

    def __post_init__(self) -> None:
        if self.tile_size < 0 or self.overlap < 0:
            raise ConfigError(f"tile size and overlap must be >= 0, got {self.tile_size} and {self.overlap}.")
        if self.tile_size == 0 and self.overlap:
            raise ConfigError("an untiled axis (tile_size 0) must have overlap 0.")
        if self.tile_size and self.overlap >= self.tile_size:
            raise ConfigError(f"overlap {self.overlap} must be below the tile size {self.tile_size}.")


@dataclass(frozen=True)
class DiffusionTilingConfig:
    frames: AxisTiling = AxisTiling()
    height: AxisTiling = AxisTiling()
    width: AxisTiling = AxisTiling()

    @classmethod
    def from_vae_tiling(cls, tiling) -> DiffusionTilingConfig:
        """From the conv VAE's ``TilingConfig`` (one spatial size for height and width)."""
        spatial, temporal = tiling.spatial_config, tiling.temporal_config
        hw = AxisTiling(spatial.tile_size_in_pixels, spatial.tile_overlap_in_pixels) if spatial else AxisTiling()
        t = AxisTiling(temporal.tile_size_in_frames, temporal.tile_overlap_in_frames) if temporal else AxisTiling()
        return cls(frames=t, height=hw, width=hw)


@dataclass(frozen=True)
class Interval:
    start: int
    end: int
    left_ramp: int
    right_ramp: int


@dataclass(frozen=True)
class DiffusionTile:
    """Stage-4-input slices (t, h, w), pixel slices (t, h, w) and the 1-D pixel blend masks."""

    inputs: tuple[slice, slice, slice]
    outputs: tuple[slice, slice, slice]
    masks: tuple[np.ndarray, np.ndarray, np.ndarray]


def split_by_size(length: int, size: int, overlap: int, min_size: int | None = None) -> list[Interval]:
    """Tiles of ``size`` sharing ``overlap``; the last may be shorter, or is grown left to ``min_size``."""
    if (min_size is not None and length < min_size) or length <= size:
        return [Interval(0, length, 0, 0)]
    amount = (length + size - 2 * overlap - 1) // (size - overlap)
    out = [Interval(0, size, 0, overlap)]
    out += [Interval(i * (size - overlap), i * (size - overlap) + size, overlap, overlap) for i in range(1, amount - 1)]
    out.append(Interval((amount - 1) * (size - overlap), length, overlap, 0))
    if min_size is not None and len(out) > 1 and out[-1].end - out[-1].start < min_size:
        start = out[-1].end - min_size
        grown = out[-2].end - start
        out[-2] = Interval(out[-2].start, out[-2].end, out[-2].left_ramp, grown)
        out[-1] = Interval(start, out[-1].end, grown, 0)
    return out


def trapezoid_mask(length: int, left: int, right: int) -> np.ndarray:
    """Linear ramps that exclude 0 and 1 at both ends, so overlapping ramps sum to one."""
    left, right = max(0, min(left, length)), max(0, min(right, length))
    mask = np.ones(length, dtype=np.float32)
    if left:
        mask[:left] *= np.arange(1, left + 1, dtype=np.float32) / (left + 1)
    if right:
        mask[length - right :] *= 1.0 - np.arange(1, right + 1, dtype=np.float32) / (right + 1)
    return np.clip(mask, 0.0, 1.0)


def _propagate(iv: Interval, stride: int, causal: bool) -> Interval:
    start, end = iv.start * stride, iv.end * stride
    if causal and stride == 2:
        end -= 1
        if iv.start != 0:
            start -= 1
    return Interval(start, end, iv.left_ramp * stride, iv.right_ramp * stride)


def tile_plan(
    stage4_thw: tuple[int, int, int],
    tiling: DiffusionTilingConfig | None,
    stride: tuple[int, int, int],
    patch: int,
    min_tile: tuple[int, int, int],
    overlaps: tuple[int, int],
) -> list[DiffusionTile]:
    """Tiles over the stage-4 input grid, temporal axis slowest; one whole tile when untiled."""
    whole = np.ones(1, dtype=np.float32)
    if tiling is None:
        everything = (slice(None), slice(None), slice(None))
        return [DiffusionTile(everything, everything, (whole, whole, whole))]
    factors = (stride[0], stride[1] * patch, stride[2] * patch)
    for name, axis, factor, floor in zip(
        ("frames", "height", "width"),
        (tiling.frames, tiling.height, tiling.width),
        factors,
        (overlaps[0], overlaps[1], overlaps[1]),
    ):
        if not axis.tile_size:
            continue
        if axis.tile_size < 2 * factor or axis.tile_size % factor or axis.overlap % factor:
            raise ConfigError(
                f"{name} tile size {axis.tile_size} / overlap {axis.overlap} must be multiples of {factor} "
                f"(tile at least {2 * factor}) for this diffusion decoder."
            )
        if axis.overlap < floor:
            raise ConfigError(f"{name} overlap {axis.overlap} is below the {floor} this diffusion decoder needs.")
    specs = []
    for axis_i, (axis, factor, length) in enumerate(
        zip((tiling.frames, tiling.height, tiling.width), factors, stage4_thw)
    ):
        if not axis.tile_size:
            specs.append([(slice(None), slice(None), whole)])
            continue
        size, overlap = axis.tile_size // factor, axis.overlap // factor
        spec = []
        for iv in split_by_size(length, max(max(2, overlap + 1), size), overlap, min_tile[axis_i]):
            px = _propagate(iv, stride[axis_i], causal=axis_i == 0)
            if axis_i:
                px = _propagate(px, patch, causal=False)
            mask = trapezoid_mask(px.end - px.start, px.left_ramp, px.right_ramp)
            spec.append((slice(iv.start, iv.end), slice(px.start, px.end), mask))
        specs.append(spec)
    return [
        DiffusionTile((t[0], h[0], w[0]), (t[1], h[1], w[1]), (t[2], h[2], w[2]))
        for t, h, w in itertools.product(*specs)
    ]


def masks_are_complementary(tiles: list[DiffusionTile], shape: tuple[int, int, int]) -> bool:
    for axis, length in enumerate(shape):
        total = np.zeros(length, dtype=np.float32)
        seen = set()
        for tile in tiles:
            sl = tile.outputs[axis]
            if (sl.start, sl.stop) in seen:
                continue
            seen.add((sl.start, sl.stop))
            total[sl] += tile.masks[axis]
        if not np.allclose(total, 1.0, atol=1e-5, rtol=0.0):
            return False
    return True


def resize_axis(x: mx.array, axis: int, size: int, mode: str) -> mx.array:
    """Pad (edge copies) or crop ``axis`` to ``size``: ``repeat_last`` works at the end only,
    ``symmetric`` splits the difference (``need // 2`` before, the rest after)."""
    length = x.shape[axis]
    if length == size:
        return x
    index = [slice(None)] * x.ndim
    if length > size:
        before = 0 if mode == "repeat_last" else (length - size) // 2
        index[axis] = slice(before, before + size)
        return x[tuple(index)]
    need = size - length
    before = 0 if mode == "repeat_last" else need // 2
    after = need - before
    index[axis] = slice(0, 1)
    first = x[tuple(index)]
    index[axis] = slice(length - 1, length)
    last = x[tuple(index)]
    parts = (
        ([mx.repeat(first, before, axis=axis)] if before else [])
        + [x]
        + ([mx.repeat(last, after, axis=axis)] if after else [])
    )
    return mx.concatenate(parts, axis=axis)


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def fit_axis(tile: int, overlap: int, factor: int, min_overlap: int) -> AxisTiling:
    """A tile size / overlap this decoder accepts, from a wish (e.g. a preset's conv VAE tiling):
    both rounded up to ``factor``, the overlap raised to the decoder's halo ``min_overlap``, and
    the tile kept at least twice the overlap (so each tile adds at least as much as it repeats).
    ``tile`` 0 keeps the axis untiled."""
    if tile <= 0:
        return AxisTiling()
    overlap = max(_round_up(max(overlap, 0), factor), _round_up(min_overlap, factor))
    tile = max(_round_up(tile, factor), 2 * factor, 2 * overlap)
    return AxisTiling(tile, overlap)


def fit_tiling(
    tiling,
    factors: tuple[int, int, int],
    min_overlaps: tuple[int, int],
) -> DiffusionTilingConfig | None:
    """The diffusion decoder's tiling closest to ``tiling`` (a ``DiffusionTilingConfig``, the conv
    VAE's ``TilingConfig`` or a preset's ``VaeTiling``; None: untiled) that satisfies its geometry:
    ``factors`` (frames, height, width) and ``min_overlaps`` (frames, pixels) as the decoder gives
    them (``DiffusionVideoDecoder.tiling_factors`` / ``min_overlaps``)."""
    if tiling is None:
        return None
    if hasattr(tiling, "spatial_tile"):  # presets.VaeTiling
        frames = (tiling.temporal_tile, tiling.temporal_overlap)
        height = width = (tiling.spatial_tile, tiling.spatial_overlap)
    else:
        if not isinstance(tiling, DiffusionTilingConfig):
            tiling = DiffusionTilingConfig.from_vae_tiling(tiling)
        frames, height, width = ((a.tile_size, a.overlap) for a in (tiling.frames, tiling.height, tiling.width))
    return DiffusionTilingConfig(
        fit_axis(*frames, factors[0], min_overlaps[0]),
        fit_axis(*height, factors[1], min_overlaps[1]),
        fit_axis(*width, factors[2], min_overlaps[1]),
    )
