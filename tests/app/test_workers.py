"""The worker pattern: typed events and results in the GUI thread, each outcome exactly once,
failures with tracebacks, cooperative cancel, stop-and-wait, and the generation counter that
drops stale answers."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PySide6.QtCore import QObject, QThread

from app.workers import (
    CancelToken,
    Job,
    JobManager,
    LatestOnly,
    Preview,
    Progress,
    TaskContext,
    run_in_thread,
)


@pytest.fixture
def owner(qtbot):
    """A GUI-thread parent for jobs; every job it owns is stopped at teardown."""
    parent = QObject()
    manager = JobManager(parent)
    yield parent, manager
    manager.stop_all()
    for job in parent.findChildren(Job):
        job.cancel()
        job.wait()


def test_result_arrives_in_gui_thread_and_task_ran_in_another(qtbot, owner):
    parent, _ = owner
    seen = {}

    def task(context: TaskContext) -> int:
        seen["task_thread"] = threading.get_ident()
        context.report(1, 2, "half way")
        return 6 * 7

    events, results = [], []
    job = Job("answer", task, parent)
    job.event.connect(events.append)
    job.succeeded.connect(lambda result: results.append(
        (result, QThread.currentThread() is parent.thread())))
    with qtbot.waitSignal(job.done, timeout=5000):
        job.start()
    assert results == [(42, True)]
    assert events == [Progress(1, 2, "half way")]
    assert job.progress == Progress(1, 2, "half way") and job.message == "half way"
    assert seen["task_thread"] != threading.get_ident()
    assert not job.is_running


def test_failure_carries_the_error_and_its_traceback(qtbot, owner):
    parent, _ = owner

    def broken_task(context: TaskContext) -> None:
        raise ValueError("bad value 17")

    failures = []
    job = run_in_thread("broken", broken_task, parent,
                        on_failure=lambda error, details: failures.append((error, details)))
    qtbot.waitUntil(lambda: bool(failures) and not job.is_running, timeout=5000)
    error, details = failures[0]
    assert isinstance(error, ValueError) and "bad value 17" in str(error)
    assert "broken_task" in details and "Traceback" in details


def record_outcomes(job: Job) -> list:
    """Every outcome signal of ``job`` in order, ``done`` last."""
    outcomes = []
    job.succeeded.connect(lambda result: outcomes.append(("succeeded", result)))
    job.failed.connect(lambda error, _details: outcomes.append(("failed", str(error))))
    job.cancelled.connect(lambda: outcomes.append(("cancelled",)))
    job.done.connect(lambda: outcomes.append(("done",)))
    return outcomes


def test_typed_events_arrive_in_order_with_their_types_then_one_result(qtbot, owner):
    parent, _ = owner
    image = np.ones((3, 3), np.complex64)

    def task(context: TaskContext) -> str:
        context.report(0, 2, "starting")
        for epoch in (1, 2):
            context.emit(Preview(epoch, image * epoch))
        return "trained"

    received = []
    job = Job("events", task, parent)
    job.event.connect(lambda event: received.append(
        (type(event), QThread.currentThread() is parent.thread())))
    outcomes = record_outcomes(job)
    with qtbot.waitSignal(job.done, timeout=5000):
        job.start()
    assert received == [(Progress, True), (Preview, True), (Preview, True)]
    assert outcomes == [("succeeded", "trained"), ("done",)]


def test_a_failure_is_delivered_exactly_once(qtbot, owner):
    _, manager = owner
    reports = []
    manager.jobFailed.connect(lambda title, error, details: reports.append(str(error)))

    def task(context: TaskContext) -> None:
        context.report(0, 0, "about to fail")
        raise RuntimeError("no more disk")

    job = manager.start("Fail", task)
    outcomes = record_outcomes(job)
    qtbot.waitUntil(lambda: ("done",) in outcomes, timeout=5000)
    qtbot.wait(20)  # nothing else is queued behind done
    assert outcomes == [("failed", "no more disk"), ("done",)]
    assert reports == ["no more disk"]


@pytest.mark.parametrize("keep_result", [False, True])
def test_cancel_is_cooperative_and_a_result_is_kept_only_when_asked(qtbot, owner,
                                                                     keep_result):
    """By default a cancel drops the answer (the user no longer wants it); a task that stops
    early and returns what it has (a training) keeps it, delivered once."""
    _, manager = owner
    started = threading.Event()

    def patient(context: TaskContext) -> str:
        started.set()
        context.token._event.wait(10)  # returns as soon as the token is cancelled
        return "stopped early"

    job = manager.start("patient", patient, keep_result_on_cancel=keep_result)
    outcomes = record_outcomes(job)
    assert started.wait(5)
    with qtbot.waitSignal(job.done, timeout=5000):
        job.cancel()
    expected = ("succeeded", "stopped early") if keep_result else ("cancelled",)
    assert outcomes == [expected, ("done",)]


def test_stop_all_cancels_and_waits_for_every_thread(qtbot, owner):
    _, manager = owner
    started = [threading.Event() for _ in range(3)]

    def make_task(index: int):
        def task(context: TaskContext) -> int:
            started[index].set()
            while not context.cancelled:
                context.token._event.wait(0.05)
            return index
        return task

    jobs = [manager.start(f"job {i}", make_task(i)) for i in range(3)]
    assert all(event.wait(5) for event in started)
    assert manager.busy and len(manager.running()) == 3
    message, _, _ = manager.status()
    assert message.startswith("job 2") and "+2 more" in message
    assert manager.stop_all(timeout_ms=5000)
    assert all(job.is_cancelled for job in jobs)
    qtbot.waitUntil(lambda: not manager.busy, timeout=5000)


def test_failures_reach_the_manager_signal(qtbot, owner):
    _, manager = owner
    reports = []
    manager.jobFailed.connect(lambda title, error, details: reports.append((title, str(error))))

    def task(context: TaskContext) -> None:
        raise RuntimeError("disk on fire")

    manager.start("Burn", task)
    qtbot.waitUntil(lambda: bool(reports), timeout=5000)
    assert reports == [("Burn", "disk on fire")]


def test_latest_only_drops_answers_to_superseded_requests(qtbot, owner):
    _, manager = owner
    latest = LatestOnly(manager, "preview")
    release_first = threading.Event()
    delivered = []

    def slow_first(context: TaskContext) -> str:
        release_first.wait(10)
        return "old"

    def quick_second(context: TaskContext) -> str:
        return "new"

    first = latest.request(slow_first, delivered.append)
    assert latest.generation == 1
    second = latest.request(quick_second, delivered.append)
    assert latest.generation == 2
    qtbot.waitUntil(lambda: delivered == ["new"], timeout=5000)
    release_first.set()  # the old job now finishes, after the newer answer
    qtbot.waitUntil(lambda: not first.is_running and not second.is_running, timeout=5000)
    qtbot.waitUntil(lambda: not manager.busy, timeout=5000)
    assert delivered == ["new"]


def test_cancel_token_is_a_should_stop_callable():
    token = CancelToken()
    assert not token() and not token.cancelled
    token.cancel()
    assert token() and token.cancelled
