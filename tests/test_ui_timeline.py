"""The Long Video tab through the studio's Gradio API on the demo models: a 2-window timeline
cancelled during window 2 keeps window 1, the interrupted timeline is listed, shown and resumed
from window 2 (window 1 untouched), the long video lands in the gallery with its windows as
lineage and "reuse settings" restores the rows; bad rows and resumes are refused in one sentence."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from ltx_core.media import probe_video
from ltx_ui import timelines
from tests.browser.studio_server import running_studio

ROWS = [["a boat at dawn", 0.4], ["the boat reaches the shore", 0.4]]
TIMELINE = {"overlap": 2, "resume": timelines.NEW, "prompt": "", "negative_prompt": "", "width": 128, "height": 128,
            "frames": 121, "fps": 24, "steps": 4, "cfg": 3.0, "stg": 1.0, "seed": 3, "randomize_seed": False,
            "seed_count": 1, "audio": True}  # fmt: skip


def table(rows: list) -> dict:
    return {"headers": ["Prompt", "Seconds"], "data": rows}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with running_studio(tmp_path_factory.mktemp("studio-timeline")) as running:
        yield running


@pytest.fixture()
def client(app):
    return Client(app.url, verbose=False)


def test_cancel_in_window_2_then_resume_to_the_gallery_and_reuse(app, client):
    job = client.submit(segments=table(ROWS), **TIMELINE, api_name="/timeline")
    deadline, seen = time.monotonic() + 60, []
    while time.monotonic() < deadline and not job.done():
        seen = [str(update[0]) for update in job.outputs()]
        if any("window 2/2" in status for status in seen):
            assert "Cancelled" in client.predict(api_name="/timeline_cancel")
            break
        time.sleep(0.05)
    assert any("**window 1/2 · stage 1**" in s for s in seen), seen[-3:]
    assert all("ETA" in s for s in seen if "**window" in s), seen[-3:]  # the whole long video's ETA, planned by window
    status = job.result()[0]
    assert "Cancelled" in status and "Windows 1-1 are kept" in status
    (name,) = timelines.interrupted(app.outputs)
    folder = app.outputs / timelines.TIMELINES / name
    assert sorted(p.name for p in folder.iterdir()) == ["timeline.json", "window-01.json", "window-01.mp4"]
    stamp = (folder / "window-01.mp4").stat().st_mtime_ns
    assert not list(app.outputs.glob("*.mp4"))  # nothing in the gallery yet

    shown = client.predict(name, api_name="/timeline_choose")
    assert "1 of 2 window(s) finished: resuming starts at window 2" in shown[0]
    assert shown[1]["value"].endswith("window-01.mp4") and shown[2]["data"] == ROWS  # its rows loaded

    status, _, video, prompt_used, seed_used, _ = client.predict(
        segments=table(ROWS), **{**TIMELINE, "resume": name, "seed": 77}, api_name="/timeline")  # fmt: skip
    assert "Resuming" in status and "Saved" in status and seed_used == 3  # the timeline's own seed
    assert (folder / "window-01.mp4").stat().st_mtime_ns == stamp and timelines.interrupted(app.outputs) == []
    assert probe_video(video).frames == 17 + 16 and prompt_used == "a boat at dawn → the boat reaches the shore"
    settings = json.loads((app.outputs / Path(video).with_suffix(".json").name).read_text())["settings"]
    assert settings["pipeline"] == "timeline" and settings["studio"]["tab"] == "timeline"
    assert [Path(w).name for w in settings["request"]["windows"]] == ["window-01.mp4", "window-02.mp4"]
    _, details, *_ = client.predict(Path(video).name, api_name="/gallery_show")
    assert f"Made from 2 window(s) in `timelines/{name}`" in details
    reused = client.predict(Path(video).name, api_name="/gallery_reuse")
    assert {"headers": ["Prompt", "Seconds"], "data": ROWS, "metadata": None} in reused or any(
        isinstance(v, dict) and v.get("data") == ROWS for v in reused)
    assert any("Total **0.8 s** in 2 window(s)" in str(v) for v in reused)


@pytest.mark.parametrize(
    ("rows", "size", "message"),
    [
        ([["a boat", 1.0], ["", 2.0]], 128, "Row 2 has no prompt: describe what happens in it, or remove the row."),
        ([["a boat", -1]], 128, "Row 1 lasts -1 s: give it more than 0 seconds."),
        ([["a boat", "two"]], 128, "Row 1: the seconds must be a number"),
        ([["a boat", 20.0]] * 60, 2560, "the timeline lasts 1200 s but at 2560x2560 this memory mode holds at most"),
        ([], 128, "The timeline is empty"),
    ],
)
def test_bad_rows_are_refused_in_one_sentence(client, rows, size, message):
    with pytest.raises(AppError, match=message.replace("(", r"\(").replace("*", r"\*")) as error:
        client.predict(segments=table(rows), **{**TIMELINE, "width": size, "height": size}, api_name="/timeline")
    assert "\n" not in str(error.value).strip()


def test_resume_of_another_model_version_is_refused(app, client):
    plan = {"model_version": "9.9", "ui": {**TIMELINE, "segments": ROWS}, "output": None}
    folder = app.outputs / timelines.TIMELINES / "20000101-000000-s3"
    folder.mkdir(parents=True)
    (folder / timelines.PLAN).write_text(json.dumps(plan))
    with pytest.raises(AppError, match=r"was made with LTX-9\.9 and the loaded model is LTX-.*: load an LTX-9\.9 model"):
        client.predict(segments=table(ROWS), **{**TIMELINE, "resume": folder.name}, api_name="/timeline")
