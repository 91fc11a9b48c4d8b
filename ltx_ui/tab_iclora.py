"""IC-LoRA Control: a control video (uploaded, or made here with the Canny edge extractor) guides
the generation through an IC-LoRA."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import gradio as gr

from ltx_core.errors import LTXError
from ltx_core.pipelines.request import LoraChoice
from ltx_ui.context import (
    JOB_EVENT,
    user_message,
)
from ltx_ui.generation_tab import GenerationTab
from ltx_ui.inputs import MAX_FRAMES, InputProblem, check_video
from ltx_ui.lora_library import check_usable, library, normalise, pick_choices, request_loras
from ltx_ui.lora_picker import LoraPicker
from ltx_ui.outputs import INPUTS, keep_input

TAB = "ic-lora"
PIPELINE = "ic-lora"


def extract_canny(folder: Path, source: str | Path, low: float, high: float) -> Path:
    """Write the white-on-black Canny edges of ``source`` (at its frame rate) into the inputs folder."""
    from ltx_core.media import canny_video, iter_video_frames, probe_video, write_mp4

    if not 0 <= low < high:
        raise InputProblem(f"the low threshold ({low:g}) must be below the high one ({high:g}).")
    source = check_video(source, "source video")
    info = probe_video(source)
    digest = hashlib.sha256(f"{source.stat().st_size}:{source.stat().st_mtime_ns}:{source}:{low}:{high}".encode())
    target = folder / INPUTS / f"canny-{digest.hexdigest()[:16]}.mp4"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        frames = canny_video(iter_video_frames(source, max_frames=MAX_FRAMES), low, high)
        write_mp4(target, frames, info.fps, sidecar=False)  # written under a temporary name, then renamed
    return target


class ICLoraTab(GenerationTab):
    tab = TAB
    api_name = "ic_lora_generate"

    def build(self) -> None:
        with gr.Row(equal_height=False):
            with gr.Column(scale=5):
                self.control = gr.Video(label="Control video (depth, pose or edges)", sources=["upload"], height=220,
                                        elem_id="ic-control")  # fmt: skip
                with gr.Accordion("Make an edge control video with Canny", open=True):
                    self.source = gr.Video(label="Source video", sources=["upload"], height=180, elem_id="ic-source")
                    with gr.Row():
                        low = gr.Slider(0, 500, value=100, step=5, label="Low threshold")
                        high = gr.Slider(0, 500, value=200, step=5, label="High threshold")
                    extract = gr.Button("Extract Canny edges", elem_id="ic-extract")
                preselected = self.studio.models.ic_lora()
                self.lora = gr.Dropdown(self.control_choices(), label="IC-LoRA (control, stage 1 only)",
                                        value=str(preselected) if preselected else None, allow_custom_value=True,
                                        elem_id="ic-lora-file")  # fmt: skip
                self.strength = gr.Slider(0.0, 1.0, value=1.0, step=0.05, label="Control strength")
                self.control_lora_field = self.lora
                self.lora_picker = LoraPicker(self.studio, self.tab, "ic_lora", "Style LoRAs (library)")
                self.loras_field = self.lora_picker.build()
                self.message = gr.Markdown(elem_id="ic-message")
                self.settings_controls(width=768, height=512, frames=121)
            self.result_column()
        self.finish_build(gr.State(PIPELINE))
        extract.click(self.canny, [self.source, low, high], [self.control, self.message], api_name="canny",
                      **JOB_EVENT)  # fmt: skip

    def canny(self, source: str | None, low: float, high: float) -> tuple[str, str]:
        try:
            path = extract_canny(self.studio.outputs, source, float(low), float(high))
        except LTXError as exc:
            raise gr.Error(user_message(exc), print_exception=False) from None
        return str(path), f"Edge video ready: `{path.name}` (used as the control video)."

    def control_choices(self) -> list[tuple[str, str]]:
        """The usable LoRAs, IC-LoRAs first."""
        entries = sorted(library(self.studio), key=lambda e: not e.info.control)
        return pick_choices(entries)

    def fixed_pipeline(self) -> str:
        return PIPELINE

    def own_fields(self) -> dict[str, Any]:
        return {"control_video": self.control, "ic_lora": self.lora, "control_strength": self.strength,
                "loras": self.loras_field}  # fmt: skip

    def make_request(self, values: dict[str, Any]):
        """Everything is checked before the control video is kept in outputs/inputs (a refused
        video leaves nothing behind)."""
        from dataclasses import replace

        from ltx_core.media import probe_video
        from ltx_core.pipelines.registry import pipeline_descriptor

        if not values["ic_lora"]:
            raise InputProblem("Choose the IC-LoRA file (e.g. ltx-2-19b-ic-lora-canny-control.safetensors).")
        control = (LoraChoice(check_usable(self.studio, values["ic_lora"]).path, 1.0),)
        styles = request_loras(self.studio, values["loras"])
        values["loras"] = normalise(values["loras"])  # as the sidecar records it for "reuse settings"
        source = check_video(values["control_video"], "control video")
        base, snapped = self.base_request(
            PIPELINE, values, control_video=str(source), control_strength=float(values["control_strength"]),
            control_loras=control, loras=styles,
        )  # fmt: skip
        base.validate(pipeline_descriptor(PIPELINE).size_multiple)
        frames = probe_video(source).frames
        if frames < snapped.frames:
            raise InputProblem(f"{source.name} has {frames} frames but the clip needs {snapped.frames}: use a longer "
                               "control video or fewer frames.")  # fmt: skip
        control = keep_input(self.studio.outputs, source)
        values["control_video"] = str(control)
        return PIPELINE, replace(base, control_video=str(control)), snapped.note

    def reuse(self, ui: dict[str, Any]) -> dict:
        updates = super().reuse(ui)
        if ui.get("control_video") and not Path(ui["control_video"]).is_file():
            updates[self.control] = None
        return updates
