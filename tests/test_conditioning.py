"""Conditioning items: token replacement, appended keyframes/references and their attention masks."""

from __future__ import annotations

import mlx.core as mx
import numpy as np
import pytest

from ltx_core.pipelines.latents import (
    ConditioningError,
    KeyframeConditioning,
    LatentIndexConditioning,
    ReferenceVideoConditioning,
    VideoLatentSpace,
    extend_attention_mask,
)
from ltx_core.types import VideoLatentShape

SPACE = VideoLatentSpace(VideoLatentShape(1, 4, 3, 2, 2), fps=24.0)  # 12 tokens


def test_latent_index_replaces_first_frame_tokens():
    state = SPACE.initial_state()
    latent = mx.full((1, 4, 1, 2, 2), 7.0)
    out = LatentIndexConditioning(latent, strength=0.75).apply(state, SPACE)
    assert np.allclose(np.array(out.latent[0, :4]), 7.0) and np.allclose(np.array(out.latent[0, 4:]), 0.0)
    np.testing.assert_allclose(np.array(out.denoise_mask[0, :, 0]), [0.25] * 4 + [1.0] * 8)
    with pytest.raises(ConditioningError, match="width and height"):
        LatentIndexConditioning(mx.zeros((1, 4, 1, 3, 2)), 1.0).apply(state, SPACE)


def test_keyframe_tokens_are_appended_with_their_frame_positions():
    state = SPACE.initial_state()
    out = KeyframeConditioning(mx.ones((1, 4, 1, 2, 2)), frame_index=16, strength=1.0).apply(state, SPACE)
    assert out.latent.shape[1] == 16 and out.attention_mask is None
    times = np.array(out.positions[0, 0, 12:, :])
    np.testing.assert_allclose(times, np.tile([[16 / 24, 24 / 24]], (4, 1)), rtol=1e-6)
    assert SPACE.finish(out).shape == (1, 4, 3, 2, 2)


def test_reference_attention_weights_follow_the_official_blocks():
    state = SPACE.initial_state()
    ref = ReferenceVideoConditioning(mx.ones((1, 4, 3, 1, 1)), downscale_factor=2, attention=0.5).apply(state, SPACE)
    mask = np.array(ref.attention_mask[0])
    assert mask.shape == (15, 15)
    assert (mask[:12, :12] == 1).all() and (mask[12:, 12:] == 1).all()
    assert (mask[:12, 12:] == 0.5).all() and (mask[12:, :12] == 0.5).all()
    assert np.array(ref.positions[0, 1, 12, :]).tolist() == [0.0, 64.0]  # y scaled by the downscale factor
    both = KeyframeConditioning(mx.ones((1, 4, 1, 2, 2)), 8, 1.0).apply(ref, SPACE)
    grown = np.array(both.attention_mask[0])
    assert grown.shape == (19, 19)
    assert (grown[15:, :12] == 1).all() and (grown[15:, 12:15] == 0).all() and (grown[12:15, 15:] == 0).all()
    assert extend_attention_mask(state, 12, 3, None) is None
