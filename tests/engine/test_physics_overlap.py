"""Merge and extraction of group patches against a numpy reference and a round trip."""

import numpy as np
import pytest
import torch

from ptycho_engine.physics import (
    MERGE_EPS,
    canvas_size,
    central_crop,
    extract_patches,
    merge_patches,
    overlap_weight,
)


def _np_translate(img, tx, ty):
    """Zero-fill bilinear: out[y, x] = img(y - ty, x - tx), one pixel at a time."""
    H, W = img.shape
    out = np.zeros_like(img)
    for y in range(H):
        for x in range(W):
            sy, sx = y - ty, x - tx
            y0, x0 = int(np.floor(sy)), int(np.floor(sx))
            fy, fx = sy - y0, sx - x0
            for dy, wy in ((0, 1 - fy), (1, fy)):
                for dx, wx in ((0, 1 - fx), (1, fx)):
                    if 0 <= y0 + dy < H and 0 <= x0 + dx < W:
                        out[y, x] += wy * wx * img[y0 + dy, x0 + dx]
    return out


def _np_pad(patch, M):
    m = (M - patch.shape[0]) // 2
    out = np.zeros((M, M), dtype=np.result_type(patch, float))
    out[m:m + patch.shape[0], m:m + patch.shape[1]] = patch
    return out


def _np_merge(patches, offsets, M, weight):
    """Reference merge: Σ T_o(pad(w·p)) / (Σ T_o(pad(w)) + 1e-6)."""
    pairs = zip(patches, offsets, strict=True)
    num = sum(_np_translate(_np_pad(weight * p, M), *o) for p, o in pairs)
    den = sum(_np_translate(_np_pad(weight, M), *o) for o in offsets)
    return num / (den + 1e-6)


def _np_extract(canvas, offsets, N):
    m = (canvas.shape[0] - N) // 2
    return np.stack([_np_translate(canvas, -ox, -oy)[m:m + N, m:m + N] for ox, oy in offsets])


def _random_complex(rng, shape):
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


@pytest.mark.parametrize(("N", "offset", "expected"),
                         [(64, 0, 64), (64, 3, 72), (64, 4, 72), (64, 4.2, 76), (16, 0.5, 20)])
def test_canvas_size(N, offset, expected):
    assert canvas_size(N, offset) == expected


def test_canvas_size_refuses_odd_patches_and_negative_offsets():
    with pytest.raises(ValueError):
        canvas_size(15, 2)
    with pytest.raises(ValueError):
        canvas_size(16, -1)


def test_overlap_weight_is_one_on_the_central_half_window():
    weight = overlap_weight(16, 1e-3, dtype=torch.float64)
    expected = np.full((16, 16), 1e-3)
    expected[4:12, 4:12] = 1.0
    np.testing.assert_array_equal(weight.numpy(), expected)
    assert overlap_weight(8, 0.0).sum() == 16


