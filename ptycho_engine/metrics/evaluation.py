"""Compare a stitched reconstruction with the ground-truth object (cf. eval_reconstruction).

Frame: reconstruction pixel [r, c] is ground-truth pixel (offset_row + r,
offset_col + c); fractional offsets resample the ground truth with cubic
splines. Steps: overlap of the two arrays, restricted to the mask and eroded by
``trim`` px; optional registration (integer + sub-pixel to 1/20 px, repeated up to three
times), folded into the offset so the ground truth is resampled rather than the
reconstruction wrapped; then
- amplitude: the reconstruction is scaled by mean(GT amp) / mean(recon amp);
  SSIM with data_range = max - min of the GT amplitude; PSNR with peak 1 after
  dividing both amplitudes by the GT's maximum; MAE in GT amplitude units;
- phase: global offset and linear ramp removed relative to the GT
  (``align_phase``); the reconstruction's phase is taken as GT phase + wrapped
  difference (no spurious 2 pi jumps; a zero pixel has phase 0), both mapped to
  [0, 1] by (phi + pi) / 2 pi for SSIM (data_range 1) and PSNR (peak 1); MAE in
  radians;
- FRC resolution (threshold 0.5) in pixels for amplitude and phase, Hann-windowed
  (unlike the reference, whose shared crop edges inflate the curve); Pearson
  correlations (a flat, collapsed amplitude has correlation ~0 but can have a small MAE).
PSNR here is peak-1: PtychoPINN's tables use cv2.PSNR's peak 255, about 48 dB higher.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import ndimage

from ..core.errors import PtychoError
from .frc import frc_resolution
from .phase import align_phase
from .registration import register
from .similarity import SSIM_RADIUS, pearson, psnr, ssim_map

MIN_OVERLAP = 16
"""The compared region must contain a square of this many pixels a side."""

_SNAP = 1e-6
_REGISTRATION_ROUNDS = 3
_REGISTRATION_UPSAMPLE = 20
_SPLINE_MARGIN = 16


@dataclass(frozen=True)
class Evaluation:
    """Reconstruction quality against the ground truth (see the module docstring for units).

    shift: (dy, dx) px the reconstruction was found displaced by relative to the
    ground truth at the given offset (0, 0 without registration). region:
    (row_start, row_stop, col_start, col_stop) of the compared box in ground-truth
    pixels (half-open). n_pixels: compared pixels (mask, overlap and trim applied).
    """

    amplitude_ssim: float
    phase_ssim: float
    amplitude_psnr: float
    phase_psnr: float
    amplitude_frc_px: float
    phase_frc_px: float
    amplitude_mae: float
    phase_mae: float
    amplitude_pearson: float
    phase_pearson: float
    shift: tuple[float, float]
    region: tuple[float, float, float, float]
    n_pixels: int

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values; non-finite numbers (PSNR of identical images) become None."""

        def plain(value: Any) -> Any:
            if isinstance(value, tuple):
                return [plain(v) for v in value]
            if isinstance(value, float):
                return value if math.isfinite(value) else None
            return value

        return {key: plain(value) for key, value in asdict(self).items()}


