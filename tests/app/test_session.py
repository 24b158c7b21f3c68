"""The session model: scans come and go with signals; config edits are validated by the engine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.session import Session
from ptycho_engine import ConfigError, PtychoConfig, load_scan, summarize_scan


@pytest.fixture
def loaded(tiny_scan_file: Path):
    scan = load_scan(tiny_scan_file)
    return tiny_scan_file, scan, summarize_scan(scan)


def test_adding_selects_and_removing_moves_the_selection(qtbot, loaded):
    session = Session()
    current = []
    session.currentScanChanged.connect(current.append)
    first = session.add_scan(*loaded)
    second = session.add_scan(*loaded)
    assert first.key != second.key
    assert [e.key if e else None for e in current] == [first.key, second.key]
    session.select_pattern(7)
    assert session.current_pattern == 7
    session.select_pattern(10_000)  # clamped to the last pattern
    assert session.current_pattern == second.scan.n_patterns - 1
    session.remove_scan(second.key)
    assert session.current_scan() is first and session.current_pattern == 0
    session.remove_scan(first.key)
    assert session.current_scan() is None and current[-1] is None
    assert session.find_path(loaded[0]) is None


def test_mean_patterns_are_kept_per_scan_and_dropped_with_it(qtbot, loaded):
    session = Session()
    entry = session.add_scan(*loaded)
    mean = np.ones((16, 16), np.float32)
    with qtbot.waitSignal(session.meanPatternChanged) as blocker:
        session.set_mean_pattern(entry.key, mean)
    assert blocker.args == [entry.key]
    assert session.mean_pattern(entry.key) is mean
    session.remove_scan(entry.key)
    assert session.mean_pattern(entry.key) is None


def test_invalid_values_keep_the_last_valid_config_and_block_training(qtbot, loaded):
    session = Session()
    allowed = []
    session.trainingAllowedChanged.connect(allowed.append)
    session.add_scan(*loaded)
    assert session.training_allowed and allowed == [True]
    values = {"training.epochs": 0, "training.batch_size": 24}
    problems = session.propose_config_values(values)
    assert {key for key, _ in problems} == {"training.epochs", "training.batch_size"}
    assert any("power of 2" in message for _, message in problems)
    assert session.config == PtychoConfig()  # unchanged
    assert not session.training_allowed and allowed == [True, False]
    with qtbot.waitSignal(session.configChanged) as blocker:
        session.propose_config_values({"training.epochs": 3})
    assert blocker.args[0].training.epochs == 3
    assert session.config_problems == [] and session.training_allowed


def test_set_config_refuses_invalid_configs(qtbot):
    session = Session()
    bad = PtychoConfig(training=PtychoConfig().training.__class__(epochs=0))
    with pytest.raises(ConfigError, match="training.epochs"):
        session.set_config(bad)
    assert session.config == PtychoConfig()
