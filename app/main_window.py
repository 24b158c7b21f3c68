"""The main window: shows the first diffraction pattern of each opened scan.

This is the foundation's window; the dataset browser, config editor and probe
viewer grow from here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QLabel, QMainWindow, QMessageBox, QVBoxLayout, QWidget

from ptycho_engine import PtychoError, load_scan


class MainWindow(QMainWindow):
    """Opens scans and shows a pattern (log scale) with its scan's summary."""

    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("Ptycho Studio")
        self.resize(900, 700)
        self.scans = []
        central = QWidget(self)
        layout = QVBoxLayout(central)
        self.info = QLabel("Open a scan (NPZ or CXI) to begin.")
        self.diffraction_view = pg.ImageView()
        self.diffraction_view.setObjectName("diffractionView")
        layout.addWidget(self.info)
        layout.addWidget(self.diffraction_view, stretch=1)
        self.setCentralWidget(central)

    def open_scan(self, path: Path) -> bool:
        """Load a scan and show its first pattern; a bad file shows a dialog and changes nothing."""
        try:
            scan = load_scan(path)
        except PtychoError as error:
            QMessageBox.critical(self, "Open scan", str(error))
            return False
        self.scans.append(scan)
        pattern = np.log10(1.0 + scan.pattern(0).astype(np.float32) ** 2)
        self.diffraction_view.setImage(pattern, autoRange=True, autoLevels=True)
        self.info.setText(f"{scan.name}: {scan.n_patterns} patterns of {scan.N}x{scan.N}; "
                          "pattern 0, log10(1 + counts)")
        return True


def create_main_window(paths: list[Path], settings_dir: Path | None = None,
                       config_path: Path | None = None) -> MainWindow:
    """Build the main window with ``paths`` opened."""
    window = MainWindow()
    for path in paths:
        window.open_scan(Path(path))
    return window
