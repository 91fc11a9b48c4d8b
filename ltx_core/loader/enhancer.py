"""A Gemma 3 folder that only rewrites prompts (prompt enhancement), apart from the text encoder.

LTX-2.5 encodes prompts with a fine-tuned Gemma 4 that has no language-model head the official
code generates with, so its prompts are enhanced by a separately chosen chat model (a Gemma 3
12B folder works; any Gemma 3 folder with a chat template). Loaded on first use, released after.
"""

from __future__ import annotations

import gc
import os
from pathlib import Path

import mlx.core as mx

from ltx_core.loader.components import resolve_dtype
from ltx_core.loader.text_encoder import gemma_folder, load_gemma
from ltx_core.model.text_encoder.enhance import rewrite_prompt
from ltx_core.model.text_encoder.tokenizer import MAX_PROMPT_TOKENS, PromptTokenizer


class PromptEnhancer:
    def __init__(
        self, folder: str | os.PathLike, dtype: mx.Dtype | str = mx.float32, quantize_bits: int | None = None,
        group_size: int = 64,
    ):  # fmt: skip
        self.folder = gemma_folder(folder)
        self.dtype = resolve_dtype(dtype)
        self.quantize_bits, self.group_size = quantize_bits, group_size
        self._tokenizer: PromptTokenizer | None = None
        self._model = None

    @property
    def folder_name(self) -> str:
        return Path(self.folder).name

    def enhance(self, prompt: str, image_to_video: bool = False, seed: int = 42, **options) -> str:
        if self._tokenizer is None:
            self._tokenizer = PromptTokenizer(self.folder, MAX_PROMPT_TOKENS)
        if self._model is None:
            self._model = load_gemma(self.folder, self.dtype, self.quantize_bits, self.group_size)
        return rewrite_prompt(self._tokenizer, self._model, prompt, image_to_video, seed, **options)

    def release(self) -> None:
        self._model = None
        gc.collect()
        mx.clear_cache()
