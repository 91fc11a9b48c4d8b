"""The resumable training loop shared by every stage.

A stage's state folder (``<run folder>/<stage>/``) holds ``state.safetensors`` (all parameters of
the stage's modules, frozen ones included, and the optimizer state) and ``state.json`` (the step,
the options and the loss log). Batches and noise are pure functions of ``(seed, step)``, so a run
resumed at step ``s`` continues bit for bit as if it had never stopped. The model files in
``<run folder>/model/`` are an export (official layout) rewritten at every checkpoint.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import mlx.core as mx
import mlx.optimizers as optim
import numpy as np
from mlx import nn
from mlx.utils import tree_flatten, tree_unflatten

STATE_FILE = "state.safetensors"
LOG_FILE = "state.json"


class Stage(Protocol):
    name: str
    modules: nn.Module  # the container value_and_grad differentiates (frozen parts marked frozen)

    def batch(self, step: int) -> Any: ...

    def loss(self, batch: Any, key: mx.array) -> tuple[mx.array, dict[str, mx.array]]: ...

    def export(self) -> None: ...


ADAM_EPS = 1e-8


def stage_validation(stage: Stage) -> dict[str, float]:
    """The stage's held-out metrics (``validation()``, optional: stages without one report none)."""
    validate = getattr(stage, "validation", None)
    return validate() if validate is not None else {}


@dataclass(frozen=True)
class TrainOptions:
    steps: int  # the stage's total step budget; a resumed run stops at the same total
    seed: int = 0
    learning_rate: float = 2e-4
    checkpoint_every: int = 50
    log_every: int = 10
    resume: bool = False
    validate_every: int = 0  # steps between held-out evaluations (at checkpoints); 0: never
    # The learning rate at the last step as a fraction of ``learning_rate``: a cosine decay over
    # ``steps`` (a resumed run continues it from the optimizer's saved step); 1: constant.
    decay_to: float = 1.0
    # Muon's learning rate for the weight matrices (linear and convolution weights), AdamW's
    # ``learning_rate`` then only for biases, norms and tables; 0: AdamW for every parameter.
    matrix_learning_rate: float = 0.0
    warmup_steps: int = 0  # linear warmup from 1/20 of each rate, then the constant or cosine rate
    adamw_only: tuple[str, ...] = ()  # parameter path prefixes whose matrices stay with AdamW


