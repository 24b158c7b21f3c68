"""PtychoPINN NPZ scans: read and write the convention of the original project.

Keys: ``diffraction`` (or ``diff3d``) (n, N, N) amplitudes, ``xcoords``/``ycoords``
(n,) object pixels, ``probeGuess`` (N, N) complex, optional ``objectGuess``,
``scan_index`` and the scalar keys this engine writes (``nphotons``,
``object_pixel_m``, ``energy_eV``, ``detector_distance_m``, ``detector_pixel_m``).
Files are read without pickle: object arrays (e.g. ``_metadata``) are never loaded.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np
from numpy.lib import format as npy_format

from ...core.atomic import atomic_write
from ...core.errors import ScanFormatError
from ..scan import Scan, ScanMetadata, check_amplitudes
from .geometry import (
    energy_eV_from_wavelength,
    far_field_check,
    far_field_object_pixel_m,
    wavelength_from_energy_eV,
)
from .limits import check_fits_in_memory, gigabytes, memory_limit_bytes

DIFFRACTION_KEYS = ("diffraction", "diff3d")
POSITIONS_KEY = "xcoords/ycoords"
PROBE_KEY = "probeGuess"
OBJECT_KEY = "objectGuess"
SCALAR_KEYS = {  # NPZ key -> ScanMetadata field
    "nphotons": "photons_per_pattern",
    "object_pixel_m": "object_pixel_m",
    "energy_eV": "energy_eV",
    "detector_distance_m": "detector_distance_m",
    "detector_pixel_m": "detector_pixel_m",
}
_BROKEN_FILE = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError,
                NotImplementedError)  # zipfile: unknown zip version or compression method


def _corrupt(path: Path, detail: Exception) -> ScanFormatError:
    return ScanFormatError(
        f"the NPZ (zip) file is truncated or corrupt and cannot be read ({detail}); "
        "copy or export the file again", source=path)


def _npy_header(stream: BinaryIO, path: Path, key: str
                ) -> tuple[tuple[int, ...], np.dtype, int] | None:
    """(shape, dtype, data offset) from a member's .npy header; None when it is no .npy."""
    if stream.read(len(npy_format.MAGIC_PREFIX)) != npy_format.MAGIC_PREFIX:
        return None
    version = tuple(stream.read(2))
    if version == (1, 0):
        shape, _, dtype = npy_format.read_array_header_1_0(stream)
    elif version == (2, 0):
        shape, _, dtype = npy_format.read_array_header_2_0(stream)
    else:
        raise ScanFormatError(f"is a .npy array of format version {version}; only versions "
                              "1.0 and 2.0 (numpy's for numeric arrays) are read",
                              source=path, key=key)
    return shape, dtype, stream.tell()


def check_declared_sizes(npz: np.lib.npyio.NpzFile, path: Path) -> None:
    """Refuse, before any array is read, an archive whose members declare more data than
    they hold (crafted headers) or than fits in memory (zip bombs, absurd shapes)."""
    limit = memory_limit_bytes()
    total = 0
    for info in npz.zip.infolist():
        key = info.filename.removesuffix(".npy")
        if info.flag_bits & 0x1:
            raise ScanFormatError("is encrypted; scan archives are never encrypted (decrypt it "
                                  "and save plain arrays)", source=path, key=key)
        total += info.file_size
        if total > limit:
            raise ScanFormatError(
                f"the archive's members declare {gigabytes(total)} uncompressed, more than the "
                f"{gigabytes(limit)} this computer can hold in memory; refused before reading "
                "(a zip bomb, or a scan too large for NPZ: store it as CXI/HDF5, which is read "
                "lazily)", source=path, key=key)
        with npz.zip.open(info) as stream:
            header = _npy_header(stream, path, key)
        if header is None or header[1].hasobject:
            continue  # _member refuses these without reading them
        shape, dtype, offset = header
        nbytes = check_fits_in_memory(shape, dtype, source=path, key=key, limit=limit)
        if nbytes > info.file_size - offset:
            raise ScanFormatError(
                f"declares shape {shape} of {dtype} ({nbytes} bytes) but holds only "
                f"{max(info.file_size - offset, 0)} bytes of data; the file is truncated or "
                "damaged; copy or export it again", source=path, key=key)


