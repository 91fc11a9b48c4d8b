"""Tokenization, the prompt encoder, its cache, quantization, enhancement and error messages."""

from __future__ import annotations

import json
from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest

from ltx_core.errors import CheckpointError, ConfigError
from ltx_core.loader import text_encoder as text_loader
from ltx_core.loader.text_encoder import gemma_config, load_embeddings_processor, load_gemma, load_prompt_encoder
from ltx_core.model.text_encoder import GemmaConfig, KVCache
from ltx_core.model.text_encoder.cache import EmbeddingCache, load_embeddings, save_embeddings
from ltx_core.model.text_encoder.enhance import clean_response, generate
from ltx_core.model.text_encoder.prompt_encoder import PromptEncoder
from ltx_core.model.text_encoder.tokenizer import PromptError, PromptTokenizer, PromptTruncatedWarning
from tests.parity import relative_max_error
from tests.text_helpers import gemma_folder_with_tokenizer, write_tokenizer

TOKENS = 128  # a multiple of the connectors' 128 registers, small enough for quick tests


@pytest.fixture(scope="module")
def gemma_dir(tmp_path_factory, fixture_dir: Path) -> Path:
    return gemma_folder_with_tokenizer(fixture_dir / "gemma", tmp_path_factory.mktemp("gemma"))


@pytest.fixture(scope="module")
def checkpoint(fixture_dir: Path) -> Path:
    return fixture_dir / "ltx2-tiny.safetensors"


# -- tokenization ----------------------------------------------------------------------------
def test_tokenizer_strips_left_pads_and_masks(tmp_path: Path):
    vocab = write_tokenizer(tmp_path, 64)
    tokenizer = PromptTokenizer(tmp_path, max_length=128)
    tokens = tokenizer("  a cat runs on the beach \n")
    ids, mask = np.asarray(tokens.input_ids)[0], np.asarray(tokens.attention_mask)[0]
    assert ids.shape == mask.shape == (128,)
    expected = [vocab["<bos>"]] + [vocab[w] for w in "a cat runs on the beach".split()]
    assert ids[-7:].tolist() == expected and mask[-7:].tolist() == [1] * 7
    assert (ids[:-7] == vocab["<pad>"]).all() and (mask[:-7] == 0).all()
    assert tokens.token_count == 7 and not tokens.truncated


def test_tokenizer_truncates_with_a_warning(tmp_path: Path):
    write_tokenizer(tmp_path, 64)
    tokenizer = PromptTokenizer(tmp_path, max_length=128)
    with pytest.warns(PromptTruncatedWarning, match="first 128 tokens"):
        tokens = tokenizer(" ".join(["cat"] * 200))
    assert tokens.truncated and tokens.token_count == 128
    assert np.asarray(tokens.input_ids)[0, 0] == 2  # <bos> kept, the end is cut
    with pytest.warns(PromptTruncatedWarning, match="^The negative prompt is .* Shorten the negative prompt"):
        tokenizer(" ".join(["cat"] * 200), allow_empty=True, what="negative prompt")


def test_empty_prompt_is_rejected(tmp_path: Path):
    write_tokenizer(tmp_path, 64)
    tokenizer = PromptTokenizer(tmp_path, max_length=128)
    with pytest.raises(PromptError, match="empty"):
        tokenizer("   ")
    assert tokenizer("", allow_empty=True).token_count == 1  # an empty negative prompt: <bos> only


