"""Progress events and cancellation shared by every pipeline (the API the studio uses)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ltx_core.errors import LTXError


class Cancelled(LTXError):
    """The job was cancelled by the user; everything it held has been released."""


@dataclass(frozen=True)
class ProgressEvent:
    stage: str
    step: int
    total: int
    elapsed: float  # seconds since the job started
    preview: np.ndarray | None = None  # (H, W, 3) uint8 cheap preview of the current latent
    peak_memory: int | None = None  # bytes, MLX peak so far


class CancelToken:
    """Set from any thread; pipelines check it between steps and raise ``Cancelled``."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled("generation cancelled")


ProgressCallback = Callable[[ProgressEvent], None]


@dataclass
class ProgressReporter:
    """Emits ProgressEvents with the elapsed time since the job started."""

    callback: ProgressCallback | None = None
    cancel: CancelToken | None = None
    started: float = field(default_factory=time.monotonic)

    def report(self, stage: str, step: int, total: int, preview: np.ndarray | None = None) -> None:
        if self.cancel is not None:
            self.cancel.check()
        if self.callback is not None:
            import mlx.core as mx

            self.callback(ProgressEvent(stage, step, total, time.monotonic() - self.started, preview, mx.get_peak_memory()))
