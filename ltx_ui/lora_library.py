"""The LoRA library: every LoRA of the weights folder (its ``loras/`` sub-folder included; in demo
mode the demo LoRAs too), described from its own header by ``ltx_core.loader.lora_info``, checked
against the checkpoint in use, searchable; and the LoRAs chosen for a job (path and per-stage
strengths, as the request and the sidecar hold them)."""

from __future__ import annotations

import base64
import html
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ltx_core.loader.lora_info import LoraInfo, incompatibility, read_lora_info
from ltx_core.pipelines.request import LoraChoice
from ltx_ui.inputs import InputProblem

MAX_STRENGTH = 2.0
_cache: dict[tuple, Any] = {}


@dataclass(frozen=True)
class LibraryEntry:
    info: LoraInfo
    problem: str = ""  # non-empty: not usable with the checkpoint in use (another version, a broken file), and why

    @property
    def path(self) -> str:
        return str(self.info.path)

    @property
    def usable(self) -> bool:
        return not self.problem

    def summary(self) -> dict[str, Any]:
        """What the API and the tests read about an entry."""
        info = self.info
        return {
            "file": self.path, "name": info.name, "title": info.display_name, "size": info.size, "rank": info.rank,
            "version": info.version.version if info.version else None, "trigger_words": list(info.trigger_words),
            "trained_tags": list(info.trained_tags), "preview": info.preview is not None, "ic_lora": info.control,
            "compatible": self.usable, "reason": self.problem,
        }  # fmt: skip


def _stamp(path: Path) -> tuple:
    stat = path.stat()
    return str(path), stat.st_size, stat.st_mtime_ns


def lora_info(path: Path) -> LoraInfo:
    """``read_lora_info``, cached while the file is unchanged."""
    key = ("info", *_stamp(path))
    if key not in _cache:
        _cache[key] = read_lora_info(path)
    return _cache[key]


def _incompatibility(path: Path, checkpoint: Path) -> str:
    key = ("fit", *_stamp(path), *(_stamp(checkpoint) if checkpoint.is_file() else (str(checkpoint),)))
    if key not in _cache:
        _cache[key] = incompatibility(path, checkpoint)
    return _cache[key]


def library(studio: Any) -> list[LibraryEntry]:
    """Every LoRA the studio found, by display name; each checked against the checkpoint in use."""
    checkpoint = Path(studio.models.paths.checkpoint)
    entries = []
    for path in dict.fromkeys(studio.models.loras()):
        if not path.is_file():
            continue
        info = lora_info(path)
        problem = info.problem or _incompatibility(path, checkpoint)
        entries.append(LibraryEntry(info, problem))
    return sorted(entries, key=lambda e: (e.info.display_name.lower(), e.path))


def search(studio: Any, query: str = "") -> list[LibraryEntry]:
    return [entry for entry in library(studio) if entry.info.matches(query or "")]


def _size(n: int) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e8 else f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.0f} kB"


def card(entry: LibraryEntry) -> str:
    """One library entry as HTML (every text from the file escaped)."""
    info, e = entry.info, html.escape
    preview = ""
    if info.preview is not None:
        data = base64.b64encode(info.preview).decode()
        preview = f'<img class="lora-preview" alt="preview" src="data:{e(info.preview_type)};base64,{data}">'
    version = f"LTX-{info.version.version}" if info.version else "any version"
    facts = [_size(info.size), f"rank {info.rank}" if info.rank else "", version, "IC-LoRA" if info.control else ""]
    lines = [f'<div class="lora-title"><b>{e(info.display_name)}</b> <small>{e(info.name)}</small></div>',
             f'<div class="lora-facts">{" · ".join(e(f) for f in facts if f)}</div>']  # fmt: skip
    if info.trigger_words:
        words = ", ".join(f"<code>{e(w)}</code>" for w in info.trigger_words)
        lines.append(f'<div class="lora-triggers">Trigger words: {words}</div>')
    if info.trained_tags:
        lines.append(f'<div class="lora-tags">Trained on: {e(", ".join(info.trained_tags))}</div>')
    if info.description:
        lines.append(f'<div class="lora-description">{e(info.description[:300])}</div>')
    if entry.problem:
        lines.append(f'<div class="lora-incompatible">Cannot be used with the model in use: {e(entry.problem)}</div>')
    state = "lora-card incompatible" if entry.problem else "lora-card"
    return f'<div class="{state}" data-path="{e(entry.path)}">{preview}<div>{"".join(lines)}</div></div>'


