"""Patch seams in a suite case's reconstructions, measured (JSON lines, optional PNG).

Stitching patches leaves seams as a pattern that repeats with the scan: in the
phase error (reconstructed minus true phase, after the suite's registration and
``align_phase``) they put power at the scan-step frequency and its harmonic,
along the scan's rows and columns. ``step_ratio`` is the mean power there over
the median power at the same spatial frequency in other directions (1: nothing
periodic; a visible grid is tens to hundreds). The error's RMS is split into the
part finer than the step (``fine_rms``, where seams live) and the rest
(``coarse_rms``, slow phase drifts). The same figures for pty-chi's objects
(saved by the suite beside the run) tell what belongs to the scan itself: a raster
scan has a periodic error of its own ("raster grid pathology").

Usage: python tests/benchmarks/seam_check.py CASE [--workdir /tmp/ptycho-suite]
       [--png seams.png]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import suite  # noqa: E402
import suite_cases as cases_module  # noqa: E402


def step_ratio(error: np.ndarray, valid: np.ndarray, step: float) -> float:
    """Mean power of the error at (±k/step, 0) and (0, ±k/step), k = 1, 2, over the
    median power on the rings of those radii away from the axes."""
    rows, cols = np.nonzero(valid)
    box = error[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    inside = valid[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    centred = np.where(inside, box - box[inside].mean(), 0.0)
    power = np.abs(np.fft.fft2(centred)) ** 2
    fy = np.fft.fftfreq(box.shape[0])[:, None]
    fx = np.fft.fftfreq(box.shape[1])[None, :]
    radius = np.hypot(fx, fy)
    peaks, rings = [], []
    for k in (1, 2):
        f0 = k / step
        on_axis = ((np.hypot(np.abs(fx) - f0, fy) < 0.006)
                   | (np.hypot(fx, np.abs(fy) - f0) < 0.006))
        peaks.append(power[on_axis].mean())
        rings.append(np.median(power[(np.abs(radius - f0) < 0.01) & ~on_axis]))
    return float(np.mean(peaks) / np.mean(rings))


def figures(obj: np.ndarray, offset: tuple[float, float], truth: np.ndarray,
            mask: np.ndarray, step: float) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """The seam figures of one reconstruction, its phase error map and compared pixels."""
    from scipy import ndimage

    from ptycho_engine.metrics import evaluate

    evaluation = evaluate(obj, offset, truth, mask=mask)
    mapped = suite.phase_error_map(np.asarray(obj), evaluation, offset, truth,
                                   np.asarray(mask, bool))
    if mapped is None:
        raise SystemExit("too few compared pixels for a seam check")
    error, valid, _ = mapped
    weight = ndimage.gaussian_filter(valid.astype(float), step)
    coarse = ndimage.gaussian_filter(error, step) / np.maximum(weight, 1e-6)
    fine = error - coarse
    return ({"phase_ssim": round(evaluation.phase_ssim, 4),
             "step_ratio": round(step_ratio(error, valid, step), 1),
             "rms_rad": round(float(np.sqrt((error[valid] ** 2).mean())), 4),
             "fine_rms_rad": round(float(np.sqrt((fine[valid] ** 2).mean())), 4),
             "coarse_rms_rad": round(float(np.sqrt((coarse[valid] ** 2).mean())), 4)},
            np.where(valid, error, np.nan), np.where(valid, fine, np.nan))


def reconstructions(case: cases_module.Case, workdir: Path
                    ) -> list[tuple[str, np.ndarray, tuple[float, float], np.ndarray]]:
    """(method, object, offset, mask) of each reconstruction of the case's scan found in
    workdir: the network's (its own or a transfer's) and pty-chi's."""
    from ptycho_engine.outputs.results import load_reconstruction

    found = []
    folder = workdir / "runs" / case.slug
    for path in sorted((workdir / "runs").glob(f"*/pinn-*/recon-{case.slug}.npz")):
        trained_on = path.parent.parent.name  # another case's folder: a transfer
        label = "pinn" if trained_on == case.slug else f"pinn trained on {trained_on}"
        recon = load_reconstruction(path)
        found.append((label, recon.object, recon.offset, recon.weight > 0))
    for path in sorted(folder.glob("*-*it.npz")):
        with np.load(path) as saved:
            found.append((path.stem, saved["object"], (0.0, 0.0), saved["mask"]))
    return found


def save_panel(png: Path, truth: np.ndarray, panels: list[tuple[str, np.ndarray, np.ndarray]]
               ) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(panels), 3, figsize=(13, 4.2 * len(panels)), squeeze=False)
    for row, (name, error, fine) in zip(axes, panels, strict=True):
        row[0].imshow(np.angle(truth), cmap="gray")
        row[0].set_title("true phase")
        shown = row[1].imshow(error, cmap="RdBu", vmin=-0.3, vmax=0.3)
        row[1].set_title(f"{name}: phase error (rad)")
        fig.colorbar(shown, ax=row[1], fraction=0.046)
        shown = row[2].imshow(fine, cmap="RdBu", vmin=-0.1, vmax=0.1)
        row[2].set_title(f"{name}: error finer than the step")
        fig.colorbar(shown, ax=row[2], fraction=0.046)
    fig.tight_layout()
    fig.savefig(png, dpi=60)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("case", help="a suite case name, e.g. photo-A/2025/1e6/N64")
    parser.add_argument("--workdir", type=Path, default=suite.DEFAULT_WORKDIR)
    parser.add_argument("--png", type=Path, default=None)
    args = parser.parse_args(argv)
    from ptycho_engine.data.io import load_scan

    case = cases_module.case_by_name(args.case)
    scan_path, _ = cases_module.simulate_case(case, args.workdir)
    truth = load_scan(scan_path).ground_truth
    step = cases_module.STEP_PX[case.N]
    panels = []
    for method, obj, offset, mask in reconstructions(case, args.workdir):
        values, error, fine = figures(obj, offset, truth, mask, step)
        print(json.dumps({"case": case.name, "method": method, **values}), flush=True)
        panels.append((method, error, fine))
    if not panels:
        raise SystemExit(f"no reconstruction of {case.name} in {args.workdir}; run the suite")
    if args.png:
        save_panel(args.png, truth, panels)


if __name__ == "__main__":
    main(sys.argv[1:])
