"""Round trip: the true object pushed through the forward model gives the simulated data.

The simulator (numpy) and the physics (torch) are written separately; they share
only the conventions (patch centred on the position, orthonormal FFT, fftshift,
probe stored already scaled to photons).
"""

import numpy as np
import pytest
import torch

from ptycho_engine.data.patches import extract_patches as object_patches_at
from ptycho_engine.physics import canvas_size, forward_amplitude, overlap_weight
from ptycho_engine.simulation import defocused_probe, simulate_scan

N = 16


def _object(seed, size=64):
    rng = np.random.default_rng(seed)
    amplitude = rng.uniform(0.4, 1.0, (size, size))
    phase = rng.uniform(-np.pi, np.pi, (size, size))
    return (amplitude * np.exp(1j * phase)).astype(np.complex64)


def _assert_matches(predicted, measured):
    """Equal to float32 precision: 1e-5 of the largest amplitude."""
    np.testing.assert_allclose(predicted, measured, rtol=0, atol=1e-5 * measured.max())


def test_gridsize_one_reproduces_noise_free_diffraction():
    rng = np.random.default_rng(0)
    positions = rng.uniform(16, 48, size=(12, 2))
    scan = simulate_scan(_object(1), defocused_probe(N, 8.0), positions, nphotons=1e6, seed=0,
                         noise=False)
    patches = object_patches_at(scan.ground_truth, scan.positions, N)
    amplitude, centre = forward_amplitude(
        torch.from_numpy(patches)[:, None], torch.zeros(len(positions), 1, 2),
        torch.from_numpy(scan.probe), object_big=True, canvas=N,
        weight=overlap_weight(N, 1e-3), probe_mask=None)
    _assert_matches(amplitude[:, 0].numpy(), np.asarray(scan.diffraction))
    np.testing.assert_array_equal(centre.numpy(), patches)


# Member displacements from the group centroid: integer, mean 0, not symmetric.
_MEMBERS = np.array([[-3, -1], [2, -2], [-1, 3], [2, 0]])


def _grouped_scan():
    centroids = np.array([[20, 22], [31, 27], [42, 40]])
    # Each group lists its members in a different order.
    order = [[0, 1, 2, 3], [2, 0, 3, 1], [3, 2, 1, 0]]
    offsets = np.stack([_MEMBERS[o] for o in order]).astype(np.float64)  # (B, C, 2)
    positions = (centroids[:, None, :] + offsets).reshape(-1, 2)
    scan = simulate_scan(_object(2), defocused_probe(N, 8.0), positions, nphotons=1e6, seed=0,
                         noise=False)
    patches = object_patches_at(scan.ground_truth, scan.positions, N).reshape(3, 4, N, N)
    measured = np.asarray(scan.diffraction).reshape(3, 4, N, N)
    return scan, torch.from_numpy(patches), torch.from_numpy(offsets).float(), measured


def test_gridsize_two_merge_and_extract_reproduce_diffraction():
    scan, patches, offsets, measured = _grouped_scan()
    M = canvas_size(N, np.abs(_MEMBERS).max())
    # Full weight: every member pixel lies under a weight-1 window, merge is exact.
    amplitude, centre = forward_amplitude(patches, offsets, torch.from_numpy(scan.probe),
                                          object_big=True, canvas=M,
                                          weight=overlap_weight(N, 1.0), probe_mask=None)
    _assert_matches(amplitude.numpy(), measured)
    centroid_patches = object_patches_at(scan.ground_truth,
                                         np.array([[20, 22], [31, 27], [42, 40]]), N)
    np.testing.assert_allclose(centre.numpy(), centroid_patches, rtol=0, atol=1e-5)


def test_gridsize_two_with_the_probe_big_weight_stays_within_its_border_error():
    """With border weight 1e-3, pixels seen only by borders carry a relative 1e-6/1e-3 error."""
    scan, patches, offsets, measured = _grouped_scan()
    M = canvas_size(N, np.abs(_MEMBERS).max())
    amplitude, _ = forward_amplitude(patches, offsets, torch.from_numpy(scan.probe),
                                     object_big=True, canvas=M, weight=overlap_weight(N, 1e-3),
                                     probe_mask=None)
    np.testing.assert_allclose(amplitude.numpy(), measured, rtol=0, atol=1e-3 * measured.max())
    # and it is not the trivially exact case: some difference above float32 noise remains
    assert np.abs(amplitude.numpy() - measured).max() > 1e-6 * measured.max()


def test_wrong_offset_sign_does_not_reproduce_diffraction():
    scan, patches, offsets, measured = _grouped_scan()
    M = canvas_size(N, np.abs(_MEMBERS).max())
    amplitude, _ = forward_amplitude(patches, -offsets, torch.from_numpy(scan.probe),
                                     object_big=True, canvas=M, weight=overlap_weight(N, 1.0),
                                     probe_mask=None)
    with pytest.raises(AssertionError):
        _assert_matches(amplitude.numpy(), measured)
