"""Gallery: every output in the outputs folder, newest first, read back from the sidecars."""

from __future__ import annotations

import json
from typing import Any

import gradio as gr

from ltx_ui.context import Studio
from ltx_ui.inputs import one_line
from ltx_ui.outputs import (
    ALL,
    SORTS,
    Entry,
    delete_entry,
    filter_entries,
    find_entry,
    list_entries,
    thumbnail_for,
    video_names,
)

VIDEO_ACTIONS = 4  # send to upscaling, retake part, extend, extend backward

TAB_IDS = {"generate": "generate", "keyframes": "keyframes", "ic-lora": "ic-lora", "upscale": "upscale",
           "audio-to-video": "audio-to-video", "retake": "retake", "extend": "extend", "timeline": "timeline"}  # fmt: skip


class GalleryTab:
    def __init__(self, studio: Studio):
        self.studio = studio

    def build(self) -> None:
        with gr.Row(equal_height=True):
            self.search = gr.Textbox("", label="Search prompts and names", placeholder="e.g. lighthouse", scale=3,
                                     elem_id="gallery-search")  # fmt: skip
            self.pipeline = gr.Dropdown([ALL], value=ALL, label="Pipeline", scale=1, allow_custom_value=True,
                                        elem_id="gallery-pipeline")
            self.version = gr.Dropdown([ALL], value=ALL, label="Model version", scale=1, allow_custom_value=True,
                                       elem_id="gallery-version")
            self.sort = gr.Dropdown(list(SORTS), value="newest first", label="Sort", scale=1, elem_id="gallery-sort")
            refresh = gr.Button("Refresh", size="sm", scale=0, elem_id="gallery-refresh")
        self.count = gr.Markdown(elem_id="gallery-count")
        self.names = gr.State([])  # the grid's items, in order (a click gives an index)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                self.grid = gr.Gallery(label="Outputs", columns=4, height=560, allow_preview=False, fit_columns=False,
                                       object_fit="contain", elem_id="gallery-grid")  # fmt: skip
            with gr.Column(scale=2):
                self.selected = gr.Dropdown([], label="Selected output", allow_custom_value=True,
                                            elem_id="gallery-selected")  # fmt: skip
                self.video = gr.Video(label="Video", interactive=False, height=260, elem_id="gallery-video")
                self.audio = gr.Audio(label="Audio (audio-only output)", interactive=False, type="filepath",
                                      visible=False, elem_id="gallery-audio")  # fmt: skip
                self.details = gr.Markdown(elem_id="gallery-details")
                with gr.Row():
                    self.reuse_button = gr.Button("Reuse settings", elem_id="gallery-reuse")
                    self.send_button = gr.Button("Send to upscaling", elem_id="gallery-send")
                    self.retake_button = gr.Button("Retake part", elem_id="gallery-retake")
                    self.extend_button = gr.Button("Extend", elem_id="gallery-extend")
                    self.extend_back_button = gr.Button("Extend backward", elem_id="gallery-extend-backward")
                    delete = gr.Button("Delete…", variant="stop", elem_id="gallery-delete")
                with gr.Row(visible=False) as self.confirm_row:
                    confirm = gr.Button("Yes, delete the video and its settings", variant="stop", elem_id="gallery-confirm")
                    keep = gr.Button("Keep it", elem_id="gallery-keep")
                with gr.Accordion("Settings (sidecar JSON)", open=False, elem_id="gallery-settings-box"):
                    self.settings = gr.Code(language="json", max_lines=24, elem_id="gallery-settings")
        self.filters = filters = [self.search, self.pipeline, self.version, self.sort]
        listing = self.listing()
        # what a selection shows; the video-only actions are hidden for an audio output
        shown = [self.video, self.details, self.settings, self.audio, *self.video_actions()]
        refresh.click(self.refresh, filters, listing, api_name="gallery_refresh", queue=False)
        for control in (self.pipeline, self.version, self.sort):
            control.change(self.refresh, filters, listing, queue=False, api_visibility="private")
        self.search.submit(self.refresh, filters, listing, queue=False, api_visibility="private")
        self.search.blur(self.refresh, filters, listing, queue=False, api_visibility="private")
        self.grid.select(self.pick, self.names, self.selected, queue=False, api_visibility="private")
        self.selected.change(self.show, self.selected, [*shown, *listing], api_name="gallery_show", queue=False)
        delete.click(self.ask_delete, self.selected, [self.confirm_row, self.details], api_name="gallery_ask_delete",
                     queue=False)  # fmt: skip
        keep.click(lambda: gr.Row(visible=False), None, self.confirm_row, queue=False, api_visibility="private")
        confirm.click(self.delete, self.selected, [self.confirm_row, *shown, *listing], api_name="gallery_delete",
                      queue=False)  # fmt: skip

    def video_actions(self) -> list[gr.Button]:
        """The actions that need a video (hidden for an audio-only output)."""
        return [self.send_button, self.retake_button, self.extend_button, self.extend_back_button]

    def listing(self) -> list:
        """What ``refresh`` updates (the page load and finished jobs refresh it too)."""
        return [self.grid, self.selected, self.count, self.names, self.pipeline, self.version]

    def wire(self, tabs: gr.Tabs, reusers: dict[str, Any], upscale_choice: gr.Dropdown,
             edit_choices: dict[str, gr.Dropdown] | None = None, extend_direction: gr.Radio | None = None) -> None:  # fmt: skip
        """Connect "reuse settings", "send to upscaling" and the time edits ("Retake part", "Extend", "Extend
        backward": tab id -> its clip dropdown in ``edit_choices``; the Extend tab's direction set) to the other
        tabs (built by then)."""
        fields = [component for reuser in reusers.values()
                  for component in (reuser.reuse_targets() if hasattr(reuser, "reuse_targets") else reuser.fields.values())]
        outputs = [tabs, self.details, *dict.fromkeys(fields)]

        def reuse(name: str):
            entry = self._entry(name)
            studio = entry.settings.get("studio") if isinstance(entry.settings.get("studio"), dict) else {}
            tab, ui = studio.get("tab"), studio.get("ui")
            if entry.problem:
                raise gr.Error(f"The settings of {entry.name} are unreadable, so they cannot be reused; the video itself "
                               "plays and can be deleted.", print_exception=False)  # fmt: skip
            if tab not in reusers or not isinstance(ui, dict):
                raise gr.Error(f"{entry.name} was not made by a studio tab with reusable settings.", print_exception=False)
            ui = {**ui, "randomize_seed": False, "seed_count": 1}  # reproduce this very output
            updates = {component: gr.skip() for component in outputs}
            updates.update(reusers[tab].reuse(ui))
            updates[tabs] = gr.Tabs(selected=TAB_IDS[tab])
            updates[self.details] = f"Settings of `{entry.name}` loaded into the {tab} tab (seed {entry.seed})."
            return [updates[component] for component in outputs]

        def send(name: str):
            entry = self._video_entry(name, "upscaling")
            return gr.Tabs(selected="upscale"), gr.Dropdown(choices=self._names(), value=entry.name)

        self.reuse_button.click(reuse, self.selected, outputs, api_name="gallery_reuse", queue=False)
        self.send_button.click(send, self.selected, [tabs, upscale_choice], api_name="gallery_send_to_upscale", queue=False)
        edits = (("retake", None, self.retake_button), ("extend", "forward", self.extend_button),
                 ("extend", "backward", self.extend_back_button))  # fmt: skip
        for tab, direction, button in edits:
            if edit_choices and tab in edit_choices:
                set_direction = direction is not None and extend_direction is not None

                def open_in(name: str, tab=tab, direction=direction, set_direction=set_direction):
                    entry = self._video_entry(name, f"{tab} {direction or ''}".strip())
                    opened = gr.Tabs(selected=tab), gr.Dropdown(choices=self._names(), value=entry.name)
                    return (*opened, direction) if set_direction else opened

                opened = [tabs, edit_choices[tab], *([extend_direction] if set_direction else [])]
                endpoint = f"gallery_{tab}" + ("_backward" if direction == "backward" else "")
                button.click(open_in, self.selected, opened, api_name=endpoint, queue=False)

    def _names(self) -> list[str]:
        from ltx_ui.tab_upscale import UPLOAD

        return [UPLOAD] + video_names(self.studio.outputs)

    def _entry(self, name: str | None) -> Entry:
        if not name:
            raise gr.Error("Select an output in the gallery first.", print_exception=False)
        entry = find_entry(self.studio.outputs, name)
        if entry is None:
            raise gr.Error(f"{one_line(name)} no longer exists in the outputs folder (deleted outside the studio?); press Refresh.",
                           print_exception=False)  # fmt: skip
        return entry

    def _video_entry(self, name: str | None, action: str) -> Entry:
        entry = self._entry(name)
        if entry.is_audio:
            raise gr.Error(f"{entry.name} is audio only: {action} works on videos; choose a video in the gallery.",
                           print_exception=False)  # fmt: skip
        return entry

    @staticmethod
    def _players(entry: Entry | None) -> tuple:
        """The video or audio player, and the video-only actions, for ``entry`` (None: nothing)."""
        audio = entry is not None and entry.is_audio
        video = str(entry.video) if entry is not None and not audio else None
        return (gr.Video(value=video, visible=not audio), gr.Audio(value=str(entry.video) if audio else None, visible=audio),
                *(gr.Button(visible=not audio) for _ in range(VIDEO_ACTIONS)))  # fmt: skip

    def refresh(self, text: str = "", pipeline: str = ALL, version: str = ALL, sort: str = "newest first") -> tuple:
        everything = list_entries(self.studio.outputs)
        entries = filter_entries(everything, text, pipeline, version, sort)
        items = [(str(thumbnail_for(entry)), entry.caption()) for entry in entries]
        names = [entry.name for entry in entries]
        pipelines = sorted({e.pipeline for e in everything if not e.problem})
        versions = sorted({e.model_version for e in everything if e.model_version})
        shown = f"{len(entries)} of {len(everything)}" if len(entries) != len(everything) else f"{len(entries)}"
        count = f"{shown} output(s) in `{self.studio.outputs}`"
        flagged = sum(1 for e in everything if e.problem)
        if flagged:
            count += f" · ⚠️ {flagged} with unreadable settings (still playable and deletable)"
        return (gr.Gallery(value=items, selected_index=None), gr.Dropdown(choices=names), count, names,
                gr.Dropdown(choices=[ALL, *pipelines]), gr.Dropdown(choices=[ALL, *versions]))  # fmt: skip

    def pick(self, names: list[str], event: gr.SelectData) -> str:
        index = event.index if isinstance(event.index, int) else None
        return names[index] if names and index is not None and 0 <= index < len(names) else gr.skip()

    def show(self, name: str | None) -> tuple:
        unchanged = (gr.skip(),) * len(self.listing())
        if not name:  # cleared (after a delete): keep the message there
            video, *rest = self._players(None)
            return video, gr.skip(), "", *rest, *unchanged
        entry = find_entry(self.studio.outputs, name)
        if entry is None:
            gr.Warning(f"{one_line(name)} is not in the outputs folder (deleted outside the studio?); the gallery was "
                       "refreshed.")  # fmt: skip
            message = f"⚠️ `{one_line(name)}` is not in the outputs folder; the gallery was refreshed."
            video, *rest = self._players(None)
            return video, message, "", *rest, *self.refresh()
        settings = json.dumps(entry.settings, indent=1) if not entry.problem else ""
        video, *rest = self._players(entry)
        return video, entry.summary(), settings, *rest, *unchanged

    def ask_delete(self, name: str | None) -> tuple:
        entry = self._entry(name)
        return gr.Row(visible=True), f"Delete `{entry.name}` and its settings for good?"

    def delete(self, name: str | None) -> tuple:
        entry = self._entry(name)
        delete_entry(entry)
        gr.Info(f"Deleted {entry.name} and its settings.")
        grid, _, count, names, pipelines, versions = self.refresh()
        video, *rest = self._players(None)
        return (gr.Row(visible=False), video, f"🗑️ Deleted `{entry.name}` and its settings.", "", *rest, grid,
                gr.Dropdown(choices=names, value=None), count, names, pipelines, versions)  # fmt: skip
