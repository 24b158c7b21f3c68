"""Real Lightning training on tiny data: it runs, learns, reports, stops, resumes."""

import json
import math
import threading

import numpy as np
import pytest
import torch

from ptycho_engine.api import CancelToken, TrainingObserver
from ptycho_engine.core.errors import ConfigError, TrainingError
from ptycho_engine.model.checkpoint import load_checkpoint
from ptycho_engine.reconstruction.inference import reconstruct
from ptycho_engine.training.fit import train

from .conftest import tiny_config


class Recorder(TrainingObserver):
    def __init__(self, cancel_after_batches=None):
        self.events = []
        self.records = []
        self.previews = []
        self.thread_ids = set()

    def training_started(self, total_epochs, batches_per_epoch, device):
        self.events.append(("started", total_epochs, batches_per_epoch, device))

    def loss_floor(self, train, validation):
        self.events.append(("floor", train, validation))

    def epoch_finished(self, record):
        self.events.append(("epoch", record.epoch))
        self.records.append(record)
        self.thread_ids.add(threading.get_ident())

    def preview(self, epoch, amplitude, phase):
        self.events.append(("preview", epoch))
        self.previews.append((amplitude, phase))

    def finished(self, status, summary):
        self.events.append(("finished", status))

    def failed(self, message):
        self.events.append(("failed", message))


def test_training_runs_learns_and_reports(tiny_scan, tmp_path):
    observer = Recorder()
    result = train(tiny_scan, tiny_config(**{"training.epochs": 4}), observer=observer,
                   run_dir=tmp_path / "run")
    assert result.status == "finished"
    assert [r.epoch for r in result.history] == [1, 2, 3, 4]
    losses = [r.train_loss for r in result.history]
    assert all(math.isfinite(v) for v in losses)
    assert losses[-1] < losses[0], losses
    assert all(r.val_loss is not None and r.patterns_per_second > 0 for r in result.history)
    assert observer.events[0][0] == "started" and observer.events[0][1] == 4
    # the data's Poisson floor comes next; every epoch's loss lies above it
    kind, train_floor, val_floor = observer.events[1]
    assert kind == "floor" and train_floor < 0 and val_floor < 0
    assert all(r.train_loss > train_floor and r.val_loss > val_floor for r in result.history)
    recorded = json.loads((result.run_dir / "run.json").read_text())["loss_floor"]
    assert (recorded["train"], recorded["validation"]) == (train_floor, val_floor)
    assert observer.events[-1] == ("finished", "finished")
    assert [e for e in observer.events if e[0] == "epoch"] == [("epoch", k) for k in range(1, 5)]
    amplitude, phase = observer.previews[-1]
    assert amplitude.dtype == np.float32 and amplitude.ndim == 2 and amplitude.std() > 0
    assert np.all(np.abs(phase) <= np.pi + 1e-6)
    run = result.run_dir
    for name in ("config.toml", "history.csv", "run.json", "checkpoints/last.ckpt",
                 "checkpoints/best.ckpt"):
        assert (run / name).is_file(), name
    history_rows = (run / "history.csv").read_text().strip().splitlines()
    assert len(history_rows) == 1 + 4


def test_checkpoint_rebuilds_the_same_model(tiny_scan, tmp_path):
    result = train(tiny_scan, tiny_config(), run_dir=tmp_path / "run")
    reloaded = load_checkpoint(result.last_checkpoint)
    x = torch.rand(3, 1, 32, 32)
    assert torch.equal(result.module(x), reloaded(x))
    assert reloaded.trained_intensity_scale == pytest.approx(result.intensity_scale)


def test_training_with_gridsize_two(tiny_scan, tmp_path):
    result = train(tiny_scan, tiny_config(**{"data.gridsize": 2}), run_dir=tmp_path / "run")
    assert result.status == "finished" and len(result.history) == 2
    recon = reconstruct(result.module, tiny_scan)
    assert np.isfinite(recon.object).all() and (recon.weight > 0).mean() > 0.5


