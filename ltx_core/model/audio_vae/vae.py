"""Audio VAE encoder (log-mel -> normalised latent) and decoder (normalised latent -> log-mel).

Public tensors use the official layout: mel (B, channels, frames, mel_bins) and latent
(B, z_channels, frames, latent_mel_bins). Inside, activations are channels-last.
"""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn

from ltx_core.errors import InputShapeError
from ltx_core.model.audio_vae.config import AudioVAEConfig
from ltx_core.model.audio_vae.layers import (
    AttnBlock,
    CausalConv2d,
    Downsample,
    MidBlock,
    ResnetBlock,
    Stage,
    Upsample,
    make_norm,
)


class PerChannelStatistics(nn.Module):
    """Dataset statistics of the latent features, indexed like patchified tokens (channel, mel bin)."""

    def __init__(self, features: int):
        super().__init__()
        self.mean_of_means = mx.zeros((features,))
        self.std_of_means = mx.ones((features,))

    def _grid(self, stat: mx.array, latent: mx.array) -> mx.array:
        _, channels, _, bins = latent.shape
        return stat.reshape(channels, 1, bins).astype(latent.dtype)

    def normalize(self, latent: mx.array) -> mx.array:
        return (latent - self._grid(self.mean_of_means, latent)) / self._grid(self.std_of_means, latent)

    def un_normalize(self, latent: mx.array) -> mx.array:
        return latent * self._grid(self.std_of_means, latent) + self._grid(self.mean_of_means, latent)


def _attn_blocks(count: int, channels: int, resolution: int, config: AudioVAEConfig, enabled: bool) -> list[AttnBlock]:
    if not enabled or resolution not in config.attn_resolutions:
        return []
    return [AttnBlock(channels, config.norm_type) for _ in range(count)]


def _check_shape(what: str, x: mx.array, expected: tuple[int | str, ...]) -> None:
    """``expected`` holds sizes, or names for free axes; free axes must be non-empty."""
    ok = x.ndim == len(expected) and all(
        (size == e) if isinstance(e, int) else size >= 1 for e, size in zip(expected, x.shape)
    )
    if not ok:
        shown = "(" + ", ".join(str(e) for e in expected) + ")"
        raise InputShapeError(f"{what} must have shape {shown}, got {tuple(x.shape)}.")


