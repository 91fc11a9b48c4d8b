"""The LoRA library as a panel of a generation tab: search, one card per LoRA (preview, name,
size, rank, base version, trigger words; incompatible ones greyed with the reason), "Add to job"
with stage-1 / stage-2 strengths, and the job's list (the ``loras`` field the request, the sidecar
and Reuse use)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from ltx_core.errors import LTXError
from ltx_ui.context import Studio, user_message
from ltx_ui.lora_library import MAX_STRENGTH, add, cards, describe_chosen, lora_info, normalise, pick_choices, search

CSS = """
.lora-library { display: flex; flex-direction: column; gap: 6px; max-height: 360px; overflow-y: auto; }
.lora-card { display: flex; gap: 10px; align-items: flex-start; padding: 6px 8px; border-radius: 6px;
  border: 1px solid var(--border-color-primary); }
.lora-card.incompatible { opacity: 0.6; border-style: dashed; }
.lora-preview { width: 64px; height: 64px; object-fit: cover; border-radius: 4px; flex: none; }
.lora-facts, .lora-tags, .lora-description { font-size: 0.85em; opacity: 0.85; }
.lora-incompatible { font-size: 0.85em; color: #b91c1c; }
"""


class LoraPicker:
    def __init__(self, studio: Studio, tab: str, api_prefix: str, label: str = "LoRAs"):
        self.studio, self.tab, self.api_prefix, self.label = studio, tab, api_prefix, label

    def build(self, open: bool = False) -> gr.JSON:
        studio, tab = self.studio, self.tab
        entries = search(studio, "")
        with gr.Accordion(self.label, open=open, elem_id=f"{tab}-loras"):
            # The job's LoRAs, as the request and the sidecar hold them (shown as the list below).
            self.chosen = gr.JSON([], label="LoRAs", visible=False, elem_id=f"{tab}-lora-job")
            self.summary = gr.Markdown(describe_chosen([]), elem_id=f"{tab}-lora-chosen")
            with gr.Row(equal_height=True):
                # Custom values allowed: the choices follow each session's list and library (checked on use).
                self.remove_choice = gr.Dropdown([], value=None, label="Remove from the job", scale=3,
                                                 allow_custom_value=True, elem_id=f"{tab}-lora-remove-choice")  # fmt: skip
                remove = gr.Button("Remove", size="sm", scale=1, elem_id=f"{tab}-lora-remove")
            self.query = gr.Textbox(label="Search the LoRA library", placeholder="name, title, trigger words",
                                    elem_id=f"{tab}-lora-search")  # fmt: skip
            self.cards = gr.HTML(cards(entries), elem_id=f"{tab}-lora-cards")
            with gr.Row(equal_height=True):
                self.pick = gr.Dropdown(pick_choices(entries), value=None, label="LoRA to add", scale=3,
                                        allow_custom_value=True, elem_id=f"{tab}-lora-pick")  # fmt: skip
                self.strength = gr.Slider(-MAX_STRENGTH, MAX_STRENGTH, value=1.0, step=0.05, label="Stage 1 strength",
                                          scale=2, elem_id=f"{tab}-lora-strength")  # fmt: skip
                self.stage2 = gr.Slider(-MAX_STRENGTH, MAX_STRENGTH, value=1.0, step=0.05,
                                        label="Stage 2 strength (two-stage recipes)", scale=2,
                                        elem_id=f"{tab}-lora-stage2")  # fmt: skip
            add_button = gr.Button("Add to job", elem_id=f"{tab}-lora-add")
            self.message = gr.Markdown(elem_id=f"{tab}-lora-message")
        private = {"queue": False, "api_visibility": "private", "show_progress": "hidden"}
        self.query.change(self.search, self.query, [self.cards, self.pick], api_name=f"{self.api_prefix}_lora_search",
                          queue=False, show_progress="hidden")  # fmt: skip
        add_button.click(self.add, [self.chosen, self.pick, self.strength, self.stage2], [self.chosen, self.message],
                         api_name=f"{self.api_prefix}_lora_add", queue=False)  # fmt: skip
        remove.click(self.remove, [self.chosen, self.remove_choice], self.chosen,
                     api_name=f"{self.api_prefix}_lora_remove", queue=False)  # fmt: skip
        self.chosen.change(self.show_chosen, self.chosen, [self.summary, self.remove_choice], **private)
        return self.chosen

    def search(self, query: str | None):
        entries = search(self.studio, query or "")
        return cards(entries, query or ""), gr.Dropdown(choices=pick_choices(entries), value=None)

    def refresh(self, query: str | None = None):
        """After a rescan: the cards and the choices (the search text kept)."""
        return self.search(query)

    def add(self, chosen: Any, path: str | None, strength: float, stage2_strength: float):
        try:
            items = add(self.studio, chosen, path or "", strength, stage2_strength)
        except LTXError as exc:
            raise gr.Error(user_message(exc), print_exception=False) from None
        info = lora_info(Path(path))
        note = f"Added **{info.display_name}** (stage 1 {float(strength):g}, stage 2 {float(stage2_strength):g})."
        if info.trigger_words:
            note += " Its trigger words: " + ", ".join(f"`{w}`" for w in info.trigger_words) + " (add them to the prompt)."
        return items, note

    def remove(self, chosen: Any, path: str | None):
        try:
            items = normalise(chosen)
        except LTXError as exc:
            raise gr.Error(user_message(exc), print_exception=False) from None
        return [item for item in items if item["file"] != path]

    def show_chosen(self, chosen: Any):
        try:
            items = normalise(chosen)
        except LTXError as exc:
            return f"⚠️ {exc}", gr.Dropdown(choices=[], value=None)
        names = [(Path(i["file"]).name, i["file"]) for i in items]
        return describe_chosen(items), gr.Dropdown(choices=names, value=None)
