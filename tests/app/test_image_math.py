"""Display arithmetic against numpy formulas written here, and the spin box's decade steps."""

from __future__ import annotations

import numpy as np
import pytest

from app.panels.positions_plot import order_bins
from app.widgets.float_spin_box import decade_step
from app.widgets.image_math import auto_levels, component, scaled


@pytest.fixture
def field() -> np.ndarray:
    rng = np.random.default_rng(3)
    return (rng.normal(size=(5, 7)) + 1j * rng.normal(size=(5, 7))).astype(np.complex64)


def test_components_of_complex_data(field):
    assert np.allclose(component(field, "amplitude"), np.hypot(field.real, field.imag))
    assert np.allclose(component(field, "phase"), np.arctan2(field.imag, field.real))
    assert np.allclose(component(field, "real"), field.real)
    assert np.allclose(component(field, "imaginary"), field.imag)
    assert all(component(field, n).dtype == np.float32
               for n in ("amplitude", "phase", "real", "imaginary"))
    real = field.real
    assert np.array_equal(component(real, "imaginary"), np.zeros_like(real))
    with pytest.raises(ValueError, match="unknown component"):
        component(field, "modulus")


def test_scalings_match_their_formulas():
    counts = np.array([[0.0, 1.0, 10.0], [100.0, 1e4, 0.5]], dtype=np.float32)
    assert np.array_equal(scaled(counts, "linear"), counts)
    assert np.allclose(scaled(counts, "sqrt"), np.sqrt(counts))
    logged = scaled(counts, "log")
    # zero is floored at the smallest positive value (0.5), not sent to -inf
    expected = np.log10(np.where(counts > 0, counts, 0.5))
    assert np.allclose(logged, expected)
    assert np.array_equal(scaled(np.zeros((3, 3)), "log"), np.zeros((3, 3)))
    signed = np.array([[-4.0, 9.0]])
    assert np.allclose(scaled(signed, "sqrt"), [[-2.0, 3.0]])


def test_auto_levels_never_empty_and_ignore_nan():
    assert auto_levels(np.array([[1.0, np.nan, 3.0]])) == (1.0, 3.0)
    low, high = auto_levels(np.full((4, 4), 2.0))
    assert low < 2.0 < high
    assert auto_levels(np.full((2, 2), np.nan)) == (0.0, 1.0)


@pytest.mark.parametrize("value, up, expected", [
    (1e-3, True, 2e-3), (9e-3, True, 1e-2), (1e-3, False, 9e-4), (0.05, False, 0.04),
    (20.0, True, 30.0), (0.0, True, 0.1), (-1.0, True, -0.9), (1e9, True, 2e9),
])
def test_decade_steps(value, up, expected):
    assert decade_step(value, up) == pytest.approx(expected)


def test_order_bins_follow_acquisition_order():
    bins = order_bins(100, 32)
    assert bins[0] == 0 and bins[-1] == 31
    assert np.all(np.diff(bins) >= 0)
    assert np.array_equal(order_bins(1), [0])
