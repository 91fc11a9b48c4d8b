"""LTX-2 latent upsampler (spatial x2, temporal x2 or both), channels-last inside.

Public tensors are (B, C, F, H, W). GroupNorm normalises each group of channels over all of
(F, H, W) in the 3-D model (as torch GroupNorm on a 5-D tensor), and per frame in the 2-D one.
"""

from __future__ import annotations

import math

import mlx.core as mx
import mlx.nn as nn

from ltx_core.components import cpu_winograd
from ltx_core.components.cpu_numpy import silu
from ltx_core.errors import InputShapeError
from ltx_core.model.upsampler.config import RATIONAL_SCALES, UpsamplerConfig
from ltx_core.model.video_vae.ops import PerChannelStatistics, depth_to_space

GROUPS = 32


class Conv(nn.Module):
    """Zero-padded ("same") 2-D or 3-D convolution with bias; weight (O, *kernel, I)."""

    def __init__(self, dims: int, in_channels: int, out_channels: int, kernel_size: int = 3):
        super().__init__()
        self.weight = mx.zeros((out_channels, *([kernel_size] * dims), in_channels))
        self.bias = mx.zeros((out_channels,))
        self.dims = dims
        self.padding = kernel_size // 2

    def __call__(self, x: mx.array) -> mx.array:
        winograd = self.dims == 3 and cpu_winograd.supported(x, self.weight, (1, 1, 1))
        if winograd and self.padding == 1:
            padding = cpu_winograd.Padding(1, 1, "zeros", "zeros")  # the CPU's Winograd path pads as it copies
            return cpu_winograd.padded_conv3d(x, self.weight, self.bias, padding, self._zero_pad)
        conv = mx.conv3d if self.dims == 3 else mx.conv2d
        return conv(x, self.weight, padding=self.padding) + self.bias

    @staticmethod
    def _zero_pad(x: mx.array) -> mx.array:
        return mx.pad(x, [(0, 0), (1, 1), (1, 1), (1, 1), (0, 0)])


def group_norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(GROUPS, channels, eps=1e-5, affine=True, pytorch_compatible=True)


class ResBlock(nn.Module):
    def __init__(self, channels: int, dims: int):
        super().__init__()
        self.conv1 = Conv(dims, channels, channels)
        self.norm1 = group_norm(channels)
        self.conv2 = Conv(dims, channels, channels)
        self.norm2 = group_norm(channels)

    def __call__(self, x: mx.array) -> mx.array:
        h = silu(self.norm1(self.conv1(x)))
        h = self.norm2(self.conv2(h))
        return silu(h + x)


def _per_frame(fn, x: mx.array) -> mx.array:
    """Apply a 2-D op to every frame of (B, F, H, W, C); (N, H, W, C) frames pass straight through."""
    if x.ndim == 4:
        return fn(x)
    b, f = x.shape[:2]
    y = fn(x.reshape(b * f, *x.shape[2:]))
    return y.reshape(b, f, *y.shape[1:])


def _shuffle_frames(conv: Conv, x: mx.array, factor: int) -> mx.array:
    """Per-frame conv, then pixel shuffle of height and width by ``factor``."""
    return _per_frame(lambda y: depth_to_space(conv(y)[:, None], (1, factor, factor))[:, 0], x)


class PixelShuffleUpsampler(nn.Module):
    """Conv to ``prod(factors)`` x channels, then depth-to-space by ``factors`` (time, height, width).

    The conv is ``layers[0]`` so its file keys ``upsampler.0.*`` map by one renaming."""

    def __init__(self, channels: int, factors: tuple[int, int, int], conv_dims: int):
        super().__init__()
        self.factors = factors
        self.conv_dims = conv_dims
        self.layers = [Conv(conv_dims, channels, math.prod(factors) * channels)]

    def __call__(self, x: mx.array) -> mx.array:
        if self.conv_dims == 2:
            return _shuffle_frames(self.layers[0], x, self.factors[1])
        return depth_to_space(self.layers[0](x), self.factors)


