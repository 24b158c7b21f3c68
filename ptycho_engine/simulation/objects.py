"""Synthetic and file-based test objects, (H, W) complex64.

Every generated object has amplitude in (0, 1] (1 = fully transparent) and a
phase in radians with its own structure, so both amplitude and phase metrics
mean something. Objects that model one material of varying thickness t ∈ [0, 1]
(Siemens star, lines) use amplitude = amp_min**t and phase = phase_rad · t,
the projection approximation of a homogeneous sample; the others draw
amplitude and phase independently.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter

from ..core.errors import ConfigError, ScanFormatError

OBJECT_KINDS = ("siemens", "lines", "grf", "dead_leaves", "file:PATH")


def _check_size(size: int, smallest: int = 8) -> int:
    if int(size) != size or size < smallest:
        raise ConfigError([("simulate.object_size",
                            f"{size} is not an integer of at least {smallest} pixels")])
    return int(size)


def _from_thickness(thickness: np.ndarray, amp_min: float, phase_rad: float) -> np.ndarray:
    """Homogeneous sample: amplitude amp_min**t ∈ [amp_min, 1], phase phase_rad·t."""
    t = np.clip(thickness, 0.0, 1.0)
    return (amp_min**t * np.exp(1j * phase_rad * t)).astype(np.complex64)


def _unit_range(values: np.ndarray) -> np.ndarray:
    low, high = float(values.min()), float(values.max())
    return (values - low) / (high - low) if high > low else np.zeros_like(values)


def siemens_star(size: int, spokes: int = 36, amp_min: float = 0.5, phase_rad: float = 1.5,
                 radius_fraction: float = 0.45, supersample: int = 4) -> np.ndarray:
    """A Siemens star resolution target: ``spokes`` opaque sectors within a disc.

    Returns (size, size) complex64: thickness 1 on the spokes (amplitude amp_min,
    phase phase_rad radians), 0 between and outside them. Supersampled and
    averaged, so the spokes near the centre are anti-aliased rather than moiré.
    """
    size = _check_size(size)
    fine = size * supersample
    coords = (np.arange(fine) + 0.5) / supersample - size / 2
    y, x = np.meshgrid(coords, coords, indexing="ij")
    radius = np.hypot(x, y)
    angle = np.arctan2(y, x)
    spoke = (np.sin(spokes * angle) > 0) & (radius < radius_fraction * size)
    thickness = spoke.reshape(size, supersample, size, supersample).mean(axis=(1, 3))
    return _from_thickness(thickness, amp_min, phase_rad)


def _draw_segments(canvas_size: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """A (canvas_size, canvas_size) float64 canvas with ``count`` one-pixel line segments."""
    ends = rng.uniform(0, canvas_size - 1, size=(count, 2, 2))  # (line, end, [x, y])
    steps = int(np.ceil(np.sqrt(2) * canvas_size)) + 1
    t = np.linspace(0.0, 1.0, steps)[None, :, None]
    points = ends[:, 0, None, :] + t * (ends[:, 1, None, :] - ends[:, 0, None, :])
    points = np.rint(points).astype(np.int64).reshape(-1, 2)
    canvas = np.zeros((canvas_size, canvas_size))
    canvas[points[:, 1], points[:, 0]] = 1.0
    return canvas


def lines(size: int, seed: int, n_lines: int = 400, amp_min: float = 0.5,
          phase_rad: float = 1.5) -> np.ndarray:
    """Random blurred line segments (PtychoPINN's "lines" recipe, docs/method.md, Simulation).

    ``n_lines`` one-pixel segments with random end points on a 2·size canvas,
    blurred as gf(σ=1) + 2·gf(σ=5) + 5·gf(σ=10), centre-cropped, scaled to a
    thickness in [0, 1]. Returns (size, size) complex64.
    """
    size = _check_size(size)
    rng = np.random.default_rng(seed)
    canvas = _draw_segments(2 * size, n_lines, rng)
    blurred = (gaussian_filter(canvas, 1) + 2 * gaussian_filter(canvas, 5)
               + 5 * gaussian_filter(canvas, 10))
    start = size // 2
    crop = blurred[start:start + size, start:start + size]
    return _from_thickness(_unit_range(crop), amp_min, phase_rad)


def _power_law_field(size: int, power_index: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian random field with power spectrum ∝ |k|^(−power_index), scaled to [0, 1]."""
    noise = np.fft.fft2(rng.standard_normal((size, size)))
    ky = np.fft.fftfreq(size)[:, None]
    kx = np.fft.fftfreq(size)[None, :]
    k = np.hypot(kx, ky)
    k[0, 0] = np.inf  # no mean term
    field = np.fft.ifft2(noise * k ** (-power_index / 2)).real
    return _unit_range(gaussian_filter(field, 1.0))


def gaussian_random_field(size: int, seed: int, power_index: float = 3.0, amp_min: float = 0.4,
                          phase_rad: float = 2.0) -> np.ndarray:
    """Independent Gaussian random fields for amplitude and phase.

    power_index: spectral slope; the power spectrum falls as |k|^(−power_index),
    so larger values give smoother fields (the reference used a shallow −0.4 slope
    plus interpolation; 3 gives blob-like features a network can learn from).
    Returns (size, size) complex64, amplitude in [amp_min, 1], phase in [0, phase_rad].
    """
    size = _check_size(size)
    rng = np.random.default_rng(seed)
    amplitude = amp_min + (1 - amp_min) * _power_law_field(size, power_index, rng)
    phase = phase_rad * _power_law_field(size, power_index, rng)
    return (amplitude * np.exp(1j * phase)).astype(np.complex64)


def dead_leaves(size: int, seed: int, n_discs: int | None = None, min_radius: float = 2.0,
                max_radius: float | None = None, amp_min: float = 0.3,
                phase_rad: float = 2.0) -> np.ndarray:
    """Dead-leaves image: overlapping discs, each with its own amplitude and phase.

    Radii follow the scale-invariant 1/r³ law between min_radius and max_radius
    (default size/6); later discs cover earlier ones. Edges are softened by a
    0.7 px Gaussian. Returns (size, size) complex64, amplitude in [amp_min, 1],
    phase in [0, phase_rad].
    """
    size = _check_size(size)
    rng = np.random.default_rng(seed)
    max_radius = size / 6 if max_radius is None else max_radius
    n_discs = 30 * size if n_discs is None else n_discs
    u = rng.uniform(size=n_discs)  # inverse CDF of p(r) ∝ r^-3 on [min, max]
    radii = (min_radius**-2 - u * (min_radius**-2 - max_radius**-2)) ** -0.5
    centres = rng.uniform(-max_radius, size + max_radius, size=(n_discs, 2))
    amplitudes = rng.uniform(amp_min, 1.0, size=n_discs)
    phases = rng.uniform(0.0, phase_rad, size=n_discs)
    amplitude = np.ones((size, size))
    phase = np.zeros((size, size))
    for (cx, cy), r, a, p in zip(centres, radii, amplitudes, phases, strict=True):
        x0, x1 = max(0, int(cx - r)), min(size, int(cx + r) + 2)
        y0, y1 = max(0, int(cy - r)), min(size, int(cy + r) + 2)
        if x0 >= x1 or y0 >= y1:
            continue
        yy, xx = np.ogrid[y0:y1, x0:x1]
        inside = (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
        amplitude[y0:y1, x0:x1][inside] = a
        phase[y0:y1, x0:x1][inside] = p
    amplitude = np.clip(gaussian_filter(amplitude, 0.7), amp_min, 1.0)
    phase = gaussian_filter(phase, 0.7)
    return (amplitude * np.exp(1j * phase)).astype(np.complex64)


def _reconstructed_region(obj: np.ndarray) -> np.ndarray:
    """Crop away a constant padding border (the value at pixel (0, 0)), if there is one."""
    differs = np.abs(obj - obj[0, 0]) > 1e-6 * max(1.0, float(np.abs(obj[0, 0])))
    if not differs.any():
        return obj
    rows = np.flatnonzero(differs.any(axis=1))
    cols = np.flatnonzero(differs.any(axis=0))
    return obj[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def read_npz_array(path: str | Path, key: str) -> np.ndarray:
    """One array of an NPZ file, read without pickle; errors name the file and key."""
    path = Path(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise ScanFormatError(f"cannot be read as an NPZ file ({error}); give a .npz file "
                              f"holding '{key}'", source=path) from error
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ScanFormatError(f"is a single array, not an NPZ archive; save it with "
                              f"np.savez(path, {key}=array)", source=path)
    with archive:
        if key not in archive.files:
            raise ScanFormatError(f"key is missing (the file has {sorted(archive.files)}); "
                                  f"save the array under '{key}'", source=path, key=key)
        try:
            return np.asarray(archive[key])
        except ValueError as error:
            raise ScanFormatError(f"cannot be read without pickle ({error}); store a plain "
                                  "numeric array", source=path, key=key) from error


def object_from_file(path: str | Path) -> np.ndarray:
    """The ``objectGuess`` of an NPZ file, cropped and scaled for simulation.

    A constant padding border (as around goldballs_recon.npz's reconstructed
    central ~210 × 210 region, padded with 1 + 0j) is cropped away: pixels
    equal to the corner value count as padding. The amplitude is then divided by
    its maximum so it lies in (0, 1] like the generated objects; the phase is
    kept. Returns (H, W) complex64.
    """
    obj = read_npz_array(path, "objectGuess")
    if obj.ndim != 2 or obj.dtype.kind not in "fiuc" or min(obj.shape) < 8:
        raise ScanFormatError(f"has shape {obj.shape} and dtype {obj.dtype}; expected a 2-D "
                              "complex object of at least 8 x 8 pixels", source=path,
                              key="objectGuess")
    if not np.isfinite(obj).all():
        raise ScanFormatError("holds NaN or Inf values", source=path, key="objectGuess")
    obj = _reconstructed_region(obj.astype(np.complex128))
    peak = float(np.abs(obj).max())
    if peak == 0:
        raise ScanFormatError("is zero everywhere; the object must transmit something",
                              source=path, key="objectGuess")
    return (obj / peak).astype(np.complex64)


def make_object(kind: str, size: int, seed: int) -> np.ndarray:
    """Dispatch on kind: "siemens", "lines", "grf", "dead_leaves" or "file:PATH".

    Returns (size, size) complex64 for generated kinds; "file:PATH" returns the
    file's object at its own size (see :func:`object_from_file`; size is unused).
    """
    if kind.startswith("file:"):
        return object_from_file(kind[len("file:"):])
    if kind == "siemens":
        return siemens_star(size)
    if kind == "lines":
        return lines(size, seed)
    if kind == "grf":
        return gaussian_random_field(size, seed)
    if kind == "dead_leaves":
        return dead_leaves(size, seed)
    raise ConfigError([("simulate.object", f"unknown object kind {kind!r}; choose one of "
                                           f"{', '.join(OBJECT_KINDS)}")])

