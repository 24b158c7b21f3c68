"""The bundle format: member names, version rules, checksums and the manifest's self-seal.

A bundle (``.ptyz``) is a zip archive of plain data: ``manifest.json``,
``weights.safetensors``, ``probe.npy``, ``config.toml`` and ``history.csv``.
Nothing in it is ever unpickled or executed. The manifest lists the SHA-256 of
every other member, and carries its own SHA-256 (``manifest_sha256``: the hash
of the manifest file with that value replaced by 64 zeros), so one flipped byte
anywhere is found and the member named.

Versions are "major.minor": a reader refuses a newer major version and reads a
newer minor one (minor versions only add manifest keys or members).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from ..core.errors import BundleError

FORMAT_NAME = "ptycho-studio-bundle"
FORMAT_VERSION = "1.0"
SUFFIX = ".ptyz"

MANIFEST = "manifest.json"
WEIGHTS = "weights.safetensors"
PROBE = "probe.npy"
CONFIG = "config.toml"
HISTORY = "history.csv"
REQUIRED_MEMBERS = (WEIGHTS, PROBE, CONFIG, HISTORY)
MEMBER_LIMITS = {MANIFEST: 16 << 20, CONFIG: 1 << 20, HISTORY: 256 << 20, PROBE: 256 << 20}
"""Largest uncompressed size (bytes) accepted per member; others: archive.MAX_MEMBER_BYTES."""

PROBE_NORMALISATION = "mean modulus in N/4 disc"
"""The probe is divided so that mean |disc(N/4) * probe| over the N x N array = 1/probe_scale."""

SEAL_KEY = "manifest_sha256"
_BLANK_SEAL = "0" * 64
_VERSION = re.compile(r"^(\d{1,6})\.(\d{1,6})$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path, chunk_bytes: int = 1 << 20) -> str:
    """SHA-256 of a file read in chunks (scan files can be many GB)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


def parse_version(text: Any, *, source: str | Path) -> tuple[int, int]:
    """(major, minor) of a "major.minor" version string; BundleError when malformed."""
    match = _VERSION.match(text) if isinstance(text, str) else None
    if match is None:
        raise BundleError(f"format_version is {text!r}; expected \"major.minor\" such as "
                          f"\"{FORMAT_VERSION}\"; the manifest is damaged",
                          source=source, key=f"{MANIFEST}: format_version")
    return int(match.group(1)), int(match.group(2))


def check_version(manifest: dict[str, Any], *, source: str | Path) -> tuple[int, int]:
    """Refuse other formats and newer major versions, naming both versions."""
    if manifest.get("format") != FORMAT_NAME:
        raise BundleError(f"format is {manifest.get('format')!r}, not {FORMAT_NAME!r}; this is "
                          "not a Ptycho Studio model bundle", source=source,
                          key=f"{MANIFEST}: format")
    found = parse_version(manifest.get("format_version"), source=source)
    ours = parse_version(FORMAT_VERSION, source="this engine")
    if found[0] > ours[0]:
        raise BundleError(
            f"bundle format version {manifest['format_version']} (written by ptycho_engine "
            f"{manifest.get('engine_version', '?')}) is newer than version {FORMAT_VERSION}, "
            "the newest this engine can read; update Ptycho Studio to open it",
            source=source, key=f"{MANIFEST}: format_version")
    return found


def seal_manifest(manifest: dict[str, Any]) -> bytes:
    """The manifest as UTF-8 JSON with its own SHA-256 filled in (see the module docstring)."""
    body = {key: value for key, value in manifest.items() if key != SEAL_KEY}
    body[SEAL_KEY] = _BLANK_SEAL
    text = json.dumps(body, indent=2, allow_nan=False, ensure_ascii=False) + "\n"
    blank_seal = _seal_field(_BLANK_SEAL)
    if text.count(blank_seal) != 1:
        raise ValueError("the manifest text contains the blank seal more than once")
    data = text.encode("utf-8")
    return data.replace(blank_seal.encode(), _seal_field(sha256_hex(data)).encode())


def verify_manifest_seal(raw: bytes, manifest: dict[str, Any], *, source: str | Path) -> None:
    """Check ``manifest_sha256`` against the raw manifest bytes; BundleError naming the file."""
    claimed = manifest.get(SEAL_KEY)
    if not isinstance(claimed, str) or not _HEX64.match(claimed):
        raise BundleError(f"has no valid {SEAL_KEY} (found {claimed!r}); the manifest is "
                          "damaged or was edited by hand", source=source, key=MANIFEST)
    field = _seal_field(claimed).encode()
    if raw.count(field) != 1 or sha256_hex(raw.replace(field, _seal_field(
            _BLANK_SEAL).encode())) != claimed:
        raise BundleError("checksum mismatch: the manifest was changed after the bundle was "
                          "written (damaged copy or edited by hand); export the model again",
                          source=source, key=MANIFEST)


def _seal_field(value: str) -> str:
    return f'"{SEAL_KEY}": "{value}"'
