"""Reconstruction files: what ``reconstruct`` writes and ``evaluate`` reads.

Three formats: our NPZ (defined here), the Ptychodus product HDF5
(``product``) and amplitude/phase TIFF pairs (``tiff``, write only).
``save_reconstruction`` picks one by name or suffix; ``load_reconstruction``
reads NPZ or product HDF5, chosen by the file's first bytes.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ..api import RESULT_FORMATS, Reconstruction
from ..core.atomic import atomic_write
from ..core.errors import ScanFormatError
from ..data.io import detect_format
from .product import read_product, write_product
from .tiff import write_tiff_pair

RECONSTRUCTION_KEYS = ("object", "offset")
_SUFFIX_FORMATS = {".npz": "npz", ".h5": "h5", ".hdf5": "h5", ".tif": "tiff", ".tiff": "tiff"}
RESULT_SUFFIXES = {"npz": ".npz", "h5": ".h5", "tiff": ".tif"}


def save_reconstruction_npz(reconstruction: Reconstruction, path: str | Path) -> None:
    """Write object (complex64), offset (row, col), xcoords/ycoords (in the object's frame),
    amplitude, phase and weight, atomically."""
    positions = reconstruction.positions_in_object_frame
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        object=reconstruction.object.astype(np.complex64),
        offset=np.asarray(reconstruction.offset, np.float64),
        xcoords=positions[:, 0].astype(np.float64),
        ycoords=positions[:, 1].astype(np.float64),
        amplitude=reconstruction.amplitude,
        phase=reconstruction.phase,
        weight=reconstruction.weight.astype(np.float32),
    )
    with atomic_write(path) as handle:
        handle.write(buffer.getvalue())


def load_reconstruction_npz(path: str | Path) -> Reconstruction:
    """Read a reconstruction NPZ written by ``save_reconstruction_npz``."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [key for key in RECONSTRUCTION_KEYS if key not in data.files]
            if missing:
                raise ScanFormatError(f"is not a reconstruction: key '{missing[0]}' is missing "
                                      f"(found {', '.join(data.files) or 'nothing'})", source=path)
            obj = np.asarray(data["object"], np.complex64)
            offset = np.asarray(data["offset"], np.float64)
            weight = (np.asarray(data["weight"], np.float32) if "weight" in data.files
                      else (np.abs(obj) > 0).astype(np.float32))
            if "xcoords" in data.files and "ycoords" in data.files:
                positions = np.stack([data["xcoords"] + offset[1], data["ycoords"] + offset[0]], 1)
            else:
                positions = np.zeros((0, 2))
    except FileNotFoundError:
        raise ScanFormatError("not found; check the path", source=path) from None
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
        raise ScanFormatError(f"cannot be read as NPZ ({error}); the file is truncated or "
                              "corrupt", source=path) from None
    if obj.ndim != 2 or offset.shape != (2,):
        raise ScanFormatError(f"object has shape {obj.shape} and offset {offset.shape}; expected "
                              "a 2-D object and a (row, col) offset", source=path)
    return Reconstruction(object=obj, offset=(float(offset[0]), float(offset[1])), weight=weight,
                          positions=positions, source=str(path))


def load_ground_truth(path: str | Path) -> np.ndarray:
    """The ground-truth object of a scan or reconstruction file (``objectGuess`` or ``object``)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            for key in ("objectGuess", "object"):
                if key in data.files:
                    return np.asarray(data[key], np.complex64)
            found = ", ".join(data.files) or "nothing"
    except FileNotFoundError:
        raise ScanFormatError("not found; check the path", source=path) from None
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
        raise ScanFormatError(f"cannot be read as NPZ ({error})", source=path) from None
    raise ScanFormatError(f"has no ground-truth object: neither 'objectGuess' nor 'object' "
                          f"(found {found})", source=path)


def result_format(path: str | Path, format: str | None = None) -> str:
    """'npz', 'h5' or 'tiff': ``format`` when given, else from the suffix, else 'npz'."""
    if format is not None:
        if format not in RESULT_FORMATS:
            raise ScanFormatError(f"unknown result format {format!r}; choose one of "
                                  f"{', '.join(RESULT_FORMATS)}", source=path)
        return format
    return _SUFFIX_FORMATS.get(Path(path).suffix.lower(), "npz")


def save_reconstruction(reconstruction: Reconstruction, path: str | Path, *,
                        format: str | None = None, probe: np.ndarray | None = None,
                        metadata: Any = None, loss_values: Any = (),
                        loss_epochs: Any = None) -> list[Path]:
    """Write ``reconstruction`` as NPZ, product HDF5 or a TIFF pair; returns the files written.

    probe: (N, N) complex64, required for 'h5'. metadata: a product.ProductMetadata
    ('h5': root attributes; 'tiff': its object_pixel_m). loss_values/loss_epochs:
    (E,) training losses and their epochs ('h5' only).
    """
    chosen = result_format(path, format)
    path = Path(path)
    if chosen == "npz":
        save_reconstruction_npz(reconstruction, path)
        return [path]
    if chosen == "tiff":
        pixel = getattr(metadata, "object_pixel_m", None)
        return list(write_tiff_pair(reconstruction, path, pixel_m=pixel))
    if probe is None:
        raise ScanFormatError("a product HDF5 file needs the probe; pass probe=", source=path)
    write_product(path, reconstruction, probe, metadata, loss_values=loss_values,
                  loss_epochs=loss_epochs)
    return [path]


def load_reconstruction(path: str | Path) -> Reconstruction:
    """Read a reconstruction NPZ or a (Ptychodus) product HDF5 file, chosen by content."""
    path = Path(path)
    if detect_format(path) == "cxi":  # HDF5: of ours, only product files hold an object
        return read_product(path).reconstruction
    return load_reconstruction_npz(path)
