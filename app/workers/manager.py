"""The window's register of running jobs: keeps them alive, shows progress, stops them on close."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from .disposal import dispose_later
from .events import Progress
from .runner import Job, Task


class JobManager(QObject):
    """Starts jobs, knows which still run, and reports their failures in one place.

    ``activityChanged`` fires when a job starts, reports progress or ends, so a
    status bar can show ``status()``; ``jobFailed(title, error, details)`` is
    what the error dialog listens to.
    """

    activityChanged = Signal()
    jobFailed = Signal(str, object, str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._running: list[Job] = []

    def start(self, title: str, task: Task, *,
              on_success: Callable[[Any], None] | None = None,
              report_errors: bool = True, message: str | None = None,
              keep_result_on_cancel: bool = False) -> Job:
        """Run ``task`` in a thread; failures go to ``jobFailed`` unless ``report_errors``
        is False (the caller then handles ``job.failed`` itself). ``message`` is shown in
        the status bar until the task reports its own. The job's signals are queued from
        its thread, so connections made right after this returns miss nothing."""
        job = Job(title, task, self, keep_result_on_cancel=keep_result_on_cancel)
        if message:
            job.message = message
        if on_success is not None:
            job.succeeded.connect(on_success)
        if report_errors:
            job.failed.connect(lambda error, details: self.report_failure(title, error,
                                                                          details))
        job.event.connect(self._on_event)
        job.done.connect(lambda: self._on_done(job))
        self._running.append(job)
        job.start()
        self.activityChanged.emit()
        return job

    def report_failure(self, title: str, error: Any, details: str) -> None:
        """Send a failure to whoever shows errors (the main window's reporter)."""
        self.jobFailed.emit(title, error, details)

    def running(self) -> list[Job]:
        return list(self._running)

    @property
    def busy(self) -> bool:
        return bool(self._running)

    def status(self) -> tuple[str, int, int]:
        """(message, done, total) of the newest running job; ('', 0, 0) when idle."""
        if not self._running:
            return "", 0, 0
        job = self._running[-1]
        more = f" (+{len(self._running) - 1} more)" if len(self._running) > 1 else ""
        return job.message + more, job.progress.done, job.progress.total

    def cancel_all(self) -> None:
        """Ask every running job to stop (cooperatively); returns at once."""
        for job in self._running:
            job.cancel()

    def stop_all(self, timeout_ms: int | None = None) -> bool:
        """Cancel every job and wait for its thread to end; True when all ended in time."""
        self.cancel_all()
        ended = True
        for job in list(self._running):
            ended = job.wait(timeout_ms) and ended
        return ended

    @Slot(object)
    def _on_event(self, event: object) -> None:
        if isinstance(event, Progress):
            self.activityChanged.emit()

    def _on_done(self, job: Job) -> None:
        if job in self._running:
            self._running.remove(job)
        dispose_later(job)  # not deleteLater: see disposal
        self.activityChanged.emit()
