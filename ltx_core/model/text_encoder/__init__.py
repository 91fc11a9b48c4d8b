"""The LTX-2 text path: Gemma 3 (LTX-2.0/2.3) or Gemma 4 (LTX-2.5) hidden states -> features ->
video/audio contexts."""

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
from ltx_core.model.text_encoder.gemma4 import Gemma4TextModel
from ltx_core.model.text_encoder.gemma4_config import Gemma4Config
from ltx_core.model.text_encoder.gemma4_tokenizer import EmbeddedPromptTokenizer
from ltx_core.model.text_encoder.gemma_config import GemmaConfig

__all__ = [
    "ConnectorConfig",
    "EmbeddingsConnector",
    "EmbeddedPromptTokenizer",
    "EmbeddingsProcessor",
    "FeatureExtractorV1",
    "FeatureExtractorV2",
    "Gemma4Config",
    "Gemma4TextModel",
    "GemmaConfig",
    "GemmaTextModel",
    "KVCache",
    "TextContexts",
    "TextFeatures",
    "additive_mask",
    "normalize_hidden_states",
    "normalize_per_token_rms",
]
