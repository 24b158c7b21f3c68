"""Stale answers are dropped, never shown after newer ones (ndv's generation counter).

- :class:`LatestOnly` for anything a user can re-request before the previous
  answer arrives (the mean pattern of another scan, a reconstruction, the run
  list): each request gets the next generation; only the newest one's answer
  is delivered.
- :class:`Newest` for answers that a producer numbers itself (a training's
  previews, numbered by epoch): the view keeps the newest until it draws it,
  and anything numbered at or below what it already holds or drew is dropped.
  It is the app's one rule for stale previews.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QObject

from .manager import JobManager
from .runner import Job, Task

T = TypeVar("T")


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
        job = self._jobs.start(title or self._title, task, report_errors=False)
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


class Newest(Generic[T]):
    """The newest of numbered answers, held until taken (GUI thread only).

    ``offer(number, value)`` keeps ``value`` when ``number`` is above every number
    offered since the last :meth:`reset`, replacing a held value not yet taken;
    otherwise the value is stale. Both the stale and the replaced are counted in
    ``dropped``. So nothing older is ever taken after something newer.
    """

    def __init__(self) -> None:
        self.newest = 0
        self.dropped = 0
        self._held: T | None = None

    def offer(self, number: int, value: T) -> bool:
        """Hold ``value`` if it is the newest yet (True), else drop it (False)."""
        if number <= self.newest:
            self.dropped += 1
            return False
        if self._held is not None:
            self.dropped += 1
        self.newest, self._held = number, value
        return True

    def take(self) -> T | None:
        """The held value (then none is held), or None."""
        held, self._held = self._held, None
        return held

    def reset(self) -> None:
        """Start again from number 0 (a new run); a held value is dropped."""
        self.newest = 0
        self._held = None
