"""The config form, generated from the engine's field metadata and grouped by section.

Every edit sends all values to the session, which asks the engine to validate
them; the engine's messages are shown at the fields and Train stays disabled
until they are fixed. A new config field appears here without GUI changes.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from ptycho_engine import (
    ConfigError,
    PtychoConfig,
    config_preset,
    config_presets,
    field_infos,
    load_config,
    save_config,
)

from ..context import AppContext
from ..dialogs import CONFIG_FILTER
from .config_fields import FieldEditor, make_editor

PRESET_PROMPT = "Apply a preset…"
VALID_TEXT = "✓ Settings are valid; a training would use them."


class ConfigEditor(QWidget):
    """Sections of fields (data, model, training, inference), presets, load/save/reset."""

    def __init__(self, context: AppContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("configEditor")
        self.context = context
        self.editors: dict[str, FieldEditor] = {}
        self.preset_box = QComboBox()
        self.preset_box.setObjectName("presetBox")
        self.preset_box.addItem(PRESET_PROMPT)
        for preset in config_presets():
            self.preset_box.addItem(preset.name)
            self.preset_box.setItemData(self.preset_box.count() - 1, preset.description,
                                        Qt.ItemDataRole.ToolTipRole)
        self.reset_button = QPushButton("Defaults")
        self.reset_button.setToolTip("Reset every setting to its default")
        self.load_button = QPushButton("Load…")
        self.load_button.setToolTip("Load settings from a TOML file")
        self.save_button = QPushButton("Save…")
        self.save_button.setToolTip("Save the settings as a TOML file")
        self.status = QLabel(VALID_TEXT)
        self.status.setObjectName("configStatus")
        self.status.setWordWrap(True)

        top = QHBoxLayout()
        top.addWidget(self.preset_box, stretch=1)
        for button in (self.reset_button, self.load_button, self.save_button):
            top.addWidget(button)
        form_host = QWidget()
        form_layout = QVBoxLayout(form_host)
        form_layout.setContentsMargins(0, 0, 0, 0)
        for section, box in self._build_sections().items():
            box.setObjectName(f"section:{section}")
            form_layout.addWidget(box)
        form_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(form_host)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(top)
        layout.addWidget(scroll, stretch=1)
        layout.addWidget(self.status)

        self.show_config(context.session.config)
        for editor in self.editors.values():
            editor.changed.connect(self._on_edited)
        self.preset_box.activated.connect(self._on_preset)
        self.reset_button.clicked.connect(self.reset_to_defaults)
        self.load_button.clicked.connect(self.choose_and_load)
        self.save_button.clicked.connect(self.choose_and_save)
        context.session.configChanged.connect(self.show_config)
        context.session.configProblemsChanged.connect(self._show_problems)
        context.session.trainingAllowedChanged.connect(self._on_training_allowed)

    def _build_sections(self) -> dict[str, QGroupBox]:
        boxes: dict[str, QGroupBox] = {}
        for info in field_infos():
            if info.section not in boxes:
                boxes[info.section] = QGroupBox(info.section)
                QFormLayout(boxes[info.section])
            form = boxes[info.section].layout()
            editor = make_editor(info)
            label = QLabel(f"{info.name} ({info.unit})" if info.unit else info.name)
            label.setToolTip(editor.widget.toolTip())
            form.addRow(label, editor.widget)
            form.addRow(editor.problem_label)
            self.editors[info.key] = editor
        return boxes

    # -------------------------------------------------------------- values
    def values(self) -> dict[str, object]:
        """The values in the form by dotted key (possibly invalid)."""
        return {key: editor.value() for key, editor in self.editors.items()}

    @Slot(object)
    def show_config(self, config: PtychoConfig) -> None:
        """Put a (valid) config into the form without triggering edits."""
        for info in field_infos():
            editor = self.editors.get(info.key)
            if editor is not None:
                editor.set_value(getattr(getattr(config, info.section), info.name))

    @Slot()
    def _on_edited(self) -> None:
        self.context.session.propose_config_values(self.values())

    @Slot(list)
    def _show_problems(self, problems: list[tuple[str, str]]) -> None:
        messages: dict[str, list[str]] = {}
        for key, message in problems:
            messages.setdefault(key, []).append(message)
        for key, editor in self.editors.items():
            editor.set_problem("; ".join(messages[key]) if key in messages else None)
        self._update_status()

    @Slot(bool)
    def _on_training_allowed(self, _allowed: bool) -> None:
        self._update_status()

    def _update_status(self) -> None:
        session = self.context.session
        problems = session.config_problems
        if problems:
            count = len({key for key, _ in problems})
            self.status.setText(f"✗ {count} setting{'s are' if count > 1 else ' is'} invalid "
                                "(marked in red). Train is disabled until "
                                f"{'they are' if count > 1 else 'it is'} fixed.")
            self.status.setStyleSheet("color: #c62828;")
        elif session.current_scan() is None:
            self.status.setText(VALID_TEXT + " Open a scan to train.")
            self.status.setStyleSheet("")
        else:
            self.status.setText(VALID_TEXT)
            self.status.setStyleSheet("")

    # ------------------------------------------------------------- actions
    @Slot(int)
    def _on_preset(self, index: int) -> None:
        name = self.preset_box.itemText(index)
        self.preset_box.setCurrentIndex(0)
        if name != PRESET_PROMPT:
            self.apply_preset(name)

    def apply_preset(self, name: str) -> None:
        """Apply a named preset on top of the current (valid) config."""
        with self.context.reporter.guard("Apply preset"):
            self.context.session.set_config(config_preset(name).apply(
                self.context.session.config))

    @Slot()
    def reset_to_defaults(self) -> None:
        self.context.session.set_config(PtychoConfig())

    @Slot()
    def choose_and_load(self) -> None:
        path = self.context.dialogs.open_file(self.context.window, "Load config",
                                              CONFIG_FILTER)
        if path is not None:
            self.load_file(path)

    @Slot()
    def choose_and_save(self) -> None:
        path = self.context.dialogs.save_file(self.context.window, "Save config",
                                              CONFIG_FILTER, "config.toml")
        if path is not None:
            self.save_file(path)

    def load_file(self, path: Path) -> bool:
        """Load a TOML config; a bad file shows the engine's message and changes nothing."""
        with self.context.reporter.guard("Load config"):
            self.context.session.set_config(load_config(path))
            return True
        return False

    def save_file(self, path: Path) -> bool:
        """Save the form's settings as TOML; refuses (with a dialog) while any is invalid."""
        with self.context.reporter.guard("Save config"):
            problems = self.context.session.config_problems
            if problems:
                raise ConfigError(problems + [("file", "not saved: fix the marked settings "
                                                        "first")], source=path)
            path = Path(path) if Path(path).suffix else Path(path).with_suffix(".toml")
            save_config(self.context.session.config, path)
            return True
        return False
