"""The application's state as one QObject: open scans, the selection, the config.

Panels read the session and react to its signals; they never talk to each
other. Everything here runs in the GUI thread; workers deliver results through
the window, which then calls the session.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from ptycho_engine import ConfigError, PtychoConfig, Scan, validate, with_overrides

if TYPE_CHECKING:
    from ptycho_engine import Bundle, Convergence, Reconstruction, TrainingResult


@dataclass(frozen=True)
class ModelEntry:
    """A trained model the app can reconstruct with.

    ``kind`` is 'training' (``source`` is the engine's TrainingResult of this session),
    'run' (``source`` is a run folder Path) or 'bundle' (``source`` is a loaded Bundle);
    each is something ``ptycho_engine.reconstruct`` accepts. ``N`` is its pattern size,
    ``run_dir`` where its checkpoints live (None for a bundle), ``probe`` its (N, N)
    complex64 probe when known, ``train_losses`` its per-epoch training losses, and
    ``details`` plain text for display (config, training summary, provenance).
    ``scan_key`` is the open scan it was trained on, when there is one. ``convergence`` is
    the engine's verdict on the training that made it (None when nothing records one);
    every view of its reconstructions labels them with it.
    """

    kind: str
    label: str
    source: TrainingResult | Path | Bundle
    N: int
    run_dir: Path | None = None
    probe: np.ndarray | None = None
    train_losses: tuple[float, ...] = ()
    details: str = ""
    scan_key: int | None = None
    convergence: Convergence | None = None


@dataclass(frozen=True)
class ReconstructionEntry:
    """A stitched object of one scan, the model that made it, and what it was compared with.

    ``reconstruction`` is the engine's Reconstruction (object (H, W) complex64 in the
    scan's pixel frame, pixel [0, 0] at ``offset`` (row, col)). ``reference`` is the
    comparison object or None: the scan's ground truth (offset (0, 0)) or a loaded
    reference reconstruction, with ``reference_offset`` (row, col) in the scan frame.
    ``metrics`` is ``Evaluation.to_dict()`` against the reference, or None with
    ``metrics_note`` saying why. ``display`` is the object as drawn: NaN where no patch
    landed (the engine's object has 0 there).
    """

    reconstruction: Reconstruction
    scan_key: int
    scan_name: str
    model: ModelEntry
    display: np.ndarray | None = None
    reference: np.ndarray | None = None
    reference_offset: tuple[float, float] = (0.0, 0.0)
    reference_label: str = ""
    metrics: dict[str, Any] | None = None
    metrics_note: str = ""


@dataclass(frozen=True)
class ScanEntry:
    """One open scan: the engine's Scan, its summary (``summarize_scan``) and where it came from.

    ``key`` identifies the entry for the whole session (names and paths may repeat).
    """

    key: int
    path: Path
    scan: Scan
    summary: dict[str, Any]

    @property
    def name(self) -> str:
        return self.scan.name


class Session(QObject):
    """Loaded scans, the selected scan and pattern, the config and whether training may start.

    Signals carry ScanEntry objects (or None) and plain values:

    - ``scanAdded(entry)``, ``scanRemoved(entry)``, ``scanReplaced(entry)`` (same key,
      e.g. a new probe), ``currentScanChanged(entry or None)``
    - ``currentPatternChanged(index)``: the pattern shown by the browser views
    - ``meanPatternChanged(key)``: a mean pattern was stored for scan ``key``
    - ``configChanged(config)``: a new valid config is current
    - ``configProblemsChanged(problems)``: [(dotted key, message)] of the edited values
    - ``trainingAllowedChanged(allowed)``: a scan is selected, the config is valid and no
      training runs
    - ``trainingRunningChanged(running)``: a training started or ended
    - ``runsChanged()``: a run folder appeared or changed (a training started or ended)
    - ``modelChanged(entry or None)``: the ModelEntry reconstructions use
    - ``reconstructionChanged(entry or None)``: the ReconstructionEntry on show
    """

    scanAdded = Signal(object)
    scanRemoved = Signal(object)
    scanReplaced = Signal(object)
    currentScanChanged = Signal(object)
    currentPatternChanged = Signal(int)
    meanPatternChanged = Signal(int)
    configChanged = Signal(object)
    configProblemsChanged = Signal(list)
    trainingAllowedChanged = Signal(bool)
    trainingRunningChanged = Signal(bool)
    runsChanged = Signal()
    modelChanged = Signal(object)
    reconstructionChanged = Signal(object)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._keys = itertools.count(1)
        self._entries: dict[int, ScanEntry] = {}
        self._current: int | None = None
        self._pattern = 0
        self._means: dict[int, np.ndarray] = {}
        self._config = PtychoConfig()
        self._problems: list[tuple[str, str]] = []
        self._training_allowed = False
        self._training_running = False
        self._model: ModelEntry | None = None
        self._reconstruction: ReconstructionEntry | None = None

    # ------------------------------------------------------------------ scans
    def scans(self) -> list[ScanEntry]:
        return list(self._entries.values())

    def entry(self, key: int) -> ScanEntry | None:
        return self._entries.get(key)

    def find_path(self, path: Path) -> ScanEntry | None:
        """The open entry read from ``path``, if any."""
        wanted = Path(path).resolve()
        return next((e for e in self._entries.values() if e.path.resolve() == wanted), None)

    def current_scan(self) -> ScanEntry | None:
        return None if self._current is None else self._entries.get(self._current)

    def add_scan(self, path: Path, scan: Scan, summary: dict[str, Any]) -> ScanEntry:
        """Register a loaded scan and select it."""
        entry = ScanEntry(next(self._keys), Path(path), scan, summary)
        self._entries[entry.key] = entry
        self.scanAdded.emit(entry)
        self.select_scan(entry.key)
        return entry

    def remove_scan(self, key: int) -> None:
        """Forget a scan; the selection moves to another open scan (or none)."""
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        self._means.pop(key, None)
        self.scanRemoved.emit(entry)
        if self._current == key:
            remaining = list(self._entries)
            self._select(remaining[-1] if remaining else None)

    def replace_scan(self, key: int, scan: Scan, summary: dict[str, Any]) -> ScanEntry:
        """Swap the Scan of an entry (e.g. with another probe), keeping key and path."""
        entry = replace(self._entries[key], scan=scan, summary=summary)
        self._entries[key] = entry
        self.scanReplaced.emit(entry)
        return entry

    def select_scan(self, key: int | None) -> None:
        if key is not None and key not in self._entries:
            raise KeyError(f"no open scan with key {key}")
        if key != self._current:
            self._select(key)

    def _select(self, key: int | None) -> None:
        self._current = key
        self._pattern = 0
        self.currentScanChanged.emit(self.current_scan())
        self._update_training_allowed()

    # --------------------------------------------------------------- patterns
    @property
    def current_pattern(self) -> int:
        return self._pattern

    def select_pattern(self, index: int) -> None:
        """Show pattern ``index`` of the current scan (clamped to the scan's range)."""
        entry = self.current_scan()
        if entry is None:
            return
        index = int(min(max(index, 0), entry.scan.n_patterns - 1))
        if index != self._pattern:
            self._pattern = index
            self.currentPatternChanged.emit(index)

    def mean_pattern(self, key: int) -> np.ndarray | None:
        """The stored mean intensity (N, N) float32 counts of scan ``key``, if computed."""
        return self._means.get(key)

    def set_mean_pattern(self, key: int, mean: np.ndarray) -> None:
        if key in self._entries:
            self._means[key] = mean
            self.meanPatternChanged.emit(key)

    # ----------------------------------------------------------------- config
    @property
    def config(self) -> PtychoConfig:
        """The last valid config (what a training would use)."""
        return self._config

    @property
    def config_problems(self) -> list[tuple[str, str]]:
        """Problems of the values being edited; empty when they form a valid config."""
        return list(self._problems)

    @property
    def training_allowed(self) -> bool:
        return self._training_allowed

    def set_config(self, config: PtychoConfig) -> None:
        """Make a complete config current (loaded, preset, reset); invalid ones raise."""
        problems = validate(config)
        if problems:
            raise ConfigError(problems)
        self._set_problems([])
        if config != self._config:
            self._config = config
            self.configChanged.emit(config)
        self._update_training_allowed()

    def propose_config_values(self, values: dict[str, Any]) -> list[tuple[str, str]]:
        """Values typed in the editor, by dotted key: valid ones become the config.

        Returns (and signals) the engine's problems; the last valid config stays
        current while there are any.
        """
        try:
            config = with_overrides(PtychoConfig(), values)
        except ConfigError as error:
            self._set_problems(error.problems)
        else:
            self._set_problems([])
            if config != self._config:
                self._config = config
                self.configChanged.emit(config)
        self._update_training_allowed()
        return self.config_problems

    def _set_problems(self, problems: list[tuple[str, str]]) -> None:
        if problems != self._problems:
            self._problems = list(problems)
            self.configProblemsChanged.emit(self.config_problems)

    # --------------------------------------------------------------- training
    @property
    def training_running(self) -> bool:
        return self._training_running

    def set_training_running(self, running: bool) -> None:
        """A training started (True) or ended (False); Train is disabled meanwhile."""
        if running != self._training_running:
            self._training_running = running
            self.trainingRunningChanged.emit(running)
            self.runsChanged.emit()
        self._update_training_allowed()

    # ------------------------------------------------ model and reconstruction
    @property
    def model(self) -> ModelEntry | None:
        return self._model

    def set_model(self, entry: ModelEntry | None) -> None:
        """Make ``entry`` the model that reconstructions use (None forgets it)."""
        self._model = entry
        self.modelChanged.emit(entry)

    @property
    def reconstruction(self) -> ReconstructionEntry | None:
        return self._reconstruction

    def set_reconstruction(self, entry: ReconstructionEntry | None) -> None:
        self._reconstruction = entry
        self.reconstructionChanged.emit(entry)

    def _update_training_allowed(self) -> None:
        allowed = (not self._problems and self.current_scan() is not None
                   and not self._training_running)
        if allowed != self._training_allowed:
            self._training_allowed = allowed
            self.trainingAllowedChanged.emit(allowed)
