"""The bundled ffmpeg (imageio-ffmpeg): probing files and extracting thumbnails."""

from __future__ import annotations

import io
import os
import re
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import imageio_ffmpeg
from PIL import Image

from ltx_core.media.errors import MediaReadError

PathLike = str | os.PathLike


@lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """Path of imageio-ffmpeg's bundled ffmpeg binary (never a system ffmpeg)."""
    return imageio_ffmpeg.get_ffmpeg_exe()


@lru_cache(maxsize=1)
def ffmpeg_version() -> str:
    out = subprocess.run([ffmpeg_exe(), "-hide_banner", "-version"], capture_output=True, text=True).stdout
    match = re.match(r"ffmpeg version (\S+)", out)
    return match.group(1) if match else "unknown"


@dataclass(frozen=True)
class VideoInfo:
    """What ``probe_video`` finds in a file. ``width``/``height`` are those of the decoded frames
    (after any rotation metadata is applied, as the readers here deliver them)."""

    path: str
    frames: int
    width: int
    height: int
    fps: float
    duration: float  # seconds, from the container
    video_codec: str
    pix_fmt: str
    has_audio: bool
    audio_codec: str | None = None
    sample_rate: int | None = None
    channels: int | None = None


_STREAM = re.compile(r"^\s*Stream #\d+:\d+\S*: (Video|Audio): (.*)$")
_DURATION = re.compile(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)")
_SIZE = re.compile(r"(?:^|[ ,])(\d{1,6})x(\d{1,6})(?:[ ,]|$)")
_FPS = re.compile(r"([\d.]+k?) (fps|tbr)")
_ROTATION = re.compile(r"rotation of (-?[\d.]+) degrees")
_CHANNELS = {"mono": 1, "stereo": 2, "2.1": 3, "quad": 4, "4.0": 4, "5.0": 5, "5.1": 6, "6.1": 7, "7.1": 8}


def _split_fields(description: str) -> list[str]:
    # Commas inside parentheses ("yuv420p(tv, bt709, progressive)") do not separate fields.
    fields, depth, current = [], 0, ""
    for char in description:
        depth += (char == "(") - (char == ")")
        if char == "," and depth == 0:
            fields.append(current.strip())
            current = ""
        else:
            current += char
    fields.append(current.strip())
    return fields


def _rate(text: str) -> float:
    return float(text[:-1]) * 1000 if text.endswith("k") else float(text)


def _input_section(stderr: str) -> str:
    # ffmpeg also prints the output streams (after "Output #0"); only the input describes the file.
    return stderr.split("\nOutput #", 1)[0].split("\nStream mapping:", 1)[0]


def _run(args: list[str], what: str, path: PathLike) -> subprocess.CompletedProcess:
    if not Path(path).is_file():
        raise MediaReadError(f"cannot read {os.fspath(path)} as {what}: no such file")
    return subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", *args], capture_output=True)


def _tail(stderr: bytes | str, lines: int = 6) -> str:
    text = stderr.decode(errors="replace") if isinstance(stderr, bytes) else stderr
    if "matches no streams" in text:
        return "it has no video stream" if "'0:v:0'" in text else "it has no audio stream"
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])


