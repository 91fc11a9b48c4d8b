"""The LTX-2.3 vocoder: a 16 kHz BigVGAN v2 vocoder followed by bandwidth extension (BWE).

``out = clamp(bwe_generator(logmel(pad(x))) + resample(pad(x)), -1, 1)[..., :ratio * len(x)]``
where ``x`` is the inner vocoder's waveform, ``pad`` zero-pads it to a whole number of STFT
hops, ``logmel`` is a causal STFT with the checkpoint's DFT and mel bases, and ``resample`` a
Hann-windowed sinc upsampler (torchaudio's ``resample`` filter) that ltx-core computes rather
than stores.
"""

from __future__ import annotations

import math

import mlx.core as mx
import mlx.nn as nn
import numpy as np

from ltx_core.model.audio_vae.bigvgan import replicate_pad, fir_upsample
from ltx_core.model.audio_vae.config import BandwidthExtensionConfig, VocoderWithBWEConfig
from ltx_core.model.audio_vae.vocoder import Vocoder

_ROLLOFF = 0.99
_LOWPASS_WIDTH = 6
_LOG_FLOOR = 1e-5


def hann_sinc_taps(ratio: int) -> np.ndarray:
    """The resampling filter of ltx-core's ``UpSample1d(window_type="hann")`` (float32)."""
    width = math.ceil(_LOWPASS_WIDTH / _ROLLOFF)
    kernel = 2 * width * ratio + 1
    time = (np.arange(kernel, dtype=np.float32) / np.float32(ratio) - np.float32(width)) * np.float32(_ROLLOFF)
    clamped = np.clip(time, -_LOWPASS_WIDTH, _LOWPASS_WIDTH)
    window = np.cos(clamped * np.float32(math.pi / _LOWPASS_WIDTH / 2)) ** 2
    return (np.sinc(time.astype(np.float64)) * window * (_ROLLOFF / ratio)).astype(np.float32)


class SincResampler(nn.Module):
    """Upsampling by an integer ratio with the Hann-windowed sinc filter (not a parameter)."""

    def __init__(self, ratio: int):
        super().__init__()
        self.ratio = ratio
        self.width = math.ceil(_LOWPASS_WIDTH / _ROLLOFF)
        self._taps = mx.array(hann_sinc_taps(ratio))  # underscore: computed, not loaded

    def __call__(self, x: mx.array) -> mx.array:
        """(B, L, C) -> (B, ratio * L, C)."""
        kernel = self._taps.shape[0]
        left, right = 2 * self.width * self.ratio, kernel - self.ratio
        padded = replicate_pad(x, self.width, self.width)
        y = self.ratio * fir_upsample(padded, self._taps.astype(x.dtype), self.ratio)
        return y[:, left : y.shape[1] - right]


class STFTBases(nn.Module):
    def __init__(self, n_fft: int):
        super().__init__()
        frequencies = n_fft // 2 + 1
        self.forward_basis = mx.zeros((2 * frequencies, 1, n_fft))
        self.inverse_basis = mx.zeros((2 * frequencies, 1, n_fft))  # in the file; unused at inference


class MelSTFT(nn.Module):
    """Causal log-mel spectrogram from the checkpoint's bases (``vocoder.mel_stft.*``)."""

    def __init__(self, config: BandwidthExtensionConfig):
        super().__init__()
        self.config = config
        self.stft_fn = STFTBases(config.n_fft)
        self.mel_basis = mx.zeros((config.num_mels, config.n_fft // 2 + 1))

    def __call__(self, waveform: mx.array) -> mx.array:
        """(N, samples) -> log-mel (N, frames, mels); left-only padding of n_fft - hop samples."""
        n_fft, hop = self.config.n_fft, self.config.hop_length
        x = mx.pad(waveform, [(0, 0), (max(0, n_fft - hop), 0)])[:, :, None]
        basis = self.stft_fn.forward_basis.astype(x.dtype).transpose(0, 2, 1)  # (2F, n_fft, 1)
        spectrum = mx.conv1d(x, basis, stride=hop)  # (N, frames, 2F)
        frequencies = spectrum.shape[-1] // 2
        real, imag = spectrum[..., :frequencies], spectrum[..., frequencies:]
        magnitude = mx.sqrt(real * real + imag * imag)
        mel = magnitude @ self.mel_basis.astype(x.dtype).T
        return mx.log(mx.maximum(mel, _LOG_FLOOR))


class VocoderWithBWE(nn.Module):
    def __init__(self, config: VocoderWithBWEConfig):
        super().__init__()
        self.config = config
        self.vocoder = Vocoder(config.vocoder)
        self.bwe_generator = Vocoder(config.bwe_generator)
        self.mel_stft = MelSTFT(config.bwe)
        self.resampler = SincResampler(config.bwe.ratio)

    @property
    def output_sampling_rate(self) -> int:
        return self.config.output_sampling_rate

    @property
    def mel_bins(self) -> int:
        return self.vocoder.mel_bins

    def output_length(self, frames: int) -> int:
        return self.vocoder.output_length(frames) * self.config.bwe.ratio

    def stages(self, mel: mx.array) -> dict[str, mx.array]:
        """Every stage, channels-first like the reference: ``inner_waveform`` (B, 2, n) at the input
        rate, ``bwe_mel`` (B, 2, mels, frames), ``bwe_residual`` and ``bwe_skip`` (B, 2, ratio * padded n),
        ``waveform`` (B, 2, ratio * n)."""
        inner = self.vocoder(mel)
        batch, channels, length = inner.shape
        hop = self.config.bwe.hop_length
        padded = mx.pad(inner, [(0, 0), (0, 0), (0, -length % hop)])
        log_mel = self.mel_stft(padded.reshape(batch * channels, -1))
        log_mel = log_mel.reshape(batch, channels, log_mel.shape[1], log_mel.shape[2])
        residual = self.bwe_generator(log_mel)
        skip = self.resampler(padded.transpose(0, 2, 1)).transpose(0, 2, 1)
        waveform = mx.clip(residual + skip, -1.0, 1.0)[..., : length * self.config.bwe.ratio]
        return {
            "inner_waveform": inner,
            "bwe_mel": log_mel.transpose(0, 1, 3, 2),
            "bwe_residual": residual,
            "bwe_skip": skip,
            "waveform": waveform,
        }

    def __call__(self, mel: mx.array) -> mx.array:
        """Stereo log-mel (B, 2, frames, mel bins) -> waveform (B, 2, samples) at the output rate, in [-1, 1]."""
        return self.stages(mel)["waveform"]
