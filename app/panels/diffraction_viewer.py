"""One diffraction pattern at a time (or the mean pattern) of the selected scan, in photon counts.

Single patterns are read on demand (``Scan.pattern(i)``, under a millisecond
even for a lazy 100,000-pattern HDF5 file), and slider moves are coalesced so
only the newest index is drawn. The mean pattern reads every pattern, so the
engine computes it in a worker; a newer request drops older answers.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ptycho_engine import mean_intensity

from ..context import AppContext
from ..session import ScanEntry
from ..widgets.complex_image import ComplexImageView
from ..workers import LatestOnly, TaskContext


class DiffractionViewer(QWidget):
    """Pattern index slider + spin box, a mean-pattern switch, and the image (log by default)."""

    def __init__(self, context: AppContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.context = context
        self.image_view = ComplexImageView(unit="counts", scaling="log")
        self.image_view.setObjectName("diffractionView")
        self.image_view.set_colormap("inferno")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("patternSlider")
        self.index_box = QSpinBox()
        self.index_box.setObjectName("patternIndex")
        self.index_box.setToolTip("Pattern number (0 = first measured)")
        self.count_label = QLabel("of 0")
        self.mean_toggle = QCheckBox("Mean pattern")
        self.mean_toggle.setObjectName("meanPatternToggle")
        self.mean_toggle.setToolTip("Show the mean photon counts over all patterns "
                                    "(computed in the background for large scans)")
        self.caption = QLabel(" ")
        self.caption.setObjectName("diffractionCaption")
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Pattern"))
        controls.addWidget(self.slider, stretch=1)
        controls.addWidget(self.index_box)
        controls.addWidget(self.count_label)
        controls.addWidget(self.mean_toggle)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(controls)
        layout.addWidget(self.caption)
        layout.addWidget(self.image_view, stretch=1)

        self._mean_requests = LatestOnly(context.jobs, "Mean pattern", self)
        self._redraw = QTimer(self)
        self._redraw.setSingleShot(True)
        self._redraw.setInterval(0)
        self._redraw.timeout.connect(self._draw)
        self._new_scan = True
        self._set_range(None)

        session = context.session
        session.currentScanChanged.connect(self._on_scan)
        session.scanReplaced.connect(self._on_replaced)
        session.currentPatternChanged.connect(self._on_pattern)
        session.meanPatternChanged.connect(self._on_mean_ready)
        self.slider.valueChanged.connect(session.select_pattern)
        self.index_box.valueChanged.connect(session.select_pattern)
        self.mean_toggle.toggled.connect(self._on_mean_toggled)

    # ---------------------------------------------------------------- state
    def _set_range(self, entry: ScanEntry | None) -> None:
        last = 0 if entry is None else entry.scan.n_patterns - 1
        for widget in (self.slider, self.index_box):
            widget.blockSignals(True)
            widget.setRange(0, last)
            widget.setValue(0 if entry is None else self.context.session.current_pattern)
            widget.blockSignals(False)
        self.count_label.setText(f"of {0 if entry is None else entry.scan.n_patterns:,}")
        enabled = entry is not None and not self.mean_toggle.isChecked()
        self.slider.setEnabled(enabled)
        self.index_box.setEnabled(enabled)
        self.mean_toggle.setEnabled(entry is not None)

    @Slot(object)
    def _on_scan(self, entry: ScanEntry | None) -> None:
        self._mean_requests.invalidate()
        self._new_scan = True
        self._set_range(entry)
        if entry is None:
            self.image_view.clear()
            self.caption.setText(" ")
            return
        self._schedule()

    @Slot(object)
    def _on_replaced(self, entry: ScanEntry) -> None:
        current = self.context.session.current_scan()
        if current is not None and current.key == entry.key:
            self._schedule()

    @Slot(int)
    def _on_pattern(self, index: int) -> None:
        for widget in (self.slider, self.index_box):
            if widget.value() != index:
                widget.blockSignals(True)
                widget.setValue(index)
                widget.blockSignals(False)
        self._schedule()

    @Slot(bool)
    def _on_mean_toggled(self, _checked: bool) -> None:
        self._new_scan = True  # fit levels to the other kind of image
        self._set_range(self.context.session.current_scan())
        self._schedule()

    @Slot(int)
    def _on_mean_ready(self, key: int) -> None:
        current = self.context.session.current_scan()
        if self.mean_toggle.isChecked() and current is not None and current.key == key:
            self._schedule()

    def _schedule(self) -> None:
        """Draw at the next event-loop turn; many index changes in a row draw once."""
        self._redraw.start()

    # -------------------------------------------------------------- drawing
    @Slot()
    def _draw(self) -> None:
        entry = self.context.session.current_scan()
        if entry is None:
            return
        if self.mean_toggle.isChecked():
            self._draw_mean(entry)
            return
        index = self.context.session.current_pattern
        with self.context.reporter.guard("Show diffraction pattern"):
            counts = entry.scan.pattern(index) ** 2
            self._show(counts, f"{entry.name}: pattern {index} of {entry.scan.n_patterns:,}, "
                               f"{float(counts.sum()):.4g} photons")

    def _draw_mean(self, entry: ScanEntry) -> None:
        mean = self.context.session.mean_pattern(entry.key)
        if mean is not None:
            self._show(mean, f"{entry.name}: mean of {entry.scan.n_patterns:,} patterns, "
                             f"{float(mean.sum()):.4g} photons per pattern")
            return
        self.caption.setText(f"{entry.name}: computing the mean pattern…")
        if self._mean_requests.pending:  # already on its way (requests are per scan)
            return
        scan, key, name = entry.scan, entry.key, entry.name

        def task(context: TaskContext) -> np.ndarray | None:
            return mean_intensity(scan, should_stop=context.token,
                                  progress=lambda done, total: context.report(
                                      done, total, f"Mean pattern of {name}"))

        def store(mean: np.ndarray | None) -> None:
            if mean is not None:
                self.context.session.set_mean_pattern(key, mean)

        self._mean_requests.request(task, store, title=f"Mean pattern of {name}")

    def _show(self, counts: np.ndarray, caption: str) -> None:
        self.image_view.set_image(counts, auto_levels=True if self._new_scan else None)
        self._new_scan = False
        self.caption.setText(caption)
