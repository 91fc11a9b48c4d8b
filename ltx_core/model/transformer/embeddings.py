"""Timestep embeddings (AdaLN-single) and the caption projection."""

from __future__ import annotations

import math
from dataclasses import dataclass

import mlx.core as mx
import mlx.nn as nn
import numpy as np

TIMESTEP_CHANNELS = 256


def sinusoidal_embedding(timesteps: mx.array, channels: int = TIMESTEP_CHANNELS) -> mx.array:
    """``[cos, sin]`` of ``t * 10000^(-i / (channels/2))`` (flip_sin_to_cos, shift 0), float32."""
    half = channels // 2
    exponent = mx.arange(half, dtype=mx.float32) * (-math.log(10000.0)) / half
    args = timesteps.astype(mx.float32)[:, None] * mx.exp(exponent)[None, :]
    return mx.concatenate([mx.cos(args), mx.sin(args)], axis=-1)


class TimestepEmbedding(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.linear_1 = nn.Linear(TIMESTEP_CHANNELS, dim)
        self.linear_2 = nn.Linear(dim, dim)

    def __call__(self, timesteps: mx.array, dtype: mx.Dtype) -> mx.array:
        return self.linear_2(nn.silu(self.linear_1(sinusoidal_embedding(timesteps).astype(dtype))))


class AdaLayerNormSingle(nn.Module):
    """Timestep -> ``coefficient`` modulation vectors of size ``dim`` (PixArt-alpha adaLN-single)."""

    def __init__(self, dim: int, coefficient: int):
        super().__init__()
        self.emb = TimestepEmbedding(dim)
        self.linear = nn.Linear(dim, coefficient * dim)

    def __call__(self, timesteps: mx.array, dtype: mx.Dtype) -> tuple[mx.array, mx.array]:
        embedded = self.emb(timesteps, dtype)
        return self.linear(nn.silu(embedded)), embedded


class CaptionProjection(nn.Module):
    """Text features -> model width: linear, GELU (tanh), linear."""

    def __init__(self, in_features: int, hidden: int):
        super().__init__()
        self.linear_1 = nn.Linear(in_features, hidden)
        self.linear_2 = nn.Linear(hidden, hidden)

    def __call__(self, caption: mx.array) -> mx.array:
        return self.linear_2(nn.gelu_approx(self.linear_1(caption)))


@dataclass(frozen=True)
class TokenTimesteps:
    """Per-token timestep vectors stored once per distinct timestep value.

    A denoising step has one or two distinct timesteps (sigma, and 0 for clean conditioning
    tokens), so the AdaLN projection runs on those few values instead of every token and the
    ``(B, T, k*dim)`` modulation tensor is never materialised. ``values`` is ``(U, width)``;
    ``index`` is ``(B, T)`` into it, or None when every token shares ``values[0]``.
    """

    values: mx.array
    index: mx.array | None

    def rows(self, part: mx.array) -> mx.array:
        """Expand a ``(U, d)`` slice of ``values`` to ``(B, T, d)`` (or ``(1, 1, d)`` if shared)."""
        if self.index is None:
            return part[None]
        return mx.take(part, self.index, axis=0)

    def expanded(self) -> mx.array:
        return self.rows(self.values)


def distinct_timesteps(timesteps: mx.array) -> tuple[mx.array, mx.array | None]:
    """Distinct values of a ``(B, T[, 1])`` timestep tensor and the per-token index into them."""
    host = np.asarray(timesteps.astype(mx.float32)).reshape(timesteps.shape[0], -1)
    unique, inverse = np.unique(host, return_inverse=True)
    index = None if unique.size == 1 else mx.array(inverse.reshape(host.shape).astype(np.int32))
    return mx.array(unique), index
