"""Peak-memory arithmetic of one prompt encode, from a Gemma config alone.

Used by the memory presets and ``bench/text_encoder_memory.py``. The estimate counts the
weights (with quantization scales and biases), the hidden states kept for the feature
extractor, the largest per-layer temporaries and the feature extractor's copies.
"""

from __future__ import annotations

from dataclasses import dataclass

from ltx_core.model.text_encoder.gemma_config import GemmaConfig

MODES = ("float32", "bfloat16", "8bit", "4bit")
_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}


@dataclass(frozen=True)
class EncodeMemory:
    mode: str
    weights: int
    hidden_states: int
    layer_temporaries: int
    features: int

    @property
    def peak(self) -> int:
        return self.weights + self.hidden_states + max(self.layer_temporaries, self.features)


def attention_scores(backend: str, act: int, heads: int, kv_heads: int, head_dim: int, tokens: int) -> int:
    """Score-sized bytes of one Gemma self-attention: on the CPU what ``cpu_attention`` holds; on
    GPUs the unfused case (float32 scores and probabilities of every head), since Gemma's heads
    are wider than the fused kernels' 128."""
    if backend == "cpu":
        from ltx_core.components.cpu_attention import attention_memory_bytes

        return attention_memory_bytes("cpu", act, 1, heads, tokens, tokens, head_dim, kv_heads)
    return 2 * heads * tokens * tokens * 4


def parameter_counts(config: GemmaConfig) -> tuple[int, int, int]:
    """(quantizable matrix parameters, embedding parameters, norm parameters)."""
    h, heads, kv, d, i = (
        config.hidden_size,
        config.num_attention_heads,
        config.num_key_value_heads,
        config.head_dim,
        config.intermediate_size,
    )
    per_layer = h * heads * d * 2 + h * kv * d * 2 + 3 * h * i
    matrices = per_layer * config.num_hidden_layers
    if not config.tie_word_embeddings:
        matrices += config.vocab_size * h
    norms = config.num_hidden_layers * (4 * h + 2 * d) + h
    return matrices, config.vocab_size * h, norms


def weight_bytes(config: GemmaConfig, mode: str, group_size: int = 64, compute_dtype: str = "bfloat16") -> int:
    matrices, embedding, norms = parameter_counts(config)
    scalar = _BYTES[compute_dtype]
    if mode in _BYTES:
        return (matrices + embedding + norms) * _BYTES[mode]
    bits = {"8bit": 8, "4bit": 4}[mode]
    # MLX affine quantization: packed weights plus one scale and one bias per group.
    per_param = bits / 8 + 2 * scalar / group_size
    return int((matrices + embedding) * per_param) + norms * scalar


