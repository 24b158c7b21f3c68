"""The forward model against a numpy re-implementation, analytic cases and Parseval."""

import numpy as np
import pytest
import torch

from ptycho_engine.core.errors import ScanFormatError
from ptycho_engine.physics import (
    canvas_size,
    disc_mask,
    far_field_amplitude,
    forward_amplitude,
    group_windows,
    member_probes,
    merge_patches,
    normalise_probe,
    overlap_weight,
)

from .conftest import random_complex


def _np_shifted(probe, shift):
    """The probe moved by shift [x, y] px: multiply its DFT by exp(-2πi (f_x s_x + f_y s_y))."""
    f = np.fft.fftfreq(probe.shape[0])
    ramp = np.exp(-2j * np.pi * (f[:, None] * shift[1] + f[None, :] * shift[0]))
    return np.fft.ifft2(np.fft.fft2(probe) * ramp)


def _np_forward(patches, offsets, probe, object_big, M, weight, mask):
    """Reference forward model of one group: merge on whole-pixel windows, cut each
    member's window, illuminate with the probe shifted by the sub-pixel rest, |FFT|."""
    N = probe.shape[0]
    whole = np.floor(offsets + 0.5).astype(int)
    rest = offsets - whole
    windows = [(slice(M // 2 + oy - N // 2, M // 2 + oy + N // 2),
                slice(M // 2 + ox - N // 2, M // 2 + ox + N // 2)) for ox, oy in whole]
    canvas = np.zeros((M, M), complex)
    if object_big:
        den = np.zeros((M, M))
        for patch, (rows, cols) in zip(patches, windows, strict=True):
            canvas[rows, cols] += weight * patch
            den[rows, cols] += weight
        canvas /= den + 1e-6
    else:
        m = (M - N) // 2
        canvas[m:m + N, m:m + N] = patches[0]
    waves = np.stack([_np_shifted(probe, r) * canvas[rows, cols] * (1.0 if mask is None else mask)
                      for r, (rows, cols) in zip(rest, windows, strict=True)])
    return np.abs(np.fft.fftshift(np.fft.fft2(waves, norm="ortho"), axes=(-2, -1)))


def _np_disc(N):
    c = np.arange(N) - N / 2 + 0.5
    return (np.hypot(c[:, None], c[None, :]) < N / 4).astype(float)


def _model(patches, offsets, probe, *, object_big, M, weight, mask):
    """The physics chain as the model runs it: merge, member probes, forward_amplitude."""
    windows = group_windows(offsets, probe.shape[0], M)
    canvas = merge_patches(patches, windows, weight, object_big=object_big)
    return forward_amplitude(canvas, windows, member_probes(probe, windows, mask))


@pytest.mark.parametrize(("object_big", "use_mask"), [(True, False), (True, True), (False, False)])
@pytest.mark.parametrize("fractional", [True, False])
def test_forward_matches_numpy_reference(object_big, use_mask, fractional):
    rng = np.random.default_rng(0)
    B, C, N = 3, 4, 16
    K = C if object_big else 1
    patches = random_complex(rng, (B, K, N, N))
    offsets = rng.uniform(-3, 3, size=(B, C, 2))
    if not fractional:
        offsets = np.round(offsets)
    probe = random_complex(rng, (N, N))
    M = canvas_size(N, 3)
    weight = overlap_weight(N, 1e-3, dtype=torch.float64)
    mask = _np_disc(N) if use_mask else None
    expected = np.stack([_np_forward(patches[b], offsets[b], probe, object_big, M,
                                     weight.numpy(), mask) for b in range(B)])

    mask_t = None if mask is None else torch.from_numpy(mask)
    amp = _model(torch.from_numpy(patches), torch.from_numpy(offsets), torch.from_numpy(probe),
                 object_big=object_big, M=M, weight=weight, mask=mask_t)
    assert amp.shape == (B, C, N, N) and amp.dtype == torch.float64
    np.testing.assert_allclose(amp.numpy(), expected, rtol=1e-10, atol=1e-10)

    amp32 = _model(torch.from_numpy(patches).to(torch.complex64),
                   torch.from_numpy(offsets).float(), torch.from_numpy(probe).to(torch.complex64),
                   object_big=object_big, M=M, weight=weight.float(),
                   mask=None if mask_t is None else mask_t.float())
    assert amp32.dtype == torch.float32
    np.testing.assert_allclose(amp32.numpy(), expected, rtol=1e-5, atol=1e-5 * expected.max())


def test_forward_depends_on_the_sub_pixel_rest():
    """Offsets with the same whole part but another rest give other amplitudes, and the
    rest moves the probe, not the object: shifting both by a whole pixel changes nothing."""
    rng = np.random.default_rng(6)
    N, M = 16, 24
    canvas = torch.from_numpy(random_complex(rng, (1, M, M)))
    probe = torch.from_numpy(random_complex(rng, (N, N)))

    def amplitude(offsets):
        windows = group_windows(torch.tensor([offsets], dtype=torch.float64), N, M)
        return forward_amplitude(canvas, windows, member_probes(probe, windows))

    base = amplitude([[0.2, -0.3]])
    assert (base - amplitude([[0.0, 0.0]])).abs().max() > 1e-2
    assert (base - amplitude([[0.4, -0.3]])).abs().max() > 1e-2
    # amplitude of the canvas moved by one whole pixel, seen from a member moved alike
    moved = torch.roll(canvas, shifts=(1, -1), dims=(-2, -1))  # +1 row (y), -1 column (x)
    windows = group_windows(torch.tensor([[[-0.8, 0.7]]], dtype=torch.float64), N, M)
    again = forward_amplitude(moved, windows, member_probes(probe, windows))
    torch.testing.assert_close(again, base, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("offsets", [[[0.0, 0.0]], [[0.3, -0.45]], [[-0.5, 0.25], [1.2, 2.9]]])
def test_flat_object_gives_the_probe_far_field_at_any_offset(offsets):
    """A unit object leaves only the probe; a sub-pixel shift is a pure phase ramp in
    Fourier space, so its far-field modulus is the unshifted probe's."""
    rng = np.random.default_rng(1)
    N = 16
    probe = random_complex(rng, (N, N))
    offsets = torch.tensor([offsets], dtype=torch.float64).expand(2, -1, -1)
    M = canvas_size(N, float(offsets.abs().max()))
    windows = group_windows(offsets, N, M)
    ones = torch.ones(2, M, M, dtype=torch.complex128)
    amp = forward_amplitude(ones, windows, member_probes(torch.from_numpy(probe), windows))
    expected = np.abs(np.fft.fftshift(np.fft.fft2(probe, norm="ortho")))
    np.testing.assert_allclose(amp.numpy(), np.broadcast_to(expected, amp.shape), rtol=1e-12,
                               atol=1e-12)


def test_flat_object_at_gridsize_one_is_bit_for_bit_the_probe_far_field():
    rng = np.random.default_rng(1)
    N = 16
    probe = torch.from_numpy(random_complex(rng, (N, N)))
    windows = group_windows(torch.zeros(2, 1, 2, dtype=torch.float64), N, N)
    amp = forward_amplitude(torch.ones(2, N, N, dtype=torch.complex128), windows,
                            member_probes(probe, windows))
    assert torch.equal(amp[:, 0], far_field_amplitude(probe).expand(2, N, N))


def test_forward_obeys_parseval_with_shifted_probes():
    rng = np.random.default_rng(7)
    N, M = 16, 24
    canvas = torch.from_numpy(random_complex(rng, (2, M, M)))
    probe = random_complex(rng, (N, N))
    offsets = rng.uniform(-3, 3, (2, 3, 2))
    windows = group_windows(torch.from_numpy(offsets), N, M)
    amp = forward_amplitude(canvas, windows, member_probes(torch.from_numpy(probe), windows))
    energy = np.zeros((2, 3))
    for b in range(2):
        for c in range(3):
            ox, oy = np.floor(offsets[b, c] + 0.5).astype(int)
            view = canvas[b].numpy()[M // 2 + oy - N // 2:M // 2 + oy + N // 2,
                                     M // 2 + ox - N // 2:M // 2 + ox + N // 2]
            shifted = _np_shifted(probe, offsets[b, c] - [ox, oy])
            energy[b, c] = (np.abs(shifted * view) ** 2).sum()
    np.testing.assert_allclose((amp.numpy() ** 2).sum(axis=(-2, -1)), energy, rtol=1e-12)


def test_far_field_obeys_parseval_and_matches_numpy():
    rng = np.random.default_rng(3)
    wave = random_complex(rng, (2, 3, 16, 16))
    amp = far_field_amplitude(torch.from_numpy(wave))
    np.testing.assert_allclose((amp.numpy() ** 2).sum(axis=(-2, -1)),
                               (np.abs(wave) ** 2).sum(axis=(-2, -1)), rtol=1e-12)
    expected = np.abs(np.fft.fftshift(np.fft.fft2(wave, norm="ortho"), axes=(-2, -1)))
    np.testing.assert_allclose(amp.numpy(), expected, rtol=1e-12, atol=1e-12)
    # Zero frequency sits at (N/2, N/2): a flat wave puts all its power there.
    flat = far_field_amplitude(torch.ones(8, 8, dtype=torch.complex64))
    assert flat[4, 4] == pytest.approx(8.0) and flat.sum() == pytest.approx(8.0)


def test_far_field_runs_in_complex64_under_autocast():
    rng = np.random.default_rng(4)
    wave = torch.from_numpy(random_complex(rng, (4, 16, 16))).to(torch.complex64)
    plain = far_field_amplitude(wave)
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        cast = far_field_amplitude(wave)
        windows = group_windows(torch.zeros(4, 1, 2), 16, 16)
        amp = forward_amplitude(wave, windows, torch.ones_like(wave[0]))
    assert cast.dtype == torch.float32 and amp.dtype == torch.float32
    torch.testing.assert_close(cast, plain)
    torch.testing.assert_close(amp[:, 0], plain)


def test_disc_mask_matches_numpy():
    for N in (8, 16, 64):
        np.testing.assert_array_equal(disc_mask(N, dtype=torch.float64).numpy(), _np_disc(N))
    assert disc_mask(64).sum() == 812  # pixels with centre distance < 16


def test_normalise_probe_matches_formula():
    rng = np.random.default_rng(5)
    probe = random_complex(rng, (16, 16))
    expected = probe / (4.0 * np.mean(np.abs(_np_disc(16) * probe)))
    out = normalise_probe(torch.from_numpy(probe), 4.0)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)
    masked_mean = np.mean(np.abs(_np_disc(16) * out.numpy()))
    assert masked_mean == pytest.approx(0.25)
    out32 = normalise_probe(torch.from_numpy(probe).to(torch.complex64), 4.0)
    assert out32.dtype == torch.complex64


def test_normalise_probe_refuses_an_empty_centre():
    probe = torch.zeros(16, 16, dtype=torch.complex64)
    probe[0, 0] = 1.0
    with pytest.raises(ScanFormatError, match="probe"):
        normalise_probe(probe, 4.0)
