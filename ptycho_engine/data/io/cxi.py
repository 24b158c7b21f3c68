"""CXI / HDF5 scans: lazy reading of photon counts, writing in the CXI layout.

CXI stores photon *counts* (sqrt is always taken), the sample translation in
metres and the source energy in joules. Positions in object pixels come from
the far-field pixel size lambda*z / (N*dx); see ``_positions_px`` for the sign
and origin conventions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ...core.atomic import atomic_write
from ...core.errors import ScanFormatError
from ..scan import LazyDiffraction, Scan, ScanMetadata
from .geometry import (
    ELECTRON_VOLT_J,
    PLANCK_TIMES_LIGHT_EV_M,
    energy_eV_from_wavelength,
    far_field_check,
    far_field_object_pixel_m,
)
from .limits import MAX_PATTERN_PX, check_fits_in_memory

DETECTOR = "entry_1/instrument_1/detector_1"
SOURCE = "entry_1/instrument_1/source_1"
TRANSLATION = "entry_1/sample_1/geometry_1/translation"
DATA_PATHS = (f"{DETECTOR}/data", "entry_1/data_1/data")
PROBE_PATHS = (f"{SOURCE}/illumination", f"{DETECTOR}/probe", "entry_1/data_1/probe")
OBJECT_PATH = "entry_1/image_1/data"
EXTRA_GROUP = "entry_1/ptycho_studio"
ORIGIN_ATTR = "object_frame_origin_px"
"""Attribute on the translation we write: positions_px = -translation / pixel + origin."""
_READ_BLOCK = 512
"""Patterns converted at a time, bounding the temporary memory of a full read."""


class CxiDiffraction(LazyDiffraction):
    """Amplitudes sqrt(counts) of an HDF5 dataset (n, N, N), read only where indexed.

    Each read opens the file, reads the selected chunks and closes it again.
    Measured on a 20,000 x 64 x 64 gzip file, reopening costs ~20 us on top of
    ~500 us for one pattern, and it keeps no handle open: the file can be
    replaced (also on Windows) or rewritten while a scan is loaded, and forked
    or spawned DataLoader workers need no special care. Masked pixels
    (mask (N, N) bool, True = bad) read as 0; every read checks the counts for
    NaN, Inf and negative values.
    """

    def __init__(self, path: str | Path, dataset: str, shape: tuple[int, int, int],
                 mask: np.ndarray | None = None):
        self.path = str(path)
        self.dataset = dataset
        self._shape = (int(shape[0]), int(shape[1]), int(shape[2]))
        self.mask = None if mask is None else np.asarray(mask, dtype=bool)

    @property
    def shape(self) -> tuple[int, int, int]:
        return self._shape

    def _open(self) -> h5py.File:
        try:
            return h5py.File(self.path, "r")
        except OSError as error:
            raise ScanFormatError(f"cannot be reopened to read the diffraction ({error}); "
                                  "was the file moved or deleted?", source=self.path) from None

    def _wanted(self, index: int | slice | np.ndarray) -> tuple[np.ndarray, bool]:
        """Pattern indices as an int64 array, and whether the result drops the first axis."""
        n = self._shape[0]
        if isinstance(index, slice):
            return np.arange(n)[index], False
        picks = np.asarray(index)
        if picks.dtype == bool:
            if picks.shape != (n,):
                raise IndexError(f"boolean index of shape {picks.shape} for {n} patterns")
            return np.flatnonzero(picks), False
        if picks.dtype.kind not in "iu" or picks.ndim > 1:
            raise IndexError(f"pattern index must be an int, a slice or 1-D ints, got {index!r}")
        wanted = picks.astype(np.int64).reshape(-1)
        if ((wanted < -n) | (wanted >= n)).any():
            raise IndexError(f"pattern index out of range for {n} patterns")
        return np.where(wanted < 0, wanted + n, wanted), picks.ndim == 0

    def read(self, index: int | slice | np.ndarray) -> np.ndarray:
        """Float32 amplitudes (k, N, N), or (N, N) for an int index."""
        wanted, single = self._wanted(index)
        unique, inverse = np.unique(wanted, return_inverse=True)  # h5py needs increasing
        amplitudes = np.empty((unique.size, *self._shape[1:]), dtype=np.float32)
        with self._open() as file:
            try:
                dataset = file[self.dataset]
                for start in range(0, unique.size, _READ_BLOCK):
                    part = unique[start:start + _READ_BLOCK]
                    low, high = int(part[0]), int(part[-1]) + 1
                    if high - low <= 2 * part.size:  # dense: one contiguous read
                        counts = dataset[low:high][part - low]
                    else:
                        counts = dataset[part]
                    amplitudes[start:start + part.size] = self._amplitudes(counts, part)
            except (OSError, KeyError) as error:  # h5py: a damaged chunk or object header
                raise ScanFormatError(f"the patterns cannot be read ({error}); the file is "
                                      "damaged; copy or export it again", source=self.path,
                                      key=self.dataset) from None
        result = amplitudes if np.array_equal(unique, wanted) else amplitudes[inverse.reshape(-1)]
        return result[0] if single else result

    def _amplitudes(self, counts: np.ndarray, indices: np.ndarray) -> np.ndarray:
        counts = counts.astype(np.float32)
        if self.mask is not None:
            counts[:, self.mask] = 0.0
        bad_value = ~np.isfinite(counts).all(axis=(1, 2))
        if bad_value.any():
            raise ScanFormatError(
                f"pattern {int(indices[np.argmax(bad_value)])} holds NaN or Inf counts; "
                "remove or repair the bad frames", source=self.path, key=self.dataset)
        negative = (counts < 0).any(axis=(1, 2))
        if negative.any():
            raise ScanFormatError(
                f"pattern {int(indices[np.argmax(negative)])} holds negative counts; photon "
                "counts must be >= 0 (subtract the background and clip at 0, or mask the "
                "bad pixels)", source=self.path, key=self.dataset)
        return np.sqrt(counts, out=counts)


def estimate_probe(diffraction: LazyDiffraction | np.ndarray, N: int) -> np.ndarray:
    """An initial (N, N) complex64 probe from the data, for files that hold none.

    Method (deterministic; the reference's data-estimated probe idea): the
    inverse FFT of the mean intensity of up to 256 evenly spread patterns is the
    autocorrelation of the exit waves, about the probe's autocorrelation, which
    for a Gaussian probe of std s is a Gaussian of std s*sqrt(2). Its second
    moment <r**2> = 4 s**2 (taken over 0 < r <= N/2 above the baseline at the
    edge; r = 0 holds the object's and the noise's spike) gives s. The probe is
    that real Gaussian, peak 1, centred at (N/2, N/2), cut to the disc of radius N/4.
    diffraction: (n, N, N) amplitudes, sqrt(counts).
    """
    picks = np.unique(np.linspace(0, len(diffraction) - 1, num=min(len(diffraction), 256))
                      .round().astype(np.int64))
    mean_intensity = (np.asarray(diffraction[picks], dtype=np.float64) ** 2).mean(axis=0)
    autocorrelation = np.abs(np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(mean_intensity))))
    rows, cols = np.mgrid[:N, :N]
    radius = np.hypot(rows - N // 2, cols - N // 2)
    baseline = np.median(autocorrelation[radius > 0.45 * N])
    ring = (radius > 0.5) & (radius <= N / 2)
    weights = np.clip(autocorrelation[ring] - baseline, 0.0, None)
    if weights.sum() > 0:
        sigma = float(np.sqrt((radius[ring] ** 2 * weights).sum() / weights.sum()) / 2)
    else:
        sigma = N / 8  # no usable signal: a probe filling half the disc
    sigma = min(max(sigma, 0.5), N / 4)
    probe = np.exp(-(radius**2) / (2 * sigma**2)) * (radius <= N / 4)
    return probe.astype(np.complex64)


def _scalar(file: h5py.File, name: str, path: Path, purpose: str) -> float:
    """A positive scalar dataset; ScanFormatError naming ``name`` when missing or bad."""
    node = file.get(name)  # None also for a link that leads nowhere
    if node is None:
        raise ScanFormatError(f"missing; {purpose}; add it to the file (SI units)",
                              source=path, key=name)
    if not isinstance(node, h5py.Dataset) or node.size != 1:
        found = f"shape {node.shape}" if isinstance(node, h5py.Dataset) else "a group"
        raise ScanFormatError(f"is {found}; expected one positive number. {purpose}",
                              source=path, key=name)
    value = np.asarray(node[()])
    if value.size != 1 or value.dtype.kind not in "fiu" or not np.isfinite(value).all() \
            or float(value.reshape(-1)[0]) <= 0:
        raise ScanFormatError(f"holds {value!r}; expected one positive number. {purpose}",
                              source=path, key=name)
    return float(value.reshape(-1)[0])


def _wavelength_m(file: h5py.File, path: Path) -> float:
    purpose = ("scan positions cannot be converted to pixels without the photon energy "
               f"(joules) or the wavelength (metres, {SOURCE}/wavelength)")
    if file.get(f"{SOURCE}/wavelength") is not None:
        return _scalar(file, f"{SOURCE}/wavelength", path, purpose)
    energy_J = _scalar(file, f"{SOURCE}/energy", path, purpose)
    return PLANCK_TIMES_LIGHT_EV_M / (energy_J / ELECTRON_VOLT_J)


def _positions_px(translation: np.ndarray, pixel_m: float, N: int,
                  origin: np.ndarray | None) -> np.ndarray:
    """(n, 2) probe positions (x, y) in object pixels from the CXI sample translation.

    CXI records where the *sample* was moved; the probe moves the opposite way
    over the object, so positions = -translation[:, :2] / pixel. Files we wrote
    carry ``object_frame_origin_px`` (their positions are restored exactly, so a
    ground-truth object stays aligned); for other files the positions are
    shifted so the smallest x and y sit at N/2, keeping every patch inside a
    non-negative object frame.
    """
    with np.errstate(over="ignore", invalid="ignore"):  # bad values: read_cxi refuses them
        positions = -np.asarray(translation, dtype=np.float64)[:, :2] / pixel_m
        if origin is not None:
            return positions + origin
        return positions + (N / 2 - positions.min(axis=0))


def _diffraction_dataset(file: h5py.File, path: Path) -> tuple[str, h5py.Dataset]:
    for name in DATA_PATHS:
        if isinstance(file.get(name), h5py.Dataset):
            dataset = file[name]
            break
    else:
        raise ScanFormatError(f"no diffraction data: none of {', '.join(DATA_PATHS)} exists",
                              source=path, key=DATA_PATHS[0])
    shape = dataset.shape
    if dataset.dtype.kind not in "fiu":
        raise ScanFormatError(f"has dtype {dataset.dtype}; expected real photon counts",
                              source=path, key=name)
    if len(shape) != 3 or shape[0] == 0 or shape[1] != shape[2]:
        raise ScanFormatError(f"has shape {shape}; expected (patterns, N, N) with at least one "
                              "square pattern (crop the detector frames to a square)",
                              source=path, key=name)
    if shape[1] > MAX_PATTERN_PX:
        raise ScanFormatError(f"has {shape[1]} x {shape[2]} px patterns; at most "
                              f"{MAX_PATTERN_PX} x {MAX_PATTERN_PX} are read (crop or bin the "
                              "detector frames)", source=path, key=name)
    return name, dataset


def _read_optional(file: h5py.Group, names: tuple[str, ...], path: Path,
                   ndim: int | None = None) -> tuple[str, np.ndarray, dict[str, Any]] | None:
    """(name, values, attributes) of the first existing dataset of ``names``.

    Its declared shape (``ndim`` dimensions when given) and size are checked
    first, so it is never read when it could not fit in memory.
    """
    for name in names:
        node = file.get(name)
        if isinstance(node, h5py.Dataset):
            if ndim is not None and node.ndim != ndim:
                raise ScanFormatError(f"has shape {node.shape}; expected {ndim} dimensions",
                                      source=path, key=name)
            check_fits_in_memory(node.shape, node.dtype, source=path, key=name)
            return name, np.asarray(node[()]), dict(node.attrs)
    return None


def _read_probe(file: h5py.Group, path: Path, N: int,
                extra: dict[str, Any]) -> tuple[str, np.ndarray, dict[str, Any]] | None:
    """(name, (N, N) probe, attributes) of the first probe dataset, or None.

    A (modes, N, N) probe gives its first (dominant) mode; only that mode is read.
    """
    for name in PROBE_PATHS:
        node = file.get(name)
        if not isinstance(node, h5py.Dataset):
            continue
        if node.ndim not in (2, 3) or node.shape[-2:] != (N, N) or 0 in node.shape:
            raise ScanFormatError(f"has shape {node.shape}; expected ({N}, {N}) or (modes, {N},"
                                  f" {N}) to match the diffraction patterns (resample the probe "
                                  "to the pattern size)", source=path, key=name)
        if node.ndim == 3:
            extra["probe_modes"] = int(node.shape[0])
        return name, np.asarray(node[0] if node.ndim == 3 else node[()]), dict(node.attrs)
    return None


def _translation(file: h5py.File, path: Path, n_patterns: int) -> np.ndarray:
    """(n, 2 or 3) sample translation in metres, its shape checked before it is read."""
    node = file.get(TRANSLATION)
    if not isinstance(node, h5py.Dataset):
        raise ScanFormatError("missing; the scan positions (sample translation in metres) "
                              "are needed", source=path, key=TRANSLATION)
    if node.ndim != 2 or node.shape[1] not in (2, 3) or node.dtype.kind not in "fiu":
        raise ScanFormatError(f"has shape {node.shape} and dtype {node.dtype}; expected "
                              "(patterns, 3) metres", source=path, key=TRANSLATION)
    if node.shape[0] != n_patterns:
        raise ScanFormatError(f"has {node.shape[0]} positions but there are {n_patterns} "
                              "diffraction patterns; each pattern needs one position",
                              source=path, key=TRANSLATION)
    check_fits_in_memory(node.shape, np.float64, source=path, key=TRANSLATION)
    return np.asarray(node[()])


def _origin(value: Any) -> np.ndarray | None:
    """The object_frame_origin_px attribute as (2,) float64, or None when it is not ours."""
    origin = np.asarray(value) if value is not None else None
    if origin is None or origin.size != 2 or origin.dtype.kind not in "fiu":
        return None
    origin = origin.astype(np.float64).ravel()
    return origin if np.isfinite(origin).all() else None


def _flag(value: Any) -> bool:
    """True only for a single true boolean (or nonzero integer) attribute."""
    flag = np.asarray(value) if value is not None else np.zeros(0)
    return flag.size == 1 and flag.dtype.kind in "biu" and bool(flag.reshape(-1)[0])


def _positive_number(value: Any) -> float | None:
    """A finite positive number from an attribute, else None."""
    number = np.asarray(value)
    if number.size != 1 or number.dtype.kind not in "fiu":
        return None
    result = float(number.reshape(-1)[0])
    return result if np.isfinite(result) and result > 0 else None


def _read_mask(file: h5py.File, N: int, path: Path, extra: dict[str, Any]) -> np.ndarray | None:
    """(N, N) bool bad-pixel mask of the detector, None when the file has none."""
    mask_node = file.get(f"{DETECTOR}/mask")
    if not isinstance(mask_node, h5py.Dataset):
        return None
    if mask_node.shape != (N, N) or mask_node.dtype.kind not in "biuf":
        raise ScanFormatError(f"has shape {mask_node.shape} and dtype {mask_node.dtype}"
                              f"; expected ({N}, {N}) numbers (nonzero = bad pixel)",
                              source=path, key=f"{DETECTOR}/mask")
    mask = np.asarray(mask_node[()]) != 0
    extra["masked_pixels"] = int(mask.sum())
    extra["detector_mask"] = mask
    return mask


def _detector_geometry(file: h5py.File, path: Path) -> tuple[float, float]:
    """(distance, square pixel size) of the detector in metres."""
    purpose = ("scan positions cannot be converted to pixels without it (the far-field "
               "object pixel is wavelength * distance / (N * detector pixel))")
    distance = _scalar(file, f"{DETECTOR}/distance", path, purpose)
    pixel = _scalar(file, f"{DETECTOR}/x_pixel_size", path, purpose)
    if file.get(f"{DETECTOR}/y_pixel_size") is not None:
        pixel_y = _scalar(file, f"{DETECTOR}/y_pixel_size", path, purpose)
        if abs(pixel_y - pixel) > 1e-3 * pixel:
            raise ScanFormatError(
                f"is {pixel_y:g} m but x_pixel_size is {pixel:g} m; non-square detector "
                "pixels are not supported (resample the frames to square pixels)",
                source=path, key=f"{DETECTOR}/y_pixel_size")
    return distance, pixel


def _read_extras(file: h5py.File, path: Path, extra: dict[str, Any]) -> float | None:
    """Photons per pattern from our extra group (None when unknown); its scan index goes
    into ``extra``."""
    group = file.get(EXTRA_GROUP)
    if not isinstance(group, h5py.Group):
        return None
    found = _read_optional(group, ("scan_index",), path, ndim=1)
    if found is not None:
        extra["scan_index"] = found[1]
    return _positive_number(group.attrs.get("photons_per_pattern"))


def _object_pixel_m(wavelength: float, distance: float, pixel: float, N: int,
                    path: Path) -> float:
    pixel_m = far_field_object_pixel_m(wavelength, distance, pixel, N)
    if not (np.isfinite(pixel_m) and pixel_m > 0):
        raise ScanFormatError(f"the geometry (wavelength {wavelength:g} m, distance {distance:g} "
                              f"m, detector pixel {pixel:g} m) gives an object pixel of "
                              f"{pixel_m:g} m; check these three values", source=path,
                              key=f"{DETECTOR}/distance")
    return pixel_m


def _probe_or_estimate(found: tuple[str, np.ndarray, dict] | None,
                       diffraction: CxiDiffraction, N: int, extra: dict[str, Any]
                       ) -> tuple[str, np.ndarray]:
    """(key, probe): the file's probe, else one estimated from the diffraction."""
    if found is None:
        extra["probe_estimated"] = True
        return PROBE_PATHS[0], estimate_probe(diffraction, N)
    if _flag(found[2].get("estimated")):
        extra["probe_estimated"] = True
    return found[0], found[1]


def read_cxi(path: str | Path) -> Scan:
    """Load a CXI/HDF5 scan with lazily read diffraction (counts -> amplitudes)."""
    path = Path(path)
    try:
        file = h5py.File(path, "r")
    except OSError as error:
        raise ScanFormatError(f"the HDF5 file is truncated or corrupt and cannot be opened "
                              f"({error}); copy or export the file again", source=path) from None
    extra: dict[str, Any] = {}
    with file:
        name, dataset = _diffraction_dataset(file, path)
        N, shape = int(dataset.shape[1]), dataset.shape
        mask = _read_mask(file, N, path, extra)
        distance, pixel = _detector_geometry(file, path)
        wavelength = _wavelength_m(file, path)
        translation = _translation(file, path, dataset.shape[0])
        origin = _origin(file[TRANSLATION].attrs.get(ORIGIN_ATTR))
        probe_found = _read_probe(file, path, N, extra)
        object_found = _read_optional(file, (OBJECT_PATH,), path, ndim=2)
        photons = _read_extras(file, path, extra)
    diffraction = CxiDiffraction(path, name, shape, mask)
    pixel_m = _object_pixel_m(wavelength, distance, pixel, N, path)
    positions = _positions_px(translation, pixel_m, N, origin)  # origin None: not ours
    if not np.isfinite(positions).all():
        raise ScanFormatError("gives NaN or Inf positions in pixels; check the sample "
                              "translation (metres) for bad values", source=path,
                              key=TRANSLATION)
    probe_key, probe = _probe_or_estimate(probe_found, diffraction, N, extra)
    warning = far_field_check(wavelength, distance, pixel, N, positions)
    if warning:
        extra["near_field"] = warning
    metadata = ScanMetadata(
        source_file=str(path), file_format="cxi", wavelength_m=wavelength,
        energy_eV=energy_eV_from_wavelength(wavelength), detector_distance_m=distance,
        detector_pixel_m=pixel, object_pixel_m=pixel_m,
        photons_per_pattern=None if photons is None else float(photons), extra=extra)
    return Scan(diffraction, positions, probe,
                ground_truth=None if object_found is None else object_found[1],
                metadata=metadata, diffraction_key=name, positions_key=TRANSLATION,
                probe_key=probe_key)


def _geometry_for_writing(scan: Scan, path: Path) -> tuple[float, float, float]:
    meta = scan.metadata
    wavelength = meta.wavelength_m or (PLANCK_TIMES_LIGHT_EV_M / meta.energy_eV
                                       if meta.energy_eV else None)
    needed = {"wavelength_m or energy_eV": wavelength,
              "detector_distance_m": meta.detector_distance_m,
              "detector_pixel_m": meta.detector_pixel_m}
    missing = [field for field, value in needed.items() if not value]
    if missing:
        raise ScanFormatError(
            f"cannot write a CXI file: the scan metadata lacks {', '.join(missing)}, which CXI "
            "needs to store positions in metres; set them or save as NPZ", source=path)
    return float(wavelength), float(meta.detector_distance_m), float(meta.detector_pixel_m)


def write_cxi(scan: Scan, path: str | Path) -> None:
    """Write ``scan`` as CXI, atomically: counts = amplitude**2 (float32), translation in m.

    Positions are stored as translation = -positions * object_pixel_m with an
    ``object_frame_origin_px`` of (0, 0), so reading restores them exactly.
    """
    path = Path(path)
    wavelength, distance, pixel = _geometry_for_writing(scan, path)
    n, N = scan.n_patterns, scan.N
    pixel_m = far_field_object_pixel_m(wavelength, distance, pixel, N)
    translation = np.zeros((n, 3))
    translation[:, :2] = -scan.positions * pixel_m
    meta = scan.metadata
    with atomic_write(path) as handle, open(handle.fileno(), "r+b", closefd=False) as stream:
        with h5py.File(stream, "w") as file:
            file["cxi_version"] = 160
            file["number_of_entries"] = 1
            detector = file.create_group(DETECTOR)
            data = detector.create_dataset("data", shape=(n, N, N), dtype=np.float32,
                                           chunks=(1, N, N), compression="gzip", shuffle=True)
            for start in range(0, n, _READ_BLOCK):
                block = np.asarray(scan.diffraction[start:start + _READ_BLOCK], np.float32)
                data[start:start + block.shape[0]] = block**2
            detector["distance"] = distance
            detector["x_pixel_size"] = pixel
            detector["y_pixel_size"] = pixel
            mask = meta.extra.get("detector_mask")
            if mask is not None and np.shape(mask) == (N, N):
                detector["mask"] = np.asarray(mask, dtype=np.uint32)
            source = file.create_group(SOURCE)
            source["energy"] = energy_eV_from_wavelength(wavelength) * ELECTRON_VOLT_J
            source["wavelength"] = wavelength
            source["illumination"] = scan.probe.astype(np.complex64)
            source["illumination"].attrs["estimated"] = bool(meta.extra.get("probe_estimated"))
            file[TRANSLATION] = translation
            file[TRANSLATION].attrs[ORIGIN_ATTR] = np.zeros(2)
            file["entry_1/data_1/data"] = h5py.SoftLink(f"/{DETECTOR}/data")
            if scan.ground_truth is not None:
                file[OBJECT_PATH] = scan.ground_truth.astype(np.complex64)
                file[OBJECT_PATH].attrs["description"] = "ground-truth object, object pixel frame"
            extras = file.create_group(EXTRA_GROUP)
            if meta.photons_per_pattern is not None:
                extras.attrs["photons_per_pattern"] = float(meta.photons_per_pattern)
            if meta.extra.get("scan_index") is not None:
                extras["scan_index"] = np.asarray(meta.extra["scan_index"])
