"""Atomic file writing: a crash or a full disk mid-write never damages the old file."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from .errors import FileWriteError, PtychoError

_REASONS = {
    errno.ENOSPC: "no space left on device while writing {path}; free space on that disk "
                  "or choose another folder, then try again",
    errno.EDQUOT: "disk quota exceeded while writing {path}; free space in your quota or "
                  "choose another folder, then try again",
    errno.EACCES: "permission denied writing {path}; choose a folder you can write to",
    errno.EPERM: "permission denied writing {path}; choose a folder you can write to",
    errno.EROFS: "cannot write {path}: the disk is read-only; choose another folder",
    errno.ENOENT: "cannot write {path}: the folder {folder} does not exist; create it or "
                  "choose another",
    errno.EIO: "input/output error while writing {path}; the disk or network share may be "
               "failing; try another folder",
}


def write_error(path: str | Path, error: OSError) -> FileWriteError:
    """A FileWriteError for ``error`` saying what went wrong writing ``path`` and what to do."""
    path = Path(path)
    template = _REASONS.get(error.errno or 0)
    if template is None:
        text = f"cannot write {path} ({error.strerror or error}); choose another folder"
    else:
        text = template.format(path=path, folder=path.parent)
    with contextlib.suppress(OSError):
        if path.exists():
            text += " (the previous file there is unchanged)"
    return FileWriteError(error.errno, text, path)


@contextlib.contextmanager
def atomic_write(path: str | Path) -> Iterator[BinaryIO]:
    """Yield a binary handle to a temp file beside ``path``; on success replace ``path``.

    On any exception the temp file is removed and ``path`` is left as it was; an
    OSError (disk full, no permission, ...) becomes a FileWriteError naming ``path``.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as error:
        raise write_error(path, error) from error
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        if isinstance(error, OSError) and not isinstance(error, PtychoError):
            raise write_error(path, error) from error
        raise


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temp file and ``os.replace``."""
    with atomic_write(path) as handle:
        handle.write(data)
