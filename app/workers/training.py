"""A training in a worker thread: the engine's observer calls become queued Qt signals.

The engine calls its ``TrainingObserver`` in the training thread. The observer
here only posts plain values (numbers, dicts, numpy arrays) through private
signals of a :class:`TrainingEvents` object that lives in the GUI thread; those
are queued to its slots, which re-emit the public signals there. So panels may
connect anything to the public signals, and nothing in the GUI thread waits
for torch.

Previews are latest-only: if the GUI thread has not taken a preview before the
next one is posted, the older one is dropped (never shown late, never out of
order).
"""

from __future__ import annotations

import gc
import threading
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal, Slot

import ptycho_engine
from ptycho_engine import PtychoConfig, Scan

from .runner import Task, TaskContext


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


class TrainingEvents(QObject):
    """One training's events, delivered in the GUI thread.

    - ``started(total_epochs, batches_per_epoch, device)``
    - ``lossFloor(train, validation)``: the lowest losses the data allow (validation None
      without a validation set)
    - ``epochFinished(record)``: dict with epoch, train_loss, val_loss (or None), lr,
      seconds, patterns_per_second
    - ``previewReady(epoch, image)``: (H, W) complex64 stitched object
    - ``finished(status, summary)``: 'finished' | 'cancelled' | 'time_limit', run facts
    - ``failed(message)``: the engine's message for the user
    - ``resultReady(result)``: the engine's TrainingResult (also after a cancel)
    """

    started = Signal(int, int, str)
    lossFloor = Signal(float, object)
    epochFinished = Signal(object)
    previewReady = Signal(int, object)
    finished = Signal(str, object)
    failed = Signal(str)
    resultReady = Signal(object)

    # emitted in the training thread, queued to the slots below
    _posted_started = Signal(int, int, str)
    _posted_floor = Signal(float, object)
    _posted_epoch = Signal(object)
    _posted_preview = Signal()
    _posted_finished = Signal(str, object)
    _posted_failed = Signal(str)
    _posted_result = Signal(object)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._lock = threading.Lock()
        self._latest_preview: tuple[int, np.ndarray] | None = None
        self._shown_epoch = 0
        self.previews_dropped = 0
        queued = Qt.ConnectionType.QueuedConnection
        self._posted_started.connect(self._on_started, queued)
        self._posted_floor.connect(self._on_floor, queued)
        self._posted_epoch.connect(self._on_epoch, queued)
        self._posted_preview.connect(self._on_preview, queued)
        self._posted_finished.connect(self._on_finished, queued)
        self._posted_failed.connect(self._on_failed, queued)
        self._posted_result.connect(self._on_result, queued)

    # ------------------------------------------------- called in the training thread
    def post_preview(self, epoch: int, image: np.ndarray) -> None:
        """Offer a preview; one not yet taken by the GUI thread is replaced (dropped)."""
        with self._lock:
            if self._latest_preview is not None:
                self.previews_dropped += 1
            self._latest_preview = (epoch, image)
        self._posted_preview.emit()

    # ------------------------------------------------------- slots (GUI thread)
    @Slot(int, int, str)
    def _on_started(self, total: int, batches: int, device: str) -> None:
        self.started.emit(total, batches, device)

    @Slot(float, object)
    def _on_floor(self, train: float, validation: float | None) -> None:
        self.lossFloor.emit(train, validation)

    @Slot(object)
    def _on_epoch(self, record: dict[str, Any]) -> None:
        self.epochFinished.emit(record)

    @Slot()
    def _on_preview(self) -> None:
        with self._lock:
            latest, self._latest_preview = self._latest_preview, None
        if latest is None:
            return  # a newer preview was already delivered by an earlier call
        epoch, image = latest
        if epoch <= self._shown_epoch:
            self.previews_dropped += 1
            return
        self._shown_epoch = epoch
        self.previewReady.emit(epoch, image)

    @Slot(str, object)
    def _on_finished(self, status: str, summary: dict[str, Any]) -> None:
        self.finished.emit(status, summary)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self.failed.emit(message)

    @Slot(object)
    def _on_result(self, result: Any) -> None:
        self.resultReady.emit(result)


def preview_image(amplitude: np.ndarray, phase: np.ndarray) -> np.ndarray:
    """(H, W) complex64 from the engine's preview amplitude and phase (H, W) float32, with
    NaN where nothing was stitched (amplitude exactly 0): such pixels are drawn transparent
    and do not pull the colour levels to zero. Runs in the training thread."""
    image = (amplitude * np.exp(1j * phase)).astype(np.complex64)
    image[amplitude == 0] = np.nan
    return image


def _make_observer(events: TrainingEvents, context: TaskContext) -> Any:
    """A TrainingObserver (built on first use: importing it imports torch) posting to
    ``events`` and reporting progress to the job."""
    from ptycho_engine import TrainingObserver

    class QtObserver(TrainingObserver):
        total_epochs = 0

        def training_started(self, total_epochs: int, batches_per_epoch: int,
                             device: str) -> None:
            self.total_epochs = total_epochs
            events._posted_started.emit(int(total_epochs), int(batches_per_epoch), device)
            context.report(0, total_epochs, f"Training on {device}…")

        def loss_floor(self, train: float, validation: float | None) -> None:
            events._posted_floor.emit(float(train),
                                      None if validation is None else float(validation))

        def epoch_finished(self, record: Any) -> None:
            events._posted_epoch.emit(record.to_dict())
            context.report(record.epoch, self.total_epochs,
                           f"Training: epoch {record.epoch} of {self.total_epochs}")

        def preview(self, epoch: int, amplitude: np.ndarray, phase: np.ndarray) -> None:
            events.post_preview(int(epoch), preview_image(amplitude, phase))

        def finished(self, status: str, summary: dict[str, Any]) -> None:
            events._posted_finished.emit(status, dict(summary))

        def failed(self, message: str) -> None:
            events._posted_failed.emit(message)

    return QtObserver()


def training_task(scan: Scan, config: PtychoConfig, events: TrainingEvents, *,
                  run_dir: Path, resume_from: Path | None = None) -> Task:
    """Train on ``scan`` with ``config`` into ``run_dir`` (continuing ``resume_from``).

    The job's cancel token stops the fit within one batch; the TrainingResult is
    posted to ``events.resultReady`` whether the run finished or was cancelled.
    """

    def task(context: TaskContext) -> Any:
        context.report(0, 0, f"Training: preparing {scan.name}…")
        from ptycho_engine import train

        result = train(scan, config, observer=_make_observer(events, context),
                       cancel=context.token, resume_from=resume_from, run_dir=run_dir)
        events._posted_result.emit(result)
        return result

    return task
