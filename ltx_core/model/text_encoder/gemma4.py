"""Gemma 4 "unified" decoder (text part) in MLX, returning the hidden state of every layer.

Matches Hugging Face ``Gemma4UnifiedTextModel`` as LTX-2.5 runs it (``model.model`` of the
unified model on text only). Differences from the Gemma 3 port (``gemma.py``):

- RMSNorm scales by the weight itself (not ``1 + w``); values get a weightless RMSNorm;
- attention scale 1.0 (q/k are RMS-normalised per head);
- sliding layers use ``head_dim`` and default RoPE; global layers use ``global_head_dim`` and
  proportional RoPE (only the first ``partial_rotary_factor`` of the angles rotate);
- with ``attention_k_eq_v`` global layers have no ``v_proj``: the (un-normed) key projection is
  the value, and their KV head count is ``num_global_key_value_heads``;
- every layer's output (residual included) is multiplied by a learned ``layer_scalar``.

Positions are ``0..T-1`` over the padded sequence, as in the reference (no position ids given).
"""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn
import numpy as np

from ltx_core.components.cpu_attention import attention
from ltx_core.model.text_encoder.gemma import GemmaMLP, RopeTable, apply_rope, attention_bias, rope_table
from ltx_core.model.text_encoder.gemma4_config import Gemma4Config


class Gemma4RMSNorm(nn.Module):
    """RMSNorm scaled by ``weight`` (or unscaled), computed in float32 and cast back."""

    def __init__(self, dim: int, eps: float, with_scale: bool = True):
        super().__init__()
        self.eps = eps
        if with_scale:
            self.weight = mx.ones((dim,))

    def __call__(self, x: mx.array) -> mx.array:
        weight = self.weight.astype(mx.float32) if "weight" in self else None
        return mx.fast.rms_norm(x.astype(mx.float32), weight, self.eps).astype(x.dtype)


class Gemma4Attention(nn.Module):
    def __init__(self, config: Gemma4Config, layer: int):
        super().__init__()
        self.heads = config.num_attention_heads
        self.kv_heads = config.layer_kv_heads(layer)
        self.head_dim = config.layer_head_dim(layer)
        self.keys_are_values = config.keys_equal_values(layer)
        hidden, eps = config.hidden_size, config.rms_norm_eps
        self.q_proj = nn.Linear(hidden, self.heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(hidden, self.kv_heads * self.head_dim, bias=False)
        if not self.keys_are_values:
            self.v_proj = nn.Linear(hidden, self.kv_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(self.heads * self.head_dim, hidden, bias=False)
        self.q_norm = Gemma4RMSNorm(self.head_dim, eps)
        self.k_norm = Gemma4RMSNorm(self.head_dim, eps)
        self.v_norm = Gemma4RMSNorm(self.head_dim, eps, with_scale=False)

    def __call__(self, x: mx.array, rope: RopeTable, mask: mx.array) -> mx.array:
        batch, tokens, _ = x.shape

        def split(t: mx.array, heads: int) -> mx.array:
            return t.reshape(batch, tokens, heads, self.head_dim).transpose(0, 2, 1, 3)

        q = apply_rope(self.q_norm(split(self.q_proj(x), self.heads)), rope)
        keys = split(self.k_proj(x), self.kv_heads)
        values = keys if self.keys_are_values else split(self.v_proj(x), self.kv_heads)
        k = apply_rope(self.k_norm(keys), rope)
        v = self.v_norm(values)
        out = attention(q, k, v, 1.0, mask)
        return self.o_proj(out.transpose(0, 2, 1, 3).reshape(batch, tokens, -1))


class Gemma4DecoderLayer(nn.Module):
    def __init__(self, config: Gemma4Config, layer: int):
        super().__init__()
        self.sliding = config.is_sliding(layer)
        eps = config.rms_norm_eps
        self.self_attn = Gemma4Attention(config, layer)
        self.mlp = GemmaMLP(config)  # the same gated GELU MLP as Gemma 3
        self.input_layernorm = Gemma4RMSNorm(config.hidden_size, eps)
        self.post_attention_layernorm = Gemma4RMSNorm(config.hidden_size, eps)
        self.pre_feedforward_layernorm = Gemma4RMSNorm(config.hidden_size, eps)
        self.post_feedforward_layernorm = Gemma4RMSNorm(config.hidden_size, eps)
        self.layer_scalar = mx.ones((1,))

    def __call__(self, x: mx.array, rope: RopeTable, mask: mx.array) -> mx.array:
        h = x + self.post_attention_layernorm(self.self_attn(self.input_layernorm(x), rope, mask))
        h = h + self.post_feedforward_layernorm(self.mlp(self.pre_feedforward_layernorm(h)))
        return h * self.layer_scalar


class Gemma4TextModel(nn.Module):
    """The Gemma 4 language model for prompt encoding (no LM head: ``gemma4_unified`` is encode-only
    in LTX-2.5). Same ``hidden_states`` API as ``GemmaTextModel``."""

    def __init__(self, config: Gemma4Config):
        super().__init__()
        self.config = config
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = [Gemma4DecoderLayer(config, i) for i in range(config.num_hidden_layers)]
        self.norm = Gemma4RMSNorm(config.hidden_size, config.rms_norm_eps)
        self._inverse_frequencies = {s: mx.array(config.inverse_frequencies(s)) for s in (True, False)}

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
        positions) and returns zeros at the padded positions: real tokens never attend to
        padding, so their states are the same as in the full pass.
        """
        if not skip_padding or attention_mask is None:
            return self._forward(input_ids, attention_mask)
        mask = np.asarray(attention_mask).astype(bool)
        tokens = mask.shape[1]
        rows: list[list[mx.array]] = []
        for row in range(mask.shape[0]):
            count = int(mask[row].sum())
            if not mask[row, tokens - count :].all():  # not left padding: the full pass
                return self._forward(input_ids, attention_mask)
            pad = mx.zeros((1, tokens - count, self.config.hidden_size), dtype=self.dtype)
            if not count:
                rows.append([pad] * self.config.num_states)
                continue
            states = self._forward(input_ids[row : row + 1, tokens - count :], None, tokens - count)
            rows.append([mx.concatenate([pad, s], axis=1) for s in states])
        return [mx.concatenate([r[i] for r in rows], axis=0) for i in range(self.config.num_states)]

    def _forward(
        self, input_ids: mx.array, attention_mask: mx.array | None, first_position: int = 0
    ) -> list[mx.array]:
        config = self.config
        batch, tokens = input_ids.shape
        dtype = self.dtype
        if attention_mask is None:
            attention_mask = mx.ones((batch, tokens), dtype=mx.int32)
        if attention_mask.shape[-1] != tokens:
            raise ValueError(f"attention_mask covers {attention_mask.shape[-1]} positions, expected {tokens}")
        h = self.embed_tokens(input_ids)
        h = h * mx.array(config.embed_scale, dtype=mx.float32).astype(h.dtype)
        positions = mx.broadcast_to(mx.arange(first_position, first_position + tokens)[None], (batch, tokens))
        ropes = {s: rope_table(positions, f, dtype) for s, f in self._inverse_frequencies.items()}
        masks = {
            s: attention_bias(attention_mask, 0, tokens, config.sliding_window if s else None, dtype)
            for s in (True, False)
        }
        states = [h]
        for layer in self.layers:
            h = layer(h, ropes[layer.sliding], masks[layer.sliding])
            mx.eval(h)  # one layer per evaluation: a bounded graph (and GPU command buffer)
            states.append(h)
        states[-1] = self.norm(h)
        return states
