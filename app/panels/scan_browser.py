"""The Scans panel: the list of open scans above the selected scan's metadata and warnings."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSplitter, QVBoxLayout, QWidget

from ..context import AppContext
from .scan_details import ScanDetailsPanel
from .scan_list import ScanListPanel


class ScanBrowser(QWidget):
    """Scan list (top) and details (bottom) in a splitter."""

    def __init__(self, context: AppContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.scan_list = ScanListPanel(context)
        self.details = ScanDetailsPanel(context)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.scan_list)
        splitter.addWidget(self.details)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)