class AudioEncoder(nn.Module):
    def __init__(self, config: AudioVAEConfig):
        super().__init__()
        self.config = config
        ch, mult, axis, norm = config.ch, config.ch_mult, config.causality_axis, config.norm_type
        self.per_channel_statistics = PerChannelStatistics(config.ch)
        self.conv_in = CausalConv2d(config.in_channels, ch, 3, axis)
        self.down = []
        resolution = config.resolution
        block_in = ch
        for level in range(config.num_resolutions):
            block_in = ch * ((1,) + tuple(mult))[level]
            block_out = ch * mult[level]
            blocks = []
            for _ in range(config.num_res_blocks):
                blocks.append(ResnetBlock(block_in, block_out, norm, axis))
                block_in = block_out
            stage = Stage(blocks, _attn_blocks(config.num_res_blocks, block_in, resolution, config, self.attention))
            if level != config.num_resolutions - 1:
                stage.downsample = Downsample(block_in, config.downsample_padding)
                resolution //= 2
            self.down.append(stage)
        self.mid = MidBlock(block_in, norm, axis, config.mid_block_add_attention and self.attention)
        self.norm_out = make_norm(block_in, norm)
        self.conv_out = CausalConv2d(block_in, 2 * config.z_channels, 3, axis)

    @property
    def attention(self) -> bool:
        return self.config.attn_type != "none"

    def __call__(self, mel: mx.array) -> mx.array:
        """Log-mel (B, in_channels, frames, mel_bins) -> normalised latent means (B, z, frames', bins')."""
        cfg = self.config
        _check_shape("the audio VAE encoder input (log-mel)", mel, ("batch", cfg.in_channels, "frames", cfg.mel_bins))
        if cfg.latent_frames(mel.shape[2]) < 1:
            shortest = next(t for t in range(1, 2**cfg.num_resolutions + 2) if cfg.latent_frames(t) >= 1)
            raise InputShapeError(
                f"the audio VAE encoder input must have shape (batch, {cfg.in_channels}, frames, {cfg.mel_bins}) "
                f"with at least {shortest} frames, got {tuple(mel.shape)}."
            )
        dtype = self.conv_in.conv.weight.dtype
        h = self.conv_in(mel.astype(dtype).transpose(0, 2, 3, 1))
        for stage in self.down:
            h = stage.run_blocks(h)
            if "downsample" in stage:
                h = stage.downsample(h)
        h = self.mid(h)
        h = self.conv_out(nn.silu(self.norm_out(h)))
        # conv_out yields means and log-variances; only the means are kept.
        means = h[..., : h.shape[-1] - h.shape[-1] // 2].transpose(0, 3, 1, 2)
        return self.per_channel_statistics.normalize(means)


class AudioDecoder(nn.Module):
    def __init__(self, config: AudioVAEConfig):
        super().__init__()
        self.config = config
        ch, mult, axis, norm = config.ch, config.ch_mult, config.causality_axis, config.norm_type
        block_in = ch * mult[-1]
        resolution = config.resolution // (2 ** (config.num_resolutions - 1))
        self.per_channel_statistics = PerChannelStatistics(config.ch)
        self.conv_in = CausalConv2d(config.z_channels, block_in, 3, axis)
        # The official decoder always uses vanilla attention: ``attn_type`` only applies to the encoder.
        self.mid = MidBlock(block_in, norm, axis, config.mid_block_add_attention)
        stages: list[Stage] = []
        for level in reversed(range(config.num_resolutions)):
            block_out = ch * mult[level]
            blocks, attn = [], []
            for _ in range(config.num_res_blocks + 1):
                blocks.append(ResnetBlock(block_in, block_out, norm, axis))
                block_in = block_out
                attn += _attn_blocks(1, block_in, resolution, config, True)
            stage = Stage(blocks, attn)
            if level != 0:
                stage.upsample = Upsample(block_in, axis)
                resolution *= 2
            stages.insert(0, stage)
        self.up = stages
        self.norm_out = make_norm(block_in, norm)
        self.conv_out = CausalConv2d(block_in, config.out_ch, 3, axis)

    def __call__(self, latent: mx.array) -> mx.array:
        """Normalised latent (B, z, T, bins) -> log-mel (B, out_ch, decoded_frames(T), mel_bins)."""
        cfg = self.config
        _check_shape("the audio latent", latent, ("batch", cfg.z_channels, "frames", cfg.latent_mel_bins))
        dtype = self.conv_in.conv.weight.dtype
        frames = latent.shape[2]
        h = self.per_channel_statistics.un_normalize(latent.astype(dtype)).transpose(0, 2, 3, 1)
        h = self.mid(self.conv_in(h))
        for level in reversed(range(cfg.num_resolutions)):
            stage = self.up[level]
            h = stage.run_blocks(h)
            if "upsample" in stage:
                h = stage.upsample(h)
        h = self.conv_out(nn.silu(self.norm_out(h)))
        return _fit(h.transpose(0, 3, 1, 2), cfg.decoded_frames(frames), cfg.mel_bins)


def _fit(mel: mx.array, frames: int, bins: int) -> mx.array:
    """Crop, then zero-pad, time and mel axes to the target size (the official output adjustment)."""
    mel = mel[:, :, :frames, :bins]
    pad_t, pad_f = frames - mel.shape[2], bins - mel.shape[3]
    if pad_t > 0 or pad_f > 0:
        mel = mx.pad(mel, [(0, 0), (0, 0), (0, max(pad_t, 0)), (0, max(pad_f, 0))])
    return mel
