"""Reconstruction quality on a simulated Siemens-star scan, stage by stage (JSON lines).

Simulates N = 64 patterns (default 2,000 at 1e6 photons), trains with the given
preset in one uninterrupted fit for a fixed CPU/GPU time budget (the epochs are
set high, so the time limit ends it and the learning-rate decay follows the
time), copies the checkpoint of each stage's epoch as it passes, and afterwards
reconstructs the whole scan from each snapshot and from the final model and
scores them against the truth. One fit, not one per stage: stopping and
resuming would start the learning-rate decay again at every stage.

Usage: python tests/benchmarks/quality.py [--photons 1e6] [--minutes 20] [--stages 2,5,10,20,40]
       [--preset "quick look (CPU)"] [--set section.key=value ...] [--device cpu]

Settings: the named engine preset (ptycho_engine.core.presets), then --set overrides.

Suite (issue 14): ``--suite`` runs the quality suite instead: 71 cases (8
object families incl. four photograph pairs, 2 scan sizes, 2 doses, N 64/128,
the real gold-balls object and probe, transfer cases), each reconstructed by
the default CLI path (pinn) and by pty-chi's ePIE and LSQML, with a JSON line
per result, a resumable results file and a median/worst table. Tune families:
photo-A, dead_leaves, siemens; confirm: photo-B, photo-C, photo-D, grf, lines,
goldballs and the transfer cases (their seeds differ too). ``--list`` prints
the cases, ``--table`` the table of a results file. Details in suite.py.

Usage: python tests/benchmarks/quality.py --suite [--cases quick|NAMES|PATTERNS]
       [--minutes 10] [--methods pinn,epie,lsqml] [--iterations 100]
       [--workdir /tmp/ptycho-suite] [--results FILE]
       python tests/benchmarks/quality.py --table | --list [--cases ...]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from ptycho_engine.api import TrainingObserver  # noqa: E402  (after the thread policy)


def emit(**values) -> None:
    values.setdefault("machine", f"{platform.system()} {platform.machine()}, "
                                 f"{os.cpu_count()} CPUs")
    print(json.dumps(values), flush=True)


class StageSnapshots(TrainingObserver):
    """Copies the run's last checkpoint once it holds a stage's epoch.

    The checkpoint of epoch e is written right after ``epoch_finished(e)``, so at
    the report of epoch e + 1 ``last.ckpt`` holds epoch e. A copy takes
    milliseconds, so the fit's time budget is not disturbed.
    """

    def __init__(self, run: Path, stages: list[int]):
        self.run = run
        self.stages = set(stages)
        self.started = time.perf_counter()
        self.finished_at: dict[int, float] = {}
        self.paths: dict[int, Path] = {}
        self.seconds: dict[int, float] = {}

    def training_started(self, total_epochs: int, batches_per_epoch: int, device: str) -> None:
        self.started = time.perf_counter()

    def epoch_finished(self, record) -> None:
        self.finished_at[record.epoch] = time.perf_counter() - self.started
        done = record.epoch - 1
        if done in self.stages:
            target = self.run / "stages" / f"epoch-{done}.ckpt"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(self.run / "checkpoints" / "last.ckpt", target)
            self.paths[done] = target
            self.seconds[done] = self.finished_at[done]


SUITE_FLAGS = ("--suite", "--table", "--list")


def main() -> None:
    if any(flag in sys.argv[1:] for flag in SUITE_FLAGS):
        here = str(Path(__file__).resolve().parent)
        if here not in sys.path:
            sys.path.insert(0, here)
        import suite  # beside this file

        suite.main(sys.argv[1:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photons", type=float, default=1e6)
    parser.add_argument("--patterns", type=int, default=2000)
    parser.add_argument("--probe", default="defocused", help="disc, focused or defocused")
    parser.add_argument("--probe-diameter", type=float, default=28.0, help="pixels")
    parser.add_argument("--step", type=float, default=5.0, help="scan step, pixels")
    parser.add_argument("--minutes", type=float, default=20.0, help="training time budget")
    parser.add_argument("--stages", default="1,3,6,10,15,20,30,40,60,80,100",
                        help="cumulative epoch counts after which to evaluate")
    parser.add_argument("--preset", default="quick look (CPU)",
                        help="an engine preset name, e.g. 'full quality (GPU)'")
    parser.add_argument("--set", dest="settings", action="append", default=[])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()

    from ptycho_engine.core.config import parse_assignment, with_overrides
    from ptycho_engine.core.presets import config_preset
    from ptycho_engine.metrics import evaluate
    from ptycho_engine.reconstruction.inference import reconstruct
    from ptycho_engine.simulation import SimulationSpec, simulate_from_spec
    from ptycho_engine.trained.loading import load_model
    from ptycho_engine.training.fit import train

    base = config_preset(args.preset).apply()
    overrides = dict(parse_assignment(text) for text in args.settings)
    overrides["training.device"] = args.device
    spec = SimulationSpec(object="siemens", N=64, patterns=args.patterns, step_px=args.step,
                          probe=args.probe, probe_diameter_px=args.probe_diameter,
                          photons=args.photons, seed=args.seed)
    started = time.perf_counter()
    scan = simulate_from_spec(spec)
    emit(stage="simulate", seconds=round(time.perf_counter() - started, 2),
         patterns=scan.n_patterns, photons=args.photons)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="ptycho-quality-"))
    run = workdir / "run"
    stages = sorted({int(e) for e in args.stages.split(",")})
    config = with_overrides(base, {**overrides, "training.epochs": max(stages + [100_000])})
    snapshots = StageSnapshots(run, stages)
    started = time.perf_counter()
    result = train(scan, config, observer=snapshots, run_dir=run,
                   time_limit_s=args.minutes * 60)
    total_s = time.perf_counter() - started
    scored = [(epoch, path, snapshots.seconds[epoch]) for epoch, path in snapshots.paths.items()]
    scored.append((len(result.history), result, total_s))
    for epoch, model, seconds in scored:
        started = time.perf_counter()
        recon = reconstruct(load_model(model), scan)
        recon_s = time.perf_counter() - started
        scores = evaluate(recon.object, recon.offset, scan.ground_truth, mask=recon.weight > 0)
        record = result.history[epoch - 1] if 0 < epoch <= len(result.history) else None
        emit(stage="train+evaluate", epochs=epoch,
             status=result.status if model is result else "snapshot",
             train_seconds=round(seconds, 1), reconstruct_seconds=round(recon_s, 1),
             train_loss=record.train_loss if record else None,
             lr=record.lr if record else None,
             phase_ssim=round(scores.phase_ssim, 4),
             amplitude_ssim=round(scores.amplitude_ssim, 4),
             phase_frc_px=round(scores.phase_frc_px, 2),
             amplitude_frc_px=round(scores.amplitude_frc_px, 2),
             photons=args.photons, preset=args.preset, overrides=overrides)

if __name__ == "__main__":
    main()
