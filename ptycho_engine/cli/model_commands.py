"""``train``, ``reconstruct`` (one scan or a batch) and ``evaluate``."""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from ..api import RESULT_FORMATS, CancelToken, EpochRecord
from ..core.config import (
    INFERENCE_GROUPS,
    PtychoConfig,
    load_config,
    parse_assignment,
    with_overrides,
)
from ..core.errors import PtychoError
from ..core.presets import config_preset
from ..data.io import load_scan
from ..metrics import evaluate
from ..outputs.product import ProductMetadata
from ..outputs.results import (
    RESULT_SUFFIXES,
    load_ground_truth,
    load_reconstruction,
    result_format,
    save_reconstruction,
)
from ..outputs.tiff import tiff_paths
from ..training.convergence import Convergence
from ..training.run_folder import RunFolder
from .progress import TerminalProgress

SCAN_SUFFIXES = (".npz", ".cxi", ".h5", ".hdf5")
EXIT_SCAN_FAILED = 2
"""Some scans failed: like every user error (bad input data), exit status 2."""
STATUS_WORDS = {"finished": "finished", "time_limit": "time limit reached",
                "cancelled": "cancelled"}


def register(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser("train", help="train PtychoPINN on a scan")
    train.add_argument("--scan", type=Path, required=True, help="scan file (NPZ or CXI)")
    train.add_argument("--config", type=Path, help="config TOML")
    train.add_argument("--preset", help="start from a named preset, e.g. 'quick look (CPU)' "
                       "or 'full quality (GPU)' (applied before --set)")
    train.add_argument("--set", dest="settings", action="append", default=[],
                       metavar="SECTION.KEY=VALUE", help="override one setting (repeatable)")
    train.add_argument("--epochs", type=int,
                       help="shortcut for --set training.epochs=E: a cap while a time limit is "
                            "set (add --time-limit 0 to let the epochs end the run)")
    train.add_argument("--time-limit", type=float, metavar="MINUTES",
                       help="wall-clock budget: stop cleanly after this many minutes, keeping "
                            "the best model; overrides training.time_limit_min (default 10; 0 "
                            "sets no limit, so the epochs end the run)")
    train.add_argument("--out", type=Path, required=True, help="run folder to create or resume")
    train.add_argument("--resume", action="store_true",
                       help="continue the run in --out from its last checkpoint")
    train.add_argument("--validation-scan", type=Path, help="scan to validate on")
    train.add_argument("--accelerator", choices=("auto", "cpu", "gpu"), default=None)
    train.add_argument("--devices", type=int, default=None, help="devices per node (DDP if > 1)")
    train.add_argument("--num-nodes", type=int, default=1, help="nodes (multi-node DDP)")
    train.add_argument("--strategy", default=None, help="Lightning strategy, e.g. ddp")
    train.set_defaults(handler=run_train)

    recon = commands.add_parser(
        "reconstruct", help="reconstruct one or many scans with a trained model",
        description="Reconstruct scans with a trained model. One scan: --out is the result "
                    "file. Several scans or folders: --out is a folder that receives one result "
                    "per scan, named after the scan. A scan that cannot be read or "
                    "reconstructed is reported on one line and skipped; the others still run, "
                    "and the exit status is then 2 (a problem with the input data, like any "
                    "user error).")
    recon.add_argument("--model", type=Path, required=True,
                       help="model bundle (.ptyz), training run folder or .ckpt file")
    recon.add_argument("--scan", type=Path, nargs="+", required=True, metavar="SCAN",
                       help="scan files (NPZ or CXI) and/or folders of them")
    recon.add_argument("--out", type=Path, required=True,
                       help="result file for one scan, folder for several")
    recon.add_argument("--format", choices=RESULT_FORMATS, default=None,
                       help="npz (default), h5 (Ptychodus product file) or tiff (float32 "
                            "amplitude + phase pair); default: from the --out suffix")
    recon.add_argument("--batch-size", type=int, default=None)
    recon.add_argument("--groups", choices=INFERENCE_GROUPS, default=None,
                       help="'all': every position's group, best quality; 'covering': about "
                            "2.6x fewer network passes (default: the model's inference.groups)")
    recon.add_argument("--device", default=None, help="cpu, cuda, cuda:1 … (default: auto)")
    recon.add_argument("--devices", type=int, default=1,
                       help="spread the scans over this many processes, one per GPU "
                            "(cuda:0, cuda:1, …) or sharing the CPU cores (default: 1)")
    recon.set_defaults(handler=run_reconstruct)

    evaluate = commands.add_parser("evaluate", help="score a reconstruction against the truth")
    evaluate.add_argument("reconstruction", type=Path,
                          help="reconstruction .npz or product .h5 (ours or Ptychodus')")
    evaluate.add_argument("--truth", type=Path, required=True,
                          help="file with the true object (objectGuess), e.g. the simulated scan")
    evaluate.add_argument("--json", action="store_true")
    evaluate.set_defaults(handler=run_evaluate)


def training_config(args: argparse.Namespace) -> PtychoConfig:
    """The run's config: --config (or the resumed run's), then --preset, --set, --epochs and
    --time-limit (recorded as training.time_limit_min, so a resumed run keeps it)."""
    run = RunFolder(args.out)
    if args.config:
        config = load_config(args.config)
    elif args.resume and run.config_path.is_file():
        config = run.read_config()
    else:
        config = PtychoConfig()
    if args.preset:
        config = config_preset(args.preset).apply(config)
    overrides = dict(parse_assignment(text) for text in args.settings)
    if args.epochs is not None:
        overrides["training.epochs"] = args.epochs
    if args.time_limit is not None:
        overrides["training.time_limit_min"] = args.time_limit
    return with_overrides(config, overrides) if overrides else config


def run_train(args: argparse.Namespace) -> int:
    from ..training.fit import train  # imports torch and Lightning: only when training


    config = training_config(args)
    cancel = CancelToken()

    def on_interrupt(signum: int, frame: object) -> None:
        if cancel.cancelled:
            raise KeyboardInterrupt
        print("\nstopping after this batch (Ctrl+C again to abort)…", file=sys.stderr)
        cancel.cancel()

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        result = train(args.scan, config, observer=TerminalProgress(), cancel=cancel,
                       resume_from=args.out if args.resume else None,
                       validation_scan=args.validation_scan, run_dir=args.out,
                       accelerator=args.accelerator, devices=args.devices,
                       num_nodes=args.num_nodes, strategy=args.strategy,
                       progress_bar=sys.stderr.isatty())
    finally:
        signal.signal(signal.SIGINT, previous)
    if result.info.get("rank", 0) != 0:
        return 0  # other DDP ranks: rank 0 reports
    last = result.history[-1] if result.history else None
    losses = (f"train_loss {last.train_loss:.5g}, val_loss "
              f"{'-' if last.val_loss is None else f'{last.val_loss:.5g}'}" if last else "no epoch")
    print(f"{result.status}: {len(result.history)} epochs, {losses}, "
          f"{result.info.get('seconds', 0):.0f} s; run folder {result.run_dir} "
          f"(checkpoints in {result.run_folder.checkpoint_dir})")
    if result.convergence is not None:
        print(f"{STATUS_WORDS.get(result.status, result.status)} — "
              f"{result.convergence.describe()}")
    if result.status != "finished":
        print(resume_hint(result, args.scan))
    if result.status == "cancelled":
        return 130
    return 0


def resume_hint(result: Any, scan: Path) -> str:
    """Where a stopped run's checkpoint is (the last full epoch's) and how to go on from it."""
    checkpoint = result.last_checkpoint
    if not checkpoint.is_file():
        return "no epoch finished, so no checkpoint was saved"
    epoch = result.history[-1].epoch if result.history else "?"
    return (f"saved checkpoint {checkpoint} (epoch {epoch}); continue with: ptycho-engine "
            f"train --scan {scan} --out {result.run_dir} --resume")


def scan_files(paths: list[Path]) -> list[Path]:
    """The scans named on the command line, folders expanded to their scan files (sorted)."""
    scans: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.iterdir()
                           if p.is_file() and p.suffix.lower() in SCAN_SUFFIXES)
            if not found:
                raise PtychoError(f"{path}: no scan files ({', '.join(SCAN_SUFFIXES)}) in this "
                                  "folder")
            scans.extend(found)
        else:
            scans.append(path)  # a missing file is reported with the other bad scans
    return scans


