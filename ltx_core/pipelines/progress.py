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


# -- cancellation inside a step, progress inside a stage ------------------------------------------
# The token of the job running on this thread, so code that has no reporter (the transformer's
# block loop, tiled VAE passes) can stop a job between blocks and tiles.
_active = threading.local()


class cancel_scope:
    """``with cancel_scope(token):`` makes ``token`` the one ``check_cancelled`` reads on this thread."""

    def __init__(self, token: CancelToken | None) -> None:
        self.token = token

    def __enter__(self) -> CancelToken | None:
        self.previous = getattr(_active, "token", None)
        _active.token = self.token
        return self.token

    def __exit__(self, *exc: object) -> None:
        _active.token = self.previous


def check_cancelled() -> None:
    """Raise ``Cancelled`` when the job running on this thread was cancelled (cheap: one flag)."""
    token = getattr(_active, "token", None)
    if token is not None:
        token.check()


class CancelCheckHook:
    """A transformer ``block_hook`` that checks the running job's cancel token after each block
    (blocks are evaluated one by one, so a cancel takes effect within one block, not one step).
    Wraps the hook already there (block streaming), which keeps working as before."""

    def __init__(self, inner: object | None = None) -> None:
        self.inner = inner

    def before(self, block: object) -> None:
        if self.inner is not None:
            self.inner.before(block)

    def after(self, block: object) -> None:
        if self.inner is not None:
            self.inner.after(block)
        check_cancelled()

    def __getattr__(self, name: str):  # the streamer's read statistics and the like
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)


def install_cancel_checks(velocity_model: object) -> None:
    """Give a transformer (an ``LTXModel``) the block hook above, once."""
    hook = getattr(velocity_model, "block_hook", None)
    if not isinstance(hook, CancelCheckHook):
        velocity_model.block_hook = CancelCheckHook(hook)


class CountedTiles:
    """A VAE encoder or decoder that reports one progress step per tile it runs.

    The tiled passes call ``check_input`` / ``check_latent`` with the whole input first, which
    gives the tile count; each later call is one tile, evaluated before the next one starts, so
    "tile n started" means n-1 are done."""

    def __init__(self, model: object, stage: str, reporter: ProgressReporter, tiles: Callable[[tuple], int]) -> None:
        self._model, self._stage, self._reporter, self._tiles = model, stage, reporter, tiles
        self.done, self.total, self.tiled = 0, 1, False

    def _whole(self, array) -> None:
        self.total, self.done, self.tiled = max(1, self._tiles(tuple(array.shape))), 0, True
        self._reporter.report(self._stage, 0, self.total)

    def check_input(self, pixels, *args, **kwargs):
        self._whole(pixels)
        return self._model.check_input(pixels, *args, **kwargs)

    def check_latent(self, latent, *args, **kwargs):
        self._whole(latent)
        return self._model.check_latent(latent, *args, **kwargs)

    def __call__(self, *args, **kwargs):
        if self.tiled and self.done:  # an untiled call (an image to encode) is no tile of a pass
            self._reporter.report(self._stage, min(self.done, self.total), self.total)
        self.done += 1
        return self._model(*args, **kwargs)

    @property
    def wrapped(self) -> object:
        """The model itself (for code that dispatches on its type)."""
        return self._model

    def __getattr__(self, name: str):
        return getattr(self._model, name)
