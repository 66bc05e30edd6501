"""Run a step-wise trainer in a background thread, for the app.

A :class:`Job` is what a lesson page holds in the student's ``st.session_state``: the trainer
runs in the job's own thread, and the page's ``st.fragment(run_every=...)`` redraws from the
job's progress, metrics history, samples and status. The job thread never calls Streamlit.

One process serves every student of a class server, so running jobs are limited process-wide
(``RLHF_MAX_JOBS``, default 2: on a laptop or a small server each job already uses the CPU
threads that ``device.set_threads`` allows). Further jobs wait in a FIFO queue and know their
position in it. Stop sets the job's event; the loop checks it between steps, so a Stop takes
effect within one step and what was trained so far is kept.

This module knows nothing about what is trained and does not import torch at import time
(tests drive it with a fake trainer). A job is built from three functions:

* ``make_trainer(job)`` runs in the job thread once a slot is free: load/copy models, sample data,
  build the trainer. It may call ``job.set_phase("...")`` and check ``job.stop_requested``.
* the trainer's ``step() -> dict[str, float]`` and ``done() -> bool`` (``training.StepTrainer``).
* ``finish(trainer, job)`` (optional) runs in the job thread after the last step (also after a
  Stop or a divergence, which keeps the last good weights) and returns ``job.result``.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

MAX_JOBS_ENV = "RLHF_MAX_JOBS"
QUEUED, RUNNING, DONE, STOPPED, FAILED = "queued", "running", "done", "stopped", "failed"
FINISHED = (DONE, STOPPED, FAILED)


def default_max_jobs() -> int:
    """How many jobs may train at once in this process (``RLHF_MAX_JOBS``, default 2)."""
    try:
        return max(1, int(os.environ.get(MAX_JOBS_ENV, "2")))
    except ValueError:
        return 2


class JobSlots:
    """A process-wide FIFO of jobs waiting for one of ``limit`` running slots."""

    def __init__(self, limit: int | None = None):
        self.limit = limit if limit is not None else default_max_jobs()
        self._cond = threading.Condition()
        self._running: set[int] = set()
        self._waiting: list[int] = []

    def enqueue(self, job_id: int) -> None:
        with self._cond:
            self._waiting.append(job_id)

    def acquire(self, job_id: int, cancelled: threading.Event) -> bool:
        """Block until ``job_id`` is first in line and a slot is free; False if cancelled."""
        with self._cond:
            while True:
                if cancelled.is_set():
                    if job_id in self._waiting:
                        self._waiting.remove(job_id)
                    self._cond.notify_all()
                    return False
                if self._waiting and self._waiting[0] == job_id and len(self._running) < self.limit:
                    self._waiting.pop(0)
                    self._running.add(job_id)
                    self._cond.notify_all()
                    return True
                self._cond.wait(timeout=0.2)  # wakes up to notice a Stop while queued

    def release(self, job_id: int) -> None:
        with self._cond:
            self._running.discard(job_id)
            self._cond.notify_all()

    def position(self, job_id: int) -> int | None:
        """1 for the next job to start, 2 behind it, ...; None when not waiting."""
        with self._cond:
            return self._waiting.index(job_id) + 1 if job_id in self._waiting else None

    @property
    def running(self) -> int:
        with self._cond:
            return len(self._running)

    @property
    def waiting(self) -> int:
        with self._cond:
            return len(self._waiting)


SLOTS = JobSlots()
_ids = itertools.count(1)


@dataclass
class Job:
    """One training run in the background. Read its fields from any thread; only the job thread
    writes them (lists are only appended to, so a reader sees a consistent prefix)."""

    name: str
    total_steps: int
    id: int = field(default_factory=lambda: next(_ids))
    status: str = QUEUED
    message: str = ""
    """Why it failed, or what it is doing now ("sampling preference pairs...")."""
    phase: str = "waiting for a free training slot"
    step: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    """One metrics dict per step, oldest first."""
    samples: list[dict] = field(default_factory=list)
    """Generations the trainer logged (PPO's ``trainer.samples``), oldest first."""
    result: Any = None
    """What ``finish`` returned (e.g. the trained model), set before the status turns final."""
    started_at: float | None = None
    finished_at: float | None = None
    stop_event: threading.Event = field(default_factory=threading.Event, repr=False)
    slots: JobSlots = field(default=SLOTS, repr=False)
    thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def progress(self) -> float:
        """Share of steps done, in [0, 1]."""
        return min(1.0, self.step / self.total_steps) if self.total_steps > 0 else 0.0

    @property
    def queue_position(self) -> int | None:
        return self.slots.position(self.id) if self.status == QUEUED else None

    @property
    def active(self) -> bool:
        """Queued or running (the page keeps redrawing while this is true)."""
        return self.status in (QUEUED, RUNNING)

    @property
    def stop_requested(self) -> bool:
        return self.stop_event.is_set()

    @property
    def elapsed(self) -> float:
        if self.started_at is None:
            return 0.0
        return (self.finished_at or time.time()) - self.started_at

    def set_phase(self, text: str) -> None:
        self.phase = text

    def stop(self) -> None:
        """Ask the job to stop after the current step (or not to start, if queued)."""
        self.stop_event.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job has finished; True if it did within ``timeout``."""
        if self.thread is None:
            return not self.active
        self.thread.join(timeout)
        return not self.thread.is_alive()

    def describe(self) -> str:
        """One line for the page: what the job is doing now."""
        if self.status == QUEUED:
            pos = self.queue_position
            ahead = f"{pos - 1} job(s) ahead of yours" if pos else "starting"
            return f"Queued: other students are training ({ahead}). It starts by itself."
        if self.status == RUNNING:
            if self.step == 0:
                return f"Preparing: {self.phase}..."
            return f"Training: step {self.step} / {self.total_steps} ({self.elapsed:.0f} s)"
        if self.status == DONE:
            return f"Done: {self.step} steps in {self.elapsed:.0f} s."
        if self.status == STOPPED:
            return f"Stopped after {self.step} of {self.total_steps} steps; what was trained is kept."
        return f"Failed: {self.message}"


def _set_threads() -> None:
    """Torch's thread count is per OS thread: apply the policy in the job's own thread."""
    try:
        from .device import set_threads

        set_threads()
    except ImportError:  # pragma: no cover - torch missing: the fake trainers in tests
        pass


def _is_divergence(exc: BaseException) -> bool:
    return type(exc).__name__ == "DivergenceError"


def _run(job: Job, make_trainer: Callable, finish: Callable | None) -> None:
    if not job.slots.acquire(job.id, job.stop_event):
        job.status, job.finished_at = STOPPED, time.time()
        job.started_at = job.started_at or job.finished_at
        return
    trainer = None
    try:
        job.status, job.started_at = RUNNING, time.time()
        job.set_phase("preparing")
        _set_threads()
        trainer = make_trainer(job)
        job.set_phase("training")
        n_logged = 0
        while not trainer.done() and not job.stop_event.is_set():
            metrics = trainer.step()
            job.history.append(dict(metrics))
            logged = getattr(trainer, "samples", None)
            if isinstance(logged, list) and len(logged) > n_logged:
                job.samples.extend(logged[n_logged:])
                n_logged = len(logged)
            job.step += 1
        job.set_phase("finishing")
        if finish is not None:
            job.result = finish(trainer, job)
        job.status = STOPPED if job.stop_event.is_set() and not trainer.done() else DONE
    except Exception as exc:  # noqa: BLE001 - a job reports any failure instead of dying silently
        if _is_divergence(exc):
            job.message = str(exc)
            # The trainer restored the last good weights: keep them like a Stop would.
            if finish is not None and trainer is not None and job.step > 0:
                try:
                    job.result = finish(trainer, job)
                except Exception:  # noqa: BLE001
                    log.exception("finish() failed after a divergence")
        else:
            log.error("job %s (%s) failed:\n%s", job.id, job.name, traceback.format_exc())
            text = str(exc) or type(exc).__name__
            job.message = text if isinstance(exc, ValueError) else f"{type(exc).__name__}: {text}"
        job.status = FAILED
    finally:
        job.finished_at = time.time()
        job.slots.release(job.id)


def start(
    name: str,
    make_trainer: Callable[[Job], Any],
    total_steps: int,
    finish: Callable[[Any, Job], Any] | None = None,
    slots: JobSlots | None = None,
) -> Job:
    """Queue a job and start its thread; returns at once. See the module docstring."""
    job = Job(name=name, total_steps=int(total_steps), slots=slots or SLOTS)
    job.slots.enqueue(job.id)
    job.thread = threading.Thread(
        target=_run, args=(job, make_trainer, finish), name=f"rlhf-job-{job.id}-{name}", daemon=True
    )
    job.thread.start()
    return job
