"""Synthetic ptychography for demos, tests and pretraining: objects, probes, scan
patterns and noisy far-field diffraction, each kind in its own module.

``simulate_from_spec(SimulationSpec(...))`` makes a whole scan; the CLI's flags
for it live in ``cli.simulate_arguments``.
"""

from __future__ import annotations

from .diffraction import far_field_amplitude, simulate_scan
from .objects import (
    OBJECT_KINDS,
    dead_leaves,
    gaussian_random_field,
    lines,
    make_object,
    object_from_file,
    siemens_star,
)
from .probes import (
    PROBE_KINDS,
    defocused_probe,
    disc_probe,
    focused_probe,
    make_probe,
    probe_from_file,
)
from .scans import (
    fermat_spiral_positions,
    fit_to_object,
    place_in_new_object,
    raster_for_count,
    raster_positions,
)
from .spec import SCAN_KINDS, SimulationSpec, simulate_from_spec

__all__ = [
    "OBJECT_KINDS",
    "PROBE_KINDS",
    "SCAN_KINDS",
    "SimulationSpec",
    "dead_leaves",
    "defocused_probe",
    "disc_probe",
    "far_field_amplitude",
    "fermat_spiral_positions",
    "fit_to_object",
    "focused_probe",
    "gaussian_random_field",
    "lines",
    "make_object",
    "make_probe",
    "object_from_file",
    "place_in_new_object",
    "probe_from_file",
    "raster_for_count",
    "raster_positions",
    "siemens_star",
    "simulate_from_spec",
    "simulate_scan",
]
