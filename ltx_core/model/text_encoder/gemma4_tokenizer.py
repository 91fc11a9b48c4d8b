"""Prompt tokenization for LTX-2.5, from the tokenizer embedded in the text-encoder file.

The file carries ``tokenizer.json`` as a uint8 tensor and ``tokenizer_config.json`` as an
``hf_asset__`` tensor. The LTX Gemma tokenizer semantics (ltx-core ``LTXGemmaTokenizer``): strip
the prompt, tokenize with truncation to ``max_length``, prepend ``<bos>`` when the tokenizer did
not (Gemma 4's does not), cut to ``max_length`` again, then left-pad with the pad token
(``<eos>`` when the config names none) to exactly ``max_length`` with an attention mask.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from typing import Any

import mlx.core as mx
import numpy as np

from ltx_core.errors import CheckpointError
from ltx_core.model.text_encoder.tokenizer import (
    MAX_PROMPT_TOKENS,
    PromptError,
    PromptTokens,
    PromptTruncatedWarning,
)


def _token_name(value: Any) -> str | None:
    """A special token as written in tokenizer_config.json: a string or an AddedToken dict."""
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else None


class EmbeddedPromptTokenizer:
    """``tokenizer.json`` bytes + ``tokenizer_config.json`` -> left-padded prompt tokens."""

    def __init__(
        self,
        tokenizer_json: bytes,
        tokenizer_config: Mapping[str, Any] | None = None,
        max_length: int = MAX_PROMPT_TOKENS,
        source: str = "text encoder",
    ):
        from tokenizers import Tokenizer

        if max_length <= 0 or max_length % 128:
            raise ValueError(f"max_length must be a positive multiple of 128, got {max_length}")
        try:
            self.tokenizer = Tokenizer.from_buffer(tokenizer_json)
        except Exception as exc:  # tokenizers raises a bare Exception on bad JSON
            raise CheckpointError(f"{source}: the embedded tokenizer.json cannot be read ({exc}).") from None
        self.tokenizer.no_padding()
        self.max_length = max_length
        config = dict(tokenizer_config or {})
        self.bos_token_id = self._special_id(config, "bos_token", "<bos>")
        eos_token_id = self._special_id(config, "eos_token", "<eos>")
        pad = _token_name(config.get("pad_token"))
        self.pad_token_id = self.tokenizer.token_to_id(pad) if pad is not None else None
        if self.pad_token_id is None:
            self.pad_token_id = eos_token_id
        if self.bos_token_id is None or self.pad_token_id is None:
            raise CheckpointError(
                f"{source}: the embedded tokenizer has no <bos> or no pad/<eos> token; prompt encoding needs both."
            )

    def _special_id(self, config: Mapping[str, Any], key: str, default: str) -> int | None:
        name = _token_name(config.get(key)) or default
        return self.tokenizer.token_to_id(name)

    def _ids(self, text: str, limit: int | None) -> list[int]:
        if limit is None:
            self.tokenizer.no_truncation()
        else:
            self.tokenizer.enable_truncation(max_length=limit)
        return list(self.tokenizer.encode(text).ids)

    def __call__(self, text: str, allow_empty: bool = False, what: str = "prompt") -> PromptTokens:
        """Tokenize one prompt. An empty (or blank) prompt is refused unless ``allow_empty``;
        an over-long prompt is cut with a warning."""
        if not isinstance(text, str):
            raise PromptError(f"a prompt must be text, got {type(text).__name__}")
        text = text.strip()
        if not text and not allow_empty:
            raise PromptError("The prompt is empty: describe the video to generate.")
        full = self._ids(text, None)
        full_length = len(full) + (0 if full and full[0] == self.bos_token_id else 1)
        truncated = full_length > self.max_length
        if truncated:
            warnings.warn(
                f"The {what} is {full_length} tokens long; only its first {self.max_length} tokens are used "
                f"(about {full_length - self.max_length} tokens at the end are ignored). Shorten the {what}.",
                PromptTruncatedWarning,
                stacklevel=2,
            )
        ids = self._ids(text, self.max_length)
        if not ids or ids[0] != self.bos_token_id:
            ids = [self.bos_token_id, *ids][: self.max_length]
        count = len(ids)
        padded = np.full((1, self.max_length), self.pad_token_id, dtype=np.int32)
        mask = np.zeros((1, self.max_length), dtype=np.int32)
        padded[0, self.max_length - count :] = ids
        mask[0, self.max_length - count :] = 1
        return PromptTokens(mx.array(padded), mx.array(mask), count, truncated)


def tokenizer_config_from_bytes(data: bytes | None, source: str) -> dict[str, Any]:
    if data is None:
        return {}
    try:
        config = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{source}: the embedded tokenizer_config.json is not valid JSON ({exc}).") from None
    if not isinstance(config, dict):
        raise CheckpointError(f"{source}: the embedded tokenizer_config.json must be a JSON object.")
    return config
