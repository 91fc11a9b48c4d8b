"""The studio driven through its Gradio API with gradio_client, on the demo models: every tab,
gallery reuse, cancel (twenty times), a queue of two clients, and bad input."""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from ltx_core.media import probe_video, write_mp4
from tests.browser.studio_server import GENERATE_FIELDS, running_studio

TINY = dict(width=128, height=128, frames=9, fps=24, steps=4, cfg=3.0, stg=1.0, randomize_seed=False, seed_count=1,
            audio=True, negative_prompt="")  # fmt: skip
GENERATE = GENERATE_FIELDS
# A job long enough to be cancelled mid-denoise (one-stage: guided, with request.steps steps).
SLOW = {**GENERATE, **TINY, "pipeline": "one-stage", "steps": 80, "prompt": "slow", "seed": 1}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with running_studio(tmp_path_factory.mktemp("studio")) as running:
        yield running


@pytest.fixture()
def client(app):
    return Client(app.url, verbose=False)


def generate(client: Client, prompt: str = "a lighthouse at dusk", seed: int = 7, **overrides):
    return client.predict(**{**GENERATE, **TINY, "prompt": prompt, "seed": seed, **overrides}, api_name="/generate")


def image(path: Path, colour: tuple[int, int, int], size=(96, 80)) -> Path:
    Image.new("RGB", size, colour).save(path)
    return path


def clip(path: Path, frames: int = 9) -> Path:
    _, x = np.mgrid[0:128, 0:128]
    video = np.stack([((x + 4 * t) % 48 < 24)[..., None].repeat(3, -1).astype(np.uint8) * 255 for t in range(frames)])
    write_mp4(path, video, 24.0, sidecar=False)
    return path


def sidecar(app, video: str) -> dict:
    return json.loads((app.outputs / Path(video).with_suffix(".json").name).read_text())


