"""SIGKILL mid-epoch then --resume, Ctrl+C in the CLI, and death at the two worst moments.

A killed run must continue from its last checkpoint with a history that has
no gap and no duplicate epoch; Ctrl+C saves (keeps) the last full epoch's
checkpoint, says where it is and exits 130.
"""

from __future__ import annotations

import csv
import signal
from pathlib import Path

import numpy as np
import pytest

from ptycho_engine.model.checkpoint import load_checkpoint, read_checkpoint
from ptycho_engine.training.run_folder import read_history

from .conftest import history_rows, run_cli, start_cli, tiny_config, wait_for

LONG_RUN = "500"  # epochs: far more than the tests wait for


def epochs_in(run: Path) -> list[int]:
    with (run / "history.csv").open(newline="") as handle:
        return [int(row["epoch"]) for row in csv.DictReader(handle)]


def assert_usable(run: Path, scan) -> None:
    """The run's final model loads and reconstructs the scan into a finite object."""
    from ptycho_engine.reconstruction.inference import reconstruct

    module = load_checkpoint(run / "checkpoints" / "last.ckpt", device="cpu")
    recon = reconstruct(module, scan)
    assert np.isfinite(recon.object).all() and np.abs(recon.object).max() > 0


def test_sigkill_mid_epoch_then_resume(tiny_scan, tiny_scan_file, tiny_config_file, tmp_path):
    run = tmp_path / "run"
    process = start_cli("train", "--scan", tiny_scan_file, "--config", tiny_config_file,
                        "--epochs", LONG_RUN, "--out", run)
    wait_for(lambda: history_rows(run / "history.csv") >= 2, process, 120,
             "two epochs to finish")
    process.kill()  # SIGKILL: no handler runs, files are left as they are at this instant
    process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL
    done = read_checkpoint(run / "checkpoints" / "last.ckpt")["epoch"] + 1
    rows = epochs_in(run)
    assert rows == list(range(1, len(rows) + 1))
    assert done in (len(rows), len(rows) - 1)  # the checkpoint lags the history by <= 1
    target = done + 2
    result = run_cli("train", "--scan", tiny_scan_file, "--out", run, "--resume",
                     "--epochs", str(target))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"finished: {target} epochs"), result.stdout
    assert epochs_in(run) == list(range(1, target + 1))  # no gap, no duplicate
    assert read_checkpoint(run / "checkpoints" / "last.ckpt")["epoch"] == target - 1
    # the resumed part really continued: its first epoch is the one after the checkpoint
    resumed = [line for line in result.stderr.splitlines() if line.startswith("epoch ")]
    assert resumed[0].startswith(f"epoch {done + 1}/{target}"), result.stderr
    assert_usable(run, tiny_scan)


def test_ctrl_c_saves_checkpoint_says_where_and_exits_130(tiny_scan_file, tiny_config_file,
                                                          tmp_path):
    run = tmp_path / "run"
    process = start_cli("train", "--scan", tiny_scan_file, "--config", tiny_config_file,
                        "--epochs", LONG_RUN, "--out", run)
    wait_for(lambda: history_rows(run / "history.csv") >= 1, process, 120,
             "the first epoch to finish")
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, (out, err)
    assert "stopping after this batch" in err
    checkpoint = run / "checkpoints" / "last.ckpt"
    records = read_history(run / "history.csv")
    assert out.startswith(f"cancelled: {len(records)} epochs"), out
    assert f"saved checkpoint {checkpoint} (epoch {records[-1].epoch})" in out, out
    assert "--resume" in out
    # the checkpoint is the last full epoch's: the history and the checkpoint agree
    assert read_checkpoint(checkpoint)["epoch"] + 1 == records[-1].epoch
    assert [r.epoch for r in records] == list(range(1, len(records) + 1))
    assert '"status": "cancelled"' in (run / "run.json").read_text()


class Killed(BaseException):
    """Stands for SIGKILL at one precise moment (nothing after it runs)."""


@pytest.mark.parametrize("moment", ["writing-history", "after-history-before-checkpoint"])
def test_death_around_the_epoch_end_neither_gaps_nor_duplicates(moment, tiny_scan, tmp_path,
                                                                 monkeypatch):
    """A kill while epoch 2's history row is written, or after it but before its checkpoint.

    Training writes the row first and the checkpoint second, so either way the
    last checkpoint is epoch 1's and resuming redoes epoch 2 (dropping a row
    the checkpoint does not cover). A checkpoint saved at the end of validation,
    before the row, would leave a gap in the first case.
    """
    import ptycho_engine.training.callbacks as callbacks
    import ptycho_engine.training.run_folder as run_folder
    from ptycho_engine.training.fit import train

    run = tmp_path / "run"
    train(tiny_scan, tiny_config(**{"training.epochs": 1}), run_dir=run)
    if moment == "writing-history":
        real_write_history = run_folder.write_history

        def write_history(path, records):
            if records[-1].epoch == 2:
                raise Killed
            real_write_history(path, records)

        monkeypatch.setattr(run_folder, "write_history", write_history)
    else:
        real_save = callbacks.AtomicCheckpointIO.save_checkpoint

        def save_checkpoint(self, checkpoint, path, storage_options=None):
            if checkpoint["epoch"] == 1:  # epoch 2's checkpoint never reaches the disk
                raise Killed
            real_save(self, checkpoint, path, storage_options)

        monkeypatch.setattr(callbacks.AtomicCheckpointIO, "save_checkpoint", save_checkpoint)
    with pytest.raises(Killed):
        train(tiny_scan, tiny_config(**{"training.epochs": 3}), resume_from=run, run_dir=run)
    monkeypatch.undo()
    assert read_checkpoint(run / "checkpoints" / "last.ckpt")["epoch"] == 0
    assert epochs_in(run) == ([1] if moment == "writing-history" else [1, 2])
    result = train(tiny_scan, tiny_config(**{"training.epochs": 3}), resume_from=run,
                   run_dir=run)
    assert [r.epoch for r in result.history] == [1, 2, 3]
    assert epochs_in(run) == [1, 2, 3]
