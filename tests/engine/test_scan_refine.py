"""Scan-wide refinement of a stitched object: the truth is a fixed point, a perturbed
object moves towards it, chunking changes nothing, 0 steps changes nothing."""

import numpy as np
import pytest
import torch
from scipy import ndimage

from ptycho_engine.api import Reconstruction
from ptycho_engine.core.config import to_dict
from ptycho_engine.model.pinn import PtychoPINN
from ptycho_engine.reconstruction import scan_refine
from ptycho_engine.reconstruction.scan_refine import refine_stitched
from ptycho_engine.simulation import defocused_probe, gaussian_random_field

from .conftest import random_complex, tiny_config

N = 32


def _np_shifted(probe, shift):
    """The probe moved by [x, y] sub-pixel shift (positive: towards +x / +y)."""
    f = np.fft.fftfreq(probe.shape[0])
    return np.fft.ifft2(np.fft.fft2(probe) * np.exp(-2j * np.pi * (f[:, None] * shift[1]
                                                                   + f[None, :] * shift[0])))


def _setup(fractional: bool, seed: int = 0):
    """A random complex object, a raster of positions, a model with the probe, and the
    noise-free measured amplitudes of the object (numpy forward model, centred spectra)."""
    rng = np.random.default_rng(seed)
    truth = gaussian_random_field(110, seed, phase_rad=2.0).astype(np.complex128)
    ys, xs = np.meshgrid(np.arange(30, 81, 5), np.arange(30, 81, 5), indexing="ij")
    positions = np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float64)
    if fractional:
        positions += rng.uniform(-0.5, 0.5, positions.shape)
    probe = defocused_probe(N, diameter_px=14.0, defocus_phase_rad=6.0).astype(np.complex64)
    config = tiny_config(**{"model.probe_mask": False})
    model = PtychoPINN(to_dict(config), intensity_scale=3.0, canvas=48, probe=probe).eval()
    amplitudes = []
    for p in positions:
        whole = np.floor(p + 0.5).astype(int)
        window = truth[whole[1] - N // 2:whole[1] + N // 2, whole[0] - N // 2:whole[0] + N // 2]
        exit_wave = _np_shifted(model.probe.numpy().astype(np.complex128), p - whole) * window
        amplitudes.append(np.fft.fftshift(np.abs(np.fft.fft2(exit_wave, norm="ortho"))))
    # refine_stitched's target is scale · input_scale / exp(log_scale) · measured
    scale = float(torch.exp(model.log_scale.detach())) / model.input_scale
    return truth, positions, model, np.stack(amplitudes).astype(np.float32), scale


def _stitched(obj: np.ndarray, frame: tuple[int, int], shape: tuple[int, int],
              positions: np.ndarray) -> Reconstruction:
    region = obj[frame[0]:frame[0] + shape[0], frame[1]:frame[1] + shape[1]]
    return Reconstruction(object=region.astype(np.complex64), offset=(float(frame[0]),
                          float(frame[1])), weight=np.ones(shape, np.float32),
                          positions=positions, source="test", info={})


def _error(result: Reconstruction, truth: np.ndarray, inner: slice) -> float:
    """RMS error after the best global phase, over an inner box of the stitched frame."""
    r0, c0 = int(result.offset[0]), int(result.offset[1])
    h, w = result.object.shape
    rec = result.object[inner, inner]
    ref = truth[r0:r0 + h, c0:c0 + w][inner, inner]
    phase = np.angle(np.vdot(rec, ref))
    return float(np.sqrt(np.mean(np.abs(rec * np.exp(1j * phase) - ref) ** 2)))


@pytest.mark.parametrize("fractional", [False, True])
def test_the_true_object_is_a_fixed_point(fractional):
    truth, positions, model, measured, scale = _setup(fractional)
    # the stitched frame covers every window completely: nothing starts from the fill
    stitched = _stitched(truth, (12, 12), (86, 86), positions)
    result = refine_stitched(model, stitched, measured, positions, steps=15, scale=scale)
    assert result.object.shape == stitched.object.shape
    assert result.offset == stitched.offset
    np.testing.assert_allclose(result.object, stitched.object, atol=2e-3)


@pytest.mark.parametrize("fractional", [False, True])
def test_a_perturbed_object_moves_towards_the_truth(fractional):
    truth, positions, model, measured, scale = _setup(fractional, seed=1)
    rng = np.random.default_rng(5)
    smooth = ndimage.gaussian_filter(rng.standard_normal(truth.shape), 6.0)
    wrong = truth * np.exp(1j * 0.4 * smooth / smooth.std())
    wrong = wrong + 0.1 * (rng.standard_normal(truth.shape)
                           + 1j * rng.standard_normal(truth.shape))
    # a stitch that reaches only the central part of the windows, as the default crop
    stitched = _stitched(wrong, (20, 20), (70, 70), positions)
    inner = slice(10, 60)
    before = _error(stitched, truth, inner)
    result = refine_stitched(model, stitched, measured, positions, steps=150, scale=scale)
    after = _error(result, truth, inner)
    assert after < before / 5, (before, after)


def test_chunks_do_not_change_the_result_and_zero_steps_change_nothing(monkeypatch):
    truth, positions, model, measured, scale = _setup(True, seed=2)
    stitched = _stitched(truth * np.exp(0.2j), (20, 20), (70, 70), positions)
    stitched.object[::7, ::5] *= 0.7
    whole = refine_stitched(model, stitched, measured, positions, steps=6, scale=scale)
    chunked = refine_stitched(model, stitched, measured, positions, steps=6, scale=scale,
                              chunk=17)
    np.testing.assert_allclose(chunked.object, whole.object, atol=1e-5)
    monkeypatch.setattr(scan_refine, "KEEP_WINDOWS_LIMIT", 0)  # a large scan: rebuilt
    rebuilt = refine_stitched(model, stitched, measured, positions, steps=6, scale=scale,
                              chunk=17)
    np.testing.assert_allclose(rebuilt.object, whole.object, atol=1e-5)
    assert refine_stitched(model, stitched, measured, positions, steps=0,
                           scale=scale) is stitched


def test_uncovered_pixels_keep_their_values():
    truth, positions, model, measured, scale = _setup(False, seed=3)
    stitched = _stitched(truth, (20, 20), (70, 70), positions)
    stitched.weight[:5] = 0
    stitched.object[:5] = 7.0
    result = refine_stitched(model, stitched, measured, positions, steps=3, scale=scale)
    np.testing.assert_array_equal(result.object[:5], stitched.object[:5])
    assert result.info["scan_refine_steps"] == 3


def test_of_several_starts_the_one_that_fits_the_data_is_kept():
    truth, positions, model, measured, scale = _setup(True, seed=4)
    rng = np.random.default_rng(8)
    smooth = ndimage.gaussian_filter(rng.standard_normal(truth.shape), 15.0)
    drifted = truth * np.exp(2j * smooth / smooth.std())  # a slow phase drift of ~2 rad
    good = _stitched(truth * np.exp(0.05j * rng.standard_normal(truth.shape)), (20, 20),
                     (70, 70), positions)
    bad = _stitched(drifted, (20, 20), (70, 70), positions)
    for order in ([bad, good], [good, bad]):
        result = refine_stitched(model, order, measured, positions, steps=40, scale=scale)
        assert order[result.info["scan_refine_start"]] is good
        assert _error(result, truth, slice(10, 60)) < 0.05


def test_a_flat_start_wins_over_a_stitch_that_is_noise():
    truth, positions, model, measured, scale = _setup(False, seed=6)
    rng = np.random.default_rng(9)
    noise = _stitched(random_complex(rng, truth.shape), (20, 20), (70, 70), positions)
    inner = slice(10, 60)
    result = refine_stitched(model, noise, measured, positions, steps=60, scale=scale)
    assert result.info["scan_refine_start"] is None  # the flat object
    kept = refine_stitched(model, noise, measured, positions, steps=60, scale=scale,
                           flat_start=False)
    assert kept.info["scan_refine_start"] == 0
    assert _error(result, truth, inner) < 0.5 * _error(kept, truth, inner)
    assert result.prediction_unused and not kept.prediction_unused
