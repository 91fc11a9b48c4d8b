"""The Retake tab through the studio's Gradio API on the demo models: a gallery item sent with
"Retake part", the retake keeping the frames outside the window, the lineage in the gallery,
"reuse settings", an upload, and bad windows refused in one sentence."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from ltx_core.media import probe_video
from ltx_core.media.video_read import iter_video_frames
from tests.browser.studio_server import GENERATE_FIELDS, running_studio

TINY = {"width": 128, "height": 128, "frames": 25, "fps": 24, "steps": 4, "cfg": 3.0, "stg": 1.0, "randomize_seed": False, "seed_count": 1,
            "audio": True, "negative_prompt": ""}  # fmt: skip
GENERATE = GENERATE_FIELDS
RETAKE = {"upload": None, "regenerate_video": True, "regenerate_audio": False, "negative_prompt": "", "width": 0, "height": 0,
              "frames": 0, "fps": 24, "steps": 4, "cfg": 3.0, "stg": 1.0, "randomize_seed": False, "seed_count": 1, "audio": True}  # fmt: skip


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with running_studio(tmp_path_factory.mktemp("studio-retake")) as running:
        yield running


@pytest.fixture()
def client(app):
    return Client(app.url, verbose=False)


def frames_of(path: str | Path) -> np.ndarray:
    return np.stack(list(iter_video_frames(path))).astype(np.int16)


def test_retake_part_of_a_gallery_item_with_lineage_and_reuse(app, client):
    _, _, base, *_ = client.predict(**{**GENERATE, **TINY, "prompt": "a quiet harbour", "seed": 4}, api_name="/generate")
    name = Path(base).name
    choice = client.predict(name, api_name="/gallery_retake")
    assert choice["value"] == name
    status, _, video, prompt_used, seed_used, _ = client.predict(
        **{**RETAKE, "source": name, "start": 0.4, "end": 0.7, "prompt": "a red boat", "seed": 9, "regenerate_audio": True},
        api_name="/retake",
    )  # fmt: skip
    assert "Saved" in status and prompt_used == "a red boat" and seed_used == 9
    info = probe_video(video)
    assert (info.width, info.height, info.frames, info.has_audio) == (128, 128, 25, True)
    source, ours = frames_of(base), frames_of(video)
    inside = np.array([0.4 <= i / 24 < 0.7 for i in range(25)])
    change = np.abs(ours - source).mean(axis=(1, 2, 3))
    # the demo model's noisy frames: the codec alone changes them by ~5-7 on average
    assert change[~inside].max() < 12 and change[inside].min() > 2 * change[~inside].max()
    settings = json.loads((app.outputs / Path(video).with_suffix(".json").name).read_text())["settings"]
    assert settings["pipeline"] == "retake" and settings["studio"]["tab"] == "retake"
    assert settings["request"]["regenerate_audio"] is True  # the clip's own sound, regenerated in the window
    assert settings["request"]["source"] == str(app.outputs / name)
    _, details, *_ = client.predict(Path(video).name, api_name="/gallery_show")
    assert f"Made from `{name}`" in details
    reused = client.predict(Path(video).name, api_name="/gallery_reuse")
    windows = [v["value"] for v in reused if isinstance(v, dict) and "maximum" in v]
    assert "a red boat" in reused and windows == [0.4, 0.7] and 9 in reused and "Estimated" in " ".join(map(str, reused))
    assert any(isinstance(v, dict) and v.get("value") == name for v in reused)


def test_an_upload_and_bad_windows(app, client, tmp_path):
    from ltx_core.media.video_write import write_mp4

    y, x = np.mgrid[0:128, 0:128]
    clip = np.stack([np.stack([(x + 3 * t) % 256, y % 256, (x + y) % 256], -1) for t in range(17)]).astype(np.uint8)
    upload = tmp_path / "mine.mp4"
    write_mp4(upload, clip, 24.0, sidecar=False)
    common = {**RETAKE, "source": "(uploaded video below)", "upload": handle_file(str(upload)), "prompt": "snow", "seed": 1}
    for start, end, message in ((0.5, 0.2, "must be before its end"), (0.1, 2.0, "outside the clip")):
        with pytest.raises(AppError, match=message):
            client.predict(**{**common, "start": start, "end": end}, api_name="/retake")
    status, _, video, *_ = client.predict(**{**common, "start": 0.2, "end": 0.5, "regenerate_audio": True},
                                          api_name="/retake")  # fmt: skip
    info = probe_video(video)
    assert "Saved" in status and info.frames == 17 and info.has_audio  # a soundtrack made for the silent upload
    settings = json.loads((app.outputs / Path(video).with_suffix(".json").name).read_text())["settings"]
    assert any("has no audio" in notice for notice in settings["notices"])
    kept = Path(settings["request"]["source"])
    assert kept.parent == app.outputs / "inputs" and kept.is_file()  # the upload outlives the temporary folder
    reused = client.predict(Path(video).name, api_name="/gallery_reuse")
    assert any(isinstance(v, dict) and kept.name in json.dumps(v) for v in reused)  # served from its cached copy


def test_extend_a_gallery_item_forward_and_backward_and_reuse(app, client):
    _, _, base, *_ = client.predict(**{**GENERATE, **TINY, "prompt": "a windmill", "seed": 6}, api_name="/generate")
    name = Path(base).name
    choice, direction = client.predict(name, api_name="/gallery_extend")
    assert choice["value"] == name and direction == "forward"
    extend = {key: RETAKE[key] for key in RETAKE if key not in ("regenerate_video", "regenerate_audio")}
    extend["direction"] = "forward"
    status, _, video, *_ = client.predict(
        **{**extend, "source": name, "seconds": 0.5, "overlap": 2, "prompt": "the sails turn", "seed": 3}, api_name="/extend"
    )  # fmt: skip
    info = probe_video(video)
    assert "Saved" in status and (info.frames, info.has_audio) == (25 + 16, True)
    source, ours = frames_of(base), frames_of(video)
    change = np.abs(ours[:25] - source).mean(axis=(1, 2, 3))
    assert change.max() < 12  # the clip itself, through the codec once more (~5-7 on the demo's noise)
    settings = json.loads((app.outputs / Path(video).with_suffix(".json").name).read_text())["settings"]
    assert settings["pipeline"] == "extend" and settings["request"]["source"] == str(app.outputs / name)
    reused = client.predict(Path(video).name, api_name="/gallery_reuse")
    assert "the sails turn" in reused and 0.5 in reused and 2 in reused and "Estimated" in " ".join(map(str, reused))
    with pytest.raises(AppError, match="greater than maximum"):
        client.predict(**{**extend, "source": name, "seconds": 25, "overlap": 2, "prompt": "x", "seed": 1}, api_name="/extend")
    # backward: "Extend backward" opens the item with the direction set; 8 new frames lead into the clip's own
    choice, direction = client.predict(name, api_name="/gallery_extend_backward")
    assert choice["value"] == name and direction == "backward"
    back = {**extend, "source": name, "seconds": 0.3, "overlap": 1, "direction": "backward", "prompt": "the sails rest"}
    status, _, video, *_ = client.predict(**{**back, "seed": 4}, api_name="/extend")
    assert "Saved" in status and probe_video(video).frames == 8 + 25
    change = np.abs(frames_of(video)[8:] - source).mean(axis=(1, 2, 3))
    assert change.max() < 12  # after the new part: the clip itself
    settings = json.loads((app.outputs / Path(video).with_suffix(".json").name).read_text())["settings"]
    assert settings["request"]["direction"] == "backward" and settings["studio"]["ui"]["direction"] == "backward"
    reused = client.predict(Path(video).name, api_name="/gallery_reuse")
    assert "backward" in reused and "the sails rest" in reused
    with pytest.raises(AppError, match="at most 3 latent frames fits when extending backward"):
        client.predict(**{**back, "overlap": 4, "seed": 1}, api_name="/extend")
