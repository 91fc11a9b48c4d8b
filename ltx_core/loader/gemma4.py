"""The LTX-2.5 text-encoder file: Gemma 4 unified in one safetensors file.

Layout (ltx-core 1.2.0 ``GemmaAssets`` single-file form): the Hugging Face config JSON in the
``gemma_config`` metadata (``model_type`` ``gemma4_unified``, LTX ``gemma_version`` at its top
level); the language model under ComfyUI-flat keys ``model.embed_tokens.*``, ``model.layers.N.*``,
``model.norm.*`` (Hugging Face ``model.language_model.*`` is accepted too); the vision/audio
embedders of the unified model (``vision_model.*``, ``multi_modal_projector.*``,
``audio_projector.*``, or their Hugging Face names) which text encoding never runs and which are
skipped by prefix; the FeatureExtractorV2 projection ``text_embedding_projection.*`` (read by the
embeddings-processor loader, not here); ``tokenizer_json`` and ``hf_asset__<file>`` uint8 tensors.
Any other key is an error naming the file.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Mapping
from pathlib import Path

import mlx.core as mx
import mlx.nn as nn

from ltx_core.errors import CheckpointError, ConfigError, WeightsMismatchError
from ltx_core.loader.components import resolve_dtype
from ltx_core.loader.safetensors_file import SafetensorsFile
from ltx_core.loader.text_encoder import GROUP_SIZES, QUANTIZE_BITS, quantize_model
from ltx_core.loader.weights import TensorSource, load_module_weights
from ltx_core.model.text_encoder.gemma4 import Gemma4TextModel
from ltx_core.model.text_encoder.gemma4_config import Gemma4Config
from ltx_core.model.text_encoder.gemma4_tokenizer import EmbeddedPromptTokenizer, tokenizer_config_from_bytes
from ltx_core.model.text_encoder.tokenizer import MAX_PROMPT_TOKENS

GEMMA_CONFIG_METADATA_KEY = "gemma_config"
TOKENIZER_JSON_KEY = "tokenizer_json"
HF_ASSET_PREFIX = "hf_asset__"
TEXT_PROJECTION_PREFIX = "text_embedding_projection."
# Language-model prefixes: Hugging Face nested first (its keys also start with "model.").
LANGUAGE_MODEL_PREFIXES = ("model.language_model.", "model.")
# Vision/audio embedders of the unified model: unused by text encoding, skipped by prefix.
# Comfy names first, then the Hugging Face names of older packs (these start with "model.").
UNUSED_TOWER_PREFIXES = (
    "vision_model.",
    "multi_modal_projector.",
    "audio_projector.",
    "model.embed_vision.",
    "model.embed_audio.",
    "model.vision_embedder.",
)
SOURCE_CHECKPOINT_METADATA_KEY = "gemma_source_checkpoint"
# ltx-core: from this model_version on, a transformer must say which Gemma it was trained with.
VERSION_REQUIRED_SINCE = (2, 4, 0)


class Gemma4TextEncoderFile:
    """One LTX-2.5 text-encoder file opened lazily: config, assets and key layout."""

    def __init__(self, path: str | os.PathLike):
        self.file = SafetensorsFile(path)
        raw = self.file.metadata.get(GEMMA_CONFIG_METADATA_KEY)
        if raw is None:
            raise CheckpointError(
                f"{self.name} has no '{GEMMA_CONFIG_METADATA_KEY}' entry in its safetensors metadata, so it is not "
                "an LTX-2.5 text-encoder file (expected e.g. gemma4-12b-with-proj-ltx-2.5-bf16.safetensors)."
            )
        try:
            self.gemma_config = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise CheckpointError(
                f"{self.name}: its metadata '{GEMMA_CONFIG_METADATA_KEY}' is not valid JSON ({exc})."
            ) from None
        self.config = Gemma4Config.from_gemma_config(
            self.gemma_config, source=f"{self.name} metadata '{GEMMA_CONFIG_METADATA_KEY}'"
        )
        self.lm_prefix = next((p for p in LANGUAGE_MODEL_PREFIXES if f"{p}embed_tokens.weight" in self.file), None)

    @property
    def name(self) -> str:
        return self.file.name

    @property
    def path(self) -> Path:
        return self.file.path

    @property
    def gemma_version(self) -> str | None:
        """The LTX fine-tune's ``gemma_version`` (top level of ``gemma_config``); None for a stock Gemma."""
        version = self.gemma_config.get("gemma_version") if isinstance(self.gemma_config, dict) else None
        return version if isinstance(version, str) else None

    def asset(self, name: str) -> bytes | None:
        """An embedded Hugging Face side file (``hf_asset__<name>``), or None."""
        key = f"{HF_ASSET_PREFIX}{name}"
        if key in self.file:
            return self.file.read_numpy(key).astype("uint8").tobytes()
        if name in self.file.metadata:  # older packs keep small JSON files as metadata strings
            return self.file.metadata[name].encode()
        return None

    def tokenizer(self, max_length: int = MAX_PROMPT_TOKENS) -> EmbeddedPromptTokenizer:
        if TOKENIZER_JSON_KEY not in self.file:
            raise CheckpointError(f"{self.name} has no '{TOKENIZER_JSON_KEY}' tensor: it carries no tokenizer.")
        data = self.file.read_numpy(TOKENIZER_JSON_KEY).astype("uint8").tobytes()
        config = tokenizer_config_from_bytes(self.asset("tokenizer_config.json"), self.name)
        return EmbeddedPromptTokenizer(data, config, max_length=max_length, source=self.name)

    def projection_keys(self) -> dict[str, str]:
        """``text_embedding_projection.*`` (FeatureExtractorV2) as ``short name -> file key``."""
        return {k[len(TEXT_PROJECTION_PREFIX) :]: k for k in self.file.keys() if k.startswith(TEXT_PROJECTION_PREFIX)}

    def language_model_keys(self) -> dict[str, str]:
        """Gemma parameter name (``layers.0.mlp.up_proj.weight``) -> file key, after checking that
        every key of the file belongs to a known part."""
        if self.lm_prefix is None:
            raise WeightsMismatchError(
                f"{self.name}: no Gemma text embeddings (model.embed_tokens.weight) found; this is not a "
                "Gemma 4 text-encoder file."
            )
        text: dict[str, str] = {}
        unknown: list[str] = []
        for key in self.file.keys():
            if key == TOKENIZER_JSON_KEY or key.startswith((HF_ASSET_PREFIX, TEXT_PROJECTION_PREFIX)):
                continue
            if key.startswith(UNUSED_TOWER_PREFIXES):
                continue
            if key.startswith(self.lm_prefix):
                text[key[len(self.lm_prefix) :]] = key
            else:
                unknown.append(key)
        if unknown:
            raise WeightsMismatchError(
                f"{self.name}: {len(unknown)} tensors belong to no known part of a Gemma 4 text-encoder file: "
                f"{', '.join(sorted(unknown)[:8])}."
            )
        return text

    def identity(self) -> str:
        """A short fingerprint (name, size, config, tensor layout), for caches keyed by weights."""
        digest = hashlib.sha256(f"{self.name}:{self.file.file_size}".encode())
        digest.update(json.dumps(self.gemma_config, sort_keys=True).encode())
        for key in sorted(self.file.keys()):
            info = self.file.info(key)
            digest.update(f"{key}:{info.dtype}:{info.shape}:{info.start}".encode())
        return digest.hexdigest()[:16]

    def close(self) -> None:
        self.file.close()


