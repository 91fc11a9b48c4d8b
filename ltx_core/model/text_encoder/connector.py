"""The video / audio text-embeddings connectors and the processor that runs them.

A connector is a small 1-D transformer (RMSNorm -> self-attention with RoPE -> RMSNorm ->
GELU MLP, no AdaLN) over the text features. Before it runs, the real tokens are moved to
the front and every padding slot is filled with the learnable register of that slot, so the
connector output has no padding left and its mask is all ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import mlx.core as mx
import mlx.nn as nn
import numpy as np

from ltx_core.errors import ConfigError
from ltx_core.model.text_encoder.features import TextFeatures
from ltx_core.model.transformer.attention import Attention
from ltx_core.model.transformer.block import FeedForward
from ltx_core.model.transformer.rope import rotary_tables

NUM_REGISTERS = 128  # hard-coded in ltx-core 1.0.0, not in the checkpoint config
CONNECTOR_THETA = 10000.0  # the official configurator never passes the transformer's theta
_NORM_EPS = 1e-6


@dataclass(frozen=True)
class ConnectorConfig:
    heads: int
    head_dim: int
    layers: int
    max_pos: tuple[int, ...]
    rope_type: str
    double_precision_rope: bool
    gated_attention: bool = False

    @property
    def inner_dim(self) -> int:
        return self.heads * self.head_dim

    @classmethod
    def from_transformer_section(cls, section: dict, audio: bool, source: str) -> "ConnectorConfig":
        """Read the connector settings from the checkpoint's ``transformer`` config section
        (the audio connector falls back to the video connector's sizes, as the reference does)."""

        def size(key: str, default: int) -> int:
            value = section.get(f"audio_{key}", section.get(key, default)) if audio else section.get(key, default)
            if not isinstance(value, int) or value <= 0:
                raise ConfigError(f"{source}: {'audio_' if audio else ''}{key} must be a positive integer.")
            return value

        rope_type = section.get("rope_type", "interleaved")
        if rope_type not in ("interleaved", "split"):
            raise ConfigError(f"{source}: rope_type {rope_type!r} is not supported (interleaved, split).")
        return cls(
            heads=size("connector_num_attention_heads", 30),
            head_dim=size("connector_attention_head_dim", 128),
            layers=size("connector_num_layers", 2),
            max_pos=tuple(section.get("connector_positional_embedding_max_pos", [1])),
            rope_type=rope_type,
            double_precision_rope=section.get("frequencies_precision", False) == "float64",
            gated_attention=bool(section.get("connector_apply_gated_attention", False)),
        )


class ConnectorBlock(nn.Module):
    def __init__(self, config: ConnectorConfig):
        super().__init__()
        dim = config.inner_dim
        self.attn1 = Attention(dim, None, config.heads, config.head_dim, _NORM_EPS, gated=config.gated_attention)
        self.ff = FeedForward(dim)

    def __call__(self, x: mx.array, rope) -> mx.array:
        x = x + self.attn1(mx.fast.rms_norm(x, None, _NORM_EPS), rope=rope)
        return x + self.ff(mx.fast.rms_norm(x, None, _NORM_EPS))


class EmbeddingsConnector(nn.Module):
    def __init__(self, config: ConnectorConfig):
        super().__init__()
        self.config = config
        self.transformer_1d_blocks = [ConnectorBlock(config) for _ in range(config.layers)]
        self.learnable_registers = mx.zeros((NUM_REGISTERS, config.inner_dim))

    def __call__(self, features: mx.array, attention_mask: mx.array) -> mx.array:
        """``features`` (B, T, dim) with ``attention_mask`` (B, T) of 0/1 -> (B, T, dim)."""
        x = self.replace_padding(features, attention_mask)
        batch, tokens, _ = x.shape
        index = mx.arange(tokens, dtype=mx.float32)
        positions = mx.broadcast_to(mx.stack([index, index], axis=-1)[None, None], (batch, 1, tokens, 2))
        config = self.config
        rope = rotary_tables(
            positions,
            config.inner_dim,
            config.heads,
            CONNECTOR_THETA,
            list(config.max_pos),
            config.rope_type,
            config.double_precision_rope,
            x.dtype,
        )
        for block in self.transformer_1d_blocks:
            x = block(x, rope)
        return mx.fast.rms_norm(x, None, _NORM_EPS)

    def replace_padding(self, features: mx.array, attention_mask: mx.array) -> mx.array:
        """Real tokens first (in order), then register ``i`` at every padded slot ``i``."""
        batch, tokens, dim = features.shape
        if tokens % NUM_REGISTERS:
            raise ValueError(
                f"the text length ({tokens}) must be a multiple of {NUM_REGISTERS} (the connector's registers)"
            )
        registers = mx.tile(self.learnable_registers.astype(features.dtype), (tokens // NUM_REGISTERS, 1))
        mask = np.asarray(attention_mask).astype(bool)
        rows = []
        for b in range(batch):
            real = np.nonzero(mask[b])[0]
            count = len(real)
            moved = features[b][mx.array(real)] if count else features[b][:0]
            rows.append(mx.concatenate([moved, registers[count:]], axis=0))
        return mx.stack(rows)


def additive_mask(attention_mask: mx.array, dtype: mx.Dtype = mx.float32) -> mx.array:
    """(B, T) 0/1 -> (B, 1, 1, T): 0 for real tokens, ``-finfo.max`` for padding."""
    batch, tokens = attention_mask.shape
    value = (attention_mask.astype(mx.int64) - 1).astype(dtype) * mx.array(float(mx.finfo(dtype).max), dtype)
    return value.reshape(batch, 1, 1, tokens)


@dataclass
class TextContexts:
    """What the transformer consumes: per-prompt video and audio contexts and their mask."""

    video: mx.array  # (B, T, video connector width)
    audio: mx.array | None  # (B, T, audio connector width)
    mask: mx.array  # (B, T) int, all ones after register replacement


class EmbeddingsProcessor(nn.Module):
    """Feature extractor + video connector + audio connector."""

    def __init__(self, feature_extractor: nn.Module, video: EmbeddingsConnector, audio: EmbeddingsConnector | None):
        super().__init__()
        self.feature_extractor = feature_extractor
        self.video_connector = video
        if audio is not None:
            self.audio_connector = audio

    def __call__(self, hidden_states: list[mx.array] | mx.array, attention_mask: mx.array) -> TextContexts:
        features = self.feature_extractor(hidden_states, attention_mask)
        return self.connect(features, attention_mask)

    def connect(self, features: TextFeatures | mx.array, attention_mask: mx.array) -> TextContexts:
        """``features``: the extractor's output, or one array both connectors share (V1)."""
        if not isinstance(features, TextFeatures):
            features = TextFeatures(video=features, audio=features)
        video = self.video_connector(features.video, attention_mask)
        # The connector mask is all ones (registers fill the padding), so the official
        # "multiply by the binary mask" step leaves the video context unchanged.
        mask = mx.ones(attention_mask.shape, dtype=mx.int64)
        audio = None
        if "audio_connector" in self:
            if features.audio is None:
                raise ValueError("the audio connector needs audio features; the feature extractor gave none")
            audio = self.audio_connector(features.audio, attention_mask)
        return TextContexts(video=video, audio=audio, mask=mask)
