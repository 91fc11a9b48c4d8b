"""Reading the audio of a file (wav, mp3, m4a/aac, flac, ogg, or a video's first audio track) as float
PCM with the bundled ffmpeg, trimmed to a start offset and a maximum duration."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ltx_core.media.errors import MediaReadError
from ltx_core.media.ffmpeg import _CHANNELS, _DURATION, _STREAM, _input_section, _split_fields, _tail, ffmpeg_exe

PathLike = str | os.PathLike
MAX_CHANNELS = 2  # the audio VAE takes stereo; more channels are downmixed by ffmpeg


@dataclass(frozen=True)
class AudioClip:
    """Float32 PCM (channels, samples) in [-1, 1] at ``sample_rate``, cut from ``path`` at ``start`` s."""

    waveform: np.ndarray
    sample_rate: int
    start: float
    source_seconds: float  # the whole stream's length, from the container (0 when unknown)

    @property
    def seconds(self) -> float:
        return self.waveform.shape[1] / self.sample_rate

    def pcm16(self) -> np.ndarray:
        """Interleaved int16 (samples, channels), rounded to the nearest step of 1/32768 (the scale the
        float was read at), so a 16-bit source comes back exactly."""
        scaled = np.rint(self.waveform.T.astype(np.float64) * 32768.0)
        return np.ascontiguousarray(np.clip(scaled, -32768, 32767).astype(np.int16))


@dataclass(frozen=True)
class AudioStreamInfo:
    sample_rate: int
    channels: int
    codec: str
    seconds: float


def probe_audio(path: PathLike) -> AudioStreamInfo:
    """Rate, channels, codec and duration of the first audio stream; a file without one is refused."""
    name = Path(path).name
    if not Path(path).is_file():
        raise MediaReadError(f"cannot read {name} as audio: no such file.")
    result = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", os.fspath(path)], check=False, capture_output=True)
    section = _input_section(result.stderr.decode(errors="replace"))
    audio = next((m.group(2) for m in map(_STREAM.match, section.splitlines()) if m and m.group(1) == "Audio"), None)
    if audio is None:
        raise MediaReadError(
            f"{name} has no audio stream: give a wav, mp3, m4a/aac or flac file, or a video with sound."
        )
    fields = _split_fields(audio)
    rate = next((int(f.split()[0]) for f in fields if f.endswith(" Hz")), 0)
    channels = next((_CHANNELS[f] for f in fields if f in _CHANNELS), 0)
    channels = channels or next((int(m.group(1)) for f in fields if (m := re.match(r"(\d+) channels", f))), 0)
    duration = _DURATION.search(section)
    seconds = 0.0
    if duration:
        seconds = int(duration.group(1)) * 3600 + int(duration.group(2)) * 60 + float(duration.group(3))
    if rate <= 0 or channels <= 0:
        raise MediaReadError(f"cannot read the audio of {name}: no sample rate or channel count in {audio!r}.")
    return AudioStreamInfo(rate, channels, fields[0].split()[0], seconds)


def read_audio_clip(path: PathLike, start: float = 0.0, max_seconds: float | None = None) -> AudioClip:
    """The first audio stream of ``path`` from ``start`` seconds, at most ``max_seconds`` long, at its own
    sample rate. Mono and stereo keep their channels; more than two are downmixed to stereo. The cut is
    exact to the sample: round(start * rate) samples are skipped, round(max_seconds * rate) kept (as the
    official ``decode_audio_from_file`` trims)."""
    name = Path(path).name
    if not np.isfinite(start) or start < 0:
        raise MediaReadError(f"the audio start must be 0 s or later, got {start}.")
    if max_seconds is not None and (not np.isfinite(max_seconds) or max_seconds <= 0):
        raise MediaReadError(f"the maximum audio duration must be positive, got {max_seconds}.")
    info = probe_audio(path)
    channels = min(info.channels, MAX_CHANNELS)
    args = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", os.fspath(path), "-map", "0:a:0",
            "-vn", "-ac", str(channels), "-c:a", "pcm_f32le", "-f", "f32le"]  # fmt: skip
    if max_seconds is not None:  # decode a little past the end, then cut exactly below
        args += ["-t", f"{start + max_seconds + 0.5:.6f}"]
    result = subprocess.run([*args, "-"], check=False, capture_output=True)
    if result.returncode != 0:
        raise MediaReadError(f"cannot read the audio of {name}: {_tail(result.stderr)}")
    samples = np.frombuffer(result.stdout, dtype="<f4")
    waveform = samples[: len(samples) // channels * channels].reshape(-1, channels).T
    first = round(start * info.sample_rate)
    total = waveform.shape[1]
    if first >= total:
        raise MediaReadError(
            f"the audio of {name} is {total / info.sample_rate:.2f} s long: the start {start:g} s is past its end."
        )
    last = total if max_seconds is None else min(total, first + round(max_seconds * info.sample_rate))
    clip = np.ascontiguousarray(waveform[:, first:last], dtype=np.float32)
    return AudioClip(clip, info.sample_rate, float(start), info.seconds or total / info.sample_rate)
