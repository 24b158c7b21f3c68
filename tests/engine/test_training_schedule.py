"""The learning-rate decay over the training budget and the intensity-scale calibration."""

import json
import math
import time
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from ptycho_engine.api import TrainingObserver
from ptycho_engine.core.config import to_dict
from ptycho_engine.data.training_data import as_training_data
from ptycho_engine.model.pinn import PtychoPINN
from ptycho_engine.training.callbacks import BudgetDecay, StopControl, cosine_decay_factor
from ptycho_engine.training.fit import train

from .conftest import tiny_config
from .test_training import Recorder


def reference_factor(progress, fraction, floor):
    """Written out independently: constant, then half a cosine period down to ``floor``."""
    start = 1 - fraction
    if progress <= start:
        return 1.0
    t = min(progress - start, fraction) / fraction
    return floor + (1 - floor) * (1 + np.cos(np.pi * t)) / 2


@pytest.mark.parametrize("fraction", [0.1, 0.3, 0.5, 0.9])
def test_decay_factor_matches_reference(fraction):
    rng = np.random.default_rng(3)
    for progress in rng.uniform(0, 1.2, 50):
        assert cosine_decay_factor(progress, fraction, 0.05) == pytest.approx(
            reference_factor(progress, fraction, 0.05), abs=1e-12)
    assert cosine_decay_factor(1 - fraction, fraction, 0.05) == 1.0
    assert cosine_decay_factor(1.0, fraction, 0.05) == pytest.approx(0.05)
    assert cosine_decay_factor(0.99, 0.0, 0.05) == 1.0  # 0 switches the decay off


def test_training_decays_over_the_last_epochs_and_checkpoints_the_plain_rate(tiny_scan,
                                                                            tmp_path):
    lr, floor_lr, fraction, epochs = 1e-3, 1e-4, 0.5, 4
    observer = Recorder()
    config = tiny_config(**{"training.epochs": epochs, "training.learning_rate": lr,
                            "training.min_learning_rate": floor_lr,
                            "training.lr_decay_fraction": fraction,
                            "training.lr_patience": 1000})
    result = train(tiny_scan, config, observer=observer, run_dir=tmp_path / "run")
    batches = observer.events[0][2]
    assert batches > 1
    for record in result.history:  # the history keeps the rate of the epoch's last batch
        progress = (record.epoch - 1 + (batches - 1) / batches) / epochs
        expected = lr * reference_factor(progress, fraction, floor_lr / lr)
        assert record.lr == pytest.approx(expected, rel=1e-6), record
    assert result.history[0].lr == lr and result.history[-1].lr < 0.2 * lr
    assert all(math.isfinite(r.train_loss) for r in result.history)
    # the checkpoint holds the un-decayed rate, so a resumed run decays from the right level
    checkpoint = torch.load(result.last_checkpoint, map_location="cpu", weights_only=True)
    assert checkpoint["optimizer_states"][0]["param_groups"][0]["lr"] == pytest.approx(lr)


def test_time_budget_drives_the_decay_when_it_runs_out_first():
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.Adam([parameter], lr=2e-3)
    trainer = SimpleNamespace(optimizers=[optimizer], num_training_batches=10, current_epoch=0,
                              max_epochs=1000,
                              strategy=SimpleNamespace(broadcast=lambda value, src: value))
    stop = StopControl(None, time_limit_s=100.0)
    stop.started = time.monotonic() - 80.0  # 80 % of the time budget spent, 0.1 % of epochs
    decay = BudgetDecay(stop, decay_fraction=0.4, min_learning_rate=1e-4)
    decay.on_train_epoch_start(trainer, None)
    expected = 2e-3 * reference_factor(0.8, 0.4, 0.05)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(expected, rel=1e-3)
    decay.on_train_batch_start(trainer, None, None, 5)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(expected, rel=1e-3)
    decay.on_train_epoch_end(trainer, None)  # the plateau scheduler sees the plain rate
    assert optimizer.param_groups[0]["lr"] == 2e-3
    optimizer.param_groups[0]["lr"] = 1e-3  # ... and may halve it; the decay follows
    decay.on_train_epoch_start(trainer, None)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(
        1e-3 * reference_factor(0.8, 0.4, 0.1), rel=1e-3)


