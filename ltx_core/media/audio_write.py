"""Writing an audio-only output (text-to-audio): a 16-bit PCM WAV beside its JSON sidecar, each under a
temporary name in the output folder and renamed when complete."""

from __future__ import annotations

import dataclasses
import datetime
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ltx_core.media.errors import MediaWriteError
from ltx_core.media.ffmpeg import PathLike
from ltx_core.media.video_write import _fsync, _temp_path, _write_wav, audio_to_pcm16, versions, write_json_atomic


@dataclasses.dataclass(frozen=True)
class WrittenAudio:
    path: Path
    sidecar: Path
    sample_rate: int
    channels: int
    samples: int  # per channel


def write_wav_output(path: PathLike, audio, settings: Mapping[str, Any]) -> WrittenAudio:
    """``audio`` (an ``Audio`` or a float (channels, samples) waveform) as ``path`` with suffix .wav, and
    its sidecar ``<stem>.json`` (settings, audio format, library versions)."""
    path = Path(path).with_suffix(".wav")
    if not path.parent.is_dir():
        raise MediaWriteError(f"cannot write {path}: folder {path.parent} does not exist")
    pcm, rate = audio_to_pcm16(audio)
    temp = _temp_path(path.parent, path.stem, ".part.wav")
    try:
        _write_wav(temp, pcm, rate)
        _fsync(temp)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    written = WrittenAudio(path, path.with_suffix(".json"), rate, pcm.shape[1], pcm.shape[0])
    content = {
        "settings": dict(settings),
        "video": None,
        "audio": {
            "file": path.name, "codec": "pcm_s16le", "sample_rate": rate, "channels": written.channels,
            "samples": written.samples,
        },
        "versions": versions(),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    try:
        write_json_atomic(written.sidecar, content)
    except OSError:
        path.unlink(missing_ok=True)  # a WAV without its sidecar is no finished output
        raise
    return written
