"""Regression: creating and dropping many plot widgets must not crash the interpreter.

PySide6 6.12.0 with pyqtgraph 0.14.0 died after about 10 rounds of this
(refcount error in ViewBox menus); a binding upgrade that brings it back fails
here instead of at a beamline.
"""

from __future__ import annotations

import gc

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QApplication

from app.widgets.amplitude_phase import AmplitudePhaseView
from app.widgets.complex_image import ComplexImageView

ROUNDS = 16  # x 5 plot widgets each; the crash came after about 10


def test_build_and_drop_plot_widgets_in_a_loop(qtbot):
    rng = np.random.default_rng(0)
    image = (rng.random((32, 32)) * np.exp(1j * rng.random((32, 32)))).astype(np.complex64)
    for round_index in range(ROUNDS):
        widgets = [pg.ImageView(), pg.PlotWidget(), ComplexImageView(), AmplitudePhaseView()]
        widgets[0].setImage(np.abs(image))
        widgets[1].plot(np.arange(10), np.arange(10) ** 2)
        widgets[2].set_image(image)
        widgets[3].set_image(image)
        if round_index % 4 == 1:
            for widget in widgets:
                widget.show()
            QApplication.processEvents()
        for widget in widgets:
            widget.close()
            widget.deleteLater()
        del widgets
        QApplication.processEvents()
        gc.collect()
    assert True  # reaching this line is the test: the interpreter survived
