"""The convergence verdict: each sign of an unfinished fit, on histories made to show it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ptycho_engine import Convergence, ConvergenceThresholds, EpochRecord, assess_convergence
from ptycho_engine.training.convergence import (
    CONVERGED,
    NOT_CONVERGED,
    THRESHOLDS,
    TOO_SHORT,
    UNKNOWN,
    recorded_convergence,
)

FLOOR = (-1000.0, -990.0)
NOISE = (0.4, 0.4)


def history(train_excess, val_excess=None, floor=FLOOR) -> list[EpochRecord]:
    """Epoch records whose losses sit ``*_excess`` above ``floor``."""
    val_excess = train_excess if val_excess is None else val_excess
    return [EpochRecord(epoch=k + 1, train_loss=floor[0] + t,
                        val_loss=None if v is None else floor[1] + v, lr=1e-3, seconds=1.0,
                        patterns_per_second=100.0)
            for k, (t, v) in enumerate(zip(train_excess, val_excess, strict=True))]


def takeoff_then_flat(epochs: int = 12) -> list[float]:
    """The demo scan's shape: a plateau, a takeoff that removes ~20 %, then flat."""
    values = [3.7, 3.65, 3.62, 3.1, 2.9] + [2.85] * (epochs - 5)
    return values[:epochs]


def test_a_fit_that_took_off_and_stopped_falling_has_converged():
    verdict = assess_convergence(history(takeoff_then_flat()), FLOOR, NOISE)
    assert verdict.converged and verdict.verdict == CONVERGED and verdict.advice == ()
    assert verdict.headline == "converged"
    assert "stopped falling 2.85 above its floor" in verdict.reasons[0]
    assert verdict.excess == pytest.approx(2.85) and verdict.start_excess == pytest.approx(3.7)
    assert verdict.split == "validation" and verdict.noise_excess == 0.4


@pytest.mark.parametrize("epochs", [0, 1, THRESHOLDS.min_epochs - 1])
def test_too_few_epochs_are_too_short_to_judge_and_not_converged(epochs):
    verdict = assess_convergence(history([3.7] * epochs), FLOOR, NOISE)
    assert not verdict.converged and verdict.verdict == TOO_SHORT
    assert verdict.headline == "NOT CONVERGED (too short to judge)"
    assert verdict.describe().startswith("NOT CONVERGED (too short to judge): ")
    assert "train longer" in verdict.advice[0]


def test_a_loss_still_on_its_initial_plateau_is_not_converged():
    verdict = assess_convergence(history([3.7, 3.68, 3.69, 3.66, 3.67, 3.66, 3.67, 3.66]),
                                 FLOOR, NOISE)
    assert not verdict.converged and verdict.verdict == NOT_CONVERGED
    assert "has not left its initial plateau" in verdict.reasons[0]
    assert "fell 1.1% of the way to its floor in 8 epochs" in verdict.reasons[0]
    assert "9.1× what noise alone leaves (0.4)" in verdict.reasons[0]
    assert any("learning_rate" in advice for advice in verdict.advice)
    assert any("nphotons" in advice for advice in verdict.advice)


def test_a_loss_close_to_what_noise_leaves_is_never_far():
    # hardly below its start, but within 3 noise excesses of the floor: nothing to gain
    verdict = assess_convergence(history([1.0, 0.99, 0.99, 0.99, 0.98, 0.99, 0.99, 0.99]),
                                 FLOOR, NOISE)
    assert verdict.converged, verdict.reasons


def test_a_loss_that_was_still_falling_fast_is_not_converged():
    excess = list(10.0 * 0.85 ** np.arange(10))
    verdict = assess_convergence(history(excess), FLOOR, NOISE)
    assert not verdict.converged
    assert any("still falling" in reason for reason in verdict.reasons)
    assert "train longer" in verdict.advice[0] and "resume" in verdict.advice[0]


