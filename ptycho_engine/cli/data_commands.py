"""``simulate`` and ``inspect``: make scans and describe them."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..data.io import format_summary, load_scan, save_scan, summarize_scan
from .simulate_arguments import add_simulation_arguments, simulate_from_arguments


def register(commands: argparse._SubParsersAction) -> None:
    inspect = commands.add_parser("inspect", help="describe a scan file (NPZ or CXI)")
    inspect.add_argument("file", type=Path)
    inspect.add_argument("--json", action="store_true", help="print JSON instead of text")
    inspect.add_argument("--intensities", action="store_true",
                         help="the NPZ diffraction holds intensities (counts), not amplitudes")
    inspect.set_defaults(handler=run_inspect)

    simulate = commands.add_parser("simulate", help="simulate a far-field scan with Poisson noise")
    add_simulation_arguments(simulate)
    simulate.add_argument("--out", type=Path, required=True, help="output scan file (.npz/.cxi)")
    simulate.set_defaults(handler=run_simulate)


def run_inspect(args: argparse.Namespace) -> int:
    summary = summarize_scan(load_scan(args.file, intensities=args.intensities))
    print(json.dumps(summary, indent=2) if args.json else format_summary(summary))
    return 0


def run_simulate(args: argparse.Namespace) -> int:
    scan = simulate_from_arguments(args)
    save_scan(scan, args.out)
    print(f"wrote {args.out}: {scan.n_patterns} patterns of {scan.N}x{scan.N}, "
          f"{scan.mean_photons_per_pattern():.3g} photons per pattern")
    return 0
