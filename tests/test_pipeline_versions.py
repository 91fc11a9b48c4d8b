"""Every pipeline end to end through ``run_job`` on each in-repo single-file model set (LTX-2 and
LTX-2.3 tiny models): mp4 with AAC at the vocoder's rate (48 kHz for 2.3), sidecar with the model
version; the HQ recipe on 2.3 only; companion files of another version refused before loading."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ltx_core.loader.audio_vae import vocoder_config
from ltx_core.media import probe_video, write_mp4
from ltx_core.model_compat import VersionMismatchError
from ltx_core.model_spec import LTX_2_3
from ltx_core.pipelines.registry import PIPELINES
from ltx_core.pipelines.request import GenerationRequest, ImageCondition, LoraChoice, RequestError
from ltx_core.pipelines.runner import run_job
from ltx_core.pipelines.upscale import UpscaleRequest
from tests.conftest import Reference, load_reference, reference_sets, reference_version
from tests.pipeline_helpers import tiny_ledger, tiny_lora
from tests.test_generation_outputs import control_video
from tests.test_pipelines import GUIDANCE, _png

SINGLE_FILE_SETS = [d for d in reference_sets() if reference_version(d) in ("2.0", "2.3")]
SET_23 = next((d for d in SINGLE_FILE_SETS if reference_version(d) == "2.3"), None)
SET_20 = next((d for d in SINGLE_FILE_SETS if reference_version(d) == "2.0"), None)
needs_both = pytest.mark.skipif(SET_23 is None or SET_20 is None, reason="needs the in-repo 2.0 and 2.3 sets")


@pytest.fixture(params=SINGLE_FILE_SETS, ids=[d.name for d in SINGLE_FILE_SETS])
def model_set(request) -> Reference:
    return load_reference(request.param)


def lora_of(reference: Reference, tmp_path: Path) -> Path:
    return tiny_lora(reference.checkpoint, tmp_path / f"lora-{reference.version}.safetensors")


def request_for(reference: Reference, pipeline: str, tmp_path: Path, **changes) -> GenerationRequest:
    from ltx_core.model_spec import version_spec

    values = dict(prompt="a red ball on the beach", negative_prompt="rain", seed=3, height=128, width=128, frames=9,
                  steps=2)  # fmt: skip
    if pipeline != "two-stage-hq":  # HQ keeps the version spec's guidance; the others perturb block 1
        values.update(video_guidance=GUIDANCE, audio_guidance=GUIDANCE)
    if pipeline == "one-stage":
        values.update(height=64, width=64)
    if pipeline == "keyframes":
        values.update(frames=17, images=tuple(
            ImageCondition(str(_png(tmp_path, value, i)), frame, 1.0) for i, (frame, value) in enumerate(((0, 40), (16, 220)))
        ))  # fmt: skip
    if pipeline == "ic-lora":
        values.update(control_video=str(control_video(tmp_path)), loras=(LoraChoice(lora_of(reference, tmp_path), 1.0),))
    if pipeline == "audio-to-video":
        from tests.test_a2v_pipeline import write_song

        write_song(tmp_path / "song.wav", 0.5, rate=22050)
        values.update(audio=str(tmp_path / "song.wav"), frames="auto")
    values.update(changes)
    return GenerationRequest.for_version(version_spec(reference.version), pipeline, **values)


def check_output(record, reference: Reference, ledger, frames: int, size: tuple[int, int], users_audio=None) -> dict:
    """``users_audio``: the (codec, rate) of a track carried over from the user's audio (audio-to-video)."""
    info = probe_video(record.video)
    assert (info.frames, info.width, info.height) == (frames, *size)
    rate = vocoder_config(ledger.checkpoint).output_sampling_rate
    codec, rate = users_audio or ("aac", rate)
    assert info.has_audio and info.audio_codec == codec and info.channels == 2
    assert info.sample_rate == rate == (48000 if reference.version == "2.3" and not users_audio else rate)
    sidecar = json.loads(record.sidecar.read_text())["settings"]
    assert sidecar["models"]["model_version"] == reference.version
    assert ledger.loaded() == []
    return sidecar


# Every version offers them; text-to-audio writes a WAV, not an mp4 (tests/test_t2a_parity.py runs it end to end).
GENERATION = [name for name, d in PIPELINES.items() if d.first is not None and not d.versions and name != "text-to-audio"]


@pytest.mark.parametrize("pipeline", GENERATION)
def test_every_pipeline_on_each_version(model_set: Reference, pipeline: str, tmp_path: Path):
    ledger = tiny_ledger(model_set, tmp_path, distilled_lora=lora_of(model_set, tmp_path))
    request = request_for(model_set, pipeline, tmp_path)
    record = run_job(ledger, pipeline, request, tmp_path / f"{pipeline}.mp4")
    frames = 9 if pipeline == "audio-to-video" else request.frames  # 0.5 s of audio: 9 frames at 24 fps
    users_audio = ("flac", 22050) if pipeline == "audio-to-video" else None
    sidecar = check_output(record, model_set, ledger, frames, (request.width, request.height), users_audio)
    assert sidecar["pipeline"] == pipeline


