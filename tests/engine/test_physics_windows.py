"""Whole-pixel member windows: rounding, placement, gather = slicing, gather/scatter adjoint."""

import numpy as np
import pytest
import torch

from ptycho_engine.physics import (
    canvas_size,
    gather_views,
    group_windows,
    scatter_sum,
    split_offsets,
)

from .conftest import random_complex


def _np_slices(canvas, offsets, N):
    """Member windows by plain numpy slicing: centred at M/2 + floor(offset + 0.5)."""
    M = canvas.shape[0]
    views = []
    for ox, oy in offsets:
        cx, cy = M // 2 + int(np.floor(ox + 0.5)), M // 2 + int(np.floor(oy + 0.5))
        views.append(canvas[cy - N // 2:cy + N // 2, cx - N // 2:cx + N // 2])
    return np.stack(views)


def test_split_offsets_rounds_ties_up():
    offsets = torch.tensor([[-2.5, -1.5], [-0.5, 0.5], [1.5, 2.5], [0.49, -0.51],
                            [-0.49, 0.51], [3.0, -3.0], [2.7, -2.7]], dtype=torch.float64)
    whole, rest = split_offsets(offsets)
    expected = np.array([[-2, -1], [0, 1], [2, 3], [0, -1], [0, 1], [3, -3], [3, -3]], float)
    np.testing.assert_array_equal(whole.numpy(), expected)
    np.testing.assert_allclose(rest.numpy(), offsets.numpy() - expected, atol=1e-15)
    assert bool((rest >= -0.5).all()) and bool((rest < 0.5).all())


def test_split_offsets_on_random_values_reassembles_and_bounds_the_rest():
    rng = np.random.default_rng(0)
    offsets = torch.from_numpy(rng.uniform(-20, 20, (50, 4, 2)))
    whole, rest = split_offsets(offsets)
    assert torch.equal(whole, torch.round(whole))  # whole pixels
    torch.testing.assert_close(whole + rest, offsets, rtol=0, atol=1e-12)
    assert bool((rest >= -0.5).all()) and bool((rest < 0.5).all())
    np.testing.assert_array_equal(whole.numpy(), np.floor(offsets.numpy() + 0.5))


@pytest.mark.parametrize("offset", [(0.0, 0.0), (2.0, -1.0), (-3.4, 2.6), (1.5, -1.5)])
def test_a_bright_patch_centre_lands_at_canvas_centre_plus_whole_offset(offset):
    N, M = 8, 16
    windows = group_windows(torch.tensor([[offset]], dtype=torch.float64), N, M)
    patch = torch.zeros(1, 1, N, N, dtype=torch.complex128)
    patch[0, 0, N // 2, N // 2] = 2 + 1j
    canvas = scatter_sum(patch, windows)
    wx, wy = (int(np.floor(v + 0.5)) for v in offset)
    assert torch.nonzero(canvas[0].abs()).tolist() == [[M // 2 + wy, M // 2 + wx]]
    assert canvas[0, M // 2 + wy, M // 2 + wx] == 2 + 1j
    # ... and the member's view of a canvas bright there has it at its own centre
    view = gather_views(canvas, windows)
    assert torch.nonzero(view[0, 0].abs()).tolist() == [[N // 2, N // 2]]
    np.testing.assert_allclose(windows.residual[0, 0].numpy(),
                               np.array(offset) - [wx, wy], atol=1e-15)


def test_windows_off_the_canvas_are_refused():
    N = 8
    M = canvas_size(N, 3)  # 16: offsets up to ±4 whole pixels fit
    group_windows(torch.tensor([[[4.0, -4.0], [-4.49, 4.49]]]), N, M)  # fits exactly
    for bad in ([4.5, 0.0], [0.0, -4.51], [9.0, 9.0]):
        with pytest.raises(ValueError, match="canvas"):
            group_windows(torch.tensor([[[0.0, 0.0], bad]]), N, M)
    with pytest.raises(ValueError, match="canvas"):
        group_windows(torch.zeros(1, 1, 2), N, 7)  # smaller than a patch
    with pytest.raises(ValueError, match="canvas"):
        group_windows(torch.zeros(1, 1, 2), N, 13)  # odd margin
    with pytest.raises(ValueError, match="offsets"):
        group_windows(torch.zeros(1, 4), N, M)


def test_gather_equals_numpy_slicing():
    rng = np.random.default_rng(1)
    B, C, N = 3, 4, 8
    offsets = rng.uniform(-3.5, 3.5, (B, C, 2))
    M = canvas_size(N, 4)
    canvases = random_complex(rng, (B, M, M))
    windows = group_windows(torch.from_numpy(offsets), N, M)
    views = gather_views(torch.from_numpy(canvases), windows)
    assert views.shape == (B, C, N, N) and views.dtype == torch.complex128
    for b in range(B):
        np.testing.assert_array_equal(views[b].numpy(), _np_slices(canvases[b], offsets[b], N))


def test_scatter_sum_equals_numpy_accumulation():
    rng = np.random.default_rng(2)
    B, C, N = 2, 4, 8
    offsets = np.round(rng.uniform(-3, 3, (B, C, 2)))  # some members share a window
    offsets[0, 1] = offsets[0, 0]
    M = canvas_size(N, 3)
    patches = random_complex(rng, (B, C, N, N))
    canvas = scatter_sum(torch.from_numpy(patches), group_windows(torch.from_numpy(offsets), N, M))
    for b in range(B):
        expected = np.zeros((M, M), complex)
        for c, (ox, oy) in enumerate(offsets[b].astype(int)):
            top, left = M // 2 + oy - N // 2, M // 2 + ox - N // 2
            expected[top:top + N, left:left + N] += patches[b, c]
        np.testing.assert_allclose(canvas[b].numpy(), expected, rtol=1e-14, atol=1e-14)


def test_scatter_broadcasts_one_patch_to_every_member():
    N, M = 8, 16
    offsets = torch.tensor([[[-1.0, 0.0], [1.0, 0.0]]])
    windows = group_windows(offsets, N, M)
    counts = scatter_sum(torch.ones(1, 1, N, N), windows)
    assert counts.shape == (1, M, M)
    assert counts.sum() == 2 * N * N and counts.max() == 2
    assert counts[0, M // 2, M // 2 - N // 2 - 1] == 1  # only the left member reaches it


def test_gather_and_scatter_are_adjoint():
    """<gather(x), y> = <x, scatter(y)> for random complex x (canvases) and y (patches)."""
    rng = np.random.default_rng(3)
    B, C, N = 2, 9, 8
    offsets = torch.from_numpy(rng.uniform(-4, 4, (B, C, 2)))
    M = canvas_size(N, 4)
    windows = group_windows(offsets, N, M)
    x = torch.from_numpy(random_complex(rng, (B, M, M)))
    y = torch.from_numpy(random_complex(rng, (B, C, N, N)))
    left = torch.vdot(gather_views(x, windows).flatten(), y.flatten())
    right = torch.vdot(x.flatten(), scatter_sum(y, windows).flatten())
    assert abs(left) > 1  # not trivially zero
    torch.testing.assert_close(left, right, rtol=1e-12, atol=1e-12)


def test_windows_index_is_the_only_geometry_and_residual_has_the_rest():
    offsets = torch.tensor([[[0.3, -0.2], [2.0, 1.0]]], dtype=torch.float64)
    windows = group_windows(offsets, 4, 8)
    assert windows.index.shape == (1, 2 * 16) and windows.index.dtype == torch.int64
    assert (windows.batch, windows.members, windows.N, windows.canvas) == (1, 2, 4, 8)
    np.testing.assert_allclose(windows.residual.numpy(), [[[0.3, -0.2], [0.0, 0.0]]],
                               atol=1e-15)
    # member 0 at the centre: rows 2..5, columns 2..5 of an 8 x 8 canvas
    expected = (np.arange(2, 6)[:, None] * 8 + np.arange(2, 6)[None, :]).ravel()
    np.testing.assert_array_equal(windows.index[0, :16].numpy(), expected)
