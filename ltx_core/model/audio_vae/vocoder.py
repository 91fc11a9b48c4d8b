"""HiFi-GAN style vocoder of LTX-2: stereo log-mel (B, 2, frames, 64) -> waveform (B, 2, samples).

Channels-last inside: activations are (B, samples, C).
"""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn

from ltx_core.errors import InputShapeError
from ltx_core.model.audio_vae.config import VOCODER_IN_CHANNELS, VOCODER_OUT_CHANNELS, VocoderConfig

# Slope of the LeakyReLU before every upsampling layer and inside the residual blocks
# (official LRELU_SLOPE); the one activation after the last block is torch's default, 0.01.
LRELU_SLOPE = 0.1
POST_LRELU_SLOPE = 0.01
STEREO = 2


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
        self.resblocks = [
            ResBlock1(config.channels(i + 1), kernel, dilations)
            for i in range(len(config.upsample_rates))
            for kernel, dilations in zip(config.resblock_kernel_sizes, config.resblock_dilation_sizes)
        ]
        final_channels = config.channels(len(config.upsample_rates))
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
        """Stereo log-mel (B, 2, frames, 64) -> waveform (B, 2, samples) in [-1, 1]."""
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
            x = up(nn.leaky_relu(x, LRELU_SLOPE))
            blocks = self.resblocks[i * per_level : (i + 1) * per_level]
            total = blocks[0](x)
            for block in blocks[1:]:
                total = total + block(x)
            x = total / per_level
        x = self.conv_post(nn.leaky_relu(x, POST_LRELU_SLOPE))
        x = mx.tanh(x) if self.config.use_tanh_at_final else mx.clip(x, -1.0, 1.0)
        return x.transpose(0, 2, 1)
