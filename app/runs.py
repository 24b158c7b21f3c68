"""The app's training run folders: where they go and what the run list shows about each.

Every training started from the app writes an engine run folder
(config.toml, run.json, history.csv, checkpoints/) under one ``runs`` folder
next to the app's settings. Reading them needs no Qt and no torch, so the run
list can be refreshed in a worker without delaying anything.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ptycho_engine import PtychoError, RunFolder

RUNS_FOLDER = "runs"


def runs_root(settings_folder: Path) -> Path:
    """The folder that holds the app's run folders (created on first use)."""
    return Path(settings_folder) / RUNS_FOLDER


def new_run_dir(root: Path, scan_name: str, now: datetime | None = None) -> Path:
    """A fresh run folder name ``<scan>-<YYYYmmdd-HHMMSS>`` under ``root`` (not created)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", scan_name).strip("._") or "scan"
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    candidate = Path(root) / f"{stem}-{stamp}"
    number = 2
    while candidate.exists():
        candidate = Path(root) / f"{stem}-{stamp}-{number}"
        number += 1
    return candidate


@dataclass(frozen=True)
class RunRecord:
    """One run folder as the run list shows it.

    status: the engine's 'finished', 'cancelled' or 'time_limit'; 'running' for the
    run in progress; 'incomplete' for a run that never recorded an end (it failed or
    the program stopped); 'unknown' without a readable run.json.
    """

    path: Path
    status: str
    epochs: int
    final_train_loss: float | None
    final_val_loss: float | None
    source: str
    started: str
    device: str
    seconds: float | None
    config_text: str
    has_checkpoint: bool
    source_path: str = ""  # the scan file as the engine recorded it (``source`` is its name)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def can_resume(self) -> bool:
        """A full epoch was saved, so training can continue from it (not while it runs)."""
        return RunFolder(self.path).can_resume and self.status != "running"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def train_losses(run_dir: Path) -> tuple[float, ...]:
    """The per-epoch training losses of history.csv (empty when absent or unreadable)."""
    try:
        return tuple(record.train_loss for record in RunFolder(run_dir).read_history())
    except PtychoError:
        return ()


def read_run(path: Path, active: Path | None = None) -> RunRecord:
    """What ``path`` (a run folder) says about itself; damaged files give 'unknown' values."""
    run = RunFolder(path)
    info = run.info_or_empty()
    status = str(info.get("status", "unknown"))
    is_active = active is not None and Path(active).resolve() == run.path.resolve()
    if status == "running" and not is_active:
        status = "incomplete"
    if is_active:
        status = "running"
    config_text = run.config_text()
    return RunRecord(
        path=run.path, status=status, epochs=run.epochs_done(),
        final_train_loss=_number(info.get("final_train_loss")),
        final_val_loss=_number(info.get("final_val_loss")),
        source=Path(run.source).name, started=str(info.get("started", "")),
        device=str(info.get("device", "")), seconds=_number(info.get("seconds")),
        config_text=config_text if config_text is not None else "(no readable config.toml)",
        has_checkpoint=run.has_checkpoint(), source_path=run.source)


def list_runs(root: Path, active: Path | None = None) -> list[RunRecord]:
    """The run folders under ``root`` (those with a run.json or config.toml), newest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    folders = [p for p in root.iterdir() if p.is_dir() and RunFolder(p).is_run()]
    records = [read_run(folder, active) for folder in sorted(folders)]
    records.sort(key=lambda record: record.started, reverse=True)  # ISO times sort as text
    return records
