"""Gallery: every output in the outputs folder, newest first, read back from the sidecars."""

from __future__ import annotations

import json
from typing import Any

import gradio as gr

from ltx_core.errors import LTXError
from ltx_ui.context import Studio
from ltx_ui.outputs import Entry, delete_entry, find_entry, list_entries, thumbnail_for

TAB_IDS = {"generate": "generate", "keyframes": "keyframes", "ic-lora": "ic-lora", "upscale": "upscale"}


class GalleryTab:
    def __init__(self, studio: Studio):
        self.studio = studio

    def build(self) -> None:
        with gr.Row():
            refresh = gr.Button("Refresh", size="sm", elem_id="gallery-refresh")
            self.count = gr.Markdown()
        self.grid = gr.Gallery(label="Outputs (newest first)", columns=5, height=300, allow_preview=False,
                               object_fit="contain", elem_id="gallery-grid")  # fmt: skip
        self.selected = gr.Dropdown([], label="Selected output", allow_custom_value=True, elem_id="gallery-selected")
        with gr.Row():
            with gr.Column():
                self.video = gr.Video(label="Video", interactive=False, elem_id="gallery-video")
            with gr.Column():
                self.details = gr.Markdown(elem_id="gallery-details")
                with gr.Row():
                    self.reuse_button = gr.Button("Reuse settings", elem_id="gallery-reuse")
                    self.send_button = gr.Button("Send to upscaling", elem_id="gallery-send")
                    delete = gr.Button("Delete…", variant="stop", elem_id="gallery-delete")
                with gr.Row(visible=False) as self.confirm_row:
                    confirm = gr.Button("Yes, delete the video and its settings", variant="stop", elem_id="gallery-confirm")
                    keep = gr.Button("Keep it", elem_id="gallery-keep")
                self.settings = gr.Code(label="Settings (sidecar)", language="json", elem_id="gallery-settings")
        listing = [self.grid, self.selected, self.count]
        shown = [self.video, self.details, self.settings]
        refresh.click(self.refresh, None, listing, api_name="gallery_refresh", queue=False)
        self.grid.select(self.pick, None, self.selected, queue=False, api_visibility="private")
        self.selected.change(self.show, self.selected, [*shown, *listing], api_name="gallery_show", queue=False)
        delete.click(self.ask_delete, self.selected, [self.confirm_row, self.details], api_name="gallery_ask_delete",
                     queue=False)  # fmt: skip
        keep.click(lambda: gr.Row(visible=False), None, self.confirm_row, queue=False, api_visibility="private")
        confirm.click(self.delete, self.selected, [self.confirm_row, *shown, *listing], api_name="gallery_delete",
                      queue=False)  # fmt: skip

    def wire(self, tabs: gr.Tabs, reusers: dict[str, Any], upscale_choice: gr.Dropdown) -> None:
        """Connect "reuse settings" and "send to upscaling" to the other tabs (built by then)."""
        fields = [component for reuser in reusers.values() for component in reuser.fields.values()]
        outputs = [tabs, self.details, *dict.fromkeys(fields)]

        def reuse(name: str):
            entry = self._entry(name)
            studio = entry.settings.get("studio") if isinstance(entry.settings.get("studio"), dict) else {}
            tab, ui = studio.get("tab"), studio.get("ui")
            if tab not in reusers or not isinstance(ui, dict):
                raise gr.Error(f"{entry.name} was not made by a studio tab with reusable settings.", print_exception=False)
            ui = {**ui, "randomize_seed": False, "seed_count": 1}  # reproduce this very output
            updates = {component: gr.skip() for component in outputs}
            updates.update(reusers[tab].reuse(ui))
            updates[tabs] = gr.Tabs(selected=TAB_IDS[tab])
            updates[self.details] = f"Settings of `{entry.name}` loaded into the {tab} tab (seed {entry.seed})."
            return [updates[component] for component in outputs]

        def send(name: str):
            entry = self._entry(name)
            return gr.Tabs(selected="upscale"), gr.Dropdown(choices=self._names(), value=entry.name)

        self.reuse_button.click(reuse, self.selected, outputs, api_name="gallery_reuse", queue=False)
        self.send_button.click(send, self.selected, [tabs, upscale_choice], api_name="gallery_send_to_upscale", queue=False)

    def _names(self) -> list[str]:
        from ltx_ui.tab_upscale import UPLOAD

        return [UPLOAD] + [entry.name for entry in list_entries(self.studio.outputs)]

    def _entry(self, name: str | None) -> Entry:
        if not name:
            raise gr.Error("Select an output in the gallery first.", print_exception=False)
        entry = find_entry(self.studio.outputs, name)
        if entry is None:
            raise gr.Error(f"{name} no longer exists in the outputs folder (deleted outside the studio?); press Refresh.",
                           print_exception=False)  # fmt: skip
        return entry

    def refresh(self) -> tuple:
        entries = list_entries(self.studio.outputs)
        items = []
        for entry in entries:
            try:
                items.append((str(thumbnail_for(entry)), f"{entry.name}\n{entry.prompt[:60]}"))
            except (LTXError, OSError):
                continue  # an unreadable video stays out of the grid; its sidecar is left alone
        names = [entry.name for entry in entries]
        return items, gr.Dropdown(choices=names), f"{len(entries)} output(s) in `{self.studio.outputs}`"

    def pick(self, event: gr.SelectData) -> str:
        caption = event.value.get("caption") if isinstance(event.value, dict) else None
        return (caption or "").split("\n", 1)[0]

    def show(self, name: str | None) -> tuple:
        if not name:
            return None, "", "", gr.skip(), gr.skip(), gr.skip()
        entry = find_entry(self.studio.outputs, name)
        if entry is None:
            gr.Warning(f"{name} no longer exists on disk (deleted outside the studio); the gallery was refreshed.")
            return None, f"⚠️ `{name}` no longer exists on disk; the gallery was refreshed.", "", *self.refresh()
        return str(entry.video), entry.summary(), json.dumps(entry.settings, indent=1), gr.skip(), gr.skip(), gr.skip()

    def ask_delete(self, name: str | None) -> tuple:
        entry = self._entry(name)
        return gr.Row(visible=True), f"Delete `{entry.name}` and its settings for good?"

    def delete(self, name: str | None) -> tuple:
        entry = self._entry(name)
        delete_entry(entry)
        items, _, count = self.refresh()
        names = [e.name for e in list_entries(self.studio.outputs)]
        return gr.Row(visible=False), None, f"Deleted `{entry.name}`.", "", items, gr.Dropdown(choices=names, value=None), count
