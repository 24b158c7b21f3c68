"""Creates the QApplication and the main window; separate so tests can build windows alone."""

from __future__ import annotations

import logging
import sys
from pathlib import Path


def configure_pyqtgraph() -> None:
    """pyqtgraph options set once per process: row-major images (row 0 = first array row)."""
    import pyqtgraph as pg

    pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)


def run_application(files: list[Path], *, config_path: Path | None = None) -> int:
    """Start Qt, show the main window with ``files`` opened, and run the event loop."""
    from PySide6.QtWidgets import QApplication

    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    configure_pyqtgraph()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Ptycho Studio")
    app.setOrganizationName("PtychoStudio")
    app.setDesktopFileName("ptycho-studio")  # resources/ptycho-studio.desktop (Wayland app id)
    from app.icons import app_icon

    app.setWindowIcon(app_icon())  # title bars and the About box (QMessageBox.about)
    from app.main_window import create_main_window

    window = create_main_window(files, settings_dir=None, config_path=config_path)
    window.show()
    return app.exec()