def test_upscale_on_each_version(model_set: Reference, tmp_path: Path):
    source = tmp_path / "source.mp4"
    rng = np.random.default_rng(0)
    write_mp4(source, rng.integers(0, 255, (9, 64, 64, 3), dtype=np.uint8), 24.0, sidecar=False)
    ledger = tiny_ledger(model_set, tmp_path)
    record = run_job(ledger, "upscale", UpscaleRequest(source, spatial=True, temporal=True, prompt="noise"), tmp_path / "up.mp4")
    info = probe_video(record.video)
    assert (info.width, info.height, info.frames) == (128, 128, 17) and abs(info.fps - 48.0) < 1e-6
    sidecar = json.loads(record.sidecar.read_text())["settings"]
    assert sidecar["models"]["model_version"] == model_set.version


@needs_both
def test_two_stage_hq_on_the_23_set(tmp_path: Path):
    reference = load_reference(SET_23)
    ledger = tiny_ledger(reference, tmp_path, distilled_lora=lora_of(reference, tmp_path))
    request = request_for(reference, "two-stage-hq", tmp_path)
    assert request.video_guidance == LTX_2_3.hq_video_guidance and request.audio_guidance == LTX_2_3.hq_audio_guidance
    record = run_job(ledger, "two-stage-hq", request, tmp_path / "hq.mp4")
    sidecar = check_output(record, reference, ledger, 9, (128, 128))
    assert sidecar["pipeline"] == "two-stage-hq" and sidecar["request"]["steps"] == 2
    assert sidecar["request"]["video_guidance"]["rescale_scale"] == 0.45
    assert sidecar["request"]["audio_guidance"]["rescale_scale"] == 1.0
    assert [s.stage for s in record.stages] == ["text encoder", "stage 1", "upsample", "stage 2", "audio decode", "video decode"]
    # the distilled LoRA in both stages, at the spec's two strengths: applied, then re-applied
    assert len([e for e in ledger.events if e.startswith("loras")]) == 2


def test_hq_defaults_come_from_the_version_spec():
    descriptor = PIPELINES["two-stage-hq"]
    defaults = descriptor.request_defaults(LTX_2_3)
    assert defaults["steps"] == LTX_2_3.hq_steps == 15
    assert defaults["video_guidance"] == LTX_2_3.hq_video_guidance
    assert (defaults["video_guidance"].stg_scale, defaults["video_guidance"].rescale_scale) == (0.0, 0.45)
    assert (defaults["audio_guidance"].cfg_scale, defaults["audio_guidance"].rescale_scale) == (7.0, 1.0)
    assert (defaults["height"], defaults["width"]) == (1088, 1920)
    assert LTX_2_3.hq.distilled_lora_strengths == (0.25, 0.5)
    assert descriptor.versions == ("2.3",) and descriptor.first.sampler == descriptor.second.sampler == "res2s"
    from ltx_ui.tab_generate import PIPELINE_CHOICES

    assert "two-stage-hq" in PIPELINE_CHOICES


@needs_both
def test_two_stage_hq_refuses_a_20_checkpoint_before_loading(tmp_path: Path):
    reference = load_reference(SET_20)
    ledger = tiny_ledger(reference, tmp_path, distilled_lora=lora_of(reference, tmp_path))
    with pytest.raises(RequestError, match=r"needs an LTX-2.3 checkpoint, but ltx2-tiny.safetensors is an LTX-2 \(2.0\)"):
        run_job(ledger, "two-stage-hq", request_for(reference, "two-stage-hq", tmp_path), tmp_path / "x.mp4")
    assert [e for e in ledger.events if e.startswith("load")] == []


@needs_both
def test_a_20_upsampler_with_a_23_model_is_refused(tmp_path: Path):
    reference = load_reference(SET_23)
    ledger = tiny_ledger(reference, tmp_path)
    from dataclasses import replace

    ledger.paths = replace(ledger.paths, spatial_upsampler=SET_20 / "ltx2-tiny-spatial-upsampler.safetensors")
    with pytest.raises(VersionMismatchError, match=r"16-channel latents, so it is not for LTX-2.3 \(2.3\)"):
        run_job(ledger, "distilled", request_for(reference, "distilled", tmp_path), tmp_path / "x.mp4")
    assert ledger.events == []


@needs_both
@pytest.mark.parametrize("model, lora", [("2.3", "2.0"), ("2.0", "2.3")])
def test_a_distilled_lora_of_another_version_is_refused(model: str, lora: str, tmp_path: Path):
    sets = {"2.0": load_reference(SET_20), "2.3": load_reference(SET_23)}
    reference, other = sets[model], sets[lora]
    ledger = tiny_ledger(reference, tmp_path, distilled_lora=lora_of(other, tmp_path))
    titles = {"2.0": r"LTX-2 \(19B, 2.0\)", "2.3": r"LTX-2.3 \(22B, 2.3\)"}
    with pytest.raises(VersionMismatchError, match=rf"is for {titles[lora]}.*is an {titles[model]} checkpoint"):
        run_job(ledger, "two-stage", request_for(reference, "two-stage", tmp_path), tmp_path / "x.mp4")
    assert ledger.events == []
    # a user LoRA of the other version too, before anything loads
    ledger = tiny_ledger(reference, tmp_path, distilled_lora=lora_of(reference, tmp_path))
    request = request_for(reference, "distilled", tmp_path, loras=(LoraChoice(lora_of(other, tmp_path), 1.0),))
    with pytest.raises(VersionMismatchError, match=rf"is for {titles[lora]}"):
        run_job(ledger, "distilled", request, tmp_path / "y.mp4")
    assert ledger.events == []


