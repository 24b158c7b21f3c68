"""The app's long tasks, as functions of a TaskContext that call the engine."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ptycho_engine import Scan, load_scan, save_scan, summarize_scan

from .runner import Task, TaskContext


@dataclass(frozen=True)
class LoadedScan:
    """What opening a file produces: the scan and its summary, ready for the session."""

    path: Path
    scan: Scan
    summary: dict[str, Any]


def open_scan_task(path: Path) -> Task:
    """Read and summarise a scan file (any format the engine knows)."""

    def task(context: TaskContext) -> LoadedScan:
        context.report(0, 0, f"Opening {path.name}…")
        scan = load_scan(path)
        context.report(0, 0, f"Summarising {path.name}…")
        return LoadedScan(path, scan, summarize_scan(scan))

    return task


def export_scan_task(scan: Scan, path: Path) -> Task:
    """Write a scan (with its current probe) as NPZ or CXI, chosen by the suffix."""

    def task(context: TaskContext) -> Path:
        context.report(0, 0, f"Writing {path.name}…")
        save_scan(scan, path)
        return path

    return task
