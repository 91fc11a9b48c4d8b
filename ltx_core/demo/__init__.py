"""The built-in demo model set: tiny random-weight models in the exact official formats.

Generated deterministically on first use from ``layout.json`` (tensor names, shapes and
configs of a tiny LTX-2 model set) - a checkpoint, both latent upsamplers, a distilled LoRA and
a Gemma folder with a byte-level tokenizer - so the studio and the CLI run end to end without
the real 27-43 GB weights. Outputs are not meaningful.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dataclasses import dataclass

import numpy as np

from ltx_core.demo.tokenizer import write_byte_tokenizer, write_caption_word_tokenizer

try:
    import fcntl
except ImportError:  # Windows: no lock (one studio at a time)
    fcntl = None

LAYOUT_PATH = Path(__file__).with_name("layout.json")
# The family that training fills in (issue 18): same files, keys and config sections, sizes that
# can learn the synthetic clips (tools/make_trained_demo_layout.py). Not the default set yet.
TRAINED_LAYOUT_PATH = Path(__file__).with_name("trained_layout.json")
CHECKPOINT = "ltx2-demo.safetensors"
SPATIAL_UPSAMPLER = "ltx2-demo-spatial-upsampler.safetensors"
TEMPORAL_UPSAMPLER = "ltx2-demo-temporal-upsampler.safetensors"
DISTILLED_LORA = "ltx2-demo-distilled-lora.safetensors"
# A stand-in IC-LoRA (same layout, other random weights), so the IC-LoRA tab works in demo mode.
IC_LORA = "ltx2-demo-ic-lora-canny-control.safetensors"
GEMMA = "gemma-demo"
SEED = 2026
LORA_RANK = 4
# Linear layers of the transformer blocks that the demo distilled LoRA adapts.
LORA_TARGETS = ("attn1.to_q", "attn1.to_k", "attn1.to_v", "attn1.to_out.0", "ff.net.0.proj", "ff.net.2")


# The trained family, committed with the repository once training has made one (issue 18): a
# folder as ``install_trained_set`` writes it. While it is there it is the default demo set.
TRAINED_SET_PATH = Path(__file__).with_name("trained")
# "trained" or "random": which built-in set ``demo_paths()`` gives; unset: the trained set when the
# repository has one (the test suite pins "random", the small fast set, in its conftest).
DEMO_SET_ENV = "LTX_DEMO_SET"
TRAINED_STAMP = "TRAINED"


def default_demo_dir() -> Path:
    base = os.environ.get("LTX_DEMO_DIR")
    return Path(base) if base else Path.home() / ".cache" / "ltx-studio-mlx" / "demo"


def demo_set_kind() -> str:
    """Which built-in set is in use: ``LTX_DEMO_SET``, else "trained" when the repository has one."""
    from ltx_core.errors import ConfigError

    wanted = os.environ.get(DEMO_SET_ENV, "").strip().lower()
    if wanted not in ("", "trained", "random"):
        raise ConfigError(f"{DEMO_SET_ENV}={wanted!r} is not a demo set: use trained or random.")
    if wanted == "trained" and not is_trained_set(TRAINED_SET_PATH):
        raise ConfigError(f"{DEMO_SET_ENV}=trained, but this repository has no trained demo set yet: use random.")
    return wanted or ("trained" if is_trained_set(TRAINED_SET_PATH) else "random")


@dataclass(frozen=True)
class DemoDefaults:
    """What the studio starts with on a trained demo set: a caption of its grammar, at its size."""

    prompt: str
    width: int
    height: int
    frames: int


def trained_demo_defaults() -> DemoDefaults:
    from ltx_core.demo.synthetic import example_caption
    from ltx_core.demo.train.data import ClipGeometry

    g = ClipGeometry()
    return DemoDefaults(example_caption(), g.width, g.height, g.frames)


def demo_defaults_for(paths) -> DemoDefaults | None:
    """The prompt and size to start with on the demo set of ``paths`` (a ``ModelPaths``): a
    trained set's own; None for the random set (any size is as meaningless as another)."""
    return trained_demo_defaults() if is_trained_set(Path(paths.checkpoint).parent) else None


def is_trained_set(root: Path) -> bool:
    """Whether ``root`` holds a trained demo set (stamped by ``install_trained_set``)."""
    return (Path(root) / TRAINED_STAMP).is_file() and (Path(root) / CHECKPOINT).is_file()


