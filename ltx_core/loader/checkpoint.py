"""An official single-file LTX-2 checkpoint: its JSON config and its per-component tensors."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from ltx_core.errors import CheckpointError, ConfigError
from ltx_core.loader.safetensors_file import SafetensorsFile

# Key prefixes of the components bundled in one checkpoint file (as in ltx-2-19b-*.safetensors).
TRANSFORMER_PREFIX = "model.diffusion_model."
VIDEO_CONNECTOR_PREFIX = "model.diffusion_model.video_embeddings_connector."
AUDIO_CONNECTOR_PREFIX = "model.diffusion_model.audio_embeddings_connector."
TEXT_PROJECTION_PREFIX = "text_embedding_projection."
VIDEO_VAE_PREFIX = "vae."
AUDIO_VAE_PREFIX = "audio_vae."
VOCODER_PREFIX = "vocoder."


class LTXCheckpoint:
    """Open a checkpoint lazily: reading the config touches no tensor data."""

    def __init__(self, path: str | os.PathLike):
        self.file = SafetensorsFile(path)
        raw = self.file.metadata.get("config")
        if raw is None:
            kind = "an upsampler or LoRA file" if self._looks_like_side_file() else "not an LTX-2 checkpoint"
            raise CheckpointError(
                f"{self.file.name} has no 'config' entry in its safetensors metadata, so it is {kind}. "
                "Expected an official single-file LTX-2 checkpoint such as ltx-2-19b-distilled.safetensors."
            )
        try:
            config = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise CheckpointError(f"{self.file.name}: its metadata 'config' is not valid JSON ({exc}).") from None
        if not isinstance(config, dict):
            raise CheckpointError(f"{self.file.name}: its metadata 'config' must be a JSON object.")
        self.config: dict[str, Any] = config

    @property
    def path(self) -> Path:
        return self.file.path

    @property
    def name(self) -> str:
        return self.file.name

    def section(self, name: str) -> dict[str, Any]:
        """One component's config section; a clear error when the checkpoint lacks it."""
        section = self.config.get(name)
        if section is None and ("spatial_upsample" in self.config or "temporal_upsample" in self.config):
            raise ConfigError(
                f"{self.name} is a latent upsampler file, not a model checkpoint. Pass it as the "
                "spatial/temporal upsampler and give an LTX-2 checkpoint such as ltx-2-19b-distilled.safetensors "
                "as the model."
            )
        if section is None:
            present = ", ".join(sorted(self.config)) or "none"
            raise ConfigError(
                f"{self.name}: the config has no '{name}' section (sections present: {present}). "
                "This file does not contain that component; use a full LTX-2 checkpoint."
            )
        if not isinstance(section, dict):
            raise ConfigError(f"{self.name}: config section '{name}' must be a JSON object.")
        return section

    def keys_under(self, prefix: str, exclude: tuple[str, ...] = ()) -> dict[str, str]:
        """Map ``key without prefix -> full key`` for every tensor under ``prefix``."""
        return {
            key[len(prefix) :]: key
            for key in self.file.keys()
            if key.startswith(prefix) and not any(key.startswith(e) for e in exclude)
        }

    def identity(self) -> str:
        """A short fingerprint of the file (name, size and header), for caches keyed by weights."""
        digest = hashlib.sha256()
        digest.update(self.name.encode())
        digest.update(str(self.file.file_size).encode())
        digest.update(json.dumps(self.config, sort_keys=True).encode())
        for key in sorted(self.file.keys())[:64]:
            info = self.file.info(key)
            digest.update(f"{key}:{info.dtype}:{info.shape}:{info.start}".encode())
        return digest.hexdigest()[:16]

    def close(self) -> None:
        self.file.close()

    def _looks_like_side_file(self) -> bool:
        keys = self.file.keys()
        return any("lora_" in k for k in keys[:50]) or any(k.startswith(("upsampler", "res_blocks", "initial_conv")) for k in keys)
