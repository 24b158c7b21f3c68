"""Fourier ring correlation (FRC) and the resolution it implies.

FRC(ring) = |sum F1 F2*| / sqrt(sum |F1|^2 sum |F2|^2) over integer-radius rings
(radius rounded to the nearest integer) of the centred 2-D FFT, as in
PtychoPINN's evaluation (hoidn/FRC). Images are centre-cropped to a square.
Like the reference, no window is applied by default; ``window=True`` subtracts
the means and applies a Hann window first, which keeps the sharp edges two crops
of one region share from posing as correlated high-frequency signal (``evaluate``
uses it). On a nearly constant image (e.g. a flat phase) the curve is noise and
the resolution it gives is not meaningful.
"""

from __future__ import annotations

import numpy as np

from .window import hann_tapered


def _square(image: np.ndarray, size: int) -> np.ndarray:
    r0 = (image.shape[0] - size) // 2
    c0 = (image.shape[1] - size) // 2
    return image[r0 : r0 + size, c0 : c0 + size]


def frc(a: np.ndarray, b: np.ndarray, *, window: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """FRC curve of images a, b (H, W), real or complex (window: Hann taper first).

    Returns ``(frequency, value)``: (n//2 + 1,) float64 spatial frequency of each ring
    in cycles/pixel (ring r is r / n, n = min(H, W)), and its FRC in [0, 1]
    (0 where a ring holds no power in either image).
    """
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"images must be 2-D of one shape; got {a.shape} and {b.shape}")
    n = min(a.shape)
    if n < 2:
        raise ValueError(f"FRC needs images of at least 2 px a side; got {a.shape}")
    a, b = _square(a, n).astype(np.complex128), _square(b, n).astype(np.complex128)
    if window:
        a, b = hann_tapered(a), hann_tapered(b)
    f1 = np.fft.fftshift(np.fft.fft2(a))
    f2 = np.fft.fftshift(np.fft.fft2(b))
    grid = np.arange(n) - n // 2
    radius = np.rint(np.hypot(grid[:, None], grid[None, :])).astype(np.int64).ravel()
    rings = n // 2 + 1
    keep = radius < rings
    radius = radius[keep]
    cross = (f1 * np.conj(f2)).ravel()[keep]
    numerator = np.abs(
        np.bincount(radius, cross.real, rings) + 1j * np.bincount(radius, cross.imag, rings)
    )
    power = np.bincount(radius, (np.abs(f1) ** 2).ravel()[keep], rings) * np.bincount(
        radius, (np.abs(f2) ** 2).ravel()[keep], rings
    )
    value = np.zeros(rings)
    has_power = power > 0
    value[has_power] = numerator[has_power] / np.sqrt(power[has_power])
    return np.arange(rings) / n, np.minimum(value, 1.0)


def frc_resolution(
    a: np.ndarray, b: np.ndarray, threshold: float = 0.5, *, window: bool = False
) -> float:
    """Resolution in pixels: 1 / the first spatial frequency where the FRC drops below threshold.

    The crossing is interpolated linearly between the last ring at or above and the
    first ring below the threshold. If the FRC never drops below it, the result is
    the Nyquist limit, 2 px; if already the zero-frequency ring is below, inf.
    """
    frequency, value = frc(a, b, window=window)
    below = np.nonzero(value < threshold)[0]
    if below.size == 0:
        return 2.0
    i = int(below[0])
    if i == 0:
        return float("inf")
    step = (value[i - 1] - threshold) / (value[i - 1] - value[i])
    crossing = frequency[i - 1] + step * (frequency[i] - frequency[i - 1])
    return float(1.0 / crossing) if crossing > 0 else float("inf")
