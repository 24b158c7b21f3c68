"""Python's cyclic garbage collector, run only in the GUI thread.

Automatic collection runs in whichever thread happens to allocate; in the
training thread it can free Python wrappers of Qt objects (pyqtgraph items,
timers, old windows) and so run their C++ destructors outside the thread
they belong to, which Qt does not allow and which can deadlock on the GIL (see
``disposal``). pyqtgraph documents the same remedy: switch automatic collection
off and collect from a GUI-thread timer, by the interpreter's own thresholds.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QCoreApplication, QObject, QTimer

COLLECTOR_NAME = "guiThreadGarbageCollector"


class GuiThreadGarbageCollector(QObject):
    """While running: automatic collection is off and a timer collects in this thread."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = 500):
        super().__init__(parent)
        self.setObjectName(COLLECTOR_NAME)
        self.collections = [0, 0, 0]
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.collect_due)

    @property
    def running(self) -> bool:
        return self._timer.isActive()

    def start(self) -> None:
        gc.disable()
        self._timer.start()

    def stop(self) -> None:
        """Stop the timer and give collection back to the interpreter."""
        self._timer.stop()
        gc.enable()

    def collect_due(self) -> int | None:
        """Collect the oldest generation whose count passed its threshold (the rule the
        interpreter applies itself); returns that generation, or None when none is due."""
        counts, thresholds = gc.get_count(), gc.get_threshold()
        for generation in (2, 1, 0):
            if thresholds[generation] and counts[generation] > thresholds[generation]:
                gc.collect(generation)
                self.collections[generation] += 1
                return generation
        return None


def install_gui_thread_gc() -> GuiThreadGarbageCollector:
    """The application's collector (created and started on first call), a child of the
    QCoreApplication so it lives as long as Qt does. Call from the GUI thread."""
    app = QCoreApplication.instance()
    if app is None:
        raise RuntimeError("install_gui_thread_gc needs a QApplication")
    collector = app.findChild(GuiThreadGarbageCollector, COLLECTOR_NAME)
    if collector is None:
        collector = GuiThreadGarbageCollector(app)
    if not collector.running:
        collector.start()
    return collector


def uninstall_gui_thread_gc() -> None:
    """Stop the application's collector (automatic collection on again), if there is one."""
    app = QCoreApplication.instance()
    collector = app.findChild(GuiThreadGarbageCollector, COLLECTOR_NAME) if app else None
    if collector is not None:
        collector.stop()
