"""Soak: 200 tiny epochs in the app's training worker with a preview every epoch. Host memory
stays flat after epoch 20, and no thread, timer or file descriptor outlives the run."""

from __future__ import annotations

import gc
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtCore import QCoreApplication, QEvent, QThread, QTimer

from .conftest import tiny_training_config, wait_for_engine, wait_for_scans
from .test_training_dashboard import TRAINING_TIMEOUT

pytestmark = pytest.mark.slow

SOAK_EPOCHS = 200
FIRST_COUNTED_EPOCH = 20
MAX_GROWTH_MB = 50.0
SOAK_TIMEOUT = 600_000


def proc_status(field: str) -> int:
    """A number of /proc/self/status (VmRSS in kB, Threads as a count)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise KeyError(field)


def rss_mb() -> float:
    return proc_status("VmRSS") / 1024


def live(kind: type) -> list:
    """Python-visible Qt objects of ``kind`` whose C++ side still exists."""
    return [o for o in gc.get_objects() if issubclass(type(o), kind) and shiboken6.isValid(o)]


def live_python_threads() -> int:
    """Python's threads whose OS thread still runs (3.11 keeps a dummy entry for every foreign
    thread that ever ran Python, such as a QThread, after it ended)."""
    running = {int(name) for name in os.listdir("/proc/self/task")}
    return sum(thread.native_id in running for thread in threading.enumerate())


def qtimers(window) -> list[QTimer]:
    timers = {id(t): t for t in live(QTimer)}
    timers.update({id(t): t for t in window.findChildren(QTimer)})
    return list(timers.values())


@dataclass(frozen=True)
class Resources:
    """What a leak would make grow: descriptors, threads (OS, Python, QThread), timers, jobs."""

    open_fds: int
    os_threads: int
    python_threads: int
    qthreads: int
    qtimers: int
    active_timers: int
    jobs: int


def settled_resources(qtbot, window) -> Resources:
    """Counts once no job runs, pending one-shot timers (redraws) fired, the status bar's
    message (whose 6 s timer would count) cleared and every deleteLater processed."""
    qtbot.waitUntil(lambda: not window.jobs.busy and not window.training.running,
                    timeout=TRAINING_TIMEOUT)
    window.statusBar().clearMessage()
    qtbot.waitUntil(lambda: not any(t.isActive() and t.isSingleShot() for t in qtimers(window)))
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
    gc.collect()
    timers = qtimers(window)
    return Resources(open_fds=len(os.listdir("/proc/self/fd")),
                     os_threads=proc_status("Threads"),
                     python_threads=live_python_threads(),
                     qthreads=len(live(QThread)),
                     qtimers=len(timers),
                     active_timers=sum(t.isActive() for t in timers),
                     jobs=len(window.jobs.running()))


def train_in_window(qtbot, window, epochs: int, timeout: int) -> str:
    window.session.set_config(tiny_training_config(
        epochs=epochs, **{"training.batch_size": 4, "training.val_fraction": 0.25}))
    with qtbot.waitSignal(window.training.runEnded, timeout=timeout) as ended:
        assert window.training.start() is not None
    return ended.args[0]


def test_200_tiny_epochs_with_previews_leak_no_memory_threads_timers_or_files(
        qtbot, make_window, tmp_path: Path):
    from ptycho_engine import save_scan
    from ptycho_engine.simulation import SimulationSpec, simulate_from_spec

    scan_file = tmp_path / "soak.npz"
    save_scan(simulate_from_spec(SimulationSpec(N=32, patterns=4, step_px=3.0, photons=1e5,
                                                seed=11)), scan_file)
    window = make_window([scan_file])
    wait_for_scans(qtbot, window, 1)
    wait_for_engine(qtbot, window)
    # a short run first, so torch's thread pools and lazily opened files exist before counting
    assert train_in_window(qtbot, window, 3, TRAINING_TIMEOUT) == "finished"
    before = settled_resources(qtbot, window)

    rss_at: dict[int, float] = {}
    window.training.epochFinished.connect(
        lambda record: rss_at.setdefault(record.epoch, rss_mb())
        if record.epoch == FIRST_COUNTED_EPOCH else None)
    previews: list[int] = []
    window.training.previewReady.connect(lambda preview: previews.append(preview.epoch))
    started = time.perf_counter()
    assert train_in_window(qtbot, window, SOAK_EPOCHS, SOAK_TIMEOUT) == "finished"
    seconds = time.perf_counter() - started
    after = settled_resources(qtbot, window)
    rss_end = rss_mb()

    growth = rss_end - rss_at[FIRST_COUNTED_EPOCH]
    print(f"\nsoak: {SOAK_EPOCHS} epochs in {seconds:.1f} s "
          f"({seconds / SOAK_EPOCHS * 1000:.0f} ms/epoch), {len(previews)} previews shown, "
          f"{window.training_dashboard.previews_drawn} drawn; RSS "
          f"{rss_at[FIRST_COUNTED_EPOCH]:.1f} MB at epoch {FIRST_COUNTED_EPOCH}, "
          f"{rss_end:.1f} MB at the end (growth {growth:+.1f} MB)\n"
          f"before: {before}\nafter:  {after}")
    history = (window.training.run_dir / "history.csv").read_text().splitlines()
    assert len(history) == SOAK_EPOCHS + 1
    assert previews == sorted(set(previews)) and previews[-1] == SOAK_EPOCHS
    assert len(previews) >= SOAK_EPOCHS // 2  # latest-only may drop some, not most
    assert growth < MAX_GROWTH_MB
    assert after == before
    assert after.jobs == 0
