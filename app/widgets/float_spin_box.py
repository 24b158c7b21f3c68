"""A spin box for real numbers of any magnitude (1e-4, 0.05, 1e9), as config forms need.

QDoubleSpinBox shows a fixed number of decimals, which hides 1e-4 or turns it
into 0.00. This one shows up to 12 significant digits in %g notation, accepts
scientific input, and steps by one unit of the leading digit (1e-3 -> 2e-3,
9e-3 -> 1e-2), so a learning rate and a photon count both step sensibly.
"""

from __future__ import annotations

import math

from PySide6.QtGui import QValidator
from PySide6.QtWidgets import QDoubleSpinBox, QWidget

_PARTIAL = ("", "-", "+", ".", "-.", "+.")


def decade_step(value: float, up: bool) -> float:
    """``value`` moved by one unit of its leading digit, away from or toward zero."""
    if value == 0:
        return 0.1 if up else -0.1
    magnitude = 10.0 ** math.floor(math.log10(abs(value)))
    toward_zero = (value > 0) != up
    if toward_zero and math.isclose(abs(value), magnitude, rel_tol=1e-9):
        magnitude /= 10.0  # 1e-3 steps down to 9e-4, not to 0
    moved = value + magnitude if up else value - magnitude
    return float(f"{moved:.12g}")


class FloatSpinBox(QDoubleSpinBox):
    """QDoubleSpinBox with %g text, scientific input and leading-digit steps."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setDecimals(323)  # keep full double precision; the text is formatted below
        self.setRange(-1e308, 1e308)

    def textFromValue(self, value: float) -> str:  # noqa: N802 - Qt override
        return format(value, ".12g")

    def valueFromText(self, text: str) -> float:  # noqa: N802 - Qt override
        try:
            return float(text.strip())
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int) -> object:
        stripped = text.strip()
        try:
            float(stripped)
        except ValueError:
            lowered = stripped.lower()
            if lowered in _PARTIAL or lowered.endswith(("e", "e-", "e+")):
                return QValidator.State.Intermediate, text, pos
            return QValidator.State.Invalid, text, pos
        return QValidator.State.Acceptable, text, pos

    def stepBy(self, steps: int) -> None:  # noqa: N802 - Qt override
        value = self.value()
        for _ in range(abs(int(steps))):
            value = decade_step(value, steps > 0)
        self.setValue(value)