def _reference_on_grid(
    ground_truth: np.ndarray, offset: tuple[float, float], shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Ground truth sampled at frame points (offset + (r, c)) for r, c over shape.

    Returns (values (h, w) complex128, inside (h, w) bool: the point lies within the
    ground truth; values elsewhere are edge-clamped and must be ignored).
    """
    height, width = ground_truth.shape
    coords = []
    for axis, size, limit in ((0, shape[0], height), (1, shape[1], width)):
        start = float(offset[axis])
        if abs(start - round(start)) < _SNAP:
            start = float(round(start))
        points = start + np.arange(size)
        coords.append((points, (points >= 0) & (points <= limit - 1)))
    (rows, rows_in), (cols, cols_in) = coords
    row_base, col_base = int(np.floor(rows[0])), int(np.floor(cols[0]))
    frac = (rows[0] - row_base, cols[0] - col_base)
    lo_r = min(max(row_base - _SPLINE_MARGIN, 0), height - 1)
    hi_r = max(min(row_base + shape[0] + _SPLINE_MARGIN, height), lo_r + 1)
    lo_c = min(max(col_base - _SPLINE_MARGIN, 0), width - 1)
    hi_c = max(min(col_base + shape[1] + _SPLINE_MARGIN, width), lo_c + 1)
    block = ground_truth[lo_r:hi_r, lo_c:hi_c]
    if frac != (0.0, 0.0):
        move = (-frac[0], -frac[1])
        real = ndimage.shift(block.real, move, order=3, mode="nearest")
        imag = ndimage.shift(block.imag, move, order=3, mode="nearest")
        block = real + 1j * imag
    r_idx = np.clip(np.floor(rows).astype(int) - lo_r, 0, block.shape[0] - 1)
    c_idx = np.clip(np.floor(cols).astype(int) - lo_c, 0, block.shape[1] - 1)
    return block[np.ix_(r_idx, c_idx)], rows_in[:, None] & cols_in[None, :]


def _compared_pixels(inside: np.ndarray, mask: np.ndarray, trim: int) -> np.ndarray:
    """Pixels inside both arrays and the mask, eroded by trim px from every edge."""
    valid = inside & mask
    if trim > 0:
        valid = ndimage.binary_erosion(
            valid, structure=np.ones((3, 3), bool), iterations=trim, border_value=0
        )
    return valid


def _check_overlap(
    valid: np.ndarray, recon_shape: tuple[int, int], gt_shape: tuple[int, ...], offset, trim: int
) -> None:
    square = np.ones((MIN_OVERLAP, MIN_OVERLAP), bool)
    if not ndimage.binary_erosion(valid, structure=square, border_value=0).any():
        raise PtychoError(
            f"the reconstruction ({recon_shape[0]}×{recon_shape[1]} px, its pixel [0, 0] at "
            f"ground-truth row {offset[0]:.2f}, column {offset[1]:.2f}) and the ground truth "
            f"({gt_shape[0]}×{gt_shape[1]} px) share no {MIN_OVERLAP}×{MIN_OVERLAP} px region "
            f"after masking and trimming {trim} px; check that the scan positions and the "
            "ground truth use the same pixel frame, or pass the right offset"
        )


def _box(valid: np.ndarray) -> tuple[slice, slice]:
    rows = np.nonzero(valid.any(axis=1))[0]
    cols = np.nonzero(valid.any(axis=0))[0]
    return slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)


def _filled(image: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Image with pixels outside valid set to the mean of those inside (for FFT-based metrics)."""
    return np.where(valid, image, image[valid].mean())


def _masked_ssim(a: np.ndarray, b: np.ndarray, data_range: float, valid: np.ndarray) -> float:
    """Mean SSIM over pixels whose whole window lies in valid (all valid if none does)."""
    core = ndimage.binary_erosion(
        valid, structure=np.ones((3, 3), bool), iterations=SSIM_RADIUS, border_value=0
    )
    where = core if core.any() else valid
    return float(ssim_map(a, b, data_range)[where].mean())


def _residual_shift(
    recon: np.ndarray, sampled: np.ndarray, valid: np.ndarray
) -> tuple[float, float]:
    """Shift (dy, dx) of the reconstruction relative to the sampled ground truth.

    Complex images after phase alignment (so amplitude and phase contrast both
    count), Hann-windowed plain cross-correlation: robust to noise and to the
    common crop edges. Its small bias towards zero is removed by repeating it
    after resampling the ground truth (``_REGISTRATION_ROUNDS``).
    """
    rows, cols = _box(valid)
    box_valid = valid[rows, cols]
    reference = sampled[rows, cols]
    aligned = align_phase(recon[rows, cols], reference, box_valid)
    return register(
        _filled(aligned, box_valid),
        _filled(reference, box_valid),
        upsample=_REGISTRATION_UPSAMPLE,
        phase_normalize=False,
        window=True,
    )


def _windowed_frc(recon: np.ndarray, truth: np.ndarray, valid: np.ndarray) -> float:
    return frc_resolution(_filled(recon, valid), _filled(truth, valid), window=True)


def _positive(value: float, fallback: float) -> float:
    return value if value > 0 else fallback


def _scores(recon: np.ndarray, truth: np.ndarray, valid: np.ndarray) -> dict[str, float]:
    """The amplitude and phase metrics on one box: recon, truth (h, w) complex, valid (h, w)."""
    aligned = align_phase(recon, truth, valid)
    amp_true = np.abs(truth)
    amp_rec = np.abs(aligned)
    rec_mean = float(amp_rec[valid].mean())
    amp_rec = amp_rec * (float(amp_true[valid].mean()) / rec_mean if rec_mean > 0 else 1.0)
    true_max = _positive(float(amp_true[valid].max()), 1.0)
    amp_range = _positive(float(np.ptp(amp_true[valid])), true_max)

    phase_true = np.angle(truth)
    phase_diff = np.angle(np.exp(1j * (np.angle(aligned) - phase_true)))
    phase_rec = phase_true + phase_diff
    unit_true = (phase_true + np.pi) / (2 * np.pi)
    unit_rec = (phase_rec + np.pi) / (2 * np.pi)
    return {
        "amplitude_ssim": _masked_ssim(amp_rec, amp_true, amp_range, valid),
        "phase_ssim": _masked_ssim(unit_rec, unit_true, 1.0, valid),
        "amplitude_psnr": psnr(amp_rec[valid] / true_max, amp_true[valid] / true_max, 1.0),
        "phase_psnr": psnr(unit_rec[valid], unit_true[valid], 1.0),
        "amplitude_frc_px": _windowed_frc(amp_rec, amp_true, valid),
        "phase_frc_px": _windowed_frc(phase_rec, phase_true, valid),
        "amplitude_mae": float(np.abs(amp_rec - amp_true)[valid].mean()),
        "phase_mae": float(np.abs(phase_diff)[valid].mean()),
        "amplitude_pearson": pearson(amp_rec[valid], amp_true[valid]),
        "phase_pearson": pearson(phase_rec[valid], phase_true[valid]),
    }


def _checked_inputs(reconstruction: np.ndarray, offset: tuple[float, float],
                    ground_truth: np.ndarray, mask: np.ndarray | None, trim: int
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[float, float]]:
    """(reconstruction, truth) as complex128, the bool mask and the offset, checked."""
    recon = np.asarray(reconstruction, dtype=np.complex128)
    truth = np.asarray(ground_truth, dtype=np.complex128)
    if recon.ndim != 2 or truth.ndim != 2:
        raise ValueError(f"images must be 2-D; got {recon.shape} and {truth.shape}")
    use = np.ones(recon.shape, bool) if mask is None else np.asarray(mask).astype(bool)
    if use.shape != recon.shape:
        raise ValueError(f"mask shape {use.shape} differs from the reconstruction {recon.shape}")
    if trim < 0:
        raise ValueError(f"trim must be non-negative; got {trim}")
    where = (float(offset[0]), float(offset[1]))
    if not all(math.isfinite(v) for v in where):
        raise ValueError(f"offset must be finite; got {offset}")
    return recon, truth, use, where


def _compare_at(truth: np.ndarray, at: tuple[float, float], use: np.ndarray, trim: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """The truth sampled on the reconstruction's grid placed at ``at``, and the pixels
    compared there; PtychoError when the overlap is too small."""
    sampled, inside = _reference_on_grid(truth, at, use.shape)
    valid = _compared_pixels(inside, use, trim)
    _check_overlap(valid, use.shape, truth.shape, at, trim)
    return sampled, valid


def _registered(recon: np.ndarray, truth: np.ndarray, use: np.ndarray, trim: int,
                where: tuple[float, float], sampled: np.ndarray, valid: np.ndarray
                ) -> tuple[tuple[float, float], tuple[float, float], np.ndarray, np.ndarray]:
    """(offset, shift applied, sampled truth, compared pixels) after undoing a residual
    shift; a shift beyond a quarter of the compared region, or one that would leave too
    little overlap, is taken for a failed registration and not applied."""
    shift = (0.0, 0.0)
    for _ in range(_REGISTRATION_ROUNDS):
        dy, dx = _residual_shift(recon, sampled, valid)
        rows, cols = _box(valid)
        too_far = abs(dy) > (rows.stop - rows.start) / 4 or abs(dx) > (cols.stop - cols.start) / 4
        if (dy == 0.0 and dx == 0.0) or too_far:
            break
        try:
            moved = _compare_at(truth, (where[0] - dy, where[1] - dx), use, trim)
        except PtychoError:
            break
        shift = (shift[0] + dy, shift[1] + dx)
        where = (where[0] - dy, where[1] - dx)
        sampled, valid = moved
    return where, shift, sampled, valid


def evaluate(
    reconstruction: np.ndarray,
    offset: tuple[float, float],
    ground_truth: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    trim: int = 2,
    register_subpixel: bool = True,
) -> Evaluation:
    """Scores a reconstruction against the ground truth in the ground truth's pixel frame.

    reconstruction: (h, w) complex stitched object; offset: (row, col) of its pixel
    [0, 0] in the ground truth's frame (``Stitched.offset`` when the scan positions
    are in ground-truth pixels); ground_truth: (H, W) complex object; mask: (h, w)
    bool (or weights, nonzero = use), e.g. ``Stitched.weight > 0``; trim: pixels
    dropped at every edge of the compared region; register_subpixel: find and undo
    a residual (integer and sub-pixel) shift before scoring; a shift beyond a
    quarter of the compared region, or one that would leave too little overlap,
    is taken for a failed registration and not applied.
    Raises PtychoError when the two do not share a 16 x 16 px region.
    """
    recon, truth, use, where = _checked_inputs(reconstruction, offset, ground_truth, mask, trim)
    sampled, valid = _compare_at(truth, where, use, trim)
    shift = (0.0, 0.0)
    if register_subpixel:
        where, shift, sampled, valid = _registered(recon, truth, use, trim, where,
                                                   sampled, valid)
    rows, cols = _box(valid)
    scores = _scores(recon[rows, cols], sampled[rows, cols], valid[rows, cols])
    region = (
        where[0] + rows.start,
        where[0] + rows.stop,
        where[1] + cols.start,
        where[1] + cols.stop,
    )
    return Evaluation(**scores, shift=shift, region=region, n_pixels=int(valid.sum()))
