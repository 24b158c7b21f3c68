"""A training interrupted by closing the window (or by a crash) is offered for resume once at the
next start: Yes opens its scan and continues from the checkpoint, No is remembered."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

from PySide6.QtCore import Qt

from app.settings import SettingsStore

from .conftest import tiny_training_config
from .test_training_dashboard import TRAINING_TIMEOUT, button, ready_window


def history_epochs(run_dir: Path) -> list[int]:
    with (run_dir / "history.csv").open(newline="") as handle:
        return [int(row["epoch"]) for row in csv.DictReader(handle)]


def run_info(run_dir: Path) -> dict:
    return json.loads((run_dir / "run.json").read_text())


def stopped_engine_run(scan_file: Path, run_dir: Path, stop_after: int, epochs: int) -> Path:
    """A run trained by the engine alone and cancelled after ``stop_after`` epochs."""
    from ptycho_engine import CancelToken, TrainingObserver, train

    token = CancelToken()

    class StopAfter(TrainingObserver):
        def epoch_finished(self, record) -> None:
            if record.epoch >= stop_after:
                token.cancel()

    result = train(scan_file, tiny_training_config(epochs=epochs), StopAfter(), token,
                   run_dir=run_dir)
    assert result.status == "cancelled" and len(result.history) == stop_after
    return run_dir


def killed_during(run_dir: Path, settings_dir: Path) -> None:
    """What a killed app leaves: run.json still 'running' and the settings' record of the run
    (written when the run started, see the close test)."""
    info = run_info(run_dir)
    info = {key: info[key] for key in ("status", "source", "patterns", "device", "started")}
    info["status"] = "running"
    (run_dir / "run.json").write_text(json.dumps(info))
    SettingsStore(settings_dir).set_unfinished_run(run_dir)


def shown_and_asked(qtbot, make_window, dialogs, settings_dir: Path):
    window = make_window(settings_dir=settings_dir)
    window.show()
    qtbot.waitUntil(lambda: window.resume_offer.offered)
    return window


def test_close_during_training_then_yes_at_the_next_start_resumes_the_run(
        qtbot, make_window, dialogs, sim_scan_file: Path, tmp_path: Path):
    settings_dir = tmp_path / "settings"
    first = ready_window(qtbot, make_window, sim_scan_file, epochs=50)
    with qtbot.waitSignal(first.training.epochFinished, timeout=TRAINING_TIMEOUT):
        qtbot.mouseClick(button(first, "trainButton"), Qt.MouseButton.LeftButton)
    run_dir = first.training.run_dir
    assert SettingsStore(settings_dir).unfinished_run() == run_dir  # on disk, as a crash leaves
    assert first.close()
    info = run_info(run_dir)
    done = info["epochs"]
    assert info["status"] == "cancelled" and 1 <= done < 50
    assert history_epochs(run_dir) == list(range(1, done + 1))
    asked = len(dialogs.questions)

    second = make_window(settings_dir=settings_dir)
    epochs = []
    second.training.epochFinished.connect(lambda record: epochs.append(record.epoch))
    second.show()
    qtbot.waitUntil(lambda: len(dialogs.questions) == asked + 1)
    assert dialogs.questions[-1] == (
        "Resume training",
        f"Resume {run_dir.name}, interrupted at epoch {done} of 50 on sim_star.npz?")
    qtbot.waitUntil(lambda: len(epochs) >= 2, timeout=TRAINING_TIMEOUT)
    assert second.training.run_dir == run_dir
    assert second.session.current_scan().path == sim_scan_file
    with qtbot.waitSignal(second.training.runEnded, timeout=10_000) as ended:
        second.training.stop()
    assert ended.args[0] == "cancelled"
    assert epochs[:2] == [done + 1, done + 2]
    total = run_info(run_dir)["epochs"]
    assert total >= done + 2
    assert history_epochs(run_dir) == list(range(1, total + 1))  # continued, no epoch twice
    assert SettingsStore(settings_dir).unfinished_run() is None  # stopped with Stop: ended
    assert dialogs.errors == [] and len(dialogs.questions) == asked + 1


def test_a_run_killed_mid_training_is_offered_once_and_no_is_remembered(
        qtbot, make_window, dialogs, sim_scan_file: Path, tmp_path: Path):
    settings_dir = tmp_path / "settings"
    run_dir = stopped_engine_run(sim_scan_file, settings_dir / "runs" / "sim_star-killed",
                                 stop_after=2, epochs=4)
    killed_during(run_dir, settings_dir)
    dialogs.confirm_answer = False
    window = shown_and_asked(qtbot, make_window, dialogs, settings_dir)
    assert dialogs.questions == [(
        "Resume training",
        "Resume sim_star-killed, interrupted at epoch 2 of 4 on sim_star.npz?")]
    qtbot.wait(100)
    assert not window.training.running and window.session.scans() == []

    again = shown_and_asked(qtbot, make_window, dialogs, settings_dir)
    assert len(dialogs.questions) == 1 and not again.training.running
    assert run_info(run_dir)["status"] == "running" and history_epochs(run_dir) == [1, 2]
    assert dialogs.errors == []


def test_resume_whose_scan_file_is_gone_says_so(qtbot, make_window, dialogs,
                                                sim_scan_file: Path, tmp_path: Path):
    settings_dir = tmp_path / "settings"
    scan = Path(shutil.copy(sim_scan_file, tmp_path / "moved_star.npz"))
    run_dir = stopped_engine_run(scan, settings_dir / "runs" / "moved_star-1", stop_after=1,
                                 epochs=3)
    killed_during(run_dir, settings_dir)
    scan.unlink()
    window = shown_and_asked(qtbot, make_window, dialogs, settings_dir)
    assert "interrupted at epoch 1 of 3 on moved_star.npz?" in dialogs.questions[0][1]
    qtbot.waitUntil(lambda: len(dialogs.errors) == 1)
    title, text, _details = dialogs.errors[0]
    assert title == "Resume training"
    assert str(scan) in text and "no longer there" in text and "Resume" in text
    assert not window.training.running and window.session.scans() == []


def test_a_run_that_never_saved_an_epoch_or_had_ended_is_not_offered(qtbot, make_window, dialogs,
                                                                 sim_scan_file: Path,
                                                                 tmp_path: Path):
    settings_dir = tmp_path / "settings"
    run_dir = stopped_engine_run(sim_scan_file, settings_dir / "runs" / "sim_star-1",
                                 stop_after=1, epochs=3)
    killed_during(run_dir, settings_dir)
    (run_dir / "checkpoints" / "last.ckpt").unlink()  # killed before an epoch was saved
    shown_and_asked(qtbot, make_window, dialogs, settings_dir)
    assert dialogs.questions == []
    assert SettingsStore(settings_dir).unfinished_run() is None

    finished = stopped_engine_run(sim_scan_file, settings_dir / "runs" / "sim_star-2",
                                  stop_after=1, epochs=3)
    info = run_info(finished)
    (finished / "run.json").write_text(json.dumps(dict(info, status="finished")))
    SettingsStore(settings_dir).set_unfinished_run(finished)  # e.g. it ended as the app closed
    shown_and_asked(qtbot, make_window, dialogs, settings_dir)
    assert dialogs.questions == []
