"""A label that says whether the fit behind a result converged, and what to try if not.

The engine judges the fit (``ptycho_engine.Convergence``); this view only words it:
an amber banner for a fit that did not converge (or whose verdict is unknown), a quiet
green note or nothing for one that did. The text is selectable and the tooltip holds
every reason and every piece of advice.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

from ..model_text import convergence_banner

if TYPE_CHECKING:
    from ptycho_engine import Convergence

WARNING_STYLE = ("QLabel { background: #fff1d6; color: #5c3a00; border: 1px solid #d08a00; "
                 "border-radius: 3px; padding: 4px 6px; }")
"""Amber with dark text: readable in light and dark themes alike."""
CONVERGED_STYLE = ("QLabel { background: #e6f4e6; color: #1d4d1d; border: 1px solid #6aa96a; "
                   "border-radius: 3px; padding: 4px 6px; }")


def verdict_text(convergence: Convergence) -> str:
    """'<b>Result: NOT CONVERGED</b> — reasons. <b>Try:</b> advice.' (rich text): every
    reason and every piece of advice, for the training dashboard."""
    text = f"<b>Result: {html.escape(convergence.headline)}</b>"
    if convergence.reasons:
        text += " — " + html.escape("; ".join(convergence.reasons))
    if convergence.advice:
        text += ". <b>Try:</b> " + html.escape("; ".join(convergence.advice))
    return text + "."


class ConvergenceBanner(QLabel):
    """Hidden until it has a verdict to show.

    ``show_banner``: above a reconstruction, only for a fit that did not converge (the
    first reason and the first advice). ``show_verdict``: the dashboard's full verdict at
    the end of a run, converged or not.
    """

    def __init__(self, object_name: str, parent: QWidget | None = None):
        super().__init__("", parent)
        self.setObjectName(object_name)
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setVisible(False)

    def show_banner(self, convergence: Convergence | None) -> None:
        text = convergence_banner(convergence)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setText(f"<b>{html.escape(text)}</b>" if text else "")
        self.setToolTip(convergence.describe() if convergence is not None else "")
        self.setStyleSheet(WARNING_STYLE)
        self.setVisible(bool(text))

    def show_verdict(self, convergence: Convergence) -> None:
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setText(verdict_text(convergence))
        self.setToolTip(convergence.describe())
        self.setStyleSheet(CONVERGED_STYLE if convergence.converged else WARNING_STYLE)
        self.setVisible(True)

    def clear_verdict(self) -> None:
        self.setText("")
        self.setToolTip("")
        self.setVisible(False)
