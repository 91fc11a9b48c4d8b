"""``PromptEncoder``: prompt text -> the video and audio contexts the transformer consumes.

It owns the tokenizer, Gemma and the LTX embeddings processor, loads each on first use,
looks prompts up in an optional on-disk cache first (a cache hit loads no model at all),
and frees everything with ``release()`` so the transformer can take the memory.
"""

from __future__ import annotations

import gc
import os
from typing import Protocol

import mlx.core as mx

from ltx_core.model.text_encoder.cache import EmbeddingCache, PromptEmbeddings, load_embeddings
from ltx_core.model.text_encoder.connector import EmbeddingsProcessor, TextContexts
from ltx_core.model.text_encoder.enhance import clean_response, enhancement_messages, generate
from ltx_core.model.text_encoder.gemma import GemmaTextModel
from ltx_core.model.text_encoder.tokenizer import MAX_PROMPT_TOKENS, PromptError, PromptTokenizer, PromptTokens


class TextEncoderSource(Protocol):
    """Where the text encoder's parts come from (a Gemma folder and the LTX checkpoint, or one
    text-encoder file); ``ltx_core.loader.text_encoder`` implements it."""

    def tokenizer(self, max_length: int) -> PromptTokenizer: ...

    def gemma(self, dtype: mx.Dtype, quantize_bits: int | None, group_size: int) -> GemmaTextModel: ...

    def processor(self, dtype: mx.Dtype) -> EmbeddingsProcessor: ...

    def identity(self) -> str: ...


class PromptEncoder:
    def __init__(
        self,
        source: TextEncoderSource,
        dtype: mx.Dtype,
        quantize_bits: int | None = None,
        group_size: int = 64,
        max_length: int = MAX_PROMPT_TOKENS,
        cache_dir: str | os.PathLike | None = None,
    ):
        self.source = source
        self.dtype = dtype
        self.quantize_bits = quantize_bits
        self.group_size = group_size
        self.max_length = max_length
        self.cache = EmbeddingCache(cache_dir) if cache_dir is not None else None
        self._tokenizer: PromptTokenizer | None = None
        self._gemma: GemmaTextModel | None = None
        self._processor: EmbeddingsProcessor | None = None
        self._identity: str | None = None

    # -- components, loaded on first use -------------------------------------------------
    @property
    def tokenizer(self) -> PromptTokenizer:
        if self._tokenizer is None:
            self._tokenizer = self.source.tokenizer(self.max_length)
        return self._tokenizer

    @property
    def gemma(self) -> GemmaTextModel:
        if self._gemma is None:
            self.processor  # noqa: B018  (checks the Gemma size against the checkpoint first)
            self._gemma = self.source.gemma(self.dtype, self.quantize_bits, self.group_size)
        return self._gemma

    @property
    def processor(self) -> EmbeddingsProcessor:
        if self._processor is None:
            self._processor = self.source.processor(self.dtype)
        return self._processor

    @property
    def loaded(self) -> bool:
        return self._gemma is not None or self._processor is not None

    # -- encoding --------------------------------------------------------------------------
    def encode(self, prompt: str, negative_prompt: str | None = None) -> PromptEmbeddings:
        """Contexts for ``prompt`` (and ``negative_prompt`` when given), from the cache if possible."""
        if not isinstance(prompt, str) or not prompt.strip():
            raise PromptError("The prompt is empty: describe the video to generate.")
        key = self._cache_key(prompt, negative_prompt) if self.cache is not None else None
        if key is not None:
            cached = self.cache.get(key)
            if cached is not None and (negative_prompt is None) == (cached.negative is None):
                return cached
        positive = self.encode_tokens(self.tokenizer(prompt))
        negative = None
        if negative_prompt is not None:
            negative = self.encode_tokens(self.tokenizer(negative_prompt, allow_empty=True, what="negative prompt"))
        embeddings = PromptEmbeddings(positive, negative)
        if key is not None:
            self.cache.put(key, embeddings)
        return embeddings

    def encode_tokens(self, tokens: PromptTokens) -> TextContexts:
        states = self.gemma.hidden_states(tokens.input_ids, tokens.attention_mask, skip_padding=True)
        contexts = self.processor(states, tokens.attention_mask)
        mx.eval(contexts.video, contexts.audio if contexts.audio is not None else contexts.video, contexts.mask)
        return contexts

    @staticmethod
    def load_precomputed(path: str | os.PathLike) -> PromptEmbeddings:
        """Embeddings computed earlier (``.npz`` or ``.safetensors``) instead of a prompt."""
        return load_embeddings(path)

    # -- prompt enhancement ----------------------------------------------------------------
    def enhance(
        self,
        prompt: str,
        image_to_video: bool = False,
        seed: int = 42,
        temperature: float = 0.7,
        max_new_tokens: int = 512,
        system_prompt: str | None = None,
    ) -> str:
        """Rewrite ``prompt`` with Gemma into a detailed video prompt (shown to the user before
        use). ``temperature=0`` is greedy; otherwise sampling is seeded by ``seed``. The image
        of an image-to-video job is not shown to Gemma (this port has no vision tower)."""
        if not prompt or not prompt.strip():
            raise PromptError("The prompt is empty: write a short idea to enhance.")
        ids = self.tokenizer.chat_ids(enhancement_messages(prompt, image_to_video, system_prompt))
        stop = self.tokenizer.stop_ids() | set(self.gemma.config.eos_token_ids)
        out = generate(self.gemma, ids, max_new_tokens, stop, temperature, seed)
        return clean_response(self.tokenizer.decode(out))

    # -- memory ----------------------------------------------------------------------------
    def release(self) -> None:
        """Drop Gemma and the connectors and return their memory (call before the transformer loads)."""
        self._gemma = None
        self._processor = None
        gc.collect()
        mx.clear_cache()

    def _cache_key(self, prompt: str, negative_prompt: str | None) -> str:
        if self._identity is None:
            self._identity = self.source.identity()
        return EmbeddingCache.key(
            prompt.strip(),
            None if negative_prompt is None else negative_prompt.strip(),
            self._identity,
            max_length=self.max_length,
            dtype=self.dtype,
            quantize_bits=self.quantize_bits,
            group_size=self.group_size if self.quantize_bits else None,
        )
