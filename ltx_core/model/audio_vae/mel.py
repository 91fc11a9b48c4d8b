"""Waveform -> the audio VAE encoder's log-mel input, as the official ``AudioProcessor`` makes it
(torchaudio's ``resample`` and ``MelSpectrogram``), written here in numpy (float64 inside):

- resampling: windowed-sinc interpolation with a Hann window, 6 zero crossings, cutoff at 0.99 of
  the lower Nyquist rate, on the rates divided by their gcd (torchaudio's ``sinc_interp_hann``);
- STFT: periodic Hann window of ``n_fft`` samples, hop ``mel_hop_length``, centred (the signal padded
  by n_fft/2 on both sides by reflection), magnitude (power 1);
- mel filterbank: ``mel_bins`` triangles from 0 Hz to rate/2, equally spaced on the Slaney mel scale
  (linear below 1 kHz, logarithmic above), each scaled to unit area (Slaney norm);
- natural log of the mel magnitudes clamped at 1e-5; layout (batch, channels, frames, mel bins).
"""

from __future__ import annotations

import math

import numpy as np

LOG_FLOOR = 1e-5
RESAMPLE_ZERO_CROSSINGS = 6
RESAMPLE_ROLLOFF = 0.99

_SLANEY_LINEAR_STEP = 200.0 / 3  # Hz per mel below 1 kHz
_SLANEY_BREAK_HZ = 1000.0
_SLANEY_BREAK_MEL = _SLANEY_BREAK_HZ / _SLANEY_LINEAR_STEP  # 15
_SLANEY_LOG_STEP = math.log(6.4) / 27.0  # 27 mels per factor 6.4 above 1 kHz


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """Slaney mel scale (Auditory Toolbox): 1000 Hz -> 15 mel."""
    hz = np.asarray(hz, dtype=np.float64)
    linear = hz / _SLANEY_LINEAR_STEP
    logarithmic = _SLANEY_BREAK_MEL + np.log(np.maximum(hz, _SLANEY_BREAK_HZ) / _SLANEY_BREAK_HZ) / _SLANEY_LOG_STEP
    return np.where(hz >= _SLANEY_BREAK_HZ, logarithmic, linear)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    linear = mel * _SLANEY_LINEAR_STEP
    logarithmic = _SLANEY_BREAK_HZ * np.exp(_SLANEY_LOG_STEP * (mel - _SLANEY_BREAK_MEL))
    return np.where(mel >= _SLANEY_BREAK_MEL, logarithmic, linear)


def mel_filterbank(sample_rate: int, n_fft: int, mel_bins: int) -> np.ndarray:
    """(n_fft // 2 + 1, mel_bins) Slaney-normalised triangular filters over 0 .. rate/2."""
    bin_hz = np.linspace(0.0, sample_rate // 2, n_fft // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(sample_rate / 2.0), mel_bins + 2))
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bin_hz[:, None] - lower) / (centre - lower)
    falling = (upper - bin_hz[:, None]) / (upper - centre)
    triangles = np.maximum(0.0, np.minimum(rising, falling))
    return triangles * (2.0 / (upper - lower))


def stft_magnitude(waveform: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """|STFT| of (..., samples): (..., frames, n_fft // 2 + 1), frames = 1 + samples // hop."""
    half = n_fft // 2
    if waveform.shape[-1] <= half:
        raise ValueError(f"reflection padding needs more than {half} samples, got {waveform.shape[-1]}")
    pad = [(0, 0)] * (waveform.ndim - 1) + [(half, half)]
    padded = np.pad(np.asarray(waveform, dtype=np.float64), pad, mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft, axis=-1)[..., ::hop, :]
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n_fft) / n_fft)  # periodic Hann
    return np.abs(np.fft.rfft(frames * window, axis=-1))


def log_mel(waveform: np.ndarray, sample_rate: int, n_fft: int, hop: int, mel_bins: int) -> np.ndarray:
    """(..., channels, samples) at ``sample_rate`` -> float32 log-mel (..., channels, frames, mel_bins)."""
    mel = stft_magnitude(waveform, n_fft, hop) @ mel_filterbank(sample_rate, n_fft, mel_bins)
    return np.log(np.maximum(mel, LOG_FLOOR)).astype(np.float32)


def resample(waveform: np.ndarray, source_rate: int, target_rate: int) -> np.ndarray:
    """(..., samples) from ``source_rate`` to ``target_rate``: ceil(samples * target / source) samples
    (band-limited windowed-sinc interpolation; the signal is taken as zero outside)."""
    if source_rate == target_rate:
        return np.asarray(waveform, dtype=np.float32)
    divisor = math.gcd(int(source_rate), int(target_rate))
    up, down = target_rate // divisor, source_rate // divisor  # output phases, input stride
    kernels, reach = _sinc_kernels(down, up)
    samples = waveform.shape[-1]
    pad = [(0, 0)] * (waveform.ndim - 1) + [(reach, reach + down)]
    padded = np.pad(np.asarray(waveform, dtype=np.float64), pad)
    taps = np.lib.stride_tricks.sliding_window_view(padded, kernels.shape[1], axis=-1)[..., ::down, :]
    out = (taps @ kernels.T).reshape(*waveform.shape[:-1], -1)  # (..., blocks * up), phase-interleaved
    return out[..., : -(-samples * up // down)].astype(np.float32)


def _sinc_kernels(down: int, up: int) -> tuple[np.ndarray, int]:
    """(up, 2 * reach + down) filters: output phase p of block j is sum_k kernel[p, k] * x[j * down - reach + k].
    ``reach``: input samples of support on each side of an output time."""
    # Time runs in blocks (one block: ``down`` input = ``up`` output samples); sinc zeros every
    # 1 / cutoff blocks put the low-pass at 0.99 of the lower rate's Nyquist frequency.
    cutoff = min(down, up) * RESAMPLE_ROLLOFF
    crossings = RESAMPLE_ZERO_CROSSINGS
    reach = math.ceil(crossings * down / cutoff)
    offsets = np.arange(-reach, reach + down, dtype=np.float64) / down  # input times, in blocks
    phases = -np.arange(up, dtype=np.float64)[:, None] / up  # minus the output times, in blocks
    t = np.clip((offsets[None, :] + phases) * cutoff, -crossings, crossings)
    window = np.cos(t * np.pi / crossings / 2.0) ** 2
    return np.sinc(t) * window * (cutoff / down), reach


def waveform_to_log_mel(
    waveform: np.ndarray, sample_rate: int, target_rate: int, n_fft: int, hop: int, mel_bins: int, channels: int
) -> np.ndarray:
    """The audio VAE encoder's input (1, channels, frames, mel_bins) from a (C, samples) clip: resampled to
    ``target_rate``, mono repeated to ``channels`` (the encoder takes stereo)."""
    if waveform.ndim != 2:
        raise ValueError(f"a waveform must be (channels, samples), got {waveform.shape}")
    if waveform.shape[0] == 1 and channels > 1:
        waveform = np.repeat(waveform, channels, axis=0)
    if waveform.shape[0] != channels:
        raise ValueError(f"the audio VAE encoder takes {channels} channels, got {waveform.shape[0]}")
    return log_mel(resample(waveform, sample_rate, target_rate), target_rate, n_fft, hop, mel_bins)[None]
