"""``train()``: the one place that builds a ``lightning.Trainer`` and runs a fit.

A run folder holds config.toml, run.json (status, provenance), history.csv
(one row per finished epoch) and checkpoints/{last,best}.ckpt, so a crash or
a cancel loses at most the current epoch and ``resume_from`` continues it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch

from ..api import CancelToken, EpochRecord, TrainingObserver
from ..core.atomic import write_bytes_atomic
from ..core.config import PtychoConfig, load_config, save_config, to_dict
from ..core.errors import ConfigError, PtychoError, TrainingError
from ..core.runtime import configure_threads, device_description, quiet_lightning
from ..data.grouping import make_groups
from ..data.scan import Scan
from ..data.training_data import TrainingData, as_training_data
from ..model.checkpoint import LAST_CHECKPOINT, checkpoint_dir, read_checkpoint
from ..model.system import PtychoPINNModule
from ..physics import canvas_size
from ..reconstruction.inference import inference_batch_size, stitch_groups
from .callbacks import (
    AtomicCheckpointIO,
    AtomicModelCheckpoint,
    BudgetDecay,
    ObserverBridge,
    StopControl,
    read_history,
)
from .datamodule import GroupDataset, PtychoDataModule
from .loss_floor import loss_floors

PREVIEW_MAX_POSITIONS = 1500


@dataclass
class TrainingResult:
    """What a finished (or stopped) training leaves behind."""

    module: PtychoPINNModule
    history: list[EpochRecord]
    config: PtychoConfig
    intensity_scale: float
    probe: np.ndarray
    run_dir: Path
    status: str
    data: TrainingData
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def best_checkpoint(self) -> Path:
        return checkpoint_dir(self.run_dir) / "best.ckpt"

    @property
    def last_checkpoint(self) -> Path:
        return checkpoint_dir(self.run_dir) / LAST_CHECKPOINT


def default_run_dir(source: str) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{Path(source).stem or 'scan'}-{stamp}"


def _accelerator(config: PtychoConfig, accelerator: str | None) -> str:
    choice = accelerator or config.training.device
    if choice in ("gpu", "cuda") and not torch.cuda.is_available():
        raise ConfigError([("training.device", "'gpu' was requested but torch sees no CUDA "
                            "device; use 'auto' or 'cpu'")])
    if choice == "auto":
        return "gpu" if torch.cuda.is_available() else "cpu"
    return "gpu" if choice in ("gpu", "cuda") else "cpu"


def _precision(config: PtychoConfig, accelerator: str) -> str:
    """bf16 mixed precision on GPUs that support it; float32 on CPU (FFTs stay float32)."""
    precision = config.training.precision
    if precision != "auto":
        return precision
    if accelerator == "gpu" and torch.cuda.is_bf16_supported():
        return "bf16-mixed"
    return "32-true"


def _preview_maker(data: TrainingData, config: PtychoConfig):
    """A function module -> (amplitude, phase) of a stitched preview of the scan's centre.

    Previews run only the covering groups: a live indicator that costs little of the
    epoch; the final reconstruction follows ``inference.groups``.
    """
    positions = data.positions
    if len(positions) > PREVIEW_MAX_POSITIONS:
        centre = np.median(positions, axis=0)
        keep = np.argsort(((positions - centre) ** 2).sum(axis=1))[:PREVIEW_MAX_POSITIONS]
        chosen = np.sort(keep)
    else:
        chosen = np.arange(len(positions))
    groups = make_groups(positions[chosen], config.data.gridsize, config.data.neighbor_count,
                         0, config.training.seed)
    diffraction = data.diffraction[chosen]

    def make(module: PtychoPINNModule) -> tuple[np.ndarray, np.ndarray]:
        recon = stitch_groups(module, diffraction, groups, positions[chosen],
                              batch_size=inference_batch_size(module),
                              crop=config.inference.stitch_crop, mode="covering")
        return recon.amplitude, recon.phase

    return make


def _resolve_resume(resume_from: str | Path | None) -> tuple[Path | None, Path | None]:
    """(run folder, checkpoint) to resume from, or (None, None)."""
    if resume_from is None:
        return None, None
    path = Path(resume_from)
    if path.is_dir():
        checkpoint = checkpoint_dir(path) / LAST_CHECKPOINT
        if not checkpoint.is_file():
            raise PtychoError(f"{path}: nothing to resume, {checkpoint} does not exist "
                              "(the run never finished an epoch)")
        return path, checkpoint
    if path.is_file():
        return path.parent.parent, path
    raise PtychoError(f"{path}: not found; give the run folder to resume")


def _write_run_info(run_dir: Path, info: dict[str, Any]) -> None:
    write_bytes_atomic(run_dir / "run.json", json.dumps(info, indent=2).encode())


def _make_module(data: TrainingData, config: PtychoConfig, canvas: int) -> PtychoPINNModule:
    L.seed_everything(config.training.seed, workers=True, verbose=False)
    return PtychoPINNModule(config=to_dict(config), intensity_scale=data.intensity_scale,
                            canvas=canvas, probe=data.probe)


def _calibrate_scale(module: PtychoPINNModule, data: TrainingData, train_ids: np.ndarray
                     ) -> None:
    """Calibrate the new module's learned intensity scale on up to 128 training groups
    spread over the scan (``PtychoPINNModule.calibrate_intensity_scale`` says why)."""
    if len(train_ids) == 0:
        return
    sample = train_ids[np.linspace(0, len(train_ids) - 1, min(len(train_ids), 128)).astype(int)]
    diffraction, offsets = GroupDataset(data, sample).__getitems__(list(range(len(sample))))
    module.calibrate_intensity_scale(diffraction, offsets)


def train(
    scan: str | Path | Scan | TrainingData,
    config: PtychoConfig | None = None,
    observer: TrainingObserver | None = None,
    cancel: CancelToken | None = None,
    resume_from: str | Path | None = None,
    validation_scan: str | Path | Scan | TrainingData | None = None,
    *,
    run_dir: str | Path | None = None,
    time_limit_s: float | None = None,
    accelerator: str | None = None,
    devices: int | str | None = None,
    num_nodes: int = 1,
    strategy: str | None = None,
    progress_bar: bool = False,
) -> TrainingResult:
    """Train PtychoPINN on ``scan`` with a real ``lightning.Trainer``.

    ``scan`` may be a path, a Scan or TrainingData; it is normalised once, here.
    Without ``validation_scan`` a seeded ``training.val_fraction`` of the groups
    is held out. ``resume_from`` (a run folder) continues that run's last
    checkpoint with its config and history. Raises TrainingError on NaN loss or
    out-of-memory; a cancel or the time limit ends the run with status
    'cancelled' / 'time_limit' and keeps the last full epoch's checkpoint.
    """
    observer = observer or TrainingObserver()
    configure_threads()
    resume_dir, resume_checkpoint = _resolve_resume(resume_from)
    if config is None:
        config = load_config(resume_dir / "config.toml") if resume_dir else PtychoConfig()
    try:
        data = as_training_data(scan, config)
        validation = (as_training_data(validation_scan, config)
                      if validation_scan is not None else None)
        run_path = Path(run_dir) if run_dir else (resume_dir or default_run_dir(data.source))
        run_path.mkdir(parents=True, exist_ok=True)
        with quiet_lightning():
            return _fit(data, validation, config, observer, cancel, resume_checkpoint, run_path,
                        time_limit_s, accelerator, devices, num_nodes, strategy, progress_bar)
    except PtychoError as error:
        observer.failed(str(error))
        raise
    except torch.cuda.OutOfMemoryError:
        message = (f"the GPU ran out of memory at training.batch_size = "
                   f"{config.training.batch_size}; halve training.batch_size and try again")
        observer.failed(message)
        raise TrainingError(message) from None


def _fit(data: TrainingData, validation: TrainingData | None, config: PtychoConfig,
         observer: TrainingObserver, cancel: CancelToken | None, resume_checkpoint: Path | None,
         run_path: Path, time_limit_s: float | None, accelerator: str | None,
         devices: int | str | None, num_nodes: int, strategy: str | None,
         progress_bar: bool) -> TrainingResult:
    training = config.training
    save_config(config, run_path / "config.toml")
    max_offset = max(data.max_offset, validation.max_offset if validation else 0.0)
    module = _make_module(data, config, canvas_size(config.data.N, max_offset))
    datamodule = PtychoDataModule(data, batch_size=training.batch_size,
                                  val_fraction=training.val_fraction, seed=training.seed,
                                  validation=validation)
    if resume_checkpoint is None and config.model.intensity_scale_trainable:
        _calibrate_scale(module, data, datamodule.train_ids)
    stop = StopControl(cancel, time_limit_s)
    chosen = _accelerator(config, accelerator)
    if training.compile == "on" or (training.compile == "auto" and chosen == "gpu"):
        module.compile_network()
    device_name = device_description(chosen)
    floors = loss_floors(data, datamodule.train_ids, validation, datamodule.val_ids,
                         training.nll_weight)
    bridge = ObserverBridge(observer, stop, run_path / "history.csv",
                            _resumed_history(run_path, resume_checkpoint), data.gridsize**2,
                            _preview_maker(data, config) if observer.wants_previews() else None,
                            training.preview_every, device_name,
                            floors)
    trainer = _build_trainer(config, run_path, chosen, stop, bridge,
                             "val_loss" if datamodule.has_validation else "train_loss",
                             devices, num_nodes, strategy, progress_bar)
    started = time.monotonic()
    info = {"status": "running", "rank": trainer.global_rank, "source": data.source,
            "patterns": int(len(data.positions)),
            "groups": int(data.groups.indices.shape[0]), "device": device_name,
            "nphotons": data.nphotons, "intensity_scale": data.intensity_scale,
            "loss_floor": ({"train": floors[0], "validation": floors[1]} if floors else None),
            "started": datetime.now(timezone.utc).isoformat()}
    if trainer.is_global_zero:
        _write_run_info(run_path, info)
    trainer.fit(module, datamodule=datamodule,
                ckpt_path=str(resume_checkpoint) if resume_checkpoint else None)
    status = stop.reason or "finished"
    module = module.cpu() if chosen == "cpu" else module
    info.update(status=status, seconds=time.monotonic() - started,
                epochs=len(bridge.history),
                final_train_loss=bridge.history[-1].train_loss if bridge.history else None,
                final_val_loss=bridge.history[-1].val_loss if bridge.history else None,
                trained_intensity_scale=module.trained_intensity_scale,
                finished=datetime.now(timezone.utc).isoformat())
    if trainer.is_global_zero:
        _write_run_info(run_path, info)
    result = TrainingResult(module=module.eval(), history=bridge.history, config=config,
                            intensity_scale=module.trained_intensity_scale,
                            probe=module.probe.detach().cpu().numpy(), run_dir=run_path,
                            status=status, data=data, info=info)
    observer.finished(status, info)
    return result


def _resumed_history(run_path: Path, resume_checkpoint: Path | None) -> list[EpochRecord]:
    """The run's history up to the checkpoint being resumed ([] for a new run): epochs
    logged after that checkpoint was written (a kill mid-save) are dropped, so the
    continued history has no duplicate epoch."""
    if resume_checkpoint is None:
        return []
    done = int(read_checkpoint(resume_checkpoint).get("epoch", -1)) + 1
    return [record for record in read_history(run_path / "history.csv") if record.epoch <= done]


def _build_trainer(config: PtychoConfig, run_path: Path, accelerator: str, stop: StopControl,
                   bridge: ObserverBridge, monitor: str, devices: int | str | None,
                   num_nodes: int, strategy: str | None, progress_bar: bool) -> L.Trainer:
    """The one place a Trainer is made: callbacks (stop, observer bridge, atomic last/best
    checkpoints, optional early stopping), precision, loggers and devices."""
    checkpoint = AtomicModelCheckpoint(
        stop, dirpath=str(checkpoint_dir(run_path)), filename="best", monitor=monitor,
        mode="min", save_top_k=1, save_last=True, enable_version_counter=False)
    callbacks: list[Any] = [stop, bridge]
    if config.training.lr_decay_fraction > 0:
        callbacks.append(BudgetDecay(stop, config.training.lr_decay_fraction,
                                     config.training.min_learning_rate))
    callbacks.append(checkpoint)
    if config.training.early_stop_patience > 0:
        from lightning.pytorch.callbacks import EarlyStopping

        callbacks.append(EarlyStopping(monitor=monitor,
                                       patience=config.training.early_stop_patience))
    return L.Trainer(
        accelerator=accelerator, devices=devices or 1, num_nodes=num_nodes,
        strategy=strategy or "auto", precision=_precision(config, accelerator),
        max_epochs=config.training.epochs, callbacks=callbacks,
        plugins=[AtomicCheckpointIO()], logger=_extra_logger(config, run_path),
        default_root_dir=str(run_path), enable_progress_bar=progress_bar,
        enable_model_summary=False, deterministic=False, num_sanity_val_steps=0,
        log_every_n_steps=1)


def _extra_logger(config: PtychoConfig, run_path: Path) -> Any:
    """False (history.csv only) or the TensorBoard/MLflow logger the config asks for."""
    choice = config.training.logger
    if choice == "none":
        return False
    try:
        if choice == "tensorboard":
            from lightning.pytorch.loggers import TensorBoardLogger

            return TensorBoardLogger(str(run_path), name="tensorboard")
        from lightning.pytorch.loggers import MLFlowLogger

        return MLFlowLogger(tracking_uri=(run_path / "mlruns").resolve().as_uri())
    except ModuleNotFoundError as error:
        raise ConfigError([("training.logger", f"'{choice}' needs the package {error.name}, "
                            "which is not installed; pip install it or set 'none'")]) from None


__all__ = ["train", "TrainingResult"]
