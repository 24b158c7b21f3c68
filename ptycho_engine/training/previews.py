"""Live reconstruction previews during training, for observers that show them.

A preview stitches only the covering groups of (at most) the 1,500 positions
nearest the scan's centre, with the refinement steps the model trains with: a
live indicator that costs little of an epoch. The final reconstruction follows
``inference.groups`` and ``inference.refine_steps``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..core.config import PtychoConfig
from ..data.grouping import make_groups
from ..data.training_data import TrainingData
from ..model.system import PtychoPINNModule
from ..reconstruction.inference import inference_batch_size, stitch_groups

PREVIEW_MAX_POSITIONS = 1500

PreviewMaker = Callable[[PtychoPINNModule], tuple[np.ndarray, np.ndarray]]
"""A training system -> (amplitude, phase), each (H, W) float32."""


def preview_positions(positions: np.ndarray) -> np.ndarray:
    """Sorted indices of the (at most PREVIEW_MAX_POSITIONS) positions nearest the centre."""
    if len(positions) <= PREVIEW_MAX_POSITIONS:
        return np.arange(len(positions))
    centre = np.median(positions, axis=0)
    keep = np.argsort(((positions - centre) ** 2).sum(axis=1))[:PREVIEW_MAX_POSITIONS]
    return np.sort(keep)


def preview_maker(data: TrainingData, config: PtychoConfig) -> PreviewMaker:
    """A function that stitches a preview of the scan's centre with the system's model."""
    chosen = preview_positions(data.positions)
    positions = data.positions[chosen]
    groups = make_groups(positions, config.data.gridsize, config.data.neighbor_count,
                         0, config.training.seed)
    diffraction = data.diffraction[chosen]

    def make(system: PtychoPINNModule) -> tuple[np.ndarray, np.ndarray]:
        recon = stitch_groups(system.model, diffraction, groups, positions,
                              batch_size=inference_batch_size(system.model),
                              crop=config.inference.stitch_crop, mode="covering",
                              refine_steps=config.model.refine_steps)
        return recon.amplitude, recon.phase

    return make
