"""Float32 attention, tanh-GELU and SiLU computed by NumPy on MLX's CPU backend, on both cores.

MLX's CPU kernels for ``exp`` and ``tanh`` are scalar (16-30 ns per element on this 2-core
EPYC, where NumPy's SIMD versions take under 1 ns), and its CPU softmax runs on one thread:
at 6,144 tokens the attention's 1.2 billion exponentials per layer cost more than its
matmuls. Here the attention runs per head on two worker threads, each with single-threaded
BLAS (NumPy's OpenBLAS, set per thread), over blocks of query rows so the score block stays in
cache: scores ``(q * scale) k^T``, the mask added, ``exp(s - rowmax)``, then ``(e v) / rowsum``
(normalising the (rows, head_dim) result instead of the (rows, keys) weights). MLX arrays are
read through zero-copy NumPy views after ``mx.eval``; the result is copied back once.

The elementwise functions run over blocks of 64K elements split between the two workers (the
VAEs and upsamplers apply SiLU to every activation: at 768x512 per frame their last level alone
is 3 million elements a frame). The VAE's pixel norm, timestep modulation and SiLU before each
convolution are one such pass (``PixelNormSilu``), which ``cpu_winograd`` also runs inside its
input copy.

Numerically this is the same softmax attention as ``mx.fast.scaled_dot_product_attention``
up to float32 rounding (NumPy's exp/tanh differ from MLX's by about an ulp; relative errors
~3e-6 on the attention output), not bit-identical. Gradients are MLX's own: all three are
``mx.custom_function``s whose VJP is that of the MLX formulation they replace.
"""

from __future__ import annotations

import ctypes
import glob
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

import mlx.core as mx
import numpy as np
from mlx import nn

WORKERS = 2
QUERY_ROWS = 256  # score block (256 x keys float32) per worker: 6 MB at 6,144 keys
ELEMENT_BLOCK = 1 << 16  # elements per NumPy call of the elementwise paths (256 KB, cache-sized)
_GELU_C = math.sqrt(2 / math.pi)

# NumPy memory is invisible to MLX's counters: the largest NumPy working set (scratch blocks and
# result arrays) since the last reset, which the model ledger adds to each stage's MLX peak.
_scratch_lock = threading.Lock()
_scratch_peak = 0


def reset_scratch_peak() -> None:
    global _scratch_peak
    with _scratch_lock:
        _scratch_peak = 0


def scratch_peak() -> int:
    """Largest NumPy working set (bytes) of one attention or GELU call since the last reset."""
    return _scratch_peak


def record_scratch(nbytes: int) -> None:
    global _scratch_peak
    with _scratch_lock:
        _scratch_peak = max(_scratch_peak, nbytes)


def attention_scratch_bytes(batch: int, heads: int, queries: int, keys: int, head_dim: int) -> int:
    """NumPy bytes one ``numpy_attention`` call holds: each worker's score and scaled-query blocks,
    and the float32 result (copied once into MLX)."""
    rows = min(QUERY_ROWS, queries)
    return WORKERS * rows * (keys + 2 * head_dim) * 4 + batch * heads * queries * head_dim * 4


@lru_cache(maxsize=1)
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(WORKERS, thread_name_prefix="ltx-cpu")


@lru_cache(maxsize=1)
def _blas_thread_setter():
    """NumPy's bundled OpenBLAS ``openblas_set_num_threads_local`` (None where absent)."""
    folder = os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs")
    for path in glob.glob(os.path.join(folder, "*openblas*")):
        try:
            setter = ctypes.CDLL(path).openblas_set_num_threads_local
        except (OSError, AttributeError):
            continue
        setter.argtypes, setter.restype = [ctypes.c_int], ctypes.c_int
        return setter
    return None


def run_on_workers(work) -> None:
    """``work(worker_index, workers)`` on each worker thread, BLAS single-threaded there."""
    setter = _blas_thread_setter()
    workers = WORKERS if setter is not None else 1  # without it, one caller and multi-threaded BLAS

    def run(index: int) -> None:
        if setter is not None:
            setter(1)
        work(index, workers)

    list(_pool().map(run, range(workers)))


def supported(*arrays: mx.array | None) -> bool:
    return all(a is None or a.dtype in (mx.float32, mx.bool_) for a in arrays)


