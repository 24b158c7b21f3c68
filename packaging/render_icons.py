"""Render the application icon's PNG sizes from its SVG with Qt's own SVG renderer.

The SVG (resources/icons/ptycho-studio.svg) is the source; the PNGs beside it
(ptycho-studio-<size>.png) are what window managers, the desktop entry and
PyInstaller use. Run after editing the SVG, from the repository root:

    .venv/bin/python packaging/render_icons.py
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ICON_DIR = Path(__file__).resolve().parents[1] / "resources" / "icons"
ICON_NAME = "ptycho-studio"
SIZES = (16, 32, 48, 64, 128, 256)


def png_path(folder: Path, size: int) -> Path:
    """Where the ``size`` x ``size`` PNG of the icon lives."""
    return folder / f"{ICON_NAME}-{size}.png"


def render_icons(svg: Path, folder: Path, sizes: tuple[int, ...] = SIZES) -> list[Path]:
    """Write one transparent ``size`` x ``size`` PNG per size; returns the files written."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg}: not a valid SVG file")
    written = []
    for size in sizes:
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        renderer.render(painter)
        painter.end()
        target = png_path(folder, size)
        if not image.save(str(target), "PNG"):
            raise SystemExit(f"{target}: could not be written")
        written.append(target)
    del app
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--svg", type=Path, default=ICON_DIR / f"{ICON_NAME}.svg")
    parser.add_argument("--out", type=Path, default=ICON_DIR, help="folder for the PNGs")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for path in render_icons(args.svg, args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
