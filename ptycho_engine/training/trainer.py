"""``build_trainer``: the one place a ``lightning.Trainer`` is made.

Callbacks (stop control, observer bridge, learning-rate decay, atomic best/last
checkpoints, optional early stopping), precision, loggers and devices. The
checkpoint, early stopping and the plateau schedule all judge the fit by the
system's ``monitor``.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import EarlyStopping

from ..core.config import PtychoConfig
from ..core.errors import ConfigError
from .callbacks import (
    AtomicCheckpointIO,
    AtomicModelCheckpoint,
    BudgetDecay,
    ObserverBridge,
    StopControl,
)
from .run_folder import BEST_CHECKPOINT, RunFolder


def precision(config: PtychoConfig, accelerator: str) -> str:
    """bf16 mixed precision on GPUs that support it; float32 on CPU (FFTs stay float32)."""
    chosen = config.training.precision
    if chosen != "auto":
        return chosen
    if accelerator == "gpu" and torch.cuda.is_bf16_supported():
        return "bf16-mixed"
    return "32-true"


def build_trainer(config: PtychoConfig, run: RunFolder, accelerator: str, stop: StopControl,
                  bridge: ObserverBridge, monitor: str, *, devices: int | str | None = None,
                  num_nodes: int = 1, strategy: str | None = None,
                  progress_bar: bool = False, measure_untrained: bool = False) -> L.Trainer:
    """A Trainer for one fit into ``run``, judged by ``monitor`` ('val_loss' or 'train_loss').

    measure_untrained: run the whole validation set once before the first step (Lightning's
    sanity check), so the bridge records the untrained model's validation loss: the start
    the convergence verdict measures progress from (epoch 1's loss can already hold the
    takeoff of a large scan)."""
    return L.Trainer(
        accelerator=accelerator, devices=devices or 1, num_nodes=num_nodes,
        strategy=strategy or "auto", precision=precision(config, accelerator),
        max_epochs=config.training.epochs, callbacks=callbacks(config, run, stop, bridge, monitor),
        plugins=[AtomicCheckpointIO()], logger=extra_logger(config, run),
        default_root_dir=str(run.path), enable_progress_bar=progress_bar,
        enable_model_summary=False, deterministic=False,
        num_sanity_val_steps=-1 if measure_untrained else 0,
        log_every_n_steps=1)


def callbacks(config: PtychoConfig, run: RunFolder, stop: StopControl, bridge: ObserverBridge,
              monitor: str) -> list[Any]:
    """Stop, bridge (history row), decay, checkpoint, early stop (Lightning calls checkpoint
    callbacks last, so the epoch's history row is written before its checkpoint)."""
    training = config.training
    chosen: list[Any] = [stop, bridge]
    if training.lr_decay_fraction > 0:
        chosen.append(BudgetDecay(stop, training.lr_decay_fraction, training.min_learning_rate))
    chosen.append(AtomicModelCheckpoint(
        stop, dirpath=str(run.checkpoint_dir), filename=BEST_CHECKPOINT.removesuffix(".ckpt"),
        monitor=monitor, mode="min",
        save_top_k=1, save_last=True, enable_version_counter=False))
    if training.early_stop_patience > 0:
        chosen.append(EarlyStopping(monitor=monitor, patience=training.early_stop_patience))
    return chosen


def extra_logger(config: PtychoConfig, run: RunFolder) -> Any:
    """False (history.csv only) or the TensorBoard/MLflow logger the config asks for."""
    choice = config.training.logger
    if choice == "none":
        return False
    try:  # imported here: the packages behind these loggers are optional
        if choice == "tensorboard":
            from lightning.pytorch.loggers import TensorBoardLogger

            return TensorBoardLogger(str(run.path), name="tensorboard")
        from lightning.pytorch.loggers import MLFlowLogger

        return MLFlowLogger(tracking_uri=(run.path / "mlruns").resolve().as_uri())
    except ModuleNotFoundError as error:
        raise ConfigError([("training.logger", f"'{choice}' needs the package {error.name}, "
                            "which is not installed; pip install it or set 'none'")]) from None
