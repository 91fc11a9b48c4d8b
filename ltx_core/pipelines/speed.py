"""How long a job will take on this machine: each stage's work (tokens x steps x passes for
denoising, output voxels for the VAE passes) times a per-stage rate learned from finished jobs.

The rates live in a small JSON file under the user's cache folder, per model set and memory mode
(``speed_key``); before any job finished they are a first guess (measured on the demo models on
a 2-core CPU, scaled by the checkpoint's size for real weights). ``JobClock`` turns a plan and
the progress events of a running job into one ETA for the whole job.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Seconds per unit of work (units: see ``generation_plan``), measured on the demo models with
# 2 CPU cores; a fixed part per stage covers model loading.
FIRST_GUESS: dict[str, tuple[float, float]] = {  # stage kind -> (fixed seconds, seconds per unit)
    "text encoder": (1.5, 0.0),
    "denoise": (0.5, 2.1e-4),
    "upsample": (0.25, 1e-6),
    "video decode": (0.5, 1.8),  # per million output voxels
    "encode": (0.5, 1.0),  # per million input voxels
    "audio decode": (0.3, 0.18),  # per second of audio
    "audio encode": (0.3, 0.15),  # per second of audio (audio-to-video: log-mel and audio VAE encoder)
}
DEMO_CHECKPOINT_BYTES = 9_000_000  # the demo checkpoint, about 8.5 MB
KEEP = 12  # observations kept per stage


def stage_kind(stage: str) -> str:
    stage = stage.rpartition(" · ")[2]  # a long video's "window 2/3 · stage 1": the window's own stage
    if stage.startswith("stage") or stage == "refine":
        return "denoise"
    if stage.endswith("upsample"):
        return "upsample"
    return stage


AUTO_PLAN_SECONDS = 5.0  # the length an "auto" job is planned at (the official default clip is ~5 s)


@dataclass(frozen=True)
class StageWork:
    stage: str  # as the ledger records it ("stage 1", "video decode", ...)
    units: float


def _tokens(frames: int, height: int, width: int, fps: float, audio: bool) -> float:
    """Transformer work of one pass: tokens, plus attention's quadratic share."""
    tokens = ((frames - 1) // 8 + 1) * (height // 32) * (width // 32) + (frames / max(fps, 1.0) * 25 if audio else 0)
    return tokens * (1 + tokens / 4096)


def generation_plan(descriptor: Any, request: Any, passes: int = 1) -> list[StageWork]:
    """The stages a text/image-to-video job runs, with their work. ``passes``: transformer passes
    per guided step (``blocks.guidance_passes``). A length left on "auto" is planned at
    ``AUTO_PLAN_SECONDS`` (the duration head decides only once the prompt is encoded)."""
    from ltx_core.components.schedulers import DISTILLED_SIGMAS, STAGE_2_DISTILLED_SIGMAS
    from ltx_core.model.duration.predictor import seconds_to_num_frames

    h, w, f, fps, audio = request.height, request.width, request.frames, request.fps, request.generate_audio
    if isinstance(f, str):
        f = seconds_to_num_frames(AUTO_PLAN_SECONDS, fps)
    plan = [StageWork("text encoder", 1.0)]
    two_stage = descriptor.second is not None
    first = descriptor.first
    steps = request.steps if first.sigmas == "scheduler" else len(DISTILLED_SIGMAS) - 1
    size = descriptor.stage1_size(h, w, getattr(request, "spatial_upscale", 2.0))
    plan.append(StageWork("stage 1", steps * (passes if first.guided else 1) * _tokens(f, *size, fps, audio)))
    if two_stage:
        refine = getattr(request, "refine_steps", None) or len(STAGE_2_DISTILLED_SIGMAS) - 1
        plan.append(StageWork("upsample", _tokens(f, h, w, fps, False)))
        plan.append(StageWork("stage 2", refine * _tokens(f, h, w, fps, audio)))
    if descriptor.uses("audio"):  # audio-to-video: the user's audio is encoded, and muxed as it is
        plan.insert(0, StageWork("audio encode", f / max(fps, 1.0)))
    elif audio:
        plan.append(StageWork("audio decode", f / max(fps, 1.0)))
    if descriptor.uses("height"):  # text-to-audio decodes no video
        plan.append(StageWork("video decode", f * h * w / 1e6))
    return plan


def upscale_plan(width: int, height: int, frames: int, fps: float, spatial: bool, temporal: bool) -> list[StageWork]:
    """The stages of an upscale of a ``width`` x ``height`` x ``frames`` source."""
    from ltx_core.components.schedulers import STAGE_2_DISTILLED_SIGMAS

    height, width = height // 32 * 32, width // 32 * 32
    plan = [StageWork("encode", frames * height * width / 1e6)]
    if temporal:
        plan.append(StageWork("temporal upsample", _tokens(frames, height, width, fps, False)))
        frames = (frames - 1) * 2 + 1
    if spatial:
        height, width = height * 2, width * 2
        plan.append(StageWork("spatial upsample", _tokens(frames, height, width, fps, False)))
        plan.append(StageWork("text encoder", 1.0))
        plan.append(StageWork("refine", (len(STAGE_2_DISTILLED_SIGMAS) - 1) * _tokens(frames, height, width, fps, False)))
    plan.append(StageWork("video decode", frames * height * width / 1e6))
    return plan


def edit_plan(stage: str, width: int, height: int, frames: int, fps: float, steps: int, audio: bool,
              encoded_frames: int | None = None, source_audio_seconds: float | None = None) -> list[StageWork]:  # fmt: skip
    """The stages of a job that edits a clip in time (retake, extend): the prompt, the encode of
    ``encoded_frames`` source frames (default all) and, with ``audio``, of their sound
    (``source_audio_seconds``, default as long as those frames; 0: a silent source), ``steps``
    transformer passes of the ``frames``-long clip in ``stage``, the audio decode and the video decode."""
    height, width = height // 32 * 32, width // 32 * 32
    encoded = encoded_frames or frames
    plan = [StageWork("text encoder", 1.0), StageWork("encode", encoded * height * width / 1e6)]
    heard = encoded / max(fps, 1.0) if source_audio_seconds is None else source_audio_seconds
    if audio and heard > 0:
        plan.append(StageWork("audio encode", heard))
    plan.append(StageWork(stage, steps * _tokens(frames, height, width, fps, audio)))
    if audio:
        plan.append(StageWork("audio decode", frames / max(fps, 1.0)))
    plan.append(StageWork("video decode", frames * height * width / 1e6))
    return plan


def default_speed_file() -> Path:
    configured = os.environ.get("LTX_SPEED_FILE")
    if configured:
        return Path(configured)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "ltx-studio-mlx" / "speed.json"


def speed_key(checkpoint: str | os.PathLike, runtime_name: str) -> str:
    return f"{Path(checkpoint).name}|{runtime_name}"


@dataclass(frozen=True)
class Prediction:
    stages: tuple[tuple[str, float], ...]  # (stage, seconds) in plan order
    learned: bool  # some stage was timed on this machine
    guessed: int = 0  # stages still on the first guess

    @property
    def seconds(self) -> float:
        return sum(seconds for _, seconds in self.stages)


class SpeedModel:
    """Per-stage (fixed + rate x units) fitted on the last ``KEEP`` finished stages of the same
    kind, model set and memory mode; thread-safe; a broken file is ignored and rewritten."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_speed_file()
        self._lock = threading.Lock()
        self._data: dict[str, dict[str, list[list[float]]]] = self._read()

    def _read(self) -> dict:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def predict(self, key: str, plan: list[StageWork], checkpoint_bytes: int | None = None) -> Prediction:
        scale = max(1.0, (checkpoint_bytes or DEMO_CHECKPOINT_BYTES) / DEMO_CHECKPOINT_BYTES)
        with self._lock:
            observed = self._data.get(key, {})
            stages, learned, guessed = [], False, 0
            for work in plan:
                kind = stage_kind(work.stage)
                fitted = _fit(observed.get(kind, []))
                if fitted is not None:
                    learned = True
                    fixed, rate = fitted
                else:
                    guessed += 1
                    fixed, rate = FIRST_GUESS.get(kind, (1.0, 0.0))
                    fixed, rate = fixed * scale, rate * scale
                stages.append((work.stage, max(0.0, fixed + rate * work.units)))
        return Prediction(tuple(stages), learned, guessed)

    def learn(self, key: str, plan: list[StageWork], stage_seconds: list[tuple[str, float]]) -> None:
        """Record the measured seconds of a finished job's stages (``StageRecord`` name, seconds)."""
        units = {work.stage: work.units for work in plan}
        with self._lock:
            observed = self._data.setdefault(key, {})
            for stage, seconds in stage_seconds:
                if stage in units and seconds >= 0:
                    history = observed.setdefault(stage_kind(stage), [])
                    history.append([round(units[stage], 4), round(float(seconds), 4)])
                    del history[:-KEEP]
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                partial = self.path.with_name(self.path.name + ".part")
                partial.write_text(json.dumps(self._data))
                partial.replace(self.path)
            except OSError:
                pass  # a read-only cache folder only costs the learning, never the job


def _fit(points: list[list[float]]) -> tuple[float, float] | None:
    """Least squares seconds = fixed + rate * units (a proportional rate when the units never varied)."""
    points = [p for p in points if isinstance(p, list) and len(p) == 2]
    if not points:
        return None
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if spread > 1e-9 * max(mean_x**2, 1e-12) and n >= 2:
        rate = sum((x - mean_x) * (y - mean_y) for x, y in points) / spread
        fixed = mean_y - rate * mean_x
        if rate >= 0 and fixed >= 0:
            return fixed, rate
    return (0.0, mean_y / mean_x) if mean_x > 0 else (mean_y, 0.0)


class JobClock:
    """One ETA for the whole job from its predicted stages and its progress events: the current
    stage from its own measured steps (once two are done), later stages from the prediction,
    scaled by how fast the finished stages ran compared with their prediction."""

    def __init__(self, prediction: Prediction) -> None:
        self.prediction = prediction
        self.order = [stage for stage, _ in prediction.stages]
        self.predicted = dict(prediction.stages)
        self._started: dict[str, tuple[float, int]] = {}  # stage -> (elapsed, step) at its first event

    def remaining(self, stage: str, step: int, total: int, elapsed: float) -> float | None:
        part, _, own = stage.rpartition(" · ")
        if own == "done":  # the job's end, or (a long video) the end of one window: the later windows remain
            return 0.0 if not part else self._after(part + " · ", elapsed)
        if stage not in self.predicted:
            return None
        index = self.order.index(stage)
        first = self._started.setdefault(stage, (elapsed, step))
        spent_before = first[0]
        predicted_before = sum(self.predicted[s] for s in self.order[:index])
        pace = min(4.0, max(0.25, spent_before / predicted_before)) if predicted_before > 1.0 else 1.0
        later = sum(self.predicted[s] for s in self.order[index + 1 :]) * pace
        done_steps = step - first[1]
        if done_steps >= 1 and total > step:
            per_step = (elapsed - first[0]) / done_steps
            current = per_step * (total - step)
        else:
            current = max(0.0, self.predicted[stage] * pace * (1 - step / max(total, 1)) - (elapsed - first[0]))
        return max(0.0, current + later)

    def _after(self, prefix: str, elapsed: float) -> float | None:
        """What remains after the last planned stage named ``prefix``..., at the pace of the job so far."""
        ends = [index for index, stage in enumerate(self.order) if stage.startswith(prefix)]
        if not ends:
            return None
        cut = ends[-1] + 1
        predicted_before = sum(self.predicted[s] for s in self.order[:cut])
        pace = min(4.0, max(0.25, elapsed / predicted_before)) if predicted_before > 1.0 else 1.0
        return sum(self.predicted[s] for s in self.order[cut:]) * pace