def test_merge_and_extract_match_numpy_reference():
    rng = np.random.default_rng(0)
    B, C, N = 2, 4, 8
    patches = _random_complex(rng, (B, C, N, N))
    offsets = rng.uniform(-3, 3, size=(B, C, 2))
    M = canvas_size(N, 3)
    weight = overlap_weight(N, 1e-3, dtype=torch.float64)
    merged = merge_patches(torch.from_numpy(patches), torch.from_numpy(offsets), M, weight)
    assert merged.shape == (B, M, M) and merged.dtype == torch.complex128
    extracted = extract_patches(merged, torch.from_numpy(offsets), N)
    for b in range(B):
        expected = _np_merge(patches[b], offsets[b], M, weight.numpy())
        np.testing.assert_allclose(merged[b].numpy(), expected, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(extracted[b].numpy(), _np_extract(expected, offsets[b], N),
                                   rtol=1e-10, atol=1e-12)


def test_patch_lands_at_canvas_centre_plus_offset():
    N, M = 8, 16
    patch = torch.zeros(1, 1, N, N, dtype=torch.complex64)
    patch[0, 0, N // 2, N // 2] = 2 + 1j
    merged = merge_patches(patch, torch.tensor([[[2.0, -1.0]]]), M, torch.ones(N, N))
    peak = torch.nonzero(merged[0].abs() > 1)
    assert peak.tolist() == [[M // 2 - 1, M // 2 + 2]]
    torch.testing.assert_close(merged[0, M // 2 - 1, M // 2 + 2],
                               torch.tensor(2 + 1j, dtype=torch.complex64), rtol=2e-6, atol=0)


def test_uncovered_canvas_is_exactly_zero():
    rng = np.random.default_rng(1)
    patches = torch.from_numpy(_random_complex(rng, (1, 2, 8, 8)))
    offsets = torch.tensor([[[-1.5, 0.0], [1.5, 0.0]]], dtype=torch.float64)
    for border in (0.0, 1e-3):
        merged = merge_patches(patches, offsets, 24, overlap_weight(8, border,
                                                                     dtype=torch.float64))
        assert torch.count_nonzero(merged[0, :6]) == 0
        assert torch.count_nonzero(merged[0, :, :4]) == 0


def _views_of_one_object(rng, offsets, N, garbage_border):
    """Views of one large object centred at centre + offset (integer offsets).

    Returns the true views and the patches handed to the merge, which carry large
    wrong values outside their central window when garbage_border is set.
    """
    big = _random_complex(rng, (40, 40))
    centre = 20
    views, patches = [], []
    for ox, oy in offsets:
        top, left = centre + oy - N // 2, centre + ox - N // 2
        views.append(big[top:top + N, left:left + N])
        patch = views[-1].copy()
        if garbage_border:
            noise = 50 * _random_complex(rng, (N, N))
            ring = np.ones((N, N), bool)
            ring[N // 4:N // 4 + N // 2, N // 4:N // 4 + N // 2] = False
            patch[ring] += noise[ring]
        patches.append(patch)
    return np.stack(views)[None], np.stack(patches)[None]


@pytest.mark.parametrize(("border", "garbage"), [(1e-3, False), (0.0, True)])
def test_extract_after_merge_returns_each_patch_where_a_central_window_covers(border, garbage):
    rng = np.random.default_rng(2)
    N = 16
    offsets = np.array([[-3, -1], [2, -2], [-1, 3], [2, 0]], dtype=float)  # mean 0, asymmetric
    assert np.allclose(offsets.mean(axis=0), 0)
    views, patches = _views_of_one_object(rng, offsets.astype(int), N, garbage)
    M = canvas_size(N, 3)
    weight = overlap_weight(N, border, dtype=torch.float64)
    offsets_t = torch.from_numpy(offsets[None])
    merged = merge_patches(torch.from_numpy(patches), offsets_t, M, weight)
    returned = extract_patches(merged, offsets_t, N).numpy()
    # Canvas pixels covered by at least one central window, seen from each member.
    central = (weight.numpy() == 1.0).astype(float)
    coverage = sum(_np_translate(_np_pad(central, M), *o) for o in offsets)
    covered_views = _np_extract((coverage >= 1).astype(float), offsets, N) > 0.5
    for c in range(4):
        region = covered_views[c]
        assert region.sum() > N * N / 4
        np.testing.assert_allclose(returned[0, c][region], views[0, c][region],
                                   rtol=1e-5, atol=1e-5)


def test_central_crop_takes_the_middle():
    canvas = torch.arange(100.0).reshape(1, 10, 10)
    torch.testing.assert_close(central_crop(canvas, 4), canvas[:, 3:7, 3:7])


def test_merge_eps_is_small_against_a_central_window():
    assert 0 < MERGE_EPS <= 1e-6


def test_shape_errors_are_explained():
    with pytest.raises(ValueError, match="offsets"):
        merge_patches(torch.zeros(2, 4, 8, 8, dtype=torch.complex64), torch.zeros(2, 4), 12,
                      torch.ones(8, 8))
    with pytest.raises(ValueError, match="canvas"):
        extract_patches(torch.zeros(1, 11, 11, dtype=torch.complex64), torch.zeros(1, 4, 2), 8)