# -- the prompt encoder ------------------------------------------------------------------------
def test_prompt_encoder_matches_the_parts_and_releases(gemma_dir: Path, checkpoint: Path):
    encoder = load_prompt_encoder(gemma_dir, checkpoint, "float32", max_length=TOKENS)
    result = encoder.encode("a dog walks on the beach", negative_prompt="")
    tokens = encoder.tokenizer("a dog walks on the beach")
    states = load_gemma(gemma_dir).hidden_states(tokens.input_ids, tokens.attention_mask)
    direct = load_embeddings_processor(checkpoint)(states, tokens.attention_mask)
    assert relative_max_error(result.positive.video, direct.video) < 1e-6
    assert relative_max_error(result.positive.audio, direct.audio) < 1e-6
    assert result.positive.video.shape == (1, TOKENS, direct.video.shape[-1]) and result.negative is not None
    assert relative_max_error(result.negative.video, direct.video) > 1e-2  # a different prompt
    assert encoder.loaded
    encoder.release()
    assert not encoder.loaded
    with pytest.raises(PromptError):
        encoder.encode("  ")


def test_cached_rerun_loads_no_model_and_corruption_is_recomputed(
    gemma_dir: Path, checkpoint: Path, tmp_path: Path, monkeypatch
):
    cache_dir = tmp_path / "cache"
    first = load_prompt_encoder(gemma_dir, checkpoint, "float32", max_length=TOKENS, cache_dir=cache_dir)
    fresh = first.encode("a cat runs in rain", negative_prompt="red ball")
    entries = list(cache_dir.glob("*.safetensors"))
    assert len(entries) == 1

    def refuse(*_args, **_kwargs):
        raise AssertionError("a cached prompt must not load a model")

    with monkeypatch.context() as patch:
        patch.setattr(text_loader, "load_gemma", refuse)
        patch.setattr(text_loader, "load_embeddings_processor", refuse)
        second = load_prompt_encoder(gemma_dir, checkpoint, "float32", max_length=TOKENS, cache_dir=cache_dir)
        cached = second.encode("a cat runs in rain", negative_prompt="red ball")
        assert not second.loaded and second._tokenizer is None  # not even the tokenizer
    assert np.array_equal(np.asarray(cached.positive.video), np.asarray(fresh.positive.video))
    assert np.array_equal(np.asarray(cached.negative.audio), np.asarray(fresh.negative.audio))

    # Another negative prompt is another entry.
    assert EmbeddingCache.key("a", "b", "g:c") != EmbeddingCache.key("a", "c", "g:c")

    # Flip bytes in the tensor data: the checksum fails, the entry is recomputed and rewritten.
    data = bytearray(entries[0].read_bytes())
    data[-100:-90] = bytes(10)
    entries[0].write_bytes(bytes(data))
    third = load_prompt_encoder(gemma_dir, checkpoint, "float32", max_length=TOKENS, cache_dir=cache_dir)
    assert third.cache.get(third._cache_key("a cat runs in rain", "red ball")) is None
    recomputed = third.encode("a cat runs in rain", negative_prompt="red ball")
    assert third.loaded
    assert relative_max_error(recomputed.positive.video, fresh.positive.video) < 1e-6
    assert third.cache.get(third._cache_key("a cat runs in rain", "red ball")) is not None


def test_precomputed_embeddings(gemma_dir: Path, checkpoint: Path, tmp_path: Path, reference):
    encoder = load_prompt_encoder(gemma_dir, checkpoint, "float32", max_length=TOKENS)
    embeddings = encoder.encode("a dog runs", negative_prompt="rain")
    for suffix in (".safetensors", ".npz"):
        path = save_embeddings(tmp_path / f"emb{suffix}", embeddings)
        loaded = PromptEncoder.load_precomputed(path)
        assert np.array_equal(np.asarray(loaded.positive.video), np.asarray(embeddings.positive.video))
        assert np.array_equal(np.asarray(loaded.negative.audio), np.asarray(embeddings.negative.audio))
    # A bare file with the fixture's key names is accepted too.
    np.savez(tmp_path / "bare.npz", video_context=reference["text/out/video_context"],
             audio_context=reference["text/out/audio_context"], connector_mask=reference["text/out/connector_mask"])
    bare = load_embeddings(tmp_path / "bare.npz")
    assert bare.negative is None and bare.positive.audio.shape == reference["text/out/audio_context"].shape
    np.savez(tmp_path / "empty.npz", other=np.zeros(3))
    with pytest.raises(CheckpointError, match="video_context"):
        load_embeddings(tmp_path / "empty.npz")


