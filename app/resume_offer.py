"""Offering, at the next start, to resume the training the last session left unfinished.

The run being trained is recorded in the settings store when it starts and
forgotten when it ends (finished, stopped with Stop, failed). A close during
training keeps the record, and so do a crash or a kill, where no code runs at
all; the run folder's own run.json then says 'cancelled' or still 'running'.
At the next start the window asks once; Yes opens the run's scan and resumes
it from its last checkpoint, No forgets the record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Slot

from ptycho_engine import PtychoError, RunFolder

from .context import AppContext
from .settings import SettingsStore
from .training_control import RunStart, TrainingController
from .workers import Job


@dataclass(frozen=True)
class InterruptedRun:
    """A run that stopped before its planned epochs with a checkpoint to continue from."""

    run_dir: Path
    scan_path: Path | None
    epochs_done: int
    epochs_planned: int

    @property
    def question(self) -> str:
        scan = self.scan_path.name if self.scan_path is not None else "a scan without a file"
        return (f"Resume {self.run_dir.name}, interrupted at epoch {self.epochs_done} of "
                f"{self.epochs_planned} on {scan}?")


def interrupted_run(run_dir: Path) -> InterruptedRun | None:
    """``run_dir`` as an interrupted run, or None when it ended, is gone or has no checkpoint."""
    run = RunFolder(run_dir)
    if not run.interrupted():
        return None
    return InterruptedRun(run.path, Path(run.source) if run.source else None,
                          run.epochs_done(), run.planned_epochs() or 0)


class ResumeOffer(QObject):
    """Keeps the settings' record of the run in training; :meth:`offer` asks about it once."""

    def __init__(self, context: AppContext, controller: TrainingController,
                 settings: SettingsStore, open_files: Callable[[list[Path]], list[Job]],
                 parent: QObject | None = None):
        super().__init__(parent)
        self.context = context
        self.controller = controller
        self.settings = settings
        self._open_files = open_files
        self._closing = False
        self.offered = False
        controller.runStarted.connect(self._on_run_started)
        controller.runEnded.connect(self._on_run_ended)

    @Slot(object)
    def _on_run_started(self, start: RunStart) -> None:
        self.settings.set_unfinished_run(start.run_dir)

    @Slot(str, str)
    def _on_run_ended(self, _status: str, _message: str) -> None:
        if not self._closing:
            self.settings.set_unfinished_run(None)

    def keep_for_next_start(self) -> None:
        """The window closes during a training: its record stays for the next start."""
        self._closing = True

    @Slot()
    def offer(self) -> None:
        """Ask (once per window) whether to resume the recorded run, if it was interrupted."""
        if self.offered or self.controller.running:
            return
        self.offered = True
        run_dir = self.settings.unfinished_run()
        if run_dir is None:
            return
        self.settings.set_unfinished_run(None)  # asked once; a resumed run records itself again
        run = interrupted_run(run_dir)
        if run is None or not self.context.dialogs.confirm(self.context.window,
                                                           "Resume training", run.question):
            return
        self._open_scan_then_resume(run)

    def _open_scan_then_resume(self, run: InterruptedRun) -> None:
        with self.context.reporter.guard("Resume training"):
            where = (f"Open the scan it was trained on, select {run.run_dir.name} in the Runs "
                     "panel and press Resume.")
            if run.scan_path is None:
                raise PtychoError(f"{run.run_dir.name} records no scan file. {where}")
            if not run.scan_path.is_file():
                raise PtychoError(f"{run.scan_path}: the scan of {run.run_dir.name} is no "
                                  f"longer there. {where}")
            jobs = self._open_files([run.scan_path])
            if jobs:  # opening; a file that fails to open gets the usual error dialog
                jobs[0].succeeded.connect(lambda _loaded: self._resume_on_scan(run))
            else:  # already open, and now selected
                self._resume_on_scan(run)

    def _resume_on_scan(self, run: InterruptedRun) -> None:
        session = self.context.session
        entry = session.find_path(run.scan_path) if run.scan_path is not None else None
        if entry is None:
            return
        session.select_scan(entry.key)
        self.controller.resume(run.run_dir)
