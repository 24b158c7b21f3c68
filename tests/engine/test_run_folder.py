"""RunFolder: the one reader and writer of a run folder's files, and the resume rule."""

from __future__ import annotations

import json
import re
from datetime import datetime

import pytest

from ptycho_engine import EpochRecord, PtychoError, RunFolder
from ptycho_engine.training.run_folder import history_csv, parse_history

from .conftest import tiny_config

RECORDS = [EpochRecord(1, -10.5, -9.25, 1e-3, 1.5, 120.0),
           EpochRecord(2, -11.0, None, 5e-4, 1.25, 130.5)]


def test_history_round_trips_through_the_csv(tmp_path):
    run = RunFolder(tmp_path / "run")
    run.create()
    assert run.read_history() == []
    run.write_history(RECORDS)
    assert run.read_history() == RECORDS
    assert run.history_bytes() == history_csv(RECORDS)
    assert parse_history(history_csv(RECORDS)) == RECORDS
    assert run.history_path.read_text().splitlines()[0] == (
        "epoch,train_loss,val_loss,lr,seconds,patterns_per_second")


def test_a_damaged_history_names_the_line(tmp_path):
    run = RunFolder(tmp_path)
    run.history_path.write_text("epoch,train_loss,val_loss,lr,seconds,patterns_per_second\n"
                                "1,-10,,0.001,1,2\n2,oops,,0.001,1,2\n")
    with pytest.raises(PtychoError, match="line 3 is malformed"):
        run.read_history()
    assert run.epochs_done() == 0


def test_run_info_and_config_round_trip(tmp_path):
    run = RunFolder(tmp_path / "run")
    assert not run.is_run()
    run.create()
    config = tiny_config(**{"training.epochs": 7})
    run.write_config(config)
    run.write_info({"status": "finished", "epochs": 7, "source": "/data/scan.npz"})
    assert run.is_run() and run.read_config() == config
    assert run.read_info()["status"] == "finished"
    assert run.source == "/data/scan.npz" and run.epochs_done() == 7
    assert "epochs = 7" in run.config_text()
    assert run.planned_epochs() == 7
    # a config.toml from before physics refinement reads as the model it trained
    text = run.config_text()
    assert re.search(r"(?m)^refine_steps = 8$", text)
    assert re.search(r"(?m)^refine_steps = 100$", text)
    run.config_path.write_text(re.sub(r"(?m)^refine_steps = \d+$", "", text))
    old = run.read_config()
    assert (old.model.refine_steps, old.inference.refine_steps) == (0, 0)


def test_damaged_run_json_is_an_error_or_empty_as_asked(tmp_path):
    run = RunFolder(tmp_path)
    run.info_path.write_text("{not json")
    with pytest.raises(PtychoError, match="run.json: cannot be read as JSON"):
        run.read_info()
    assert run.info_or_empty() == {} and run.source == ""


def test_checkpoints_are_found_best_first(tmp_path):
    run = RunFolder(tmp_path)
    with pytest.raises(PtychoError, match="no checkpoint found"):
        run.find_checkpoint()
    run.checkpoint_dir.mkdir()
    run.last_checkpoint.write_bytes(b"last")
    assert run.find_checkpoint() == run.last_checkpoint and run.has_checkpoint()
    run.best_checkpoint.write_bytes(b"best")
    assert run.find_checkpoint() == run.best_checkpoint
    assert run.find_checkpoint(prefer="last.ckpt") == run.last_checkpoint


def test_resume_needs_the_folder_and_its_last_checkpoint(tmp_path):
    missing = RunFolder(tmp_path / "missing")
    assert not missing.can_resume and "not found" in missing.resume_problem()
    run = RunFolder(tmp_path / "run")
    run.create()
    assert not run.can_resume and "never finished an epoch" in run.resume_problem()
    run.checkpoint_dir.mkdir()
    run.best_checkpoint.write_bytes(b"best")
    assert not run.can_resume  # only the last epoch's checkpoint continues a run
    run.last_checkpoint.write_bytes(b"last")
    assert run.can_resume and run.resume_problem() is None


@pytest.mark.parametrize(("status", "done", "planned", "expected"), [
    ("running", 2, 5, True),     # killed while training
    ("cancelled", 2, 5, True),   # stopped on request
    ("finished", 5, 5, False),
    ("time_limit", 2, 5, False),  # ended as asked
    ("cancelled", 5, 5, False),  # nothing left to do
])
def test_interrupted_runs_are_the_unfinished_ones_with_a_checkpoint(tmp_path, status, done,
                                                                    planned, expected):
    run = RunFolder(tmp_path)
    run.write_config(tiny_config(**{"training.epochs": planned}))
    run.write_info({"status": status})
    run.write_history(RECORDS[:1] * done)
    run.checkpoint_dir.mkdir()
    run.last_checkpoint.write_bytes(b"last")
    assert run.interrupted() is expected


def test_default_folder_is_named_after_the_scan(tmp_path):
    when = datetime(2026, 3, 4, 5, 6, 7)
    assert RunFolder.default_for("/data/star.npz", when).path.as_posix() == (
        "runs/star-20260304-050607")


def test_training_writes_what_the_run_folder_reads(trained_run):
    run = RunFolder(trained_run.run_dir)
    info = json.loads(run.info_path.read_text())
    assert run.read_info() == info and info["status"] == "finished"
    assert run.read_history() == trained_run.history
    assert run.read_config() == trained_run.config
    assert run.can_resume and not run.interrupted()


@pytest.fixture(scope="module")
def trained_run(tiny_scan, tmp_path_factory):
    from ptycho_engine import train

    return train(tiny_scan, tiny_config(), run_dir=tmp_path_factory.mktemp("run") / "run")
