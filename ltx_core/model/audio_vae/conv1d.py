"""Dilated and transposed 1-D convolutions of the vocoders, channels-last (B, L, C)."""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn

# MLX's CPU kernels for dilated and transposed convolutions run at ~1 GFLOP/s (undilated
# convolutions and matmuls at ~200), so both are rewritten in terms of the fast ones below;
# the sums are the same, only their rounding order may differ.


def dilated_conv1d(x: mx.array, weight: mx.array, dilation: int) -> mx.array:
    """Unpadded stride-1 dilated conv of (B, L, C) as an undilated conv over ``dilation`` phases.

    Output t = m*d + r only reads inputs of phase r, so the phases are folded into the batch.
    """
    if dilation == 1:
        return mx.conv1d(x, weight)
    b, length, c = x.shape
    kernel, d = weight.shape[1], dilation
    out_len = length - d * (kernel - 1)
    per_phase = -(-length // d)
    x = mx.pad(x, [(0, 0), (0, per_phase * d - length), (0, 0)])
    x = x.reshape(b, per_phase, d, c).transpose(0, 2, 1, 3).reshape(b * d, per_phase, c)
    y = mx.conv1d(x, weight)
    y = y.reshape(b, d, y.shape[1], y.shape[2]).transpose(0, 2, 1, 3).reshape(b, -1, y.shape[2])
    return y[:, :out_len]


class SameConv1d(nn.Conv1d):
    """Stride-1 dilated Conv1d with PyTorch's ``padding="same"`` (extra zero, if odd, on the right)."""

    def __init__(self, channels: int, kernel: int, dilation: int):
        super().__init__(channels, channels, kernel, padding=0, dilation=dilation)
        self.same_dilation = dilation
        total = dilation * (kernel - 1)
        self.same_padding = (total // 2, total - total // 2)

    def __call__(self, x: mx.array) -> mx.array:
        y = dilated_conv1d(mx.pad(x, [(0, 0), self.same_padding, (0, 0)]), self.weight, self.same_dilation)
        return y + self.bias if "bias" in self else y


class Upsample1d(nn.ConvTranspose1d):
    """PyTorch ``ConvTranspose1d`` (weight here (out, kernel, in)) as one matmul plus overlap-add.

    Input i, tap k = q*stride + r lands on output (i + q)*stride + r - padding: for each q the
    (L, stride) block of products is shifted by q rows and summed, then rows are interleaved.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int, padding: int):
        super().__init__(in_channels, out_channels, kernel, stride=stride, padding=padding)
        self.geometry = (kernel, stride, padding)

    def __call__(self, x: mx.array) -> mx.array:
        kernel, stride, padding = self.geometry
        b, length, c_in = x.shape
        c_out = self.weight.shape[0]
        taps = -(-kernel // stride)
        # (B, L, out, kernel) products; transposing them is cheaper than transposing the weight.
        products = (x @ self.weight.reshape(c_out * kernel, c_in).T).reshape(b, length, c_out, kernel)
        products = mx.pad(products, [(0, 0), (0, 0), (0, 0), (0, taps * stride - kernel)])
        products = products.reshape(b, length, c_out, taps, stride).transpose(0, 1, 3, 4, 2)
        total = None
        for q in range(taps):
            shifted = mx.pad(products[:, :, q], [(0, 0), (q, taps - 1 - q), (0, 0), (0, 0)])
            total = shifted if total is None else total + shifted
        out_len = (length - 1) * stride + kernel - 2 * padding
        y = total.reshape(b, -1, c_out)[:, padding : padding + out_len]
        return y + self.bias
