"""The training dashboard: Train / Stop / Export, progress with speed and ETA, live curves,
and the live stitched preview.

A view on the TrainingController: everything arrives as GUI-thread signals
carrying typed events; curves and previews are redrawn on one throttle timer,
and only the newest preview is drawn (``Newest``: a preview older than one
already held or drawn is dropped). The preview keeps the operator's zoom and
levels across updates.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ptycho_engine import BudgetClock, TrainingStart, describe_budget, format_limit

from ..context import AppContext
from ..dialogs import BUNDLE_FILTER
from ..model_text import format_bytes, format_duration, format_loss
from ..session import ModelEntry
from ..training_control import RunStart, TrainingController
from ..widgets.amplitude_phase import AmplitudePhaseView
from ..widgets.convergence_banner import ConvergenceBanner
from ..widgets.training_plots import TrainingPlots
from ..workers import Job, LossFloor, Newest, Preview, TrainingStarted
from ..workers.model_tasks import ExportedBundle, export_bundle_task

if TYPE_CHECKING:
    from ptycho_engine import Convergence, EpochRecord

BUNDLE_SUFFIX = ".ptyz"
TIME_STEPS = 1000
"""Steps of the progress bar while a time limit ends the run (it then shows time)."""


def default_bundle_name(scan_name: str, when: datetime | None = None) -> str:
    """``<scan>-<YYYYmmdd-HHMM>.ptyz``."""
    return f"{scan_name}-{(when or datetime.now()).strftime('%Y%m%d-%H%M')}{BUNDLE_SUFFIX}"


class TrainingDashboard(QWidget):
    """Buttons, progress, curves (``lossPlot``, ``lrPlot``) and ``previewView``."""

    def __init__(self, context: AppContext, controller: TrainingController,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("trainingDashboard")
        self.context = context
        self.controller = controller
        self._build()
        self._total_epochs = 0
        self._first_epoch = 0
        self._epoch_seconds: list[float] = []
        self._time_limit_s: float | None = None
        self._by_epochs = True  # the last estimate: the epochs (not the time limit) end it
        self.budget_clock: BudgetClock | None = None
        self._floor: LossFloor | None = None
        self.previews: Newest[Preview] = Newest()
        self.preview_epoch = 0
        self.previews_drawn = 0
        self._scan_name = ""

        session = context.session
        self.train_button.setEnabled(session.training_allowed)
        session.trainingAllowedChanged.connect(self.train_button.setEnabled)
        session.modelChanged.connect(self._on_model)
        self.train_button.clicked.connect(self._on_train_clicked)
        self.stop_button.clicked.connect(controller.stop)
        self.export_button.clicked.connect(self.choose_and_export)
        controller.runStarted.connect(self._on_run_started)
        controller.started.connect(self._on_started)
        controller.lossFloor.connect(self._on_loss_floor)
        controller.epochFinished.connect(self._on_epoch)
        controller.previewReady.connect(self._on_preview)
        controller.runEnded.connect(self._on_run_ended)
        controller.assessed.connect(self._on_assessed)
        self.plots.redrawn.connect(self._draw_preview)

    # ------------------------------------------------------------------ build
    def _build(self) -> None:
        self.progress = QProgressBar()
        self.progress.setObjectName("trainingProgress")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("idle")
        self.status_label = QLabel("Select a scan and click Train.")
        self.status_label.setObjectName("trainingStatus")
        self.status_label.setWordWrap(True)
        self.verdict_label = ConvergenceBanner("convergenceVerdict")
        self.export_label = QLabel("")
        self.export_label.setObjectName("exportInfo")
        self.export_label.setWordWrap(True)
        self.export_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(self._build_buttons())
        layout.addWidget(self.progress)
        layout.addWidget(self.status_label)
        layout.addWidget(self.verdict_label)
        layout.addWidget(self._build_views(), stretch=1)
        layout.addWidget(self.export_label)

    def _build_buttons(self) -> QHBoxLayout:
        self.train_button = QPushButton("Train")
        self.train_button.setObjectName("trainButton")
        self.train_button.setToolTip("Train PtychoPINN on the selected scan with the settings of "
                                     "the Config panel (needs a valid config)")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("stopButton")
        self.stop_button.setToolTip("Stop within one batch; the last finished epoch's "
                                    "checkpoint is kept and the run can be resumed")
        self.stop_button.setEnabled(False)
        self.export_button = QPushButton("Export model…")
        self.export_button.setObjectName("exportButton")
        self.export_button.setToolTip("Write the trained model as a bundle (.ptyz) that "
                                      "`ptycho-engine reconstruct` and Load Model… read")
        self.export_button.setEnabled(False)
        self.device_label = QLabel("Device: —")
        self.device_label.setObjectName("trainingDevice")
        buttons = QHBoxLayout()
        for widget in (self.train_button, self.stop_button, self.export_button):
            buttons.addWidget(widget)
        buttons.addStretch(1)
        buttons.addWidget(self.device_label)
        return buttons

    def _build_views(self) -> QSplitter:
        """The curves (with the latest losses) over the preview."""
        self.loss_label = QLabel(" ")
        self.loss_label.setObjectName("lossValues")
        self.plots = TrainingPlots()
        self.preview_label = QLabel("Preview: none yet")
        self.preview_label.setObjectName("previewLabel")
        self.preview_view = AmplitudePhaseView()
        self.preview_view.setObjectName("previewView")
        curves = QWidget()
        curves_layout = QVBoxLayout(curves)
        curves_layout.setContentsMargins(0, 0, 0, 0)
        curves_layout.addWidget(self.plots, stretch=1)
        curves_layout.addWidget(self.loss_label)
        preview = QWidget()
        preview_layout = QVBoxLayout(preview)
        preview_layout.setContentsMargins(0, 0, 0, 0)
        preview_layout.addWidget(self.preview_label)
        preview_layout.addWidget(self.preview_view, stretch=1)
        curves.setMinimumHeight(240)
        preview.setMinimumHeight(260)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(curves)
        splitter.addWidget(preview)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        return splitter

    # ---------------------------------------------------------------- actions
    @Slot()
    def _on_train_clicked(self) -> None:
        with self.context.reporter.guard("Train"):
            self.controller.start()

    @Slot(object)
    def _on_model(self, model: ModelEntry | None) -> None:
        self.export_button.setEnabled(model is not None and model.kind in ("training", "run"))

    @Slot()
    def choose_and_export(self) -> None:
        """Ask where to write the current model's bundle, then write it in a worker."""
        model = self.context.session.model
        if model is None or model.kind not in ("training", "run"):
            return
        scan = (self.context.session.entry(model.scan_key)
                if model.scan_key is not None else None)
        folder = scan.path.parent if scan is not None else Path.home()
        name = default_bundle_name(scan.name if scan is not None else
                                   (model.run_dir.name if model.run_dir else "model"))
        path = self.context.dialogs.save_file(self.context.window, "Export model",
                                              BUNDLE_FILTER, str(folder / name))
        if path is not None:
            self.export_model(model, path)

    def export_model(self, model: ModelEntry, path: Path) -> Job:
        """Write ``model`` as a bundle at ``path`` (``.ptyz`` added when missing)."""
        path = Path(path)
        if path.suffix != BUNDLE_SUFFIX:
            path = path.with_name(path.name + BUNDLE_SUFFIX)
        self.export_label.setText(f"Writing {path.name}…")
        return self.context.jobs.start("Export model", export_bundle_task(model.source, path),
                                       on_success=self._on_exported,
                                       message=f"Writing {path.name}…")

    def _on_exported(self, written: ExportedBundle) -> None:
        text = f"Wrote {written.path} ({format_bytes(written.size)})"
        self.export_label.setText(text)
        self.context.window.statusBar().showMessage(text, 8000)

    # ------------------------------------------------------------- run events
    @Slot(object)
    def _on_run_started(self, start: RunStart) -> None:
        self._total_epochs = start.epochs
        self._first_epoch = 0
        self._epoch_seconds = []
        self._time_limit_s = start.time_limit_s
        self._by_epochs = start.time_limit_s is None
        self.budget_clock = None
        self._floor = None
        self.verdict_label.clear_verdict()
        self.previews.reset()
        self.preview_epoch = 0
        self._scan_name = start.scan_name
        self.plots.clear()
        self.stop_button.setEnabled(True)
        self.progress.setRange(0, max(start.epochs, 1))
        self.progress.setValue(0)
        self.progress.setFormat("preparing the data…")
        verb = "Resuming" if start.resumed else "Training"
        self.status_label.setText(f"{verb} {start.run_dir.name} on {start.scan_name} "
                                  f"(run folder {start.run_dir})")
        self.loss_label.setText(" ")
        self.preview_label.setText("Preview: waiting for the first epoch…")

    @Slot(object)
    def _on_started(self, started: TrainingStarted) -> None:
        total = started.total_epochs
        self._total_epochs = total
        self._time_limit_s = started.time_limit_s
        self.budget_clock = BudgetClock(started.to_engine())
        self.device_label.setText(f"Device: {started.device}")
        if started.time_limit_s is None:
            self.progress.setRange(0, max(total, 1))
            self.progress.setFormat(f"epoch 0 of {total} · {started.batches_per_epoch} "
                                    "batches per epoch")
        else:
            self.progress.setRange(0, TIME_STEPS)
            self.progress.setFormat(f"epoch {started.epochs_done} · "
                                    f"{describe_budget(started.to_engine())} · "
                                    f"{started.batches_per_epoch} batches per epoch")

    @Slot(object)
    def _on_loss_floor(self, floor: LossFloor) -> None:
        self._floor = floor
        self.plots.set_loss_floor(floor.train, floor.validation)

    @Slot(object)
    def _on_epoch(self, record: EpochRecord) -> None:
        epoch = record.epoch
        if not self._epoch_seconds:
            self._first_epoch = epoch - 1
        self._epoch_seconds.append(float(record.seconds))
        self.plots.add_epoch(record)
        total = max(self._total_epochs, epoch)
        if self.budget_clock is None:  # no start event seen: count from this epoch
            self.budget_clock = BudgetClock(TrainingStart(total, 0, "", self._time_limit_s,
                                                    epoch - 1))
        estimate = self.budget_clock.estimate(epoch)
        self._by_epochs = estimate.epochs_end_it
        eta = format_duration(estimate.remaining_s)
        speed = f"{record.patterns_per_second:,.0f} patterns/s"
        if estimate.epochs_end_it:
            self.progress.setRange(0, total)
            self.progress.setValue(epoch)
            self.progress.setFormat(f"epoch {epoch} of {total} · {speed} · ETA {eta}")
        else:
            self.progress.setRange(0, TIME_STEPS)
            self.progress.setValue(round(TIME_STEPS * estimate.fraction_done))
            self.progress.setFormat(f"epoch {epoch} · {speed} · ETA {eta} (time limit "
                                    f"{format_limit(self._time_limit_s or 0.0)})")
        self.loss_label.setText(f"epoch {epoch}: train loss {format_loss(record.train_loss)}, "
                                f"validation {format_loss(record.val_loss)}"
                                f"{self._excess_text(record)}, learning rate "
                                f"{record.lr:.3g}, {record.seconds:.1f} s")

    def _excess_text(self, record: EpochRecord) -> str:
        """' (3.1 above its floor)': how far the judged loss (validation, else training) is
        from the lowest loss the data allow; '' before the floor is known."""
        floor = self._floor
        if floor is None:
            return ""
        if record.val_loss is not None and floor.validation is not None:
            return f" ({record.val_loss - floor.validation:.3g} above its floor)"
        return f" (training {record.train_loss - floor.train:.3g} above its floor)"

    @Slot(object)
    def _on_assessed(self, convergence: Convergence) -> None:
        """The engine's verdict on the fit that just ended, with its reasons and advice."""
        self.verdict_label.show_verdict(convergence)

    @Slot(object)
    def _on_preview(self, preview: Preview) -> None:
        """Hold the newest preview (older ones are dropped); the next throttled redraw
        draws it."""
        if self.previews.offer(preview.epoch, preview):
            self.plots.schedule_redraw()

    @Slot()
    def _draw_preview(self) -> None:
        preview = self.previews.take()
        if preview is None:
            return
        self.preview_view.set_image(preview.image)  # keeps zoom (same size) and hand-set levels
        self.preview_epoch = preview.epoch
        self.previews_drawn += 1
        self.preview_label.setText(f"Preview after epoch {preview.epoch} (stitched amplitude "
                                   f"and phase of {self._scan_name})")

    @Slot(str, str)
    def _on_run_ended(self, status: str, message: str) -> None:
        self.plots.redraw()
        self._draw_preview()
        self.stop_button.setEnabled(False)
        last = self._first_epoch + self.plots.epochs
        total = max(self._total_epochs, last)
        clock = self.budget_clock  # wall time, as the budget counts it; else the epochs'
        spent = format_duration(time.monotonic() - clock.started if clock is not None
                                else sum(self._epoch_seconds))
        if status == "failed":
            self.progress.setFormat(f"failed at epoch {last + 1} of {total}")
            self.status_label.setText(f"Training failed: {message}")
        else:
            by_epochs = status == "finished" or (status != "time_limit" and self._by_epochs)
            if status in ("finished", "time_limit"):
                self.progress.setRange(0, total if by_epochs else TIME_STEPS)
                self.progress.setValue(self.progress.maximum())
            of_total = f" of {total}" if by_epochs else ""
            self.progress.setFormat(f"{status.replace('_', ' ')}: epoch {last}{of_total} "
                                    f"({spent} of training)")
            self.status_label.setText(f"Training {message}. The model is in the Reconstruction "
                                      "panel; Export model… writes it as a bundle.")