def test_cancel_stops_within_one_batch_and_keeps_checkpoint(tiny_scan, tmp_path):
    cancel = CancelToken()

    class CancelInSecondEpoch(Recorder):
        def epoch_finished(self, record):
            super().epoch_finished(record)
            cancel.cancel()

    observer = CancelInSecondEpoch()
    result = train(tiny_scan, tiny_config(**{"training.epochs": 50}), observer=observer,
                   cancel=cancel, run_dir=tmp_path / "run")
    assert result.status == "cancelled"
    assert [r.epoch for r in result.history] == [1]
    assert ("finished", "cancelled") in observer.events
    checkpoint = torch.load(result.last_checkpoint, map_location="cpu", weights_only=True)
    assert checkpoint["epoch"] == 0  # the last FULL epoch (0-based), not the cut one


def test_resume_continues_without_gap_or_duplicate(tiny_scan, tmp_path):
    run = tmp_path / "run"
    cancel = CancelToken()

    class CancelAfterTwo(Recorder):
        def epoch_finished(self, record):
            super().epoch_finished(record)
            if record.epoch == 2:
                cancel.cancel()

    first = train(tiny_scan, tiny_config(**{"training.epochs": 4}), observer=CancelAfterTwo(),
                  cancel=cancel, run_dir=run)
    assert [r.epoch for r in first.history] == [1, 2]
    second = train(tiny_scan, None, resume_from=run, run_dir=run)
    assert second.status == "finished"
    assert [r.epoch for r in second.history] == [1, 2, 3, 4]
    rows = (run / "history.csv").read_text().strip().splitlines()[1:]
    assert [int(row.split(",")[0]) for row in rows] == [1, 2, 3, 4]


def test_time_limit_stops_cleanly(tiny_scan, tmp_path):
    result = train(tiny_scan, tiny_config(**{"training.epochs": 1000}), time_limit_s=1e-3,
                   run_dir=tmp_path / "run")
    assert result.status == "time_limit"
    assert result.history == []
    # the override is recorded in the run's config, so a resumed run keeps its budget
    assert result.config.training.time_limit_min == pytest.approx(1e-3 / 60)
    assert result.run_folder.read_config().training.time_limit_min == pytest.approx(1e-3 / 60)


def test_nan_loss_is_a_clear_error(tiny_scan, tmp_path, monkeypatch):
    import ptycho_engine.model.system as module_code

    real_loss = module_code.combined_loss

    def poisoned_loss(predicted, measured, nll_weight, mae_weight):
        return real_loss(predicted, measured, nll_weight, mae_weight) * float("nan")

    monkeypatch.setattr(module_code, "combined_loss", poisoned_loss)
    observer = Recorder()
    with pytest.raises(TrainingError, match="learning_rate"):
        train(tiny_scan, tiny_config(), observer=observer, run_dir=tmp_path / "run")
    assert observer.events[-1][0] == "failed"
    assert not (tmp_path / "run" / "checkpoints" / "last.ckpt").exists()


def test_scan_with_wrong_N_is_a_config_error(tiny_scan, tmp_path):
    with pytest.raises(ConfigError, match="data.N"):
        train(tiny_scan, tiny_config(**{"data.N": 64}), run_dir=tmp_path / "run")


def test_two_trainings_in_one_process_do_not_share_state(tiny_scan, tmp_path):
    a = train(tiny_scan, tiny_config(**{"training.epochs": 1}), run_dir=tmp_path / "a")
    b = train(tiny_scan, tiny_config(**{"training.epochs": 1, "model.probe_scale": 8.0}),
              run_dir=tmp_path / "b")
    assert not torch.allclose(a.module.probe, b.module.probe)
    assert a.module.config.model.probe_scale == 4.0


def test_previews_are_made_only_for_observers_that_show_them(tiny_scan, tmp_path, monkeypatch):
    import ptycho_engine.training.previews as training_code

    stitched = []
    real_stitch = training_code.stitch_groups

    def counting_stitch(*args, **kwargs):
        stitched.append(1)
        return real_stitch(*args, **kwargs)

    monkeypatch.setattr(training_code, "stitch_groups", counting_stitch)
    config = tiny_config(**{"training.epochs": 2})
    assert not TrainingObserver().wants_previews() and Recorder().wants_previews()
    train(tiny_scan, config, observer=TrainingObserver(), run_dir=tmp_path / "quiet")
    assert stitched == []
    observer = Recorder()
    train(tiny_scan, config, observer=observer, run_dir=tmp_path / "watched")
    assert len(stitched) == 2 and len(observer.previews) == 2
