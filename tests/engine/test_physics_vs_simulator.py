"""Round trip: the true object pushed through the forward model gives the simulated data.

The simulator (numpy) and the physics (torch) are written separately; they share
only the conventions (object window at the whole pixel nearest the position, probe
moved by the sub-pixel rest with a Fourier phase ramp, orthonormal FFT, fftshift,
probe stored already scaled to photons). The true member windows are cut here by
plain numpy slicing.
"""

import numpy as np
import pytest
import torch

from ptycho_engine.data.grouping import make_groups
from ptycho_engine.physics import (
    canvas_size,
    far_field_amplitude,
    forward_amplitude,
    group_windows,
    member_probes,
    merge_patches,
    overlap_weight,
)
from ptycho_engine.simulation import defocused_probe, simulate_scan

N = 16


def _object(seed, size=64):
    rng = np.random.default_rng(seed)
    amplitude = rng.uniform(0.4, 1.0, (size, size))
    phase = rng.uniform(-np.pi, np.pi, (size, size))
    return (amplitude * np.exp(1j * phase)).astype(np.complex64)


def _true_windows(obj, positions):
    """The object on the N × N pixels centred at floor(p + 0.5) of each position."""
    out = []
    for x, y in np.floor(positions + 0.5).astype(int):
        out.append(obj[y - N // 2:y + N // 2, x - N // 2:x + N // 2])
    return np.stack(out)


def _positions(fractional, seed=0):
    rng = np.random.default_rng(seed)
    ys, xs = np.meshgrid(np.arange(20, 45, 4), np.arange(20, 45, 4), indexing="ij")
    positions = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float64)
    if fractional:
        positions += rng.uniform(-0.5, 0.5, positions.shape)
        positions[:3] = np.floor(positions[:3]) + [[0.5, 0.0], [0.0, 0.5], [0.5, 0.5]]  # ties
    return positions


def _scan(positions):
    return simulate_scan(_object(2), defocused_probe(N, 8.0), positions, nphotons=1e6, seed=0,
                         noise=False)


def _model_amplitude(scan, groups, *, border, sign=1.0):
    """Merge the true member windows of each group (no refinement) and run the physics."""
    offsets = torch.from_numpy(sign * groups.relative_offsets).float()
    M = canvas_size(N, float(offsets.abs().max()))
    windows = group_windows(offsets, N, M)
    patches = torch.from_numpy(_true_windows(scan.ground_truth, scan.positions[
        groups.indices.ravel()]).reshape(*groups.indices.shape, N, N))
    canvas = merge_patches(patches, windows, overlap_weight(N, border))
    amplitude = forward_amplitude(canvas, windows,
                                  member_probes(torch.from_numpy(scan.probe), windows))
    return amplitude.numpy(), canvas.numpy(), M


def _assert_matches(predicted, measured):
    """Equal to float32 precision: 1e-5 of the largest amplitude."""
    np.testing.assert_allclose(predicted, measured, rtol=0, atol=1e-5 * measured.max())


@pytest.mark.parametrize("fractional", [False, True])
def test_gridsize_one_reproduces_noise_free_diffraction(fractional):
    scan = _scan(_positions(fractional))
    groups = make_groups(scan.positions, 1, 4, 0, seed=0)
    amplitude, canvas, M = _model_amplitude(scan, groups, border=1e-3)
    _assert_matches(amplitude[:, 0], np.asarray(scan.diffraction))
    m = (M - N) // 2  # one member: the canvas is its true window, exactly, on whole pixels
    np.testing.assert_array_equal(canvas[:, m:m + N, m:m + N],
                                  _true_windows(scan.ground_truth, scan.positions))


@pytest.mark.parametrize("fractional", [False, True])
def test_gridsize_two_merge_and_windows_reproduce_diffraction(fractional):
    scan = _scan(_positions(fractional))
    groups = make_groups(scan.positions, 2, 5, 0, seed=1)
    measured = np.asarray(scan.diffraction)[groups.indices]
    # Full weight: every member pixel lies under a weight-1 window, the merge is exact.
    amplitude, canvas, M = _model_amplitude(scan, groups, border=1.0)
    _assert_matches(amplitude, measured)
    # The canvas centre is the group's anchor: the canvas is the object around it where
    # a member's window covers, and exactly 0 elsewhere.
    for b, (ax, ay) in enumerate(groups.anchors.astype(int)):
        truth = scan.ground_truth[ay - M // 2:ay + M // 2, ax - M // 2:ax + M // 2]
        covered = np.zeros((M, M), bool)
        for ox, oy in np.floor(groups.relative_offsets[b] + 0.5).astype(int):
            covered[M // 2 + oy - N // 2:M // 2 + oy + N // 2,
                    M // 2 + ox - N // 2:M // 2 + ox + N // 2] = True
        np.testing.assert_allclose(canvas[b][covered], truth[covered], rtol=0, atol=1e-5)
        assert not canvas[b][~covered].any()
    if fractional:  # not trivially whole pixels: the probe shift is what makes it agree
        assert np.abs(groups.relative_offsets - np.round(groups.relative_offsets)).max() > 0.3


def test_gridsize_two_with_the_probe_big_weight_stays_within_its_border_error():
    """With border weight 1e-3, pixels seen only by borders carry a relative 1e-6/1e-3 error."""
    scan = _scan(_positions(True))
    groups = make_groups(scan.positions, 2, 5, 0, seed=1)
    measured = np.asarray(scan.diffraction)[groups.indices]
    amplitude, _, _ = _model_amplitude(scan, groups, border=1e-3)
    np.testing.assert_allclose(amplitude, measured, rtol=0, atol=1e-3 * measured.max())
    # and it is not the trivially exact case: some difference above float32 noise remains
    assert np.abs(amplitude - measured).max() > 1e-6 * measured.max()


def test_whole_pixel_shift_without_the_probe_shift_does_not_reproduce_fractional_data():
    """The sub-pixel rest matters: the object windows alone (probe unshifted) miss."""
    scan = _scan(_positions(True))
    groups = make_groups(scan.positions, 1, 4, 0, seed=0)
    patches = torch.from_numpy(_true_windows(scan.ground_truth, scan.positions))
    unshifted = far_field_amplitude(patches * torch.from_numpy(scan.probe)).numpy()
    with pytest.raises(AssertionError):
        _assert_matches(unshifted, np.asarray(scan.diffraction))
    amplitude, _, _ = _model_amplitude(scan, groups, border=1.0)
    _assert_matches(amplitude[:, 0], np.asarray(scan.diffraction))


@pytest.mark.parametrize("fractional", [False, True])
def test_wrong_offset_sign_does_not_reproduce_diffraction(fractional):
    scan = _scan(_positions(fractional))
    groups = make_groups(scan.positions, 2, 5, 0, seed=1)
    measured = np.asarray(scan.diffraction)[groups.indices]
    amplitude, _, _ = _model_amplitude(scan, groups, border=1.0, sign=-1.0)
    with pytest.raises(AssertionError):
        _assert_matches(amplitude, measured)
