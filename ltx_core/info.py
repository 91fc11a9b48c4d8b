"""Describe a checkpoint without loading it: components, sizes and the transformer's shape."""

from __future__ import annotations

import math
import os
from typing import Any

from ltx_core.loader.checkpoint import (
    AUDIO_CONNECTOR_PREFIX,
    AUDIO_VAE_PREFIX,
    TEXT_PROJECTION_PREFIX,
    TRANSFORMER_PREFIX,
    VIDEO_CONNECTOR_PREFIX,
    VIDEO_VAE_PREFIX,
    VOCODER_PREFIX,
    LTXCheckpoint,
)
from ltx_core.loader.components import transformer_config

COMPONENTS = (
    ("text embeddings connectors", (VIDEO_CONNECTOR_PREFIX, AUDIO_CONNECTOR_PREFIX)),
    ("transformer", (TRANSFORMER_PREFIX,)),
    ("text feature projection", (TEXT_PROJECTION_PREFIX,)),
    ("video VAE", (VIDEO_VAE_PREFIX,)),
    ("audio VAE", (AUDIO_VAE_PREFIX,)),
    ("vocoder", (VOCODER_PREFIX,)),
)


def describe_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """A plain-data summary of an LTX-2 checkpoint; raises LTXError subclasses on bad files."""
    from ltx_core.model_spec import Role, require_role

    recognised = require_role(path, Role.CHECKPOINT, what="model checkpoint")
    checkpoint = LTXCheckpoint(path)
    try:
        claimed: set[str] = set()
        components = {}
        for name, prefixes in COMPONENTS:
            keys = [k for k in checkpoint.file.keys() if k.startswith(prefixes) and k not in claimed]
            claimed.update(keys)
            if keys:
                infos = [checkpoint.file.info(k) for k in keys]
                components[name] = {
                    "tensors": len(keys),
                    "parameters": sum(math.prod(i.shape) for i in infos),
                    "bytes": sum(i.nbytes for i in infos),
                    "dtypes": sorted({i.dtype for i in infos}),
                }
        config = transformer_config(checkpoint)
        return {
            "file": checkpoint.name,
            "bytes": checkpoint.file.file_size,
            "model_version": recognised.version.version,
            "model": f"{recognised.version.title} ({recognised.version.parameters} family)",
            "variant": recognised.variant,
            "config_sections": sorted(checkpoint.config),
            "components": components,
            "transformer": {
                "layers": config.num_layers,
                "video_width": config.inner_dim,
                "video_heads": config.num_attention_heads,
                "audio_width": config.audio_inner_dim,
                "audio_heads": config.audio_num_attention_heads,
                "rope": config.rope_type,
                "gated_attention": config.apply_gated_attention,
                "av_ca_timestep_scale_multiplier": config.av_ca_timestep_scale_multiplier,
            },
            "video_vae": _video_vae_summary(checkpoint),
            "unassigned_tensors": len(checkpoint.file.keys()) - len(claimed),
        }
    finally:
        checkpoint.close()


def _video_vae_summary(checkpoint: LTXCheckpoint) -> dict[str, Any] | None:
    """Padding per half and the config key that chose it (the spellings differ between files)."""
    if "vae" not in checkpoint.config:
        return None
    from ltx_core.loader.video_vae import video_vae_config

    config = video_vae_config(checkpoint)
    return {
        "encoder_padding": f"{config.encoder_padding_mode} ({config.padding_source('encoder')})",
        "decoder_padding": f"{config.decoder_padding_mode} ({config.padding_source('decoder')})",
        "timestep_conditioning": config.timestep_conditioning,
    }
