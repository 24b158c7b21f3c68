"""Fixtures for the GUI tests: scripted dialogs, windows with temporary settings, small scans.

Windows are closed at teardown through their real close path (jobs stopped,
threads waited for), so no QThread is ever destroyed while running.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QEvent

from app.application import configure_pyqtgraph
from app.workers.gui_gc import uninstall_gui_thread_gc

from .bad_files import write_good_npz

configure_pyqtgraph()

DEMO_SCAN = Path(__file__).resolve().parents[2] / "resources" / "demo" / "demo_scan.npz"


@dataclass
class ScriptedDialogs:
    """Stands in for app.dialogs.Dialogs: records what would be shown, answers from scripts."""

    errors: list[tuple[str, str, str]] = field(default_factory=list)
    questions: list[tuple[str, str]] = field(default_factory=list)
    abouts: list[str] = field(default_factory=list)
    confirm_answer: bool = True
    files_to_open: list[Path] = field(default_factory=list)
    file_to_save: Path | None = None

    def show_error(self, parent, title: str, text: str, details: str) -> None:
        self.errors.append((title, text, details))

    def confirm(self, parent, title: str, question: str) -> bool:
        self.questions.append((title, question))
        return self.confirm_answer

    def open_files(self, parent, title: str, filter: str, folder: str = "") -> list[Path]:
        files, self.files_to_open = self.files_to_open, []
        return files

    def open_file(self, parent, title: str, filter: str, folder: str = "") -> Path | None:
        return self.files_to_open.pop(0) if self.files_to_open else None

    def save_file(self, parent, title: str, filter: str, suggested: str = "") -> Path | None:
        return self.file_to_save

    def show_about(self, parent, title: str, html: str) -> None:
        self.abouts.append(html)


@pytest.fixture
def dialogs() -> ScriptedDialogs:
    return ScriptedDialogs()


@pytest.fixture
def make_window(qtbot, tmp_path: Path, dialogs: ScriptedDialogs) -> Iterator[Callable]:
    """Factory: ``make_window(paths=(), settings_dir=None, config_path=None)`` -> MainWindow."""
    from app.main_window import create_main_window

    windows = []

    def make(paths=(), settings_dir: Path | None = None, config_path: Path | None = None):
        window = create_main_window(list(paths), settings_dir or tmp_path / "settings",
                                    config_path, dialogs=dialogs)
        windows.append(window)
        return window

    yield make
    for window in windows:
        dialogs.confirm_answer = True
        window.close()
        window.jobs.stop_all()
        window._info_job.wait()
        window.reporter.uninstall_hooks()
        window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
    # every thread has ended: give collection back to the interpreter (the engine tests
    # that follow run no event loop) and collect this test's windows here, in this thread
    uninstall_gui_thread_gc()
    gc.collect()


def wait_for_scans(qtbot, window, count: int, timeout: int = 15000) -> None:
    """Wait until ``count`` scans are open and no job runs."""
    qtbot.waitUntil(lambda: len(window.session.scans()) == count and not window.jobs.busy,
                    timeout=timeout)


@pytest.fixture
def tiny_scan_file(tmp_path: Path) -> Path:
    """30 random 16 x 16 patterns on a grid, Gaussian probe (a valid NPZ scan)."""
    return write_good_npz(tmp_path / "tiny_scan.npz")


def tiny_training_config(epochs: int = 3, **overrides):
    """N = 32, narrow network, previews every epoch: a training of a few seconds on one core."""
    from ptycho_engine import PtychoConfig, with_overrides

    values = {"data.N": 32, "data.gridsize": 1, "data.n_groups": 0,
              "model.n_filters_scale": 1, "training.epochs": epochs,
              "training.batch_size": 16, "training.val_fraction": 0.1,
              "training.preview_every": 1, "training.device": "cpu",
              "inference.stitch_crop": 16}
    values.update(overrides)
    return with_overrides(PtychoConfig(), values)


@pytest.fixture(scope="session")
def sim_scan_file(tmp_path_factory) -> Path:
    """96 simulated 32 x 32 patterns of a Siemens star, with its ground truth (NPZ)."""
    from ptycho_engine import save_scan
    from ptycho_engine.simulation import SimulationSpec, simulate_from_spec

    scan = simulate_from_spec(SimulationSpec(N=32, patterns=96, step_px=3.0, photons=1e5,
                                             seed=7))
    path = tmp_path_factory.mktemp("sim") / "sim_star.npz"
    save_scan(scan, path)
    return path


def wait_for_engine(qtbot, window, timeout: int = 120000) -> None:
    """Wait for the start-up job that imports torch and Lightning (as the app does it)."""
    qtbot.waitUntil(lambda: window.system_info is not None, timeout=timeout)
