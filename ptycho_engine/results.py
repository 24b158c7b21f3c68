"""Reconstruction files (NPZ): what ``reconstruct`` writes and ``evaluate`` reads."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

from .atomic import atomic_write
from .errors import ScanFormatError
from .inference import Reconstruction

RECONSTRUCTION_KEYS = ("object", "offset")


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
