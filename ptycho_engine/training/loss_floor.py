"""The lowest value the training loss can reach on given data: its Poisson floor.

The Poisson NLL λ - k·log λ is smallest where every predicted count equals the
measured one (λ = k), and that minimum, averaged over a split's groups, depends on
the data alone. Loss minus floor is never negative (half the Poisson deviance per
pixel, plus the MAE term when weighted) and falls towards 0 as the fit improves:
it goes on a log axis as it is, and train and validation curves become comparable
although their patterns differ.
"""

from __future__ import annotations

import numpy as np
import torch

from ..data.training_data import TrainingData
from ..physics import poisson_nll_terms

CHUNK_PATTERNS = 1024
"""Patterns per vectorised step (about 17 MB of float32 at N = 64)."""


def pattern_floors(data: TrainingData) -> np.ndarray:
    """(n,) float64: the mean Poisson NLL term of each pattern at a perfect prediction."""
    floors = np.empty(len(data.diffraction), np.float64)
    for start in range(0, len(floors), CHUNK_PATTERNS):
        measured = torch.from_numpy(
            np.asarray(data.diffraction[start:start + CHUNK_PATTERNS], np.float32))
        measured = measured * data.intensity_scale
        floors[start:start + len(measured)] = (
            poisson_nll_terms(measured, measured).mean(dim=(-2, -1)).double().numpy())
    return floors


def split_floor(floors: np.ndarray, data: TrainingData, group_ids: np.ndarray | None,
                nll_weight: float) -> float | None:
    """The loss floor of the groups ``group_ids`` of ``data`` (all groups when None), as
    the epoch loss averages them (every group weighs the same); None for no groups."""
    members = data.groups.indices if group_ids is None else data.groups.indices[group_ids]
    if members.size == 0:
        return None
    return float(nll_weight * floors[members].mean())


def loss_floors(data: TrainingData, train_ids: np.ndarray, validation: TrainingData | None,
                val_ids: np.ndarray | None, nll_weight: float
                ) -> tuple[float, float | None] | None:
    """(train floor, validation floor or None), or None when the loss has no Poisson term
    (an MAE-only loss is already positive and its floor is 0)."""
    if nll_weight == 0:
        return None
    floors = pattern_floors(data)
    train = split_floor(floors, data, train_ids, nll_weight)
    if train is None:
        return None
    if validation is not None:
        val = split_floor(pattern_floors(validation), validation, None, nll_weight)
    else:
        val = split_floor(floors, data, val_ids, nll_weight) if val_ids is not None else None
    return train, val
