"""Video VAE encoder: pixels (B, 3, F, H, W) in [-1, 1] -> normalised latent means."""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn

from ltx_core.errors import InputShapeError
from ltx_core.model.video_vae.blocks import ResnetBlock3D, SpaceToDepthDownsample, UNetMidBlock3D
from ltx_core.model.video_vae.config import ENCODER_BLOCKS, VideoVAEConfig, block_params
from ltx_core.model.video_vae.ops import CausalConv3d, PerChannelStatistics, make_norm, norm_silu_conv, patchify


def _encoder_block(name: str, params: dict, channels: int, config: VideoVAEConfig) -> tuple[nn.Module, int]:
    norm, pad = config.norm_layer, config.encoder_padding_mode
    stride = ENCODER_BLOCKS[name]
    if name == "res_x":
        return UNetMidBlock3D(channels, params["num_layers"], norm, pad), channels
    if name == "res_x_y":
        out = channels * params.get("multiplier", 2)
        return ResnetBlock3D(channels, out, norm, pad), out
    if name in ("compress_time", "compress_space", "compress_all"):
        return CausalConv3d(channels, channels, 3, stride, pad), channels
    if name == "compress_all_x_y":
        out = channels * params.get("multiplier", 2)
        return CausalConv3d(channels, out, 3, stride, pad), out
    out = channels * params.get("multiplier", 2)  # the *_res space-to-depth blocks
    return SpaceToDepthDownsample(channels, out, stride, pad), out


class VideoEncoder(nn.Module):
    """Patchify, causal conv, the config's down blocks, norm, SiLU, conv; the means are normalised
    with the per-channel statistics. The log-variance channel(s) are dropped."""

    def __init__(self, config: VideoVAEConfig):
        super().__init__()
        self.config = config
        self.latent_channels = config.latent_channels
        self.scale = config.encoder_scale()
        self.per_channel_statistics = PerChannelStatistics(config.latent_channels)
        pad = config.encoder_padding_mode
        channels = config.latent_channels
        self.conv_in = CausalConv3d(config.in_channels * config.patch_size**2, channels, 3, padding_mode=pad)
        self.down_blocks = []
        for name, params in config.encoder_blocks:
            block, channels = _encoder_block(name, block_params(params), channels, config)
            self.down_blocks.append(block)
        self.conv_norm_out = make_norm(config.norm_layer, channels)
        out = config.latent_channels * 2 if config.latent_log_var == "per_channel" else config.latent_channels + 1
        self.conv_out = CausalConv3d(channels, out, 3, padding_mode=pad)

    def check_input(self, pixels: mx.array) -> None:
        c = self.config.in_channels
        ft, fh, fw = self.scale
        expected = f"(B, {c}, F, H, W) with F = {ft}k+1 and H, W multiples of {fh} and {fw}"
        if pixels.ndim != 5 or pixels.shape[1] != c:
            raise InputShapeError(f"video encoder: expected pixels of shape {expected}, got {tuple(pixels.shape)}.")
        _, _, f, h, w = pixels.shape
        if (f - 1) % ft != 0 or h % fh != 0 or w % fw != 0:
            raise InputShapeError(
                f"video encoder: expected pixels of shape {expected}, got {tuple(pixels.shape)} "
                f"(frames must be {ft}k+1: e.g. {ft * ((f - 1) // ft) + 1} or {ft * ((f - 1) // ft + 1) + 1})."
            )

    def __call__(self, pixels: mx.array) -> mx.array:
        """(B, C, F, H, W) pixels -> (B, latent_channels, F', H', W') normalised latent."""
        self.check_input(pixels)
        x = patchify(pixels.transpose(0, 2, 3, 4, 1), self.config.patch_size)
        x = self.conv_in(x)
        for block in self.down_blocks:
            x = block(x)
        x = norm_silu_conv(self.conv_norm_out, self.conv_out, x)
        means = x[..., : self.latent_channels]
        return self.per_channel_statistics.normalize(means, channel_axis=-1).transpose(0, 4, 1, 2, 3)