def test_validation_rising_while_training_falls_is_overfitting():
    train = takeoff_then_flat(8) + list(2.8 - 0.1 * np.arange(1, 9))
    val = takeoff_then_flat(8) + list(2.85 + 0.12 * np.arange(1, 9))
    verdict = assess_convergence(history(train, val), FLOOR, NOISE)
    assert not verdict.converged
    overfit = [r for r in verdict.reasons if "memorising" in r]
    assert overfit and overfit[0].startswith("the validation loss rose over the last 8 epochs")
    assert any("early_stop_patience" in advice for advice in verdict.advice)


def test_validation_jitter_alone_is_not_overfitting_nor_falling():
    rng = np.random.default_rng(0)
    val = [2.85 * (1 + 0.04 * rng.standard_normal()) for _ in range(14)]
    verdict = assess_convergence(history(takeoff_then_flat(14), [3.7] + val[1:]), FLOOR,
                                 NOISE)
    assert verdict.converged, verdict.reasons


def test_progress_counts_from_the_untrained_loss_when_it_was_measured():
    # a large scan takes off inside epoch 1: from epoch 1 the later epochs look flat, but
    # measured from the untrained model (validation before the first step) the fit is done
    flat = [2.9, 2.88, 2.87, 2.86, 2.86, 2.85, 2.85, 2.85]
    assert not assess_convergence(history(flat), FLOOR, NOISE).converged  # a "plateau"
    verdict = assess_convergence(history(flat), FLOOR, NOISE,
                                 untrained_loss=(None, FLOOR[1] + 3.7))
    assert verdict.converged and verdict.start_excess == pytest.approx(3.7)
    assert "before training" in verdict.reasons[0]


def test_without_validation_the_training_loss_is_judged():
    records = history(takeoff_then_flat(), [None] * 12)
    verdict = assess_convergence(records, (FLOOR[0], None), (0.4, None))
    assert verdict.converged and verdict.split == "training"


def test_an_mae_only_loss_is_judged_against_zero_without_a_noise_estimate():
    verdict = assess_convergence(history([3.7, 3.68, 3.69, 3.66, 3.67, 3.66], floor=(0, 0)),
                                 None)
    assert not verdict.converged and verdict.noise_excess is None
    assert "has not left its initial plateau" in verdict.reasons[0]


def test_thresholds_are_one_object_that_can_be_changed():
    records = history([3.7, 3.6, 3.5])
    assert assess_convergence(records, FLOOR, NOISE).verdict == TOO_SHORT
    lenient = dataclasses.replace(THRESHOLDS, min_epochs=2, still_falling_fraction=0.5)
    assert isinstance(lenient, ConvergenceThresholds)
    assert assess_convergence(records, FLOOR, NOISE, lenient).verdict != TOO_SHORT


def test_the_verdict_round_trips_through_plain_values():
    verdict = assess_convergence(history([3.7, 3.68, 3.69, 3.66, 3.67, 3.66]), FLOOR, NOISE)
    stored = verdict.to_dict()
    assert isinstance(stored["reasons"], list)
    assert Convergence.from_dict(stored) == verdict
    with pytest.raises(ValueError):
        Convergence.from_dict({"verdict": "fine"})
    # a stored 'converged: true' with another verdict is not trusted
    assert not Convergence.from_dict(dict(stored, converged=True)).converged


def test_a_run_json_without_a_verdict_is_judged_from_its_history_and_floor():
    records = history(takeoff_then_flat())
    info = {"loss_floor": {"train": FLOOR[0], "validation": FLOOR[1], "train_noise": 0.4,
                           "validation_noise": 0.4}}
    assert recorded_convergence(info, records) == assess_convergence(records, FLOOR, NOISE)
    stored = assess_convergence(records[:2], FLOOR, NOISE)
    assert recorded_convergence({"convergence": stored.to_dict()}, records) == stored
    unknown = recorded_convergence({}, records)
    assert unknown.verdict == UNKNOWN and not unknown.converged
    assert unknown.headline == "convergence unknown"
    assert recorded_convergence(info, []).verdict == UNKNOWN
