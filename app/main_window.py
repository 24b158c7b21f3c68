"""The main window: panels in docks around the session, menus, status bar, settings.

Panels are QDockWidgets added with :meth:`MainWindow.add_panel`; the central
widget is hidden so the docks share all the space and any panel can be
tabbed with any other. New panels (training, reconstruction) use the same call.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, Qt, QTimer, QUrl, Slot
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDragMoveEvent, QDropEvent, QShowEvent
from PySide6.QtWidgets import QApplication, QDockWidget, QMainWindow, QWidget

from ptycho_engine import system_info

from .about import about_html
from .context import AppContext
from .dialogs import SCAN_FILTER, Dialogs
from .errors import ErrorReporter
from .menus import build_menus
from .panels.config_editor import ConfigEditor
from .panels.diffraction_viewer import DiffractionViewer
from .panels.positions_plot import PositionsPlot
from .panels.probe_viewer import ProbeViewer
from .panels.reconstruction_viewer import ReconstructionViewer
from .panels.run_list import RunList
from .panels.scan_browser import ScanBrowser
from .panels.training_dashboard import TrainingDashboard
from .resume_offer import ResumeOffer
from .runs import runs_root
from .session import ScanEntry, Session
from .settings import SettingsStore
from .status_bar import StatusPanel
from .training_control import TrainingController
from .widgets.complex_image import ComplexImageView
from .widgets.panel_scroll import scrollable
from .workers import Job, JobManager, TaskContext, run_in_thread
from .workers.gui_gc import install_gui_thread_gc
from .workers.tasks import LoadedScan, export_scan_task, open_scan_task
from .workers.training import freeze_startup_objects, warm_up_training

log = logging.getLogger("ptycho_studio")
EXPORT_FILTER = "PtychoPINN NPZ (*.npz);;CXI / HDF5 (*.cxi)"


def local_files(urls: list[QUrl]) -> list[Path]:
    """The local files among dropped URLs."""
    return [Path(url.toLocalFile()) for url in urls if url.isLocalFile()
            and Path(url.toLocalFile()).is_file()]


class MainWindow(QMainWindow):
    """Ptycho Studio's window: owns the session, the jobs, the error reporter and the panels."""

    def __init__(self, settings_dir: Path | None = None, dialogs: Dialogs | None = None):
        super().__init__()
        self.setObjectName("mainWindow")
        self.setWindowTitle("Ptycho Studio")
        self.resize(1400, 900)
        self.setAcceptDrops(True)
        self.setDockNestingEnabled(True)
        self.session = Session(self)
        self.jobs = JobManager(self)
        self.reporter = ErrorReporter(dialogs or Dialogs(), self)
        self.reporter.install_hooks()
        self.jobs.jobFailed.connect(self.reporter.report)
        self.context = AppContext(self.session, self.jobs, self.reporter, self)
        self.settings = SettingsStore(settings_dir)
        self.system_info: dict[str, Any] | None = None
        self.docks: dict[str, QDockWidget] = {}

        central = QWidget(self)
        central.hide()  # docks take all the space and can be tabbed freely
        self.setCentralWidget(central)
        self.actions_ = build_menus(self)
        self.status = StatusPanel(self.statusBar(), self.jobs)
        self._build_panels()
        self._default_state = self.saveState()
        self._connect_actions()
        self.session.currentScanChanged.connect(self._on_current_scan)
        self._restore_settings()
        self._info_job = self._start_system_info()

    @property
    def dialogs(self) -> Dialogs:
        return self.reporter.dialogs

    # --------------------------------------------------------------- panels
    def _build_panels(self) -> None:
        context = self.context
        self.training = TrainingController(context, runs_root(self.settings.folder), self)
        self.resume_offer = ResumeOffer(context, self.training, self.settings, self.open_files,
                                        self)
        self.scan_browser = ScanBrowser(context)
        self.diffraction_viewer = DiffractionViewer(context)
        self.positions_plot = PositionsPlot(context)
        self.probe_viewer = ProbeViewer(context)
        self.config_editor = ConfigEditor(context)
        self.training_dashboard = TrainingDashboard(context, self.training)
        self.reconstruction_viewer = ReconstructionViewer(context)
        self.run_list = RunList(context, self.training)
        left = Qt.DockWidgetArea.LeftDockWidgetArea
        scans = self.add_panel("Scans", self.scan_browser, "scansDock", left)
        diffraction = self.add_panel("Diffraction", self.diffraction_viewer, "diffractionDock",
                                     left)
        positions = self.add_panel("Scan positions", self.positions_plot, "positionsDock", left)
        probe = self.add_panel("Probe", self.probe_viewer, "probeDock", left)
        self.add_panel("Config", self.config_editor, "configDock",
                       Qt.DockWidgetArea.RightDockWidgetArea)
        horizontal, vertical = Qt.Orientation.Horizontal, Qt.Orientation.Vertical
        # left: scans over their positions; centre: diffraction, training, reconstruction and
        # the run list as tabs (one tab group: Qt 6.11 leaves a stale second tab bar on screen
        # when two groups are made here), the probe below; right: the config
        self.splitDockWidget(scans, diffraction, horizontal)
        self.splitDockWidget(diffraction, probe, vertical)
        self.splitDockWidget(scans, positions, vertical)
        # the new panels scroll rather than force a larger window on small screens
        training = self.add_panel("Training", scrollable(self.training_dashboard),
                                  "trainingDock", left, tabify_with=diffraction)
        reconstruction = self.add_panel("Reconstruction", scrollable(self.reconstruction_viewer),
                                        "reconstructionDock", left, tabify_with=diffraction)
        self.add_panel("Runs", scrollable(self.run_list), "runsDock", left,
                       tabify_with=diffraction)
        self.training.runStarted.connect(lambda _start: training.raise_())
        self.session.reconstructionChanged.connect(
            lambda entry: reconstruction.raise_() if entry is not None else None)
        diffraction.raise_()
        self.resizeDocks([scans, diffraction], [300, 780], horizontal)
        self.resizeDocks([scans, positions], [520, 330], vertical)
        self.resizeDocks([diffraction, probe], [580, 270], vertical)

    def add_panel(self, title: str, widget: QWidget, object_name: str,
                  area: Qt.DockWidgetArea = Qt.DockWidgetArea.RightDockWidgetArea, *,
                  tabify_with: QDockWidget | None = None) -> QDockWidget:
        """Put ``widget`` in a dock (listed in View), and route its image read-outs to the
        status bar. ``object_name`` keeps its place in the saved layout."""
        dock = QDockWidget(title, self)
        dock.setObjectName(object_name)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        if tabify_with is not None:
            self.tabifyDockWidget(tabify_with, dock)
        self.actions_.view.addAction(dock.toggleViewAction())
        views = widget.findChildren(ComplexImageView)
        if isinstance(widget, ComplexImageView):
            views.append(widget)
        for view in views:
            view.cursorInfo.connect(self.status.show_readout)
        self.docks[object_name] = dock
        return dock

    def _connect_actions(self) -> None:
        actions = self.actions_
        actions.open.triggered.connect(self.choose_and_open)
        actions.recent.aboutToShow.connect(self._fill_recent_menu)
        actions.save_config.triggered.connect(self.config_editor.choose_and_save)
        actions.load_config.triggered.connect(self.config_editor.choose_and_load)
        actions.export.triggered.connect(self.choose_and_export)
        actions.load_model.triggered.connect(self.reconstruction_viewer.choose_and_load_model)
        actions.export_model.triggered.connect(self.training_dashboard.choose_and_export)
        actions.quit.triggered.connect(self.close)
        actions.reset_layout.triggered.connect(self.reset_layout)
        actions.about.triggered.connect(self.show_about)

    @Slot()
    def reset_layout(self) -> None:
        self.restoreState(self._default_state)
        for dock in self.docks.values():
            dock.show()

    @Slot(object)
    def _on_current_scan(self, entry: ScanEntry | None) -> None:
        self.setWindowTitle("Ptycho Studio" if entry is None else f"{entry.name} — Ptycho Studio")
        self.actions_.export.setEnabled(entry is not None)

    # ------------------------------------------------------------- opening
    def open_files(self, paths: list[Path]) -> list[Job]:
        """Open scans in background jobs; each bad file gets its own dialog."""
        jobs = []
        for path in (Path(p).absolute() for p in paths):  # run.json records it for a resume
            existing = self.session.find_path(path) if path.exists() else None
            if existing is not None:
                self.session.select_scan(existing.key)
                self.statusBar().showMessage(f"{path.name} is already open", 4000)
                continue
            jobs.append(self.jobs.start("Open scan", open_scan_task(path),
                                        on_success=self._on_scan_loaded,
                                        message=f"Opening {path.name}…"))
        return jobs

    def _on_scan_loaded(self, loaded: LoadedScan) -> None:
        self.session.add_scan(loaded.path, loaded.scan, loaded.summary)
        self.settings.add_recent_file(loaded.path)
        warnings = len(loaded.summary["warnings"])
        note = f", {warnings} warning{'s' if warnings > 1 else ''}" if warnings else ""
        self.statusBar().showMessage(f"Opened {loaded.path.name}: "
                                     f"{loaded.scan.n_patterns:,} patterns{note}", 6000)

    @Slot()
    def choose_and_open(self) -> None:
        recent = self.settings.recent_files()
        folder = str(recent[0].parent) if recent else ""
        paths = self.dialogs.open_files(self, "Open scans", SCAN_FILTER, folder)
        if paths:
            self.open_files(paths)

    @Slot()
    def _fill_recent_menu(self) -> None:
        menu = self.actions_.recent
        menu.clear()
        files = self.settings.recent_files()
        for path in files:
            action = menu.addAction(path.name)
            action.setToolTip(str(path))
            action.setStatusTip(str(path))
            action.triggered.connect(lambda _checked=False, p=path: self.open_files([p]))
        if not files:
            menu.addAction("(none)").setEnabled(False)
        menu.addSeparator()
        menu.addAction("Clear Recent Files", self.settings.clear_recent_files)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        if event.mimeData().hasUrls() and local_files(event.mimeData().urls()):
            event.acceptProposedAction()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # noqa: N802 - Qt override
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt override
        paths = local_files(event.mimeData().urls()) if event.mimeData().hasUrls() else []
        if paths:
            event.acceptProposedAction()
            self.open_files(paths)

    # ------------------------------------------------------------- export
    @Slot()
    def choose_and_export(self) -> None:
        entry = self.session.current_scan()
        if entry is None:
            return
        path = self.dialogs.save_file(self, "Export scan", EXPORT_FILTER,
                                      str(entry.path.with_name(f"{entry.name}_export.npz")))
        if path is not None:
            self.export_scan(entry, path)

    def export_scan(self, entry: ScanEntry, path: Path) -> Job:
        """Write the scan in the background; the suffix (.npz or .cxi) picks the format."""
        return self.jobs.start("Export scan", export_scan_task(entry.scan, Path(path)),
                               on_success=lambda written: self.statusBar().showMessage(
                                   f"Wrote {written}", 6000))

    # --------------------------------------------------------------- about
    def _start_system_info(self) -> Job:
        """Import torch in the background (seconds), then show the device in the status bar."""
        def task(_context: TaskContext) -> dict[str, Any]:
            info = system_info()
            warm_up_training()  # Lightning's import stalls the GUI thread: pay it now
            return info

        return run_in_thread("System information", task, self,
                             on_success=self._on_system_info,
                             on_failure=lambda error, details: self.reporter.report(
                                 "System information", error, details))

    def _on_system_info(self, info: dict[str, Any]) -> None:
        freeze_startup_objects()
        self.system_info = info
        self.status.show_device(info["device"])

    @Slot()
    def show_about(self) -> None:
        with self.reporter.guard("About Ptycho Studio"):
            if self.system_info is None:
                QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
                try:
                    self._on_system_info(system_info())
                finally:
                    QApplication.restoreOverrideCursor()
            self.dialogs.show_about(self, "About Ptycho Studio", about_html(self.system_info))

    # ------------------------------------------------------------ settings
    def _restore_settings(self) -> None:
        geometry, state = self.settings.window_state()
        if geometry is not None and not self.restoreGeometry(geometry):
            log.warning("settings: ignored a window geometry Qt could not read")
        if state is not None and not self.restoreState(state):
            log.warning("settings: ignored a dock layout Qt could not read")
        config = self.settings.load_last_config()
        if config is not None:
            self.session.set_config(config)

    def load_config_file(self, path: Path) -> bool:
        return self.config_editor.load_file(path)

    def save_settings(self) -> None:
        """Write geometry, dock layout and the current config to the settings store."""
        self.settings.save_window_state(QByteArray(self.saveGeometry()),
                                        QByteArray(self.saveState()))
        self.settings.save_last_config(self.session.config)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if not self.resume_offer.offered:  # once the window is on screen
            QTimer.singleShot(0, self.resume_offer, self.resume_offer.offer)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        running = self.jobs.running()
        if running:
            names = "\n".join(f"• {job.message}" for job in running)
            question = (f"{len(running)} task{'s are' if len(running) > 1 else ' is'} still "
                        f"running:\n{names}\n\nStop and quit?")
            if not self.dialogs.confirm(self, "Quit Ptycho Studio", question):
                event.ignore()
                return
            if self.training.running:
                self.resume_offer.keep_for_next_start()
            self.jobs.stop_all()
        self._info_job.wait()
        self.save_settings()
        self.reporter.uninstall_hooks()
        event.accept()


def create_main_window(paths: list[Path], settings_dir: Path | None = None,
                       config_path: Path | None = None, *,
                       dialogs: Dialogs | None = None) -> MainWindow:
    """Build the main window with ``paths`` opening, settings under ``settings_dir``
    (the user's standard place when None) and, when given, the config TOML loaded.

    ``dialogs`` replaces the message boxes and file choosers (tests pass a scripted one).
    From here on Python's cyclic garbage is collected in the GUI thread only (``gui_gc``).
    """
    install_gui_thread_gc()
    window = MainWindow(settings_dir, dialogs)
    if config_path is not None:
        window.load_config_file(Path(config_path))
    window.open_files([Path(p) for p in paths])
    return window

