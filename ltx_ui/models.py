"""Which model files the studio uses: a scan of the weights folder (checkpoints, upsamplers,
LoRAs, Gemma), the demo set when no checkpoint is found, the memory preset, and the ledger
built from them the way the CLI builds it."""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

from ltx_core.pipelines.ledger import ModelLedger, ModelPaths
from ltx_core.presets import MemoryPreset, load_presets, pick_preset, preset_by_name, system_memory_bytes

HF_REPO = "Lightricks/LTX-2"
GEMMA_REPO = "google/gemma-3-12b-it"
# (role, file in Lightricks/LTX-2, what it is for)
EXPECTED_FILES = (
    ("checkpoint", "ltx-2-19b-distilled.safetensors", "the distilled model (fast: 8+3 steps)"),
    ("checkpoint", "ltx-2-19b-dev.safetensors", "the dev model (one-stage, two-stage, keyframes)"),
    ("spatial_upsampler", "ltx-2-spatial-upscaler-x2-1.0.safetensors", "two-stage pipelines and spatial upscaling"),
    ("temporal_upsampler", "ltx-2-temporal-upscaler-x2-1.0.safetensors", "temporal upscaling"),
    ("distilled_lora", "ltx-2-19b-distilled-lora-384.safetensors", "refinement stage of the dev model"),
)
SCAN_DEPTH = 3


@dataclass(frozen=True)
class FoundFile:
    role: str  # checkpoint, spatial_upsampler, temporal_upsampler, distilled_lora, lora, gemma
    path: Path
    size: int


@dataclass
class ModelSet:
    """What was found, and the paths the ledger uses."""

    paths: ModelPaths
    demo: bool
    found: list[FoundFile] = field(default_factory=list)

    def loras(self) -> list[Path]:
        """LoRA files a user may apply (in demo mode: the demo LoRA, as a stand-in)."""
        items = [f.path for f in self.found if f.role in ("lora", "distilled_lora")]
        if self.demo and self.paths.distilled_lora:
            items.append(Path(self.paths.distilled_lora))
        return items

    def checkpoints(self) -> list[Path]:
        return [f.path for f in self.found if f.role == "checkpoint"]


def _role(path: Path) -> str:
    name = path.name.lower()
    if "upscaler" in name or "upsampler" in name:
        return "temporal_upsampler" if "temporal" in name else "spatial_upsampler"
    if "distilled-lora" in name or "distilled_lora" in name:
        return "distilled_lora"
    if "lora" in name:
        return "lora"
    return "checkpoint"


def _is_gemma(folder: Path) -> bool:
    config = folder / "config.json"
    if not config.is_file():
        return False
    if "gemma" in folder.name.lower():
        return True
    try:
        return str(json.loads(config.read_text()).get("model_type", "")).startswith("gemma")
    except (OSError, ValueError, AttributeError):
        return False


def _folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def scan_weights(folder: Path | None, gemma: Path | None = None) -> list[FoundFile]:
    """Model files under ``folder`` (a few levels deep), by role from their official names."""
    found: list[FoundFile] = []
    if folder is not None and folder.is_dir():
        base = len(folder.parts)
        for root, dirs, files in os.walk(folder):
            here = Path(root)
            if len(here.parts) - base >= SCAN_DEPTH:
                dirs[:] = []
            if here != folder and _is_gemma(here):
                found.append(FoundFile("gemma", here, _folder_size(here)))
                dirs[:] = []
                continue
            for name in sorted(files):
                if name.endswith(".safetensors"):
                    path = here / name
                    found.append(FoundFile(_role(path), path, path.stat().st_size))
    if gemma is not None and gemma.is_dir() and all(f.path != gemma for f in found):
        found.append(FoundFile("gemma", gemma, _folder_size(gemma)))
    return sorted(found, key=lambda f: (f.role, str(f.path)))


def _first(found: list[FoundFile], role: str, prefer: str = "") -> Path | None:
    items = [f.path for f in found if f.role == role]
    preferred = [p for p in items if prefer and prefer in p.name]
    return (preferred or items or [None])[0]


def resolve_models(weights_dir: Path | None, gemma: Path | None, checkpoint: Path | None = None) -> ModelSet:
    """Real weights when a checkpoint is found (or given), else the built-in demo set."""
    found = scan_weights(weights_dir, gemma)
    checkpoint = checkpoint or _first(found, "checkpoint", prefer="distilled")
    if checkpoint is None:
        from ltx_core.demo import demo_paths

        return ModelSet(demo_paths(), demo=True, found=found)
    paths = ModelPaths(
        checkpoint=checkpoint,
        gemma=gemma or _first(found, "gemma"),
        spatial_upsampler=_first(found, "spatial_upsampler"),
        temporal_upsampler=_first(found, "temporal_upsampler"),
        distilled_lora=_first(found, "distilled_lora"),
    )
    return ModelSet(paths, demo=False, found=found)


def missing_files(models: ModelSet) -> list[tuple[str, str, str]]:
    """(repo, file, why) of what to download for the full feature set."""
    present = {f.role for f in models.found}
    names = {f.path.name for f in models.found}
    missing = []
    for role, file, why in EXPECTED_FILES:
        if (role == "checkpoint" and file not in names) or (role != "checkpoint" and role not in present):
            missing.append((HF_REPO, file, why))
    if "gemma" not in present:
        missing.append((GEMMA_REPO, "(whole repository)", "the text encoder (Gemma 3 12B, about 24 GB)"))
    return missing


def auto_preset() -> MemoryPreset:
    return pick_preset(system_memory_bytes(), load_presets())


def choose_preset(name: str | None) -> MemoryPreset:
    return preset_by_name(name, load_presets()) if name else auto_preset()


def build_ledger(models: ModelSet, preset: MemoryPreset) -> ModelLedger:
    """Mirror of ``ltx_core.cli_generate.build_ledger``. The demo models run unquantized: they are
    tiny, and quantized kernels only pay off on Metal."""
    from ltx_core.loader.components import resolve_dtype

    if models.demo:
        return ModelLedger(models.paths, dtype=resolve_dtype("float32"))
    return ModelLedger(
        models.paths,
        dtype=resolve_dtype(preset.resolved_compute_dtype()),
        transformer_quantization=preset.transformer_quantization,
        text_encoder_quantization=preset.text_encoder_quantization,
        unload_policy=preset.unload_policy,
        block_streaming=preset.block_streaming,
        batch_guidance_passes=preset.batch_guidance_passes,
        preset=preset,  # every job is checked against this machine's memory before it loads anything
    )


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether huggingface.co answers on 443 (checked before a download so it fails fast)."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes"):
        return False
    try:
        with socket.create_connection(("huggingface.co", 443), timeout=timeout):
            return True
    except OSError:
        return False


def download(repo: str, file: str, target: Path) -> Path:
    """Download one file (or Gemma's whole repository) into ``target`` with huggingface_hub;
    tqdm progress is what the UI tracks. Raises ``ConnectionError`` with advice when offline."""
    if not hub_reachable():
        command = f"hf download {repo}" + ("" if file.startswith("(") else f" {file}") + f" --local-dir {target}"
        raise ConnectionError(
            f"huggingface.co cannot be reached from this machine, so nothing was downloaded. On a machine with "
            f"internet run `{command}` and copy the file into {target}, then press Rescan."
        )
    from huggingface_hub import hf_hub_download, snapshot_download

    target.mkdir(parents=True, exist_ok=True)
    if file.startswith("("):
        return Path(snapshot_download(repo, local_dir=target / repo.split("/")[-1]))
    return Path(hf_hub_download(repo, file, local_dir=target))
