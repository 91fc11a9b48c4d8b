"""The clip a time-editing tab (retake, extend) works on: a gallery item or an upload, previewed,
with its length and size, resolved to a file the job can keep reading."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from ltx_core.errors import LTXError
from ltx_ui.context import Studio
from ltx_ui.inputs import InputProblem, check_video, one_line
from ltx_ui.outputs import find_entry, keep_input, video_names

UPLOAD = "(uploaded video below)"


@dataclass(frozen=True)
class ClipFacts:
    """What the tab shows and the hidden geometry fields take (the used 8k+1 frames)."""

    path: Path
    width: int
    height: int
    frames: int
    fps: float
    has_audio: bool = False

    @property
    def duration(self) -> float:
        return self.frames / self.fps


def clip_facts(path: Path) -> ClipFacts:
    from ltx_core.media import probe_video
    from ltx_core.media.video_read import usable_frame_count

    info = probe_video(path)
    return ClipFacts(path, info.width // 32 * 32, info.height // 32 * 32, usable_frame_count(info.frames), info.fps,
                     info.has_audio)  # fmt: skip


class SourcePicker:
    """Gallery dropdown (with Refresh), the chosen item's player, and an upload box."""

    def __init__(self, studio: Studio, prefix: str, label: str):
        self.studio = studio
        with gr.Row():
            self.choice = gr.Dropdown([UPLOAD], value=UPLOAD, label=label, allow_custom_value=True,
                                      elem_id=f"{prefix}-choice", scale=4)  # fmt: skip
            self.refresh = gr.Button("Refresh list", size="sm", scale=1, elem_id=f"{prefix}-refresh")
        self.preview = gr.Video(label="Chosen gallery item", interactive=False, height=220, visible=False,
                                elem_id=f"{prefix}-source-preview")  # fmt: skip
        self.upload = gr.Video(label="…or upload a video", sources=["upload"], height=220, elem_id=f"{prefix}-upload")
        self.refresh.click(lambda: gr.Dropdown(choices=self.choices()), None, self.choice, queue=False,
                           api_visibility="private")  # fmt: skip

    def choices(self) -> list[str]:
        return [UPLOAD] + video_names(self.studio.outputs)

    def on_load(self) -> gr.Dropdown:
        return gr.Dropdown(choices=self.choices())

    def gallery_path(self, name: str | None) -> Path | None:
        entry = find_entry(self.studio.outputs, name) if name and name != UPLOAD else None
        return entry.video if entry is not None else None

    def shown(self, name: str | None) -> tuple:
        """The chosen gallery item plays above (the upload box is for another video)."""
        path = self.gallery_path(name)
        if path is None:
            return gr.Video(value=None, visible=False), gr.Video(visible=True)
        return gr.Video(value=str(path), visible=True), gr.Video(visible=False)

    def facts(self, name: str | None, upload: str | None) -> ClipFacts | None:
        """The chosen clip's facts (None while nothing readable is chosen)."""
        path = self.gallery_path(name) or (Path(upload) if upload and (not name or name == UPLOAD) else None)
        if path is None:
            return None
        try:
            return clip_facts(path)
        except (LTXError, OSError):
            return None

    def resolve(self, name: str | None, upload: str | None, what: str) -> Path:
        """The file a job reads: the gallery item, or the upload kept in the outputs' inputs folder."""
        if name and name != UPLOAD:
            entry = find_entry(self.studio.outputs, name)
            if entry is None:
                raise InputProblem(f"{one_line(name)} is no longer in the outputs folder (deleted?): refresh the list.")
            return check_video(entry.video)
        return keep_input(self.studio.outputs, check_video(upload, what))


def timeline_html(duration: float, start: float, end: float, extension: float = 0.0, before: bool = False) -> str:
    """A bar for the clip with the chosen window (retake) or the added seconds (extend; ``before``: added
    before the clip's start, the window then measured from it) marked."""
    total = max(duration + extension, 1e-6)
    offset = extension if before else 0.0
    left = 100 * (offset + max(0.0, start)) / total
    width = 100 * max(0.0, min(end, duration) - max(0.0, start)) / total
    added = 100 * extension / total
    parts = [f'<div style="position:absolute;left:{left:.2f}%;width:{width:.2f}%;top:0;bottom:0;background:#d97706" '
             'title="regenerated"></div>' if end > start else ""]  # fmt: skip
    if extension:
        parts.append(f'<div style="position:absolute;{"left" if before else "right"}:0;width:{added:.2f}%;top:0;bottom:0;'
                     'background:#2563eb" title="added"></div>')  # fmt: skip
    return ('<div style="position:relative;height:18px;border-radius:4px;background:#9ca3af55;overflow:hidden">'
            f'{"".join(parts)}</div>')  # fmt: skip
