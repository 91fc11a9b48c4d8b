"""The studio's long videos on disk: each timeline has its folder under ``<outputs>/timelines/``
holding its plan (``timeline.json``: the model version and the tab's values) and its finished
windows (``window-NN.mp4`` + sidecar, written by ``ltx_core.pipelines.timeline``). A timeline whose
plan names no finished output was interrupted and can be resumed; the finished long video is a
copy of its last window in the outputs folder, its sidecar naming the windows it was made from."""

from __future__ import annotations

import datetime
import json
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ltx_core.media import write_json_atomic
from ltx_core.pipelines.runner import OutputRecord
from ltx_core.pipelines.timeline import Segment, finished, window_path
from ltx_ui.inputs import InputProblem, one_line

TIMELINES = "timelines"
PLAN = "timeline.json"
NEW = "(new timeline)"


def parse_rows(rows: Any) -> tuple[Segment, ...]:
    """The table's rows as segments; fully blank rows are left out, any other bad row is refused
    in one sentence naming it."""
    if isinstance(rows, dict):  # the API's {"headers": ..., "data": ...}
        rows = rows.get("data") or []
    segments = []
    for number, row in enumerate(rows or [], 1):
        row = list(row) + [None, None]
        prompt, seconds = str(row[0] if row[0] is not None else "").strip(), row[1]
        if not prompt and seconds in (None, ""):
            continue
        if not prompt:
            raise InputProblem(f"Row {number} has no prompt: describe what happens in it, or remove the row.")
        try:
            value = float(seconds)
        except (TypeError, ValueError):
            raise InputProblem(f"Row {number}: the seconds must be a number, e.g. 4 (got {one_line(seconds, 20)!r}).") from None
        if not value > 0:
            raise InputProblem(f"Row {number} lasts {value:g} s: give it more than 0 seconds.")
        segments.append(Segment(prompt, value))
    if not segments:
        raise InputProblem("The timeline is empty: add a row with a prompt and its seconds.")
    return tuple(segments)


def rows_of(segments: Any) -> list[list[Any]]:
    """Table rows from recorded segments ([prompt, seconds] lists or {"prompt", "seconds"} dicts)."""
    rows = []
    for item in segments or []:
        if isinstance(item, dict):
            rows.append([str(item.get("prompt", "")), float(item.get("seconds") or 0)])
        elif isinstance(item, (list, tuple)) and len(item) >= 2:
            rows.append([str(item[0]), float(item[1] or 0)])
    return rows


@dataclass(frozen=True)
class Timeline:
    folder: Path
    plan: dict[str, Any]

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def segments(self) -> tuple[Segment, ...]:
        return tuple(Segment(prompt, seconds) for prompt, seconds in rows_of(self.plan.get("ui", {}).get("segments")))

    @property
    def done(self) -> int:
        """Finished windows, in order (a window counts once it and every earlier one is on disk)."""
        count = 0
        while finished(self.folder, count + 1):
            count += 1
        return count

    def describe(self) -> str:
        segments, done = self.segments, self.done
        lines = [f"**{self.name}** · made with LTX-{self.plan.get('model_version', '?')} · {done} of {len(segments)} "
                 f"window(s) finished" + (f": resuming starts at window {done + 1}." if done < len(segments) else ".")]  # fmt: skip
        for index, segment in enumerate(segments, 1):
            state = "finished" if index <= done else "to generate"
            lines.append(f"{index}. {one_line(segment.prompt, 60)} · {segment.seconds:g} s · *{state}*")
        return "\n\n".join(lines)


def timelines_folder(outputs: Path) -> Path:
    return Path(outputs) / TIMELINES


def new_timeline(outputs: Path, seed: int, model_version: str, ui: dict[str, Any]) -> Timeline:
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = timelines_folder(outputs) / f"{stamp}-s{seed}"
    counter = 2
    while folder.exists():
        folder = timelines_folder(outputs) / f"{stamp}-s{seed}-{counter}"
        counter += 1
    folder.mkdir(parents=True)
    plan = {"model_version": model_version, "ui": ui, "output": None}
    write_json_atomic(folder / PLAN, plan)
    return Timeline(folder, plan)


def load_timeline(outputs: Path, name: str) -> Timeline:
    folder = timelines_folder(outputs) / Path(str(name)).name
    try:
        plan = json.loads((folder / PLAN).read_text())
    except (OSError, ValueError):
        plan = None
    if not isinstance(plan, dict) or not isinstance(plan.get("ui"), dict):
        raise InputProblem(f"{one_line(name)} is not an interrupted timeline of this outputs folder: refresh the list.")
    return Timeline(folder, plan)


def interrupted(outputs: Path) -> list[str]:
    """Timelines started and not finished, newest first."""
    root = timelines_folder(outputs)
    if not root.is_dir():
        return []
    names = []
    for folder in sorted(root.iterdir(), reverse=True):
        try:
            plan = json.loads((folder / PLAN).read_text())
        except (OSError, ValueError):
            continue
        if isinstance(plan, dict) and not plan.get("output"):
            names.append(folder.name)
    return names


def check_resume(timeline: Timeline, segments: tuple[Segment, ...], model_version: str) -> None:
    """A resume continues the same timeline with the same model: refuse anything else in one sentence."""
    made_with = str(timeline.plan.get("model_version"))
    if made_with != model_version:
        raise InputProblem(f"{timeline.name} was made with LTX-{made_with} and the loaded model is LTX-{model_version}: "
                           f"load an LTX-{made_with} model in Models & Settings, or start a new timeline.")  # fmt: skip
    done = timeline.done
    if len(segments) < done or segments[:done] != timeline.segments[:done]:
        raise InputProblem(f"Rows 1-{done} of {timeline.name} are finished windows and must stay as they were: "
                           "restore them (choose the timeline again), or start a new timeline.")  # fmt: skip


def finish_timeline(timeline: Timeline, count: int, output: Path, records: list[OutputRecord]) -> OutputRecord:
    """Copy the last window (the whole video) to ``output`` with a sidecar whose request lists the
    windows it was made from, and mark the plan finished."""
    last = window_path(timeline.folder, count)
    data = json.loads(last.with_suffix(".json").read_text())
    settings = data["settings"]
    windows = [str(window_path(timeline.folder, index)) for index in range(1, count + 1)]
    segments = [{"prompt": s.prompt, "seconds": s.seconds} for s in timeline.segments[:count]]
    ui = timeline.plan["ui"]
    settings["pipeline"] = "timeline"
    settings["request"] = {"segments": segments, "windows": windows, "folder": str(timeline.folder),
                           "seed": ui.get("seed"), "height": settings["request"].get("height"),
                           "width": settings["request"].get("width"), "fps": settings["request"].get("fps"),
                           "overlap": ui.get("overlap")}  # fmt: skip
    settings["prompt_used"] = " → ".join(s["prompt"] for s in segments)
    partial = output.with_name(f".{output.stem}.{secrets.token_hex(6)}.part.mp4")  # as the writers name theirs
    shutil.copyfile(last, partial)
    partial.replace(output)
    write_json_atomic(output.with_suffix(".json"), data)
    timeline.plan["output"] = output.name
    write_json_atomic(timeline.folder / PLAN, timeline.plan)
    stages = tuple(stage for record in records for stage in record.stages)
    return OutputRecord(output, output.with_suffix(".json"), sum(r.seconds for r in records),
                        max((r.peak_memory for r in records), default=0), stages, settings["prompt_used"],
                        tuple(n for r in records for n in r.notices))  # fmt: skip
