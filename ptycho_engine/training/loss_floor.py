"""The lowest value the training loss can reach on given data: its Poisson floor.

The Poisson NLL λ - k·log λ is smallest where every predicted count equals the
measured one (λ = k), and that minimum, averaged over a split's groups, depends on
the data alone. Loss minus floor is never negative (half the Poisson deviance per
pixel, plus the MAE term when weighted) and falls towards 0 as the fit improves:
it goes on a log axis as it is, and train and validation curves become comparable
although their patterns differ.

Even a perfect model (λ = the true expected count μ) stays above the floor, because
the counts are noisy: by E[μ - k + k·log(k/μ)], about 0.5 per pixel with a few counts
or more, less for faint pixels, 0 for dark ones. ``noise_excess`` estimates that
expected excess from the counts, so that "far above the floor" can be judged in
units of what noise alone leaves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..data.training_data import TrainingData
from ..physics import poisson_nll_terms

CHUNK_PATTERNS = 1024
"""Patterns per vectorised step (about 17 MB of float32 at N = 64)."""


NOISE_EXCESS_PER_COUNT = (0.0, 1.0, 0.5)
"""Expected excess of a perfect model credited to a pixel with 0, 1, or 2+ counts.

Chosen against the exact expectation E[μ - k + k·log(k/μ)] (0.57 at μ = 1, 0.5 for
μ >> 1, μ·log(1/μ) for faint pixels): on simulated scans with known μ the estimate
was 0.47 for 0.48 (1e5 photons, N 32), 0.35 for 0.39 (1e6, N 64), 0.086 for 0.12
(1e4, N 64) and 0.50 for 0.50 (1e9); low at faint pixels, never far above."""


def pattern_statistics(data: TrainingData) -> tuple[np.ndarray, np.ndarray]:
    """(floors, noise excess), each (n,) float64 per pattern: the mean Poisson NLL term at a
    perfect prediction, and the estimated mean excess a perfect model keeps over it
    (``NOISE_EXCESS_PER_COUNT``). One pass over the diffraction (lazy files read once)."""
    floors = np.empty(len(data.diffraction), np.float64)
    noise = np.empty(len(data.diffraction), np.float64)
    none, one, more = NOISE_EXCESS_PER_COUNT
    for start in range(0, len(floors), CHUNK_PATTERNS):
        measured = torch.from_numpy(
            np.asarray(data.diffraction[start:start + CHUNK_PATTERNS], np.float32))
        measured = measured * data.intensity_scale
        chunk = slice(start, start + len(measured))
        floors[chunk] = poisson_nll_terms(measured, measured).mean(dim=(-2, -1)).double().numpy()
        counts = measured.double() ** 2
        credit = torch.where(counts >= 1.5, more, torch.where(counts >= 0.5, one, none))
        noise[chunk] = credit.mean(dim=(-2, -1)).numpy()
    return floors, noise


def pattern_floors(data: TrainingData) -> np.ndarray:
    """(n,) float64: the mean Poisson NLL term of each pattern at a perfect prediction."""
    return pattern_statistics(data)[0]


def split_floor(floors: np.ndarray, data: TrainingData, group_ids: np.ndarray | None,
                nll_weight: float) -> float | None:
    """The loss floor of the groups ``group_ids`` of ``data`` (all groups when None), as
    the epoch loss averages them (every group weighs the same); None for no groups."""
    members = data.groups.indices if group_ids is None else data.groups.indices[group_ids]
    if members.size == 0:
        return None
    return float(nll_weight * floors[members].mean())


@dataclass(frozen=True)
class LossFloors:
    """The floors of the training and validation loss (validation None without validation
    data) and the estimated excess a perfect model keeps over each (``pattern_statistics``),
    all in the loss's units (a mean over pixels, times training.nll_weight)."""

    train: float
    validation: float | None
    train_noise: float
    validation_noise: float | None

    @property
    def pair(self) -> tuple[float, float | None]:
        """(train floor, validation floor), as ``loss_floors`` returns them."""
        return self.train, self.validation


def floors_and_noise(data: TrainingData, train_ids: np.ndarray,
                     validation: TrainingData | None, val_ids: np.ndarray | None,
                     nll_weight: float) -> LossFloors | None:
    """The floors and noise excesses of both splits, or None when the loss has no Poisson
    term (an MAE-only loss is already positive and its floor is 0)."""
    if nll_weight == 0:
        return None
    floors, noise = pattern_statistics(data)
    train = split_floor(floors, data, train_ids, nll_weight)
    if train is None:
        return None
    train_noise = split_floor(noise, data, train_ids, nll_weight)
    if validation is not None:
        val_floors, val_noise = pattern_statistics(validation)
        val = split_floor(val_floors, validation, None, nll_weight)
        val_excess = split_floor(val_noise, validation, None, nll_weight)
    elif val_ids is not None:
        val = split_floor(floors, data, val_ids, nll_weight)
        val_excess = split_floor(noise, data, val_ids, nll_weight)
    else:
        val = val_excess = None
    return LossFloors(train, val, float(train_noise or 0.0), val_excess)


def loss_floors(data: TrainingData, train_ids: np.ndarray, validation: TrainingData | None,
                val_ids: np.ndarray | None, nll_weight: float
                ) -> tuple[float, float | None] | None:
    """(train floor, validation floor or None), or None when the loss has no Poisson term
    (an MAE-only loss is already positive and its floor is 0)."""
    found = floors_and_noise(data, train_ids, validation, val_ids, nll_weight)
    return None if found is None else found.pair
