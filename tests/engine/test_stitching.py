"""Stitching against slicing written here: exact copies, ramps, averaging, offsets, speed."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from ptycho_engine.reconstruction.stitching import StitchAccumulator, canvas_for, stitch_patches


def _random_object(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    return (rng.normal(size=shape) + 1j * rng.normal(size=shape)).astype(np.complex64)


def _slice_patches(obj: np.ndarray, centres: np.ndarray, n: int) -> np.ndarray:
    """Patch i holds obj[y - n//2 + i, x - n//2 + j] for integer centres [x, y]."""
    out = np.empty((len(centres), n, n), dtype=obj.dtype)
    for p, (x, y) in enumerate(centres.astype(int)):
        out[p] = obj[y - n // 2 : y - n // 2 + n, x - n // 2 : x - n // 2 + n]
    return out


def _window_masks(centres: np.ndarray, n: int, crop: int, frame: tuple[int, int]):
    """Covered pixels and pixels on the bilinear rim of some window, in the object frame."""
    covered = np.zeros(frame, dtype=bool)
    rim = np.zeros(frame, dtype=bool)
    lead = -(n // 2) + (n - crop) // 2
    for x, y in centres:
        r0, c0 = int(np.floor(y + lead)), int(np.floor(x + lead))
        covered[r0 : r0 + crop + 1, c0 : c0 + crop + 1] = True
        box = np.zeros(frame, dtype=bool)
        box[r0 : r0 + crop + 1, c0 : c0 + crop + 1] = True
        box[r0 + 1 : r0 + crop, c0 + 1 : c0 + crop] = False
        rim |= box
    return covered, rim


def _to_frame(stitched, frame: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Place the stitched canvas into an object frame using its offset."""
    r0, c0 = (int(v) for v in stitched.offset)
    assert r0 == stitched.offset[0] and c0 == stitched.offset[1]
    value = np.zeros(frame, dtype=np.complex64)
    weight = np.zeros(frame, dtype=np.float32)
    h, w = stitched.object.shape
    value[r0 : r0 + h, c0 : c0 + w] = stitched.object
    weight[r0 : r0 + h, c0 : c0 + w] = stitched.weight
    return value, weight


@pytest.mark.parametrize(("n", "crop"), [(16, 8), (16, 7), (15, 6), (15, 9)])
def test_integer_positions_reproduce_object_exactly(n: int, crop: int) -> None:
    rng = np.random.default_rng(1)
    obj = _random_object(rng, (80, 90))
    centres = rng.integers(12, 68, size=(40, 2)).astype(float)
    stitched = stitch_patches(_slice_patches(obj, centres, n), centres, crop)
    value, weight = _to_frame(stitched, obj.shape)
    s = (n - crop) // 2
    expected_cover = np.zeros(obj.shape, dtype=bool)
    for x, y in centres.astype(int):
        r, c = y - n // 2 + s, x - n // 2 + s
        expected_cover[r : r + crop, c : c + crop] = True
    np.testing.assert_array_equal(weight > 0, expected_cover)
    np.testing.assert_allclose(value[expected_cover], obj[expected_cover], rtol=0, atol=2e-6)
    assert np.all(value[~expected_cover] == 0)


def test_offset_is_floor_of_smallest_covered_coordinate() -> None:
    n, crop = 16, 6
    centres = np.array([[20.0, 30.0], [25.5, 31.25]])
    stitched = stitch_patches(np.ones((2, n, n), np.complex64), centres, crop)
    lead = -(n // 2) + (n - crop) // 2
    assert stitched.offset == (np.floor(30.0 + lead), np.floor(20.0 + lead))
    rows = int(np.floor(31.25 + lead)) + crop + 1 - int(np.floor(30.0 + lead))
    cols = int(np.floor(25.5 + lead)) + crop + 1 - int(np.floor(20.0 + lead))
    assert stitched.object.shape == (rows, cols)
    assert canvas_for(centres, n, crop) == ((rows, cols), stitched.offset)


def test_offset_semantics_against_ground_truth() -> None:
    """object[r, c] is the frame pixel (row0 + r, col0 + c), also for negative frames."""
    rng = np.random.default_rng(2)
    n, crop = 12, 6
    obj = _random_object(rng, (60, 60))
    centres = rng.integers(10, 50, size=(30, 2)).astype(float)
    patches = _slice_patches(obj, centres, n)
    shift = np.array([-37.0, 11.0])  # positions in a frame where the object starts at (11, -37)
    stitched = stitch_patches(patches, centres + shift, crop)
    row0, col0 = stitched.offset
    for r, c in zip(*np.nonzero(stitched.weight > 0), strict=True):
        frame_row, frame_col = int(row0) + r, int(col0) + c
        expected = obj[frame_row - int(shift[1]), frame_col - int(shift[0])]
        assert abs(stitched.object[r, c] - expected) < 2e-6


def test_subpixel_linear_ramp_is_exact_where_windows_are_whole() -> None:
    """Bilinear splat of samples of a linear function returns it wherever no rim pixel lands.

    A window pixel at u = m + d splatted to m (weight 1 - d) and one at m - 1 + d
    splatted to m (weight d) give (1 - d) f(m + d) + d f(m - 1 + d) = f(m).
    """
    rng = np.random.default_rng(3)
    n, crop = 24, 14
    frame = (70, 70)
    centres = rng.uniform(15, 55, size=(25, 2))

    def ramp(rows, cols):
        return (0.3 + 0.011 * cols - 0.007 * rows) + 1j * (0.02 * rows + 0.004 * cols - 0.1)

    i = np.arange(n)
    rows = centres[:, 1, None, None] - n // 2 + i[None, :, None]
    cols = centres[:, 0, None, None] - n // 2 + i[None, None, :]
    patches = ramp(rows, cols).astype(np.complex64)
    value, weight = _to_frame(stitch_patches(patches, centres, crop), frame)
    covered, rim = _window_masks(centres, n, crop, frame)
    np.testing.assert_array_equal(weight > 0, covered)
    interior = covered & ~rim
    assert interior.sum() > 500
    rr, cc = np.mgrid[: frame[0], : frame[1]]
    np.testing.assert_allclose(value[interior], ramp(rr, cc)[interior], rtol=0, atol=1e-5)


def test_subpixel_constant_is_exact_everywhere_covered() -> None:
    rng = np.random.default_rng(4)
    centres = rng.uniform(20, 40, size=(25, 2))
    constant = np.complex64(0.7 - 0.2j)
    stitched = stitch_patches(np.full((25, 16, 16), constant), centres, 9)
    covered = stitched.weight > 0
    np.testing.assert_allclose(stitched.object[covered], constant, rtol=0, atol=1e-6)
    assert np.all(stitched.object[~covered] == 0)


def test_overlapping_constant_patches_average() -> None:
    n, crop = 16, 8
    a, b = 1.0 + 2.0j, -3.0 + 0.5j
    patches = np.stack([np.full((n, n), a), np.full((n, n), b)]).astype(np.complex64)
    centres = np.array([[20.0, 20.0], [24.0, 23.0]])
    value, weight = _to_frame(stitch_patches(patches, centres, crop), (50, 50))
    lead = -(n // 2) + (n - crop) // 2
    first = np.zeros((50, 50), bool)
    second = np.zeros((50, 50), bool)
    first[20 + lead : 20 + lead + crop, 20 + lead : 20 + lead + crop] = True
    second[23 + lead : 23 + lead + crop, 24 + lead : 24 + lead + crop] = True
    both = first & second
    assert both.sum() == (crop - 3) * (crop - 4)
    np.testing.assert_allclose(value[both], (a + b) / 2, atol=1e-6)
    np.testing.assert_allclose(weight[both], 2.0)
    np.testing.assert_allclose(value[first & ~second], a, atol=1e-6)
    np.testing.assert_allclose(value[second & ~first], b, atol=1e-6)


def test_chunked_equals_unchunked_and_torch_input() -> None:
    rng = np.random.default_rng(5)
    patches = _random_object(rng, (50, 16, 16))
    centres = rng.uniform(10, 60, size=(50, 2))
    whole = stitch_patches(patches, centres, 10, chunk=4096)
    chunked = stitch_patches(patches, centres, 10, chunk=7)
    from_torch = stitch_patches(torch.from_numpy(patches), torch.from_numpy(centres), 10, chunk=7)
    for other in (chunked, from_torch):
        assert other.offset == whole.offset
        np.testing.assert_allclose(other.object, whole.object, rtol=0, atol=1e-5)
        np.testing.assert_allclose(other.weight, whole.weight, rtol=0, atol=1e-5)


def test_accumulator_streams_like_one_call() -> None:
    rng = np.random.default_rng(6)
    patches = _random_object(rng, (60, 16, 16))
    centres = rng.uniform(10, 60, size=(60, 2))
    shape, offset = canvas_for(centres, 16, 8)
    acc = StitchAccumulator(shape, offset, 8)
    for first in range(0, 60, 25):
        acc.add(patches[first : first + 25], centres[first : first + 25])
    assert acc.count == 60
    streamed = acc.result()
    whole = stitch_patches(patches, centres, 8)
    np.testing.assert_allclose(streamed.object, whole.object, rtol=0, atol=1e-5)
    np.testing.assert_array_equal(streamed.weight > 0, whole.weight > 0)


def test_fixed_canvas_too_small_is_refused() -> None:
    centres = np.array([[30.0, 30.0]])
    with pytest.raises(ValueError, match="outside"):
        stitch_patches(np.ones((1, 16, 16)), centres, 8, canvas_shape=(5, 5), offset=(20.0, 20.0))


def test_twenty_thousand_patches_are_fast() -> None:
    rng = np.random.default_rng(7)
    base = _random_object(rng, (1, 64, 64))
    patches = np.broadcast_to(base, (20_000, 64, 64))
    centres = rng.uniform(0, 600, size=(20_000, 2))
    began = time.perf_counter()
    stitched = stitch_patches(patches, centres, 20)
    elapsed = time.perf_counter() - began
    print(f"stitched 20000 patches of 64x64 (crop 20) in {elapsed:.2f} s")
    assert elapsed < 20.0
    assert stitched.weight.sum() == pytest.approx(20_000 * 400, rel=1e-4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu() -> None:
    rng = np.random.default_rng(8)
    patches = _random_object(rng, (300, 32, 32))
    centres = rng.uniform(10, 90, size=(300, 2))
    on_cpu = stitch_patches(patches, centres, 12, chunk=64)
    on_gpu = stitch_patches(torch.from_numpy(patches).cuda(), centres, 12, device="cuda", chunk=64)
    assert on_gpu.offset == on_cpu.offset
    np.testing.assert_allclose(on_gpu.object, on_cpu.object, rtol=0, atol=1e-5)
    np.testing.assert_allclose(on_gpu.weight, on_cpu.weight, rtol=0, atol=1e-5)


def test_the_unaligned_result_of_the_aligned_stitcher_is_the_plain_average():
    from ptycho_engine.reconstruction.phase_sync import AlignedStitcher

    rng = np.random.default_rng(11)
    centres = np.floor(rng.uniform(10, 40, (30, 2)) + 0.5)
    patches = (rng.standard_normal((30, 16, 16))
               + 1j * rng.standard_normal((30, 16, 16))).astype(np.complex64)
    shape, offset = canvas_for(centres, 16, 8)
    aligned = AlignedStitcher(shape, offset, 8)
    plain = StitchAccumulator(shape, offset, 8)
    aligned.add(torch.from_numpy(patches), centres, np.arange(30) // 3)
    plain.add(torch.from_numpy(patches), centres)
    expected = plain.result()
    result = aligned.result(aligned=False)
    np.testing.assert_allclose(result.object, expected.object, atol=1e-5)
    np.testing.assert_array_equal(result.weight > 0, expected.weight > 0)
