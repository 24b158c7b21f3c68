"""The Scan: one ptychography measurement, validated once at construction.

Conventions (PtychoPINN NPZ): diffraction is the *amplitude* (sqrt of photon
counts) with zero frequency at pixel (N/2, N/2); positions are (x, y) =
(column, row) of the probe centre in object pixels; the probe is sampled on
the object pixel grid. A patch centred on position (x, y) holds object pixels
rows y - N/2 ... y + N/2 - 1 and columns x - N/2 ... x + N/2 - 1.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import ScanFormatError


class LazyDiffraction(ABC):
    """A diffraction stack read on demand (e.g. a large HDF5 dataset).

    Indexing returns float32 amplitudes ``(…, N, N)``; ``np.asarray`` reads all.
    Implementations check every chunk they read for NaN/Inf/negative values
    and raise ScanFormatError naming the pattern.
    """

    @property
    @abstractmethod
    def shape(self) -> tuple[int, int, int]:
        """(n, N, N)."""

    @abstractmethod
    def read(self, index: int | slice | np.ndarray) -> np.ndarray:
        """Amplitudes of the selected patterns as float32."""

    dtype = np.dtype(np.float32)

    @property
    def ndim(self) -> int:
        return 3

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index: int | slice | np.ndarray) -> np.ndarray:
        return self.read(index)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        data = self.read(slice(None))
        return data if dtype is None else data.astype(dtype)


DiffractionStack = np.ndarray | LazyDiffraction


@dataclass(frozen=True)
class ScanMetadata:
    """What is known about how a scan was measured; None means unknown."""

    source_file: str = ""
    file_format: str = ""
    photons_per_pattern: float | None = None
    energy_eV: float | None = None
    wavelength_m: float | None = None
    detector_distance_m: float | None = None
    detector_pixel_m: float | None = None
    object_pixel_m: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def replace(self, **changes: Any) -> ScanMetadata:
        return dataclasses.replace(self, **changes)


def _sample_indices(n: int, count: int = 16) -> np.ndarray:
    """A few evenly spread pattern indices, for checks of lazily read stacks."""
    return np.unique(np.linspace(0, n - 1, num=min(n, count)).round().astype(np.int64))


def check_amplitudes(values: np.ndarray, *, source: str | None, key: str,
                     first_index: int = 0) -> None:
    """Raise ScanFormatError if amplitudes hold NaN, Inf or negative values."""
    finite = np.isfinite(values)
    if not finite.all():
        bad = int(np.argwhere(~finite)[0][0]) + first_index if values.ndim == 3 else first_index
        raise ScanFormatError(
            f"pattern {bad} holds NaN or Inf values; remove or repair the bad frames",
            source=source, key=key)
    if (values < 0).any():
        bad = int(np.argwhere(values < 0)[0][0]) + first_index if values.ndim == 3 else first_index
        raise ScanFormatError(
            f"pattern {bad} holds negative values; amplitudes (sqrt of counts) must be >= 0 "
            "(subtract the background before taking the square root, and clip at 0)",
            source=source, key=key)


def check_probe(probe: np.ndarray, N: int | None, *, source: str | Path | None,
                key: str) -> np.ndarray:
    """The probe as (N, N) complex64, or ScanFormatError (wrong shape, NaN/Inf, all zero).

    N=None accepts any square size.
    """
    probe = np.asarray(probe)
    expected = (N, N) if N is not None else (probe.shape[0], probe.shape[0])
    if probe.ndim != 2 or probe.shape != expected:
        target = f"({N}, {N}) to match the diffraction patterns" if N else "a square 2-D array"
        raise ScanFormatError(f"has shape {probe.shape}; expected {target} (resample the "
                              "probe to the pattern size)", source=source, key=key)
    if probe.dtype.kind not in "fiuc":
        raise ScanFormatError(f"has dtype {probe.dtype}; expected complex numbers",
                              source=source, key=key)
    probe = probe.astype(np.complex64)
    if not np.isfinite(probe).all():
        raise ScanFormatError("holds NaN or Inf values", source=source, key=key)
    if not np.abs(probe).any():
        raise ScanFormatError("is zero everywhere; a probe must illuminate something",
                              source=source, key=key)
    return probe


class Scan:
    """Diffraction amplitudes, scan positions, probe, optional ground truth, metadata.

    Parameters
    ----------
    diffraction: (n, N, N) float32 amplitudes, sqrt(photons), DC at (N/2, N/2);
        a numpy array or a LazyDiffraction.
    positions: (n, 2) float, (x, y) probe centres in object pixels.
    probe: (N, N) complex64 probe on the object pixel grid.
    ground_truth: optional (H, W) complex64 object in the same pixel frame as positions.
    """

    def __init__(
        self,
        diffraction: DiffractionStack,
        positions: np.ndarray,
        probe: np.ndarray,
        *,
        ground_truth: np.ndarray | None = None,
        metadata: ScanMetadata | None = None,
        diffraction_key: str = "diffraction",
        positions_key: str = "positions",
        probe_key: str = "probe",
    ):
        self.metadata = metadata or ScanMetadata()
        source = self.metadata.source_file or None
        self.diffraction = self._checked_diffraction(diffraction, source, diffraction_key)
        n, N = self.diffraction.shape[0], self.diffraction.shape[1]
        self.positions = self._checked_positions(positions, n, source, positions_key)
        self.probe = check_probe(probe, N, source=source, key=probe_key)
        self.ground_truth = self._checked_ground_truth(ground_truth, source)
        self.warnings: tuple[str, ...] = tuple(self._find_warnings())

    # ----------------------------------------------------------------- checks
    @staticmethod
    def _checked_diffraction(diffraction: DiffractionStack, source: str | None,
                             key: str) -> DiffractionStack:
        if not isinstance(diffraction, LazyDiffraction):
            diffraction = np.asarray(diffraction)
            if np.iscomplexobj(diffraction):
                raise ScanFormatError(
                    "is complex; diffraction must be real amplitudes (sqrt of counts); "
                    "take the modulus of the exit-wave transform first", source=source, key=key)
            if diffraction.dtype.kind not in "fiub":
                raise ScanFormatError(f"has dtype {diffraction.dtype}; expected real numbers",
                                      source=source, key=key)
        shape = tuple(diffraction.shape)
        if len(shape) != 3:
            raise ScanFormatError(f"has shape {shape}; expected (patterns, N, N)",
                                  source=source, key=key)
        if shape[0] == 0:
            raise ScanFormatError("holds zero patterns; the scan is empty", source=source, key=key)
        if shape[1] != shape[2]:
            raise ScanFormatError(f"patterns are {shape[1]}x{shape[2]}; expected square N x N "
                                  "patterns (crop the detector frames to a square)",
                                  source=source, key=key)
        if shape[1] < 8 or shape[1] % 2:
            raise ScanFormatError(f"patterns are {shape[1]}x{shape[2]}; expected an even N >= 8",
                                  source=source, key=key)
        if isinstance(diffraction, LazyDiffraction):
            picks = _sample_indices(shape[0])
            diffraction.read(picks)  # the reader checks what it reads
            return diffraction
        diffraction = np.ascontiguousarray(diffraction, dtype=np.float32)
        check_amplitudes(diffraction, source=source, key=key)
        return diffraction

    @staticmethod
    def _checked_positions(positions: np.ndarray, n: int, source: str | None,
                           key: str) -> np.ndarray:
        positions = np.asarray(positions)
        if positions.ndim != 2 or positions.shape[1] != 2:
            raise ScanFormatError(f"has shape {positions.shape}; expected (patterns, 2) "
                                  "columns x, y", source=source, key=key)
        if positions.shape[0] != n:
            raise ScanFormatError(f"has {positions.shape[0]} positions but there are {n} "
                                  "diffraction patterns; each pattern needs one position",
                                  source=source, key=key)
        if np.iscomplexobj(positions) or positions.dtype.kind not in "fiu":
            raise ScanFormatError(f"has dtype {positions.dtype}; expected real numbers",
                                  source=source, key=key)
        positions = positions.astype(np.float64)
        if not np.isfinite(positions).all():
            raise ScanFormatError("holds NaN or Inf positions", source=source, key=key)
        return positions

    @staticmethod
    def _checked_ground_truth(obj: np.ndarray | None, source: str | None) -> np.ndarray | None:
        if obj is None:
            return None
        obj = np.asarray(obj)
        if obj.ndim != 2:
            raise ScanFormatError(f"has shape {obj.shape}; expected a 2-D object",
                                  source=source, key="objectGuess")
        if obj.dtype.kind not in "biufc":
            raise ScanFormatError(f"has dtype {obj.dtype}; expected complex numbers",
                                  source=source, key="objectGuess")
        obj = obj.astype(np.complex64)
        if not np.isfinite(obj).all():
            raise ScanFormatError("holds NaN or Inf values", source=source, key="objectGuess")
        return obj

    def _find_warnings(self) -> list[str]:
        warnings = []
        rounded = np.round(self.positions, 3)
        unique = np.unique(rounded, axis=0).shape[0]
        if unique < self.n_patterns:
            warnings.append(f"{self.n_patterns - unique} duplicate scan positions "
                            "(patterns measured at the same place)")
        if isinstance(self.diffraction, np.ndarray):
            zero = int((self.diffraction.reshape(self.n_patterns, -1).max(axis=1) == 0).sum())
            if zero:
                warnings.append(f"{zero} all-zero patterns (no photons recorded)")
        if self.ground_truth is not None:
            height, width = self.ground_truth.shape
            half = self.N / 2
            x, y = self.positions[:, 0], self.positions[:, 1]
            outside = (x - half < 0) | (y - half < 0) | (x + half > width) | (y + half > height)
            if outside.any():
                warnings.append(f"{int(outside.sum())} scan positions reach beyond the "
                                f"{height}x{width} object (patches are zero-filled there)")
        if self.metadata.extra.get("near_field"):
            warnings.append(self.metadata.extra["near_field"])
        return warnings

    # ------------------------------------------------------------- properties
    @property
    def n_patterns(self) -> int:
        return int(self.diffraction.shape[0])

    @property
    def N(self) -> int:
        return int(self.diffraction.shape[1])

    @property
    def name(self) -> str:
        return Path(self.metadata.source_file).stem if self.metadata.source_file else "scan"

    @property
    def is_lazy(self) -> bool:
        return isinstance(self.diffraction, LazyDiffraction)

    def pattern(self, index: int) -> np.ndarray:
        """One (N, N) float32 amplitude pattern, read on demand for lazy stacks."""
        return np.asarray(self.diffraction[int(index)], dtype=np.float32)

    def diffraction_array(self) -> np.ndarray:
        """All amplitudes in memory as (n, N, N) float32."""
        return np.asarray(self.diffraction, dtype=np.float32)

    def mean_photons_per_pattern(self) -> float:
        """Mean total of amplitude**2 per pattern (photons if the data are counts)."""
        if self.metadata.photons_per_pattern is not None:
            return float(self.metadata.photons_per_pattern)
        picks = _sample_indices(self.n_patterns, 256) if self.is_lazy else slice(None)
        data = np.asarray(self.diffraction[picks], dtype=np.float64)
        return float((data**2).sum(axis=(1, 2)).mean())

    def __repr__(self) -> str:
        return (f"Scan({self.name!r}, patterns={self.n_patterns}, N={self.N}, "
                f"ground_truth={'yes' if self.ground_truth is not None else 'no'})")

    def subset(self, indices: np.ndarray) -> Scan:
        """A new in-memory scan with the selected patterns (sorted indices keep order)."""
        indices = np.asarray(indices)
        return Scan(np.asarray(self.diffraction[indices]), self.positions[indices], self.probe,
                    ground_truth=self.ground_truth, metadata=self.metadata)
