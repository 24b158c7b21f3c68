"""The typed events a task sends from its worker thread to the GUI thread (plain values only).

A task sends them with ``TaskContext.emit`` and they arrive, in order, on its
Job's ``event`` signal. Training sends ``TrainingStarted`` (with the budget: epoch cap
and time limit), ``LossFloor``, the engine's ``EpochRecord`` as it is, and ``Preview``;
every task may send ``Progress``. The convergence verdict comes with the result (the
engine's ``TrainingResult.convergence``). No dicts and no tensors cross the thread
boundary.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ptycho_engine import TrainingStart


@dataclass(frozen=True)
class Progress:
    """How far a task is: ``done`` of ``total`` steps (``total == 0``: busy, size unknown)."""

    done: int
    total: int
    message: str = ""


@dataclass(frozen=True)
class TrainingStarted:
    """The trainer is set up: the epoch cap (the epochs it will run when no time limit is
    set), batches per epoch, the device, the time limit in seconds (None: the epochs end
    the run) and the epochs a resumed run already had."""

    total_epochs: int
    batches_per_epoch: int
    device: str
    time_limit_s: float | None = None
    epochs_done: int = 0

    @classmethod
    def from_engine(cls, start: TrainingStart) -> TrainingStarted:
        return cls(int(start.epochs), int(start.batches_per_epoch), str(start.device),
                   None if start.time_limit_s is None else float(start.time_limit_s),
                   int(start.epochs_done))

    def to_engine(self) -> TrainingStart:
        """The engine's ``TrainingStart`` (for its ``BudgetClock``)."""
        return TrainingStart(self.total_epochs, self.batches_per_epoch, self.device,
                             self.time_limit_s, self.epochs_done)


@dataclass(frozen=True)
class LossFloor:
    """The lowest losses the training and validation data allow (validation None without a
    validation set); the loss plot draws each curve above its floor."""

    train: float
    validation: float | None


@dataclass(frozen=True, eq=False)
class Preview:
    """The stitched object after ``epoch``: (H, W) complex64, NaN where nothing was stitched
    (such pixels are drawn transparent and do not pull the colour levels to zero). Made once,
    in the training thread, and shown as it is."""

    epoch: int
    image: np.ndarray

    @classmethod
    def from_engine(cls, epoch: int, amplitude: np.ndarray, phase: np.ndarray) -> Preview:
        """From the engine's preview: (H, W) float32 amplitude and phase (radians), amplitude
        exactly 0 where no patch landed."""
        image = (amplitude * np.exp(1j * phase)).astype(np.complex64)
        image[amplitude == 0] = np.nan
        return cls(int(epoch), image)
