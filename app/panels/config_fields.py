"""One editor per config field, chosen from the engine's field metadata (never by field name).

bool -> check box; a field with choices -> combo box; int -> spin box; float ->
FloatSpinBox; anything else -> a line edit whose text the engine converts.
Spin boxes accept values outside the allowed range on purpose: the engine
validates, and the form shows its message at the field.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QCheckBox, QComboBox, QLabel, QLineEdit, QSpinBox, QWidget

from ptycho_engine import FieldInfo

from ..widgets.float_spin_box import FloatSpinBox

INT_LIMIT = 2**31 - 1
INVALID_BACKGROUND = QColor("#f9d6d5")
"""Base colour of an invalid field (a palette change keeps the native spin-box arrows)."""


def tooltip(info: FieldInfo) -> str:
    """The field's help, unit and allowed values, as the engine describes them."""
    unit = f"\nUnit: {info.unit}" if info.unit else ""
    return (f"{info.help}\nAllowed: {info.describe_range()}.{unit}\n"
            f"Default: {info.default!r}. Key: {info.key}")


class FieldEditor(QObject):
    """A widget for one setting, with ``value()``, ``set_value()`` and a problem marker.

    ``read``/``write`` get and set the widget's value; ``make_editor`` picks them.
    """

    changed = Signal()

    def __init__(self, info: FieldInfo, widget: QWidget, read: Callable[[], Any],
                 write: Callable[[Any], None], widget_changed: Any):
        super().__init__(widget)
        self.info = info
        self.widget = widget
        self._read = read
        self._write = write
        widget.setObjectName(f"field:{info.key}")
        widget.setToolTip(tooltip(info))
        self.problem_label = QLabel()
        self.problem_label.setObjectName(f"problem:{info.key}")
        self.problem_label.setWordWrap(True)
        self.problem_label.setStyleSheet("color: #c62828;")
        self.problem_label.setVisible(False)
        self._problem: str | None = None
        self._normal_palette = QPalette(widget.palette())
        write(info.default)
        widget_changed.connect(self.changed)

    def value(self) -> Any:
        return self._read()

    def set_value(self, value: Any) -> None:
        """Show ``value`` without emitting ``changed``."""
        if value == self.value():
            return
        self.widget.blockSignals(True)
        try:
            self._write(value)
        finally:
            self.widget.blockSignals(False)

    @property
    def problem(self) -> str | None:
        return self._problem

    def set_problem(self, message: str | None) -> None:
        """Mark the field invalid with the engine's message (None clears the mark)."""
        self._problem = message
        self.widget.setProperty("invalid", bool(message))
        palette = QPalette(self._normal_palette)
        if message:
            palette.setColor(QPalette.ColorRole.Base, INVALID_BACKGROUND)
            palette.setColor(QPalette.ColorRole.Button, INVALID_BACKGROUND)
        self.widget.setPalette(palette)
        self.problem_label.setText(message or "")
        self.problem_label.setVisible(bool(message))


def _choice_writer(box: QComboBox) -> Callable[[Any], None]:
    def write(value: Any) -> None:
        index = box.findData(value)
        if index < 0:  # a value outside the choices (e.g. from a file) stays visible
            box.addItem(str(value), value)
            index = box.count() - 1
        box.setCurrentIndex(index)
    return write


def make_editor(info: FieldInfo) -> FieldEditor:
    """The editor kind for ``info``, decided by its metadata and type only."""
    if info.type is bool:
        check = QCheckBox()
        return FieldEditor(info, check, check.isChecked,
                           lambda v: check.setChecked(bool(v)), check.toggled)
    if info.choices is not None:
        combo = QComboBox()
        for choice in info.choices:
            combo.addItem(str(choice), choice)
        return FieldEditor(info, combo, combo.currentData, _choice_writer(combo),
                           combo.currentIndexChanged)
    if info.type is int:
        spin = QSpinBox()
        spin.setRange(-INT_LIMIT, INT_LIMIT)
        spin.setGroupSeparatorShown(True)
        return FieldEditor(info, spin, spin.value, lambda v: spin.setValue(int(v)),
                           spin.valueChanged)
    if info.type is float:
        real = FloatSpinBox()
        return FieldEditor(info, real, real.value, lambda v: real.setValue(float(v)),
                           real.valueChanged)
    line = QLineEdit()
    return FieldEditor(info, line, line.text, lambda v: line.setText(str(v)), line.textChanged)