def test_calibrated_scale_makes_the_untrained_prediction_match_the_mean_count(tiny_scan):
    config = tiny_config(**{"data.gridsize": 2, "data.neighbor_count": 6})
    data = as_training_data(tiny_scan, config)
    torch.manual_seed(0)
    module = PtychoPINN(to_dict(config), data.intensity_scale, canvas=48, probe=data.probe)
    ids = np.arange(0, data.groups.indices.shape[0], 3)
    diffraction = torch.from_numpy(data.diffraction[data.groups.indices[ids]])
    offsets = torch.from_numpy(data.groups.relative_offsets[ids].astype(np.float32))
    with torch.no_grad():
        # calibrated on the network's own prediction, without the physics refinement
        before = module.predicted_amplitude(diffraction, offsets, refine_steps=0).numpy()
        before = before.astype(np.float64)
    counts = (diffraction.numpy().astype(np.float64) * data.intensity_scale) ** 2
    ratio = counts.mean() / (before**2).mean()
    log_scale = float(module.log_scale.detach())
    factor = module.calibrate_intensity_scale(diffraction, offsets)
    assert factor == pytest.approx(math.sqrt(ratio), rel=1e-4)
    expected_log_scale = log_scale + 0.5 * math.log(ratio)
    assert float(module.log_scale.detach()) == pytest.approx(expected_log_scale, abs=1e-5)
    with torch.no_grad():
        after = module.predicted_amplitude(diffraction, offsets, refine_steps=0).numpy()
        after = after.astype(np.float64)
    # the network sees its input divided by the new scale too, so compare means directly
    assert (after**2).mean() == pytest.approx(counts.mean(), rel=0.05)
    assert module.log_scale.requires_grad


def test_training_starts_from_the_calibrated_scale_but_a_fixed_scale_stays(tiny_scan,
                                                                            tmp_path):
    fixed = train(tiny_scan, tiny_config(**{"training.epochs": 1,
                                           "model.intensity_scale_trainable": False}),
                  run_dir=tmp_path / "fixed")
    assert fixed.intensity_scale == pytest.approx(fixed.data.intensity_scale, rel=1e-6)
    trained = train(tiny_scan, tiny_config(**{"training.epochs": 1,
                                             "training.learning_rate": 1e-9}),
                    run_dir=tmp_path / "trainable")
    # with a negligible learning rate the scale is still where the calibration put it
    assert trained.intensity_scale != pytest.approx(trained.data.intensity_scale, rel=1e-3)


def fake_trainer(optimizer, current_epoch=0, max_epochs=10_000, batches=10):
    return SimpleNamespace(optimizers=[optimizer], num_training_batches=batches,
                           current_epoch=current_epoch, max_epochs=max_epochs,
                           strategy=SimpleNamespace(broadcast=lambda value, src: value))


def test_with_a_huge_epoch_cap_the_decay_starts_at_its_share_of_the_time_limit():
    """The default budget: a 10,000-epoch cap that a small scan never reaches, so the time
    limit alone times the decay; within an epoch it advances at the last epoch's pace."""
    lr = 2e-3
    optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    trainer = fake_trainer(optimizer, current_epoch=40)
    stop = StopControl(None, time_limit_s=100.0)
    decay = BudgetDecay(stop, decay_fraction=0.3, min_learning_rate=1e-4)
    for spent, expected_progress in ((69.0, 0.69), (75.0, 0.75)):
        stop.started = time.monotonic() - spent
        decay._last_start = None  # no previous epoch: no pace within the epoch yet
        decay.on_train_epoch_start(trainer, None)
        assert optimizer.param_groups[0]["lr"] == pytest.approx(
            lr * reference_factor(expected_progress, 0.3, 0.05), rel=1e-3)
        decay.on_train_epoch_end(trainer, None)
    assert reference_factor(0.69, 0.3, 0.05) == 1.0  # not yet: decay starts at 70 %
    # an epoch of 10 s (10 % of the budget) that starts at 65 %: the decay begins within it
    stop.started = time.monotonic() - 65.0
    decay._last_start = time.monotonic() - 10.0
    decay.on_train_epoch_start(trainer, None)
    assert decay.epoch_time_fraction == pytest.approx(0.1, rel=1e-3)
    assert optimizer.param_groups[0]["lr"] == lr
    decay.on_train_batch_start(trainer, None, None, 9)  # 90 % through: 0.65 + 0.09
    assert optimizer.param_groups[0]["lr"] == pytest.approx(
        lr * reference_factor(0.74, 0.3, 0.05), rel=1e-3)


class BudgetRecorder(TrainingObserver):
    def __init__(self):
        self.start = None

    def run_started(self, start):
        self.start = start


def test_the_time_limit_ends_a_run_long_before_a_huge_epoch_cap(tiny_scan, tmp_path):
    lr = 1e-3
    observer = BudgetRecorder()
    config = tiny_config(**{"training.epochs": 10_000, "training.time_limit_min": 0.12,
                            "training.learning_rate": lr, "training.lr_patience": 1000})
    result = train(tiny_scan, config, observer=observer, run_dir=tmp_path / "run")
    assert result.status == "time_limit"
    assert 1 <= len(result.history) < 100
    start = observer.start
    assert (start.epochs, start.time_limit_s, start.epochs_done) == (10_000,
                                                                     pytest.approx(7.2), 0)
    info = json.loads((result.run_dir / "run.json").read_text())
    assert info["status"] == "time_limit"
    assert info["budget"] == {"time_limit_s": pytest.approx(7.2), "epoch_cap": 10_000}
    assert info["convergence"] == result.convergence.to_dict()
    assert result.history[0].lr == lr  # the full rate first ...
    if len(result.history) >= 2:  # ... annealed by the end of the budget
        assert result.history[-1].lr < lr