def holds_trained_family(root: Path) -> bool:
    """Whether ``root`` holds the trained family's files: an installed trained set, or a training
    run's ``model/`` folder (stamped with the trained layout's version)."""
    stamp = Path(root) / "VERSION"
    trained_layout = stamp.is_file() and stamp.read_text().strip() == _layout_version(TRAINED_LAYOUT_PATH)
    return is_trained_set(root) or trained_layout


def demo_paths(root: Path | None = None):
    """``ModelPaths`` of the demo set in ``root`` (a trained family's folder used as it is, a
    random set generated first if missing or outdated); without ``root``, the built-in set
    ``demo_set_kind`` names: the committed trained one, used in place, or the random one under
    ``default_demo_dir()``."""
    from ltx_core.pipelines.ledger import ModelPaths

    if root is None and demo_set_kind() == "trained":
        root = TRAINED_SET_PATH
    elif root is None or not holds_trained_family(root):
        root = ensure_demo_models(root or default_demo_dir())
    return ModelPaths(
        checkpoint=root / CHECKPOINT,
        gemma=root / GEMMA,
        spatial_upsampler=root / SPATIAL_UPSAMPLER,
        temporal_upsampler=root / TEMPORAL_UPSAMPLER,
        distilled_lora=root / DISTILLED_LORA,
    )


def ensure_demo_models(root: Path) -> Path:
    """Write the demo set into ``root`` unless an up-to-date copy is there. Written to a
    temporary folder and moved into place, so an interrupted run never leaves half a set. A folder
    of trained models is never replaced."""
    from ltx_core.errors import ConfigError

    root = Path(root)
    if holds_trained_family(root):
        raise ConfigError(f"{root} holds trained demo models: use it as it is (demo_paths) or choose another folder.")
    version = _layout_version()
    stamp = root / "VERSION"
    if stamp.exists() and stamp.read_text().strip() == version:
        return root

    def fill(staging: Path) -> None:
        _write_demo(staging)
        (staging / "VERSION").write_text(version)

    with _folder_lock(root):
        if stamp.exists() and stamp.read_text().strip() == version:  # another process wrote it meanwhile
            return root
        return _replace_folder(root, fill)


@contextmanager
def _folder_lock(root: Path) -> Iterator[None]:
    """Processes writing the same demo folder (two studios, parallel test workers) take turns, so
    none removes a set another one is reading."""
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.parent / f".{root.name}.lock", "a") as handle:
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _replace_folder(root: Path, fill) -> Path:
    """Fill a temporary folder beside ``root``, then move it into place."""
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".demo-", dir=root.parent))
    try:
        fill(staging)
        if root.exists():
            shutil.rmtree(root)
        os.replace(staging, root)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return root


def write_demo_set(folder: Path, layout: Path = LAYOUT_PATH) -> Path:
    """Write the seeded random-weight set of ``layout`` (the random demo layout unless given; the
    trained family starts from ``TRAINED_LAYOUT_PATH``) into ``folder``, which must not exist yet."""
    folder = Path(folder)
    folder.mkdir(parents=True)
    _write_demo(folder, layout)
    (folder / "VERSION").write_text(_layout_version(layout))
    return folder


def install_trained_set(trained: Path, root: Path) -> Path:
    """Make ``root`` the demo folder of a trained set (a training run's ``model/`` folder): the
    files are copied as they are, stamped with the layout version (so ``demo_paths(root)`` uses
    them instead of regenerating) and with ``TRAINED`` naming the checkpoint's SHA-256."""
    trained, root = Path(trained), Path(root)
    required = (CHECKPOINT, GEMMA, SPATIAL_UPSAMPLER, TEMPORAL_UPSAMPLER)
    missing = [name for name in required if not (trained / name).exists()]
    if missing:
        raise FileNotFoundError(
            f"{trained} is not a trained demo set (missing {', '.join(missing)}): give a run's model/ folder."
        )

    def fill(staging: Path) -> None:
        shutil.copytree(trained, staging, dirs_exist_ok=True)
        (staging / "VERSION").write_text(_layout_version())
        (staging / TRAINED_STAMP).write_text(hashlib.sha256((staging / CHECKPOINT).read_bytes()).hexdigest())

    return _replace_folder(root, fill)


def _layout_version(layout: Path = LAYOUT_PATH) -> str:
    digest = hashlib.sha256(Path(layout).read_bytes())
    digest.update(f"{SEED}:{LORA_RANK}:{LORA_TARGETS}:{IC_LORA}".encode())
    return digest.hexdigest()[:16]


