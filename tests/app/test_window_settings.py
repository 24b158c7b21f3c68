"""Geometry, dock layout, recent files and the last config persist; damaged stores are ignored."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtWidgets import QWidget

from ptycho_engine import PtychoConfig

from .conftest import wait_for_scans


def test_settings_persist_across_two_windows(qtbot, make_window, tmp_path: Path,
                                             tiny_scan_file: Path):
    settings = tmp_path / "persist"
    first = make_window([tiny_scan_file], settings_dir=settings)
    wait_for_scans(qtbot, first, 1)
    first.resize(701, 503)  # within the offscreen screen (restoreGeometry clamps to it)
    first.docks["probeDock"].hide()
    first.findChild(QWidget, "field:training.epochs").setValue(12)
    assert first.close()
    assert (settings / "ptycho-studio.ini").is_file()
    assert (settings / "last_config.toml").is_file()

    second = make_window(settings_dir=settings)
    assert (second.width(), second.height()) == (701, 503)
    assert second.docks["probeDock"].isHidden()
    assert second.session.config.training.epochs == 12
    assert second.findChild(QWidget, "field:training.epochs").value() == 12
    assert second.settings.recent_files() == [tiny_scan_file.resolve()]
    second.reset_layout()
    assert not second.docks["probeDock"].isHidden()


def test_damaged_settings_store_is_ignored_with_a_log_line(qtbot, make_window, tmp_path: Path,
                                                           caplog):
    settings = tmp_path / "damaged"
    settings.mkdir()
    (settings / "ptycho-studio.ini").write_bytes(
        b"[window]\ngeometry=\"not bytes\"\nstate=17\n[files]\nrecent=\\x00\\xff{[\n"
        + bytes(range(256)))
    (settings / "last_config.toml").write_text("[training]\nepochs = 'many'\n")
    with caplog.at_level(logging.WARNING, logger="ptycho_studio"):
        window = make_window(settings_dir=settings)
    assert window.session.config == PtychoConfig()
    assert window.settings.recent_files() == []
    messages = " ".join(record.getMessage() for record in caplog.records)
    assert "last config" in messages and "training.epochs" in messages
    assert "settings" in messages
    assert window.close()  # and it writes a good store again
    again = make_window(settings_dir=settings)
    assert again.settings.recent_files() == []
