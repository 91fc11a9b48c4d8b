"""Gemma 3 decoder (text part) in MLX, returning the hidden state of every layer.

Matches Hugging Face ``Gemma3TextModel``: scaled embeddings, pre/post RMSNorms with the
``1 + w`` weight, q/k RMSNorm per head, grouped-query attention, GELU-tanh gated MLP,
sliding-window layers with the local RoPE base and global layers with the global base
(with linear RoPE scaling), optional final-logit soft-capping. Positions are ``0..T-1`` over
the padded sequence, exactly as the reference (which passes no position ids).

``attn_logit_softcapping`` is deliberately not applied: transformers' Gemma 3 (4.57 used
by the reference, and 5.x) stores it but never passes it to its attention functions, so the
reference hidden states are computed without it (Gemma 3 configs set it to null anyway).
"""

from __future__ import annotations

from dataclasses import dataclass

import mlx.core as mx
import mlx.nn as nn
import numpy as np

from ltx_core.components.cpu_attention import attention
from ltx_core.model.text_encoder.gemma_config import GemmaConfig


class GemmaRMSNorm(nn.Module):
    """RMSNorm with weight ``1 + w``, computed in float32 and cast back."""

    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.weight = mx.zeros((dim,))
        self.eps = eps

    def __call__(self, x: mx.array) -> mx.array:
        scale = 1.0 + self.weight.astype(mx.float32)
        return mx.fast.rms_norm(x.astype(mx.float32), scale, self.eps).astype(x.dtype)


@dataclass
class RopeTable:
    cos: mx.array  # (B, 1, T, head_dim)
    sin: mx.array


def rope_table(positions: mx.array, inverse_frequencies: mx.array, dtype: mx.Dtype) -> RopeTable:
    """``positions`` (B, T) -> cos/sin of ``position * inv_freq`` duplicated over both halves."""
    angles = positions.astype(mx.float32)[:, :, None] * inverse_frequencies[None, None, :]
    angles = mx.concatenate([angles, angles], axis=-1)[:, None]
    return RopeTable(mx.cos(angles).astype(dtype), mx.sin(angles).astype(dtype))


def apply_rope(x: mx.array, table: RopeTable) -> mx.array:
    half = x.shape[-1] // 2
    rotated = mx.concatenate([-x[..., half:], x[..., :half]], axis=-1)
    return x * table.cos + rotated * table.sin


