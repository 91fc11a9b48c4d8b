"""Writing H.264 + AAC mp4 files with the bundled ffmpeg, atomically, with a JSON sidecar.

Frames are streamed to ffmpeg chunk by chunk (the VAE decodes tile by tile), so the whole video
is never in memory. Audio, small next to the video, goes through a temporary WAV file beside
the output. Everything is written under temporary names in the output folder and renamed when
complete; on any failure (including an exception from the frame iterator, or a cancel) the
temporary files are removed and an existing file at ``path`` is left untouched.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import errno
import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
import uuid
import wave
from collections.abc import Iterable, Iterator, Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any

import mlx.core as mx
import numpy as np

from ltx_core.media.errors import InputShapeError, MediaWriteError
from ltx_core.media.ffmpeg import PathLike, _tail, ffmpeg_exe, ffmpeg_version, fps_fraction
from ltx_core.model.audio_vae.audio import Audio, waveform_to_pcm16

FrameChunks = np.ndarray | mx.array | Iterable[np.ndarray | mx.array]
AudioInput = Audio | np.ndarray | mx.array


@dataclasses.dataclass(frozen=True)
class WrittenVideo:
    path: Path
    sidecar: Path | None
    frames: int
    width: int
    height: int
    fps: Fraction
    audio_samples: int  # per channel; 0 without audio
    sample_rate: int | None
    channels: int | None
    seconds: float  # wall time of the whole write


def audio_to_pcm16(audio: AudioInput, sample_rate: int | None = None) -> tuple[np.ndarray, int]:
    """Interleaved int16 PCM (samples, channels) and its rate, from an ``Audio``, an int16
    (samples, channels) / (samples,) array, or a float waveform (channels, samples) in [-1, 1]."""
    if isinstance(audio, Audio):
        sample_rate = sample_rate or audio.sampling_rate
        audio = audio.waveform
    if not sample_rate or int(sample_rate) <= 0:
        raise InputShapeError("the audio needs a positive sample_rate")
    if isinstance(audio, mx.array):
        audio = np.array(audio) if audio.dtype == mx.int16 else audio
    if isinstance(audio, np.ndarray) and audio.dtype == np.int16:
        pcm = audio[:, None] if audio.ndim == 1 else audio
        if pcm.ndim != 2 or not 1 <= pcm.shape[1] <= 8:
            raise InputShapeError(f"int16 audio must be interleaved (samples, channels), got {audio.shape}")
        return np.ascontiguousarray(pcm), int(sample_rate)
    if audio.ndim == 3 and audio.shape[0] == 1:
        audio = audio[0]
    if audio.ndim != 2 or not 1 <= audio.shape[0] <= 8:
        raise InputShapeError(f"a float waveform must be (channels, samples), got {tuple(audio.shape)}")
    return waveform_to_pcm16(audio), int(sample_rate)


def _chunks(frames: FrameChunks) -> Iterator[np.ndarray]:
    if isinstance(frames, (np.ndarray, mx.array)):
        frames = [frames]
    for chunk in frames:
        chunk = np.asarray(chunk) if isinstance(chunk, np.ndarray) else np.array(chunk)
        yield chunk[None] if chunk.ndim == 3 else chunk


def _check_chunk(chunk: np.ndarray, size: tuple[int, int] | None) -> None:
    if chunk.dtype != np.uint8 or chunk.ndim != 4 or chunk.shape[-1] != 3:
        raise InputShapeError(f"video chunks must be uint8 (frames, H, W, 3), got {chunk.dtype} {chunk.shape}")
    if size is not None and chunk.shape[1:3] != size:
        raise InputShapeError(f"a video chunk of {chunk.shape[2]}x{chunk.shape[1]} follows {size[1]}x{size[0]} ones")


def _json_value(value: Any) -> Any:
    if isinstance(value, (np.ndarray, mx.array)):
        return np.asarray(value).tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (os.PathLike, Fraction, mx.Dtype)):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"setting of type {type(value).__name__} cannot be stored in the JSON sidecar")


def versions() -> dict[str, str]:
    import imageio_ffmpeg

    import ltx_core

    return {
        "ltx_core": ltx_core.__version__,
        "mlx": mx.__version__,
        "numpy": np.__version__,
        "imageio_ffmpeg": imageio_ffmpeg.__version__,
        "ffmpeg": ffmpeg_version(),
        "python": platform.python_version(),
    }


def _temp_path(folder: Path, stem: str, suffix: str) -> Path:
    # A fresh name, not a file: mkstemp would create it 0600 and the output would keep that mode.
    return folder / f".{stem}.{uuid.uuid4().hex[:12]}{suffix}"


def _write_wav(path: Path, pcm: np.ndarray, sample_rate: int) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(pcm.shape[1])
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm.astype("<i2", copy=False).tobytes())


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def write_json_atomic(path: PathLike, data: Mapping[str, Any]) -> Path:
    """Write ``data`` as JSON under a temporary name in the same folder, then rename it."""
    path = Path(path)
    text = json.dumps(data, indent=2, default=_json_value, allow_nan=False)
    temp = _temp_path(path.parent, path.stem, ".part.json")
    try:
        with open(temp, "x", encoding="utf-8") as handle:
            handle.write(text + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    return path


def _encoder_command(width: int, height: int, fps: Fraction, wav: Path | None, crf: int, preset: str,
                     audio_bitrate: str, output: Path, audio_codec: str = "aac") -> list[str]:  # fmt: skip
    command = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-y",
               "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-framerate", str(fps), "-i", "pipe:0"]  # fmt: skip
    if wav is not None:
        command += ["-i", str(wav)]
    command += ["-map", "0:v:0"] + (["-map", "1:a:0"] if wav is not None else [])
    # Convert with BT.601 (swscale's default, as the official PyAV writer) and tag the stream
    # so players do not guess BT.709 for it.
    colour = ("scale=out_color_matrix=bt601:out_range=tv,format=yuv420p,"
              "setparams=colorspace=smpte170m:color_primaries=smpte170m:color_trc=smpte170m:range=tv")  # fmt: skip
    command += ["-vf", colour, "-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p"]
    if wav is not None:
        command += ["-c:a", "flac"] if audio_codec == "flac" else ["-c:a", "aac", "-b:a", audio_bitrate]
    return command + ["-movflags", "+faststart", "-f", "mp4", str(output)]


def write_mp4(
    path: PathLike,
    frames: FrameChunks,
    fps: float | Fraction,
    audio: AudioInput | None = None,
    sample_rate: int | None = None,
    *,
    settings: Mapping[str, Any] | None = None,
    sidecar: bool = True,
    crf: int = 23,
    preset: str = "medium",
    audio_bitrate: str = "192k",
    audio_codec: str = "aac",
) -> WrittenVideo:
    """Encode uint8 RGB frames (one (F, H, W, 3) array or an iterable of such chunks) to an
    H.264 yuv420p mp4 at ``fps``, with ``audio`` muxed as AAC (``audio_codec`` "flac": losslessly, for
    audio the user gave, which must come back sample for sample).

    Odd widths/heights are cropped by one pixel (yuv420p needs even sizes; the official encoder
    of still images crops the same way). ``settings`` (JSON-serialisable) are stored with the
    library versions in a sidecar ``<stem>.json``, written after the video.
    """
    started = time.monotonic()
    path = Path(path)
    if not path.parent.is_dir():
        raise MediaWriteError(f"cannot write {path}: folder {path.parent} does not exist")
    rate = fps_fraction(fps)
    if rate <= 0:
        raise InputShapeError(f"fps must be positive, got {fps}")
    settings = dict(settings or {})
    json.dumps(settings, default=_json_value, allow_nan=False)  # fail before encoding anything
    pcm, audio_rate = audio_to_pcm16(audio, sample_rate) if audio is not None else (None, None)

    chunks = _chunks(frames)
    temp_video = temp_wav = process = log = None
    try:
        first = next(chunks, None)
        if first is None:
            raise InputShapeError("no video frames to write")
        _check_chunk(first, None)
        size = first.shape[1:3]
        height, width = size[0] // 2 * 2, size[1] // 2 * 2
        if height == 0 or width == 0:
            raise InputShapeError(f"frames of {size[1]}x{size[0]} are too small to encode")
        temp_video = _temp_path(path.parent, path.stem, ".part.mp4")
        if pcm is not None:
            temp_wav = _temp_path(path.parent, path.stem, ".part.wav")
            _write_wav(temp_wav, pcm, audio_rate)
        command = _encoder_command(width, height, rate, temp_wav, crf, preset, audio_bitrate, temp_video, audio_codec)
        log = tempfile.TemporaryFile()
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log)
        count = 0
        chunk = first
        while chunk is not None:
            _check_chunk(chunk, size)
            try:
                process.stdin.write(np.ascontiguousarray(chunk[:, :height, :width]).data)
            except BrokenPipeError:
                break  # ffmpeg stopped; its log says why (below)
            count += chunk.shape[0]
            chunk = next(chunks, None)
        try:
            process.stdin.close()
        except BrokenPipeError:
            pass
        returncode = process.wait()
        log.seek(0)
        if returncode != 0:
            text = log.read()
            if b"No space left" in text or _disk_full(path.parent):
                raise disk_full_error(path.parent)
            raise MediaWriteError(f"ffmpeg failed writing {path}: {_tail(text)}")
        _fsync(temp_video)
        os.replace(temp_video, path)
    except OSError as exc:
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
        if exc.errno == errno.ENOSPC:
            raise disk_full_error(path.parent) from None
        raise
    except BaseException:
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
        raise
    finally:
        for temp in (temp_video, temp_wav):
            if temp is not None:
                temp.unlink(missing_ok=True)
        if log is not None:
            log.close()

    written = WrittenVideo(
        path=path,
        sidecar=path.with_suffix(".json") if sidecar else None,
        frames=count,
        width=width,
        height=height,
        fps=rate,
        audio_samples=0 if pcm is None else pcm.shape[0],
        sample_rate=audio_rate,
        channels=None if pcm is None else pcm.shape[1],
        seconds=0.0,
    )
    if sidecar:
        try:
            content = sidecar_content(written, settings, crf, preset, audio_bitrate, audio_codec)
            write_json_atomic(written.sidecar, content)
        except OSError as exc:  # a video without its sidecar is no finished output
            path.unlink(missing_ok=True)
            if exc.errno == errno.ENOSPC:
                raise disk_full_error(path.parent) from None
            raise
    return dataclasses.replace(written, seconds=time.monotonic() - started)


def disk_full_error(folder: Path) -> MediaWriteError:
    return MediaWriteError(f"the disk holding {folder} is full: free some space (or choose another outputs folder) "
                           "and run the job again.")  # fmt: skip


def _disk_full(folder: Path, reserve: int = 1 << 20) -> bool:
    try:
        return shutil.disk_usage(folder).free < reserve
    except OSError:
        return False


def sidecar_content(written: WrittenVideo, settings: Mapping[str, Any], crf: int, preset: str,
                    audio_bitrate: str, audio_codec: str = "aac") -> dict[str, Any]:  # fmt: skip
    audio = None
    if written.sample_rate is not None:
        audio = {"codec": audio_codec, "bitrate": None if audio_codec == "flac" else audio_bitrate, "sample_rate": written.sample_rate,
                 "channels": written.channels, "samples": written.audio_samples}  # fmt: skip
    return {
        "settings": dict(settings),
        "video": {"file": written.path.name, "codec": "h264", "pix_fmt": "yuv420p", "crf": crf, "preset": preset,
                  "frames": written.frames, "width": written.width, "height": written.height,
                  "fps": float(written.fps), "fps_fraction": str(written.fps)},  # fmt: skip
        "audio": audio,
        "versions": versions(),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
