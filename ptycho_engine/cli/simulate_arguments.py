"""Command-line flags of ``ptycho-engine simulate``, one per SimulationSpec field.

The defaults shown in ``--help`` are the spec's, so the CLI and the Python API
cannot drift apart.
"""

from __future__ import annotations

import argparse

from ..data.scan import Scan
from ..simulation.objects import OBJECT_KINDS
from ..simulation.probes import PROBE_KINDS
from ..simulation.spec import SCAN_KINDS, SimulationSpec, simulate_from_spec

_DEFAULTS = SimulationSpec()

# (flag, spec field, type, help)
_FLAGS: tuple[tuple[str, str, type, str], ...] = (
    ("--object", "object", str, f"object kind: {', '.join(OBJECT_KINDS)}"),
    ("--object-size", "object_size", int, "object side in pixels (0: just large enough)"),
    ("--probe", "probe", str, f"probe kind: {', '.join(PROBE_KINDS)}"),
    ("--probe-diameter", "probe_diameter_px", float,
     "probe (or defocused spot) diameter in object pixels; auto is N/4 (defocused 3N/8)"),
    ("--defocus", "defocus_phase_rad", float, "defocus phase at the pupil edge, radians"),
    ("--scan", "scan", str, f"scan pattern: {', '.join(SCAN_KINDS)}"),
    ("--patterns", "patterns", int, "number of diffraction patterns"),
    ("--N", "N", int, "pattern size in pixels"),
    ("--step", "step_px", float, "spacing of scan points in object pixels"),
    ("--jitter", "jitter_px", float, "random position error (standard deviation), pixels"),
    ("--photons", "photons", float, "mean expected photons per pattern"),
    ("--seed", "seed", int, "seed of object, jitter and noise"),
    ("--object-pixel-m", "object_pixel_m", float, "object pixel size in metres, if known"),
)


def add_simulation_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one flag per SimulationSpec field to ``parser``."""
    for flag, name, kind, text in _FLAGS:
        default = getattr(_DEFAULTS, name)
        shown = "auto" if default is None else default
        parser.add_argument(flag, dest=f"sim_{name}", type=kind, default=default,
                            metavar=flag[2:].upper().replace("-", "_"),
                            help=f"{text} (default: {shown})")
    parser.add_argument("--no-noise", dest="sim_noise", action="store_false",
                        help="store the expected amplitudes instead of Poisson counts")


def spec_from_arguments(args: argparse.Namespace) -> SimulationSpec:
    """The SimulationSpec the parsed flags describe (validated)."""
    values = {name: getattr(args, f"sim_{name}") for _, name, _, _ in _FLAGS}
    values["noise"] = args.sim_noise
    return SimulationSpec.from_dict(values)


def simulate_from_arguments(args: argparse.Namespace) -> Scan:
    """Simulate the scan the parsed ``ptycho-engine simulate`` flags describe."""
    return simulate_from_spec(spec_from_arguments(args))
