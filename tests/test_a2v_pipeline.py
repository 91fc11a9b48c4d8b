"""Audio-to-video end to end on the demo models (CLI): the clip's length follows the audio, the mp4 carries
the user's own audio sample for sample (lossless FLAC in the mp4: its rate, channels, exact cut and
length; AAC, as the generated outputs use, measured only 20 dB SNR on a tone-plus-noise song), and bad
audio is refused in one line before any model loads."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np
import pytest

from ltx_core.__main__ import main
from ltx_core.media import probe_video
from ltx_core.media.audio_read import probe_audio, read_audio_clip

RATE = 44100
DEMO_FLAGS = ["--preset", "compact", "--dtype", "float32", "--quantize", "none", "--text-quantize", "none"]


@pytest.fixture()
def demo_env(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("LTX_DEMO_DIR", str(tmp_path / "demo"))
    return tmp_path


def write_song(path: Path, seconds: float, rate: int = RATE, channels: int = 2) -> np.ndarray:
    """Two tones and a little noise, different per channel; returns the int16 (samples, channels) written."""
    t = np.arange(int(seconds * rate)) / rate
    rng = np.random.default_rng(3)
    left = 0.3 * np.sin(2 * np.pi * 330 * t) + 0.15 * np.sin(2 * np.pi * 1250 * t) + 0.02 * rng.standard_normal(len(t))
    right = 0.25 * np.sin(2 * np.pi * 523 * t + 1.0) + 0.02 * rng.standard_normal(len(t))
    pcm = (np.stack([left, right][:channels], axis=1) * 32767).astype(np.int16)
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(channels)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(pcm.tobytes())
    return pcm


def generate(out: Path, audio: Path, *extra: str) -> int:
    return main([
        "generate", "--pipeline", "audio-to-video", "--prompt", "a band on a stage", "--audio", str(audio),
        "--height", "128", "--width", "128", "--steps", "2", "--output", str(out), *extra, *DEMO_FLAGS,
    ])  # fmt: skip


def test_output_carries_the_users_audio(demo_env: Path, capsys) -> None:
    song = demo_env / "song.wav"
    pcm = write_song(song, 1.6)
    out = demo_env / "a2v.mp4"
    assert generate(out, song, "--audio-start", "0.25", "--audio-max-seconds", "1.0") == 0
    err = capsys.readouterr().err
    assert "the clip follows the audio: 17 frames (0.71 s at 24 fps)" in err  # 1.0 s -> the longest 8k+1 inside
    info = probe_video(out)
    assert (info.frames, info.has_audio, info.sample_rate, info.channels) == (17, True, RATE, 2)

    first, samples = round(0.25 * RATE), round(17 / 24 * RATE)
    expected = pcm[first : first + samples]
    track = read_audio_clip(out)
    assert track.sample_rate == RATE and track.waveform.shape == (2, samples)
    np.testing.assert_array_equal(track.pcm16(), expected)  # the user's samples, exactly
    assert probe_audio(out).codec == "flac"

    request = json.loads(out.with_suffix(".json").read_text())["settings"]["request"]
    assert (request["audio"], request["audio_start"], request["audio_max_seconds"], request["frames"]) == (
        str(song), 0.25, 1.0, 17)


def test_mono_audio_and_explicit_frames(demo_env: Path) -> None:
    song = demo_env / "mono.wav"
    write_song(song, 1.0, rate=16000, channels=1)
    out = demo_env / "mono.mp4"
    assert generate(out, song, "--frames", "9") == 0
    info = probe_video(out)
    assert (info.frames, info.sample_rate, info.channels) == (9, 16000, 1)  # the user's own rate and channels
    track = read_audio_clip(out)
    np.testing.assert_array_equal(track.pcm16(), write_song(demo_env / "again.wav", 1.0, 16000, 1)[: round(9 / 24 * 16000)])


@pytest.mark.parametrize(
    ("make", "extra", "message"),
    [
        ("short", (), r"from 0 s is 0\.20 s long; audio-to-video needs at least 0\.38 s \(9 frames at 24 fps\)"),
        ("text", (), r"notes\.txt has no audio stream: give a wav, mp3, m4a/aac or flac file, or a video with sound"),
        ("song", ("--audio-start", "5"), r"song\.wav is 1\.00 s long: the start 5 s is past its end"),
        ("song", ("--frames", "49"), r"49 frames at 24 fps need 2\.04 s: give fewer frames"),
    ],
)
def test_bad_audio_is_one_line_before_loading(demo_env: Path, capsys, make: str, extra: tuple, message: str) -> None:
    if make == "text":
        audio = demo_env / "notes.txt"
        audio.write_text("not audio")
    else:
        audio = demo_env / f"{make}.wav"
        write_song(audio, 0.2 if make == "short" else 1.0)
    assert generate(demo_env / "bad.mp4", audio, *extra) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and len([line for line in err if line.startswith("error")]) == 1
    import re

    assert re.search(message, err[-1]), err[-1]
    assert not (demo_env / "bad.mp4").exists()
