"""The DFR pipeline and generated keyframe slots end to end on the tiny LTX-2.5 set: the CLI to an
mp4 with twice the frames at twice the fps, slots in the distilled pipeline's first stage, and the
refusals (slot count, model version, missing temporal upsampler) before anything loads."""

from __future__ import annotations

import json
import os
from pathlib import Path

import mlx.core as mx
import pytest

from ltx_core.__main__ import main
from ltx_core.media import probe_video
from ltx_core.model.text_encoder.cache import PromptEmbeddings
from ltx_core.model.text_encoder.connector import TextContexts
from ltx_core.model_paths import ModelPaths
from ltx_core.pipelines.blocks import Prompts
from ltx_core.pipelines.distilled import DistilledPipeline
from ltx_core.pipelines.keyframe_slots import GeneratedKeyframeSlots, evenly_spaced_keyframes
from ltx_core.pipelines.ledger import ModelLedger
from ltx_core.pipelines.request import GenerationRequest, RequestError
from ltx_core.pipelines.runner import run_job
from tests.conftest import ROOT, Reference
from tests.ltx25_helpers import ltx25_reference


@pytest.fixture(scope="module")
def ltx25() -> Reference:
    return ltx25_reference()


def fixture_prompts(ltx25: Reference) -> Prompts:
    video, audio = (mx.array(ltx25[f"text/out/{s}_context"]) for s in ("video", "audio"))
    return Prompts(
        PromptEmbeddings(TextContexts(video=video, audio=audio, mask=mx.array(ltx25["text/out/context_mask"]))),
        "fixture",
    )


def test_dfr_from_the_command_line(ltx25: Reference, tmp_path: Path, capsys):
    out = tmp_path / "dfr.mp4"
    code = main([
        "generate", "--pipeline", "dfr", "--weights", str(ltx25.directory), "--prompt", "a red kite over the dunes",
        "--height", "64", "--width", "64", "--frames", "9", "--fps", "12", "--temporal-rounds", "1", "--seed", "3",
        "--output", str(out), "--dtype", "float32", "--quantize", "none", "--text-quantize", "none",
    ])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    info = probe_video(out)
    assert (info.frames, info.width, info.height, info.has_audio) == (17, 64, 64, True)  # (9 - 1) * 2 + 1
    assert abs(info.fps - 24) < 1e-6
    settings = json.loads(out.with_suffix(".json").read_text())["settings"]
    assert settings["pipeline"] == "dfr" and settings["request"]["temporal_rounds"] == 1
    assert (settings["request"]["canvas_frames"], settings["request"]["output_frames"]) == (25, 17)
    assert [s["stage"] for s in settings["stages"]][:5] == [
        "text encoder",
        "stage 1",
        "upsample",
        "stage 2",
        "temporal round 1",
    ]


def test_generated_keyframes_in_the_distilled_pipeline(ltx25: Reference):
    assert evenly_spaced_keyframes(2, 17) == (5, 11) and evenly_spaced_keyframes(0, 9) == ()
    ledger = ModelLedger(ModelPaths.from_folder(ltx25.directory))
    base = GenerationRequest(prompt="fixture", height=64, width=64, frames=17, seed=2, generate_audio=False)
    pipeline = DistilledPipeline(ledger)
    plain = pipeline.generate(base, prompts=fixture_prompts(ltx25)).video
    slotted = pipeline.generate(
        GenerationRequest(**{**base.__dict__, "generated_keyframes": 2}), prompts=fixture_prompts(ltx25)
    ).video
    assert slotted.shape == plain.shape == (1, 128, 3, 2, 2)
    # the slots take part in attention: the video they were generated with differs
    assert float(mx.abs(slotted - plain).max()) > 1e-3
    space_items = pipeline.conditionings(
        pipeline.first, GenerationRequest(**{**base.__dict__, "generated_keyframes": 2}), None, 32, 32
    )
    assert space_items == [GeneratedKeyframeSlots((5, 11))]


def run_refused(ledger: ModelLedger, pipeline: str, request: GenerationRequest, tmp_path: Path, message: str) -> None:
    with pytest.raises(RequestError, match=message):
        run_job(ledger, pipeline, request, tmp_path / "x.mp4")
    assert not any(event.startswith("load") for event in ledger.events)


