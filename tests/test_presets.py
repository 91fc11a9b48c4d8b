"""Memory presets: the shipped files are valid, selection by RAM, and clear errors for bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ltx_core.errors import ConfigError
from ltx_core.presets import MemoryPreset, load_presets, pick_preset, preset_by_name, system_memory_bytes

GB = 1024**3


def test_shipped_presets_load_and_cover_the_memory_range():
    presets = load_presets()
    assert [p.name for p in presets] == ["compact", "balanced", "quality", "maximum"]
    assert [p.min_ram_gb for p in presets] == [16, 32, 64, 128]
    assert presets[0].block_streaming and presets[0].transformer_quantization.bits == 4
    assert presets[1].transformer_quantization.bits == 8
    assert presets[2].transformer_quantization is None
    assert [p.batch_guidance_passes for p in presets] == [False, False, True, True]
    assert all(p.description for p in presets)


@pytest.mark.parametrize(
    "ram_gb, expected", [(8, "compact"), (16, "compact"), (24, "compact"), (32, "balanced"), (48, "balanced"), (64, "quality"), (96, "quality"), (128, "maximum")]
)
def test_largest_fitting_preset_is_picked(ram_gb: int, expected: str):
    assert pick_preset(ram_gb * GB, load_presets()).name == expected


def test_preset_lookup_and_machine_memory():
    presets = load_presets()
    assert preset_by_name("balanced", presets).min_ram_gb == 32
    with pytest.raises(ConfigError, match="no memory preset named 'huge'.*compact"):
        preset_by_name("huge", presets)
    assert system_memory_bytes() > GB


def write(tmp_path: Path, **changes) -> Path:
    data = json.loads((Path(__file__).resolve().parents[1] / "presets" / "balanced.json").read_text())
    data.update(changes)
    for key in [k for k, v in changes.items() if v is ...]:
        del data[key]
    path = tmp_path / "custom.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"unload_policy": ...}, r"custom.json: missing field\(s\) unload_policy"),
        ({"compute_dtype": "int8"}, r"custom.json: field 'compute_dtype' must be one of"),
        ({"transformer_quantization": {"bits": 3, "group_size": 48}}, r"field 'transformer_quantization'.*group_size = 48"),
        ({"vae_tiling": {"spatial_tile": 64, "spatial_overlap": 64, "temporal_tile": 8, "temporal_overlap": 0}}, "overlaps smaller"),
        ({"block_streaming": "yes"}, "field 'block_streaming' must be true or false"),
    ],
)
def test_bad_preset_files_name_the_file_and_field(tmp_path: Path, changes: dict, message: str):
    with pytest.raises(ConfigError, match=message):
        MemoryPreset.from_file(write(tmp_path, **changes))


def test_unreadable_preset(tmp_path: Path):
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="broken.json: cannot be read as JSON"):
        MemoryPreset.from_file(path)
