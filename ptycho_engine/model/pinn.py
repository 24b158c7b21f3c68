"""``PtychoPINN``: the network wired to the physics, as a plain ``nn.Module`` (no Lightning).

Network + normalised probe + intensity scale + forward model: everything that
inference, bundles and ONNX export need, so none of them imports Lightning.
Everything the module needs (config, probe, intensity scale, canvas size)
arrives through ``__init__`` as plain values and tensors, so two models in one
process never share state and a checkpoint or bundle rebuilds one on its own.
The training system (``model.system``) holds one and adds optimiser and logging.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from ..core.config import PtychoConfig, from_dict, to_dict
from ..physics import (
    GroupWindows,
    canvas_size,
    disc_mask,
    forward_amplitude,
    gather_views,
    group_windows,
    member_probes,
    merge_patches,
    normalise_probe,
    overlap_weight,
    refine_canvas,
)
from .network import build_network

logger = logging.getLogger(__name__)

PROBE_BIG_BORDER_WEIGHT = 1e-3  # border pixels count only where no central window covers


class PtychoPINN(nn.Module):
    """PtychoPINN: normalised diffraction amplitudes to object patches, and through the
    physics back to predicted diffraction (docs/method.md, "Forward model").

    config: a PtychoConfig, or its nested dict of plain values (``config.to_dict``).
    intensity_scale: s, so that s * normalised amplitude = sqrt(photons).
    canvas: side of the shared group canvas in pixels (from the largest group offset).
    probe: (N, N) complex probe as measured; normalised here (docs/method.md, "Probe").
    """

    def __init__(self, config: PtychoConfig | Mapping[str, Any], intensity_scale: float,
                 canvas: int, probe: np.ndarray | None = None):
        super().__init__()
        self.config = config if isinstance(config, PtychoConfig) else from_dict(dict(config))
        data, model = self.config.data, self.config.model
        self.N, self.gridsize = data.N, data.gridsize
        self.canvas = int(canvas)
        self.input_scale = float(intensity_scale)
        # channels-last convolutions: measured 2x faster on CPU (oneDNN) and the fast
        # layout for tensor cores on GPU
        self.network = build_network(data, model).to(memory_format=torch.channels_last)
        self._register_probe(probe)
        self.log_scale = nn.Parameter(torch.tensor(math.log(intensity_scale), dtype=torch.float32),
                                      requires_grad=model.intensity_scale_trainable)
        border = PROBE_BIG_BORDER_WEIGHT if model.probe_big else 0.0
        self.register_buffer("overlap_weight", overlap_weight(data.N, border), persistent=False)
        mask = disc_mask(data.N) if model.probe_mask else torch.ones(data.N, data.N)
        self.register_buffer("exit_mask", mask, persistent=False)
        if model.refine_steps > 0:  # learned step size of each physics refinement step
            self.refine_step_sizes = nn.Parameter(torch.ones(model.refine_steps))
        self._compiled_forward: Callable[[torch.Tensor], torch.Tensor] | None = None

    def _register_probe(self, probe: np.ndarray | None) -> None:
        """The normalised probe as real and imaginary tensors: parameters when the probe
        is refined during training, else buffers (both are saved with the weights)."""
        N, model = self.N, self.config.model
        if probe is None:  # restored from a checkpoint's or bundle's weights right after
            probe = np.ones((N, N), np.complex64)
        probe_t = normalise_probe(torch.from_numpy(np.asarray(probe, np.complex64)),
                                  model.probe_scale)
        probe_real, probe_imag = probe_t.real.contiguous(), probe_t.imag.contiguous()
        if model.probe_trainable:
            self.probe_real = nn.Parameter(probe_real)
            self.probe_imag = nn.Parameter(probe_imag)
        else:
            self.register_buffer("probe_real", probe_real)
            self.register_buffer("probe_imag", probe_imag)

    def hyper_parameters(self) -> dict[str, Any]:
        """The plain values that rebuild this module (with its weights): what checkpoints
        keep as ``hyper_parameters`` and bundles in their manifest."""
        return {"config": to_dict(self.config), "intensity_scale": self.input_scale,
                "canvas": self.canvas}

    # ------------------------------------------------------------------ network
    def compile_network(self) -> None:
        """Use torch.compile for the network; the first call falls back to eager on failure.

        The compiled forward is a plain function, not a submodule, so the weights are
        not registered twice.
        """
        self._compiled_forward = torch.compile(self.network.forward)

    def _run_network(self, scaled: torch.Tensor) -> torch.Tensor:
        if self._compiled_forward is None:
            return self.network(scaled)
        try:
            return self._compiled_forward(scaled)
        except Exception as error:  # compilation problems surface at the first call
            logger.warning("torch.compile failed (%s: %s); continuing without compilation",
                           type(error).__name__, str(error).splitlines()[0][:200])
            self._compiled_forward = None
            return self.network(scaled)

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

    # ------------------------------------------------------------------ physics
    def canvas_for(self, max_abs_offset: float) -> int:
        """The training canvas, grown when another scan's groups have larger offsets."""
        return max(self.canvas, canvas_size(self.N, max_abs_offset))

    def step_sizes(self) -> torch.Tensor:
        """The refinement's step sizes: learned ones, or 1 for a model trained without."""
        sizes = getattr(self, "refine_step_sizes", None)
        return sizes if sizes is not None else torch.ones(1, device=self.probe_real.device)

    def group_object(self, diffraction: torch.Tensor, offsets: torch.Tensor, *,
                     canvas: int | None = None, refine_steps: int | None = None
                     ) -> tuple[torch.Tensor, GroupWindows, torch.Tensor]:
        """Each group's object canvas, its members' windows and their probes.

        diffraction: (B, C, N, N) normalised amplitudes; offsets: (B, C, 2) [x, y] px,
        member position − group anchor. The network's patches are merged on the canvas
        (the overlap constraint), then refined by ``refine_steps`` physics steps with
        the group's own patterns (default: ``model.refine_steps``; docs/method.md,
        "Physics refinement"). Returns canvases (B, M, M) complex, the windows, and
        the probes (see ``physics.member_probes``).
        """
        model = self.config.model
        windows = group_windows(offsets.float(), self.N, canvas or self.canvas)
        probes = member_probes(self.probe, windows,
                               self.exit_mask if model.probe_mask else None)
        objects = merge_patches(self(diffraction), windows, self.overlap_weight,
                                object_big=model.object_big)
        steps = model.refine_steps if refine_steps is None else refine_steps
        if steps > 0:
            target = diffraction.float() * (self.input_scale / torch.exp(self.log_scale))
            objects = refine_canvas(objects, windows, probes, target, self.step_sizes(), steps,
                                    momentum=model.refine_momentum)
        return objects, windows, probes

    def member_views(self, diffraction: torch.Tensor, offsets: torch.Tensor, *,
                     canvas: int | None = None, refine_steps: int | None = None
                     ) -> torch.Tensor:
        """(B, C, N, N) complex object seen by each group member, on the member's
        whole-pixel window (centred at anchor + the whole-pixel part of its offset)."""
        objects, windows, _ = self.group_object(diffraction, offsets, canvas=canvas,
                                                refine_steps=refine_steps)
        return gather_views(objects, windows)

    def predicted_amplitude(self, diffraction: torch.Tensor, offsets: torch.Tensor, *,
                            refine_steps: int | None = None) -> torch.Tensor:
        """(B, C, N, N) predicted amplitude in sqrt(photons), through the physics."""
        objects, windows, probes = self.group_object(diffraction, offsets,
                                                     refine_steps=refine_steps)
        amplitude = forward_amplitude(objects, windows, probes)
        return amplitude.float() * torch.exp(self.log_scale)

    def measured_amplitude(self, diffraction: torch.Tensor) -> torch.Tensor:
        """(B, C, N, N) normalised amplitudes back in sqrt(photons): the loss's target."""
        return diffraction.float() * self.input_scale

    @torch.no_grad()
    def calibrate_intensity_scale(self, diffraction: torch.Tensor, offsets: torch.Tensor
                                  ) -> float:
        """Start the learned scale where the untrained prediction has the measured mean count.

        Why: ``s`` assumes an object amplitude near 1, but the untrained sigmoid head
        gives 0.5, so the first Adam steps drive the whole amplitude head into
        saturation at 1, where its gradient vanishes; the loss then sits on a plateau
        for several epochs (measured: takeoff at epoch 9 instead of 6 on the 2,000-pattern
        quality benchmark, amplitude stuck at 0.999). Moving the scale instead keeps the
        amplitude mid-range. PtychoPINN initialises ``log_scale = ln s``; this is the
        deliberate difference (docs/method.md, "Intensity scale"). Measured on the
        network's own prediction (no refinement steps, which would hide the mismatch).
        Returns the factor applied to the scale.
        """
        predicted = self.predicted_amplitude(diffraction, offsets, refine_steps=0)
        measured = self.measured_amplitude(diffraction)
        predicted_mean, measured_mean = float(predicted.square().mean()), float(
            measured.square().mean())
        if not (predicted_mean > 0 and measured_mean > 0 and math.isfinite(predicted_mean)):
            return 1.0
        factor = math.sqrt(measured_mean / predicted_mean)
        self.log_scale.add_(math.log(factor))
        return factor
