"""Worker tasks around trained models: reconstruct, compare, export, load, save, list runs.

Each function returns a Task (run by the JobManager in a QThread) that calls the
engine's public API and returns plain results for the GUI thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ptycho_engine import PtychoError, Scan

from ..runs import RunRecord, list_runs
from .runner import Task, TaskContext

if TYPE_CHECKING:
    from ptycho_engine import Bundle, Reconstruction, TrainingResult


@dataclass(frozen=True)
class Reference:
    """What a reconstruction is compared with: (H, W) complex64 object whose pixel
    [0, 0] sits at ``offset`` (row, col) of the scan's pixel frame."""

    object: np.ndarray
    offset: tuple[float, float]
    label: str


@dataclass(frozen=True)
class ReconstructionResult:
    """A reconstruction, its display copy and its comparison (metrics None, with a note,
    when there is none)."""

    reconstruction: Reconstruction
    display: np.ndarray
    metrics: dict[str, Any] | None
    metrics_note: str


def display_object(reconstruction: Reconstruction) -> np.ndarray:
    """The stitched object (H, W) complex64 with NaN where no patch landed (weight 0), so
    the viewer neither shows nor fits its levels to the empty border."""
    return np.where(reconstruction.weight > 0, reconstruction.object,
                    np.complex64(np.nan)).astype(np.complex64)


def compare(reconstruction: Reconstruction,
            reference: Reference | None) -> tuple[dict | None, str]:
    """The engine's metrics of ``reconstruction`` against ``reference`` (alignment applied).

    The reconstruction's offset is expressed in the reference's frame; a
    comparison the engine refuses (e.g. no overlap) gives (None, its message).
    """
    if reference is None:
        return None, "No ground truth or reference: load a reference to see metrics."
    from ptycho_engine import evaluate

    offset = (reconstruction.offset[0] - reference.offset[0],
              reconstruction.offset[1] - reference.offset[1])
    try:
        result = evaluate(reconstruction.object, offset, reference.object,
                          mask=reconstruction.weight > 0)
    except (PtychoError, ValueError) as error:
        return None, f"No metrics: {error}"
    return result.to_dict(), f"against {reference.label}"


def reconstruct_task(model: TrainingResult | Path | Bundle, scan: Scan,
                     reference: Reference | None) -> Task:
    """Stitch ``scan`` with ``model`` (TrainingResult, run folder or Bundle), then compare."""

    def task(context: TaskContext) -> ReconstructionResult:
        context.report(0, 0, f"Reconstructing {scan.name}…")
        from ptycho_engine import load_model, reconstruct

        reconstruction = reconstruct(load_model(model), scan)
        display = display_object(reconstruction)
        if context.cancelled:
            return ReconstructionResult(reconstruction, display, None, "")
        context.report(0, 0, f"Comparing {scan.name} with the reference…")
        metrics, note = compare(reconstruction, reference)
        return ReconstructionResult(reconstruction, display, metrics, note)

    return task


def compare_task(reconstruction: Reconstruction, reference: Reference | None) -> Task:
    """Only the comparison (a new reference for the reconstruction on show)."""

    def task(context: TaskContext) -> tuple[dict | None, str]:
        context.report(0, 0, "Comparing with the reference…")
        return compare(reconstruction, reference)

    return task


def load_reference_task(path: Path) -> Task:
    """Read a reference reconstruction (NPZ or product HDF5) with the engine's reader."""

    def task(context: TaskContext) -> Reference:
        context.report(0, 0, f"Reading {path.name}…")
        from ptycho_engine import load_reconstruction

        loaded = load_reconstruction(path)
        return Reference(np.asarray(loaded.object, np.complex64),
                         (float(loaded.offset[0]), float(loaded.offset[1])), path.name)

    return task


def load_bundle_task(path: Path) -> Task:
    """Open and check a model bundle (format version, checksums, weights)."""

    def task(context: TaskContext) -> Bundle:
        context.report(0, 0, f"Checking {path.name}…")
        from ptycho_engine import load_bundle

        return load_bundle(path)

    return task


@dataclass(frozen=True)
class ExportedBundle:
    """Where a bundle was written and its size in bytes."""

    path: Path
    size: int


def export_bundle_task(source: TrainingResult | Path, path: Path) -> Task:
    """Write a bundle (atomically, by the engine) from a TrainingResult or a run folder."""

    def task(context: TaskContext) -> ExportedBundle:
        context.report(0, 0, f"Writing {path.name}…")
        from ptycho_engine import export_bundle

        written = export_bundle(source, path)
        return ExportedBundle(Path(written), Path(written).stat().st_size)

    return task


def save_reconstruction_task(reconstruction: Reconstruction, path: Path, *, scan: Scan | None,
                             probe: np.ndarray | None, losses: tuple[float, ...]) -> Task:
    """Write NPZ, product HDF5 or a TIFF pair (chosen by the suffix); returns the files."""

    def task(context: TaskContext) -> list[Path]:
        context.report(0, 0, f"Writing {path.name}…")
        from ptycho_engine import ProductMetadata, save_reconstruction

        metadata = ProductMetadata.from_scan(scan, name=path.stem) if scan is not None else None
        chosen_probe = probe if probe is not None else (scan.probe if scan is not None else None)
        return save_reconstruction(reconstruction, path, probe=chosen_probe, metadata=metadata,
                                   loss_values=list(losses))

    return task


def list_runs_task(root: Path, active: Path | None) -> Task:
    """Read the run folders under ``root`` (newest first)."""

    def task(context: TaskContext) -> list[RunRecord]:
        context.report(0, 0, "Reading the run folders…")
        return list_runs(root, active)

    return task
