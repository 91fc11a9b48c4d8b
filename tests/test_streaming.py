"""Block streaming: same outputs as the resident model, resident memory near the non-block size."""

from __future__ import annotations

from dataclasses import replace

import gc
import json
import re
from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest
from mlx.utils import tree_flatten

from ltx_core.loader import LTXCheckpoint, load_transformer
from ltx_core.loader.convert import convert_checkpoint
from ltx_core.loader.quantization import QuantizationSpec
from ltx_core.loader.streaming import BlockStreamer, StreamingError
from tests.conftest import Reference
from tests.test_transformer_parity import modality

BLOCKS = 16


def av_inputs(reference: Reference, case: str = "transformer_av"):
    return modality(reference, case, "video"), modality(reference, case, "audio")


def assert_same(a, b) -> None:
    for x, y in zip(a, b):
        assert x is not None and y is not None
        np.testing.assert_array_equal(np.array(x), np.array(y))


@pytest.fixture(scope="module")
def deep_checkpoint(reference: Reference, tmp_path_factory) -> Path:
    """The fixture checkpoint with its two blocks repeated to 16 (so blocks dominate the weights)."""
    tensors = mx.load(str(reference.checkpoint))
    config = LTXCheckpoint(reference.checkpoint).config
    pattern = re.compile(r"^(model\.diffusion_model\.transformer_blocks\.)(\d+)\.")
    deep = {key: value for key, value in tensors.items() if not pattern.match(key)}
    for key, value in tensors.items():
        match = pattern.match(key)
        if match is None:
            continue
        for index in range(int(match.group(2)), BLOCKS, 2):
            # a distinct copy per block: scaled a little so blocks differ
            deep[f"{match.group(1)}{index}.{key[match.end():]}"] = value * (1 + 0.01 * index)
    path = tmp_path_factory.mktemp("deep") / "ltx2-tiny-16-blocks.safetensors"
    config = {**config, "transformer": {**config["transformer"], "num_layers": BLOCKS}}
    mx.save_safetensors(str(path), deep, metadata={"config": json.dumps(config)})
    return path


def test_streamed_outputs_equal_the_resident_model(reference: Reference):
    resident = load_transformer(reference.checkpoint)
    streamed = load_transformer(reference.checkpoint, streaming=True)
    assert isinstance(streamed.block_hook, BlockStreamer)
    for case in ("transformer_av", "transformer_av_mixed", "transformer_av_stg_block1"):
        assert_same(resident(*av_inputs(reference, case)), streamed(*av_inputs(reference, case)))
    video_only = load_transformer(reference.checkpoint, with_audio=False, streaming=True)
    video = modality(reference, "transformer_video", "video")
    assert_same(load_transformer(reference.checkpoint, with_audio=False)(video, None)[:1], video_only(video, None)[:1])
    # each forward read every block once
    assert streamed.block_hook.stats.blocks == 3 * streamed.config.num_layers


def test_streamed_quantization_at_load_equals_resident(reference: Reference):
    spec = QuantizationSpec(8, 32)
    resident = load_transformer(reference.checkpoint, quantization=spec)
    streamed = load_transformer(reference.checkpoint, quantization=spec, streaming=True)
    assert_same(resident(*av_inputs(reference)), streamed(*av_inputs(reference)))


def test_streamed_converted_checkpoint_equals_resident(reference: Reference, tmp_path: Path):
    converted = tmp_path / "tiny-4bit.safetensors"
    convert_checkpoint(reference.checkpoint, converted, QuantizationSpec(4, 32), dtype=mx.float32)
    resident = load_transformer(converted)
    streamed = load_transformer(converted, streaming=True)
    assert_same(resident(*av_inputs(reference)), streamed(*av_inputs(reference)))
    # what streams is the packed 4-bit data, not float weights
    stats = streamed.block_hook.stats
    full_block_bytes = sum(v.nbytes for k, v in tree_flatten(resident.parameters()) if k.startswith("transformer_blocks."))
    assert stats.bytes == full_block_bytes


