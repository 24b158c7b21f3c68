"""Deleting Qt objects without deadlocking against threads that hold Python's GIL.

PySide's wrappers look up Python overrides (``disconnectNotify``, ``metaObject``)
from inside ``QObject``'s destructor, while Qt holds one of its global
signal-slot mutexes, and that look-up takes the GIL. A destructor run by an
event loop (``deleteLater``) starts without the GIL, so it can hold a mutex and
wait for the GIL while another thread holds the GIL and waits for the same
mutex (emitting a signal, ``QAction.activate``). That deadlock was caught with
py-spy in the test suite and hung a CI run: a worker deleted in its own thread
by ``deleteLater``, the GUI thread inside ``QAction.triggered``.

The cure is to delete from Python code in the GUI thread: the deleting thread
then already holds the GIL, and no thread ever waits for it under a Qt mutex.
"""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import QObject, QTimer


def dispose_later(*objects: QObject | None) -> None:
    """Delete ``objects`` (C++ side) on the next turn of the calling thread's event loop,
    from Python, so the GIL is held throughout. Call it from the GUI thread only, and
    only for objects whose threads have finished (or that live in the GUI thread)."""
    kept = tuple(obj for obj in objects if obj is not None)
    if kept:
        QTimer.singleShot(0, lambda: dispose_now(*kept))


def dispose_now(*objects: QObject) -> None:
    """Delete ``objects`` at once (already-deleted ones are skipped)."""
    for obj in objects:
        if shiboken6.isValid(obj):
            shiboken6.delete(obj)
