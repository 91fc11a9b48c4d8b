"""The built-in demo model set: generated deterministically, in the official formats, loadable."""

from __future__ import annotations

import hashlib
from pathlib import Path

from ltx_core.demo import demo_paths, ensure_demo_models
from ltx_core.loader import LTXCheckpoint, load_transformer
from ltx_core.loader.upsampler import load_upsampler
from ltx_core.model.text_encoder.tokenizer import PromptTokenizer


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_demo_set_is_deterministic_and_loads(tmp_path: Path):
    first = demo_paths(tmp_path / "a")
    second = demo_paths(tmp_path / "b")
    for a, b in ((first.checkpoint, second.checkpoint), (first.distilled_lora, second.distilled_lora)):
        assert digest(a) == digest(b)
    checkpoint = LTXCheckpoint(first.checkpoint)
    assert {"transformer", "vae", "audio_vae", "vocoder"} <= set(checkpoint.config)
    load_transformer(checkpoint)
    load_upsampler(first.spatial_upsampler)
    load_upsampler(first.temporal_upsampler)
    tokens = PromptTokenizer(first.gemma)("Un chat rouge, ünïcode & emoji 🎬")
    assert tokens.token_count > 30


def test_demo_set_is_regenerated_only_when_outdated(tmp_path: Path):
    root = tmp_path / "demo"
    ensure_demo_models(root)
    stamp = (root / "VERSION").stat().st_mtime_ns
    ensure_demo_models(root)
    assert (root / "VERSION").stat().st_mtime_ns == stamp
    (root / "VERSION").write_text("old")
    ensure_demo_models(root)
    assert (root / "VERSION").read_text() != "old"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".demo-")]


def test_demo_checkpoint_has_the_layout_shapes(tmp_path: Path):
    import json

    from ltx_core.demo import LAYOUT_PATH

    layout = json.loads(LAYOUT_PATH.read_text())["checkpoint"]["tensors"]
    file = LTXCheckpoint(demo_paths(tmp_path).checkpoint).file
    assert {k: list(file.info(k).shape) for k in file.keys()} == {k: v[1] for k, v in layout.items()}
