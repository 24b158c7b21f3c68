"""The PtychoPINN LightningModule: network + differentiable physics + Poisson loss.

The network is a plain ``nn.Module``; this "system" wires it to the forward
model (merge/extract, probe, far field) and the loss. Everything it needs
(config, probe, intensity scale, canvas size) arrives through ``__init__`` as
plain values and buffers, so two modules in one process never share state and
a checkpoint rebuilds the module on its own.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import lightning as L
import numpy as np
import torch
from torch import nn

from ..core.config import PtychoConfig, from_dict, to_dict
from ..physics import (
    canvas_size,
    combined_loss,
    disc_mask,
    forward_amplitude,
    normalise_probe,
    object_views,
    overlap_weight,
)
from .network import build_network

logger = logging.getLogger(__name__)

PROBE_BIG_BORDER_WEIGHT = 1e-3  # border pixels count only where no central window covers


class PtychoPINNModule(L.LightningModule):
    """Self-supervised PtychoPINN training system.

    config: the run's config as a nested dict of plain values (``config.to_dict``).
    intensity_scale: s, so that s * normalised amplitude = sqrt(photons).
    canvas: side of the shared group canvas in pixels (from the largest group offset).
    probe: (N, N) complex probe as measured; normalised here (reference c.4).
    """

    def __init__(self, config: dict[str, Any], intensity_scale: float, canvas: int,
                 probe: np.ndarray | None = None):
        super().__init__()
        self.save_hyperparameters(ignore=["probe"])
        self.config: PtychoConfig = from_dict(config)
        data, model = self.config.data, self.config.model
        self.N, self.gridsize = data.N, data.gridsize
        # channels-last convolutions: measured 2x faster on CPU (oneDNN) and the fast
        # layout for tensor cores on GPU
        self.network = build_network(data, model).to(memory_format=torch.channels_last)
        if probe is None:  # restored from a checkpoint's state_dict right after
            probe = np.ones((data.N, data.N), np.complex64)
        probe_t = normalise_probe(torch.from_numpy(np.asarray(probe, np.complex64)),
                                  model.probe_scale)
        probe_real, probe_imag = probe_t.real.contiguous(), probe_t.imag.contiguous()
        if model.probe_trainable:
            self.probe_real = nn.Parameter(probe_real)
            self.probe_imag = nn.Parameter(probe_imag)
        else:
            self.register_buffer("probe_real", probe_real)
            self.register_buffer("probe_imag", probe_imag)
        self.log_scale = nn.Parameter(torch.tensor(math.log(intensity_scale), dtype=torch.float32),
                                      requires_grad=model.intensity_scale_trainable)
        border = PROBE_BIG_BORDER_WEIGHT if model.probe_big else 0.0
        self.register_buffer("overlap_weight", overlap_weight(data.N, border), persistent=False)
        mask = disc_mask(data.N) if model.probe_mask else torch.ones(data.N, data.N)
        self.register_buffer("exit_mask", mask, persistent=False)
        self.input_scale = float(intensity_scale)
        self.__dict__["_compiled_network"] = None  # not a submodule: no duplicate weights

    def compile_network(self) -> None:
        """Use torch.compile for the network; the first call falls back to eager on failure."""
        self.__dict__["_compiled_network"] = torch.compile(self.network)

    def _run_network(self, scaled: torch.Tensor) -> torch.Tensor:
        compiled = self.__dict__.get("_compiled_network")
        if compiled is None:
            return self.network(scaled)
        try:
            return compiled(scaled)
        except Exception as error:  # compilation problems surface at the first call
            logger.warning("torch.compile failed (%s: %s); continuing without compilation",
                           type(error).__name__, str(error).splitlines()[0][:200])
            self.__dict__["_compiled_network"] = None
            return self.network(scaled)

    # ------------------------------------------------------------------ model
    @property
    def probe(self) -> torch.Tensor:
        """(N, N) complex64 normalised probe."""
        return torch.complex(self.probe_real.float(), self.probe_imag.float())

    @property
    def trained_intensity_scale(self) -> float:
        return float(torch.exp(self.log_scale.detach()).item())

    def forward(self, diffraction: torch.Tensor) -> torch.Tensor:
        """(B, C, N, N) normalised amplitudes -> (B, K, N, N) complex object patches."""
        scaled = diffraction * (self.input_scale / torch.exp(self.log_scale))
        return self._run_network(scaled.contiguous(memory_format=torch.channels_last))

    def member_views(self, patches: torch.Tensor, offsets: torch.Tensor, canvas: int
                     ) -> torch.Tensor:
        """(B, C, N, N) complex object seen by each group member (centred on its position).

        canvas: side of the merge canvas, at least ``canvas_for(max offset)``.
        """
        views, _ = object_views(patches, offsets, object_big=self.config.model.object_big,
                                canvas=canvas, weight=self.overlap_weight.to(patches.real.dtype))
        return views

    def canvas_for(self, max_abs_offset: float) -> int:
        """The training canvas, grown when another scan's groups have larger offsets."""
        return max(int(self.hparams.canvas), canvas_size(self.N, max_abs_offset))

    def predicted_amplitude(self, diffraction: torch.Tensor, offsets: torch.Tensor
                            ) -> torch.Tensor:
        """(B, C, N, N) predicted amplitude in sqrt(photons), through the physics."""
        patches = self(diffraction)
        amplitude, _ = forward_amplitude(
            patches, offsets, self.probe, object_big=self.config.model.object_big,
            canvas=int(self.hparams.canvas), weight=self.overlap_weight,
            probe_mask=self.exit_mask if self.config.model.probe_mask else None)
        return amplitude.float() * torch.exp(self.log_scale)

    @torch.no_grad()
    def calibrate_intensity_scale(self, diffraction: torch.Tensor, offsets: torch.Tensor
                                  ) -> float:
        """Start the learned scale where the untrained prediction has the measured mean count.

        Why: ``s`` assumes an object amplitude near 1, but the untrained sigmoid head
        gives 0.5, so the first Adam steps drive the whole amplitude head into
        saturation at 1, where its gradient vanishes; the loss then sits on a plateau
        for several epochs (measured: takeoff at epoch 9 instead of 6 on the 2,000-pattern
        quality benchmark, amplitude stuck at 0.999). Moving the scale instead keeps the
        amplitude mid-range. The reference initialises ``log_scale = ln s``; this is
        the deliberate difference. Returns the factor applied to the scale.
        """
        predicted = self.predicted_amplitude(diffraction, offsets)
        measured = diffraction.float() * self.input_scale
        predicted_mean, measured_mean = float(predicted.square().mean()), float(
            measured.square().mean())
        if not (predicted_mean > 0 and measured_mean > 0 and math.isfinite(predicted_mean)):
            return 1.0
        factor = math.sqrt(measured_mean / predicted_mean)
        self.log_scale.add_(math.log(factor))
        return factor

    def _loss(self, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        diffraction, offsets = batch
        predicted = self.predicted_amplitude(diffraction, offsets)
        measured = diffraction.float() * self.input_scale
        training = self.config.training
        return combined_loss(predicted, measured, training.nll_weight, training.mae_weight)

    # ---------------------------------------------------------------- lightning
    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int
                      ) -> torch.Tensor:
        loss = self._loss(batch)
        self.log("train_loss", loss, on_step=False, on_epoch=True, prog_bar=True,
                 sync_dist=True, batch_size=batch[0].shape[0])
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int
                        ) -> torch.Tensor:
        loss = self._loss(batch)
        self.log("val_loss", loss, on_step=False, on_epoch=True, prog_bar=True,
                 sync_dist=True, batch_size=batch[0].shape[0])
        return loss

    def on_train_epoch_start(self) -> None:
        self.log("lr", self.optimizers().param_groups[0]["lr"], on_step=False, on_epoch=True,
                 sync_dist=True)

    def predict_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int
                     ) -> torch.Tensor:
        diffraction, offsets = batch
        canvas = self.canvas_for(float(offsets.abs().max()) if offsets.numel() else 0.0)
        return self.member_views(self(diffraction), offsets, canvas)

    def configure_optimizers(self) -> dict[str, Any]:
        training = self.config.training
        parameters = [p for p in self.parameters() if p.requires_grad]
        optimizer = torch.optim.Adam(parameters, lr=self.scaled_learning_rate())
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min", factor=0.5, patience=training.lr_patience,
            min_lr=min(training.min_learning_rate, training.learning_rate))
        monitor = "val_loss" if self._has_validation() else "train_loss"
        return {"optimizer": optimizer,
                "lr_scheduler": {"scheduler": scheduler, "monitor": monitor,
                                 "interval": "epoch", "strict": False}}

    def scaled_learning_rate(self) -> float:
        """training.learning_rate x sqrt(number of processes).

        With DDP the effective batch is batch_size x processes; the square-root rule
        keeps Adam's update noise about constant (the torch port's rule too).
        """
        world = self._trainer.world_size if self._trainer is not None else 1
        return self.config.training.learning_rate * math.sqrt(world)

    def _has_validation(self) -> bool:
        trainer = self._trainer
        if trainer is None or trainer.datamodule is None:
            return False
        return bool(getattr(trainer.datamodule, "has_validation", False))

    def config_dict(self) -> dict[str, Any]:
        return to_dict(self.config)
