"""One way for every failure to reach the user: a dialog titled with the action.

User actions run inside ``reporter.guard(title)``; workers report through the
JobManager; anything uncaught in any thread arrives through the installed
``sys.excepthook`` / ``threading.excepthook``. All of it ends in the same
dialog, shown in the GUI thread, and in the log.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import traceback
from collections.abc import Iterator
from types import TracebackType
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QWidget

from ptycho_engine import PtychoError

from .dialogs import Dialogs

log = logging.getLogger("ptycho_studio")

BUG_HINT = ("This looks like a bug in Ptycho Studio. Please report it together with the "
            "Details below.")


def describe(error: BaseException) -> str:
    """The dialog text: an engine error's own message, else the exception with a bug hint."""
    if isinstance(error, PtychoError):
        return str(error)
    if isinstance(error, OSError):
        return f"{error}\n\nThe operating system refused the file operation; check the path, " \
               "the permissions and the free disk space."
    if isinstance(error, MemoryError):
        return ("Not enough memory for this action. Close other scans or programs, or use a "
                "smaller file.")
    return f"{type(error).__name__}: {error}\n\n{BUG_HINT}"


class ErrorReporter(QObject):
    """Shows errors from any thread in one dialog (in the GUI thread) and logs them."""

    _incoming = Signal(str, object, str)

    def __init__(self, dialogs: Dialogs, parent: QWidget):
        super().__init__(parent)
        self.dialogs = dialogs
        self._window = parent
        self._previous_hooks: tuple[Any, Any] | None = None
        self._incoming.connect(self._show)

    def report(self, title: str, error: BaseException, details: str = "") -> None:
        """Show ``error`` under ``title``; safe to call from any thread."""
        if not details:
            details = "".join(traceback.format_exception(type(error), error,
                                                         error.__traceback__))
        self._incoming.emit(title, error, details)

    @contextlib.contextmanager
    def guard(self, title: str) -> Iterator[None]:
        """Run a user action; an exception becomes one dialog and the app carries on."""
        try:
            yield
        except Exception as error:  # noqa: BLE001 - the dialog is the handler
            self.report(title, error, traceback.format_exc())

    @Slot(str, object, str)
    def _show(self, title: str, error: Any, details: str) -> None:
        text = describe(error) if isinstance(error, BaseException) else str(error)
        log.error("%s: %s", title, text.splitlines()[0] if text else "")
        log.debug("%s", details)
        try:
            self.dialogs.show_error(self._window, title, text, details)
        except Exception:  # noqa: BLE001 - a failing dialog must not loop back into the hook
            log.exception("could not show the error dialog for %s", title)

    # ------------------------------------------------------------- hooks
    def install_hooks(self) -> None:
        """Send uncaught exceptions of the GUI thread and of other threads here."""
        if self._previous_hooks is None:
            self._previous_hooks = (sys.excepthook, threading.excepthook)
        sys.excepthook = self._excepthook
        threading.excepthook = self._thread_excepthook

    def uninstall_hooks(self) -> None:
        """Put back the hooks found at install time (if ours are still the current ones)."""
        if self._previous_hooks is None:
            return
        previous_sys, previous_threading = self._previous_hooks
        if sys.excepthook == self._excepthook:
            sys.excepthook = previous_sys
        if threading.excepthook == self._thread_excepthook:
            threading.excepthook = previous_threading
        self._previous_hooks = None

    def _excepthook(self, exc_type: type[BaseException], error: BaseException,
                    tb: TracebackType | None) -> None:
        if issubclass(exc_type, KeyboardInterrupt) or not shiboken6.isValid(self):
            sys.__excepthook__(exc_type, error, tb)
            return
        details = "".join(traceback.format_exception(exc_type, error, tb))
        self.report("Unexpected error", error, details)

    def _thread_excepthook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_value is None or not shiboken6.isValid(self):
            threading.__excepthook__(args)
            return
        details = "".join(traceback.format_exception(args.exc_type, args.exc_value,
                                                     args.exc_traceback))
        name = args.thread.name if args.thread is not None else "a background thread"
        self.report(f"Unexpected error in {name}", args.exc_value, details)
