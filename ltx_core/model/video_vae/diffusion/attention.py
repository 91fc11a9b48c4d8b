"""3-D neighbourhood attention with absolute RoPE, in MLX.

Border semantics are those of NATTEN ``na3d`` (and of ltx-core's eager fallback): along each
axis of length ``L`` a query ``i`` attends to the ``k' = min(k, L)`` keys starting at
``clamp(i - k'//2, 0, L - k')`` -- the window is shifted inward at the borders, never padded.

Queries are cut into tiles; along each axis the tiles whose (query length, key slab, window
mask) coincide form a group, so a whole 3-D group (the product of one group per axis) is
gathered at once and handed to one ``scaled_dot_product_attention`` call with a shared mask.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mlx.core as mx
import numpy as np
from mlx import nn

# Score elements (queries x keys) of one tile: bounds the mask and each tile's scores.
_TILE_SCORE_BUDGET = 1 << 16
# Score elements of one attention call (all tiles and heads of a chunk of a group).
_CALL_SCORE_BUDGET = 1 << 25
RMS_EPS = 1e-6


def window_starts(length: int, kernel: int) -> np.ndarray:
    """First key of each query's window along one axis (kernel already clamped to ``length``)."""
    i = np.arange(length)
    return np.clip(i - kernel // 2, 0, length - kernel)


@dataclass(frozen=True)
class _AxisGroup:
    """Tiles of one axis sharing query length, key length and window mask."""

    queries: np.ndarray  # (n_tiles, q_len) query indices
    keys: np.ndarray  # (n_tiles, k_len) key indices
    mask: np.ndarray  # (q_len, k_len) bool


def _axis_groups(length: int, kernel: int, tile: int) -> list[_AxisGroup]:
    starts = window_starts(length, kernel)
    found: dict[tuple, tuple[list, list, np.ndarray]] = {}
    for a in range(0, length, tile):
        b = min(a + tile, length)
        k0, k1 = int(starts[a]), int(starts[b - 1]) + kernel
        rel = starts[a:b] - k0
        cols = np.arange(k1 - k0)
        mask = (cols[None, :] >= rel[:, None]) & (cols[None, :] < rel[:, None] + kernel)
        key = (b - a, k1 - k0, mask.tobytes())
        entry = found.setdefault(key, ([], [], mask))
        entry[0].append(np.arange(a, b))
        entry[1].append(np.arange(k0, k1))
    return [_AxisGroup(np.stack(q), np.stack(k), m) for q, k, m in found.values()]


def _pick_tiles(dims: tuple[int, ...], kernels: tuple[int, ...]) -> list[int]:
    tiles = list(dims)

    def cost(ts: list[int]) -> int:
        return math.prod(ts) * math.prod(min(d, t + k - 1) for d, t, k in zip(dims, ts, kernels))

    while cost(tiles) > _TILE_SCORE_BUDGET and max(tiles) > 1:
        axis = max((a for a in range(3) if tiles[a] > 1), key=lambda a: tiles[a] / kernels[a])
        tiles[axis] = max(1, (tiles[axis] + 1) // 2)
    return tiles


def _gather(x: mx.array, indices: tuple[np.ndarray, np.ndarray, np.ndarray]) -> mx.array:
    """(B, T, H, W, N, D) -> (B * nT * nH * nW, N, lT * lH * lW, D) for per-axis (n, l) index tables."""
    it, ih, iw = (mx.array(i.astype(np.int32)) for i in indices)
    b, _, _, _, n, d = x.shape
    x = mx.take(x, it.reshape(-1), axis=1)  # B, nT*lT, H, W
    x = mx.take(x, ih.reshape(-1), axis=2)
    x = mx.take(x, iw.reshape(-1), axis=3)
    (nt, lt), (nh, lh), (nw, lw) = it.shape, ih.shape, iw.shape
    x = x.reshape(b, nt, lt, nh, lh, nw, lw, n, d).transpose(0, 1, 3, 5, 7, 2, 4, 6, 8)
    return x.reshape(b * nt * nh * nw, n, lt * lh * lw, d)


def _inverse_order(groups: list[_AxisGroup]) -> mx.array:
    order = np.concatenate([g.queries.reshape(-1) for g in groups])
    return mx.array(np.argsort(order).astype(np.int32))


def na3d(q: mx.array, k: mx.array, v: mx.array, kernel: tuple[int, int, int]) -> mx.array:
    """Neighbourhood attention over (B, T, H, W, heads, head_dim); ``q`` is already scaled."""
    dims = tuple(q.shape[1:4])
    kernels = tuple(min(kk, dd) for kk, dd in zip(kernel, dims))
    tiles = _pick_tiles(dims, kernels)
    axis_groups = [_axis_groups(dd, kk, tt) for dd, kk, tt in zip(dims, kernels, tiles)]
    t_parts = []
    for gt in axis_groups[0]:
        h_parts = []
        for gh in axis_groups[1]:
            w_parts = []
            for gw in axis_groups[2]:
                w_parts.append(_attend_group(q, k, v, (gt, gh, gw)))
            h_parts.append(mx.take(mx.concatenate(w_parts, axis=3), _inverse_order(axis_groups[2]), axis=3))
        t_parts.append(mx.take(mx.concatenate(h_parts, axis=2), _inverse_order(axis_groups[1]), axis=2))
    return mx.take(mx.concatenate(t_parts, axis=1), _inverse_order(axis_groups[0]), axis=1)


def _attend_group(q: mx.array, k: mx.array, v: mx.array, groups: tuple[_AxisGroup, _AxisGroup, _AxisGroup]) -> mx.array:
    """Attention of one 3-D tile group; returns (B, nT*lT, nH*lH, nW*lW, N, D) in group order."""
    gt, gh, gw = groups
    b, n, d = q.shape[0], q.shape[4], q.shape[5]
    mt, mh, mw = gt.mask, gh.mask, gw.mask
    mask = mt[:, None, None, :, None, None] & mh[None, :, None, None, :, None] & mw[None, None, :, None, None, :]
    nq, nk = mask.shape[0] * mask.shape[1] * mask.shape[2], mask.shape[3] * mask.shape[4] * mask.shape[5]
    mask = mx.array(mask.reshape(nq, nk))
    # Chunk the group's T tiles so one call's scores stay bounded.
    per_t_tile = b * gh.queries.shape[0] * gw.queries.shape[0] * n * nq * nk
    step = max(1, _CALL_SCORE_BUDGET // max(1, per_t_tile))
    outs = []
    for c0 in range(0, gt.queries.shape[0], step):
        tq, tk = gt.queries[c0 : c0 + step], gt.keys[c0 : c0 + step]
        qs = _gather(q, (tq, gh.queries, gw.queries))
        ks = _gather(k, (tk, gh.keys, gw.keys))
        vs = _gather(v, (tk, gh.keys, gw.keys))
        o = mx.fast.scaled_dot_product_attention(qs, ks, vs, scale=1.0, mask=mask)
        nt, lt = tq.shape
        (nh, lh), (nw, lw) = gh.queries.shape, gw.queries.shape
        o = o.reshape(b, nt, nh, nw, n, lt, lh, lw, d).transpose(0, 1, 5, 2, 6, 3, 7, 4, 8)
        outs.append(o.reshape(b, nt * lt, nh * lh, nw * lw, n, d))
    return outs[0] if len(outs) == 1 else mx.concatenate(outs, axis=1)


# -- RoPE --------------------------------------------------------------------------------------
def rope_split(head_dim: int) -> tuple[int, int, int]:
    """ltx-core's default split of ``head_dim`` over the (t, h, w) axes."""
    d_t = (head_dim // 4) // 2 * 2
    d_hw = (head_dim - d_t) // 2
    if d_hw % 2:
        d_t -= 2
        d_hw = (head_dim - d_t) // 2
    return d_t, d_hw, d_hw


def rope_inv_freqs(dim: int, base: float = 10000.0) -> np.ndarray:
    return (1.0 / np.power(base, np.arange(0, dim, 2, dtype=np.float64) / dim)).astype(np.float32)


def _rotate(x: mx.array, positions: np.ndarray, inv: np.ndarray, axis: int) -> mx.array:
    """Interleaved-pair rotation of ``x[..., D]`` by ``positions`` along ``axis`` (1, 2 or 3)."""
    angle = mx.array(positions.astype(np.float32))[:, None] * mx.array(inv)[None, :]
    shape = [1, 1, 1, 1, 1, inv.shape[0]]
    shape[axis] = positions.shape[0]
    cos, sin = mx.cos(angle).reshape(shape), mx.sin(angle).reshape(shape)
    pairs = x.astype(mx.float32).reshape(*x.shape[:-1], x.shape[-1] // 2, 2)
    even, odd = pairs[..., 0], pairs[..., 1]
    out = mx.stack([even * cos - odd * sin, even * sin + odd * cos], axis=-1)
    return out.reshape(x.shape).astype(x.dtype)


def apply_rope(x: mx.array, split: tuple[int, int, int], w_positions: np.ndarray | None = None) -> mx.array:
    """Absolute 3-D RoPE on (B, T, H, W, heads, head_dim); t/h positions are 0-based, w given or 0-based."""
    d_t, d_h, d_w = split
    t, h, w = x.shape[1:4]
    w_pos = np.arange(w) if w_positions is None else w_positions
    parts = [
        _rotate(x[..., :d_t], np.arange(t), rope_inv_freqs(d_t), 1),
        _rotate(x[..., d_t : d_t + d_h], np.arange(h), rope_inv_freqs(d_h), 2),
        _rotate(x[..., d_t + d_h :], w_pos, rope_inv_freqs(d_w), 3),
    ]
    return mx.concatenate(parts, axis=-1)


class NeighborhoodAttention3D(nn.Module):
    """Q/K/V projections, per-head RMS norms of Q and K, RoPE, neighbourhood attention, output projection."""

    def __init__(self, dim: int, kernel: tuple[int, int, int], head_dim: int):
        super().__init__()
        self.dim, self.head_dim, self.num_heads = dim, head_dim, dim // head_dim
        self.kernel = tuple(kernel)
        self.scale = head_dim**-0.5
        self.split = rope_split(head_dim)
        self.to_q = nn.Linear(dim, dim)
        self.to_k = nn.Linear(dim, dim)
        self.to_v = nn.Linear(dim, dim)
        self.q_norm = nn.RMSNorm(head_dim, eps=RMS_EPS)
        self.k_norm = nn.RMSNorm(head_dim, eps=RMS_EPS)
        self.proj = nn.Linear(dim, dim)

    def __call__(self, x: mx.array, w_positions: np.ndarray | None = None) -> mx.array:
        """(B, T, H, W, C) -> (B, T, H, W, C)."""
        shape = (*x.shape[:4], self.num_heads, self.head_dim)
        q = self.q_norm(self.to_q(x).reshape(shape)) * self.scale
        k = self.k_norm(self.to_k(x).reshape(shape))
        v = self.to_v(x).reshape(shape)
        q, k = apply_rope(q, self.split, w_positions), apply_rope(k, self.split, w_positions)
        out = na3d(q, k, v, self.kernel)
        return self.proj(out.reshape(*x.shape[:4], self.dim))


def w_chunked_residual(x: mx.array, attn: NeighborhoodAttention3D, prepare, w_chunks: int) -> mx.array:
    """``x + attn(prepare(x))`` computed in ``w_chunks`` W slabs, as ltx-core's chunked diffusion path does.

    Each slab carries ``kernel_w // 2`` halo columns on each side: taken from its neighbours,
    replicated from the edge column at the volume's W borders, and left zero where a
    neighbour slab is narrower than the halo. RoPE W positions are the slab's global columns
    (the halo reaching past the borders gets positions -1, -2, ... and W, W+1, ...); T and H
    positions are 0-based. ``prepare`` is the per-token norm and modulation.
    """
    b, t, h, w, c = x.shape
    halo = attn.kernel[2] // 2
    chunk = -(-w // w_chunks)
    extent = chunk + 2 * halo
    updates = []
    for i in range(w_chunks):
        start, end = i * chunk, min(w, (i + 1) * chunk)
        if end <= start:
            continue
        core = x[:, :, :, start:end]
        left_n = 0 if i == 0 else min(halo, start - max(0, (i - 1) * chunk))
        left = x[:, :, :, start - left_n : start]
        right_n = min(w, end + halo) - end if i + 1 < w_chunks else 0
        right = x[:, :, :, end : end + right_n]
        parts = []
        if i == 0:
            parts.append(mx.repeat(core[:, :, :, :1], halo, axis=3))
        else:
            parts += [mx.zeros((b, t, h, halo - left_n, c), dtype=x.dtype), left]
        parts += [core, right]
        missing = extent - (halo + (end - start) + right_n)
        if missing > 0:
            parts.append(mx.repeat(core[:, :, :, -1:], missing, axis=3))
        slab = mx.concatenate([p for p in parts if p.shape[3] > 0], axis=3)
        positions = np.arange(extent) + (start - halo)
        out = attn(prepare(slab), w_positions=positions)
        updates.append(out[:, :, :, halo : halo + end - start])
    return x + mx.concatenate(updates, axis=3)