def wait_for(job, predicate, timeout: float = 30.0):
    """The first intermediate output that satisfies ``predicate``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for output in job.outputs():
            if predicate(output):
                return output
        if job.done():
            break
        time.sleep(0.02)
    raise AssertionError(f"no matching update; got {job.outputs()[-3:]}")


def test_page_shows_the_demo_banner_and_every_tab(app):
    config = json.dumps(Client(app.url, verbose=False).config)
    assert "Demo mode" in config and "not meaningful" in config and "--weights-dir" in config
    for tab in ("Text / Image to Video", "Keyframe Interpolation", "IC-LoRA Control", "Upscaling", "Gallery",
                "Models & Settings"):  # fmt: skip
        assert tab in config


def test_only_the_outputs_folder_is_served(app, client):
    import urllib.error
    import urllib.request

    for path in ("/etc/passwd", str(app.studio.models.paths.checkpoint)):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{app.url}gradio_api/file={path}", timeout=10)
        assert refused.value.code in (403, 404)


def test_text_to_video_writes_the_video_its_sidecar_and_a_gallery_entry(app, client):
    started = time.monotonic()
    status, _, video, prompt_used, seed_used, *_ = generate(client, "a red kite over the sea", seed=11)
    took = time.monotonic() - started
    print(f"\n[ui] tiny distilled generation through the API: {took:.2f} s")
    info = probe_video(video)
    assert (info.width, info.height, info.frames, info.has_audio) == (128, 128, 9, True)
    assert "Saved" in status and prompt_used == "a red kite over the sea" and seed_used == 11
    data = sidecar(app, video)["settings"]
    assert data["studio"]["tab"] == "generate" and data["studio"]["seconds"] > 0 and data["studio"]["peak_memory"] > 0
    assert [s["stage"] for s in data["stages"]][0] == "text encoder"  # this job's stages only
    items, selected, count, *_ = client.predict(api_name="/gallery_refresh")
    items = items["value"] if isinstance(items, dict) else items
    assert selected["choices"][0][0] == Path(video).name and "output(s)" in count
    assert items[0]["caption"] == "seed 11 · a red kite over the sea"  # the seed and the prompt, not the file name
    import urllib.request

    served = urllib.request.urlopen(f"{app.url}gradio_api/file={app.outputs / Path(video).name}", timeout=10)
    assert served.status == 200


def test_sizes_snap_with_a_note_and_progress_shows_steps_and_previews(app, client):
    job = client.submit(**{**GENERATE, **TINY, "pipeline": "one-stage", "steps": 12, "prompt": "snap", "seed": 2,
                           "width": 130, "height": 100, "frames": 10}, api_name="/generate")  # fmt: skip
    status, _, video, *_ = job.result()
    info = probe_video(video)
    assert (info.width, info.height, info.frames) == (128, 96, 9)
    assert "130x100 → 128x96" in status and "frames 10 → 9" in status
    steps = [o[0] for o in job.outputs() if "step" in o[0]]
    assert any("stage 1" in s and "/12" in s and "elapsed" in s for s in steps) and any("ETA" in s for s in steps)
    assert any(o[1] not in (None, {"__type__": "update"}) for o in job.outputs()), "no preview image was sent"


@pytest.mark.usefixtures("short_enhancer_rewrites")
def test_image_to_video_with_enhanced_prompt_lora_and_two_seeds(app, client, tmp_path):
    lora = str(app.studio.models.loras()[0])
    start = image(tmp_path / "start.png", (200, 40, 40))
    status, _, video, prompt_used, seed_used, batch, _ = generate(
        client, "a cat", seed=100, image=handle_file(str(start)), enhance=True, loras=[{"file": lora, "strength": 0.5}],
        seed_count=2,
    )  # fmt: skip
    assert status.count("Saved") == 2 and seed_used == 101
    batch = batch["value"] if isinstance(batch, dict) else batch  # a visibility update around the grid's items
    assert len(batch) == 2 and "seed 100" in json.dumps(batch) and "seed 101" in json.dumps(batch)  # the batch grid
    settings = sidecar(app, video)["settings"]
    assert settings["request"]["enhance_prompt"] and settings["prompt_used"] == prompt_used
    assert settings["request"]["images"][0]["image"].startswith(str(app.outputs / "inputs"))
    assert settings["request"]["loras"] == [{"path": lora, "strength": 0.5, "stage2_strength": 0.5}]
    rewritten = client.predict("a cat", None, 3, api_name="/enhance_prompt")
    assert isinstance(rewritten, str)


def test_keyframes_drop_edit_reorder_remove_and_generate(app, client, tmp_path):
    files = [image(tmp_path / f"k{i}.png", (40 * i, 90, 200 - 40 * i)) for i in range(3)]
    junk = tmp_path / "notes.txt"
    junk.write_text("not an image")
    gallery, table, _, message = client.predict([handle_file(str(p)) for p in [*files, junk]], 9,
                                                   api_name="/keyframes_add")  # fmt: skip
    assert len(gallery) == 3 and "Skipped" in message and "notes.txt is not an image" in message
    assert [row[2] for row in table["data"]] == [0, 0, 8]  # spread over 9 frames on multiples of 8
    with pytest.raises(AppError, match="both at frame 0"):
        client.predict(**{**TINY, "prompt": "birds", "seed": 1}, api_name="/keyframes_generate")
    client.predict(2, 4, 0.8, api_name="/keyframes_set")
    _, table, message = client.predict(3, api_name="/keyframes_up")
    assert [row[1] for row in table["data"]] == ["k0.png", "k2.png", "k1.png"] and "#3 to #2" in message
    _, table, _ = client.predict(1, api_name="/keyframes_remove")
    assert [(row[1], row[2]) for row in table["data"]] == [("k2.png", 4), ("k1.png", 8)]  # moved images swap frames
    status, _, video, *_ = client.predict(**{**TINY, "prompt": "birds", "seed": 1}, api_name="/keyframes_generate")
    assert probe_video(video).frames == 9 and "Saved" in status
    images = sidecar(app, video)["settings"]["request"]["images"]
    assert [(i["frame_index"], i["strength"]) for i in images] == [(4, 1.0), (8, 0.8)]

    # A frame typed into the table outside the clip is refused on edit, and the table is put back.
    rows = {"headers": ["#", "image", "frame", "strength"], "data": [[1, "k2.png", 4, 1.0], [2, "k1.png", 200, 0.8]]}
    _, table, message = client.predict(rows, 9, api_name="/keyframes_edit_table")
    assert "keyframe #2: frame 200 is outside the clip: type a frame from 0 to 8" in message
    assert [row[2] for row in table["data"]] == [4, 8]
    rows["data"][1][2] = 4
    _, _, message = client.predict(rows, 9, api_name="/keyframes_edit_table")
    assert "keyframe #1 is already at frame 4" in message
    with pytest.raises(AppError, match="frame 9 is outside the clip"):
        client.predict(1, 9, 1.0, 9, api_name="/keyframes_set")

    # Reuse settings brings the keyframes back as thumbnails and rows, with a fresh size note.
    client.predict(1, api_name="/keyframes_remove")
    reused = json.dumps(client.predict(Path(video).name, api_name="/gallery_reuse"), ensure_ascii=False)
    assert "Loaded 2 keyframe(s)" in reused and "k2.png" in reused and "#2 · frame 8" in reused
    assert "128x128, 9 frames = **0.38 s**" in reused and "Estimated" in reused


def test_ic_lora_with_a_canny_control_video(app, client, tmp_path):
    source = clip(tmp_path / "source.mp4")
    control, message = client.predict(handle_file(str(source)), 50, 100, api_name="/canny")
    assert "Edge video ready" in message
    edges = probe_video(control)
    assert edges.frames == 9 and (edges.width, edges.height) == (128, 128)
    lora = str(app.studio.models.loras()[0])
    status, _, video, *_ = client.predict(handle_file(control), lora, 1.0, [], **{**TINY, "prompt": "edges", "seed": 4},
                                          api_name="/ic_lora_generate")  # fmt: skip
    assert "Saved" in status and probe_video(video).frames == 9
    assert sidecar(app, video)["settings"]["pipeline"] == "ic-lora"
    assert Path(lora).name == "ltx2-demo-ic-lora-canny-control.safetensors"  # the demo IC-LoRA, preselected in the tab
    # A control video too short for the clip is refused before it is kept in outputs/inputs.
    kept = set((app.outputs / "inputs").iterdir())
    short = clip(tmp_path / "short.mp4", frames=9)
    with pytest.raises(AppError, match="^short.mp4 has 9 frames but the clip needs 17: use a longer control video"):
        client.predict(handle_file(str(short)), lora, 1.0, [], **{**TINY, "frames": 17, "prompt": "edges", "seed": 4},
                       api_name="/ic_lora_generate")  # fmt: skip
    assert set((app.outputs / "inputs").iterdir()) == kept


def test_an_over_long_prompt_or_negative_prompt_gets_a_note(app, client):
    status, *_ = generate(client, "a " * 600, seed=1, pipeline="one-stage", negative_prompt="blurry " * 200)
    assert "Note: the prompt is 1201 tokens long; only its first 1024 are used" in status
    assert "Note: the negative prompt is 1401 tokens long" in status and "Saved" in status


def test_gallery_reuse_send_to_upscaling_upscale_and_delete(app, client):
    _, _, video, *_ = generate(client, "a paper boat", seed=321, width=192)
    name = Path(video).name
    client.predict(name, api_name="/gallery_show")
    reused = client.predict(name, api_name="/gallery_reuse")
    assert "a paper boat" in reused and 321 in reused and 192 in reused and "distilled" in reused
    assert "192x128, 9 frames = **0.38 s** at 24 fps" in reused  # the size note follows the reused values
    choice = client.predict(name, api_name="/gallery_send_to_upscale")
    assert choice["value"] == name and [name, name] in choice["choices"]
    job = client.submit(name, None, True, True, "", 0, api_name="/upscale")
    status, _, up, *_ = job.result()
    steps = [o[0] for o in job.outputs()]
    assert any("**video decode** · tile" in s for s in steps) and any("for the whole job" in s for s in steps)
    info = probe_video(up)
    assert (info.width, info.height, info.frames) == (384, 256, 17) and "Saved" in status
    assert sidecar(app, up)["settings"]["studio"]["tab"] == "upscale"
    reused = client.predict(Path(up).name, api_name="/gallery_reuse")
    assert any(isinstance(v, dict) and v.get("value") == name for v in reused) and True in reused
    client.predict(name, api_name="/gallery_ask_delete")
    client.predict(name, api_name="/gallery_delete")
    assert not (app.outputs / name).exists() and not (app.outputs / name).with_suffix(".json").exists()


def gallery(client, text="", pipeline="(all)", version="(all)", sort="newest first"):
    """(captions, names, count) of the gallery as filtered and sorted."""
    items, selected, count, *_ = client.predict(text, pipeline, version, sort, api_name="/gallery_refresh")
    items = items["value"] if isinstance(items, dict) else items
    return [i["caption"] for i in items], [c[0] for c in selected["choices"]], count


def test_gallery_search_filters_sorts_and_flags_unreadable_settings(app, client, tmp_path):
    _, _, wheat, *_ = generate(client, "zz wheat field", seed=31)
    _, _, whale, *_ = generate(client, "zz blue whale", seed=32, pipeline="one-stage")
    captions, names, count = gallery(client, "zz")
    assert names == [Path(whale).name, Path(wheat).name] and "output(s)" in count
    assert gallery(client, "zz", sort="prompt A-Z")[0] == ["seed 32 · zz blue whale", "seed 31 · zz wheat field"]
    assert gallery(client, "zz", pipeline="one-stage")[1] == [Path(whale).name]
    assert gallery(client, "zz", version="2.3")[1] == [] and gallery(client, "zz", version="2.0")[1]  # demo: LTX-2.0

    # A truncated sidecar: the video stays listed, flagged, playable and deletable.
    (app.outputs / Path(wheat).name).with_suffix(".json").write_text('{"created": "2026-')
    captions, names, count = gallery(client, Path(wheat).stem)  # no prompt to search any more: the name
    assert names == [Path(wheat).name] and captions == [f"⚠️ settings unreadable · {Path(wheat).name}"]
    shown, details, settings, *_ = client.predict(Path(wheat).name, api_name="/gallery_show")
    shown = shown.get("value") or shown.get("video") if isinstance(shown, dict) else shown  # an update: the player shown
    assert shown and Path(shown["path"] if isinstance(shown, dict) else shown).name.endswith(".mp4")
    assert "settings unreadable" in details and "plays and can be deleted" in details
    with pytest.raises(AppError, match="unreadable, so they cannot be reused"):
        client.predict(Path(wheat).name, api_name="/gallery_reuse")
    _, message, *_ = client.predict(Path(wheat).name, api_name="/gallery_delete")
    assert "Deleted" in message and not (app.outputs / Path(wheat).name).exists()

    # A link in the outputs folder is not listed (serving it would be refused), and says so when asked for.
    (app.outputs / "linked.mp4").symlink_to(whale)
    (app.outputs / "linked.json").symlink_to(Path(whale).with_suffix(".json"))
    assert "linked.mp4" not in gallery(client)[1]
    _, details, *_ = client.predict("linked.mp4", api_name="/gallery_show")
    assert "is not in the outputs folder" in details
    (app.outputs / "linked.mp4").unlink()
    (app.outputs / "linked.json").unlink()


def test_a_file_deleted_outside_the_studio_gets_a_clear_message(app, client):
    _, _, video, *_ = generate(client, "gone soon", seed=5)
    name = Path(video).name
    (app.outputs / name).unlink()
    _, details, *_ = client.predict(name, api_name="/gallery_show")
    assert "is not in the outputs folder" in details
    for endpoint in ("/gallery_reuse", "/gallery_send_to_upscale", "/gallery_delete"):
        with pytest.raises(AppError, match="no longer exists"):
            client.predict(name, api_name=endpoint)
    with pytest.raises(AppError, match="no longer in the outputs folder"):
        client.predict(name, None, True, False, "", 0, api_name="/upscale")


def test_cancel_ten_times_then_the_next_job_runs(app, client):
    latencies, stopped = [], []
    for attempt in range(10):
        job = client.submit(**{**SLOW, "seed": attempt}, api_name="/generate")
        wait_for(job, lambda o: "step" in o[0])
        asked = time.monotonic()
        reply = client.predict(api_name="/cancel")
        latencies.append(time.monotonic() - asked)
        status = job.result()[0]
        assert "Cancelled" in status and "Cancelled 1 job" in reply, (status, reply)
        stopped.append(float(re.search(r"within ([\d.]+) s", status).group(1)))
    print(f"\n[ui] cancel: worker stopped {sorted(stopped)[5]:.2f} s (median; max {max(stopped):.2f} s) after the "
          f"request; /cancel answered in {sorted(latencies)[5]:.3f} s (median; max {max(latencies):.3f} s)")
    assert max(latencies) < 5.0
    assert not app.studio.jobs.busy
    status, _, video, *_ = generate(client, "after the cancels", seed=9)
    assert "Saved" in status and probe_video(video).frames == 9
    assert not list(app.outputs.glob("*.part*")), "a cancelled job left a partial file"


def test_two_clients_queue_one_at_a_time_with_positions(app):
    first, second = Client(app.url, verbose=False), Client(app.url, verbose=False)
    history = len(app.studio.jobs.history)
    slow = first.submit(**{**SLOW, "steps": 40}, api_name="/generate")
    wait_for(slow, lambda o: "step" in o[0])
    quick = second.submit(**{**GENERATE, **TINY, "prompt": "second", "seed": 2}, api_name="/generate")
    waiting = wait_for(quick, lambda o: "Waiting in the queue: position 1" in o[0])
    assert waiting
    assert "Saved" in slow.result()[0] and "Saved" in quick.result()[0]
    runs = app.studio.jobs.history[history:]
    assert len(runs) == 2 and runs[0][2] <= runs[1][1], "the two jobs overlapped"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"prompt": "   "}, "prompt is empty"),
        ({"width": 10}, "width 10 is impossible"),
        ({"height": 100000}, "height 100000 is impossible"),
        ({"frames": 2000}, "frames is impossible"),
        ({"pipeline": "two-stage", "width": 100}, None),  # snapped, not refused
    ],
)
def test_bad_generation_settings_get_clear_messages(app, client, overrides, message):
    if message is None:
        status, _, video, *_ = generate(client, **{"seed": 3, **overrides})
        assert probe_video(video).width == 128 and "100x128 → 128x128" in status
        return
    with pytest.raises(AppError, match=message):
        generate(client, **{"seed": 3, **overrides})


def test_corrupt_and_huge_uploads_are_refused_and_the_app_keeps_serving(app, client, tmp_path):
    corrupt = tmp_path / "broken.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    for upload, message in ((corrupt, "^broken.mp4 is not a video the studio can read: use an MP4, MOV or WebM file.$"),
                            (empty, r"^empty.mp4 is empty \(0 bytes\): upload the video to upscale again.$")):  # fmt: skip
        with pytest.raises(AppError, match=message):  # the user's file name; no ffmpeg log, no server path
            client.predict("(uploaded video below)", handle_file(str(upload)), True, False, "a prompt", 0,
                           api_name="/upscale")  # fmt: skip
    with pytest.raises(AppError, match="^broken.mp4 is not a video the studio can read"):
        client.predict(handle_file(str(corrupt)), 100, 200, api_name="/canny")
    huge = tmp_path / "huge.png"
    huge.write_bytes(b"\x89PNG" + b"\x00" * (5 * 2**20))  # over the fixture's 4 MB upload limit
    with pytest.raises(Exception, match="(?i)too large|413|exceed|size"):
        client.predict([handle_file(str(huge))], 9, api_name="/keyframes_add")
    status, *_ = generate(client, "still serving", seed=8)
    assert "Saved" in status


def test_models_tab_reports_demo_files_and_downloads_fail_fast_offline(app, client):
    found, missing = client.predict(api_name="/models_rescan")
    assert "built-in demo models" in found and "Lightricks/LTX-2" in found and "google/gemma-3-12b-it" in found
    started = time.monotonic()
    status, *_ = client.predict("Lightricks/LTX-2.3|ltx-2.3-spatial-upscaler-x2-1.1.safetensors", api_name="/models_download")
    assert "cannot be reached" in status and "Download of" in status  # in the status line, not as an error on the list
    assert time.monotonic() - started < 15
    config = json.dumps(client.config, ensure_ascii=False)
    assert "Weights folder" in config and "| **Two stages" in config
    assert (" Macs" in config) == (sys.platform == "darwin")
    # The inspector reads only the model folders.
    status, details = client.predict("/etc/passwd", api_name="/inspect")
    assert status.startswith("**Not inspected.** Only files in") and details == ""
    status, _ = client.predict(str(app.studio.models.paths.checkpoint), api_name="/inspect")
    assert "transformer blocks" in status
    text = client.predict("compact", api_name="/models_preset")
    assert "compact" in text and app.studio.preset.name == "compact"
    client.predict("auto", api_name="/models_preset")


def test_models_tab_gives_the_memory_estimate(app, client):
    report = client.predict("distilled", 768, 512, 121, True, api_name="/models_estimate")
    assert "peak" in report and "fits" in report
    for stage in ("text encoder", "stage 1", "upsample", "stage 2", "video decode", "audio decode"):
        assert f"| {stage} |" in report
    with pytest.raises(AppError, match="Cannot estimate"):
        client.predict("one-stage", 768, 512, 10, True, api_name="/models_estimate")


def test_rescan_switches_to_found_weights_and_a_broken_checkpoint_is_reported(app, client, tmp_path):
    import shutil

    from tests.conftest import fixtures_dir

    broken = tmp_path / "ltx-2-19b-distilled.safetensors"
    broken.write_bytes(b"this is not a checkpoint")
    model = tmp_path / "ltx-2-19b-dev.safetensors"
    try:
        with pytest.raises(AppError, match="is not a folder: type the path of the folder"):
            client.predict(str(tmp_path / "nowhere"), api_name="/models_rescan")
        found, _ = client.predict(str(tmp_path), api_name="/models_rescan")
        assert "unusable" in found and broken.name in found  # marked in the Models tab, never picked
        assert "built-in demo models" in found and app.studio.models.demo
        shutil.copy(fixtures_dir() / "ltx2-tiny.safetensors", model)
        found, _ = client.predict(str(tmp_path), api_name="/models_rescan")
        assert "**In use:**" in found and str(model) in found and not app.studio.models.demo
        with pytest.raises(AppError, match="needs ltx-2-spatial-upscaler-x2-1.0.safetensors"):
            generate(client, "without the upsampler", seed=1)
    finally:
        broken.unlink()
        model.unlink(missing_ok=True)
        found, _ = client.predict("", api_name="/models_rescan")
    assert "built-in demo models" in found and app.studio.models.demo
    status, *_ = generate(client, "demo again", seed=2)
    assert "Saved" in status


def test_the_studio_runs_an_ltx23_folder(app, client, tmp_path):
    """A weights folder holding the tiny LTX-2.3 set: detected as 2.3 from its metadata, the x2
    upsampler chosen for two-stage pipelines (not the x1.5 one beside it), 48 kHz audio, the
    sidecar records the version; then back to the demo models."""
    import shutil

    from tests.conftest import REFERENCE_ROOT
    from tests.text_helpers import gemma_folder_with_tokenizer

    source = REFERENCE_ROOT / "ltx-2.3"
    folder = tmp_path / "weights-2.3"
    folder.mkdir()
    for name in ("ltx2-tiny.safetensors", "ltx2-tiny-spatial-upsampler.safetensors",
                 "ltx2-tiny-spatial-upsampler-x1.5.safetensors", "ltx2-tiny-temporal-upsampler.safetensors"):  # fmt: skip
        (folder / name).symlink_to(source / name)
    gemma_folder_with_tokenizer(source / "gemma", folder / "gemma-3-12b-it")
    client.predict("quality", api_name="/models_preset")  # unquantized, resident: the tiny model as it is
    try:
        found, _ = client.predict(str(folder), api_name="/models_rescan")
        assert "LTX-2.3" in found and not app.studio.models.demo
        assert app.studio.models.version.version == "2.3"
        assert app.studio.models.paths.spatial_upsampler.name == "ltx2-tiny-spatial-upsampler.safetensors"
        status, _, video, *_ = generate(client, "a lighthouse on the 2.3 model", seed=4)
        assert "Saved" in status, status
        info = probe_video(video)
        assert info.has_audio and info.sample_rate == 48000
        assert sidecar(app, video)["settings"]["models"]["model_version"] == "2.3"
    finally:
        shutil.rmtree(folder)  # the model in use is gone: a rescan falls back to the demo models
        found, _ = client.predict("", api_name="/models_rescan")
        client.predict("auto", api_name="/models_preset")
    assert app.studio.models.demo
