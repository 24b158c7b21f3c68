"""The quality suite (``quality.py --suite``): many objects, sizes, doses and N, ours vs pty-chi.

Cases (``suite_cases``; ``--list`` prints them): families x 2 scan sizes
(20 x 20 = 400 and 45 x 45 = 2,025 raster positions) x 2 doses (1e6 and 1e4
photons per pattern) x N 64 and 128, plus the real gold-balls object and probe
at N 64 (399-400 and 1,595 real positions) and transfer cases. 71 cases in all.

Tune vs confirm (tune on the first, report the second): TUNE families are
photo-A (camera amplitude, astronaut phase), dead_leaves and siemens; CONFIRM
families are photo-B (coffee / brick), photo-C (chelsea / moon), photo-D
(coins / grass), grf, lines and goldballs, and the transfer cases apply their
model to confirm scans. Seeds of confirm objects and noise differ from the tune
ones (the role enters every seed), so the confirm objects are never seen while
tuning; the photographs of the two roles are different images. Photographs:
scikit-image sample images (bundled in its wheel), centre-cropped, resized,
scaled by their 1st/99th percentiles; amplitude 0.3 + 0.7·photo 1 and phase
π·(photo 2 − 0.5), a strong object (phase span π).

Methods, per case:
- ``pinn``: the operator's default path, through the CLI in a subprocess with
  this interpreter: ``python -m ptycho_engine.cli train --scan S --out R
  --time-limit MINUTES`` (no preset, no --set, except ``--set data.N=128`` at
  N 128, which the default config cannot guess), then ``reconstruct --model R
  --scan S --out recon.npz``, scored over the stitched region
  (``weight > 0``). A finished training (``suite.json`` in its run folder) is
  reused, e.g. by the transfer case that trains on the same scan.
- ``epie`` / ``lsqml``: pty-chi (``suite_ptychi``), ``--iterations`` epochs
  (100) from a flat object with the true probe and positions, scored over the
  pixels within the central 20 x 20 px of some scan position (the region our
  stitch with inference.stitch_crop = 20 fills). Without ptychi they are skipped.

Metrics: the engine's ``evaluate`` (phase/amplitude SSIM, FRC in px) and the
phase-contrast slope: the least-squares slope of the reconstructed on the true
phase over the compared region after evaluate's alignment (registration, then
phase offset and ramp removed with ``align_phase``); 1 is full contrast.

Each (case, method, budget) is appended to the results file as it finishes
and printed as a JSON line; a rerun skips the recorded ones, so a stopped
suite continues where it stopped. Scans are cached in the work folder
(engine NPZ, readable by the CLI). The full suite takes about 30 hours on 2
busy CPU cores: pinn about 13 h at 10 minutes (68 trainings, each case's
reconstruction 0.5-4 min), pty-chi's ePIE about 12 h (batch 1: 3.5 min per
400-position case, about 17 min per 2,025), LSQML about 4 h. Pick a subset
with ``--cases`` (names, fnmatch patterns or ``quick``), ``--minutes`` and
``--methods``.

Usage: python tests/benchmarks/quality.py --suite [--cases quick] [--minutes 10]
       [--methods pinn,epie,lsqml] [--iterations 100] [--workdir /tmp/ptycho-suite]
       [--results FILE];  ... --table;  ... --list
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import suite_cases as cases_module  # noqa: E402
import suite_ptychi  # noqa: E402
import suite_report  # noqa: E402
from suite_cases import Case  # noqa: E402

METHODS = ("pinn", "epie", "lsqml")
DEFAULT_WORKDIR = Path("/tmp/ptycho-suite")
DEFAULT_MINUTES = 10.0
DEFAULT_ITERATIONS = 100
STITCH_CROP = 20
"""The default inference.stitch_crop: pty-chi is scored over the region it fills."""
EVAL_TRIM = 2
"""evaluate's default trim, repeated for the slope's region."""


# --- metrics -------------------------------------------------------------------------------

def _truth_on_grid(truth: np.ndarray, where: tuple[float, float],
                   shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """truth sampled at (where + (r, c)) for the reconstruction's pixels (cubic), and
    which of them lie inside the truth."""
    from scipy import ndimage

    rows = where[0] + np.arange(shape[0])
    cols = where[1] + np.arange(shape[1])
    inside = (((rows >= 0) & (rows <= truth.shape[0] - 1))[:, None]
              & ((cols >= 0) & (cols <= truth.shape[1] - 1))[None, :])
    grid = np.meshgrid(rows, cols, indexing="ij")
    if np.allclose(where, np.round(where)):
        r = np.clip(np.round(grid[0]).astype(int), 0, truth.shape[0] - 1)
        c = np.clip(np.round(grid[1]).astype(int), 0, truth.shape[1] - 1)
        return truth[r, c].astype(np.complex128), inside
    real = ndimage.map_coordinates(truth.real.astype(np.float64), grid, order=3, mode="nearest")
    imag = ndimage.map_coordinates(truth.imag.astype(np.float64), grid, order=3, mode="nearest")
    return real + 1j * imag, inside


def phase_error_map(obj: np.ndarray, evaluation: Any, offset: tuple[float, float],
                    truth: np.ndarray, mask: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Reconstructed minus true phase (radians) on the reconstruction's pixels, the pixels
    compared and the true phase, over evaluate's compared region after its registration
    shift and ``align_phase`` (offset and ramp removed); None when too few pixels."""
    from scipy import ndimage

    from ptycho_engine.metrics import align_phase

    where = (offset[0] - evaluation.shift[0], offset[1] - evaluation.shift[1])
    sampled, inside = _truth_on_grid(np.asarray(truth), where, obj.shape)
    valid = ndimage.binary_erosion(inside & mask, structure=np.ones((3, 3), bool),
                                   iterations=EVAL_TRIM, border_value=0)
    r0, r1, c0, c1 = evaluation.region
    box = np.zeros_like(valid)
    box[max(0, round(r0 - where[0])):round(r1 - where[0]),
        max(0, round(c0 - where[1])):round(c1 - where[1])] = True
    valid &= box
    if valid.sum() < 16:
        return None
    aligned = align_phase(obj.astype(np.complex128), sampled, valid)
    error = np.where(valid, np.angle(aligned * np.conj(sampled)), 0.0)
    return error, valid, np.angle(sampled)


