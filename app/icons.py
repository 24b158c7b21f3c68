"""The application icon, found wherever this installation keeps it.

Looked for, in order: the PyInstaller bundle (``sys._MEIPASS/resources/icons``),
the source tree (``resources/icons`` beside ``app/``), the ``share/icons``
folder of a pip-installed environment, then the desktop's icon theme. Needs no
engine import, so the window can use it before anything heavy is loaded.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtGui import QIcon

ICON_NAME = "ptycho-studio"
SIZES = (16, 32, 48, 64, 128, 256)


def icon_folders() -> list[Path]:
    """Folders that may hold ``ptycho-studio-<size>.png`` / ``ptycho-studio.svg``."""
    folders = []
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        folders.append(Path(bundle) / "resources" / "icons")
    folders.append(Path(__file__).resolve().parents[1] / "resources" / "icons")
    folders.append(Path(sys.prefix) / "share" / "ptycho-studio" / "icons")
    return folders


def icon_files() -> list[Path]:
    """The icon's PNG sizes (smallest first) and its SVG, from the first folder that has any."""
    for folder in icon_folders():
        files = [folder / f"{ICON_NAME}-{size}.png" for size in SIZES]
        files = [path for path in files if path.is_file()]
        if (folder / f"{ICON_NAME}.svg").is_file():
            files.append(folder / f"{ICON_NAME}.svg")
        if files:
            return files
    return []


def app_icon() -> QIcon:
    """Ptycho Studio's icon with every size found; the theme's icon (maybe null) otherwise."""
    files = icon_files()
    if not files:
        return QIcon.fromTheme(ICON_NAME)
    icon = QIcon()
    for path in files:
        icon.addFile(str(path))
    return icon
