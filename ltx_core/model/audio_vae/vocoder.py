"""HiFi-GAN style vocoder of LTX-2: stereo log-mel (B, 2, frames, 64) -> waveform (B, 2, samples).

LTX-2.0: HiFi-GAN residual blocks with LeakyReLU, tanh at the end. LTX-2.3 (inside
``VocoderWithBWE``): BigVGAN v2 AMP blocks with anti-aliased SnakeBeta, clamp or nothing at the end.

Channels-last inside: activations are (B, samples, C).
"""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn

from ltx_core.errors import InputShapeError
from ltx_core.model.audio_vae.bigvgan import Activation1d, AMPBlock1
from ltx_core.model.audio_vae.config import VOCODER_IN_CHANNELS, VOCODER_OUT_CHANNELS, VocoderConfig
from ltx_core.model.audio_vae.conv1d import SameConv1d, Upsample1d, dilated_conv1d

# Slope of the LeakyReLU before every upsampling layer and inside the residual blocks
# (official LRELU_SLOPE); the one activation after the last block is torch's default, 0.01.
LRELU_SLOPE = 0.1
POST_LRELU_SLOPE = 0.01
STEREO = 2
__all__ = ["LRELU_SLOPE", "POST_LRELU_SLOPE", "ResBlock1", "SameConv1d", "Upsample1d", "Vocoder", "dilated_conv1d"]


class ResBlock1(nn.Module):
    def __init__(self, channels: int, kernel: int, dilations: list[int]):
        super().__init__()
        self.convs1 = [SameConv1d(channels, kernel, d) for d in dilations]
        self.convs2 = [SameConv1d(channels, kernel, 1) for _ in dilations]

    def __call__(self, x: mx.array) -> mx.array:
        for conv1, conv2 in zip(self.convs1, self.convs2):
            xt = conv1(nn.leaky_relu(x, LRELU_SLOPE))
            x = x + conv2(nn.leaky_relu(xt, LRELU_SLOPE))
        return x


class Vocoder(nn.Module):
    def __init__(self, config: VocoderConfig):
        super().__init__()
        self.config = config
        self.conv_pre = nn.Conv1d(VOCODER_IN_CHANNELS, config.upsample_initial_channel, 7, padding=3)
        self.ups = [
            Upsample1d(config.channels(i), config.channels(i + 1), kernel, rate, (kernel - rate) // 2)
            for i, (rate, kernel) in enumerate(zip(config.upsample_rates, config.upsample_kernel_sizes))
        ]
        block = AMPBlock1 if config.is_amp else ResBlock1
        self.resblocks = [
            block(config.channels(i + 1), kernel, dilations)
            for i in range(len(config.upsample_rates))
            for kernel, dilations in zip(config.resblock_kernel_sizes, config.resblock_dilation_sizes)
        ]
        final_channels = config.channels(len(config.upsample_rates))
        if config.is_amp:
            self.act_post = Activation1d(final_channels)
        self.conv_post = nn.Conv1d(final_channels, VOCODER_OUT_CHANNELS, 7, padding=3, bias=config.use_bias_at_final)

    @property
    def output_sampling_rate(self) -> int:
        return self.config.output_sampling_rate

    @property
    def mel_bins(self) -> int:
        return VOCODER_IN_CHANNELS // STEREO

    def output_length(self, frames: int) -> int:
        """Samples produced for ``frames`` mel frames (each transposed conv maps L to L*rate + k-rate-2p)."""
        length = frames
        for rate, kernel in zip(self.config.upsample_rates, self.config.upsample_kernel_sizes):
            length = (length - 1) * rate - 2 * ((kernel - rate) // 2) + kernel
        return length

    def __call__(self, mel: mx.array) -> mx.array:
        """Stereo log-mel (B, 2, frames, 64) -> waveform (B, 2, samples) (in [-1, 1] with the final activation)."""
        if mel.ndim != 4 or mel.shape[1] != STEREO or mel.shape[3] != self.mel_bins or mel.shape[2] < 1:
            raise InputShapeError(
                f"the vocoder input must be a stereo log-mel of shape (batch, {STEREO}, frames, {self.mel_bins}), "
                f"got {tuple(mel.shape)}."
            )
        b, _, frames, bins = mel.shape
        dtype = self.conv_pre.weight.dtype
        # Features ordered (stereo channel, mel bin), as the official "b s c t -> b (s c) t".
        x = self.conv_pre(mel.astype(dtype).transpose(0, 2, 1, 3).reshape(b, frames, STEREO * bins))
        per_level = len(self.config.resblock_kernel_sizes)
        for i, up in enumerate(self.ups):
            x = up(x if self.config.is_amp else nn.leaky_relu(x, LRELU_SLOPE))
            blocks = self.resblocks[i * per_level : (i + 1) * per_level]
            total = blocks[0](x)
            for block in blocks[1:]:
                total = total + block(x)
            x = total / per_level
        x = self.conv_post(self.act_post(x) if self.config.is_amp else nn.leaky_relu(x, POST_LRELU_SLOPE))
        if self.config.final_activation:
            x = mx.tanh(x) if self.config.use_tanh_at_final else mx.clip(x, -1.0, 1.0)
        return x.transpose(0, 2, 1)
