"""A scroll area for large panels: it scrolls only below the panel's minimum size.

QScrollArea's own resizing asks a panel with word-wrapped labels for its
height-for-width, which is computed from the preferred sizes of its plots
(about 500 px each), so a dashboard of several plots would scroll even in a
large dock. Here the panel simply gets the viewport's size, never less than
its minimum size.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QFrame, QScrollArea, QWidget


class PanelScrollArea(QScrollArea):
    """Holds one panel at max(viewport size, panel minimum size)."""

    def __init__(self, panel: QWidget, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName(f"{panel.objectName() or 'panel'}Scroll")
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setWidgetResizable(False)
        self.setWidget(panel)
        panel.installEventFilter(self)

    def fit_panel(self) -> None:
        panel = self.widget()
        if panel is not None:
            panel.resize(self.viewport().size().expandedTo(panel.minimumSizeHint()))

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self.fit_panel()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if watched is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            self.fit_panel()  # the panel's minimum size may have changed
        return super().eventFilter(watched, event)


def scrollable(panel: QWidget) -> PanelScrollArea:
    """``panel`` in a frameless scroll area: a large panel then never forces a minimum
    window size; it scrolls when its dock is smaller than the panel's minimum size."""
    return PanelScrollArea(panel)
