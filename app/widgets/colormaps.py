"""Colour maps the image views offer: perceptually uniform ones, and cyclic ones for phase.

All ship with pyqtgraph (no matplotlib needed). Phase wraps at +-pi, so it
needs a cyclic map whose two ends have the same colour.
"""

from __future__ import annotations

import functools

import numpy as np
import pyqtgraph as pg

AMPLITUDE_COLORMAPS = ("viridis", "inferno", "magma", "cividis", "CET-L1", "CET-L3")
"""Sequential maps; CET-L1 is grey, CET-L3 is 'fire'."""
PHASE_COLORMAPS = ("CET-C6", "CET-C1", "CET-C2", "CET-C3", "CET-C4", "CET-C5", "CET-C7")
"""Cyclic maps; CET-C6 is a bright HSV-like wheel, CET-C5 a grey cycle."""
GRADIENT_STOPS = 32
"""Colour stops given to a histogram's gradient: pyqtgraph makes one editable tick per stop,
and 256 of them take ~50 ms to build; 32 linearly interpolated stops look the same."""


def default_colormap(component: str) -> str:
    """The map a component starts with: cyclic for phase, viridis otherwise."""
    return PHASE_COLORMAPS[0] if component == "phase" else AMPLITUDE_COLORMAPS[0]


@functools.lru_cache(maxsize=32)
def colormap(name: str) -> pg.ColorMap:
    """pyqtgraph's ColorMap called ``name`` (read once from pyqtgraph's bundled files)."""
    return pg.colormap.get(name)


@functools.lru_cache(maxsize=32)
def gradient_colormap(name: str) -> pg.ColorMap:
    """``colormap(name)`` resampled to GRADIENT_STOPS stops, for HistogramLUTItem gradients."""
    full = colormap(name)
    positions = np.linspace(0.0, 1.0, GRADIENT_STOPS)
    return pg.ColorMap(positions, full.map(positions, mode="byte"))
