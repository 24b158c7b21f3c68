"""Opening scans and browsing them: patterns, mean pattern, positions, metadata, drag and drop."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QPushButton,
    QSpinBox,
    QTreeWidget,
    QWidget,
)

from ptycho_engine import load_scan

from .conftest import DEMO_SCAN, wait_for_scans


def shown_counts(window) -> np.ndarray:
    return window.findChild(QWidget, "diffractionView").image()


def test_open_demo_and_step_through_patterns(qtbot, make_window):
    window = make_window([DEMO_SCAN])
    wait_for_scans(qtbot, window, 1)
    reference = load_scan(DEMO_SCAN)
    scan_list = window.findChild(QTreeWidget, "scanList")
    assert scan_list.topLevelItemCount() == 1
    row = [scan_list.topLevelItem(0).text(c) for c in range(4)]
    assert row == ["demo_scan", "840", "64", "1e+06"]
    index_box = window.findChild(QSpinBox, "patternIndex")
    assert index_box.maximum() == reference.n_patterns - 1
    for index in (0, 1, 2, 599, 839):
        index_box.setValue(index)
        qtbot.waitUntil(lambda i=index: np.array_equal(shown_counts(window),
                                                       reference.pattern(i) ** 2))
        assert window.session.current_pattern == index
        assert window.positions_plot.highlighted_position() == tuple(reference.positions[index])
    caption = window.diffraction_viewer.caption.text()
    assert "pattern 839 of 840" in caption
    assert "demo_scan" in window.windowTitle()


def test_mean_pattern_is_computed_in_a_worker(qtbot, make_window, tiny_scan_file: Path):
    window = make_window([tiny_scan_file])
    wait_for_scans(qtbot, window, 1)
    reference = load_scan(tiny_scan_file).diffraction_array().astype(np.float64) ** 2
    toggle = window.findChild(QCheckBox, "meanPatternToggle")
    toggle.setChecked(True)
    qtbot.waitUntil(lambda: window.session.mean_pattern(1) is not None, timeout=5000)
    qtbot.waitUntil(lambda: np.allclose(shown_counts(window), reference.mean(axis=0),
                                        rtol=1e-5))
    assert not window.findChild(QSpinBox, "patternIndex").isEnabled()
    toggle.setChecked(False)
    qtbot.waitUntil(lambda: np.array_equal(shown_counts(window), reference[0].astype(np.float32)))


def test_clicking_a_position_selects_its_pattern(qtbot, make_window, tiny_scan_file: Path):
    window = make_window([tiny_scan_file])
    window.show()
    qtbot.waitExposed(window)
    wait_for_scans(qtbot, window, 1)
    scan = window.session.current_scan().scan
    plot_widget = window.positions_plot.plot_widget
    qtbot.waitUntil(lambda: plot_widget.getPlotItem().getViewBox().viewRange()[0][1] > 0)
    target = 17
    scene_point = window.positions_plot.scatters[0].mapToScene(QPointF(*scan.positions[target]))
    view_point = plot_widget.mapFromScene(scene_point)
    qtbot.mouseClick(plot_widget.viewport(), Qt.MouseButton.LeftButton,
                     pos=QPoint(view_point.x(), view_point.y()))
    qtbot.waitUntil(lambda: window.session.current_pattern == target)
    assert window.findChild(QSpinBox, "patternIndex").value() == target


def test_metadata_and_several_scans_and_remove_with_confirmation(qtbot, make_window, dialogs,
                                                                 tiny_scan_file: Path):
    window = make_window([DEMO_SCAN, tiny_scan_file])
    wait_for_scans(qtbot, window, 2)
    window.session.select_scan(window.session.find_path(DEMO_SCAN).key)
    table = window.scan_browser.details.table
    rows = {table.item(r, 0).text(): table.item(r, 1).text() for r in range(table.rowCount())}
    assert rows["patterns"] == "840 x 64 x 64 px"
    assert rows["photons/pattern"] == "1e+06"
    assert rows["file"].endswith("demo_scan.npz")
    for label in ("energy", "detector distance", "detector pixel", "object pixel"):
        assert label in rows
    assert window.scan_browser.details.warnings.text() == "No warnings."
    remove = window.findChild(QPushButton, "removeScanButton")
    dialogs.confirm_answer = False
    remove.click()
    assert len(window.session.scans()) == 2 and "demo_scan" in dialogs.questions[-1][1]
    dialogs.confirm_answer = True
    remove.click()
    assert [e.name for e in window.session.scans()] == ["tiny_scan"]
    assert window.findChild(QTreeWidget, "scanList").topLevelItemCount() == 1
    assert window.session.current_scan().name == "tiny_scan"


def test_drag_and_drop_opens_files(qtbot, make_window, tiny_scan_file: Path):
    window = make_window()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(tiny_scan_file))])
    point = QPointF(window.width() / 2, window.height() / 2)
    enter = QDragEnterEvent(point.toPoint(), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    drop = QDropEvent(point, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, drop)
    wait_for_scans(qtbot, window, 1)
    assert window.session.current_scan().path == tiny_scan_file
    empty = QMimeData()
    empty.setText("not a file")
    refused = QDragEnterEvent(point.toPoint(), Qt.DropAction.CopyAction, empty,
                              Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, refused)
    assert not refused.isAccepted()


def test_open_dialog_recent_files_and_reopening(qtbot, make_window, dialogs,
                                                tiny_scan_file: Path):
    window = make_window()
    dialogs.files_to_open = [tiny_scan_file]
    window.actions_.open.trigger()
    wait_for_scans(qtbot, window, 1)
    assert window.settings.recent_files() == [tiny_scan_file.resolve()]
    window._fill_recent_menu()
    entries = [a.text() for a in window.actions_.recent.actions() if a.text()]
    assert entries[0] == "tiny_scan.npz" and "Clear Recent Files" in entries
    window.open_files([tiny_scan_file])  # already open: selected, not loaded twice
    assert len(window.session.scans()) == 1 and not window.jobs.busy


def test_export_writes_a_scan_the_engine_reads_back(qtbot, make_window, dialogs,
                                                    tiny_scan_file: Path, tmp_path: Path):
    window = make_window([tiny_scan_file])
    wait_for_scans(qtbot, window, 1)
    dialogs.file_to_save = tmp_path / "exported.npz"
    window.actions_.export.trigger()
    qtbot.waitUntil(lambda: dialogs.file_to_save.exists() and not window.jobs.busy)
    original, exported = load_scan(tiny_scan_file), load_scan(dialogs.file_to_save)
    assert np.array_equal(exported.diffraction_array(), original.diffraction_array())
    assert np.array_equal(exported.positions, original.positions)
    assert dialogs.errors == []
    # CXI needs the beam geometry this scan lacks: one dialog naming what is missing
    dialogs.file_to_save = tmp_path / "exported.cxi"
    window.actions_.export.trigger()
    qtbot.waitUntil(lambda: len(dialogs.errors) == 1 and not window.jobs.busy)
    title, text, details = dialogs.errors[0]
    assert title == "Export scan" and "exported.cxi" in text and "wavelength" in text
    assert "Traceback" in details
    assert not dialogs.file_to_save.exists()


def test_window_stays_responsive_and_shows_progress_while_a_file_loads(qtbot, make_window,
                                                                       monkeypatch,
                                                                       tiny_scan_file: Path):
    import threading

    import app.workers.tasks as tasks

    release = threading.Event()
    real_load = tasks.load_scan

    def slow_load(path):
        release.wait(10)  # a large file being read
        return real_load(path)

    monkeypatch.setattr(tasks, "load_scan", slow_load)
    window = make_window([tiny_scan_file])
    status = window.status
    qtbot.waitUntil(lambda: status.progress.isVisibleTo(window))
    assert "Opening tiny_scan.npz" in status.task_label.text()
    assert status.progress.maximum() == 0  # a busy bar: the size is unknown
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(1)
    qtbot.waitUntil(lambda: len(ticks) >= 5)  # the event loop runs while the file loads
    timer.stop()
    assert window.session.scans() == []
    release.set()
    wait_for_scans(qtbot, window, 1)
    assert not status.progress.isVisibleTo(window)


def test_widgets_have_stable_object_names(make_window):
    import app

    window = make_window()
    assert app.create_main_window.__module__ == "app.main_window"
    for name in ("scanList", "diffractionView", "patternIndex", "positionsPlot",
                 "configEditor", "probeView", "cursorReadout", "deviceLabel"):
        assert window.findChild(QWidget, name) is not None, name
    for dock in ("scansDock", "diffractionDock", "positionsDock", "probeDock", "configDock"):
        assert window.findChild(QWidget, dock) is window.docks[dock]


def test_a_running_mean_is_not_restarted_and_a_stale_one_is_dropped(qtbot, make_window,
                                                                    monkeypatch, dialogs,
                                                                    tiny_scan_file: Path,
                                                                    tmp_path: Path):
    import threading

    import app.panels.diffraction_viewer as viewer_module

    release = threading.Event()
    real_mean = viewer_module.mean_intensity

    def held_mean(scan, **kwargs):
        release.wait(10)
        return real_mean(scan, **kwargs)

    monkeypatch.setattr(viewer_module, "mean_intensity", held_mean)
    other = tmp_path / "other.npz"
    other.write_bytes(tiny_scan_file.read_bytes())
    window = make_window([tiny_scan_file, other])
    wait_for_scans(qtbot, window, 2)
    requests = window.diffraction_viewer._mean_requests
    window.findChild(QCheckBox, "meanPatternToggle").setChecked(True)
    qtbot.waitUntil(lambda: requests.pending)
    generation = requests.generation
    window.session.select_pattern(5)  # e.g. a click on the positions plot
    qtbot.waitUntil(lambda: window.session.current_pattern == 5)
    assert requests.generation == generation  # the running computation goes on
    first = window.session.current_scan().key
    window.session.select_scan(window.session.scans()[0].key)  # another scan: new request
    assert requests.generation > generation
    release.set()
    qtbot.waitUntil(lambda: window.session.mean_pattern(window.session.current_scan().key)
                    is not None and not window.jobs.busy)
    assert window.session.mean_pattern(first) is None  # the superseded answer was dropped
    assert dialogs.errors == []
