"""Numbers about a scan that a viewer shows: the mean diffraction intensity, probe size.

The mean reads a (possibly lazy, 100,000-pattern) stack in chunks, reports
progress and can be stopped between chunks, so a GUI can run it in a worker.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .io.geometry import probe_diameter_px
from .scan import Scan


def mean_intensity(scan: Scan, *, chunk: int = 256,
                   should_stop: Callable[[], bool] | None = None,
                   progress: Callable[[int, int], None] | None = None) -> np.ndarray | None:
    """Mean photon counts per detector pixel over all patterns, (N, N) float32.

    Reads ``chunk`` patterns at a time (amplitudes squared, summed in float64).
    ``should_stop()`` is asked between chunks; when it returns True the function
    returns None. ``progress(done, total)`` is called after each chunk.
    """
    n = scan.n_patterns
    total = np.zeros((scan.N, scan.N), dtype=np.float64)
    for start in range(0, n, max(1, int(chunk))):
        if should_stop is not None and should_stop():
            return None
        stop = min(n, start + max(1, int(chunk)))
        amplitudes = np.asarray(scan.diffraction[start:stop], dtype=np.float64)
        total += (amplitudes**2).sum(axis=0)
        if progress is not None:
            progress(stop, n)
    return (total / n).astype(np.float32)


def _fwhm_1d(profile: np.ndarray, peak: int) -> float:
    """Full width at half maximum of a 1-D profile around index ``peak``, interpolated."""
    half = profile[peak] / 2.0
    if half <= 0:
        return 0.0
    left = peak
    while left > 0 and profile[left - 1] > half:
        left -= 1
    right = peak
    while right < profile.size - 1 and profile[right + 1] > half:
        right += 1
    # linear interpolation of the crossings; the profile edge counts as a crossing
    if left > 0:
        lo, hi = profile[left - 1], profile[left]
        x_left = left - 1 + (half - lo) / (hi - lo)
    else:
        x_left = -0.5
    if right < profile.size - 1:
        hi, lo = profile[right], profile[right + 1]
        x_right = right + (hi - half) / (hi - lo)
    else:
        x_right = profile.size - 0.5
    return float(x_right - x_left)


def probe_properties(probe: np.ndarray, object_pixel_m: float | None = None) -> dict[str, Any]:
    """Size and strength of a probe, (N, N) complex on the object pixel grid.

    ``fwhm_x_px``/``fwhm_y_px``: full width at half maximum of the intensity
    |probe|**2 along the row and column through its peak; ``diameter_px``: the
    equivalent-circle diameter of the engine's summary (|probe| >= half its
    peak); ``total_intensity``: sum of |probe|**2 (photons per exposure when
    the probe is scaled to counts); ``peak_amplitude``: max |probe|. Lengths in
    metres too when ``object_pixel_m`` is known.
    """
    probe = np.asarray(probe)
    intensity = np.abs(probe).astype(np.float64) ** 2
    row, col = np.unravel_index(int(np.argmax(intensity)), intensity.shape)
    fwhm_x = _fwhm_1d(intensity[row, :], int(col))
    fwhm_y = _fwhm_1d(intensity[:, col], int(row))
    diameter = probe_diameter_px(probe)
    scale = object_pixel_m
    return {
        "fwhm_x_px": fwhm_x,
        "fwhm_y_px": fwhm_y,
        "diameter_px": diameter,
        "fwhm_x_m": None if scale is None else fwhm_x * scale,
        "fwhm_y_m": None if scale is None else fwhm_y * scale,
        "diameter_m": None if scale is None else diameter * scale,
        "total_intensity": float(intensity.sum()),
        "peak_amplitude": float(np.sqrt(intensity.max())),
        "peak_px": (int(col), int(row)),
    }
