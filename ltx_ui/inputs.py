"""Checks on what users type and drop, with messages that say what to change."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from ltx_core.errors import LTXError

MIN_SIDE = 64
MAX_SIDE = 2560
MIN_FRAMES = 9
MAX_FRAMES = 505
MAX_IMAGE_PIXELS = 40_000_000


class InputProblem(LTXError):
    """A user input the studio refuses; the message is shown as is."""


@dataclass(frozen=True)
class Snapped:
    width: int
    height: int
    frames: int
    note: str  # empty when nothing changed

    def duration(self, fps: float) -> float:
        return self.frames / fps if fps > 0 else 0.0


def size_multiple(pipeline: str, spatial_upscale: float = 2.0) -> int:
    """The pipeline descriptor's rule (two-stage recipes: multiples of 64, 96 through the x1.5 upsampler)."""
    from ltx_core.pipelines.registry import pipeline_descriptor

    try:
        return pipeline_descriptor(pipeline).size_multiple_for(spatial_upscale)
    except ValueError as exc:
        raise InputProblem(str(exc)) from None


def snap(
    pipeline: str, width: float | None, height: float | None, frames: float | None, spatial_upscale: float = 2.0
) -> Snapped:
    """Round width/height to the pipeline's multiple and frames to 8k+1; refuse impossible values."""
    multiple = size_multiple(pipeline, spatial_upscale)
    values = {"width": width, "height": height, "frames": frames}
    for name, value in values.items():
        if value is None:
            raise InputProblem(f"{name} is empty: enter a number.")
    for name in ("width", "height"):
        if not MIN_SIDE <= values[name] <= MAX_SIDE:
            raise InputProblem(f"{name} {values[name]:g} is impossible: use {MIN_SIDE} to {MAX_SIDE} pixels.")
    if not MIN_FRAMES <= values["frames"] <= MAX_FRAMES:
        raise InputProblem(f"{values['frames']:g} frames is impossible: use {MIN_FRAMES} to {MAX_FRAMES} frames.")
    w = max(multiple, round(float(width) / multiple) * multiple)
    h = max(multiple, round(float(height) / multiple) * multiple)
    f = round((float(frames) - 1) / 8) * 8 + 1
    notes = []
    if (w, h) != (width, height):
        through = f" through the x{spatial_upscale:g} upsampler" if multiple > 64 else ""
        notes.append(f"size {width:g}x{height:g} → {w}x{h} ({pipeline} needs multiples of {multiple}{through})")
    if f != frames:
        notes.append(f"frames {frames:g} → {f} (frames must be 8k+1)")
    return Snapped(w, h, f, "; ".join(notes))


def size_note(snapped: Snapped, fps: float) -> str:
    text = f"{snapped.width}x{snapped.height}, {snapped.frames} frames = **{snapped.duration(fps):.2f} s** at {fps:g} fps"
    return text + (f" · snapped: {snapped.note}" if snapped.note else "")


def one_line(text: object, limit: int = 80) -> str:
    """A user-typed name as messages show it: one line, at most ``limit`` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def check_prompt(prompt: str | None) -> str:
    prompt = (prompt or "").strip()
    if not prompt:
        raise InputProblem("The prompt is empty: describe the video to generate.")
    return prompt


@lru_cache(maxsize=2)
def _tokenizer(folder: str):
    from ltx_core.model.text_encoder.tokenizer import PromptTokenizer

    return PromptTokenizer(folder)


def prompt_length_notes(gemma: str | Path | None, prompt: str, negative: str = "") -> list[str]:
    """A note for each prompt longer than the text encoder reads (it would be cut silently)."""
    if gemma is None or not Path(gemma).is_dir():
        return []  # a one-file text encoder (LTX-2.5) warns in its own log
    try:
        tokenizer = _tokenizer(str(gemma))
    except Exception:  # noqa: BLE001 - a missing tokenizer is reported when the job loads it
        return []
    notes = []
    for what, text in (("prompt", prompt), ("negative prompt", negative)):
        text = (text or "").strip()
        if text:
            count = len(tokenizer.tokenizer(text, truncation=False, verbose=False)["input_ids"]) + 1  # with <bos>
            if count > tokenizer.max_length:
                notes.append(f"the {what} is {count} tokens long; only its first {tokenizer.max_length} are used "
                             f"(about {count - tokenizer.max_length} at the end are ignored): shorten it.")  # fmt: skip
    return notes


def check_image(path: str | Path) -> Path:
    """A readable image of a sane size, or InputProblem naming the file."""
    path = Path(path)
    try:
        with Image.open(path) as image:
            image.verify()
        with Image.open(path) as image:
            width, height = image.size
    except Image.DecompressionBombError:
        raise InputProblem(f"{path.name} is too large an image to open safely: use one under "
                           f"{MAX_IMAGE_PIXELS // 10**6} megapixels.") from None  # fmt: skip
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        # The library's text names the server's temporary copy, not the user's file: leave it out.
        raise InputProblem(f"{path.name} is not an image the studio can read (PNG, JPEG, WebP...).") from None
    if width * height > MAX_IMAGE_PIXELS:
        raise InputProblem(f"{path.name} is {width}x{height}: images over {MAX_IMAGE_PIXELS // 10**6} megapixels are refused.")
    return path


def check_video(path: str | Path | None, what: str = "video") -> Path:
    """A readable video of at least ``MIN_FRAMES`` frames, or InputProblem naming the user's file
    (an upload keeps its own name; ffmpeg's log, which names the server's copy, is left out)."""
    from ltx_core.media import iter_video_frames, probe_video
    from ltx_core.media.errors import MediaError

    if not path:
        raise InputProblem(f"No {what} given: upload one first.")
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError:
        raise InputProblem(f"{path.name} is no longer on disk: upload it again.") from None
    if size == 0:
        raise InputProblem(f"{path.name} is empty (0 bytes): upload the {what} again.")
    unreadable = f"{path.name} is not a video the studio can read: use an MP4, MOV or WebM file."
    try:
        info = probe_video(path)
        frames = iter_video_frames(path, max_frames=1, size=(info.width, info.height))
        try:
            if next(frames, None) is None:  # a header alone is no video
                raise ValueError("no frame")
        finally:
            frames.close()
    except (MediaError, OSError, ValueError):
        raise InputProblem(unreadable) from None
    if info.frames < MIN_FRAMES:
        raise InputProblem(f"{path.name} has {info.frames} frames; at least {MIN_FRAMES} are needed: use a longer {what}.")
    return path