def cards(entries: list[LibraryEntry], query: str = "") -> str:
    if not entries:
        what = f" matching “{html.escape(query)}”" if query.strip() else ""
        return (f'<div class="lora-empty">No LoRA{what}. Put LoRA files (.safetensors) in the weights folder or its '
                "<code>loras/</code> sub-folder and press Rescan in Models &amp; Settings.</div>")  # fmt: skip
    return '<div class="lora-library">' + "".join(card(entry) for entry in entries) + "</div>"


def pick_choices(entries: list[LibraryEntry]) -> list[tuple[str, str]]:
    """The LoRAs that can be added (usable with the model in use)."""
    return [(f"{e.info.display_name} ({e.info.name})" if e.info.title else e.info.name, e.path)
            for e in entries if e.usable]  # fmt: skip


def _strength(value: Any, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputProblem(f"{what} must be a number, got {value!r}.") from None
    if not math.isfinite(number) or abs(number) > MAX_STRENGTH:
        raise InputProblem(f"{what} must be between -{MAX_STRENGTH:g} and {MAX_STRENGTH:g}, got {value!r}.")
    return number


def check_usable(studio: Any, path: str) -> LibraryEntry:
    """The library entry of ``path``, refused in one sentence when it cannot be used now."""
    if not path:
        raise InputProblem("choose a LoRA from the library first.")
    if not Path(path).is_file():
        raise InputProblem(f"the LoRA {Path(path).name} is no longer on disk: press Rescan in Models & Settings.")
    entry = next((e for e in library(studio) if Path(e.path) == Path(path)), None)
    if entry is None:
        from ltx_core.model_spec import Role, recognise

        found = recognise(path)
        if not found.problem and found.role not in (Role.LORA, Role.DISTILLED_LORA, Role.UNKNOWN):
            what = found.role.value.replace("_", " ")
            article = "an" if what[0] in "aeiou" else "a"
            raise InputProblem(f"{Path(path).name} is {article} {what} file, not a LoRA: choose a LoRA file.")
        raise InputProblem(f"{Path(path).name} is not in the LoRA library: put it in the weights folder and press Rescan.")
    if entry.problem:
        raise InputProblem(f"{entry.info.name} cannot be used: {entry.problem}")
    return entry


def add(studio: Any, chosen: Any, path: str, strength: Any, stage2_strength: Any) -> list[dict]:
    """``chosen`` with ``path`` added (or its strengths updated when it is there already)."""
    items = normalise(chosen)
    check_usable(studio, path)
    item = {"file": str(path), "strength": _strength(strength, "the stage-1 strength"),
            "stage2_strength": _strength(stage2_strength, "the stage-2 strength")}  # fmt: skip
    for i, existing in enumerate(items):
        if Path(existing["file"]) == Path(path):
            items[i] = item
            return items
    return [*items, item]


def normalise(chosen: Any) -> list[dict]:
    """The job's LoRA list as stored (a list of {file, strength, stage2_strength}: "file", not
    "path", which gradio_client would take for a file to download), from what the UI or an API
    client sends ("path" accepted too); refused in one sentence when malformed."""
    if chosen in (None, "", {}):
        return []
    if isinstance(chosen, dict) and "value" in chosen:  # a component update echoed back
        chosen = chosen["value"]
    if not isinstance(chosen, list):
        raise InputProblem("LoRAs: send a list of {file, strength, stage2_strength} entries.")
    items = []
    for number, item in enumerate(chosen, 1):
        if isinstance(item, str):
            item = {"file": item}
        file = item.get("file") or item.get("path") if isinstance(item, dict) else None
        if not file:
            raise InputProblem(f"LoRA #{number}: give its file (and optionally strength and stage2_strength).")
        strength = _strength(item.get("strength", 1.0), f"LoRA #{number}'s stage-1 strength")
        stage2 = item.get("stage2_strength")
        stage2 = strength if stage2 is None else _strength(stage2, f"LoRA #{number}'s stage-2 strength")
        items.append({"file": str(file), "strength": strength, "stage2_strength": stage2})
    return items


def request_loras(studio: Any, chosen: Any) -> tuple[LoraChoice, ...]:
    """The request's LoRAs from the job's list, each checked (on disk, a LoRA, fits the model)."""
    choices = []
    for item in normalise(chosen):
        check_usable(studio, item["file"])
        choices.append(LoraChoice(item["file"], item["strength"], item["stage2_strength"]))
    return tuple(choices)


def describe_chosen(chosen: Any) -> str:
    """One line per chosen LoRA (names and strengths)."""
    items = normalise(chosen)
    if not items:
        return "No LoRA in this job: search the library and press **Add to job**."
    return "\n".join(f"- **{Path(i['file']).name}**: stage 1 {i['strength']:g}, stage 2 {i['stage2_strength']:g}"
                     for i in items)  # fmt: skip


def _cost_text(cost: Any) -> str:
    from ltx_core.memory import memory_size
    from ltx_core.memory.lora_cost import FUSED

    if cost.mode == FUSED:
        return f"fused: 0 GiB kept, {memory_size(cost.transient)} while fusing"
    return f"{cost.mode}: {memory_size(cost.resident)}"


def lora_table(studio: Any) -> str:
    """The Models tab's LoRA list: each LoRA's size, rank, base version and its memory cost in every
    memory mode (a side path beside quantized layers, one block's when streamed, or fused into
    full-precision weights), with the mode in use marked; fusing once with ``convert --lora`` costs nothing."""
    from ltx_core.memory.lora_cost import lora_cost_for_preset
    from ltx_core.presets import load_presets

    entries = library(studio)
    if not entries:
        return cards([])
    presets = load_presets()
    current = studio.preset.name
    heads = [f"**{p.name}** (in use)" if p.name == current else p.name for p in presets]
    lines = ["| LoRA | base | rank | size | " + " | ".join(heads) + " |", "|---" * (4 + len(presets)) + "|"]
    for entry in entries:
        info = entry.info
        version = f"LTX-{info.version.version}" if info.version else "any"
        if entry.problem:
            lines.append(f"| `{info.name}` | {version} | {info.rank or '–'} | {_size(info.size)} | "
                         + " | ".join("–" for _ in presets) + " |")  # fmt: skip
            continue
        costs = [_cost_text(lora_cost_for_preset(info.footprint, p)) for p in presets]
        lines.append(f"| `{info.name}` | {version} | {info.rank} | {_size(info.size)} | " + " | ".join(costs) + " |")
    unusable = [e for e in entries if e.problem]
    notes = ["", ("Side paths hold each LoRA's A/B matrices beside the quantized layers for the stages that apply it "
                  "(streamed: one block's at a time). A LoRA fused once into a converted checkpoint costs nothing in "
                  "any mode: `python -m ltx_core convert CHECKPOINT OUT --bits 4 --lora FILE:STRENGTH`.")]  # fmt: skip
    if studio.models.demo:
        notes.append("(The demo models run unquantized in float32 whatever the mode: their LoRAs are fused.)")
    notes += [f"- `{e.info.name}` cannot be used: {e.problem}" for e in unusable]
    return "\n".join(lines + notes)