def _write_demo(folder: Path, layout_path: Path = LAYOUT_PATH) -> None:
    from safetensors.numpy import save_file

    layout = json.loads(Path(layout_path).read_text())
    for name, part in ((CHECKPOINT, "checkpoint"), (SPATIAL_UPSAMPLER, "spatial_upsampler"), (TEMPORAL_UPSAMPLER, "temporal_upsampler")):
        entry = layout[part]
        save_file(_random_tensors(entry["tensors"], gemma=False), str(folder / name), metadata=entry["metadata"])
    gemma = folder / GEMMA
    gemma.mkdir()
    (gemma / "config.json").write_text(json.dumps(layout["gemma"]["config"], indent=1))
    weight_map = {}
    for shard, entry in layout["gemma"]["shards"].items():
        save_file(_random_tensors(entry["tensors"], gemma=True), str(gemma / shard), metadata=entry["metadata"] or None)
        weight_map.update({key: shard for key in entry["tensors"]})
    (gemma / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}, indent=1))
    config = layout["gemma"]["config"]
    vocab_size = int(config.get("text_config", config).get("vocab_size", 1024))
    if layout.get("tokenizer") == "caption-words":
        write_caption_word_tokenizer(gemma, vocab_size)
    else:
        write_byte_tokenizer(gemma, vocab_size)
    save_file(_distilled_lora(layout["checkpoint"]["tensors"]), str(folder / DISTILLED_LORA))
    save_file(_distilled_lora(layout["checkpoint"]["tensors"], "ic-lora:"), str(folder / IC_LORA))


def _rng(key: str) -> np.random.Generator:
    return np.random.default_rng([SEED, zlib.crc32(key.encode())])


def _random_tensors(tensors: dict, gemma: bool) -> dict[str, np.ndarray]:
    """Weights in the spirit of the fixtures: N(0, 1/fan_in) matrices, small biases, norms
    near 1 (Gemma stores norms as offsets from 1), positive statistics."""
    out = {}
    for key, (_dtype, shape) in sorted(tensors.items()):
        rng = _rng(key)
        shape = tuple(shape)
        if not shape:
            value = np.array(1000.0 if key.endswith("timestep_scale_multiplier") else 1.0)
        elif key.endswith("std-of-means"):
            value = rng.uniform(0.5, 1.5, shape)
        elif key.endswith(("mean-of-means", "mean-of-stds", "channel")):
            value = rng.normal(0, 0.1, shape)
        elif "registers" in key:
            value = rng.uniform(-1, 1, shape)
        elif "scale_shift_table" in key:
            value = rng.normal(0, 0.2, shape)
        elif key.endswith(".bias"):
            value = rng.normal(0, 0.05, shape)
        elif len(shape) == 1:
            value = rng.normal(0, 0.1, shape) + (0.0 if gemma else 1.0)
        else:
            value = rng.normal(0, 1.0 / np.sqrt(max(1, int(np.prod(shape[1:])))), shape)
        out[key] = np.array(value, dtype=np.float32)  # keeps 0-d tensors 0-d
    return out


def demo_ic_lora(paths) -> Path:
    """The demo IC-LoRA beside the demo checkpoint of ``paths`` (a ``ModelPaths``)."""
    return Path(paths.checkpoint).parent / IC_LORA


def _distilled_lora(checkpoint_tensors: dict, seed_key: str = "lora:") -> dict[str, np.ndarray]:
    """A small LoRA in the official layout on the blocks' main linear layers."""
    out = {}
    prefix = "model.diffusion_model."
    for key, (_dtype, shape) in sorted(checkpoint_tensors.items()):
        if not key.startswith(prefix + "transformer_blocks.") or not key.endswith(".weight") or len(shape) != 2:
            continue
        module = key[len(prefix) : -len(".weight")]
        if not module.split(".", 2)[2].startswith(LORA_TARGETS):
            continue
        out_features, in_features = shape
        rng = _rng(seed_key + module)
        out[f"diffusion_model.{module}.lora_A.weight"] = rng.normal(0, 1 / np.sqrt(in_features), (LORA_RANK, in_features)).astype(np.float32)
        out[f"diffusion_model.{module}.lora_B.weight"] = rng.normal(0, 0.02, (out_features, LORA_RANK)).astype(np.float32)
    return out
