"""Long videos as a timeline: several prompts with durations, generated window by window.

Window 1 is a plain text-to-video generation of the first segment (the distilled recipe on a
distilled checkpoint, one-stage on a dev one). Each later window is an extension of the previous
window's video (``extend``: the new window starts from the last ``overlap`` latent frames of
everything so far, with its own prompt), its overlap cross-faded from the old frames to the new
(``blend``) and its audio cross-faded too. Every window is a finished mp4 + sidecar in the
timeline's folder (``window-01.mp4``, ...), each holding the whole video up to its end, each
naming the previous one as its source. Cancel stops between (or inside) windows and keeps the
finished ones; running the same timeline again resumes after the last finished window."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ltx_core.components.guiders import MultiModalGuiderParams
from ltx_core.pipelines.extend import MAX_SECONDS, ExtendRequest, overlap_pixel_frames
from ltx_core.pipelines.ledger import ModelLedger
from ltx_core.pipelines.progress import CancelToken, ProgressEvent
from ltx_core.pipelines.request import GenerationRequest, RequestError
from ltx_core.pipelines.runner import OutputRecord, run_job
from ltx_core.pipelines.speed import StageWork, edit_plan, generation_plan


@dataclass(frozen=True)
class Segment:
    prompt: str
    seconds: float


@dataclass(frozen=True)
class TimelineRequest:
    segments: tuple[Segment, ...]
    height: int = 512
    width: int = 768
    fps: float | None = None  # default: the model version's
    seed: int = 0  # window i uses seed + i
    overlap: int = 2  # latent frames each window starts from
    generate_audio: bool = True
    # Sampling of every window (dev checkpoints; None: the version's defaults).
    negative_prompt: str = ""
    steps: int | None = None
    video_guidance: MultiModalGuiderParams | None = None
    audio_guidance: MultiModalGuiderParams | None = None

    @property
    def seconds(self) -> float:
        return sum(segment.seconds for segment in self.segments)

    def sampling(self) -> dict:
        return {"negative_prompt": self.negative_prompt, "steps": self.steps, "video_guidance": self.video_guidance,
                "audio_guidance": self.audio_guidance}  # fmt: skip


# Bytes per pixel value the last window holds for the whole video so far: the source frames as uint8
# and their stack (``source_clip.source_pixels``).
HELD_BYTES_PER_VALUE = 2


def max_timeline_seconds(height: int, width: int, fps: float, available_bytes: int) -> float:
    """The longest timeline whose frames the last window can hold in ``available_bytes`` (each window
    reads the whole video so far to continue it and to write it out)."""
    per_second = height * width * 3 * HELD_BYTES_PER_VALUE * fps
    return available_bytes / per_second if per_second > 0 else 0.0


def window_path(folder: Path, index: int) -> Path:
    """The finished video of window ``index`` (1-based)."""
    return Path(folder) / f"window-{index:02d}.mp4"


def finished(folder: Path, index: int) -> bool:
    """A window counts as done when its video and sidecar are both there (both are written atomically)."""
    path = window_path(folder, index)
    return path.is_file() and path.with_suffix(".json").is_file()


def check_timeline(request: TimelineRequest, max_seconds: float | None = None) -> None:
    """One sentence for a timeline that cannot run, before anything loads (``max_seconds``: the
    longest the memory mode allows, see ``max_timeline_seconds``)."""
    if not request.segments:
        raise RequestError("the timeline is empty: add at least one segment (a prompt and its seconds).")
    for number, segment in enumerate(request.segments, 1):
        if not segment.prompt.strip():
            raise RequestError(f"segment {number} has no prompt: describe what happens in it.")
        if not 0 < segment.seconds <= MAX_SECONDS:
            raise RequestError(f"segment {number} lasts {segment.seconds:g} s: give more than 0 and at most {MAX_SECONDS:g} s.")
    if max_seconds is not None and request.seconds > max_seconds:
        raise RequestError(f"the timeline lasts {request.seconds:g} s but at {request.width}x{request.height} this memory "
                           f"mode holds at most {max_seconds:.0f} s: shorten or remove segments, or choose a smaller size.")  # fmt: skip


def window_prefix(index: int, total: int) -> str:
    """How a window's progress events and stage records are named: "window 2/3 · stage 1"."""
    return f"window {index}/{total} · "


