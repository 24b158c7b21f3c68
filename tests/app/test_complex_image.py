"""The complex-image widget: what it draws, its levels and colour maps, read-out and PNG export."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPointF
from PySide6.QtGui import QImage

from app.widgets.amplitude_phase import AmplitudePhaseView
from app.widgets.colormaps import PHASE_COLORMAPS, colormap
from app.widgets.complex_image import ComplexImageView


@pytest.fixture
def field() -> np.ndarray:
    rng = np.random.default_rng(11)
    amplitude = rng.uniform(0.5, 2.0, (12, 20))
    phase = rng.uniform(-3.0, 3.0, (12, 20))
    return (amplitude * np.exp(1j * phase)).astype(np.complex64)


@pytest.fixture
def view(qtbot) -> ComplexImageView:
    widget = ComplexImageView(title="test", unit="a.u.")
    qtbot.addWidget(widget)
    widget.resize(400, 300)
    return widget


def test_components_are_drawn_row_major_as_float32(view, field):
    view.set_image(field)
    drawn = view.image_item.image
    assert drawn.dtype == np.float32 and drawn.shape == (12, 20)  # rows x columns
    assert np.allclose(drawn, np.abs(field))
    assert view.component_box.isVisibleTo(view)
    view.set_component("real")
    assert np.allclose(view.image_item.image, field.real)
    view.set_component("imaginary")
    assert np.allclose(view.image_item.image, field.imag)


def test_phase_uses_a_cyclic_map_and_fixed_levels(view, field):
    view.set_image(field)
    view.set_component("phase")
    assert np.allclose(view.displayed_image(), np.angle(field))
    assert view.levels() == pytest.approx((-math.pi, math.pi))
    assert view.colormap_name() in PHASE_COLORMAPS
    lut = colormap(view.colormap_name()).getLookupTable(nPts=64, alpha=False)
    assert np.abs(lut[0].astype(int) - lut[-1].astype(int)).max() <= 12  # ends meet
    assert not view.scaling_box.isEnabled()
    view.set_component("amplitude")  # amplitude keeps its own (sequential) map
    assert view.colormap_name() not in PHASE_COLORMAPS


def test_real_data_hide_the_component_choice_and_log_scaling(view):
    counts = np.arange(1, 49, dtype=np.float32).reshape(6, 8) ** 2
    view.set_image(counts)
    assert not view.component_box.isVisibleTo(view)
    view.set_scaling("log")
    assert np.allclose(view.displayed_image(), np.log10(counts))
    assert view.levels() == pytest.approx((0.0, np.log10(48.0**2)), rel=1e-5)


def test_levels_follow_auto_until_set_by_hand(view):
    view.set_image(np.full((4, 4), 1.0) + np.eye(4))
    assert view.levels() == pytest.approx((1.0, 2.0))
    view.set_levels(0.0, 10.0)
    assert not view.auto_button.isChecked()
    view.set_image(np.full((4, 4), 5.0) + np.eye(4))
    assert view.levels() == pytest.approx((0.0, 10.0))
    view.auto_button.setChecked(True)
    assert view.levels() == pytest.approx((5.0, 6.0))


def test_readout_names_pixel_and_raw_values(view, field, qtbot):
    view.set_image(field)
    view.set_scaling("log")  # the read-out shows raw values, not scaled ones
    text = view.readout_at(QPointF(3.7, 5.2))  # column 3, row 5
    value = field[5, 3]
    assert "x=3 y=5" in text
    assert f"amplitude {abs(value):.4g} a.u." in text
    assert f"phase {np.angle(value):+.3f} rad" in text
    assert view.readout_at(QPointF(25.0, 1.0)) == ""  # outside the image
    shown = []
    view.cursorInfo.connect(shown.append)
    view.show()
    qtbot.waitExposed(view)
    scene_point = view.image_item.mapToScene(QPointF(3.5, 5.5))
    view.graphics.scene().sigMouseMoved.emit(scene_point)
    assert shown and "x=3 y=5" in shown[-1]
    assert view.readout.text() == shown[-1]


def test_export_png_writes_the_view(view, field, tmp_path: Path):
    view.set_image(field)
    written = view.export_png(tmp_path / "view")
    assert written.suffix == ".png"
    image = QImage(str(written))
    assert image.width() == view.graphics.width() and image.height() == view.graphics.height()
    with pytest.raises(OSError, match="cannot write"):
        view.export_png(tmp_path / "missing_folder" / "view.png")


def test_amplitude_phase_pair_links_zoom(qtbot, field):
    pair = AmplitudePhaseView()
    qtbot.addWidget(pair)
    pair.set_image(field)
    assert np.allclose(pair.amplitude_view.displayed_image(), np.abs(field))
    assert np.allclose(pair.phase_view.displayed_image(), np.angle(field))
    assert not pair.amplitude_view.component_box.isVisibleTo(pair)
    pair.amplitude_view.plot.setXRange(2, 6, padding=0)
    low, high = pair.phase_view.plot.getViewBox().viewRange()[0]
    assert (low, high) == pytest.approx((2, 6))
    pair.set_image(field.real)  # real data are shown as complex (phase 0 or pi)
    assert np.iscomplexobj(pair.image())
