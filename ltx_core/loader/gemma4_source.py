"""The LTX-2.5 text encoder as a ``TextEncoderSource``: the tokenizer and Gemma 4 from the one-file
text encoder (``text_encoders/*.safetensors``), the FeatureExtractorV2 projection
(``text_embedding_projection.*``) from that same file, and the config and embeddings connectors
from the transformer file (as ltx-core 1.2.0's embeddings processor reads them).

The transformer's ``gemma_source_checkpoint.gemma_version`` is checked against the text encoder's
``gemma_version`` when the source is made, before anything loads.
"""

from __future__ import annotations

import os

import mlx.core as mx

from ltx_core.loader.checkpoint import LTXCheckpoint
from ltx_core.loader.components import open_checkpoint
from ltx_core.loader.gemma4 import Gemma4TextEncoderFile, check_gemma_version, load_gemma4
from ltx_core.loader.text_encoder import check_embeddings_processor, load_embeddings_processor, prompt_encoder_over
from ltx_core.model.text_encoder.connector import EmbeddingsProcessor
from ltx_core.model.text_encoder.gemma4 import Gemma4TextModel
from ltx_core.model.text_encoder.gemma4_tokenizer import EmbeddedPromptTokenizer


class Gemma4FileSource:
    """Tokenizer, Gemma 4 and projection from one text-encoder file; connectors from the transformer."""

    def __init__(self, text_encoder: str | os.PathLike, transformer: LTXCheckpoint | str | os.PathLike):
        self.transformer = open_checkpoint(transformer)
        self.file = Gemma4TextEncoderFile(text_encoder)
        check_gemma_version(
            dict(self.transformer.file.metadata), self.transformer.name, self.file.gemma_version, self.file.name
        )

    def tokenizer(self, max_length: int) -> EmbeddedPromptTokenizer:
        return self.file.tokenizer(max_length)

    def gemma(self, dtype: mx.Dtype, quantize_bits: int | None, group_size: int) -> Gemma4TextModel:
        return load_gemma4(self.file, dtype, quantize_bits, group_size)

    def processor(self, dtype: mx.Dtype) -> EmbeddingsProcessor:
        return load_embeddings_processor(self.transformer, dtype, self.file.config, projection_file=self.file.file)

    def check_sizes(self) -> None:
        check_embeddings_processor(self.transformer, self.file.config, projection_file=self.file.file)

    def identity(self) -> str:
        return f"{self.file.identity()}:{self.transformer.identity()}"


def load_split_prompt_encoder(
    text_encoder: str | os.PathLike,
    transformer: LTXCheckpoint | str | os.PathLike,
    dtype: mx.Dtype | str = mx.float32,
    quantization=None,
    max_length: int | None = None,
    cache_dir: str | os.PathLike | None = None,
    staged: bool = True,
):
    """A ``PromptEncoder`` over an LTX-2.5 text-encoder file and transformer file; each part loads
    on first use. ``quantization``: a ``QuantizationSpec`` for Gemma (None: the compute dtype)."""
    return prompt_encoder_over(Gemma4FileSource(text_encoder, transformer), dtype, quantization, max_length, cache_dir,
                               staged)  # fmt: skip
