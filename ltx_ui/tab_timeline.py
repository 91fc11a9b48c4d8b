"""Long Video: a timeline of rows (prompt + seconds) generated window by window through
``ltx_core.pipelines.timeline``; progress names the window, Cancel keeps the finished windows, and
an interrupted timeline is resumed from its first missing window. The finished video goes to the
gallery, its sidecar naming its windows; "reuse settings" restores the rows."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import gradio as gr

from ltx_core.errors import LTXError
from ltx_core.pipelines.extend import MAX_SECONDS
from ltx_core.pipelines.timeline import (
    TimelineRequest,
    check_timeline,
    max_timeline_seconds,
    run_timeline,
    timeline_plan,
)
from ltx_ui import timelines
from ltx_ui.context import Job, Update, generate_updates, session_of, user_message
from ltx_ui.controls import seeds
from ltx_ui.generation_tab import GenerationTab
from ltx_ui.timelines import NEW, Timeline

PRIVATE = {"queue": False, "api_visibility": "private", "show_progress": "hidden"}
STARTING_ROWS = [["A sailing boat leaves a harbour at dawn, gulls overhead", 4.0],
                 ["The boat crosses open water, waves and wind", 4.0]]  # fmt: skip
# Window 1 is a plain generation (the distilled recipe on a distilled checkpoint): its size rule.
SIZE_PIPELINE = "distilled"


class TimelineTab(GenerationTab):
    tab = api_name = "timeline"
    cancel_api_name = "timeline_cancel"

    def build(self) -> None:
        with gr.Row(equal_height=False):
            with gr.Column(scale=5):
                with gr.Row():
                    self.resume = gr.Dropdown([NEW], value=NEW, label="Interrupted timelines (choose one to resume it)",
                                              allow_custom_value=True, scale=4, elem_id="timeline-resume")  # fmt: skip
                    refresh = gr.Button("Refresh list", size="sm", scale=1, elem_id="timeline-refresh")
                self.windows_note = gr.Markdown("", elem_id="timeline-finished")
                self.finished_video = gr.Video(label="Finished windows so far (the last one holds them all)",
                                               interactive=False, height=200, visible=False,
                                               elem_id="timeline-finished-video")  # fmt: skip
                self.rows = gr.Dataframe(
                    value=STARTING_ROWS, headers=["Prompt", "Seconds"], datatype=["str", "number"], type="array",
                    column_count=2, interactive=True, wrap=True,
                    label="Timeline: one row per window, in order (click a row, then move or remove it)",
                    elem_id="timeline-rows",
                )  # fmt: skip
                self.selected = gr.State(None)  # the clicked row
                with gr.Row():
                    add = gr.Button("+ Add row", size="sm", elem_id="timeline-add")
                    up = gr.Button("⬆ Move up", size="sm", elem_id="timeline-up")
                    down = gr.Button("⬇ Move down", size="sm", elem_id="timeline-down")
                    remove = gr.Button("✖ Remove row", size="sm", elem_id="timeline-remove")
                self.total = gr.Markdown(elem_id="timeline-total")
                self.overlap = gr.Slider(1, 4, value=2, step=1, label="Overlap (latent frames each window starts from)",
                                         elem_id="timeline-overlap")  # fmt: skip
                self.settings_controls(width=768, height=512)
            self.result_column("Generate long video")
        s = self.settings
        for hidden in (s.prompt, s.frames, s.count):  # the rows give prompts and length; one timeline per run
            hidden.visible = False
        s.size_note.visible = False
        self.finish_build(gr.State(SIZE_PIPELINE))
        total_inputs = [self.rows, s.width, s.height, s.fps]
        for event in (self.rows.change, s.width.blur, s.height.blur, s.fps.blur):
            event(self.describe_total, total_inputs, self.total, **PRIVATE)
        self.total.value = self.describe_total(STARTING_ROWS, 768, 512, self.studio.models.version.fps)
        self.rows.select(self.pick, None, self.selected, **PRIVATE)
        add.click(self.add_row, [self.rows, self.selected], [self.rows, self.selected], **PRIVATE)
        up.click(lambda rows, i: self.move(rows, i, -1), [self.rows, self.selected], [self.rows, self.selected], **PRIVATE)
        down.click(lambda rows, i: self.move(rows, i, 1), [self.rows, self.selected], [self.rows, self.selected], **PRIVATE)
        remove.click(self.remove_row, [self.rows, self.selected], [self.rows, self.selected], **PRIVATE)
        chosen = [self.windows_note, self.finished_video, self.out.generate, *self.fields.values()]
        self.resume.change(self.choose, self.resume, chosen, api_name="timeline_choose", queue=False)
        refresh.click(self.on_load, None, self.resume, **PRIVATE)
        self.out.cancel.click(self.on_load, None, self.resume, **PRIVATE)
        self.finished.then(lambda: self.on_load(NEW), None, self.resume, **PRIVATE)  # finished: a new one next

    # -- rows -----------------------------------------------------------------------------------
    @staticmethod
    def pick(event: gr.SelectData) -> int | None:
        """The clicked cell's row."""
        return event.index[0] if isinstance(event.index, (list, tuple)) else None

    @staticmethod
    def _rows(rows: Any) -> list[list[Any]]:
        rows = rows.get("data") if isinstance(rows, dict) else rows
        return [list(row) for row in rows or []]

    def add_row(self, rows: Any, index: int | None):
        rows = self._rows(rows)
        at = len(rows) if index is None else min(index + 1, len(rows))
        rows.insert(at, ["", 4.0])
        return rows, at

    def move(self, rows: Any, index: int | None, by: int):
        rows = self._rows(rows)
        if index is None or not 0 <= index < len(rows):
            gr.Warning("Click a row of the timeline first, then move it.")
            return gr.skip(), index
        target = min(max(index + by, 0), len(rows) - 1)
        rows[index], rows[target] = rows[target], rows[index]
        return rows, target

    def remove_row(self, rows: Any, index: int | None):
        rows = self._rows(rows)
        if index is None or not 0 <= index < len(rows):
            gr.Warning("Click a row of the timeline first, then remove it.")
            return gr.skip(), index
        del rows[index]
        return rows, None

    def limit_seconds(self, width: float, height: float, fps: float) -> float:
        """The longest timeline the memory mode holds at this size (see ``max_timeline_seconds``)."""
        from ltx_core.memory import available_memory

        available = available_memory(margin_bytes=self.studio.current_ledger().runtime.memory_margin)
        return max_timeline_seconds(int(height), int(width), float(fps or self.studio.models.version.fps), available)

    def describe_total(self, rows: Any, width, height, fps) -> str:
        """The total length, the windows and the limit; a bad row is named at once."""
        try:
            segments = timelines.parse_rows(rows)
            limit = self.limit_seconds(width, height, fps)
        except LTXError as exc:
            return f"⚠️ {user_message(exc)}"
        except (TypeError, ValueError):
            return ""
        total = sum(s.seconds for s in segments)
        text = (f"Total **{total:g} s** in {len(segments)} window(s) · each row at most {MAX_SECONDS:g} s · at "
                f"{int(width)}x{int(height)} this memory mode holds at most {limit:.0f} s")  # fmt: skip
        return text if total <= limit else f"⚠️ {text}: shorten or remove rows, or choose a smaller size."

    # -- resume ---------------------------------------------------------------------------------
    def on_load(self, value: str | None = None) -> gr.Dropdown:
        """The interrupted timelines (``value``: choose one, e.g. NEW once a timeline finished)."""
        choices = [NEW, *timelines.interrupted(self.studio.outputs)]
        return gr.Dropdown(choices=choices) if value is None else gr.Dropdown(choices=choices, value=value)

    def choose(self, name: str | None) -> list:
        """An interrupted timeline: its finished windows shown and its values loaded (a new one: the
        fields as they are)."""
        keep = [gr.skip()] * len(self.fields)
        if not name or name == NEW:
            return ["", gr.Video(value=None, visible=False), gr.Button(value="Generate long video"), *keep]
        try:
            timeline = timelines.load_timeline(self.studio.outputs, name)
        except LTXError as exc:
            return [f"⚠️ {user_message(exc)}", gr.Video(value=None, visible=False), gr.skip(), *keep]
        done = timeline.done
        video = timelines.window_path(timeline.folder, done) if done else None
        ui = {**timeline.plan["ui"], "randomize_seed": False, "seed_count": 1}
        values = [self._value(field, ui) if field in ui else gr.skip() for field in self.fields]
        button = f"Resume from window {done + 1} of {len(timeline.segments)}"
        return [timeline.describe(), gr.Video(value=str(video) if video else None, visible=bool(video)),
                gr.Button(value=button), *values]  # fmt: skip

    @staticmethod
    def _value(field: str, ui: dict[str, Any]) -> Any:
        if field == "segments":
            return timelines.rows_of(ui["segments"])
        if field == "resume":
            return gr.skip()
        return ui[field]

    def fixed_pipeline(self) -> str:
        return SIZE_PIPELINE

    # -- the job --------------------------------------------------------------------------------
    def own_fields(self) -> dict[str, Any]:
        return {"segments": self.rows, "overlap": self.overlap, "resume": self.resume}

    def estimate_extras(self) -> dict[str, Any]:
        return {"segments": self.rows, "overlap": self.overlap}

    def estimate(self, pipeline: str, width, height, frames, fps, steps, cfg, stg, audio, count, *extra) -> str:
        """Window 1 as a plain generation, every later one as an extension of overlap + its seconds."""
        from ltx_ui.estimates import describe_duration
        from ltx_ui.inputs import snap

        rows, overlap = (extra + (None, 2))[:2]
        version = self.studio.models.version
        try:
            snapped = snap(SIZE_PIPELINE, width, height, 9)
            request = TimelineRequest(
                timelines.parse_rows(rows), snapped.height, snapped.width, float(fps or version.fps), 0, int(overlap or 2),
                bool(audio), steps=int(steps or 1),
                video_guidance=replace(version.video_guidance, cfg_scale=float(cfg), stg_scale=float(stg)),
                audio_guidance=replace(version.audio_guidance, stg_scale=float(stg)),
            )  # fmt: skip
            plan = timeline_plan(request, version, self.window_pipeline() == "distilled")
        except (LTXError, TypeError, ValueError):
            return ""
        return describe_duration(self.studio.predict(plan))

    def window_pipeline(self) -> str:
        """Window 1's recipe, as ``run_timeline`` picks it."""
        try:
            return "distilled" if self.studio.current_ledger().model.variant == "distilled" else "one-stage"
        except (LTXError, OSError):
            return "distilled"

    def timeline_request(self, values: dict[str, Any], seed: int) -> TimelineRequest:
        from ltx_ui.inputs import snap

        version = self.studio.models.version
        segments = timelines.parse_rows(values["segments"])
        snapped = snap(SIZE_PIPELINE, values["width"], values["height"], 9)
        fps = float(values["fps"] or version.fps)
        if fps <= 0:
            raise timelines.InputProblem("FPS must be positive.")
        cfg, stg = float(values["cfg"]), float(values["stg"])
        request = TimelineRequest(
            segments, snapped.height, snapped.width, fps, seed, int(values["overlap"]), bool(values["audio"]),
            values["negative_prompt"] or "", int(values["steps"]),
            replace(version.video_guidance, cfg_scale=cfg, stg_scale=stg), replace(version.audio_guidance, stg_scale=stg),
        )  # fmt: skip
        check_timeline(request, self.limit_seconds(request.width, request.height, fps))
        return request

    def submit(self, values: dict[str, Any], request: gr.Request | None, progress: gr.Progress | None) -> Iterator[Update]:
        version = self.studio.models.version.version
        try:
            resume = values.get("resume")
            if resume and resume != NEW:
                timeline = timelines.load_timeline(self.studio.outputs, resume)
                recorded = timeline.plan["ui"]
                values = {**values, **{k: recorded[k] for k in ("width", "height", "fps", "seed", "overlap", "audio")
                                       if k in recorded}}  # fmt: skip
                job_request = self.timeline_request(values, int(recorded.get("seed", 0)))
                timelines.check_resume(timeline, job_request.segments, version)
            else:
                seed = seeds(values["seed"], values["randomize_seed"], 1)[0]
                job_request = self.timeline_request(values, seed)
                timeline = None
        except LTXError as exc:
            raise gr.Error(user_message(exc), print_exception=False) from None
        ui = {**values, "segments": [[s.prompt, s.seconds] for s in job_request.segments], "seed": job_request.seed,
              "width": job_request.width, "height": job_request.height, "resume": NEW}  # fmt: skip
        if timeline is None:
            timeline = timelines.new_timeline(self.studio.outputs, job_request.seed, version, ui)
        else:
            timeline.plan["ui"] = {**ui, "segments": [[s.prompt, s.seconds] for s in job_request.segments]}
            timelines.write_json_atomic(timeline.folder / timelines.PLAN, timeline.plan)
        note = f"Resuming {timeline.name} from window {timeline.done + 1}." if timeline.done else ""
        plan = timeline_plan(job_request, self.studio.models.version, self.window_pipeline() == "distilled",
                             timeline.done + 1)  # fmt: skip
        job = self.job(job_request, timeline, {"tab": self.tab, "ui": ui}, plan)
        last = None
        for update in generate_updates(self.studio, session_of(request), [job], progress, note):
            last = update
            yield update
        windows = timeline.done
        if windows < len(job_request.segments) and last is not None:
            kept = (f"Windows 1-{windows} are kept in `{timelines.TIMELINES}/{timeline.name}`: choose it under "
                    "Interrupted timelines and press Resume." if windows else "No window was finished.")  # fmt: skip
            yield (f"{last[0]}\n\n{kept}", *last[1:])

    def job(self, request: TimelineRequest, timeline: Timeline, extra: dict[str, Any], plan: list) -> Job:
        """The timeline as one job; ``plan`` (its windows' stages) gives the ETA of the whole video."""
        studio = self.studio

        def run(output, report, cancel):
            records = run_timeline(studio.ledger(), request, timeline.folder, report, cancel)
            return timelines.finish_timeline(timeline, len(request.segments), output, records)

        return Job("timeline", request.seed, run, extra, tuple(plan))

    def reuse_targets(self) -> list[Any]:
        return [*super().reuse_targets(), self.total, self.windows_note, self.finished_video]

    def reuse(self, ui: dict[str, Any]) -> dict:
        """The rows and settings of a finished long video (a new timeline with the same seed)."""
        rows = timelines.rows_of(ui.get("segments"))
        ui = {**ui, "segments": rows, "resume": NEW}
        updates = super().reuse(ui)
        updates[self.settings.size_note] = gr.skip()
        s = self.settings
        updates[self.total] = self.describe_total(rows, ui.get("width", s.width.value), ui.get("height", s.height.value),
                                                  ui.get("fps", s.fps.value))  # fmt: skip
        updates[self.windows_note], updates[self.finished_video] = "", gr.Video(value=None, visible=False)
        return updates
