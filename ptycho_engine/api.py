"""What crosses the engine's boundary: plain values only, importable without torch.

Training reports progress through a ``TrainingObserver`` (a ``TrainingStart``, then
``EpochRecord``s), long work is stopped with a ``CancelToken``, and a reconstruction
comes back as a numpy-only ``Reconstruction``. No tensors cross this boundary: a GUI worker
can forward every call as a Qt signal to another thread without touching torch.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

RESULT_FORMATS = ("npz", "h5", "tiff")
"""Formats ``save_reconstruction`` writes: our NPZ, a Ptychodus product HDF5, a TIFF pair."""


@dataclass(frozen=True)
class EpochRecord:
    """One finished epoch, as stored in the run's history.csv."""

    epoch: int
    train_loss: float
    val_loss: float | None
    lr: float
    seconds: float
    patterns_per_second: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TrainingStart:
    """What a fit is about to do: its budget, its batches and its device.

    epochs: the epoch cap (``training.epochs``); with a time limit it only caps the run.
    time_limit_s: the wall-clock budget in seconds, or None when the epochs end the run.
    epochs_done: epochs a resumed run already has (0 for a new run).
    """

    epochs: int
    batches_per_epoch: int
    device: str
    time_limit_s: float | None = None
    epochs_done: int = 0

    @property
    def ends_by_time(self) -> bool:
        """Whether a time limit is in force (then it, not the epoch cap, is meant to end it)."""
        return self.time_limit_s is not None


class TrainingObserver:
    """Receives training events; override the ones you need (all default to doing nothing)."""

    def run_started(self, start: TrainingStart) -> None:
        """The trainer is set up; ``start`` carries the budget (epoch cap, time limit).

        By default this calls ``training_started``, so observers written for that older
        call keep working; new observers override this one."""
        self.training_started(start.epochs, start.batches_per_epoch, start.device)

    def training_started(self, total_epochs: int, batches_per_epoch: int, device: str) -> None:
        """The trainer is set up; ``device`` names the GPU or says 'CPU'. ``total_epochs`` is
        the epoch cap: override ``run_started`` to also learn the time limit."""

    def loss_floor(self, train: float, validation: float | None) -> None:
        """The lowest loss the training and validation data allow (a perfect prediction of
        every count, see ``training.loss_floor``); sent once, after ``training_started``, when the
        loss has a Poisson term."""

    def epoch_finished(self, record: EpochRecord) -> None:
        """A full epoch is done (cut-short epochs are never reported)."""

    def preview(self, epoch: int, amplitude: np.ndarray, phase: np.ndarray) -> None:
        """Stitched (H, W) float32 amplitude and phase after ``epoch``."""

    def wants_previews(self) -> bool:
        """Whether ``preview`` does anything: a stitched preview costs a fifth of a CPU
        epoch, so it is only made for observers that override ``preview``."""
        return type(self).preview is not TrainingObserver.preview

    def finished(self, status: str, summary: dict[str, Any]) -> None:
        """Training ended: status is 'finished', 'cancelled' or 'time_limit'; ``summary`` is
        run.json's content (budget, losses, and the convergence assessment under
        'convergence')."""

    def failed(self, message: str) -> None:
        """Training stopped on an error; ``message`` is for the user."""


class CancelToken:
    """A thread-safe flag: a GUI or signal handler sets it, long work checks it between steps."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def __call__(self) -> bool:
        """True once cancelled, so the token itself can serve as a ``should_stop`` callable."""
        return self._event.is_set()


@dataclass(frozen=True)
class Reconstruction:
    """A stitched object in the scan's pixel frame.

    object: (H, W) complex64; pixel [r, c] sits at (offset[0] + r, offset[1] + c) of the
    frame of the input positions. positions: (n, 2) [x, y] scan positions in that frame.
    """

    object: np.ndarray
    offset: tuple[float, float]
    weight: np.ndarray
    positions: np.ndarray
    source: str = ""
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def amplitude(self) -> np.ndarray:
        return np.abs(self.object).astype(np.float32)

    @property
    def phase(self) -> np.ndarray:
        return np.angle(self.object).astype(np.float32)

    @property
    def prediction_unused(self) -> bool:
        """True when the scan-wide refinement started from a flat object because the
        model's prediction explained the scan worse (``reconstruction.scan_refine``)."""
        return "scan_refine_start" in self.info and self.info["scan_refine_start"] is None

    @property
    def positions_in_object_frame(self) -> np.ndarray:
        """(n, 2) [x, y] positions in the pixel frame of ``object``."""
        return self.positions - np.array([self.offset[1], self.offset[0]])
