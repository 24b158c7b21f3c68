"""The Poisson floor of the loss: what a perfect prediction of every count scores, per split."""

import numpy as np
import pytest
import torch

from ptycho_engine.data.training_data import as_training_data
from ptycho_engine.physics import combined_loss, poisson_nll, poisson_nll_terms
from ptycho_engine.training.datamodule import split_groups
from ptycho_engine.training.loss_floor import loss_floors, pattern_floors, split_floor

from .conftest import tiny_config

EPS = 1e-12


def numpy_pattern_floors(diffraction: np.ndarray, scale: float) -> np.ndarray:
    """Independent reference: mean over pixels of k - k log(k + eps), k = (s * amplitude)^2."""
    counts = (diffraction.astype(np.float64) * scale) ** 2
    return np.mean(counts - counts * np.log(counts + EPS), axis=(-2, -1))


def test_terms_are_the_elements_of_the_nll():
    rng = np.random.default_rng(0)
    pred = torch.from_numpy(rng.random((3, 4, 8, 8)).astype(np.float32) * 5)
    meas = torch.from_numpy(rng.random((3, 4, 8, 8)).astype(np.float32) * 5)
    terms = poisson_nll_terms(pred, meas)
    assert terms.shape == pred.shape
    torch.testing.assert_close(terms.mean(), poisson_nll(pred, meas))


def test_no_prediction_scores_below_the_floor():
    rng = np.random.default_rng(1)
    meas = torch.from_numpy(rng.poisson(20.0, (4, 4, 16, 16)).astype(np.float32)).sqrt()
    floor = poisson_nll(meas, meas)
    for scale in (0.3, 0.9, 1.0 + 1e-3, 2.0):
        noisy = meas * scale + torch.from_numpy(rng.random(meas.shape).astype(np.float32)) * 0.1
        assert poisson_nll(noisy, meas) > floor
        assert combined_loss(noisy, meas, 1.0, 0.5) > floor  # the MAE term only adds


def test_pattern_and_split_floors_match_a_numpy_reference(tiny_scan):
    config = tiny_config(**{"data.gridsize": 2, "data.neighbor_count": 4})
    data = as_training_data(tiny_scan, config)
    per_pattern = pattern_floors(data)
    expected = numpy_pattern_floors(data.diffraction, data.intensity_scale)
    np.testing.assert_allclose(per_pattern, expected, rtol=1e-5, atol=1e-3)
    ids = np.array([3, 0, 3, 5])  # a repeated group counts twice, as in an epoch
    members = data.groups.indices[ids]
    assert split_floor(per_pattern, data, ids, 2.0) == np.float64(
        2.0 * per_pattern[members].mean())
    assert split_floor(per_pattern, data, np.array([], int), 1.0) is None


def test_floors_of_a_hold_out_and_of_a_validation_scan(tiny_scan):
    config = tiny_config()
    data = as_training_data(tiny_scan, config)
    train_ids, val_ids = split_groups(len(data.groups.indices), 0.25, 3)
    per_pattern = numpy_pattern_floors(data.diffraction, data.intensity_scale)
    train, val = loss_floors(data, train_ids, None, val_ids, 1.0)
    np.testing.assert_allclose(train, per_pattern[data.groups.indices[train_ids]].mean(),
                               rtol=1e-6)
    np.testing.assert_allclose(val, per_pattern[data.groups.indices[val_ids]].mean(), rtol=1e-6)
    # a separate validation scan: all of its groups
    _, from_scan = loss_floors(data, train_ids, data, None, 1.0)
    np.testing.assert_allclose(from_scan, per_pattern[data.groups.indices].mean(), rtol=1e-6)
    assert loss_floors(data, train_ids, None, None, 1.0)[1] is None
    assert loss_floors(data, train_ids, None, val_ids, 0.0) is None  # MAE only: floor 0


def test_the_noise_excess_estimate_is_near_the_expected_excess_of_a_perfect_model():
    """A perfect model (λ = the true μ) keeps E[μ - k + k log(k/μ)] above the floor; on a
    simulated scan the noise-free amplitudes give μ, so the estimate can be checked."""
    from scipy.special import xlogy

    from ptycho_engine.simulation import SimulationSpec, simulate_from_spec
    from ptycho_engine.training.loss_floor import LossFloors, floors_and_noise

    spec = dict(N=32, patterns=48, step_px=3.0, photons=1e5, seed=3)
    noisy = simulate_from_spec(SimulationSpec(**spec))
    clean = simulate_from_spec(SimulationSpec(**spec, noise=False))
    counts = noisy.diffraction.astype(np.float64) ** 2
    mu = clean.diffraction.astype(np.float64) ** 2
    realised = np.mean(mu - counts + xlogy(counts, counts) - xlogy(counts, mu))
    config = tiny_config()
    data = as_training_data(noisy, config)
    train_ids, val_ids = split_groups(len(data.groups.indices), 0.25, 3)
    found = floors_and_noise(data, train_ids, None, val_ids, 1.0)
    assert isinstance(found, LossFloors)
    assert found.pair == loss_floors(data, train_ids, None, val_ids, 1.0)
    for noise in (found.train_noise, found.validation_noise):
        assert noise == pytest.approx(realised, rel=0.3)
    assert floors_and_noise(data, train_ids, None, val_ids, 0.0) is None
    half = floors_and_noise(data, train_ids, None, val_ids, 0.5)
    assert half.train_noise == pytest.approx(0.5 * found.train_noise)
