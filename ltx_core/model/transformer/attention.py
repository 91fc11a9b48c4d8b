"""Multi-head attention with q/k RMSNorm, RoPE, STG pass-through and optional per-head gates."""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn

from ltx_core.components.cpu_attention import attention
from ltx_core.model.transformer.rope import RotaryTables, apply_rotary


class Attention(nn.Module):
    def __init__(
        self,
        query_dim: int,
        context_dim: int | None,
        heads: int,
        dim_head: int,
        norm_eps: float,
        gated: bool = False,
    ):
        super().__init__()
        inner = heads * dim_head
        context_dim = query_dim if context_dim is None else context_dim
        self.heads = heads
        self.dim_head = dim_head
        self.scale = dim_head**-0.5
        self.q_norm = nn.RMSNorm(inner, eps=norm_eps)
        self.k_norm = nn.RMSNorm(inner, eps=norm_eps)
        self.to_q = nn.Linear(query_dim, inner)
        self.to_k = nn.Linear(context_dim, inner)
        self.to_v = nn.Linear(context_dim, inner)
        self.to_out = nn.Linear(inner, query_dim)
        if gated:
            self.to_gate_logits = nn.Linear(query_dim, heads)

    def __call__(
        self,
        x: mx.array,
        context: mx.array | None = None,
        mask: mx.array | None = None,
        rope: RotaryTables | None = None,
        k_rope: RotaryTables | None = None,
        keep: mx.array | None = None,
        skip_attention: bool = False,
        kv: tuple[mx.array, mx.array] | None = None,
    ) -> mx.array:
        """``keep`` is a ``(B, 1, 1)`` 0/1 mask: 0 replaces the attention output by the value
        projection for that sample (STG); ``skip_attention`` does so for the whole batch and
        skips the query/key path."""
        context = x if context is None else context
        if kv is not None:  # precomputed from ``context_kv`` (no RoPE on keys)
            k, vh = kv
            v = None
        else:
            v = self.to_v(context)
        if skip_attention:
            out = v
        else:
            q = self._heads(self.q_norm(self.to_q(x)), rope)
            if kv is None:
                k = self._heads(self.k_norm(self.to_k(context)), rope if k_rope is None else k_rope)
                vh = self._heads(v, None)
            out = attention(q, k, vh, self.scale, mask)
            out = out.transpose(0, 2, 1, 3).reshape(x.shape[0], -1, self.heads * self.dim_head)
            if keep is not None:
                out = out * keep + v * (1 - keep)
        if "to_gate_logits" in self:
            gates = 2.0 * mx.sigmoid(self.to_gate_logits(x))  # zero logits -> identity
            batch, tokens, _ = out.shape
            out = (out.reshape(batch, tokens, self.heads, self.dim_head) * gates[..., None]).reshape(batch, tokens, -1)
        return self.to_out(out)

    def context_kv(self, context: mx.array) -> tuple[mx.array, mx.array]:
        """Keys and values of a context that is attended without RoPE, in attention layout."""
        return self._heads(self.k_norm(self.to_k(context)), None), self._heads(self.to_v(context), None)

    def _heads(self, t: mx.array, rope: RotaryTables | None) -> mx.array:
        """(B, T, H*D) -> (B, H, T, D), rotated by ``rope`` if given."""
        batch, tokens, width = t.shape
        if rope is None:
            return t.reshape(batch, tokens, self.heads, self.dim_head).transpose(0, 2, 1, 3)
        t = t.reshape(batch, tokens, rope.heads, width // rope.heads).transpose(0, 2, 1, 3)
        t = apply_rotary(t, rope)
        if rope.heads != self.heads:  # tables laid out for another head count: regroup
            t = t.transpose(0, 2, 1, 3).reshape(batch, tokens, self.heads, self.dim_head).transpose(0, 2, 1, 3)
        return t