def _active_after(build) -> tuple[int, int]:
    """(active bytes held by the model after one forward, peak bytes during the forward)."""
    gc.collect()
    mx.clear_cache()
    before = mx.get_active_memory()
    model, inputs = build()
    mx.reset_peak_memory()
    outputs = model(*inputs)
    mx.eval(outputs)
    peak = mx.get_peak_memory() - before
    del outputs
    model.clear_run_cache()
    gc.collect()
    held = mx.get_active_memory() - before
    del model
    return held, peak


def test_resident_memory_after_a_forward_is_the_non_block_size(reference: Reference, deep_checkpoint: Path):
    inputs = av_inputs(reference)
    mx.eval(inputs[0].latent, inputs[1].latent)
    full = load_transformer(deep_checkpoint)
    params = dict(tree_flatten(full.parameters()))
    total = sum(v.nbytes for v in params.values())
    non_block = sum(v.nbytes for k, v in params.items() if not k.startswith("transformer_blocks."))
    one_block = sum(v.nbytes for k, v in params.items() if k.startswith("transformer_blocks.0."))
    del full, params
    # blocks are most of the model: the check below separates "non-block" from "whole model"
    assert non_block < 0.15 * total

    held_full, _ = _active_after(lambda: (load_transformer(deep_checkpoint), inputs))
    held, peak = _active_after(lambda: (load_transformer(deep_checkpoint, streaming=True), inputs))
    assert abs(held_full - total) < 0.05 * total
    assert abs(held - non_block) < 0.05 * total, (held, non_block, total)
    # during the forward at most one block is loaded beside the non-block layers (+ small activations)
    assert peak < non_block + 2 * one_block + 0.1 * total, (peak, non_block, one_block, total)


def test_weights_edited_between_forwards_are_refused(reference: Reference):
    """A LoRA fused into a released block would be silently dropped by the next reload."""
    streamed = load_transformer(reference.checkpoint, streaming=True)
    streamed(*av_inputs(reference))
    layer = streamed.transformer_blocks[1].attn1.to_q
    layer.weight = layer.weight + 1.0
    with pytest.raises(StreamingError, match="block 1 was modified while streamed"):
        streamed(*av_inputs(reference))


def test_streaming_pipelines_refuse_what_they_cannot_do(reference, tmp_path):
    """Streaming re-reads blocks every step: it needs a pre-quantized file; a missing LoRA is
    refused before loading; a LoRA job streams and gives the resident job's latents."""


    import pytest

    from ltx_core.loader.quantization import QuantizationSpec
    from ltx_core.pipelines.distilled import DistilledPipeline
    from ltx_core.pipelines.request import LoraChoice, RequestError
    from tests.pipeline_helpers import tiny_ledger
    from tests.test_pipelines import small_request

    ledger = tiny_ledger(reference, tmp_path)
    ledger.runtime = replace(ledger.runtime, block_streaming=True, transformer_quantization=QuantizationSpec(4, 32))
    with pytest.raises(RequestError, match="python -m ltx_core convert"):
        DistilledPipeline(ledger).generate(small_request(height=128, width=128))
    ledger.runtime = replace(ledger.runtime, transformer_quantization=None)
    with pytest.raises(RequestError, match="the LoRA file x.safetensors was not found"):
        DistilledPipeline(ledger).generate(small_request(height=128, width=128, loras=(LoraChoice("x.safetensors"),)))
    assert ledger.events == []
    latents = DistilledPipeline(ledger).generate(small_request(height=128, width=128))
    plain = DistilledPipeline(tiny_ledger(reference, tmp_path)).generate(small_request(height=128, width=128))
    np.testing.assert_array_equal(np.array(latents.video), np.array(plain.video))
    assert "load transformer" in ledger.events

    from tests.pipeline_helpers import tiny_lora
    from tests.parity import check_parity

    style = tiny_lora(reference.checkpoint, tmp_path / "style.safetensors")
    request = small_request(height=128, width=128, loras=(LoraChoice(style, 0.8, 0.4),))
    streamed = DistilledPipeline(ledger).generate(request)
    resident = DistilledPipeline(tiny_ledger(reference, tmp_path)).generate(request)
    # Between the stages the resident model subtracts the stage-1 delta (one float32 rounding) while
    # the streamed one re-reads the file: equal up to that rounding.
    check_parity("pipeline/distilled/streamed_lora_vs_resident/video", streamed.video, resident.video, 1e-6)
    check_parity("pipeline/distilled/streamed_lora_vs_resident/audio", streamed.audio, resident.audio, 1e-6)
    assert not np.array_equal(np.array(streamed.video), np.array(latents.video))  # the LoRA mattered


