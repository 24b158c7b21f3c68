"""Lightning callbacks that connect a fit to the outside world.

- ``StopControl``: cancel token and time budget, checked before every batch.
- ``ObserverBridge``: epoch records, the run folder's history, previews and NaN detection.
- ``AtomicModelCheckpoint``: checkpoints saved after the epoch's history row,
  never for an epoch that was cut short, written by ``AtomicCheckpointIO``
  through ``atomic_write`` (temp file, fsync, ``os.replace``), so a kill or a
  full disk at any moment leaves the previous checkpoint whole.
"""

from __future__ import annotations

import contextlib
import io
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning.pytorch.plugins.io import TorchCheckpointIO

from ..api import CancelToken, EpochRecord, TrainingObserver, TrainingStart
from ..core.atomic import write_bytes_atomic
from ..core.errors import TrainingError
from .run_folder import LAST_CHECKPOINT, RunFolder


class StopControl(Callback):
    """Stops a fit within one batch on cancel or when the time budget runs out.

    time_limit_s: the budget in seconds; None (or 0) sets none, and the epochs end the fit.
    """

    def __init__(self, cancel: CancelToken | None, time_limit_s: float | None):
        self.cancel = cancel
        self.time_limit_s = time_limit_s if time_limit_s else None
        self.started = time.monotonic()
        self.reason: str | None = None  # None, 'cancelled' or 'time_limit'

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.started = time.monotonic()

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule,
                             batch: Any, batch_idx: int) -> None:
        if self.reason is None:
            reason = None
            if self.cancel is not None and self.cancel.cancelled:
                reason = "cancelled"
            elif (self.time_limit_s is not None
                  and time.monotonic() - self.started > self.time_limit_s):
                reason = "time_limit"
            if trainer.world_size > 1:  # rank 0 decides: a rank that skipped a batch alone
                reason = trainer.strategy.broadcast(reason, src=0)  # would hang the others
            self.reason = reason
        if self.reason is not None:
            trainer.should_stop = True
            return -1  # Lightning skips the rest of this epoch

    @property
    def cut_short(self) -> bool:
        return self.reason is not None


def cosine_decay_factor(progress: float, decay_fraction: float, floor_ratio: float) -> float:
    """Learning-rate factor at ``progress`` (0..1) of the budget: 1, then a cosine from 1
    down to ``floor_ratio`` over the final ``decay_fraction`` of the budget."""
    if decay_fraction <= 0.0:
        return 1.0
    start = 1.0 - decay_fraction
    if progress <= start:
        return 1.0
    into = min(1.0, (progress - start) / decay_fraction)
    return floor_ratio + (1.0 - floor_ratio) * 0.5 * (1.0 + math.cos(math.pi * into))


class BudgetDecay(Callback):
    """Lowers the learning rate over the last part of the budget (``training.lr_decay_fraction``).

    Why: a fit cut off at a constant learning rate keeps the noise of its last large
    steps; annealing before the epochs or the operator's time limit run out ends in a
    lower loss. The budget is whichever runs out first: the epochs, or the time limit.
    The time part advances once per epoch and comes from rank 0, so every DDP process
    uses the same rate. The plateau scheduler keeps working underneath: the optimiser
    holds the un-decayed rate at every epoch end (when that scheduler steps and the
    checkpoint is written) and this callback multiplies it in again before the next batch.
    """

    def __init__(self, stop: StopControl, decay_fraction: float, min_learning_rate: float):
        self.stop = stop
        self.decay_fraction = decay_fraction
        self.min_learning_rate = min_learning_rate
        self.time_fraction = 0.0
        self.epoch_time_fraction = 0.0  # the budget share of the last full epoch, 0 unknown
        self._last_start: float | None = None
        self.undecayed: list[float] = []

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        fractions = (0.0, 0.0)
        if self.stop.time_limit_s:
            now = time.monotonic()
            last = self._last_start
            fractions = ((now - self.stop.started) / self.stop.time_limit_s,
                         0.0 if last is None else (now - last) / self.stop.time_limit_s)
            self._last_start = now
        self.time_fraction, self.epoch_time_fraction = (
            float(value) for value in trainer.strategy.broadcast(fractions, src=0))
        self.undecayed = [group["lr"] for group in trainer.optimizers[0].param_groups]
        self._apply(trainer, 0)

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule,
                             batch: Any, batch_idx: int) -> None:
        self._apply(trainer, batch_idx)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self.undecayed:
            return
        for group, rate in zip(trainer.optimizers[0].param_groups, self.undecayed, strict=True):
            group["lr"] = rate

    def progress(self, trainer: L.Trainer, batch_idx: int) -> float:
        """Fraction of the budget spent: epochs done (with this epoch's batches) or time.

        Within an epoch the time share advances with the batches at the pace of the last
        epoch (from rank 0, so every process computes the same rate): with a large epoch
        cap and long epochs the decay still starts when its share of the time is left."""
        batches = trainer.num_training_batches
        within = batch_idx / batches if math.isfinite(batches) and batches > 0 else 0.0
        epochs = (trainer.current_epoch + within) / max(int(trainer.max_epochs or 1), 1)
        return max(epochs, self.time_fraction + within * self.epoch_time_fraction)

    def _apply(self, trainer: L.Trainer, batch_idx: int) -> None:
        progress = self.progress(trainer, batch_idx)
        for group, rate in zip(trainer.optimizers[0].param_groups, self.undecayed, strict=True):
            floor = min(self.min_learning_rate, rate)
            ratio = floor / rate if rate > 0 else 1.0
            group["lr"] = rate * cosine_decay_factor(progress, self.decay_fraction, ratio)


