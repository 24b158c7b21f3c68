"""The app's training run folders: where they go and what the run list shows about each.

Every training started from the app writes an engine run folder
(config.toml, run.json, history.csv, checkpoints/) under one ``runs`` folder
next to the app's settings. Reading them needs no Qt and no torch, so the run
list can be refreshed in a worker without delaying anything.
"""

from __future__ import annotations

import csv
import json
import math
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

RUNS_FOLDER = "runs"
LAST_CHECKPOINT = Path("checkpoints") / "last.ckpt"
BEST_CHECKPOINT = Path("checkpoints") / "best.ckpt"
ENDED = ("finished", "cancelled", "time_limit")


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
        """A full epoch was saved, so training can continue from it."""
        return (self.path / LAST_CHECKPOINT).is_file() and self.status != "running"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _history_epochs(path: Path) -> int:
    """Rows of history.csv (one per finished epoch); 0 when absent."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return 0
    return max(0, sum(1 for line in lines if line.strip()) - 1)


def train_losses(run_dir: Path) -> tuple[float, ...]:
    """The per-epoch training losses of history.csv (empty when absent or unreadable)."""
    try:
        with (Path(run_dir) / "history.csv").open(newline="", encoding="utf-8") as handle:
            return tuple(float(row["train_loss"]) for row in csv.DictReader(handle))
    except (OSError, KeyError, ValueError, TypeError):
        return ()


def read_run(path: Path, active: Path | None = None) -> RunRecord:
    """What ``path`` (a run folder) says about itself; damaged files give 'unknown' values."""
    path = Path(path)
    try:
        info = json.loads((path / "run.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        info = {}
    if not isinstance(info, dict):
        info = {}
    status = str(info.get("status", "unknown"))
    is_active = active is not None and Path(active).resolve() == path.resolve()
    if status == "running" and not is_active:
        status = "incomplete"
    if is_active:
        status = "running"
    try:
        config_text = (path / "config.toml").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        config_text = "(no readable config.toml)"
    epochs = info.get("epochs")
    return RunRecord(
        path=path, status=status,
        epochs=int(epochs) if isinstance(epochs, int) else _history_epochs(path / "history.csv"),
        final_train_loss=_number(info.get("final_train_loss")),
        final_val_loss=_number(info.get("final_val_loss")),
        source=Path(str(info.get("source", ""))).name, started=str(info.get("started", "")),
        device=str(info.get("device", "")), seconds=_number(info.get("seconds")),
        config_text=config_text,
        has_checkpoint=(path / BEST_CHECKPOINT).is_file() or (path / LAST_CHECKPOINT).is_file(),
        source_path=str(info.get("source", "")))


def list_runs(root: Path, active: Path | None = None) -> list[RunRecord]:
    """The run folders under ``root`` (those with a run.json or config.toml), newest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    folders = [p for p in root.iterdir()
               if p.is_dir() and ((p / "run.json").is_file() or (p / "config.toml").is_file())]
    records = [read_run(folder, active) for folder in sorted(folders)]
    records.sort(key=lambda record: record.started, reverse=True)  # ISO times sort as text
    return records
