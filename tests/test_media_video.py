"""mp4 writing (atomic, chunked, with AAC audio and a sidecar), probing, thumbnails and reading back."""

from __future__ import annotations

import json
import os
from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest
from PIL import Image

from ltx_core.errors import InputShapeError, LTXError
from ltx_core.media import (
    MediaReadError,
    MediaWriteError,
    VideoTooShortError,
    iter_video_frames,
    load_video_conditioning,
    probe_video,
    read_audio,
    read_video_frames,
    thumbnail,
    thumbnail_png,
    write_mp4,
)
from ltx_core.model.audio_vae.audio import Audio, waveform_to_pcm16, write_wav

FRAMES, HEIGHT, WIDTH, FPS = 17, 64, 96, 24
RATE = 24000


def smooth_video(frames: int = FRAMES, height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    """Moving gradients: smooth enough that yuv420p and H.264 keep them close."""
    t, y, x = np.meshgrid(np.arange(frames), np.arange(height), np.arange(width), indexing="ij")
    red = 40 + 1.5 * x + 2 * t
    green = 30 + 2.0 * y + t
    blue = 100 + 0.5 * (x + y)
    return np.stack([red, green, blue], axis=-1).clip(0, 255).astype(np.uint8)


def tone(seconds: float, rate: int = RATE) -> np.ndarray:
    n = np.arange(round(seconds * rate)) / rate
    return np.stack([0.5 * np.sin(2 * np.pi * 440 * n), 0.25 * np.sin(2 * np.pi * 660 * n)]).astype(np.float32)


def chunks(video: np.ndarray, size: int = 4):
    for start in range(0, len(video), size):
        yield video[start : start + size]


def leftovers(folder: Path, keep: set[str]) -> list[str]:
    return sorted(name for name in os.listdir(folder) if name not in keep)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    folder = tmp_path_factory.mktemp("video")
    video = smooth_video()
    audio = tone(FRAMES / FPS)
    settings = {"prompt": "a red fox", "seed": np.int64(42), "frames": FRAMES, "cfg": 3.0, "lora": Path("a.safetensors")}
    result = write_mp4(folder / "clip.mp4", chunks(video), FPS, audio, RATE, settings=settings)
    print(f"MEDIA write {FRAMES}x{WIDTH}x{HEIGHT} + audio: {result.seconds * 1000:.0f} ms")
    return folder, video, audio, result


def test_probe_reports_streams(written):
    folder, video, audio, result = written
    info = probe_video(folder / "clip.mp4")
    assert (info.frames, info.width, info.height, info.fps) == (FRAMES, WIDTH, HEIGHT, FPS)
    assert (info.video_codec, info.pix_fmt) == ("h264", "yuv420p")
    assert info.has_audio and info.audio_codec == "aac"
    assert (info.sample_rate, info.channels) == (RATE, 2)
    assert abs(info.duration - FRAMES / FPS) < 0.02
    assert (result.frames, result.width, result.height, result.audio_samples) == (FRAMES, WIDTH, HEIGHT, audio.shape[1])


def test_audio_round_trip(written):
    folder, _, audio, _ = written
    pcm, rate = read_audio(folder / "clip.mp4")
    assert rate == RATE and pcm.shape[1] == 2
    print(f"MEDIA audio samples written {audio.shape[1]} read {pcm.shape[0]}")
    assert abs(pcm.shape[0] - audio.shape[1]) <= 1024  # at most one AAC frame
    n = min(pcm.shape[0], audio.shape[1])
    original = waveform_to_pcm16(audio)[:n].astype(np.float64)
    error = np.sqrt(np.mean((pcm[:n] - original) ** 2)) / np.sqrt(np.mean(original**2))
    print(f"MEDIA AAC relative rms error {error:.4f}")
    assert error < 0.1


def test_video_round_trip_values(written):
    folder, video, _, _ = written
    pixels = load_video_conditioning(folder / "clip.mp4", HEIGHT, WIDTH, FRAMES)
    assert pixels.shape == (1, 3, FRAMES, HEIGHT, WIDTH) and pixels.dtype == mx.float32
    values = np.array(pixels)
    assert values.min() >= -1.0 and values.max() <= 1.0
    back = (np.transpose(values[0], (1, 2, 3, 0)) + 1.0) * 127.5
    error = np.abs(back - video)
    print(f"MEDIA codec error first frame max {error[0].max():.1f} mean {error[0].mean():.2f}; all mean {error.mean():.2f}")
    assert error[0].max() <= 12 and error[0].mean() < 3
    assert error.mean() < 3
    first = next(iter_video_frames(folder / "clip.mp4"))
    assert first.shape == (HEIGHT, WIDTH, 3) and first.dtype == np.uint8


def test_video_read_matches_official():
    # The official load_video_conditioning (PyAV decoding) of a clip written by write_mp4,
    # recorded by tools/make_media_reference.py.
    data = Path(__file__).parent / "data"
    expected = np.load(data / "media_resize_reference.npz")["clip/48x80x9"]
    ours = np.array(load_video_conditioning(data / "media_clip.mp4", 48, 80, 9))
    error = np.abs(ours - expected).max()
    print(f"PARITY media_video_read/clip {error:.2e}")
    assert ours.shape == expected.shape and error < 1e-3  # 1e-3 = 0.13 levels: decoders agree bit for bit


def test_read_prefix_resized_and_too_short(written):
    path = written[0] / "clip.mp4"
    frames, info = read_video_frames(path, 32, 32, 9)
    assert frames.shape == (9, 32, 32, 3) and info.frames == FRAMES
    assert read_video_frames(path, 16, 24)[0].shape == (17, 16, 24, 3)  # None: the longest 8k+1 prefix
    with pytest.raises(VideoTooShortError, match=r"has 17 frames .* 25 were requested"):
        load_video_conditioning(path, 32, 32, 25)
    with pytest.raises(InputShapeError, match="8k\\+1"):
        load_video_conditioning(path, 32, 32, 10)


def test_corrupt_and_non_video_files(tmp_path, written):
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    image = tmp_path / "still.png"
    Image.new("RGB", (8, 8)).save(image)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes((written[0] / "clip.mp4").read_bytes()[:300])
    for path in (text, cut, tmp_path / "missing.mp4"):
        with pytest.raises(MediaReadError, match=rf"cannot read .*{path.name} as a video") as error:
            load_video_conditioning(path, 32, 32, 9)
        assert isinstance(error.value, LTXError)
        with pytest.raises(MediaReadError, match=path.name):
            next(iter_video_frames(path))
    sound = tmp_path / "sound.wav"
    write_wav(sound, Audio(waveform=mx.array(tone(0.1)), sampling_rate=RATE))
    with pytest.raises(MediaReadError, match="sound.wav as a video: it has no video stream"):
        probe_video(sound)
    with pytest.raises(VideoTooShortError):  # a still image is a one-frame video
        load_video_conditioning(image, 32, 32, 9)


def test_sidecar_and_no_temporary_files(written):
    folder, _, _, result = written
    assert leftovers(folder, {"clip.mp4", "clip.json"}) == []
    (folder / "plain").touch()  # outputs get the mode any new file gets (umask), not a temp file's 0600
    mode = (folder / "plain").stat().st_mode & 0o777
    (folder / "plain").unlink()
    assert (folder / "clip.mp4").stat().st_mode & 0o777 == mode == (folder / "clip.json").stat().st_mode & 0o777
    data = json.loads((folder / "clip.json").read_text())
    assert data["settings"] == {"prompt": "a red fox", "seed": 42, "frames": FRAMES, "cfg": 3.0, "lora": "a.safetensors"}
    assert set(data["versions"]) >= {"ltx_core", "mlx", "numpy"}
    assert data["versions"]["mlx"] == mx.__version__ and data["versions"]["numpy"] == np.__version__
    assert data["video"]["frames"] == FRAMES and data["video"]["fps"] == FPS
    assert data["audio"] == {"codec": "aac", "bitrate": "192k", "sample_rate": RATE, "channels": 2,
                             "samples": result.audio_samples}  # fmt: skip


def test_failure_midway_leaves_nothing(tmp_path):
    video = smooth_video()
    old = tmp_path / "old.mp4"
    write_mp4(old, video, FPS, sidecar=False)
    before = old.read_bytes()

    def broken():
        yield video[:8]
        raise RuntimeError("decoder exploded")

    for target in (tmp_path / "new.mp4", old):
        with pytest.raises(RuntimeError, match="decoder exploded"):
            write_mp4(target, broken(), FPS, tone(1.0), RATE, settings={"seed": 1})
    assert leftovers(tmp_path, set()) == ["old.mp4"]
    assert old.read_bytes() == before  # the previous file is untouched

    with pytest.raises(MediaWriteError, match="ffmpeg failed writing .*new.mp4"):  # the encoder refuses
        write_mp4(tmp_path / "new.mp4", chunks(video), FPS, tone(1.0), RATE, preset="no-such-preset")
    assert leftovers(tmp_path, set()) == ["old.mp4"]

    def mismatched():
        yield video[:4]
        yield video[:4, :32]

    with pytest.raises(InputShapeError, match="follows"):
        write_mp4(tmp_path / "bad.mp4", mismatched(), FPS)
    with pytest.raises(TypeError, match="JSON sidecar"):
        write_mp4(tmp_path / "bad.mp4", video, FPS, settings={"model": object()})
    assert leftovers(tmp_path, set()) == ["old.mp4"]


def test_odd_sizes_fps_audio_forms_and_thumbnail(tmp_path):
    video = smooth_video(9, 33, 47)
    mono = (np.sin(np.arange(16000) / 5.0) * 8000).astype(np.int16)
    result = write_mp4(tmp_path / "odd.mp4", mx.array(video), 24000 / 1001, mono, 16000)
    info = probe_video(tmp_path / "odd.mp4")
    assert (info.width, info.height, info.frames) == (46, 32, 9) == (result.width, result.height, result.frames)
    assert abs(info.fps - 23.976) < 1e-3 and str(result.fps) == "24000/1001"
    assert (info.sample_rate, info.channels) == (16000, 1)
    stereo = Audio(waveform=mx.array(tone(0.5)), sampling_rate=RATE)
    write_mp4(tmp_path / "a.mp4", video[:, :32, :46], 8, stereo)
    assert probe_video(tmp_path / "a.mp4").channels == 2
    small = thumbnail(tmp_path / "a.mp4", max_side=23)
    assert small.size == (23, 16) and small.mode == "RGB"
    full = thumbnail(tmp_path / "a.mp4", max_side=None)
    assert full.size == (46, 32)
    assert np.abs(np.asarray(full, dtype=int) - video[0, :32, :46]).mean() < 3
    assert thumbnail_png(tmp_path / "a.mp4").startswith(b"\x89PNG")
    with pytest.raises(InputShapeError):
        write_mp4(tmp_path / "f.mp4", video.astype(np.float32), FPS)
    with pytest.raises(InputShapeError, match="sample_rate"):
        write_mp4(tmp_path / "f.mp4", video, FPS, mono)
    assert not (tmp_path / "f.mp4").exists() and not (tmp_path / "f.json").exists()
