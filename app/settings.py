"""What persists between runs: window geometry and dock layout, recent files, the last config,
and the training run the last session left unfinished.

Stored with QSettings in an INI file (in ``settings_dir`` when given, as tests
do, else in the user's standard location) plus ``last_config.toml`` next to it.
A damaged store is moved aside with a log line; it never stops the app.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from ptycho_engine import PtychoConfig, PtychoError, load_config, save_config

log = logging.getLogger("ptycho_studio.settings")

ORGANIZATION = "PtychoStudio"
APPLICATION = "Ptycho Studio"
SETTINGS_FILE = "ptycho-studio.ini"
LAST_CONFIG_FILE = "last_config.toml"
MAX_RECENT = 10


class SettingsStore:
    """Typed reads and writes over QSettings; bad stored values are logged and ignored."""

    def __init__(self, settings_dir: Path | None = None):
        if settings_dir is not None:
            Path(settings_dir).mkdir(parents=True, exist_ok=True)
            self._qsettings = QSettings(str(Path(settings_dir) / SETTINGS_FILE),
                                        QSettings.Format.IniFormat)
        else:
            self._qsettings = QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope,
                                        ORGANIZATION, APPLICATION)
        self.path = Path(self._qsettings.fileName())
        self.folder = self.path.parent
        if self._qsettings.status() != QSettings.Status.NoError:
            self._set_aside(f"QSettings status {self._qsettings.status().name}")

    def _set_aside(self, reason: str) -> None:
        """Move a damaged store out of the way and start from an empty one."""
        aside = self.path.with_name(f"{self.path.name}.damaged-{int(time.time())}")
        log.warning("settings store %s is damaged (%s); moved it to %s and started afresh",
                    self.path, reason, aside)
        fmt = self._qsettings.format()
        del self._qsettings
        try:
            self.path.replace(aside)
        except OSError as error:
            log.warning("could not move the damaged settings store aside: %s", error)
        self._qsettings = QSettings(str(self.path), fmt)

    # ----------------------------------------------------------------- typed io
    def _bytes(self, key: str) -> QByteArray | None:
        value = self._qsettings.value(key)
        if value is None:
            return None
        if isinstance(value, QByteArray):
            return value
        if isinstance(value, bytes | bytearray):
            return QByteArray(bytes(value))
        log.warning("settings: ignored %s (expected bytes, found %s)", key,
                    type(value).__name__)
        return None

    def window_state(self) -> tuple[QByteArray | None, QByteArray | None]:
        """(geometry, dock state) as saved by QMainWindow, or None where absent or bad."""
        return self._bytes("window/geometry"), self._bytes("window/state")

    def save_window_state(self, geometry: QByteArray, state: QByteArray) -> None:
        self._qsettings.setValue("window/geometry", geometry)
        self._qsettings.setValue("window/state", state)
        self._qsettings.sync()

    def recent_files(self) -> list[Path]:
        """Recently opened scans, newest first (stored as a JSON list of strings)."""
        raw = self._qsettings.value("files/recent", "[]")
        try:
            names = json.loads(raw) if isinstance(raw, str) else None
        except json.JSONDecodeError:
            names = None
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            log.warning("settings: ignored files/recent (expected a JSON list of paths, found "
                        "%.60r)", raw)
            return []
        return [Path(n) for n in names[:MAX_RECENT]]

    def add_recent_file(self, path: Path) -> list[Path]:
        path = Path(path).resolve()
        files = [path] + [p for p in self.recent_files() if p != path]
        self._write_recent(files[:MAX_RECENT])
        return files[:MAX_RECENT]

    def clear_recent_files(self) -> None:
        self._write_recent([])

    def _write_recent(self, files: list[Path]) -> None:
        self._qsettings.setValue("files/recent", json.dumps([str(p) for p in files]))
        self._qsettings.sync()

    def unfinished_run(self) -> Path | None:
        """The run folder a training was writing when the last session ended (None if none)."""
        value = self._qsettings.value("training/unfinished_run", "")
        if not isinstance(value, str):
            log.warning("settings: ignored training/unfinished_run (expected a folder, found "
                        "%.60r)", value)
            return None
        return Path(value) if value else None

    def set_unfinished_run(self, run_dir: Path | None) -> None:
        """Record the run being trained (synced at once, so a crash leaves it); None forgets."""
        self._qsettings.setValue("training/unfinished_run", str(run_dir) if run_dir else "")
        self._qsettings.sync()

    def last_config_path(self) -> Path:
        return self.folder / LAST_CONFIG_FILE

    def load_last_config(self) -> PtychoConfig | None:
        """The config of the last session; None (with a log line) if absent or unreadable."""
        path = self.last_config_path()
        if not path.is_file():
            return None
        try:
            return load_config(path)
        except PtychoError as error:
            log.warning("settings: ignored the last config: %s", error)
            return None

    def save_last_config(self, config: PtychoConfig) -> None:
        try:
            save_config(config, self.last_config_path())
        except OSError as error:
            log.warning("settings: could not save the last config: %s", error)
