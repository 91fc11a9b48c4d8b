"""Gemma 4 "unified" text-model config, read from the ``gemma_config`` metadata of an LTX-2.5
text-encoder file (a Hugging Face ``Gemma4UnifiedConfig`` JSON; the text settings sit under
``text_config``, the LTX ``gemma_version`` at the top level).

Absent keys take the Hugging Face ``Gemma4UnifiedTextConfig`` defaults, as ``transformers`` does,
including its rule that the last layer is always a full-attention layer. Global
("full_attention") layers use ``global_head_dim``; with ``attention_k_eq_v`` they also use
``num_global_key_value_heads`` (when given) and have no value projection.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ltx_core.config_base import ConfigBase, require_positive_int
from ltx_core.errors import ConfigError

SLIDING = "sliding_attention"
FULL = "full_attention"
UNIFIED_MODEL_TYPE = "gemma4_unified"
TEXT_MODEL_TYPE = "gemma4_unified_text"
ROPE_TYPES = ("default", "proportional")
_DEFAULT_ROPE: dict[str, dict[str, Any]] = {
    SLIDING: {"rope_type": "default", "rope_theta": 10_000.0},
    FULL: {"rope_type": "proportional", "partial_rotary_factor": 0.25, "rope_theta": 1_000_000.0},
}


@dataclass(frozen=True)
class Gemma4Rope:
    """Inverse frequencies of one layer type: ``default`` RoPE over the whole head, or
    ``proportional`` RoPE, which rotates the first ``partial_rotary_factor`` of the angles and
    leaves the rest unrotated (zero frequency) while keeping the head's full width."""

    theta: float
    rope_type: str = "default"
    partial_rotary_factor: float = 1.0
    factor: float = 1.0

    def inverse_frequencies(self, head_dim: int) -> np.ndarray:
        # float32 throughout, as the reference computes 1 / base ** (arange(0, 2n, 2) / head_dim).
        if self.rope_type == "default":
            angles = head_dim // 2
        else:
            angles = int(self.partial_rotary_factor * head_dim // 2)
        exponents = np.arange(0, 2 * angles, 2, dtype=np.int64).astype(np.float32) / np.float32(head_dim)
        inv = np.float32(1.0) / np.power(np.float32(self.theta), exponents, dtype=np.float32)
        if self.rope_type == "proportional":
            inv = np.concatenate([inv, np.zeros(head_dim // 2 - angles, dtype=np.float32)])
            inv = inv / np.float32(self.factor)
        return inv.astype(np.float32)


@dataclass(frozen=True)
class Gemma4Config(ConfigBase):
    """The text model of a ``gemma4_unified`` checkpoint (vision/audio embedders are not built)."""

    SECTION: ClassVar[str] = "text_config"
    SUPPORTED_VALUES: ClassVar[dict[str, tuple[Any, ...]]] = {
        "model_type": (TEXT_MODEL_TYPE,),
        "hidden_activation": ("gelu_pytorch_tanh",),
        "attention_bias": (False,),
        "num_kv_shared_layers": (0,),
        "use_double_wide_mlp": (False,),
        # "vision" only changes the mask of image tokens, which text encoding never has.
        "use_bidirectional_attention": (None, "vision"),
    }

    model_type: str = TEXT_MODEL_TYPE
    vocab_size: int = 262_144
    hidden_size: int = 2304
    intermediate_size: int = 9216
    num_hidden_layers: int = 30
    num_attention_heads: int = 8
    num_key_value_heads: int = 4
    head_dim: int = 256
    global_head_dim: int = 512
    num_global_key_value_heads: int | None = None
    hidden_activation: str = "gelu_pytorch_tanh"
    rms_norm_eps: float = 1e-6
    sliding_window: int = 1024
    layer_types: tuple[str, ...] | None = None
    rope_parameters: dict[str, Any] | None = None
    attention_k_eq_v: bool = False
    attention_bias: bool = False
    num_kv_shared_layers: int = 0
    use_double_wide_mlp: bool = False
    use_bidirectional_attention: str | None = "vision"
    final_logit_softcapping: float | None = None
    tie_word_embeddings: bool = True
    pad_token_id: int = 0
    bos_token_id: int = 2
    eos_token_id: int | list[int] = 1
    # Top level of the unified config, not part of text_config.
    gemma_version: str | None = None
    ropes: dict[str, Gemma4Rope] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        layers = self.num_hidden_layers
        types = self.layer_types
        if types is None:
            types = [FULL if (i + 1) % 6 == 0 else SLIDING for i in range(layers if isinstance(layers, int) else 0)]
        types = list(types)
        if types:
            types[-1] = FULL  # transformers forces the last layer global (with a warning)
        object.__setattr__(self, "layer_types", tuple(types))

    @classmethod
    def from_gemma_config(cls, data: Any, source: str = "gemma_config") -> "Gemma4Config":
        """The config from the whole unified JSON (or a bare ``gemma4_unified_text`` one)."""
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{source}: not valid JSON ({exc}).") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: expected a JSON object.")
        model_type = data.get("model_type")
        if model_type == UNIFIED_MODEL_TYPE:
            text = data.get("text_config") or {}
        elif model_type == TEXT_MODEL_TYPE:
            text = data
        else:
            raise ConfigError(
                f"{source}: model_type = {model_type!r} is not supported by this port (supported: "
                f"'{UNIFIED_MODEL_TYPE}'); LTX-2.5 encodes prompts with its fine-tuned Gemma 4 unified text encoder."
            )
        if not isinstance(text, dict):
            raise ConfigError(f"{source}: 'text_config' must be a JSON object.")
        # A null value means "the default", as in transformers' configs.
        values = {k: v for k, v in text.items() if v is not None and k not in ("gemma_version", "ropes")}
        values.setdefault("model_type", TEXT_MODEL_TYPE)
        if text is not data and data.get("tie_word_embeddings") is not None:
            values["tie_word_embeddings"] = data["tie_word_embeddings"]
        if data.get("gemma_version") is not None:
            values["gemma_version"] = data["gemma_version"]
        return cls.from_dict(values, source=source)

    def validate(self, where: str) -> None:
        for key in (
            "vocab_size",
            "hidden_size",
            "intermediate_size",
            "num_hidden_layers",
            "num_attention_heads",
            "num_key_value_heads",
            "head_dim",
            "global_head_dim",
            "sliding_window",
        ):
            require_positive_int(where, key, getattr(self, key))
        if self.num_global_key_value_heads is not None:
            require_positive_int(where, "num_global_key_value_heads", self.num_global_key_value_heads)
        assert self.layer_types is not None
        if len(self.layer_types) != self.num_hidden_layers or any(t not in (SLIDING, FULL) for t in self.layer_types):
            raise ConfigError(
                f"{where}: layer_types must list {self.num_hidden_layers} entries of '{SLIDING}' or '{FULL}', "
                f"got {list(self.layer_types)}."
            )
        for layer in range(self.num_hidden_layers):
            kv = self.layer_kv_heads(layer)
            if self.num_attention_heads % kv:
                key = "num_key_value_heads" if self.is_sliding(layer) else "num_global_key_value_heads"
                raise ConfigError(
                    f"{where}: num_attention_heads ({self.num_attention_heads}) must be a multiple of {key} ({kv})."
                )
        ropes = {kind: self._rope(kind, where) for kind in (SLIDING, FULL)}
        object.__setattr__(self, "ropes", ropes)

    def _rope(self, kind: str, where: str) -> Gemma4Rope:
        params = self.rope_parameters if self.rope_parameters is not None else _DEFAULT_ROPE
        if not isinstance(params, dict):
            raise ConfigError(f"{where}: rope_parameters must be a JSON object with one entry per layer type.")
        spec = params.get(kind)
        if spec is None:
            spec = _DEFAULT_ROPE[kind]
        if not isinstance(spec, dict):
            raise ConfigError(f"{where}: rope_parameters.{kind} must be a JSON object.")
        rope_type = spec.get("rope_type", "default")
        if rope_type not in ROPE_TYPES:
            choices = ", ".join(repr(t) for t in ROPE_TYPES)
            raise ConfigError(
                f"{where}: rope_parameters.{kind}.rope_type = {rope_type!r} is not supported by this port "
                f"(supported: {choices})."
            )
        theta = float(spec.get("rope_theta", _DEFAULT_ROPE[kind]["rope_theta"]))
        partial = float(spec.get("partial_rotary_factor", 1.0)) if rope_type == "proportional" else 1.0
        if not 0.0 < partial <= 1.0:
            raise ConfigError(f"{where}: rope_parameters.{kind}.partial_rotary_factor = {partial!r} must be in (0, 1].")
        factor = float(spec.get("factor", 1.0)) if rope_type == "proportional" else 1.0
        return Gemma4Rope(theta=theta, rope_type=rope_type, partial_rotary_factor=partial, factor=factor)

    # -- per-layer geometry ----------------------------------------------------------------
    @property
    def num_states(self) -> int:
        """Hidden states returned per prompt: the embeddings plus one per decoder layer."""
        return self.num_hidden_layers + 1

    @property
    def embed_scale(self) -> float:
        return math.sqrt(self.hidden_size)

    def is_sliding(self, layer: int) -> bool:
        assert self.layer_types is not None
        return self.layer_types[layer] == SLIDING

    def layer_head_dim(self, layer: int) -> int:
        return self.head_dim if self.is_sliding(layer) else self.global_head_dim

    def layer_kv_heads(self, layer: int) -> int:
        if self.is_sliding(layer) or not self.attention_k_eq_v or self.num_global_key_value_heads is None:
            return self.num_key_value_heads
        return self.num_global_key_value_heads

    def keys_equal_values(self, layer: int) -> bool:
        """Global layers of a ``attention_k_eq_v`` model reuse the key projection as values."""
        return self.attention_k_eq_v and not self.is_sliding(layer)

    def inverse_frequencies(self, sliding: bool) -> np.ndarray:
        kind = SLIDING if sliding else FULL
        return self.ropes[kind].inverse_frequencies(self.head_dim if sliding else self.global_head_dim)
