"""Extend: continue a gallery item or an uploaded clip by N seconds with a new prompt, from its
last latent frames (forward) or leading into its first ones (backward); the timeline bar shows the
overlap and the added seconds."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import gradio as gr

from ltx_ui.clip_edit_tab import ClipEditTab
from ltx_ui.clip_source import ClipFacts, timeline_html
from ltx_ui.inputs import check_prompt

DIRECTIONS = [("Forward: after its end", "forward"), ("Backward: before its start", "backward")]


class ExtendTab(ClipEditTab):
    tab = pipeline = api_name = "extend"
    action = "Extend"

    def edit_controls(self) -> None:
        with gr.Row():
            self.seconds = gr.Slider(0.1, 20.0, value=2.0, step=0.1, label="Seconds to add", elem_id="extend-seconds")
            self.overlap = gr.Slider(1, 4, value=2, step=1, label="Overlap (latent frames of the clip it starts from, "
                                     "or runs into)", elem_id="extend-overlap")  # fmt: skip
        self.direction = gr.Radio(DIRECTIONS, value="forward", label="Direction", elem_id="extend-direction")

    def own_fields(self) -> dict[str, Any]:
        return {"source": self.picker.choice, "upload": self.picker.upload, "seconds": self.seconds,
                "overlap": self.overlap, "direction": self.direction}  # fmt: skip

    def edit_outputs(self) -> list[Any]:
        return [self.bar]

    def edit_values(self, facts: ClipFacts, ui: dict[str, Any]) -> list[Any]:
        keys = self.timeline_keys()
        return [self.timeline(facts, [ui.get(key, getattr(self, key).value) for key in keys])]

    def timeline_inputs(self) -> list[Any]:
        return [self.seconds, self.overlap, self.direction]

    def timeline_keys(self) -> list[str]:
        return ["seconds", "overlap", "direction"]

    def timeline(self, facts: ClipFacts | None, values: list[Any]) -> str:
        """The clip with the overlap the extension starts from, then the added seconds."""
        from ltx_core.pipelines.extend import overlap_pixel_frames

        if facts is None:
            return timeline_html(1.0, 0.0, 0.0)
        seconds, overlap = float(values[0] or 0), int(values[1] or 1)
        backward = (values[2] if len(values) > 2 else None) == "backward"
        added = 8 * math.ceil(seconds * facts.fps / 8) / facts.fps
        span = overlap_pixel_frames(overlap, backward) / facts.fps
        if backward:
            return timeline_html(facts.duration, 0.0, span, added, before=True)
        return timeline_html(facts.duration, facts.duration - span, facts.duration, added)

    def edit_frames(self, frames: int, fps: float, values: dict[str, Any]) -> tuple[int, int]:
        """The new clip (overlap + added frames) is denoised; the overlap is encoded."""
        from ltx_core.pipelines.extend import overlap_pixel_frames

        shared = overlap_pixel_frames(int(values.get("overlap") or 2), values.get("direction") == "backward")
        return shared + 8 * math.ceil(float(values.get("seconds") or 0) * fps / 8), shared

    def reuse(self, ui: dict[str, Any]) -> dict:
        return super().reuse({"direction": "forward", **ui})  # outputs made before backward existed

    def edit_request(self, values: dict[str, Any], source: Path, facts: ClipFacts):
        from ltx_core.pipelines.extend import ExtendRequest

        return ExtendRequest(source, float(values["seconds"]), prompt=check_prompt(values["prompt"]),
                             overlap=int(values["overlap"]), direction=values.get("direction") or "forward",
                             **self.sampling(values))  # fmt: skip

