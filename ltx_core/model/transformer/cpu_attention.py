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

from ltx_core.model.transformer import cpu_numpy

# Score bytes one group may hold before groups are evaluated pair by pair.
GROUP_SCORE_BYTES = 256 * 1024 * 1024
STREAMS = 2

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
    if q.shape[1] < 2:
        return mx.fast.scaled_dot_product_attention(q, k, v, scale=scale, mask=mask)
    return split_heads_attention(q, k, v, scale, mask)


def split_heads_attention(
    q: mx.array, k: mx.array, v: mx.array, scale: float, mask: mx.array | None = None, streams: list | None = None
) -> mx.array:
    streams = streams or cpu_streams()
    batch, heads, queries, _ = q.shape
    keys = k.shape[2]
    per_head = batch * queries * keys * max(q.dtype.size, 4)
    group = max(1, min(heads // len(streams), GROUP_SCORE_BYTES // per_head))
    while heads % group:
        group -= 1
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
