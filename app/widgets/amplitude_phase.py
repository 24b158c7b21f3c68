"""Amplitude and phase of one complex image side by side, with linked zoom and pan.

The probe viewer uses it; reconstruction and preview panels can too.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QWidget

from .complex_image import ComplexImageView


class AmplitudePhaseView(QWidget):
    """Two ComplexImageViews (amplitude | phase, cyclic map) that zoom and pan together."""

    cursorInfo = Signal(str)

    def __init__(self, parent: QWidget | None = None, *, unit: str = ""):
        super().__init__(parent)
        self.amplitude_view = ComplexImageView(title="amplitude", unit=unit,
                                               component="amplitude", lock_component=True)
        self.phase_view = ComplexImageView(title="phase", unit=unit, component="phase",
                                           lock_component=True, show_scaling=False)
        self.phase_view.plot.setXLink(self.amplitude_view.plot)
        self.phase_view.plot.setYLink(self.amplitude_view.plot)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.amplitude_view)
        layout.addWidget(self.phase_view)
        self.amplitude_view.cursorInfo.connect(self.cursorInfo)
        self.phase_view.cursorInfo.connect(self.cursorInfo)

    def set_image(self, data: np.ndarray | None, *, auto_range: bool = False) -> None:
        """Show (H, W) complex ``data`` (None clears both views)."""
        if data is not None:
            data = np.asarray(data)
            if not np.iscomplexobj(data):
                data = data.astype(np.complex64)
        self.amplitude_view.set_image(data, auto_range=auto_range)
        self.phase_view.set_image(data, auto_range=auto_range)

    def image(self) -> np.ndarray | None:
        return self.amplitude_view.image()
