"""The MLX text path (Gemma 3 or 4 -> features -> connectors) against every ``text*`` fixture case.

Everything runs end to end from the case's token ids: our own Gemma hidden states feed our
feature extractor, whose output feeds our connectors. Every ``out/`` array must be compared.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest

from ltx_core.loader.text_encoder import gemma_config, load_embeddings_processor, load_gemma
from ltx_core.model.text_encoder import FeatureExtractorV2, TextFeatures, additive_mask, normalize_per_token_rms
from tests.conftest import Reference
from tests.ltx25_helpers import component_file
from tests.model_files import transformer_file
from tests.parity import DOWNSTREAM_OF_ROPE, TOLERANCE, check_parity



def covers(case: str) -> bool:
    return case == "text" or case.startswith("text_")


@lru_cache(maxsize=3)
def _models(fixture_dir: str, split: bool):
    if split:  # LTX-2.5: one-file text encoder (Gemma 4 + projection), connectors in the transformer
        from ltx_core.loader.gemma4_source import Gemma4FileSource

        reference = Reference(Path(fixture_dir))
        source = Gemma4FileSource(component_file(reference, "text_encoders"), transformer_file(reference))
        return source.gemma(mx.float32, None, 64), source.processor(mx.float32)
    gemma = load_gemma(f"{fixture_dir}/gemma")
    processor = load_embeddings_processor(f"{fixture_dir}/ltx2-tiny.safetensors", gemma=gemma_config(f"{fixture_dir}/gemma"))
    return gemma, processor


def models(reference: Reference):
    return _models(str(reference.directory), reference.version == "2.5")


def hidden_states_key(reference: Reference) -> str:
    return "text/out/hidden_states" if "text/out/hidden_states" in reference else "text/out/gemma_hidden_states"


@pytest.mark.parametrize("skip_padding", [False, True], ids=["full", "skip_padding"])
def test_text_case(reference: Reference, case: str, skip_padding: bool):
    """``full`` runs Gemma over every padded position as the reference does; ``skip_padding``
    (what PromptEncoder uses) runs the real tokens only and must give the same outputs."""
    gemma, processor = models(reference)
    ids = mx.array(reference[f"{case}/in/input_ids"])
    mask = mx.array(reference[f"{case}/in/attention_mask"])
    states = gemma.hidden_states(ids, mask, skip_padding=skip_padding)
    features = processor.feature_extractor(states, mask)
    contexts = processor.connect(features, mask)
    real = np.asarray(reference[f"{case}/in/attention_mask"]) > 0

    compared = set()
    for key in reference.keys_of(case, "out") + reference.keys_of(case, "debug"):
        name = key.rsplit("/", 1)[1]
        ref = reference[key]
        if name in ("gemma_hidden_states", "hidden_states"):
            assert ref.shape[0] == gemma.config.num_states == len(states)
            # Padded positions are never used downstream: compare real tokens only, per layer.
            ref_real = real if ref.ndim == 4 else real[0]  # 2.5: (layers + 1, T, hidden)
            for index, state in enumerate(states):
                tolerance = DOWNSTREAM_OF_ROPE if ref.ndim == 3 else TOLERANCE
                check_parity(f"{key}[{index}]", np.asarray(state)[real], ref[index][ref_real], tolerance)
            assert all(np.isfinite(np.asarray(s)).all() for s in states), "NaN/inf at padded positions"
        elif name in ("features", "video_features", "features_video"):  # "features": the video ones (shared in V1)
            check_parity(key, features.video, ref)
        elif name in ("audio_features", "features_audio"):
            check_parity(key, features.audio, ref)
        elif name == "additive_mask":
            check_parity(key, additive_mask(mask, mx.float32), ref)
        elif name == "video_context":
            check_parity(key, contexts.video, ref, DOWNSTREAM_OF_ROPE)
        elif name == "audio_context":
            assert contexts.audio is not None
            check_parity(key, contexts.audio, ref, DOWNSTREAM_OF_ROPE)
        elif name in ("connector_mask", "context_mask"):
            ours = np.asarray(contexts.mask)
            assert np.array_equal(ours.astype(ref.dtype), ref), f"{key}: masks differ"
            print(f"PARITY {key} 0.000e+00 (exact)")
        elif name == "normed_hidden_states":
            continue  # compared below
        else:
            pytest.fail(f"{key}: output not computed by this test; add it")
        compared.add(name)
    assert compared, f"case {case} has no out/ arrays"
    normed_key = f"{case}/debug/normed_hidden_states"
    if normed_key in reference:
        assert isinstance(processor.feature_extractor, FeatureExtractorV2)
        check_parity(normed_key, normalize_per_token_rms(mx.stack(states, axis=-1), mask), reference[normed_key])


def test_features_from_reference_states(reference: Reference):
    """The feature extractor and connectors alone, fed the reference Gemma states."""
    if hidden_states_key(reference) not in reference:
        pytest.skip("no text case")
    _, processor = models(reference)
    mask = mx.array(reference["text/in/attention_mask"])
    raw = reference[hidden_states_key(reference)]
    states = [mx.array(s if s.ndim == 3 else s[None]) for s in raw]
    features = processor.feature_extractor(states, mask)
    video_key = "text/debug/features_video" if "text/debug/features_video" in reference else "text/out/features"
    audio_key = "text/debug/features_audio" if "text/debug/features_audio" in reference else "text/out/audio_features"
    check_parity(f"{video_key} (from reference states)", features.video, reference[video_key])
    if audio_key in reference:
        audio_ref = reference[audio_key]
        check_parity(f"{audio_key} (from reference states)", features.audio, audio_ref)
        given = TextFeatures(mx.array(reference[video_key]), mx.array(audio_ref))
    else:
        given = mx.array(reference["text/out/features"])  # V1: both connectors read the same features
    contexts = processor.connect(given, mask)
    for stream in ("video", "audio"):
        key = f"text/out/{stream}_context"
        check_parity(f"{key} (from reference features)", getattr(contexts, stream), reference[key], DOWNSTREAM_OF_ROPE)


def test_all_padding_prompt_is_finite(reference: Reference):
    """A row without any real token (an empty negative prompt, say) gives no NaN anywhere."""
    gemma, processor = models(reference)
    tokens = reference["text/in/input_ids"].shape[1]
    ids = mx.zeros((1, tokens), dtype=mx.int64)
    mask = mx.zeros((1, tokens), dtype=mx.int64)
    states = gemma.hidden_states(ids, mask)
    contexts = processor(states, mask)
    for value in (*states, contexts.video, contexts.audio):
        assert np.isfinite(np.asarray(value)).all()


VARIANT = Path(__file__).parent / "data" / "gemma_variant"


def test_gemma_variant_against_transformers():
    """tests/data/gemma_variant (tools/make_gemma_variant.py, transformers 4.57.6): text-only
    layout, derived layer pattern, projection width != hidden, query scale != head_dim,
    several sliding windows, batch 2 with different padding, final-logit soft-capping."""
    data = np.load(VARIANT / "reference.npz")
    model = load_gemma(VARIANT)
    assert [model.config.is_sliding(i) for i in range(7)] == [True] * 5 + [False, True]
    ids, mask = mx.array(data["input_ids"]), mx.array(data["attention_mask"])
    real = data["attention_mask"] > 0
    for skip in (False, True):
        states = model.hidden_states(ids, mask, skip_padding=skip)
        for index, state in enumerate(states):
            key = f"gemma_variant/hidden_states[{index}]{' (skip_padding)' if skip else ''}"
            check_parity(key, np.asarray(state)[real], data["hidden_states"][index][real])
    logits = model.logits(ids, mask, None)
    check_parity("gemma_variant/last_logits", logits, data["last_logits"])