def output_paths(scans: list[Path], out: Path, format: str | None) -> tuple[list[Path], str]:
    """One result path per scan and the format: --out itself for one scan, else inside it.

    Refuses (PtychoError) an --out that is a file when several scans are given,
    and any result that would overwrite one of the scans.
    """
    if len(scans) == 1 and not out.is_dir():
        targets, chosen = [out], result_format(out, format)
    else:
        if out.exists() and not out.is_dir():
            raise PtychoError(f"{out}: is a file; with several scans --out must be a folder")
        chosen = format or "npz"
        suffix = "" if chosen == "tiff" else RESULT_SUFFIXES[chosen]
        names: list[str] = []
        for number, scan in enumerate(scans, start=1):
            names.append(f"{scan.stem}_{number}" if scan.stem in names else scan.stem)
        targets = [out / f"{name}{suffix}" for name in names]
    written = {p.resolve() for t in targets
               for p in (tiff_paths(t) if chosen == "tiff" else (t,))}
    for scan in scans:
        if scan.resolve() in written:
            raise PtychoError(f"{scan}: a result would overwrite this scan; choose another --out "
                              "(or --format)")
    return targets, chosen


def load_model_and_history(path: Path, device: str | None
                           ) -> tuple[Any, list[EpochRecord], Convergence | None]:
    """(model, training history, convergence verdict or None when nothing records one) from
    a bundle, a run folder or a checkpoint (inside a run folder)."""
    # these import torch (seconds): only when reconstructing, so --help stays quick
    from ..bundle import load_bundle
    from ..trained.loading import load_model

    if path.is_file() and path.suffix != ".ckpt":
        bundle = load_bundle(path)
        return bundle.to_module(device=device), list(bundle.history), bundle.convergence
    model = load_model(path, device)
    run = RunFolder(path if path.is_dir() else path.parent.parent)
    try:  # the history only feeds the loss curve of product files
        history = run.read_history() if path.is_dir() else []
    except PtychoError:
        history = []
    return model, history, run.convergence() if run.is_run() else None


