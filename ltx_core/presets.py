"""Memory modes: data files in ``presets/`` (one JSON file per mode), validated on load."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ltx_core.errors import ConfigError
from ltx_core.loader.quantization import QuantizationSpec

PRESETS_DIR = Path(__file__).resolve().parents[1] / "presets"
COMPUTE_DTYPES = ("auto", "float32", "bfloat16", "float16")
UNLOAD_POLICIES = ("release_each_stage", "keep_loaded")
_FIELDS = (
    "name",
    "description",
    "min_ram_gb",
    "compute_dtype",
    "transformer_quantization",
    "text_encoder_quantization",
    "vae_tiling",
    "batch_guidance_passes",
    "block_streaming",
    "unload_policy",
)
_TILING_FIELDS = ("spatial_tile", "spatial_overlap", "temporal_tile", "temporal_overlap")


@dataclass(frozen=True)
class VaeTiling:
    spatial_tile: int  # pixels
    spatial_overlap: int
    temporal_tile: int  # frames
    temporal_overlap: int


    def config(self):
        """The video VAE's TilingConfig (validates the sizes the VAE accepts)."""
        from ltx_core.model.video_vae.tiling import SpatialTilingConfig, TemporalTilingConfig, TilingConfig

        return TilingConfig(
            SpatialTilingConfig(self.spatial_tile, self.spatial_overlap),
            TemporalTilingConfig(self.temporal_tile, self.temporal_overlap),
        )


@dataclass(frozen=True)
class MemoryPreset:
    name: str
    description: str
    min_ram_gb: float
    compute_dtype: str
    transformer_quantization: QuantizationSpec | None
    text_encoder_quantization: QuantizationSpec | None
    vae_tiling: VaeTiling
    batch_guidance_passes: bool  # CFG/STG/modality passes as one batch (faster) or one by one (less memory)
    block_streaming: bool
    unload_policy: str

    @staticmethod
    def from_file(path: str | os.PathLike) -> "MemoryPreset":
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"memory preset {path.name}: cannot be read as JSON ({exc}).") from None
        return MemoryPreset.from_dict(data, path.name)

    @staticmethod
    def from_dict(data: Any, source: str) -> "MemoryPreset":
        if not isinstance(data, dict):
            raise ConfigError(f"memory preset {source}: must be a JSON object.")
        missing = [f for f in _FIELDS if f not in data]
        if missing:
            raise ConfigError(f"memory preset {source}: missing field(s) {', '.join(missing)}.")

        def fail(field: str, why: str) -> ConfigError:
            return ConfigError(f"memory preset {source}: field '{field}' {why} (got {data[field]!r}).")

        if not isinstance(data["name"], str) or not data["name"]:
            raise fail("name", "must be a non-empty string")
        if not isinstance(data["min_ram_gb"], (int, float)) or data["min_ram_gb"] <= 0:
            raise fail("min_ram_gb", "must be a positive number")
        if data["compute_dtype"] not in COMPUTE_DTYPES:
            raise fail("compute_dtype", f"must be one of {', '.join(COMPUTE_DTYPES)}")
        if data["unload_policy"] not in UNLOAD_POLICIES:
            raise fail("unload_policy", f"must be one of {', '.join(UNLOAD_POLICIES)}")
        for flag in ("block_streaming", "batch_guidance_passes"):
            if not isinstance(data[flag], bool):
                raise fail(flag, "must be true or false")
        tiling = data["vae_tiling"]
        if not isinstance(tiling, dict) or any(not isinstance(tiling.get(f), int) or tiling[f] < 0 for f in _TILING_FIELDS):
            raise fail("vae_tiling", f"must be an object with non-negative integers {', '.join(_TILING_FIELDS)}")
        if tiling["spatial_overlap"] >= tiling["spatial_tile"] or tiling["temporal_overlap"] >= tiling["temporal_tile"]:
            raise fail("vae_tiling", "needs overlaps smaller than the tiles")
        vae_tiling = VaeTiling(**{f: tiling[f] for f in _TILING_FIELDS})
        try:
            vae_tiling.config()
        except ConfigError as exc:
            raise ConfigError(f"memory preset {source}: field 'vae_tiling': {exc}") from None
        return MemoryPreset(
            name=data["name"],
            description=str(data["description"]),
            min_ram_gb=float(data["min_ram_gb"]),
            compute_dtype=data["compute_dtype"],
            transformer_quantization=_quantization(data, "transformer_quantization", source),
            text_encoder_quantization=_quantization(data, "text_encoder_quantization", source),
            vae_tiling=vae_tiling,
            batch_guidance_passes=data["batch_guidance_passes"],
            block_streaming=data["block_streaming"],
            unload_policy=data["unload_policy"],
        )


def _quantization(data: dict, field: str, source: str) -> QuantizationSpec | None:
    value = data[field]
    if value is None:
        return None
    if not isinstance(value, dict) or "bits" not in value:
        raise ConfigError(f"memory preset {source}: field '{field}' must be null or {{\"bits\": 4|8, \"group_size\": 64}}.")
    try:
        return QuantizationSpec(bits=value["bits"], group_size=value.get("group_size", 64))
    except ConfigError as exc:
        raise ConfigError(f"memory preset {source}: field '{field}': {exc}") from None


def load_presets(directory: str | os.PathLike = PRESETS_DIR) -> list[MemoryPreset]:
    """Every preset in ``directory``, smallest memory first."""
    presets = [MemoryPreset.from_file(p) for p in sorted(Path(directory).glob("*.json"))]
    if not presets:
        raise ConfigError(f"no memory presets (*.json) in {directory}.")
    names = [p.name for p in presets]
    if len(set(names)) != len(names):
        raise ConfigError(f"memory presets in {directory} repeat a name: {names}.")
    return sorted(presets, key=lambda p: p.min_ram_gb)


def pick_preset(ram_bytes: int, presets: list[MemoryPreset]) -> MemoryPreset:
    """The preset for the most memory not above ``ram_bytes`` (the smallest if none fits)."""
    fitting = [p for p in presets if p.min_ram_gb * 1024**3 <= ram_bytes * 1.02]
    return fitting[-1] if fitting else presets[0]


def preset_by_name(name: str, presets: list[MemoryPreset]) -> MemoryPreset:
    for preset in presets:
        if preset.name == name:
            return preset
    raise ConfigError(f"no memory preset named '{name}' (available: {', '.join(p.name for p in presets)}).")


def system_memory_bytes() -> int:
    """Physical memory of this machine."""
    if sys.platform == "darwin":
        import subprocess

        return int(subprocess.run(["sysctl", "-n", "hw.memsize"], capture_output=True, text=True, check=True).stdout)
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
