"""Probe files: read a probe from NPZ, NPY or HDF5 and put it into a scan, with a shape check.

A beamline often measures the probe separately (or reconstructs it once with
another program); the dataset browser lets users swap it into a loaded scan.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import h5py
import numpy as np

from ...core.errors import ScanFormatError
from ..scan import Scan, check_probe
from .cxi import PROBE_PATHS

NPZ_PROBE_KEYS = ("probeGuess", "probe")
HDF5_PROBE_PATHS = (*PROBE_PATHS, "probe", "probeGuess")
_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
KNOWN = "NPZ (key 'probeGuess' or 'probe'), NPY (one array) or HDF5/CXI"


def _from_npz(path: Path) -> tuple[np.ndarray, str]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            key = next((k for k in NPZ_PROBE_KEYS if k in npz.files), None)
            if key is None and len(npz.files) == 1:
                key = npz.files[0]
            if key is None:
                raise ScanFormatError(f"no probe: the file holds keys {sorted(npz.files)}; "
                                      f"expected one of {list(NPZ_PROBE_KEYS)}", source=path)
            return npz[key], key
    except ValueError as error:
        if "allow_pickle" in str(error) or "Object arrays" in str(error):
            raise ScanFormatError("holds pickled Python objects, which are not loaded for "
                                  "safety; store the probe as a plain complex array",
                                  source=path) from None
        raise ScanFormatError(f"the NPZ file is corrupt ({error})", source=path) from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, KeyError) as error:
        raise ScanFormatError(f"the NPZ (zip) file is truncated or corrupt ({error})",
                              source=path) from None


def _from_npy(path: Path) -> tuple[np.ndarray, str]:
    try:
        return np.load(path, allow_pickle=False), "array"
    except ValueError as error:
        raise ScanFormatError(f"cannot be read as a plain array ({error}); pickled objects are "
                              "not loaded for safety", source=path) from None
    except (EOFError, OSError) as error:
        raise ScanFormatError(f"the NPY file is truncated or corrupt ({error})",
                              source=path) from None


def _from_hdf5(path: Path) -> tuple[np.ndarray, str]:
    try:
        with h5py.File(path, "r") as file:
            key = next((k for k in HDF5_PROBE_PATHS
                        if k in file and isinstance(file[k], h5py.Dataset)), None)
            if key is None:
                found: list[str] = []
                file.visititems(lambda name, item: found.append(name)
                                if isinstance(item, h5py.Dataset) and item.ndim in (2, 3)
                                else None)
                if len(found) != 1:
                    raise ScanFormatError(
                        f"no probe dataset: looked for {list(HDF5_PROBE_PATHS)} and found "
                        f"{len(found)} other 2-D/3-D datasets {found[:5]}; store the probe at "
                        f"'{PROBE_PATHS[0]}'", source=path)
                key = found[0]
            return np.asarray(file[key][()]), key
    except OSError as error:
        raise ScanFormatError(f"the HDF5 file is truncated or corrupt ({error})",
                              source=path) from None


def load_probe(path: str | Path, N: int | None = None) -> np.ndarray:
    """Read a probe file as (N, N) complex64, checking shape and values.

    Single-mode stacks of shape (1, N, N) or (N, N, 1) are accepted. ``N``, when
    given, is the pattern size the probe must match.
    """
    path = Path(path)
    if not path.is_file():
        raise ScanFormatError("file not found; check the path", source=path)
    with path.open("rb") as handle:
        head = handle.read(8)
    if head.startswith(_NPY_MAGIC):
        probe, key = _from_npy(path)
    elif head[:4] in _ZIP_MAGIC:
        probe, key = _from_npz(path)
    elif head == _HDF5_MAGIC:
        probe, key = _from_hdf5(path)
    else:
        raise ScanFormatError(f"unknown probe file format (first bytes {head!r}); expected "
                              f"{KNOWN}", source=path)
    if probe.ndim == 3 and 1 in (probe.shape[0], probe.shape[2]):
        probe = probe.reshape(probe.shape[1:] if probe.shape[0] == 1 else probe.shape[:2])
    if probe.ndim == 3:
        raise ScanFormatError(f"holds {probe.shape[0]} probe modes of {probe.shape[1:]}; "
                              "PtychoPINN uses one probe: save the first mode on its own",
                              source=path, key=key)
    if probe.ndim != 2:
        raise ScanFormatError(f"has shape {probe.shape}; expected a 2-D complex (or real) "
                              "array", source=path, key=key)
    return check_probe(probe, N, source=path, key=key)


def replace_probe(scan: Scan, probe: np.ndarray, *, source: str | Path | None = None) -> Scan:
    """The same scan with another (N, N) complex probe; the scan's invariants are rechecked.

    ``source`` (the probe file) is kept in ``metadata.extra['probe_file']``.
    """
    extra = dict(scan.metadata.extra)
    extra.pop("probe_estimated", None)
    if source is not None:
        extra["probe_file"] = str(source)
    return Scan(scan.diffraction, scan.positions, probe, ground_truth=scan.ground_truth,
                metadata=scan.metadata.replace(extra=extra),
                probe_key=f"probe from {source}" if source else "probe")
