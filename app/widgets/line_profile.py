"""A line profile tool: drag a line over an image, see amplitude and phase along it.

The line (a pyqtgraph LineSegmentROI) lives in scan-frame coordinates, so the
same line samples the reconstruction and its reference even when they have
different sizes and offsets. Sampling takes the nearest pixel (no
interpolation), so wrapped phase is never averaged across the +-pi jump.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Slot
from PySide6.QtWidgets import QVBoxLayout, QWidget

ROI_COLOR = "#ff1744"
STYLES = ({"color": "#1f77b4", "width": 2},
          {"color": "#ff7f0e", "width": 2, "style": Qt.PenStyle.DashLine})


def sample_line(image: np.ndarray, offset: tuple[float, float], start: tuple[float, float],
                end: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Nearest-pixel values of ``image`` (H, W) along the segment ``start`` -> ``end``.

    start, end: (x, y) in the scan frame, where pixel [r, c] is centred on
    (offset_col + c, offset_row + r). Returns (distance from start in px, values),
    one sample per pixel of length; samples outside the image are NaN.
    """
    (x0, y0), (x1, y1) = start, end
    length = math.hypot(x1 - x0, y1 - y0)
    count = max(int(math.ceil(length)) + 1, 2)
    t = np.linspace(0.0, 1.0, count)
    cols = np.rint(x0 + t * (x1 - x0) - offset[1]).astype(np.int64)
    rows = np.rint(y0 + t * (y1 - y0) - offset[0]).astype(np.int64)
    height, width = image.shape
    inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
    dtype = np.complex128 if np.iscomplexobj(image) else np.float64
    values = np.full(count, np.nan, dtype=dtype)
    values[inside] = image[rows[inside], cols[inside]]
    return t * length, values


@dataclass(frozen=True)
class ProfileSource:
    """An image to sample: (H, W) complex ``image`` at ``offset`` (row, col), named ``label``."""

    label: str
    image: np.ndarray
    offset: tuple[float, float]


class LineProfile(QWidget):
    """``profilePlot``: amplitude (top) and phase (bottom) along a line drawn on ``host``.

    ``host`` is the pyqtgraph PlotItem that shows the line; ``set_sources`` gives
    the images to sample (the first is drawn solid, the second dashed).
    """

    def __init__(self, host: pg.PlotItem, parent: QWidget | None = None):
        super().__init__(parent)
        self.host = host
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setObjectName("profilePlot")
        self.graphics.setMinimumHeight(200)
        self.amplitude_plot = self.graphics.addPlot(row=0, col=0)
        self.phase_plot = self.graphics.addPlot(row=1, col=0)
        self.amplitude_plot.setLabel("left", "amplitude")
        self.phase_plot.setLabel("left", "phase", units="rad")
        self.phase_plot.setLabel("bottom", "distance along the line (px)")
        self.phase_plot.setXLink(self.amplitude_plot)
        self.amplitude_plot.addLegend(offset=(-10, 5), brush=(0, 0, 0, 160))
        for plot in (self.amplitude_plot, self.phase_plot):
            plot.showGrid(x=True, y=True, alpha=0.2)
            plot.setMenuEnabled(False)
        self.curves: list[tuple[pg.PlotDataItem, pg.PlotDataItem]] = []
        for style in STYLES:
            pen = pg.mkPen(**style)
            self.curves.append((self.amplitude_plot.plot(pen=pen, connect="finite"),
                                self.phase_plot.plot(pen=pen, connect="finite")))
        self.roi = pg.LineSegmentROI(positions=[(0, 0), (10, 0)], pen=pg.mkPen(ROI_COLOR,
                                                                                width=2))
        self.roi.setZValue(20)
        self.roi.setVisible(False)
        host.addItem(self.roi, ignoreBounds=True)
        self._sources: list[ProfileSource] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics)
        self.roi.sigRegionChanged.connect(self.update_profile)

    def set_active(self, active: bool) -> None:
        """Show or hide the line (the plot is shown and hidden by the owner)."""
        self.roi.setVisible(active)
        if active:
            self.update_profile()

    def set_sources(self, sources: list[ProfileSource]) -> None:
        legend = self.amplitude_plot.legend
        if legend is not None:
            legend.clear()
        self._sources = list(sources)[:len(self.curves)]
        for (amplitude, phase), source in zip(self.curves, self._sources, strict=False):
            if legend is not None:
                legend.addItem(amplitude, source.label)
            amplitude.setVisible(True)
            phase.setVisible(True)
        for amplitude, phase in self.curves[len(self._sources):]:
            amplitude.setData([], [])
            phase.setData([], [])
        self.update_profile()

    def place_across(self, offset: tuple[float, float], shape: tuple[int, ...]) -> None:
        """Put the line across the middle row of an image of ``shape`` at ``offset``."""
        height, width = shape[:2]
        y = float(offset[0]) + height / 2.0
        x0, x1 = float(offset[1]) + 0.1 * width, float(offset[1]) + 0.9 * width
        self.set_line((x0, y), (x1, y))

    def set_line(self, start: tuple[float, float], end: tuple[float, float]) -> None:
        """Move the line to ``start`` -> ``end`` ((x, y) in the scan frame)."""
        handles = self.roi.getHandles()
        self.roi.blockSignals(True)
        try:
            self.roi.setPos(QPointF(0.0, 0.0))
            self.roi.movePoint(handles[0], QPointF(*start), finish=False, coords="parent")
            self.roi.movePoint(handles[1], QPointF(*end), finish=False, coords="parent")
        finally:
            self.roi.blockSignals(False)
        self.update_profile()

    def line(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """The line's ends (x, y) in the scan frame."""
        ends = [self.roi.mapToParent(position) for _, position in
                self.roi.getLocalHandlePositions()]
        return (ends[0].x(), ends[0].y()), (ends[1].x(), ends[1].y())

    @Slot()
    def update_profile(self) -> None:
        if not self.roi.isVisible():
            return
        start, end = self.line()
        for (amplitude_curve, phase_curve), source in zip(self.curves, self._sources,
                                                          strict=False):
            distance, values = sample_line(source.image, source.offset, start, end)
            amplitude_curve.setData(distance, np.abs(values))
            phase_curve.setData(distance, np.angle(values) if np.iscomplexobj(values)
                                else np.zeros_like(distance))

    def profile(self, index: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(distance, amplitude, phase) of source ``index`` as drawn."""
        amplitude, phase = self.curves[index]
        x, y = amplitude.getData()
        _, p = phase.getData()
        return (np.zeros(0) if x is None else np.asarray(x),
                np.zeros(0) if y is None else np.asarray(y),
                np.zeros(0) if p is None else np.asarray(p))
