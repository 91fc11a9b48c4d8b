"""Tile plans for tiled VAE decoding and encoding, as ltx-core 1.0.0 lays them out.

A plan splits the input's (frames, height, width) axes into overlapping intervals and maps
each interval to an output slice with a 1-D blend mask. Masks are numpy float32 arrays; the
3-D blend mask of a tile is their outer product.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ltx_core.errors import ConfigError


@dataclass(frozen=True)
class SpatialTilingConfig:
    """Spatial tiles of ``tile_size_in_pixels`` (>= 64, multiple of 32), overlapping by a multiple of 32."""

    tile_size_in_pixels: int
    tile_overlap_in_pixels: int = 0

    def __post_init__(self) -> None:
        size, overlap = self.tile_size_in_pixels, self.tile_overlap_in_pixels
        if size < 64 or size % 32 != 0:
            raise ConfigError(f"tile_size_in_pixels must be at least 64 and divisible by 32, got {size}.")
        if overlap < 0 or overlap % 32 != 0 or overlap >= size:
            raise ConfigError(
                f"tile_overlap_in_pixels must be a multiple of 32 below the tile size {size}, got {overlap}."
            )


@dataclass(frozen=True)
class TemporalTilingConfig:
    """Temporal tiles of ``tile_size_in_frames`` (>= 16, multiple of 8), overlapping by a multiple of 8."""

    tile_size_in_frames: int
    tile_overlap_in_frames: int = 0

    def __post_init__(self) -> None:
        size, overlap = self.tile_size_in_frames, self.tile_overlap_in_frames
        if size < 16 or size % 8 != 0:
            raise ConfigError(f"tile_size_in_frames must be at least 16 and divisible by 8, got {size}.")
        if overlap < 0 or overlap % 8 != 0 or overlap >= size:
            raise ConfigError(
                f"tile_overlap_in_frames must be a multiple of 8 below the tile size {size}, got {overlap}."
            )


@dataclass(frozen=True)
class TilingConfig:
    spatial_config: SpatialTilingConfig | None = None
    temporal_config: TemporalTilingConfig | None = None

    @classmethod
    def default(cls) -> TilingConfig:
        """ltx-pipelines' default: 512 px tiles overlapping 64 px, 64-frame tiles overlapping 24."""
        return cls(SpatialTilingConfig(512, 64), TemporalTilingConfig(64, 24))


@dataclass(frozen=True)
class Intervals:
    starts: list[int]
    ends: list[int]
    left_ramps: list[int]
    right_ramps: list[int]


@dataclass(frozen=True)
class Tile:
    """Input slices and output slices over (frames, height, width), and the 1-D output masks."""

    inputs: tuple[slice, slice, slice]
    outputs: tuple[slice, slice, slice]
    masks: tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]

    def blend_mask(self) -> np.ndarray:
        """(T, H, W) mask, with length-1 axes where an axis is not tiled."""
        parts = [m if m is not None else np.ones(1, np.float32) for m in self.masks]
        return parts[0][:, None, None] * parts[1][None, :, None] * parts[2][None, None, :]


Split = Callable[[int], Intervals]
Mapping = Callable[[Intervals], tuple[list[slice], list[np.ndarray | None]]]


def whole(length: int) -> Intervals:
    return Intervals([0], [length], [0], [0])


def full_mapping(out_length: int) -> Mapping:
    """An untiled axis: the one tile covers the whole output axis, unmasked."""
    return lambda _: ([slice(0, out_length)], [None])


def trapezoidal_mask(length: int, ramp_left: int, ramp_right: int, left_starts_from_0: bool = False) -> np.ndarray:
    """Ones with linear fade-in / fade-out ramps at the ends."""
    ramp_left, ramp_right = max(0, min(ramp_left, length)), max(0, min(ramp_right, length))
    mask = np.ones(length, np.float32)
    if ramp_left > 0:
        fade_in = np.linspace(0.0, 1.0, ramp_left + (1 if left_starts_from_0 else 2), dtype=np.float32)[:-1]
        if not left_starts_from_0:
            fade_in = fade_in[1:]
        mask[:ramp_left] *= fade_in
    if ramp_right > 0:
        mask[-ramp_right:] *= np.linspace(1.0, 0.0, ramp_right + 2, dtype=np.float32)[1:-1]
    return np.clip(mask, 0.0, 1.0)