def convergence_warning(model: Path, convergence: Convergence | None) -> str | None:
    """One line for a model whose training did not converge (or is not known to have)."""
    if convergence is None or convergence.converged:
        return None
    reason = f" — {convergence.short_reason}" if convergence.short_reason else ""
    return (f"warning: {model}: its training is {convergence.headline}{reason}; the "
            "reconstructions it makes are not a finished result")


def _one_line(error: BaseException, path: Path) -> str:
    """The error on one line, without repeating the scan's path in front."""
    return " ".join(str(error).split()).removeprefix(f"{path}: ")


def worker_devices(device: str | None, count: int) -> list[str]:
    """The device of each reconstruction process: every visible GPU in turn, or the CPU."""
    # these import torch (seconds): only when reconstructing, so --help stays quick
    import torch

    from ..core.devices import resolve_device

    if count < 1:
        raise PtychoError(f"--devices {count}: give 1 or more")
    if count > 1 and ":" in (device or ""):
        raise PtychoError(f"--device {device} with --devices {count}: give --device cuda (the "
                          "processes take cuda:0, cuda:1, …) or --device cpu")
    chosen = resolve_device(device)
    if count == 1:
        return [str(chosen)]
    if chosen.type == "cpu":
        return ["cpu"] * count
    visible = torch.cuda.device_count()
    if count > visible:
        raise PtychoError(f"--devices {count}, but torch sees {visible} GPU(s); give at most "
                          f"{visible}")
    return [f"cuda:{index}" for index in range(count)]


