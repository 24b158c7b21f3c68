"""Phase ramps and global phase offsets: the ambiguities ptychography cannot resolve.

A reconstruction's phase is only defined up to a constant and (with position
errors or a shifted far-field centre) a linear ramp, so both are removed before
phase metrics. Coordinates: x = column index, y = row index, in pixels.
"""

from __future__ import annotations

import numpy as np


def _mask_or_all(shape: tuple[int, ...], mask: np.ndarray | None) -> np.ndarray:
    if mask is None:
        return np.ones(shape, dtype=bool)
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != shape:
        raise ValueError(f"mask shape {mask.shape} differs from the image shape {shape}")
    return mask


def _plane_is_determined(mask: np.ndarray) -> bool:
    rows, cols = np.nonzero(mask)
    return np.unique(rows).size >= 2 and np.unique(cols).size >= 2


def _fit_plane(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Least-squares plane a*x + b*y + c fitted to values[mask], evaluated everywhere.

    values: (H, W) float64. Returns (H, W) float64.
    """
    if not _plane_is_determined(mask):
        raise ValueError("a plane needs at least two distinct rows and columns inside the mask")
    rows, cols = np.nonzero(mask)
    row_c, col_c = rows.mean(), cols.mean()
    design = np.stack([cols - col_c, rows - row_c, np.ones(rows.size)], axis=1)
    (a, b, c), *_ = np.linalg.lstsq(design, values[rows, cols], rcond=None)
    grid_r, grid_c = np.indices(values.shape, dtype=np.float64)
    return a * (grid_c - col_c) + b * (grid_r - row_c) + c


def remove_phase_ramp(phase: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Phase minus its least-squares plane a*x + b*y + c (fitted over mask).

    phase: (H, W) float radians (unwrapped); mask: (H, W) bool or None (all).
    Returns (H, W) float64 radians.
    """
    phase = np.asarray(phase, dtype=np.float64)
    if phase.ndim != 2:
        raise ValueError(f"phase must be a 2-D image; got shape {phase.shape}")
    return phase - _fit_plane(phase, _mask_or_all(phase.shape, mask))


def relative_phase_plane(
    reconstruction: np.ndarray, reference: np.ndarray, mask: np.ndarray | None = None
) -> np.ndarray:
    """The plane c + a*x + b*y that best explains angle(reconstruction * conj(reference)).

    Wrap-safe: the slopes first come from the circular mean of neighbour phase
    differences and the constant from the circular mean of the residual, then the
    remaining small (unwrapped) residual is fitted by least squares over the mask
    (pixels where either image is exactly zero carry no phase and are left out;
    if too few remain to fix a plane, the plane is 0). Returns (H, W) float64 radians.
    """
    rec = np.asarray(reconstruction, dtype=np.complex128)
    ref = np.asarray(reference, dtype=np.complex128)
    if rec.shape != ref.shape or rec.ndim != 2:
        raise ValueError(f"images must be 2-D of one shape; got {rec.shape} and {ref.shape}")
    product = rec * np.conj(ref)
    use = _mask_or_all(rec.shape, mask) & (product != 0)
    if not _plane_is_determined(use):
        return np.zeros(rec.shape)  # (nearly) blank image: no phase to align
    unit = np.where(use, product / np.where(use, np.abs(product), 1.0), 0.0)
    slope_x = np.angle(np.sum(unit[:, 1:] * np.conj(unit[:, :-1])))
    slope_y = np.angle(np.sum(unit[1:, :] * np.conj(unit[:-1, :])))
    grid_r, grid_c = np.indices(rec.shape, dtype=np.float64)
    plane = slope_x * grid_c + slope_y * grid_r
    plane += np.angle(np.sum(unit * np.exp(-1j * plane)))
    for _ in range(2):
        residual = np.angle(unit * np.exp(-1j * plane))
        plane += _fit_plane(residual, use)
    return plane


def align_phase(
    reconstruction: np.ndarray, reference: np.ndarray, mask: np.ndarray | None = None
) -> np.ndarray:
    """The reconstruction with its global phase offset and linear ramp matched to the reference.

    reconstruction, reference: (H, W) complex; mask: (H, W) bool or None.
    Fits c + a*x + b*y to the wrapped phase difference angle(recon * conj(reference))
    (``relative_phase_plane``) and removes it from the reconstruction, so real
    ramps in the reference survive (unlike fitting each phase separately).
    Returns (H, W) complex128.
    """
    plane = relative_phase_plane(reconstruction, reference, mask)
    return np.asarray(reconstruction, dtype=np.complex128) * np.exp(-1j * plane)
