"""Live training curves: loss per epoch on a log axis, learning rate below, throttled redraws.

Epochs are appended to growing buffers and the curves are updated with
``setData`` (never re-plotted); redraws happen on a single-shot timer, so the
plots are redrawn at most 1000 / REDRAW_MS times a second however fast epochs
arrive. See ``loss_scale`` for how negative losses go on the log axis.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer, Signal, Slot
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from .log_ticks import log_ticks
from .loss_scale import loss_curves

if TYPE_CHECKING:
    from ptycho_engine import EpochRecord

REDRAW_MS = 100
TRAIN_COLOR = "#1f77b4"
VAL_COLOR = "#ff7f0e"
LR_COLOR = "#2ca02c"


class _Buffer:
    """A growing float64 column (capacity doubles), read as a view of the filled part."""

    def __init__(self, capacity: int = 64):
        self._data = np.full(capacity, np.nan)
        self.size = 0

    def append(self, value: float) -> None:
        if self.size == self._data.size:
            grown = np.full(self._data.size * 2, np.nan)
            grown[:self.size] = self._data
            self._data = grown
        self._data[self.size] = value
        self.size += 1

    def values(self) -> np.ndarray:
        return self._data[:self.size]

    def clear(self) -> None:
        self.size = 0


def _finite_or_nan(value: float | None) -> float:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else math.nan


class TrainingPlots(QWidget):
    """``lossPlot`` (train and validation loss per epoch, log y) and ``lrPlot`` (learning rate,
    log y, same epoch axis). ``add_epoch`` takes the engine's EpochRecord;
    ``redrawn`` fires after each (throttled) redraw, so companions can update with it."""

    redrawn = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.loss_plot = pg.PlotWidget()
        self.loss_plot.setObjectName("lossPlot")
        loss = self.loss_plot.getPlotItem()
        loss.setLogMode(x=False, y=True)
        loss.showGrid(x=True, y=True, alpha=0.2)
        loss.setLabel("bottom", "epoch")
        loss.setLabel("left", "loss (log scale)")
        loss.addLegend(offset=(-10, 10))
        loss.setMenuEnabled(False)
        symbol = {"symbol": "o", "symbolSize": 5}
        self.train_curve = loss.plot(name="train", pen=pg.mkPen(TRAIN_COLOR, width=2),
                                     symbolBrush=TRAIN_COLOR, symbolPen=None, **symbol)
        self.val_curve = loss.plot(name="validation", pen=pg.mkPen(VAL_COLOR, width=2),
                                   symbolBrush=VAL_COLOR, symbolPen=None, connect="finite",
                                   **symbol)
        self.lr_plot = pg.PlotWidget()
        self.lr_plot.setObjectName("lrPlot")
        lr = self.lr_plot.getPlotItem()
        lr.setLogMode(x=False, y=True)
        lr.showGrid(x=True, y=True, alpha=0.2)
        # no "epoch" title under this short plot (its x axis is the loss plot's, which has
        # one): the space goes to the vertical "learning rate" title, clipped otherwise
        lr.setLabel("left", "learning rate")
        lr.getAxis("left").enableAutoSIPrefix(False)
        lr.setMenuEnabled(False)
        lr.setXLink(loss)
        self.lr_curve = lr.plot(pen=pg.mkPen(LR_COLOR, width=2), stepMode=None)
        self.lr_plot.setMinimumHeight(110)
        self.lr_plot.setMaximumHeight(160)
        self.scale_note = QLabel(" ")
        self.scale_note.setObjectName("lossScaleNote")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.loss_plot, stretch=3)
        layout.addWidget(self.scale_note)
        layout.addWidget(self.lr_plot, stretch=1)

        self._epochs, self._train, self._val, self._lr = (_Buffer(), _Buffer(), _Buffer(),
                                                         _Buffer())
        self.axis_label = "loss (log scale)"
        self.loss_floor: tuple[float, float | None] | None = None
        self.redraws = 0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REDRAW_MS)
        self._timer.timeout.connect(self.redraw)

    @property
    def epochs(self) -> int:
        return self._epochs.size

    def clear(self) -> None:
        for buffer in (self._epochs, self._train, self._val, self._lr):
            buffer.clear()
        self.loss_floor = None
        self.redraw()

    @Slot(float, object)
    def set_loss_floor(self, train: float, validation: float | None) -> None:
        """The run's Poisson floors (see ``loss_scale``); the curves are redrawn above them."""
        self.loss_floor = (float(train), None if validation is None else float(validation))
        self.schedule_redraw()

    def add_epoch(self, record: EpochRecord) -> None:
        """Append one finished epoch and schedule a redraw."""
        self._epochs.append(float(record.epoch))
        self._train.append(_finite_or_nan(record.train_loss))
        self._val.append(_finite_or_nan(record.val_loss))
        self._lr.append(_finite_or_nan(record.lr))
        self.schedule_redraw()

    def schedule_redraw(self) -> None:
        if not self._timer.isActive():
            self._timer.start()

    @Slot()
    def redraw(self) -> None:
        """Push the buffers into the curves (the only place that touches them)."""
        self._timer.stop()
        self.redraws += 1
        epochs = self._epochs.values()
        curves = loss_curves(self._train.values(), self._val.values(), self.loss_floor)
        if curves.label != self.axis_label:
            self.axis_label = curves.label
            self.loss_plot.getPlotItem().setLabel("left", curves.label)
        self.scale_note.setText(curves.describe() if epochs.size else " ")
        self.train_curve.setData(epochs, curves.train)
        if np.isfinite(curves.val).any():
            self.val_curve.setData(epochs, curves.val)
        else:
            self.val_curve.setData([], [])
        lr = self._lr.values()
        keep = np.isfinite(lr) & (lr > 0)
        self.lr_curve.setData(epochs[keep], lr[keep])
        if keep.any():  # a decade around the values: a constant rate gets a sane axis
            low = float(np.log10(lr[keep].min())) - 0.5
            high = float(np.log10(lr[keep].max())) + 0.5
            item = self.lr_plot.getPlotItem()
            item.setYRange(low, high, padding=0)
            item.getAxis("left").setTicks([log_ticks(low, high), []])
        self.redrawn.emit()

    def curve_data(self) -> dict[str, np.ndarray]:
        """What the curves hold now (before the log axis): epochs, train, val, lr_epochs, lr."""

        def column(values: np.ndarray | None) -> np.ndarray:
            return np.zeros(0) if values is None else np.asarray(values)

        return {"epochs": column(self.train_curve.xData), "train": column(self.train_curve.yData),
                "val": column(self.val_curve.yData), "lr_epochs": column(self.lr_curve.xData),
                "lr": column(self.lr_curve.yData)}