# -- quantization --------------------------------------------------------------------------------
@pytest.mark.parametrize("bits, tolerance", [(8, 0.05), (4, 0.5)])
def test_quantized_gemma_stays_close(reference, fixture_dir: Path, bits: int, tolerance: float):
    ids = mx.array(reference["text/in/input_ids"])
    mask = mx.array(reference["text/in/attention_mask"])
    real = np.asarray(reference["text/in/attention_mask"])[0] > 0
    model = load_gemma(fixture_dir / "gemma", quantize_bits=bits, group_size=32)
    assert type(model.layers[0].mlp.down_proj).__name__ == "QuantizedLinear"
    assert type(model.embed_tokens).__name__ == "QuantizedEmbedding"
    states = model.hidden_states(ids, mask)
    ref = reference["text/out/gemma_hidden_states"]
    errors = [relative_max_error(np.asarray(s)[0][real], ref[i, 0][real]) for i, s in enumerate(states)]
    print(f"QUANTIZED {bits}-bit Gemma hidden-state relative errors: {[f'{e:.2e}' for e in errors]}")
    assert max(errors) < tolerance and max(errors) > 1e-6  # really quantized, still close
    logits = model.logits(ids[:, -19:], None, None)  # generation uses the quantized embeddings as head
    assert logits.shape == (1, model.config.vocab_size) and np.isfinite(np.asarray(logits)).all()


# -- prompt enhancement ------------------------------------------------------------------------
def test_kv_cache_generation_matches_full_recompute(fixture_dir: Path):
    model = load_gemma(fixture_dir / "gemma")
    # Longer than the sliding window (16) and crossing the cache's 256-position growth step.
    prompt = [2] + np.random.default_rng(0).integers(3, model.config.vocab_size, 250).tolist()
    out = generate(model, prompt, 9, stop_ids=set(), temperature=0.0)
    assert len(out) == 9
    sequence = list(prompt)
    for token in out:  # each greedy token equals the argmax of a cache-free forward pass
        logits = model.logits(mx.array([sequence]), None, None)
        assert int(mx.argmax(logits, axis=-1).item()) == token
        sequence.append(token)
    cache = KVCache(len(model.layers))
    model.logits(mx.array([prompt]), None, cache)
    step = model.logits(mx.array([[out[0]]]), mx.ones((1, len(prompt) + 1)), cache)
    full = model.logits(mx.array([prompt + [out[0]]]), None, None)
    assert relative_max_error(step, full) < 1e-5
    sampled = [generate(model, prompt, 8, set(), temperature=0.7, seed=s) for s in (1, 1, 2)]
    assert sampled[0] == sampled[1] and sampled[0] != sampled[2]


def test_enhance_returns_clean_text(gemma_dir: Path, checkpoint: Path):
    encoder = load_prompt_encoder(gemma_dir, checkpoint, "float32", max_length=TOKENS)
    text = encoder.enhance("a cat on the beach", temperature=0.0, max_new_tokens=12)
    assert text and text[0].isalpha()
    assert encoder.enhance("a cat on the beach", temperature=0.0, max_new_tokens=12) == text
    i2v = encoder.enhance("a cat on the beach", image_to_video=True, seed=3, max_new_tokens=12)
    assert isinstance(i2v, str)
    assert clean_response("  \u201cStyle: calm\u201d \u2014 ok") == 'Style: calm" - ok'


