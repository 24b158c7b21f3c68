"""The comparison metrics of a reconstruction: a small amplitude | phase table and a note.

Only shows what the engine's ``evaluate`` returned (``Evaluation.to_dict()``).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..model_text import METRIC_ROWS, METRIC_TIPS, describe_alignment, metric_cell


class MetricsTable(QWidget):
    """``metricsTable`` (SSIM, PSNR, FRC, MAE, Pearson for amplitude and phase) and
    ``metricsNote`` (what was compared and how it was aligned, or why there is nothing)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.table = QTableWidget(len(METRIC_ROWS), 2)
        self.table.setObjectName("metricsTable")
        self.table.setHorizontalHeaderLabels(["amplitude", "phase"])
        self.table.setVerticalHeaderLabels([label for label, _, _ in METRIC_ROWS])
        for row, (label, _, _) in enumerate(METRIC_ROWS):
            self.table.verticalHeaderItem(row).setToolTip(METRIC_TIPS[label])
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setFixedHeight(self.table.horizontalHeader().sizeHint().height()
                                  + len(METRIC_ROWS) * self.table.verticalHeader()
                                  .defaultSectionSize() + 4)
        self.note = QLabel("")
        self.note.setObjectName("metricsNote")
        self.note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Metrics (engine's evaluate)"))
        layout.addWidget(self.table)
        layout.addWidget(self.note)
        self.show_metrics(None, "")

    def show_metrics(self, metrics: dict[str, Any] | None, note: str) -> None:
        """Fill the table from ``Evaluation.to_dict()`` ('—' everywhere when None)."""
        for row, (_, suffix, fmt) in enumerate(METRIC_ROWS):
            for column, component in enumerate(("amplitude", "phase")):
                text = metric_cell(metrics, component, suffix, fmt) if metrics else "—"
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, column, item)
        self.note.setText(f"{note}; {describe_alignment(metrics)}" if metrics else note)
