"""Scan patterns: (n, 2) float64 probe positions [x, y] in object pixels.

Pattern generators return positions around an arbitrary origin; place them
with :func:`place_in_new_object` (choose an object just large enough) or
:func:`fit_to_object` (centre them in a given object) so every N × N patch
lies inside the object.
"""

from __future__ import annotations

import math

import numpy as np

from ..core.errors import ConfigError

GOLDEN_ANGLE = math.pi * (3 - math.sqrt(5))

# The golden-angle spiral r = sqrt(k) has a median nearest-neighbour distance of
# 1.69 (measured for n = 50 .. 10^4), so c = step / 1.69 spaces points by step.
_FERMAT_C_PER_STEP = 1 / 1.69

def _check_step(step_px: float) -> None:
    if not np.isfinite(step_px) or step_px <= 0:
        raise ConfigError([("simulate.step_px", f"{step_px} is not a positive step in pixels")])


def raster_positions(grid_shape: tuple[int, int], step_px: float, jitter_px: float = 0.0,
                     seed: int = 0) -> np.ndarray:
    """A rows × columns raster, row by row, with optional Gaussian position jitter.

    grid_shape: (rows, columns); step_px: spacing in object pixels; jitter_px:
    standard deviation of the random displacement of each point, object pixels.
    Returns (rows·columns, 2) float64 [x, y], the first point at (0, 0) before jitter.
    """
    rows, cols = (int(v) for v in grid_shape)
    if rows < 1 or cols < 1:
        raise ConfigError([("simulate.patterns", f"raster of {rows} x {cols} points is empty")])
    _check_step(step_px)
    y, x = np.meshgrid(np.arange(rows) * step_px, np.arange(cols) * step_px, indexing="ij")
    positions = np.stack([x.ravel(), y.ravel()], axis=1).astype(np.float64)
    if jitter_px > 0:
        positions += np.random.default_rng(seed).normal(0.0, jitter_px, size=positions.shape)
    return positions


def raster_for_count(n: int, step_px: float, jitter_px: float = 0.0,
                     seed: int = 0) -> np.ndarray:
    """The first n points of the most nearly square raster that holds n points. (n, 2)."""
    if n < 1:
        raise ConfigError([("simulate.patterns", f"{n} patterns; use at least 1")])
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    return raster_positions((rows, cols), step_px, jitter_px, seed)[:n]


def fermat_spiral_positions(n: int, step_px: float) -> np.ndarray:
    """Fermat spiral: r = c·sqrt(k), θ = k·golden angle, k = 0 .. n-1, centred on (0, 0).

    c is chosen so the median nearest-neighbour spacing is step_px (object pixels).
    Returns (n, 2) float64 [x, y].
    """
    if n < 1:
        raise ConfigError([("simulate.patterns", f"{n} patterns; use at least 1")])
    _check_step(step_px)
    k = np.arange(n, dtype=np.float64)
    radius = _FERMAT_C_PER_STEP * step_px * np.sqrt(k)
    angle = k * GOLDEN_ANGLE
    return np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)


def place_in_new_object(positions: np.ndarray, N: int,
                        margin_px: float = 0.0) -> tuple[np.ndarray, tuple[int, int]]:
    """Shift positions so every N × N patch lies inside a new, just large enough object.

    positions: (n, 2) float [x, y]; margin_px: extra border beyond N/2, object pixels.
    Returns (shifted (n, 2) float64 positions, (height, width) of the object).
    The smallest x and y land on N/2 + margin_px.
    """
    positions = np.asarray(positions, dtype=np.float64)
    border = N / 2 + margin_px
    shifted = positions - positions.min(axis=0) + border
    width, height = (math.ceil(v) for v in shifted.max(axis=0) + border)
    return shifted, (height, width)


def fit_to_object(positions: np.ndarray, object_shape: tuple[int, int], N: int) -> np.ndarray:
    """Centre a scan pattern on an object; every N × N patch must fit inside it.

    positions: (n, 2) float [x, y]; object_shape: (height, width) in pixels.
    Returns (n, 2) float64 positions in that object's frame.
    """
    positions = np.asarray(positions, dtype=np.float64)
    height, width = object_shape
    low, high = positions.min(axis=0), positions.max(axis=0)
    span = high - low
    if span[0] + N > width or span[1] + N > height:
        raise ConfigError([("simulate.patterns",
                            f"the scan spans {span[0]:.0f} x {span[1]:.0f} pixels, so its "
                            f"{N} x {N} patches need a {math.ceil(span[1] + N)} x "
                            f"{math.ceil(span[0] + N)} object but the object is {height} x "
                            f"{width}; use fewer patterns or a smaller step")])
    centre = np.array([width / 2, height / 2])
    return positions - (low + high) / 2 + centre
