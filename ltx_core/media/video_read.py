"""Reading videos (IC-LoRA control videos, videos to upscale) and their audio, lazily.

Frames are decoded by the bundled ffmpeg into a pipe and read one at a time; ffmpeg is told to
stop after the frames asked for, and only the resized frames that are kept are held.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable, Iterator

import mlx.core as mx
import numpy as np

from ltx_core.media.errors import InputShapeError, MediaReadError, VideoTooShortError
from ltx_core.media.ffmpeg import PathLike, VideoInfo, _tail, ffmpeg_exe, probe_video
from ltx_core.media.image import resize_and_center_crop

FrameTransform = Callable[[np.ndarray], np.ndarray]


def iter_video_frames(
    path: PathLike, max_frames: int | None = None, size: tuple[int, int] | None = None
) -> Iterator[np.ndarray]:
    """Decoded frames of the first video stream, uint8 RGB (H, W, 3), one at a time.

    ``size`` (width, height, as ``probe_video`` gives it, rotation applied) saves probing the
    file again. Closing the iterator (or dropping it) stops ffmpeg. Unreadable input raises
    ``MediaReadError`` at the first ``next``.

    ffmpeg is started in its own session (Ctrl-C in the terminal stops the app, which stops it)
    without a ``preexec_fn``: Python code run between fork and exec can deadlock on a lock another
    thread held at the fork (seen: the studio's OpenSSL lock, a forked child spinning for good).
    """
    name = os.fspath(path)
    if not os.path.isfile(name):
        raise MediaReadError(f"cannot read {name} as a video: no such file")
    if size is None:
        info = probe_video(name)
        size = (info.width, info.height)
    width, height = size
    frame_bytes = width * height * 3
    limit = ["-frames:v", str(int(max_frames))] if max_frames is not None else []
    command = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", name, "-map", "0:v:0", *limit,
               "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]  # fmt: skip
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log,
                                   start_new_session=True)  # fmt: skip
        frames = 0
        try:
            while True:
                data = process.stdout.read(frame_bytes)
                if len(data) < frame_bytes:
                    break
                frames += 1
                yield np.frombuffer(data, dtype=np.uint8).reshape(height, width, 3)
            if process.wait() != 0 and frames == 0:
                log.seek(0)
                raise MediaReadError(f"cannot read {name} as a video: {_tail(log.read()) or 'ffmpeg failed'}")
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()
            process.stdout.close()


def check_frame_count(num_frames: int) -> None:
    if num_frames < 1 or num_frames % 8 != 1:
        raise InputShapeError(f"the frame count must be 8k+1 (1, 9, 17, ..., 121), got {num_frames}")


def usable_frame_count(available: int) -> int:
    """The largest 8k+1 not above ``available`` (0 when the video is empty)."""
    return (available - 1) // 8 * 8 + 1 if available >= 1 else 0


def read_video_frames(
    path: PathLike,
    height: int,
    width: int,
    num_frames: int | None = None,
    frame_transform: FrameTransform | None = None,
) -> tuple[np.ndarray, VideoInfo]:
    """The first ``num_frames`` (8k+1) frames resized to cover and center-cropped to
    ``height`` x ``width`` as float32 (F, height, width, 3) in [0, 255], and the video's info.

    ``num_frames=None`` takes the longest 8k+1 prefix. ``frame_transform`` (e.g. a Canny edge
    extractor) maps each resized (height, width, 3) frame to a new one in [0, 255].
    """
    info = probe_video(path)
    wanted = usable_frame_count(info.frames) if num_frames is None else num_frames
    if num_frames is not None:
        check_frame_count(num_frames)
    if wanted < 1 or info.frames < wanted:
        raise VideoTooShortError(
            f"{os.fspath(path)} has {info.frames} frames ({info.duration:.2f} s at {info.fps:g} fps); "
            f"{wanted if wanted else 'at least 1'} were requested"
        )
    out = np.empty((wanted, height, width, 3), dtype=np.float32)
    count = 0
    for frame in iter_video_frames(path, max_frames=wanted, size=(info.width, info.height)):
        resized = resize_and_center_crop(frame, height, width)
        out[count] = resized if frame_transform is None else frame_transform(resized)
        count += 1
    if count < wanted:  # the container promised more frames than could be decoded
        raise VideoTooShortError(f"{os.fspath(path)} decoded only {count} frames; {wanted} were requested")
    return out, info


def load_video_conditioning(
    path: PathLike,
    height: int,
    width: int,
    num_frames: int | None = None,
    frame_transform: FrameTransform | None = None,
) -> mx.array:
    """A video as the video VAE takes it: MLX float32 (1, 3, F, height, width) in [-1, 1]
    (``read_video_frames`` then the official ``x / 127.5 - 1``)."""
    frames, _ = read_video_frames(path, height, width, num_frames, frame_transform)
    frames = np.transpose(frames, (3, 0, 1, 2))[None]
    frames /= np.float32(127.5)
    frames -= np.float32(1.0)
    return mx.array(frames)


def read_audio(path: PathLike, sample_rate: int | None = None) -> tuple[np.ndarray, int]:
    """The first audio stream of a video file as interleaved int16 PCM (samples, channels) and its rate
    (resampled to ``sample_rate`` when given). A file without audio raises ``MediaReadError``."""
    info = probe_video(path)
    if not info.has_audio or not info.channels or not info.sample_rate:
        raise MediaReadError(f"{os.fspath(path)} has no audio stream")
    rate = int(sample_rate or info.sample_rate)
    args = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", os.fspath(path), "-map", "0:a:0",
            "-c:a", "pcm_s16le", "-ar", str(rate), "-ac", str(info.channels), "-f", "s16le", "-"]  # fmt: skip
    result = subprocess.run(args, capture_output=True)
    if result.returncode != 0:
        raise MediaReadError(f"cannot read the audio of {os.fspath(path)}: {_tail(result.stderr)}")
    pcm = np.frombuffer(result.stdout, dtype="<i2").astype(np.int16)
    return pcm[: len(pcm) // info.channels * info.channels].reshape(-1, info.channels), rate
