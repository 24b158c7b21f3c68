"""Ptycho Studio's desktop application (PySide6 + pyqtgraph) on top of ``ptycho_engine``.

``app.create_main_window`` is imported on first use, so ``import app`` (and the
``ptycho-studio`` display check) does not load Qt.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "create_main_window":
        from .main_window import create_main_window

        return create_main_window
    raise AttributeError(f"module 'app' has no attribute {name!r}")


__all__ = ["create_main_window"]
