"""BigVGAN v2 parts of the LTX-2.3 vocoder: SnakeBeta, anti-aliased activations, AMP blocks.

Channels-last: activations are (B, samples, C). The anti-aliasing filters are buffers of the
checkpoint (``*.filter``, one depthwise FIR shared by every channel), read from the file as
ltx-core does; they are applied as sums of shifted slices, which keeps them channels-last.
"""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn

from ltx_core.model.audio_vae.conv1d import SameConv1d

# Fixed in ltx-core's Activation1d: x2 up, SnakeBeta, x2 down, 12-tap kaiser-sinc filters.
ACTIVATION_RATIO = 2
ACTIVATION_KERNEL = 12
_SNAKE_EPS = 1e-9


def replicate_pad(x: mx.array, left: int, right: int) -> mx.array:
    parts = [mx.repeat(x[:, :1], left, axis=1)] if left else []
    parts.append(x)
    if right:
        parts.append(mx.repeat(x[:, -1:], right, axis=1))
    return mx.concatenate(parts, axis=1) if len(parts) > 1 else x


def fir_filter(x: mx.array, taps: mx.array, stride: int) -> mx.array:
    """Unpadded depthwise correlation ``y[t] = sum_k taps[k] x[t*stride + k]`` along axis 1."""
    kernel = taps.shape[0]
    out_len = (x.shape[1] - kernel) // stride + 1
    span = (out_len - 1) * stride + 1
    total = None
    for k in range(kernel):
        term = taps[k] * x[:, k : k + span : stride]
        total = term if total is None else total + term
    return total


def fir_upsample(x: mx.array, taps: mx.array, ratio: int) -> mx.array:
    """Depthwise ``conv_transpose1d`` with stride ``ratio`` along axis 1 (full output length).

    Input i and tap k = q*ratio + r land on output (i + q)*ratio + r, so each output phase r
    is a correlation of the input with taps r, r + ratio, ... and the phases interleave.
    """
    batch, length, channels = x.shape
    kernel = taps.shape[0]
    per_phase = -(-kernel // ratio)
    padded = mx.pad(x, [(0, 0), (per_phase - 1, per_phase - 1), (0, 0)])
    phases = []
    for r in range(ratio):
        total = None
        for q in range(per_phase):
            k = q * ratio + r
            if k >= kernel:
                continue
            start = per_phase - 1 - q
            term = taps[k] * padded[:, start : start + length + per_phase - 1]
            total = term if total is None else total + term
        phases.append(total)
    full = mx.stack(phases, axis=2).reshape(batch, ratio * (length + per_phase - 1), channels)
    return full[:, : (length - 1) * ratio + kernel]


class SnakeBeta(nn.Module):
    """``x + sin(x * e^alpha)^2 / (e^beta + eps)`` per channel (log-scale parameters)."""

    def __init__(self, channels: int):
        super().__init__()
        self.alpha = mx.zeros((channels,))
        self.beta = mx.zeros((channels,))

    def __call__(self, x: mx.array) -> mx.array:
        alpha, beta = mx.exp(self.alpha), mx.exp(self.beta)
        return x + mx.square(mx.sin(x * alpha)) * (1.0 / (beta + _SNAKE_EPS))


class _Filter(nn.Module):
    def __init__(self):
        super().__init__()
        self.filter = mx.zeros((1, 1, ACTIVATION_KERNEL))

    @property
    def taps(self) -> mx.array:
        return self.filter.reshape(-1)


class UpSample1d(_Filter):
    """x2 kaiser-sinc upsampling: replicate-pad, transposed FIR, times the ratio, crop."""

    def __call__(self, x: mx.array) -> mx.array:
        ratio, kernel = ACTIVATION_RATIO, ACTIVATION_KERNEL
        pad = kernel // ratio - 1
        left = pad * ratio + (kernel - ratio) // 2
        right = pad * ratio + (kernel - ratio + 1) // 2
        y = ratio * fir_upsample(replicate_pad(x, pad, pad), self.taps.astype(x.dtype), ratio)
        return y[:, left : y.shape[1] - right]


class LowPassFilter1d(_Filter):
    """x2 kaiser-sinc low-pass with stride 2 (replicate padding)."""

    def __call__(self, x: mx.array) -> mx.array:
        kernel = ACTIVATION_KERNEL
        even = int(kernel % 2 == 0)
        x = replicate_pad(x, kernel // 2 - even, kernel // 2)
        return fir_filter(x, self.taps.astype(x.dtype), ACTIVATION_RATIO)


class DownSample1d(nn.Module):
    def __init__(self):
        super().__init__()
        self.lowpass = LowPassFilter1d()

    def __call__(self, x: mx.array) -> mx.array:
        return self.lowpass(x)


class Activation1d(nn.Module):
    """Anti-aliased SnakeBeta: upsample x2, activate, low-pass and downsample x2."""

    def __init__(self, channels: int):
        super().__init__()
        self.act = SnakeBeta(channels)
        self.upsample = UpSample1d()
        self.downsample = DownSample1d()

    def __call__(self, x: mx.array) -> mx.array:
        return self.downsample(self.act(self.upsample(x)))


class AMPBlock1(nn.Module):
    """Three (activation -> dilated conv -> activation -> conv) residual steps."""

    def __init__(self, channels: int, kernel: int, dilations: list[int]):
        super().__init__()
        self.convs1 = [SameConv1d(channels, kernel, d) for d in dilations]
        self.convs2 = [SameConv1d(channels, kernel, 1) for _ in dilations]
        self.acts1 = [Activation1d(channels) for _ in dilations]
        self.acts2 = [Activation1d(channels) for _ in dilations]

    def __call__(self, x: mx.array) -> mx.array:
        for conv1, conv2, act1, act2 in zip(self.convs1, self.convs2, self.acts1, self.acts2):
            x = x + conv2(act2(conv1(act1(x))))
        return x
