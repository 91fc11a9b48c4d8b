"""``PromptEncoder``: prompt text -> the video and audio contexts the transformer consumes.

It owns the tokenizer, Gemma and the LTX embeddings processor, loads each on first use,
looks prompts up in an optional on-disk cache first (a cache hit loads no model at all),
and frees everything with ``release()`` so the transformer can take the memory.

Staged (the default; every preset but "keep models loaded"): Gemma and the embeddings processor
(the aggregate projections and both connectors, ~6 GB in bf16 for LTX-2.3 / 2.5) are never in
memory together: every prompt of an ``encode`` runs through Gemma to its hidden states, Gemma is
released, then the processor loads and turns the kept states into contexts. The estimator
(``memory.estimate.text_encoder_stage``) takes the larger of the two phases.
"""

from __future__ import annotations

import gc
import os
from typing import Protocol

import mlx.core as mx

from ltx_core.model.text_encoder.cache import EmbeddingCache, PromptEmbeddings, load_embeddings
from ltx_core.model.text_encoder.connector import EmbeddingsProcessor, TextContexts
from ltx_core.model.text_encoder.enhance import rewrite_prompt
from ltx_core.model.text_encoder.gemma import GemmaTextModel
from ltx_core.model.text_encoder.tokenizer import MAX_PROMPT_TOKENS, PromptError, PromptTokenizer, PromptTokens


class TextEncoderSource(Protocol):
    """Where the text encoder's parts come from (a Gemma folder and the LTX checkpoint, or one
    text-encoder file); ``ltx_core.loader.text_encoder`` implements it."""

    def tokenizer(self, max_length: int) -> PromptTokenizer: ...

    def gemma(self, dtype: mx.Dtype, quantize_bits: int | None, group_size: int) -> GemmaTextModel: ...

    def processor(self, dtype: mx.Dtype) -> EmbeddingsProcessor: ...

    def identity(self) -> str: ...

    def check_sizes(self) -> None:
        """Header-only: the processor's config and shapes, and that they fit this Gemma."""
        ...


class PromptEncoder:
    def __init__(
        self,
        source: TextEncoderSource,
        dtype: mx.Dtype,
        quantize_bits: int | None = None,
        group_size: int = 64,
        max_length: int = MAX_PROMPT_TOKENS,
        cache_dir: str | os.PathLike | None = None,
        staged: bool = True,
    ):
        self.source = source
        self.staged = staged
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
            self.source.check_sizes()  # a Gemma of another size is refused before it loads
            if self.staged:
                self._drop("_processor")
            self._gemma = self.source.gemma(self.dtype, self.quantize_bits, self.group_size)
        return self._gemma

    @property
    def processor(self) -> EmbeddingsProcessor:
        if self._processor is None:
            if self.staged:
                self._drop("_gemma")
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
        token_sets = [self.tokenizer(prompt)]
        if negative_prompt is not None:
            token_sets.append(self.tokenizer(negative_prompt, allow_empty=True, what="negative prompt"))
        contexts = self.encode_token_sets(token_sets)
        embeddings = PromptEmbeddings(contexts[0], contexts[1] if len(contexts) > 1 else None)
        if key is not None:
            self.cache.put(key, embeddings)
        return embeddings

    def encode_tokens(self, tokens: PromptTokens) -> TextContexts:
        return self.encode_token_sets([tokens])[0]

    def encode_token_sets(self, token_sets: list[PromptTokens]) -> list[TextContexts]:
        """Contexts of each tokenized prompt: all through Gemma first (states evaluated, so that
        no lazy graph keeps Gemma's weights alive), then all through the processor."""
        states = []
        for tokens in token_sets:
            states.append(self.gemma.hidden_states(tokens.input_ids, tokens.attention_mask, skip_padding=True))
            mx.eval(states[-1])
        contexts = []
        for tokens, hidden in zip(token_sets, states):
            context = self.processor(hidden, tokens.attention_mask)
            mx.eval(context.video, context.audio if context.audio is not None else context.video, context.mask)
            contexts.append(context)
        return contexts

    @staticmethod
    def load_precomputed(path: str | os.PathLike) -> PromptEmbeddings:
        """Embeddings computed earlier (``.npz`` or ``.safetensors``) instead of a prompt."""
        return load_embeddings(path)

    # -- prompt enhancement ----------------------------------------------------------------
    def enhance(self, prompt: str, image_to_video: bool = False, seed: int = 42, **options) -> str:
        """Rewrite ``prompt`` with this encoder's Gemma 3 (``enhance.rewrite_prompt``, whose
        ``options`` are temperature, max_new_tokens and system_prompt); shown to the user before use."""
        if not prompt or not prompt.strip():  # before Gemma loads
            raise PromptError("The prompt is empty: write a short idea to enhance.")
        return rewrite_prompt(self.tokenizer, self.gemma, prompt, image_to_video, seed, **options)

    # -- memory ----------------------------------------------------------------------------
    def release(self) -> None:
        """Drop Gemma and the connectors and return their memory (call before the transformer loads)."""
        self._gemma = None
        self._processor = None
        gc.collect()
        mx.clear_cache()

    def _drop(self, attribute: str) -> None:
        if getattr(self, attribute) is not None:
            setattr(self, attribute, None)
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
