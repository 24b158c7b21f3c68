"""Ptychodus "product" HDF5 files: write our reconstructions, read anyone's.

Layout (that of Ptychodus' ``H5ProductFileIO``): root attributes
``name, comments, detector_object_distance_m, probe_energy_eV, exposure_time_s,
probe_photon_count, mass_attenuation_m2_kg``; datasets ``probe_position_indexes,
probe_position_x_m, probe_position_y_m`` (metres), ``probe`` (attrs
``pixel_width_m, pixel_height_m``), ``object`` (attrs ``center_x_m, center_y_m,
pixel_width_m, pixel_height_m``), ``object_layer_spacing_m`` (empty: one layer),
``loss_epochs`` and ``loss_values``.

Geometry: Ptychodus maps object pixel column c to x = center_x_m +
pixel_width_m * (c - W/2) (rows alike), so with our object pixel [r, c] at
scan pixel (offset_row + r, offset_col + c) and positions x_m = x_px * pixel,
center_x_m = (offset_col + W/2) * pixel. Unknown quantities are written as
0.0 (energy, distance, exposure time, photon count); an unknown object pixel
size is written as 1.0 m with the root attribute ``pixel_size_known = False``,
so positions and centre stay in pixels. Our files also hold ``object_weight``
(the stitch weights, which Ptychodus ignores).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ..api import Reconstruction
from ..core.atomic import atomic_write
from ..core.errors import ScanFormatError
from ..data.io.geometry import energy_eV_from_wavelength

PIXEL_SIZE_KNOWN = "pixel_size_known"
WEIGHT_DATASET = "object_weight"
_ROOT_NUMBERS = ("detector_object_distance_m", "probe_energy_eV", "exposure_time_s",
                 "probe_photon_count", "mass_attenuation_m2_kg")


@dataclass(frozen=True)
class ProductMetadata:
    """Root attributes of a product file; 0.0 means unknown (Ptychodus' convention).

    object_pixel_m: object (and probe) pixel size in metres, None when unknown.
    """

    name: str = ""
    comments: str = ""
    detector_object_distance_m: float = 0.0
    probe_energy_eV: float = 0.0
    exposure_time_s: float = 0.0
    probe_photon_count: float = 0.0
    mass_attenuation_m2_kg: float = 0.0
    object_pixel_m: float | None = None

    @classmethod
    def from_scan(cls, scan: Any, *, name: str = "", comments: str = "") -> ProductMetadata:
        """What a Scan's metadata knows (energy, distance, pixel size, dose)."""
        meta = scan.metadata
        energy = meta.energy_eV
        if energy is None and meta.wavelength_m:
            energy = energy_eV_from_wavelength(meta.wavelength_m)
        return cls(name=name or scan.name, comments=comments,
                   detector_object_distance_m=float(meta.detector_distance_m or 0.0),
                   probe_energy_eV=float(energy or 0.0),
                   probe_photon_count=float(meta.photons_per_pattern or 0.0),
                   object_pixel_m=meta.object_pixel_m)


@dataclass(frozen=True)
class Product:
    """A product file read back.

    probe: (N, N) complex64, the first incoherent mode (and first OPR component).
    loss_values, loss_epochs: (E,) float64 / int64.
    pixel_size_known: False when the file says its pixel size is a stand-in (1 m).
    """

    reconstruction: Reconstruction
    probe: np.ndarray
    metadata: ProductMetadata
    loss_values: np.ndarray
    loss_epochs: np.ndarray
    pixel_size_known: bool = True


def _pixel_size(metadata: ProductMetadata) -> tuple[float, bool]:
    pixel = metadata.object_pixel_m
    if pixel is not None and math.isfinite(pixel) and pixel > 0:
        return float(pixel), True
    return 1.0, False


def write_product(path: str | Path, reconstruction: Reconstruction, probe: np.ndarray,
                  metadata: ProductMetadata | None = None, *,
                  loss_values: Any = (), loss_epochs: Any = None) -> None:
    """Write a Ptychodus product HDF5 file atomically.

    probe: (N, N) complex probe on the object pixel grid. loss_values: (E,)
    training losses; loss_epochs: (E,) their epoch numbers (default 0..E-1).
    """
    metadata = metadata or ProductMetadata(name=Path(path).stem)
    pixel, known = _pixel_size(metadata)
    obj = np.asarray(reconstruction.object, np.complex64)
    height, width = obj.shape
    positions = np.asarray(reconstruction.positions, np.float64).reshape(-1, 2)
    values = np.asarray(loss_values, np.float64).reshape(-1)
    epochs = (np.arange(values.size, dtype=np.int64) if loss_epochs is None
              else np.asarray(loss_epochs, np.int64).reshape(-1))
    if epochs.shape != values.shape:
        raise ValueError(f"loss_epochs has {epochs.size} entries but loss_values {values.size}")
    with atomic_write(path) as handle, h5py.File(handle, "w") as h5:
        h5.attrs["name"] = metadata.name
        h5.attrs["comments"] = metadata.comments
        for key in _ROOT_NUMBERS:
            h5.attrs[key] = float(getattr(metadata, key))
        h5.attrs[PIXEL_SIZE_KNOWN] = known
        h5.create_dataset("probe_position_indexes", data=np.arange(len(positions),
                                                                   dtype=np.int64))
        h5.create_dataset("probe_position_x_m", data=positions[:, 0] * pixel)
        h5.create_dataset("probe_position_y_m", data=positions[:, 1] * pixel)
        h5_probe = h5.create_dataset("probe", data=np.asarray(probe, np.complex64))
        h5_probe.attrs["pixel_width_m"] = pixel
        h5_probe.attrs["pixel_height_m"] = pixel
        h5_object = h5.create_dataset("object", data=obj)
        h5_object.attrs["center_x_m"] = (reconstruction.offset[1] + width / 2) * pixel
        h5_object.attrs["center_y_m"] = (reconstruction.offset[0] + height / 2) * pixel
        h5_object.attrs["pixel_width_m"] = pixel
        h5_object.attrs["pixel_height_m"] = pixel
        h5.create_dataset("object_layer_spacing_m", data=np.zeros(0, np.float64))
        h5.create_dataset(WEIGHT_DATASET, data=np.asarray(reconstruction.weight, np.float32))
        h5.create_dataset("loss_epochs", data=epochs)
        h5.create_dataset("loss_values", data=values)


def _dataset(h5: Any, key: str, path: Path) -> Any:
    item = h5.get(key)
    if not isinstance(item, h5py.Dataset):
        raise ScanFormatError(f"missing; a Ptychodus product file needs the dataset '{key}' "
                              f"(found {', '.join(sorted(h5.keys())) or 'nothing'})",
                              source=path, key=key)
    return item


def _attribute(item: Any, key: str, path: Path, where: str, default: float | None = None
               ) -> float:
    if key not in item.attrs:
        if default is not None:
            return default
        raise ScanFormatError(f"attribute '{key}' is missing", source=path, key=where)
    try:
        value = float(np.asarray(item.attrs[key]).reshape(()))
    except (TypeError, ValueError):
        raise ScanFormatError(f"attribute '{key}' is {item.attrs[key]!r}; expected a number",
                              source=path, key=where) from None
    if not math.isfinite(value):
        raise ScanFormatError(f"attribute '{key}' is {value}; expected a finite number",
                              source=path, key=where)
    return value


def _first_plane(array: np.ndarray, path: Path, key: str, max_ndim: int) -> np.ndarray:
    """(H, W) complex64: mode/layer 0 of a 3-D (or 4-D) stack."""
    if not 2 <= array.ndim <= max_ndim or 0 in array.shape:
        raise ScanFormatError(f"has shape {array.shape}; expected 2 to {max_ndim} non-empty "
                              "dimensions [..., H, W]", source=path, key=key)
    if array.dtype.kind not in "fiuc":
        raise ScanFormatError(f"has dtype {array.dtype}; expected complex numbers",
                              source=path, key=key)
    return np.asarray(array[(0,) * (array.ndim - 2)], np.complex64)


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def read_product(path: str | Path) -> Product:
    """Read a product HDF5 file (ours or Ptychodus'); 3-D probe/object use mode/layer 0."""
    path = Path(path)
    try:
        h5 = h5py.File(path, "r")
    except FileNotFoundError:
        raise ScanFormatError("not found; check the path", source=path) from None
    except OSError as error:
        raise ScanFormatError(f"cannot be read as HDF5 ({error}); the file is truncated or "
                              "not a product file", source=path) from None
    with h5:
        return _read_open_product(h5, path)


def _read_open_product(h5: Any, path: Path) -> Product:
    h5_object = _dataset(h5, "object", path)
    h5_probe = _dataset(h5, "probe", path)
    obj = _first_plane(h5_object[()], path, "object", 3)
    probe = _first_plane(h5_probe[()], path, "probe", 4)
    pixel_w = _attribute(h5_object, "pixel_width_m", path, "object")
    pixel_h = _attribute(h5_object, "pixel_height_m", path, "object")
    if not (pixel_w > 0 and pixel_h > 0):
        raise ScanFormatError(f"pixel size is {pixel_w} x {pixel_h} m; expected > 0",
                              source=path, key="object")
    height, width = obj.shape
    offset = (_attribute(h5_object, "center_y_m", path, "object") / pixel_h - height / 2,
              _attribute(h5_object, "center_x_m", path, "object") / pixel_w - width / 2)
    x = np.asarray(_dataset(h5, "probe_position_x_m", path)[()], np.float64).reshape(-1)
    y = np.asarray(_dataset(h5, "probe_position_y_m", path)[()], np.float64).reshape(-1)
    if x.shape != y.shape:
        raise ScanFormatError(f"probe_position_x_m has {x.size} entries but probe_position_y_m "
                              f"{y.size}", source=path, key="probe_position_x_m")
    positions = np.stack([x / pixel_w, y / pixel_h], axis=1)
    weight = (np.asarray(h5[WEIGHT_DATASET][()], np.float32) if WEIGHT_DATASET in h5
              and h5[WEIGHT_DATASET].shape == obj.shape else np.ones(obj.shape, np.float32))
    loss_key = "loss_values" if "loss_values" in h5 else "costs" if "costs" in h5 else None
    loss_values = (np.asarray(h5[loss_key][()], np.float64).reshape(-1) if loss_key
                   else np.zeros(0))
    loss_epochs = (np.asarray(h5["loss_epochs"][()], np.int64).reshape(-1)
                   if "loss_epochs" in h5 else np.arange(loss_values.size, dtype=np.int64))
    known = bool(h5.attrs.get(PIXEL_SIZE_KNOWN, True))
    metadata = ProductMetadata(
        name=_text(h5.attrs.get("name", path.stem)), comments=_text(h5.attrs.get("comments", "")),
        object_pixel_m=pixel_w if known else None,
        **{key: _attribute(h5, key, path, "/", default=0.0) for key in _ROOT_NUMBERS})
    recon = Reconstruction(object=obj, offset=(float(offset[0]), float(offset[1])),
                           weight=weight, positions=positions, source=str(path))
    return Product(reconstruction=recon, probe=probe, metadata=metadata,
                   loss_values=loss_values, loss_epochs=loss_epochs, pixel_size_known=known)