def learning_rate_schedule(options: TrainOptions, rate: float | None = None) -> float | Callable[[mx.array], mx.array]:
    """The rate ``rate`` (default ``learning_rate``) over the steps: constant or decaying by a cosine
    to ``decay_to`` of it, after ``warmup_steps`` of linear warmup (at most half of a short run's steps)."""
    rate = options.learning_rate if rate is None else rate
    warmup = min(options.warmup_steps, options.steps // 2)
    if options.decay_to == 1.0 and not warmup:
        return rate
    main = optim.cosine_decay(rate, options.steps - warmup, rate * options.decay_to)  # flat at 1.0
    if not warmup:
        return main
    return optim.join_schedules([optim.linear_schedule(rate / 20, rate, warmup), main], [warmup])


def is_weight_matrix(path: str, parameter: mx.array) -> bool:
    return path.endswith("weight") and parameter.ndim >= 2


def make_optimizer(options: TrainOptions) -> optim.Optimizer:
    """AdamW, with Muon for the weight matrices (but those under ``options.adamw_only``) when
    ``options.matrix_learning_rate`` is set."""
    adam = optim.AdamW(learning_rate=learning_rate_schedule(options), weight_decay=0.0, eps=ADAM_EPS)
    if not options.matrix_learning_rate:
        return adam
    muon = optim.Muon(learning_rate=learning_rate_schedule(options, options.matrix_learning_rate), weight_decay=0.0)

    def takes_muon(path: str, parameter: mx.array) -> bool:
        return is_weight_matrix(path, parameter) and not path.startswith(options.adamw_only)

    return optim.MultiOptimizer([muon, adam], [takes_muon])


class TrainingError(ValueError):
    """Bad training options (one sentence saying what to change)."""


def step_key(seed: int, step: int) -> mx.array:
    return mx.random.key(seed * 1_000_003 + step)


def _print(line: str) -> None:
    print(line, flush=True)


def format_duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{max(minutes, 1)} min"


def run(stage: Stage, folder: Path, options: TrainOptions, log: Callable[[str], None] = _print) -> list[dict]:
    """Train ``stage`` up to ``options.steps`` and return the log records of this call."""
    state_dir = Path(folder) / stage.name
    optimizer = make_optimizer(options)
    optimizer.init(stage.modules.trainable_parameters())
    start, history = 0, []
    if (state_dir / LOG_FILE).exists():
        if not options.resume:
            raise TrainingError(
                f"{state_dir} already holds a {stage.name} run: add --resume to continue it, or give another folder."
            )
        start, history = _restore(stage, optimizer, state_dir, options)
    elif options.resume:
        log(f"{stage.name}: nothing to resume in {state_dir}; starting at step 0")
    if start >= options.steps:
        log(f"{stage.name}: already at step {start} of {options.steps}")
        return []

    loss_and_grad = nn.value_and_grad(stage.modules, lambda batch, key: stage.loss(batch, key))
    records: list[dict] = []
    window_start, window_steps, window_loss, window_metrics = time.monotonic(), 0, 0.0, {}
    for step in range(start, options.steps):
        batch = stage.batch(step)
        (loss, metrics), grads = loss_and_grad(batch, step_key(options.seed, step))
        optimizer.update(stage.modules, grads)
        mx.eval(stage.modules.parameters(), optimizer.state, loss, metrics)
        window_steps += 1
        window_loss += float(loss)
        for name, value in metrics.items():
            window_metrics[name] = window_metrics.get(name, 0.0) + float(value)
        done = step + 1
        if done % options.log_every == 0 or done == options.steps:
            elapsed = time.monotonic() - window_start
            record = {
                "step": done,
                "loss": window_loss / window_steps,
                "steps_per_s": window_steps / max(elapsed, 1e-9),
            }
            record.update({name: total / window_steps for name, total in window_metrics.items()})
            records.append(record)
            eta = (options.steps - done) / max(record["steps_per_s"], 1e-9)
            measured = ", ".join(f"{k} {v:.4g}" for k, v in record.items() if k != "step")
            log(f"{stage.name} step {done}/{options.steps}: {measured}, ETA {format_duration(eta)}")
            window_start, window_steps, window_loss, window_metrics = time.monotonic(), 0, 0.0, {}
        if done % options.checkpoint_every == 0 or done == options.steps:
            stage.export()  # first: an export may update frozen state (statistics) the checkpoint keeps
            if options.validate_every and (done % options.validate_every == 0 or done == options.steps):
                records += _validate(stage, done, options.steps, log)
                window_start = time.monotonic() if window_steps == 0 else window_start
            history = history + [r for r in records if r not in history]
            _save(stage, optimizer, state_dir, done, options, history)
    return records


def _validate(stage: Stage, step: int, steps: int, log: Callable[[str], None]) -> list[dict]:
    held_out = stage_validation(stage)
    if not held_out:
        return []
    log(f"{stage.name} step {step}/{steps} held out: " + ", ".join(f"{k} {v:.4g}" for k, v in held_out.items()))
    return [{"step": step, **held_out}]


def _save(
    stage: Stage, optimizer: optim.Optimizer, state_dir: Path, step: int, options: TrainOptions, history: list
) -> None:
    from ltx_core.demo.train.weights import write_file

    state_dir.mkdir(parents=True, exist_ok=True)
    tensors = {f"param/{name}": np.array(value) for name, value in tree_flatten(stage.modules.parameters())}
    tensors.update({f"optimizer/{name}": np.array(value) for name, value in tree_flatten(optimizer.state)})
    write_file(state_dir / STATE_FILE, tensors, None)
    record = {"step": step, "options": asdict(options), "history": history}
    temporary = state_dir / (LOG_FILE + ".tmp")
    temporary.write_text(json.dumps(record, indent=1))
    temporary.replace(state_dir / LOG_FILE)


def _restore(stage: Stage, optimizer: optim.Optimizer, state_dir: Path, options: TrainOptions) -> tuple[int, list]:
    record = json.loads((state_dir / LOG_FILE).read_text())
    saved = record["options"]
    if saved["seed"] != options.seed:
        raise TrainingError(f"the run in {state_dir} used --seed {saved['seed']}: resume it with the same seed.")
    tensors = mx.load(str(state_dir / STATE_FILE))
    params = [(name[len("param/") :], value) for name, value in tensors.items() if name.startswith("param/")]
    stage.modules.load_weights(params, strict=True)
    saved_state = [
        (name[len("optimizer/") :], value) for name, value in tensors.items() if name.startswith("optimizer/")
    ]
    if {name for name, _ in saved_state} != {name for name, _ in tree_flatten(optimizer.state)}:
        raise TrainingError(
            f"the run in {state_dir} was saved with another optimizer than this version trains {stage.name} "
            "with: start a new --state-dir, or resume it with the code that started it."
        )
    optimizer.state = tree_unflatten(saved_state)
    return int(record["step"]), list(record["history"])
