"""The LTX-2 text path: Gemma 3 hidden states -> features -> video/audio contexts."""

from ltx_core.model.text_encoder.connector import (
    ConnectorConfig,
    EmbeddingsConnector,
    EmbeddingsProcessor,
    TextContexts,
    additive_mask,
)
from ltx_core.model.text_encoder.features import FeatureExtractorV1, normalize_hidden_states
from ltx_core.model.text_encoder.gemma import GemmaTextModel, KVCache
from ltx_core.model.text_encoder.gemma_config import GemmaConfig

__all__ = [
    "ConnectorConfig",
    "EmbeddingsConnector",
    "EmbeddingsProcessor",
    "FeatureExtractorV1",
    "GemmaConfig",
    "GemmaTextModel",
    "KVCache",
    "TextContexts",
    "additive_mask",
    "normalize_hidden_states",
]
