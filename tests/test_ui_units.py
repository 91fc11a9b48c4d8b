"""Studio pieces without a server: size snapping, keyframe spreading, the weights scan, the job
queue, the gallery reader, and app.py's share/auth rules (including a real --share launch)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

from ltx_core.pipelines.progress import Cancelled
from ltx_ui import models as model_files
from ltx_ui.inputs import InputProblem, check_image, snap
from ltx_ui.jobs import Done, Failed, JobQueue, Waiting, run_job
from ltx_ui.outputs import list_entries
from ltx_ui.studio import LaunchOptions, check_share, parse_auth
from ltx_ui.tab_keyframes import check_keyframes, spread
from tests.browser.studio_server import free_port
from tests.conftest import ROOT


def test_sizes_snap_per_pipeline_and_impossible_sizes_are_refused():
    """The rule is the pipeline descriptor's: two-stage recipes (distilled included) need 64."""
    s = snap("distilled", 130, 100, 10)
    assert (s.width, s.height, s.frames) == (128, 128, 9) and "multiples of 64" in s.note and "8k+1" in s.note
    s = snap("distilled", 800, 480, 121)
    assert (s.width, s.height) == (768, 512)  # 800x480 "fitted" the old 32 rule, then failed in prepare
    s = snap("two-stage", 130, 100, 121)
    assert (s.width, s.height, s.frames, s.note.count("→")) == (128, 128, 121, 1)
    s = snap("one-stage", 130, 100, 9)
    assert (s.width, s.height) == (128, 96) and "multiples of 32" in s.note
    assert snap("one-stage", 768, 512, 121).note == ""
    for args, message in (((0, 512, 121), "width 0"), ((768, 9999, 121), "height 9999"), ((768, 512, 3), "3 frames"),
                          ((None, 512, 121), "width is empty")):  # fmt: skip
        with pytest.raises(InputProblem, match=message):
            snap("distilled", *args)


def test_keyframes_spread_and_validation(tmp_path):
    assert spread(3, 121) == [0, 64, 120] and spread(2, 9) == [0, 8] and spread(1, 9) == [0]
    image = tmp_path / "a.png"
    from PIL import Image

    Image.new("RGB", (8, 8)).save(image)
    check_keyframes([{"path": str(image), "frame": 0}, {"path": str(image), "frame": 8}], 9)
    with pytest.raises(InputProblem, match="#1 and #2 are both at frame 8"):
        check_keyframes([{"path": str(image), "frame": 8}, {"path": str(image), "frame": 8}], 9)
    with pytest.raises(InputProblem, match="outside"):
        check_keyframes([{"path": str(image), "frame": 9}], 9)
    with pytest.raises(InputProblem, match="no longer on disk"):
        check_keyframes([{"path": str(tmp_path / "gone.png"), "frame": 0}], 9)
    text = tmp_path / "x.png"
    text.write_text("hello")
    with pytest.raises(InputProblem, match="x.png is not an image"):
        check_image(text)


def _model_file(path, key: str, config: dict | None) -> None:
    """A one-tensor safetensors file whose header says what it is."""
    import numpy as np
    from safetensors.numpy import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({key: np.zeros((2, 2), np.float32)}, str(path), metadata={"config": json.dumps(config)} if config else None)


def test_weights_scan_finds_roles_and_reports_what_is_missing(tmp_path):
    """Roles come from each file's header, not its name; a broken file is listed, never used."""
    _model_file(tmp_path / "my-model.safetensors", "model.diffusion_model.x", {"transformer": {}, "vae": {}})
    _model_file(tmp_path / "upsampler.safetensors", "res_blocks.0.weight", {"spatial_upsample": True, "temporal_upsample": False})
    _model_file(tmp_path / "loras/ltx-2-19b-ic-lora-canny-control.safetensors", "a.lora_A.weight", None)
    (tmp_path / "ltx-2-19b-distilled.safetensors").write_bytes(b"x" * 10)  # truncated download
    gemma = tmp_path / "gemma-3-12b-it"
    gemma.mkdir()
    (gemma / "config.json").write_text(json.dumps({"model_type": "gemma3"}))
    models = model_files.resolve_models(tmp_path, None)
    assert not models.demo and models.paths.checkpoint.name == "my-model.safetensors"
    assert models.paths.spatial_upsampler.name == "upsampler.safetensors"
    broken = [f for f in models.found if f.path.name == "ltx-2-19b-distilled.safetensors"]
    assert len(broken) == 1 and "not a safetensors file" in broken[0].problem
    assert models.paths.gemma == gemma and models.paths.spatial_upsampler is not None
    assert [p.name for p in models.loras()] == ["ltx-2-19b-ic-lora-canny-control.safetensors"]
    missing = {file for _, file, _ in model_files.missing_files(models)}
    assert missing == {"ltx-2-19b-distilled.safetensors", "ltx-2-19b-dev.safetensors",
                       "ltx-2-temporal-upscaler-x2-1.0.safetensors", "ltx-2-19b-distilled-lora-384.safetensors"}  # fmt: skip


