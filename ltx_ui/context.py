"""State shared by every tab: folders, the models in use, the memory preset, the job queue, and
the generator that runs queued jobs and turns their progress into UI updates."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import gradio as gr

from ltx_core.errors import LTXError
from ltx_core.pipelines.ledger import ModelLedger
from ltx_core.pipelines.progress import CancelToken, ProgressEvent
from ltx_core.pipelines.request import GenerationRequest
from ltx_core.pipelines.runner import OutputRecord, run_job as run_pipeline
from ltx_core.pipelines.speed import JobClock, Prediction, SpeedModel, StageWork, generation_plan, speed_key
from ltx_core.presets import MemoryPreset
from ltx_ui import models as model_files
from ltx_ui.jobs import DEVICE, Done, Failed, JobQueue, Progress, Waiting, describe_progress, run_job
from ltx_ui.outputs import finish_sidecar, new_output_path

# Job events: the studio's own queue (jobs.py) orders them and shows positions, so Gradio lets up to
# 16 in at once (all sharing one limit); beyond that Gradio's queue holds them.
JOB_EVENT = {"concurrency_limit": 16, "concurrency_id": "studio-jobs"}

# One UI update of a generation: (status markdown, preview image, video path, prompt used, seed used,
# the batch so far: [(video, caption)] of each finished seed).
Update = tuple[Any, Any, Any, Any, Any, Any]


@dataclass
class Studio:
    outputs: Path
    weights_dir: Path | None
    gemma: Path | None
    models: model_files.ModelSet
    preset: MemoryPreset
    preset_auto: bool
    jobs: JobQueue = field(default_factory=JobQueue)
    speed: SpeedModel = field(default_factory=SpeedModel)
    enhancer: Path | None = None  # the prompt enhancer's Gemma 3 folder the user set (None: found or none)
    _ledger: ModelLedger | None = None
    _ledger_lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def create(cls, outputs: Path, weights_dir: Path | None, gemma: Path | None, preset: str | None,
               checkpoint: Path | None = None, enhancer: Path | None = None) -> Studio:  # fmt: skip
        from ltx_core.media.output_folder import check_writable, remove_partial_outputs

        check_writable(outputs)
        removed = remove_partial_outputs(outputs)
        if removed:
            print(f"Removed {len(removed)} unfinished temporary file(s) from {outputs} (left by an interrupted run).",
                  flush=True)  # fmt: skip
        models = model_files.resolve_models(weights_dir, gemma, checkpoint, enhancer)
        return cls(outputs, weights_dir, gemma, models, model_files.choose_preset(preset), preset is None,
                   enhancer=enhancer)  # fmt: skip

    def set_models(self, models: model_files.ModelSet) -> None:
        with self._ledger_lock:
            self.models = models
            self._retire()

    def set_preset(self, preset: MemoryPreset, auto: bool) -> None:
        with self._ledger_lock:
            self.preset, self.preset_auto = preset, auto
            self._retire()

    def _retire(self) -> None:
        """Drop the ledger; its models are released on the device thread, after any running job."""
        old, self._ledger = self._ledger, None
        if old is not None:
            DEVICE.run(lambda: old.release_all(force=True))

    def ledger(self) -> ModelLedger:
        """The ledger for the next job. It is reused (models stay loaded under a keep-loaded
        preset); its stage log is cleared so each sidecar records only its own job."""
        with self._ledger_lock:
            if self._ledger is None:
                self._ledger = model_files.build_ledger(self.models, self.preset)
            self._ledger.stages.clear()
            return self._ledger

    def current_ledger(self) -> ModelLedger:
        """The ledger for estimates: built if needed, its running job's stage log left alone."""
        with self._ledger_lock:
            if self._ledger is None:
                self._ledger = model_files.build_ledger(self.models, self.preset)
            return self._ledger

    def speed_key(self) -> str:
        return speed_key(self.models.paths.checkpoint, "demo" if self.models.demo else self.preset.name)

    def predict(self, plan: list[StageWork]) -> Prediction:
        checkpoint = Path(self.models.paths.checkpoint)
        size = checkpoint.stat().st_size if checkpoint.is_file() else None
        return self.speed.predict(self.speed_key(), plan, size)

    def discard_ledger(self) -> None:
        """After a failed or cancelled job start the next one from a fresh ledger (called on the
        device thread, where every MLX call of the studio happens)."""
        with self._ledger_lock:
            if self._ledger is not None and self._ledger.loaded():  # the runner normally released all
                self._ledger.release_all(force=True)
            self._ledger = None

    def banner(self) -> str:
        if self.models.demo:
            from ltx_core.model_spec import LTX_2_3, Role

            checkpoint, gemma = LTX_2_3.file_for(Role.CHECKPOINT, "distilled"), LTX_2_3.file_for(Role.GEMMA)
            demo = self.models.demo_defaults
            running = (
                "⚠️ **Demo mode: no LTX-2 checkpoint was found, so the built-in demo models (tiny random weights) are "
                "running. Outputs are noise, not meaningful video.**"
            )
            if demo is not None:
                running = (
                    "**Demo mode: no LTX-2 checkpoint was found, so the built-in demo models are running: tiny "
                    f"models trained on synthetic clips of coloured shapes, {demo.width}x{demo.height}, "
                    f"{demo.frames} frames.** Describe one shape, its colour, motion and background, e.g. "
                    f"*{demo.prompt}*."
                )
            return (
                running + " To use the real model, download "
                f"`{checkpoint.file}` (and the others listed in Models & Settings) from `{LTX_2_3.repo}` and Gemma "
                f"from `{gemma.repo}` into one folder, then start with `python3 tasks.py run --weights-dir "
                "/path/to/folder` (or press Rescan in Models & Settings)."
            )
        version = self.models.version
        return (
            f"Model: `{Path(self.models.paths.checkpoint).name}` ({version.title}) · memory mode: **{self.preset.name}**"
        )


