"""Building blocks of the audio VAE, channels-last: activations are (B, time, mel, C).

The official model works on (B, C, time, mel) and calls the time axis "height" and the mel
axis "width"; causal padding follows the config's ``causality_axis`` in those terms.
"""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn

PIXEL_NORM_EPS = 1e-6
GROUP_NORM_GROUPS = 32
GROUP_NORM_EPS = 1e-6


class PixelNorm(nn.Module):
    """RMS normalisation over channels at every (time, mel) location; no parameters."""

    def __call__(self, x: mx.array) -> mx.array:
        return x / mx.sqrt(mx.mean(x * x, axis=-1, keepdims=True) + PIXEL_NORM_EPS)


def make_norm(channels: int, norm_type: str) -> nn.Module:
    if norm_type == "pixel":
        return PixelNorm()
    return nn.GroupNorm(GROUP_NORM_GROUPS, channels, eps=GROUP_NORM_EPS, affine=True, pytorch_compatible=True)


def conv_padding(kernel: int, causality_axis: str | None) -> tuple[tuple[int, int], tuple[int, int]]:
    """(before, after) padding of the (time, mel) axes for a stride-1 square kernel."""
    total = kernel - 1
    centred = (total // 2, total - total // 2)
    if causality_axis == "height":
        return (total, 0), centred
    if causality_axis in ("width", "width-compatibility"):
        return centred, (total, 0)
    return centred, centred


def pad_time_mel(x: mx.array, time: tuple[int, int], mel: tuple[int, int]) -> mx.array:
    if time == (0, 0) and mel == (0, 0):
        return x
    return mx.pad(x, [(0, 0), time, mel, (0, 0)])


class CausalConv2d(nn.Module):
    """Stride-1 convolution zero-padded so that no output looks ahead along the causal axis."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, causality_axis: str | None):
        super().__init__()
        self.padding = conv_padding(kernel, causality_axis)
        self.conv = nn.Conv2d(in_channels, out_channels, kernel, stride=1, padding=0, bias=True)

    def __call__(self, x: mx.array) -> mx.array:
        return self.conv(pad_time_mel(x, *self.padding))


class ResnetBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, norm_type: str, causality_axis: str | None):
        super().__init__()
        self.norm1 = make_norm(in_channels, norm_type)
        self.conv1 = CausalConv2d(in_channels, out_channels, 3, causality_axis)
        self.norm2 = make_norm(out_channels, norm_type)
        self.conv2 = CausalConv2d(out_channels, out_channels, 3, causality_axis)
        if in_channels != out_channels:
            self.nin_shortcut = CausalConv2d(in_channels, out_channels, 1, causality_axis)

    def __call__(self, x: mx.array) -> mx.array:
        h = self.conv1(nn.silu(self.norm1(x)))
        h = self.conv2(nn.silu(self.norm2(h)))
        if "nin_shortcut" in self:
            x = self.nin_shortcut(x)
        return x + h


class AttnBlock(nn.Module):
    """Single-head self-attention over all (time, mel) positions; not causal, as officially."""

    def __init__(self, channels: int, norm_type: str):
        super().__init__()
        self.norm = make_norm(channels, norm_type)
        self.q = nn.Conv2d(channels, channels, 1)
        self.k = nn.Conv2d(channels, channels, 1)
        self.v = nn.Conv2d(channels, channels, 1)
        self.proj_out = nn.Conv2d(channels, channels, 1)

    def __call__(self, x: mx.array) -> mx.array:
        b, t, f, c = x.shape
        h = self.norm(x)
        q = self.q(h).reshape(b, t * f, c)
        k = self.k(h).reshape(b, t * f, c)
        v = self.v(h).reshape(b, t * f, c)
        weights = mx.softmax((q @ k.transpose(0, 2, 1)) * (c**-0.5), axis=-1)
        return x + self.proj_out((weights @ v).reshape(b, t, f, c))


class Upsample(nn.Module):
    """Nearest 2x in time and mel, a causal convolution, then drop the first causal-axis element.

    Dropping the first (not the last) element undoes the encoder's causal padding and keeps
    a causal length of 1 + 2n.
    """

    def __init__(self, channels: int, causality_axis: str | None):
        super().__init__()
        self.causality_axis = causality_axis
        self.conv = CausalConv2d(channels, channels, 3, causality_axis)

    def __call__(self, x: mx.array) -> mx.array:
        x = mx.repeat(mx.repeat(x, 2, axis=1), 2, axis=2)
        x = self.conv(x)
        if self.causality_axis == "height":
            return x[:, 1:]
        if self.causality_axis == "width":
            return x[:, :, 1:]
        return x


class Downsample(nn.Module):
    """Stride-2 3x3 convolution after asymmetric zero padding (see ``downsample_padding``)."""

    def __init__(self, channels: int, padding: tuple[tuple[int, int], tuple[int, int]]):
        super().__init__()
        self.padding = padding
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=0)

    def __call__(self, x: mx.array) -> mx.array:
        return self.conv(pad_time_mel(x, *self.padding))


class Stage(nn.Module):
    """One resolution level: residual blocks, optional attention after each, optional resampler."""

    def __init__(self, blocks: list[ResnetBlock], attn: list[AttnBlock]):
        super().__init__()
        self.block = blocks
        self.attn = attn

    def run_blocks(self, h: mx.array) -> mx.array:
        for index, block in enumerate(self.block):
            h = block(h)
            if self.attn:
                h = self.attn[index](h)
        return h


class MidBlock(nn.Module):
    def __init__(self, channels: int, norm_type: str, causality_axis: str | None, attention: bool):
        super().__init__()
        self.block_1 = ResnetBlock(channels, channels, norm_type, causality_axis)
        if attention:
            self.attn_1 = AttnBlock(channels, norm_type)
        self.block_2 = ResnetBlock(channels, channels, norm_type, causality_axis)

    def __call__(self, h: mx.array) -> mx.array:
        h = self.block_1(h)
        if "attn_1" in self:
            h = self.attn_1(h)
        return self.block_2(h)
