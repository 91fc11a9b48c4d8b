"""fp8 checkpoints, quantization at load, and pre-quantized checkpoints written by ``convert``."""

from __future__ import annotations

import json
from pathlib import Path

import mlx.core as mx
import mlx.nn as nn
import numpy as np
import pytest
from mlx.utils import tree_flatten

from ltx_core.__main__ import main as cli
from ltx_core.errors import CheckpointError, ConfigError
from ltx_core.loader import LTXCheckpoint, load_transformer
from ltx_core.loader.convert import convert_checkpoint
from ltx_core.loader.quantization import QuantizationSpec, quantizes
from ltx_core.loader.safetensors_file import SafetensorsFile
from tests.conftest import DEFAULT_SET, Reference, load_reference
from tests.parity import DOWNSTREAM_OF_ROPE, check_parity, relative_max_error
from tests.test_transformer_parity import modality

DATA_DIR = Path(__file__).parent / "data"
FP8_FILE = DATA_DIR / "ltx2-tiny-transformer-fp8.safetensors"
FP8_REFERENCE = np.load(DATA_DIR / "fp8_reference.npz")
# Measured on the tiny random-weight checkpoint (group size 32) against the float32 reference:
# 8-bit 4.4e-3, 4-bit 8.9e-2 (random weights are a worst case for 4-bit); 2x margins.
QUANTIZED_TOLERANCE = {8: 1e-2, 4: 0.2}


def fp8_inputs():
    """The fp8 file and its reference were made from the in-repo LTX-2.0 set's transformer inputs."""
    return av_inputs(load_reference(DEFAULT_SET))


def av_inputs(reference: Reference):
    return modality(reference, "transformer_av", "video"), modality(reference, "transformer_av", "audio")


def test_fp8_checkpoint_matches_the_official_dequantized_model():
    model = load_transformer(FP8_FILE)
    video, audio = model(*fp8_inputs())
    check_parity("fp8/video_velocity", video, FP8_REFERENCE["video_velocity"], DOWNSTREAM_OF_ROPE)
    check_parity("fp8/audio_velocity", audio, FP8_REFERENCE["audio_velocity"], DOWNSTREAM_OF_ROPE)
    file = SafetensorsFile(FP8_FILE)
    key = next(k for k in file.keys() if k.endswith(".weight_scale")).replace("_scale", "")
    layer = key.removeprefix("model.diffusion_model.")
    params = dict(tree_flatten(model.parameters()))
    fp8 = np.array(mx.from_fp8(mx.array(file.read_numpy(key)), dtype=mx.float32))
    np.testing.assert_array_equal(np.array(params[layer]), fp8 * file.read_numpy(key + "_scale"))


def test_fp8_checkpoint_loads_straight_to_8bit():
    model = load_transformer(FP8_FILE, quantization=QuantizationSpec(8, 32))
    assert any(isinstance(m, nn.QuantizedLinear) for _, m in model.named_modules())
    video, _ = model(*fp8_inputs())
    assert relative_max_error(video, FP8_REFERENCE["video_velocity"]) < QUANTIZED_TOLERANCE[8]


def test_fp8_weight_without_scale_is_rejected(tmp_path: Path):
    header_size = int.from_bytes(FP8_FILE.read_bytes()[:8], "little")
    header = json.loads(FP8_FILE.read_bytes()[8 : 8 + header_size])
    scale = next(k for k in header if k.endswith(".weight_scale"))
    header[scale.replace("weight_scale", "renamed_scale")] = header.pop(scale)
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    broken = tmp_path / "broken-fp8.safetensors"
    broken.write_bytes(len(raw).to_bytes(8, "little") + raw + FP8_FILE.read_bytes()[8 + header_size :])
    weight = scale.replace("_scale", "")
    with pytest.raises(CheckpointError, match=rf"broken-fp8.safetensors: tensor '{weight}' is stored in F8_E4M3 .*weight_scale"):
        load_transformer(broken)


@pytest.mark.parametrize("bits", [8, 4])
def test_quantized_transformer_quality(reference: Reference, bits: int):
    model = load_transformer(reference.checkpoint, quantization=QuantizationSpec(bits, 32))
    quantized = [m for _, m in model.named_modules() if isinstance(m, nn.QuantizedLinear)]
    assert quantized and all(m.bits == bits for m in quantized)
    video, audio = model(*av_inputs(reference))
    for name, ours in (("video_velocity", video), ("audio_velocity", audio)):
        key = f"transformer_av/out/{name}"
        check_parity(f"{key}@int{bits}", ours, reference[key], QUANTIZED_TOLERANCE[bits])


def test_four_bit_stays_near_eight_bit(reference: Reference):
    inputs = av_inputs(reference)
    eight = load_transformer(reference.checkpoint, quantization=QuantizationSpec(8, 32))(*inputs)[0]
    four = load_transformer(reference.checkpoint, quantization=QuantizationSpec(4, 32))(*inputs)[0]
    assert relative_max_error(four, eight) < QUANTIZED_TOLERANCE[4]


