"""Scan files: one reader/writer per format, the reader chosen by the file's content.

Known formats: PtychoPINN NPZ (a zip archive of arrays) and CXI/HDF5.
"""

from __future__ import annotations

from pathlib import Path

from ...core.errors import ScanFormatError
from ..scan import Scan
from .cxi import CxiDiffraction, read_cxi, write_cxi
from .npz import read_npz, write_npz
from .summary import format_summary, summarize_scan

ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")  # an archive with members, an empty archive
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_HDF5_OFFSETS = (0, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536)  # after a user block
KNOWN_FORMATS = "PtychoPINN NPZ (a zip archive of arrays, .npz) and CXI/HDF5 (.cxi, .h5)"
_SUFFIX_FORMATS = {".npz": "npz", ".cxi": "cxi", ".h5": "cxi", ".hdf5": "cxi"}


def detect_format(path: str | Path) -> str:
    """'npz' or 'cxi', from the first bytes of the file (the suffix is not trusted)."""
    path = Path(path)
    if not path.exists():
        raise ScanFormatError("file not found; check the path and the file name", source=path)
    if path.is_dir():
        raise ScanFormatError("is a folder, not a scan file", source=path)
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
            if not head:
                raise ScanFormatError(f"is empty (0 bytes); expected {KNOWN_FORMATS}",
                                      source=path)
            if head[:4] in ZIP_SIGNATURES:
                return "npz"
            for offset in _HDF5_OFFSETS:
                handle.seek(offset)
                if handle.read(8) == HDF5_SIGNATURE:
                    return "cxi"
    except OSError as error:
        raise ScanFormatError(f"cannot be read ({error.strerror or error})", source=path) from None
    raise ScanFormatError(f"unknown file format (first bytes {head!r}); known formats are "
                          f"{KNOWN_FORMATS}", source=path)


def load_scan(path: str | Path, *, intensities: bool = False) -> Scan:
    """Read a scan file of any known format.

    ``intensities=True`` says an NPZ's diffraction holds intensities (counts), so
    the square root is taken; CXI data are always counts and always square-rooted.
    """
    if detect_format(path) == "cxi":
        return read_cxi(path)
    return read_npz(path, intensities=intensities)


def save_scan(scan: Scan, path: str | Path, *, format: str | None = None) -> None:
    """Write ``scan`` atomically as 'npz' (default) or 'cxi' (also chosen by a .cxi/.h5 suffix)."""
    chosen = format or _SUFFIX_FORMATS.get(Path(path).suffix.lower(), "npz")
    if chosen == "npz":
        write_npz(scan, path)
    elif chosen == "cxi":
        write_cxi(scan, path)
    else:
        raise ScanFormatError(f"unknown output format {chosen!r}; choose 'npz' or 'cxi'",
                              source=path)


__all__ = ["CxiDiffraction", "detect_format", "format_summary", "load_scan", "save_scan",
           "summarize_scan"]