def _metric(trainer: L.Trainer, name: str) -> float | None:
    value = trainer.callback_metrics.get(name)
    return None if value is None else float(value)


class ObserverBridge(Callback):
    """Turns Lightning hooks into TrainingObserver calls and keeps history.csv."""

    def __init__(self, observer: TrainingObserver, stop: StopControl, run_folder: RunFolder,
                 history: list[EpochRecord], patterns_per_group: int,
                 make_preview: Callable[[Any], tuple[Any, Any]] | None, preview_every: int,
                 device_name: str, loss_floor: tuple[float, float | None] | None = None):
        self.observer = observer
        self.loss_floor = loss_floor
        self.stop = stop
        self.run_folder = run_folder
        self.history = list(history)
        self.patterns_per_group = patterns_per_group
        self.make_preview = make_preview
        self.preview_every = preview_every
        self.device_name = device_name
        self.epoch_started = time.monotonic()
        self.groups_seen = 0
        self.untrained_val_loss: float | None = None

    def on_sanity_check_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Keep the untrained model's validation loss (the full validation pass Lightning
        runs before the first step, see ``trainer.build_trainer``): where the fit started,
        for ``convergence.assess_convergence``."""
        value = _metric(trainer, "val_loss")
        if value is not None and math.isfinite(value):
            self.untrained_val_loss = value

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero:
            batches = trainer.num_training_batches
            self.observer.run_started(TrainingStart(
                epochs=int(trainer.max_epochs or 0),
                batches_per_epoch=int(batches) if math.isfinite(batches) else 0,
                device=self.device_name, time_limit_s=self.stop.time_limit_s,
                epochs_done=len(self.history)))
            if self.loss_floor is not None:
                self.observer.loss_floor(*self.loss_floor)

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.epoch_started = time.monotonic()
        self.groups_seen = 0

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule,
                           outputs: Any, batch: Any, batch_idx: int) -> None:
        self.groups_seen += int(batch[0].shape[0])

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.stop.cut_short:
            return
        train_loss = _metric(trainer, "train_loss")
        if train_loss is None or not math.isfinite(train_loss):
            raise TrainingError(
                f"the training loss became {train_loss} in epoch {trainer.current_epoch + 1}; "
                "lower training.learning_rate (e.g. by 10x), check the scan for bad frames, "
                "or set data.nphotons to the real dose")
        seconds = time.monotonic() - self.epoch_started
        patterns = self.groups_seen * self.patterns_per_group * trainer.world_size
        record = EpochRecord(
            epoch=trainer.current_epoch + 1, train_loss=train_loss,
            val_loss=_metric(trainer, "val_loss"),
            lr=float(trainer.optimizers[0].param_groups[0]["lr"]),
            seconds=seconds, patterns_per_second=patterns / max(seconds, 1e-9))
        self.history.append(record)
        if not trainer.is_global_zero:
            return
        self.run_folder.write_history(self.history)
        self.observer.epoch_finished(record)
        if self.make_preview is not None and record.epoch % self.preview_every == 0:
            amplitude, phase = self.make_preview(pl_module)
            self.observer.preview(record.epoch, amplitude, phase)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint writer, but through ``atomic_write``: fsync, then ``os.replace``.

    Lightning's own writer replaces the file without an fsync; after a power cut
    that can leave an empty checkpoint. Errors are FileWriteErrors naming the file.
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any,
                        storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError("AtomicCheckpointIO takes no storage_options")
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(path, buffer.getvalue())


class AtomicModelCheckpoint(ModelCheckpoint):
    """ModelCheckpoint that saves after the history row and skips cut-short epochs.

    Saving at the end of the training epoch (Lightning calls checkpoint callbacks
    after the others) means history.csv already holds the epoch when its
    checkpoint appears: a kill between the two makes the resumed run redo that
    epoch, never skip its row. It is pinned here because Lightning saves at the
    end of validation instead (before the row) whenever validation does not run
    exactly once per epoch. A failed write (disk full) stops training with a
    TrainingError; the previous checkpoint stays as it was.
    """

    CHECKPOINT_NAME_LAST = LAST_CHECKPOINT.removesuffix(".ckpt")  # the run folder's name

    def __init__(self, stop: StopControl, **kwargs: Any):
        kwargs.setdefault("save_on_train_epoch_end", True)
        super().__init__(**kwargs)
        self.stop = stop

    def _save_checkpoint(self, trainer: L.Trainer, filepath: str) -> None:
        if self.stop.cut_short:
            return
        try:
            trainer.save_checkpoint(filepath, self.save_weights_only)
        except OSError as error:  # a FileWriteError from AtomicCheckpointIO
            raise TrainingError(
                f"{error}. Training stopped after epoch {trainer.current_epoch + 1}; the "
                f"checkpoints already in {Path(filepath).parent} are kept: free space, then "
                "continue with --resume") from error
        self._last_global_step_saved = trainer.global_step
        self._last_checkpoint_saved = filepath
        if trainer.is_global_zero:
            for logger in trainer.loggers:
                logger.after_save_checkpoint(self)

    def _remove_checkpoint(self, trainer: L.Trainer, filepath: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            super()._remove_checkpoint(trainer, filepath)
