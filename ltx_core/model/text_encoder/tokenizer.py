"""Prompt tokenization with the Gemma folder's own tokenizer, as the official pipeline does:
strip the prompt, add ``<bos>``, truncate to ``max_length`` and left-pad to exactly
``max_length`` tokens (1024) with an attention mask."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import mlx.core as mx
import numpy as np

from ltx_core.errors import CheckpointError, LTXError

MAX_PROMPT_TOKENS = 1024  # fixed in ltx-core 1.0.0; a multiple of the connectors' 128 registers
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model")


class PromptError(LTXError):
    """A prompt that cannot be encoded (empty, for instance)."""


class PromptTruncatedWarning(UserWarning):
    """A prompt longer than the encoder's token budget was cut."""


@dataclass(frozen=True)
class PromptTokens:
    input_ids: mx.array  # (1, max_length) int32, left-padded
    attention_mask: mx.array  # (1, max_length) int32, 1 = real token
    token_count: int  # real tokens after truncation
    truncated: bool


def tokenizer_folder(folder: str | os.PathLike) -> Path:
    """The folder holding the tokenizer files: the Gemma folder itself or one below it."""
    folder = Path(folder)
    for name in TOKENIZER_FILES:
        if (folder / name).is_file():
            return folder
    for name in TOKENIZER_FILES:
        found = sorted(folder.rglob(name))
        if found:
            return found[0].parent
    raise CheckpointError(
        f"The Gemma folder {folder} has no tokenizer (tokenizer.json or tokenizer.model). Download the full "
        "google/gemma-3-12b-it repository, including its tokenizer files."
    )


class PromptTokenizer:
    def __init__(self, folder: str | os.PathLike, max_length: int = MAX_PROMPT_TOKENS):
        from transformers import AutoTokenizer

        if max_length <= 0 or max_length % 128:
            raise ValueError(f"max_length must be a positive multiple of 128, got {max_length}")
        self.folder = tokenizer_folder(folder)
        self.max_length = max_length
        self.tokenizer = AutoTokenizer.from_pretrained(
            str(self.folder), local_files_only=True, model_max_length=max_length
        )
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token

    def __call__(self, text: str, allow_empty: bool = False, what: str = "prompt") -> PromptTokens:
        """Tokenize one prompt. An empty (or blank) prompt is refused unless ``allow_empty``
        (a negative prompt may be empty); an over-long prompt is cut with a warning."""
        if not isinstance(text, str):
            raise PromptError(f"a prompt must be text, got {type(text).__name__}")
        text = text.strip()
        if not text and not allow_empty:
            raise PromptError("The prompt is empty: describe the video to generate.")
        full_length = len(self.tokenizer(text, truncation=False, verbose=False)["input_ids"])
        truncated = full_length > self.max_length
        if truncated:
            warnings.warn(
                f"The {what} is {full_length} tokens long; only its first {self.max_length} tokens are used "
                f"(about {full_length - self.max_length} tokens at the end are ignored). Shorten the {what}.",
                PromptTruncatedWarning,
                stacklevel=2,
            )
        encoded = self.tokenizer(
            text, padding="max_length", max_length=self.max_length, truncation=True, return_tensors="np"
        )
        ids = np.asarray(encoded["input_ids"], dtype=np.int32)
        mask = np.asarray(encoded["attention_mask"], dtype=np.int32)
        return PromptTokens(mx.array(ids), mx.array(mask), int(mask.sum()), truncated)

    def chat_ids(self, messages: list[dict[str, str]]) -> list[int]:
        """Token ids of a chat (system + user turns) ready for the model's reply."""
        text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return list(self.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    def stop_ids(self) -> set[int]:
        ids = {self.tokenizer.eos_token_id}
        for token in ("<end_of_turn>", "<eos>"):
            value = self.tokenizer.convert_tokens_to_ids(token)
            if isinstance(value, int) and value != self.tokenizer.unk_token_id:
                ids.add(value)
        return {i for i in ids if i is not None}
