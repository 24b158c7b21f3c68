"""The training budget on the clock: what ends a run, the ETA, and the terminal's lines."""

from __future__ import annotations

import io

import numpy as np
import pytest

from ptycho_engine import BudgetClock, EpochRecord, TrainingStart, describe_budget, remaining_time
from ptycho_engine.cli.progress import TerminalProgress, epoch_line
from ptycho_engine.training.budget import ENDS_BY_EPOCHS, ENDS_BY_TIME, format_limit


def record(epoch: int) -> EpochRecord:
    return EpochRecord(epoch=epoch, train_loss=-10.0, val_loss=-9.5, lr=1e-3, seconds=2.0,
                       patterns_per_second=480.0)


def test_the_eta_of_a_time_limited_run_never_exceeds_the_time_left():
    rng = np.random.default_rng(1)
    for _ in range(500):
        limit = rng.uniform(1, 3600)
        elapsed = rng.uniform(0, 1.2 * limit)
        per_epoch = rng.uniform(0.01, 600)
        epochs_left = int(rng.integers(0, 100_000))
        remaining, ends_by = remaining_time(epochs_left, per_epoch, elapsed, limit)
        assert 0 <= remaining <= max(limit - elapsed, 0.0) + 1e-9
        assert remaining <= epochs_left * per_epoch + 1e-9
        assert ends_by == (ENDS_BY_TIME if max(limit - elapsed, 0) < epochs_left * per_epoch
                           else ENDS_BY_EPOCHS)


def test_without_a_time_limit_the_epochs_end_the_run():
    assert remaining_time(10, 3.0, 100.0, None) == (30.0, ENDS_BY_EPOCHS)


def test_the_clock_measures_wall_time_per_epoch_and_says_what_ends_the_run():
    # `train --epochs 1000 --time-limit 10`: 6 s per epoch would take 1 h 40 min; the budget
    # ends it after 10 minutes, and that is what the ETA says
    clock = BudgetClock(TrainingStart(1000, 20, "CPU", 600.0), now=0.0)
    estimate = clock.estimate(5, now=30.0)
    assert estimate.seconds_per_epoch == pytest.approx(6.0)
    assert estimate.remaining_s == pytest.approx(570.0) and not estimate.epochs_end_it
    assert estimate.fraction_done == pytest.approx(0.05)
    # a small cap that the budget never reaches: the epochs end it
    clock = BudgetClock(TrainingStart(8, 20, "CPU", 600.0), now=0.0)
    estimate = clock.estimate(5, now=30.0)
    assert estimate.epochs_end_it and estimate.remaining_s == pytest.approx(18.0)
    # a resumed run measures only the epochs it ran itself
    clock = BudgetClock(TrainingStart(100, 20, "CPU", None, epochs_done=40), now=0.0)
    assert clock.estimate(42, now=10.0).seconds_per_epoch == pytest.approx(5.0)


def test_the_budget_in_words():
    assert describe_budget(TrainingStart(10_000, 6, "CPU", 600.0)) == \
        "until 10 min (epoch cap 10000)"
    assert describe_budget(TrainingStart(50, 6, "CPU", None)) == "50 epochs"
    assert [format_limit(s) for s in (18.0, 150.0, 5400.0, 7200.0, 0.06)] == \
        ["18 s", "2.5 min", "1 h 30 min", "2 h", "0.06 s"]


def test_terminal_lines_show_the_epoch_cap_only_when_the_epochs_end_the_run():
    stream = io.StringIO()
    progress = TerminalProgress(stream)
    progress.run_started(TrainingStart(10_000, 6, "CPU (1 thread)", 600.0))
    progress.clock.started -= 12.0  # two epochs of 6 s have passed
    progress.epoch_finished(record(2))
    first, line = stream.getvalue().splitlines()
    assert first == ("training on CPU (1 thread): until 10 min (epoch cap 10000), epochs of 6 "
                     "batches")
    assert line.startswith("epoch 2  train_loss") and "/10000" not in line
    assert line.endswith("(time limit)")
    eta = line.split("ETA ")[1].split()[0]
    assert eta in ("9m48s", "9m47s")  # the time left, not 9,998 epochs of 6 s

    limited = BudgetClock(TrainingStart(50, 6, "CPU", None), now=0.0)
    line = epoch_line(record(3), limited.estimate(3, now=6.0))
    assert line.startswith("epoch 3/50  ") and line.endswith("ETA 1m34s")
