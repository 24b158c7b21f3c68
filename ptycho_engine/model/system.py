"""The PtychoPINN training "system": a ``PtychoPINN`` model, its Poisson loss, optimiser
and learning-rate schedule, as a LightningModule.

Lightning's style: the model is a plain ``nn.Module`` (``model.pinn``); this
class only adds what training needs. Training and validation share one step;
the metric they are judged by (``monitor``) is a class attribute that the
scheduler here and the checkpoint and early-stopping callbacks all read.
"""

from __future__ import annotations

import math
from typing import Any

import lightning as L
import numpy as np
import torch

from ..physics import combined_loss
from .checkpoint import system_state
from .pinn import PtychoPINN

Batch = tuple[torch.Tensor, torch.Tensor]
"""(normalised amplitudes (B, C, N, N), offsets (B, C, 2) [x, y] pixels)."""


class PtychoPINNModule(L.LightningModule):
    """Self-supervised training of a PtychoPINN on measured diffraction.

    config, intensity_scale, canvas, probe: as for ``PtychoPINN`` (config as a nested
    dict of plain values, kept as the checkpoint's hyper-parameters).
    monitor: the logged metric that decides the best checkpoint, the plateau
    schedule and early stopping; 'train_loss' when there is no validation data.
    """

    monitor = "val_loss"

    def __init__(self, config: dict[str, Any], intensity_scale: float, canvas: int,
                 probe: np.ndarray | None = None, *, monitor: str | None = None):
        super().__init__()
        self.save_hyperparameters(ignore=["probe", "monitor"])
        self.model = PtychoPINN(config, intensity_scale, canvas, probe)
        if monitor is not None:
            self.monitor = monitor

    def forward(self, diffraction: torch.Tensor) -> torch.Tensor:
        """(B, C, N, N) normalised amplitudes -> (B, K, N, N) complex object patches."""
        return self.model(diffraction)

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        return self._common_step(batch, "train")

    def validation_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        return self._common_step(batch, "val")

    def predict_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        diffraction, offsets = batch
        canvas = self.model.canvas_for(float(offsets.abs().max()) if offsets.numel() else 0.0)
        return self.model.member_views(diffraction, offsets, canvas=canvas)

    def configure_optimizers(self) -> dict[str, Any]:
        training = self.model.config.training
        parameters = [p for p in self.parameters() if p.requires_grad]
        optimizer = torch.optim.Adam(parameters, lr=self.scaled_learning_rate())
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min", factor=0.5, patience=training.lr_patience,
            min_lr=min(training.min_learning_rate, training.learning_rate))
        return {"optimizer": optimizer,
                "lr_scheduler": {"scheduler": scheduler, "monitor": self.monitor,
                                 "interval": "epoch", "strict": False}}

    def on_train_epoch_start(self) -> None:
        self.log("lr", self.optimizers().param_groups[0]["lr"], on_step=False, on_epoch=True,
                 sync_dist=True)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Checkpoints written before the model moved into ``self.model`` keep loading."""
        checkpoint["state_dict"] = system_state(checkpoint["state_dict"])

    def loss(self, batch: Batch) -> torch.Tensor:
        """The physics-informed loss of a batch (docs/method.md, "Loss")."""
        diffraction, offsets = batch
        training = self.model.config.training
        return combined_loss(self.model.predicted_amplitude(diffraction, offsets),
                             self.model.measured_amplitude(diffraction),
                             training.nll_weight, training.mae_weight)

    def _common_step(self, batch: Batch, stage: str) -> torch.Tensor:
        """The loss of a training or validation batch, logged as '<stage>_loss' per epoch."""
        loss = self.loss(batch)
        self.log(f"{stage}_loss", loss, on_step=False, on_epoch=True, prog_bar=True,
                 sync_dist=True, batch_size=batch[0].shape[0])
        return loss

    def scaled_learning_rate(self) -> float:
        """training.learning_rate x sqrt(number of processes).

        With DDP the effective batch is batch_size x processes; the square-root rule
        keeps Adam's update noise about constant (the torch port's rule too).
        """
        return self.model.config.training.learning_rate * math.sqrt(self.trainer.world_size)
