"""Prompt embeddings on disk: a persistent cache, and pre-computed embedding files.

A cache entry is one safetensors file named by a hash of everything the embeddings depend
on (prompt, negative prompt, Gemma weights, LTX checkpoint, token budget, dtype and
quantization). Its metadata holds a SHA-256 of the tensors; an entry whose checksum or
header does not verify is deleted and recomputed.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlx.core as mx
import numpy as np

from ltx_core.errors import CheckpointError
from ltx_core.model.text_encoder.connector import TextContexts

FORMAT = "ltx-prompt-embeddings/1"


@dataclass
class PromptEmbeddings:
    """Contexts of the prompt and, for guidance, of the negative prompt."""

    positive: TextContexts
    negative: TextContexts | None = None

    def arrays(self) -> dict[str, mx.array]:
        out: dict[str, mx.array] = {}
        for name, contexts in (("positive", self.positive), ("negative", self.negative)):
            if contexts is None:
                continue
            out[f"{name}/video_context"] = contexts.video
            out[f"{name}/mask"] = contexts.mask
            if contexts.audio is not None:
                out[f"{name}/audio_context"] = contexts.audio
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, Any], source: str) -> "PromptEmbeddings":
        def contexts(prefix: str) -> TextContexts | None:
            video = arrays.get(f"{prefix}video_context")
            if video is None:
                return None
            video = mx.array(video)
            mask = arrays.get(f"{prefix}mask", arrays.get(f"{prefix}connector_mask"))
            mask = mx.ones(video.shape[:2], dtype=mx.int64) if mask is None else mx.array(mask)
            audio = arrays.get(f"{prefix}audio_context")
            if video.ndim == 2:
                video, mask = video[None], mask.reshape(1, -1)
            if audio is not None:
                audio = mx.array(audio)
                audio = audio[None] if audio.ndim == 2 else audio
            return TextContexts(video=video, audio=audio, mask=mask)

        positive = contexts("positive/") or contexts("")
        if positive is None:
            raise CheckpointError(
                f"{source} holds no prompt embeddings: expected a 'video_context' (or 'positive/video_context') "
                "array, with optional 'audio_context', 'mask' and 'negative/...' arrays."
            )
        return cls(positive=positive, negative=contexts("negative/"))


def checksum(arrays: dict[str, mx.array]) -> str:
    digest = hashlib.sha256()
    for key in sorted(arrays):
        value = np.asarray(arrays[key])
        digest.update(f"{key}:{value.dtype}:{value.shape}".encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    return digest.hexdigest()


def save_embeddings(path: str | os.PathLike, embeddings: PromptEmbeddings, **metadata: str) -> Path:
    """Write embeddings to ``.safetensors`` (with a checksum) or ``.npz``, atomically."""
    path = Path(path)
    arrays = embeddings.arrays()
    mx.eval(list(arrays.values()))
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=path.suffix)
    os.close(handle)
    try:
        if path.suffix == ".npz":
            with open(temporary, "wb") as out:
                np.savez(out, **{k: np.asarray(v) for k, v in arrays.items()})
        else:
            meta = {"format": FORMAT, "checksum": checksum(arrays), **metadata}
            mx.save_safetensors(temporary, arrays, metadata=meta)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return path


def load_embeddings(path: str | os.PathLike) -> PromptEmbeddings:
    """Pre-computed embeddings from ``.npz`` or ``.safetensors``; a stored checksum is verified."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such embeddings file.")
    try:
        if path.suffix == ".npz":
            with np.load(path) as npz:
                arrays: dict[str, Any] = {key: npz[key] for key in npz.files}
            metadata: dict[str, str] = {}
        else:
            arrays, metadata = mx.load(str(path), return_metadata=True)
    except Exception as exc:  # any reader failure means the file is unusable
        raise CheckpointError(f"{path} is not a readable embeddings file ({exc}).") from None
    if "checksum" in metadata and checksum(arrays) != metadata["checksum"]:
        raise CheckpointError(f"{path} is corrupted: its tensors do not match the stored checksum.")
    return PromptEmbeddings.from_arrays(arrays, str(path))


class EmbeddingCache:
    """Directory of cached prompt embeddings."""

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)

    @staticmethod
    def key(prompt: str, negative_prompt: str | None, weights_identity: str, **settings) -> str:
        """``weights_identity``: fingerprints of every file the contexts depend on (text encoder, projection)."""
        payload = {
            "prompt": prompt,
            "negative_prompt": negative_prompt,
            "weights": weights_identity,
            **{k: str(v) for k, v in settings.items()},
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]

    def path(self, key: str) -> Path:
        return self.directory / f"{key}.safetensors"

    def get(self, key: str) -> PromptEmbeddings | None:
        """The cached entry, or None when absent or corrupted (a corrupted entry is removed)."""
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            arrays, metadata = mx.load(str(path), return_metadata=True)
            if metadata.get("format") != FORMAT or metadata.get("key") != key:
                raise ValueError("not an entry of this cache")
            if checksum(arrays) != metadata.get("checksum"):
                raise ValueError("checksum mismatch")
            return PromptEmbeddings.from_arrays(arrays, str(path))
        except Exception:  # unreadable header, truncated data, wrong checksum: recompute
            path.unlink(missing_ok=True)
            return None

    def put(self, key: str, embeddings: PromptEmbeddings) -> Path:
        return save_embeddings(self.path(key), embeddings, key=key)
