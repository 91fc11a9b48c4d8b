"""Retake: regenerate a time window of a gallery item or an uploaded clip with a new prompt; the
clip is shown with its window on a timeline bar, the rest of the settings are the shared ones."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import gradio as gr

from ltx_core.errors import LTXError
from ltx_core.pipelines.runner import run_job as run_pipeline
from ltx_ui.clip_source import UPLOAD, ClipFacts, SourcePicker, clip_facts, timeline_html
from ltx_ui.context import Job, Update, generate_updates, session_of, user_message
from ltx_ui.controls import seeds
from ltx_ui.generation_tab import GenerationTab
from ltx_ui.inputs import InputProblem, check_prompt

TAB = "retake"
PIPELINE = "retake"


class RetakeTab(GenerationTab):
    tab = TAB
    api_name = "retake"

    def build(self) -> None:
        with gr.Row(equal_height=False):
            with gr.Column(scale=5):
                self.picker = SourcePicker(self.studio, TAB, "Gallery item to retake")
                self.clip_info = gr.Markdown("Choose a clip: a gallery item or an upload.", elem_id="retake-clip-info")
                self.timeline = gr.HTML(timeline_html(1.0, 0.0, 0.0), elem_id="retake-timeline")
                with gr.Row():
                    self.start = gr.Slider(0.0, 10.0, value=0.0, step=0.01, label="Window start (s)", elem_id="retake-start")
                    self.end = gr.Slider(0.0, 10.0, value=0.0, step=0.01, label="Window end (s, not included)",
                                         elem_id="retake-end")  # fmt: skip
                with gr.Row():
                    self.regenerate_video = gr.Checkbox(label="Regenerate the video in the window", value=True)
                    self.regenerate_audio = gr.Checkbox(label="Regenerate the audio in the window", value=True)
                self.settings_controls(width=64, height=64, frames=9)
            self.result_column("Retake")
        for hidden in (self.settings.width, self.settings.height, self.settings.frames, self.settings.fps,
                       self.settings.size_note, self.settings.audio):  # the clip decides them
            hidden.visible = False
        self.finish_build(gr.State(PIPELINE))
        self.settings.frames.value, self.out.estimate.value = 0, ""  # no clip chosen yet: no estimate
        private = {"queue": False, "api_visibility": "private", "show_progress": "hidden"}
        picker, s = self.picker, self.settings
        chosen = [picker.preview, picker.upload, self.clip_info, self.start, self.end, s.width, s.height, s.frames, s.fps,
                  self.regenerate_audio]  # fmt: skip
        picker.choice.change(self.choose, [picker.choice, picker.upload], chosen, **private)
        picker.upload.change(self.choose, [picker.choice, picker.upload], chosen, **private)
        for slider in (self.start, self.end):
            slider.change(self.mark, [picker.choice, picker.upload, self.start, self.end], self.timeline, **private)
        s.frames.change(self.estimate, self.estimate_inputs, self.out.estimate, **private)

    def on_load(self) -> gr.Dropdown:
        return self.picker.on_load()

    def own_fields(self) -> dict[str, Any]:
        return {"source": self.picker.choice, "upload": self.picker.upload, "start": self.start, "end": self.end,
                "regenerate_video": self.regenerate_video, "regenerate_audio": self.regenerate_audio}  # fmt: skip

    def fixed_pipeline(self) -> str:
        return PIPELINE

    def _show_used_controls(self, pipeline: Any) -> None:
        """Steps and guidance stay visible: a dev checkpoint's retake is guided."""

    def choose(self, name: str | None, upload: str | None, start: float | None = None, end: float | None = None) -> tuple:
        """A new clip: its player, facts, a window in its middle third, the hidden geometry."""
        preview, upload_box = self.picker.shown(name)
        facts = self.picker.facts(name, upload)
        if facts is None:
            return (preview, upload_box, "Choose a clip: a gallery item or an upload.", gr.Slider(), gr.Slider(),
                    *(gr.skip(),) * 5)  # fmt: skip
        step = round(1 / facts.fps, 4)
        start = facts.duration / 3 if start is None else start
        end = 2 * facts.duration / 3 if end is None else end
        info = (f"**{facts.path.name}** · {facts.width}x{facts.height} · {facts.frames} frames at {facts.fps:g} fps = "
                f"{facts.duration:.2f} s")  # fmt: skip
        sliders = [gr.Slider(0.0, round(facts.duration, 4), value=round(v, 2), step=step) for v in (start, end)]
        return (preview, upload_box, info, *sliders, facts.width, facts.height, facts.frames, facts.fps,
                self.audio_choice(facts.has_audio))  # fmt: skip

    @staticmethod
    def audio_choice(has_audio: bool) -> gr.Checkbox:
        """A clip with audio keeps it: regenerating it needs its log-mel encoding (the audio-to-video
        front end), which ``ltx_core.pipelines.retake`` does not have yet."""
        if has_audio:
            return gr.Checkbox(value=False, interactive=False,
                               label="Regenerate the audio in the window (not yet for clips with audio: it is kept)")  # fmt: skip
        return gr.Checkbox(value=True, interactive=True, label="Generate a soundtrack (the clip has none)")

    def mark(self, name: str | None, upload: str | None, start: float, end: float) -> str:
        facts = self.picker.facts(name, upload)
        return timeline_html(facts.duration if facts else 1.0, float(start or 0), float(end or 0))

    def estimate(self, pipeline: str, width, height, frames, fps, steps, cfg, stg, audio, count) -> str:
        from ltx_core.pipelines.speed import edit_plan
        from ltx_ui.estimates import describe_duration

        try:
            frames, width, height, fps = int(frames), int(width), int(height), float(fps)
        except (TypeError, ValueError):
            return ""
        if frames <= 1:
            return ""
        plan = edit_plan("retake", width, height, frames, fps, self.denoising_passes(int(steps or 1)), False)
        return describe_duration(self.studio.predict(plan), max(1, min(int(count or 1), 16)))

    def denoising_passes(self, steps: int) -> int:
        """Transformer passes of the retake stage: the distilled schedule's 8, or guided steps."""
        try:
            distilled = self.studio.current_ledger().model.variant == "distilled"
        except (LTXError, OSError):
            distilled = True
        return 8 if distilled else steps * 3

    def submit(self, values: dict[str, Any], request: gr.Request | None, progress: gr.Progress | None) -> Iterator[Update]:
        from ltx_core.pipelines.retake import RetakeRequest, check_window

        studio, version = self.studio, self.studio.models.version
        try:
            source = self.picker.resolve(values["source"], values["upload"], "clip to retake")
            facts = clip_facts(source)
            start, end = float(values["start"]), float(values["end"])
            check_window(start, end, facts.duration)
            if not (values["regenerate_video"] or values["regenerate_audio"]):
                raise InputProblem("Choose what to regenerate in the window: the video, the audio or both.")
            base = RetakeRequest(
                source, start, end, prompt=check_prompt(values["prompt"]), negative_prompt=values["negative_prompt"] or "",
                regenerate_video=bool(values["regenerate_video"]), regenerate_audio=bool(values["regenerate_audio"]),
                steps=int(values["steps"]),
                video_guidance=replace(version.video_guidance, cfg_scale=float(values["cfg"]), stg_scale=float(values["stg"])),
                audio_guidance=replace(version.audio_guidance, stg_scale=float(values["stg"])),
            )  # fmt: skip
            chosen = seeds(values["seed"], values["randomize_seed"], values["seed_count"])
        except LTXError as exc:
            raise gr.Error(user_message(exc), print_exception=False) from None
        values.update(width=facts.width, height=facts.height, frames=facts.frames, fps=facts.fps)  # the clip's
        if values["source"] in (None, "", UPLOAD):
            values["upload"] = str(source)  # the kept copy: "reuse settings" finds it after a restart
        plan = tuple(self.plan(facts, int(values["steps"])))
        jobs = [self.job(replace(base, seed=seed), {"tab": TAB, "ui": {**values, "seed": seed}}, plan) for seed in chosen]
        yield from generate_updates(studio, session_of(request), jobs, progress)

    def plan(self, facts: ClipFacts, steps: int) -> list:
        from ltx_core.pipelines.speed import edit_plan

        return edit_plan("retake", facts.width, facts.height, facts.frames, facts.fps, self.denoising_passes(steps), False)

    def job(self, retake, extra: dict[str, Any], plan: tuple) -> Job:
        studio = self.studio

        def run(output: Path, report, cancel):
            return run_pipeline(studio.ledger(), PIPELINE, retake, output, report, cancel, extra_settings={"studio": extra})

        return Job(PIPELINE, retake.seed, run, extra, plan)

    def reuse_targets(self) -> list[Any]:
        return [*super().reuse_targets(), self.picker.preview, self.clip_info, self.timeline]

    def reuse(self, ui: dict[str, Any]) -> dict:
        """The clip (gallery item or kept upload), its window and the shared settings."""
        name = ui.get("source") if ui.get("source") in self.picker.choices() else UPLOAD
        upload = ui.get("upload") if name == UPLOAD and ui.get("upload") and Path(ui["upload"]).is_file() else None
        ui = {**ui, "source": name, "upload": upload}
        updates = super().reuse(ui)
        picked = self.choose(name, upload, ui.get("start"), ui.get("end"))
        targets = [self.picker.preview, self.picker.upload, self.clip_info, self.start, self.end]
        updates.update(zip(targets, picked[:5]))
        updates[self.picker.choice] = gr.Dropdown(choices=self.picker.choices(), value=name)
        updates[self.picker.upload] = gr.Video(value=upload, visible=name == UPLOAD)
        if isinstance(picked[5], int):
            geometry = [self.settings.width, self.settings.height, self.settings.frames, self.settings.fps]
            updates.update(zip(geometry, picked[5:9]))
            updates[self.out.estimate] = self.estimate(PIPELINE, *picked[5:9], ui.get("steps", 8), 0, 0, False, 1)
            has_audio = self.picker.facts(name, upload).has_audio
            updates[self.regenerate_audio] = picked[9] if has_audio else gr.Checkbox(
                value=bool(ui.get("regenerate_audio", True)), interactive=True)
        updates[self.timeline] = self.mark(name, upload, ui.get("start", 0), ui.get("end", 0))
        return updates