def rectangular_mask(length: int, left: int, right: int) -> np.ndarray:
    mask = np.ones(length, np.float32)
    if left > 0:
        mask[:left] = 0
    if right > 0:
        mask[-right:] = 0
    return mask


def split_symmetric(size: int, overlap: int) -> Split:
    def split(length: int) -> Intervals:
        if length <= size:
            return whole(length)
        count = (length + size - 2 * overlap - 1) // (size - overlap)
        starts = [i * (size - overlap) for i in range(count)]
        ends = [s + size for s in starts]
        ends[-1] = length
        return Intervals(starts, ends, [0] + [overlap] * (count - 1), [overlap] * (count - 1) + [0])

    return split


def split_temporal_latents(size: int, overlap: int) -> Split:
    """Symmetric split whose later tiles start one latent frame earlier (causal context), ramp + 1."""
    symmetric = split_symmetric(size, overlap)

    def split(length: int) -> Intervals:
        if length <= size:
            return whole(length)
        iv = symmetric(length)
        starts = iv.starts[:1] + [s - 1 for s in iv.starts[1:]]
        left = iv.left_ramps[:1] + [r + 1 for r in iv.left_ramps[1:]]
        return Intervals(starts, iv.ends, left, iv.right_ramps)

    return split


def split_temporal_frames(size: int, overlap: int) -> Split:
    """Symmetric split in pixel frames whose tiles (but the last) take one more frame: 8k+1 each."""
    symmetric = split_symmetric(size, overlap)

    def split(length: int) -> Intervals:
        if length <= size:
            return whole(length)
        iv = symmetric(length)
        ends = [e + 1 for e in iv.ends[:-1]] + iv.ends[-1:]
        return Intervals(iv.starts, ends, iv.left_ramps, [0] * len(ends))

    return split


def _mapping(fn: Callable[[int, int, int, int, int], tuple[slice, np.ndarray]], scale: int) -> Mapping:
    def apply(iv: Intervals) -> tuple[list[slice], list[np.ndarray | None]]:
        pairs = [fn(*args, scale) for args in zip(iv.starts, iv.ends, iv.left_ramps, iv.right_ramps)]
        return [p[0] for p in pairs], [p[1] for p in pairs]

    return apply


def latent_time_to_frames(begin: int, end: int, left: int, right: int, scale: int) -> tuple[slice, np.ndarray]:
    start, stop = begin * scale, 1 + (end - 1) * scale
    left_frames = 0 if left == 0 else 1 + (left - 1) * scale
    return slice(start, stop), trapezoidal_mask(stop - start, left_frames, right * scale, True)


def latent_space_to_pixels(begin: int, end: int, left: int, right: int, scale: int) -> tuple[slice, np.ndarray]:
    start, stop = begin * scale, end * scale
    return slice(start, stop), trapezoidal_mask(stop - start, left * scale, right * scale, False)


