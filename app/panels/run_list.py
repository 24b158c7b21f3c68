"""The run list: every training run of the app with its status, final losses and config.

Select a run to see its config; Resume continues it from its last checkpoint
on the selected scan; Use model makes its best checkpoint the model the
Reconstruction panel uses. The folders are read in a worker whenever a run
starts or ends.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..context import AppContext
from ..model_text import format_duration, format_loss
from ..runs import RunRecord
from ..training_control import TrainingController, run_model_entry
from ..workers import LatestOnly
from ..workers.model_tasks import list_runs_task

COLUMNS = ("run", "status", "epochs", "train loss", "val loss", "scan", "time")


class RunList(QWidget):
    """``runTable`` of run folders, ``runConfig`` of the selected one, Resume and Use model."""

    def __init__(self, context: AppContext, controller: TrainingController,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.context = context
        self.controller = controller
        self.records: list[RunRecord] = []
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("runTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.config_view = QPlainTextEdit()
        self.config_view.setObjectName("runConfig")
        self.config_view.setReadOnly(True)
        self.config_view.setPlaceholderText("Select a run to see its config.")
        self.resume_button = QPushButton("Resume")
        self.resume_button.setObjectName("resumeButton")
        self.resume_button.setToolTip("Continue the selected run from its last checkpoint on "
                                      "the selected scan (a finished run trains on to the "
                                      "Config panel's training.epochs)")
        self.use_button = QPushButton("Use model")
        self.use_button.setObjectName("useRunButton")
        self.use_button.setToolTip("Reconstruct with the selected run's best checkpoint")
        self.folder_label = QLabel(f"Runs are kept in {controller.runs_folder}")
        self.folder_label.setWordWrap(True)
        self.folder_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QHBoxLayout()
        buttons.addWidget(self.resume_button)
        buttons.addWidget(self.use_button)
        buttons.addStretch(1)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.table)
        splitter.addWidget(self.config_view)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(splitter, stretch=1)
        layout.addLayout(buttons)
        layout.addWidget(self.folder_label)

        self._requests = LatestOnly(context.jobs, "List runs", self)
        self.table.itemSelectionChanged.connect(self._on_selection)
        self.resume_button.clicked.connect(self.resume_selected)
        self.use_button.clicked.connect(self.use_selected)
        context.session.runsChanged.connect(self.refresh)
        context.session.trainingRunningChanged.connect(self._update_buttons)
        self._update_buttons()
        self.refresh()

    # ----------------------------------------------------------------- reading
    @Slot()
    def refresh(self) -> None:
        """Re-read the run folders in a worker (nothing to read before the first run)."""
        root = self.controller.runs_folder
        if not root.is_dir():
            self._show([])
            return
        active = self.controller.run_dir if self.controller.running else None
        self._requests.request(list_runs_task(root, active), self._show)

    def _show(self, records: list[RunRecord]) -> None:
        selected = self.selected()
        self.records = list(records)
        self.table.setRowCount(len(self.records))
        for row, record in enumerate(self.records):
            cells = (record.name, record.status.replace("_", " "), str(record.epochs),
                     format_loss(record.final_train_loss), format_loss(record.final_val_loss),
                     record.source, format_duration(record.seconds))
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(str(record.path) if column == 0 else text)
                if column in (2, 3, 4):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, column, item)
        paths = [record.path for record in self.records]
        if selected is not None and selected.path in paths:
            self.table.selectRow(paths.index(selected.path))
        self._on_selection()

    def selected(self) -> RunRecord | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows or rows[0].row() >= len(self.records):
            return None
        return self.records[rows[0].row()]

    @Slot()
    def _on_selection(self) -> None:
        record = self.selected()
        if record is None:
            self.config_view.setPlainText("")
        else:
            facts = (f"# {record.name}: {record.status}, {record.epochs} epochs, "
                     f"device {record.device or '?'}, started {record.started or '?'}\n"
                     f"# final loss: train {format_loss(record.final_train_loss)}, "
                     f"validation {format_loss(record.final_val_loss)}\n")
            self.config_view.setPlainText(facts + record.config_text)
        self._update_buttons()

    def _update_buttons(self, *_args: object) -> None:
        record = self.selected()
        running = self.context.session.training_running
        self.resume_button.setEnabled(record is not None and record.can_resume and not running)
        self.use_button.setEnabled(record is not None and record.has_checkpoint
                                   and record.status != "running")

    # ----------------------------------------------------------------- actions
    @Slot()
    def resume_selected(self) -> None:
        record = self.selected()
        if record is not None:
            self.controller.resume(record.path)

    @Slot()
    def use_selected(self) -> None:
        record = self.selected()
        if record is None:
            return
        with self.context.reporter.guard("Use model"):
            self.context.session.set_model(run_model_entry(record.path))
