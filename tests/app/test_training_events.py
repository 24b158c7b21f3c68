"""The training controller and dashboard with a scripted training task (no torch): typed events
reach the panels with their types, the result and a failure each arrive exactly once, and an
older preview is never drawn after a newer one."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PySide6.QtWidgets import QWidget

import app.training_control as training_control
from app.context import AppContext
from app.errors import ErrorReporter
from app.panels.training_dashboard import TrainingDashboard
from app.session import Session
from app.training_control import TrainingController
from app.workers import JobManager, LossFloor, Preview, TaskContext, TrainingStarted
from ptycho_engine import (
    Convergence,
    EpochRecord,
    PtychoConfig,
    TrainingError,
    load_scan,
    summarize_scan,
)

from .conftest import ScriptedDialogs


def epoch_record(epoch: int) -> EpochRecord:
    return EpochRecord(epoch=epoch, train_loss=-10.0 - epoch, val_loss=-9.0 - epoch, lr=1e-3,
                       seconds=0.5, patterns_per_second=100.0)


def preview(epoch: int) -> Preview:
    return Preview(epoch, np.full((8, 8), epoch, np.complex64))


def fake_result(run_dir: Path, status: str, epochs: int) -> SimpleNamespace:
    """What the controller reads of a TrainingResult."""
    return SimpleNamespace(status=status, history=[epoch_record(e) for e in range(1, epochs + 1)],
                           run_dir=run_dir, info={"epochs": epochs}, config=PtychoConfig(),
                           probe=None)


@pytest.fixture
def controller(qtbot, tmp_path: Path, tiny_scan_file: Path, monkeypatch):
    """A controller on a session with one scan, whose training runs ``script(context, run_dir)``
    (set ``controller.script``) instead of the engine."""
    window = QWidget()
    qtbot.addWidget(window)
    session = Session(window)
    jobs = JobManager(window)
    dialogs = ScriptedDialogs()
    reporter = ErrorReporter(dialogs, window)
    jobs.jobFailed.connect(reporter.report)
    scan = load_scan(tiny_scan_file)
    session.add_scan(tiny_scan_file, scan, summarize_scan(scan))
    control = TrainingController(AppContext(session, jobs, reporter, window),
                                 tmp_path / "runs", window)

    def scripted_task(scan, config, *, run_dir, resume_from=None):
        return lambda context: control.script(context, run_dir)

    monkeypatch.setattr(training_control, "training_task", scripted_task)
    yield control
    jobs.stop_all(5000)


def signals_of(controller: TrainingController) -> list[tuple[str, object]]:
    """Every signal the controller emits, by name, with its argument(s), in order."""
    seen: list[tuple[str, object]] = []
    for name in ("started", "lossFloor", "epochFinished", "previewReady"):
        getattr(controller, name).connect(lambda event, name=name: seen.append((name, event)))
    controller.runEnded.connect(lambda status, message: seen.append(("runEnded",
                                                                     (status, message))))
    controller.context.session.modelChanged.connect(lambda model: seen.append(("model",
                                                                               model)))
    return seen


def test_typed_events_reach_their_signals_and_the_result_arrives_once(qtbot, controller):
    def script(context: TaskContext, run_dir: Path):
        context.report(0, 0, "preparing")
        context.emit(TrainingStarted(2, 5, "CPU"))
        context.emit(LossFloor(-20.0, None))
        for epoch in (1, 2):
            context.emit(epoch_record(epoch))
            context.emit(preview(epoch))
        return fake_result(run_dir, "finished", 2)

    controller.script = script
    seen = signals_of(controller)
    with qtbot.waitSignal(controller.runEnded, timeout=10_000):
        controller.start()
    names = [name for name, _ in seen]
    assert names == ["started", "lossFloor", "epochFinished", "previewReady", "epochFinished",
                     "previewReady", "model", "runEnded"]
    kinds = {name: type(value) for name, value in seen}
    assert kinds["started"] is TrainingStarted and kinds["lossFloor"] is LossFloor
    assert kinds["epochFinished"] is EpochRecord and kinds["previewReady"] is Preview
    assert seen[-1] == ("runEnded", ("finished", "finished after 2 epochs"))
    assert seen[-2][1].kind == "training" and "finished, 2 epochs" in seen[-2][1].label
    assert controller.job is None and not controller.context.session.training_running
    assert controller.context.dialogs.errors == []


def test_a_failure_ends_the_run_once_with_one_dialog(qtbot, controller):
    def script(context: TaskContext, run_dir: Path):
        context.emit(TrainingStarted(3, 5, "CPU"))
        context.emit(epoch_record(1))
        raise TrainingError("the loss became NaN at epoch 2; lower training.learning_rate")

    controller.script = script
    seen = signals_of(controller)
    with qtbot.waitSignal(controller.runEnded, timeout=10_000):
        controller.start()
    qtbot.waitUntil(lambda: len(controller.context.dialogs.errors) == 1)
    ended = [value for name, value in seen if name == "runEnded"]
    assert ended == [("failed", "the loss became NaN at epoch 2; lower "
                                "training.learning_rate")]
    assert "model" not in [name for name, _ in seen]
    title, text, details = controller.context.dialogs.errors[0]
    assert title == "Training" and "NaN" in text and "Traceback" in details
    qtbot.wait(50)
    assert len(controller.context.dialogs.errors) == 1


def test_stop_keeps_the_run_so_far_as_the_model(qtbot, controller):
    first_epoch = threading.Event()

    def script(context: TaskContext, run_dir: Path):
        context.emit(epoch_record(1))
        first_epoch.set()
        context.token._event.wait(10)  # the engine stops within one batch
        return fake_result(run_dir, "cancelled", 1)

    controller.script = script
    seen = signals_of(controller)
    controller.start()
    assert first_epoch.wait(5)
    with qtbot.waitSignal(controller.runEnded, timeout=10_000):
        controller.stop()
    assert [name for name, _ in seen] == ["epochFinished", "model", "runEnded"]
    assert seen[-1] == ("runEnded", ("cancelled", "cancelled after 1 epochs"))


def test_the_dashboard_never_draws_an_older_preview_after_a_newer_one(qtbot, controller):
    dashboard = TrainingDashboard(controller.context, controller)
    qtbot.addWidget(dashboard)
    drawn = []
    dashboard.plots.redrawn.connect(lambda: drawn.append(dashboard.preview_epoch))
    # epochs 1 and 3 arrive before a redraw, then a late 2: only 3 is drawn
    for epoch in (1, 3, 2):
        controller.previewReady.emit(preview(epoch))
    qtbot.waitUntil(lambda: dashboard.previews_drawn == 1, timeout=2000)
    assert dashboard.preview_epoch == 3
    assert np.all(dashboard.preview_view.image() == 3)
    controller.previewReady.emit(preview(2))  # older than the one drawn
    controller.previewReady.emit(preview(4))
    qtbot.waitUntil(lambda: dashboard.previews_drawn == 2, timeout=2000)
    controller.previewReady.emit(preview(3))
    dashboard.plots.redraw()
    assert dashboard.preview_epoch == 4 and dashboard.previews_drawn == 2
    assert dashboard.previews.dropped == 4  # 1 replaced, 2 twice, 3 late
    assert [epoch for epoch in drawn if epoch] == sorted(epoch for epoch in drawn if epoch)


def test_the_window_and_the_training_events_import_without_torch():
    """The app names engine types at run time only from the torch-free API (torch is imported
    in the background after start-up)."""
    code = ("import sys, app.main_window, app.training_control, app.workers.training; "
            "print(sorted(name for name in ('torch', 'lightning') if name in sys.modules))")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, cwd=Path(__file__).resolve().parents[2], timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


PLATEAU = Convergence(False, "not converged", (
    "the loss has not left its initial plateau (the validation loss fell 1.1% of the way to "
    "its floor in 8 epochs and is 3.66 above it, 9.1× what noise alone leaves (0.4))",),
    ("lower training.learning_rate (e.g. halve it)",), 8, 3.66, 3.7, 0.4, "validation")
DONE = Convergence(True, "converged", (
    "the validation loss stopped falling 2.85 above its floor (7.1× what noise alone "
    "leaves), down from 3.7 before training",), (), 12, 2.85, 3.7, 0.4, "validation")


def test_a_time_limited_run_shows_its_budget_and_ends_with_the_verdict(qtbot, controller):
    dashboard = TrainingDashboard(controller.context, controller)
    qtbot.addWidget(dashboard)
    progress = dashboard.findChild(QWidget, "trainingProgress")
    formats = []

    def started(_event):
        formats.append(progress.format())
        dashboard.budget_clock.started -= 6.0  # the first epoch will have taken 6 s

    controller.started.connect(started)
    controller.epochFinished.connect(lambda _: formats.append(progress.format()))

    def script(context: TaskContext, run_dir: Path):
        context.emit(TrainingStarted(10_000, 6, "CPU", 600.0))
        context.emit(LossFloor(-20.0, -19.0))
        context.emit(epoch_record(1))
        return SimpleNamespace(**vars(fake_result(run_dir, "time_limit", 1)),
                               convergence=PLATEAU)

    controller.script = script
    verdicts = []
    controller.assessed.connect(verdicts.append)
    with qtbot.waitSignal(controller.runEnded, timeout=10_000):
        controller.start()
    assert "until 10 min (epoch cap 10000)" in formats[0]
    assert formats[1].startswith("epoch 1 · ") and "of 10000" not in formats[1]
    assert formats[1].endswith("(time limit 10 min)")
    eta = formats[1].split("ETA ")[1].split()[0]  # the time left, not 9,999 epochs of 6 s
    assert eta in ("9:54", "9:53"), formats[1]
    assert "validation -10 (9 above its floor)" in dashboard.findChild(QWidget, "lossValues").text()
    assert progress.format().startswith("time limit: epoch 1 (")  # no epoch cap shown
    assert verdicts == [PLATEAU]
    verdict = dashboard.findChild(QWidget, "convergenceVerdict")
    assert verdict.isVisibleTo(dashboard)
    assert "Result: NOT CONVERGED</b> — the loss has not left its initial plateau" in \
        verdict.text()
    assert "Try:</b> lower training.learning_rate" in verdict.text()
    model = controller.context.session.model
    assert model.convergence is PLATEAU and "NOT CONVERGED" in model.label

    # the next run hides the old verdict until its own arrives
    controller.script = lambda context, run_dir: SimpleNamespace(
        **vars(fake_result(run_dir, "finished", 2)), convergence=DONE)
    with qtbot.waitSignal(controller.runStarted, timeout=10_000):
        controller.start()
    assert not verdict.isVisibleTo(dashboard)
    qtbot.waitUntil(lambda: controller.job is None, timeout=10_000)
    assert verdict.text().startswith("<b>Result: converged</b> — the validation loss stopped")
    assert controller.context.session.model.label.endswith("(finished, 2 epochs, converged)")
