"""Metrics against formulas written here, analytic cases and known shifts."""

from __future__ import annotations

import json

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view
from scipy import ndimage

from ptycho_engine.core.errors import PtychoError
from ptycho_engine.metrics import (
    align_phase,
    evaluate,
    frc,
    frc_resolution,
    psnr,
    register,
    remove_phase_ramp,
    shift_image,
    ssim,
)


def _smooth_field(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Periodic smooth random field of unit standard deviation."""
    field = ndimage.gaussian_filter(rng.normal(size=shape), sigma, mode="wrap")
    return (field - field.mean()) / field.std()


def _object(seed: int, shape: tuple[int, int] = (96, 96)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    amplitude = 1.0 + 0.3 * _smooth_field(rng, shape, 2.0)
    phase = 0.8 * _smooth_field(rng, shape, 2.0)
    return amplitude * np.exp(1j * phase)


def _ssim_by_windows(a: np.ndarray, b: np.ndarray, data_range: float) -> float:
    """Wang et al. SSIM with an explicit normalised 11x11 Gaussian (sigma 1.5) per valid window."""
    k = np.arange(-5, 6)
    g = np.exp(-(k**2) / (2 * 1.5**2))
    kernel = np.outer(g, g) / np.outer(g, g).sum()
    wa = sliding_window_view(a, (11, 11))
    wb = sliding_window_view(b, (11, 11))

    def weighted(x: np.ndarray) -> np.ndarray:
        return np.einsum("ijkl,kl->ij", x, kernel)

    mu_a, mu_b = weighted(wa), weighted(wb)
    var_a = weighted(wa**2) - mu_a**2
    var_b = weighted(wb**2) - mu_b**2
    cov = weighted(wa * wb) - mu_a * mu_b
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    local = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / (
        (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    )
    return float(local.mean())


def test_ssim_matches_window_by_window_formula() -> None:
    rng = np.random.default_rng(0)
    a = rng.uniform(size=(40, 33))
    b = a + 0.2 * rng.normal(size=a.shape)
    assert ssim(a, b, 1.0) == pytest.approx(_ssim_by_windows(a, b, 1.0), abs=1e-6)


def test_ssim_properties() -> None:
    rng = np.random.default_rng(1)
    x = _smooth_field(rng, (48, 48), 1.5)
    assert ssim(x, x, 4.0) == pytest.approx(1.0, abs=1e-12)
    noise = rng.normal(size=x.shape)
    values = [ssim(x, x + level * noise, 4.0) for level in (0.05, 0.2, 0.8)]
    assert values[0] > values[1] > values[2]
    assert all(v < 1.0 for v in values)
    y = x + 0.3 * noise
    assert ssim(x, y, 4.0) == pytest.approx(ssim(y, x, 4.0), abs=1e-12)


def test_ssim_of_constant_images_is_the_luminance_term() -> None:
    c1 = (0.01 * 1.0) ** 2
    u, v = 0.3, 0.7
    expected = (2 * u * v + c1) / (u * u + v * v + c1)
    got = ssim(np.full((20, 20), u), np.full((20, 20), v), 1.0)
    assert got == pytest.approx(expected, abs=1e-9)


def test_psnr_formula() -> None:
    rng = np.random.default_rng(2)
    a = rng.uniform(size=(16, 16))
    b = a + 0.01 * rng.normal(size=a.shape)
    mse = np.mean((a - b) ** 2)
    assert psnr(a, b) == pytest.approx(10 * np.log10(1 / mse), rel=1e-12)
    assert psnr(a, b, peak=255.0) == pytest.approx(10 * np.log10(255.0**2 / mse), rel=1e-12)
    assert psnr(a, a) == float("inf")


def test_frc_of_image_with_itself_is_one_and_nyquist() -> None:
    image = np.random.default_rng(3).normal(size=(40, 52))
    frequency, value = frc(image, image)
    assert frequency.shape == (21,)
    np.testing.assert_allclose(frequency, np.arange(21) / 40)
    np.testing.assert_allclose(value, 1.0, atol=1e-12)
    assert frc_resolution(image, image) == 2.0


def test_frc_matches_ring_sums_written_here() -> None:
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(2, 16, 16))
    f1 = np.fft.fftshift(np.fft.fft2(a))
    f2 = np.fft.fftshift(np.fft.fft2(b))
    _, value = frc(a, b)
    for ring in (0, 3, 8):
        sel = [
            (i, j)
            for i in range(16)
            for j in range(16)
            if round(float(np.hypot(i - 8, j - 8))) == ring
        ]
        rows, cols = np.array(sel).T
        num = abs(np.sum(f1[rows, cols] * np.conj(f2[rows, cols])))
        den = np.sqrt(np.sum(abs(f1[rows, cols]) ** 2) * np.sum(abs(f2[rows, cols]) ** 2))
        assert value[ring] == pytest.approx(num / den, abs=1e-12)


def test_frc_of_independent_noise_gives_coarse_resolution() -> None:
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(2, 64, 64))
    _, value = frc(a, b)
    assert np.mean(value[2:]) < 0.2
    assert frc_resolution(a, b) > 16.0


def test_frc_resolution_grows_with_blur() -> None:
    rng = np.random.default_rng(6)
    image = rng.normal(size=(96, 96))
    resolutions = []
    for sigma in (0.7, 1.5, 3.0):
        blurred = ndimage.gaussian_filter(image, sigma, mode="wrap")
        noisy = blurred + 0.3 * rng.normal(size=image.shape)
        resolutions.append(frc_resolution(image, noisy))
    assert 2.0 < resolutions[0] < resolutions[1] < resolutions[2]


def test_remove_phase_ramp_removes_exact_plane() -> None:
    rows, cols = np.indices((30, 40), dtype=float)
    plane = 0.37 * cols - 0.21 * rows + 5.0
    np.testing.assert_allclose(remove_phase_ramp(plane), 0.0, atol=1e-10)
    mask = np.zeros(plane.shape, bool)
    mask[5:20, 8:30] = True
    spoiled = np.where(mask, plane, 100.0)
    np.testing.assert_allclose(remove_phase_ramp(spoiled, mask)[mask], 0.0, atol=1e-10)


def test_align_phase_recovers_offset_and_wrapping_ramp() -> None:
    reference = _object(7, (50, 60))
    rows, cols = np.indices(reference.shape, dtype=float)
    reconstruction = reference * np.exp(1j * (2.5 + 0.09 * cols - 0.06 * rows))
    np.testing.assert_allclose(align_phase(reconstruction, reference), reference, atol=1e-10)


def test_align_phase_is_least_squares_plane_of_small_differences() -> None:
    rng = np.random.default_rng(20)
    reference = _object(21, (40, 44))
    rows, cols = np.indices(reference.shape, dtype=float)
    noise = 0.2 * rng.normal(size=reference.shape)
    difference = 1.1 - 0.13 * cols + 0.08 * rows + noise
    design = np.stack([cols.ravel(), rows.ravel(), np.ones(rows.size)], axis=1)
    coef, *_ = np.linalg.lstsq(design, difference.ravel(), rcond=None)
    expected = difference - (design @ coef).reshape(difference.shape)
    aligned = align_phase(reference * np.exp(1j * difference), reference)
    np.testing.assert_allclose(np.angle(aligned * np.conj(reference)), expected, atol=1e-8)


def test_shift_image_sign_matches_roll() -> None:
    image = np.random.default_rng(8).normal(size=(20, 24))
    np.testing.assert_allclose(
        shift_image(image, 3, -2), np.roll(image, (3, -2), (0, 1)), atol=1e-12
    )


def test_register_recovers_subpixel_shift() -> None:
    reference = _object(9, (64, 64))
    reconstruction = shift_image(reference, 2.3, -1.7)
    dy, dx = register(reconstruction, reference)
    assert abs(dy - 2.3) < 0.05 and abs(dx + 1.7) < 0.05
    realigned = shift_image(reconstruction, -dy, -dx)
    assert np.max(np.abs(realigned - reference)) < 0.05
    real = _smooth_field(np.random.default_rng(19), (64, 64), 2.0)
    real_dy, real_dx = register(shift_image(real, -0.62, 3.41), real, upsample=50)
    assert abs(real_dy + 0.62) < 0.011 and abs(real_dx - 3.41) < 0.011


def test_register_windowed_on_non_periodic_crops() -> None:
    big = _object(10, (120, 120))
    reference = big[30:94, 30:94]
    reconstruction = big[27:91, 32:96]  # content moved by (+3, -2)
    dy, dx = register(reconstruction, reference, window=True, phase_normalize=False)
    assert abs(dy - 3) < 0.1 and abs(dx + 2) < 0.1


def test_evaluate_perfect_crop() -> None:
    truth = _object(11)
    result = evaluate(truth[20:84, 15:79], (20.0, 15.0), truth)
    assert result.amplitude_ssim == pytest.approx(1.0, abs=1e-9)
    assert result.phase_ssim == pytest.approx(1.0, abs=1e-9)
    assert result.amplitude_frc_px == 2.0 and result.phase_frc_px == 2.0
    assert result.amplitude_mae < 1e-12 and result.phase_mae < 1e-12
    assert result.shift == (0.0, 0.0)
    assert result.region == (22.0, 82.0, 17.0, 77.0)
    assert result.n_pixels == 60 * 60
    text = json.dumps(result.to_dict(), allow_nan=False)
    assert json.loads(text)["amplitude_psnr"] is None


def test_evaluate_ignores_phase_offset_ramp_and_amplitude_scale() -> None:
    truth = _object(12)
    crop = truth[10:74, 20:84]
    rows, cols = np.indices(crop.shape, dtype=float)
    reconstruction = 2.5 * crop * np.exp(1j * (-1.9 + 0.07 * cols + 0.05 * rows))
    result = evaluate(reconstruction, (10.0, 20.0), truth)
    assert result.phase_ssim > 0.9999
    assert result.amplitude_ssim > 0.9999
    assert result.phase_mae < 1e-6


def test_evaluate_registration_corrects_a_wrong_offset() -> None:
    truth = _object(13)
    crop = truth[20:84, 15:79]
    registered = evaluate(crop, (23.0, 15.0), truth)
    unregistered = evaluate(crop, (23.0, 15.0), truth, register_subpixel=False)
    assert registered.shift == pytest.approx((3.0, 0.0), abs=0.06)
    assert registered.amplitude_ssim > 0.99 and registered.phase_ssim > 0.99
    assert unregistered.amplitude_ssim < 0.9 and unregistered.phase_ssim < 0.9


def test_evaluate_fractional_offset_resamples_the_ground_truth() -> None:
    truth = _object(14)
    moved = shift_image(truth, -0.4, 0.3)  # moved[r, c] = truth(r + 0.4, c - 0.3)
    reconstruction = moved[20:84, 15:79]
    result = evaluate(reconstruction, (20.4, 14.7), truth, register_subpixel=False)
    assert result.amplitude_ssim > 0.995 and result.phase_ssim > 0.995
    assert result.region[0] == pytest.approx(22.4) and result.region[2] == pytest.approx(16.7)


def test_evaluate_respects_the_mask() -> None:
    truth = _object(15)
    reconstruction = truth[20:84, 15:79].copy()
    mask = np.zeros(reconstruction.shape, bool)
    mask[4:60, 6:50] = True
    reconstruction[~mask] = 0.0
    result = evaluate(reconstruction, (20.0, 15.0), truth, mask=mask)
    assert result.amplitude_ssim == pytest.approx(1.0, abs=1e-9)
    assert result.n_pixels == (56 - 4) * (44 - 4)
    assert result.region == (26.0, 78.0, 23.0, 63.0)


def test_evaluate_scores_drop_with_noise() -> None:
    truth = _object(16)
    rng = np.random.default_rng(17)
    crop = truth[20:84, 15:79]
    scores = []
    for level in (0.02, 0.1):
        noise = level * (rng.normal(size=crop.shape) + 1j * rng.normal(size=crop.shape))
        scores.append(evaluate(crop + noise, (20.0, 15.0), truth))
    assert scores[0].amplitude_ssim > scores[1].amplitude_ssim
    assert scores[0].phase_psnr > scores[1].phase_psnr
    assert 2.0 < scores[0].amplitude_frc_px < scores[1].amplitude_frc_px


def test_evaluate_refuses_arrays_that_do_not_overlap() -> None:
    truth = _object(18, (64, 64))
    with pytest.raises(PtychoError, match="same pixel frame"):
        evaluate(truth[:32, :32], (55.0, 0.0), truth)


def test_evaluate_scores_a_blank_reconstruction_low_without_failing() -> None:
    truth = _object(22)
    result = evaluate(np.zeros((64, 64), complex), (10.0, 10.0), truth)
    assert result.amplitude_pearson == 0.0
    assert result.amplitude_ssim < 0.01 and result.phase_ssim < 0.5
    assert result.shift == (0.0, 0.0)
    json.dumps(result.to_dict(), allow_nan=False)