def _member(npz: np.lib.npyio.NpzFile, key: str, path: Path) -> np.ndarray:
    """One array of the archive; object arrays are refused, never unpickled."""
    try:
        value = npz[key]
    except ValueError as error:
        if "allow_pickle" in str(error) or "Object arrays" in str(error):
            raise ScanFormatError(
                "holds pickled Python objects (an object array), which are not loaded for "
                "safety because unpickling can run arbitrary code; store plain numeric "
                "arrays instead", source=path, key=key) from None
        raise _corrupt(path, error) from None
    except _BROKEN_FILE as error:
        raise _corrupt(path, error) from None
    if not isinstance(value, np.ndarray):
        raise ScanFormatError("is not a .npy array (the archive member holds other data); "
                              "store plain numeric arrays", source=path, key=key)
    return value


def _scalar(npz: np.lib.npyio.NpzFile, key: str, path: Path) -> float:
    """One positive number (photons, energy, distance or pixel size)."""
    value = _member(npz, key, path)
    if value.size != 1 or value.dtype.kind not in "fiu":
        raise ScanFormatError(f"has shape {value.shape} and dtype {value.dtype}; expected a "
                              "single real number", source=path, key=key)
    number = float(value.reshape(()))
    if not (np.isfinite(number) and number > 0):
        raise ScanFormatError(f"is {number}; expected a positive number (SI units: m, eV, "
                              "photons); fix or remove it", source=path, key=key)
    return number


def _diffraction(npz: np.lib.npyio.NpzFile, path: Path, n_positions: int,
                 intensities: bool) -> tuple[np.ndarray, str]:
    key = next((k for k in DIFFRACTION_KEYS if k in npz.files), None)
    if key is None:
        raise ScanFormatError(
            f"no diffraction data: neither 'diffraction' nor 'diff3d' is present; the file "
            f"holds keys {sorted(npz.files)} (a scan file needs the measured patterns)",
            source=path, key="diffraction")
    data = _member(npz, key, path)
    if data.ndim == 4 and data.shape[-1] == 1:
        data = data[..., 0]
    if data.ndim == 3 and data.shape[2] == n_positions and data.shape[0] != n_positions:
        data = np.transpose(data, (2, 0, 1))  # legacy (N, N, n) stack
    if data.dtype.kind in "iub":  # e.g. uint16 counts: widen before any arithmetic
        data = data.astype(np.float32)
    if intensities and data.dtype.kind == "f" and data.ndim == 3:
        check_amplitudes(np.where(data < 0, 0, data), source=str(path), key=key)
        negative = np.argwhere(data < 0)
        if negative.size:
            raise ScanFormatError(
                f"pattern {int(negative[0][0])} holds negative intensities; counts must be "
                ">= 0 (subtract the background and clip at 0)", source=path, key=key)
        data = np.sqrt(data, dtype=np.float32)
    return data, key


def _positions(npz: np.lib.npyio.NpzFile, path: Path) -> np.ndarray:
    missing = [k for k in ("xcoords", "ycoords") if k not in npz.files]
    if missing:
        raise ScanFormatError(
            f"scan positions missing: no {' or '.join(missing)}; the file holds keys "
            f"{sorted(npz.files)} (positions are needed in object pixels)",
            source=path, key="/".join(missing))
    x, y = _member(npz, "xcoords", path), _member(npz, "ycoords", path)
    if x.ndim != 1 or x.shape != y.shape:
        raise ScanFormatError(f"xcoords has shape {x.shape} and ycoords {y.shape}; expected "
                              "two 1-D arrays of the same length", source=path,
                              key=POSITIONS_KEY)
    for key, values in (("xcoords", x), ("ycoords", y)):
        if values.dtype.kind not in "fiu":
            raise ScanFormatError(f"has dtype {values.dtype}; expected real numbers (object "
                                  "pixels)", source=path, key=key)
    return np.stack([x, y], axis=1)