def test_no_checkpoint_means_demo_models(tmp_path, monkeypatch):
    monkeypatch.setenv("LTX_DEMO_DIR", str(tmp_path / "demo"))
    models = model_files.resolve_models(tmp_path / "empty", None)
    assert models.demo and models.paths.checkpoint.exists() and models.loras()
    missing = [(r, f) for r, f, _ in model_files.missing_files(models)]  # what the banner recommends: LTX-2.3
    assert ("google/gemma-3-12b-it-qat-q4_0-unquantized", "(whole repository)") in missing
    assert ("Lightricks/LTX-2.3", "ltx-2.3-22b-distilled.safetensors") in missing


def test_offline_download_fails_fast_with_advice(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.monotonic()
    with pytest.raises(ConnectionError, match="hf download Lightricks/LTX-2 ltx-2-19b-dev.safetensors"):
        model_files.download("Lightricks/LTX-2", "ltx-2-19b-dev.safetensors", tmp_path)
    assert time.monotonic() - started < 1 and not list(tmp_path.iterdir())


def test_queue_runs_one_job_at_a_time_and_cancels_waiting_jobs():
    jobs = JobQueue()
    release = threading.Event()
    first = run_job(jobs, "a", "first", lambda report, cancel: release.wait(5) and "one")
    second = run_job(jobs, "b", "second", lambda report, cancel: "two")
    third = run_job(jobs, "c", "third", lambda report, cancel: "three")
    started = threading.Thread(target=lambda: next(first))
    started.start()
    time.sleep(0.3)
    assert next(second) == Waiting(1)
    assert next(third) == Waiting(2)
    assert [t.label for t in jobs.cancel_session("c")] == ["third"]
    update = next(third)
    assert isinstance(update, Failed) and update.cancelled
    release.set()
    started.join()
    results = [u for u in second if isinstance(u, Done)]
    assert results[0].result == "two" and not jobs.busy
    assert [label for label, *_ in jobs.history] == ["first", "second"]


def test_an_abandoned_waiting_job_does_not_block_the_queue():
    jobs = JobQueue(stale_after=0.5)
    release = threading.Event()
    first = run_job(jobs, "a", "first", lambda report, cancel: release.wait(5) and "one")
    runner = threading.Thread(target=lambda: list(first))
    runner.start()
    time.sleep(0.2)
    abandoned = run_job(jobs, "b", "abandoned", lambda report, cancel: "never")
    assert next(abandoned) == Waiting(1)  # then nobody asks it for updates again
    later = run_job(jobs, "c", "later", lambda report, cancel: "three")
    assert next(later) == Waiting(2)
    release.set()
    runner.join()
    assert [u.result for u in later if isinstance(u, Done)] == ["three"]
    assert [label for label, *_ in jobs.history] == ["first", "later"] and not jobs.busy


def test_failed_and_cancelled_work_reports_and_frees_the_slot():
    jobs = JobQueue()

    def boom(report, cancel):
        raise ValueError("bad")

    update = list(run_job(jobs, "s", "boom", boom))[-1]
    assert isinstance(update, Failed) and not update.cancelled and str(update.error) == "bad"

    def stops(report, cancel):
        cancel.cancel()
        cancel.check()

    update = list(run_job(jobs, "s", "stop", stops))[-1]
    assert isinstance(update, Failed) and isinstance(update.error, Cancelled) and not jobs.busy


def test_gallery_lists_only_complete_outputs_newest_first(tmp_path):
    for stem, created in (("old", "2026-01-01T00:00:00+00:00"), ("new", "2026-02-01T00:00:00+00:00")):
        (tmp_path / f"{stem}.mp4").write_bytes(b"video")
        (tmp_path / f"{stem}.json").write_text(json.dumps({"settings": {"pipeline": "distilled", "request":
                                               {"prompt": stem, "seed": 3}}, "created": created}))  # fmt: skip
    (tmp_path / "orphan.json").write_text(json.dumps({"settings": {}}))  # video deleted
    (tmp_path / "half.part.mp4").write_bytes(b"")
    (tmp_path / "broken.json").write_text("{")
    entries = list_entries(tmp_path)
    assert [e.name for e in entries] == ["new.mp4", "old.mp4"] and entries[0].prompt == "new" and entries[0].seed == 3


def test_share_needs_auth_unless_explicitly_waived():
    assert parse_auth("me:secret") == ("me", "secret") and parse_auth(None) is None
    with pytest.raises(ValueError, match="user:password"):
        parse_auth("nopassword")
    with pytest.raises(ValueError, match="--auth"):
        check_share(LaunchOptions(share=True))
    check_share(LaunchOptions(share=True, auth=("a", "b")))
    check_share(LaunchOptions(share=True, share_without_auth=True))
    result = subprocess.run([sys.executable, "app.py", "--share"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 2 and "--share-without-auth" in result.stderr
    result = subprocess.run([sys.executable, "app.py", "--weights-dir", "/no/such/folder"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert result.returncode == 2 and "no such folder" in result.stderr


def test_app_with_share_and_auth_serves_locally_behind_a_login(tmp_path):
    port = free_port()
    env = {**os.environ, "LTX_DEMO_DIR": os.environ.get("LTX_TEST_DEMO_DIR", str(tmp_path / "demo")),
           "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1"}  # fmt: skip
    command = [sys.executable, "app.py", "--share", "--auth", "me:secret", "--port", str(port),
               "--outputs-dir", str(tmp_path / "out")]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "public share link" in line or "Public link" in line:
                break
        output = "".join(lines)
        assert "demo models" in output and ("Could not create a public share link" in output or "Public link" in output)
        url = f"http://127.0.0.1:{port}/config"
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url, timeout=10)
        assert refused.value.code == 401
        assert (tmp_path / "out").is_dir()
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_a_non_lora_file_is_refused_as_a_lora_and_the_demo_ic_lora_is_preselected(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from ltx_ui.lora_library import request_loras

    monkeypatch.setenv("LTX_DEMO_DIR", str(tmp_path / "demo"))
    models = model_files.resolve_models(None, None)
    studio = SimpleNamespace(models=models)
    assert models.ic_lora().name == "ltx2-demo-ic-lora-canny-control.safetensors"
    with pytest.raises(InputProblem, match="is a spatial upsampler file, not a LoRA: choose a LoRA file."):
        request_loras(studio, [{"file": str(models.paths.spatial_upsampler)}])
    chosen = request_loras(studio, [{"file": str(models.ic_lora()), "strength": 0.5, "stage2_strength": 0.25}])
    assert (chosen[0].strength, chosen[0].stage2_strength) == (0.5, 0.25)
    with pytest.raises(InputProblem, match="LoRA #1's stage-2 strength must be between -2 and 2, got 9"):
        request_loras(studio, [{"path": str(models.ic_lora()), "stage2_strength": 9}])


def test_a_listening_port_is_in_use_but_one_left_in_time_wait_is_not():
    import socket

    sys.path.insert(0, str(ROOT))
    from app import check_port

    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Gradio's server (uvicorn) does
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        with pytest.raises(ValueError, match=f"port {port} is in use .*: pass --port {port + 1} or another free port"):
            check_port("127.0.0.1", port)
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = server.accept()
        accepted.close()  # the server side closes first: its end waits in TIME_WAIT
        client.close()
    check_port("127.0.0.1", port)  # a studio restarted right away may take the port again
