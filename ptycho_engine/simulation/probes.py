"""Illumination functions (probes), (N, N) complex64 on the object pixel grid.

Each probe is centred on pixel (N/2, N/2), the pixel that sits on the scan
position in a patch. Generated probes have peak amplitude 1; the simulator
rescales the probe to the requested photon count anyway.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..core.errors import ConfigError, ScanFormatError
from .objects import read_npz_array

PROBE_KINDS = ("disc", "focused", "defocused", "file:PATH")

# The inverse FFT of the pupil is taken on a grid this many times larger than
# N and cropped, so the Airy rings do not wrap around the N x N window.
_PUPIL_OVERSAMPLING = 4

# Central-lobe diameter of the far field of a circular pupil: 2 · 1.22 / (pupil
# diameter in cycles per pixel) = AIRY_LOBE · M / pupil_radius_px on an M-pixel grid.
_AIRY_LOBE = 1.2197


def _check(N: int, diameter_px: float) -> None:
    problems = []
    if int(N) != N or N < 8 or N % 2:
        problems.append(("simulate.N", f"{N} is not an even pattern size of at least 8"))
    if not np.isfinite(diameter_px) or not 0 < diameter_px <= N:
        problems.append(("simulate.probe_diameter_px",
                         f"{diameter_px} is outside (0, N = {N}]; give the probe diameter in "
                         "object pixels"))
    if problems:
        raise ConfigError(problems)


def _peak_normalised(probe: np.ndarray) -> np.ndarray:
    return (probe / np.abs(probe).max()).astype(np.complex64)


def disc_probe(N: int, diameter_px: float, supersample: int = 4) -> np.ndarray:
    """A flat, real disc of the given diameter (pixel-averaged edge). (N, N) complex64."""
    _check(N, diameter_px)
    fine = (np.arange(N * supersample) + 0.5) / supersample - N / 2 - 0.5
    y, x = np.meshgrid(fine, fine, indexing="ij")
    inside = (np.hypot(x, y) <= diameter_px / 2).astype(np.float64)
    disc = inside.reshape(N, supersample, N, supersample).mean(axis=(1, 3))
    return _peak_normalised(disc.astype(np.complex64))


def _pupil_probe(N: int, diameter_px: float, defocus_phase_rad: float) -> np.ndarray:
    """Far field of a circular pupil with a quadratic phase, cropped to (N, N)."""
    size = _PUPIL_OVERSAMPLING * N
    pupil_radius = _AIRY_LOBE * size / diameter_px
    k = np.fft.fftfreq(size) * size  # frequency pixels, 0 first
    ky, kx = np.meshgrid(k, k, indexing="ij")
    rho = np.hypot(kx, ky) / pupil_radius
    pupil = np.where(rho <= 1, np.exp(1j * defocus_phase_rad * rho**2), 0)
    field = np.fft.fftshift(np.fft.ifft2(pupil))  # centre at pixel size/2
    start = size // 2 - N // 2
    return _peak_normalised(field[start:start + N, start:start + N])


def focused_probe(N: int, diameter_px: float) -> np.ndarray:
    """An in-focus spot: the Airy pattern of a circular aperture.

    diameter_px: central-lobe diameter (first zero to first zero) in object pixels.
    Returns (N, N) complex64, real-valued up to rounding, with faint Airy rings.
    """
    _check(N, diameter_px)
    return _pupil_probe(N, diameter_px, 0.0)


def defocused_probe(N: int, diameter_px: float, defocus_phase_rad: float = 12.0) -> np.ndarray:
    """A defocused spot: a circular pupil with a quadratic phase, seen out of focus.

    diameter_px: diameter of the defocused spot (the geometric shadow of the pupil),
    object pixels. defocus_phase_rad: phase at the pupil edge; from about 2π on the
    spot is ring-like with curved phase, and its size is set by geometry, so the
    in-focus lobe is chosen as 1.22·π·diameter_px / (2·defocus_phase_rad) to give
    the requested spot diameter. Returns (N, N) complex64.
    """
    _check(N, diameter_px)
    if not np.isfinite(defocus_phase_rad) or defocus_phase_rad <= 0:
        raise ConfigError([("simulate.defocus_phase_rad",
                            f"{defocus_phase_rad} is not a positive phase in radians")])
    focus_diameter = _AIRY_LOBE * np.pi * diameter_px / (2 * defocus_phase_rad)
    return _pupil_probe(N, focus_diameter, defocus_phase_rad)


def probe_from_file(path: str | Path, N: int) -> np.ndarray:
    """The ``probeGuess`` of an NPZ file, centre-cropped or zero-padded to (N, N).

    The pixel size is kept (no resampling), because the probe must stay on the
    object pixel grid. Cropping goldballs_recon.npz's 104 × 104 probe to 64 × 64
    keeps about 99.9 % of its intensity. Returns (N, N) complex64.
    """
    probe = read_npz_array(path, "probeGuess")
    if probe.ndim != 2 or probe.dtype.kind not in "fiuc":
        raise ScanFormatError(f"has shape {probe.shape} and dtype {probe.dtype}; expected a "
                              "2-D complex probe", source=path, key="probeGuess")
    if not np.isfinite(probe).all() or not np.abs(probe).any():
        raise ScanFormatError("holds NaN/Inf values or is zero everywhere", source=path,
                              key="probeGuess")
    _check(N, N)
    out = np.zeros((N, N), dtype=np.complex64)
    height, width = probe.shape
    # Align the array centres (pixel h/2 of the file with pixel N/2 of the output).
    src_r, dst_r = max(0, height // 2 - N // 2), max(0, N // 2 - height // 2)
    src_c, dst_c = max(0, width // 2 - N // 2), max(0, N // 2 - width // 2)
    rows, cols = min(height - src_r, N - dst_r), min(width - src_c, N - dst_c)
    out[dst_r:dst_r + rows, dst_c:dst_c + cols] = probe[src_r:src_r + rows, src_c:src_c + cols]
    if not np.abs(out).any():
        raise ScanFormatError(f"is zero in its central {N} x {N} pixels; the probe is not "
                              "centred in its array", source=path, key="probeGuess")
    return out


def make_probe(kind: str, N: int, diameter_px: float | None = None,
               defocus_phase_rad: float = 12.0) -> np.ndarray:
    """Dispatch on kind: "disc", "focused", "defocused" or "file:PATH".

    diameter_px defaults to N/4 (the reference probe mask has radius N/4).
    Returns (N, N) complex64.
    """
    diameter = N / 4 if diameter_px is None else diameter_px
    if kind.startswith("file:"):
        return probe_from_file(kind[len("file:"):], N)
    if kind == "disc":
        return disc_probe(N, diameter)
    if kind == "focused":
        return focused_probe(N, diameter)
    if kind == "defocused":
        return defocused_probe(N, diameter, defocus_phase_rad)
    raise ConfigError([("simulate.probe", f"unknown probe kind {kind!r}; choose one of "
                                          f"{', '.join(PROBE_KINDS)}")])
