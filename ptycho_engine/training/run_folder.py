"""``RunFolder``: the one owner of a training run folder, its file names and formats.

A run folder holds ``config.toml`` (the run's settings), ``run.json`` (status,
budget, provenance and, at the end, the convergence verdict; written when the run
starts and when it ends), ``history.csv``
(one row per finished epoch) and ``checkpoints/{best,last}.ckpt``. Training
writes it; the CLI, bundle export and the app read it; all of them through
this module, so the names, the CSV format and the rule for resuming exist
once. No torch here: the app lists its runs without importing it.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from ..api import EpochRecord
from ..core.atomic import write_bytes_atomic
from ..core.config import PtychoConfig, load_config, save_config
from ..core.errors import PtychoError
from .convergence import Convergence, recorded_convergence, unknown_convergence

CONFIG_FILE = "config.toml"
INFO_FILE = "run.json"
HISTORY_FILE = "history.csv"
CHECKPOINT_FOLDER = "checkpoints"
BEST_CHECKPOINT = "best.ckpt"
LAST_CHECKPOINT = "last.ckpt"
HISTORY_FIELDS = tuple(item.name for item in fields(EpochRecord))
"""history.csv's columns, in order."""
UNFINISHED_STATUSES = ("running", "cancelled")
"""run.json statuses of a run that stopped early: cancelled, or killed while running."""