# -- error messages ----------------------------------------------------------------------------
def test_missing_gemma_folder_names_the_repository(tmp_path: Path, checkpoint: Path, gemma_dir: Path, monkeypatch):
    monkeypatch.delenv("LTX_GEMMA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)  # no models/gemma-3-12b-it here
    for folder in (None, tmp_path / "nowhere"):
        with pytest.raises(CheckpointError, match="google/gemma-3-12b-it.*models/gemma-3-12b-it.*LTX_GEMMA_DIR"):
            load_prompt_encoder(folder, checkpoint)
    monkeypatch.setenv("LTX_GEMMA_DIR", str(gemma_dir))
    assert load_prompt_encoder(None, checkpoint).source.folder == gemma_dir


def test_bfloat16_text_path_stays_close(gemma_dir: Path, checkpoint: Path, reference):
    """The GPU default dtype: Gemma, features and connectors in bfloat16."""
    ids = mx.array(reference["text/in/input_ids"])
    mask = mx.array(reference["text/in/attention_mask"])
    model = load_gemma(gemma_dir, dtype="bfloat16")
    processor = load_embeddings_processor(checkpoint, dtype="bfloat16")
    contexts = processor(model.hidden_states(ids, mask, skip_padding=True), mask)
    assert contexts.video.dtype == mx.bfloat16
    for name, ours in (("video_context", contexts.video), ("audio_context", contexts.audio)):
        error = relative_max_error(ours, reference[f"text/out/{name}"])
        print(f"BFLOAT16 text/out/{name} relative error {error:.2e}")
        assert error < 5e-2


def test_gemma_folder_missing_files(tmp_path: Path, fixture_dir: Path):
    folder = tmp_path / "g"
    folder.mkdir()
    with pytest.raises(CheckpointError, match="no config.json"):
        load_gemma(folder)
    (folder / "config.json").write_text((fixture_dir / "gemma" / "config.json").read_text())
    with pytest.raises(CheckpointError, match="neither"):
        load_gemma(folder)
    (folder / "model.safetensors.index.json").write_text((fixture_dir / "gemma" / "model.safetensors.index.json").read_text())
    with pytest.raises(CheckpointError, match="2 of 2 weight shards are missing"):
        load_gemma(folder)
    with pytest.raises(CheckpointError, match="no tokenizer"):
        PromptTokenizer(fixture_dir / "gemma")


def test_gemma_of_another_size_is_reported(fixture_dir: Path, checkpoint: Path):
    data = json.loads((fixture_dir / "gemma" / "config.json").read_text())
    data["text_config"]["num_hidden_layers"] = 3
    data["text_config"]["layer_types"] = ["sliding_attention"] * 3
    with pytest.raises(ConfigError, match="expects width 64 and 2 layers"):
        load_embeddings_processor(checkpoint, gemma=GemmaConfig.from_dict(data))


def test_config_layouts_agree(fixture_dir: Path):
    """Multimodal layout, text-only layout and transformers-5 ``rope_parameters`` give one config."""
    data = json.loads((fixture_dir / "gemma" / "config.json").read_text())
    multimodal = gemma_config(fixture_dir / "gemma")
    text = dict(data["text_config"])
    text_only = GemmaConfig.from_dict({**text, "eos_token_id": data["eos_token_id"]})
    assert text_only == multimodal
    v5 = {k: v for k, v in text.items() if k not in ("rope_theta", "rope_local_base_freq", "rope_scaling")}
    v5["rope_parameters"] = {
        "full_attention": {"rope_type": "linear", "factor": 8.0, "rope_theta": 1e6},
        "sliding_attention": {"rope_type": "default", "rope_theta": 1e4},
    }
    v5_config = GemmaConfig.from_dict({**v5, "eos_token_id": data["eos_token_id"]})
    assert v5_config == multimodal
    del text["layer_types"]
    assert GemmaConfig.from_dict({**text, "eos_token_id": data["eos_token_id"]}).layer_types == multimodal.layer_types
    twelve_b = GemmaConfig.from_dict({"text_config": {"hidden_size": 3840, "num_hidden_layers": 48,
                                                      "num_attention_heads": 16, "num_key_value_heads": 8,
                                                      "intermediate_size": 15360, "sliding_window": 1024,
                                                      "rope_scaling": {"factor": 8.0, "rope_type": "linear"}}})
    assert twelve_b.head_dim == 256 and twelve_b.vocab_size == 262208 and twelve_b.num_states == 49
    assert [i for i in range(48) if not twelve_b.is_sliding(i)] == list(range(5, 48, 6))
    assert twelve_b.global_rope.factor == 8.0 and twelve_b.local_rope.theta == 10000.0
    assert multimodal.num_states == 3


# -- memory arithmetic -------------------------------------------------------------------------
def test_memory_estimate(fixture_dir: Path):
    from ltx_core.model.text_encoder.memory import estimate_encode_memory, gemma_12b_config, parameter_counts

    big = gemma_12b_config()
    matrices, embedding, _ = parameter_counts(big)
    assert 11.7e9 < matrices + embedding < 11.8e9  # Gemma 3 12B without the vision tower
    peaks = {mode: estimate_encode_memory(big, 1024, mode).peak / 1024**3 for mode in ("bfloat16", "8bit", "4bit")}
    assert 22 < peaks["bfloat16"] < 25 and 12 < peaks["8bit"] < 15 and 7 < peaks["4bit"] < 9

    config = gemma_config(fixture_dir / "gemma")
    ids = mx.ones((1, TOKENS), dtype=mx.int32)
    mx.eval(ids)
    mx.clear_cache()
    before = mx.get_active_memory()
    mx.reset_peak_memory()
    model = load_gemma(fixture_dir / "gemma")
    mx.eval(mx.stack(model.hidden_states(ids, mx.ones((1, TOKENS), dtype=mx.int32)), axis=-1))
    measured = mx.get_peak_memory() - before
    estimate = estimate_encode_memory(config, TOKENS, "float32", backend="cpu").peak
    print(f"MEMORY tiny Gemma encode: measured {measured / 2**20:.2f} MiB, estimated {estimate / 2**20:.2f} MiB")
    assert 0.5 * estimate < measured < 2.0 * estimate


def test_text_only_layout_loads_the_same_model(fixture_dir: Path, tmp_path: Path, reference):
    """A ``Gemma3ForCausalLM`` folder (keys under ``model.``, flat config, one file) gives the
    same hidden states as the multimodal fixture folder."""
    from ltx_core.loader.text_encoder import ShardedSafetensors, gemma_shards
    from ltx_core.loader.safetensors_file import SafetensorsFile

    source = ShardedSafetensors([SafetensorsFile(p) for p in gemma_shards(fixture_dir / "gemma")], "fixture")
    arrays = {
        "model." + key[len("language_model.model."):]: source.load(key)
        for key in source.keys()
        if key.startswith("language_model.model.")
    }
    source.close()
    mx.save_safetensors(str(tmp_path / "model.safetensors"), arrays)
    data = json.loads((fixture_dir / "gemma" / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**data["text_config"], "architectures": ["Gemma3ForCausalLM"]}))
    ids = mx.array(reference["text/in/input_ids"])
    mask = mx.array(reference["text/in/attention_mask"])
    ours = load_gemma(tmp_path).hidden_states(ids, mask)
    multimodal = load_gemma(fixture_dir / "gemma").hidden_states(ids, mask)
    for a, b in zip(ours, multimodal, strict=True):
        assert np.array_equal(np.asarray(a), np.asarray(b))
    arrays["model.layers.0.self_attn.extra.weight"] = mx.zeros((2,))
    mx.save_safetensors(str(tmp_path / "model.safetensors"), arrays)
    with pytest.raises(CheckpointError, match="unexpected tensors"):
        load_gemma(tmp_path)


def test_release_returns_the_memory(gemma_dir: Path, checkpoint: Path):
    encoder = load_prompt_encoder(gemma_dir, checkpoint, "float32", max_length=TOKENS)
    mx.clear_cache()
    before = mx.get_active_memory()
    encoder.encode("a cat walks slowly")
    loaded = mx.get_active_memory() - before
    encoder.release()
    assert loaded > 500_000  # Gemma + connectors of the tiny model
    assert mx.get_active_memory() - before < 0.2 * loaded
