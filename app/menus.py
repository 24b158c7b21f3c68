"""The menu bar: File, View and Help, with the usual shortcuts."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu


@dataclass(frozen=True)
class MenuActions:
    """The actions the main window connects (and tests trigger)."""

    open: QAction
    recent: QMenu
    save_config: QAction
    load_config: QAction
    export: QAction
    load_model: QAction
    export_model: QAction
    quit: QAction
    view: QMenu
    reset_layout: QAction
    about: QAction


def _action(window: QMainWindow, text: str, shortcut: QKeySequence | str | None,
            tip: str) -> QAction:
    action = QAction(text, window)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    action.setStatusTip(tip)
    action.setToolTip(tip)
    return action


def build_menus(window: QMainWindow) -> MenuActions:
    """Create the menus on ``window``; the View menu is filled as panels are added."""
    bar = window.menuBar()
    file_menu = bar.addMenu("&File")
    open_action = _action(window, "&Open…", QKeySequence.StandardKey.Open,
                          "Open scan files (NPZ, CXI/HDF5)")
    recent = QMenu("Open &Recent", window)
    recent.setObjectName("recentMenu")
    save_config = _action(window, "&Save Config…", QKeySequence.StandardKey.Save,
                          "Save the settings as a TOML file")
    load_config = _action(window, "&Load Config…", "Ctrl+L", "Load settings from a TOML file")
    export = _action(window, "&Export Scan…", "Ctrl+E",
                     "Write the selected scan (with its current probe) as NPZ or CXI")
    load_model = _action(window, "Load &Model…", "Ctrl+M",
                         "Open a model bundle (.ptyz) and reconstruct scans with it")
    export_model = _action(window, "Export Mo&del…", "Ctrl+Shift+E",
                           "Write the current model as a bundle (.ptyz)")
    quit_action = _action(window, "&Quit", QKeySequence.StandardKey.Quit, "Quit Ptycho Studio")
    file_menu.addAction(open_action)
    file_menu.addMenu(recent)
    file_menu.addSeparator()
    file_menu.addAction(load_config)
    file_menu.addAction(save_config)
    file_menu.addSeparator()
    file_menu.addAction(export)
    file_menu.addSeparator()
    file_menu.addAction(load_model)
    file_menu.addAction(export_model)
    file_menu.addSeparator()
    file_menu.addAction(quit_action)

    view = bar.addMenu("&View")
    view.setObjectName("viewMenu")
    reset_layout = _action(window, "Reset &Layout", None, "Put every panel back in its place")
    view.addAction(reset_layout)
    view.addSeparator()

    help_menu = bar.addMenu("&Help")
    about = _action(window, "&About Ptycho Studio", QKeySequence.StandardKey.HelpContents,
                    "Versions of the engine, torch and Qt, and the GPU")
    help_menu.addAction(about)
    return MenuActions(open_action, recent, save_config, load_config, export, load_model,
                       export_model, quit_action, view, reset_layout, about)