def console_line(text: str) -> None:
    """A line in the terminal's job log. A terminal that is gone (closed window, a redirected or
    replaced stream) must not fail the job whose result is being written."""
    try:
        print(text, flush=True)
    except (OSError, ValueError, RuntimeError):
        pass


def session_of(request: gr.Request | None) -> str:
    return getattr(request, "session_hash", None) or "local"


def cancel_handler(studio: Studio) -> Callable[..., str]:
    def cancel(request: gr.Request = None) -> str:
        """Cancel this browser session's running and queued jobs; returns once the worker stopped."""
        tickets = studio.jobs.cancel_session(session_of(request))
        if not tickets:
            return "Nothing to cancel."
        for ticket in tickets:
            ticket.finished.wait(timeout=30)
        return f"Cancelled {len(tickets)} job(s); memory released, ready for the next job."

    return cancel


def user_message(exc: BaseException) -> str:
    """What to tell the user about a failed job."""
    if isinstance(exc, LTXError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "out of memory: choose a smaller size, fewer frames or a lower memory mode."
    return f"unexpected error ({type(exc).__name__}: {exc}); the app is ready for the next job."


@dataclass(frozen=True)
class Job:
    pipeline: str
    seed: int
    run: Callable[[Path, Callable[[ProgressEvent], None], CancelToken], OutputRecord]
    extra: dict[str, Any]  # the studio's record in the sidecar: tab and UI values for "reuse settings"
    plan: tuple[StageWork, ...] = ()  # its stages and their work, for the ETA and the speed model


def generation_plan_for(pipeline: str, request: GenerationRequest) -> list[StageWork]:
    from ltx_core.pipelines.blocks import guidance_passes
    from ltx_core.pipelines.registry import pipeline_descriptor

    return generation_plan(pipeline_descriptor(pipeline), request, guidance_passes(request))


def generation_job(studio: Studio, pipeline: str, request: GenerationRequest, extra: dict[str, Any]) -> Job:
    def run(output: Path, report: Callable[[ProgressEvent], None], cancel: CancelToken) -> OutputRecord:
        return run_pipeline(studio.ledger(), pipeline, request, output, report, cancel, extra_settings={"studio": extra})

    return Job(pipeline, request.seed, run, extra, tuple(generation_plan_for(pipeline, request)))


def submit_seeds(
    studio: Studio, pipeline: str, base: GenerationRequest, seeds: list[int], extra: dict[str, Any],
    values: dict[str, Any], request: gr.Request | None, progress: gr.Progress | None, note: str,
):  # fmt: skip
    """One job per seed (the tab's UI values recorded with each, for "reuse settings"), queued and
    followed until done."""
    jobs = [generation_job(studio, pipeline, replace(base, seed=s), {**extra, "ui": {**values, "seed": s}}) for s in seeds]
    yield from generate_updates(studio, session_of(request), jobs, progress, note)


def generate_updates(studio: Studio, session: str, jobs: list[Job], progress: gr.Progress | None,
                     notes: str = "") -> Iterator[Update]:  # fmt: skip
    """Run jobs one after another through the queue, yielding status, preview and results (the
    batch grid fills in as each job finishes)."""
    done: list[str] = []
    batch: list[tuple[str, str]] = []
    last_video = last_prompt = last_seed = None
    predictions = [studio.predict(list(job.plan)) for job in jobs]

    def shown(status: str, preview: Any) -> Update:
        grid = gr.Gallery(value=list(batch), visible=True) if len(jobs) > 1 else gr.Gallery(visible=False)
        return status, preview, last_video, last_prompt, last_seed, grid

    for index, job in enumerate(jobs):
        prefix = f"Job {index + 1}/{len(jobs)} (seed {job.seed}) · " if len(jobs) > 1 else ""
        output = new_output_path(studio.outputs, job.pipeline, job.seed)
        clock = JobClock(predictions[index])
        later_jobs = sum(p.seconds for p in predictions[index + 1 :])

        def work(report: Callable[[ProgressEvent], None], cancel: CancelToken, job=job, output=output) -> OutputRecord:
            console_line(f"[job] {job.pipeline} seed {job.seed}: started")
            try:
                record = job.run(output, report, cancel)
            except BaseException as exc:
                studio.discard_ledger()
                console_line(f"[job] {job.pipeline} seed {job.seed}: {type(exc).__name__}: {exc}")
                raise
            finish_sidecar(record, job.extra)
            studio.speed.learn(studio.speed_key(), list(job.plan), [(s.stage, s.seconds) for s in record.stages])
            console_line(f"[job] {job.pipeline} seed {job.seed}: {record.seconds:.1f} s -> {record.video}")
            return record

        for update in run_job(studio.jobs, session, f"{job.pipeline} seed {job.seed}", work):
            if isinstance(update, Waiting):
                text = f"{prefix}Waiting in the queue: position {update.position} (one job runs at a time)."
                if progress is not None:
                    progress(0.0, desc=text)
                yield shown(_status(text, done, notes), None)
            elif isinstance(update, Progress):
                event = update.event
                eta = clock.remaining(event.stage, event.step, event.total, event.elapsed)
                text = prefix + describe_progress(update, None if eta is None else eta + later_jobs, len(jobs) > 1)
                if progress is not None:
                    progress((event.step, max(event.total, 1)), desc=text.replace("**", ""), unit="steps")
                yield shown(_status(text, done, notes), event.preview if event.preview is not None else gr.skip())
            elif isinstance(update, Done):
                record: OutputRecord = update.result
                last_video, last_prompt, last_seed = str(record.video), record.prompt, job.seed
                batch.append((str(record.video), f"seed {job.seed}"))
                line = f"Saved `{record.video.name}` in {record.seconds:.1f} s (peak {record.peak_memory / 2**20:.0f} MiB)."
                done.extend([line, *(f"Note: {n}" for n in record.notices)])
                yield shown(_status("Done.", done, notes), gr.skip())
            elif isinstance(update, Failed):
                if update.cancelled:
                    latency = f" within {update.cancel_latency:.2f} s" if update.cancel_latency is not None else ""
                    text = f"Cancelled{latency}; memory released, ready for the next job."
                    yield shown(_status(text, done, notes), None)
                    return
                raise gr.Error(user_message(update.error), print_exception=not isinstance(update.error, LTXError))


def _status(current: str, done: list[str], notes: str) -> str:
    lines = [current, *done]
    if notes:
        lines.append(f"Note: {notes}")
    return "\n\n".join(lines)