def load_gemma4(
    path: str | os.PathLike | Gemma4TextEncoderFile,
    dtype: mx.Dtype | str = mx.float32,
    quantize_bits: int | None = None,
    group_size: int = 64,
) -> Gemma4TextModel:
    """The Gemma 4 text model of an LTX-2.5 text-encoder file, loaded strictly part by part
    (embeddings, each layer, final norm) and optionally quantized at load (4/8 bits)."""
    dtype = resolve_dtype(dtype)
    if quantize_bits is not None and quantize_bits not in QUANTIZE_BITS:
        raise ValueError(f"quantize_bits must be one of {QUANTIZE_BITS} or None, got {quantize_bits}")
    if quantize_bits is not None and group_size not in GROUP_SIZES:
        raise ValueError(f"group_size must be one of {GROUP_SIZES}, got {group_size}")
    owned = not isinstance(path, Gemma4TextEncoderFile)
    source = Gemma4TextEncoderFile(path) if owned else path
    try:
        model = Gemma4TextModel(source.config)
        keys = source.language_model_keys()
        parts: list[tuple[str, nn.Module]] = [("embed_tokens", model.embed_tokens)]
        parts += [(f"layers.{i}", layer) for i, layer in enumerate(model.layers)]
        parts.append(("norm", model.norm))
        claimed: set[str] = set()
        for name, module in parts:
            sub = {k[len(name) + 1 :]: TensorSource(v) for k, v in keys.items() if k.startswith(name + ".")}
            claimed.update(k for k in keys if k.startswith(name + "."))
            load_module_weights(module, source.file, sub, dtype, f"Gemma 4 {name}")
            if quantize_bits is not None:
                if isinstance(module, nn.Embedding):
                    model.embed_tokens = module.to_quantized(group_size=group_size, bits=quantize_bits)
                else:
                    quantize_model(module, quantize_bits, group_size)
            mx.eval(module.parameters())
        extra = sorted(keys[k] for k in set(keys) - claimed)
        if extra:
            raise WeightsMismatchError(
                f"{source.name}: the Gemma 4 weights do not match the file's gemma_config: {len(extra)} unexpected "
                f"tensors ({', '.join(extra[:8])}), e.g. more layers than num_hidden_layers."
            )
    finally:
        if owned:
            source.close()
    model.eval()
    return model


