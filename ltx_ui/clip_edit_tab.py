"""What the tabs that edit a clip in time (Retake, Extend) share: the clip picker with its facts
and timeline bar, the shared prompt and sampling settings (the geometry fields hidden: the clip
decides them), one job per seed through the run protocol, the estimate and "reuse settings"."""

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

NO_CLIP = "Choose a clip: a gallery item or an upload."
PRIVATE = {"queue": False, "api_visibility": "private", "show_progress": "hidden"}


class ClipEditTab(GenerationTab):
    pipeline = ""  # the pipeline (and the tab's id and Generate endpoint)
    action = ""  # the Generate button's label

    # -- for subclasses -------------------------------------------------------------------------
    def edit_controls(self) -> None:
        """The tab's own controls, under the clip."""

    def edit_outputs(self) -> list[Any]:
        """What ``edit_values`` updates when a clip is chosen."""
        return []

    def edit_values(self, facts: ClipFacts, ui: dict[str, Any]) -> list[Any]:
        """Updates of ``edit_outputs`` for ``facts`` (``ui``: reused values, {} for a new clip)."""
        return []

    def timeline(self, facts: ClipFacts | None, values: list[Any]) -> str:
        return timeline_html(1.0, 0.0, 0.0)

    def timeline_inputs(self) -> list[Any]:
        return []

    def edit_request(self, values: dict[str, Any], source: Path, facts: ClipFacts) -> Any:
        """The pipeline's request (seed 0: set per queued seed); may raise ``LTXError``."""
        raise NotImplementedError

    def edit_frames(self, frames: int, fps: float, values: dict[str, Any]) -> tuple[int, int]:
        """(frames denoised, source frames encoded) of an edit of a ``frames``-long clip with the tab's values."""
        return frames, frames

    def edit_audio(self, has_audio: bool, values: dict[str, Any]) -> bool:
        """Whether the edit generates audio (a clip with sound: its audio tokens are denoised too)."""
        return has_audio

    def plan(self, width: int, height: int, frames: int, fps: float, steps: int, has_audio: bool,
             values: dict[str, Any]) -> list:  # fmt: skip
        """The job's stages for the speed model: the source's encode (frames and sound), the edit's
        denoising, the audio and video decode."""
        from ltx_core.pipelines.speed import edit_plan

        denoised, encoded = self.edit_frames(frames, fps, values)
        return edit_plan(self.pipeline, width, height, denoised, fps, self.denoising_passes(steps),
                         self.edit_audio(has_audio, values), encoded, None if has_audio else 0.0)  # fmt: skip

    def estimate_extras(self) -> dict[str, Any]:
        return dict(zip(self.timeline_keys(), self.timeline_inputs()))

    def sampling(self, values: dict[str, Any]) -> dict[str, Any]:
        """Steps and guidance from the shared controls (used by dev checkpoints), the version's otherwise."""
        version = self.studio.models.version
        cfg, stg = float(values["cfg"]), float(values["stg"])
        return {"steps": int(values["steps"]), "negative_prompt": values["negative_prompt"] or "",
                "video_guidance": replace(version.video_guidance, cfg_scale=cfg, stg_scale=stg),
                "audio_guidance": replace(version.audio_guidance, stg_scale=stg)}  # fmt: skip

    # -- shared ---------------------------------------------------------------------------------
    def build(self) -> None:
        with gr.Row(equal_height=False):
            with gr.Column(scale=5):
                self.picker = SourcePicker(self.studio, self.tab, f"Gallery item to {self.action.lower()}")
                self.clip_info = gr.Markdown(NO_CLIP, elem_id=f"{self.tab}-clip-info")
                self.bar = gr.HTML(timeline_html(1.0, 0.0, 0.0), elem_id=f"{self.tab}-timeline")
                self.edit_controls()
                self.settings_controls(width=64, height=64, frames=9)
            self.result_column(self.action)
        s = self.settings
        for hidden in (s.width, s.height, s.frames, s.fps, s.size_note, s.audio):  # the clip decides them
            hidden.visible = False
        self.finish_build(gr.State(self.pipeline))
        s.frames.value, self.out.estimate.value = 0, ""  # no clip chosen yet: no estimate
        picker = self.picker
        chosen = [picker.preview, picker.upload, self.clip_info, s.width, s.height, s.frames, s.fps, s.audio,
                  *self.edit_outputs()]  # fmt: skip
        picker.choice.change(self.choose, [picker.choice, picker.upload], chosen, **PRIVATE)
        picker.upload.change(self.choose, [picker.choice, picker.upload], chosen, **PRIVATE)
        for control in self.timeline_inputs():
            control.change(self.mark, [picker.choice, picker.upload, *self.timeline_inputs()], self.bar, **PRIVATE)
            control.change(self.estimate, self.estimate_inputs, self.out.estimate, **PRIVATE)
        s.frames.change(self.estimate, self.estimate_inputs, self.out.estimate, **PRIVATE)

    def on_load(self) -> gr.Dropdown:
        return self.picker.on_load()

    def fixed_pipeline(self) -> str:
        return self.pipeline

    def _show_used_controls(self, pipeline: Any) -> None:
        """Steps and guidance stay visible: a dev checkpoint's edit is guided."""

    def choose(self, name: str | None, upload: str | None, ui: dict[str, Any] | None = None) -> tuple:
        """A new clip: its player, facts, the hidden geometry and the tab's own controls."""
        preview, upload_box = self.picker.shown(name)
        facts = self.picker.facts(name, upload)
        if facts is None:
            return preview, upload_box, NO_CLIP, *(gr.skip(),) * (5 + len(self.edit_outputs()))
        info = (f"**{facts.path.name}** · {facts.width}x{facts.height} · {facts.frames} frames at {facts.fps:g} fps = "
                f"{facts.duration:.2f} s" + (" · with audio" if facts.has_audio else " · no audio"))  # fmt: skip
        return (preview, upload_box, info, facts.width, facts.height, facts.frames, facts.fps, facts.has_audio,
                *self.edit_values(facts, ui or {}))  # fmt: skip

    def mark(self, name: str | None, upload: str | None, *values: Any) -> str:
        return self.timeline(self.picker.facts(name, upload), list(values))

    def estimate(self, pipeline: str, width, height, frames, fps, steps, cfg, stg, audio, count, *extra) -> str:
        """The job's duration: ``audio`` is whether the clip has sound, ``extra`` the timeline inputs."""
        from ltx_ui.estimates import describe_duration

        try:
            frames, width, height, fps = int(frames), int(width), int(height), float(fps)
            values = dict(zip(self.timeline_keys(), extra))
            plan = self.plan(width, height, frames, fps, int(steps or 1), bool(audio), values) if frames > 1 else None
        except (TypeError, ValueError):
            return ""
        return describe_duration(self.studio.predict(plan), max(1, min(int(count or 1), 16))) if plan else ""

    def denoising_passes(self, steps: int) -> int:
        """Transformer passes of the edit's stage: the distilled schedule's 8, or guided steps."""
        try:
            distilled = self.studio.current_ledger().model.variant == "distilled"
        except (LTXError, OSError):
            distilled = True
        return 8 if distilled else steps * 3

    def submit(self, values: dict[str, Any], request: gr.Request | None, progress: gr.Progress | None) -> Iterator[Update]:
        try:
            source = self.picker.resolve(values["source"], values["upload"], f"clip to {self.action.lower()}")
            facts = clip_facts(source)
            base = self.edit_request(values, source, facts)
            chosen = seeds(values["seed"], values["randomize_seed"], values["seed_count"])
        except LTXError as exc:
            raise gr.Error(user_message(exc), print_exception=False) from None
        values.update(width=facts.width, height=facts.height, frames=facts.frames, fps=facts.fps)  # the clip's
        if values["source"] in (None, "", UPLOAD):
            values["upload"] = str(source)  # the kept copy: "reuse settings" finds it after a restart
        plan = tuple(self.plan(facts.width, facts.height, facts.frames, facts.fps, int(values["steps"]), facts.has_audio,
                               values))  # fmt: skip
        jobs = [self.job(replace(base, seed=seed), {"tab": self.tab, "ui": {**values, "seed": seed}}, plan)
                for seed in chosen]  # fmt: skip
        yield from generate_updates(self.studio, session_of(request), jobs, progress)

    def job(self, edit: Any, extra: dict[str, Any], plan: tuple) -> Job:
        studio, pipeline = self.studio, self.pipeline

        def run(output: Path, report, cancel):
            return run_pipeline(studio.ledger(), pipeline, edit, output, report, cancel, extra_settings={"studio": extra})

        return Job(pipeline, edit.seed, run, extra, plan)

    def reuse_targets(self) -> list[Any]:
        return [*super().reuse_targets(), self.picker.preview, self.clip_info, self.bar]

    def reuse(self, ui: dict[str, Any]) -> dict:
        """The clip (gallery item or kept upload), the tab's own values and the shared settings."""
        name = ui.get("source") if ui.get("source") in self.picker.choices() else UPLOAD
        upload = ui.get("upload") if name == UPLOAD and ui.get("upload") and Path(ui["upload"]).is_file() else None
        ui = {**ui, "source": name, "upload": upload}
        updates = super().reuse(ui)
        picked = self.choose(name, upload, ui)
        s = self.settings
        targets = [self.picker.preview, self.picker.upload, self.clip_info, s.width, s.height, s.frames, s.fps, s.audio,
                   *self.edit_outputs()]  # fmt: skip
        if isinstance(picked[3], int):
            updates.update(zip(targets, picked))
            updates[self.out.estimate] = self.estimate(self.pipeline, *picked[3:7], ui.get("steps", 8), 0, 0, picked[7], 1,
                                                       *(ui.get(key) for key in self.timeline_keys()))  # fmt: skip
        else:
            updates.update(zip(targets[:3], picked[:3]))
        updates[self.picker.choice] = gr.Dropdown(choices=self.picker.choices(), value=name)
        updates[self.picker.upload] = gr.Video(value=upload, visible=name == UPLOAD)
        updates[self.bar] = self.timeline(self.picker.facts(name, upload), [ui.get(k) for k in self.timeline_keys()])
        return updates

    def timeline_keys(self) -> list[str]:
        """The field names of ``timeline_inputs`` (for "reuse settings")."""
        return []