class KVCache:
    """Keys and values of every layer for generation, in buffers grown ``STEP`` positions at a
    time (appending a token writes into the buffer instead of copying the whole cache)."""

    STEP = 256

    def __init__(self, layers: int):
        self.keys: list[mx.array | None] = [None] * layers
        self.values: list[mx.array | None] = [None] * layers
        self.length = 0  # positions stored (updated by the model after all layers ran)

    def update(self, layer: int, k: mx.array, v: mx.array) -> tuple[mx.array, mx.array]:
        start, end = self.length, self.length + k.shape[2]
        keys, values = self.keys[layer], self.values[layer]
        if keys is None or keys.shape[2] < end:
            grow = ((end - (0 if keys is None else keys.shape[2]) + self.STEP - 1) // self.STEP) * self.STEP
            shape = (k.shape[0], k.shape[1], grow, k.shape[3])
            extra_k, extra_v = mx.zeros(shape, k.dtype), mx.zeros(shape, v.dtype)
            keys = extra_k if keys is None else mx.concatenate([keys[:, :, :start], extra_k], axis=2)
            values = extra_v if values is None else mx.concatenate([values[:, :, :start], extra_v], axis=2)
        keys[:, :, start:end] = k
        values[:, :, start:end] = v
        self.keys[layer], self.values[layer] = keys, values
        return keys[:, :, :end], values[:, :, :end]


class GemmaAttention(nn.Module):
    def __init__(self, config: GemmaConfig):
        super().__init__()
        self.heads = config.num_attention_heads
        self.kv_heads = config.num_key_value_heads
        self.head_dim = config.head_dim
        self.scale = config.query_pre_attn_scalar**-0.5
        hidden, inner = config.hidden_size, self.heads * self.head_dim
        self.q_proj = nn.Linear(hidden, inner, bias=False)
        self.k_proj = nn.Linear(hidden, self.kv_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(hidden, self.kv_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(inner, hidden, bias=False)
        self.q_norm = GemmaRMSNorm(self.head_dim, config.rms_norm_eps)
        self.k_norm = GemmaRMSNorm(self.head_dim, config.rms_norm_eps)

    def __call__(
        self,
        x: mx.array,
        rope: RopeTable,
        mask: mx.array,
        cache: KVCache | None = None,
        layer: int = 0,
    ) -> mx.array:
        batch, tokens, _ = x.shape

        def split(t: mx.array, heads: int) -> mx.array:
            return t.reshape(batch, tokens, heads, self.head_dim).transpose(0, 2, 1, 3)

        q = apply_rope(self.q_norm(split(self.q_proj(x), self.heads)), rope)
        k = apply_rope(self.k_norm(split(self.k_proj(x), self.kv_heads)), rope)
        v = split(self.v_proj(x), self.kv_heads)
        if cache is not None:
            k, v = cache.update(layer, k, v)
        out = attention(q, k, v, self.scale, mask)
        return self.o_proj(out.transpose(0, 2, 1, 3).reshape(batch, tokens, -1))


class GemmaMLP(nn.Module):
    def __init__(self, config: GemmaConfig):
        super().__init__()
        self.gate_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.up_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.down_proj = nn.Linear(config.intermediate_size, config.hidden_size, bias=False)

    def __call__(self, x: mx.array) -> mx.array:
        return self.down_proj(nn.gelu_approx(self.gate_proj(x)) * self.up_proj(x))


class GemmaDecoderLayer(nn.Module):
    def __init__(self, config: GemmaConfig, sliding: bool):
        super().__init__()
        self.sliding = sliding
        eps = config.rms_norm_eps
        self.self_attn = GemmaAttention(config)
        self.mlp = GemmaMLP(config)
        self.input_layernorm = GemmaRMSNorm(config.hidden_size, eps)
        self.post_attention_layernorm = GemmaRMSNorm(config.hidden_size, eps)
        self.pre_feedforward_layernorm = GemmaRMSNorm(config.hidden_size, eps)
        self.post_feedforward_layernorm = GemmaRMSNorm(config.hidden_size, eps)

    def __call__(self, x: mx.array, rope: RopeTable, mask: mx.array, cache: KVCache | None, layer: int) -> mx.array:
        h = self.self_attn(self.input_layernorm(x), rope, mask, cache, layer)
        x = x + self.post_attention_layernorm(h)
        h = self.mlp(self.pre_feedforward_layernorm(x))
        return x + self.post_feedforward_layernorm(h)


class GemmaTextModel(nn.Module):
    """The Gemma 3 language model; ``lm_head`` exists only when the embeddings are untied."""

    def __init__(self, config: GemmaConfig):
        super().__init__()
        self.config = config
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = [GemmaDecoderLayer(config, config.is_sliding(i)) for i in range(config.num_hidden_layers)]
        self.norm = GemmaRMSNorm(config.hidden_size, config.rms_norm_eps)
        if not config.tie_word_embeddings:
            self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self._inverse_frequencies = {
            True: mx.array(config.local_rope.inverse_frequencies(config.head_dim)),
            False: mx.array(config.global_rope.inverse_frequencies(config.head_dim)),
        }

    @property
    def dtype(self) -> mx.Dtype:
        return self.norm.weight.dtype

    def hidden_states(
        self, input_ids: mx.array, attention_mask: mx.array | None = None, skip_padding: bool = False
    ) -> list[mx.array]:
        """Every hidden state, as ``output_hidden_states=True`` returns them: the scaled
        embeddings, the output of each layer but the last, and the last layer's output after
        the final norm (``num_hidden_layers + 1`` arrays of shape (B, T, hidden)).

        ``skip_padding`` runs each left-padded row on its real tokens only (at their original
        positions) and returns zeros at the padded positions. Real tokens never attend to
        padding and nothing downstream reads padded states, so the real positions get the same
        values while a typical prompt costs a fraction of the 1024-token pass.
        """
        if not skip_padding or attention_mask is None:
            states: list[mx.array] = []
            self._forward(input_ids, attention_mask, None, states)
            return states
        mask = np.asarray(attention_mask).astype(bool)
        tokens = mask.shape[1]
        rows: list[list[mx.array]] = []
        for row in range(mask.shape[0]):
            count = int(mask[row].sum())
            if not mask[row, tokens - count :].all():  # not left padding: the full pass
                return self.hidden_states(input_ids, attention_mask, skip_padding=False)
            row_states: list[mx.array] = []
            if count:
                self._forward(input_ids[row : row + 1, tokens - count :], None, None, row_states, tokens - count)
            pad = mx.zeros((1, tokens - count, self.config.hidden_size), dtype=self.dtype)
            rows.append([mx.concatenate([pad, s], axis=1) for s in row_states] or [pad] * self.config.num_states)
        return [mx.concatenate([r[i] for r in rows], axis=0) for i in range(self.config.num_states)]

    def logits(self, input_ids: mx.array, attention_mask: mx.array | None, cache: KVCache | None) -> mx.array:
        """Next-token logits of the last position (generation; ``cache`` is extended in place)."""
        h = self._forward(input_ids, attention_mask, cache, None)[:, -1:, :]
        if "lm_head" in self:
            logits = self.lm_head(h)
        else:
            logits = self.embed_tokens.as_linear(h)
        logits = logits.astype(mx.float32)
        cap = self.config.final_logit_softcapping
        if cap is not None:
            logits = mx.tanh(logits / cap) * cap
        return logits[:, 0, :]

    def _forward(
        self,
        input_ids: mx.array,
        attention_mask: mx.array | None,
        cache: KVCache | None,
        states: list[mx.array] | None,
        first_position: int = 0,
    ) -> mx.array:
        config = self.config
        batch, tokens = input_ids.shape
        offset = cache.length if cache is not None else 0
        total = offset + tokens
        dtype = self.dtype
        if attention_mask is None:
            attention_mask = mx.ones((batch, total), dtype=mx.int32)
        if attention_mask.shape[-1] != total:
            raise ValueError(f"attention_mask covers {attention_mask.shape[-1]} positions, expected {total}")
        h = self.embed_tokens(input_ids)
        h = h * mx.array(config.embed_scale, dtype=mx.float32).astype(h.dtype)
        positions = mx.broadcast_to(mx.arange(first_position + offset, first_position + total)[None], (batch, tokens))
        ropes = {s: rope_table(positions, f, dtype) for s, f in self._inverse_frequencies.items()}
        masks = {
            s: attention_bias(attention_mask, offset, tokens, config.sliding_window if s else None, dtype)
            for s in (True, False)
        }
        if states is not None:
            states.append(h)
        last = len(self.layers) - 1
        for index, layer in enumerate(self.layers):
            h = layer(h, ropes[layer.sliding], masks[layer.sliding], cache, index)
            if states is not None:
                mx.eval(h)  # one layer per evaluation: a bounded graph (and GPU command buffer)
                if index < last:
                    states.append(h)
        h = self.norm(h)
        if states is not None:
            states.append(h)
        if cache is not None:
            cache.length = total
        return h


def attention_bias(
    attention_mask: mx.array, offset: int, tokens: int, window: int | None, dtype: mx.Dtype
) -> mx.array:
    """Additive (B, 1, Tq, Tk) bias: causal, padding and (for sliding layers) window.

    A key is visible when it is not padding, not in the future and, with a window, fewer than
    ``window`` positions back. Blocked entries get a large *finite* negative value so a query
    row that sees nothing (a padding position) stays finite instead of becoming NaN.
    """
    total = attention_mask.shape[-1]
    q = mx.arange(offset, offset + tokens)[:, None]
    k = mx.arange(total)[None, :]
    visible = k <= q
    if window is not None:
        visible = visible & (k > q - window)
    visible = visible[None, None] & (attention_mask[:, None, None, :] > 0)
    blocked = mx.array(-0.5 * float(mx.finfo(dtype).max), dtype=dtype)
    return mx.where(visible, mx.array(0.0, dtype=dtype), blocked)
