"""Training progress on the terminal: one line per epoch and a summary at the end."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from ..api import EpochRecord, TrainingObserver


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


class TerminalProgress(TrainingObserver):
    """Prints epoch lines (epoch k/n, losses, lr, patterns/s, ETA) to a stream."""

    def __init__(self, stream: TextIO = sys.stderr):
        self.stream = stream
        self.total_epochs = 0
        self.started = time.monotonic()

    def training_started(self, total_epochs: int, batches_per_epoch: int, device: str) -> None:
        self.total_epochs = total_epochs
        self.started = time.monotonic()
        print(f"training on {device}: {total_epochs} epochs of {batches_per_epoch} batches",
              file=self.stream, flush=True)

    def epoch_finished(self, record: EpochRecord) -> None:
        remaining = max(self.total_epochs - record.epoch, 0) * record.seconds
        val = f"{record.val_loss:.5g}" if record.val_loss is not None else "-"
        print(f"epoch {record.epoch}/{self.total_epochs}  train_loss {record.train_loss:.5g}  "
              f"val_loss {val}  lr {record.lr:.2g}  {record.patterns_per_second:,.0f} patterns/s"
              f"  ETA {_duration(remaining)}", file=self.stream, flush=True)

    def finished(self, status: str, summary: dict[str, Any]) -> None:
        del status, summary  # the command prints the summary line itself

    def failed(self, message: str) -> None:
        del message