def window_job(request: TimelineRequest, index: int, folder: Path, version: Any, distilled: bool) -> tuple[str, Any]:
    """The pipeline and request of window ``index`` (1-based): a plain generation (distilled recipe on a
    distilled checkpoint, one-stage otherwise), then extensions of the previous window."""
    segment = request.segments[index - 1]
    fps = float(request.fps or version.fps)
    seed = request.seed + index - 1
    if index == 1:
        frames = 8 * math.ceil(segment.seconds * fps / 8) + 1
        return "distilled" if distilled else "one-stage", GenerationRequest.for_version(
            version, "distilled" if distilled else "one-stage", prompt=segment.prompt, seed=seed, height=request.height,
            width=request.width, frames=frames, fps=fps, generate_audio=request.generate_audio, **request.sampling(),
        )  # fmt: skip
    return "extend", ExtendRequest(window_path(folder, index - 1), segment.seconds, prompt=segment.prompt, seed=seed,
                                   overlap=request.overlap, blend=True, **request.sampling())  # fmt: skip


def timeline_plan(request: TimelineRequest, version: Any, distilled: bool, first: int = 1) -> list[StageWork]:
    """The stages of windows ``first``.. and their work for the speed model, named as their progress
    events are: window 1 a generation, each later one an extension of overlap + its seconds."""
    from ltx_core.components.schedulers import DISTILLED_SIGMAS
    from ltx_core.pipelines.blocks import guidance_passes
    from ltx_core.pipelines.registry import pipeline_descriptor

    total, fps = len(request.segments), float(request.fps or version.fps)
    pipeline, opening = window_job(request, 1, Path("."), version, distilled)
    passes = len(DISTILLED_SIGMAS) - 1 if distilled else opening.steps * guidance_passes(opening)
    overlap = overlap_pixel_frames(request.overlap)
    plan = []
    for index in range(first, total + 1):
        if index == 1:
            work = generation_plan(pipeline_descriptor(pipeline), opening, guidance_passes(opening))
        else:
            added = 8 * math.ceil(request.segments[index - 1].seconds * fps / 8)
            work = edit_plan("extend", request.width, request.height, overlap + added, fps, passes,
                             request.generate_audio, overlap)  # fmt: skip
        plan += [StageWork(window_prefix(index, total) + stage.stage, stage.units) for stage in work]
    return plan


def run_timeline(
    ledger: ModelLedger,
    request: TimelineRequest,
    folder: str | Path,
    progress: Callable[[ProgressEvent], None] | None = None,
    cancel: CancelToken | None = None,
) -> list[OutputRecord]:
    """Generate the windows not yet finished in ``folder``; the last window's video is the whole
    timeline. Returns the records of the windows made by this call, their stages named by window
    (as ``timeline_plan`` names them); progress events count the time from the call's start."""
    check_timeline(request)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    total = len(request.segments)
    distilled = ledger.model.variant == "distilled"
    records = []
    started = time.monotonic()
    for index in range(1, total + 1):
        if finished(folder, index):
            continue
        if cancel is not None:
            cancel.check()
        prefix, offset = window_prefix(index, total), time.monotonic() - started

        def report(event: ProgressEvent, prefix=prefix, offset=offset) -> None:
            if progress is not None:
                progress(ProgressEvent(prefix + event.stage, event.step, event.total, offset + event.elapsed,
                                       event.preview, event.peak_memory))  # fmt: skip

        extra = {"timeline": {"window": index, "windows": total,
                              "segments": [{"prompt": s.prompt, "seconds": s.seconds} for s in request.segments]}}  # fmt: skip
        pipeline, job = window_job(request, index, folder, ledger.version, distilled)
        record = run_job(ledger, pipeline, job, window_path(folder, index), report, cancel, extra)
        records.append(replace(record, stages=tuple(replace(stage, stage=prefix + stage.stage) for stage in record.stages)))
    return records
