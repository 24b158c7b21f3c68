"""Amplitude and phase as a pair of float32 TIFFs, for ImageJ/Fiji users.

``<stem>_amplitude.tif`` holds |object|, ``<stem>_phase.tif`` its phase in
radians (-pi, pi]; both (H, W) float32 in ImageJ's layout, each written
atomically. When the object pixel size is known it is stored as the ImageJ
resolution in micrometres.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import tifffile

from ..api import Reconstruction
from ..core.atomic import write_bytes_atomic

TIFF_SUFFIXES = (".tif", ".tiff")


def tiff_paths(path: str | Path) -> tuple[Path, Path]:
    """(amplitude, phase) paths for ``path``; a .tif/.tiff suffix on ``path`` is dropped."""
    path = Path(path)
    stem = path.with_suffix("") if path.suffix.lower() in TIFF_SUFFIXES else path
    return (stem.with_name(f"{stem.name}_amplitude.tif"),
            stem.with_name(f"{stem.name}_phase.tif"))


def _write_tiff(path: Path, image: np.ndarray, pixel_m: float | None, label: str) -> None:
    options: dict = {"imagej": True, "metadata": {"Info": label}}
    if pixel_m is not None and pixel_m > 0:
        per_micrometre = 1.0 / (pixel_m * 1e6)
        options["resolution"] = (per_micrometre, per_micrometre)
        options["metadata"]["unit"] = "um"
    buffer = io.BytesIO()  # tifffile wants a named file or a buffer, not a raw descriptor
    tifffile.imwrite(buffer, np.ascontiguousarray(image, np.float32), **options)
    write_bytes_atomic(path, buffer.getvalue())


def write_tiff_pair(reconstruction: Reconstruction, path: str | Path, *,
                    pixel_m: float | None = None) -> tuple[Path, Path]:
    """Write the amplitude and phase TIFFs; returns their paths.

    pixel_m: object pixel size in metres (None: unknown, no resolution tag).
    """
    amplitude_path, phase_path = tiff_paths(path)
    _write_tiff(amplitude_path, reconstruction.amplitude, pixel_m, "object amplitude")
    _write_tiff(phase_path, reconstruction.phase, pixel_m, "object phase [rad]")
    return amplitude_path, phase_path
