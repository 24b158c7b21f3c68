"""The one form training data takes: normalised amplitudes, groups, probe and scale.

``as_training_data`` is the single entry point that turns whatever a caller
has (a path, a Scan, or already prepared data) into ``TrainingData``; nothing
downstream checks types again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.config import PtychoConfig
from ..core.errors import ConfigError
from .grouping import Groups, amplitude_normalisation, intensity_scale, make_groups
from .io import load_scan
from .scan import Scan

DEFAULT_PHOTONS = 1e9  # the reference's default when a scan does not know its dose


@dataclass(frozen=True)
class TrainingData:
    """Everything a DataModule and a model need from one scan.

    diffraction: (n, N, N) float32 normalised amplitudes (mean sum X**2 = (N/2)**2).
    probe: (N, N) complex64 probe as measured (normalised later, by the model).
    intensity_scale: s, so that s * diffraction is sqrt(photon counts).
    """

    diffraction: np.ndarray
    groups: Groups
    probe: np.ndarray
    intensity_scale: float
    positions: np.ndarray
    nphotons: float
    source: str
    ground_truth: np.ndarray | None = None

    @property
    def N(self) -> int:
        return int(self.diffraction.shape[-1])

    @property
    def gridsize(self) -> int:
        return int(self.groups.gridsize)

    @property
    def max_offset(self) -> float:
        offsets = self.groups.relative_offsets
        return float(np.abs(offsets).max()) if offsets.size else 0.0


def photons_per_pattern(scan: Scan, config: PtychoConfig) -> float:
    """The dose that sets the Poisson statistics: config, else the scan's own, else 1e9."""
    if config.data.nphotons > 0:
        return float(config.data.nphotons)
    measured = scan.mean_photons_per_pattern()
    if measured > 0 and math.isfinite(measured):
        return measured
    return DEFAULT_PHOTONS


def prepare_training_data(scan: Scan, config: PtychoConfig, *, all_positions: bool = False
                          ) -> TrainingData:
    """Group and normalise a scan for training (or, with ``all_positions``, for inference)."""
    if scan.N != config.data.N:
        raise ConfigError([("data.N", f"is {config.data.N} but the scan '{scan.name}' has "
                            f"{scan.N}x{scan.N} patterns; set data.N = {scan.N}")])
    raw = scan.diffraction_array()
    factor = amplitude_normalisation(raw)
    groups = make_groups(scan.positions, config.data.gridsize, config.data.neighbor_count,
                         0 if all_positions else config.data.n_groups, config.training.seed)
    nphotons = photons_per_pattern(scan, config)
    return TrainingData(
        diffraction=(raw * np.float32(factor)).astype(np.float32, copy=False),
        groups=groups,
        probe=scan.probe,
        intensity_scale=intensity_scale(nphotons, scan.N),
        positions=scan.positions,
        nphotons=nphotons,
        source=scan.metadata.source_file or scan.name,
        ground_truth=scan.ground_truth,
    )


def as_training_data(source: str | Path | Scan | TrainingData, config: PtychoConfig
                     ) -> TrainingData:
    """Normalise what a caller passes (path, Scan or TrainingData) into TrainingData."""
    if isinstance(source, TrainingData):
        return source
    if isinstance(source, (str, Path)):
        source = load_scan(source)
    return prepare_training_data(source, config)
