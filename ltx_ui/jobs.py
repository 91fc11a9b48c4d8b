"""One job on the device at a time: a FIFO queue of tickets, a worker thread per job and a
generator that Gradio handlers drive, yielding waiting positions and progress between steps."""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ltx_core.pipelines.progress import Cancelled, CancelToken, ProgressEvent

POLL_SECONDS = 0.2


@dataclass
class Ticket:
    number: int
    session: str
    label: str
    cancel: CancelToken = field(default_factory=CancelToken)
    started: float | None = None
    finished: threading.Event = field(default_factory=threading.Event)
    seen: float = field(default_factory=time.monotonic)  # last time its handler asked for its turn


@dataclass(frozen=True)
class Waiting:
    position: int  # jobs ahead of this one (the running job included)


@dataclass(frozen=True)
class Progress:
    event: ProgressEvent


@dataclass(frozen=True)
class Done:
    result: Any
    seconds: float


@dataclass(frozen=True)
class Failed:
    error: BaseException
    cancelled: bool
    cancel_latency: float | None  # seconds from the cancel request to the worker stopping


JobUpdate = Waiting | Progress | Done | Failed


class JobQueue:
    """FIFO of tickets; the head runs once the previous job's worker has really stopped."""

    def __init__(self, stale_after: float = 30.0) -> None:
        # A waiting ticket whose handler stopped polling (the browser went away and Gradio dropped
        # the generator without closing it) is evicted after ``stale_after`` s, so it cannot block
        # the queue for everyone behind it.
        self.stale_after = stale_after
        self._lock = threading.Condition()
        self._waiting: list[Ticket] = []
        self._running: Ticket | None = None
        self._numbers = itertools.count(1)
        self._cancel_times: dict[int, float] = {}
        self.history: list[tuple[str, float, float]] = []  # (label, start, end) of finished jobs

    def enter(self, session: str, label: str) -> Ticket:
        with self._lock:
            ticket = Ticket(next(self._numbers), session, label)
            self._waiting.append(ticket)
            self._lock.notify_all()
            return ticket

    def position(self, ticket: Ticket) -> int:
        with self._lock:
            ahead = self._waiting.index(ticket) if ticket in self._waiting else 0
            return ahead + (1 if self._running is not None else 0)

    def wait_turn(self, ticket: Ticket, timeout: float) -> bool:
        """True (and the ticket now runs) when it is this ticket's turn within ``timeout``."""
        def ready() -> bool:
            now = time.monotonic()
            for other in list(self._waiting):
                if other is not ticket and now - other.seen > self.stale_after:
                    self._waiting.remove(other)
                    other.cancel.cancel()
                    other.finished.set()
            return self._running is None and bool(self._waiting) and self._waiting[0] is ticket

        with self._lock:
            ticket.seen = time.monotonic()
            ready = self._lock.wait_for(ready, timeout)
            if ready:
                self._waiting.pop(0)
                self._running = ticket
                ticket.started = time.monotonic()
            return bool(ready)

    def leave(self, ticket: Ticket) -> None:
        """Drop a waiting ticket, or end the running one (called by its worker when it stops)."""
        with self._lock:
            if ticket in self._waiting:
                self._waiting.remove(ticket)
            if self._running is ticket:
                self._running = None
                self.history.append((ticket.label, ticket.started or 0.0, time.monotonic()))
            ticket.finished.set()
            self._lock.notify_all()

    def cancel_session(self, session: str) -> list[Ticket]:
        """Cancel every waiting or running job of ``session``; returns them."""
        with self._lock:
            tickets = [t for t in self._waiting if t.session == session]
            if self._running is not None and self._running.session == session:
                tickets.append(self._running)
            now = time.monotonic()
            for ticket in tickets:
                self._cancel_times.setdefault(ticket.number, now)
                ticket.cancel.cancel()
            return tickets

    def cancel_requested_at(self, ticket: Ticket) -> float | None:
        with self._lock:
            return self._cancel_times.get(ticket.number)

    @property
    def busy(self) -> bool:
        with self._lock:
            return self._running is not None or bool(self._waiting)


Work = Callable[[Callable[[ProgressEvent], None], CancelToken], Any]


class DeviceThread:
    """The one long-lived thread that runs every job. MLX gives each thread its own stream; when
    short-lived threads that used MLX end, the process can abort at exit ("terminate called
    without an active exception"), so jobs never run on a thread of their own."""

    def __init__(self) -> None:
        self._tasks: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def run(self, task: Callable[[], None]) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="ltx-device", daemon=True)
                self._thread.start()
        self._tasks.put(task)

    def _loop(self) -> None:
        while True:
            self._tasks.get()()


DEVICE = DeviceThread()


def run_job(jobs: JobQueue, session: str, label: str, work: Work) -> Iterator[JobUpdate]:
    """Queue ``work``, run it on the device thread when its turn comes and yield updates.

    ``work(progress, cancel)`` runs on the worker; the queue slot is freed only when it returns,
    so a cancelled job never overlaps the next one. Closing this generator cancels the job.
    """
    ticket = jobs.enter(session, label)
    worker: threading.Event | None = None
    try:
        shown = None
        while not jobs.wait_turn(ticket, POLL_SECONDS):
            if ticket.cancel.cancelled:
                jobs.leave(ticket)
                yield Failed(Cancelled("cancelled while waiting in the queue"), True, 0.0)
                return
            position = jobs.position(ticket)
            if position != shown:
                shown = position
                yield Waiting(position)
        updates: queue.Queue = queue.Queue()
        started = time.monotonic()

        def target() -> None:
            try:
                ticket.cancel.check()
                result = work(updates.put, ticket.cancel)
                updates.put(Done(result, time.monotonic() - started))
            except BaseException as exc:  # delivered to the handler, which shows it
                requested = jobs.cancel_requested_at(ticket)
                cancelled = isinstance(exc, Cancelled)
                latency = time.monotonic() - requested if cancelled and requested is not None else None
                updates.put(Failed(exc, cancelled, latency))
            finally:
                jobs.leave(ticket)

        finished = threading.Event()

        def task() -> None:
            try:
                target()
            finally:
                finished.set()

        worker = finished
        DEVICE.run(task)
        while True:
            item = updates.get()
            # Coalesce a backlog of progress events: only the newest is worth drawing.
            while isinstance(item, ProgressEvent) and not updates.empty():
                item = updates.get()
            if isinstance(item, ProgressEvent):
                yield Progress(item)
                continue
            yield item
            return
    finally:
        if worker is None:
            jobs.leave(ticket)
        elif not worker.is_set():
            ticket.cancel.cancel()


# Stages whose steps are VAE tiles rather than denoising steps.
TILED_STAGES = ("video decode", "encode")


def describe_progress(update: Progress, eta: float | None = None, batch: bool = False) -> str:
    """``eta``: seconds left for the whole job (the batch when ``batch``), None while unknown."""
    event = update.event
    unit = "tile" if event.stage in TILED_STAGES else "step"
    parts = [f"**{event.stage}**", f"{unit} {event.step}/{event.total}", f"{event.elapsed:.1f} s elapsed"]
    if eta is not None:
        parts.append(f"ETA {eta:.1f} s" + (" for the batch" if batch else " for the whole job"))
    if event.peak_memory:
        parts.append(f"peak {event.peak_memory / 2**20:.0f} MiB")
    return " · ".join(parts)
