"""The selected scan's probe: amplitude | phase, its size and intensity, and loading a new one.

Sizes and totals come from the engine (``probe_properties``); a probe file is
read and checked by the engine (``load_probe``) before it replaces the scan's.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ptycho_engine import load_probe, probe_properties, replace_probe, summarize_scan

from ..context import AppContext
from ..dialogs import PROBE_FILTER
from ..session import ScanEntry
from ..widgets.amplitude_phase import AmplitudePhaseView
from ..workers import Job, TaskContext
from ..workers.tasks import LoadedScan


def _length(px: float, metres: float | None) -> str:
    text = f"{px:.1f} px"
    return text if metres is None else f"{text} ({metres * 1e9:.0f} nm)"


def describe_probe(entry: ScanEntry) -> str:
    """One short paragraph: FWHM in x and y, equivalent diameter, intensity, where from."""
    scan = entry.scan
    facts = probe_properties(scan.probe, scan.metadata.object_pixel_m)
    source = scan.metadata.extra.get("probe_file")
    if source:
        origin = f"loaded from {Path(source).name}"
    elif scan.metadata.extra.get("probe_estimated"):
        origin = "estimated from the data"
    else:
        origin = f"from {entry.path.name}"
    return (f"FWHM {_length(facts['fwhm_x_px'], facts['fwhm_x_m'])} (x) × "
            f"{_length(facts['fwhm_y_px'], facts['fwhm_y_m'])} (y) of |P|²; "
            f"diameter at half amplitude {_length(facts['diameter_px'], facts['diameter_m'])}; "
            f"total intensity Σ|P|² = {facts['total_intensity']:.4g}; "
            f"{scan.N} × {scan.N} px, {origin}")


class ProbeViewer(QWidget):
    """Amplitude and phase of the probe side by side, facts below, a Load probe button."""

    def __init__(self, context: AppContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.context = context
        self.view = AmplitudePhaseView()
        self.view.setObjectName("probeView")
        self.info = QLabel("No scan selected.")
        self.info.setObjectName("probeInfo")
        self.info.setWordWrap(True)
        self.load_button = QPushButton("Load probe…")
        self.load_button.setObjectName("loadProbeButton")
        self.load_button.setToolTip("Replace the selected scan's probe with one from an NPZ, "
                                    "NPY or HDF5 file (it must have the patterns' size)")
        self.load_button.setEnabled(False)
        bottom = QHBoxLayout()
        bottom.addWidget(self.info, stretch=1)
        bottom.addWidget(self.load_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.view, stretch=1)
        layout.addLayout(bottom)
        self.load_button.clicked.connect(self.choose_and_load)
        context.session.currentScanChanged.connect(self._show)
        context.session.scanReplaced.connect(self._on_replaced)

    @Slot(object)
    def _show(self, entry: ScanEntry | None) -> None:
        self.load_button.setEnabled(entry is not None)
        if entry is None:
            self.view.set_image(None)
            self.info.setText("No scan selected.")
            return
        self.view.set_image(entry.scan.probe, auto_range=True)
        self.info.setText(describe_probe(entry))

    @Slot(object)
    def _on_replaced(self, entry: ScanEntry) -> None:
        current = self.context.session.current_scan()
        if current is not None and current.key == entry.key:
            self._show(entry)

    @Slot()
    def choose_and_load(self) -> None:
        entry = self.context.session.current_scan()
        if entry is None:
            return
        path = self.context.dialogs.open_file(self.context.window, "Load probe", PROBE_FILTER,
                                              str(entry.path.parent))
        if path is not None:
            self.load_probe_file(path)

    def load_probe_file(self, path: Path) -> Job | None:
        """Replace the selected scan's probe with the one in ``path``, in a worker (the
        summary of a lazy scan re-reads patterns); an unusable file leaves the scan as it
        was and shows a dialog."""
        entry = self.context.session.current_scan()
        if entry is None:
            return None
        key, scan, path = entry.key, entry.scan, Path(path)

        def task(context: TaskContext) -> LoadedScan:
            context.report(0, 0, f"Loading the probe from {path.name}…")
            replaced = replace_probe(scan, load_probe(path, scan.N), source=path)
            return LoadedScan(entry.path, replaced, summarize_scan(replaced))

        def store(loaded: LoadedScan) -> None:
            if self.context.session.entry(key) is not None:
                self.context.session.replace_scan(key, loaded.scan, loaded.summary)

        return self.context.jobs.start("Load probe", task, on_success=store)
