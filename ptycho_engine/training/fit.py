"""``train()``: train PtychoPINN on a scan into a run folder, with a real ``lightning.Trainer``.

The run folder (``RunFolder``) gets config.toml, run.json, history.csv and
checkpoints, so a crash or a cancel loses at most the current epoch and
``resume_from`` continues it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch

from ..api import CancelToken, EpochRecord, TrainingObserver
from ..core.config import PtychoConfig, to_dict, with_overrides
from ..core.devices import accelerator as device_accelerator
from ..core.errors import PtychoError, TrainingError
from ..core.runtime import configure_threads, device_description, quiet_lightning
from ..data.scan import Scan
from ..data.training_data import TrainingData, as_training_data
from ..model.checkpoint import read_checkpoint
from ..model.pinn import PtychoPINN
from ..model.system import PtychoPINNModule
from ..physics import canvas_size
from .callbacks import ObserverBridge, StopControl
from .convergence import Convergence, assess_convergence
from .datamodule import GroupDataset, PtychoDataModule
from .loss_floor import LossFloors, floors_and_noise
from .previews import preview_maker
from .run_folder import RunFolder
from .trainer import build_trainer

CALIBRATION_GROUPS = 128
"""Training groups, spread over the scan, that calibrate a new model's intensity scale."""


@dataclass
class TrainingResult:
    """What a finished (or stopped) training leaves behind.

    module: the trained PtychoPINN in eval mode (on the CPU after CPU training).
    convergence: the verdict on the fit (``assess_convergence``), also in run.json.
    """

    module: PtychoPINN
    history: list[EpochRecord]
    config: PtychoConfig
    intensity_scale: float
    probe: np.ndarray
    run_dir: Path
    status: str
    data: TrainingData
    info: dict[str, Any] = field(default_factory=dict)
    convergence: Convergence | None = None

    @property
    def run_folder(self) -> RunFolder:
        return RunFolder(self.run_dir)

    @property
    def best_checkpoint(self) -> Path:
        return self.run_folder.best_checkpoint

    @property
    def last_checkpoint(self) -> Path:
        return self.run_folder.last_checkpoint


