"""The file each component of a reference set loads from: the single checkpoint of a 2.0 / 2.3
set, or, for a per-component 2.5 set, the file of that role (resolved from the files' headers by
``ModelPaths.from_folder``, as the studio does)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from ltx_core.model_paths import ModelPaths
from tests.conftest import Reference


@lru_cache(maxsize=None)
def _split_paths(directory: Path, video_decoder: str | None = None) -> ModelPaths:
    return ModelPaths.from_folder(directory, video_decoder=video_decoder)


def model_paths(reference: Reference) -> ModelPaths | None:
    """The set's resolved paths (2.5), or None for a single-file set."""
    return _split_paths(reference.directory) if reference.version == "2.5" else None


def transformer_file(reference: Reference) -> Path:
    paths = model_paths(reference)
    return paths.checkpoint if paths else reference.checkpoint


def video_vae_file(reference: Reference, video_decoder: str = "conv") -> Path:
    """The video VAE file with the ``video_decoder`` ("conv" or "diffusion"; 2.5 sets have both)."""
    if reference.version != "2.5":
        return reference.checkpoint
    return _split_paths(reference.directory, video_decoder).video_vae


def audio_vae_file(reference: Reference) -> Path:
    paths = model_paths(reference)
    return paths.audio_vae if paths else reference.checkpoint


def upsampler_path(reference: Reference, kind: str) -> Path | None:
    """The 2.5 set's ``kind`` ("spatial" / "temporal") x2 upsampler; None for other sets."""
    paths = model_paths(reference)
    if paths is None:
        return None
    return paths.spatial_upsampler if kind == "spatial" else paths.temporal_upsampler
