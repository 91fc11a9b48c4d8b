"""LTX-2 rotary position embeddings: 3-D (time, y, x) for video, 1-D (time) for audio.

Positions are ``[start, end)`` bounds per token; the middle of each interval, divided by
the axis' ``max_pos``, is mapped to ``[-1, 1]`` and multiplied with a log-spaced frequency
grid. Tables depend only on positions, so they are built once per run, not per step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import mlx.core as mx
import numpy as np


@dataclass(frozen=True)
class RotaryTables:
    """cos/sin tables in attention layout ``(B, heads, T, d)``.

    ``split``: d = head_dim / 2, the rotation pairs element i with element i + d.
    ``interleaved``: d = head_dim, the rotation pairs elements 2i and 2i + 1.
    """

    cos: mx.array
    sin: mx.array
    rope_type: str
    heads: int


@lru_cache(maxsize=16)
def frequency_grid(theta: float, num_axes: int, dim: int, double_precision: bool) -> np.ndarray:
    """``theta ** linspace(0, 1, dim // (2 * num_axes)) * pi / 2`` as float32.

    With ``double_precision`` (config ``frequencies_precision: float64``) the grid is computed
    in float64 before rounding to float32, as the official implementation does.
    """
    count = dim // (2 * num_axes)
    if double_precision:
        grid = np.power(theta, np.linspace(0.0, 1.0, count, dtype=np.float64)) * math.pi / 2
        return grid.astype(np.float32)
    exponents = np.linspace(0.0, 1.0, count, dtype=np.float32)
    grid = np.power(np.float32(theta), exponents, dtype=np.float32)
    return (grid * np.float32(math.pi / 2)).astype(np.float32)


def rotary_tables(
    positions: mx.array,
    dim: int,
    heads: int,
    theta: float,
    max_pos: list[int],
    rope_type: str,
    double_precision: bool,
    dtype: mx.Dtype,
) -> RotaryTables:
    """Build cos/sin tables for ``positions`` of shape ``(B, num_axes, T, 2)``."""
    batch, num_axes, tokens, _ = positions.shape
    if num_axes != len(max_pos):
        raise ValueError(f"positions have {num_axes} axes but max_pos has {len(max_pos)} entries")
    grid = mx.array(frequency_grid(float(theta), num_axes, dim, double_precision))
    positions = positions.astype(mx.float32)
    middle = (positions[..., 0] + positions[..., 1]) / 2.0  # (B, axes, T)
    scale = mx.array(np.asarray(max_pos, dtype=np.float32))[None, :, None]
    fraction = middle / scale
    # (B, T, F, axes) flattened with the axis index fastest, as the reference orders it.
    angles = grid[None, None, :, None] * (fraction.transpose(0, 2, 1)[:, :, None, :] * 2 - 1)
    angles = angles.reshape(batch, tokens, -1)
    cos, sin = mx.cos(angles), mx.sin(angles)

    if rope_type == "split":
        pad = dim // 2 - angles.shape[-1]
        if pad:
            cos = mx.concatenate([mx.ones((batch, tokens, pad), cos.dtype), cos], axis=-1)
            sin = mx.concatenate([mx.zeros((batch, tokens, pad), sin.dtype), sin], axis=-1)
    elif rope_type == "interleaved":
        cos = mx.repeat(cos, 2, axis=-1)
        sin = mx.repeat(sin, 2, axis=-1)
        pad = dim % (2 * num_axes)
        if pad:
            cos = mx.concatenate([mx.ones((batch, tokens, pad), cos.dtype), cos], axis=-1)
            sin = mx.concatenate([mx.zeros((batch, tokens, pad), sin.dtype), sin], axis=-1)
    else:
        raise ValueError(f"unknown rope_type {rope_type!r}")
    cos = cos.reshape(batch, tokens, heads, -1).transpose(0, 2, 1, 3).astype(dtype)
    sin = sin.reshape(batch, tokens, heads, -1).transpose(0, 2, 1, 3).astype(dtype)
    return RotaryTables(cos=cos, sin=sin, rope_type=rope_type, heads=heads)


def apply_rotary(x: mx.array, tables: RotaryTables) -> mx.array:
    """Rotate ``x`` of shape ``(B, heads, T, head_dim)``."""
    if tables.rope_type == "split":
        half = x.shape[-1] // 2
        first, second = x[..., :half], x[..., half:]
        return mx.concatenate(
            [first * tables.cos - second * tables.sin, second * tables.cos + first * tables.sin], axis=-1
        )
    pairs = x.reshape(*x.shape[:-1], -1, 2)
    rotated = mx.stack([-pairs[..., 1], pairs[..., 0]], axis=-1).reshape(x.shape)
    return x * tables.cos + rotated * tables.sin