def frames_to_latent_time(begin: int, end: int, left: int, right: int, scale: int) -> tuple[slice, np.ndarray]:
    start, stop = begin // scale, (end - 1) // scale + 1
    left_latents = 0 if left == 0 else 1 + (left - 1) // scale
    return slice(start, stop), rectangular_mask(stop - start, left_latents, right // scale)


def pixels_to_latent_space(begin: int, end: int, left: int, right: int, scale: int) -> tuple[slice, np.ndarray]:
    # The encoder sees padding at a tile's edges: drop one latent per shared edge.
    start, stop = begin // scale, end // scale
    return slice(start, stop), rectangular_mask(stop - start, max(0, left // scale - 1), 0 if right == 0 else 1)


def _tiles(sizes: tuple[int, int, int], splits: list[Split], mappings: list[Mapping]) -> list[Tile]:
    per_axis = []
    for length, split, mapping in zip(sizes, splits, mappings):
        iv = split(length)
        outputs, masks = mapping(iv)
        inputs = [slice(s, e) for s, e in zip(iv.starts, iv.ends)]
        per_axis.append(list(zip(inputs, outputs, masks)))
    return [
        Tile(tuple(a[0] for a in combo), tuple(a[1] for a in combo), tuple(a[2] for a in combo))
        for combo in itertools.product(*per_axis)
    ]


def decoder_tiles(latent_fhw: tuple[int, int, int], tiling: TilingConfig, scale: tuple[int, int, int]) -> list[Tile]:
    """Tiles over a latent's (F', H', W'); outputs in pixel frames / pixels. Time-major order."""
    st, sh, sw = scale
    splits: list[Split] = [whole, whole, whole]
    f, h, w = latent_fhw
    mappings = [full_mapping((f - 1) * st + 1), full_mapping(h * sh), full_mapping(w * sw)]
    if tiling.spatial_config is not None:
        cfg = tiling.spatial_config
        long_side = max(latent_fhw[1], latent_fhw[2])
        for axis, factor in ((1, sh), (2, sw)):
            size, overlap = cfg.tile_size_in_pixels // factor, cfg.tile_overlap_in_pixels // factor
            # Python's round, as ltx-core: the tile keeps the video's aspect ratio.
            tile = max(max(2, overlap + 1), round(size * latent_fhw[axis] / long_side))
            splits[axis] = split_symmetric(tile, overlap)
            mappings[axis] = _mapping(latent_space_to_pixels, factor)
    if tiling.temporal_config is not None:
        cfg = tiling.temporal_config
        splits[0] = split_temporal_latents(cfg.tile_size_in_frames // st, cfg.tile_overlap_in_frames // st)
        mappings[0] = _mapping(latent_time_to_frames, st)
    return _tiles(latent_fhw, splits, mappings)


# ltx-core raises smaller encoder overlaps to these so padding-affected latents can be dropped.
MIN_ENCODE_OVERLAP_PIXELS = 64
MIN_ENCODE_OVERLAP_FRAMES = 16


def encoder_tiles(video_fhw: tuple[int, int, int], tiling: TilingConfig, scale: tuple[int, int, int]) -> list[Tile]:
    """Tiles over a video's (F, H, W); outputs in latent units."""
    st, sh, sw = scale
    splits: list[Split] = [whole, whole, whole]
    f, h, w = video_fhw
    mappings = [full_mapping((f - 1) // st + 1), full_mapping(h // sh), full_mapping(w // sw)]
    if tiling.spatial_config is not None:
        cfg = tiling.spatial_config
        overlap = max(cfg.tile_overlap_in_pixels, MIN_ENCODE_OVERLAP_PIXELS)
        if overlap >= cfg.tile_size_in_pixels:
            raise ConfigError(
                f"tiled encoding needs tile_size_in_pixels above {overlap} (its minimum overlap), "
                f"got {cfg.tile_size_in_pixels}."
            )
        for axis, factor in ((1, sh), (2, sw)):
            splits[axis] = split_symmetric(cfg.tile_size_in_pixels, overlap)
            mappings[axis] = _mapping(pixels_to_latent_space, factor)
    if tiling.temporal_config is not None:
        cfg = tiling.temporal_config
        overlap = max(cfg.tile_overlap_in_frames, MIN_ENCODE_OVERLAP_FRAMES)
        if overlap >= cfg.tile_size_in_frames:
            raise ConfigError(
                f"tiled encoding needs tile_size_in_frames above {overlap} (its minimum overlap), "
                f"got {cfg.tile_size_in_frames}."
            )
        splits[0] = split_temporal_frames(cfg.tile_size_in_frames, overlap)
        mappings[0] = _mapping(frames_to_latent_time, st)
    return _tiles(video_fhw, splits, mappings)


def temporal_groups(tiles: list) -> list[list]:
    """Consecutive tiles that share their output frames (one temporal group is decoded, blended
    and written before the next), for conv and diffusion tiles alike."""
    groups: list[list] = []
    for tile in tiles:
        if groups and groups[-1][0].outputs[0] == tile.outputs[0]:
            groups[-1].append(tile)
        else:
            groups.append([tile])
    return groups
