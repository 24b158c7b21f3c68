"""What a bundle is made from: a TrainingResult, a run folder or a bare model.

Each is turned into one ``ExportSource`` (the model, its history, the run's
summary and the provenance of its training data), so the writer has a single
path. A run folder contributes its best checkpoint (else the last one),
run.json and history.csv, read through ``RunFolder``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..api import EpochRecord
from ..core.errors import PtychoError
from ..model.checkpoint import load_checkpoint
from ..model.pinn import PtychoPINN
from ..training.convergence import recorded_convergence
from ..training.run_folder import BEST_CHECKPOINT, RunFolder, history_csv
from .format import sha256_file, sha256_hex


@dataclass(frozen=True)
class ExportSource:
    """Everything the bundle writer needs, whatever the model came from.

    module: a PtychoPINN (any device). weights_from: 'module', 'best.ckpt'
    or 'last.ckpt'. training_data: the TrainingData when the source had it
    (to evaluate the model on it); scan_path: the training scan file when it is
    on disk.
    """

    module: PtychoPINN
    history: list[EpochRecord]
    history_csv: bytes
    run_info: dict[str, Any]
    weights_from: str
    provenance: dict[str, Any]
    training_data: Any = None
    scan_path: Path | None = None


def finite_or_none(value: Any) -> float | None:
    """A float for JSON, or None when missing or not finite (JSON has no NaN)."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def training_summary(history: list[EpochRecord], run_info: dict[str, Any]) -> dict[str, Any]:
    """Epochs, final/best losses, status, duration, device, budget, the loss floors and the
    convergence verdict of the training run (the recorded one, else judged from the history
    and the recorded floors, see ``recorded_convergence``)."""
    train = [r.train_loss for r in history if finite_or_none(r.train_loss) is not None]
    val = [r.val_loss for r in history if finite_or_none(r.val_loss) is not None]
    last = history[-1] if history else None
    return {
        **{key: run_info.get(key) for key in ("budget", "loss_floor", "untrained_loss")},
        "convergence": recorded_convergence(run_info, history).to_dict(),
        "epochs": len(history),
        "final_train_loss": finite_or_none(last.train_loss) if last else None,
        "final_val_loss": finite_or_none(last.val_loss) if last else None,
        "best_train_loss": min(train) if train else None,
        "best_val_loss": min(val) if val else None,
        "status": str(run_info.get("status", "unknown")),
        "seconds": finite_or_none(run_info.get("seconds")),
        "device": run_info.get("device"),
        "started": run_info.get("started"),
        "finished": run_info.get("finished"),
    }


def _file_provenance(source: str, patterns: Any, nphotons: Any) -> dict[str, Any]:
    path = Path(source) if source else None
    on_disk = path is not None and path.is_file()
    return {
        "source": path.name if path is not None else None,
        "source_path": source or None,
        "patterns": int(patterns) if patterns is not None else None,
        "nphotons": finite_or_none(nphotons),
        "sha256": sha256_file(path) if on_disk else None,
        "hash_of": "scan file" if on_disk else None,
    }


def data_provenance(data: Any) -> dict[str, Any]:
    """Provenance of TrainingData: file name, pattern count, SHA-256 of the file (or array)."""
    provenance = _file_provenance(data.source, len(data.positions), data.nphotons)
    if provenance["sha256"] is None:
        array = np.ascontiguousarray(data.diffraction, dtype=np.float32)
        provenance["sha256"] = sha256_hex(memoryview(array).cast("B"))
        provenance["hash_of"] = "normalised diffraction array (float32, C order)"
    provenance["ground_truth"] = data.ground_truth is not None
    return provenance


def from_training_result(result: Any) -> ExportSource:
    """The live module of a TrainingResult (its last epoch), with history and provenance."""
    data = result.data
    scan_path = Path(data.source) if data.source and Path(data.source).is_file() else None
    return ExportSource(module=result.module, history=list(result.history),
                        history_csv=history_csv(list(result.history)),
                        run_info=dict(result.info, status=result.status),
                        weights_from="module", provenance=data_provenance(data),
                        training_data=data, scan_path=scan_path)


def from_run_dir(run_dir: Path, scan: str | Path | None = None) -> ExportSource:
    """A run folder's best checkpoint (else last), run.json and history.csv.

    scan: the training scan, when it moved since training (used for the hash and
    for evaluation); else run.json's source path is used when it still exists.
    """
    run = RunFolder(run_dir)
    if not run.path.is_dir():
        raise PtychoError(f"{run.path}: not a folder; give the training run folder "
                          "(made by `ptycho-engine train --out`)")
    checkpoint = run.find_checkpoint(prefer=BEST_CHECKPOINT)
    module = load_checkpoint(checkpoint, device="cpu")
    info = run.read_info() or {"status": "unknown"}
    history = run.read_history()
    source = str(scan) if scan is not None else run.source
    provenance = _file_provenance(source, info.get("patterns"), info.get("nphotons"))
    if scan is not None and provenance["sha256"] is None:
        raise PtychoError(f"{scan}: scan file not found; check the path")
    return ExportSource(module=module, history=history, history_csv=run.history_bytes(),
                        run_info=info, weights_from=checkpoint.name, provenance=provenance,
                        scan_path=Path(source) if provenance["sha256"] else None)


def from_module(module: PtychoPINN) -> ExportSource:
    """A bare PtychoPINN: no history, no provenance."""
    return ExportSource(module=module, history=[], history_csv=history_csv([]),
                        run_info={"status": "unknown"}, weights_from="module",
                        provenance={"source": None, "source_path": None, "patterns": None,
                                    "nphotons": None, "sha256": None, "hash_of": None})


def export_source(source: Any, *, scan: str | Path | None = None) -> ExportSource:
    """Normalise a TrainingResult, a run folder path or a PtychoPINN (an ExportSource
    is returned as it is)."""
    if isinstance(source, ExportSource):
        return source
    if isinstance(source, PtychoPINN):
        return from_module(source)
    if hasattr(source, "module") and hasattr(source, "history") and hasattr(source, "data"):
        return from_training_result(source)
    if isinstance(source, (str, Path)):
        return from_run_dir(Path(source), scan=scan)
    raise TypeError(f"cannot export a {type(source).__name__}; give a TrainingResult, a run "
                    "folder or a PtychoPINN")
