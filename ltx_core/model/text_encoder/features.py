"""Gemma hidden states -> text features.

V1 (19B, LTX-2.0): each hidden state is normalised on its own, over the real tokens of each prompt: minus the
masked mean over (tokens, channels), times ``8 / (max - min)``; padding becomes 0. The
normalised states are concatenated channel-major (channel ``c`` of layer ``l`` lands at
``c * layers + l``) and projected by ``aggregate_embed`` (no bias) back to the Gemma width;
video and audio share the features.

V2 (22B, LTX-2.3): every token of every hidden state is RMS-normalised on its own, the
states are concatenated the same way, padding becomes 0, and two projections with bias map
them to the video and the audio width, each input scaled by ``sqrt(width / gemma width)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mlx.core as mx
import mlx.nn as nn

_EPS = 1e-6


@dataclass
class TextFeatures:
    """The connectors' inputs: video features and audio features (the same array in V1)."""

    video: mx.array  # (B, T, video width)
    audio: mx.array | None  # (B, T, audio width); None without an audio projection


def _stack(hidden_states: list[mx.array] | mx.array, hidden_size: int, num_states: int) -> mx.array:
    stacked = mx.stack(hidden_states, axis=-1) if isinstance(hidden_states, list) else hidden_states
    if stacked.shape[-1] != num_states or stacked.shape[-2] != hidden_size:
        raise ValueError(
            f"the feature projection expects {num_states} hidden states of width {hidden_size}, "
            f"got {stacked.shape[-1]} of width {stacked.shape[-2]}"
        )
    return stacked


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

    def __call__(self, hidden_states: list[mx.array] | mx.array, attention_mask: mx.array) -> TextFeatures:
        stacked = _stack(hidden_states, self.hidden_size, self.num_states)
        normed = normalize_hidden_states(stacked, attention_mask).astype(stacked.dtype)
        features = self.aggregate_embed(normed)
        return TextFeatures(video=features, audio=features)


def normalize_per_token_rms(states: mx.array, attention_mask: mx.array) -> mx.array:
    """V2 normalisation: ``states`` (B, T, D, L), ``attention_mask`` (B, T) -> (B, T, D*L)."""
    batch, tokens, dim, layers = states.shape
    variance = mx.mean(mx.square(states), axis=2, keepdims=True)
    normed = (states * mx.rsqrt(variance + _EPS)).reshape(batch, tokens, dim * layers)
    return mx.where((attention_mask > 0)[:, :, None], normed, mx.zeros((), normed.dtype))


class FeatureExtractorV2(nn.Module):
    """All Gemma hidden states -> separate video and audio features (LTX-2.3)."""

    def __init__(self, hidden_size: int, num_states: int, video_dim: int, audio_dim: int | None):
        super().__init__()
        self.hidden_size = hidden_size
        self.num_states = num_states
        self.video_aggregate_embed = nn.Linear(hidden_size * num_states, video_dim, bias=True)
        if audio_dim is not None:
            self.audio_aggregate_embed = nn.Linear(hidden_size * num_states, audio_dim, bias=True)

    def __call__(self, hidden_states: list[mx.array] | mx.array, attention_mask: mx.array) -> TextFeatures:
        stacked = _stack(hidden_states, self.hidden_size, self.num_states)
        normed = normalize_per_token_rms(stacked, attention_mask).astype(stacked.dtype)

        def project(embed: nn.Linear) -> mx.array:
            scale = math.sqrt(embed.weight.shape[0] / self.hidden_size)
            return embed(normed * scale)

        video = project(self.video_aggregate_embed)
        audio = project(self.audio_aggregate_embed) if "audio_aggregate_embed" in self else None
        return TextFeatures(video=video, audio=audio)
