"""Sub-pixel probe shifts against np.roll, an analytically shifted Gaussian and round trips."""

import numpy as np
import pytest
import torch

from ptycho_engine.physics import disc_mask, group_windows, member_probes, shift_probe

from .conftest import random_complex

N = 32
NG = 48  # Gaussian tests: tails at the array edge and spectrum at Nyquist below 1e-9


def _gaussian(N, centre, sigma, tilt=0.0):
    """A complex Gaussian beam centred at ``centre`` [x, y] px with a linear phase tilt.

    Sampled at pixel centres 0 … N-1; its spectrum and its tails are far below 1e-9 at
    the array's Nyquist frequency and edge, so it is band-limited and periodic to
    float64 precision for sigma = 2.5 … 3 px and N = 48.
    """
    y, x = np.mgrid[0:N, 0:N].astype(float)
    envelope = np.exp(-((x - centre[0]) ** 2 + (y - centre[1]) ** 2) / (2 * sigma ** 2))
    return envelope * np.exp(1j * tilt * (x - centre[0]))


@pytest.mark.parametrize("shift", [(1, 0), (0, -2), (3, 5), (-4, 1)])
def test_integer_shifts_equal_np_roll(shift):
    rng = np.random.default_rng(0)
    probe = random_complex(rng, (N, N))  # not smooth at all: the shift is exact for any probe
    out = shift_probe(torch.from_numpy(probe), torch.tensor([shift], dtype=torch.float64))
    assert out.shape == (1, N, N)
    expected = np.roll(probe, (shift[1], shift[0]), axis=(0, 1))  # +x moves columns right
    np.testing.assert_allclose(out[0].numpy(), expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("shift", [(0.3, 0.0), (0.0, -0.45), (0.25, -0.5), (-0.499, 0.17)])
@pytest.mark.parametrize("tilt", [0.0, 0.6])
def test_fractional_shift_of_a_gaussian_is_the_shifted_gaussian(shift, tilt):
    centre = (NG / 2, NG / 2 - 1)
    probe = torch.from_numpy(_gaussian(NG, centre, 2.5, tilt))
    out = shift_probe(probe, torch.tensor([shift], dtype=torch.float64))[0].numpy()
    expected = _gaussian(NG, (centre[0] + shift[0], centre[1] + shift[1]), 2.5, tilt)
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-9)
    # and it really moved: far from the unshifted beam
    assert np.abs(out - probe.numpy()).max() > 0.02


def test_shifts_broadcast_over_leading_dimensions():
    rng = np.random.default_rng(1)
    probe = torch.from_numpy(_gaussian(NG, (NG / 2, NG / 2), 3.0))
    shifts = torch.from_numpy(rng.uniform(-0.5, 0.5, (2, 3, 2)))
    out = shift_probe(probe, shifts)
    assert out.shape == (2, 3, NG, NG) and out.dtype == torch.complex128
    for b in range(2):
        for c in range(3):
            sx, sy = shifts[b, c].tolist()
            expected = _gaussian(NG, (NG / 2 + sx, NG / 2 + sy), 3.0)
            np.testing.assert_allclose(out[b, c].numpy(), expected, rtol=0, atol=1e-9)


def test_zero_shifts_return_the_probe_itself():
    probe = torch.from_numpy(random_complex(np.random.default_rng(2), (N, N)))
    out = shift_probe(probe, torch.zeros(4, 3, 2, dtype=torch.float64))
    assert out.shape == (1, 1, N, N)
    assert out.data_ptr() == probe.data_ptr() and torch.equal(out[0, 0], probe)
    assert shift_probe(probe, torch.zeros(5, 2)).shape == (1, N, N)
    # one non-zero shift: every member gets its own probe, zero-shift members unchanged
    shifts = torch.zeros(2, 2, dtype=torch.float64)
    shifts[1, 0] = 0.25
    mixed = shift_probe(probe, shifts)
    assert mixed.shape == (2, N, N)
    torch.testing.assert_close(mixed[0], probe, rtol=0, atol=1e-14)
    assert not torch.allclose(mixed[1], probe)


def test_shifting_there_and_back_returns_the_probe():
    rng = np.random.default_rng(3)
    probe = torch.from_numpy(random_complex(rng, (N, N)))
    shifts = torch.from_numpy(rng.uniform(-0.5, 0.5, (6, 2)))
    there = shift_probe(probe, shifts)
    for k in range(6):
        back = shift_probe(there[k], -shifts[k:k + 1])[0]
        torch.testing.assert_close(back, probe, rtol=0, atol=1e-12)
    probe32 = probe.to(torch.complex64)
    there32 = shift_probe(probe32, shifts.float())
    assert there32.dtype == torch.complex64
    back32 = shift_probe(there32[0], -shifts[:1].float())[0]
    torch.testing.assert_close(back32, probe32, rtol=0, atol=1e-5)


def test_a_shift_keeps_the_probe_energy_and_its_far_field_modulus():
    """A shift is a pure phase ramp in Fourier space: |F P| and Σ|P|² are unchanged."""
    rng = np.random.default_rng(4)
    probe = torch.from_numpy(random_complex(rng, (N, N)))
    out = shift_probe(probe, torch.from_numpy(rng.uniform(-0.5, 0.5, (3, 2))))
    np.testing.assert_allclose(np.abs(np.fft.fft2(out.numpy())),
                               np.abs(np.fft.fft2(probe.numpy()))[None].repeat(3, 0),
                               rtol=1e-10, atol=1e-10)


def test_member_probes_shift_by_the_sub_pixel_rest_then_mask():
    probe = torch.from_numpy(_gaussian(NG, (NG / 2, NG / 2), 3.0))
    offsets = torch.tensor([[[2.0, -1.0], [1.3, 0.6]]], dtype=torch.float64)  # rests 0, (.3,-.4)
    windows = group_windows(offsets, NG, NG + 8)
    mask = disc_mask(NG, dtype=torch.float64)
    probes = member_probes(probe, windows, mask)
    assert probes.shape == (1, 2, NG, NG)
    np.testing.assert_allclose(probes[0, 0].numpy(), probe.numpy() * mask.numpy(), atol=1e-12)
    expected = _gaussian(NG, (NG / 2 + 0.3, NG / 2 - 0.4), 3.0) * mask.numpy()
    np.testing.assert_allclose(probes[0, 1].numpy(), expected, rtol=0, atol=1e-9)
    whole = group_windows(torch.tensor([[[2.0, -1.0], [1.0, 0.0]]]), NG, NG + 8)
    assert member_probes(probe, whole).shape == (1, 1, NG, NG)  # whole pixels: no copies
