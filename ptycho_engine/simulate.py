"""Synthetic scans for demos and tests: objects, probes, scan patterns, diffraction.

A thin front to :mod:`ptycho_engine.simulation`, where each ingredient has its
own module; import from here.
"""

from __future__ import annotations

from .simulation.arguments import (
    add_simulation_arguments,
    simulate_from_arguments,
    spec_from_arguments,
)
from .simulation.diffraction import far_field_amplitude, simulate_scan
from .simulation.objects import (
    OBJECT_KINDS,
    dead_leaves,
    gaussian_random_field,
    lines,
    make_object,
    object_from_file,
    siemens_star,
)
from .simulation.probes import (
    PROBE_KINDS,
    defocused_probe,
    disc_probe,
    focused_probe,
    make_probe,
    probe_from_file,
)
from .simulation.scans import (
    fermat_spiral_positions,
    fit_to_object,
    place_in_new_object,
    raster_for_count,
    raster_positions,
)
from .simulation.spec import SCAN_KINDS, SimulationSpec, simulate_from_spec

__all__ = [
    "OBJECT_KINDS",
    "PROBE_KINDS",
    "SCAN_KINDS",
    "SimulationSpec",
    "add_simulation_arguments",
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
    "simulate_from_arguments",
    "simulate_scan",
    "spec_from_arguments",
]
