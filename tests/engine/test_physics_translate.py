"""Bilinear translation against a Fourier shift, analytic ramps and scipy's resampler."""

import numpy as np
import pytest
import scipy.ndimage as ndi
import torch

from ptycho_engine.physics import sample_window, translate


def _random_complex(rng, shape):
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


def _fourier_shift(img, tx, ty):
    """Shift by a phase ramp: exact for integer shifts of a patch with zero borders."""
    ky = np.fft.fftfreq(img.shape[0])[:, None]
    kx = np.fft.fftfreq(img.shape[1])[None, :]
    return np.fft.ifft2(np.fft.fft2(img) * np.exp(-2j * np.pi * (kx * tx + ky * ty)))


def _scipy_translate(img, tx, ty):
    """Zero-fill bilinear resampling of real/imag parts at (y - ty, x - tx)."""
    rows, cols = np.meshgrid(np.arange(img.shape[0]), np.arange(img.shape[1]), indexing="ij")
    coords = np.stack([rows - ty, cols - tx])

    def part(values):
        return ndi.map_coordinates(values, coords, order=1, mode="grid-constant", cval=0.0)

    return part(img.real) + 1j * part(img.imag)


@pytest.mark.parametrize("shift", [(3, 0), (0, -2), (2, 3), (-4, 1)])
def test_integer_shift_equals_fourier_phase_ramp(shift):
    rng = np.random.default_rng(0)
    img = np.zeros((20, 24), dtype=complex)
    img[5:15, 5:19] = _random_complex(rng, (10, 14))
    out = translate(torch.from_numpy(img), torch.tensor(shift, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(out, _fourier_shift(img, *shift), atol=1e-12)


def test_integer_shift_is_exact_in_float32():
    rng = np.random.default_rng(1)
    img = _random_complex(rng, (12, 12)).astype(np.complex64)
    out = translate(torch.from_numpy(img), torch.tensor([2.0, -3.0])).numpy()
    expected = np.zeros_like(img)
    expected[:9, 2:] = img[3:, :10]
    np.testing.assert_array_equal(out, expected)


def test_subpixel_shift_of_linear_ramp_is_exact_in_interior():
    H, W = 16, 20
    rows, cols = np.meshgrid(np.arange(H), np.arange(W), indexing="ij")
    ramp = 0.7 + 0.3 * cols - 0.45 * rows + 1j * (0.2 * rows + 0.1 * cols)
    tx, ty = 1.37, -2.61
    out = translate(torch.from_numpy(ramp), torch.tensor([tx, ty], dtype=torch.float64)).numpy()
    expected = 0.7 + 0.3 * (cols - tx) - 0.45 * (rows - ty) + 1j * (
        0.2 * (rows - ty) + 0.1 * (cols - tx))
    inside = (cols - tx >= 0) & (cols - tx <= W - 1) & (rows - ty >= 0) & (rows - ty <= H - 1)
    assert inside.sum() > 150
    np.testing.assert_allclose(out[inside], expected[inside], rtol=0, atol=1e-12)


def test_bright_pixel_moves_by_plus_shift():
    img = torch.zeros(11, 13)
    img[4, 6] = 1.0
    moved = translate(img, torch.tensor([3.0, -2.0]))
    assert moved[2, 9] == 1.0 and moved.sum() == 1.0
    half = translate(img, torch.tensor([0.25, 0.5]))
    expected = torch.zeros(11, 13)
    expected[4, 6], expected[4, 7] = 0.75 * 0.5, 0.25 * 0.5
    expected[5, 6], expected[5, 7] = 0.75 * 0.5, 0.25 * 0.5
    torch.testing.assert_close(half, expected)


def test_random_subpixel_shifts_match_scipy_and_broadcast():
    rng = np.random.default_rng(2)
    images = _random_complex(rng, (2, 3, 9, 10))
    shifts = rng.uniform(-4, 4, size=(3, 2))
    out = translate(torch.from_numpy(images), torch.from_numpy(shifts)).numpy()
    assert out.shape == (2, 3, 9, 10)
    for a in range(2):
        for b in range(3):
            expected = _scipy_translate(images[a, b], *shifts[b])
            np.testing.assert_allclose(out[a, b], expected, atol=1e-12)
    single = translate(torch.from_numpy(images[0, 0]).to(torch.complex64),
                       torch.from_numpy(shifts[0]).float())
    assert single.dtype == torch.complex64
    np.testing.assert_allclose(single.numpy(), _scipy_translate(images[0, 0], *shifts[0]),
                               rtol=1e-5, atol=1e-5)


def test_real_and_complex_images_share_weights():
    rng = np.random.default_rng(3)
    real = torch.from_numpy(rng.standard_normal((4, 8, 8)))
    imag = torch.from_numpy(rng.standard_normal((4, 8, 8)))
    shifts = torch.from_numpy(rng.uniform(-3, 3, size=(4, 2)))
    combined = translate(torch.complex(real, imag), shifts)
    torch.testing.assert_close(combined.real, translate(real, shifts))
    torch.testing.assert_close(combined.imag, translate(imag, shifts))


def test_shift_beyond_the_image_gives_zeros():
    img = torch.ones(6, 6, dtype=torch.complex64)
    assert torch.count_nonzero(translate(img, torch.tensor([6.5, 0.0]))) == 0
    assert torch.count_nonzero(translate(img, torch.tensor([0.0, -7.0]))) == 0


def test_sample_window_reads_a_shifted_crop():
    rng = np.random.default_rng(4)
    img = _random_complex(rng, (1, 14, 14))
    start_x, start_y = 3.3, 1.8
    starts = torch.tensor([[start_x, start_y]], dtype=torch.float64)
    out = sample_window(torch.from_numpy(img), starts, (6, 5))
    rows, cols = np.meshgrid(np.arange(6) + start_y, np.arange(5) + start_x, indexing="ij")
    coords = np.stack([rows, cols])
    expected = (ndi.map_coordinates(img[0].real, coords, order=1, mode="grid-constant")
                + 1j * ndi.map_coordinates(img[0].imag, coords, order=1, mode="grid-constant"))
    np.testing.assert_allclose(out[0].numpy(), expected, atol=1e-12)


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="shifts"):
        translate(torch.zeros(4, 4), torch.zeros(3))
