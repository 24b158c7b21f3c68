"""Reconstruction quality on a simulated Siemens-star scan, stage by stage (JSON lines).

Simulates N = 64 patterns (default 2,000 at 1e6 photons), trains with the given
preset for a fixed CPU/GPU time budget in stages (resuming the same run), and
after each stage reconstructs the whole scan and scores it against the truth.

Usage: python tests/benchmarks/quality.py [--photons 1e6] [--minutes 20] [--stages 2,5,10,20,40]
       [--preset "quick look (CPU)"] [--set section.key=value ...] [--device cpu]

Settings: the named engine preset (ptycho_engine.presets), then --set overrides.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

def emit(**values) -> None:
    values.setdefault("machine", f"{platform.system()} {platform.machine()}, "
                                 f"{os.cpu_count()} CPUs")
    print(json.dumps(values), flush=True)


def main() -> None:
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

    from ptycho_engine.config import parse_assignment, with_overrides
    from ptycho_engine.inference import reconstruct
    from ptycho_engine.metrics import evaluate
    from ptycho_engine.presets import config_preset
    from ptycho_engine.simulate import SimulationSpec, simulate_from_spec
    from ptycho_engine.training import train

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
    budget_s = args.minutes * 60
    spent = 0.0
    for epochs in [int(e) for e in args.stages.split(",")]:
        if spent >= budget_s:
            break
        config = with_overrides(base, {**overrides, "training.epochs": epochs})
        started = time.perf_counter()
        result = train(scan, config, resume_from=run if (run / "checkpoints").exists() else None,
                       run_dir=run, time_limit_s=budget_s - spent)
        spent += time.perf_counter() - started
        started = time.perf_counter()
        recon = reconstruct(result, scan)
        recon_s = time.perf_counter() - started
        scores = evaluate(recon.object, recon.offset, scan.ground_truth, mask=recon.weight > 0)
        emit(stage="train+evaluate", epochs=len(result.history), status=result.status,
             train_seconds=round(spent, 1), reconstruct_seconds=round(recon_s, 1),
             train_loss=result.history[-1].train_loss if result.history else None,
             phase_ssim=round(scores.phase_ssim, 4),
             amplitude_ssim=round(scores.amplitude_ssim, 4),
             phase_frc_px=round(scores.phase_frc_px, 2),
             amplitude_frc_px=round(scores.amplitude_frc_px, 2),
             photons=args.photons, preset=args.preset, overrides=overrides)
        if result.status == "time_limit":
            break


if __name__ == "__main__":
    main()
