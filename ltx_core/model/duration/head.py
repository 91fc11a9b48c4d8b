"""LTX-2.5 duration head: predicts a shot's length in seconds from the text connectors' outputs.

Each stream (video context (B, Tv, video_dim), audio context (B, Ta, audio_dim)) is projected
to ``pooler_hidden_dim`` and tagged with a learned modality embedding; the streams are
concatenated along the tokens and ``num_queries`` learned queries cross-attend to them
(PyTorch ``nn.MultiheadAttention`` maths: packed q/k/v input projection with bias, softmax
scaled by ``1/sqrt(head_dim)``, output projection). The pooled queries, flattened, go through
Linear -> GELU(tanh) -> Linear to a log-duration whose ``exp`` is returned. No mask: the
connectors already replaced padding with registers, so every token is valid.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import mlx.core as mx
import mlx.nn as nn

from ltx_core.config_base import ConfigBase, require_positive_int
from ltx_core.errors import ConfigError


@dataclass(frozen=True)
class DurationHeadConfig(ConfigBase):
    """``config`` metadata of the duration-head file: the two input widths come from its
    ``transformer`` section, the head's own sizes from its ``duration_head`` section (absent keys
    take ltx-core's defaults)."""

    SECTION: ClassVar[str] = "duration_head"

    video_dim: int = 4096
    audio_dim: int = 2048
    pooler_hidden_dim: int = 256
    num_queries: int = 1
    num_pooler_heads: int = 4
    mlp_hidden: int = 256

    @classmethod
    def from_metadata(cls, config: Mapping[str, Any], source: str = "duration head config") -> "DurationHeadConfig":
        if not isinstance(config, Mapping):
            raise ConfigError(f"{source}: expected a JSON object.")
        transformer = config.get("transformer") or {}
        head = config.get(cls.SECTION) or {}
        for name, section in (("transformer", transformer), (cls.SECTION, head)):
            if not isinstance(section, Mapping):
                raise ConfigError(f"{source}: section '{name}' must be a JSON object.")
        values = dict(head)
        for key, field_name in (("cross_attention_dim", "video_dim"), ("audio_cross_attention_dim", "audio_dim")):
            if key in transformer:
                values[field_name] = transformer[key]
        return cls.from_dict(values, source=source)

    def validate(self, where: str) -> None:
        for key in ("video_dim", "audio_dim", "pooler_hidden_dim", "num_queries", "num_pooler_heads", "mlp_hidden"):
            require_positive_int(where, key, getattr(self, key))
        if self.pooler_hidden_dim % self.num_pooler_heads:
            raise ConfigError(
                f"{where}: pooler_hidden_dim ({self.pooler_hidden_dim}) must be a multiple of num_pooler_heads "
                f"({self.num_pooler_heads})."
            )


class PoolerAttention(nn.Module):
    """``nn.MultiheadAttention(batch_first=True)`` forward without a mask; same parameter names."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.in_proj_weight = mx.zeros((3 * dim, dim))
        self.in_proj_bias = mx.zeros((3 * dim,))
        self.out_proj = nn.Linear(dim, dim)

    def __call__(self, queries: mx.array, tokens: mx.array) -> mx.array:
        dim = queries.shape[-1]
        w, b = self.in_proj_weight, self.in_proj_bias
        q = queries @ w[:dim].T + b[:dim]
        k = tokens @ w[dim : 2 * dim].T + b[dim : 2 * dim]
        v = tokens @ w[2 * dim :].T + b[2 * dim :]

        def split(t: mx.array) -> mx.array:
            return t.reshape(t.shape[0], t.shape[1], self.heads, -1).transpose(0, 2, 1, 3)

        head_dim = dim // self.heads
        out = mx.fast.scaled_dot_product_attention(split(q), split(k), split(v), scale=1.0 / math.sqrt(head_dim))
        return self.out_proj(out.transpose(0, 2, 1, 3).reshape(queries.shape[0], queries.shape[1], dim))


class AttentionPooler(nn.Module):
    def __init__(self, dim: int, num_queries: int, heads: int):
        super().__init__()
        self.query_tokens = mx.zeros((num_queries, dim))
        self.cross_attn = PoolerAttention(dim, heads)

    def __call__(self, tokens: mx.array) -> mx.array:
        queries = mx.broadcast_to(self.query_tokens[None], (tokens.shape[0], *self.query_tokens.shape))
        return self.cross_attn(queries.astype(tokens.dtype), tokens)


class DurationHead(nn.Module):
    def __init__(self, config: DurationHeadConfig):
        super().__init__()
        self.config = config
        dim = config.pooler_hidden_dim
        self.video_input_proj = nn.Linear(config.video_dim, dim)
        self.video_modality_emb = mx.zeros((dim,))
        self.audio_input_proj = nn.Linear(config.audio_dim, dim)
        self.audio_modality_emb = mx.zeros((dim,))
        self.attention_pooler = AttentionPooler(dim, config.num_queries, config.num_pooler_heads)
        self.mlp_hidden = nn.Linear(dim * config.num_queries, config.mlp_hidden)
        self.mlp_out = nn.Linear(config.mlp_hidden, 1)

    def __call__(self, video: mx.array | None = None, audio: mx.array | None = None) -> mx.array:
        """Seconds, shape (B,), from either or both connector outputs."""
        if video is None and audio is None:
            raise ValueError("the duration head needs the video context, the audio context or both")
        groups = []
        if video is not None:
            groups.append(self.video_input_proj(video) + self.video_modality_emb)
        if audio is not None:
            groups.append(self.audio_input_proj(audio) + self.audio_modality_emb)
        pooled = self.attention_pooler(mx.concatenate(groups, axis=1))
        hidden = nn.gelu_approx(self.mlp_hidden(pooled.reshape(pooled.shape[0], -1)))
        return mx.exp(self.mlp_out(hidden)[:, 0])
