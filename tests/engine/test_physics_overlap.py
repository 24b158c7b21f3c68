"""Merging group patches on whole-pixel windows against a numpy reference and a round trip."""

import numpy as np
import pytest
import torch

from ptycho_engine.physics import (
    MERGE_EPS,
    canvas_size,
    gather_views,
    group_windows,
    merge_patches,
    overlap_weight,
)

from .conftest import random_complex


def _np_window(M, N, offset):
    """(rows, cols) slices of the window of a member at ``offset`` [x, y] on an M canvas."""
    cx, cy = (M // 2 + int(np.floor(v + 0.5)) for v in offset)
    return slice(cy - N // 2, cy + N // 2), slice(cx - N // 2, cx + N // 2)


def _np_merge(patches, offsets, M, weight, object_big=True):
    """Reference merge of one group: Σ w·p on windows / (Σ w on windows + 1e-6)."""
    N = weight.shape[0]
    if not object_big:
        out = np.zeros((M, M), complex)
        m = (M - N) // 2
        out[m:m + N, m:m + N] = patches[0]
        return out
    num = np.zeros((M, M), complex)
    den = np.zeros((M, M))
    for patch, offset in zip(patches, offsets, strict=True):
        rows, cols = _np_window(M, N, offset)
        num[rows, cols] += weight * patch
        den[rows, cols] += weight
    return num / (den + 1e-6)


@pytest.mark.parametrize(("N", "offset", "expected"),
                         [(64, 0, 64), (64, 3, 72), (64, 4, 72), (64, 4.2, 76), (16, 0.5, 20)])
def test_canvas_size(N, offset, expected):
    assert canvas_size(N, offset) == expected


def test_canvas_size_refuses_odd_patches_and_negative_offsets():
    with pytest.raises(ValueError):
        canvas_size(15, 2)
    with pytest.raises(ValueError):
        canvas_size(16, -1)


def test_canvas_size_holds_every_window_up_to_the_offset():
    for N in (8, 16):
        for offset in (0.0, 0.4, 0.5, 1.0, 2.5, 3.49, 3.5, 7.0):
            M = canvas_size(N, offset)
            corners = torch.tensor([[[offset, offset], [-offset, -offset], [offset, -offset]]])
            windows = group_windows(corners, N, M)  # raises when a window leaves the canvas
            assert M >= N and (M - N) % 2 == 0
            assert int(windows.index.max()) < M * M and int(windows.index.min()) >= 0


def test_overlap_weight_is_one_on_the_central_half_window():
    weight = overlap_weight(16, 1e-3, dtype=torch.float64)
    expected = np.full((16, 16), 1e-3)
    expected[4:12, 4:12] = 1.0
    np.testing.assert_array_equal(weight.numpy(), expected)
    assert overlap_weight(8, 0.0).sum() == 16


@pytest.mark.parametrize("object_big", [True, False])
@pytest.mark.parametrize("border", [0.0, 1e-3, 1.0])
def test_merge_matches_numpy_reference(object_big, border):
    rng = np.random.default_rng(0)
    B, C, N = 3, 4, 8
    K = C if object_big else 1
    patches = random_complex(rng, (B, K, N, N))
    offsets = rng.uniform(-3, 3, size=(B, C, 2))  # fractional: only whole parts place windows
    M = canvas_size(N, 3)
    weight = overlap_weight(N, border, dtype=torch.float64)
    windows = group_windows(torch.from_numpy(offsets), N, M)
    merged = merge_patches(torch.from_numpy(patches), windows, weight, object_big=object_big)
    assert merged.shape == (B, M, M) and merged.dtype == torch.complex128
    for b in range(B):
        expected = _np_merge(patches[b], offsets[b], M, weight.numpy(), object_big)
        np.testing.assert_allclose(merged[b].numpy(), expected, rtol=1e-12, atol=1e-14)
    merged32 = merge_patches(torch.from_numpy(patches).to(torch.complex64),
                             group_windows(torch.from_numpy(offsets).float(), N, M),
                             weight.float(), object_big=object_big)
    assert merged32.dtype == torch.complex64
    np.testing.assert_allclose(merged32.numpy(), merged.numpy(), rtol=1e-5, atol=1e-5)


def test_one_patch_lands_exactly_at_canvas_centre_plus_whole_offset():
    N, M = 8, 16
    patch = torch.zeros(1, 1, N, N, dtype=torch.complex64)
    patch[0, 0, N // 2, N // 2] = 2 + 1j
    windows = group_windows(torch.tensor([[[2.3, -0.7]]]), N, M)  # whole part (2, -1)
    merged = merge_patches(patch, windows, torch.ones(N, N))
    peak = torch.nonzero(merged[0].abs() > 0)
    assert peak.tolist() == [[M // 2 - 1, M // 2 + 2]]  # no interpolation: one pixel
    torch.testing.assert_close(merged[0, M // 2 - 1, M // 2 + 2],
                               torch.tensor(2 + 1j, dtype=torch.complex64), rtol=2e-6, atol=0)


def test_uncovered_canvas_is_exactly_zero():
    rng = np.random.default_rng(1)
    patches = torch.from_numpy(random_complex(rng, (1, 2, 8, 8)))
    offsets = torch.tensor([[[-1.5, 0.0], [1.4, 0.0]]], dtype=torch.float64)  # whole -1, +1
    windows = group_windows(offsets, 8, 24)
    for border in (0.0, 1e-3):
        merged = merge_patches(patches, windows, overlap_weight(8, border, dtype=torch.float64))
        covered = np.zeros((24, 24), bool)
        covered[8:16, 7:17] = True  # rows 12 ± 4, columns from 12 - 1 - 4 to 12 + 1 + 4
        assert torch.count_nonzero(merged[0][torch.from_numpy(~covered)]) == 0
        if border:
            assert torch.count_nonzero(merged[0][torch.from_numpy(covered)]) == covered.sum()


def _views_of_one_object(rng, offsets, N, garbage_border):
    """Views of one large object on each member's whole-pixel window.

    Returns the true views and the patches handed to the merge, which carry large
    wrong values outside their central window when garbage_border is set.
    """
    big = random_complex(rng, (40, 40))
    views, patches = [], []
    for offset in offsets:
        rows, cols = _np_window(40, N, offset)
        views.append(big[rows, cols])
        patch = views[-1].copy()
        if garbage_border:
            noise = 50 * random_complex(rng, (N, N))
            ring = np.ones((N, N), bool)
            ring[N // 4:N // 4 + N // 2, N // 4:N // 4 + N // 2] = False
            patch[ring] += noise[ring]
        patches.append(patch)
    return np.stack(views)[None], np.stack(patches)[None]


@pytest.mark.parametrize(("border", "garbage"), [(1e-3, False), (0.0, True), (1.0, False)])
@pytest.mark.parametrize("fraction", [0.0, 0.37])
def test_gather_after_merge_returns_each_patch_where_a_central_window_covers(border, garbage,
                                                                           fraction):
    rng = np.random.default_rng(2)
    N = 16
    offsets = np.array([[-3, -1], [2, -2], [-1, 3], [2, 0]], dtype=float) + fraction
    views, patches = _views_of_one_object(rng, offsets, N, garbage)
    M = canvas_size(N, np.abs(offsets).max())
    weight = overlap_weight(N, border, dtype=torch.float64)
    windows = group_windows(torch.from_numpy(offsets[None]), N, M)
    merged = merge_patches(torch.from_numpy(patches), windows, weight)
    returned = gather_views(merged, windows).numpy()
    # Canvas pixels covered by at least one central window, seen from each member.
    coverage = np.zeros((M, M))
    for offset in offsets:
        rows, cols = _np_window(M, N, offset)
        coverage[rows, cols] += weight.numpy() == 1.0
    for c in range(4):
        rows, cols = _np_window(M, N, offsets[c])
        region = coverage[rows, cols] >= 1
        assert region.sum() > N * N / 4
        np.testing.assert_allclose(returned[0, c][region], views[0, c][region],
                                   rtol=1e-5, atol=1e-5)
        if garbage:  # weight 0 outside the central windows: the garbage never enters
            assert (~region).any() and not returned[0, c][~region].any()
        elif border == 1.0:  # consistent patches everywhere: the merge is exact everywhere
            np.testing.assert_allclose(returned[0, c], views[0, c], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("border", [0.0, 1e-3])
def test_gridsize_one_canvas_is_the_patch_itself(border):
    """One member: no weighting and no 1e-6, so the border survives even with weight 0."""
    rng = np.random.default_rng(3)
    patch = torch.from_numpy(random_complex(rng, (3, 1, 8, 8))).to(torch.complex64)
    offsets = torch.from_numpy(rng.uniform(-0.5, 0.5, (3, 1, 2))).float()  # sub-pixel rests
    for M in (8, 12):
        merged = merge_patches(patch, group_windows(offsets, 8, M), overlap_weight(8, border))
        m = (M - 8) // 2
        assert torch.equal(merged[:, m:m + 8, m:m + 8], patch[:, 0])
        assert torch.count_nonzero(merged) == torch.count_nonzero(patch)


def test_merge_eps_is_small_against_a_central_window():
    assert 0 < MERGE_EPS <= 1e-6


def test_shape_errors_are_explained():
    windows = group_windows(torch.zeros(2, 4, 2), 8, 12)
    with pytest.raises(ValueError, match="patches"):
        merge_patches(torch.zeros(2, 4, 8, dtype=torch.complex64), windows, torch.ones(8, 8))
    with pytest.raises(ValueError, match="object_big"):
        merge_patches(torch.zeros(2, 1, 8, 8, dtype=torch.complex64), windows, torch.ones(8, 8))
    with pytest.raises(ValueError, match="object_big"):
        merge_patches(torch.zeros(2, 4, 8, 8, dtype=torch.complex64), windows, torch.ones(8, 8),
                      object_big=False)
    with pytest.raises(ValueError, match="groups"):
        merge_patches(torch.zeros(3, 4, 8, 8, dtype=torch.complex64), windows, torch.ones(8, 8))
