"""A reconstruction beside its reference: amplitude | phase on top, the reference below,
all four views zooming and panning together in the scan's pixel frame.

Images are placed where they lie in the scan: pixel [r, c] of an object whose
offset is (row, col) is drawn centred on (x, y) = (col + c, row + r), so a
reconstruction and a ground truth of different sizes line up, and the scan
positions (x, y) can be overlaid as they are.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QTimer, Signal, Slot
from PySide6.QtGui import QResizeEvent, QShowEvent
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from .amplitude_phase import AmplitudePhaseView
from .complex_image import ComplexImageView

POSITION_BRUSH = (255, 255, 255, 150)
POSITION_PEN = (0, 0, 0, 160)


def _titled(view: AmplitudePhaseView, what: str) -> None:
    for part, image in (("amplitude", view.amplitude_view), ("phase", view.phase_view)):
        image.title = f"{what} {part}"
        image.plot.setTitle(image.title, size="9pt")


def place(view: ComplexImageView, offset: tuple[float, float]) -> None:
    """Put ``view``'s image so that pixel [r, c] is centred on (offset_col + c, offset_row + r)."""
    view.image_item.setPos(float(offset[1]) - 0.5, float(offset[0]) - 0.5)


class ComparisonView(QWidget):
    """``reconstructionView``: reconstruction amplitude | phase above the reference's, linked."""

    cursorInfo = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("reconstructionView")
        self.recon = AmplitudePhaseView()
        self.recon.setObjectName("reconstructionImages")
        self.reference = AmplitudePhaseView()
        self.reference.setObjectName("referenceImages")
        _titled(self.recon, "reconstruction")
        _titled(self.reference, "reference")
        self.reference.setVisible(False)
        self.empty_label = QLabel("No reconstruction yet: train a model, or Load Model…, then "
                                  "Reconstruct.")
        self.empty_label.setWordWrap(True)
        self.position_items = []
        for view in self.recon_views():
            scatter = pg.ScatterPlotItem(size=5, pen=pg.mkPen(POSITION_PEN),
                                         brush=pg.mkBrush(POSITION_BRUSH))
            scatter.setZValue(10)
            scatter.setVisible(False)
            view.plot.addItem(scatter, ignoreBounds=True)  # the image alone sets the zoom
            self.position_items.append(scatter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.empty_label)
        layout.addWidget(self.recon, stretch=1)
        layout.addWidget(self.reference, stretch=1)
        self.recon.cursorInfo.connect(self.cursorInfo)
        self.reference.cursorInfo.connect(self.cursorInfo)
        self._shape: tuple[int, ...] | None = None
        self._fit_rect: QRectF | None = None
        self._keep_fit = True
        self._syncing = False
        self._link_views()

    def recon_views(self) -> tuple[ComplexImageView, ComplexImageView]:
        return self.recon.amplitude_view, self.recon.phase_view

    def reference_views(self) -> tuple[ComplexImageView, ComplexImageView]:
        return self.reference.amplitude_view, self.reference.phase_view

    def all_views(self) -> tuple[ComplexImageView, ...]:
        return (*self.recon_views(), *self.reference_views())

    def set_reconstruction(self, obj: np.ndarray | None, offset: tuple[float, float] = (0, 0),
                           positions: np.ndarray | None = None) -> None:
        """Show (H, W) complex ``obj`` at ``offset`` (row, col); ``positions`` (n, 2) [x, y]
        in the scan frame for the overlay. A new size refits the zoom; the same size keeps
        the operator's zoom and levels."""
        self.empty_label.setVisible(obj is None)
        if obj is None:
            self.recon.set_image(None)
            self.set_reference(None)
            self._shape = None
            for scatter in self.position_items:
                scatter.clear()
            return
        refit = self._shape != obj.shape
        self.recon.set_image(obj)
        for view in self.recon_views():
            place(view, offset)
        points = np.zeros((0, 2)) if positions is None else np.asarray(positions, np.float64)
        for scatter in self.position_items:
            scatter.setData(pos=points)
        self._shape = obj.shape
        if refit:
            self.fit(offset, obj.shape)

    def set_reference(self, obj: np.ndarray | None, offset: tuple[float, float] = (0, 0),
                      label: str = "reference") -> None:
        """Show the comparison object below (None hides that row)."""
        self.reference.setVisible(obj is not None)
        if obj is None:
            self.reference.set_image(None)
            return
        _titled(self.reference, label)
        self.reference.set_image(obj)
        for view in self.reference_views():
            place(view, offset)
            view.plot.disableAutoRange()  # the reconstruction's view leads the zoom
        self._follow_leader()

    def fit(self, offset: tuple[float, float], shape: tuple[int, ...]) -> None:
        """Zoom all views to the reconstruction's extent, and keep doing so when the view is
        shown or resized until the operator zooms or pans (as every image view does)."""
        for view in self.all_views():
            view.plot.disableAutoRange()  # the leader's explicit range rules
        height, width = shape[:2]
        self._fit_rect = QRectF(float(offset[1]) - 0.5, float(offset[0]) - 0.5, float(width),
                                float(height))
        self._keep_fit = True
        self._apply_fit()

    @Slot()
    def _apply_fit(self) -> None:
        if self._keep_fit and self._fit_rect is not None and self.isVisible():
            self.leader().setRange(self._fit_rect, padding=0.02)
        self._follow_leader()

    # ---------------------------------------------------------------- linking
    def _link_views(self) -> None:
        """One-way links: the reconstruction's amplitude view leads, the three others follow;
        a zoom or pan in any view is handed to the leader. pyqtgraph's two-way links with
        locked aspect ratios feed each other's adjustments back and the range runs away
        when the views differ in size (seen here as a zoom-out to +-2000 px)."""
        for view in self.all_views():
            view.plot.setXLink(None)
            view.plot.setYLink(None)
            box = view.plot.getViewBox()
            box.sigRangeChangedManually.connect(
                lambda *_args, source=box: self._on_manual_range(source))
        self.leader().sigRangeChanged.connect(self._follow_leader)

    def leader(self) -> pg.ViewBox:
        return self.recon.amplitude_view.plot.getViewBox()

    def _on_manual_range(self, source: pg.ViewBox) -> None:
        self._keep_fit = False
        if source is not self.leader() and not self._syncing:
            self.leader().setRange(source.viewRect(), padding=0)

    def _follow_leader(self, *_args: object) -> None:
        if self._syncing:
            return
        self._syncing = True
        try:
            rect = self.leader().viewRect()
            for view in self.all_views()[1:]:
                view.plot.getViewBox().setRange(rect, padding=0)
        finally:
            self._syncing = False

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        QTimer.singleShot(0, self, self._apply_fit)  # once the views have their size

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        QTimer.singleShot(0, self, self._apply_fit)

    def set_positions_visible(self, visible: bool) -> None:
        for scatter in self.position_items:
            scatter.setVisible(visible)
