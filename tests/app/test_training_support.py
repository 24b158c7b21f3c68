"""Pieces behind the dashboard and the run list that need no window: the loss axis, the
plots' throttle, run folders, and the one rule for stale previews."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np

from app.runs import list_runs, new_run_dir, read_run, train_losses
from app.widgets.loss_scale import loss_curves
from app.widgets.training_plots import TrainingPlots
from app.workers import Newest, Preview
from ptycho_engine import EpochRecord


def test_negative_losses_become_excess_over_the_lowest_plus_delta():
    rng = np.random.default_rng(3)
    train = -500.0 - np.cumsum(rng.random(8) * 5)
    val = train + rng.normal(0, 1, 8)
    val[2] = np.nan  # an epoch without validation
    curves = loss_curves(train, val)
    lowest = np.nanmin(np.concatenate([train, val]))
    spread = np.nanmax(np.concatenate([train, val])) - lowest
    np.testing.assert_allclose(curves.train, train - lowest + 1e-2 * spread)
    np.testing.assert_allclose(curves.val[[0, 1, 3]], val[[0, 1, 3]] - lowest + 1e-2 * spread)
    assert np.isnan(curves.val[2])
    finite = np.concatenate([curves.train, curves.val[np.isfinite(curves.val)]])
    assert finite.min() > 0  # every point fits on a log axis
    # the note under the plot lets a reader recover each loss: drawn - delta + lowest
    assert "lowest" in curves.label and "δ" in curves.label
    assert f"{lowest:.6g}" in curves.describe() and f"{curves.delta:.2g}" in curves.describe()
    np.testing.assert_allclose(curves.train - curves.delta + curves.baseline, train)


def test_with_the_engines_floor_each_curve_is_drawn_above_its_own_floor():
    rng = np.random.default_rng(5)
    train = -900.0 + np.sort(rng.random(6))[::-1] * 40 + 0.5
    val = -880.0 + np.sort(rng.random(6))[::-1] * 40 + 0.5
    val[1] = np.nan
    curves = loss_curves(train, val, (-900.0, -880.0))
    np.testing.assert_allclose(curves.train, train + 900.0)
    np.testing.assert_allclose(curves.val[[0, 2, 3, 4, 5]], val[[0, 2, 3, 4, 5]] + 880.0)
    assert np.isnan(curves.val[1])
    assert curves.label == "loss − floor (log scale)"
    assert "-900" in curves.describe() and "-880" in curves.describe()
    # the newest point is not forced to the bottom of the axis (no plunge)
    assert curves.train[-1] > 0.4
    # no validation set: one floor serves; a loss at or below its floor (not possible
    # from the engine) falls back to the lowest-loss drawing rather than a log of <= 0
    assert loss_curves(train, np.full(6, np.nan), (-900.0, None)).floor == (-900.0, -900.0)
    fallback = loss_curves(train, val, (-800.0, -880.0))
    assert fallback.floor is None and fallback.baseline is not None


def test_positive_losses_are_drawn_as_they_are():
    train = np.array([3.0, 2.0, 1.5])
    curves = loss_curves(train, np.array([np.nan, np.nan, np.nan]))
    np.testing.assert_array_equal(curves.train, train)
    assert curves.baseline is None and curves.label == "loss (log scale)"
    single = loss_curves(np.array([-4.0]), np.array([np.nan]))
    assert single.train[0] > 0  # one negative value: a tiny positive offset, not zero


def test_plots_redraw_at_most_once_per_interval(qtbot):
    plots = TrainingPlots()
    plots.redraw()  # the initial, empty draw
    before = plots.redraws
    for epoch in range(1, 51):  # 50 epochs arriving in one burst
        plots.add_epoch(EpochRecord(epoch=epoch, train_loss=-100.0 - epoch, val_loss=None,
                                    lr=1e-3, seconds=0.1, patterns_per_second=10.0))
    assert plots.redraws == before  # nothing drawn synchronously
    qtbot.waitUntil(lambda: plots.redraws == before + 1, timeout=2000)
    qtbot.wait(250)
    assert plots.redraws == before + 1  # one redraw for the whole burst
    data = plots.curve_data()
    np.testing.assert_array_equal(data["epochs"], np.arange(1, 51))
    assert data["val"].size == 0  # no validation values: no validation curve
    np.testing.assert_allclose(data["lr"], 1e-3)


def test_the_newest_preview_is_held_and_older_ones_are_dropped():
    previews = Newest()
    images = {epoch: Preview(epoch, np.full((4, 4), epoch, np.complex64))
              for epoch in range(1, 6)}
    assert previews.take() is None
    assert previews.offer(1, images[1]) and previews.offer(3, images[3])  # 1 never taken
    assert not previews.offer(2, images[2])  # older than the one held: stale
    assert previews.take() is images[3] and previews.take() is None
    assert not previews.offer(3, images[3])  # already taken (drawn): not again
    assert previews.offer(5, images[5]) and not previews.offer(4, images[4])
    assert previews.take() is images[5]
    assert previews.dropped == 4  # 1 replaced; 2, 3 again and 4 stale
    previews.reset()  # a new run numbers its epochs from 1 again
    assert previews.offer(1, images[1]) and previews.take() is images[1]


def test_a_preview_is_made_once_from_the_engines_amplitude_and_phase():
    amplitude = np.array([[0.0, 2.0], [1.0, 0.5]], np.float32)
    phase = np.array([[1.0, np.pi / 2], [0.0, -np.pi / 2]], np.float32)
    preview = Preview.from_engine(np.int64(7), amplitude, phase)
    assert type(preview.epoch) is int and preview.epoch == 7
    assert preview.image.dtype == np.complex64 and preview.image.shape == (2, 2)
    assert np.isnan(preview.image[0, 0])  # nothing stitched there: drawn transparent
    np.testing.assert_allclose(preview.image[[0, 1, 1], [1, 0, 1]], [2j, 1.0, -0.5j],
                               atol=1e-6)


def write_run(folder: Path, info: dict | None, epochs: int, checkpoint: bool) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.toml").write_text("[training]\nepochs = 5\n")
    if info is not None:
        (folder / "run.json").write_text(json.dumps(info))
    rows = "".join(f"{e},{-10.0 - e},,0.001,1.0,50.0\n" for e in range(1, epochs + 1))
    (folder / "history.csv").write_text("epoch,train_loss,val_loss,lr,seconds,"
                                        f"patterns_per_second\n{rows}")
    if checkpoint:
        (folder / "checkpoints").mkdir()
        (folder / "checkpoints" / "last.ckpt").write_bytes(b"weights")
    return folder


def test_run_folders_are_listed_newest_first_with_their_state(tmp_path: Path):
    root = tmp_path / "runs"
    finished = write_run(root / "a-1", {"status": "finished", "epochs": 3,
                                        "final_train_loss": -13.0, "final_val_loss": None,
                                        "started": "2026-01-02T10:00:00+00:00",
                                        "source": "/data/a.npz"}, 3, True)
    crashed = write_run(root / "b-1", {"status": "running",
                                       "started": "2026-01-03T10:00:00+00:00"}, 2, True)
    write_run(root / "c-1", None, 0, False)  # only a config: unknown, nothing to resume
    (root / "not-a-run").mkdir()
    records = list_runs(root)
    assert [r.name for r in records] == ["b-1", "a-1", "c-1"]
    b, a, c = records
    assert (a.status, a.epochs, a.final_train_loss, a.final_val_loss, a.source) == (
        "finished", 3, -13.0, None, "a.npz")
    assert a.can_resume and "epochs = 5" in a.config_text
    assert (b.status, b.epochs) == ("incomplete", 2)  # never recorded an end
    assert read_run(crashed, active=crashed).status == "running"
    assert not read_run(crashed, active=crashed).can_resume
    assert (c.status, c.can_resume, c.has_checkpoint) == ("unknown", False, False)
    assert train_losses(finished) == (-11.0, -12.0, -13.0)
    assert list_runs(tmp_path / "missing") == []


def test_new_run_folders_are_named_after_the_scan_and_never_reused(tmp_path: Path):
    when = datetime(2026, 3, 4, 5, 6, 7)
    first = new_run_dir(tmp_path, "my scan/1", when)
    assert first.name == "my_scan_1-20260304-050607"
    first.mkdir()
    assert new_run_dir(tmp_path, "my scan/1", when).name == "my_scan_1-20260304-050607-2"


def test_a_running_training_disables_train_and_models_are_signalled(qtbot, tiny_scan_file):
    from app.session import ModelEntry, Session
    from ptycho_engine import load_scan, summarize_scan

    session = Session()
    allowed, running, models = [], [], []
    session.trainingAllowedChanged.connect(allowed.append)
    session.trainingRunningChanged.connect(running.append)
    session.modelChanged.connect(models.append)
    scan = load_scan(tiny_scan_file)
    session.add_scan(tiny_scan_file, scan, summarize_scan(scan))
    assert session.training_allowed and allowed == [True]
    session.set_training_running(True)
    assert not session.training_allowed and allowed == [True, False] and running == [True]
    session.set_training_running(False)
    assert session.training_allowed and running == [True, False]
    entry = ModelEntry(kind="run", label="r", source=tiny_scan_file.parent, N=16)
    session.set_model(entry)
    assert session.model is entry and models == [entry]


def test_lr_axis_ticks_are_few_and_at_one_two_five_times_powers_of_ten():
    import math

    from app.widgets.log_ticks import log_ticks

    constant = log_ticks(math.log10(1e-3) - 0.5, math.log10(1e-3) + 0.5)
    assert [label for _, label in constant] == ["0.0005", "0.001", "0.002"]
    assert all(math.isclose(pos, math.log10(float(label))) for pos, label in constant)
    decaying = log_ticks(math.log10(1e-5) - 0.5, math.log10(1e-2) + 0.5)
    assert [label for _, label in decaying] == ["1e-05", "0.0001", "0.001", "0.01"]
    many = log_ticks(-12.0, 0.0)
    assert 1 <= len(many) <= 4 and all(pos == round(pos) for pos, _ in many)  # powers of ten
    assert log_ticks(float("nan"), 1.0) == []
