"""The built-in demo model set: generated deterministically, in the official formats, loadable."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

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


def test_a_trained_set_in_the_repository_is_the_default_demo_set(tmp_path, monkeypatch):
    import ltx_core.demo as demo
    from ltx_core.demo import install_trained_set, write_demo_set
    from ltx_core.errors import ConfigError
    from ltx_ui import models as model_files
    from ltx_ui.context import Studio

    monkeypatch.setenv("LTX_DEMO_DIR", str(tmp_path / "random"))
    monkeypatch.setattr(demo, "TRAINED_SET_PATH", tmp_path / "trained")
    monkeypatch.delenv("LTX_DEMO_SET")
    assert demo.demo_set_kind() == "random"  # no trained set yet: the random one
    monkeypatch.setenv("LTX_DEMO_SET", "trained")
    with pytest.raises(ConfigError, match="no trained demo set yet: use random"):
        demo.demo_set_kind()
    install_trained_set(write_demo_set(tmp_path / "run" / "model"), tmp_path / "trained")
    monkeypatch.delenv("LTX_DEMO_SET")
    assert demo.demo_set_kind() == "trained"
    assert demo.demo_paths().checkpoint == tmp_path / "trained" / demo.CHECKPOINT  # used in place
    models = model_files.resolve_models(tmp_path / "empty", None)
    assert models.demo and models.demo_defaults == demo.trained_demo_defaults()
    assert (models.demo_defaults.width, models.demo_defaults.frames) == (128, 17)
    studio = Studio.create(tmp_path / "outputs", tmp_path / "empty", None, None)
    assert "trained on synthetic clips" in studio.banner() and models.demo_defaults.prompt in studio.banner()
    from ltx_ui.studio import build_studio

    blocks = build_studio(studio).blocks.values()
    values = {b.elem_id: getattr(b, "value", None) for b in blocks if getattr(b, "elem_id", None)}
    for tab in ("generate", "keyframes"):  # every new-video tab starts with the set's prompt and size
        assert values[f"{tab}-prompt"] == models.demo_defaults.prompt
        assert (values[f"{tab}-width"], values[f"{tab}-height"], values[f"{tab}-frames"]) == (128, 128, 17)
    monkeypatch.setenv("LTX_DEMO_SET", "random")
    assert demo.demo_paths().checkpoint.parent == tmp_path / "random"
    assert model_files.resolve_models(tmp_path / "empty", None).demo_defaults is None
    monkeypatch.setenv("LTX_DEMO_SET", "best")
    with pytest.raises(ConfigError, match="use trained or random"):
        demo.demo_set_kind()


def test_a_training_runs_model_folder_is_used_as_it_is_and_never_replaced(tmp_path: Path):
    import ltx_core.demo as demo
    from ltx_core.errors import ConfigError

    model = tmp_path / "run" / "model"  # what ``python -m ltx_core.demo.train`` writes and the quality script reads
    model.mkdir(parents=True)
    (model / "VERSION").write_text(demo._layout_version(demo.TRAINED_LAYOUT_PATH))
    (model / demo.CHECKPOINT).write_bytes(b"trained weights")
    assert demo.holds_trained_family(model) and not demo.is_trained_set(model)
    assert demo_paths(model).checkpoint == model / demo.CHECKPOINT
    with pytest.raises(ConfigError, match="holds trained demo models"):
        ensure_demo_models(model)
    assert (model / demo.CHECKPOINT).read_bytes() == b"trained weights"
