"""Training progress on the terminal: one line per epoch and a summary at the end."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from ..api import EpochRecord, TrainingObserver, TrainingStart
from ..training.budget import BudgetClock, BudgetEstimate, describe_budget


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


def epoch_line(record: EpochRecord, estimate: BudgetEstimate) -> str:
    """'epoch k/n …' when the epochs end the run, 'epoch k …' when the time limit does; the
    ETA is the estimate's (never beyond the time left in the budget)."""
    label = (f"epoch {record.epoch}/{estimate.epoch_cap}" if estimate.epochs_end_it
             else f"epoch {record.epoch}")
    val = f"{record.val_loss:.5g}" if record.val_loss is not None else "-"
    until = "" if estimate.epochs_end_it else " (time limit)"
    return (f"{label}  train_loss {record.train_loss:.5g}  val_loss {val}  lr {record.lr:.2g}"
            f"  {record.patterns_per_second:,.0f} patterns/s  ETA "
            f"{_duration(estimate.remaining_s)}{until}")


class TerminalProgress(TrainingObserver):
    """Prints what ends the run, then epoch lines (epoch, losses, lr, patterns/s, ETA)."""

    def __init__(self, stream: TextIO = sys.stderr):
        self.stream = stream
        self.clock: BudgetClock | None = None

    def run_started(self, start: TrainingStart) -> None:
        self.clock = BudgetClock(start)
        print(f"training on {start.device}: {describe_budget(start)}, epochs of "
              f"{start.batches_per_epoch} batches", file=self.stream, flush=True)

    def epoch_finished(self, record: EpochRecord) -> None:
        if self.clock is None:  # an epoch without a start: count from here
            self.clock = BudgetClock(TrainingStart(record.epoch, 0, "", None, record.epoch - 1))
        print(epoch_line(record, self.clock.estimate(record.epoch)), file=self.stream,
              flush=True)

    def finished(self, status: str, summary: dict[str, Any]) -> None:
        del status, summary  # the command prints the summary line itself

    def failed(self, message: str) -> None:
        del message
