"""Extend on the tiny 2.0 model set: the new clip's first latent frames are the encoded end of the
source bit for bit, and its first audio latent frames the encoded sound of the overlap; the output
is the source (its own frames, within H.264's re-encode error, and its own samples, within AAC's)
followed by the extension, its overlap frames the source's last frames; backward, the new clip's
last latent frames are the encoded head and the output is the extension followed by the source;
seam quality is measured for the frames and the sound; bad input gets one sentence."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from ltx_core.media import probe_video
from ltx_core.media.video_read import iter_video_frames, read_audio
from ltx_core.media.video_write import write_mp4
from ltx_core.pipelines.extend import ExtendPipeline, ExtendRequest, extend_latents
from ltx_core.pipelines.request import RequestError
from ltx_core.pipelines.runner import run_job
from ltx_core.pipelines.source_audio import encode_clip_audio
from ltx_core.pipelines.source_clip import encode_pixels, source_pixels
from ltx_core.pipelines.speed import edit_plan
from tests.conftest import DEFAULT_SET, Reference
from tests.pipeline_helpers import tiny_ledger

FPS, FRAMES, SIZE = 24, 25, 128


def smooth_clip(frames: int = FRAMES) -> np.ndarray:
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    clip = [np.stack([(x * 2 + 3 * i) % 256, (y * 2 + i) % 256, 128 + 60 * np.sin((x + y) / 20 + i / 4)], -1) for i in range(frames)]
    return np.stack(clip).astype(np.uint8)


def read(path: Path) -> np.ndarray:
    return np.stack(list(iter_video_frames(path))).astype(np.int16)


def block_rms(pcm: np.ndarray, rate: int, seconds: float = 0.02) -> np.ndarray:
    """RMS of the channel mean per block of ``seconds`` (full scale 1)."""
    x = pcm.astype(np.float64).mean(axis=1) / 32768
    block = round(seconds * rate)
    return np.sqrt((x[: len(x) // block * block].reshape(-1, block) ** 2).mean(axis=1))


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    folder = tmp_path_factory.mktemp("extend")
    t = np.arange(int(FRAMES / FPS * 24000)) / 24000
    tone = (0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)
    write_mp4(folder / "source.mp4", smooth_clip(), FPS, np.stack([tone, tone])[None], 24000, sidecar=False)
    pcm, rate = read_audio(folder / "source.mp4")
    write_mp4(folder / "again.mp4", read(folder / "source.mp4").astype(np.uint8), FPS, pcm, rate, sidecar=False)
    ledger = tiny_ledger(Reference(DEFAULT_SET), folder)
    return folder, ledger


def test_the_new_clip_starts_from_the_encoded_end_of_the_source(setup):
    folder, ledger = setup
    pipeline = ExtendPipeline(ledger)
    job, _ = pipeline.prepare(ExtendRequest(folder / "source.mp4", 0.5, prompt="waves", seed=2, overlap=2))
    assert (job.overlap_frames, job.kept_frames, job.generation.frames) == (9, 16, 9 + 16)
    from ltx_core.components.noisers import GaussianNoiser
    from ltx_core.pipelines.blocks import encode_prompts

    tail = encode_pixels(ledger, source_pixels(job.clip)[job.kept_frames :])
    # the overlap's sound: 9 frames at 24 fps = 0.375 s cover audio latent frames 0..9 (ends at 0.37 s)
    assert job.audio is not None and job.audio_overlap_frames == 10
    overlap = replace(job.audio, waveform=job.audio.waveform[:, round(16 / FPS * job.audio.sample_rate) :])
    audio_tail = encode_clip_audio(ledger, overlap, job.audio_overlap_frames)
    prompts = encode_prompts(ledger, job.generation, with_negative=job.guided)
    video, audio = extend_latents(ledger, job, prompts, GaussianNoiser(2), tail, audio_tail=audio_tail)
    assert video.shape[2] == 4 and tail.shape[2] == 2 and audio is not None
    assert np.array_equal(np.array(video[:, :, :2]), np.array(tail))  # kept exactly
    assert not np.allclose(np.array(video[:, :, 2:]), 0)
    assert np.array_equal(np.array(audio[:, :, :10]), np.array(audio_tail))  # the source's sound, fixed
    assert audio.shape[2] > 10 and not np.allclose(np.array(audio[:, :, 10:]), np.array(audio[:, :, 9:10]))


def test_output_is_the_source_then_the_extension(setup):
    folder, ledger = setup
    record = run_job(ledger, "extend", ExtendRequest(folder / "source.mp4", 0.5, prompt="waves", seed=2), folder / "out.mp4")
    info = probe_video(record.video)
    assert (info.frames, info.width, info.height, info.has_audio) == (FRAMES + 16, SIZE, SIZE, True)
    source, again, out = read(folder / "source.mp4"), read(folder / "again.mp4"), read(record.video)
    codec = np.abs(again - source).mean(axis=(1, 2, 3)).max()
    kept = np.abs(out[:FRAMES] - source).mean(axis=(1, 2, 3))
    overlap = kept[FRAMES - 9 :]  # the overlap frames are the source's last frames
    print(f"MEASURED extend: codec re-encode error {codec:.3f}; source part max {kept.max():.3f}, overlap max {overlap.max():.3f}")
    assert kept.max() <= codec + 1.0
    # seam: the frame-to-frame change across the seam vs within the source and within the extension
    steps = np.abs(np.diff(out, axis=0)).mean(axis=(1, 2, 3))
    seam, within_source, within_new = steps[FRAMES - 1], steps[: FRAMES - 1].mean(), steps[FRAMES:].mean()
    print(f"MEASURED extend seam (tiny random model): across the seam {seam:.2f}, within the source {within_source:.2f}, "
          f"within the extension {within_new:.2f}")  # fmt: skip
    assert within_new > within_source  # the random tiny model makes noise: the new part differs from the gradient
    # audio: the source's own samples to its end (within AAC's re-encode change), then the new clip's
    original, rate = read_audio(folder / "source.mp4", sample_rate=None)
    again, _ = read_audio(folder / "again.mp4", sample_rate=rate)
    joined, _ = read_audio(record.video, sample_rate=rate)
    kept = round((FRAMES / FPS - 0.02) * rate) - 2048  # before the 20 ms fade and one AAC block
    peak = np.abs(original[:kept]).max()
    codec = np.abs(again[:kept].astype(np.float64) - original[:kept]).max() / peak
    ours = np.abs(joined[:kept].astype(np.float64) - original[:kept]).max() / peak
    print(f"MEASURED extend audio up to the source's end: relative max error {ours:.4f} (AAC re-encode {codec:.4f})")
    assert ours <= 1.5 * codec + 0.01
    assert joined.shape[0] >= round((FRAMES + 16) / FPS * rate) * 0.98
    rms = block_rms(joined, rate)
    seam = round(FRAMES / FPS / 0.02)  # the first 20 ms block after the source's end
    steps = np.abs(np.diff(rms))
    print(f"MEASURED extend audio seam (tiny random model; RMS per 20 ms block): source {rms[: seam - 1].mean():.4f}, "
          f"extension {rms[seam:].mean():.4f}; |change| across the seam {steps[seam - 2 : seam].max():.4f}, within the "
          f"source {steps[: seam - 2].mean():.4f}, within the extension {steps[seam:].mean():.4f}")
    settings = json.loads(record.sidecar.read_text())["settings"]
    assert settings["request"]["source"] == str(folder / "source.mp4") and settings["request"]["frames"] == FRAMES + 16


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"seconds": 0}, "more than 0"), ({"seconds": 60.0}, "at most 20"), ({"overlap": 9}, "at most 4 latent frames"),
     ({"overlap": 0}, "1 or more"), ({"overlap": 4, "direction": "backward"}, "at most 3 latent frames fits when extending"),
     ({"direction": "sideways"}, "forward or backward"), ({"direction": "backward", "blend": True}, "forward extensions only")],
)  # fmt: skip
def test_bad_input_is_refused_before_loading(setup, changes, message):
    folder, ledger = setup
    values = {"source": folder / "source.mp4", "seconds": 1.0, "prompt": "x", **changes}
    with pytest.raises(RequestError, match=message):
        ExtendPipeline(ledger).prepare(ExtendRequest(**values))
    assert not ledger.loaded()


def test_extend_backward_leads_into_the_source(setup, monkeypatch):
    """Backward: the new clip's last latent frames are the source's encoded frames 1..16 bit for bit
    (its latent frame 0, one pixel frame alone, dropped), its last audio latent frames the sound
    from the first audio latent boundary after the seam; the output is the extension, then the
    source's own frames and samples."""
    import ltx_core.pipelines.extend as extend_module

    folder, ledger = setup
    job, _ = ExtendPipeline(ledger).prepare(
        ExtendRequest(folder / "source.mp4", 0.5, prompt="waves", seed=2, overlap=2, direction="backward")
    )
    # 16 new frames, then the source's first 17 (frame 16 of the new clip is the source's frame 0)
    assert (job.overlap_frames, job.added_frames, job.generation.frames, job.latent_index) == (17, 16, 33, 3)
    # the seam at 16/24 s = 0.667 s: the audio grid's next boundary is 0.68 s (17 x 40 ms), so the cut is
    # 13.3 ms; the kept frames are 18.. (each 40 ms, spans [0.04i - 0.03, 0.04i + 0.01)) up to the end, 1.375 s
    head = job.audio_head
    assert head is not None and (head.start, head.frames) == (18, 16) and head.cut == pytest.approx(0.68 - 2 / 3)
    seen = {}
    original = extend_module.extend_latents

    def recorded(*args, **kwargs):
        seen["tail"], seen["audio_tail"] = args[4], args[6]
        seen["video"], seen["audio"] = original(*args, **kwargs)
        return seen["video"], seen["audio"]

    monkeypatch.setattr(extend_module, "extend_latents", recorded)
    request = ExtendRequest(folder / "source.mp4", 0.5, prompt="waves", seed=2, overlap=2, direction="backward")
    first = len(ledger.stages)
    record = run_job(ledger, "extend", request, folder / "back.mp4")
    planned = [work.stage for work in edit_plan("extend", SIZE, SIZE, 33, FPS, 8, True, 17)]
    assert {stage.stage for stage in ledger.stages[first:]} == set(planned)  # the studio's ETA plans every stage that ran
    expected = encode_pixels(ledger, source_pixels(job.clip)[:17])
    assert np.array_equal(np.array(seen["tail"]), np.array(expected[:, :, 1:]))
    video, audio = np.array(seen["video"]), np.array(seen["audio"])
    assert video.shape[2] == 5 and np.array_equal(video[:, :, 3:], np.array(seen["tail"]))  # kept exactly
    assert np.array_equal(audio[:, :, 18:34], np.array(seen["audio_tail"])) and audio.shape[2] == 34
    assert not np.allclose(video[:, :, :3], 0)
    info = probe_video(record.video)
    assert (info.frames, info.width, info.height, info.has_audio) == (16 + FRAMES, SIZE, SIZE, True)
    source, again, out = read(folder / "source.mp4"), read(folder / "again.mp4"), read(record.video)
    codec = np.abs(again - source).mean(axis=(1, 2, 3)).max()
    kept = np.abs(out[16:] - source).mean(axis=(1, 2, 3))  # the overlap (out[16:33]) and the rest of the source
    print(f"MEASURED extend backward: codec re-encode error {codec:.3f}; source part max {kept.max():.3f}, "
          f"overlap max {kept[:17].max():.3f}")  # fmt: skip
    assert kept.max() <= codec + 1.0
    steps = np.abs(np.diff(out, axis=0)).mean(axis=(1, 2, 3))
    seam, within_new, within_source = steps[15], steps[:15].mean(), steps[16:].mean()
    print(f"MEASURED extend backward seam (tiny random model): across the seam {seam:.2f}, within the extension "
          f"{within_new:.2f}, within the source {within_source:.2f}")  # fmt: skip
    assert within_new > within_source
    original_pcm, rate = read_audio(folder / "source.mp4", sample_rate=None)
    again_pcm, _ = read_audio(folder / "again.mp4", sample_rate=rate)
    joined, _ = read_audio(record.video, sample_rate=rate)
    start = round(16 / FPS * rate)
    shift = joined[start + round(0.02 * rate) + 2048 :]  # after the 20 ms fade and one AAC block: the source's samples
    length = min(len(shift), len(original_pcm) - round(0.02 * rate) - 2048 - 2048)
    reference = original_pcm[round(0.02 * rate) + 2048 :][:length].astype(np.float64)
    peak = np.abs(reference).max()
    ours = np.abs(shift[:length] - reference).max() / peak
    codec_audio = np.abs(again_pcm[round(0.02 * rate) + 2048 :][:length] - reference).max() / peak
    print(f"MEASURED extend backward audio after the seam: relative max error {ours:.4f} (AAC re-encode {codec_audio:.4f})")
    assert ours <= 1.5 * codec_audio + 0.01
    rms = block_rms(joined, rate)
    block = int(16 / FPS / 0.02)  # the 20 ms block holding the seam
    changes = np.abs(np.diff(rms))
    print(f"MEASURED extend backward audio seam (tiny random model; RMS per 20 ms block): extension "
          f"{rms[:block].mean():.4f}, source {rms[block + 1 :].mean():.4f}; |change| across the seam "
          f"{changes[block - 1 : block + 1].max():.4f}, within the extension {changes[: block - 1].mean():.4f}, within the "
          f"source {changes[block + 1 :].mean():.4f}")  # fmt: skip
    settings = json.loads(record.sidecar.read_text())["settings"]["request"]
    assert (settings["direction"], settings["frames"], settings["overlap"]) == ("backward", FRAMES + 16, 2)


