"""LTX-2.5 text encoder (Gemma 4 unified, single file): tokenizer ids/mask and every hidden state
against the ``text`` case of the 2.5 set; the gemma_version check; tiny in-memory Gemma 4 models;
the refusals (unsupported config values, missing/unknown keys, mismatched gemma_version).

The ``text`` case's contexts (FeatureExtractorV2 + connectors) are compared by that port, not here.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest
from mlx.utils import tree_flatten, tree_unflatten

from ltx_core.errors import ConfigError, WeightsMismatchError
from ltx_core.loader.gemma4 import (
    Gemma4TextEncoderFile,
    check_gemma_version,
    check_text_encoder_matches,
    load_gemma4,
)
from ltx_core.model.text_encoder.gemma4 import Gemma4TextModel
from ltx_core.model.text_encoder.gemma4_config import FULL, SLIDING, Gemma4Config
from ltx_core.model.text_encoder.tokenizer import PromptError, PromptTruncatedWarning
from tests.conftest import Reference
from tests.ltx25_helpers import component_file, ltx25_reference, rewrite_safetensors
from tests.parity import DOWNSTREAM_OF_ROPE, TOLERANCE, check_parity

VERSIONS = ("2.5",)


def covers(case: str) -> bool:
    return False  # the text case's out/ contexts need FeatureExtractorV2 and the connectors


@pytest.fixture(scope="module")
def ltx25() -> Reference:
    return ltx25_reference()


@lru_cache(maxsize=1)
def text_encoder(path: str) -> tuple[Gemma4TextEncoderFile, Gemma4TextModel]:
    source = Gemma4TextEncoderFile(path)
    return source, load_gemma4(source)


def te_path(ltx25: Reference) -> Path:
    return component_file(ltx25, "text_encoders")


def prompt(ltx25: Reference) -> str:
    return bytes(ltx25["text/in/prompt_utf8"]).decode("utf-8")


# -- parity ------------------------------------------------------------------------------------
def test_tokenizer_ids_and_mask(ltx25: Reference):
    source, _ = text_encoder(str(te_path(ltx25)))
    tokens = source.tokenizer()(prompt(ltx25))
    for key, ours in (("text/in/input_ids", tokens.input_ids), ("text/in/attention_mask", tokens.attention_mask)):
        ref = ltx25[key]
        assert np.array_equal(np.asarray(ours).astype(ref.dtype), ref), f"{key}: tokens differ"
        print(f"PARITY {key} 0.000e+00 (exact)")
    assert tokens.token_count == int(ltx25["text/in/attention_mask"].sum())


@pytest.mark.parametrize("skip_padding", [False, True], ids=["full", "skip_padding"])
def test_hidden_states(ltx25: Reference, skip_padding: bool):
    """Every hidden state (embeddings + each layer, the last after the final norm) on the real
    tokens; ``skip_padding`` (the prompt encoder's mode) runs the real tokens only."""
    _, model = text_encoder(str(te_path(ltx25)))
    ids, mask = mx.array(ltx25["text/in/input_ids"]), mx.array(ltx25["text/in/attention_mask"])
    states = model.hidden_states(ids, mask, skip_padding=skip_padding)
    ref = ltx25["text/out/hidden_states"]
    real = ltx25["text/in/attention_mask"][0] > 0
    assert len(states) == model.config.num_states == ref.shape[0]
    for index, state in enumerate(states):
        tolerance = TOLERANCE if index == 0 else DOWNSTREAM_OF_ROPE
        label = f"text/out/hidden_states[{index}]" + (" (skip_padding)" if skip_padding else "")
        check_parity(label, np.asarray(state)[0][real], ref[index][real], tolerance)
        assert np.isfinite(np.asarray(state)).all(), f"{label}: NaN/inf at padded positions"


def test_all_padding_prompt_is_finite(ltx25: Reference):
    _, model = text_encoder(str(te_path(ltx25)))
    ids = mx.zeros((1, 256), dtype=mx.int32)
    for skip in (False, True):
        for state in model.hidden_states(ids, mx.zeros((1, 256), dtype=mx.int32), skip_padding=skip):
            assert np.isfinite(np.asarray(state)).all()


def test_file_layout_and_assets(ltx25: Reference):
    source, model = text_encoder(str(te_path(ltx25)))
    config = source.config
    assert config.layer_types[-1] == FULL and config.attention_k_eq_v
    last = model.layers[-1].self_attn
    assert "v_proj" not in last and last.head_dim == config.global_head_dim and last.kv_heads == 1
    assert set(source.projection_keys()) == {
        f"{kind}_aggregate_embed.{part}" for kind in ("video", "audio") for part in ("weight", "bias")
    }
    keys = source.language_model_keys()
    assert all(not k.startswith(("vision_model", "multi_modal_projector", "audio_projector")) for k in keys.values())


def test_tokenizer_behaviour(ltx25: Reference):
    source, _ = text_encoder(str(te_path(ltx25)))
    tokenizer = source.tokenizer(max_length=128)
    text = prompt(ltx25)
    padded = tokenizer(f"  \n{text}  ")
    count = padded.token_count
    assert np.array_equal(np.asarray(padded.input_ids)[0, -count:], ltx25["text/in/input_ids"][0, -count:])
    with pytest.raises(PromptError):
        tokenizer("   ")
    empty = tokenizer("", allow_empty=True)
    assert empty.token_count == 1 and int(np.asarray(empty.input_ids)[0, -1]) == tokenizer.bos_token_id
    with pytest.warns(PromptTruncatedWarning):
        long = tokenizer(" ".join([text] * 20))
    ids = np.asarray(long.input_ids)[0]
    assert long.truncated and long.token_count == 128 and ids[0] == tokenizer.bos_token_id


# -- gemma_version -----------------------------------------------------------------------------
def test_version_check_accepts_the_released_pair(ltx25: Reference):
    transformer = component_file(ltx25, "diffusion_models")
    assert check_text_encoder_matches(transformer, te_path(ltx25)) == "gemma4-12b-ltx-v1"


def _with_gemma_version(version: str | None):
    def edit(meta: dict[str, str]) -> dict[str, str]:
        config = json.loads(meta["gemma_config"])
        if version is None:
            config.pop("gemma_version", None)
        else:
            config["gemma_version"] = version
        return {**meta, "gemma_config": json.dumps(config)}

    return edit


@pytest.mark.parametrize("version", ["gemma4-12b-ltx-v2", None], ids=["other", "stock"])
def test_version_mismatch_is_refused(ltx25: Reference, tmp_path: Path, version: str | None):
    transformer = component_file(ltx25, "diffusion_models")
    edited = rewrite_safetensors(
        te_path(ltx25), tmp_path / "edited-te.safetensors", metadata=_with_gemma_version(version)
    )
    with pytest.raises(ConfigError) as info:
        check_text_encoder_matches(transformer, edited)
    message = str(info.value)
    assert transformer.name in message and "edited-te.safetensors" in message and "'gemma4-12b-ltx-v1'" in message
    assert (repr(version) if version else "stock Gemma") in message


def test_transformer_without_declaration_is_refused():
    with pytest.raises(ConfigError, match="declares no 'gemma_source_checkpoint'"):
        check_gemma_version({"model_version": "2.5.0"}, "t.safetensors", "gemma4-12b-ltx-v1", "te.safetensors")
    with pytest.raises(ConfigError, match="Gemma 3"):
        check_gemma_version({}, "ltx-2-19b.safetensors", "gemma4-12b-ltx-v1", "te.safetensors")


# -- refusals on files ------------------------------------------------------------------------
def test_missing_key_names_the_file(ltx25: Reference, tmp_path: Path):
    dropped = "model.layers.1.mlp.up_proj.weight"
    broken = rewrite_safetensors(te_path(ltx25), tmp_path / "missing.safetensors", drop=[dropped])
    message = r"missing\.safetensors.*Gemma 4 layers\.1 .*missing from the file: mlp\.up_proj\.weight"
    with pytest.raises(WeightsMismatchError, match=message):
        load_gemma4(broken)


def test_unknown_keys_are_refused(ltx25: Reference, tmp_path: Path):
    lm = rewrite_safetensors(
        te_path(ltx25), tmp_path / "lm.safetensors", alias={"model.layers.0.mlp.extra.weight": "model.norm.weight"}
    )
    with pytest.raises(WeightsMismatchError, match=r"lm\.safetensors.*model\.layers\.0\.mlp\.extra\.weight"):
        load_gemma4(lm)
    other = rewrite_safetensors(
        te_path(ltx25), tmp_path / "other.safetensors", alias={"mystery.weight": "model.norm.weight"}
    )
    with pytest.raises(WeightsMismatchError, match=r"other\.safetensors.*no known part.*mystery\.weight"):
        load_gemma4(other)
    deeper = rewrite_safetensors(
        te_path(ltx25),
        tmp_path / "deeper.safetensors",
        alias={"model.layers.6.layer_scalar": "model.layers.0.layer_scalar"},
    )
    with pytest.raises(WeightsMismatchError, match=r"deeper\.safetensors.*model\.layers\.6\.layer_scalar"):
        load_gemma4(deeper)


# -- tiny in-memory models ---------------------------------------------------------------------
def tiny_config(layers: int, **text) -> Gemma4Config:
    base = {
        "model_type": "gemma4_unified_text",
        "hidden_size": 32,
        "intermediate_size": 48,
        "num_hidden_layers": layers,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 8,
        "global_head_dim": 16,
        "num_global_key_value_heads": 1,
        "attention_k_eq_v": True,
        "vocab_size": 64,
        "sliding_window": 4,
    }
    data = {"model_type": "gemma4_unified", "gemma_version": "test", "text_config": {**base, **text}}
    return Gemma4Config.from_gemma_config(data, source="tiny")


def random_model(config: Gemma4Config, seed: int = 0) -> Gemma4TextModel:
    model = Gemma4TextModel(config)
    mx.random.seed(seed)
    params = [
        (name, mx.random.normal(value.shape) * 0.3 + (1.0 if "norm" in name or "scalar" in name else 0.0))
        for name, value in tree_flatten(model.parameters())
    ]
    model.update(tree_unflatten(params))
    return model


@pytest.mark.parametrize("layers", [2, 7])
def test_tiny_model_runs_without_a_file(layers: int):
    config = tiny_config(layers)
    expected = ([SLIDING] * 5 + [FULL, FULL]) if layers == 7 else [SLIDING, FULL]  # last layer forced global
    assert list(config.layer_types) == expected and config.gemma_version == "test"
    model = random_model(config)
    ids = mx.array(np.random.default_rng(0).integers(4, 64, size=(2, 12)))
    mask = mx.array(np.array([[0] * 3 + [1] * 9, [0] * 7 + [1] * 5]))
    full = model.hidden_states(ids, mask)
    skipped = model.hidden_states(ids, mask, skip_padding=True)
    real = np.asarray(mask) > 0
    assert len(full) == layers + 1 and all(s.shape == (2, 12, 32) for s in full)
    for a, b in zip(full, skipped):
        np.testing.assert_allclose(np.asarray(a)[real], np.asarray(b)[real], rtol=1e-4, atol=1e-4)
        assert np.isfinite(np.asarray(a)).all()
    for index, layer in enumerate(model.layers):
        global_layer = not config.is_sliding(index)
        assert ("v_proj" in layer.self_attn) is not global_layer
        assert layer.self_attn.head_dim == (16 if global_layer else 8)


def test_sliding_window_and_proportional_rope():
    config = tiny_config(2)
    model = random_model(config, seed=1)
    ids = np.arange(4, 16)[None]
    changed = ids.copy()
    changed[0, 0] = 40
    a = np.asarray(model.hidden_states(mx.array(ids))[1])[0]
    b = np.asarray(model.hidden_states(mx.array(changed))[1])[0]
    moved = np.abs(a - b).max(axis=-1) > 0
    # Layer 0 is sliding with a window of 4: token 0 reaches positions 0..3 only.
    assert moved[:4].all() and not moved[4:].any()
    inv = config.inverse_frequencies(sliding=False)
    assert inv.shape == (8,) and (inv[:2] > 0).all() and (inv[2:] == 0).all()  # 0.25 of 16 dims rotate
    assert config.inverse_frequencies(sliding=True).shape == (4,)


@pytest.mark.parametrize(
    "text, message",
    [
        ({"hidden_activation": "silu"}, "hidden_activation = 'silu'"),
        ({"num_kv_shared_layers": 2}, "num_kv_shared_layers = 2"),
        ({"use_bidirectional_attention": "all"}, "use_bidirectional_attention = 'all'"),
        (
            {"rope_parameters": {"full_attention": {"rope_type": "yarn"}}},
            "rope_parameters.full_attention.rope_type = 'yarn'",
        ),
        ({"layer_types": ["chunked_attention", "full_attention"]}, "layer_types must list 2 entries"),
        ({"num_global_key_value_heads": 3}, "num_global_key_value_heads"),
    ],
)
def test_unsupported_config_values_are_named(text: dict, message: str):
    with pytest.raises(ConfigError, match="tiny.*" + message.replace(".", r"\.").replace("(", r"\(")):
        tiny_config(2, **text)


def test_stock_gemma3_config_is_refused():
    with pytest.raises(ConfigError, match="model_type = 'gemma3'"):
        Gemma4Config.from_gemma_config({"model_type": "gemma3", "text_config": {}}, source="tiny")


def test_identity_follows_the_file(ltx25: Reference, tmp_path: Path):
    source, _ = text_encoder(str(te_path(ltx25)))
    edited = rewrite_safetensors(te_path(ltx25), tmp_path / te_path(ltx25).name, metadata=_with_gemma_version("x"))
    other = Gemma4TextEncoderFile(edited)
    try:
        assert source.identity() == Gemma4TextEncoderFile(te_path(ltx25)).identity() != other.identity()
    finally:
        other.close()