def test_convert_writes_a_checkpoint_that_loads_quantized(reference: Reference, tmp_path: Path):
    output = tmp_path / "ltx2-tiny-int8.safetensors"
    spec = QuantizationSpec(8, 32)
    summary = convert_checkpoint(reference.checkpoint, output, spec, dtype=mx.float32)
    assert output.exists() and not list(tmp_path.glob("*.partial"))
    assert summary["quantized_layers"] > 0
    converted = LTXCheckpoint(output)
    assert converted.config == LTXCheckpoint(reference.checkpoint).config
    assert set(converted.keys_under("vae.")) == set(LTXCheckpoint(reference.checkpoint).keys_under("vae."))

    mx.clear_cache()
    mx.reset_peak_memory()
    before = mx.get_active_memory()
    model = load_transformer(output)
    peak = mx.get_peak_memory() - before
    size = sum(v.nbytes for _, v in tree_flatten(model.parameters()))
    largest = max(converted.file.info(k).nbytes for k in converted.keys_under("model.diffusion_model.").values())
    assert peak <= size + 2 * largest  # the full-precision weights are never materialised

    at_load = load_transformer(reference.checkpoint, quantization=spec)
    inputs = av_inputs(reference)
    np.testing.assert_array_equal(np.array(model(*inputs)[0]), np.array(at_load(*inputs)[0]))
    with pytest.raises(CheckpointError, match="already quantized"):
        load_transformer(output, quantization=QuantizationSpec(4, 32))
    with pytest.raises(CheckpointError, match="already quantized"):
        convert_checkpoint(output, tmp_path / "again.safetensors", spec)


def test_convert_command_line(reference: Reference, tmp_path: Path, capsys):
    output = tmp_path / "cli-int4.safetensors"
    assert cli(["convert", str(reference.checkpoint), str(output), "--bits", "4", "--group-size", "32"]) == 0
    assert json.loads(capsys.readouterr().out)["quantized_layers"] > 0
    assert cli(["convert", str(reference.checkpoint), str(tmp_path / "x.safetensors"), "--bits", "7"]) == 2


def test_unsupported_quantization_settings_are_named():
    with pytest.raises(ConfigError, match="bits = 7"):
        QuantizationSpec(7)
    with pytest.raises(ConfigError, match="group_size = 48"):
        QuantizationSpec(8, 48)


@pytest.mark.parametrize("bits", [8, 4])
def test_convert_with_fused_loras_matches_fusing_at_load(reference: Reference, tmp_path: Path, bits: int):
    """``convert --lora`` fuses into the float weights, then quantizes: the file equals fusing the
    same LoRAs into the float model and quantizing it, and records what it fused."""
    from ltx_core.loader.lora import FUSED_METADATA_KEY, LoraFile, apply_loras, fused_loras
    from ltx_core.model.transformer.lora import LoraQuantizedLinear
    from tests.test_lora import CASES, LORA_A, LORA_B

    spec = QuantizationSpec(bits, 32)
    output = tmp_path / f"fused-int{bits}.safetensors"
    summary = convert_checkpoint(reference.checkpoint, output, spec, dtype=mx.float32, loras=CASES["pair"])
    assert [entry["file"] for entry in summary["fused_loras"]] == ["lora_a.safetensors", "lora_b.safetensors"]
    converted = load_transformer(output)
    assert not any(isinstance(m, LoraQuantizedLinear) for _, m in converted.named_modules())  # no side path

    expected = load_transformer(reference.checkpoint)
    apply_loras(expected, CASES["pair"])
    nn.quantize(expected, group_size=32, bits=bits, class_predicate=lambda p, m: quantizes(p, m, spec))
    ours, theirs = dict(tree_flatten(converted.parameters())), dict(tree_flatten(expected.parameters()))
    assert ours.keys() == theirs.keys()
    for name in ours:
        np.testing.assert_array_equal(np.array(ours[name]), np.array(theirs[name]), err_msg=name)
    inputs = av_inputs(reference)
    check_parity(f"lora/convert_fused_int{bits}_vs_fused_at_load", converted(*inputs)[0], expected(*inputs)[0], 0.0)

    recorded = fused_loras(SafetensorsFile(output))
    assert [(f.file, f.strength) for f in recorded] == [("lora_a.safetensors", 0.7), ("lora_b.safetensors", -1.3)]
    assert recorded[0].identity == LoraFile(LORA_A).identity != LoraFile(LORA_B).identity
    assert FUSED_METADATA_KEY in SafetensorsFile(output).metadata
    assert LTXCheckpoint(output).config == LTXCheckpoint(reference.checkpoint).config


def test_convert_refuses_a_lora_of_another_version_before_writing(reference: Reference, tmp_path: Path):
    from ltx_core.model_compat import VersionMismatchError
    from tests.test_lora import LORA_B, lora_tensors, write_lora

    other = write_lora(tmp_path / "for-23.safetensors", lora_tensors(LORA_B), {"model_version": "2.3.0"})
    output = tmp_path / "out.safetensors"
    with pytest.raises(VersionMismatchError, match=r"for-23.safetensors is for LTX-2.3 \(22B, 2.3\), but ltx2-tiny.safetensors is an LTX-2 \(19B, 2.0\)"):
        convert_checkpoint(reference.checkpoint, output, QuantizationSpec(8, 32), loras=[(other, 1.0)])
    assert not output.exists()
