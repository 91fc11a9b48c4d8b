"""Latent -> waveform (the official ``decode_audio``) and waveform -> 16-bit PCM / WAV."""

from __future__ import annotations

import os
import wave
from collections.abc import Iterator
from dataclasses import dataclass

import mlx.core as mx
import numpy as np

from ltx_core.errors import InputShapeError
from ltx_core.model.audio_vae.vae import AudioDecoder
from ltx_core.model.audio_vae.bwe import VocoderWithBWE
from ltx_core.model.audio_vae.vocoder import Vocoder

PCM16_SCALE = 32767.0
PCM_CHUNK_SAMPLES = 1 << 16


@dataclass(frozen=True)
class Audio:
    """A waveform, (channels, samples) or (batch, channels, samples), float in [-1, 1], and its rate."""

    waveform: mx.array
    sampling_rate: int


def decode_audio(latent: mx.array, decoder: AudioDecoder, vocoder: Vocoder | VocoderWithBWE) -> Audio:
    """Normalised audio latent (B, z, T, bins) -> waveform at the vocoder's output rate, float32.

    As the official ``decode_audio`` (``squeeze(0)``): a batch of one gives (2, samples); a larger
    batch keeps its batch axis, (B, 2, samples).
    """
    waveform = vocoder(decoder(latent)).astype(mx.float32)
    if waveform.shape[0] == 1:
        waveform = waveform[0]
    return Audio(waveform=waveform, sampling_rate=vocoder.output_sampling_rate)


def _channels_last_chunks(waveform: mx.array | np.ndarray, chunk: int) -> Iterator[tuple[slice, np.ndarray]]:
    """(slice of the sample axis, float32 chunk of shape (..., samples, channels))."""
    is_mlx = isinstance(waveform, mx.array)
    if is_mlx:
        mx.eval(waveform)  # evaluate once; slices below then only copy their own samples
    samples = waveform.shape[-1]
    for start in range(0, samples, chunk):
        part = waveform[..., start : start + chunk]
        part = np.array(part.astype(mx.float32)) if is_mlx else np.array(part, dtype=np.float32)
        yield slice(start, min(start + chunk, samples)), np.swapaxes(part, -1, -2)


def _pcm16(part: np.ndarray) -> np.ndarray:
    part = np.nan_to_num(part, nan=0.0, posinf=1.0, neginf=-1.0)
    np.clip(part, -1.0, 1.0, out=part)
    part *= PCM16_SCALE
    return part.astype(np.int16)  # truncates toward zero


def _check_waveform(waveform: mx.array | np.ndarray, allow_batch: bool) -> None:
    ranks = (2, 3) if allow_batch else (2,)
    if waveform.ndim not in ranks or waveform.shape[-2] < 1:
        expected = "(channels, samples) or (batch, channels, samples)" if allow_batch else "(channels, samples)"
        raise InputShapeError(f"the waveform must have shape {expected}, got {tuple(waveform.shape)}.")


def waveform_to_pcm16(waveform: mx.array | np.ndarray, chunk_samples: int = PCM_CHUNK_SAMPLES) -> np.ndarray:
    """Float waveform (C, N) or (B, C, N) -> interleaved int16 PCM of shape (N, C) or (B, N, C).

    The result is C-contiguous, so ``.tobytes()`` is the interleaved stream (L R L R ... for
    stereo) that WAV files and the ``s16`` muxer format expect. Conversion as in the official
    ``media_io``: clip to [-1, 1], multiply by 32767, truncate toward zero (so -1.0 -> -32767,
    1.0 -> 32767, 0.99999 -> 32766); NaN becomes 0. It runs in chunks of ``chunk_samples``, so
    apart from the int16 result (half the float32 size) only one chunk is held as a copy.
    """
    _check_waveform(waveform, allow_batch=True)
    shape = (*waveform.shape[:-2], waveform.shape[-1], waveform.shape[-2])
    out = np.empty(shape, dtype=np.int16)
    for where, part in _channels_last_chunks(waveform, chunk_samples):
        out[..., where, :] = _pcm16(part)
    return out


def write_wav(path: str | os.PathLike, audio: Audio, chunk_samples: int = PCM_CHUNK_SAMPLES) -> None:
    """Write a 16-bit PCM WAV file chunk by chunk (never the full int16 stream in memory)."""
    _check_waveform(audio.waveform, allow_batch=False)
    with wave.open(os.fspath(path), "wb") as out:
        out.setnchannels(audio.waveform.shape[0])
        out.setsampwidth(2)
        out.setframerate(int(audio.sampling_rate))
        for _, part in _channels_last_chunks(audio.waveform, chunk_samples):
            out.writeframes(np.ascontiguousarray(_pcm16(part)).astype("<i2", copy=False).tobytes())