class BlurDownsample(nn.Module):
    """Depthwise 5x5 binomial blur with stride ``stride`` on each frame (identity for stride 1)."""

    def __init__(self, stride: int, kernel_size: int = 5):
        super().__init__()
        self.stride = stride
        self.kernel_size = kernel_size
        k = mx.array([math.comb(kernel_size - 1, i) for i in range(kernel_size)], dtype=mx.float32)
        k2d = k[:, None] * k[None, :]
        self._kernel = k2d / k2d.sum()  # private: not a parameter unless the file stores one

    def use_kernel(self, kernel: mx.array) -> None:
        """Take the file's ``blur_down.kernel`` (1, 1, k, k) instead of the binomial one."""
        if tuple(kernel.shape) != (1, 1, self.kernel_size, self.kernel_size):
            expected = (1, 1, self.kernel_size, self.kernel_size)
            raise InputShapeError(f"blur_down.kernel must have shape {expected}, got {tuple(kernel.shape)}.")
        self._kernel = kernel.reshape(self.kernel_size, self.kernel_size)

    def __call__(self, x: mx.array) -> mx.array:
        if self.stride == 1:
            return x
        c = x.shape[-1]
        weight = mx.broadcast_to(self._kernel[None, :, :, None], (c, self.kernel_size, self.kernel_size, 1))
        weight = weight.astype(x.dtype)
        return _per_frame(
            lambda y: mx.conv2d(y, weight, stride=self.stride, padding=self.kernel_size // 2, groups=c), x
        )


class RationalResampler(nn.Module):
    """Spatial scale num/den: per-frame conv + pixel shuffle by num, then blur-downsample by den."""

    def __init__(self, channels: int, scale: float):
        super().__init__()
        self.num, self.den = RATIONAL_SCALES[float(scale)]
        self.conv = Conv(2, channels, self.num**2 * channels)
        self.blur_down = BlurDownsample(self.den)

    def __call__(self, x: mx.array) -> mx.array:
        return self.blur_down(_shuffle_frames(self.conv, x, self.num))


class LatentUpsampler(nn.Module):
    """conv, GroupNorm, SiLU, res blocks, upsample, res blocks, conv."""

    def __init__(self, config: UpsamplerConfig):
        super().__init__()
        self.config = config
        dims, mid = config.dims, config.mid_channels
        self.initial_conv = Conv(dims, config.in_channels, mid)
        self.initial_norm = group_norm(mid)
        self.res_blocks = [ResBlock(mid, dims) for _ in range(config.num_blocks_per_stage)]
        if config.spatial_upsample and config.temporal_upsample:
            self.upsampler = PixelShuffleUpsampler(mid, (2, 2, 2), 3)
        elif config.spatial_upsample and config.rational_resampler:
            self.upsampler = RationalResampler(mid, config.spatial_scale)
        elif config.spatial_upsample:
            self.upsampler = PixelShuffleUpsampler(mid, (1, 2, 2), 2)
        else:
            self.upsampler = PixelShuffleUpsampler(mid, (2, 1, 1), 3)
        self.post_upsample_res_blocks = [ResBlock(mid, dims) for _ in range(config.num_blocks_per_stage)]
        self.final_conv = Conv(dims, mid, config.in_channels)

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        b, c, f, h, w = shape
        if self.config.temporal_upsample:
            f = 2 * f - 1
        if self.config.spatial_upsample:
            if isinstance(self.upsampler, RationalResampler):
                num, den = self.upsampler.num, self.upsampler.den
                h, w = (h * num - 1) // den + 1, (w * num - 1) // den + 1
            else:
                h, w = 2 * h, 2 * w
        return (b, c, f, h, w)

    def __call__(self, latent: mx.array) -> mx.array:
        """(B, C, F, H, W) un-normalised latent -> upsampled (temporal: 2F-1 frames)."""
        c = self.config.in_channels
        if latent.ndim != 5 or latent.shape[1] != c:
            raise InputShapeError(
                f"latent upsampler: expected a latent of shape (B, {c}, F, H, W), got {tuple(latent.shape)}."
            )
        x = latent.transpose(0, 2, 3, 4, 1)
        if self.config.dims == 2:
            x = _per_frame(self._forward, x)
        else:
            x = self._forward(x)
        return x.transpose(0, 4, 1, 2, 3)

    def _forward(self, x: mx.array) -> mx.array:
        x = silu(self.initial_norm(self.initial_conv(x)))
        for block in self.res_blocks:
            x = block(x)
        x = self.upsampler(x)
        if self.config.temporal_upsample:
            # The first latent frame stands for one pixel frame: drop its duplicate.
            x = x[:, 1:]
        for block in self.post_upsample_res_blocks:
            x = block(x)
        return self.final_conv(x)


def upsample_video(latent: mx.array, statistics: PerChannelStatistics, upsampler: LatentUpsampler) -> mx.array:
    """Un-normalise with the video VAE's per-channel statistics, upsample, normalise again.

    ``statistics`` may be a PerChannelStatistics or anything holding one as
    ``per_channel_statistics`` (the video encoder or decoder).
    """
    stats = getattr(statistics, "per_channel_statistics", statistics)
    return stats.normalize(upsampler(stats.un_normalize(latent)))
