"""Per-run constants are computed once per run and give exactly the uncached numbers."""

from __future__ import annotations

import numpy as np

from ltx_core.loader import load_transformer
from ltx_core.model.transformer.run_cache import IdentityCache
from tests.conftest import Reference
from tests.test_transformer_parity import modality


def test_second_step_reuses_contexts_rope_and_text_kv(reference: Reference):
    model = load_transformer(reference.checkpoint)
    video, audio = modality(reference, "transformer_av", "video"), modality(reference, "transformer_av", "audio")
    first = model(video, audio)
    misses = model.run_cache.misses
    layers = model.config.num_layers
    # 2 projected contexts, 2 self + 2 cross RoPE tables, text K/V of both streams in every block
    assert misses == 6 + 2 * layers
    second = model(video, audio)
    assert model.run_cache.misses == misses and model.run_cache.hits >= misses
    for a, b in zip(first, second):
        np.testing.assert_array_equal(np.array(a), np.array(b))

    uncached = load_transformer(reference.checkpoint)
    uncached.cache_text_kv = False
    reference_out = uncached(video, audio)
    for a, b in zip(first, reference_out):
        np.testing.assert_allclose(np.array(a), np.array(b), rtol=0, atol=1e-6)
    model.clear_run_cache()
    assert len(model.run_cache) == 0


def test_identity_cache_is_bounded_and_keeps_keys_alive():
    import mlx.core as mx

    cache = IdentityCache(max_entries=2)
    arrays = [mx.array([i]) for i in range(3)]
    for a in arrays:
        cache.get((a, "x"), lambda a=a: a * 2)
    assert len(cache) == 2 and cache.misses == 3
    assert cache.get((arrays[2], "x"), lambda: None).item() == 4 and cache.hits == 1