def probe_video(path: PathLike) -> VideoInfo:
    """Frame count (exact: every packet of the first video stream is counted), size, fps (from
    the median packet duration, so exact for constant-rate video),
    duration and the first audio stream's rate and channels, with the bundled ffmpeg."""
    # framecrc lists every packet of the stream with its duration in the stream's own time base,
    # which gives the exact frame count and frame rate (the log rounds rates to "23.98 fps").
    result = _run(["-i", os.fspath(path), "-map", "0:v:0", "-c", "copy", "-f", "framecrc", "-"], "a video", path)
    stderr = result.stderr.decode(errors="replace")
    packets = [line.split(",") for line in result.stdout.decode(errors="replace").splitlines() if line[:1].isdigit()]
    base = re.search(r"^#tb 0: (\d+)/(\d+)", result.stdout.decode(errors="replace"), re.MULTILINE)
    section = _input_section(stderr)
    video = audio = None
    for line in section.splitlines():
        match = _STREAM.match(line)
        if match and match.group(1) == "Video" and video is None:
            video = match.group(2)
        elif match and match.group(1) == "Audio" and audio is None:
            audio = match.group(2)
    if result.returncode != 0 or video is None or not packets:
        raise MediaReadError(f"cannot read {os.fspath(path)} as a video: {_tail(stderr) or 'no video stream'}")

    fields = _split_fields(video)
    size = next((m for m in map(_SIZE.search, fields) if m), None)
    if size is None:
        raise MediaReadError(f"cannot read {os.fspath(path)} as a video: no frame size in {video!r}")
    width, height = int(size.group(1)), int(size.group(2))
    rotation = _ROTATION.search(section)
    if rotation and round(float(rotation.group(1))) % 180 == 90:
        width, height = height, width
    rates = dict((kind, _rate(value)) for value, kind in _FPS.findall(video))
    durations = sorted(int(packet[3]) for packet in packets if len(packet) > 3 and packet[3].strip().isdigit())
    if base and durations and durations[len(durations) // 2] > 0:
        frame_time = Fraction(int(base.group(1)), int(base.group(2))) * durations[len(durations) // 2]
        rates["fps"] = float(fps_fraction(1 / frame_time))
    duration = _DURATION.search(section)
    seconds = 0.0
    if duration:
        seconds = int(duration.group(1)) * 3600 + int(duration.group(2)) * 60 + float(duration.group(3))

    info = dict(sample_rate=None, channels=None, audio_codec=None)
    if audio is not None:
        afields = _split_fields(audio)
        info["audio_codec"] = afields[0].split()[0]
        for field in afields[1:]:
            if field.endswith(" Hz"):
                info["sample_rate"] = int(field.split()[0])
            elif field in _CHANNELS:
                info["channels"] = _CHANNELS[field]
            elif m := re.match(r"(\d+) channels", field):
                info["channels"] = int(m.group(1))
    return VideoInfo(
        path=os.fspath(path),
        frames=len(packets),
        width=width,
        height=height,
        fps=rates.get("fps", rates.get("tbr", 0.0)),
        duration=seconds,
        video_codec=fields[0].split()[0],
        pix_fmt=fields[1].split("(")[0] if len(fields) > 1 else "",
        has_audio=audio is not None,
        **info,
    )


def fps_fraction(fps: float | Fraction | str) -> Fraction:
    """24 -> 24/1, 23.976 -> 24000/1001, 29.97 -> 30000/1001 (the NTSC rates players expect)."""
    value = Fraction(fps).limit_denominator(1001)
    if value.denominator not in (1, 1001) and isinstance(fps, float):
        ntsc = Fraction(round(fps * 1001 / 1000) * 1000, 1001)
        if abs(float(ntsc) - fps) < 5e-4:
            return ntsc
    return value


def thumbnail_png(path: PathLike, max_side: int | None = 256) -> bytes:
    """First frame of a video as PNG bytes, scaled down (never up) so its long side is ``max_side``."""
    args = ["-i", os.fspath(path), "-map", "0:v:0", "-frames:v", "1"]
    if max_side:
        side = int(max_side)
        args += ["-vf", f"scale='min({side},iw)':'min({side},ih)':force_original_aspect_ratio=decrease"]
    result = _run([*args, "-f", "image2pipe", "-c:v", "png", "-"], "a video", path)
    if result.returncode != 0 or not result.stdout:
        raise MediaReadError(f"cannot read {os.fspath(path)} as a video: {_tail(result.stderr) or 'no frame'}")
    return result.stdout


def thumbnail(path: PathLike, max_side: int | None = 256) -> Image.Image:
    """First frame of a video as an RGB Pillow image (see ``thumbnail_png``)."""
    with Image.open(io.BytesIO(thumbnail_png(path, max_side))) as image:
        return image.convert("RGB")
