"""The LoRA library's reader: what a LoRA file's header says (title, trigger words, training tags,
thumbnail, base version, rank, size) and the cost of a LoRA per memory mode."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import mlx.core as mx
import pytest
from PIL import Image

from ltx_core.loader.lora_info import incompatibility, preview_image, read_lora_info, trained_tags
from ltx_core.memory.lora_cost import FUSED, SIDE_PATH, STREAMED, lora_cost, lora_cost_for_preset
from ltx_core.presets import load_presets

DATA = Path(__file__).parent / "data"


def png_data_url(colour=(200, 30, 30), size=(8, 6)) -> tuple[str, bytes]:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    raw = buffer.getvalue()
    return "data:image/png;base64," + base64.b64encode(raw).decode(), raw


def lora_with(path: Path, metadata: dict[str, str], source: Path = DATA / "lora_a.safetensors") -> Path:
    """A copy of ``source``'s tensors with ``metadata`` in the header."""
    mx.save_safetensors(str(path), mx.load(str(source)), metadata=metadata)
    return path


def test_model_spec_and_kohya_metadata_are_read(tmp_path):
    url, raw = png_data_url()
    tags = {"10_style": {"watercolor": 12, "boat": 3}, "5_extra": {"boat": 10, "sky": 1}}
    path = lora_with(tmp_path / "watercolor.safetensors", {
        "modelspec.title": "Watercolor Style", "modelspec.trigger_phrase": "wtrclr, soft wash, wtrclr",
        "modelspec.description": "Paints everything in watercolor.", "modelspec.author": "someone",
        "modelspec.thumbnail": url, "ss_tag_frequency": json.dumps(tags),
    })  # fmt: skip
    info = read_lora_info(path)
    assert not info.problem
    assert info.display_name == "Watercolor Style" and info.name == "watercolor.safetensors"
    assert info.trigger_words == ("wtrclr", "soft wash")  # duplicates dropped, order kept
    assert info.trained_tags == ("boat", "watercolor", "sky")  # 13, 12, 1
    assert info.preview == raw and info.preview_type == "image/png"
    assert info.size == path.stat().st_size and info.rank == 4 and info.modules == 83
    assert info.version.version == "2.0"  # from its anatomy (caption projection): the file does not say
    assert info.footprint.block_elements == 12544 and info.footprint.largest_block_elements == 6272
    assert info.matches("wash WATERCOLOR") and info.matches("someone") and not info.matches("oil")
    assert not info.control


def test_metadata_version_kohya_name_and_ic_lora_marker(tmp_path):
    path = lora_with(tmp_path / "cam.safetensors", {"ss_output_name": "dolly-in", "model_version": "2.3.0"},
                     DATA / "lora_b.safetensors")  # fmt: skip
    info = read_lora_info(path)
    assert info.display_name == "dolly-in" and info.version.version == "2.3" and info.rank == 2
    assert info.trigger_words == () and info.preview is None
    assert read_lora_info(DATA / "lora_b.safetensors").control  # reference_downscale_factor metadata
    assert read_lora_info(DATA / "lora_b.safetensors").version is None  # only layers every version has


def test_bad_files_and_bad_metadata_are_reported_not_raised(tmp_path):
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a safetensors file")
    info = read_lora_info(junk)
    assert info.problem and info.size == len(b"not a safetensors file") and info.rank == 0
    checkpoint = read_lora_info(Path(__file__).parent / "reference" / "ltx-2.0" / "ltx2-tiny-spatial-upsampler.safetensors")
    assert "is not an LTX-2 LoRA" in checkpoint.problem
    assert preview_image("data:text/html;base64,PGI+") is None and preview_image("http://x/y.png") is None
    assert preview_image("data:image/jpg;base64,////") == (b"\xff\xff\xff", "image/jpeg")
    assert trained_tags("{not json") == () and trained_tags('{"a": {"x": "many"}}') == ()
    odd = lora_with(tmp_path / "odd.safetensors", {"modelspec.thumbnail": "data:image/png;base64,", "ss_tag_frequency": "[]"})
    info = read_lora_info(odd)
    assert not info.problem and info.preview is None and info.trained_tags == ()


def test_incompatibility_names_both_versions(tmp_path):
    checkpoint = Path(__file__).parent / "reference" / "ltx-2.0" / "ltx2-tiny.safetensors"
    assert incompatibility(DATA / "lora_a.safetensors", checkpoint) == ""
    newer = lora_with(tmp_path / "for-23.safetensors", {"model_version": "2.3.0"})
    reason = incompatibility(newer, checkpoint)
    assert "is for LTX-2.3 (22B, 2.3)" in reason and "LTX-2 (19B, 2.0) checkpoint" in reason


def test_cost_per_memory_mode():
    footprint = read_lora_info(DATA / "lora_a.safetensors").footprint
    fused = lora_cost(footprint, "bfloat16", quantized=False, streaming=False)
    assert (fused.mode, fused.resident, fused.transient) == (FUSED, 0, 6 * 4 * 8192)
    side = lora_cost(footprint, "bfloat16", quantized=True, streaming=False)
    assert (side.mode, side.resident, side.transient) == (SIDE_PATH, 12544 * 2, 0)
    streamed = lora_cost(footprint, "float32", quantized=True, streaming=True)
    assert (streamed.mode, streamed.resident) == (STREAMED, 6272 * 4)
    presets = {p.name: p for p in load_presets()}
    assert lora_cost_for_preset(footprint, presets["compact"], "metal") == unfused_cost(STREAMED, 6272 * 2)
    assert lora_cost_for_preset(footprint, presets["balanced"], "metal") == unfused_cost(SIDE_PATH, 12544 * 2)
    assert lora_cost_for_preset(footprint, presets["quality"], "cpu").mode == FUSED


def unfused_cost(mode: str, resident: int):
    from ltx_core.memory.lora_cost import LoraCost

    return LoraCost(mode, resident, 0)


@pytest.mark.parametrize("query,hit", [("", True), ("lora_a", True), ("LORA_A safetensors", True), ("zzz", False)])
def test_search_matches_file_names(query, hit):
    assert read_lora_info(DATA / "lora_a.safetensors").matches(query) is hit
