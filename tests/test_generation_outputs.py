"""Pipelines to finished mp4 files on the tiny models: runner, IC-LoRA control, upscaling, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ltx_core.loader.audio_vae import vocoder_config
from ltx_core.media import probe_video, write_mp4
from ltx_core.media.canny import canny_video
from ltx_core.pipelines.progress import CancelToken, Cancelled
from ltx_core.pipelines.request import LoraChoice
from ltx_core.pipelines.runner import run_job
from ltx_core.pipelines.upscale import UpscaleRequest
from tests.conftest import Reference
from tests.pipeline_helpers import tiny_ledger
from tests.test_pipelines import small_request

DATA = Path(__file__).parent / "data"


def test_distilled_run_writes_a_playable_mp4_with_audio_and_sidecar(reference: Reference, tmp_path: Path):
    ledger = tiny_ledger(reference, tmp_path)
    events = []
    output = tmp_path / "out" / "clip.mp4"
    output.parent.mkdir()
    record = run_job(ledger, "distilled", small_request(height=128, width=128, frames=17), output, progress=events.append)
    info = probe_video(record.video)
    assert (info.frames, info.width, info.height) == (17, 128, 128) and abs(info.fps - 24.0) < 1e-6
    assert info.has_audio and info.audio_codec == "aac"
    assert info.sample_rate == vocoder_config(ledger.checkpoint).output_sampling_rate and info.channels == 2
    sidecar = json.loads(record.sidecar.read_text())
    assert sidecar["settings"]["pipeline"] == "distilled" and sidecar["settings"]["request"]["seed"] == 3
    assert sidecar["settings"]["models"]["checkpoint"]["identity"] == ledger.checkpoint.identity()
    stages = [s.stage for s in record.stages]
    assert stages == ["text encoder", "stage 1", "upsample", "stage 2", "audio decode", "video decode"]
    assert events[-1].stage == "done" and {e.stage for e in events} >= {"stage 1", "stage 2"}
    previews = [e.preview for e in events if e.stage == "stage 2"]
    assert previews and all(p is not None and p.dtype == np.uint8 and p.shape == (32, 32, 3) for p in previews)
    assert all(e.peak_memory > 0 for e in events if e.stage.startswith("stage"))
    assert sorted(p.name for p in output.parent.iterdir()) == ["clip.json", "clip.mp4"]
    assert ledger.loaded() == []


def test_cancel_leaves_no_file_and_the_next_run_works(reference: Reference, tmp_path: Path):
    ledger = tiny_ledger(reference, tmp_path)
    token = CancelToken()

    def cancel_in_stage_2(event):
        if event.stage == "stage 2":
            token.cancel()

    with pytest.raises(Cancelled):
        run_job(ledger, "distilled", small_request(height=128, width=128), tmp_path / "a.mp4", progress=cancel_in_stage_2, cancel=token)
    assert not list(tmp_path.glob("*.mp4")) and ledger.loaded() == []
    record = run_job(ledger, "distilled", small_request(height=128, width=128), tmp_path / "b.mp4")
    assert probe_video(record.video).frames == 9


def control_video(tmp_path: Path, frames: int = 9) -> Path:
    y, x = np.mgrid[0:128, 0:128]
    clip = np.stack([((x + 4 * t) % 48 < 24)[..., None].repeat(3, -1).astype(np.uint8) * 255 for t in range(frames)])
    source = tmp_path / "source.mp4"
    write_mp4(source, clip, 24.0, sidecar=False)
    edges = np.stack(list(canny_video(clip, 50, 100)))
    assert edges.max() == 255 and 0 < (edges > 0).mean() < 0.5
    path = tmp_path / "edges.mp4"
    write_mp4(path, edges, 24.0, sidecar=False)
    return path


def test_ic_lora_control_run(reference: Reference, tmp_path: Path):
    ledger = tiny_ledger(reference, tmp_path)
    request = small_request(
        height=128, width=128, control_video=str(control_video(tmp_path)), loras=(LoraChoice(DATA / "lora_b.safetensors", 1.0),)
    )
    record = run_job(ledger, "ic-lora", request, tmp_path / "ic.mp4")
    assert probe_video(record.video).frames == 9
    assert any("lora_b.safetensors" in e for e in ledger.events)
    short = small_request(height=128, width=128, frames=17, control_video=request.control_video, loras=request.loras)
    with pytest.raises(Exception, match="17"):
        run_job(tiny_ledger(reference, tmp_path), "ic-lora", short, tmp_path / "ic2.mp4")


def test_spatial_and_temporal_upscaling_of_an_output(reference: Reference, tmp_path: Path):
    ledger = tiny_ledger(reference, tmp_path)
    first = run_job(ledger, "distilled", small_request(height=128, width=128), tmp_path / "base.mp4")
    up = run_job(ledger, "upscale", UpscaleRequest(first.video, spatial=True, temporal=True), tmp_path / "up.mp4")
    info = probe_video(up.video)
    assert (info.width, info.height) == (256, 256)
    assert info.frames == 17 and abs(info.fps - 48.0) < 1e-6 and info.has_audio
    assert up.prompt == "a red ball on the beach"  # taken from the source's sidecar
