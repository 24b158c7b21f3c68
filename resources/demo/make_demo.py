"""Make resources/demo/demo_scan.npz, the scan the app opens as its demo.

Run from the repository root:  .venv/bin/python resources/demo/make_demo.py
The settings below are the whole recipe; the result is deterministic (seeded).
"""

from __future__ import annotations

import sys
from pathlib import Path

from ptycho_engine.io import save_scan
from ptycho_engine.simulate import SimulationSpec, simulate_from_spec

DEMO_SPEC = SimulationSpec(
    object="siemens",
    probe="defocused",
    probe_diameter_px=28.0,
    scan="fermat",
    patterns=840,
    N=64,
    step_px=5.0,
    photons=1e6,
    seed=1,
    noise=True,
)

MAX_BYTES = 5_000_000


def main() -> int:
    out = Path(__file__).resolve().parent / "demo_scan.npz"
    scan = simulate_from_spec(DEMO_SPEC)
    save_scan(scan, out)
    size = out.stat().st_size
    print(f"{out}: {scan.n_patterns} patterns, N = {scan.N}, object "
          f"{scan.ground_truth.shape[0]} x {scan.ground_truth.shape[1]}, {size / 1e6:.2f} MB")
    if size > MAX_BYTES:
        print(f"demo file exceeds {MAX_BYTES / 1e6:.0f} MB; reduce DEMO_SPEC.patterns",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
