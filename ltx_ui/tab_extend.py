"""Extend: continue a gallery item or an uploaded clip by N seconds with a new prompt, from its
last latent frames; the timeline bar shows the overlap and the added seconds."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import gradio as gr

from ltx_ui.clip_edit_tab import ClipEditTab
from ltx_ui.clip_source import ClipFacts, timeline_html
from ltx_ui.inputs import check_prompt


class ExtendTab(ClipEditTab):
    tab = pipeline = api_name = "extend"
    action = "Extend"

    def edit_controls(self) -> None:
        with gr.Row():
            self.seconds = gr.Slider(0.1, 20.0, value=2.0, step=0.1, label="Seconds to add", elem_id="extend-seconds")
            self.overlap = gr.Slider(1, 4, value=2, step=1, label="Overlap (latent frames of the clip it starts from)",
                                     elem_id="extend-overlap")  # fmt: skip

    def own_fields(self) -> dict[str, Any]:
        return {"source": self.picker.choice, "upload": self.picker.upload, "seconds": self.seconds,
                "overlap": self.overlap}  # fmt: skip

    def edit_outputs(self) -> list[Any]:
        return [self.bar]

    def edit_values(self, facts: ClipFacts, ui: dict[str, Any]) -> list[Any]:
        return [self.timeline(facts, [ui.get("seconds", self.seconds.value), ui.get("overlap", self.overlap.value)])]

    def timeline_inputs(self) -> list[Any]:
        return [self.seconds, self.overlap]

    def timeline_keys(self) -> list[str]:
        return ["seconds", "overlap"]

    def timeline(self, facts: ClipFacts | None, values: list[Any]) -> str:
        """The clip with the overlap the extension starts from, then the added seconds."""
        if facts is None:
            return timeline_html(1.0, 0.0, 0.0)
        seconds, overlap = float(values[0] or 0), int(values[1] or 1)
        added = 8 * math.ceil(seconds * facts.fps / 8) / facts.fps
        return timeline_html(facts.duration, facts.duration - (8 * (overlap - 1) + 1) / facts.fps, facts.duration, added)

    def denoised_frames(self, facts: ClipFacts, request: Any) -> int:
        return 8 * (request.overlap - 1) + 1 + 8 * math.ceil(request.seconds * facts.fps / 8)

    def edit_request(self, values: dict[str, Any], source: Path, facts: ClipFacts):
        from ltx_core.pipelines.extend import ExtendRequest

        return ExtendRequest(source, float(values["seconds"]), prompt=check_prompt(values["prompt"]),
                             overlap=int(values["overlap"]), **self.sampling(values))  # fmt: skip