def _parse_version(value: str) -> tuple[int, ...]:
    parts: list[int] = []
    for piece in value.split("."):
        digits = "".join(c for c in piece if c.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def check_gemma_version(
    transformer_metadata: Mapping[str, str],
    transformer_name: str,
    gemma_version: str | None,
    text_encoder_name: str,
) -> None:
    """Refuse a text encoder that is not the Gemma the transformer was trained with (ltx-core's
    rule): the transformer's ``gemma_source_checkpoint.gemma_version`` must equal the text
    encoder's ``gemma_version``; a transformer of model_version >= 2.4 must declare one."""
    raw = transformer_metadata.get(SOURCE_CHECKPOINT_METADATA_KEY)
    if raw is not None:
        try:
            declared = json.loads(raw) if isinstance(raw, str) else raw
        except json.JSONDecodeError:
            raise ConfigError(
                f"{transformer_name}: its metadata '{SOURCE_CHECKPOINT_METADATA_KEY}' is not valid JSON."
            ) from None
        expected = declared.get("gemma_version") if isinstance(declared, dict) else None
        if expected != gemma_version:
            found = f"gemma_version {gemma_version!r}" if gemma_version else "no gemma_version (a stock Gemma)"
            raise ConfigError(
                f"{transformer_name} was trained with the Gemma text encoder gemma_version {expected!r}, but "
                f"{text_encoder_name} declares {found}: use the text-encoder file released with this model."
            )
        return
    model_version = transformer_metadata.get("model_version")
    if model_version is not None and _parse_version(model_version) >= VERSION_REQUIRED_SINCE:
        if gemma_version is None:
            warnings.warn(
                f"{transformer_name} (model_version {model_version}) does not say which Gemma it was trained with "
                f"and {text_encoder_name} declares no gemma_version: their compatibility is not checked.",
                stacklevel=2,
            )
            return
        raise ConfigError(
            f"{transformer_name} (model_version {model_version}) declares no '{SOURCE_CHECKPOINT_METADATA_KEY}', "
            f"so it cannot be paired with {text_encoder_name} (gemma_version {gemma_version!r})."
        )
    raise ConfigError(
        f"{transformer_name} (model_version {model_version or '2.0'}) encodes prompts with Gemma 3, but "
        f"{text_encoder_name} is a Gemma 4 text encoder (gemma_version {gemma_version!r})."
    )


def check_text_encoder_matches(
    transformer_path: str | os.PathLike, text_encoder: str | os.PathLike | Gemma4TextEncoderFile
) -> str:
    """``check_gemma_version`` on two files; returns the agreed gemma_version."""
    with SafetensorsFile(transformer_path) as transformer:
        metadata = dict(transformer.metadata)
        name = transformer.name
    owned = not isinstance(text_encoder, Gemma4TextEncoderFile)
    source = Gemma4TextEncoderFile(text_encoder) if owned else text_encoder
    try:
        check_gemma_version(metadata, name, source.gemma_version, source.name)
        return str(source.gemma_version)
    finally:
        if owned:
            source.close()
