"""Amplitude losses against numpy formulas and the Poisson likelihood's optimum."""

import numpy as np
import pytest
import torch

from ptycho_engine.physics import amplitude_mae, combined_loss, poisson_nll


def _amplitudes(seed, shape=(2, 4, 8, 8)):
    rng = np.random.default_rng(seed)
    pred = rng.uniform(0.1, 30.0, size=shape)
    meas = np.sqrt(rng.poisson(pred ** 2)).astype(float)
    return pred, meas


def test_poisson_nll_matches_numpy():
    pred, meas = _amplitudes(0)
    lam, k = pred ** 2, meas ** 2
    expected = np.mean(lam - k * np.log(lam + 1e-12))
    value = poisson_nll(torch.from_numpy(pred), torch.from_numpy(meas))
    assert value.dtype == torch.float64 and value.ndim == 0
    assert value.item() == pytest.approx(expected, rel=1e-12)


def test_poisson_nll_differs_from_the_full_likelihood_by_a_constant():
    from scipy.special import gammaln

    pred, meas = _amplitudes(1)
    full = np.mean(-((meas ** 2) * np.log(pred ** 2) - pred ** 2 - gammaln(meas ** 2 + 1)))
    ours = poisson_nll(torch.from_numpy(pred), torch.from_numpy(meas)).item()
    assert ours - full == pytest.approx(-np.mean(gammaln(meas ** 2 + 1)), rel=1e-10)


def test_poisson_nll_is_stationary_at_the_measurement():
    _, meas = _amplitudes(2)
    meas = np.maximum(meas, 1.0)  # k > 0 everywhere
    pred = torch.from_numpy(meas.copy()).requires_grad_(True)
    poisson_nll(pred, torch.from_numpy(meas)).backward()
    assert pred.grad.abs().max().item() < 1e-12
    above = torch.from_numpy(meas * 1.1).requires_grad_(True)
    poisson_nll(above, torch.from_numpy(meas)).backward()
    assert (above.grad > 0).all()


def test_poisson_nll_is_finite_for_a_zero_prediction():
    value = poisson_nll(torch.zeros(4), torch.full((4,), 3.0))
    assert torch.isfinite(value)


def test_amplitude_mae_matches_numpy():
    pred, meas = _amplitudes(3)
    value = amplitude_mae(torch.from_numpy(pred), torch.from_numpy(meas))
    assert value.item() == pytest.approx(np.mean(np.abs(pred - meas)), rel=1e-12)


def test_combined_loss_weights_and_skips_terms():
    pred, meas = _amplitudes(4)
    p, m = torch.from_numpy(pred), torch.from_numpy(meas)
    both = combined_loss(p, m, 0.7, 0.3)
    torch.testing.assert_close(both, 0.7 * poisson_nll(p, m) + 0.3 * amplitude_mae(p, m))
    torch.testing.assert_close(combined_loss(p, m, 1.0, 0.0), poisson_nll(p, m))
    torch.testing.assert_close(combined_loss(p, m, 0.0, 1.0), amplitude_mae(p, m))
    with pytest.raises(ValueError, match="both 0"):
        combined_loss(p, m, 0.0, 0.0)


def test_half_precision_inputs_are_reduced_in_float32():
    pred, meas = _amplitudes(5)
    p16 = torch.from_numpy(pred).to(torch.bfloat16)
    m16 = torch.from_numpy(meas).to(torch.bfloat16)
    value = poisson_nll(p16, m16)
    assert value.dtype == torch.float32
    reference = poisson_nll(p16.double(), m16.double()).item()
    assert value.item() == pytest.approx(reference, rel=1e-5)
