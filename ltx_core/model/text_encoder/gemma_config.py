"""Gemma 3 text-model config, read from a Hugging Face ``config.json``.

Two layouts exist: the multimodal ``Gemma3ForConditionalGeneration`` (text settings under
``text_config``, as in ``google/gemma-3-12b-it``) and the text-only ``Gemma3ForCausalLM``.
The 12B folder's ``text_config`` lists only a few keys; every absent key takes the
Hugging Face ``Gemma3TextConfig`` default, as ``transformers`` does. RoPE settings come
either as ``rope_theta`` / ``rope_local_base_freq`` / ``rope_scaling`` (transformers 4.x)
or as per-layer-type ``rope_parameters`` (transformers 5.x).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ltx_core.errors import ConfigError

SLIDING = "sliding_attention"
FULL = "full_attention"
ACTIVATIONS = ("gelu_pytorch_tanh", "gelu_tanh")


@dataclass(frozen=True)
class RopeSpec:
    """Inverse-frequency parameters of one layer type."""

    theta: float
    rope_type: str = "default"  # "default" or "linear"
    factor: float = 1.0

    def inverse_frequencies(self, head_dim: int):
        import numpy as np

        # float32 throughout, as the reference computes base ** (arange(0, d, 2) / d).
        exponents = np.arange(0, head_dim, 2, dtype=np.int64).astype(np.float32) / np.float32(head_dim)
        inv = np.float32(1.0) / np.power(np.float32(self.theta), exponents, dtype=np.float32)
        if self.rope_type == "linear":
            inv = inv / np.float32(self.factor)
        return inv.astype(np.float32)


@dataclass(frozen=True)
class GemmaConfig:
    hidden_size: int = 2304
    num_hidden_layers: int = 26
    num_attention_heads: int = 8
    num_key_value_heads: int = 4
    head_dim: int = 256
    intermediate_size: int = 9216
    vocab_size: int = 262208
    rms_norm_eps: float = 1e-6
    query_pre_attn_scalar: float = 256
    sliding_window: int = 4096
    layer_types: tuple[str, ...] = ()
    global_rope: RopeSpec = field(default_factory=lambda: RopeSpec(1_000_000.0))
    local_rope: RopeSpec = field(default_factory=lambda: RopeSpec(10_000.0))
    attn_logit_softcapping: float | None = None  # read but not applied (see gemma.py)
    final_logit_softcapping: float | None = None
    tie_word_embeddings: bool = True
    bos_token_id: int = 2
    eos_token_ids: tuple[int, ...] = (1, 106)
    pad_token_id: int = 0

    @property
    def num_states(self) -> int:
        """Hidden states returned per prompt: the embeddings plus one per decoder layer."""
        return self.num_hidden_layers + 1

    @property
    def embed_scale(self) -> float:
        return math.sqrt(self.hidden_size)

    def is_sliding(self, layer: int) -> bool:
        return self.layer_types[layer] == SLIDING

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "Gemma config.json") -> "GemmaConfig":
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: expected a JSON object.")
        top = data
        text = data.get("text_config", data)
        if not isinstance(text, dict):
            raise ConfigError(f"{source}: 'text_config' must be a JSON object.")
        model_type = text.get("model_type", data.get("model_type"))
        if model_type not in (None, "gemma3", "gemma3_text"):
            raise ConfigError(
                f"{source}: model_type {model_type!r} is not Gemma 3. LTX-2 needs google/gemma-3-12b-it."
            )
        if text.get("use_bidirectional_attention"):
            raise ConfigError(f"{source}: use_bidirectional_attention = true is not supported by this port.")
        activation = text.get("hidden_activation", text.get("hidden_act", "gelu_pytorch_tanh"))
        if activation not in ACTIVATIONS:
            raise ConfigError(f"{source}: hidden_activation {activation!r} is not supported (gelu_pytorch_tanh).")
        if text.get("attention_bias"):
            raise ConfigError(f"{source}: attention_bias = true is not supported by this port.")

        def get(key: str, default: Any) -> Any:
            value = text.get(key)
            return default if value is None else value

        layers = int(get("num_hidden_layers", cls.num_hidden_layers))
        heads = int(get("num_attention_heads", cls.num_attention_heads))
        hidden = int(get("hidden_size", cls.hidden_size))
        head_dim = int(get("head_dim", 256))
        layer_types = text.get("layer_types")
        if layer_types is None:
            pattern = int(get("sliding_window_pattern", get("_sliding_window_pattern", 6)))
            layer_types = [FULL if (i + 1) % pattern == 0 else SLIDING for i in range(layers)]
        layer_types = tuple(layer_types)
        if len(layer_types) != layers or any(t not in (SLIDING, FULL) for t in layer_types):
            raise ConfigError(
                f"{source}: layer_types must list {layers} entries of '{SLIDING}' or '{FULL}', got {list(layer_types)}."
            )
        global_rope, local_rope = _rope_specs(text, source)
        eos = top.get("eos_token_id", text.get("eos_token_id", 1))
        eos_ids = tuple(eos) if isinstance(eos, list) else (int(eos),)
        config = cls(
            hidden_size=hidden,
            num_hidden_layers=layers,
            num_attention_heads=heads,
            num_key_value_heads=int(get("num_key_value_heads", cls.num_key_value_heads)),
            head_dim=head_dim,
            intermediate_size=int(get("intermediate_size", cls.intermediate_size)),
            vocab_size=int(get("vocab_size", cls.vocab_size)),
            rms_norm_eps=float(get("rms_norm_eps", 1e-6)),
            query_pre_attn_scalar=float(get("query_pre_attn_scalar", 256)),
            sliding_window=int(get("sliding_window", 4096)),
            layer_types=layer_types,
            global_rope=global_rope,
            local_rope=local_rope,
            attn_logit_softcapping=text.get("attn_logit_softcapping"),
            final_logit_softcapping=text.get("final_logit_softcapping"),
            tie_word_embeddings=bool(top.get("tie_word_embeddings", text.get("tie_word_embeddings", True))),
            bos_token_id=int(get("bos_token_id", 2)),
            eos_token_ids=eos_ids,
            pad_token_id=int(get("pad_token_id", 0)),
        )
        for key in ("hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "head_dim"):
            if getattr(config, key) <= 0:
                raise ConfigError(f"{source}: {key} must be positive, got {getattr(config, key)}.")
        if heads % config.num_key_value_heads:
            raise ConfigError(f"{source}: num_attention_heads ({heads}) must be a multiple of num_key_value_heads.")
        return config

    @classmethod
    def from_file(cls, path: str | Path) -> "GemmaConfig":
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}: not valid JSON ({exc}).") from None
        return cls.from_dict(data, source=str(path))


def _rope_specs(text: dict[str, Any], source: str) -> tuple[RopeSpec, RopeSpec]:
    params = text.get("rope_parameters")
    if isinstance(params, dict) and FULL in params:
        full, local = params.get(FULL) or {}, params.get(SLIDING) or {}
        global_rope = _spec(full, float(full.get("rope_theta", 1_000_000.0)), source)
        local_rope = _spec(local, float(local.get("rope_theta", 10_000.0)), source)
        return global_rope, local_rope
    theta = float(text.get("rope_theta") or 1_000_000.0)
    local_theta = float(text.get("rope_local_base_freq") or 10_000.0)
    # Gemma 3 applies rope_scaling to the global layers only; local layers use plain RoPE.
    return _spec(text.get("rope_scaling") or {}, theta, source), RopeSpec(local_theta)


def _spec(scaling: dict[str, Any], theta: float, source: str) -> RopeSpec:
    kind = scaling.get("rope_type", scaling.get("type", "default"))
    if kind not in ("default", "linear"):
        raise ConfigError(f"{source}: rope type {kind!r} is not supported (default, linear).")
    factor = float(scaling.get("factor", 1.0)) if kind == "linear" else 1.0
    return RopeSpec(theta=theta, rope_type=kind, factor=factor)
