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
    normalise_probe,
    overlap_weight,
)


def _np_sample(img, ys, xs):
    """Zero-fill bilinear sample of img at float coordinates (ys, xs) of any shape."""
    H, W = img.shape
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    fy, fx = ys - y0, xs - x0
    out = np.zeros(ys.shape, dtype=complex)
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            yy, xx = y0 + dy, x0 + dx
            ok = (yy >= 0) & (yy < H) & (xx >= 0) & (xx < W)
            out[ok] += (wy * wx)[ok] * img[yy[ok], xx[ok]]
    return out


def _np_translate(img, t):
    rows, cols = np.meshgrid(np.arange(img.shape[0]), np.arange(img.shape[1]), indexing="ij")
    return _np_sample(img, rows - t[1], cols - t[0])


def _np_forward(patches, offsets, probe, object_big, M, weight, mask):
    """Reference forward model of one group: merge, extract, illuminate, |FFT|."""
    N = probe.shape[0]
    m = (M - N) // 2

    def pad(a):
        out = np.zeros((M, M), dtype=complex)
        out[m:m + N, m:m + N] = a
        return out

    if object_big:
        num = sum(_np_translate(pad(weight * p), o) for p, o in zip(patches, offsets, strict=True))
        den = sum(_np_translate(pad(weight), o).real for o in offsets)
        canvas = num / (den + 1e-6)
    else:
        canvas = pad(patches[0])
    views = np.stack([_np_translate(canvas, -o)[m:m + N, m:m + N] for o in offsets])
    wave = probe * views * (1.0 if mask is None else mask)
    amplitude = np.abs(np.fft.fftshift(np.fft.fft2(wave, norm="ortho"), axes=(-2, -1)))
    return amplitude, canvas[m:m + N, m:m + N]


def _random_complex(rng, shape):
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


def _np_disc(N):
    c = np.arange(N) - N / 2 + 0.5
    return (np.hypot(c[:, None], c[None, :]) < N / 4).astype(float)


@pytest.mark.parametrize(("object_big", "use_mask"), [(True, False), (True, True), (False, False)])
def test_forward_matches_numpy_reference(object_big, use_mask):
    rng = np.random.default_rng(0)
    B, C, N = 3, 4, 16
    K = C if object_big else 1
    patches = _random_complex(rng, (B, K, N, N))
    offsets = rng.uniform(-3, 3, size=(B, C, 2))
    probe = _random_complex(rng, (N, N))
    M = canvas_size(N, 3)
    weight = overlap_weight(N, 1e-3, dtype=torch.float64)
    mask = _np_disc(N) if use_mask else None
    expected = [_np_forward(patches[b], offsets[b], probe, object_big, M, weight.numpy(), mask)
                for b in range(B)]
    exp_amp = np.stack([e[0] for e in expected])
    exp_obj = np.stack([e[1] for e in expected])

    mask_t = None if mask is None else torch.from_numpy(mask)
    amp, obj = forward_amplitude(torch.from_numpy(patches), torch.from_numpy(offsets),
                                 torch.from_numpy(probe), object_big=object_big, canvas=M,
                                 weight=weight, probe_mask=mask_t)
    assert amp.shape == (B, C, N, N) and amp.dtype == torch.float64
    assert obj.shape == (B, N, N) and obj.dtype == torch.complex128
    np.testing.assert_allclose(amp.numpy(), exp_amp, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(obj.numpy(), exp_obj, rtol=1e-10, atol=1e-10)

    amp32, obj32 = forward_amplitude(
        torch.from_numpy(patches).to(torch.complex64), torch.from_numpy(offsets).float(),
        torch.from_numpy(probe).to(torch.complex64), object_big=object_big, canvas=M,
        weight=weight.float(), probe_mask=None if mask_t is None else mask_t.float())
    assert amp32.dtype == torch.float32 and obj32.dtype == torch.complex64
    np.testing.assert_allclose(amp32.numpy(), exp_amp, rtol=1e-5, atol=1e-5 * exp_amp.max())
    np.testing.assert_allclose(obj32.numpy(), exp_obj, rtol=1e-5, atol=1e-5)


def test_flat_object_at_gridsize_one_gives_the_probe_far_field():
    rng = np.random.default_rng(1)
    N = 16
    probe = _random_complex(rng, (N, N))
    ones = torch.ones(2, 1, N, N, dtype=torch.complex128)
    amp, obj = forward_amplitude(ones, torch.zeros(2, 1, 2, dtype=torch.float64),
                                 torch.from_numpy(probe), object_big=True, canvas=N,
                                 weight=overlap_weight(N, 0.0), probe_mask=None)
    expected = np.abs(np.fft.fftshift(np.fft.fft2(probe, norm="ortho")))
    np.testing.assert_allclose(amp[:, 0].numpy(), np.stack([expected, expected]), rtol=1e-13,
                               atol=1e-13)
    # Bit for bit the probe's own far field: the unit object changes nothing.
    assert torch.equal(amp[:, 0], far_field_amplitude(torch.from_numpy(probe)).expand(2, N, N))
    assert torch.equal(obj, ones[:, 0])


def test_gridsize_one_returns_the_patch_unchanged():
    rng = np.random.default_rng(2)
    patch = torch.from_numpy(_random_complex(rng, (3, 1, 8, 8))).to(torch.complex64)
    _, obj = forward_amplitude(patch, torch.zeros(3, 1, 2), torch.ones(8, 8, dtype=torch.complex64),
                               object_big=True, canvas=12, weight=overlap_weight(8, 1e-3),
                               probe_mask=None)
    assert torch.equal(obj, patch[:, 0])


def test_patch_count_must_fit_object_big():
    with pytest.raises(ValueError, match="object_big"):
        forward_amplitude(torch.zeros(2, 1, 8, 8, dtype=torch.complex64), torch.zeros(2, 4, 2),
                          torch.ones(8, 8, dtype=torch.complex64), object_big=True, canvas=12,
                          weight=overlap_weight(8, 0.0), probe_mask=None)


def test_far_field_obeys_parseval_and_matches_numpy():
    rng = np.random.default_rng(3)
    wave = _random_complex(rng, (2, 3, 16, 16))
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
    wave = torch.from_numpy(_random_complex(rng, (4, 16, 16))).to(torch.complex64)
    plain = far_field_amplitude(wave)
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        cast = far_field_amplitude(wave)
        amp, _ = forward_amplitude(wave[:, None], torch.zeros(4, 1, 2), torch.ones_like(wave[0]),
                                   object_big=True, canvas=16, weight=overlap_weight(16, 0.0),
                                   probe_mask=None)
    assert cast.dtype == torch.float32 and amp.dtype == torch.float32
    torch.testing.assert_close(cast, plain)
    torch.testing.assert_close(amp[:, 0], plain)


def test_disc_mask_matches_numpy():
    for N in (8, 16, 64):
        np.testing.assert_array_equal(disc_mask(N, dtype=torch.float64).numpy(), _np_disc(N))
    assert disc_mask(64).sum() == 812  # pixels with centre distance < 16


def test_normalise_probe_matches_formula():
    rng = np.random.default_rng(5)
    probe = _random_complex(rng, (16, 16))
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
