"""Physics refinement of a group canvas: a numpy reference, convergence, fixed point, gradients."""

import numpy as np
import pytest
import torch

from ptycho_engine.physics import (
    canvas_size,
    far_field_amplitude,
    gather_views,
    group_windows,
    member_probes,
    refine_canvas,
)
from ptycho_engine.physics.refine import MAGNITUDE_EPS, REFINE_REGULARISATION
from ptycho_engine.simulation import defocused_probe, gaussian_random_field

N = 16


def _np_shifted(probe, shift):
    f = np.fft.fftfreq(probe.shape[0])
    return np.fft.ifft2(np.fft.fft2(probe) * np.exp(-2j * np.pi * (f[:, None] * shift[1]
                                                                   + f[None, :] * shift[0])))


def _np_refine(canvas, offsets, probe, target, alphas, steps, momentum):
    """Reference: parallel ePIE steps on one canvas with heavy-ball momentum.

    ψ_c = P_c O_c, ψ'_c = F⁻¹[A_c Fψ_c / sqrt(|Fψ_c|² + ε)],
    u = α_k Σ_c win_c(P_c* (ψ'_c − ψ_c)) / (Σ_c win_c|P_c|² + δ·max Σ_c win_c|P_c|²),
    v ← η v + u, O ← O + u + η v.
    """
    M = canvas.shape[0]
    whole = np.floor(offsets + 0.5).astype(int)
    probes = [_np_shifted(probe, r) for r in offsets - whole]
    windows = [(slice(M // 2 + oy - N // 2, M // 2 + oy + N // 2),
                slice(M // 2 + ox - N // 2, M // 2 + ox + N // 2)) for ox, oy in whole]
    norm = np.zeros((M, M))
    for p, w in zip(probes, windows, strict=True):
        norm[w] += np.abs(p) ** 2
    norm += REFINE_REGULARISATION * norm.max()
    canvas = canvas.copy()
    velocity = np.zeros_like(canvas)
    for k in range(steps):
        update = np.zeros_like(canvas)
        for p, w, a in zip(probes, windows, target, strict=True):
            psi = p * canvas[w]
            spectrum = np.fft.fft2(psi, norm="ortho")
            magnitude = np.sqrt(np.abs(spectrum) ** 2 + MAGNITUDE_EPS)
            projected = np.fft.ifft2(spectrum * np.fft.ifftshift(a) / magnitude, norm="ortho")
            update[w] += np.conj(p) * (projected - psi)
        update = alphas[min(k, len(alphas) - 1)] * update / norm
        velocity = momentum * velocity + update
        canvas = canvas + update + momentum * velocity
    return canvas


def _raster_offsets(fractional, seed=0):
    """16 members on a 4 x 4 raster with a 3 px step around the anchor."""
    steps = np.arange(-4.0, 6.0, 3.0)
    offsets = np.stack(np.meshgrid(steps, steps, indexing="xy"), -1).reshape(-1, 2)
    if fractional:
        offsets = offsets + np.random.default_rng(seed).uniform(-0.5, 0.5, offsets.shape)
    return offsets


def _problem(fractional, groups=1):
    """True canvases, windows, member probes and noise-free amplitudes of each group."""
    offsets = np.stack([_raster_offsets(fractional, seed) for seed in range(groups)])
    M = canvas_size(N, float(np.abs(offsets).max()))
    truth = np.stack([gaussian_random_field(M, 3 + g).astype(np.complex128)
                      for g in range(groups)])
    probe = defocused_probe(N, 8.0).astype(np.complex128) * 10
    windows = group_windows(torch.from_numpy(offsets), N, M)
    probes = member_probes(torch.from_numpy(probe), windows)
    truth_t = torch.from_numpy(truth)
    target = far_field_amplitude(gather_views(truth_t, windows) * probes)
    return truth_t, windows, probes, target, offsets, probe


def _misfit(canvas, windows, probes, target):
    return float(((far_field_amplitude(gather_views(canvas, windows) * probes) - target) ** 2)
                 .sum())


def _ones(n):
    return torch.ones(n, dtype=torch.float64)


@pytest.mark.parametrize("fractional", [False, True])
@pytest.mark.parametrize("momentum", [0.0, 0.8])
def test_refinement_matches_numpy_reference(fractional, momentum):
    truth, windows, probes, target, offsets, probe = _problem(fractional, groups=2)
    rng = np.random.default_rng(1)
    start = truth + 0.3 * torch.from_numpy(rng.standard_normal(truth.shape)
                                           + 1j * rng.standard_normal(truth.shape))
    alphas = np.array([1.0, 0.6, 1.3])
    out = refine_canvas(start, windows, probes, target, torch.from_numpy(alphas), 4,
                        momentum=momentum)
    assert out.shape == truth.shape and out.dtype == torch.complex128
    for b in range(2):
        expected = _np_refine(start[b].numpy(), offsets[b], probe, target[b].numpy(), alphas, 4,
                              momentum)
        np.testing.assert_allclose(out[b].numpy(), expected, rtol=1e-10, atol=1e-10)
    assert (out - start).abs().max() > 1e-2  # it did move


@pytest.mark.parametrize("fractional", [False, True])
def test_refinement_from_a_flat_canvas_lowers_the_misfit(fractional):
    truth, windows, probes, target, _, _ = _problem(fractional)
    flat = torch.ones_like(truth)
    misfits = [_misfit(refine_canvas(flat, windows, probes, target, _ones(1), steps,
                                     momentum=0.8), windows, probes, target)
               for steps in (0, 10, 30)]
    assert misfits[1] < 0.5 * misfits[0]
    assert misfits[2] < misfits[1]


def test_the_true_object_is_a_fixed_point_with_noise_free_data():
    for fractional in (False, True):
        truth, windows, probes, target, _, _ = _problem(fractional)
        one = refine_canvas(truth, windows, probes, target, _ones(1), 1, momentum=0.8)
        assert float((one - truth).abs().max() / truth.abs().max()) < 1e-4
        # ... and a wrong object is not
        wrong = truth * torch.exp(0.5j * torch.ones_like(truth.real).tril())
        moved = refine_canvas(wrong, windows, probes, target, _ones(1), 1, momentum=0.8)
        assert float((moved - wrong).abs().max() / wrong.abs().max()) > 1e-2


def test_zero_steps_return_the_canvas_unchanged():
    truth, windows, probes, target, _, _ = _problem(False)
    start = torch.ones_like(truth)
    assert refine_canvas(start, windows, probes, target, _ones(1), 0, momentum=0.8) is start


def test_steps_beyond_the_step_sizes_reuse_the_last_one():
    truth, windows, probes, target, _, _ = _problem(True)
    start = torch.ones_like(truth)
    short = refine_canvas(start, windows, probes, target, torch.tensor([0.7, 0.4],
                                                                       dtype=torch.float64),
                          4, momentum=0.5)
    full = refine_canvas(start, windows, probes, target,
                         torch.tensor([0.7, 0.4, 0.4, 0.4], dtype=torch.float64), 4, momentum=0.5)
    torch.testing.assert_close(short, full, rtol=0, atol=0)
    other = refine_canvas(start, windows, probes, target,
                          torch.tensor([0.7, 0.4, 0.9, 0.4], dtype=torch.float64), 4, momentum=0.5)
    assert not torch.allclose(other, full)


def test_groups_refine_independently_in_a_batch():
    truth, windows, probes, target, offsets, _ = _problem(True, groups=2)
    start = torch.ones_like(truth)
    both = refine_canvas(start, windows, probes, target, _ones(1), 3, momentum=0.8)
    for b in range(2):
        alone = group_windows(torch.from_numpy(offsets[b:b + 1]), N, windows.canvas)
        single = refine_canvas(start[b:b + 1], alone, probes[b:b + 1], target[b:b + 1],
                               _ones(1), 3, momentum=0.8)
        torch.testing.assert_close(both[b:b + 1], single, rtol=1e-12, atol=1e-12)


def test_refinement_runs_in_complex64_for_float32_input():
    truth, windows, probes, target, _, _ = _problem(True)
    out = refine_canvas(torch.ones_like(truth).to(torch.complex64), windows,
                        probes.to(torch.complex64), target.float(), _ones(1).float(), 3,
                        momentum=0.8)
    ref = refine_canvas(torch.ones_like(truth), windows, probes, target, _ones(1), 3,
                        momentum=0.8)
    assert out.dtype == torch.complex64
    torch.testing.assert_close(out, ref.to(torch.complex64), rtol=1e-4, atol=1e-4)


def test_step_sizes_and_the_start_receive_gradients_through_three_steps():
    truth, windows, probes, target, _, _ = _problem(True)
    sizes = torch.tensor([1.0, 0.8, 1.2], dtype=torch.float64, requires_grad=True)
    start = (0.9 * truth).detach().requires_grad_(True)
    out = refine_canvas(start, windows, probes, target, sizes, 3, momentum=0.8)
    loss = ((far_field_amplitude(gather_views(out, windows) * probes) - target) ** 2).sum()
    loss.backward()
    assert sizes.grad is not None and torch.isfinite(sizes.grad).all()
    assert bool((sizes.grad != 0).all())
    assert start.grad is not None and float(start.grad.abs().max()) > 0
