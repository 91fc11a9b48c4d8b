"""Audio to Video: drop a song, a voice or a video with sound, trim it (start, maximum duration) with a
waveform preview, and generate a video that follows it (with LoRAs from the library, as the other
generation tabs); the result keeps the audio as it was."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np

from ltx_core.errors import LTXError
from ltx_ui.context import user_message
from ltx_ui.generation_tab import GenerationTab
from ltx_ui.inputs import MAX_FRAMES, InputProblem
from ltx_ui.lora_library import normalise, request_loras
from ltx_ui.lora_picker import LoraPicker
from ltx_ui.outputs import keep_input

TAB = "audio-to-video"
PIPELINE = "audio-to-video"
WAVE_SIZE = (720, 140)
AUDIO_TYPES = [".wav", ".mp3", ".m4a", ".aac", ".flac", ".ogg", ".opus", ".mp4", ".mov", ".mkv", ".webm"]


def read_clip(path: str | Path | None, start: float | None = 0.0, max_seconds: float | None = None):
    """The trimmed audio (``max_seconds`` empty or 0: to the end), or InputProblem in one sentence."""
    from ltx_core.media.audio_read import read_audio_clip

    if not path:
        raise InputProblem("No audio given: drop an audio file (wav, mp3, m4a/aac) or a video with sound.")
    try:
        return read_audio_clip(path, float(start or 0.0), float(max_seconds) if max_seconds else None)
    except LTXError as exc:
        raise InputProblem(user_message(exc)) from None


def clip_frames(seconds: float, fps: float) -> int:
    """The longest 8k+1 frames within ``seconds`` at ``fps`` (what the pipeline's "auto" picks), capped."""
    covered = int(seconds * fps + 1e-9)
    return min(MAX_FRAMES, (max(covered, 1) - 1) // 8 * 8 + 1)


def waveform_image(path: str | Path, start: float, max_seconds: float | None, size: tuple[int, int] = WAVE_SIZE):
    """The whole file's waveform (min/max per pixel column, channels mixed) with the used part highlighted."""
    from PIL import Image, ImageDraw

    from ltx_core.media.audio_read import read_audio_clip

    whole = read_audio_clip(path)
    mono = whole.waveform.mean(axis=0)
    width, height = size
    columns = np.array_split(mono, width) if len(mono) >= width else [mono[i : i + 1] for i in range(len(mono))]
    image = Image.new("RGB", size, (24, 24, 27))
    draw = ImageDraw.Draw(image)
    total = whole.seconds
    end = total if not max_seconds else min(total, start + max_seconds)
    x0, x1 = (int(width * t / total) for t in (start, end))
    draw.rectangle([x0, 0, max(x0, x1 - 1), height - 1], fill=(52, 40, 18))
    middle = height / 2
    for x, column in enumerate(columns):
        if column.size == 0:
            continue
        low, high = float(column.min()), float(column.max())
        colour = (245, 158, 11) if x0 <= x < x1 else (113, 113, 122)
        draw.line([(x, middle - high * middle * 0.95), (x, middle - low * middle * 0.95)], fill=colour)
    return image


class AudioToVideoTab(GenerationTab):
    tab = TAB
    api_name = "audio_to_video_generate"

    def build(self) -> None:
        with gr.Row(equal_height=False):
            with gr.Column(scale=5):
                self.audio_file = gr.File(label="Audio (wav, mp3, m4a/aac, flac) or a video with sound",
                                          file_types=AUDIO_TYPES, type="filepath", elem_id="a2v-audio")  # fmt: skip
                self.wave = gr.Image(label="Waveform (the part used is highlighted)", interactive=False, height=150,
                                     show_label=True, elem_id="a2v-wave", format="png")  # fmt: skip
                with gr.Row():
                    self.start = gr.Number(label="Start (s)", value=0.0, minimum=0, elem_id="a2v-start")
                    self.max_seconds = gr.Number(label="Max duration (s, 0: to the end)", value=0.0, minimum=0,
                                                 elem_id="a2v-max")  # fmt: skip
                self.audio_note = gr.Markdown(elem_id="a2v-note")
                self.lora_picker = LoraPicker(self.studio, self.tab, "audio_to_video", "LoRAs (library)")
                self.loras_field = self.lora_picker.build()
                self.settings_controls(width=768, height=512, frames=121)
                self.settings.audio.visible = False  # the audio is the user's: nothing to generate
            self.result_column()
        self.finish_build(gr.State(PIPELINE))
        s = self.settings
        trim = [self.audio_file, self.start, self.max_seconds, s.fps]
        # Queued one at a time, so the preview of the latest trim is the one left on screen: unqueued
        # previews ran side by side and the start field's (trim to the end) could land after the
        # max-duration field's, leaving a clip length the audio does not cover.
        in_order = {"concurrency_limit": 1, "concurrency_id": "a2v-preview", "trigger_mode": "always_last"}
        gr.on([self.audio_file.change, self.start.blur, self.max_seconds.blur, s.fps.blur], self.preview, trim,
              [self.wave, self.audio_note, s.frames], api_visibility="private", show_progress="hidden", **in_order)

    def preview(self, path: str | None, start: float | None, max_seconds: float | None, fps: float | None):
        """Waveform, a note on the part used and the clip length, and the frames that follow it."""
        if not path:
            return None, "", gr.update()
        try:
            clip = read_clip(path, start, max_seconds)
            image = waveform_image(path, float(start or 0), float(max_seconds) if max_seconds else None)
        except LTXError as exc:
            return None, f"⚠️ {user_message(exc)}", gr.update()
        fps = float(fps or self.studio.models.version.fps)
        frames = clip_frames(clip.seconds, fps)
        note = (f"Using {clip.seconds:.2f} s from {clip.start:g} s of {clip.source_seconds:.2f} s "
                f"({clip.sample_rate} Hz, {clip.waveform.shape[0]} channel{'s' if clip.waveform.shape[0] > 1 else ''}): "
                f"the clip is **{frames} frames** ({frames / fps:.2f} s at {fps:g} fps); the video keeps this audio as is.")  # fmt: skip
        if frames < 9:
            note = f"⚠️ {clip.seconds:.2f} s of audio is too short: audio-to-video needs at least {9 / fps:.2f} s."
        return image, note, frames if frames >= 9 else gr.update()

    def fixed_pipeline(self) -> str:
        return PIPELINE

    def own_fields(self) -> dict[str, Any]:
        return {"audio_file": self.audio_file, "audio_start": self.start, "audio_max_seconds": self.max_seconds,
                "loras": self.loras_field}  # fmt: skip

    def make_request(self, values: dict[str, Any]):
        """The audio is read (and refused in one sentence when unusable) before it is kept in outputs/inputs."""
        start = float(values["audio_start"] or 0.0)
        max_seconds = float(values["audio_max_seconds"]) if values["audio_max_seconds"] else None
        clip = read_clip(values["audio_file"], start, max_seconds)
        values["audio"] = True
        loras = request_loras(self.studio, values["loras"])
        values["loras"] = normalise(values["loras"])  # as the sidecar records it for "reuse settings"
        base, snapped = self.base_request(PIPELINE, values, loras=loras)
        if snapped.frames / base.fps > clip.seconds + 1e-9:
            raise InputProblem(
                f"{snapped.frames} frames at {base.fps:g} fps need {snapped.frames / base.fps:.2f} s but the audio gives "
                f"{clip.seconds:.2f} s: use at most {clip_frames(clip.seconds, base.fps)} frames or more audio."
            )
        kept = keep_input(self.studio.outputs, values["audio_file"])
        values["audio_file"] = str(kept)
        request = replace(base, audio=str(kept), audio_start=start, audio_max_seconds=max_seconds)
        return PIPELINE, request, snapped.note

    def reuse(self, ui: dict[str, Any]) -> dict:
        updates = super().reuse(ui)
        if ui.get("audio_file") and not Path(ui["audio_file"]).is_file():
            updates[self.audio_file] = None
        return updates
