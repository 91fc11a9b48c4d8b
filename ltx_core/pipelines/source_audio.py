"""The sound of a clip that an edit starts from (retake, extend): reading it, encoding it into audio
latents through the log-mel front end and the audio VAE encoder (as audio-to-video does), and
putting the user's own samples back into the output where the edit keeps the sound."""

from __future__ import annotations

from pathlib import Path

import mlx.core as mx
import numpy as np

from ltx_core.media.audio_read import AudioClip, read_audio_clip
from ltx_core.media.errors import MediaReadError
from ltx_core.pipelines.request import RequestError

# Length of the fades at a retake window's edges (inside the window), so the regenerated audio
# meets the kept samples without a click.
EDGE_FADE_SECONDS = 0.02


def read_clip_audio(path: str | Path, start: float, seconds: float) -> AudioClip:
    """The audio of ``path`` over [start, start + seconds) s at its own rate; one sentence when it
    cannot be read."""
    try:
        return read_audio_clip(path, start, seconds)
    except MediaReadError as exc:
        raise RequestError(str(exc)) from None


def shortest_encodable_seconds(config) -> float:
    """The log-mel's centred STFT reflects n_fft/2 samples at each end: a clip needs more than that
    (at the audio VAE's rate), and at least one hop."""
    return (max(config.n_fft // 2, config.mel_hop_length) + 1) / config.sample_rate


def log_mel_of(clip: AudioClip, config) -> mx.array:
    """The audio VAE encoder's input (1, channels, frames, mel bins) for ``clip``."""
    from ltx_core.model.audio_vae.mel import waveform_to_log_mel

    return mx.array(waveform_to_log_mel(
        clip.waveform, clip.sample_rate, config.sample_rate, config.n_fft, config.mel_hop_length,
        config.mel_bins, config.in_channels,
    ))  # fmt: skip


def conform_latent_length(latent: mx.array, frames: int) -> mx.array:
    """``latent`` (B, C, T, M) cut or zero-padded to ``frames`` frames (the official retake pads a
    source whose audio is shorter than its video with zero latents)."""
    have = latent.shape[2]
    if have >= frames:
        return latent[:, :, :frames]
    b, c, _, m = latent.shape
    return mx.concatenate([latent, mx.zeros((b, c, frames - have, m), latent.dtype)], axis=2)


def encode_clip_audio(ledger, clip: AudioClip, frames: int) -> mx.array:
    """``clip`` -> its normalised audio latent with exactly ``frames`` frames (cut or zero-padded)."""
    from ltx_core.loader.audio_vae import audio_vae_config
    from ltx_core.pipelines.blocks import encode_audio

    latent = encode_audio(ledger, log_mel_of(clip, audio_vae_config(ledger.audio_file)))
    return conform_latent_length(latent, frames)


def as_channels(waveform: np.ndarray, channels: int) -> np.ndarray:
    """(C, S) float waveform with ``channels`` channels: mono repeated, more channels averaged."""
    if waveform.shape[0] == channels:
        return waveform
    if waveform.shape[0] == 1:
        return np.repeat(waveform, channels, axis=0)
    return np.repeat(waveform.mean(axis=0, keepdims=True), channels, axis=0) if channels > 1 else waveform.mean(0, keepdims=True)


def generated_at(generated, rate: int, channels: int, samples: int) -> np.ndarray:
    """A decoded ``Audio`` as float (channels, samples) at ``rate``, cut or zero-padded to ``samples``."""
    from ltx_core.model.audio_vae.mel import resample

    waveform = np.array(generated.waveform.astype(mx.float32))
    waveform = waveform[0] if waveform.ndim == 3 else waveform
    waveform = as_channels(resample(waveform, generated.sampling_rate, rate).astype(np.float32), channels)
    out = np.zeros((channels, samples), np.float32)
    out[:, : min(samples, waveform.shape[1])] = waveform[:, :samples]
    return out


def to_pcm16(waveform: np.ndarray) -> np.ndarray:
    """Float (C, S) -> interleaved int16 (S, C), on the 1/32768 grid the clip was read at (a kept
    sample comes back as the int16 it was decoded from)."""
    return np.ascontiguousarray(np.clip(np.rint(waveform.T.astype(np.float64) * 32768.0), -32768, 32767).astype(np.int16))


def window_weights(samples: int, rate: int, start: float, end: float) -> np.ndarray:
    """Per sample, the share of the regenerated audio: 1 inside [start, end) s, 0 outside, with a
    short linear fade just inside each edge that is not the clip's own start or end."""
    first, stop = min(round(start * rate), samples), min(round(end * rate), samples)
    weights = np.zeros(samples, np.float32)
    weights[first:stop] = 1.0
    fade = min(round(EDGE_FADE_SECONDS * rate), (stop - first) // 2)
    ramp = (np.arange(fade, dtype=np.float32) + 1) / (fade + 1)
    if fade and first > 0:
        weights[first : first + fade] = ramp
    if fade and stop < samples:
        weights[stop - fade : stop] = ramp[::-1]
    return weights


def splice_window(source: AudioClip, generated, start: float, end: float, seconds: float) -> tuple[np.ndarray, int]:
    """The output track of a retake that regenerated the audio in [start, end): the source's own
    samples outside the window (its rate and channels; silence past its end), the decoded
    regenerated audio, resampled to that rate, inside. int16 (samples, channels) and the rate."""
    rate, channels = source.sample_rate, source.waveform.shape[0]
    samples = round(seconds * rate)
    kept = np.zeros((channels, samples), np.float32)
    kept[:, : min(samples, source.waveform.shape[1])] = source.waveform[:, :samples]
    new = generated_at(generated, rate, channels, samples)
    weights = window_weights(samples, rate, start, end)
    return to_pcm16(kept * (1 - weights) + new * weights), rate
