"""Retake end to end on the built-in demo models, through the CLI: outside the window the output's
frames are the source's (within what H.264 itself changes when the same frames are encoded
again), inside they are new; the audio is regenerated in the window (the source's sound encoded
through the log-mel front end) and outside it is the source's own samples (within what AAC itself
changes); the sidecar records the parent; bad input gets one line before anything loads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ltx_core.__main__ import main
from ltx_core.media import probe_video
from ltx_core.media.video_read import iter_video_frames, read_audio
from ltx_core.media.video_write import write_mp4

COMMON = ["--dtype", "float32", "--quantize", "none", "--text-quantize", "none"]
FPS, FRAMES, SIZE = 24, 25, 128
WINDOW = (0.4, 0.7)  # frames 10..16


def smooth_clip(frames: int = FRAMES) -> np.ndarray:
    """A moving colour gradient: content H.264 keeps nearly intact (unlike the demo model's noise)."""
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    clip = [np.stack([(x * 2 + 3 * i) % 256, (y * 2 + i) % 256, 128 + 60 * np.sin((x + y) / 20 + i / 4)], -1) for i in range(frames)]
    return np.stack(clip).astype(np.uint8)


def read(path: Path) -> np.ndarray:
    return np.stack(list(iter_video_frames(path))).astype(np.int16)


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("retake")
    import os

    os.environ["LTX_DEMO_DIR"] = str(folder / "demo")
    source = smooth_clip()
    t = np.arange(int(FRAMES / FPS * 24000)) / 24000
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    write_mp4(folder / "upload.mp4", source, FPS, np.stack([tone, tone])[None], 24000, sidecar=False)
    # the codec's own tolerance: the source's frames, read back and encoded once more
    original, rate = read_audio(folder / "upload.mp4")
    write_mp4(folder / "again.mp4", read(folder / "upload.mp4").astype(np.uint8), FPS, original, rate, sidecar=False)
    code = main(["generate", "--pipeline", "retake", "--source", str(folder / "upload.mp4"), "--start", str(WINDOW[0]),
                 "--end", str(WINDOW[1]), "--prompt", "a red boat", "--seed", "3", "--output", str(folder / "retake.mp4"),
                 *COMMON])  # fmt: skip
    assert code == 0
    return folder


def test_frames_outside_the_window_are_the_sources(clips: Path):
    source, again, retake = read(clips / "upload.mp4"), read(clips / "again.mp4"), read(clips / "retake.mp4")
    assert retake.shape == source.shape == (FRAMES, SIZE, SIZE, 3)
    inside = np.array([WINDOW[0] <= i / FPS < WINDOW[1] for i in range(FRAMES)])
    codec = np.abs(again - source).mean(axis=(1, 2, 3))  # re-encoding the same frames
    ours = np.abs(retake - source).mean(axis=(1, 2, 3))
    print(f"MEASURED codec re-encode mean abs error per frame: max {codec.max():.3f}; retake outside the window: "
          f"max {ours[~inside].max():.3f} (max abs {np.abs(retake - source)[~inside].max()}), inside: min {ours[inside].min():.2f}")  # fmt: skip
    # outside: no more change than the codec makes on its own, with one unit of mean slack
    # (the regenerated neighbours change H.264's predictions near the window)
    assert ours[~inside].max() <= codec.max() + 1.0
    assert ours[inside].min() > 10 * (codec.max() + 1.0)


def test_audio_outside_the_window_is_the_sources_and_inside_is_new(clips: Path):
    info = probe_video(clips / "retake.mp4")
    assert info.has_audio
    original, rate = read_audio(clips / "upload.mp4")
    again, _ = read_audio(clips / "again.mp4", sample_rate=rate)  # the codec's own change: AAC once more
    retake, _ = read_audio(clips / "retake.mp4", sample_rate=rate)
    n = round(FRAMES / FPS * rate)
    assert min(len(original), len(again), len(retake)) >= n - 1024
    n = min(n, len(original), len(again), len(retake))
    seconds = np.arange(n) / rate
    margin = 2048 / rate  # one AAC block of 1024 samples with its overlapping window, on each side
    outside = (seconds < WINDOW[0] - margin) | (seconds >= WINDOW[1] + margin)
    inside = (seconds >= WINDOW[0] + 0.02) & (seconds < WINDOW[1] - 0.02)  # past the 20 ms edge fades
    source = original[:n].astype(np.float64)
    peak = np.abs(source).max()

    def error(other: np.ndarray, where: np.ndarray) -> float:
        return float(np.abs(other[:n].astype(np.float64) - source)[where].max() / peak)

    codec, kept, new = error(again, outside), error(retake, outside), error(retake, inside)
    edges = error(retake, ~inside & ~outside)
    print(f"MEASURED retake audio vs source (relative max error, AAC read back): codec re-encode {codec:.4f}; "
          f"outside the window {kept:.4f} (within {margin * 1000:.0f} ms of its edges {edges:.3f}); inside {new:.3f}")
    assert kept <= 1.5 * codec + 0.01
    assert new > 0.3 and new > 20 * kept


def test_sidecar_lineage(clips: Path):
    settings = json.loads((clips / "retake.mp4").with_suffix(".json").read_text())["settings"]
    assert settings["pipeline"] == "retake"
    request = settings["request"]
    assert request["source"] == str(clips / "upload.mp4") and (request["start"], request["end"]) == WINDOW
    assert request["regenerate_audio"] is True and not any("log-mel" in n for n in settings["notices"])


def test_kept_audio_is_the_sources_samples(clips: Path):
    """--keep-audio: the sound is encoded and held fixed for the video's denoising, and the output
    carries the source's samples."""
    out = clips / "keep.mp4"
    assert main(["generate", "--pipeline", "retake", "--source", str(clips / "upload.mp4"), "--start", str(WINDOW[0]),
                 "--end", str(WINDOW[1]), "--prompt", "a red boat", "--keep-audio", "--output", str(out), *COMMON]) == 0  # fmt: skip
    original, rate = read_audio(clips / "upload.mp4")
    again, _ = read_audio(clips / "again.mp4", sample_rate=rate)
    kept, _ = read_audio(out, sample_rate=rate)
    n = min(len(original), len(kept), len(again))
    peak = np.abs(original[:n]).max()
    codec = np.abs(again[:n].astype(np.float64) - original[:n]).max() / peak
    ours = np.abs(kept[:n].astype(np.float64) - original[:n]).max() / peak
    print(f"MEASURED kept audio (--keep-audio) relative max error {ours:.4f}, codec re-encode {codec:.4f}")
    assert ours <= 1.5 * codec + 0.01


def test_bad_input_gives_one_line_before_loading(clips: Path, capsys):
    upload = str(clips / "upload.mp4")
    cases = {
        ("--start", "0.7", "--end", "0.4"): "must be before its end",
        ("--start", "0.5", "--end", "3"): "outside the clip",
        ("--start", "0", "--end", "0.5", "--source", str(clips / "retake.json")): "is not a video file",
    }
    for args, message in cases.items():
        assert main(["generate", "--pipeline", "retake", "--source", upload, *args, "--prompt", "x",
                     "--output", str(clips / "bad.mp4"), *COMMON]) == 2  # fmt: skip
        assert message in capsys.readouterr().err.strip().splitlines()[-1]
    sidecar = clips / "retake.json"  # a clip of another model version
    data = json.loads(sidecar.read_text())
    data["settings"]["models"]["model_version"] = "2.3"
    (clips / "other.mp4").write_bytes((clips / "retake.mp4").read_bytes())
    (clips / "other.json").write_text(json.dumps(data))
    assert main(["generate", "--pipeline", "retake", "--source", str(clips / "other.mp4"), "--start", "0", "--end", "0.5",
                 "--prompt", "x", "--output", str(clips / "bad.mp4"), *COMMON]) == 2  # fmt: skip
    assert "was made with LTX-2.3" in capsys.readouterr().err
    assert not (clips / "bad.mp4").exists()


def test_retake_on_ltx25_keeps_the_frames_outside_the_window(tmp_path):
    """The per-component LTX-2.5 set (diffusion video decoder, distilled): a silent upload gets its
    window regenerated, its other frames kept, and a soundtrack."""
    from tests.ltx25_helpers import SKIP_REASON, ltx25_directory, ltx25_reference
    from tests.model_files import model_paths

    if ltx25_directory() is None:
        pytest.skip(SKIP_REASON)
    from ltx_core.pipelines.ledger import ModelLedger
    from ltx_core.pipelines.retake import RetakeRequest
    from ltx_core.pipelines.runner import run_job

    ledger = ModelLedger(model_paths(ltx25_reference()))
    write_mp4(tmp_path / "upload.mp4", smooth_clip(17), FPS, sidecar=False)
    record = run_job(ledger, "retake", RetakeRequest(tmp_path / "upload.mp4", 0.2, 0.5, prompt="a boat"), tmp_path / "r.mp4")
    source, ours = read(tmp_path / "upload.mp4"), read(record.video)
    inside = np.array([0.2 <= i / FPS < 0.5 for i in range(17)])
    change = np.abs(ours - source).mean(axis=(1, 2, 3))
    assert probe_video(record.video).has_audio and change[~inside].max() < 4 and change[inside].min() > 10
    assert json.loads(record.sidecar.read_text())["settings"]["models"]["model_version"] == "2.5"


def short_audio_clip(path: Path, samples: int) -> Path:
    t = np.arange(samples) / 24000
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    write_mp4(path, smooth_clip(), FPS, np.stack([tone, tone])[None], 24000, sidecar=False)
    return path


def test_sound_that_cannot_be_regenerated_is_refused_before_loading(tmp_path):
    """Prepared on the tiny set, nothing loads: a silent clip asked for its audio only, a sound too
    short to encode asked to be regenerated (kept, with a notice, when only the video is retaken),
    and a sound shorter than the clip (a notice: the official zero padding)."""
    from ltx_core.pipelines.request import RequestError
    from ltx_core.pipelines.retake import RetakePipeline, RetakeRequest
    from tests.conftest import DEFAULT_SET, Reference
    from tests.pipeline_helpers import tiny_ledger

    ledger = tiny_ledger(Reference(DEFAULT_SET), tmp_path)
    pipeline = RetakePipeline(ledger)
    silent = tmp_path / "silent.mp4"
    write_mp4(silent, smooth_clip(), FPS, sidecar=False)
    with pytest.raises(RequestError, match="silent.mp4 has no audio to regenerate: regenerate its video."):
        pipeline.prepare(RetakeRequest(silent, 0.2, 0.5, "x", regenerate_video=False))
    blip = short_audio_clip(tmp_path / "blip.mp4", 400)  # 17 ms: less than the STFT's half window
    with pytest.raises(RequestError, match=r"the audio of blip.mp4 is 0.017 s long, too short to encode \(at least 0.032 s\)"):
        pipeline.prepare(RetakeRequest(blip, 0.2, 0.5, "x"))
    job, notices = pipeline.prepare(RetakeRequest(blip, 0.2, 0.5, "x", regenerate_audio=False))
    assert job.audio is None and not job.generate_audio and any("too short to encode" in n for n in notices)
    half = short_audio_clip(tmp_path / "half.mp4", 12000)
    job, notices = pipeline.prepare(RetakeRequest(half, 0.2, 0.5, "x"))
    assert job.generate_audio and job.audio.seconds == 0.5
    assert any("ends at 0.50 s, the clip at 1.04 s" in n for n in notices)
    assert not ledger.loaded()


def test_splice_keeps_the_source_samples_outside_the_window():
    """The output track of an audio retake, sample by sample: the source's own samples outside
    [start, end), the regenerated audio (resampled from the vocoder's rate) inside, 20 ms fades
    inside the edges; silence past the end of a shorter source."""
    import mlx.core as mx

    from ltx_core.media.audio_read import AudioClip
    from ltx_core.model.audio_vae.audio import Audio
    from ltx_core.pipelines.source_audio import splice_window

    rate, seconds = 24000, 1.0
    source = np.round(np.random.default_rng(0).uniform(-0.5, 0.5, (1, 20000)) * 32768) / 32768  # mono, 0.83 s
    generated = Audio(mx.full((2, 48000), 0.25), 48000)  # stereo at the vocoder's rate
    pcm, out_rate = splice_window(AudioClip(source.astype(np.float32), rate, 0.0, 20000 / rate), generated, 0.4, 0.7, seconds)
    assert out_rate == rate and pcm.shape == (24000, 1)
    expected = np.round(source[0] * 32768).astype(np.int16)
    first, stop, fade = 9600, 16800, 480
    assert np.array_equal(pcm[:first, 0], expected[:first]) and np.array_equal(pcm[stop:20000, 0], expected[stop:])
    # 0.25 inside, within the windowed-sinc resampler's DC gain (0.05% from 1, as torchaudio's)
    assert np.all(np.abs(pcm[first + fade : stop - fade, 0].astype(int) - 8192) <= 8)
    assert np.all(pcm[20000:] == 0)
    ramp = pcm[first : first + fade, 0].astype(float)
    weights = (np.arange(fade) + 1) / (fade + 1)
    assert np.allclose(ramp, expected[first : first + fade] * (1 - weights) + 8196 * weights, atol=1.5)