def history_csv(records: list[EpochRecord]) -> bytes:
    """history.csv as bytes: a header, then one row per finished epoch."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=HISTORY_FIELDS, lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow(record.to_dict())
    return buffer.getvalue().encode("utf-8")


def parse_history(data: bytes) -> list[EpochRecord]:
    """Epoch records from history.csv bytes; ValueError naming the bad line when malformed."""
    try:
        rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    except (UnicodeDecodeError, csv.Error) as error:
        raise ValueError(f"is not readable CSV ({error})") from None
    records = []
    for number, row in enumerate(rows, start=2):
        try:
            val = row["val_loss"]
            records.append(EpochRecord(
                epoch=int(row["epoch"]), train_loss=float(row["train_loss"]),
                val_loss=float(val) if val not in ("", "None", None) else None,
                lr=float(row["lr"]), seconds=float(row["seconds"]),
                patterns_per_second=float(row["patterns_per_second"])))
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"line {number} is malformed ({type(error).__name__}: {error}); "
                             f"expected columns {', '.join(HISTORY_FIELDS)}") from None
    return records


def read_history(path: str | Path) -> list[EpochRecord]:
    """Epoch records of a history.csv file ([] when there is none); PtychoError when damaged."""
    path = Path(path)
    if not path.is_file():
        return []
    try:
        return parse_history(path.read_bytes())
    except (OSError, ValueError) as error:
        raise PtychoError(f"{path}: {error}; the run folder is damaged") from None


def write_history(path: str | Path, records: list[EpochRecord]) -> None:
    """Write history.csv atomically (one row per finished epoch)."""
    write_bytes_atomic(path, history_csv(records))


@dataclass(frozen=True)
class RunFolder:
    """A training run folder (it need not exist yet)."""

    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    @classmethod
    def default_for(cls, source: str, now: datetime | None = None) -> RunFolder:
        """runs/<scan name>-<YYYYmmdd-HHMMSS>, for a training with no folder given."""
        stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
        return cls(Path("runs") / f"{Path(source).stem or 'scan'}-{stamp}")

    # ------------------------------------------------------------------ names
    @property
    def config_path(self) -> Path:
        return self.path / CONFIG_FILE

    @property
    def info_path(self) -> Path:
        return self.path / INFO_FILE

    @property
    def history_path(self) -> Path:
        return self.path / HISTORY_FILE

    @property
    def checkpoint_dir(self) -> Path:
        return self.path / CHECKPOINT_FOLDER

    @property
    def best_checkpoint(self) -> Path:
        return self.checkpoint_dir / BEST_CHECKPOINT

    @property
    def last_checkpoint(self) -> Path:
        return self.checkpoint_dir / LAST_CHECKPOINT

    def is_run(self) -> bool:
        """Whether the folder looks like a training run (it has run.json or config.toml)."""
        return self.info_path.is_file() or self.config_path.is_file()

    def create(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)

    # ----------------------------------------------------------------- config
    def write_config(self, config: PtychoConfig) -> None:
        save_config(config, self.config_path)

    def read_config(self) -> PtychoConfig:
        """The run's settings (as the engine that wrote them meant them, see
        ``LEGACY_DEFAULTS``); ConfigError when config.toml is missing or invalid."""
        return load_config(self.config_path, stored=True)

    def config_text(self) -> str | None:
        """config.toml as text, None when it cannot be read."""
        try:
            return self.config_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    # --------------------------------------------------------------- run.json
    def write_info(self, info: dict[str, Any]) -> None:
        write_bytes_atomic(self.info_path, json.dumps(info, indent=2).encode())

    def read_info(self) -> dict[str, Any]:
        """run.json ({} when absent or not a JSON object); PtychoError when unreadable."""
        if not self.info_path.is_file():
            return {}
        try:
            info = json.loads(self.info_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise PtychoError(f"{self.info_path}: cannot be read as JSON ({error}); the run "
                              "folder is damaged") from None
        return info if isinstance(info, dict) else {}

    def info_or_empty(self) -> dict[str, Any]:
        """run.json, or {} when it is absent or damaged (for listings that must not fail)."""
        try:
            return self.read_info()
        except PtychoError:
            return {}

    @property
    def source(self) -> str:
        """The scan the run was trained on, as run.json records it ('' when unknown)."""
        return str(self.info_or_empty().get("source") or "")

    def convergence(self) -> Convergence:
        """The verdict on the run's fit: the one run.json recorded when training ended,
        else judged from history.csv and the recorded loss floor (a run that was stopped
        hard, or written by an older engine); 'unknown' when neither can be read."""
        try:
            return recorded_convergence(self.read_info(), self.read_history())
        except PtychoError as error:
            return unknown_convergence(str(error))

    # ---------------------------------------------------------------- history
    def read_history(self) -> list[EpochRecord]:
        return read_history(self.history_path)

    def write_history(self, records: list[EpochRecord]) -> None:
        write_history(self.history_path, records)

    def history_bytes(self) -> bytes:
        """history.csv as it is on disk (a header only when there is none)."""
        if self.history_path.is_file():
            return self.history_path.read_bytes()
        return history_csv([])

    def epochs_done(self) -> int:
        """Finished epochs: run.json's count, else history.csv's rows (0 when unreadable)."""
        epochs = self.info_or_empty().get("epochs")
        if isinstance(epochs, int) and not isinstance(epochs, bool):
            return epochs
        try:
            return len(self.read_history())
        except PtychoError:
            return 0

    # ------------------------------------------------------------ checkpoints
    def has_checkpoint(self) -> bool:
        return self.best_checkpoint.is_file() or self.last_checkpoint.is_file()

    def find_checkpoint(self, *, prefer: str = BEST_CHECKPOINT) -> Path:
        """The preferred checkpoint, else any; PtychoError when there is none."""
        for name in (prefer, LAST_CHECKPOINT, BEST_CHECKPOINT):
            if (self.checkpoint_dir / name).is_file():
                return self.checkpoint_dir / name
        raise PtychoError(f"{self.path}: no checkpoint found in {self.checkpoint_dir}; is this "
                          "a training run folder (made by `ptycho-engine train --out`)?")

    # ----------------------------------------------------------------- resume
    def resume_problem(self) -> str | None:
        """Why training cannot continue from this folder, or None when it can."""
        if not self.path.is_dir():
            return f"{self.path}: not found; give the run folder to resume"
        if not self.last_checkpoint.is_file():
            return (f"{self.path}: nothing to resume, {self.last_checkpoint} does not exist "
                    "(the run never finished an epoch)")
        return None

    @property
    def can_resume(self) -> bool:
        """A full epoch was saved (checkpoints/last.ckpt), so training can continue."""
        return self.resume_problem() is None

    def planned_epochs(self) -> int | None:
        """training.epochs of config.toml; None when it cannot be read."""
        try:
            return self.read_config().training.epochs
        except PtychoError:
            return None

    def interrupted(self) -> bool:
        """The run stopped before its planned epochs (cancelled, or killed while running)
        and can continue from its last checkpoint."""
        planned = self.planned_epochs()
        return (self.info_or_empty().get("status") in UNFINISHED_STATUSES and self.can_resume
                and planned is not None and self.epochs_done() < planned)