def phase_slope(obj: np.ndarray, evaluation: Any, offset: tuple[float, float],
                truth: np.ndarray, mask: np.ndarray) -> float | None:
    """Least-squares slope of the reconstructed on the true phase over evaluate's compared
    region (see ``phase_error_map``)."""
    mapped = phase_error_map(obj, evaluation, offset, truth, mask)
    if mapped is None:
        return None
    error, valid, true_phase = mapped
    true_values = true_phase[valid]
    rec_phase = true_values + error[valid]
    centred = true_values - true_values.mean()
    spread = float((centred**2).sum())
    if spread == 0:
        return None
    return float((centred * (rec_phase - rec_phase.mean())).sum() / spread)


def score(obj: np.ndarray, offset: tuple[float, float], truth: np.ndarray,
          mask: np.ndarray) -> dict[str, Any]:
    """The suite's metrics of one reconstruction (see the module docstring)."""
    from ptycho_engine.metrics import evaluate

    evaluation = evaluate(obj, offset, truth, mask=mask)
    values = evaluation.to_dict()
    slope = phase_slope(np.asarray(obj), evaluation, offset, truth, np.asarray(mask, bool))

    def rounded(key: str, digits: int) -> float | None:
        value = values.get(key)
        return None if value is None else round(value, digits)

    return {"phase_ssim": rounded("phase_ssim", 4), "amplitude_ssim": rounded("amplitude_ssim", 4),
            "phase_frc_px": rounded("phase_frc_px", 2),
            "amplitude_frc_px": rounded("amplitude_frc_px", 2),
            "phase_slope": None if slope is None else round(slope, 4),
            "phase_mae": rounded("phase_mae", 4),
            "registration_shift": [round(v, 2) for v in evaluation.shift],
            "compared_pixels": evaluation.n_pixels}


# --- machine -------------------------------------------------------------------------------

def machine_description() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    text = f"{platform.system()} {platform.machine()}, {cpu}, {os.cpu_count()} CPUs"
    try:
        import torch

        if torch.cuda.is_available():
            text += f", GPU {torch.cuda.get_device_name(0)}"
    except ImportError:
        pass
    return text


def emit(record: dict[str, Any]) -> None:
    print(json.dumps(record), flush=True)


