"""Reading and writing the bundle's zip archive, in memory and defensively.

Nothing is ever extracted to disk. Before any member is read, the listing is
checked: member count, names that would escape a folder (``../x``, absolute
paths, drive letters, backslashes), duplicate names, encryption, compression
method, declared sizes and compression ratios (a zip bomb is refused before
it is inflated). Every error is a BundleError naming the file and the member.
"""

from __future__ import annotations

import time
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from ..core.errors import BundleError

MAX_MEMBERS = 64
MAX_MEMBER_BYTES = 2 * 1024**3
"""No member may declare more than 2 GiB uncompressed (weights of far larger nets fit)."""
MAX_TOTAL_BYTES = 4 * 1024**3
MAX_COMPRESSION_RATIO = 200
"""Weights and probes compress < 2x, text < 20x; deflate tops out near 1000x (a bomb)."""
RATIO_FLOOR_BYTES = 1 << 20
"""Members below 1 MiB are never bombs, whatever their ratio."""
_CHUNK = 1 << 20
_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}
_BROKEN = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError)


def unsafe_name_reason(name: str) -> str | None:
    """Why a member name could escape a folder or confuse a reader; None when it is safe."""
    if not name:
        return "the name is empty"
    if "\\" in name or "\x00" in name:
        return "the name holds a backslash or a NUL character"
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "the name is an absolute path"
    if any(part in ("..", ".") for part in PurePosixPath(name).parts) or "//" in name:
        return "the name steps out of the archive's folder ('..')"
    return None


def open_archive(path: Path) -> zipfile.ZipFile:
    """The zip archive at ``path``; BundleError when it is missing, not a zip or truncated."""
    if path.is_dir():
        raise BundleError("is a folder, not a model bundle; give the .ptyz file (or use a run "
                          "folder where a run folder is accepted)", source=path)
    try:
        return zipfile.ZipFile(path, "r")
    except FileNotFoundError:
        raise BundleError("not found; check the path", source=path) from None
    except _BROKEN as error:
        raise BundleError(f"is not a model bundle: not a zip archive, or truncated ({error}); "
                          "copy or export the bundle again", source=path) from None


def checked_listing(archive: zipfile.ZipFile, path: Path, limits: dict[str, int] | None = None
                    ) -> dict[str, zipfile.ZipInfo]:
    """Name -> ZipInfo after every listing check (done before anything is inflated).

    limits: largest uncompressed size per member name (default MAX_MEMBER_BYTES).
    """
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        raise BundleError(f"holds {len(infos)} members; a bundle has at most {MAX_MEMBERS}, "
                          "so this is not a model bundle", source=path)
    listing: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        reason = unsafe_name_reason(info.filename)
        if reason:
            raise BundleError(f"refused: {reason}; bundles never hold such members, so the "
                              "file was crafted or damaged", source=path, key=info.filename)
        if info.filename in listing:
            raise BundleError("appears twice in the archive; refused as ambiguous",
                              source=path, key=info.filename)
        listing[info.filename] = info
    total = 0
    for info in listing.values():
        _check_info(info, path, min(MAX_MEMBER_BYTES, (limits or {}).get(info.filename,
                                                                          MAX_MEMBER_BYTES)))
        total += info.file_size
    if total > MAX_TOTAL_BYTES:
        raise BundleError(f"members declare {total} bytes in all, more than the "
                          f"{MAX_TOTAL_BYTES} bytes a bundle may hold", source=path)
    return listing


def _check_info(info: zipfile.ZipInfo, path: Path, limit: int) -> None:
    name = info.filename
    if info.flag_bits & 0x1:
        raise BundleError("is encrypted; bundles are never encrypted", source=path, key=name)
    if info.compress_type not in _METHODS:
        raise BundleError(f"uses compression method {info.compress_type}; bundles use only "
                          "stored or deflated members", source=path, key=name)
    if info.file_size > limit:
        raise BundleError(f"declares {info.file_size} bytes uncompressed, more than the "
                          f"{limit} bytes allowed; refused", source=path, key=name)
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size > RATIO_FLOOR_BYTES and ratio > MAX_COMPRESSION_RATIO:
        raise BundleError(f"would inflate {ratio:.0f}x ({info.compress_size} -> "
                          f"{info.file_size} bytes), which only a zip bomb does; refused",
                          source=path, key=name)


def read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> bytes:
    """The member's bytes, read in memory; its zip CRC is checked on the way."""
    parts: list[bytes] = []
    size = 0
    try:
        with archive.open(info, "r") as stream:
            while chunk := stream.read(_CHUNK):
                size += len(chunk)
                if size > info.file_size:
                    raise BundleError("holds more data than its declared size; refused",
                                      source=path, key=info.filename)
                parts.append(chunk)
    except BundleError:
        raise
    except _BROKEN as error:
        raise BundleError(f"is damaged and cannot be read ({error}); copy or export the "
                          "bundle again", source=path, key=info.filename) from None
    return b"".join(parts)


def write_archive(handle: BinaryIO, members: dict[str, bytes]) -> None:
    """Write ``members`` (name -> bytes, in order) as a deflated zip into ``handle``."""
    with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED,
                         compresslevel=6) as archive:
        for name, data in members.items():
            _write_member(archive, name, data)


def _write_member(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=time.gmtime()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    archive.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=6)
