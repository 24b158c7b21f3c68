"""The selected scan's metadata (from the engine's summary) and the engine's warnings."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ptycho_engine import summary_rows

from ..context import AppContext
from ..session import ScanEntry

NO_WARNINGS = "No warnings."


class ScanDetailsPanel(QWidget):
    """A two-column table (quantity, value with unit) and the scan's warnings below it."""

    def __init__(self, context: AppContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.context = context
        self.table = QTableWidget(0, 2)
        self.table.setObjectName("metadataTable")
        self.table.setHorizontalHeaderLabels(["quantity", "value"])
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(
            0, QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(True)  # long values take two lines ...
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # ... paths keep their names
        self.warnings = QLabel(NO_WARNINGS)
        self.warnings.setObjectName("scanWarnings")
        self.warnings.setWordWrap(True)
        self.warnings.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.table, stretch=1)
        layout.addWidget(self.warnings)
        context.session.currentScanChanged.connect(self._show)
        context.session.scanReplaced.connect(self._on_replaced)

    @Slot(object)
    def _on_replaced(self, entry: ScanEntry) -> None:
        current = self.context.session.current_scan()
        if current is not None and current.key == entry.key:
            self._show(entry)

    @Slot(object)
    def _show(self, entry: ScanEntry | None) -> None:
        rows = [] if entry is None else summary_rows(entry.summary)
        self.table.setRowCount(len(rows))
        for row, (label, value) in enumerate(rows):
            for column, text in enumerate((label, value)):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(row, column, item)
        self.table.resizeRowsToContents()
        warnings = [] if entry is None else entry.summary["warnings"]
        if warnings:
            items = "".join(f"<li>{html.escape(text)}</li>" for text in warnings)
            self.warnings.setText(f"<b style='color:#b71c1c'>⚠ {len(warnings)} warning"
                                  f"{'s' if len(warnings) > 1 else ''}</b>"
                                  f"<ul style='margin:0'>{items}</ul>")
        else:
            self.warnings.setText(NO_WARNINGS if entry is not None else "")
