"""``train``, ``reconstruct`` and ``evaluate``."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path


def register(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser("train", help="train PtychoPINN on a scan")
    train.add_argument("--scan", type=Path, required=True, help="scan file (NPZ or CXI)")
    train.add_argument("--config", type=Path, help="config TOML")
    train.add_argument("--set", dest="settings", action="append", default=[],
                       metavar="SECTION.KEY=VALUE", help="override one setting (repeatable)")
    train.add_argument("--epochs", type=int, help="shortcut for --set training.epochs=E")
    train.add_argument("--time-limit", type=float, metavar="MINUTES",
                       help="stop cleanly after this many minutes, keeping the best model")
    train.add_argument("--out", type=Path, required=True, help="run folder to create or resume")
    train.add_argument("--resume", action="store_true",
                       help="continue the run in --out from its last checkpoint")
    train.add_argument("--validation-scan", type=Path, help="scan to validate on")
    train.add_argument("--accelerator", choices=("auto", "cpu", "gpu"), default=None)
    train.add_argument("--devices", type=int, default=None, help="devices per node (DDP if > 1)")
    train.add_argument("--num-nodes", type=int, default=1, help="nodes (multi-node DDP)")
    train.add_argument("--strategy", default=None, help="Lightning strategy, e.g. ddp")
    train.set_defaults(handler=run_train)

    recon = commands.add_parser("reconstruct", help="reconstruct a scan with a trained model")
    recon.add_argument("--model", type=Path, required=True, help="run folder or model bundle")
    recon.add_argument("--scan", type=Path, required=True, help="scan file (NPZ or CXI)")
    recon.add_argument("--out", type=Path, required=True, help="reconstruction .npz to write")
    recon.add_argument("--batch-size", type=int, default=None)
    recon.add_argument("--device", default=None, help="cpu, cuda, cuda:1 … (default: auto)")
    recon.set_defaults(handler=run_reconstruct)

    evaluate = commands.add_parser("evaluate", help="score a reconstruction against the truth")
    evaluate.add_argument("reconstruction", type=Path, help="reconstruction .npz")
    evaluate.add_argument("--truth", type=Path, required=True,
                          help="file with the true object (objectGuess), e.g. the simulated scan")
    evaluate.add_argument("--json", action="store_true")
    evaluate.set_defaults(handler=run_evaluate)


def training_config(args: argparse.Namespace):
    """The run's config: --config (or the resumed run's), then --set and --epochs."""
    from ..config import PtychoConfig, load_config, parse_assignment, with_overrides

    if args.config:
        config = load_config(args.config)
    elif args.resume and (args.out / "config.toml").is_file():
        config = load_config(args.out / "config.toml")
    else:
        config = PtychoConfig()
    overrides = dict(parse_assignment(text) for text in args.settings)
    if args.epochs is not None:
        overrides["training.epochs"] = args.epochs
    return with_overrides(config, overrides) if overrides else config


def run_train(args: argparse.Namespace) -> int:
    from ..observer import CancelToken
    from ..training import train
    from .progress import TerminalProgress

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
                       time_limit_s=args.time_limit * 60 if args.time_limit else None,
                       accelerator=args.accelerator, devices=args.devices,
                       num_nodes=args.num_nodes, strategy=args.strategy,
                       progress_bar=sys.stderr.isatty())
    finally:
        signal.signal(signal.SIGINT, previous)
    last = result.history[-1] if result.history else None
    losses = (f"train_loss {last.train_loss:.5g}, val_loss "
              f"{'-' if last.val_loss is None else f'{last.val_loss:.5g}'}" if last else "no epoch")
    print(f"{result.status}: {len(result.history)} epochs, {losses}, "
          f"{result.info.get('seconds', 0):.0f} s; run folder {result.run_dir} "
          f"(checkpoints in {result.run_dir / 'checkpoints'})")
    if result.status == "cancelled":
        return 130
    return 0


def run_reconstruct(args: argparse.Namespace) -> int:
    import time

    from ..inference import reconstruct
    from ..results import save_reconstruction_npz

    started = time.perf_counter()
    recon = reconstruct(args.model, args.scan, batch_size=args.batch_size, device=args.device)
    save_reconstruction_npz(recon, args.out)
    seconds = time.perf_counter() - started
    height, width = recon.object.shape
    print(f"wrote {args.out}: {height}x{width} object from {len(recon.positions)} patterns "
          f"in {seconds:.1f} s, offset (row, col) = ({recon.offset[0]:g}, {recon.offset[1]:g})")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from ..metrics import evaluate
    from ..results import load_ground_truth, load_reconstruction_npz

    recon = load_reconstruction_npz(args.reconstruction)
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
