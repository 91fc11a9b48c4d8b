"""LoRAs in the pipelines: per-stage strengths, IC-LoRA with style LoRAs, LoRAs fused by
``convert``, the memory estimate of LoRAs, and the command-line syntax."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import mlx.core as mx
import pytest

from ltx_core.cli_generate import lora_choice
from ltx_core.errors import ConfigError
from ltx_core.loader.convert import convert_checkpoint
from ltx_core.loader.lora import lora_footprint
from ltx_core.loader.quantization import QuantizationSpec
from ltx_core.memory import LoraFootprint, check_fits, estimate_memory
from ltx_core.memory.estimate import DenoisePass
from ltx_core.pipelines.distilled import DistilledPipeline
from ltx_core.pipelines.request import LoraChoice, RequestError
from ltx_core.pipelines.runner import run_job
from tests.conftest import Reference
from tests.parity import check_parity
from tests.pipeline_helpers import tiny_ledger, tiny_lora
from tests.test_generation_outputs import control_video
from tests.test_pipelines import small_request

DATA = Path(__file__).parent / "data"
IC_LORA = DATA / "lora_b.safetensors"  # carries reference_downscale_factor 2


def lora_events(ledger) -> list[str]:
    return [event for event in ledger.events if event.startswith("loras ")]


def test_lora_syntax():
    assert lora_choice("a.safetensors") == LoraChoice("a.safetensors", 1.0, None)
    assert lora_choice("a.safetensors:0.5") == LoraChoice("a.safetensors", 0.5, None)
    assert lora_choice("a.safetensors:0.5:0") == LoraChoice("a.safetensors", 0.5, 0.0)
    assert lora_choice("C:/loras/a.safetensors:0.7:0.2") == LoraChoice("C:/loras/a.safetensors", 0.7, 0.2)
    assert lora_choice("a.safetensors::0.3") == LoraChoice("a.safetensors", 1.0, 0.3)
    with pytest.raises(ConfigError, match="--lora a.safetensors:strong: give PATH"):
        lora_choice("a.safetensors:strong")
    assert LoraChoice("a", 0.8, 0.2).strength_in(1) == 0.8 and LoraChoice("a", 0.8, 0.2).strength_in(2) == 0.2
    assert LoraChoice("a", 0.8).strength_in(2) == 0.8


def test_per_stage_strengths_and_refusals_before_loading(reference: Reference, tmp_path: Path):
    style = tiny_lora(reference.checkpoint, tmp_path / "style.safetensors")
    ledger = tiny_ledger(reference, tmp_path)
    request = small_request(height=128, width=128, loras=(LoraChoice(style, 0.8, 0.0),))
    DistilledPipeline(ledger).generate(request)
    assert lora_events(ledger) == ["loras ['style.safetensors']", "loras []"]  # off in stage 2
    for bad, message in ((float("nan"), "not a finite number"),):
        with pytest.raises(RequestError, match=message):
            DistilledPipeline(tiny_ledger(reference, tmp_path)).generate(
                replace(request, loras=(LoraChoice(style, 1.0, bad),))
            )


def test_ic_lora_and_a_style_lora_together(reference: Reference, tmp_path: Path):
    """The IC-LoRA runs in stage 1 only (stage 2 has no reference tokens); the style LoRA in both
    stages at its per-stage strengths. Without ``control_loras`` the LoRAs are the IC-LoRAs."""
    style = tiny_lora(reference.checkpoint, tmp_path / "style.safetensors")
    control = str(control_video(tmp_path))
    ledger = tiny_ledger(reference, tmp_path)
    request = small_request(
        height=128, width=128, control_video=control, control_loras=(LoraChoice(IC_LORA, 1.0),),
        loras=(LoraChoice(style, 0.6, 0.3),),
    )  # fmt: skip
    record = run_job(ledger, "ic-lora", request, tmp_path / "ic.mp4")
    assert lora_events(ledger) == ["loras ['lora_b.safetensors', 'style.safetensors']", "loras ['style.safetensors']"]
    import json

    saved = json.loads(Path(record.sidecar).read_text())["settings"]["request"]
    assert saved["control_loras"][0]["path"].endswith("lora_b.safetensors")
    assert saved["loras"][0]["stage2_strength"] == 0.3
    legacy = tiny_ledger(reference, tmp_path)
    run_job(legacy, "ic-lora", replace(request, control_loras=(), loras=(LoraChoice(IC_LORA, 1.0),)), tmp_path / "l.mp4")
    assert lora_events(legacy) == ["loras ['lora_b.safetensors']", "loras []"]


def test_loras_fused_by_convert_are_not_applied_twice(reference: Reference, tmp_path: Path):
    """A converted file with a fused LoRA: asking for it at the fused strength applies nothing, a
    stage-2 strength of 0 takes it out (as a negative LoRA); the latents match a side-path run."""
    style = tiny_lora(reference.checkpoint, tmp_path / "style.safetensors")
    spec = QuantizationSpec(8, 32)
    fused_file = tmp_path / "fused.safetensors"
    convert_checkpoint(reference.checkpoint, fused_file, spec, dtype=mx.float32, loras=[(style, 0.8)])
    renamed = tmp_path / "renamed-style.safetensors"
    renamed.write_bytes(style.read_bytes())  # recognised by content, not name

    ledger = tiny_ledger(reference, tmp_path)
    ledger.paths = replace(ledger.paths, checkpoint=fused_file)
    request = small_request(height=128, width=128, loras=(LoraChoice(renamed, 0.8, 0.0),))
    record = run_job(ledger, "distilled", request, tmp_path / "fused.mp4")
    assert lora_events(ledger) == ["loras ['renamed-style.safetensors']"]  # stage 1: nothing to apply
    assert ledger.net_loras((LoraChoice(renamed, 0.8),)) == ()
    assert ledger.net_loras((LoraChoice(renamed, 0.0),)) == ((str(renamed), -0.8),)
    import json

    models = json.loads(Path(record.sidecar).read_text())["settings"]["models"]
    assert models["fused_loras"][0]["file"] == "style.safetensors" and models["fused_loras"][0]["strength"] == 0.8

    fused_run = DistilledPipeline(ledger).generate(replace(request, loras=(LoraChoice(style, 0.8),)))
    side = tiny_ledger(reference, tmp_path)
    side.runtime = replace(side.runtime, transformer_quantization=spec)
    side_run = DistilledPipeline(side).generate(replace(request, loras=(LoraChoice(style, 0.8),)))
    # fuse-then-quantize vs quantize-then-side-path: both approximate the float fuse at 8 bits
    check_parity("lora/fused_int8_vs_side_path_int8/video", fused_run.video, side_run.video, 2e-2)


def test_the_estimate_counts_lora_side_paths_per_block_when_streamed(reference: Reference, tmp_path: Path):
    style = tiny_lora(reference.checkpoint, tmp_path / "style.safetensors", rank=4)
    footprint = lora_footprint([style])
    assert footprint.block_elements == 2 * footprint.largest_block_elements > 0  # two blocks alike
    from ltx_core.loader import LTXCheckpoint

    config = LTXCheckpoint(reference.checkpoint).config

    def stage1(loras=LoraFootprint(), **settings):
        stages = (DenoisePass("stage 1", 1, False, loras),)
        return estimate_memory(config, 128, 128, 9, stages=stages, backend="cpu", compute_dtype="float32",
                               text_encoder=False, audio=False, **settings)  # fmt: skip

    spec = QuantizationSpec(8, 32)
    base, side = stage1(quantization=spec).stage("stage 1"), stage1(footprint, quantization=spec).stage("stage 1")
    streamed = stage1(footprint, quantization=spec, streaming=True).stage("stage 1")
    fused = stage1(footprint).stage("stage 1")
    assert side.weights - base.weights == side.lora_side_path == footprint.block_elements * 4
    assert streamed.lora_side_path == footprint.largest_block_elements * 4
    assert fused.lora_side_path == 0 and fused.weights == stage1().stage("stage 1").weights
    assert fused.activations - stage1().stage("stage 1").activations == footprint.fuse_bytes()
    estimate = stage1(footprint, quantization=spec)
    from ltx_core.memory import InsufficientMemoryError

    with pytest.raises(InsufficientMemoryError, match=r"not enough memory for stage 1.*side paths .* python -m ltx_core "
                       r"convert CHECKPOINT OUT --bits 8 --lora FILE:STRENGTH costs no memory"):
        check_fits(estimate, estimate.stage("stage 1").peak - 1)


def test_convert_command_line_fuses_loras(reference: Reference, tmp_path: Path, capsys):
    import json

    from ltx_core.__main__ import main as cli

    style = tiny_lora(reference.checkpoint, tmp_path / "style.safetensors")
    output = tmp_path / "fused-int8.safetensors"
    args = ["convert", str(reference.checkpoint), str(output), "--bits", "8", "--group-size", "32", "--dtype", "float32"]
    assert cli([*args, "--lora", f"{style}:0.8"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["fused_loras"][0]["file"] == "style.safetensors" and summary["fused_loras"][0]["strength"] == 0.8
    assert cli([*args, "--lora", f"{style}:0.8:0"]) == 2
    assert "a fused LoRA has one strength" in capsys.readouterr().err
