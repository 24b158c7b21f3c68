"""The config editor: a form generated from the engine's metadata, marks, presets, TOML files."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QCheckBox, QComboBox, QLabel, QSpinBox, QWidget

from app.panels.config_editor import ConfigEditor
from app.panels.config_fields import INVALID_BACKGROUND
from app.widgets.float_spin_box import FloatSpinBox
from ptycho_engine import (
    PtychoConfig,
    config_preset,
    field_infos,
    load_config,
    save_config,
    with_overrides,
)

from .conftest import wait_for_scans


def field(window, key: str) -> QWidget:
    widget = window.findChild(QWidget, f"field:{key}")
    assert widget is not None, key
    return widget


def test_form_has_one_editor_per_engine_field_of_the_right_kind(make_window):
    window = make_window()
    editor = window.findChild(ConfigEditor, "configEditor")
    infos = field_infos()
    assert list(editor.editors) == [info.key for info in infos]
    kinds = {bool: QCheckBox, int: QSpinBox, float: FloatSpinBox}
    for info in infos:
        widget = field(window, info.key)
        expected = QComboBox if info.choices is not None and info.type is not bool else \
            kinds.get(info.type)
        assert isinstance(widget, expected), info.key
        assert info.help in widget.toolTip() and info.describe_range() in widget.toolTip()
    sections = [box.title() for box in editor.findChildren(QWidget)
                if box.objectName().startswith("section:")]
    assert sections == ["data", "model", "training", "inference"]
    assert editor.values() == {info.key: info.default for info in infos}


def test_invalid_value_is_marked_and_train_is_disabled(qtbot, make_window,
                                                       tiny_scan_file: Path):
    window = make_window([tiny_scan_file])
    wait_for_scans(qtbot, window, 1)
    assert window.session.training_allowed
    batch = field(window, "training.batch_size")
    batch.setValue(24)  # in range, but not a power of 2
    problem = window.findChild(QLabel, "problem:training.batch_size")
    assert problem.isVisibleTo(window) and "not a power of 2" in problem.text()
    assert batch.property("invalid") is True
    assert batch.palette().color(QPalette.ColorRole.Base) == INVALID_BACKGROUND
    assert not window.session.training_allowed
    status = window.findChild(QLabel, "configStatus")
    assert "Train is disabled" in status.text()
    assert window.session.config.training.batch_size == 16  # the last valid value stays
    field(window, "training.epochs").setValue(0)
    assert "2 settings are invalid" in status.text()
    field(window, "training.epochs").setValue(5)
    batch.setValue(32)
    assert not problem.isVisibleTo(window) and batch.property("invalid") is False
    assert batch.palette().color(QPalette.ColorRole.Base) != INVALID_BACKGROUND
    assert window.session.training_allowed
    assert window.session.config.training.batch_size == 32
    field(window, "data.gridsize").setValue(4)  # a cross-field problem, shown at the other field
    neighbours = window.findChild(QLabel, "problem:data.neighbor_count")
    assert "gridsize^2 = 16" in neighbours.text() and neighbours.isVisibleTo(window)
    assert not window.session.training_allowed


def test_float_and_choice_fields_edit_the_config(make_window):
    window = make_window()
    rate = field(window, "training.learning_rate")
    rate.lineEdit().setText("2e-4")
    rate.interpretText()
    assert window.session.config.training.learning_rate == pytest.approx(2e-4)
    rate.stepBy(1)
    assert window.session.config.training.learning_rate == pytest.approx(3e-4)
    device = field(window, "training.device")
    device.setCurrentIndex(device.findData("cpu"))
    assert window.session.config.training.device == "cpu"
    n = field(window, "data.N")
    n.setCurrentIndex(n.findData(128))
    assert window.session.config.data.N == 128
    field(window, "model.probe_trainable").setChecked(True)
    assert window.session.config.model.probe_trainable is True


def test_presets_and_reset(make_window):
    window = make_window()
    editor = window.config_editor
    box = editor.preset_box
    index = box.findText("full quality (GPU)")
    box.activated.emit(index)
    expected = config_preset("full quality (GPU)").apply(PtychoConfig())
    assert window.session.config == expected
    assert field(window, "data.gridsize").value() == expected.data.gridsize
    assert box.currentIndex() == 0  # the prompt comes back
    editor.reset_button.click()
    assert window.session.config == PtychoConfig()
    assert field(window, "training.epochs").value() == PtychoConfig().training.epochs


def test_load_and_save_config_files(make_window, dialogs, tmp_path: Path):
    window = make_window()
    stored = with_overrides(PtychoConfig(), {"training.epochs": 7, "model.amp_activation":
                                             "swish", "data.nphotons": 1e7})
    source = tmp_path / "in.toml"
    save_config(stored, source)
    dialogs.files_to_open = [source]
    window.actions_.load_config.trigger()
    assert window.session.config == stored
    assert field(window, "training.epochs").value() == 7
    assert field(window, "model.amp_activation").currentData() == "swish"
    field(window, "training.seed").setValue(5)
    dialogs.file_to_save = tmp_path / "out"  # the suffix is added
    window.actions_.save_config.trigger()
    written = load_config(tmp_path / "out.toml")
    assert written == with_overrides(stored, {"training.seed": 5})
    assert dialogs.errors == []


def test_bad_config_file_and_saving_invalid_values_show_dialogs(make_window, dialogs,
                                                                tmp_path: Path):
    window = make_window()
    bad = tmp_path / "bad.toml"
    bad.write_text("[training]\nepochs = -3\nbatchsize = 4\n")
    assert not window.config_editor.load_file(bad)
    title, text, _ = dialogs.errors[-1]
    assert title == "Load config" and "bad.toml" in text and "training.epochs" in text
    assert "did you mean 'training.batch_size'" in text
    assert window.session.config == PtychoConfig()  # unchanged
    field(window, "training.epochs").setValue(0)
    assert not window.config_editor.save_file(tmp_path / "never.toml")
    title, text, _ = dialogs.errors[-1]
    assert title == "Save config" and "training.epochs" in text
    assert not (tmp_path / "never.toml").exists()


def test_config_path_at_start_like_the_command_line(make_window, tmp_path: Path):
    stored = with_overrides(PtychoConfig(), {"training.epochs": 3})
    path = tmp_path / "cfg.toml"
    save_config(stored, path)
    window = make_window(config_path=path)
    assert window.session.config == stored
    assert field(window, "training.epochs").value() == 3
