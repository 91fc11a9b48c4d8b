"""Scaled dot-product attention that uses every core on MLX's CPU backend.

On Metal and CUDA this is ``mx.fast.scaled_dot_product_attention`` unchanged. On the CPU in
float32 it is ``cpu_numpy.numpy_attention`` (NumPy's SIMD exp on both cores, 3-5x faster than
the split below at 1,320-6,144 tokens; equal up to float32 rounding). Other dtypes on the CPU:
MLX's attention (scores matmul, softmax, weighted sum) runs its softmax and
exponentials on one thread and only the matmuls through the multi-threaded BLAS; two CPU
streams do run in parallel. So the heads are split into groups, alternated over two CPU
streams, each group computed by the same fused call as before: every head's arithmetic is
unchanged, so the result is bit-identical to the single call. Groups are evaluated two at a
time when the score matrices would be large, which also bounds the attention's peak memory
(the single call holds every head's (Tq, Tk) scores at once: 4.8 GB at 6,144 tokens).
"""

from __future__ import annotations

import threading

import mlx.core as mx

from ltx_core.components import cpu_numpy

# Score bytes one group may hold before groups are evaluated pair by pair.
GROUP_SCORE_BYTES = 256 * 1024 * 1024
STREAMS = 2
# Score-sized arrays one fused call keeps alive at once (scores and probabilities), as measured
# for the memory estimates (bench/memory_estimate.py).
SCORE_COPIES = 2

# MLX streams belong to the thread that made them (the studio runs jobs on worker threads).
_local = threading.local()


def cpu_streams() -> list:
    streams = getattr(_local, "streams", None)
    if streams is None:
        streams = _local.streams = [mx.new_stream(mx.cpu) for _ in range(STREAMS)]
    return streams


def on_cpu() -> bool:
    return mx.default_device().type == mx.DeviceType.cpu


def attention(q: mx.array, k: mx.array, v: mx.array, scale: float, mask: mx.array | None = None) -> mx.array:
    """``softmax(q k^T * scale + mask) v`` for ``(B, H, T, D)`` inputs, by backend: the fused
    kernel on Metal/CUDA; on the CPU NumPy's (``cpu_numpy``) in float32, else split heads."""
    if not on_cpu():
        return mx.fast.scaled_dot_product_attention(q, k, v, scale=scale, mask=mask)
    if cpu_numpy.supported(q, k, v, mask):
        return cpu_numpy.numpy_attention(q, k, v, scale, mask)
    if q.shape[1] < 2 or k.shape[1] != q.shape[1]:  # one head, or grouped-query heads: one call
        return mx.fast.scaled_dot_product_attention(q, k, v, scale=scale, mask=mask)
    return split_heads_attention(q, k, v, scale, mask)


def attention_memory_bytes(
    backend: str,
    dtype_bytes: int,
    batch: int,
    heads: int,
    queries: int,
    keys: int,
    head_dim: int,
    kv_heads: int | None = None,
) -> int:
    """Bytes ``attention`` holds beyond its inputs and output, for the memory estimates: none with
    the fused kernel (Metal, CUDA); on the CPU in float32 the NumPy blocks; in other dtypes the
    scores and probabilities of the heads computed together (all of them in one call)."""
    if backend != "cpu":
        return 0
    if dtype_bytes == 4:
        return cpu_numpy.attention_scratch_bytes(batch, heads, queries, keys, head_dim)
    per_head = batch * queries * keys * dtype_bytes
    held = heads
    if heads >= 2 and (kv_heads or heads) == heads:
        group = _group_size(heads, batch * queries * keys * max(dtype_bytes, 4), STREAMS)
        held = min(heads, group * STREAMS)
    return SCORE_COPIES * per_head * held


def _group_size(heads: int, per_head: int, streams: int) -> int:
    """Heads per fused call in ``split_heads_attention``: half of them, fewer where one group's
    scores would pass ``GROUP_SCORE_BYTES``, always a divisor of ``heads``."""
    group = max(1, min(heads // streams, GROUP_SCORE_BYTES // per_head))
    while heads % group:
        group -= 1
    return group


def split_heads_attention(
    q: mx.array, k: mx.array, v: mx.array, scale: float, mask: mx.array | None = None, streams: list | None = None
) -> mx.array:
    streams = streams or cpu_streams()
    batch, heads, queries, _ = q.shape
    keys = k.shape[2]
    group = _group_size(heads, batch * queries * keys * max(q.dtype.size, 4), len(streams))
    bounded = group * len(streams) < heads  # more groups than streams: evaluate as we go
    outputs, pending = [], []
    for n, first in enumerate(range(0, heads, group)):
        part = slice(first, first + group)
        head_mask = mask
        if mask is not None and mask.ndim == 4 and mask.shape[1] > 1:
            head_mask = mask[:, part]
        with mx.stream(streams[n % len(streams)]):
            out = mx.fast.scaled_dot_product_attention(q[:, part], k[:, part], v[:, part], scale=scale, mask=head_mask)
        outputs.append(out)
        pending.append(out)
        if bounded and len(pending) == len(streams):
            mx.eval(pending)
            pending = []
    return mx.concatenate(outputs, axis=1)