def _generate_args(argv: list[str]):
    import argparse

    from ltx_core.cli_generate import add_generate_parser

    parser = argparse.ArgumentParser()
    add_generate_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["generate", *argv])


def test_cli_offers_two_stage_hq_with_the_spec_defaults():
    from ltx_core.cli_generate import request_from_args
    from ltx_core.model_spec import LTX_2_0

    args = _generate_args(["--pipeline", "two-stage-hq", "--prompt", "x", "--output", "o.mp4"])
    request = request_from_args(args, LTX_2_3)
    assert (request.steps, request.height, request.width) == (15, 1088, 1920)
    assert request.video_guidance == LTX_2_3.hq_video_guidance and request.audio_guidance == LTX_2_3.hq_audio_guidance
    args = _generate_args(["--pipeline", "two-stage-hq", "--prompt", "x", "--output", "o.mp4", "--cfg", "4", "--steps", "9"])
    request = request_from_args(args, LTX_2_3)
    assert request.steps == 9 and request.video_guidance.cfg_scale == 4 and request.video_guidance.rescale_scale == 0.45
    plain = request_from_args(_generate_args(["--prompt", "x", "--output", "o.mp4"]), LTX_2_3)
    assert (plain.steps, plain.height, plain.width, plain.video_guidance) == (30, 512, 768, LTX_2_3.video_guidance)
    # on a version without the recipe, the request keeps that version's defaults (the pipeline then refuses it)
    assert request_from_args(_generate_args(["--pipeline", "two-stage-hq", "--prompt", "x", "--output", "o"]), LTX_2_0).steps == 40


@needs_both
def test_cli_two_stage_hq_on_the_23_set_and_refusal_on_the_demo_models(tmp_path: Path, monkeypatch, capsys):
    from ltx_core.__main__ import main

    reference = load_reference(SET_23)
    ledger = tiny_ledger(reference, tmp_path)  # writes the Gemma folder with a tokenizer
    out = tmp_path / "hq.mp4"
    code = main([
        "generate", "--pipeline", "two-stage-hq", "--prompt", "waves", "--negative-prompt", "blur", "--height", "128",
        "--width", "128", "--frames", "9", "--steps", "2", "--output", str(out), "--weights", str(reference.checkpoint),
        "--gemma-path", str(ledger.paths.gemma), "--spatial-upscaler-weights", str(ledger.paths.spatial_upsampler),
        "--distilled-lora", str(lora_of(reference, tmp_path)), "--dtype", "float32", "--quantize", "none",
        "--text-quantize", "none", "--preset", "balanced",
    ])  # fmt: skip
    assert code == 0
    sidecar = json.loads(out.with_suffix(".json").read_text())["settings"]
    assert sidecar["pipeline"] == "two-stage-hq" and sidecar["models"]["model_version"] == "2.3"
    assert sidecar["request"]["audio_guidance"]["cfg_scale"] == 7.0
    monkeypatch.setenv("LTX_DEMO_DIR", str(tmp_path / "demo"))
    capsys.readouterr()
    code = main(["generate", "--pipeline", "two-stage-hq", "--prompt", "w", "--height", "128", "--width", "128",
                 "--frames", "9", "--output", str(tmp_path / "demo.mp4")])  # fmt: skip
    assert code == 2 and "needs an LTX-2.3 checkpoint" in capsys.readouterr().err


def test_studio_switches_sampling_defaults_for_the_hq_recipe_only():
    from types import SimpleNamespace

    from ltx_core.model_spec import LTX_2_0
    from ltx_ui.tab_generate import GenerateTab

    tab = GenerateTab.__new__(GenerateTab)
    tab.studio = SimpleNamespace(models=SimpleNamespace(version=LTX_2_3))
    assert tab.sampling_defaults("two-stage-hq", 30, 3.0, 1.0) == (15, 3.0, 0.0)
    assert tab.sampling_defaults("one-stage", 15, 3.0, 0.0) == (30, 3.0, 1.0)  # leaving untouched HQ defaults
    kept = tab.sampling_defaults("one-stage", 22, 3.5, 1.0)  # the user's own values stay
    assert all(isinstance(v, dict) and v.get("__type__") == "update" and len(v) == 1 for v in kept)
    tab.studio.models.version = LTX_2_0  # 2.0 has no HQ recipe: nothing switches
    assert all(isinstance(v, dict) for v in tab.sampling_defaults("two-stage-hq", 40, 3.0, 1.0))
