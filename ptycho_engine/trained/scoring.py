"""``training_metrics``: how well a trained model reconstructs its own training scan.

For simulated scans, whose ground truth is known: one inference pass over the
training scan, then ``metrics.evaluate`` against the truth. The result goes
into a bundle's manifest (``export_bundle(..., metrics=...)``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..bundle.sources import ExportSource, export_source
from ..core.errors import PtychoError
from ..data.io import load_scan
from ..data.scan import Scan
from ..metrics import evaluate
from ..reconstruction.inference import reconstruct


def training_scan(prepared: ExportSource) -> tuple[Scan, str]:
    """The scan a model was trained on, and where it came from; PtychoError when it is
    not available any more."""
    data = prepared.training_data
    if data is not None:  # normalised amplitudes: reconstruct's own normalisation keeps them
        scan = Scan(data.diffraction, data.positions, data.probe, ground_truth=data.ground_truth)
        return scan, data.source
    if prepared.scan_path is not None:
        return load_scan(prepared.scan_path), str(prepared.scan_path)
    raise PtychoError("cannot evaluate: the training scan is not on disk any more; give "
                      "it with --scan (scan= in Python)")


def training_metrics(source: Any, *, scan: str | Path | None = None) -> dict[str, Any]:
    """``metrics.evaluate`` of a model on its own training scan, against the ground truth.

    source: a TrainingResult, a run folder, or an ``ExportSource`` already prepared
    (then the model is not loaded twice). scan: the training scan file when a run
    folder's recorded path no longer exists. PtychoError when the scan has no
    ground truth.
    """
    prepared = export_source(source, scan=scan)
    training, where = training_scan(prepared)
    if training.ground_truth is None:
        raise PtychoError(f"{where}: the training scan has no ground truth (objectGuess), so "
                          "there is nothing to evaluate against")
    recon = reconstruct(prepared.module, training)
    result = evaluate(recon.object, recon.offset, training.ground_truth, mask=recon.weight > 0)
    return {"scan": prepared.provenance.get("source"), **result.to_dict()}
