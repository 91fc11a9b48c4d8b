"""Building blocks of the video VAE, channels-last: tensors are (B, F, H, W, C) inside.

PyTorch conv weights (O, I, kT, kH, kW) are stored here as (O, kT, kH, kW, I).
"""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn

from ltx_core.components import cpu_winograd
from ltx_core.components.cpu_numpy import PixelNormSilu, pixel_norm_silu, silu


def pad_axis(x: mx.array, axis: int, pad: int, mode: str) -> mx.array:
    """Pad ``pad`` elements on both sides of ``axis`` as ``torch.nn.Conv3d(padding_mode=mode)`` does."""
    if pad == 0:
        return x
    n = x.shape[axis]
    if mode == "zeros":
        widths = [(0, 0)] * x.ndim
        widths[axis] = (pad, pad)
        return mx.pad(x, widths)
    if mode == "reflect":
        before, after = list(range(pad, 0, -1)), list(range(n - 2, n - 2 - pad, -1))
    elif mode == "replicate":
        before, after = [0] * pad, [n - 1] * pad
    elif mode == "circular":
        before, after = list(range(n - pad, n)), list(range(pad))
    else:
        raise ValueError(f"unknown padding mode {mode!r}")
    index = mx.array(before + list(range(n)) + after)
    return mx.take(x, index, axis=axis)


class CausalConv3d(nn.Module):
    """3-D conv whose time padding repeats the first frame (causal) or the edge frames
    (non-causal); space is padded by ``kernel // 2`` with the given mode."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: tuple[int, int, int] = (1, 1, 1),
        padding_mode: str = "zeros",
    ):
        super().__init__()
        self.conv = Conv3d(in_channels, out_channels, kernel_size, stride)
        self.time_kernel = kernel_size
        self.space_pad = kernel_size // 2
        self.padding_mode = padding_mode

    def __call__(self, x: mx.array, causal: bool = True, prologue: PixelNormSilu | None = None) -> mx.array:
        """``prologue``: a norm and SiLU applied to ``x`` first (by the CPU's Winograd path as it
        copies its input)."""
        conv = self.conv
        winograd = cpu_winograd.supported(x, conv.weight, conv.stride)
        if winograd and self.time_kernel == 3 and self.space_pad == 1:
            before, after = (2, 0) if causal else (1, 1)
            padding = cpu_winograd.Padding(before, after, "replicate", self.padding_mode)
            if cpu_winograd.supports_padding(x, padding):  # the CPU's Winograd path pads as it copies
                pad = lambda t: self.pad(t, causal)  # noqa: E731
                return cpu_winograd.padded_conv3d(x, conv.weight, conv.bias, padding, pad, prologue)
        if prologue is not None:
            x = pixel_norm_silu(x, prologue.eps, prologue.scale, prologue.shift)
        return conv(self.pad(x, causal))

    def pad(self, x: mx.array, causal: bool = True) -> mx.array:
        k = self.time_kernel
        if k > 1:
            if causal:
                x = mx.concatenate([mx.repeat(x[:, :1], k - 1, axis=1), x], axis=1)
            else:
                half = (k - 1) // 2
                x = mx.concatenate([mx.repeat(x[:, :1], half, axis=1), x, mx.repeat(x[:, -1:], half, axis=1)], axis=1)
        x = pad_axis(x, 2, self.space_pad, self.padding_mode)
        return pad_axis(x, 3, self.space_pad, self.padding_mode)


class Conv3d(nn.Module):
    """Unpadded 3-D convolution with bias (the padding is done by the caller)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: tuple[int, int, int] = (1, 1, 1)):
        super().__init__()
        k = kernel_size
        self.weight = mx.zeros((out_channels, k, k, k, in_channels))
        self.bias = mx.zeros((out_channels,))
        self.stride = tuple(stride)

    def __call__(self, x: mx.array) -> mx.array:
        if self.weight.shape[1:4] == (1, 1, 1) and self.stride == (1, 1, 1):
            w = self.weight.reshape(self.weight.shape[0], -1)
            return x @ w.T + self.bias
        return mx.conv3d(x, self.weight, stride=self.stride) + self.bias


class PixelNorm(nn.Module):
    """``x / sqrt(mean(x^2 over channels) + eps)``."""

    def __init__(self, eps: float = 1e-8):
        super().__init__()
        self.eps = eps

    def __call__(self, x: mx.array) -> mx.array:
        return x * mx.rsqrt(mx.mean(mx.square(x), axis=-1, keepdims=True) + self.eps)


