"""Run a function in a QThread: the worker/thread wiring, cooperative cancel, GUI-side signals.

The wiring follows superqt's order: create the thread, move the worker to it,
connect ``started`` to the worker's run slot, connect the worker's
``finished`` to the thread's ``quit``, then start.
The worker's signals are emitted in the worker thread and connected only to
``@Slot`` methods of a :class:`Job`, which lives in the GUI thread and
re-emits them there; so code that uses a Job may connect plain lambdas.

Neither the worker nor the thread is deleted with ``deleteLater``: once the
thread has ended, the Job deletes both from Python in the GUI thread (see
``disposal`` for the deadlock that ``deleteLater`` in the worker thread caused).
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QThread, Signal, Slot

from ptycho_engine import CancelToken

from .disposal import dispose_later


class TaskContext:
    """What a task function receives: the cancel token and a progress reporter."""

    def __init__(self, token: CancelToken, report: Callable[[int, int, str], None]):
        self.token = token
        self._report = report

    @property
    def cancelled(self) -> bool:
        return self.token.cancelled

    def report(self, done: int, total: int, message: str = "") -> None:
        """Tell the GUI how far the work is; ``total == 0`` means "busy, size unknown"."""
        self._report(int(done), int(total), message)


Task = Callable[[TaskContext], Any]
"""A function run off the GUI thread: takes a TaskContext, returns the result."""


class _Worker(QObject):
    """Runs one task in its thread and reports through signals (emitted in that thread)."""

    progressed = Signal(int, int, str)
    succeeded = Signal(object)
    failed = Signal(object, str)
    cancelled = Signal()
    finished = Signal()

    def __init__(self, task: Task, token: CancelToken):
        super().__init__()
        self._task = task
        self._token = token

    @Slot()
    def run(self) -> None:
        context = TaskContext(self._token, self.progressed.emit)
        try:
            result = self._task(context)
        except Exception as error:  # noqa: BLE001 - every failure goes to the GUI's dialog
            if self._token.cancelled:
                self.cancelled.emit()
            else:
                self.failed.emit(error, traceback.format_exc())
        else:
            if self._token.cancelled:
                self.cancelled.emit()
            else:
                self.succeeded.emit(result)
        finally:
            self._task = None  # drop references to big inputs as soon as possible
            self.finished.emit()


class Job(QObject):
    """One task in its own QThread, seen from the GUI thread.

    Exactly one of ``succeeded(result)``, ``failed(error, traceback_text)`` or
    ``cancelled()`` is emitted, then ``done()`` once the thread has ended.
    ``generation`` is free for callers that drop stale answers (see
    :class:`app.workers.latest.LatestOnly`).
    """

    progress = Signal(int, int, str)
    succeeded = Signal(object)
    failed = Signal(object, str)
    cancelled = Signal()
    done = Signal()

    def __init__(self, title: str, task: Task, parent: QObject | None = None, *,
                 generation: int = 0):
        super().__init__(parent)
        self.title = title
        self.generation = generation
        self.message = title
        self._task: Task | None = task
        self._token = CancelToken()
        self._thread: QThread | None = None
        self._worker: _Worker | None = None
        self._running = False

    @property
    def is_running(self) -> bool:
        return self._running

    @property
    def is_cancelled(self) -> bool:
        return self._token.cancelled

    def start(self) -> Job:
        """Create the thread and the worker, wire them (superqt order) and start."""
        if self._task is None:
            raise RuntimeError(f"job {self.title!r} was already started")
        thread = QThread()
        thread.setObjectName(f"job: {self.title}")
        worker = _Worker(self._task, self._token)
        self._task = None
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.progressed.connect(self._on_progress)
        worker.succeeded.connect(self._on_succeeded)
        worker.failed.connect(self._on_failed)
        worker.cancelled.connect(self._on_cancelled)
        worker.finished.connect(thread.quit)
        thread.finished.connect(self._on_thread_finished)
        self._thread, self._worker = thread, worker
        self._running = True
        thread.start()
        return self

    def cancel(self) -> None:
        """Ask the task to stop; it stops at its next check and ``cancelled`` follows."""
        self._token.cancel()

    def wait(self, timeout_ms: int | None = None) -> bool:
        """Block until the thread has ended (True) or the timeout passed (False)."""
        thread = self._thread
        if thread is None or not shiboken6.isValid(thread):
            return True
        # The worker's finished -> thread.quit connection is queued to this (GUI) thread,
        # which is blocked here; quit directly so the thread's event loop cannot wait for it.
        thread.quit()
        return thread.wait() if timeout_ms is None else thread.wait(int(timeout_ms))

    # Slots run in the GUI thread: the worker's signals arrive queued.
    @Slot(int, int, str)
    def _on_progress(self, done: int, total: int, message: str) -> None:
        if message:
            self.message = message
        self.progress.emit(done, total, message)

    @Slot(object)
    def _on_succeeded(self, result: Any) -> None:
        self.succeeded.emit(result)

    @Slot(object, str)
    def _on_failed(self, error: Any, details: str) -> None:
        self.failed.emit(error, details)

    @Slot()
    def _on_cancelled(self) -> None:
        self.cancelled.emit()

    @Slot()
    def _on_thread_finished(self) -> None:
        thread, worker = self._thread, self._worker
        if thread is not None and shiboken6.isValid(thread):
            thread.wait()  # "finished" is emitted just before the thread really ends
        self._thread = None
        self._worker = None
        self._running = False
        dispose_later(worker, thread)
        self.done.emit()


def run_in_thread(title: str, task: Task, parent: QObject, *,
                  on_success: Callable[[Any], None] | None = None,
                  on_failure: Callable[[Any, str], None] | None = None,
                  on_progress: Callable[[int, int, str], None] | None = None) -> Job:
    """Start ``task`` in a new QThread and return its Job, owned by ``parent``.

    The parent keeps the Job (and so its thread) alive; it must not be deleted
    before the Job's ``done``. The callbacks run in the GUI thread. Prefer
    :meth:`JobManager.start`, which also shows progress and reports failures.
    """
    job = Job(title, task, parent)
    if on_success is not None:
        job.succeeded.connect(on_success)
    if on_failure is not None:
        job.failed.connect(on_failure)
    if on_progress is not None:
        job.progress.connect(on_progress)
    return job.start()
