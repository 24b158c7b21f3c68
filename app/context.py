"""What every panel gets: the session, the job manager and the error reporter (with dialogs).

Passing one small object keeps panel constructors short and lets a new panel
(e.g. the training dashboard) reach the same services as the existing ones.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtWidgets import QWidget

from .dialogs import Dialogs
from .errors import ErrorReporter
from .session import Session
from .workers import JobManager


@dataclass(frozen=True)
class AppContext:
    """The shared services of one main window."""

    session: Session
    jobs: JobManager
    reporter: ErrorReporter
    window: QWidget

    @property
    def dialogs(self) -> Dialogs:
        return self.reporter.dialogs