# --- pinn through the CLI ------------------------------------------------------------------

def _engine_env() -> dict[str, str]:
    """This process's environment, with the imported engine first on PYTHONPATH, so the
    CLI subprocesses run the same ptycho_engine."""
    import ptycho_engine

    root = str(Path(ptycho_engine.__file__).resolve().parents[1])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([root] + [p for p in env.get("PYTHONPATH", "")
                                                  .split(os.pathsep) if p and p != root])
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return env


def _cli(arguments: list[str], log: Path) -> tuple[int, float]:
    """Run ``python -m ptycho_engine.cli ARGUMENTS``, output appended to log; (rc, seconds)."""
    command = [sys.executable, "-m", "ptycho_engine.cli", *arguments]
    started = time.perf_counter()
    with log.open("a") as handle:
        handle.write("$ " + " ".join(command) + "\n")
        handle.flush()
        rc = subprocess.call(command, stdout=handle, stderr=subprocess.STDOUT, env=_engine_env())
    if rc in (130, -2):
        raise KeyboardInterrupt
    return rc, time.perf_counter() - started


def _tail(log: Path, lines: int = 5) -> str:
    try:
        return " | ".join(log.read_text().strip().splitlines()[-lines:])
    except OSError:
        return ""


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def train_settings(N: int) -> list[str]:
    """The only --set the default path needs: the pattern size when it is not the default."""
    from ptycho_engine.core.config import PtychoConfig

    return [] if N == PtychoConfig().data.N else [f"data.N={N}"]


def train_run(train_case: Case, scan: Path, workdir: Path, minutes: float) -> dict[str, Any]:
    """Train on a scan through the CLI (or reuse a finished run); returns the run's facts."""
    run = workdir / "runs" / train_case.slug / f"pinn-{minutes:g}min"
    marker = run / "suite.json"
    if not marker.is_file():
        if run.exists():
            shutil.rmtree(run)  # a run stopped mid-training: start it again
        run.mkdir(parents=True)
        settings = train_settings(train_case.N)
        arguments = ["train", "--scan", str(scan), "--out", str(run), "--time-limit",
                     f"{minutes:g}"]
        for setting in settings:
            arguments += ["--set", setting]
        rc, wall = _cli(arguments, run / "train.log")
        if rc != 0:
            raise RuntimeError(f"train exited {rc}: {_tail(run / 'train.log')}")
        if not (_read_json(run / "run.json").get("epochs") or 0):
            raise RuntimeError(f"no epoch finished in {minutes:g} min, so there is no model; "
                               "give more --minutes")
        marker.write_text(json.dumps({"minutes": minutes, "wall_seconds": wall,
                                      "settings": settings, "scan": str(scan)}))
    facts = _read_json(marker)
    info = _read_json(run / "run.json")
    floor = (info.get("loss_floor") or {}).get("train")
    final = info.get("final_train_loss")
    return {"run": str(run), "status": info.get("status"), "epochs": info.get("epochs"),
            "train_seconds": round(info.get("seconds") or 0.0, 1),
            "train_wall_seconds": round(facts.get("wall_seconds", 0.0), 1),
            "final_train_loss": final, "final_val_loss": info.get("final_val_loss"),
            "loss_floor": floor,
            "train_loss_above_floor": (None if final is None or floor is None
                                       else final - floor),
            "device": info.get("device"), "settings": facts.get("settings", [])}


def run_pinn(case: Case, workdir: Path, minutes: float) -> dict[str, Any]:
    """Train (or reuse) and reconstruct through the CLI, scored against the truth."""
    from ptycho_engine.outputs.results import load_ground_truth, load_reconstruction

    train_case = cases_module.case_by_name(case.train) if case.train else case
    apply_case = cases_module.case_by_name(case.name.split("->", 1)[1]) if case.train else case
    train_scan, _ = cases_module.simulate_case(train_case, workdir)
    apply_scan, _ = cases_module.simulate_case(apply_case, workdir)
    facts = train_run(train_case, train_scan, workdir, minutes)
    run = Path(facts["run"])
    recon_path = run / f"recon-{apply_case.slug}.npz"
    rc, recon_s = _cli(["reconstruct", "--model", str(run), "--scan", str(apply_scan),
                        "--out", str(recon_path)], run / "reconstruct.log")
    if rc != 0:
        raise RuntimeError(f"reconstruct exited {rc}: {_tail(run / 'reconstruct.log')}")
    recon = load_reconstruction(recon_path)
    metrics = score(recon.object, recon.offset, load_ground_truth(apply_scan), recon.weight > 0)
    record = {**metrics, "patterns": int(len(recon.positions)),
              "seconds": round(facts["train_wall_seconds"] + recon_s, 1),
              "reconstruct_seconds": round(recon_s, 1), **facts}
    if case.train:
        record.update(train_case=train_case.name, apply_case=apply_case.name)
    return record


