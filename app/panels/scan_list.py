"""The list of open scans (name, patterns, N, photons per pattern) with select and remove."""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..context import AppContext
from ..session import ScanEntry

COLUMNS = ("scan", "patterns", "N", "photons")
KEY_ROLE = Qt.ItemDataRole.UserRole


class ScanListPanel(QWidget):
    """One row per open scan; selecting a row selects the scan in the session."""

    def __init__(self, context: AppContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.context = context
        self.tree = QTreeWidget()
        self.tree.setObjectName("scanList")
        self.tree.setColumnCount(len(COLUMNS))
        self.tree.setHeaderLabels(list(COLUMNS))
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.headerItem().setToolTip(3, "mean photons per pattern")
        header = self.tree.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setStretchLastSection(False)
        for column in range(1, len(COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.remove_button = QPushButton("Remove")
        self.remove_button.setObjectName("removeScanButton")
        self.remove_button.setToolTip("Close the selected scan (the file stays on disk)")
        self.remove_button.setEnabled(False)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.remove_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.tree)
        layout.addLayout(buttons)
        QShortcut(QKeySequence.StandardKey.Delete, self.tree, self.remove_selected)

        session = context.session
        session.scanAdded.connect(self._on_added)
        session.scanRemoved.connect(self._on_removed)
        session.scanReplaced.connect(self._on_replaced)
        session.currentScanChanged.connect(self._on_current)
        self.tree.currentItemChanged.connect(self._on_item_changed)
        self.remove_button.clicked.connect(self.remove_selected)

    def _item(self, key: int) -> QTreeWidgetItem | None:
        for row in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(row)
            if item.data(0, KEY_ROLE) == key:
                return item
        return None

    @staticmethod
    def _fill(item: QTreeWidgetItem, entry: ScanEntry) -> None:
        summary = entry.summary
        values = (entry.name, f"{summary['patterns']:,}", str(summary["N"]),
                  f"{summary['mean_photons_per_pattern']:.3g}")
        for column, text in enumerate(values):
            item.setText(column, text)
            if column:
                item.setTextAlignment(column, Qt.AlignmentFlag.AlignRight)
        item.setToolTip(0, str(entry.path))
        item.setData(0, KEY_ROLE, entry.key)

    @Slot(object)
    def _on_added(self, entry: ScanEntry) -> None:
        item = QTreeWidgetItem()
        self._fill(item, entry)
        self.tree.addTopLevelItem(item)

    @Slot(object)
    def _on_replaced(self, entry: ScanEntry) -> None:
        item = self._item(entry.key)
        if item is not None:
            self._fill(item, entry)

    @Slot(object)
    def _on_removed(self, entry: ScanEntry) -> None:
        item = self._item(entry.key)
        if item is not None:
            self.tree.takeTopLevelItem(self.tree.indexOfTopLevelItem(item))

    @Slot(object)
    def _on_current(self, entry: ScanEntry | None) -> None:
        self.remove_button.setEnabled(entry is not None)
        item = None if entry is None else self._item(entry.key)
        if item is not self.tree.currentItem():
            self.tree.blockSignals(True)
            self.tree.setCurrentItem(item)
            self.tree.blockSignals(False)

    @Slot(QTreeWidgetItem, QTreeWidgetItem)
    def _on_item_changed(self, current: QTreeWidgetItem | None, _previous: object) -> None:
        if current is not None:
            self.context.session.select_scan(current.data(0, KEY_ROLE))

    @Slot()
    def remove_selected(self) -> None:
        """Ask, then close the selected scan."""
        entry = self.context.session.current_scan()
        if entry is None:
            return
        question = (f"Remove the scan '{entry.name}' from this session?\n\n"
                    f"The file {entry.path} stays on disk.")
        if self.context.dialogs.confirm(self.context.window, "Remove scan", question):
            self.context.session.remove_scan(entry.key)
