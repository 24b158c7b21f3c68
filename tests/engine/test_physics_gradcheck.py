"""Gradients of the physics against finite differences (float64, tiny sizes)."""

import numpy as np
import torch
from torch.autograd import gradcheck

from ptycho_engine.physics import (
    amplitude_mae,
    canvas_size,
    forward_amplitude,
    gather_views,
    group_windows,
    member_probes,
    merge_patches,
    overlap_weight,
    poisson_nll,
    refine_canvas,
    scatter_sum,
    shift_probe,
)

N, C = 8, 4


def _complex(rng, shape):
    values = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    return torch.from_numpy(values).requires_grad_(True)


def _windows(rng, B=1):
    """Fractional offsets: whole parts place the windows, rests move the probe."""
    offsets = torch.from_numpy(rng.uniform(-3, 3, size=(B, C, 2)))
    return group_windows(offsets, N, canvas_size(N, 3))


def test_gather_and_scatter_gradients():
    rng = np.random.default_rng(1)
    windows = _windows(rng)
    canvas = _complex(rng, (1, windows.canvas, windows.canvas))
    patches = _complex(rng, (1, C, N, N))
    assert gradcheck(lambda c: gather_views(c, windows), (canvas,), eps=1e-6, atol=1e-6,
                     fast_mode=True)
    assert gradcheck(lambda p: scatter_sum(p, windows), (patches,), eps=1e-6, atol=1e-6,
                     fast_mode=True)


def test_merge_gradients():
    rng = np.random.default_rng(2)
    windows = _windows(rng)
    weight = overlap_weight(N, 1e-3, dtype=torch.float64)
    patches = _complex(rng, (1, C, N, N))
    single = _complex(rng, (1, 1, N, N))
    assert gradcheck(lambda p: merge_patches(p, windows, weight), (patches,), eps=1e-6,
                     atol=1e-6, fast_mode=True)
    assert gradcheck(lambda p: merge_patches(p, windows, weight, object_big=False), (single,),
                     eps=1e-6, atol=1e-6, fast_mode=True)


def test_shift_probe_gradients_wrt_probe_and_shifts():
    rng = np.random.default_rng(3)
    probe = _complex(rng, (N, N))
    shifts = torch.from_numpy(rng.uniform(-0.5, 0.5, (3, 2))).requires_grad_(True)
    assert gradcheck(shift_probe, (probe, shifts), eps=1e-6, atol=1e-6)


def test_forward_amplitude_gradients():
    rng = np.random.default_rng(4)
    windows = _windows(rng)
    canvas = _complex(rng, (1, windows.canvas, windows.canvas))
    probe = _complex(rng, (N, N))

    def model(c, p):
        return forward_amplitude(c, windows, member_probes(p, windows))

    assert gradcheck(model, (canvas, probe), eps=1e-6, atol=1e-5)


def test_refinement_step_gradients():
    rng = np.random.default_rng(5)
    windows = _windows(rng)
    probes = member_probes(_complex(rng, (N, N)).detach(), windows)
    truth = torch.from_numpy(rng.uniform(0.5, 1.0, (1, windows.canvas, windows.canvas))
                             * np.exp(1j * rng.uniform(-1, 1, (1, windows.canvas,
                                                               windows.canvas))))
    target = forward_amplitude(truth, windows, probes).detach()
    start = (truth * 0.8 + 0.1).detach().requires_grad_(True)
    sizes = torch.tensor([0.9, 1.1], dtype=torch.float64, requires_grad=True)

    def refined(c, a):
        return refine_canvas(c, windows, probes, target, a, 2, momentum=0.8)

    assert gradcheck(refined, (start, sizes), eps=1e-6, atol=1e-5, fast_mode=True)


def test_loss_gradients():
    rng = np.random.default_rng(3)
    pred = torch.from_numpy(rng.uniform(0.5, 3.0, (2, 3, 4))).requires_grad_(True)
    meas = torch.from_numpy(rng.uniform(0.5, 3.0, (2, 3, 4)))
    assert gradcheck(lambda p: poisson_nll(p, meas), (pred,), eps=1e-6, atol=1e-6)
    # Measurements at least 0.3 away from the prediction: MAE has a kink at equality.
    gap = rng.uniform(0.3, 0.6, (2, 3, 4)) * rng.choice([-1.0, 1.0], size=(2, 3, 4))
    far = pred.detach() + torch.from_numpy(gap)
    assert gradcheck(lambda p: amplitude_mae(p, far), (pred,), eps=1e-6, atol=1e-6)
