"""Which model files the studio uses: a scan of the weights folder (each file recognised from its
own header by ``ltx_core.model_spec``), the demo set when no checkpoint is found, the memory
preset, and the ledger built from them the way the CLI builds it."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

from ltx_core.demo import DemoDefaults
from ltx_core.model_spec import LTX_2_0, Recognised, Role, VersionSpec, recognise
from ltx_core.pipelines.ledger import ModelLedger, ModelPaths, build_ledger as ledger_for
from ltx_core.presets import MemoryPreset, load_presets, pick_preset, preset_by_name, system_memory_bytes

SCAN_DEPTH = 3


@dataclass(frozen=True)
class FoundFile:
    role: str  # a model_spec.Role value
    path: Path
    size: int
    detail: str = ""
    problem: str = ""  # non-empty: the file cannot be used (shown, never picked)
    version: str | None = None
    refused: str = ""  # non-empty: a companion of another model than the checkpoint in use (why)


@dataclass
class ModelSet:
    """What was found, and the paths the ledger uses."""

    paths: ModelPaths
    demo: bool
    found: list[FoundFile] = field(default_factory=list)
    version: VersionSpec = LTX_2_0  # the chosen checkpoint's
    demo_defaults: DemoDefaults | None = None  # a trained demo set's prompt and size; None otherwise

    def loras(self) -> list[Path]:
        """LoRA files a user may apply (in demo mode: the demo IC-LoRA and distilled LoRA, as stand-ins)."""
        items = [f.path for f in self.found if f.role in (Role.LORA, Role.DISTILLED_LORA) and not (f.problem or f.refused)]
        if self.demo:
            from ltx_core.demo import demo_ic_lora

            items += [p for p in (demo_ic_lora(self.paths), self.paths.distilled_lora) if p and Path(p).is_file()]
        return [Path(p) for p in items]

    def ic_lora(self) -> Path | None:
        """The IC-LoRA to preselect: the first LoRA named like one (the demo IC-LoRA in demo mode)."""
        for path in self.loras():
            if "ic-lora" in path.name.lower().replace("_", "-"):
                return path
        return None

    def checkpoints(self) -> list[Path]:
        return [f.path for f in self.found if f.role == Role.CHECKPOINT and not f.problem]

    def models(self) -> list[FoundFile]:
        """The checkpoints (2.0 / 2.3) and transformers (2.5) the user can pick from."""
        return [f for f in self.found if f.role in (Role.CHECKPOINT, Role.TRANSFORMER) and not f.problem]


def _folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _found(recognised: Recognised, size: int) -> FoundFile:
    version = recognised.version.version if recognised.version else None
    return FoundFile(recognised.role.value, recognised.path, size, recognised.detail, recognised.problem, version)


def scan_weights(folder: Path | None, gemma: Path | None = None) -> list[FoundFile]:
    """Model files under ``folder`` (a few levels deep), each recognised from its header; broken
    files are listed with their problem."""
    found: list[FoundFile] = []
    if folder is not None and folder.is_dir():
        base = len(folder.parts)
        for root, dirs, files in os.walk(folder):
            here = Path(root)
            if len(here.parts) - base >= SCAN_DEPTH:
                dirs[:] = []
            if here != folder and (here / "config.json").is_file():
                recognised = recognise(here)
                if recognised.role == Role.GEMMA:
                    found.append(_found(recognised, _folder_size(here)))
                    dirs[:] = []
                    continue
            for name in sorted(files):
                if name.endswith(".safetensors"):
                    path = here / name
                    found.append(_found(recognise(path), path.stat().st_size))
    if gemma is not None and gemma.is_dir() and all(f.path != gemma for f in found):
        found.append(_found(recognise(gemma), _folder_size(gemma)))
    return sorted(found, key=lambda f: (f.role, str(f.path)))


def _first(found: list[FoundFile], role: Role) -> Path | None:
    items = [f.path for f in found if f.role == role and not f.problem]
    return items[0] if items else None


def resolve_models(
    weights_dir: Path | None, gemma: Path | None, checkpoint: Path | None = None, enhancer: Path | None = None
) -> ModelSet:
    """Real weights when a usable model is found (or given), else the built-in demo set. Which
    file plays which role is decided by ``ltx_core.model_paths`` (single-file 2.0/2.3 checkpoints
    and the per-component 2.5 layout alike); the scan lists every file for the Models tab."""
    from ltx_core.model_paths import MissingModelError, resolve_folder

    found = scan_weights(weights_dir, gemma)
    gemma = gemma or _first(found, Role.GEMMA)
    paths = None
    if weights_dir is not None and weights_dir.is_dir():
        try:
            paths = resolve_folder(weights_dir, checkpoint=checkpoint, gemma=gemma)
        except MissingModelError:
            paths = None
    if paths is None and checkpoint is not None:
        paths = ModelPaths(checkpoint=checkpoint, gemma=gemma)
    if paths is None:
        from ltx_core.demo import demo_defaults_for, demo_paths

        paths = demo_paths()
        return ModelSet(paths, demo=True, found=found, demo_defaults=demo_defaults_for(paths))
    if enhancer is not None or paths.split:  # 2.5: a Gemma 3 folder of the weights folder rewrites prompts by default
        from dataclasses import replace

        paths = replace(paths, enhancer=enhancer or gemma)
    model = recognise(paths.checkpoint)
    return ModelSet(paths, demo=False, found=with_refusals(found, model), version=model.version or LTX_2_0)


def with_refusals(found: list[FoundFile], model: Recognised) -> list[FoundFile]:
    """The scan with each companion file of another model than ``model`` marked refused, with the
    reason ``ltx_core.model_paths.companion_refusal`` gives (what the ledger would say)."""
    from dataclasses import replace

    from ltx_core.model_paths import companion_refusal

    return [replace(f, refused=companion_refusal(recognise(f.path), model)) if not f.problem else f for f in found]


def missing_files(models: ModelSet) -> list[tuple[str, str, str]]:
    """(repo, file, why) of what to download for the full feature set of the model's version (in
    demo mode: of LTX-2.3, the version the banner recommends)."""
    from ltx_core.model_spec import LTX_2_3

    version = LTX_2_3 if models.demo else models.version
    usable = [f for f in models.found if not f.problem]
    present = {f.role for f in usable}
    names = {f.path.name for f in usable}
    missing = []
    for companion in version.files:
        repo = companion.repo or version.repo
        if companion.role == Role.CHECKPOINT:
            if Path(companion.file).name not in names:
                missing.append((repo, companion.file, companion.purpose))
        elif companion.role.value not in present:
            missing.append((repo, companion.file, companion.purpose))
    return missing


def auto_preset() -> MemoryPreset:
    return pick_preset(system_memory_bytes(), load_presets())


def choose_preset(name: str | None) -> MemoryPreset:
    return preset_by_name(name, load_presets()) if name else auto_preset()


def build_ledger(models: ModelSet, preset: MemoryPreset) -> ModelLedger:
    """The shared ``ltx_core`` ledger builder (the demo models run unquantized, in float32, and
    every job is still checked against this machine's memory before it loads anything)."""
    return ledger_for(models.paths, preset, demo=models.demo)


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
