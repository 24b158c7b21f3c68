"""Creates the QApplication and the main window; separate so tests can build windows alone."""

from __future__ import annotations

import sys
from pathlib import Path


def run_application(files: list[Path], *, config_path: Path | None = None) -> int:
    """Start Qt, show the main window with ``files`` opened, and run the event loop."""
    import pyqtgraph as pg
    from PySide6.QtWidgets import QApplication

    pg.setConfigOptions(imageAxisOrder="row-major")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Ptycho Studio")
    app.setOrganizationName("PtychoStudio")
    from app.main_window import create_main_window

    window = create_main_window(files, settings_dir=None, config_path=config_path)
    window.show()
    return app.exec()