def estimate_encode_memory(
    config: GemmaConfig,
    tokens: int = 1024,
    mode: str = "bfloat16",
    group_size: int = 64,
    compute_dtype: str | None = None,
    backend: str = "metal",
) -> EncodeMemory:
    """Estimated peak bytes of encoding one prompt of ``tokens`` tokens in ``mode`` on ``backend``
    ("cpu" or "metal")."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    dtype = compute_dtype or (mode if mode in _BYTES else "bfloat16")
    act = _BYTES[dtype]
    h, t = config.hidden_size, tokens
    states = config.num_states * t * h * act
    heads, kv = config.num_attention_heads, config.num_key_value_heads
    attention = (
        attention_scores(backend, act, heads, kv, config.head_dim, t)
        + (heads + 2 * kv) * config.head_dim * t * act
        + 2 * t * t * act  # the two additive masks (sliding, global)
    )
    mlp = 3 * t * config.intermediate_size * act
    temporaries = max(attention, mlp) + 3 * t * h * act
    features = 2 * states + t * h * act  # stacked copy + normalised copy + projection output
    return EncodeMemory(mode, weight_bytes(config, mode, group_size, dtype), states, temporaries, features)


def gemma_12b_config() -> GemmaConfig:
    """The text settings of google/gemma-3-12b-it (3840 wide, 48 layers)."""
    return GemmaConfig.from_dict(
        {
            "text_config": {
                "hidden_size": 3840,
                "num_hidden_layers": 48,
                "num_attention_heads": 16,
                "num_key_value_heads": 8,
                "intermediate_size": 15360,
                "sliding_window": 1024,
                "rope_scaling": {"factor": 8.0, "rope_type": "linear"},
            }
        },
        source="gemma-3-12b-it text settings",
    )


# ---- Gemma 4 (LTX-2.5: one-file text encoder) ---------------------------------------------------
def gemma4_parameter_counts(config) -> tuple[int, int, int]:
    """(quantizable matrix parameters, embedding parameters, norm and scalar parameters) of a
    Gemma 4 text model: sliding layers use ``head_dim`` and ``num_key_value_heads``, full-attention
    layers ``global_head_dim`` and their own KV heads, and with ``attention_k_eq_v`` no value
    projection; every layer has four RMS norms, q/k norms of its head width and a ``layer_scalar``."""
    h, heads, inter = config.hidden_size, config.num_attention_heads, config.intermediate_size
    matrices = norms = 0
    for layer in range(config.num_hidden_layers):
        d, kv = config.layer_head_dim(layer), config.layer_kv_heads(layer)
        values = 0 if config.keys_equal_values(layer) else h * kv * d
        matrices += 2 * h * heads * d + h * kv * d + values + 3 * h * inter
        norms += 4 * h + 2 * d + 1
    if not config.tie_word_embeddings:
        matrices += config.vocab_size * h
    return matrices, config.vocab_size * h, norms + h


def gemma4_weight_bytes(config, mode: str, group_size: int = 64, compute_dtype: str = "bfloat16") -> int:
    matrices, embedding, norms = gemma4_parameter_counts(config)
    scalar = _BYTES[compute_dtype]
    if mode in _BYTES:
        return (matrices + embedding + norms) * _BYTES[mode]
    per_param = {"8bit": 8, "4bit": 4}[mode] / 8 + 2 * scalar / group_size  # the embedding is quantized too
    return int((matrices + embedding) * per_param) + norms * scalar


def estimate_gemma4_encode_memory(
    config,
    tokens: int = 1024,
    mode: str = "bfloat16",
    group_size: int = 64,
    compute_dtype: str | None = None,
    backend: str = "metal",
) -> EncodeMemory:
    """``estimate_encode_memory`` for a Gemma 4 text model: the same terms, with each layer's own
    head width and KV heads (the widest layer's temporaries count)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    dtype = compute_dtype or (mode if mode in _BYTES else "bfloat16")
    act = _BYTES[dtype]
    h, t = config.hidden_size, tokens
    states = config.num_states * t * h * act
    attention = max(
        attention_scores(
            backend, act, config.num_attention_heads, config.layer_kv_heads(i), config.layer_head_dim(i), t
        )
        + (config.num_attention_heads + 2 * config.layer_kv_heads(i)) * config.layer_head_dim(i) * t * act
        + 2 * t * t * act
        for i in range(config.num_hidden_layers)
    )
    mlp = 3 * t * config.intermediate_size * act
    temporaries = max(attention, mlp) + 3 * t * h * act
    features = 2 * states + t * h * act
    return EncodeMemory(mode, gemma4_weight_bytes(config, mode, group_size, dtype), states, temporaries, features)


def gemma4_12b_config():
    """Header-only stand-in for the LTX-2.5 Gemma 4 12B text model (``gemma4-12b-ltx-v1``): the
    Gemma 3 12B widths (3840 wide, 48 layers, 16 heads, 8 KV heads of 256, MLP 15360, 262k
    vocabulary) in the Gemma 4 layout of the 2.5 set (every sixth layer full attention with
    ``global_head_dim`` 512, one KV head, keys as values). The real file's config is not
    available offline; with the 2.3-width projection this gives the published ~26 GB bf16 file."""
    from ltx_core.model.text_encoder.gemma4_config import Gemma4Config

    return Gemma4Config.from_gemma_config(
        {
            "model_type": "gemma4_unified",
            "gemma_version": "gemma4-12b-ltx-v1",
            "text_config": {
                "model_type": "gemma4_unified_text",
                "hidden_size": 3840,
                "intermediate_size": 15360,
                "num_hidden_layers": 48,
                "num_attention_heads": 16,
                "num_key_value_heads": 8,
                "num_global_key_value_heads": 1,
                "head_dim": 256,
                "global_head_dim": 512,
                "attention_k_eq_v": True,
                "vocab_size": 262144,
                "sliding_window": 1024,
            },
        },
        source="Gemma 4 12B stand-in config",
    )