@pytest.mark.parametrize(
    "pipeline, change, message",
    [
        ("distilled", {"generated_keyframes": 8}, "8 generated keyframes do not fit a 9-frame video: choose 0 to 7"),
        ("distilled", {"generated_keyframes": -1}, "generated keyframes must be a whole number from 0"),
        ("dfr", {"generated_keyframes": 1}, "does not take a number of generated keyframes"),
        ("dfr", {"temporal_rounds": 3}, "temporal rounds must be 0, 1 or 2"),
        ("dfr", {"frames": 1}, "the DFR pipeline needs 8k\\+1 frames, at least 9"),
    ],
)
def test_bad_slot_requests_are_refused(ltx25: Reference, tmp_path: Path, pipeline: str, change: dict, message: str):
    request = GenerationRequest(**{**GenerationRequest(prompt="x", height=64, width=64, frames=9).__dict__, **change})
    run_refused(ModelLedger(ModelPaths.from_folder(ltx25.directory)), pipeline, request, tmp_path, message)


def test_temporal_rounds_without_the_temporal_upsampler(ltx25: Reference, tmp_path: Path):
    folder = tmp_path / "weights"
    for path in ltx25.directory.glob("*/*.safetensors"):
        if "temporal" not in path.name:
            (folder / path.parent.name).mkdir(parents=True, exist_ok=True)
            os.symlink(path, folder / path.parent.name / path.name)
    ledger = ModelLedger(ModelPaths.from_folder(folder))
    request = GenerationRequest(prompt="x", height=64, width=64, frames=9, temporal_rounds=1)
    run_refused(ledger, "dfr", request, tmp_path, "temporal round\\(s\\) need the temporal x2 upsampler")


def test_other_versions_are_refused(tmp_path: Path, capsys):
    weights = ROOT / "tests" / "reference" / "ltx-2.3" / "ltx2-tiny.safetensors"
    upsampler = weights.with_name("ltx2-tiny-spatial-upsampler.safetensors")
    common = [
        "--weights", str(weights), "--spatial-upscaler-weights", str(upsampler), "--prompt", "x", "--height", "64",
        "--width", "64", "--frames", "9", "--dtype", "float32", "--quantize", "none", "--text-quantize", "none",
    ]  # fmt: skip
    assert main(["generate", "--pipeline", "dfr", *common, "--output", str(tmp_path / "a.mp4")]) == 2
    assert "the DFR (keyframe slots, temporal rounds) pipeline needs an LTX-2.5 checkpoint" in capsys.readouterr().err
    assert (
        main(
            [
                "generate",
                "--pipeline",
                "distilled",
                "--num-generated-keyframes",
                "1",
                *common,
                "--output",
                str(tmp_path / "b.mp4"),
            ]
        )
        == 2
    )
    assert "has no keyframe embedding" in capsys.readouterr().err


def test_the_studio_runs_dfr_with_its_own_fields(ltx25: Reference, tmp_path: Path):
    from gradio_client import Client

    from ltx_core.presets import load_presets, preset_by_name
    from tests.browser.studio_server import GENERATE_FIELDS, running_studio

    with running_studio(tmp_path, weights_dir=ltx25.directory) as app:
        app.studio.set_preset(preset_by_name("maximum", load_presets()), False)  # unquantized: the tiny set as it is
        client = Client(app.url, verbose=False)
        values = {
            **GENERATE_FIELDS, "pipeline": "dfr", "temporal_rounds": 1, "prompt": "a red kite", "negative_prompt": "", "width": 64, "height": 64,
            "frames": 9, "fps": 12, "steps": 4, "cfg": 1.0, "stg": 0.0, "seed": 3, "randomize_seed": False,
            "seed_count": 1, "audio": True,
        }  # fmt: skip
        status, _, video, *_ = client.predict(**values, api_name="/generate")
        info = probe_video(video)
        assert (info.frames, info.width, abs(info.fps - 24) < 1e-6) == (17, 64, True), status
        sidecar = json.loads((app.outputs / Path(video).with_suffix(".json").name).read_text())["settings"]
        assert sidecar["pipeline"] == "dfr" and sidecar["request"]["temporal_rounds"] == 1
        from gradio_client.exceptions import AppError

        with pytest.raises(AppError, match="9 generated keyframes do not fit a 9-frame video"):
            client.predict(**{**values, "pipeline": "distilled", "generated_keyframes": 9}, api_name="/generate")