def _attention_forward(q: mx.array, k: mx.array, v: mx.array, mask: mx.array | None, scale: float) -> mx.array:
    mx.eval(q, k, v, *(() if mask is None else (mask,)))
    batch, heads, queries, head_dim = q.shape
    keys = k.shape[2]
    repeats = heads // k.shape[1]  # grouped-query attention: query head h reads key head h // repeats
    record_scratch(attention_scratch_bytes(batch, heads, queries, keys, head_dim))
    qn, kn, vn = np.asarray(q), np.asarray(k), np.asarray(v)
    mn = None if mask is None else np.broadcast_to(np.asarray(mask), (batch, heads, queries, keys))
    out = np.empty((batch, queries, heads, head_dim), np.float32)
    pairs = [(b, h) for b in range(batch) for h in range(heads)]
    rows = min(QUERY_ROWS, queries)
    factor = np.float32(scale)

    def work(index: int, workers: int) -> None:
        scores = np.empty((rows, keys), np.float32)
        scaled = np.empty((rows, head_dim), np.float32)
        for b, h in pairs[index::workers]:
            keys_t, values = kn[b, h // repeats].T, vn[b, h // repeats]
            for first in range(0, queries, rows):
                n = min(rows, queries - first)
                s = scores[:n]
                np.multiply(qn[b, h, first : first + n], factor, out=scaled[:n])
                np.matmul(scaled[:n], keys_t, out=s)
                if mn is not None:
                    block = mn[b, h, first : first + n]
                    if block.dtype == np.bool_:
                        np.copyto(s, -np.inf, where=~block)
                    else:
                        s += block
                np.subtract(s, s.max(axis=1, keepdims=True), out=s)
                np.exp(s, out=s)
                total = s.sum(axis=1, keepdims=True)
                weighted = s @ values
                np.divide(weighted, total, out=out[b, first : first + n, h])

    run_on_workers(work)
    return mx.array(out).transpose(0, 2, 1, 3)


@mx.custom_function
def _numpy_attention(q: mx.array, k: mx.array, v: mx.array, mask: mx.array, scale: mx.array) -> mx.array:
    return _attention_forward(q, k, v, None if mask.ndim == 0 else mask, scale.item())


@_numpy_attention.vjp
def _numpy_attention_vjp(primals, cotangent, output):
    q, k, v, mask, scale = primals
    real_mask = None if mask.ndim == 0 else mask

    def reference(q, k, v):
        return mx.fast.scaled_dot_product_attention(q, k, v, scale=scale.item(), mask=real_mask)

    grads = mx.vjp(reference, [q, k, v], [cotangent])[1]
    return (*grads, mx.zeros_like(mask), mx.zeros_like(scale))


def numpy_attention(q: mx.array, k: mx.array, v: mx.array, scale: float, mask: mx.array | None = None) -> mx.array:
    """``softmax(q k^T * scale + mask) v`` for float32 ``(B, H, T, D)`` queries and ``(B, H_kv, T, D)``
    keys and values (``H`` a multiple of ``H_kv``: grouped-query attention), the mask additive or
    boolean."""
    no_mask = mx.array(0.0)
    return _numpy_attention(q, k, v, no_mask if mask is None else mask, mx.array(scale, dtype=mx.float32))


def _map_elements(x: mx.array, kernel) -> mx.array:
    """``kernel(block, out)`` over blocks of ``ELEMENT_BLOCK`` elements of ``x``, on the workers."""
    mx.eval(x)
    flat = np.asarray(x).reshape(-1)
    out = np.empty(flat.shape, np.float32)
    record_scratch(out.nbytes)
    total = len(flat)

    def work(index: int, workers: int) -> None:
        per = -(-total // workers)
        for first in range(index * per, min(total, (index + 1) * per), ELEMENT_BLOCK):
            last = min(first + ELEMENT_BLOCK, (index + 1) * per, total)
            kernel(flat[first:last], out[first:last])

    run_on_workers(work)
    return mx.array(out).reshape(x.shape)


def _gelu_kernel(xs: np.ndarray, u: np.ndarray) -> None:
    np.multiply(xs, xs, out=u)
    u *= xs
    u *= np.float32(0.044715)
    u += xs
    u *= np.float32(_GELU_C)
    np.tanh(u, out=u)
    u += 1
    u *= xs
    u *= np.float32(0.5)


def _silu_kernel(xs: np.ndarray, u: np.ndarray) -> None:
    np.negative(xs, out=u)
    with np.errstate(over="ignore"):
        np.exp(u, out=u)  # inf for large negative inputs: x / inf gives the same -0 as MLX
    u += 1
    np.divide(xs, u, out=u)


def _gelu_forward(x: mx.array) -> mx.array:
    return _map_elements(x, _gelu_kernel)


@mx.custom_function
def numpy_silu(x: mx.array) -> mx.array:
    """``nn.silu`` for float32 input, on the CPU worker threads (MLX's CPU ``exp`` is scalar)."""
    return _map_elements(x, _silu_kernel)


@numpy_silu.vjp
def _numpy_silu_vjp(primal, cotangent, output):
    return mx.vjp(nn.silu, [primal], [cotangent])[1][0]


def silu(x: mx.array) -> mx.array:
    """SiLU by backend: NumPy's on the CPU in float32 (arrays of at least ``ELEMENT_BLOCK``
    elements), MLX's otherwise."""
    if fast_elementwise(x):
        return numpy_silu(x)
    return nn.silu(x)


@mx.custom_function
def numpy_gelu_approx(x: mx.array) -> mx.array:
    """``nn.gelu_approx`` (tanh approximation) for float32 input, on the CPU worker threads."""
    return _gelu_forward(x)


@numpy_gelu_approx.vjp
def _numpy_gelu_vjp(primal, cotangent, output):
    return mx.vjp(nn.gelu_approx, [primal], [cotangent])[1][0]  # a one-argument function gets the array


@dataclass(frozen=True)
class PixelNormSilu:
    """``silu(x / sqrt(mean(x^2 over channels) + eps) * (1 + scale) + shift)`` for channels-last
    ``x``: the VAEs' step before each convolution. ``scale`` and ``shift`` broadcast per batch
    item and channel (``(B, 1, 1, 1, C)``), or both None."""

    eps: float
    scale: mx.array | None = None
    shift: mx.array | None = None

    def arrays(self) -> tuple[mx.array, ...]:
        """The step's own inputs (for gradients): scale and shift, when modulated."""
        return () if self.scale is None else (self.scale, self.shift)

    def reference(self, x: mx.array, *arrays: mx.array) -> mx.array:
        """MLX's ops, on ``arrays`` in place of the step's own (as ``mx.vjp`` passes them)."""
        h = x * mx.rsqrt(mx.mean(mx.square(x), axis=-1, keepdims=True) + self.eps)
        if arrays:
            scale, shift = arrays
            h = h * (1 + scale) + shift
        return nn.silu(h)

    def numpy_kernel(self, item: int):
        """``kernel(xs, out)`` for batch item ``item``: any ``(..., C)`` block of its rows into
        ``out`` (same shape), on the calling thread."""
        channels_gain = channels_bias = None
        if self.scale is not None:
            channels_gain = np.asarray(1 + self.scale).reshape(self.scale.shape[0], -1)[item]
            channels_bias = np.asarray(self.shift).reshape(self.shift.shape[0], -1)[item]
        eps = np.float32(self.eps)

        def kernel(xs: np.ndarray, out: np.ndarray) -> None:
            sums = np.einsum("...c,...c->...", xs, xs)
            sums *= np.float32(1 / xs.shape[-1])
            sums += eps
            np.sqrt(sums, out=sums)
            np.divide(xs, sums[..., None], out=out)
            if channels_gain is not None:
                out *= channels_gain
                out += channels_bias
            exps = np.negative(out)
            with np.errstate(over="ignore"):
                np.exp(exps, out=exps)  # inf for large negative inputs: x / inf gives MLX's -0
            exps += 1
            np.divide(out, exps, out=out)

        return kernel


def fast_elementwise(x: mx.array) -> bool:
    """Whether the NumPy elementwise paths take ``x``: float32 on the CPU, at least one block."""
    return x.dtype == mx.float32 and x.size >= ELEMENT_BLOCK and mx.default_device().type == mx.DeviceType.cpu


def pixel_norm_silu(x: mx.array, eps: float, scale: mx.array | None = None, shift: mx.array | None = None) -> mx.array:
    """``PixelNormSilu(eps, scale, shift)`` of ``x``: on the CPU in float32 one NumPy pass over
    cache-sized blocks on both workers (MLX's CPU norm is single-threaded and its ``exp``
    scalar; 1.2 s instead of 2.9 s in the 19B decoder at 768x512x9); MLX's ops otherwise."""
    step = PixelNormSilu(eps, scale, shift)
    if not fast_elementwise(x):
        return step.reference(x, *step.arrays())

    @mx.custom_function
    def fused(x: mx.array, *arrays: mx.array) -> mx.array:
        mx.eval(x, *arrays)
        rows = np.asarray(x).reshape(x.shape[0], -1, x.shape[-1])
        out = np.empty(rows.shape, np.float32)
        record_scratch(out.nbytes)
        block = max(1, ELEMENT_BLOCK // x.shape[-1])
        blocks = [(item, first) for item in range(x.shape[0]) for first in range(0, rows.shape[1], block)]
        kernels = [step.numpy_kernel(item) for item in range(x.shape[0])]

        def work(index: int, workers: int) -> None:
            for item, first in blocks[index::workers]:
                kernels[item](rows[item, first : first + block], out[item, first : first + block])

        run_on_workers(work)
        return mx.array(out).reshape(x.shape)

    @fused.vjp
    def _vjp(primals, cotangent, output):
        if isinstance(primals, mx.array):  # a one-argument function gets the array, and returns one
            return mx.vjp(step.reference, [primals], [cotangent])[1][0]
        return tuple(mx.vjp(step.reference, list(primals), [cotangent])[1])

    return fused(x, *step.arrays())
