"""Edge taper for FFT-based metrics on non-periodic crops."""

from __future__ import annotations

import numpy as np


def hann_tapered(image: np.ndarray) -> np.ndarray:
    """Image (H, W) minus its mean, times a 2-D Hann window.

    An FFT treats a crop as periodic, so its edges act as sharp lines that two
    crops of the same region share; tapering removes them from registrations and
    FRC curves. Returns (H, W) float64 or complex128.
    """
    image = np.asarray(image)
    rows = np.sin(np.pi * (np.arange(image.shape[0]) + 0.5) / image.shape[0]) ** 2
    cols = np.sin(np.pi * (np.arange(image.shape[1]) + 0.5) / image.shape[1]) ** 2
    return (image - image.mean()) * np.outer(rows, cols)
