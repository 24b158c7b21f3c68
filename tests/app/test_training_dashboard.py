"""Training from the app: live curves and previews, Stop within a second, errors, export,
resume, closing during a run, and the GUI heartbeat while a real (tiny) training runs."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, QTimer
from PySide6.QtWidgets import QLabel, QPushButton, QTableWidget, QWidget

from ptycho_engine import load_bundle

from .conftest import tiny_training_config, wait_for_engine, wait_for_scans

TRAINING_TIMEOUT = 90_000


def ready_window(qtbot, make_window, scan_file: Path, **config):
    window = make_window([scan_file])
    wait_for_scans(qtbot, window, 1)
    wait_for_engine(qtbot, window)
    window.session.set_config(tiny_training_config(**config))
    return window


def button(window, name: str) -> QPushButton:
    return window.findChild(QPushButton, name)


def test_train_shows_epochs_curves_and_previews_then_exports(qtbot, make_window, dialogs,
                                                             sim_scan_file: Path,
                                                             tmp_path: Path):
    window = ready_window(qtbot, make_window, sim_scan_file, epochs=3)
    dashboard = window.training_dashboard
    epochs, previews = [], []
    window.training.epochFinished.connect(epochs.append)
    window.training.previewReady.connect(lambda preview: previews.append(preview.epoch))
    train = button(window, "trainButton")
    assert train.isEnabled()
    preview = window.findChild(QWidget, "previewView")
    with qtbot.waitSignal(window.training.runEnded, timeout=TRAINING_TIMEOUT) as ended:
        qtbot.mouseClick(train, Qt.MouseButton.LeftButton)
        assert not train.isEnabled() and button(window, "stopButton").isEnabled()
        qtbot.waitUntil(lambda: dashboard.preview_epoch >= 1, timeout=TRAINING_TIMEOUT)
        # the operator zooms into the preview and fixes the amplitude levels
        drawn = dashboard.previews_drawn
        zoom = QRectF(10.0, 12.0, 20.0, 20.0)
        preview.amplitude_view.plot.getViewBox().setRange(zoom, padding=0)
        range_before = preview.amplitude_view.plot.getViewBox().viewRange()
        preview.amplitude_view.set_levels(0.1, 0.3)
    assert ended.args[0] == "finished"
    assert [record.epoch for record in epochs] == [1, 2, 3]
    assert previews == sorted(previews) and previews[-1] == 3
    qtbot.waitUntil(train.isEnabled)
    assert not button(window, "stopButton").isEnabled()

    # one point per finished epoch on a log axis, drawn above the data's Poisson floor
    # (the engine's figure, also in run.json)
    loss_plot = window.findChild(pg.PlotWidget, "lossPlot")
    assert loss_plot.getPlotItem().getAxis("left").logMode
    train_curve, val_curve = loss_plot.getPlotItem().listDataItems()[:2]
    assert list(train_curve.xData) == [1.0, 2.0, 3.0]
    floor = json.loads((window.training.run_dir / "run.json").read_text())["loss_floor"]
    losses = np.array([record.train_loss for record in epochs])
    val = np.array([record.val_loss for record in epochs])
    np.testing.assert_allclose(train_curve.yData, losses - floor["train"], rtol=1e-9)
    np.testing.assert_allclose(val_curve.yData, val - floor["validation"], rtol=1e-9)
    assert np.all(train_curve.yData > 0)
    assert "floor" in loss_plot.getPlotItem().getAxis("left").labelText
    lr_plot = window.findChild(pg.PlotWidget, "lrPlot")
    np.testing.assert_allclose(lr_plot.getPlotItem().listDataItems()[0].yData,
                               [record.lr for record in epochs])
    assert "epoch 3 of 3" in window.findChild(QWidget, "trainingProgress").format()
    assert "CPU" in window.findChild(QLabel, "trainingDevice").text()

    # later previews were drawn in place: zoom and levels kept, image not constant
    assert dashboard.previews_drawn > drawn and dashboard.preview_epoch == 3
    np.testing.assert_allclose(preview.amplitude_view.plot.getViewBox().viewRange(),
                               range_before)
    assert preview.amplitude_view.levels() == (0.1, 0.3)
    amplitude = np.abs(preview.image())  # NaN where nothing was stitched
    assert np.isfinite(amplitude).mean() > 0.3
    assert np.nanstd(amplitude) > 1e-3 * np.nanmean(amplitude) > 0

    # the run is listed with its final loss and config
    run_dir = window.training.run_dir
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    table = window.findChild(QTableWidget, "runTable")
    qtbot.waitUntil(lambda: table.rowCount() == 1 and table.item(0, 1).text() == "finished")
    assert table.item(0, 0).text() == run_dir.name
    assert float(table.item(0, 3).text()) == float(f"{losses[-1]:.6g}")
    table.selectRow(0)
    assert "epochs = 3" in window.findChild(QWidget, "runConfig").toPlainText()

    # Export model: a bundle the engine reads, named after the scan and the date
    suggested = []
    dialogs.save_file = lambda parent, title, filter, name="": (suggested.append(name)
                                                                 or tmp_path / "star_model")
    assert window.session.model is not None and window.session.model.kind == "training"
    qtbot.mouseClick(button(window, "exportButton"), Qt.MouseButton.LeftButton)
    info = window.findChild(QLabel, "exportInfo")
    qtbot.waitUntil(lambda: info.text().startswith("Wrote"), timeout=30000)
    written = tmp_path / "star_model.ptyz"
    assert str(written) in info.text() and ("kB" in info.text() or "MB" in info.text())
    assert Path(suggested[0]).name.startswith("sim_star-") and suggested[0].endswith(".ptyz")
    bundle = load_bundle(written)
    assert bundle.N == 32 and len(bundle.history) == 3
    assert dialogs.errors == []


def test_stop_ends_the_run_within_a_second_and_keeps_the_checkpoint(qtbot, make_window,
                                                                    dialogs,
                                                                    sim_scan_file: Path):
    window = ready_window(qtbot, make_window, sim_scan_file, epochs=50,
                          **{"training.batch_size": 8})
    with qtbot.waitSignal(window.training.epochFinished, timeout=TRAINING_TIMEOUT):
        qtbot.mouseClick(button(window, "trainButton"), Qt.MouseButton.LeftButton)
    # mid-run: the first preview is drawn, so the worker is inside epoch 2's batches
    qtbot.waitUntil(lambda: window.training_dashboard.preview_epoch == 1,
                    timeout=TRAINING_TIMEOUT)
    job = window.training.job
    thread_done = []
    job.done.connect(lambda: thread_done.append(time.perf_counter()))
    run_dir = window.training.run_dir
    with qtbot.waitSignal(window.training.runEnded, timeout=10_000) as ended:
        clicked = time.perf_counter()
        qtbot.mouseClick(button(window, "stopButton"), Qt.MouseButton.LeftButton)
    stopped_after = thread_done[0] - clicked
    print(f"\nStop: training thread finished {stopped_after * 1000:.0f} ms after the click")
    assert ended.args[0] == "cancelled"
    assert stopped_after < 1.0
    assert window.training.job is None and not window.session.training_running
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    info = json.loads((run_dir / "run.json").read_text())
    assert info["status"] == "cancelled" and 1 <= info["epochs"] < 50
    assert button(window, "trainButton").isEnabled()
    assert dialogs.errors == []


def test_gui_heartbeat_stays_under_100_ms_during_training(qtbot, make_window,
                                                         sim_scan_file: Path):
    window = ready_window(qtbot, make_window, sim_scan_file, epochs=3)
    window.training_dashboard.plots.redraw()
    qtbot.wait(50)
    ticks = []
    heartbeat = QTimer()
    heartbeat.setInterval(10)
    heartbeat.timeout.connect(lambda: ticks.append(time.perf_counter()))
    heartbeat.start()
    qtbot.wait(30)
    with qtbot.waitSignal(window.training.runEnded, timeout=TRAINING_TIMEOUT) as ended:
        qtbot.mouseClick(button(window, "trainButton"), Qt.MouseButton.LeftButton)
    heartbeat.stop()
    assert ended.args[0] == "finished"
    gaps = np.diff(ticks)
    longest = float(gaps.max())
    print(f"\nheartbeat: longest gap {longest * 1000:.1f} ms, median {np.median(gaps) * 1000:.1f}"
          f" ms over {len(gaps)} ticks of a 10 ms QTimer during a 3-epoch training "
          f"({window.training_dashboard.previews_drawn} previews drawn)")
    assert window.training_dashboard.previews_drawn >= 1
    assert longest < 0.100


def test_nan_loss_ends_the_run_with_the_engine_message_and_the_app_carries_on(
        qtbot, make_window, dialogs, monkeypatch, sim_scan_file: Path):
    import ptycho_engine.model.system as module_code

    real_loss = module_code.combined_loss

    def poisoned_loss(predicted, measured, nll_weight, mae_weight):
        return real_loss(predicted, measured, nll_weight, mae_weight) * float("nan")

    monkeypatch.setattr(module_code, "combined_loss", poisoned_loss)
    window = ready_window(qtbot, make_window, sim_scan_file, epochs=2)
    with qtbot.waitSignal(window.training.runEnded, timeout=TRAINING_TIMEOUT) as ended:
        qtbot.mouseClick(button(window, "trainButton"), Qt.MouseButton.LeftButton)
    assert ended.args[0] == "failed"
    qtbot.waitUntil(lambda: len(dialogs.errors) == 1)
    title, text, details = dialogs.errors[0]
    assert title == "Training" and "learning_rate" in text and "epoch 1" in text
    assert "Traceback" in details
    assert "failed" in window.findChild(QLabel, "trainingStatus").text()
    assert window.session.model is None

    monkeypatch.setattr(module_code, "combined_loss", real_loss)
    train = button(window, "trainButton")
    qtbot.waitUntil(train.isEnabled)
    window.session.set_config(tiny_training_config(epochs=1))
    with qtbot.waitSignal(window.training.runEnded, timeout=TRAINING_TIMEOUT) as again:
        qtbot.mouseClick(train, Qt.MouseButton.LeftButton)
    assert again.args[0] == "finished" and len(dialogs.errors) == 1


def test_resume_a_run_from_the_run_list(qtbot, make_window, dialogs, sim_scan_file: Path,
                                        tmp_path: Path):
    from ptycho_engine import load_scan, train

    runs = tmp_path / "settings" / "runs"
    first = train(load_scan(sim_scan_file), tiny_training_config(epochs=1),
                  run_dir=runs / "sim_star-earlier")
    assert first.status == "finished"
    window = ready_window(qtbot, make_window, sim_scan_file, epochs=2)
    table = window.findChild(QTableWidget, "runTable")
    qtbot.waitUntil(lambda: table.rowCount() == 1)
    assert table.item(0, 1).text() == "finished" and table.item(0, 2).text() == "1"
    table.selectRow(0)
    resume = button(window, "resumeButton")
    assert resume.isEnabled()
    epochs = []
    window.training.epochFinished.connect(lambda record: epochs.append(record.epoch))
    with qtbot.waitSignal(window.training.runEnded, timeout=TRAINING_TIMEOUT) as ended:
        qtbot.mouseClick(resume, Qt.MouseButton.LeftButton)
    assert ended.args[0] == "finished" and epochs == [2]
    assert window.training.run_dir == runs / "sim_star-earlier"
    qtbot.waitUntil(lambda: table.rowCount() == 1 and table.item(0, 2).text() == "2")
    history = (runs / "sim_star-earlier" / "history.csv").read_text().splitlines()
    assert len(history) == 3  # header + epochs 1 and 2
    assert dialogs.errors == []

    # a finished run with as many epochs as the config asks for: a clear message
    table.selectRow(0)
    qtbot.mouseClick(resume, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(dialogs.errors) == 1)
    assert "training.epochs above 2" in dialogs.errors[0][1]
    assert not window.session.training_running


def test_closing_during_training_asks_then_stops_the_worker(qtbot, make_window, dialogs,
                                                           sim_scan_file: Path):
    window = ready_window(qtbot, make_window, sim_scan_file, epochs=50)
    with qtbot.waitSignal(window.training.epochFinished, timeout=TRAINING_TIMEOUT):
        qtbot.mouseClick(button(window, "trainButton"), Qt.MouseButton.LeftButton)
    job = window.training.job
    dialogs.confirm_answer = False
    assert not window.close()
    assert "Training" in dialogs.questions[-1][1] and job.is_running
    dialogs.confirm_answer = True
    started = time.perf_counter()
    assert window.close()
    assert time.perf_counter() - started < 5.0
    assert job.wait(0)  # the training thread has ended
    run_dir = window.training.run_dir
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
