"""The staged text path (Gemma released before the embeddings processor loads) on the tiny 2.3
and 2.5 sets: the same contexts as the one-pass path, and never both models in memory."""

from __future__ import annotations

from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest

from ltx_core.loader.gemma4_source import load_split_prompt_encoder
from ltx_core.loader.text_encoder import load_prompt_encoder
from ltx_core.model.text_encoder.prompt_encoder import PromptEncoder
from tests.conftest import REFERENCE_ROOT
from tests.ltx25_helpers import component_file, ltx25_reference
from tests.text_helpers import gemma_folder_with_tokenizer

TOKENS = 128
PROMPT, NEGATIVE = "a dog walks on the beach at sunset", "rain"


def encoder_23(tmp_path: Path, staged: bool) -> PromptEncoder:
    reference = REFERENCE_ROOT / "ltx-2.3"
    gemma = tmp_path / "gemma"
    if not gemma.exists():
        gemma_folder_with_tokenizer(reference / "gemma", gemma)
    return load_prompt_encoder(gemma, reference / "ltx2-tiny.safetensors", "float32", max_length=TOKENS, staged=staged)


def encoder_25(_tmp_path: Path, staged: bool) -> PromptEncoder:
    reference = ltx25_reference()
    text, transformer = component_file(reference, "text_encoders"), component_file(reference, "diffusion_models")
    return load_split_prompt_encoder(text, transformer, "float32", max_length=TOKENS, staged=staged)


def one_pass_contexts(encoder: PromptEncoder, prompt: str):
    """What the encoder computed before staging: Gemma and the processor both loaded, one prompt
    straight through both, evaluated once at the end."""
    tokens = encoder.tokenizer(prompt)
    gemma = encoder.source.gemma(encoder.dtype, None, 64)
    processor = encoder.source.processor(encoder.dtype)
    contexts = processor(gemma.hidden_states(tokens.input_ids, tokens.attention_mask, skip_padding=True), tokens.attention_mask)
    mx.eval(contexts.video, contexts.audio, contexts.mask)
    return contexts


@pytest.mark.parametrize("make_encoder", [encoder_23, encoder_25], ids=["ltx-2.3", "ltx-2.5"])
def test_staged_contexts_equal_the_one_pass_path_and_never_hold_both_models(tmp_path: Path, make_encoder):
    staged = make_encoder(tmp_path, staged=True)
    together: list[str] = []
    real_gemma, real_processor = staged.source.gemma, staged.source.processor

    def gemma(*args):
        together.extend(["processor"] if staged._processor is not None else [])
        return real_gemma(*args)

    def processor(*args):
        together.extend(["gemma"] if staged._gemma is not None else [])
        return real_processor(*args)

    staged.source.gemma, staged.source.processor = gemma, processor
    result = staged.encode(PROMPT, negative_prompt=NEGATIVE)
    assert together == [], f"loaded while the other model was resident: {together}"
    assert staged._gemma is None and staged._processor is not None  # Gemma went before the processor came

    unstaged = make_encoder(tmp_path, staged=False)
    kept = unstaged.encode(PROMPT, negative_prompt=NEGATIVE)
    assert unstaged._gemma is not None and unstaged._processor is not None  # keep-loaded: both stay

    for name, contexts, prompt in (("positive", result.positive, PROMPT), ("negative", result.negative, NEGATIVE)):
        before = one_pass_contexts(unstaged, prompt)
        other = getattr(kept, name)
        for stream in ("video", "audio"):
            ours = np.asarray(getattr(contexts, stream))
            print(f"STAGED {make_encoder.__name__} {name} {stream} max abs diff "
                  f"{np.abs(ours - np.asarray(getattr(before, stream))).max():.1e}")  # fmt: skip
            assert np.array_equal(ours, np.asarray(getattr(before, stream))), (name, stream)
            assert np.array_equal(ours, np.asarray(getattr(other, stream))), (name, stream)
        assert np.array_equal(np.asarray(contexts.mask), np.asarray(before.mask))
    assert not np.array_equal(np.asarray(result.positive.video), np.asarray(result.negative.video))


def test_a_gemma_of_another_size_is_refused_before_any_model_loads(tmp_path: Path, monkeypatch):
    """The size check reads headers only: neither Gemma nor the processor is loaded first."""
    import json

    from ltx_core.errors import LTXError
    from ltx_core.loader import text_encoder as text_loader

    reference = REFERENCE_ROOT / "ltx-2.3"
    gemma = gemma_folder_with_tokenizer(reference / "gemma", tmp_path / "gemma")
    config = json.loads((gemma / "config.json").read_text())
    config["text_config"]["hidden_size"] *= 2
    (gemma / "config.json").unlink()
    (gemma / "config.json").write_text(json.dumps(config))

    def refuse(*_args, **_kwargs):
        raise AssertionError("nothing may load before the size check")

    monkeypatch.setattr(text_loader, "load_gemma", refuse)
    monkeypatch.setattr(text_loader, "load_embeddings_processor", refuse)
    encoder = load_prompt_encoder(gemma, reference / "ltx2-tiny.safetensors", "float32", max_length=TOKENS)
    with pytest.raises(LTXError, match="Gemma width"):
        encoder.encode(PROMPT)
