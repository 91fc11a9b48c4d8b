"""Upscaling: a gallery item or an uploaded video, spatial ×2 and/or temporal ×2."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from ltx_core.errors import LTXError
from ltx_core.pipelines.runner import run_job as run_pipeline
from ltx_core.pipelines.upscale import UpscaleRequest
from ltx_ui.context import (
    JOB_EVENT,
    Job,
    Studio,
    Update,
    cancel_handler,
    generate_updates,
    session_of,
    user_message,
)
from ltx_ui.controls import MAX_SEED, output_controls
from ltx_ui.inputs import InputProblem, check_video, one_line
from ltx_ui.outputs import find_entry, keep_input, video_names

TAB = "upscale"
UPLOAD = "(uploaded video below)"


class UpscaleTab:
    def __init__(self, studio: Studio):
        self.studio = studio

    def build(self) -> None:
        with gr.Row(equal_height=False):
            with gr.Column(scale=5):
                with gr.Row():
                    # Filled on page load (and after each job), so it lists what is there now.
                    self.choice = gr.Dropdown([UPLOAD], value=UPLOAD, label="Gallery item to upscale",
                                              allow_custom_value=True, elem_id="upscale-choice", scale=4)  # fmt: skip
                    refresh = gr.Button("Refresh list", size="sm", scale=1, elem_id="upscale-refresh")
                self.source_preview = gr.Video(label="Chosen gallery item", interactive=False, height=200, visible=False,
                                               elem_id="upscale-source-preview")  # fmt: skip
                self.upload = gr.Video(label="…or upload a video", sources=["upload"], height=200, elem_id="upscale-upload")
                self.spatial = gr.Checkbox(label="Spatial ×2 (twice the width and height)", value=True)
                self.temporal = gr.Checkbox(label="Temporal ×2 (twice the frames, same duration)", value=False)
                self.prompt = gr.Textbox(label="Prompt for the refinement (empty: the source's own prompt)", lines=2)
                self.seed = gr.Number(label="Seed", value=0, precision=0, minimum=0, maximum=MAX_SEED)
            with gr.Column(scale=4, elem_classes="result-column"):
                self.out = output_controls(TAB, "Upscale")
        private = {"queue": False, "api_visibility": "private"}
        refresh.click(lambda: gr.Dropdown(choices=self.choices()), None, self.choice, **private)
        self.choice.change(self.preview, self.choice, [self.source_preview, self.upload], **private)
        estimate_inputs = [self.choice, self.upload, self.spatial, self.temporal]
        for control in (self.choice, self.upload, self.spatial, self.temporal):
            control.change(self.estimate, estimate_inputs, self.out.estimate, **private)
        inputs = [self.choice, self.upload, self.spatial, self.temporal, self.prompt, self.seed]
        self.finished = self.out.generate.click(self.upscale, inputs, self.out.components(), api_name="upscale",
                                                **JOB_EVENT, show_progress="hidden")  # fmt: skip
        self.out.cancel.click(cancel_handler(self.studio), None, self.out.status, queue=False, show_progress="hidden",
                              api_visibility="private")  # fmt: skip
        self.fields = {"source": self.choice, "upload": self.upload, "spatial": self.spatial, "temporal": self.temporal,
                       "prompt": self.prompt, "seed": self.seed}  # fmt: skip

    def on_load(self) -> gr.Dropdown:
        return gr.Dropdown(choices=self.choices())

    def preview(self, name: str | None) -> tuple:
        """The chosen gallery item plays above (the upload box is for another video)."""
        entry = find_entry(self.studio.outputs, name) if name and name != UPLOAD else None
        if entry is None:
            return gr.Video(value=None, visible=False), gr.Video(visible=True)
        return gr.Video(value=str(entry.video), visible=True), gr.Video(visible=False)

    def estimate(self, name: str | None, video: str | None, spatial: bool, temporal: bool) -> str:
        from ltx_core.media import probe_video
        from ltx_core.pipelines.speed import upscale_plan
        from ltx_ui.estimates import describe_duration

        entry = find_entry(self.studio.outputs, name) if name and name != UPLOAD else None
        source = entry.video if entry is not None else video
        if not source or not (spatial or temporal):
            return ""
        try:
            info = probe_video(Path(source))
        except (LTXError, OSError):
            return ""
        plan = upscale_plan(info.width, info.height, info.frames, info.fps, bool(spatial), bool(temporal))
        return describe_duration(self.studio.predict(plan))

    def reuse(self, ui: dict[str, Any]) -> dict:
        source = Path(str(ui.get("source", "")))
        in_gallery = source.parent == self.studio.outputs and source.is_file()
        return {
            self.choice: gr.Dropdown(choices=self.choices(), value=source.name if in_gallery else UPLOAD),
            self.upload: str(source) if not in_gallery and source.is_file() else None,
            self.spatial: bool(ui.get("spatial", True)), self.temporal: bool(ui.get("temporal", False)),
            self.prompt: ui.get("prompt", ""), self.seed: ui.get("seed", 0),
        }  # fmt: skip

    def choices(self) -> list[str]:
        return [UPLOAD] + video_names(self.studio.outputs)

    def upscale(self, gallery_item: str, video: str | None, spatial: bool, temporal: bool, prompt: str, seed: float,
                request: gr.Request = None, progress: gr.Progress = gr.Progress()) -> Iterator[Update]:  # fmt: skip
        studio = self.studio
        try:
            if gallery_item and gallery_item != UPLOAD:
                entry = find_entry(studio.outputs, gallery_item)
                if entry is None:
                    raise InputProblem(f"{one_line(gallery_item)} is no longer in the outputs folder (deleted?): refresh the list.")
                source = check_video(entry.video)
            else:
                source = keep_input(studio.outputs, check_video(video, "video to upscale"))
            if not (spatial or temporal):
                raise InputProblem("Choose spatial ×2, temporal ×2 or both.")
            up = UpscaleRequest(source, spatial=bool(spatial), temporal=bool(temporal),
                                prompt=(prompt or "").strip() or None, seed=int(seed or 0))  # fmt: skip
        except LTXError as exc:
            raise gr.Error(user_message(exc), print_exception=False) from None

        def run(output: Path, report, cancel):
            return run_pipeline(studio.ledger(), "upscale", up, output, report, cancel)

        from ltx_core.media import probe_video
        from ltx_core.pipelines.speed import upscale_plan

        info = probe_video(source)
        plan = tuple(upscale_plan(info.width, info.height, info.frames, info.fps, up.spatial, up.temporal))
        extra = {"tab": TAB, "ui": {"source": str(source), "spatial": up.spatial, "temporal": up.temporal,
                                    "prompt": prompt or "", "seed": up.seed}}  # fmt: skip
        yield from generate_updates(studio, session_of(request), [Job("upscale", up.seed, run, extra, plan)], progress)
