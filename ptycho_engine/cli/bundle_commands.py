"""``export``, ``info`` and ``export-onnx``: model bundles on the command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..training.convergence import Convergence


def register(commands: argparse._SubParsersAction) -> None:
    export = commands.add_parser("export", help="write a training run as a model bundle (.ptyz)")
    export.add_argument("run_dir", type=Path, metavar="RUN_DIR",
                        help="training run folder (its best checkpoint, else the last)")
    export.add_argument("--out", type=Path, required=True, help="bundle file to write (.ptyz)")
    export.add_argument("--evaluate", action="store_true",
                        help="reconstruct the training scan and store quality metrics against "
                             "its ground truth (simulated scans only; one inference pass)")
    export.add_argument("--scan", type=Path, default=None,
                        help="the training scan, when it moved since training")
    export.set_defaults(handler=run_export)

    info = commands.add_parser("info", help="describe a model bundle")
    info.add_argument("bundle", type=Path, metavar="MODEL.ptyz")
    info.add_argument("--json", action="store_true", help="print the whole manifest as JSON")
    info.set_defaults(handler=run_info)

    onnx = commands.add_parser("export-onnx",
                               help="export a bundle's network (diffraction -> object patches, "
                                    "its first guess before the physics refinement) to ONNX")
    onnx.add_argument("bundle", type=Path, metavar="MODEL",
                      help="model bundle (.ptyz) or training run folder")
    onnx.add_argument("--out", type=Path, required=True, help="ONNX file to write")
    onnx.add_argument("--opset", type=int, default=17, help="ONNX opset version (default 17)")
    onnx.add_argument("--no-verify", action="store_true",
                      help="skip the onnxruntime comparison with PyTorch")
    onnx.set_defaults(handler=run_export_onnx)


def _megabytes(size: int | None) -> str:
    return "?" if size is None else f"{size / 1e6:.2f} MB"


def run_export(args: argparse.Namespace) -> int:
    # these import torch (seconds): only when the command runs, so --help stays quick
    from ..bundle import export_bundle, export_source, load_bundle
    from ..trained.scoring import training_metrics

    prepared = export_source(args.run_dir, scan=args.scan)
    metrics = training_metrics(prepared) if args.evaluate else None
    path = export_bundle(prepared, args.out, metrics=metrics)
    manifest = load_bundle(path).manifest
    training = manifest["training"]
    print(f"wrote {path} ({_megabytes(path.stat().st_size)}): N {manifest['N']}, gridsize "
          f"{manifest['gridsize']}, {training['epochs']} epochs ({training['status']}), weights "
          f"from {manifest['weights']['from']}")
    return 0


def _number(value: Any, digits: int = 5) -> str:
    """A number for people: floats to ``digits`` significant digits, None as '-'."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _table(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def format_bundle_summary(summary: dict[str, Any]) -> str:
    """The readable text of ``ptycho-engine info``."""
    training, provenance = _table(summary.get("training")), _table(summary.get("provenance"))
    probe, weights = _table(summary.get("probe")), _table(summary.get("weights"))
    normalisation = _table(probe.get("normalisation"))
    shape = probe.get("shape")
    shape = "x".join(str(n) for n in shape) if isinstance(shape, list) else str(shape)
    rows = [
        ("bundle", f"{summary['path']} ({_megabytes(summary.get('file_bytes'))})"),
        ("format", f"{summary['format']} {summary['format_version']}, written by ptycho_engine "
                   f"{summary.get('engine_version')} on {summary.get('created')}"),
        ("network", f"N {summary['N']}, gridsize {summary['gridsize']}, "
                    f"{_number(weights.get('parameters'))} parameters (weights from "
                    f"{weights.get('from', '?')})"),
        ("intensity scale", f"{_number(summary['intensity_scale'], 7)} trained, "
                            f"{_number(summary['initial_intensity_scale'], 7)} from the data"),
        ("probe", f"{shape} {probe.get('dtype', '')}"
                  f", normalised: {normalisation.get('method')}, probe_scale "
                  f"{normalisation.get('probe_scale')}"),
        ("training", f"{training.get('status', '?')}, {_number(training.get('epochs'))} epochs"
                     f" in {_number(training.get('seconds'), 3)} s on "
                     f"{training.get('device') or 'an unknown device'}"),
        ("losses", f"final train {_number(training.get('final_train_loss'))}, val "
                   f"{_number(training.get('final_val_loss'))}; best val "
                   f"{_number(training.get('best_val_loss'))}"),
        ("training data", f"{provenance.get('source') or 'unknown'}, "
                          f"{_number(provenance.get('patterns'))} patterns, sha256 "
                          f"{str(provenance.get('sha256') or '-')[:16]}"
                          + (f"… of the {provenance['hash_of']}" if provenance.get("hash_of")
                             else "")),
    ]
    rows.append(("convergence", convergence_text(summary.get("convergence"))))
    metrics = summary.get("metrics")
    if metrics:
        rows.append(("metrics", ", ".join(
            f"{key} {_number(metrics.get(key), 4)}" for key in
            ("amplitude_ssim", "phase_ssim", "amplitude_psnr", "phase_psnr", "amplitude_frc_px",
             "phase_frc_px") if key in metrics)))
    else:
        rows.append(("metrics", "none (export --evaluate stores them when the scan has a "
                                "ground truth)"))
    for section, table in (summary.get("config") or {}).items():
        rows.append((f"[{section}]", ", ".join(f"{k} = {v}" for k, v in table.items())))
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {text}" for label, text in rows)


def convergence_text(stored: Any) -> str:
    """The training's convergence verdict with its reasons and advice, as one line."""
    try:
        return Convergence.from_dict(stored).describe() if isinstance(stored, dict) else "-"
    except ValueError:
        return "not readable"


def run_info(args: argparse.Namespace) -> int:
    from ..bundle import load_bundle  # imports torch: only when the command runs

    bundle = load_bundle(args.bundle)
    if args.json:
        print(json.dumps(bundle.manifest, indent=2))
    else:
        print(format_bundle_summary(bundle.summary()))
    return 0


def run_export_onnx(args: argparse.Namespace) -> int:
    from ..outputs.onnx import VERIFY_TOLERANCE, export_onnx  # torch: only when it runs

    result = export_onnx(args.bundle, args.out, opset=args.opset, verify=not args.no_verify)
    inputs = "x".join(str(n) for n in result.input_shape)
    outputs = "x".join(str(n) for n in result.output_shape)
    print(f"wrote {result.path} ({_megabytes(result.path.stat().st_size)}): input 'diffraction' "
          f"{inputs} float32 -> outputs 'amplitude', 'phase' {outputs} float32 "
          "(object = amplitude * exp(i phase))")
    if result.verified:
        print(f"onnxruntime check: max abs difference to PyTorch {result.max_abs_difference:.3g}")
        if result.max_abs_difference > VERIFY_TOLERANCE:
            print(f"warning: the ONNX model differs from PyTorch by more than "
                  f"{VERIFY_TOLERANCE:g}; try another --opset", file=sys.stderr)
            return 1
    elif args.no_verify:
        print("not verified (--no-verify)")
    else:
        print("not verified: onnxruntime is not installed (pip install onnxruntime)")
    return 0
