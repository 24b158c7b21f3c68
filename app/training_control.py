"""Starting, stopping and resuming trainings: one at a time, each in its own run folder.

The training dashboard (Train, Stop) and the run list (Resume) both call this
controller; it runs the engine in a job, keeps the session's running state,
and makes a finished or cancelled run the session's model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal, Slot

from ptycho_engine import EpochRecord, PtychoConfig, PtychoError, RunFolder, with_overrides

from .context import AppContext
from .model_text import describe_run
from .runs import new_run_dir, read_run, train_losses
from .session import ModelEntry, ScanEntry
from .workers import Job, LossFloor, Preview, TrainingStarted
from .workers.training import training_task

if TYPE_CHECKING:
    from ptycho_engine import Convergence, TrainingResult


@dataclass(frozen=True)
class RunStart:
    """What the dashboard shows when a run begins."""

    run_dir: Path
    scan_name: str
    epochs: int
    resumed: bool
    time_limit_s: float | None = None


class TrainingController(QObject):
    """One training at a time on the selected scan; its typed events as GUI-thread signals.

    Signals: ``runStarted(RunStart)``, ``started(TrainingStarted)``,
    ``lossFloor(LossFloor)``, ``epochFinished(EpochRecord)``, ``previewReady(Preview)``
    (every preview, in order; the dashboard draws the newest), and
    ``assessed(Convergence)``: the engine's verdict on the fit, when a run ended with
    at least one epoch (before ``runEnded``), and
    ``runEnded(status, message)`` with status 'finished', 'cancelled', 'time_limit'
    or 'failed', once the training thread has ended.
    """

    assessed = Signal(object)
    runStarted = Signal(object)
    started = Signal(object)
    lossFloor = Signal(object)
    epochFinished = Signal(object)
    previewReady = Signal(object)
    runEnded = Signal(str, str)

    def __init__(self, context: AppContext, runs_folder: Path, parent: QObject | None = None):
        super().__init__(parent)
        self.context = context
        self.runs_folder = Path(runs_folder)
        self.job: Job | None = None
        self.run_dir: Path | None = None
        self._scan_key: int | None = None
        self._ending: tuple[str, str] | None = None
        self._signals = {TrainingStarted: self.started, LossFloor: self.lossFloor,
                         EpochRecord: self.epochFinished, Preview: self.previewReady}

    @property
    def running(self) -> bool:
        return self.job is not None

    # ---------------------------------------------------------------- start
    def start(self) -> Job | None:
        """Train the selected scan with the current config in a new run folder."""
        session = self.context.session
        entry = session.current_scan()
        if entry is None or not session.training_allowed or self.running:
            return None
        return self._launch(entry, session.config, new_run_dir(self.runs_folder, entry.name),
                            resume_from=None)

    def resume(self, run_dir: Path) -> Job | None:
        """Continue ``run_dir`` from its last checkpoint on the selected scan.

        A stopped run continues to its own planned epochs; a finished one to the
        Config panel's ``training.epochs``. Asks first when the run was trained on
        a scan of another name.
        """
        with self.context.reporter.guard("Resume training"):
            session = self.context.session
            entry = session.current_scan()
            if self.running:
                return None
            if entry is None:
                raise PtychoError("select the scan to continue training on, then Resume")
            run = RunFolder(run_dir)
            problem = run.resume_problem()
            if problem:
                raise PtychoError(problem)
            record = read_run(run_dir)
            config = run.read_config()
            target = self._resume_epochs(record.status, record.epochs, config)
            if record.source and Path(record.source).stem != Path(entry.path).stem:
                question = (f"{Path(run_dir).name} was trained on {record.source}. Continue "
                            f"it on {entry.path.name}?")
                if not self.context.dialogs.confirm(self.context.window, "Resume training",
                                                    question):
                    return None
            config = with_overrides(config, {"training.epochs": target})
            return self._launch(entry, config, Path(run_dir), resume_from=Path(run_dir))
        return None

    def _resume_epochs(self, status: str, done: int, config: PtychoConfig) -> int:
        planned = config.training.epochs
        if status != "finished" and planned > done:
            return planned
        wanted = self.context.session.config.training.epochs
        if wanted <= done:
            raise PtychoError(f"this run already has {done} epochs; set training.epochs above "
                              f"{done} in the Config panel to train it further")
        return wanted

    def _launch(self, entry: ScanEntry, config: PtychoConfig, run_dir: Path, *,
                resume_from: Path | None) -> Job:
        self.runs_folder.mkdir(parents=True, exist_ok=True)
        task = training_task(entry.scan, config, run_dir=run_dir, resume_from=resume_from)
        self.run_dir, self._scan_key, self._ending = run_dir, entry.key, None
        job = self.context.jobs.start("Training", task, message=f"Training on {entry.name}…",
                                      keep_result_on_cancel=True)
        job.event.connect(self._on_event)
        job.succeeded.connect(self._on_result)
        job.failed.connect(self._on_failed)
        job.done.connect(self._on_done)
        self.job = job
        self.context.session.set_training_running(True)
        limit = config.training.time_limit_min * 60
        self.runStarted.emit(RunStart(run_dir, entry.name, config.training.epochs,
                                      resume_from is not None, limit if limit > 0 else None))
        return job

    # ----------------------------------------------------------------- stop
    @Slot()
    def stop(self) -> None:
        """Ask the training to stop; it ends within one batch, keeping the last checkpoint."""
        if self.job is not None:
            self.job.cancel()

    # --------------------------------------------------------------- events
    @Slot(object)
    def _on_event(self, event: object) -> None:
        """Each typed training event to its signal (``Progress`` is the status bar's)."""
        signal = self._signals.get(type(event))
        if signal is not None:
            signal.emit(event)

    # -------------------------------------------------------------- endings
    @Slot(object, str)
    def _on_failed(self, error: Exception, _details: str) -> None:
        """The engine's message ends the run (the job manager shows the dialog)."""
        self._ending = ("failed", str(error))

    @Slot(object)
    def _on_result(self, result: TrainingResult) -> None:
        """The run's ending; the trained model becomes current (when an epoch finished)."""
        verb = ("reached its time limit" if result.status == "time_limit"
                else result.status.replace("_", " "))
        self._ending = (result.status, f"{verb} after {len(result.history)} epochs")
        if not result.history:
            return
        run_dir = Path(result.run_dir)
        info = dict(result.info, status=result.status)
        config_text = RunFolder(run_dir).config_text() or ""
        epochs = len(result.history)
        convergence = getattr(result, "convergence", None)
        if convergence is not None:
            self.assessed.emit(convergence)
        self.context.session.set_model(ModelEntry(
            kind="training", label=model_label(run_dir.name, result.status, epochs, convergence),
            source=result, N=result.config.data.N, run_dir=run_dir, probe=result.probe,
            train_losses=tuple(r.train_loss for r in result.history),
            details=describe_run(run_dir, info, config_text), scan_key=self._scan_key,
            convergence=convergence))

    @Slot()
    def _on_done(self) -> None:
        status, message = self._ending or ("cancelled", "cancelled before training started")
        self.job = None
        self.context.session.set_training_running(False)
        self.runEnded.emit(status, message)


def run_model_entry(run_dir: Path) -> ModelEntry:
    """A ModelEntry for a run folder (its best checkpoint), for the run list's "Use model"."""
    record = read_run(run_dir)
    if not record.has_checkpoint:
        raise PtychoError(f"{run_dir}: no checkpoint; the run never finished an epoch")
    run = RunFolder(run_dir)
    config = run.read_config()
    convergence = run.convergence()
    info = dict(run.info_or_empty() or {"status": record.status},
                convergence=convergence.to_dict())
    return ModelEntry(kind="run",
                      label=model_label(Path(run_dir).name, record.status, record.epochs,
                                        convergence),
                      source=Path(run_dir), N=config.data.N, run_dir=Path(run_dir),
                      train_losses=train_losses(Path(run_dir)),
                      details=describe_run(run_dir, info, record.config_text),
                      convergence=convergence)


def model_label(name: str, status: str, epochs: int, convergence: Convergence | None) -> str:
    """'run-1 (time limit, 12 epochs, NOT CONVERGED)': the verdict travels with the name."""
    verdict = f", {convergence.headline}" if convergence is not None else ""
    return f"{name} ({status.replace('_', ' ')}, {epochs} epochs{verdict})"
