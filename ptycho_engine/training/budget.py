"""The training budget on the clock: what ends a run, and when, from measured wall time.

A run ends when its time limit is spent or when it reaches its epoch cap, whichever
comes first. The remaining time is ``min(time left in the budget, epochs left ×
measured seconds per epoch)``, where the seconds per epoch are the wall time since
the fit started divided by the epochs it finished (previews, validation and start-up
included, as the operator waits for them). Torch-free: the CLI and the app both use it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..api import TrainingStart

ENDS_BY_EPOCHS = "epochs"
ENDS_BY_TIME = "time_limit"


def remaining_time(epochs_left: int, seconds_per_epoch: float, elapsed_s: float,
                   time_limit_s: float | None) -> tuple[float, str]:
    """(seconds until the run ends, what ends it: 'epochs' or 'time_limit').

    Never more than the time left in the budget when there is one; 'time_limit' when
    the budget runs out before the remaining epochs would."""
    by_epochs = max(epochs_left, 0) * max(seconds_per_epoch, 0.0)
    if time_limit_s is None:
        return by_epochs, ENDS_BY_EPOCHS
    time_left = max(time_limit_s - elapsed_s, 0.0)
    if time_left < by_epochs:
        return time_left, ENDS_BY_TIME
    return by_epochs, ENDS_BY_EPOCHS


@dataclass(frozen=True)
class BudgetEstimate:
    """Where a run stands after ``epoch``: the remaining seconds and what will end it."""

    epoch: int
    epoch_cap: int
    elapsed_s: float
    seconds_per_epoch: float
    remaining_s: float
    ends_by: str

    @property
    def epochs_end_it(self) -> bool:
        return self.ends_by == ENDS_BY_EPOCHS

    @property
    def fraction_done(self) -> float:
        """0..1: the elapsed share of the expected total (time, not epochs)."""
        total = self.elapsed_s + self.remaining_s
        return 1.0 if total <= 0 else min(max(self.elapsed_s / total, 0.0), 1.0)


class BudgetClock:
    """Turns a ``TrainingStart`` and the finished epochs into ``BudgetEstimate``s.

    Start it when the fit starts (``run_started``); call ``estimate`` as each epoch
    finishes. ``now`` (a ``time.monotonic`` value) may be passed in for tests.
    """

    def __init__(self, start: TrainingStart, now: float | None = None):
        self.start = start
        self.started = time.monotonic() if now is None else now

    def estimate(self, epoch: int, now: float | None = None) -> BudgetEstimate:
        """The estimate after ``epoch`` (counted from 1 over the whole run, resumed or not)."""
        elapsed = max((time.monotonic() if now is None else now) - self.started, 0.0)
        done_here = max(epoch - self.start.epochs_done, 1)
        per_epoch = elapsed / done_here
        remaining, ends_by = remaining_time(self.start.epochs - epoch, per_epoch, elapsed,
                                            self.start.time_limit_s)
        return BudgetEstimate(epoch, self.start.epochs, elapsed, per_epoch, remaining, ends_by)


def describe_budget(start: TrainingStart) -> str:
    """What ends the run, in words: 'until 10 min (epoch cap 10000)' or '50 epochs'."""
    if start.time_limit_s is None:
        return f"{start.epochs} epochs"
    return f"until {format_limit(start.time_limit_s)} (epoch cap {start.epochs})"


def format_limit(seconds: float) -> str:
    """A time limit for people: '10 min', '1 h 30 min', '45 s', '2.5 min'."""
    if seconds < 60:
        return f"{seconds:.0f} s" if seconds >= 1 else f"{seconds:.2g} s"
    minutes = seconds / 60
    if minutes >= 60:
        hours, rest = divmod(round(minutes), 60)
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    return f"{minutes:.0f} min" if abs(minutes - round(minutes)) < 0.05 else f"{minutes:.1f} min"


__all__ = ["remaining_time", "BudgetEstimate", "BudgetClock", "describe_budget",
           "format_limit", "ENDS_BY_EPOCHS", "ENDS_BY_TIME"]
