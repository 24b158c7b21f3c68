"""Failures end in one dialog and the app carries on: bad files, uncaught exceptions in any
thread, closing while work runs; and the About box."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QObject, QTimer

from ptycho_engine import __version__ as engine_version
from ptycho_engine import system_info

from .bad_files import write_bad_files
from .conftest import wait_for_scans


def test_every_bad_file_gets_its_own_clear_dialog(qtbot, make_window, dialogs, tmp_path: Path,
                                                  tiny_scan_file: Path):
    bad = write_bad_files(tmp_path / "bad")
    window = make_window()
    window.open_files([path for path, _ in bad.values()])
    qtbot.waitUntil(lambda: len(dialogs.errors) == len(bad) and not window.jobs.busy,
                    timeout=20000)
    assert window.session.scans() == []
    texts = [text for _, text, _ in dialogs.errors]
    for name, (path, fragment) in bad.items():
        matching = [t for t in texts if path.name in t]
        assert len(matching) == 1, f"{name}: {matching}"
        assert fragment in matching[0], f"{name}: {matching[0]}"
    assert {title for title, _, _ in dialogs.errors} == {"Open scan"}
    assert all("Traceback" in details for _, _, details in dialogs.errors)
    assert not any("bug" in text for text in texts)  # user errors, not crashes
    # the app is still usable: a good file opens
    window.open_files([tiny_scan_file])
    wait_for_scans(qtbot, window, 1)
    assert window.session.current_scan().name == "tiny_scan"


def test_uncaught_exceptions_in_gui_and_other_threads_reach_the_dialog(qtbot, make_window,
                                                                       dialogs):
    window = make_window()
    assert sys.excepthook == window.reporter._excepthook
    try:
        raise KeyError("gui-thread surprise")
    except KeyError as error:
        sys.excepthook(type(error), error, error.__traceback__)
    qtbot.waitUntil(lambda: len(dialogs.errors) == 1)
    title, text, details = dialogs.errors[0]
    assert title == "Unexpected error" and "gui-thread surprise" in text and "bug" in text
    assert "KeyError" in details

    def fail() -> None:
        raise ZeroDivisionError("worker-thread surprise")

    thread = threading.Thread(target=fail, name="helper")
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: len(dialogs.errors) == 2)
    title, text, details = dialogs.errors[1]
    assert title == "Unexpected error in helper" and "worker-thread surprise" in text
    assert "ZeroDivisionError" in details and "in fail" in details


def test_an_exception_in_a_qt_slot_reaches_the_dialog(qtbot, make_window, dialogs):
    window = make_window()

    class Broken(QObject):
        def explode(self) -> None:
            raise RuntimeError("slot surprise")

    broken = Broken()
    QTimer.singleShot(0, broken.explode)
    qtbot.waitUntil(lambda: len(dialogs.errors) == 1)
    title, text, _ = dialogs.errors[0]
    assert title == "Unexpected error" and "slot surprise" in text
    assert window.isEnabled()


def test_hooks_are_put_back_when_the_window_closes(qtbot, make_window):
    previous = sys.excepthook, threading.excepthook
    window = make_window()
    assert sys.excepthook != previous[0]
    window.close()
    assert (sys.excepthook, threading.excepthook) == previous


@pytest.mark.parametrize("stop", [True, False])
def test_closing_while_work_runs_asks_and_stops_cleanly(qtbot, make_window, dialogs, stop):
    window = make_window()
    started = threading.Event()

    def long_task(context) -> None:
        started.set()
        context.token._event.wait(30)  # ends when cancelled

    job = window.jobs.start("Long task", long_task)
    assert started.wait(5)
    dialogs.confirm_answer = stop
    closed = window.close()
    assert dialogs.questions and "Long task" in dialogs.questions[-1][1]
    assert closed is stop
    if stop:
        assert job.is_cancelled
        assert job.wait(0)  # the thread has ended; nothing left running
    else:
        assert window.jobs.busy and not job.is_cancelled


def test_about_shows_engine_torch_qt_and_gpu(qtbot, make_window, dialogs):
    window = make_window()
    qtbot.waitUntil(lambda: window.system_info is not None, timeout=30000)
    info = system_info()
    assert window.status.device.text() == f"Device: {info['device']}"
    window.actions_.about.trigger()
    html = dialogs.abouts[-1]
    from PySide6.QtCore import qVersion

    for fact in (engine_version, info["torch"], qVersion(), "GPU available"):
        assert fact in html
