"""Gemma hidden states -> text features (the 19B "V1" feature extractor).

Each hidden state is normalised on its own, over the real tokens of each prompt: minus the
masked mean over (tokens, channels), times ``8 / (max - min)``; padding becomes 0. The
normalised states are concatenated channel-major (channel ``c`` of layer ``l`` lands at
``c * layers + l``) and projected by ``aggregate_embed`` (no bias) back to the Gemma width.
"""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn

_EPS = 1e-6


def normalize_hidden_states(states: mx.array, attention_mask: mx.array) -> mx.array:
    """``states`` (B, T, D, L), ``attention_mask`` (B, T) of 0/1 -> (B, T, D*L)."""
    batch, tokens, dim, layers = states.shape
    mask = (attention_mask > 0)[:, :, None, None]
    lengths = attention_mask.astype(mx.float32).sum(axis=-1).reshape(batch, 1, 1, 1)
    masked = mx.where(mask, states, 0.0)
    mean = masked.sum(axis=(1, 2), keepdims=True) / (lengths * dim + _EPS)
    low = mx.where(mask, states, mx.inf).min(axis=(1, 2), keepdims=True)
    high = mx.where(mask, states, -mx.inf).max(axis=(1, 2), keepdims=True)
    normed = 8 * (states - mean) / (high - low + _EPS)
    # A prompt without any real token has an infinite range: its features are all padding.
    normed = mx.where(mask, normed, 0.0)
    return normed.reshape(batch, tokens, dim * layers)


class FeatureExtractorV1(nn.Module):
    """All Gemma hidden states -> one feature vector per token, shared by video and audio."""

    def __init__(self, hidden_size: int, num_states: int):
        super().__init__()
        self.hidden_size = hidden_size
        self.num_states = num_states
        self.aggregate_embed = nn.Linear(hidden_size * num_states, hidden_size, bias=False)

    def __call__(self, hidden_states: list[mx.array] | mx.array, attention_mask: mx.array) -> mx.array:
        stacked = mx.stack(hidden_states, axis=-1) if isinstance(hidden_states, list) else hidden_states
        if stacked.shape[-1] != self.num_states or stacked.shape[-2] != self.hidden_size:
            raise ValueError(
                f"the feature projection expects {self.num_states} hidden states of width {self.hidden_size}, "
                f"got {stacked.shape[-1]} of width {stacked.shape[-2]}"
            )
        dtype = stacked.dtype
        normed = normalize_hidden_states(stacked, attention_mask).astype(dtype)
        return self.aggregate_embed(normed)
