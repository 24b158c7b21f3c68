"""Latest-request-wins jobs: answers to superseded requests are dropped (ndv's generation counter).

Use it for anything a user can re-request before the previous answer arrives:
the mean pattern of another scan, a preview, a reconstruction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject

from .manager import JobManager
from .runner import Job, Task


class LatestOnly(QObject):
    """Runs requests of one kind; only the newest request's result or error is delivered.

    Each request gets the next generation number; a new request cancels the
    running one (cooperatively) and any answer carrying an older number is
    ignored, so a slow old job can never overwrite a newer view.
    """

    def __init__(self, jobs: JobManager, title: str, parent: QObject | None = None):
        super().__init__(parent)
        self._jobs = jobs
        self._title = title
        self._generation = 0
        self._job: Job | None = None

    @property
    def generation(self) -> int:
        return self._generation

    @property
    def pending(self) -> bool:
        """True while the current request's job runs (its answer is still wanted)."""
        return self._job is not None and self._job.is_running

    def request(self, task: Task, on_result: Callable[[Any], None], *,
                title: str | None = None) -> Job:
        """Start ``task``; ``on_result(result)`` runs in the GUI thread if still current."""
        self.invalidate()
        generation = self._generation
        job = self._jobs.start(title or self._title, task, report_errors=False,
                               generation=generation)
        job.succeeded.connect(lambda result: self._deliver(generation, result, on_result))
        job.failed.connect(lambda error, details: self._fail(job, generation, error, details))
        job.done.connect(lambda: self._forget(job))
        self._job = job
        return job

    def invalidate(self) -> None:
        """Forget the current request: its answer will be dropped and its job cancelled."""
        self._generation += 1
        if self._job is not None and self._job.is_running:
            self._job.cancel()
        self._job = None

    def _forget(self, job: Job) -> None:
        if self._job is job:
            self._job = None

    def _deliver(self, generation: int, result: Any, on_result: Callable[[Any], None]) -> None:
        if generation == self._generation:
            self._job = None
            on_result(result)

    def _fail(self, job: Job, generation: int, error: Any, details: str) -> None:
        if generation == self._generation:
            self._job = None
            self._jobs.report_failure(job.title, error, details)
