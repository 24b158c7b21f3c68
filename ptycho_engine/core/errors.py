"""Errors the engine raises for problems a user can fix.

Every message names the file (when there is one), the key or field, what was
found and what to do. The CLI prints ``str(error)`` on one line and exits 2;
the app shows it in a dialog.
"""

from __future__ import annotations

from pathlib import Path


class PtychoError(Exception):
    """Base of every error a user can act on (bad file, bad config, bad bundle)."""


def _located(source: str | Path | None, key: str | None, problem: str) -> str:
    parts = []
    if source:
        parts.append(str(source))
    if key:
        parts.append(key)
    parts.append(problem)
    return ": ".join(parts)


class ScanFormatError(PtychoError):
    """A scan file (or an in-memory scan) is unreadable or breaks an invariant."""

    def __init__(self, problem: str, *, source: str | Path | None = None, key: str | None = None):
        self.source = str(source) if source else None
        self.key = key
        self.problem = problem
        super().__init__(_located(source, key, problem))


class ConfigError(PtychoError):
    """A configuration value is unknown, of the wrong type or out of range.

    ``problems`` lists every bad field, so a form can mark each one.
    """

    def __init__(self, problems: list[tuple[str, str]], *, source: str | Path | None = None):
        self.problems = list(problems)
        self.source = str(source) if source else None
        text = "; ".join(f"{field}: {message}" for field, message in self.problems)
        super().__init__(_located(source, None, text))


class BundleError(PtychoError):
    """A model bundle is unreadable, tampered with, or from an unsupported version."""

    def __init__(self, problem: str, *, source: str | Path | None = None, key: str | None = None):
        self.source = str(source) if source else None
        self.key = key
        super().__init__(_located(source, key, problem))


class TrainingError(PtychoError):
    """Training cannot go on (NaN loss, out of memory, unusable data)."""


class FileWriteError(PtychoError, OSError):
    """A file could not be written (disk full, no permission, read-only disk).

    Also an ``OSError`` (same ``errno``), so older ``except OSError`` handlers still
    catch it. Raised by ``core.atomic.atomic_write``, which leaves the previous file intact.
    """

    def __init__(self, errno: int | None, message: str, path: str | Path):
        super().__init__(errno, message, str(path))
        self.message = message
        self.path = str(path)

    def __str__(self) -> str:
        return self.message
