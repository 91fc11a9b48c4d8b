"""LoRAs on the transformer: official fuse parity, composition, the quantized side path, errors.

``lora_a`` (rank 4, every linear layer incl. audio, AdaLN and projections, plus a text-connector
module and alpha tensors) and ``lora_b`` (rank 2, a block subset, IC-LoRA metadata) were written
with the outputs of the official ltx-core 1.0.0 fuse by tools/make_lora_reference.py.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import mlx.core as mx
import mlx.nn as nn
import numpy as np
import pytest
from mlx.utils import tree_flatten

from ltx_core.errors import LoraError
from ltx_core.loader import load_transformer
from ltx_core.loader.lora import LoraFile, LoraSpec, apply_loras, reference_downscale_factor
from ltx_core.loader.quantization import QuantizationSpec
from ltx_core.model.transformer import X0Model
from ltx_core.model.transformer.lora import LoraQuantizedLinear
from tests.conftest import Reference
from tests.parity import check_parity, relative_max_error
from tests.test_low_precision_parity import TOLERANCES as HALF_TOLERANCES
from tests.test_quantization import QUANTIZED_TOLERANCE
from tests.test_transformer_parity import modality

DATA_DIR = Path(__file__).parent / "data"
LORA_A = DATA_DIR / "lora_a.safetensors"
LORA_B = DATA_DIR / "lora_b.safetensors"
REFERENCE = np.load(DATA_DIR / "lora_reference.npz")
CASES = {"single": [LoraSpec(LORA_A, 0.7)], "pair": [LoraSpec(LORA_A, 0.7), LoraSpec(LORA_B, -1.3)]}
# Measured: fused LoRA outputs against the official fuse 3.8e-6 (video) / 5.3e-6 (audio).
LORA_TOLERANCE = 2e-5
# The side path against the same LoRA fused into the dequantized weights: float32 reassociation only.
SIDE_PATH_TOLERANCE = 1e-5
BF16_TOLERANCE = HALF_TOLERANCES["bfloat16"]


@lru_cache(maxsize=1)
def av_inputs(reference: Reference):
    return modality(reference, "transformer_av", "video"), modality(reference, "transformer_av", "audio")


def official(case: str, output: str) -> np.ndarray:
    return REFERENCE[f"{case}/transformer_av/{output}"]


def params(model: nn.Module) -> dict[str, np.ndarray]:
    return {k: np.array(v) for k, v in tree_flatten(model.parameters())}


@pytest.mark.parametrize("case", list(CASES))
def test_fused_lora_matches_the_official_fuse(reference: Reference, case: str):
    model = load_transformer(reference.checkpoint)
    base_video = model(*av_inputs(reference))[0]
    applied = apply_loras(model, CASES[case])
    video, audio = model(*av_inputs(reference))
    check_parity(f"lora/{case}/video_velocity", video, official(case, "video_velocity"), LORA_TOLERANCE)
    check_parity(f"lora/{case}/audio_velocity", audio, official(case, "audio_velocity"), LORA_TOLERANCE)
    assert relative_max_error(base_video, official(case, "video_velocity")) > 0.1  # LoRA matters
    weights = params(model)
    for official_key, ours in (
        ("transformer_blocks.0.attn1.to_q.weight", "transformer_blocks.0.attn1.to_q.weight"),
        ("adaln_single.emb.timestep_embedder.linear_1.weight", "video.adaln_single.emb.linear_1.weight"),
    ):
        check_parity(f"lora/{case}/{official_key}", weights[ours], REFERENCE[f"{case}/weight/{official_key}"], 1e-6)
    assert any("text-connector" in n for n in applied.notices) and any("alpha" in n for n in applied.notices)
    assert len(applied.fused_layers) == 82 and not applied.side_path_layers


def test_video_only_model_ignores_audio_modules(reference: Reference):
    model = load_transformer(reference.checkpoint, with_audio=False)
    applied = apply_loras(model, CASES["single"])
    assert any("55 audio modules ignored" in n for n in applied.notices)
    video = model(modality(reference, "transformer_video", "video"), None)[0]
    reference_video = REFERENCE["single/transformer_video/video_velocity"]
    check_parity("lora/video_only/video_velocity", video, reference_video, LORA_TOLERANCE)


def test_separately_applied_loras_compose_and_remove(reference: Reference):
    model = X0Model(load_transformer(reference.checkpoint))
    velocity = model.velocity_model
    base = params(velocity)
    base_out = np.array(velocity(*av_inputs(reference))[0])
    first = apply_loras(model, [(LORA_A, 0.7)])
    with apply_loras(model, [(LORA_B, -1.3)]):
        video = velocity(*av_inputs(reference))[0]
        check_parity("lora/composed/video_velocity", video, official("pair", "video_velocity"), LORA_TOLERANCE)
    single = velocity(*av_inputs(reference))[0]  # leaving the block removed lora_b only
    check_parity("lora/composed_minus_b/video_velocity", single, official("single", "video_velocity"), LORA_TOLERANCE)
    first.remove()
    first.remove()
    restored = params(velocity)
    worst = max(relative_max_error(restored[k], base[k]) for k in base)
    print(f"PARITY lora/removed/weights {worst:.3e}")
    assert worst < 1e-6
    check_parity("lora/removed/video_velocity", velocity(*av_inputs(reference))[0], base_out, 1e-6)


def test_strength_zero_is_the_base_model_exactly(reference: Reference):
    model = load_transformer(reference.checkpoint)
    base = params(model)
    base_out = np.array(model(*av_inputs(reference))[0])
    applied = apply_loras(model, [LoraSpec(LORA_A, 0.0), LoraSpec(LORA_B, 0.0)])
    assert not applied.fused_layers
    after = params(model)
    assert all(np.array_equal(after[k], base[k]) for k in base)
    np.testing.assert_array_equal(np.array(model(*av_inputs(reference))[0]), base_out)


def dequantized_twin(reference: Reference, spec: QuantizationSpec) -> tuple[nn.Module, nn.Module]:
    """A quantized model and a float32 model holding exactly its dequantized weights."""
    quantized = load_transformer(reference.checkpoint, quantization=spec)
    full = load_transformer(reference.checkpoint)
    layers = dict(full.named_modules())
    for path, layer in quantized.named_modules():
        if isinstance(layer, nn.QuantizedLinear):
            layers[path].weight = mx.dequantize(layer.weight, layer.scales, layer.biases, layer.group_size, layer.bits)
    return quantized, full


@pytest.mark.parametrize("bits", [8, 4])
def test_quantized_side_path(reference: Reference, bits: int):
    quantized, twin = dequantized_twin(reference, QuantizationSpec(bits, 32))
    packed = {k: v for k, v in params(quantized).items()}
    applied = apply_loras(quantized, CASES["pair"])
    apply_loras(twin, CASES["pair"])
    assert applied.side_path_layers and all(
        isinstance(dict(quantized.named_modules())[p], LoraQuantizedLinear) for p in applied.side_path_layers
    )
    after = params(quantized)
    assert after.keys() == packed.keys()
    for path in applied.side_path_layers:  # the quantized weights are untouched
        for part in ("weight", "scales", "biases"):
            np.testing.assert_array_equal(after[f"{path}.{part}"], packed[f"{path}.{part}"])
    video, audio = quantized(*av_inputs(reference))
    twin_video, twin_audio = twin(*av_inputs(reference))
    check_parity(f"lora/int{bits}/side_path_vs_dequantized_fused/video", video, twin_video, SIDE_PATH_TOLERANCE)
    check_parity(f"lora/int{bits}/side_path_vs_dequantized_fused/audio", audio, twin_audio, SIDE_PATH_TOLERANCE)
    for name, ours in (("video_velocity", video), ("audio_velocity", audio)):
        tolerance = QUANTIZED_TOLERANCE[bits]
        check_parity(f"lora/int{bits}/{name}_vs_official_fused", ours, official("pair", name), tolerance)
    applied.remove()
    assert not any(isinstance(m, LoraQuantizedLinear) for _, m in quantized.named_modules())


def test_reference_downscale_factor_from_metadata(tmp_path: Path):
    assert LoraFile(LORA_A).reference_downscale_factor == 1
    assert LoraFile(LORA_B).reference_downscale_factor == 2
    assert LoraFile(LORA_B).rank == 2 and LoraFile(LORA_B).metadata == {"reference_downscale_factor": "2"}
    assert reference_downscale_factor([LORA_A, LoraSpec(LORA_B, 0.5)]) == 2
    other = write_lora(tmp_path / "ic-x4.safetensors", lora_tensors(LORA_B), {"reference_downscale_factor": "4"})
    with pytest.raises(LoraError, match="ic-x4.safetensors asks for reference_downscale_factor = 4 but lora_b"):
        reference_downscale_factor([LORA_B, other])


def lora_tensors(path: Path) -> dict[str, mx.array]:
    return dict(mx.load(str(path)))


def write_lora(path: Path, tensors: dict[str, mx.array], metadata: dict[str, str] | None = None) -> Path:
    mx.save_safetensors(str(path), tensors, metadata=metadata or {})
    return path


def test_other_model_family_is_rejected(reference: Reference, tmp_path: Path):
    tensors = {
        f"diffusion_model.double_blocks.{i}.img_attn.qkv.lora_{h}.weight": mx.zeros((4, 32) if h == "A" else (96, 4))
        for i in range(3)
        for h in "AB"
    }
    path = write_lora(tmp_path / "flux-style.safetensors", tensors)
    model = load_transformer(reference.checkpoint)
    message = r"flux-style.safetensors does not fit .* none of its 3 modules .*double_blocks.0"
    with pytest.raises(LoraError, match=message):
        apply_loras(model, [path])


def test_other_model_size_is_rejected_before_anything_changes(reference: Reference, tmp_path: Path):
    tensors = lora_tensors(LORA_B)
    key = "diffusion_model.transformer_blocks.0.attn1.to_q.lora_A.weight"
    tensors[key] = mx.zeros((2, 64))
    path = write_lora(tmp_path / "bigger.safetensors", tensors)
    model = load_transformer(reference.checkpoint)
    base = params(model)
    message = (
        r"bigger.safetensors .* 1 modules have the wrong size: "
        r"transformer_blocks.0.attn1.to_q: LoRA 64->32, model 32->32"
    )
    with pytest.raises(LoraError, match=message):
        apply_loras(model, [LoraSpec(LORA_A, 1.0), LoraSpec(path, 1.0)])
    assert all(np.array_equal(v, base[k]) for k, v in params(model).items())


def test_partial_match_is_an_error(reference: Reference, tmp_path: Path):
    tensors = lora_tensors(LORA_B)
    tensors["diffusion_model.transformer_blocks.0.attn1.to_qkv.lora_A.weight"] = mx.zeros((2, 32))
    tensors["diffusion_model.transformer_blocks.0.attn1.to_qkv.lora_B.weight"] = mx.zeros((96, 2))
    path = write_lora(tmp_path / "partial.safetensors", tensors)
    with pytest.raises(LoraError, match=r"partial.safetensors .* 1 of its 17 modules do not exist .*attn1.to_qkv"):
        apply_loras(load_transformer(reference.checkpoint), [path])


def test_strength_must_be_a_finite_number(reference: Reference):
    model = load_transformer(reference.checkpoint)
    for strength in (float("nan"), float("inf"), "strong"):
        with pytest.raises(LoraError, match="lora_a.safetensors: LoRA strength .* is not a finite number"):
            apply_loras(model, [(LORA_A, strength)])


def test_files_that_are_not_loras_are_rejected(reference: Reference, tmp_path: Path):
    with pytest.raises(LoraError, match=r"ltx2-tiny.safetensors is not an LTX-2 LoRA: .*It is a model checkpoint"):
        LoraFile(reference.checkpoint)
    text = tmp_path / "notes.safetensors"
    text.write_text("not a tensor file at all")
    with pytest.raises(LoraError, match="cannot read LoRA: notes.safetensors"):
        LoraFile(text)
    kohya = write_lora(tmp_path / "kohya.safetensors", {"lora_unet_blocks_0.lora_down.weight": mx.zeros((2, 32))})
    with pytest.raises(LoraError, match="kohya.safetensors is not an LTX-2 LoRA.*kohya-style"):
        LoraFile(kohya)
    tensors = lora_tensors(LORA_B)
    tensors.pop("diffusion_model.transformer_blocks.1.ff.net.2.lora_B.weight")
    with pytest.raises(LoraError, match=r"only one of lora_A/lora_B: transformer_blocks.1.ff.net.2"):
        LoraFile(write_lora(tmp_path / "broken.safetensors", tensors))


def test_other_key_prefixes_are_accepted(reference: Reference, tmp_path: Path):
    renamed = {k.replace("diffusion_model.", "model.diffusion_model.", 1): v for k, v in lora_tensors(LORA_B).items()}
    path = write_lora(tmp_path / "prefixed.safetensors", renamed)
    assert set(LoraFile(path).modules) == set(LoraFile(LORA_B).modules)
    unprefixed = {k.removeprefix("diffusion_model."): v for k, v in lora_tensors(LORA_B).items()}
    bare = write_lora(tmp_path / "bare.safetensors", unprefixed)
    assert set(LoraFile(bare).modules) == set(LoraFile(LORA_B).modules)
    model = load_transformer(reference.checkpoint)
    with apply_loras(model, [(path, 0.5)]) as applied:
        assert len(applied.fused_layers) == 16


def test_bfloat16_model_keeps_its_dtype(reference: Reference):
    model = load_transformer(reference.checkpoint, dtype="bfloat16")
    applied = apply_loras(model, CASES["pair"])
    layers = dict(model.named_modules())
    assert all(layers[path].weight.dtype == mx.bfloat16 for path in applied.fused_layers)
    video = modality(reference, "transformer_av", "video", mx.bfloat16)
    audio = modality(reference, "transformer_av", "audio", mx.bfloat16)
    ours_video, ours_audio = model(video, audio)
    check_parity("lora/pair/video_velocity@bfloat16", ours_video, official("pair", "video_velocity"), BF16_TOLERANCE)
    check_parity("lora/pair/audio_velocity@bfloat16", ours_audio, official("pair", "audio_velocity"), BF16_TOLERANCE)