def reconstruct_jobs(model: Path | tuple[Any, list[Any]], jobs: list[tuple[int, Path, Path]],
                     total: int, device: str, batch_size: int | None, groups: str | None,
                     chosen: str, threads: int | None = None) -> list[Path]:
    """Reconstruct (number, scan, result path) jobs with one model; returns the failed scans.

    model: its path (loaded here, on ``device``) or an already loaded (module, history).
    Runs in the CLI process, or in one worker process per device (``--devices``).
    Each scan's outcome is printed on one line as it finishes.
    """
    # these import torch (seconds): only when reconstructing, so --help stays quick
    import torch

    from ..reconstruction.inference import reconstruct

    if threads:
        torch.set_num_threads(threads)
    module, history = (load_model_and_history(model, device)[:2] if isinstance(model, Path)
                       else model)
    probe = module.probe.detach().cpu().numpy()
    failed: list[Path] = []
    for number, scan_path, target in jobs:
        prefix = f"[{number}/{total}] {scan_path}"
        started = time.perf_counter()
        try:
            scan = load_scan(scan_path)
            recon = reconstruct(module, scan, batch_size=batch_size, groups=groups)
            written = save_reconstruction(
                recon, target, format=chosen, probe=probe,
                metadata=ProductMetadata.from_scan(scan, name=scan_path.stem),
                loss_values=[r.train_loss for r in history],
                loss_epochs=[r.epoch for r in history])
        except (PtychoError, OSError, MemoryError, torch.cuda.OutOfMemoryError) as error:
            failed.append(scan_path)
            reason = (_one_line(error, scan_path) if isinstance(error, (PtychoError, OSError))
                      else "out of memory; try a smaller --batch-size")
            print(f"{prefix}: FAILED, skipped: {reason}", file=sys.stderr, flush=True)
            continue
        height, width = recon.object.shape
        print(f"{prefix}: wrote {', '.join(str(p) for p in written)}: {height}x{width} object "
              f"from {len(recon.positions)} patterns in {time.perf_counter() - started:.1f} s, "
              f"offset (row, col) = ({recon.offset[0]:g}, {recon.offset[1]:g})", flush=True)
        if recon.prediction_unused:
            print(f"{prefix}: note: the model's prediction was not used: it explained this "
                  "scan worse than a flat object, so the result is the physics refinement's "
                  "alone (inference.scan_refine_steps)", flush=True)
    return failed


def run_reconstruct(args: argparse.Namespace) -> int:
    scans = scan_files(args.scan)
    targets, chosen = output_paths(scans, args.out, args.format)
    devices = worker_devices(args.device, args.devices)[:len(scans)]
    # loaded here first, so that a bad model is one message, not one per process
    module, history, convergence = load_model_and_history(
        args.model, devices[0] if len(devices) == 1 else "cpu")
    warning = convergence_warning(args.model, convergence)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    loaded = (module, history)
    for folder in {target.parent for target in targets}:
        folder.mkdir(parents=True, exist_ok=True)
    jobs = [(number, scan, target) for number, (scan, target)
            in enumerate(zip(scans, targets, strict=True), start=1)]
    if len(devices) == 1:
        failed = reconstruct_jobs(loaded, jobs, len(scans), devices[0], args.batch_size,
                                  args.groups, chosen)
    else:  # one process per device, scans dealt round-robin; CPU processes share the cores
        threads = max(1, (os.cpu_count() or 1) // len(devices)) if devices[0] == "cpu" else None
        with ProcessPoolExecutor(len(devices),
                                 mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = [pool.submit(reconstruct_jobs, args.model, jobs[rank::len(devices)],
                                   len(scans), device, args.batch_size, args.groups, chosen,
                                   threads)
                       for rank, device in enumerate(devices)]
            failed = sorted((path for future in futures for path in future.result()),
                            key=scans.index)
    if len(scans) > 1 or failed:
        names = ", ".join(str(p) for p in failed)
        print(f"reconstructed {len(scans) - len(failed)} of {len(scans)} scans"
              + (f"; failed: {names}" if failed else ""), file=sys.stderr if failed else
              sys.stdout)
    return EXIT_SCAN_FAILED if failed else 0


def run_evaluate(args: argparse.Namespace) -> int:
    recon = load_reconstruction(args.reconstruction)
    truth = load_ground_truth(args.truth)
    result = evaluate(recon.object, recon.offset, truth, mask=recon.weight > 0)
    values = result.to_dict()
    if args.json:
        print(json.dumps(values, indent=2))
    else:
        width = max(len(key) for key in values)
        for key, value in values.items():
            text = f"{value:.4g}" if isinstance(value, float) else str(value)
            print(f"{key:<{width}}  {text}")
    return 0
