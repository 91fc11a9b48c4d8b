"""Long videos as a timeline on the tiny 2.0 model set: window by window, progress per window,
cancel between windows keeps the finished ones, running again resumes; the windows chain as
extensions (lineage, the earlier frames kept, the overlap cross-faded); bad segments refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ltx_core.media import probe_video
from ltx_core.media.video_read import iter_video_frames
from ltx_core.pipelines.progress import CancelToken
from ltx_core.pipelines.request import RequestError
from ltx_core.pipelines.timeline import (
    Segment,
    TimelineRequest,
    check_timeline,
    run_timeline,
    timeline_plan,
    window_path,
)
from tests.conftest import DEFAULT_SET, Reference
from tests.pipeline_helpers import tiny_ledger

SEGMENTS = (Segment("a boat at dawn", 0.4), Segment("the boat reaches the shore", 0.4))


def read(path: Path) -> np.ndarray:
    return np.stack(list(iter_video_frames(path))).astype(np.int16)


def test_cancel_between_windows_then_resume(tmp_path):
    from ltx_core.errors import LTXError

    ledger = tiny_ledger(Reference(DEFAULT_SET), tmp_path)
    request = TimelineRequest(SEGMENTS, height=128, width=128, fps=24, seed=3)
    folder = tmp_path / "timeline"
    cancel, stages = CancelToken(), []

    def progress(event) -> None:
        stages.append(event.stage)
        if event.stage.startswith("window 2/2"):
            cancel.cancel()

    with pytest.raises(LTXError, match="cancelled"):
        run_timeline(ledger, request, folder, progress, cancel)
    assert any(s.startswith("window 1/2 · stage 1") for s in stages)
    first = window_path(folder, 1)
    assert first.is_file() and sorted(p.name for p in folder.iterdir()) == ["window-01.json", "window-01.mp4"]
    stamp = first.stat().st_mtime_ns

    records = run_timeline(ledger, request, folder)  # resumes: only window 2 runs
    assert len(records) == 1 and first.stat().st_mtime_ns == stamp
    # the studio's ETA plans window 2's stages under the names its records (and events) carry
    plan = [work.stage for work in timeline_plan(request, ledger.version, ledger.model.variant == "distilled", first=2)]
    assert [stage.stage for stage in records[0].stages] == plan
    assert plan[:2] == ["window 2/2 · text encoder", "window 2/2 · encode"]
    whole = timeline_plan(request, ledger.version, ledger.model.variant == "distilled")
    assert [work.stage for work in whole][: len(whole) - len(plan)][1] == "window 1/2 · stage 1"
    second = window_path(folder, 2)
    assert probe_video(first).frames == 17 and probe_video(second).frames == 17 + 16
    settings = json.loads(second.with_suffix(".json").read_text())["settings"]
    assert settings["pipeline"] == "extend" and settings["request"]["source"] == str(first)
    assert settings["request"]["blend"] and settings["timeline"]["window"] == 2
    old, new = read(first), read(second)
    kept = np.abs(new[:8] - old[:8]).mean(axis=(1, 2, 3))  # before the overlap: window 1's frames (codec again)
    steps = np.abs(np.diff(new, axis=0)).mean(axis=(1, 2, 3))
    print(f"MEASURED timeline: kept frames re-encode error max {kept.max():.2f}; frame-to-frame change around the "
          f"overlap {steps[7:17].mean():.2f}, within window 1 {steps[:7].mean():.2f}, within window 2 {steps[17:].mean():.2f}")  # fmt: skip
    assert kept.max() < 12
    audio_seam(first, second, ledger)
    assert run_timeline(ledger, request, folder) == []  # everything is done


def audio_seam(first: Path, second: Path, ledger) -> None:
    """Window 2's sound: window 1's samples before the overlap, conditioned on them over it (the
    overlap's audio latent frames fixed), cross-faded over the overlap; the RMS seam measured."""
    from ltx_core.media.video_read import read_audio
    from ltx_core.media.video_write import write_mp4
    from tests.test_extend import block_rms

    old, rate = read_audio(first)
    again = first.with_name("again.mp4")  # the codec's own change: window 1's sound through AAC once more
    write_mp4(again, read(first)[:1].astype(np.uint8), 24, old, rate, sidecar=False)
    before = round(8 / 24 * rate) - 2048  # before the overlap (and one AAC block)
    peak = max(np.abs(old[:before]).max(), 1)
    new, codec = (read_audio(path, sample_rate=rate)[0] for path in (second, again))
    again.unlink()
    error, codec = (np.abs(x[:before].astype(np.float64) - old[:before]).max() / peak for x in (new, codec))
    rms = block_rms(new, rate)
    start, end = round(8 / 24 / 0.02), round(17 / 24 / 0.02)  # the overlap's 20 ms blocks
    steps = np.abs(np.diff(rms))
    print(f"MEASURED timeline audio: window 1's samples before the overlap, relative max error {error:.4f} (AAC "
          f"re-encode {codec:.4f}); RMS change "
          f"per 20 ms across the overlap {steps[start:end].mean():.4f}, within window 1 {steps[:start].mean():.4f}, "
          f"after the overlap {steps[end:].mean():.4f}")  # fmt: skip
    assert error <= 1.5 * codec + 0.01


@pytest.mark.parametrize(
    ("segments", "message"),
    [((), "empty"), ((Segment(" ", 1.0),), "no prompt"), ((Segment("x", 0.0),), "more than 0")],
)
def test_bad_segments_are_refused(segments, message):
    with pytest.raises(RequestError, match=message):
        check_timeline(TimelineRequest(segments))


def test_timeline_from_the_cli(tmp_path, monkeypatch, capsys):
    from ltx_core.__main__ import main

    monkeypatch.setenv("LTX_DEMO_DIR", str(tmp_path / "demo"))
    args = ["timeline", "--segment", "rain::0.3", "--segment", "sun", "--height", "128", "--width", "128",
            "--output-dir", str(tmp_path / "t"), "--dtype", "float32", "--quantize", "none", "--text-quantize", "none"]  # fmt: skip
    assert main(args) == 2 and "PROMPT::SECONDS" in capsys.readouterr().err
    args[4] = "sun::0.3"
    assert main(args) == 0 and probe_video(window_path(tmp_path / "t", 2)).frames == 9 + 8


def test_a_timeline_longer_than_the_memory_holds_is_refused():
    from ltx_core.pipelines.timeline import max_timeline_seconds

    limit = max_timeline_seconds(512, 768, 24, 8 * 2**30)  # 768x512x3 values x 2 bytes x 24 fps: 57 MB per second
    assert abs(limit - 8 * 2**30 / (512 * 768 * 3 * 2 * 24)) < 1e-9 and 151 < limit < 152
    seven = TimelineRequest(tuple(Segment(f"shot {i}", 20.0) for i in range(7)), height=512, width=768)
    check_timeline(seven, limit)
    with pytest.raises(RequestError, match="the timeline lasts 160 s but at 768x512 this memory mode holds at most 152 s"):
        check_timeline(TimelineRequest((*seven.segments, Segment("night", 20.0)), height=512, width=768), limit)
