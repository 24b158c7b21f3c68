"""One JSON-able description of a simulated scan, shared by the CLI and the demo.

``simulate_from_spec(SimulationSpec(...))`` builds the scan pattern, the object
(just large enough for the scan, or read from a file), the probe and the noisy
diffraction. The spec is stored in the scan's ``metadata.extra`` so a
simulated file says how it was made.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.errors import ConfigError, ScanFormatError
from ..data.scan import Scan
from .diffraction import simulate_scan
from .objects import OBJECT_KINDS, make_object, read_npz_array
from .probes import PROBE_KINDS, make_probe
from .scans import (
    fermat_spiral_positions,
    fit_to_object,
    place_in_new_object,
    raster_for_count,
)

SCAN_KINDS = ("fermat", "raster")


@dataclass(frozen=True)
class SimulationSpec:
    """Settings of a simulated scan; every field is a JSON value.

    object: "siemens", "lines", "grf", "dead_leaves" or "file:PATH" (an NPZ objectGuess).
    object_size: side of a generated object in pixels; 0 makes it just large enough.
    probe: "disc", "focused", "defocused" or "file:PATH" (an NPZ probeGuess).
    probe_diameter_px: probe (or defocused spot) diameter in object pixels; None is N/4
        (N·3/8 for "defocused").
    defocus_phase_rad: pupil-edge defocus phase of the "defocused" probe, radians.
    scan: "fermat" spiral or "raster"; patterns: number of diffraction patterns.
    N: pattern size in pixels. step_px: spacing of scan points, object pixels.
    jitter_px: standard deviation of random position errors added to the pattern, pixels.
    photons: mean expected photons per pattern. seed: seeds object, jitter and noise.
    noise: Poisson noise on (True) or expected amplitudes (False).
    object_pixel_m: object pixel size in metres, if known (files may carry their own).
    """

    object: str = "siemens"
    object_size: int = 0
    probe: str = "focused"
    probe_diameter_px: float | None = None
    defocus_phase_rad: float = 12.0
    scan: str = "fermat"
    patterns: int = 1000
    N: int = 64
    step_px: float = 6.0
    jitter_px: float = 0.0
    photons: float = 1e6
    seed: int = 1
    noise: bool = True
    object_pixel_m: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SimulationSpec:
        """A spec from a dict (e.g. JSON); unknown keys are an error naming them."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError([(f"simulate.{key}", f"unknown setting; known settings are "
                                                   f"{', '.join(sorted(known))}")
                               for key in unknown])
        spec = cls(**values)
        spec.validate()
        return spec

    def validate(self) -> None:
        """Raise ConfigError listing every field outside its allowed range."""
        problems = []
        kind_ok = self.object in OBJECT_KINDS[:-1] or self.object.startswith("file:")
        if not kind_ok:
            problems.append(("simulate.object", f"{self.object!r} is not one of "
                                                f"{', '.join(OBJECT_KINDS)}"))
        if not (self.probe in PROBE_KINDS[:-1] or self.probe.startswith("file:")):
            problems.append(("simulate.probe", f"{self.probe!r} is not one of "
                                               f"{', '.join(PROBE_KINDS)}"))
        if self.scan not in SCAN_KINDS:
            problems.append(("simulate.scan", f"{self.scan!r} is not one of "
                                              f"{', '.join(SCAN_KINDS)}"))
        checks = [
            ("object_size", self.object_size, 0, 16384, "pixels (0: just large enough)"),
            ("patterns", self.patterns, 1, 10_000_000, "patterns"),
            ("N", self.N, 8, 1024, "pixels, even"),
            ("step_px", self.step_px, 1e-3, 1e4, "pixels"),
            ("jitter_px", self.jitter_px, 0.0, 1e4, "pixels"),
            ("photons", self.photons, 1e-3, 1e15, "photons per pattern"),
            ("seed", self.seed, 0, 2**63 - 1, ""),
            ("defocus_phase_rad", self.defocus_phase_rad, 1e-3, 1e4, "radians"),
        ]
        for name, value, low, high, unit in checks:
            if not isinstance(value, int | float) or not low <= value <= high:
                problems.append((f"simulate.{name}", f"{value!r} is outside [{low}, {high}] "
                                                     f"{unit}".rstrip()))
        for name in ("object_size", "patterns", "N", "seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                problems.append((f"simulate.{name}", f"{value!r} is not a whole number"))
        if isinstance(self.N, int) and self.N % 2:
            problems.append(("simulate.N", f"{self.N} is odd; use an even pattern size"))
        if self.probe_diameter_px is not None and not 0 < self.probe_diameter_px <= self.N:
            problems.append(("simulate.probe_diameter_px", f"{self.probe_diameter_px} is "
                                                           f"outside (0, N = {self.N}]"))
        if problems:
            raise ConfigError(problems)


def _seeds(seed: int) -> tuple[int, int, int]:
    """Independent seeds for the object, the position jitter and the noise."""
    state = np.random.SeedSequence(seed).generate_state(3)
    return int(state[0]), int(state[1]), int(state[2])


def _pattern(spec: SimulationSpec, jitter_seed: int) -> np.ndarray:
    if spec.scan == "raster":
        return raster_for_count(spec.patterns, spec.step_px, spec.jitter_px, jitter_seed)
    positions = fermat_spiral_positions(spec.patterns, spec.step_px)
    if spec.jitter_px > 0:
        rng = np.random.default_rng(jitter_seed)
        positions = positions + rng.normal(0.0, spec.jitter_px, size=positions.shape)
    return positions


def _file_pixel_size(path: str) -> float | None:
    """object_pixel_m stored beside a file's objectGuess, when there is one."""
    try:
        value = read_npz_array(path, "object_pixel_m")
    except ScanFormatError:  # the key is optional
        return None
    return float(value) if value.size == 1 and np.isfinite(value).all() else None


def _probe_diameter(spec: SimulationSpec) -> float:
    if spec.probe_diameter_px is not None:
        return float(spec.probe_diameter_px)
    return spec.N * 3 / 8 if spec.probe == "defocused" else spec.N / 4


def simulate_from_spec(spec: SimulationSpec) -> Scan:
    """The scan a spec describes: pattern, object, probe, noisy diffraction."""
    spec.validate()
    object_seed, jitter_seed, noise_seed = _seeds(spec.seed)
    positions = _pattern(spec, jitter_seed)
    pixel_m = spec.object_pixel_m
    if spec.object.startswith("file:"):
        obj = make_object(spec.object, 0, object_seed)
        if pixel_m is None:
            pixel_m = _file_pixel_size(spec.object[len("file:"):])
    else:
        _, (height, width) = place_in_new_object(positions, spec.N)
        size = max(height, width, spec.object_size, spec.N)
        obj = make_object(spec.object, size, object_seed)
    positions = fit_to_object(positions, obj.shape, spec.N)
    probe = make_probe(spec.probe, spec.N, _probe_diameter(spec), spec.defocus_phase_rad)
    return simulate_scan(obj, probe, positions, spec.photons, noise_seed, spec.noise,
                         object_pixel_m=pixel_m, extra={"simulation": spec.to_dict()})

