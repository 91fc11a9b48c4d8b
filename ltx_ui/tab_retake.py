"""Retake: regenerate a time window of a gallery item or an uploaded clip with a new prompt; the
clip is shown with its window on a timeline bar."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from ltx_ui.clip_edit_tab import ClipEditTab
from ltx_ui.clip_source import ClipFacts, timeline_html
from ltx_ui.inputs import InputProblem, check_prompt


class RetakeTab(ClipEditTab):
    tab = pipeline = api_name = "retake"
    action = "Retake"

    def edit_controls(self) -> None:
        with gr.Row():
            self.start = gr.Slider(0.0, 10.0, value=0.0, step=0.01, label="Window start (s)", elem_id="retake-start")
            self.end = gr.Slider(0.0, 10.0, value=0.0, step=0.01, label="Window end (s, not included)", elem_id="retake-end")
        with gr.Row():
            self.regenerate_video = gr.Checkbox(label="Regenerate the video in the window", value=True)
            self.regenerate_audio = gr.Checkbox(label="Regenerate the audio in the window", value=True)

    def own_fields(self) -> dict[str, Any]:
        return {"source": self.picker.choice, "upload": self.picker.upload, "start": self.start, "end": self.end,
                "regenerate_video": self.regenerate_video, "regenerate_audio": self.regenerate_audio}  # fmt: skip

    def edit_outputs(self) -> list[Any]:
        return [self.start, self.end, self.regenerate_audio]

    def edit_values(self, facts: ClipFacts, ui: dict[str, Any]) -> list[Any]:
        """A window in the clip's middle third (or the reused one), steps of one frame."""
        step = round(1 / facts.fps, 4)
        start, end = ui.get("start", facts.duration / 3), ui.get("end", 2 * facts.duration / 3)
        sliders = [gr.Slider(0.0, round(facts.duration, 4), value=round(float(v), 2), step=step) for v in (start, end)]
        return [*sliders, self.audio_choice(facts.has_audio, bool(ui.get("regenerate_audio", True)))]

    @staticmethod
    def audio_choice(has_audio: bool, value: bool = True) -> gr.Checkbox:
        """A clip with audio: regenerate its sound in the window (or keep it); a silent clip: generate
        a soundtrack for the whole clip (or stay silent)."""
        if has_audio:
            return gr.Checkbox(value=value, interactive=True, label="Regenerate the audio in the window")
        return gr.Checkbox(value=value, interactive=True, label="Generate a soundtrack (the clip has none)")

    def edit_audio(self, has_audio: bool, values: dict[str, Any]) -> bool:
        return has_audio or bool(values.get("regenerate_audio", True))  # a silent clip may get a soundtrack

    def timeline_inputs(self) -> list[Any]:
        return [self.start, self.end]

    def timeline_keys(self) -> list[str]:
        return ["start", "end"]

    def timeline(self, facts: ClipFacts | None, values: list[Any]) -> str:
        start, end = (float(v or 0) for v in values)
        return timeline_html(facts.duration if facts else 1.0, start, end)

    def edit_request(self, values: dict[str, Any], source: Path, facts: ClipFacts):
        from ltx_core.pipelines.retake import RetakeRequest, check_window

        start, end = float(values["start"]), float(values["end"])
        check_window(start, end, facts.duration)
        if not (values["regenerate_video"] or values["regenerate_audio"]):
            raise InputProblem("Choose what to regenerate in the window: the video, the audio or both.")
        return RetakeRequest(
            source, start, end, prompt=check_prompt(values["prompt"]), regenerate_video=bool(values["regenerate_video"]),
            regenerate_audio=bool(values["regenerate_audio"]), **self.sampling(values),
        )  # fmt: skip
