"""Gradients of the physics against finite differences (float64, tiny sizes)."""

import numpy as np
import torch
from torch.autograd import gradcheck

from ptycho_engine.physics import (
    amplitude_mae,
    canvas_size,
    extract_patches,
    forward_amplitude,
    merge_patches,
    overlap_weight,
    poisson_nll,
    translate,
)

N, C = 8, 4


def _complex(rng, shape):
    values = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    return torch.from_numpy(values).requires_grad_(True)


def _offsets(rng, B):
    # Fractional parts kept away from 0 and 1: bilinear weights have kinks at integers.
    whole = rng.integers(-2, 2, size=(B, C, 2))
    return torch.from_numpy(whole + rng.uniform(0.2, 0.8, size=(B, C, 2)))


def test_translate_gradients_wrt_images_and_shifts():
    rng = np.random.default_rng(0)
    images = _complex(rng, (2, N, N))
    shifts = torch.from_numpy(rng.uniform(0.2, 0.8, (2, 2)) + [[1, -2], [-1, 0]])
    shifts.requires_grad_(True)
    assert gradcheck(translate, (images, shifts), eps=1e-6, atol=1e-6)


def test_merge_and_extract_gradients():
    rng = np.random.default_rng(1)
    patches = _complex(rng, (1, C, N, N))
    offsets = _offsets(rng, 1)
    M = canvas_size(N, 3)
    weight = overlap_weight(N, 1e-3, dtype=torch.float64)
    assert gradcheck(lambda p: merge_patches(p, offsets, M, weight), (patches,), eps=1e-6,
                     atol=1e-6, fast_mode=True)
    offsets.requires_grad_(True)
    assert gradcheck(lambda o: merge_patches(patches.detach(), o, M, weight), (offsets,),
                     eps=1e-6, atol=1e-6)
    canvas = _complex(rng, (1, M, M))
    assert gradcheck(lambda c, o: extract_patches(c, o, N), (canvas, offsets), eps=1e-6,
                     atol=1e-6, fast_mode=True)


def test_forward_amplitude_gradients():
    rng = np.random.default_rng(2)
    patches = _complex(rng, (1, C, N, N))
    single = _complex(rng, (1, 1, N, N))
    offsets = _offsets(rng, 1)
    probe = _complex(rng, (N, N)).detach()
    M = canvas_size(N, 3)
    weight = overlap_weight(N, 1e-3, dtype=torch.float64)

    def model(object_big):
        return lambda p: forward_amplitude(p, offsets, probe, object_big=object_big, canvas=M,
                                           weight=weight, probe_mask=None)

    assert gradcheck(model(True), (patches,), eps=1e-6, atol=1e-5)
    assert gradcheck(model(False), (single,), eps=1e-6, atol=1e-5, fast_mode=True)


def test_loss_gradients():
    rng = np.random.default_rng(3)
    pred = torch.from_numpy(rng.uniform(0.5, 3.0, (2, 3, 4))).requires_grad_(True)
    meas = torch.from_numpy(rng.uniform(0.5, 3.0, (2, 3, 4)))
    assert gradcheck(lambda p: poisson_nll(p, meas), (pred,), eps=1e-6, atol=1e-6)
    # Measurements at least 0.3 away from the prediction: MAE has a kink at equality.
    gap = rng.uniform(0.3, 0.6, (2, 3, 4)) * rng.choice([-1.0, 1.0], size=(2, 3, 4))
    far = pred.detach() + torch.from_numpy(gap)
    assert gradcheck(lambda p: amplitude_mae(p, far), (pred,), eps=1e-6, atol=1e-6)