# --- pty-chi -------------------------------------------------------------------------------

def run_reference(method: str, case: Case, workdir: Path, iterations: int) -> dict[str, Any]:
    from ptycho_engine.data.io import load_scan

    path, _ = cases_module.simulate_case(case, workdir)
    scan = load_scan(path)
    truth = scan.ground_truth
    obj, seconds = suite_ptychi.reconstruct(method, scan.diffraction_array(), scan.probe,
                                            scan.positions, truth.shape, iterations)
    mask = cases_module.covered_mask(truth.shape, scan.positions, STITCH_CROP)
    metrics = score(obj, (0.0, 0.0), truth, mask)
    save_reference(workdir / "runs" / case.slug / f"{method}-{iterations}it.npz", obj, mask)
    return {**metrics, "patterns": scan.n_patterns, "seconds": round(seconds, 1),
            "iterations": iterations,
            "batch_size": 1 if method == "epie" else suite_ptychi.LSQML_BATCH,
            "ptychi": suite_ptychi.version()}


def save_reference(path: Path, obj: np.ndarray, mask: np.ndarray) -> None:
    """The solver's object and compared pixels, kept for looking at (error maps, seams)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(temporary, object=obj, mask=mask)
    os.replace(temporary, path)


# --- the suite -----------------------------------------------------------------------------

def geometry_lines() -> list[dict[str, Any]]:
    """The probe FWHM and overlap of each N (and of the gold-balls probe), measured."""
    out = []
    for N in cases_module.NS:
        case = cases_module.case_by_name(cases_module.case_name("siemens", 400, "1e6", N))
        fwhm = cases_module.intensity_fwhm_px(cases_module.probe_for(case))
        step = cases_module.STEP_PX[N]
        out.append({"stage": "geometry", "N": N, "probe": "defocused",
                    "probe_diameter_px": cases_module.PROBE_DIAMETER_PX[N],
                    "intensity_fwhm_px": round(fwhm, 2), "step_px": step,
                    "linear_overlap": round(1 - step / fwhm, 3)})
    if cases_module.GOLDBALLS.is_file():
        case = cases_module.case_by_name("goldballs/400/1e6/N64")
        out.append({"stage": "geometry", "N": 64, "probe": "goldballs probeGuess",
                    "intensity_fwhm_px": round(
                        cases_module.intensity_fwhm_px(cases_module.probe_for(case)), 2)})
    return out


def list_cases(chosen: list[Case]) -> None:
    width = max((len(case.name) for case in chosen), default=0) + 1
    for case in chosen:
        print(f"{case.name:<{width}} {case.role}")
    tune = sum(case.role == cases_module.TUNE for case in chosen)
    transfers = sum(case.train is not None for case in chosen)
    print(f"{len(chosen)} cases: {tune} tune, {len(chosen) - tune} confirm "
          f"({transfers} of them transfer cases)")


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="quality.py --suite",
                                     description="The quality suite (see suite.py).")
    parser.add_argument("--suite", action="store_true", help="run the suite")
    parser.add_argument("--cases", default=None,
                        help="comma list of case names or fnmatch patterns, 'quick' or 'all' "
                             "(default: all)")
    parser.add_argument("--methods", default=",".join(METHODS),
                        help="comma list of pinn, epie, lsqml")
    parser.add_argument("--minutes", type=float, default=None,
                        help=f"pinn training time limit per case, minutes (default "
                             f"{DEFAULT_MINUTES:g}; with --table: show only this budget)")
    parser.add_argument("--iterations", type=int, default=None,
                        help=f"pty-chi epochs (default {DEFAULT_ITERATIONS}; with --table: show "
                             "only this budget)")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR,
                        help="scans, run folders and the results (default: %(default)s)")
    parser.add_argument("--results", type=Path, default=None,
                        help="results file (default: WORKDIR/suite_results.jsonl)")
    parser.add_argument("--table", action="store_true",
                        help="print the table of the results file (alone: nothing is run)")
    parser.add_argument("--list", action="store_true", help="print the cases and their roles")
    args = parser.parse_args(argv)
    args.results = args.results or args.workdir / "suite_results.jsonl"
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        parser.error(f"--methods: unknown {', '.join(unknown)}; choose from {', '.join(METHODS)}")
    args.methods = methods
    return args


def table_for(args: argparse.Namespace, chosen: list[Case] | None) -> str:
    """The table of the results file: the chosen cases (and the apply scans of chosen
    transfer cases), the given budgets only."""
    order = [case.name for case in cases_module.all_cases()]
    names = None
    if chosen is not None:
        names = {case.name for case in chosen}
        names |= {case.name.split("->", 1)[1] for case in chosen if case.train}
    budgets = {}
    if args.minutes is not None:
        budgets["pinn"] = suite_report.budget_of("pinn", args.minutes, 0)
    if args.iterations is not None:
        for method in suite_ptychi.METHODS:
            budgets[method] = suite_report.budget_of(method, 0, args.iterations)
    records = suite_report.select_records(suite_report.load_results(args.results), names,
                                          budgets)
    return suite_report.format_table(records, order)


def object_description(case: Case) -> str:
    _, kind, params = cases_module.FAMILIES[case.family]
    if kind == "photo":
        return f"photos {params[0]} (amplitude) / {params[1]} (phase)"
    if kind == "goldballs":
        return f"{cases_module.GOLDBALLS.name} objectGuess and probeGuess, real positions"
    if case.family == "siemens":
        return "siemens star"
    return f"{params[0]} seed {cases_module.object_seed(case)}"


def main(argv: list[str]) -> None:
    args = parse_arguments(argv)
    chosen = cases_module.select_cases(args.cases) if args.cases else None
    if args.list:
        list_cases(chosen or cases_module.all_cases())
        return
    if not args.suite:
        print(table_for(args, chosen))
        return
    chosen = chosen or cases_module.all_cases()
    minutes = DEFAULT_MINUTES if args.minutes is None else args.minutes
    iterations = DEFAULT_ITERATIONS if args.iterations is None else args.iterations
    methods = list(args.methods)
    if any(m in suite_ptychi.METHODS for m in methods) and not suite_ptychi.available():
        print(suite_ptychi.INSTALL_HINT, flush=True)
        methods = [m for m in methods if m not in suite_ptychi.METHODS]
    machine = machine_description()
    for line in geometry_lines():
        emit({**line, "machine": machine})
    done = suite_report.done_keys(suite_report.load_results(args.results))
    for case in chosen:
        if (cases_module.FAMILIES[case.family][1] == "goldballs"
                and not cases_module.GOLDBALLS.is_file()):
            print(f"skip {case.name}: {cases_module.GOLDBALLS} is missing", flush=True)
            continue
        for method in methods:
            if case.train is not None and method != "pinn":
                continue  # nothing to transfer: the table shows the apply scan's reference
            budget = suite_report.budget_of(method, minutes, iterations)
            if (case.name, method, budget) in done:
                print(f"skip {case.name} {method} ({budget}): already in {args.results}",
                      flush=True)
                continue
            record: dict[str, Any] = {
                "case": case.name, "method": method, "budget": budget, "role": case.role,
                "family": case.family, "size": case.size, "size_class": case.size_class,
                "dose": case.dose, "photons": case.photons, "N": case.N,
                "object": object_description(case)}
            try:
                if method == "pinn":
                    record.update(run_pinn(case, args.workdir, minutes))
                else:
                    record.update(run_reference(method, case, args.workdir, iterations))
            except KeyboardInterrupt:
                print(f"stopped during {case.name} {method}; rerun the same command to "
                      "continue", flush=True)
                raise SystemExit(130) from None
            except Exception as error:  # record it, go on with the suite
                record["error"] = f"{type(error).__name__}: {error}"
            record["machine"] = machine
            suite_report.append_result(args.results, record)
            emit(record)
    args.minutes, args.iterations = minutes, iterations
    print()
    print(table_for(args, chosen))
