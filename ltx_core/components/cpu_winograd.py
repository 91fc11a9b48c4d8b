"""3x3x3 float32 convolution on MLX's CPU backend by Winograd's F(2x2, 3x3), on both cores.

MLX's CPU ``conv3d`` reached about a third of PyTorch's (oneDNN) rate on the video VAE's layers
(``bench/vae_decode.py``), and a plain GEMM formulation over OpenBLAS is capped by the narrow
output-channel dimension. Winograd's minimal filtering computes each 2x2 block of outputs of a
3x3 spatial filter from a 4x4 input tile with 16 multiplications instead of 36 (Lavin & Gray,
"Fast Algorithms for Convolutional Neural Networks", 2016); the time taps are summed inside the
same products: for every output frame and each of the 16 tile positions, one GEMM of
``(tiles, 3 x C_in) @ (3 x C_in, C_out)`` whose left operand is a strided view of the transformed
input (frames innermost), so no copy per time tap. 2.25x fewer multiply-adds than the direct
convolution; the transforms are exact additions and halvings, so the result equals the direct
convolution up to float32 rounding (relative error ~5e-7).

The work is split into bands of output rows, alternated over two worker threads with
single-threaded BLAS each (as ``cpu_numpy``). Input and output cross MLX through one copy each;
their NumPy bytes are recorded in ``cpu_numpy``'s scratch peak for the ledger.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import mlx.core as mx
import numpy as np

from ltx_core.components import cpu_numpy
from ltx_core.components.cpu_numpy import PixelNormSilu

FILTER_CHUNK_FLOATS = 1 << 18  # weights transformed at a time (1 MiB)
BAND_ROWS = 8  # output rows per band: 4 tile rows keep a band's transformed input and products near the caches


def supported(x: mx.array, weight: mx.array, stride: tuple[int, int, int]) -> bool:
    """A stride-1 3x3x3 float32 convolution of a channels-last ``(B, F, H, W, C)`` input on the CPU."""
    return (
        mx.default_device().type == mx.DeviceType.cpu
        and x.dtype == mx.float32
        and weight.dtype == mx.float32
        and tuple(weight.shape[1:4]) == (3, 3, 3)
        and tuple(stride) == (1, 1, 1)
        and x.ndim == 5
    )


def filter_transform(weight: np.ndarray) -> np.ndarray:
    """``(O, 3, 3, 3, C)`` weights -> ``(4, 4, O, 3 x C)``: ``G g G^T`` over the spatial taps, the
    time taps and input channels joined as the GEMMs' inner dimension (time tap major; the GEMMs
    read each ``(O, 3 C)`` matrix transposed, which BLAS does without a copy). Done a few output
    channels at a time on both workers, so that the intermediate stays in cache (the decoder's
    1024 -> 4096 convolution spent 0.3-0.5 s in a single-threaded whole-tensor transform,
    0.14-0.18 s so)."""
    out_channels, _, _, _, in_channels = weight.shape
    u = np.empty((4, 4, out_channels, 3, in_channels), np.float32)
    chunk = max(1, FILTER_CHUNK_FLOATS // (27 * in_channels))

    def work(index: int, workers: int) -> None:
        rows = np.empty((4, 3, chunk, 3, in_channels), np.float32)
        for low in range(index * chunk, out_channels, workers * chunk):
            high = min(out_channels, low + chunk)
            taps = weight[low:high].transpose(2, 3, 0, 1, 4)  # (3h, 3w, o, 3t, C): a view
            part = rows[:, :, : high - low]
            _transform_taps(taps, part)
            for a in range(4):
                _transform_taps(part[a], u[a, :, low:high])

    cpu_numpy.run_on_workers(work)
    return u.reshape(4, 4, out_channels, 3 * in_channels)


def _transform_taps(g: np.ndarray, out: np.ndarray) -> None:
    """``G g`` along the first axis (3 taps -> 4): g0, (g0 + g1 + g2) / 2, (g0 - g1 + g2) / 2, g2."""
    np.copyto(out[0], g[0])
    np.add(g[0], g[2], out=out[1])
    out[1] *= 0.5
    np.multiply(g[1], 0.5, out=out[2])
    out[1] += out[2]
    np.subtract(out[1], g[1], out=out[2])
    np.copyto(out[3], g[2])


def _input_transform(rows: np.ndarray, tile_cols: int, scratch: np.ndarray, out: np.ndarray) -> None:
    """``B^T d B`` of every 4x4 tile of ``rows`` ``(2 th + 2, Wp, Fp, C)`` into ``out``
    ``(4, 4, th, tw, Fp, C)``; ``scratch`` holds one row-transformed tile row set."""
    span = rows.shape[0] - 3
    d0, d1, d2, d3 = (rows[k : k + span : 2] for k in range(4))
    width = 2 * tile_cols - 1
    for a, (left, right, subtract) in enumerate(((d0, d2, True), (d1, d2, False), (d2, d1, True), (d1, d3, True))):
        (np.subtract if subtract else np.add)(left, right, out=scratch)
        e0, e1, e2, e3 = (scratch[:, k : k + width : 2] for k in range(4))
        np.subtract(e0, e2, out=out[a, 0])
        np.add(e1, e2, out=out[a, 1])
        np.subtract(e2, e1, out=out[a, 2])
        np.subtract(e1, e3, out=out[a, 3])


def _output_transform(m: np.ndarray, bias: np.ndarray, target: np.ndarray) -> None:
    """``A^T M A`` of the 16 products ``m`` ``(4, 4, th, tw, O)`` plus ``bias`` into ``target``
    ``(th, 2, tw, 2, O)`` (the band's output rows of one frame)."""
    for i, row in enumerate((m[0] + m[1] + m[2], m[1] - m[2] - m[3])):
        np.add(row[0] + row[1], row[2], out=target[:, i, :, 0])
        np.subtract(row[1] - row[2], row[3], out=target[:, i, :, 1])
    target += bias


@dataclass(frozen=True)
class Padding:
    """Padding the convolution applies itself while it copies its input: frames before and after
    (``time_mode`` "replicate": the edge frame repeated, or "zeros") and one row and column on each
    side (``space_mode`` as ``torch.nn.Conv3d``'s ``padding_mode``)."""

    time_before: int
    time_after: int
    time_mode: str = "replicate"
    space_mode: str = "zeros"


def _pad_in_place(columns: np.ndarray, height: int, width: int, frames: int, padding: Padding) -> None:
    """Fill the borders of ``columns`` ``(H+2, W+2, Fp, C)`` whose interior holds the input."""
    inner = columns[1 : height + 1, 1 : width + 1]
    first, last = padding.time_before, padding.time_before + frames
    if padding.time_mode == "zeros":
        inner[:, :, :first] = 0.0
        inner[:, :, last:] = 0.0
    else:
        inner[:, :, :first] = inner[:, :, first : first + 1]
        inner[:, :, last:] = inner[:, :, last - 1 : last]
    # rows first, then whole columns (corners included)
    for axis, size in ((0, height), (1, width)):
        if padding.space_mode == "zeros":
            columns[_edge(axis, 0, height, width)] = 0.0
            columns[_edge(axis, size + 1, height, width)] = 0.0
        else:
            source = {"reflect": (2, size - 1), "replicate": (1, size), "circular": (size, 1)}[padding.space_mode]
            columns[_edge(axis, 0, height, width)] = columns[_edge(axis, source[0], height, width)]
            columns[_edge(axis, size + 1, height, width)] = columns[_edge(axis, source[1], height, width)]


def _edge(axis: int, position: int, height: int, width: int) -> tuple[slice, slice]:
    """Row (axis 0) or column (axis 1) ``position`` of the padded ``(H+2, W+2)`` plane."""
    rows, cols = slice(0, height + 2), slice(0, width + 2)
    line = slice(position, position + 1)
    return (line, cols) if axis == 0 else (rows, line)


def _fill_columns(
    columns: np.ndarray, source: np.ndarray, frames_at: slice, prologue: PixelNormSilu | None, item: int
) -> None:
    """The interior of ``columns`` ``(H+2, W+2, Fp, C)`` from ``source`` ``(F, H, W, C)``, through
    ``prologue`` where given, a row at a time on the workers."""
    frames, height, width, channels = source.shape
    kernel = None if prologue is None else prologue.numpy_kernel(item)

    def work(index: int, workers: int) -> None:
        temp = np.empty((frames, width, channels), np.float32)
        for row in range(index, height, workers):
            block = source[:, row]
            if kernel is not None:
                kernel(block, temp)
                block = temp
            columns[row + 1, 1 : width + 1, frames_at] = block.transpose(1, 0, 2)

    cpu_numpy.run_on_workers(work)


def _conv_forward(
    x: mx.array, weight: mx.array, bias: mx.array, padding: Padding, prologue: PixelNormSilu | None
) -> mx.array:
    mx.eval(x, weight, bias, *(prologue.arrays() if prologue is not None else ()))
    batch, frames_in, height_in, width_in, channels = x.shape
    padded_frames = frames_in + padding.time_before + padding.time_after
    padded_h, padded_w = height_in + 2, width_in + 2
    frames, height, width = padded_frames - 2, padded_h - 2, padded_w - 2
    out_channels = weight.shape[0]
    even_h, even_w = height + height % 2, width + width % 2  # odd sizes: one zero row/column more, cropped
    u = filter_transform(np.asarray(weight))
    b = np.asarray(bias)
    columns = np.empty((even_h + 2, even_w + 2, padded_frames, channels), np.float32)
    columns[padded_h:] = 0.0
    columns[:, padded_w:] = 0.0
    y = np.empty((batch, frames, even_h, even_w, out_channels), np.float32)
    bands = list(range(0, even_h, BAND_ROWS))
    # Work items: bands of rows, and where there are fewer bands than workers (the deep, narrow
    # levels) halves of the output channels too, so that both workers always have work.
    splits = cpu_numpy.WORKERS if len(bands) < 2 * cpu_numpy.WORKERS else 1
    edges = [out_channels * k // splits for k in range(splits + 1)]
    items = [(first, edges[k], edges[k + 1]) for first in bands for k in range(splits)]
    widest = max(high - low for _, low, high in items)
    tile_cols = even_w // 2
    band_tiles = min(BAND_ROWS, even_h) // 2
    per_worker = band_tiles * (16 * tile_cols * padded_frames * channels + (even_w + 2) * padded_frames * channels)
    per_worker += 16 * band_tiles * tile_cols * widest
    cpu_numpy.record_scratch(columns.nbytes + y.nbytes + cpu_numpy.WORKERS * per_worker * 4)

    for item in range(batch):
        frames_at = slice(padding.time_before, padding.time_before + frames_in)
        _fill_columns(columns, np.asarray(x)[item], frames_at, prologue, item)
        _pad_in_place(columns, height_in, width_in, frames_in, padding)

        def work(index: int, workers: int, item: int = item) -> None:
            v = np.empty((4, 4, band_tiles, tile_cols, padded_frames, channels), np.float32)
            scratch = np.empty((band_tiles, even_w + 2, padded_frames, channels), np.float32)
            m = np.empty((4, 4, band_tiles * tile_cols, widest), np.float32)
            for first, low, high in items[index::workers]:
                rows = min(BAND_ROWS, even_h - first)
                tiles = rows // 2
                _input_transform(columns[first : first + rows + 2], tile_cols, scratch[:tiles], v[:, :, :tiles])
                flat = v[:, :, :tiles].reshape(4, 4, tiles * tile_cols, padded_frames * channels)
                products = m[:, :, : tiles * tile_cols, : high - low]
                for frame in range(frames):
                    taps = slice(frame * channels, (frame + 3) * channels)  # frames f, f+1, f+2: the time taps
                    for a in range(4):
                        for c in range(4):
                            np.matmul(flat[a, c, :, taps], u[a, c, low:high].T, out=products[a, c])
                    target = y[item, frame, first : first + rows].reshape(tiles, 2, tile_cols, 2, out_channels)
                    shape = (4, 4, tiles, tile_cols, high - low)
                    _output_transform(products.reshape(shape), b[low:high], target[..., low:high])

        cpu_numpy.run_on_workers(work)
    if (even_h, even_w) != (height, width):
        y = y[:, :, :height, :width]
    return mx.array(y)


def padded_conv3d(
    x: mx.array,
    weight: mx.array,
    bias: mx.array,
    padding: Padding,
    pad: Callable[[mx.array], mx.array],
    prologue: PixelNormSilu | None = None,
) -> mx.array:
    """``mx.conv3d(pad(prologue(x)), weight) + bias``, where ``pad`` is the caller's MLX padding
    and ``padding`` says the same in this module's terms: the padding, and the ``prologue``
    (the VAE's norm and SiLU before the convolution), are done in the transposed copy the
    Winograd path makes anyway (no padded or normalised array in MLX). Gradients go through
    MLX's ``prologue``, ``pad`` and ``mx.conv3d``."""
    extra = () if prologue is None else prologue.arrays()

    @mx.custom_function
    def conv(x: mx.array, weight: mx.array, bias: mx.array, *extra: mx.array) -> mx.array:
        return _conv_forward(x, weight, bias, padding, prologue)

    @conv.vjp
    def _vjp(primals, cotangent, output):
        def reference(x, weight, bias, *extra):
            h = x if prologue is None else prologue.reference(x, *extra)
            return mx.conv3d(pad(h), weight) + bias

        return tuple(mx.vjp(reference, list(primals), [cotangent])[1])

    return conv(x, weight, bias, *extra)


def supports_padding(x: mx.array, padding: Padding) -> bool:
    """Whether ``padded_conv3d`` can pad ``x`` itself (reflection needs two rows and columns)."""
    return padding.space_mode != "reflect" or min(x.shape[2:4]) >= 2
