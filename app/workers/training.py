"""A training in a worker thread: the engine's observer calls become typed events.

The engine calls its ``TrainingObserver`` in the training thread; the observer
here turns each call into one typed event (``events``; an epoch is the
engine's ``EpochRecord`` as it is) and sends it with ``TaskContext.emit``, so
it arrives in the GUI thread on the job's ``event`` signal. The result (the
engine's TrainingResult, also after a Stop) and a failure arrive once each, as
the job's outcome; the observer's ``finished`` and ``failed`` are not needed.
"""

from __future__ import annotations

import gc
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

import ptycho_engine
from ptycho_engine import (
    BudgetClock,
    EpochRecord,
    PtychoConfig,
    Scan,
    TrainingObserver,
    TrainingStart,
    describe_budget,
)

from .events import LossFloor, Preview, TrainingStarted
from .runner import Task, TaskContext

if TYPE_CHECKING:
    from ptycho_engine import TrainingResult


def warm_up_training() -> None:
    """Import the training code (torch, Lightning) now, in the calling worker thread.

    Importing Lightning holds the GIL for long stretches (C-extension set-up,
    measured gaps of up to ~0.5 s in the GUI thread); doing it at start-up in the
    background keeps those stalls away from the moment the operator clicks Train.
    Follow it with :func:`freeze_startup_objects` in the GUI thread.
    """
    ptycho_engine.train  # noqa: B018 - the first access imports the training code


def freeze_startup_objects() -> None:
    """Move the ~500,000 objects torch and Lightning created out of the garbage
    collector's reach (``gc.freeze``): a full collection over them was measured at
    0.38 s, a visible GUI stall whenever one happened later. Call it in the GUI thread
    after :func:`warm_up_training`; no collection runs here (collections belong to the
    GUI thread's timer, see ``gui_gc``), and freezing itself takes microseconds."""
    gc.freeze()


class EventObserver(TrainingObserver):
    """Sends each training event through ``context`` (called in the training thread), and
    reports the job's progress: epochs when they end the run, else the time budget."""

    def __init__(self, context: TaskContext):
        self._context = context
        self._clock: BudgetClock | None = None

    def run_started(self, start: TrainingStart) -> None:
        self._clock = BudgetClock(start)
        self._context.emit(TrainingStarted.from_engine(start))
        self._context.report(0, 0, f"Training on {start.device}, {describe_budget(start)}…")

    def loss_floor(self, train: float, validation: float | None) -> None:
        self._context.emit(LossFloor(float(train),
                                     None if validation is None else float(validation)))

    def epoch_finished(self, record: EpochRecord) -> None:
        self._context.emit(record)
        if self._clock is None:
            return
        estimate = self._clock.estimate(record.epoch)
        if estimate.epochs_end_it:
            self._context.report(record.epoch, estimate.epoch_cap,
                                 f"Training: epoch {record.epoch} of {estimate.epoch_cap}")
        else:
            self._context.report(round(1000 * estimate.fraction_done), 1000,
                                 f"Training: epoch {record.epoch}, until the time limit")

    def preview(self, epoch: int, amplitude: np.ndarray, phase: np.ndarray) -> None:
        self._context.emit(Preview.from_engine(epoch, amplitude, phase))


def training_task(scan: Scan, config: PtychoConfig, *, run_dir: Path,
                  resume_from: Path | None = None) -> Task:
    """Train on ``scan`` with ``config`` into ``run_dir`` (continuing ``resume_from``).

    The job's cancel token stops the fit within one batch; the task then returns
    the TrainingResult so far (status 'cancelled'): start its job with
    ``keep_result_on_cancel``.
    """

    def task(context: TaskContext) -> TrainingResult:
        context.report(0, 0, f"Training: preparing {scan.name}…")
        from ptycho_engine import train

        return train(scan, config, observer=EventObserver(context), cancel=context.token,
                     resume_from=resume_from, run_dir=run_dir)

    return task
