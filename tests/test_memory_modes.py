"""Every memory mode (preset) runs a LoRA job on the fixture pipeline end to end: its dtype,
quantization (at load, or from a converted checkpoint when it streams blocks), VAE tiling, memory
check and LoRAs (fused, side path, or streamed with each block).

The tiny fixture's layer widths (16-128) take group size 32, not the presets' 64, so the
quantization keeps each preset's bit width with group size 32."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from ltx_core.loader.components import resolve_dtype
from ltx_core.loader.convert import convert_checkpoint
from ltx_core.loader.quantization import QuantizationSpec
from ltx_core.media import probe_video
from ltx_core.presets import load_presets
from ltx_core.pipelines.request import LoraChoice
from ltx_core.pipelines.runner import run_job
from ltx_core.runtime import RuntimeSettings
from tests.conftest import Reference
from tests.pipeline_helpers import tiny_lora, tiny_ledger
from tests.test_pipelines import small_request


def for_fixture(spec: QuantizationSpec | None) -> QuantizationSpec | None:
    return None if spec is None else QuantizationSpec(spec.bits, 32)


@pytest.mark.parametrize("preset", load_presets(), ids=lambda p: p.name)
def test_memory_mode_runs_a_fixture_pipeline(reference: Reference, tmp_path: Path, preset):
    ledger = tiny_ledger(reference, tmp_path)
    runtime = RuntimeSettings.from_preset(preset)
    quantization = for_fixture(runtime.transformer_quantization)
    if preset.block_streaming:
        converted = tmp_path / "converted.safetensors"
        convert_checkpoint(reference.checkpoint, converted, quantization, dtype=resolve_dtype(runtime.dtype))
        ledger.paths = replace(ledger.paths, checkpoint=converted)
    ledger.runtime = replace(
        runtime, transformer_quantization=quantization,
        text_encoder_quantization=for_fixture(runtime.text_encoder_quantization),
    )  # fmt: skip
    pipeline = "distilled" if preset.block_streaming else "one-stage"  # guided: exercises the pass batching
    style = tiny_lora(reference.checkpoint, tmp_path / "style.safetensors")
    request = small_request(height=128, width=128, loras=(LoraChoice(style, 0.8, 0.5),))
    record = run_job(ledger, pipeline, request, tmp_path / "out.mp4")
    assert "loras ['style.safetensors']" in ledger.events
    info = probe_video(record.video)
    assert (info.frames, info.width, info.height, info.has_audio) == (9, 128, 128, True)
    if preset.block_streaming:
        assert any(e == "load transformer" for e in ledger.events)
