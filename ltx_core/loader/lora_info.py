"""What a LoRA file says about itself, read from its header alone (nothing is loaded), for a
library of LoRAs: name, size, rank, base model version, trigger words, description and preview.

Metadata conventions read (safetensors ``__metadata__``, all strings):

- Stability AI's model spec (``modelspec.*``, written by kohya's sd-scripts and others):
  ``title``, ``description``, ``author``, ``usage_hint``, ``trigger_phrase`` (comma-separated
  phrases), ``thumbnail`` (a ``data:image/...;base64,`` URL).
- kohya's training metadata: ``ss_output_name`` (the run's name) and ``ss_tag_frequency`` (JSON:
  dataset folder -> {tag: count}; the most frequent tags are what the LoRA was trained on).
- ``model_version`` (the LTX convention checkpoints use) for the base version; without it the
  version comes from the modules the LoRA touches (``model_compat.lora_version``).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ltx_core.errors import CheckpointError, LTXError
from ltx_core.loader.lora import REFERENCE_DOWNSCALE_KEY, LoraFile, lora_footprint
from ltx_core.memory.estimate import LoraFootprint
from ltx_core.model_compat import lora_version
from ltx_core.model_spec import VersionSpec

TITLE_KEYS = ("modelspec.title", "ss_output_name")
MAX_TRAINED_TAGS = 8
MAX_PREVIEW_BYTES = 2_000_000  # the spec asks for a very small thumbnail; a huge one is ignored
_DATA_URL = re.compile(r"^data:(image/(?:png|jpeg|jpg|webp|gif));base64,(.+)$", re.DOTALL)


@dataclass(frozen=True)
class LoraInfo:
    path: Path
    size: int  # bytes on disk
    rank: int = 0
    modules: int = 0  # layers it changes
    version: VersionSpec | None = None  # None: it touches only layers every version has
    title: str = ""
    description: str = ""
    author: str = ""
    trigger_words: tuple[str, ...] = ()  # the model spec's trigger phrases
    trained_tags: tuple[str, ...] = ()  # kohya's most frequent training tags, most frequent first
    preview: bytes | None = None
    preview_type: str = ""  # e.g. image/png
    control: bool = False  # an IC-LoRA (it carries a reference downscale factor, or is named like one)
    footprint: LoraFootprint = field(default_factory=LoraFootprint)
    problem: str = ""  # non-empty: the file cannot be used as a LoRA, and why

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def display_name(self) -> str:
        return self.title or self.path.stem

    def searchable(self) -> str:
        """The text a library search matches against (lower case)."""
        parts = (self.path.name, self.title, self.description, self.author, *self.trigger_words, *self.trained_tags)
        return " ".join(parts).lower()

    def matches(self, query: str) -> bool:
        """Every word of ``query`` appears somewhere in the name, title, description or words."""
        text = self.searchable()
        return all(word in text for word in query.lower().split())


def _text(metadata: dict[str, str], *keys: str) -> str:
    for key in keys:
        value = metadata.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def _phrases(raw: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(p.strip() for p in raw.split(",") if p.strip()))


def trained_tags(raw: str, limit: int = MAX_TRAINED_TAGS) -> tuple[str, ...]:
    """The most frequent tags of kohya's ``ss_tag_frequency`` (counts summed over its datasets)."""
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, TypeError):
        return ()
    counts: dict[str, int] = {}
    for tags in data.values() if isinstance(data, dict) else ():
        for tag, n in tags.items() if isinstance(tags, dict) else ():
            if isinstance(n, int | float) and str(tag).strip():
                counts[str(tag).strip()] = counts.get(str(tag).strip(), 0) + int(n)
    return tuple(t for t, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit])


def preview_image(raw: str) -> tuple[bytes, str] | None:
    """(image bytes, MIME type) of a ``data:image/...;base64,`` thumbnail; None when it is not one."""
    match = _DATA_URL.match(raw.strip()) if raw else None
    if match is None:
        return None
    try:
        data = base64.b64decode(match.group(2), validate=False)
    except (binascii.Error, ValueError):
        return None
    if not data or len(data) > MAX_PREVIEW_BYTES:
        return None
    kind = match.group(1).replace("image/jpg", "image/jpeg")
    return data, kind


def read_lora_info(path: str | os.PathLike) -> LoraInfo:
    """Everything a library shows about one LoRA; a file that is not a usable LoRA comes back
    with ``problem`` set instead of raising."""
    path = Path(path)
    try:
        size = path.stat().st_size
        lora = LoraFile(path)
    except (LTXError, OSError) as exc:
        return LoraInfo(path, path.stat().st_size if path.is_file() else 0, problem=str(exc))
    try:
        metadata = lora.metadata
        version = lora_version(list(lora.modules), lora.file)
        rank, modules = lora.rank, len(lora.modules)
    except (CheckpointError, LTXError) as exc:
        return LoraInfo(path, size, problem=str(exc))
    finally:
        lora.file.close()
    preview = preview_image(metadata.get("modelspec.thumbnail", ""))
    control = REFERENCE_DOWNSCALE_KEY in metadata or "ic-lora" in path.name.lower().replace("_", "-")
    return LoraInfo(
        path, size, rank=rank, modules=modules, version=version, title=_text(metadata, *TITLE_KEYS),
        description=_text(metadata, "modelspec.description", "modelspec.usage_hint"),
        author=_text(metadata, "modelspec.author"),
        trigger_words=_phrases(metadata.get("modelspec.trigger_phrase", "")),
        trained_tags=trained_tags(metadata.get("ss_tag_frequency", "")),
        preview=preview[0] if preview else None, preview_type=preview[1] if preview else "",
        control=control, footprint=lora_footprint([path]),
    )  # fmt: skip


def incompatibility(lora: str | os.PathLike, checkpoint: str | os.PathLike) -> str:
    """Why ``lora`` cannot be used with ``checkpoint`` (the version check every run makes before
    loading: version and layer widths), or "" when it can."""
    from ltx_core.model_compat import check_lora_version

    try:
        check_lora_version(lora, checkpoint)
    except (LTXError, OSError) as exc:
        return str(exc)
    return ""
