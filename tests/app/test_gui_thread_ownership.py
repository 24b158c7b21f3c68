"""Qt objects die in the GUI thread, from Python: a job's worker and thread after the thread
has ended, and cyclic garbage through the GUI thread's collector, never in a worker.

Why: a worker deleted by ``deleteLater`` in its own thread deadlocked against the GUI
thread (PySide takes the GIL inside ``~QObject`` under a Qt mutex); see
``app.workers.disposal``.
"""

from __future__ import annotations

import gc
import threading
import weakref

import pytest
from PySide6.QtCore import QObject, Qt

from app.workers import Job, JobManager, TaskContext
from app.workers.gui_gc import (
    GuiThreadGarbageCollector,
    install_gui_thread_gc,
    uninstall_gui_thread_gc,
)


def record_destruction(obj: QObject, log: dict[str, int], name: str) -> None:
    """Log the thread that runs ``obj``'s destructor (``destroyed`` is emitted there)."""
    obj.destroyed.connect(lambda *_: log.__setitem__(name, threading.get_ident()),
                          Qt.ConnectionType.DirectConnection)


@pytest.fixture
def manager(qtbot):
    parent = QObject()
    jobs = JobManager(parent)
    yield jobs
    jobs.stop_all()


@pytest.mark.parametrize("outcome", ["succeeds", "fails", "is cancelled"])
def test_worker_thread_and_job_are_deleted_in_the_gui_thread(qtbot, manager, outcome):
    go = threading.Event()

    def task(context: TaskContext) -> int:
        go.wait(5)
        if outcome == "fails":
            raise ValueError("bad input")
        return 1

    job = manager.start("work", task, report_errors=False)
    died: dict[str, int] = {}
    # private handles, read only here: the objects whose destructors must not run in the worker
    record_destruction(job._worker, died, "worker")
    record_destruction(job._thread, died, "thread")
    record_destruction(job, died, "job")
    if outcome == "is cancelled":
        job.cancel()
    with qtbot.waitSignal(job.done, timeout=5000):
        go.set()
    qtbot.waitUntil(lambda: len(died) == 3, timeout=5000)
    gui = threading.get_ident()
    assert died == {"worker": gui, "thread": gui, "job": gui}
    assert not manager.busy


def test_a_job_started_alone_deletes_its_worker_and_thread_in_the_gui_thread(qtbot):
    parent = QObject()
    job = Job("alone", lambda context: 7, parent)
    died: dict[str, int] = {}
    job.start()
    record_destruction(job._worker, died, "worker")
    record_destruction(job._thread, died, "thread")
    with qtbot.waitSignal(job.done, timeout=5000):
        pass
    qtbot.waitUntil(lambda: len(died) == 2, timeout=5000)
    assert set(died.values()) == {threading.get_ident()}
    assert job.wait(1000)  # nothing left to wait for, and no access to a deleted thread


class Node:
    """A cycle's member, weakly referenceable so a test can see it collected."""

    def __init__(self) -> None:
        self.me = self


def test_cyclic_garbage_is_collected_in_the_gui_thread_not_in_a_worker(qtbot):
    collections: list[int] = []

    def on_collect(phase: str, _info: dict) -> None:
        if phase == "start":
            collections.append(threading.get_ident())

    gc.collect()
    collector = install_gui_thread_gc()
    gc.callbacks.append(on_collect)
    try:
        assert not gc.isenabled() and collector.running
        probes: list[weakref.ref] = []

        def make_garbage() -> None:  # far past every threshold: automatic gc would run here
            for index in range(50_000):
                node = Node()
                if index % 5_000 == 0:
                    probes.append(weakref.ref(node))

        worker = threading.Thread(target=make_garbage)
        worker.start()
        worker.join()
        assert collections == []  # nothing collected in the worker
        assert all(probe() is not None for probe in probes)
        qtbot.waitUntil(lambda: all(probe() is None for probe in probes), timeout=10_000)
        assert set(collections) == {threading.get_ident()}
        assert collector.collections[0] >= 1
    finally:
        gc.callbacks.remove(on_collect)
        uninstall_gui_thread_gc()
    assert gc.isenabled() and not collector.running


def test_collect_due_follows_the_interpreters_thresholds(qtbot):
    collector = GuiThreadGarbageCollector()
    gc.collect()
    gc.disable()
    try:
        assert collector.collect_due() is None  # just collected: nothing due
        garbage = [Node() for _ in range(gc.get_threshold()[0] + 100)]
        del garbage
        assert collector.collect_due() == 0
        assert collector.collections == [1, 0, 0]
    finally:
        gc.enable()
