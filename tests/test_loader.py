"""Checkpoint loader: config reading, strict key checks, dtypes, memory and clear errors on bad files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest
from mlx.utils import tree_flatten
from safetensors.numpy import load_file, save_file

from ltx_core.errors import CheckpointError, ConfigError, LTXError, WeightsMismatchError
from ltx_core.loader import LTXCheckpoint, load_transformer
from ltx_core.loader.safetensors_file import SafetensorsFile
from ltx_core.model.transformer import TransformerConfig
from tests.conftest import Reference


def rewritten(reference: Reference, tmp_path: Path, name: str, edit_config=None, edit_tensors=None) -> Path:
    """A copy of the fixture checkpoint with its config and/or tensors changed."""
    source = LTXCheckpoint(reference.checkpoint)
    config = json.loads(json.dumps(source.config))
    tensors = load_file(str(reference.checkpoint))
    if edit_config:
        edit_config(config)
    if edit_tensors:
        edit_tensors(tensors)
    path = tmp_path / name
    save_file(tensors, str(path), metadata={"config": json.dumps(config)})
    return path


def test_config_is_read_without_touching_tensors(reference: Reference):
    checkpoint = LTXCheckpoint(reference.checkpoint)
    assert set(checkpoint.config) >= {"transformer", "vae", "audio_vae", "vocoder"}
    config = TransformerConfig.from_dict(checkpoint.section("transformer"))
    raw = checkpoint.config["transformer"]
    assert config.num_layers == raw["num_layers"]
    assert config.inner_dim == raw["num_attention_heads"] * raw["attention_head_dim"]
    assert config.av_ca_timestep_scale_multiplier == raw["av_ca_timestep_scale_multiplier"]
    assert config.double_precision_rope == (raw.get("frequencies_precision") == "float64")


def test_config_ignores_unknown_keys_and_rejects_unsupported_values():
    config = TransformerConfig.from_dict({"num_layers": 3, "caption_channels": 8, "some_future_key": 1})
    assert config.num_layers == 3 and config.num_attention_heads == 32
    with pytest.raises(ConfigError, match=r"rope_type = 'spiral'"):
        TransformerConfig.from_dict({"caption_channels": 8, "rope_type": "spiral"})
    with pytest.raises(ConfigError, match=r"qk_norm = 'layer_norm'"):
        TransformerConfig.from_dict({"caption_channels": 8, "qk_norm": "layer_norm"})
    with pytest.raises(ConfigError, match="caption_channels is missing"):
        TransformerConfig.from_dict({})


@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float16"])
def test_transformer_loads_in_each_dtype(reference: Reference, dtype: str):
    model = load_transformer(reference.checkpoint, dtype=dtype)
    params = dict(tree_flatten(model.parameters()))
    assert {v.dtype for v in params.values()} == {getattr(mx, dtype)}
    used = {k for k in LTXCheckpoint(reference.checkpoint).keys_under("model.diffusion_model.") if "embeddings_connector" not in k}
    assert len(params) == len(used)


def test_loading_peaks_near_the_component_size(reference: Reference):
    checkpoint = LTXCheckpoint(reference.checkpoint)
    transformer_keys = [k for k in checkpoint.file.keys() if k.startswith("model.diffusion_model.") and "connector" not in k]
    largest = max(checkpoint.file.info(k).nbytes for k in transformer_keys)
    for dtype, bytes_per_value in ((mx.float32, 4), (mx.bfloat16, 2)):
        mx.clear_cache()
        mx.reset_peak_memory()
        before = mx.get_active_memory()
        model = load_transformer(checkpoint, dtype=dtype)
        peak = mx.get_peak_memory() - before
        size = sum(v.nbytes for _, v in tree_flatten(model.parameters()))
        assert size == sum(checkpoint.file.info(k).nbytes for k in transformer_keys) * bytes_per_value // 4
        # the component itself plus one tensor in flight (file copy + converted copy)
        assert peak <= size + 2 * largest, (peak, size, largest)
        assert peak < checkpoint.file.file_size / 3
        del model


def test_video_only_model_ignores_audio_weights(reference: Reference):
    model = load_transformer(reference.checkpoint, with_audio=False)
    names = [k for k, _ in tree_flatten(model.parameters())]
    assert not any("audio" in n or "av_ca" in n for n in names)


def test_not_a_safetensors_file(tmp_path: Path):
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"<html>404 Not Found</html>" * 10)
    with pytest.raises(CheckpointError, match="not a safetensors file"):
        LTXCheckpoint(path)
    tiny = tmp_path / "tiny.safetensors"
    tiny.write_bytes(b"abc")
    with pytest.raises(CheckpointError, match="only 3 bytes"):
        LTXCheckpoint(tiny)
    with pytest.raises(CheckpointError, match="no such file"):
        LTXCheckpoint(tmp_path / "missing.safetensors")
    with pytest.raises(CheckpointError, match="is a folder"):
        LTXCheckpoint(tmp_path)


def test_truncated_file(reference: Reference, tmp_path: Path):
    path = tmp_path / "partial.safetensors"
    data = reference.checkpoint.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated.*download it again"):
        LTXCheckpoint(path)


def test_file_without_config(tmp_path: Path):
    path = tmp_path / "weights.safetensors"
    save_file({"a": np.zeros(3, np.float32)}, str(path))
    with pytest.raises(CheckpointError, match="no 'config' entry"):
        LTXCheckpoint(path)


def test_upsampler_given_as_checkpoint(reference: Reference):
    upsampler = reference.directory / "ltx2-tiny-spatial-upsampler.safetensors"
    with pytest.raises(ConfigError, match="latent upsampler file, not a model checkpoint"):
        load_transformer(upsampler)


def test_checkpoint_of_another_model_family(reference: Reference, tmp_path: Path):
    def ltx_video_09(config):
        config["transformer"].pop("use_audio_video_cross_attention")

    path = rewritten(reference, tmp_path, "ltxv.safetensors", edit_config=ltx_video_09)
    with pytest.raises(ConfigError, match="not an LTX-2 audio-video transformer"):
        load_transformer(path)
    config_only = tmp_path / "vae_only.safetensors"
    save_file({"vae.x": np.zeros(2, np.float32)}, str(config_only), metadata={"config": json.dumps({"vae": {}})})
    with pytest.raises(ConfigError, match="no 'transformer' section"):
        load_transformer(config_only)


def test_unsupported_config_value_names_key_and_value(reference: Reference, tmp_path: Path):
    def interleave_ff(config):
        config["transformer"]["activation_fn"] = "swiglu"

    path = rewritten(reference, tmp_path, "bad.safetensors", edit_config=interleave_ff)
    with pytest.raises(ConfigError, match=r"bad.safetensors.*activation_fn = 'swiglu'"):
        load_transformer(path)


def test_missing_and_unexpected_keys_are_listed(reference: Reference, tmp_path: Path):
    dropped = "model.diffusion_model.transformer_blocks.1.attn1.to_q.weight"

    def edit(tensors):
        del tensors[dropped]
        tensors["model.diffusion_model.extra_head.weight"] = np.zeros((2, 2), np.float32)

    path = rewritten(reference, tmp_path, "edited.safetensors", edit_tensors=edit)
    with pytest.raises(WeightsMismatchError) as info:
        load_transformer(path)
    message = str(info.value)
    assert "edited.safetensors" in message
    assert "1 missing from the file: transformer_blocks.1.attn1.to_q.weight" in message
    assert "1 unexpected in the file: model.diffusion_model.extra_head.weight" in message


def test_wrong_shape_is_reported(reference: Reference, tmp_path: Path):
    key = "model.diffusion_model.patchify_proj.weight"

    def edit(tensors):
        tensors[key] = np.zeros((3, 3), np.float32)

    path = rewritten(reference, tmp_path, "shape.safetensors", edit_tensors=edit)
    with pytest.raises(WeightsMismatchError, match=r"wrong shape: model.diffusion_model.patchify_proj.weight: file \(3, 3\)"):
        load_transformer(path)


def test_reader_converts_bfloat16_and_fp8(tmp_path: Path):
    values = np.array([1.0, -2.5, 3.0], np.float32)
    bf16_bits = (values.view(np.uint32) >> 16).astype(np.uint16)
    e4m3 = bytes([0x38, 0xC4])  # 1.0, -3.0
    e5m2 = bytes([0x3C, 0xC2])  # 1.0, -3.0 (the high byte of float16)
    header = {
        "w": {"dtype": "BF16", "shape": [3], "data_offsets": [0, 6]},
        "q": {"dtype": "F8_E4M3", "shape": [2], "data_offsets": [6, 8]},
        "r": {"dtype": "F8_E5M2", "shape": [2], "data_offsets": [8, 10]},
    }
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    path = tmp_path / "mixed.safetensors"
    path.write_bytes(len(raw).to_bytes(8, "little") + raw + bf16_bits.tobytes() + e4m3 + e5m2)
    with SafetensorsFile(path) as file:
        np.testing.assert_array_equal(np.array(file.load("w", mx.float32)), values)
        assert file.load("w").dtype == mx.bfloat16
        np.testing.assert_array_equal(np.array(file.load("q", mx.float32)), [1.0, -3.0])
        np.testing.assert_array_equal(np.array(file.load("r", mx.float32)), [1.0, -3.0])


def test_every_loader_error_is_an_ltx_error():
    assert issubclass(CheckpointError, LTXError) and issubclass(ConfigError, LTXError)
    assert issubclass(WeightsMismatchError, CheckpointError)


def test_copy_of_fixture_loads_from_another_folder(reference: Reference, tmp_path: Path):
    copy = tmp_path / "renamed.safetensors"
    shutil.copy(reference.checkpoint, copy)
    assert LTXCheckpoint(copy).identity() != "" and load_transformer(copy) is not None


def test_building_the_19b_transformer_allocates_nothing():
    """Modules are built with lazy parameters: a 48-block model at the released widths costs no
    memory until weights are loaded into it (which replaces the lazy initial values)."""
    from ltx_core.model.transformer import LTXModel

    released_widths = dict(
        caption_channels=3840, use_audio_video_cross_attention=True, av_ca_timestep_scale_multiplier=1000,
        rope_type="split", frequencies_precision="float64",
    )  # every other width is the official default (32 x 128 video, 32 x 64 audio, 48 blocks)
    mx.clear_cache()
    before = mx.get_active_memory()
    model = LTXModel(TransformerConfig.from_dict(released_widths))
    parameters = sum(v.size for _, v in tree_flatten(model.parameters()))
    assert 18.8e9 < parameters < 19.0e9
    assert mx.get_active_memory() - before < 64 * 1024 * 1024
