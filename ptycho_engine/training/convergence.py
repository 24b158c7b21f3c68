"""Has a fit converged? A verdict with reasons and advice, from the loss history alone.

The loss is a Poisson NLL averaged over pixels; its floor (``loss_floor``) is what a
perfect prediction of every count scores, and even a perfect model keeps about
``noise_excess`` above it (the counts are noisy). Three signs of a fit that is not
done, each judged on the loss minus its floor (the "excess"), validation when there
is validation data, else training:

1. far from the floor: the excess is still several times what noise alone leaves and
   training has removed almost none of the excess the model started with (measured on
   the validation set before the first step, else epoch 1's); after a few epochs that
   is the initial plateau;
2. still falling: the excess was still dropping fast when the run ended;
3. overfitting: the validation loss rose over the last epochs while the training
   loss fell.

A run with too few epochs is "too short to judge" and counts as not converged. The
thresholds live in ``ConvergenceThresholds`` (one place, to be tuned on a benchmark
suite). Torch-free: the app and the CLI read stored verdicts without torch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..api import EpochRecord

CONVERGED = "converged"
NOT_CONVERGED = "not converged"
TOO_SHORT = "too short to judge"
UNKNOWN = "unknown"
VERDICTS = (CONVERGED, NOT_CONVERGED, TOO_SHORT, UNKNOWN)


@dataclass(frozen=True)
class ConvergenceThresholds:
    """Every number the verdict depends on, with how it was chosen (to be tuned on a
    benchmark suite; change them here).

    Calibration (2-core CPU, quick-look preset, the model with physics refinement that
    was being written when these were set): on the 840-pattern demo scan the loss starts
    8.7× the noise excess above the floor, sits on a plateau for 4 epochs (closing 3 %
    of that), takes off in epochs 5–6 and then stays ~16–24 % below its start, 7× the
    noise excess, at a phase SSIM of 0.93. So a fit the model reconstructs well can stay
    many noise excesses above the floor, and the telling distance is how much of its
    starting excess it has removed, together with whether it is still falling. At 1e4
    photons the same scan starts only 1.6× the noise excess above the floor (never
    "far"). A verdict from the loss cannot see a result the data limit: 96 patterns of
    a small star without overlap groups stopped falling at phase SSIM 0.18 and are
    "converged" here.
    """

    min_epochs: int = 5
    """Fewer finished epochs than this: "too short to judge" (the demo scan's loss stays
    on its initial plateau for 4 epochs, and a trend needs two windows of 2 epochs)."""
    far_noise_multiple: float = 3.0
    """Far from the floor needs an excess above this many noise excesses (what a perfect
    model keeps, ``loss_floor.noise_excess``; it is an estimate, low on sparse data)..."""
    far_min_closed: float = 0.10
    """... and less than this share of the starting excess removed (the demo's plateau
    removed 3 %, its converged fit 16–24 %)."""
    plateau_min_epochs: int = 5
    """A far fit is "on its initial plateau" after this many epochs (takeoff took 5 on
    the demo scan); before that it is just far."""
    still_falling_share: float = 0.2
    """"Still falling" compares the last this share of the epochs (at least
    ``smoothing_epochs``) with as many epochs before them."""
    still_falling_fraction: float = 0.05
    """Still falling: the median excess of the last window is more than this share below
    the window before (the demo's converged fit: +1 %; during its takeoff: −14 %)."""
    overfit_window: int = 8
    """Epochs over which validation rising while training falls is looked for."""
    overfit_min_rise: float = 0.10
    """Overfitting: the fitted rise of the validation excess over the window is more than
    this share of its mean (validation losses of small hold-outs jitter by ~5 %)."""
    smoothing_epochs: int = 3
    """The "current" excess is the median of the last this many epochs (jitter)."""


THRESHOLDS = ConvergenceThresholds()
"""The thresholds ``assess_convergence`` uses unless given others."""


@dataclass(frozen=True)
class Convergence:
    """The verdict on one fit: ``converged`` only when nothing argues against it.

    verdict: one of 'converged', 'not converged', 'too short to judge', 'unknown'.
    reasons: sentences with numbers; advice: what to try. excess: the current excess over
    the floor (validation, else training; loss units), noise_excess: what a perfect model
    keeps, start_excess: the excess before training (measured) or at epoch 1, split:
    'validation' or 'training'.
    """

    converged: bool
    verdict: str
    reasons: tuple[str, ...] = ()
    advice: tuple[str, ...] = ()
    epochs: int = 0
    excess: float | None = None
    start_excess: float | None = None
    noise_excess: float | None = None
    split: str = ""

    @property
    def headline(self) -> str:
        """'converged', 'NOT CONVERGED', 'NOT CONVERGED (too short to judge)' or
        'convergence unknown': the word a result is labelled with."""
        if self.converged:
            return "converged"
        if self.verdict == TOO_SHORT:
            return "NOT CONVERGED (too short to judge)"
        if self.verdict == UNKNOWN:
            return "convergence unknown"
        return "NOT CONVERGED"

    @property
    def short_reason(self) -> str:
        """The first reason (the most telling one), '' when there is none."""
        return self.reasons[0] if self.reasons else ""

    def describe(self) -> str:
        """One line: the headline, the reasons, and what to try."""
        text = self.headline
        if self.reasons:
            text += ": " + "; ".join(self.reasons)
        if self.advice:
            text += "; try: " + "; ".join(self.advice)
        return text

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values, as run.json and a bundle's manifest store it."""
        values = asdict(self)
        values["reasons"] = list(self.reasons)
        values["advice"] = list(self.advice)
        return values

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Convergence:
        """Read back ``to_dict``; ValueError when it is not one."""
        verdict = values.get("verdict")
        if verdict not in VERDICTS or not isinstance(values.get("converged"), bool):
            raise ValueError(f"not a convergence record: {dict(values)!r}")

        def number(key: str) -> float | None:
            value = values.get(key)
            if isinstance(value, bool) or not isinstance(value, int | float):
                return None
            return float(value) if math.isfinite(value) else None

        epochs = values.get("epochs")
        return cls(converged=values["converged"] and verdict == CONVERGED, verdict=verdict,
                   reasons=tuple(str(r) for r in values.get("reasons") or ()),
                   advice=tuple(str(a) for a in values.get("advice") or ()),
                   epochs=epochs if isinstance(epochs, int) and not isinstance(epochs, bool)
                   else 0,
                   excess=number("excess"), start_excess=number("start_excess"),
                   noise_excess=number("noise_excess"), split=str(values.get("split") or ""))


def unknown_convergence(reason: str) -> Convergence:
    """A verdict that cannot be given (e.g. a model saved without its history)."""
    return Convergence(False, UNKNOWN, (reason,),
                       ("judge the reconstruction against a reference before relying on it",))


# ---------------------------------------------------------------- assessment
ADVICE_LONGER = ("train longer: a larger time limit (training.time_limit_min, --time-limit) "
                 "or more epochs")
ADVICE_RESUME = "or continue this run (Resume, or train --resume)"
ADVICE_LOWER_LR = "lower training.learning_rate (e.g. halve it)"
ADVICE_DOSE = "check that data.nphotons matches the real dose and that the probe fits the scan"
ADVICE_OVERLAP = ("use every scan position (data.n_groups = 0) and overlapping groups "
                  "(data.gridsize = 2)")
ADVICE_EARLY_STOP = ("stop at the best validation loss (training.early_stop_patience), or "
                     "use more scan positions")


@dataclass(frozen=True)
class _Series:
    """The excess over the floor of the split being judged, epoch by epoch."""

    split: str
    excess: np.ndarray
    noise: float | None
    start: float
    measured_start: bool  # the untrained model's excess (else epoch 1's)

    @property
    def start_words(self) -> str:
        return "before training" if self.measured_start else "at epoch 1"


def _series(history: Sequence[EpochRecord], floor: tuple[float, float | None],
            noise: tuple[float | None, float | None],
            untrained: tuple[float | None, float | None]) -> _Series:
    """Validation excess when every epoch has a validation loss and a floor, else training;
    ``start`` is the untrained model's excess when it was measured, else epoch 1's."""
    train_floor, val_floor = floor
    if val_floor is not None and history and all(r.val_loss is not None for r in history):
        excess = np.array([r.val_loss - val_floor for r in history])
        start = untrained[1] - val_floor if untrained[1] is not None else excess[0]
        return _Series("validation", excess, noise[1], float(start), untrained[1] is not None)
    excess = np.array([r.train_loss - train_floor for r in history])
    start = (untrained[0] - train_floor if untrained[0] is not None
             else excess[0] if len(excess) else 0.0)
    return _Series("training", excess, noise[0], float(start), untrained[0] is not None)


def _loss_name(split: str) -> str:
    return f"the {split} loss"


def _far_reason(series: _Series, now: float, start: float, epochs: int,
                limits: ConvergenceThresholds) -> str | None:
    """Why the fit is still far from its floor (near where it started), or None."""
    closed = (start - now) / start if start > 0 else 1.0
    if closed >= limits.far_min_closed:
        return None
    name = _loss_name(series.split)
    noise = ""
    if series.noise is not None and series.noise > 0:
        multiple = now / series.noise
        if multiple <= limits.far_noise_multiple:
            return None
        noise = f", {multiple:.1f}× what noise alone leaves ({series.noise:.2g})"
    if epochs >= limits.plateau_min_epochs:  # 0 when the loss is falling: no plateau
        return (f"the loss has not left its initial plateau ({name} fell {max(closed, 0):.1%} "
                f"of the way to its floor in {epochs} epochs and is {now:.3g} above it{noise})")
    return (f"{name} is {now:.3g} above its Poisson floor{noise}, only {max(closed, 0):.1%} "
            f"below {series.start:.3g} {series.start_words} (a fit that learns removes over "
            f"{limits.far_min_closed:.0%})")


def _overfit_reason(history: Sequence[EpochRecord], series: _Series, train: np.ndarray,
                    limits: ConvergenceThresholds) -> str | None:
    """Validation rising over the window while training falls, or None."""
    window = limits.overfit_window
    if series.split != "validation" or len(history) < window:
        return None
    steps = np.arange(window, dtype=np.float64)
    val_slope = np.polyfit(steps, series.excess[-window:], 1)[0]
    train_slope = np.polyfit(steps, train[-window:], 1)[0]
    level = float(np.mean(np.abs(series.excess[-window:])))
    rise = val_slope * (window - 1)
    if val_slope > 0 and train_slope < 0 and level > 0 and rise > limits.overfit_min_rise * level:
        return (f"the validation loss rose over the last {window} epochs (by {rise:.3g}, "
                f"{rise / level:.0%}) while the training loss fell (the network is memorising "
                "the training groups)")
    return None


def assess_convergence(history: Sequence[EpochRecord],
                       loss_floor: tuple[float, float | None] | None,
                       noise_excess: tuple[float | None, float | None] | None = None,
                       thresholds: ConvergenceThresholds = THRESHOLDS, *,
                       untrained_loss: tuple[float | None, float | None] | None = None
                       ) -> Convergence:
    """The verdict on a fit from its epoch history and its loss floors.

    loss_floor: (train floor, validation floor or None) as ``training.loss_floor`` gives
    them; None when the loss has no Poisson term (an MAE-only loss, whose floor is 0).
    noise_excess: (train, validation) excess a perfect model keeps over each floor
    (``loss_floor.floors_and_noise``); None when unknown (then only the share of the
    starting excess removed judges the distance). untrained_loss: (train, validation)
    loss of the model before its first step, where measured; progress is counted from
    it, else from epoch 1 (whose loss may already include the takeoff of a large scan).
    """
    limits = thresholds
    history = list(history)
    floor = loss_floor if loss_floor is not None else (0.0, 0.0)
    series = _series(history, floor, noise_excess or (None, None),
                     untrained_loss or (None, None))
    n = len(history)
    if n == 0:
        return Convergence(False, TOO_SHORT, ("no epoch finished",), (ADVICE_LONGER,), 0,
                           split=series.split)
    now = float(np.median(series.excess[-limits.smoothing_epochs:]))
    start = series.start
    train = np.array([r.train_loss - floor[0] for r in history])
    base = dict(epochs=n, excess=now, start_excess=start, noise_excess=series.noise,
                split=series.split)
    falling = _still_falling(series, train, limits) if n >= limits.min_epochs else None
    plateau = n >= limits.plateau_min_epochs and falling is None
    far = _far_reason(series, now, start, n if plateau else 0, limits)
    if n < limits.min_epochs:
        reasons = (f"only {n} epoch{'s' if n != 1 else ''} finished; at least "
                   f"{limits.min_epochs} are needed to judge the fit",)
        return Convergence(False, TOO_SHORT, reasons + ((far,) if far else ()),
                           (ADVICE_LONGER,), **base)
    reasons: list[str] = []
    advice: list[str] = []
    if far:
        reasons.append(far)
        advice += ([ADVICE_LOWER_LR, ADVICE_DOSE, ADVICE_OVERLAP] if plateau
                   else [f"{ADVICE_LONGER}, {ADVICE_RESUME}"])
    if falling is not None:
        drop, window = falling
        reasons.append(f"{_loss_name(series.split)} was still falling ({drop:.0%} lower over "
                       f"the last {_epochs(window)} than over the {_epochs(window)} before)")
        advice.insert(0, f"{ADVICE_LONGER}, {ADVICE_RESUME}")
    overfit = _overfit_reason(history, series, train, limits)
    if overfit:
        reasons.append(overfit)
        advice.append(ADVICE_EARLY_STOP)
    if reasons:
        return Convergence(False, NOT_CONVERGED, tuple(reasons), tuple(dict.fromkeys(advice)),
                           **base)
    return Convergence(True, CONVERGED, (_near_reason(series, now),), (), **base)


def _epochs(count: int) -> str:
    return f"{count} epochs" if count != 1 else "epoch"


def _still_falling(series: _Series, train: np.ndarray, limits: ConvergenceThresholds
                   ) -> tuple[float, int] | None:
    """(relative drop, window) when the median excess of the last window is more than
    ``still_falling_fraction`` below the window before (and, judging validation, the
    training loss fell too, so that validation jitter alone does not count); else None."""
    n = len(series.excess)
    window = max(limits.smoothing_epochs, round(limits.still_falling_share * n))
    window = min(window, n // 2)
    if window < 1:
        return None

    def drop(values: np.ndarray) -> float:
        before = float(np.median(values[n - 2 * window:n - window]))
        now = float(np.median(values[n - window:]))
        return (before - now) / before if before > 0 else 0.0

    fell = drop(series.excess)
    if fell <= limits.still_falling_fraction:
        return None
    if series.split == "validation" and drop(train) <= 0:
        return None
    return fell, window


def _near_reason(series: _Series, now: float) -> str:
    name = _loss_name(series.split)
    noise = f" ({now / series.noise:.1f}× what noise alone leaves)" if series.noise else ""
    return (f"{name} stopped falling {now:.3g} above its floor{noise}, down from "
            f"{series.start:.3g} {series.start_words}")


def recorded_convergence(info: Mapping[str, Any],
                         history: Sequence[EpochRecord]) -> Convergence:
    """The verdict a run.json (or a bundle's training summary) recorded; else judged now
    from ``history`` and the recorded loss floor; 'unknown' without a floor or a history."""
    stored = info.get("convergence")
    if isinstance(stored, Mapping):
        try:
            return Convergence.from_dict(stored)
        except ValueError:
            pass
    floor = info.get("loss_floor")
    if not history:
        return unknown_convergence("the model was saved without its training history")
    if isinstance(floor, Mapping) and _is_number(floor.get("train")):
        def value(key: str) -> float | None:
            return float(floor[key]) if _is_number(floor.get(key)) else None

        untrained = info.get("untrained_loss")
        start = (untrained.get("validation") if isinstance(untrained, Mapping) else None)
        return assess_convergence(history, (float(floor["train"]), value("validation")),
                                  (value("train_noise"), value("validation_noise")),
                                  untrained_loss=(None, float(start) if _is_number(start)
                                                  else None))
    return unknown_convergence("the training left no loss floor to judge the fit against")


def _is_number(value: Any) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value))


__all__ = ["Convergence", "ConvergenceThresholds", "THRESHOLDS", "assess_convergence",
           "recorded_convergence", "unknown_convergence", "VERDICTS", "CONVERGED",
           "NOT_CONVERGED", "TOO_SHORT", "UNKNOWN"]
