"""Residual blocks and space/depth resamplers of the video VAE (channels-last)."""

from __future__ import annotations

import math

import mlx.core as mx
import mlx.nn as nn

from ltx_core.model.transformer.embeddings import TimestepEmbedding
from ltx_core.model.video_vae.ops import CausalConv3d, Conv3d, depth_to_space, make_norm, norm_silu_conv, space_to_depth


class TimeEmbedder(nn.Module):
    """PixArt-alpha timestep embedding without size embedding: sinusoid(256) -> linear, SiLU, linear."""

    def __init__(self, dim: int):
        super().__init__()
        self.timestep_embedder = TimestepEmbedding(dim)

    def __call__(self, timestep: mx.array, dtype: mx.Dtype) -> mx.array:
        return self.timestep_embedder(timestep.reshape(-1), dtype)


class ResnetBlock3D(nn.Module):
    """norm, (AdaLN), SiLU, conv, (noise), norm, (AdaLN), SiLU, conv, plus a shortcut."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        norm_layer: str,
        padding_mode: str,
        inject_noise: bool = False,
        timestep_conditioning: bool = False,
    ):
        super().__init__()
        self.norm1 = make_norm(norm_layer, in_channels)
        self.conv1 = CausalConv3d(in_channels, out_channels, 3, padding_mode=padding_mode)
        self.norm2 = make_norm(norm_layer, out_channels)
        self.conv2 = CausalConv3d(out_channels, out_channels, 3, padding_mode=padding_mode)
        self.inject_noise = inject_noise
        if inject_noise:
            # ltx-core gives both scales in_channels entries (they only fit when in == out).
            self.per_channel_scale1 = mx.zeros((in_channels, 1, 1))
            self.per_channel_scale2 = mx.zeros((in_channels, 1, 1))
        self.has_shortcut = in_channels != out_channels
        if self.has_shortcut:
            self.conv_shortcut = Conv3d(in_channels, out_channels, 1)
            self.norm3 = nn.GroupNorm(1, in_channels, eps=1e-6, affine=True, pytorch_compatible=True)
        self.timestep_conditioning = timestep_conditioning
        if timestep_conditioning:
            self.scale_shift_table = mx.zeros((4, in_channels))

    def __call__(
        self,
        x: mx.array,
        causal: bool = True,
        timestep_embed: mx.array | None = None,
        key: mx.array | None = None,
    ) -> mx.array:
        scale1 = shift1 = scale2 = shift2 = None
        if self.timestep_conditioning:
            if timestep_embed is None:
                raise ValueError("this block is timestep-conditioned: pass the timestep embedding")
            batch = x.shape[0]
            ada = self.scale_shift_table[None].astype(x.dtype) + timestep_embed.reshape(batch, 4, -1)
            shift1, scale1, shift2, scale2 = (ada[:, i].reshape(batch, 1, 1, 1, -1) for i in range(4))
        h = norm_silu_conv(self.norm1, self.conv1, x, scale1, shift1, causal)
        if self.inject_noise:
            keys = mx.random.split(key if key is not None else mx.random.key(0))
            h = self._spatial_noise(h, self.per_channel_scale1, keys[0])
        h = norm_silu_conv(self.norm2, self.conv2, h, scale2, shift2, causal)
        if self.inject_noise:
            h = self._spatial_noise(h, self.per_channel_scale2, keys[1])
        if self.has_shortcut:
            x = self.conv_shortcut(self.norm3(x))
        return x + h

    @staticmethod
    def _spatial_noise(h: mx.array, scale: mx.array, key: mx.array) -> mx.array:
        # One (H, W) noise map shared by every frame, batch item and channel, scaled per channel.
        noise = mx.random.normal(h.shape[2:4], dtype=h.dtype, key=key)
        return h + (noise[..., None] * scale.reshape(-1).astype(h.dtype))[None, None]


class UNetMidBlock3D(nn.Module):
    """``num_layers`` same-width residual blocks sharing one timestep embedding."""

    def __init__(
        self,
        channels: int,
        num_layers: int,
        norm_layer: str,
        padding_mode: str,
        inject_noise: bool = False,
        timestep_conditioning: bool = False,
    ):
        super().__init__()
        self.timestep_conditioning = timestep_conditioning
        if timestep_conditioning:
            self.time_embedder = TimeEmbedder(channels * 4)
        self.res_blocks = [
            ResnetBlock3D(channels, channels, norm_layer, padding_mode, inject_noise, timestep_conditioning)
            for _ in range(num_layers)
        ]

    def __call__(
        self, x: mx.array, causal: bool = True, timestep: mx.array | None = None, key: mx.array | None = None
    ) -> mx.array:
        embed = None
        if self.timestep_conditioning:
            if timestep is None:
                raise ValueError("this block is timestep-conditioned: pass a timestep")
            embed = self.time_embedder(timestep, x.dtype)
        keys = mx.random.split(key, len(self.res_blocks)) if key is not None else [None] * len(self.res_blocks)
        for block, block_key in zip(self.res_blocks, keys):
            x = block(x, causal=causal, timestep_embed=embed, key=block_key)
        return x


class SpaceToDepthDownsample(nn.Module):
    """Causal conv then space-to-depth, plus a space-to-depth of the input averaged over channel groups."""

    def __init__(self, in_channels: int, out_channels: int, stride: tuple[int, int, int], padding_mode: str):
        super().__init__()
        self.stride = stride
        self.group_size = in_channels * math.prod(stride) // out_channels
        self.conv = CausalConv3d(in_channels, out_channels // math.prod(stride), 3, padding_mode=padding_mode)

    def __call__(self, x: mx.array, causal: bool = True) -> mx.array:
        if self.stride[0] == 2:
            x = mx.concatenate([x[:, :1], x], axis=1)
        skip = space_to_depth(x, self.stride)
        skip = skip.reshape(*skip.shape[:-1], -1, self.group_size).mean(axis=-1)
        return space_to_depth(self.conv(x, causal=causal), self.stride) + skip


class DepthToSpaceUpsample(nn.Module):
    """Causal conv then depth-to-space (dropping the first frame after a time upsampling)."""

    def __init__(
        self,
        in_channels: int,
        stride: tuple[int, int, int],
        padding_mode: str,
        residual: bool = False,
        reduction: int = 1,
    ):
        super().__init__()
        self.stride = stride
        self.residual = residual
        self.repeats = math.prod(stride) // reduction
        out_channels = math.prod(stride) * in_channels // reduction
        self.conv = CausalConv3d(in_channels, out_channels, 3, padding_mode=padding_mode)

    def __call__(self, x: mx.array, causal: bool = True) -> mx.array:
        if self.residual:
            skip = depth_to_space(x, self.stride)
            skip = mx.tile(skip, (1, 1, 1, 1, self.repeats))
            if self.stride[0] == 2:
                skip = skip[:, 1:]
        x = depth_to_space(self.conv(x, causal=causal), self.stride)
        if self.stride[0] == 2:
            x = x[:, 1:]
        return x + skip if self.residual else x