def norm_silu_conv(
    norm: nn.Module,
    conv: CausalConv3d,
    x: mx.array,
    scale: mx.array | None = None,
    shift: mx.array | None = None,
    causal: bool = True,
) -> mx.array:
    """``conv(silu(norm(x) * (1 + scale) + shift))`` (no modulation when ``scale`` is None). The
    pixel norm is the convolution's prologue: done in its input copy on the CPU's Winograd path."""
    if isinstance(norm, PixelNorm):
        return conv(x, causal=causal, prologue=PixelNormSilu(norm.eps, scale, shift))
    h = norm(x)
    if scale is not None:
        h = h * (1 + scale) + shift
    return conv(silu(h), causal=causal)


def make_norm(norm_layer: str, channels: int, groups: int = 32, eps: float = 1e-6) -> nn.Module:
    """Pixel norm, or GroupNorm over (F, H, W) and the channels of each group (as on a 5-D torch tensor)."""
    if norm_layer == "group_norm":
        return nn.GroupNorm(groups, channels, eps=eps, affine=True, pytorch_compatible=True)
    return PixelNorm()


class PerChannelStatistics(nn.Module):
    """Latent normalisation: ``(x - mean-of-means) / std-of-means`` per channel."""

    def __init__(self, channels: int):
        super().__init__()
        self.mean_of_means = mx.zeros((channels,))
        self.std_of_means = mx.ones((channels,))

    def normalize(self, x: mx.array, channel_axis: int = 1) -> mx.array:
        shape = _channel_shape(x.ndim, channel_axis)
        mean, std = self.mean_of_means.reshape(shape), self.std_of_means.reshape(shape)
        return (x - mean.astype(x.dtype)) / std.astype(x.dtype)

    def un_normalize(self, x: mx.array, channel_axis: int = 1) -> mx.array:
        shape = _channel_shape(x.ndim, channel_axis)
        mean, std = self.mean_of_means.reshape(shape), self.std_of_means.reshape(shape)
        return x * std.astype(x.dtype) + mean.astype(x.dtype)


def _channel_shape(ndim: int, axis: int) -> list[int]:
    shape = [1] * ndim
    shape[axis] = -1
    return shape


def patchify(x: mx.array, patch: int) -> mx.array:
    """Space-to-depth (B, F, H*q, W*r, C) -> (B, F, H, W, C*r*q); channel order (c, r, q) as ltx-core."""
    if patch == 1:
        return x
    b, f, h, w, c = x.shape
    x = x.reshape(b, f, h // patch, patch, w // patch, patch, c)
    x = x.transpose(0, 1, 2, 4, 6, 5, 3)
    return x.reshape(b, f, h // patch, w // patch, c * patch * patch)


def unpatchify(x: mx.array, patch: int) -> mx.array:
    """Inverse of :func:`patchify`."""
    if patch == 1:
        return x
    b, f, h, w, cp = x.shape
    c = cp // (patch * patch)
    x = x.reshape(b, f, h, w, c, patch, patch)  # (..., c, r, q)
    x = x.transpose(0, 1, 2, 6, 3, 5, 4)
    return x.reshape(b, f, h * patch, w * patch, c)


def space_to_depth(x: mx.array, stride: tuple[int, int, int]) -> mx.array:
    """(B, F*p1, H*p2, W*p3, C) -> (B, F, H, W, C*p1*p2*p3), channel order (c, p1, p2, p3)."""
    p1, p2, p3 = stride
    b, f, h, w, c = x.shape
    x = x.reshape(b, f // p1, p1, h // p2, p2, w // p3, p3, c)
    x = x.transpose(0, 1, 3, 5, 7, 2, 4, 6)
    return x.reshape(b, f // p1, h // p2, w // p3, c * p1 * p2 * p3)


def depth_to_space(x: mx.array, stride: tuple[int, int, int]) -> mx.array:
    """Inverse of :func:`space_to_depth`."""
    p1, p2, p3 = stride
    b, f, h, w, cp = x.shape
    c = cp // (p1 * p2 * p3)
    x = x.reshape(b, f, h, w, c, p1, p2, p3)
    x = x.transpose(0, 1, 5, 2, 6, 3, 7, 4)
    return x.reshape(b, f * p1, h * p2, w * p3, c)
