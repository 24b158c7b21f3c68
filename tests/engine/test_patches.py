"""extract_patches against integer slicing, a per-pixel bilinear formula and a ramp."""

import numpy as np
import pytest

from ptycho_engine.data.patches import extract_patches


def _random_object(height, width, seed):
    rng = np.random.default_rng(seed)
    return (rng.random((height, width)) + 1j * rng.random((height, width))).astype(np.complex64)


def _bilinear_reference(obj, x, y, N):
    """Per-pixel bilinear sampling, written out loop by loop, zero outside."""
    height, width = obj.shape

    def at(r, c):
        return obj[r, c] if 0 <= r < height and 0 <= c < width else 0.0

    out = np.zeros((N, N), dtype=np.complex128)
    for i in range(N):
        for j in range(N):
            row, col = y - N / 2 + i, x - N / 2 + j
            r0, c0 = int(np.floor(row)), int(np.floor(col))
            fr, fc = row - r0, col - c0
            out[i, j] = ((1 - fr) * (1 - fc) * at(r0, c0) + (1 - fr) * fc * at(r0, c0 + 1)
                         + fr * (1 - fc) * at(r0 + 1, c0) + fr * fc * at(r0 + 1, c0 + 1))
    return out


def test_integer_positions_equal_slices():
    obj = _random_object(40, 50, seed=0)
    N = 8
    rng = np.random.default_rng(1)
    x = rng.integers(N // 2, 50 - N // 2 + 1, size=20)
    y = rng.integers(N // 2, 40 - N // 2 + 1, size=20)
    patches = extract_patches(obj, np.stack([x, y], axis=1).astype(float), N)
    assert patches.shape == (20, N, N) and patches.dtype == np.complex64
    for patch, xi, yi in zip(patches, x, y, strict=True):
        np.testing.assert_array_equal(patch, obj[yi - N // 2:yi + N // 2, xi - N // 2:xi + N // 2])


def test_fractional_positions_match_bilinear_formula_including_outside():
    obj = _random_object(24, 30, seed=2)
    N = 6
    rng = np.random.default_rng(3)
    # Some positions reach beyond every edge of the object (zero fill there).
    positions = np.column_stack([rng.uniform(-4, 34, 25), rng.uniform(-4, 28, 25)])
    patches = extract_patches(obj, positions, N)
    for patch, (x, y) in zip(patches, positions, strict=True):
        np.testing.assert_allclose(patch, _bilinear_reference(obj, x, y, N), atol=2e-6)


def test_far_outside_is_zero():
    obj = _random_object(16, 16, seed=4)
    patches = extract_patches(obj, np.array([[-100.0, 5.0], [8.0, 500.5]]), 8)
    assert not np.abs(patches).any()


def test_linear_ramp_is_reproduced_at_subpixel_positions():
    height, width, N = 48, 64, 16
    rows, cols = np.mgrid[0:height, 0:width]
    ramp = (0.3 * cols + 0.7j * rows + 0.05 * rows).astype(np.complex64)
    rng = np.random.default_rng(5)
    positions = np.column_stack([rng.uniform(N / 2, width - N / 2 - 1, 30),
                                 rng.uniform(N / 2, height - N / 2 - 1, 30)])
    patches = extract_patches(ramp, positions, N)
    i, j = np.mgrid[0:N, 0:N]
    for patch, (x, y) in zip(patches, positions, strict=True):
        row, col = y - N / 2 + i, x - N / 2 + j
        np.testing.assert_allclose(patch, 0.3 * col + 0.7j * row + 0.05 * row, atol=1e-4)


def test_chunking_does_not_change_results(monkeypatch):
    import ptycho_engine.data.patches as module

    obj = _random_object(30, 30, seed=6)
    positions = np.random.default_rng(7).uniform(0, 30, (37, 2))
    whole = extract_patches(obj, positions, 8)
    monkeypatch.setattr(module, "_CHUNK_PIXELS", 81 * 5)  # five patterns per block
    np.testing.assert_array_equal(extract_patches(obj, positions, 8), whole)


def test_real_object_and_bad_shapes():
    obj = np.arange(100, dtype=np.float64).reshape(10, 10)
    patch = extract_patches(obj, np.array([[5.0, 5.0]]), 4)
    np.testing.assert_array_equal(patch[0].real, obj[3:7, 3:7])
    with pytest.raises(ValueError):
        extract_patches(obj, np.zeros((3, 3)), 4)
    with pytest.raises(ValueError):
        extract_patches(obj[0], np.zeros((3, 2)), 4)
