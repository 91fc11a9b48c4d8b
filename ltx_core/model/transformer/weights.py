"""Official checkpoint key names -> this port's parameter names (the ``sanitize`` step)."""

from __future__ import annotations

import re

# Top-level per-stream layers live under ``video.`` / ``audio.`` in this port.
_STREAM_LAYERS = (
    "patchify_proj",
    "keyframes_abs_pos_embedding",
    "adaln_single",
    "prompt_adaln_single",
    "caption_projection",
    "scale_shift_table",
    "proj_out",
)
_AUDIO_ONLY_BLOCK_PARTS = (
    "audio_attn1.",
    "audio_attn2.",
    "audio_ff.",
    "audio_scale_shift_table",
    "audio_prompt_scale_shift_table",
    "audio_to_video_attn.",
    "video_to_audio_attn.",
    "scale_shift_table_a2v_ca_",
)
# Under model.diffusion_model. but loaded by the text-encoder side, not the transformer.
CONNECTOR_PREFIXES = ("video_embeddings_connector.", "audio_embeddings_connector.")


def param_name(key: str, with_audio: bool = True) -> str | None:
    """Map a key (without ``model.diffusion_model.``) to a parameter name; None = not ours."""
    if key.startswith(CONNECTOR_PREFIXES):
        return None
    key = key.replace(".emb.timestep_embedder.", ".emb.")
    key = key.replace(".to_out.0.", ".to_out.")
    key = re.sub(r"ff\.net\.0\.proj\.", "ff.proj_in.", key)
    key = re.sub(r"ff\.net\.2\.", "ff.proj_out.", key)
    block = re.match(r"transformer_blocks\.\d+\.", key)
    if block:
        part = key[block.end() :]
        if not with_audio and part.startswith(_AUDIO_ONLY_BLOCK_PARTS):
            return None
        return key
    if key.startswith("av_ca_"):
        return key if with_audio else None
    stream = "video"
    if key.startswith("audio_"):
        if not with_audio:
            return None
        stream, key = "audio", key[len("audio_") :]
    if key.startswith(_STREAM_LAYERS):
        return f"{stream}.{key}"
    return key  # unknown: reported as unexpected by the strict loader