def read_npz(path: str | Path, *, intensities: bool = False) -> Scan:
    """Load a PtychoPINN NPZ scan; ``intensities=True`` takes sqrt of the stored counts."""
    path = Path(path)
    try:
        npz = np.load(path, allow_pickle=False)
    except _BROKEN_FILE as error:
        raise _corrupt(path, error) from None
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise ScanFormatError("is a single .npy array, not an NPZ archive of named arrays",
                              source=path)
    with npz:
        try:
            check_declared_sizes(npz, path)
        except _BROKEN_FILE as error:
            raise _corrupt(path, error) from None
        positions = _positions(npz, path)
        diffraction, key = _diffraction(npz, path, positions.shape[0], intensities)
        if PROBE_KEY not in npz.files:
            raise ScanFormatError(
                f"no probe: the file holds keys {sorted(npz.files)}; a PtychoPINN NPZ needs "
                "'probeGuess', the (N, N) complex probe on the object pixel grid",
                source=path, key=PROBE_KEY)
        probe = _member(npz, PROBE_KEY, path)
        if probe.ndim == 3 and 1 in (probe.shape[0], probe.shape[2]):
            probe = probe.reshape(probe.shape[1:] if probe.shape[0] == 1 else probe.shape[:2])
        ground_truth = _member(npz, OBJECT_KEY, path) if OBJECT_KEY in npz.files else None
        values = {field: _scalar(npz, k, path) for k, field in SCALAR_KEYS.items()
                  if k in npz.files}
        extra = {}
        if "scan_index" in npz.files:
            extra["scan_index"] = _member(npz, "scan_index", path)
    if values.get("energy_eV"):
        values["wavelength_m"] = wavelength_from_energy_eV(values["energy_eV"])
    geometry = [values.get(k) for k in ("wavelength_m", "detector_distance_m",
                                        "detector_pixel_m")]
    if all(geometry) and diffraction.ndim == 3 and positions.ndim == 2:
        if values.get("object_pixel_m") is None:
            values["object_pixel_m"] = far_field_object_pixel_m(*geometry, diffraction.shape[-1])
        warning = far_field_check(*geometry, diffraction.shape[-1], positions)
        if warning:
            extra["near_field"] = warning
    metadata = ScanMetadata(source_file=str(path), file_format="npz", extra=extra, **values)
    return Scan(diffraction, positions, probe, ground_truth=ground_truth, metadata=metadata,
                diffraction_key=key, positions_key=POSITIONS_KEY, probe_key=PROBE_KEY)


def write_npz(scan: Scan, path: str | Path) -> None:
    """Write ``scan`` as a PtychoPINN NPZ (plain arrays only), atomically."""
    meta = scan.metadata
    arrays: dict[str, np.ndarray] = {
        "diffraction": scan.diffraction_array(),
        "xcoords": scan.positions[:, 0].astype(np.float64),
        "ycoords": scan.positions[:, 1].astype(np.float64),
        PROBE_KEY: scan.probe.astype(np.complex64),
    }
    if scan.ground_truth is not None:
        arrays[OBJECT_KEY] = scan.ground_truth.astype(np.complex64)
    scan_index = meta.extra.get("scan_index")
    if scan_index is not None:
        arrays["scan_index"] = np.asarray(scan_index)
    energy = meta.energy_eV
    if energy is None and meta.wavelength_m:
        energy = energy_eV_from_wavelength(meta.wavelength_m)
    scalars = {field: getattr(meta, field) for field in SCALAR_KEYS.values()}
    scalars["energy_eV"] = energy
    for key, field in SCALAR_KEYS.items():
        if scalars[field] is not None:
            arrays[key] = np.asarray(scalars[field], dtype=np.float64)
    with atomic_write(path) as handle:
        np.savez_compressed(handle, **arrays)
