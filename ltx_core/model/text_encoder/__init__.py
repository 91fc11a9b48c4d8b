"""The LTX-2 text path: Gemma 3 hidden states -> features -> video/audio contexts."""

from ltx_core.model.text_encoder.connector import (
    ConnectorConfig,
    EmbeddingsConnector,
    EmbeddingsProcessor,
    TextContexts,
    additive_mask,
)
from ltx_core.model.text_encoder.features import (
    FeatureExtractorV1,
    FeatureExtractorV2,
    TextFeatures,
    normalize_hidden_states,
    normalize_per_token_rms,
)
from ltx_core.model.text_encoder.gemma import GemmaTextModel, KVCache
from ltx_core.model.text_encoder.gemma_config import GemmaConfig

__all__ = [
    "ConnectorConfig",
    "EmbeddingsConnector",
    "EmbeddingsProcessor",
    "FeatureExtractorV1",
    "FeatureExtractorV2",
    "GemmaConfig",
    "GemmaTextModel",
    "KVCache",
    "TextContexts",
    "TextFeatures",
    "additive_mask",
    "normalize_hidden_states",
    "normalize_per_token_rms",
]
