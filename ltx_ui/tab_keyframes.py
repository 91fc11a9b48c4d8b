"""Keyframe Interpolation: several images dropped at once, each a thumbnail with an editable
frame index and strength, reordered and removed before generating."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import gradio as gr

from ltx_core.pipelines.request import ImageCondition
from ltx_ui.generation_tab import GenerationTab
from ltx_ui.inputs import InputProblem, check_image, snap
from ltx_ui.lora_library import normalise, request_loras
from ltx_ui.lora_picker import LoraPicker
from ltx_ui.outputs import keep_input

TAB = "keyframes"
PIPELINE = "keyframes"
HEADERS = ["#", "image", "frame", "strength"]
Items = list[dict[str, Any]]


def spread(count: int, frames: int) -> list[int]:
    """Frame indices spread over the clip, first at 0 and last at the final frame, on multiples of 8."""
    if count <= 1:
        return [0] * count
    last = frames - 1
    return [min(last, round(i * last / (count - 1) / 8) * 8) for i in range(count)]


def render(items: Items) -> tuple[Items, list[tuple[str, str]], list[list[Any]]]:
    gallery = [(item["path"], f"#{i + 1} · frame {item['frame']}") for i, item in enumerate(items)]
    table = [[i + 1, item.get("name") or Path(item["path"]).name, item["frame"], item["strength"]]
             for i, item in enumerate(items)]
    return items, gallery, table


def check_keyframes(items: Items, frames: int) -> None:
    if not items:
        raise InputProblem("Drop at least one keyframe image first.")
    seen: dict[int, int] = {}
    for index, item in enumerate(items, start=1):
        if not Path(item["path"]).is_file():
            raise InputProblem(f"keyframe #{index} ({Path(item['path']).name}) is no longer on disk: drop it again.")
        if not 0 <= item["frame"] < frames:
            raise InputProblem(f"keyframe #{index} is at frame {item['frame']}, outside the clip's frames 0..{frames - 1}.")
        if item["frame"] in seen:
            raise InputProblem(
                f"keyframes #{seen[item['frame']]} and #{index} are both at frame {item['frame']}: give each its own frame."
            )
        seen[item["frame"]] = index


class KeyframesTab(GenerationTab):
    tab = TAB
    api_name = "keyframes_generate"

    def build(self) -> None:
        self.items = gr.State([])
        with gr.Row(equal_height=False):
            with gr.Column(scale=5):
                self.drop = gr.File(label="Drop keyframe images here (several at once)", file_count="multiple",
                                    elem_id="keyframes-drop", height=140)  # fmt: skip
                self.gallery = gr.Gallery(label="Keyframes in order", columns=4, height=220, object_fit="contain", fit_columns=False,
                                          allow_preview=False, elem_id="keyframes-gallery")  # fmt: skip
                self.table = gr.Dataframe(headers=HEADERS, datatype=["number", "str", "number", "number"],
                                          interactive=True, label="Edit frame and strength in the table",
                                          column_count=4, elem_id="keyframes-table")  # fmt: skip
                with gr.Row():
                    row = gr.Number(label="Keyframe #", value=1, precision=0, minimum=1)
                    frame = gr.Number(label="Frame", value=0, precision=0, minimum=0)
                    strength = gr.Slider(0.0, 1.0, value=1.0, step=0.05, label="Strength")
                with gr.Row():
                    apply = gr.Button("Apply to #", size="sm")
                    up = gr.Button("Move up", size="sm")
                    down = gr.Button("Move down", size="sm")
                    remove = gr.Button("Remove", size="sm", variant="stop")
                    even = gr.Button("Spread evenly", size="sm")
                self.message = gr.Markdown(elem_id="keyframes-message")
                self.lora_picker = LoraPicker(self.studio, self.tab, "keyframes", "LoRAs (library)")
                self.loras_field = self.lora_picker.build()
                self.settings_controls(width=768, height=512, frames=121)
            self.result_column()
        self.finish_build(gr.State(PIPELINE))

        views = [self.items, self.gallery, self.table]
        self.drop.upload(self.add, [self.items, self.drop, self.settings.frames], [*views, self.drop, self.message],
                         api_name="keyframes_add")  # fmt: skip
        self.table.input(self.edit_table, [self.items, self.table, self.settings.frames], [*views, self.message],
                         api_name="keyframes_edit_table")  # fmt: skip
        apply.click(self.set_item, [self.items, row, frame, strength, self.settings.frames], [*views, self.message],
                    api_name="keyframes_set")  # fmt: skip
        up.click(lambda items, r: self.move(items, r, -1), [self.items, row], [*views, self.message], api_name="keyframes_up")
        down.click(lambda items, r: self.move(items, r, 1), [self.items, row], [*views, self.message],
                   api_name="keyframes_down")  # fmt: skip
        remove.click(self.remove, [self.items, row], [*views, self.message], api_name="keyframes_remove")
        even.click(self.spread_evenly, [self.items, self.settings.frames], [*views, self.message], api_name="keyframes_spread")
        self.settings.frames.blur(self.fit, [self.items, self.settings.frames], [*views, self.message],
                                  queue=False, api_visibility="private")  # fmt: skip

    def add(self, items: Items, files: list[str] | None, frames: float) -> tuple:
        items = [dict(item) for item in items or []]
        problems = []
        for file in files or []:
            try:
                kept = keep_input(self.studio.outputs, check_image(file))
            except InputProblem as exc:
                problems.append(str(exc))
                gr.Warning(str(exc))
                continue
            items.append({"path": str(kept), "name": Path(file).name, "frame": 0, "strength": 1.0})
        try:
            total = snap(PIPELINE, 128, 128, frames).frames
        except InputProblem:
            total = 121
        for item, index in zip(items, spread(len(items), total)):
            item["frame"] = index
        added = len(files or []) - len(problems)
        message = f"Added {added} keyframe(s); frames spread evenly over {total} frames."
        if problems:
            message += "\n\n" + "\n\n".join(f"⚠️ Skipped: {p}" for p in problems)
        return *render(items), None, message

    def edit_table(self, items: Items, table: Any, frames: float | None = None) -> tuple:
        """Frames and strengths typed into the table, checked against the clip now (a refused
        edit puts the table back as it was)."""
        rows = table.values.tolist() if hasattr(table, "values") else (table or [])
        if isinstance(rows, dict):  # the API sends {"headers": ..., "data": ...}
            rows = rows.get("data") or []
        before = [dict(item) for item in items or []]
        items = [dict(item) for item in before]
        try:
            for index, (item, row) in enumerate(zip(items, rows), start=1):
                item["frame"], item["strength"] = _frame(row[2], index, _clip_frames(frames)), _strength(row[3])
            _check_distinct(items, before)
        except (InputProblem, IndexError, TypeError) as exc:
            message = str(exc) if isinstance(exc, InputProblem) else "each row needs a frame and a strength."
            gr.Warning(message)
            return *render(before), f"⚠️ {message}"
        return *render(items), "Updated."

    def set_item(self, items: Items, row: float, frame: float, strength: float, frames: float | None = None) -> tuple:
        before = [dict(item) for item in items or []]
        items = [dict(item) for item in before]
        try:
            index = _row(items, row)
            items[index]["frame"] = _frame(frame, index + 1, _clip_frames(frames))
            items[index]["strength"] = _strength(strength)
            _check_distinct(items, before)
        except InputProblem as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        return *render(items), f"Keyframe #{index + 1}: frame {items[index]['frame']}, strength {items[index]['strength']:g}."

    def move(self, items: Items, row: float, step: int) -> tuple:
        items = [dict(item) for item in items or []]
        try:
            index = _row(items, row)
        except InputProblem as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        target = index + step
        if not 0 <= target < len(items):
            return *render(items), f"Keyframe #{index + 1} is already {'first' if step < 0 else 'last'}."
        items[index], items[target] = items[target], items[index]
        # The order is the timeline: the moved images swap frame indices too.
        items[index]["frame"], items[target]["frame"] = items[target]["frame"], items[index]["frame"]
        return *render(items), f"Moved keyframe #{index + 1} to #{target + 1}."

    def remove(self, items: Items, row: float) -> tuple:
        items = [dict(item) for item in items or []]
        try:
            index = _row(items, row)
        except InputProblem as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        removed = items.pop(index)
        return *render(items), f"Removed {removed.get('name') or Path(removed['path']).name}."

    def spread_evenly(self, items: Items, frames: float) -> tuple:
        items = [dict(item) for item in items or []]
        try:
            total = snap(PIPELINE, 128, 128, frames).frames
        except InputProblem as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        for item, index in zip(items, spread(len(items), total)):
            item["frame"] = index
        return *render(items), f"Spread over {total} frames."

    def fit(self, items: Items, frames: float) -> tuple:
        """A shorter clip re-spreads keyframes that would fall past its end."""
        try:
            total = snap(PIPELINE, 128, 128, frames).frames
        except InputProblem:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        if all(item["frame"] < total for item in items or []):
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        *views, _ = self.spread_evenly(items, total)
        return *views, f"Keyframes re-spread over {total} frames (some were past the end of the clip)."

    def fixed_pipeline(self) -> str:
        return PIPELINE

    def own_fields(self) -> dict[str, Any]:
        return {"keyframes": self.items, "loras": self.loras_field}

    def make_request(self, values: dict[str, Any]):
        keyframes = values["keyframes"] or []
        loras = request_loras(self.studio, values["loras"])
        values["loras"] = normalise(values["loras"])  # as the sidecar records it for "reuse settings"
        base, snapped = self.base_request(PIPELINE, values, loras=loras)
        check_keyframes(keyframes, snapped.frames)
        images = tuple(ImageCondition(k["path"], int(k["frame"]), float(k["strength"])) for k in keyframes)
        return PIPELINE, replace(base, images=images), snapped.note

    def reuse_targets(self) -> list[Any]:
        return [*super().reuse_targets(), self.gallery, self.table, self.message]

    def reuse(self, ui: dict[str, Any]) -> dict:
        """The keyframes come back as thumbnails and table rows; any whose image is gone is left
        out and named, so Generate never runs with images the user cannot see."""
        updates = super().reuse(ui)
        kept, missing = [], []
        for index, item in enumerate(ui.get("keyframes") or [], start=1):
            if isinstance(item, dict) and Path(str(item.get("path", ""))).is_file():
                kept.append(item)
            else:
                name = item.get("name") or Path(str(item.get("path", ""))).name if isinstance(item, dict) else "?"
                missing.append(f"#{index} ({name})")
        items, gallery, table = render(kept)
        message = f"Loaded {len(items)} keyframe(s) from the gallery item."
        if missing:
            message += f" ⚠️ Left out {', '.join(missing)}: the image is no longer on disk; drop it again."
        updates.update({self.items: items, self.gallery: gallery, self.table: table, self.message: message})
        return updates


def _row(items: Items, row: float | None) -> int:
    if not items:
        raise InputProblem("There are no keyframes yet: drop some images first.")
    if row is None or not 1 <= int(row) <= len(items):
        raise InputProblem(f"Keyframe # must be between 1 and {len(items)}.")
    return int(row) - 1


def _clip_frames(frames: float | None) -> int | None:
    try:
        return snap(PIPELINE, 128, 128, frames).frames
    except (InputProblem, TypeError, ValueError):
        return None


def _frame(value: Any, index: int = 0, frames: int | None = None) -> int:
    """A keyframe's frame index, inside the clip of ``frames`` frames when that is known."""
    which = f"keyframe #{index}: " if index else ""
    try:
        frame = int(float(value))
    except (TypeError, ValueError, OverflowError):
        raise InputProblem(f"{which}frame {value!r} is not a number: type a whole number.") from None
    if frame < 0:
        raise InputProblem(f"{which}a frame index cannot be negative: type 0 or more.")
    if frames is not None and frame >= frames:
        raise InputProblem(f"{which}frame {frame} is outside the clip: type a frame from 0 to {frames - 1} "
                           "(or make the clip longer first).")  # fmt: skip
    return frame


def _check_distinct(items: Items, before: Items) -> None:
    """A frame just typed must not land on another keyframe's (older clashes are Generate's to refuse)."""
    for index, (item, old) in enumerate(zip(items, before), start=1):
        if item["frame"] == old["frame"]:
            continue
        for other, candidate in enumerate(items, start=1):
            if other != index and candidate["frame"] == item["frame"]:
                raise InputProblem(f"keyframe #{other} is already at frame {item['frame']}: give keyframe #{index} "
                                   "another frame.")  # fmt: skip


def _strength(value: Any) -> float:
    try:
        strength = float(value)
    except (TypeError, ValueError):
        raise InputProblem(f"strength {value!r} is not a number.") from None
    if not 0.0 <= strength <= 1.0:
        raise InputProblem(f"strength must be between 0 and 1, got {strength:g}.")
    return strength