def test_a_job_that_does_not_fit_is_refused_before_loading(reference, tmp_path):
    import pytest

    from ltx_core.memory import InsufficientMemoryError
    from ltx_core.pipelines.distilled import DistilledPipeline
    from ltx_core.presets import load_presets, preset_by_name, system_memory_bytes
    from ltx_core.runtime import RuntimeSettings
    from tests.pipeline_helpers import tiny_ledger
    from tests.test_pipelines import small_request

    ledger = tiny_ledger(reference, tmp_path)
    quality = RuntimeSettings.from_preset(preset_by_name("quality", load_presets()))
    ledger.runtime = replace(quality, memory_margin=system_memory_bytes() - 2**20)  # leave 1 MiB
    with pytest.raises(InsufficientMemoryError, match="not enough memory for .*MiB|not enough memory for"):
        DistilledPipeline(ledger).generate(small_request(height=128, width=128))
    assert ledger.events == []
    ledger.runtime = quality
    assert DistilledPipeline(ledger).generate(small_request(height=128, width=128)).video.shape[3:] == (4, 4)



@pytest.mark.parametrize("bits", [None, 4])
def test_streamed_loras_match_the_resident_model(reference: Reference, tmp_path: Path, bits):
    """LoRAs enter each streamed block as it loads (fused into float weights, a side path on
    quantized ones): the same arithmetic as the resident model, so the same outputs."""
    from ltx_core.loader.lora import LoraSpec, apply_loras
    from tests.parity import check_parity
    from tests.test_lora import CASES, LORA_A

    checkpoint = reference.checkpoint
    if bits is not None:
        checkpoint = tmp_path / f"tiny-{bits}bit.safetensors"
        convert_checkpoint(reference.checkpoint, checkpoint, QuantizationSpec(bits, 32), dtype=mx.float32)
    streamed = load_transformer(checkpoint, streaming=True)
    base = np.array(streamed(*av_inputs(reference))[0])
    for case in ("single", "pair"):
        resident = load_transformer(checkpoint)  # fresh: removing a fused LoRA is exact only to one rounding
        with apply_loras(resident, CASES[case]), apply_loras(streamed, CASES[case]) as applied:
            assert applied.streamed and all(not p.startswith("transformer_blocks.") for p in applied.fused_layers)
            ours = streamed(*av_inputs(reference))
            expected = resident(*av_inputs(reference))
            for name, a, b in zip(("video", "audio"), ours, expected):
                check_parity(f"lora/streamed/{bits or 'float'}/{case}/{name}", a, b, 0.0)
    assert streamed.block_hook.loras == []
    # removed: the non-block layers stay resident, so their fused deltas come off to one rounding
    check_parity(f"lora/streamed/{bits or 'float'}/removed", streamed(*av_inputs(reference))[0], base, 1e-6)
    with apply_loras(streamed, [LoraSpec(LORA_A, 0.7)]):  # a second forward reloads and re-applies
        first = np.array(streamed(*av_inputs(reference))[0])
        np.testing.assert_array_equal(np.array(streamed(*av_inputs(reference))[0]), first)