def test_extend_from_the_cli(setup, monkeypatch, capsys):
    from ltx_core.__main__ import main

    folder, _ = setup
    monkeypatch.setenv("LTX_DEMO_DIR", str(folder / "demo"))
    common = ["--dtype", "float32", "--quantize", "none", "--text-quantize", "none"]
    assert main(["generate", "--pipeline", "extend", "--source", str(folder / "source.mp4"), "--prompt", "x",
                 "--output", str(folder / "bad.mp4"), *common]) == 2  # fmt: skip
    assert "needs --seconds" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="2"):
        main(["generate", "--pipeline", "extend", "--source", str(folder / "source.mp4"), "--seconds", "0.3",
              "--direction", "sideways", "--output", str(folder / "bad.mp4"), *common])  # fmt: skip
    assert "--direction: invalid choice: 'sideways'" in capsys.readouterr().err
    assert main(["generate", "--pipeline", "extend", "--source", str(folder / "source.mp4"), "--seconds", "0.3",
                 "--overlap", "1", "--direction", "backward", "--prompt", "before the waves",
                 "--output", str(folder / "cli.mp4"), *common]) == 0  # fmt: skip
    assert probe_video(folder / "cli.mp4").frames == FRAMES + 8
    assert json.loads((folder / "cli.json").read_text())["settings"]["request"]["direction"] == "backward"


def test_sound_that_ends_before_the_overlap_is_not_encoded(setup):
    """A source whose audio stops before the overlap: the extension's audio is generated without it
    (a notice), the source's sound is still kept; nothing loads."""
    folder, ledger = setup
    t = np.arange(7200) / 24000  # 0.3 s; the overlap starts at 16 / 24 s
    tone = (0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)
    write_mp4(folder / "early.mp4", smooth_clip(), FPS, np.stack([tone, tone])[None], 24000, sidecar=False)
    job, notices = ExtendPipeline(ledger).prepare(ExtendRequest(folder / "early.mp4", 0.5, prompt="x"))
    assert job.audio is not None and job.audio.seconds == 0.3 and job.audio_overlap_frames == 0
    assert any("ends at 0.30 s, before the overlap" in n for n in notices)
    assert not ledger.loaded()
