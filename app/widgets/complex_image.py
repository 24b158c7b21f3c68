"""The one image view of the app: real or complex 2-D data with components, scaling and levels.

Used by the diffraction viewer, the probe viewer and (training, reconstruction)
previews. Data go to pyqtgraph as float32 in row-major order (row 0 at the
top); the read-out always shows the raw value under the cursor, not the
scaled one.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from .colormaps import AMPLITUDE_COLORMAPS, PHASE_COLORMAPS, default_colormap, gradient_colormap
from .image_math import COMPONENTS, SCALINGS, component, scaled
from .image_math import auto_levels as fit_levels

PHASE_LEVELS = (-math.pi, math.pi)


class ComplexImageView(QWidget):
    """An image with a histogram/colour bar, component and scaling choices, and a read-out.

    ``set_image(data)`` takes (H, W) real or complex arrays. Complex data offer
    amplitude | phase | real | imaginary; phase uses a cyclic colour map with
    levels fixed to (-pi, pi] until the user moves them. ``cursorInfo(text)``
    reports the pixel and value under the mouse.
    """

    cursorInfo = Signal(str)

    def __init__(self, parent: QWidget | None = None, *, title: str = "", unit: str = "",
                 component: str = "amplitude", scaling: str = "linear",
                 lock_component: bool = False, show_scaling: bool = True):
        super().__init__(parent)
        self.title = title
        self.unit = unit
        self._data: np.ndarray | None = None
        self._display: np.ndarray | None = None
        self._component = component
        self._colormaps = {name: default_colormap(name) for name in COMPONENTS}
        self._user_levels = False
        self._adjusting = False
        self._lock_component = lock_component
        self._build(scaling, show_scaling)

    # ------------------------------------------------------------------ build
    def _build(self, scaling: str, show_scaling: bool) -> None:
        controls = self._build_controls(scaling, show_scaling)
        self._build_plot()
        self.readout = QLabel(" ")
        self.readout.setObjectName("imageReadout")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        layout.addLayout(controls)
        layout.addWidget(self.graphics, stretch=1)
        layout.addWidget(self.readout)

        self._refresh_colormap_choices()
        self._update_controls()
        self.component_box.currentTextChanged.connect(self.set_component)
        self.scaling_box.currentTextChanged.connect(self._on_scaling)
        self.colormap_box.currentTextChanged.connect(self._on_colormap)
        self.auto_button.toggled.connect(self._on_auto_toggled)
        self.export_button.clicked.connect(self._on_export_clicked)
        self.histogram.sigLevelChangeFinished.connect(self._on_levels_moved)
        self.graphics.scene().sigMouseMoved.connect(self._on_mouse_moved)

    def _build_controls(self, scaling: str, show_scaling: bool) -> QHBoxLayout:
        self.component_box = QComboBox()
        self.component_box.addItems(COMPONENTS)
        self.component_box.setCurrentText(self._component)
        self.component_box.setToolTip("Which part of the complex values to show")
        self.scaling_box = QComboBox()
        self.scaling_box.addItems(SCALINGS)
        self.scaling_box.setCurrentText(scaling)
        self.scaling_box.setToolTip("Intensity scaling: linear, square root, or log10")
        self.scaling_box.setVisible(show_scaling)
        self.colormap_box = QComboBox()
        self.colormap_box.setToolTip("Colour map (cyclic maps for phase)")
        self.auto_button = QPushButton("Auto levels")
        self.auto_button.setCheckable(True)
        self.auto_button.setChecked(True)
        self.auto_button.setToolTip("Fit the colour levels to each new image; moving the "
                                    "levels by hand switches this off")
        self.export_button = QPushButton("PNG…")
        self.export_button.setToolTip("Export the view as a PNG image")

        controls = QHBoxLayout()
        controls.setContentsMargins(0, 0, 0, 0)
        for widget in (self.component_box, self.scaling_box, self.colormap_box):
            controls.addWidget(widget)
        controls.addStretch(1)
        controls.addWidget(self.auto_button)
        controls.addWidget(self.export_button)
        return controls

    def _build_plot(self) -> None:
        """The image in an aspect-locked plot (row 0 at the top) and its histogram."""
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.plot = self.graphics.addPlot(row=0, col=0)
        if self.title:
            self.plot.setTitle(self.title, size="9pt")
        self.plot.setAspectLocked(True)
        self.plot.invertY(True)
        self.plot.getViewBox().setDefaultPadding(0.0)
        self.plot.setMenuEnabled(False)
        self.plot.showAxes(True, showValues=(True, False, False, True))
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image_item)
        self.histogram = pg.HistogramLUTItem(self.image_item)
        self._applied_colormap = ""
        self.graphics.addItem(self.histogram, row=0, col=1)

    # ------------------------------------------------------------- public API
    def set_image(self, data: np.ndarray | None, *, auto_levels: bool | None = None,
                  auto_range: bool = False) -> None:
        """Show ``data`` (H, W) real or complex; None clears the view.

        Levels follow the Auto levels button unless ``auto_levels`` says otherwise;
        ``auto_range`` refits the zoom (also done when the image size changes).
        """
        if data is None:
            self.clear()
            return
        data = np.asarray(data)
        if data.ndim != 2:
            raise ValueError(f"expected a 2-D image, got shape {data.shape}")
        resized = self._data is None or self._data.shape != data.shape
        was_complex = self._data is not None and np.iscomplexobj(self._data)
        self._data = data
        if np.iscomplexobj(data) != was_complex:
            self._update_controls()
        self._render(auto_levels=auto_levels)
        if auto_range or resized:
            # stays on until the user zooms or pans, so the image refits when the view
            # is first shown or resized
            self.plot.enableAutoRange()

    def clear(self) -> None:
        self._data = None
        self._display = None
        self.image_item.clear()
        self.readout.setText(" ")

    def image(self) -> np.ndarray | None:
        """The raw data last given to ``set_image``."""
        return self._data

    def displayed_image(self) -> np.ndarray | None:
        """The float32 image as drawn (component, then scaling)."""
        return self._display

    def component(self) -> str:
        return self._component if self._is_complex() else "real"

    @Slot(str)
    def set_component(self, name: str) -> None:
        if name not in COMPONENTS:
            raise ValueError(f"unknown component {name!r}; use one of {COMPONENTS}")
        if name == self._component:
            return
        self._component = name
        self._user_levels = False
        self.component_box.setCurrentText(name)
        self._update_controls()
        self._render(auto_levels=True)

    def scaling(self) -> str:
        return "linear" if self._phase_shown() else self.scaling_box.currentText()

    def set_scaling(self, name: str) -> None:
        if name not in SCALINGS:
            raise ValueError(f"unknown scaling {name!r}; use one of {SCALINGS}")
        self.scaling_box.setCurrentText(name)

    def set_colormap(self, name: str) -> None:
        """Use colour map ``name`` for the component now shown."""
        self.colormap_box.setCurrentText(name)

    def colormap_name(self) -> str:
        return self._colormaps[self._shown_component()]

    def levels(self) -> tuple[float, float]:
        low, high = self.histogram.getLevels()
        return float(low), float(high)

    def set_levels(self, low: float, high: float) -> None:
        """Fix the colour levels (in displayed units) and switch Auto levels off."""
        self._apply_levels((low, high))
        self._user_levels = True
        self.auto_button.setChecked(False)

    def export_png(self, path: str | Path) -> Path:
        """Save the view (image, axes and colour bar) as a PNG file."""
        path = Path(path)
        if path.suffix.lower() != ".png":
            path = path.with_suffix(".png")
        if not self.graphics.grab().save(str(path), "PNG"):
            raise OSError(f"{path}: cannot write the PNG file; check the folder exists and "
                          "is writable")
        return path

    # -------------------------------------------------------------- internals
    def _is_complex(self) -> bool:
        return self._data is not None and np.iscomplexobj(self._data)

    def _shown_component(self) -> str:
        return self._component if self._is_complex() else "real"

    def _phase_shown(self) -> bool:
        return self._is_complex() and self._component == "phase"

    def _update_controls(self) -> None:
        self.component_box.setVisible(self._is_complex() and not self._lock_component)
        self.scaling_box.setEnabled(not self._phase_shown())
        self._refresh_colormap_choices()

    def _refresh_colormap_choices(self) -> None:
        names = PHASE_COLORMAPS if self._phase_shown() else AMPLITUDE_COLORMAPS
        current = self._colormaps[self._shown_component()]
        self.colormap_box.blockSignals(True)
        self.colormap_box.clear()
        self.colormap_box.addItems(names)
        self.colormap_box.setCurrentText(current)
        self.colormap_box.blockSignals(False)
        self._apply_colormap(current)

    def _apply_colormap(self, name: str) -> None:
        if name != self._applied_colormap:
            self.histogram.gradient.setColorMap(gradient_colormap(name))
            self.histogram.gradient.showTicks(False)  # colour stops are not for editing here
            self._applied_colormap = name

    def _render(self, *, auto_levels: bool | None) -> None:
        if self._data is None:
            return
        values = component(self._data, self._shown_component())
        display = values if self._phase_shown() else scaled(values, self.scaling())
        self._display = display
        fit = self.auto_button.isChecked() if auto_levels is None else auto_levels
        if fit and not self._user_levels:
            levels = PHASE_LEVELS if self._phase_shown() else fit_levels(display)
        else:
            levels = self.levels()
        self._adjusting = True
        try:
            self.image_item.setImage(display, autoLevels=False, levels=levels)
            self.histogram.setLevels(*levels)
        finally:
            self._adjusting = False

    def _apply_levels(self, levels: tuple[float, float]) -> None:
        self._adjusting = True
        try:
            self.histogram.setLevels(*levels)
        finally:
            self._adjusting = False

    @Slot(str)
    def _on_scaling(self, _name: str) -> None:
        self._user_levels = False
        self._render(auto_levels=True)

    @Slot(str)
    def _on_colormap(self, name: str) -> None:
        if name:
            self._colormaps[self._shown_component()] = name
            self._apply_colormap(name)

    @Slot(bool)
    def _on_auto_toggled(self, checked: bool) -> None:
        if checked:
            self._user_levels = False
            self._render(auto_levels=True)

    @Slot()
    def _on_levels_moved(self) -> None:
        if not self._adjusting and self._data is not None:
            self._user_levels = True
            self.auto_button.blockSignals(True)
            self.auto_button.setChecked(False)
            self.auto_button.blockSignals(False)

    @Slot()
    def _on_export_clicked(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Export view as PNG",
                                              f"{self.title or 'image'}.png",
                                              "PNG image (*.png)")
        if name:
            self.export_png(name)

    @Slot(object)
    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        text = self.readout_at(self.image_item.mapFromScene(scene_pos))
        if text:
            self.readout.setText(text)
            self.cursorInfo.emit(text)

    def readout_at(self, point: QPointF) -> str:
        """The read-out text for a point in image coordinates; '' outside the image."""
        if self._data is None:
            return ""
        col, row = int(math.floor(point.x())), int(math.floor(point.y()))
        height, width = self._data.shape
        if not (0 <= row < height and 0 <= col < width):
            return ""
        value = self._data[row, col]
        unit = f" {self.unit}" if self.unit else ""
        where = f"{self.title + ' ' if self.title else ''}x={col} y={row}"
        if np.iscomplexobj(self._data):
            return (f"{where}  amplitude {abs(value):.4g}{unit}  "
                    f"phase {float(np.angle(value)):+.3f} rad")
        return f"{where}  value {float(value):.4g}{unit}"

