"""Sub-pixel image registration by phase cross-correlation, and Fourier shifting.

Sign convention: if ``reconstruction(r) = reference(r - d)`` (the content of the
reconstruction sits ``d = (dy, dx)`` pixels further along +row/+column), then
``register(reconstruction, reference)`` returns ``d``, and
``shift_image(reconstruction, -dy, -dx)`` aligns it with the reference.
"""

from __future__ import annotations

import numpy as np

from .window import hann_tapered


def shift_image(image: np.ndarray, dy: float, dx: float) -> np.ndarray:
    """Image translated by (dy, dx) pixels (out(r) = image(r - d)) with a Fourier phase ramp.

    image: (H, W) real or complex. The shift is periodic (content leaving one edge
    enters at the other). Returns float64 for real input, complex128 otherwise.
    """
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"image must be 2-D; got shape {image.shape}")
    fy = np.fft.fftfreq(image.shape[0])[:, None]
    fx = np.fft.fftfreq(image.shape[1])[None, :]
    ramp = np.exp(-2j * np.pi * (fy * dy + fx * dx))
    out = np.fft.ifft2(np.fft.fft2(image) * ramp)
    return out if np.iscomplexobj(image) else out.real


def _dft_around(spectrum: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Inverse DFT of spectrum (H, W) evaluated only at the (fractional) rows x cols given.

    The matrix-product form of Guizar-Sicairos et al. (Opt. Lett. 33, 156, 2008):
    cc(y, x) = sum_k,l S[k, l] exp(2 pi i (k y / H + l x / W)), k, l signed frequencies.
    """
    fy = np.fft.fftfreq(spectrum.shape[0])
    fx = np.fft.fftfreq(spectrum.shape[1])
    left = np.exp(2j * np.pi * np.outer(rows, fy))
    right = np.exp(2j * np.pi * np.outer(fx, cols))
    return left @ spectrum @ right


def register(
    reconstruction: np.ndarray,
    reference: np.ndarray,
    upsample: int = 20,
    *,
    phase_normalize: bool = True,
    window: bool = False,
) -> tuple[float, float]:
    """Shift (dy, dx) in pixels of the reconstruction relative to the reference.

    reconstruction, reference: (H, W) real or complex, same shape. The peak of the
    cross-correlation (phase-normalised unless ``phase_normalize`` is False) gives
    the integer shift; an upsampled DFT on a 1.5-pixel neighbourhood refines it to
    1/upsample pixel. ``window`` subtracts the means and applies a Hann window
    first: use it for non-periodic crops, whose common edges otherwise pull the
    estimate towards zero. Shifting the reconstruction by (-dy, -dx) aligns it
    (see the module docstring).
    """
    rec = np.asarray(reconstruction)
    ref = np.asarray(reference)
    if rec.shape != ref.shape or rec.ndim != 2:
        raise ValueError(f"images must be 2-D of one shape; got {rec.shape} and {ref.shape}")
    if upsample < 1:
        raise ValueError(f"upsample must be at least 1; got {upsample}")
    if window:
        rec, ref = hann_tapered(rec), hann_tapered(ref)
    cross = np.fft.fft2(rec) * np.conj(np.fft.fft2(ref))
    for axis, size in enumerate(cross.shape):
        if size % 2 == 0:  # a sub-pixel shift of a real image has no consistent Nyquist phase
            index = [slice(None), slice(None)]
            index[axis] = size // 2
            cross[tuple(index)] = 0.0
    if not np.any(cross):
        return 0.0, 0.0  # no common signal (e.g. a blank image): nothing to register
    if phase_normalize:
        magnitude = np.abs(cross)
        tiny = np.finfo(np.float64).tiny
        floor = np.finfo(np.float64).eps * max(float(magnitude.max()), tiny)
        cross = cross / np.maximum(magnitude, floor)
    correlation = np.abs(np.fft.ifft2(cross))
    peak = np.array(np.unravel_index(int(np.argmax(correlation)), correlation.shape), float)
    size = np.array(rec.shape, dtype=float)
    peak = np.where(peak > size // 2, peak - size, peak)
    if upsample == 1:
        return float(peak[0]), float(peak[1])
    region = int(np.ceil(1.5 * upsample))
    steps = (np.arange(region) - region // 2) / upsample
    rows = peak[0] + steps
    cols = peak[1] + steps
    fine = np.abs(_dft_around(cross, rows, cols))
    i, j = np.unravel_index(int(np.argmax(fine)), fine.shape)
    return float(rows[i]), float(cols[j])
