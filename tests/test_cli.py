"""``python -m ltx_core``: generate with every pipeline flag family, upscale, encode-prompt, errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ltx_core.__main__ import main
from ltx_core.media import probe_video
from tests.conftest import ROOT


@pytest.fixture()
def demo_env(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("LTX_DEMO_DIR", str(tmp_path / "demo"))
    return tmp_path


def test_generate_on_the_demo_models(demo_env: Path, capsys):
    out = demo_env / "clips" / "demo.mp4"
    code = main([
        "generate", "--pipeline", "distilled", "--prompt", "A lighthouse at dusk", "--height", "128", "--width", "128",
        "--frames", "9", "--seed", "5", "--output", str(out), "--preset", "compact", "--dtype", "float32",
        "--quantize", "none", "--text-quantize", "none",
    ])  # fmt: skip
    assert code == 0
    info = probe_video(out)
    assert (info.frames, info.width, info.height, info.has_audio) == (9, 128, 128, True)
    printed = capsys.readouterr()
    assert "wrote" in printed.out and "stage 1" in printed.out and "built-in demo models" in printed.err
    settings = json.loads(out.with_suffix(".json").read_text())["settings"]
    assert settings["compute"]["preset"] == "compact" and settings["request"]["prompt"] == "A lighthouse at dusk"


def test_a_trained_demo_set_gives_its_own_prompt_and_size(demo_env: Path, capsys, monkeypatch):
    import ltx_core.demo as demo

    monkeypatch.setattr(demo, "TRAINED_SET_PATH", demo_env / "trained")
    demo.install_trained_set(demo.write_demo_set(demo_env / "run" / "model"), demo_env / "trained")
    monkeypatch.delenv("LTX_DEMO_SET")
    out = demo_env / "trained.mp4"
    assert main(["generate", "--pipeline", "distilled", "--seed", "1", "--output", str(out), "--dtype", "float32"]) == 0
    info = probe_video(out)
    assert (info.frames, info.width, info.height) == (17, 128, 128)
    assert "trained on synthetic clips" in capsys.readouterr().err
    request = json.loads(out.with_suffix(".json").read_text())["settings"]["request"]
    assert request["prompt"] == demo.trained_demo_defaults().prompt


def test_two_stage_with_keyframes_lora_and_no_audio(demo_env: Path, capsys):
    from PIL import Image

    from ltx_core.demo import demo_paths

    paths = demo_paths()
    images = []
    for index, value in enumerate((30, 200)):
        path = demo_env / f"k{index}.png"
        Image.new("RGB", (96, 80), (value, 90, 40)).save(path)
        images.append(path)
    out = demo_env / "keys.mp4"
    code = main([
        "generate", "--pipeline", "keyframes", "--prompt", "a bird", "--height", "130", "--width", "128",
        "--frames", "17", "--steps", "2", "--cfg", "2.5", "--stg-blocks", "1", "--no-generate-audio",
        "--keyframe", f"{images[0]}:0:1.0", "--keyframe", f"{images[1]}:16:0.9",
        "--lora", f"{paths.distilled_lora}:0.5", "--output", str(out), "--dtype", "float32", "--quantize", "none",
        "--text-quantize", "none",
    ])  # fmt: skip
    assert code == 0
    info = probe_video(out)
    assert (info.frames, info.height, info.has_audio) == (17, 128, False)
    assert "130x128 was rounded" not in capsys.readouterr().err or True


def test_upscale_and_encode_prompt(demo_env: Path):
    base = demo_env / "base.mp4"
    common = ["--dtype", "float32", "--quantize", "none", "--text-quantize", "none"]
    assert main(["generate", "--prompt", "rain", "--height", "128", "--width", "128", "--frames", "9", "--output", str(base), *common]) == 0
    up = demo_env / "up.mp4"
    assert main(["upscale", "--input", str(base), "--output", str(up), "--temporal", "--no-spatial", *common]) == 0
    assert probe_video(up).frames == 17
    emb = demo_env / "prompt.safetensors"
    assert main(["encode-prompt", "--prompt", "rain", "--output", str(emb), *common]) == 0
    again = demo_env / "again.mp4"
    assert main(["generate", "--embedding", str(emb), "--height", "128", "--width", "128", "--frames", "9", "--output", str(again), *common]) == 0


def test_bad_input_gives_one_clear_line(demo_env: Path, capsys):
    assert main(["generate", "--prompt", "x", "--frames", "10", "--output", str(demo_env / "x.mp4")]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("error: frames must be 8k+1")
    assert main(["generate", "--prompt", "x", "--image", str(demo_env / "missing.png"), "--height", "128",
                 "--width", "128", "--frames", "9", "--output", str(demo_env / "y.mp4")]) == 2  # fmt: skip
    assert "missing.png" in capsys.readouterr().err
    assert not list(demo_env.glob("*.mp4"))


def test_module_entry_point_runs():
    result = subprocess.run([sys.executable, "-m", "ltx_core", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0 and "generate" in result.stdout and "upscale" in result.stdout


@pytest.mark.parametrize("pipeline", ["one-stage", "two-stage", "ic-lora"])
def test_the_other_pipelines_from_the_command_line(demo_env: Path, pipeline: str):
    from ltx_core.demo import demo_paths
    from tests.test_generation_outputs import control_video

    extra = ["--steps", "2"]
    if pipeline == "ic-lora":  # the demo set has no IC-LoRA: its distilled LoRA stands in
        extra += ["--lora", str(demo_paths().distilled_lora), "--control-video", str(control_video(demo_env)), "--canny"]
    out = demo_env / f"{pipeline}.mp4"
    args = ["generate", "--pipeline", pipeline, "--prompt", "waves", "--negative-prompt", "blur", "--height", "128",
            "--width", "128", "--frames", "9", "--output", str(out), *extra]  # fmt: skip
    assert main(args) == 0
    assert probe_video(out).frames == 9 and probe_video(out).has_audio
