"""The Gemma feature projection of a checkpoint: which extractor it is and its tensor mapping.

ltx-core 1.0.0 picks the extractor from four ``transformer`` config keys: none present is V1
(LTX-2.0, one shared projection), all four with the LTX-2.3 values is V2 (separate video and
audio projections with bias), anything else is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mlx.nn as nn

from ltx_core.errors import CheckpointError, ConfigError, WeightsMismatchError
from ltx_core.loader.checkpoint import TEXT_PROJECTION_PREFIX
from ltx_core.loader.safetensors_file import SafetensorsFile
from ltx_core.loader.weights import TensorSource
from ltx_core.model.text_encoder.features import FeatureExtractorV1, FeatureExtractorV2
from ltx_core.model.text_encoder.gemma_config import GemmaConfig

V2_CONFIG = {
    "caption_proj_before_connector": True,
    "caption_projection_first_linear": False,
    "caption_proj_input_norm": False,
    "caption_projection_second_linear": False,
}
# The width of the Gemma the released models use (Gemma 3 12B), when neither a Gemma config
# nor the checkpoint config's caption_channels tells it.
GEMMA_12B_WIDTH = 3840
GEMMA_HINT = "google/gemma-3-12b-it for LTX-2"


@dataclass
class FeatureProjection:
    module: nn.Module
    mapping: dict[str, TensorSource]  # module parameter -> file tensor (under ``feature_extractor.``)
    video_width: int
    audio_width: int | None  # None: no audio projection in the file (V2 video-only)


def feature_extractor_version(section: dict[str, Any], where: str) -> int:
    present = [key for key in V2_CONFIG if key in section]
    if not present:
        return 1
    missing = [key for key in V2_CONFIG if key not in section]
    if missing:
        raise ConfigError(
            f"{where}: {', '.join(present)} present but {', '.join(missing)} missing; the LTX-2.3 text path "
            "needs all four caption-projection keys."
        )
    for key, value in V2_CONFIG.items():
        if section[key] != value:
            raise ConfigError(
                f"{where}: {key} = {section[key]!r} is not supported by this port (supported: {value!r}, "
                "the LTX-2.3 text path)."
            )
    return 2


def feature_projection(
    checkpoint: SafetensorsFile, section: dict[str, Any], where: str, gemma: GemmaConfig | None
) -> FeatureProjection:
    """Build the extractor the config names, checked against the tensors of the file that holds
    the projection (the checkpoint; LTX-2.5: the text-encoder file) and ``gemma``."""
    projection = _v2(checkpoint, section, where, gemma) if feature_extractor_version(section, where) == 2 else _v1(
        checkpoint, gemma
    )
    used = {source.key for source in projection.mapping.values()}
    for full in checkpoint.keys():
        if full.startswith(TEXT_PROJECTION_PREFIX) and full not in used:
            projection.mapping[full[len(TEXT_PROJECTION_PREFIX) :]] = TensorSource(full)  # reported as unexpected
    projection.mapping = {f"feature_extractor.{k}": v for k, v in projection.mapping.items()}
    return projection


def _check_gemma(checkpoint: SafetensorsFile, gemma: GemmaConfig | None, width: int, num_states: int) -> None:
    if gemma is not None and (gemma.hidden_size, gemma.num_states) != (width, num_states):
        raise ConfigError(
            f"The Gemma model has width {gemma.hidden_size} and {gemma.num_hidden_layers} layers, but "
            f"{checkpoint.name}'s feature projection expects width {width} and {num_states - 1} layers "
            f"({GEMMA_HINT}). Use the Gemma the checkpoint was trained with."
        )


def _v1(checkpoint: SafetensorsFile, gemma: GemmaConfig | None) -> FeatureProjection:
    key = f"{TEXT_PROJECTION_PREFIX}aggregate_embed.weight"
    if key not in checkpoint:
        raise CheckpointError(
            f"{checkpoint.name} has no Gemma feature projection ({key}). "
            "Use a full LTX-2 checkpoint such as ltx-2-19b-distilled.safetensors."
        )
    out_dim, in_dim = checkpoint.info(key).shape
    if in_dim % out_dim:
        raise WeightsMismatchError(f"{checkpoint.name}: {key} has shape {(out_dim, in_dim)}, not (D, D*k).")
    num_states = in_dim // out_dim
    _check_gemma(checkpoint, gemma, out_dim, num_states)
    mapping = {"aggregate_embed.weight": TensorSource(key)}
    return FeatureProjection(FeatureExtractorV1(out_dim, num_states), mapping, out_dim, out_dim)


def _v2(
    checkpoint: SafetensorsFile, section: dict[str, Any], where: str, gemma: GemmaConfig | None
) -> FeatureProjection:
    prefix = TEXT_PROJECTION_PREFIX
    video_key, audio_key = f"{prefix}video_aggregate_embed.weight", f"{prefix}audio_aggregate_embed.weight"
    if video_key not in checkpoint:
        raise CheckpointError(
            f"{checkpoint.name}: its config selects the LTX-2.3 text path but it has no {video_key}. "
            "Use a full LTX-2.3 checkpoint such as ltx-2.3-22b-distilled.safetensors."
        )
    video_dim, in_dim = checkpoint.info(video_key).shape
    # The Gemma width is not in the projection's shape (D x layers): ltx-core takes it from its
    # Gemma config; here the Gemma given, else the config's caption channels, else Gemma 3 12B's.
    width = gemma.hidden_size if gemma is not None else section.get("caption_channels") or GEMMA_12B_WIDTH
    if not isinstance(width, int) or in_dim % width:
        raise WeightsMismatchError(
            f"{checkpoint.name}: {video_key} has input width {in_dim}, not a multiple of the Gemma width {width!r} "
            f"({where}, caption_channels)."
        )
    num_states = in_dim // width
    _check_gemma(checkpoint, gemma, width, num_states)
    expected = {
        "video": section.get("num_attention_heads", 32) * section.get("attention_head_dim", 128),
        "audio": section.get("audio_num_attention_heads", 32) * section.get("audio_attention_head_dim", 64),
    }
    audio_dim = checkpoint.info(audio_key).shape[0] if audio_key in checkpoint else None
    for label, found in (("video", video_dim), ("audio", audio_dim)):
        if found is not None and found != expected[label]:
            raise WeightsMismatchError(
                f"{checkpoint.name}: the {label} text projection has width {found}, but {where} gives the "
                f"transformer's {label} width {expected[label]}."
            )
    mapping = {}
    for stream, present in (("video", True), ("audio", audio_dim is not None)):
        if present:
            for part in ("weight", "bias"):
                mapping[f"{stream}_aggregate_embed.{part}"] = TensorSource(f"{prefix}{stream}_aggregate_embed.{part}")
    return FeatureProjection(FeatureExtractorV2(width, num_states, video_dim, audio_dim), mapping, video_dim, audio_dim)
