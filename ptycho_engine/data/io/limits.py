"""How much a reader may load into memory, checked against what a file declares.

A file can declare an array far larger than it holds (a crafted header, a zip
bomb, an HDF5 dataset created with chunks and never written). Readers compare
the declared size with :func:`memory_limit_bytes` *before* reading, so such a
file is refused with a clear message instead of exhausting the computer's
memory. Large scans are still fine as CXI/HDF5: their diffraction is read lazily
and never counted here.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from ...core.errors import ScanFormatError

MEMORY_FRACTION = 0.8
"""Share of the physical memory one in-memory array (or an NPZ's arrays together) may use."""
FALLBACK_MEMORY_BYTES = 64 * 1024**3
"""Assumed physical memory where the operating system does not report it."""
MAX_PATTERN_PX = 8192
"""Largest diffraction pattern side read from a lazily read (CXI) scan."""


def memory_limit_bytes() -> int:
    """MEMORY_FRACTION of this computer's physical memory, in bytes."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # not POSIX, or the value is unknown
        total = 0
    return int(MEMORY_FRACTION * (total if total > 0 else FALLBACK_MEMORY_BYTES))


def declared_bytes(shape: tuple[int, ...], dtype: np.dtype) -> int:
    """Bytes an array of ``shape`` and ``dtype`` occupies (exact, no overflow)."""
    return math.prod(int(n) for n in shape) * int(np.dtype(dtype).itemsize)


def gigabytes(nbytes: int) -> str:
    return f"{nbytes / 1e9:.3g} GB"


def check_fits_in_memory(shape: tuple[int, ...], dtype: np.dtype, *, source: str | Path,
                         key: str, limit: int | None = None) -> int:
    """The declared size in bytes; ScanFormatError when it exceeds ``limit`` (default: RAM)."""
    limit = memory_limit_bytes() if limit is None else limit
    nbytes = declared_bytes(shape, dtype)
    if nbytes > limit:
        raise ScanFormatError(
            f"declares shape {tuple(int(n) for n in shape)} of {np.dtype(dtype)} = "
            f"{gigabytes(nbytes)}, more than the {gigabytes(limit)} this computer can hold in "
            "memory; refused before reading. If the file is genuine, store the scan as "
            "CXI/HDF5, which is read lazily", source=source, key=key)
    return nbytes