@dataclass(frozen=True)
class FitPlan:
    """Everything one fit needs, resolved from ``train``'s arguments."""

    data: TrainingData
    validation: TrainingData | None
    config: PtychoConfig
    run: RunFolder
    resume_checkpoint: Path | None
    accelerator: str
    devices: int | str | None = None
    num_nodes: int = 1
    strategy: str | None = None
    progress_bar: bool = False


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
    checkpoint with its config and history. ``training.time_limit_min`` ends the run
    when it is spent (the epochs are then only a cap); ``time_limit_s`` overrides it
    (seconds; 0 sets no limit) and is recorded in the run's config. Raises
    TrainingError on NaN loss or out-of-memory; a cancel or the time limit ends the
    run with status 'cancelled' / 'time_limit' and keeps the last full epoch's
    checkpoint.
    """
    observer = observer or TrainingObserver()
    configure_threads()
    resumed, resume_checkpoint = resume_point(resume_from)
    if config is None:
        config = resumed.read_config() if resumed else PtychoConfig()
    try:
        if time_limit_s is not None:
            config = with_overrides(config, {"training.time_limit_min": time_limit_s / 60})
        data = as_training_data(scan, config)
        run = (RunFolder(run_dir) if run_dir else resumed) or RunFolder.default_for(data.source)
        plan = FitPlan(data, None if validation_scan is None else as_training_data(
            validation_scan, config), config, run, resume_checkpoint,
            device_accelerator(accelerator or config.training.device), devices, num_nodes,
            strategy, progress_bar)
        run.create()
        with quiet_lightning():
            return fit(plan, observer,
                       StopControl(cancel, config.training.time_limit_min * 60))
    except PtychoError as error:
        observer.failed(str(error))
        raise
    except torch.cuda.OutOfMemoryError:
        message = (f"the GPU ran out of memory at training.batch_size = "
                   f"{config.training.batch_size}; halve training.batch_size and try again")
        observer.failed(message)
        raise TrainingError(message) from None


def resume_point(resume_from: str | Path | None) -> tuple[RunFolder | None, Path | None]:
    """(run folder, checkpoint) to resume from, or (None, None); PtychoError when the run
    folder cannot be resumed. A checkpoint file may be given instead of its run folder."""
    if resume_from is None:
        return None, None
    path = Path(resume_from)
    if path.is_file():
        return RunFolder(path.parent.parent), path
    run = RunFolder(path)
    problem = run.resume_problem()
    if problem:
        raise PtychoError(problem)
    return run, run.last_checkpoint


def fit(plan: FitPlan, observer: TrainingObserver, stop: StopControl) -> TrainingResult:
    """Run the fit ``plan`` describes; run.json is written as it starts and when it ends."""
    training = plan.config.training
    plan.run.write_config(plan.config)
    datamodule = PtychoDataModule(plan.data, batch_size=training.batch_size,
                                  val_fraction=training.val_fraction, seed=training.seed,
                                  validation=plan.validation)
    system = new_system(plan, datamodule)
    device_name = device_description(plan.accelerator)
    floors = floors_and_noise(plan.data, datamodule.train_ids, plan.validation,
                              datamodule.val_ids, training.nll_weight)
    bridge = ObserverBridge(
        observer, stop, plan.run, resumed_history(plan.run, plan.resume_checkpoint),
        plan.data.gridsize**2,
        preview_maker(plan.data, plan.config) if observer.wants_previews() else None,
        training.preview_every, device_name, floors.pair if floors else None)
    trainer = build_trainer(plan.config, plan.run, plan.accelerator, stop, bridge,
                            system.monitor, devices=plan.devices, num_nodes=plan.num_nodes,
                            strategy=plan.strategy, progress_bar=plan.progress_bar,
                            measure_untrained=(plan.resume_checkpoint is None
                                               and datamodule.has_validation))
    started = time.monotonic()
    untrained = recorded_untrained_loss(plan)
    info = start_info(plan, trainer.global_rank, device_name, floors, stop.time_limit_s)
    info["untrained_loss"] = untrained  # a resumed run keeps the one measured at its start
    if trainer.is_global_zero:
        plan.run.write_info(info)
    trainer.fit(system, datamodule=datamodule,
                ckpt_path=str(plan.resume_checkpoint) if plan.resume_checkpoint else None)
    model = system.model.cpu() if plan.accelerator == "cpu" else system.model
    if plan.resume_checkpoint is None:
        untrained = {"validation": bridge.untrained_val_loss}
    convergence = judge(bridge.history, floors, datamodule.has_validation, untrained)
    info.update(status=stop.reason or "finished", seconds=time.monotonic() - started,
                epochs=len(bridge.history),
                final_train_loss=bridge.history[-1].train_loss if bridge.history else None,
                final_val_loss=bridge.history[-1].val_loss if bridge.history else None,
                trained_intensity_scale=model.trained_intensity_scale,
                untrained_loss=untrained, convergence=convergence.to_dict(),
                finished=datetime.now(timezone.utc).isoformat())
    if trainer.is_global_zero:
        plan.run.write_info(info)
    result = TrainingResult(module=model.eval(), history=bridge.history, config=plan.config,
                            intensity_scale=model.trained_intensity_scale,
                            probe=model.probe.detach().cpu().numpy(), run_dir=plan.run.path,
                            status=info["status"], data=plan.data, info=info,
                            convergence=convergence)
    observer.finished(result.status, info)
    return result


def new_system(plan: FitPlan, datamodule: PtychoDataModule) -> PtychoPINNModule:
    """The training system for ``plan``: seeded weights, a calibrated intensity scale (new
    runs), compiled on request, judged by validation loss when there is validation data."""
    training = plan.config.training
    max_offset = max(plan.data.max_offset,
                     plan.validation.max_offset if plan.validation else 0.0)
    L.seed_everything(training.seed, workers=True, verbose=False)
    system = PtychoPINNModule(
        config=to_dict(plan.config), intensity_scale=plan.data.intensity_scale,
        canvas=canvas_size(plan.config.data.N, max_offset), probe=plan.data.probe,
        monitor="val_loss" if datamodule.has_validation else "train_loss")
    if plan.resume_checkpoint is None and plan.config.model.intensity_scale_trainable:
        calibrate_scale(system.model, plan.data, datamodule.train_ids)
    if training.compile == "on" or (training.compile == "auto" and plan.accelerator == "gpu"):
        system.model.compile_network()
    return system


def calibrate_scale(model: PtychoPINN, data: TrainingData, train_ids: np.ndarray) -> None:
    """Calibrate a new model's learned intensity scale on up to CALIBRATION_GROUPS training
    groups spread over the scan (``PtychoPINN.calibrate_intensity_scale`` says why)."""
    if len(train_ids) == 0:
        return
    picks = np.linspace(0, len(train_ids) - 1, min(len(train_ids), CALIBRATION_GROUPS))
    sample = train_ids[picks.astype(int)]
    diffraction, offsets = GroupDataset(data, sample).__getitems__(list(range(len(sample))))
    model.calibrate_intensity_scale(diffraction, offsets)


def recorded_untrained_loss(plan: FitPlan) -> dict[str, float | None]:
    """The untrained model's losses a resumed run's run.json recorded when the run began
    (read before this fit rewrites run.json); {'validation': None} for a new run."""
    recorded = (plan.run.info_or_empty().get("untrained_loss")
                if plan.resume_checkpoint is not None else None)
    value = recorded.get("validation") if isinstance(recorded, dict) else None
    return {"validation": float(value) if isinstance(value, int | float) else None}


def judge(history: list[EpochRecord], floors: LossFloors | None, has_validation: bool,
          untrained: dict[str, float | None]) -> Convergence:
    """The verdict on the fit; an MAE-only loss is judged against its floor of 0."""
    start = (None, untrained.get("validation"))
    if floors is None:
        return assess_convergence(history, (0.0, 0.0 if has_validation else None),
                                  untrained_loss=start)
    return assess_convergence(history, floors.pair, (floors.train_noise, floors.validation_noise),
                              untrained_loss=start)


def start_info(plan: FitPlan, rank: int, device_name: str, floors: LossFloors | None,
               time_limit_s: float | None) -> dict[str, Any]:
    """run.json as the fit starts: status 'running', the budget (time limit in seconds or
    None, epoch cap), the data's provenance, the device and the loss floors."""
    data = plan.data
    return {"status": "running", "rank": rank, "source": data.source,
            "patterns": int(len(data.positions)),
            "groups": int(data.groups.indices.shape[0]), "device": device_name,
            "nphotons": data.nphotons, "intensity_scale": data.intensity_scale,
            "budget": {"time_limit_s": time_limit_s,
                       "epoch_cap": plan.config.training.epochs},
            "loss_floor": ({"train": floors.train, "validation": floors.validation,
                            "train_noise": floors.train_noise,
                            "validation_noise": floors.validation_noise}
                           if floors else None),
            "started": datetime.now(timezone.utc).isoformat()}


def resumed_history(run: RunFolder, resume_checkpoint: Path | None) -> list[EpochRecord]:
    """The run's history up to the checkpoint being resumed ([] for a new run): epochs
    logged after that checkpoint was written (a kill mid-save) are dropped, so the
    continued history has no duplicate epoch."""
    if resume_checkpoint is None:
        return []
    done = int(read_checkpoint(resume_checkpoint).get("epoch", -1)) + 1
    return [record for record in run.read_history() if record.epoch <= done]


__all__ = ["train", "TrainingResult"]
