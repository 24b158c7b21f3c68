"""Run a function in a QThread: one worker, its typed events, the result or the error once.

The model is superqt's worker (``superqt.utils._qthreading``): one worker
object whose signals carry the task's events in order, then exactly one
outcome, then ``finished``. The wiring follows superqt's order: create the
thread, move the worker to it, connect ``started`` to the worker's run slot,
connect the worker's ``finished`` to the thread's ``quit``, then start.
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
from .events import Progress


class TaskContext:
    """What a task function receives: the cancel token and the way to send events."""

    def __init__(self, token: CancelToken, emit: Callable[[object], None]):
        self.token = token
        self._emit = emit

    @property
    def cancelled(self) -> bool:
        return self.token.cancelled

    def emit(self, event: object) -> None:
        """Send a typed event (see ``events``) to the GUI thread; it arrives on ``Job.event``."""
        self._emit(event)

    def report(self, done: int, total: int, message: str = "") -> None:
        """Tell the GUI how far the work is; ``total == 0`` means "busy, size unknown"."""
        self._emit(Progress(int(done), int(total), message))


Task = Callable[[TaskContext], Any]
"""A function run off the GUI thread: takes a TaskContext, returns the result."""


class _Worker(QObject):
    """Runs one task in its thread: its events, then one of ``succeeded``, ``failed`` or
    ``cancelled``, then ``finished`` (all emitted in that thread)."""

    event = Signal(object)
    succeeded = Signal(object)
    failed = Signal(object, str)
    cancelled = Signal()
    finished = Signal()

    def __init__(self, task: Task, token: CancelToken, keep_result_on_cancel: bool):
        super().__init__()
        self._task: Task | None = task
        self._token = token
        self._keep_result_on_cancel = keep_result_on_cancel

    @Slot()
    def run(self) -> None:
        context = TaskContext(self._token, self.event.emit)
        try:
            result = self._task(context)
        except Exception as error:  # noqa: BLE001 - every failure goes to the GUI's dialog
            if self._token.cancelled:
                self.cancelled.emit()
            else:
                self.failed.emit(error, traceback.format_exc())
        else:
            if self._token.cancelled and not self._keep_result_on_cancel:
                self.cancelled.emit()
            else:
                self.succeeded.emit(result)
        finally:
            self._task = None  # drop references to big inputs as soon as possible
            self.finished.emit()


class Job(QObject):
    """One task in its own QThread, seen from the GUI thread.

    ``event(e)`` carries each typed event the task sends, in order (``Progress``
    also updates :attr:`progress` and :attr:`message`). Then exactly one of
    ``succeeded(result)``, ``failed(error, traceback_text)`` or ``cancelled()`` is
    emitted, and ``done()`` once the thread has ended. After :meth:`cancel` the
    result is dropped (``cancelled``), unless ``keep_result_on_cancel``: a task
    that stops early on a cancel and returns what it has (a training) delivers that.
    """

    event = Signal(object)
    succeeded = Signal(object)
    failed = Signal(object, str)
    cancelled = Signal()
    done = Signal()

    def __init__(self, title: str, task: Task, parent: QObject | None = None, *,
                 keep_result_on_cancel: bool = False):
        super().__init__(parent)
        self.title = title
        self.message = title
        self.progress = Progress(0, 0)
        self._task: Task | None = task
        self._keep_result_on_cancel = keep_result_on_cancel
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
        worker = _Worker(self._task, self._token, self._keep_result_on_cancel)
        self._task = None
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.event.connect(self._on_event)
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
        """Ask the task to stop; it stops at its next check."""
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
    @Slot(object)
    def _on_event(self, event: object) -> None:
        if isinstance(event, Progress):
            self.progress = event
            if event.message:
                self.message = event.message
        self.event.emit(event)

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
                  on_failure: Callable[[Any, str], None] | None = None) -> Job:
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
    return job.start()
