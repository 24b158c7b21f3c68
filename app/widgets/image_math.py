"""Display arithmetic for images: pick a component of complex data, scale it, find levels.

Only what a viewer needs to turn numbers into pixels; no physics. Every
function returns float32, which pyqtgraph draws fastest.
"""

from __future__ import annotations

import numpy as np

COMPONENTS = ("amplitude", "phase", "real", "imaginary")
SCALINGS = ("linear", "sqrt", "log")
LOG_FLOOR_RATIO = 1e-9
"""log scaling floors |values| at max(smallest positive, LOG_FLOOR_RATIO * largest)."""


def component(data: np.ndarray, name: str) -> np.ndarray:
    """One real component of ``data`` (H, W) real or complex, as float32.

    amplitude = |z|, phase = angle(z) in radians (-pi, pi], real, imaginary.
    """
    if name not in COMPONENTS:
        raise ValueError(f"unknown component {name!r}; use one of {COMPONENTS}")
    values = np.asarray(data)
    if name == "amplitude":
        result = np.abs(values)
    elif name == "phase":
        result = np.angle(values)
    elif name == "real":
        result = np.real(values)
    else:
        result = np.imag(values) if np.iscomplexobj(values) else np.zeros(values.shape)
    return np.ascontiguousarray(result, dtype=np.float32)


def scaled(values: np.ndarray, scaling: str) -> np.ndarray:
    """``values`` (H, W) float for display: linear, sqrt (sign kept) or log10 of |values|.

    log floors |values| at max(smallest positive |value|, 1e-9 * largest), so
    zero-count pixels show as the darkest colour instead of -inf.
    """
    if scaling not in SCALINGS:
        raise ValueError(f"unknown scaling {scaling!r}; use one of {SCALINGS}")
    values = np.asarray(values, dtype=np.float32)
    if scaling == "linear":
        return np.ascontiguousarray(values)
    if scaling == "sqrt":
        return (np.sign(values) * np.sqrt(np.abs(values))).astype(np.float32)
    magnitude = np.abs(values)
    finite = magnitude[np.isfinite(magnitude)]
    positive = finite[finite > 0]
    if positive.size == 0:
        return np.zeros_like(values)
    floor = max(float(positive.min()), LOG_FLOOR_RATIO * float(positive.max()))
    return np.log10(np.maximum(magnitude, floor)).astype(np.float32)


def auto_levels(values: np.ndarray) -> tuple[float, float]:
    """(low, high) colour levels spanning the finite values; never an empty range."""
    finite = np.asarray(values)[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, 1.0
    low, high = float(finite.min()), float(finite.max())
    if high <= low:
        pad = max(abs(low) * 1e-3, 0.5)
        return low - pad, high + pad
    return low, high
