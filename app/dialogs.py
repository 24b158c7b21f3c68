"""Every message box and file chooser the app shows, behind one replaceable object.

Panels and the main window never call QMessageBox or QFileDialog directly; they
ask a :class:`Dialogs`. Tests hand the window a scripted stand-in with the same
methods, so no modal dialog ever blocks a test run.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

SCAN_FILTER = "Scans (*.npz *.cxi *.h5 *.hdf5);;All files (*)"
CONFIG_FILTER = "Config (*.toml);;All files (*)"
PROBE_FILTER = "Probes (*.npz *.npy *.h5 *.hdf5 *.cxi);;All files (*)"
PNG_FILTER = "PNG image (*.png)"
BUNDLE_FILTER = "Model bundle (*.ptyz);;All files (*)"


class Dialogs:
    """The production dialogs: modal Qt message boxes and native file choosers."""

    def show_error(self, parent: QWidget | None, title: str, text: str, details: str) -> None:
        """One error dialog: the action as title, the message, a Details section."""
        box = QMessageBox(QMessageBox.Icon.Critical, title, text, QMessageBox.StandardButton.Ok,
                          parent)
        box.setObjectName("errorDialog")
        if details:
            box.setDetailedText(details)
        box.exec()

    def confirm(self, parent: QWidget | None, title: str, question: str) -> bool:
        """Yes/No question; True for Yes."""
        answer = QMessageBox.question(parent, title, question,
                                      QMessageBox.StandardButton.Yes
                                      | QMessageBox.StandardButton.No,
                                      QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def open_files(self, parent: QWidget | None, title: str, filter: str,
                   folder: str = "") -> list[Path]:
        names, _ = QFileDialog.getOpenFileNames(parent, title, folder, filter)
        return [Path(name) for name in names]

    def open_file(self, parent: QWidget | None, title: str, filter: str,
                  folder: str = "") -> Path | None:
        name, _ = QFileDialog.getOpenFileName(parent, title, folder, filter)
        return Path(name) if name else None

    def save_file(self, parent: QWidget | None, title: str, filter: str,
                  suggested: str = "") -> Path | None:
        name, _ = QFileDialog.getSaveFileName(parent, title, suggested, filter)
        return Path(name) if name else None

    def show_about(self, parent: QWidget | None, title: str, html: str) -> None:
        QMessageBox.about(parent, title, html)
