"""Far-field diffraction of a scanned object, with Poisson noise, as a Scan.

Forward model (docs/method.md, Simulation; orthonormal FFT):
    exit wave  ψ_b = P_b · O_b   (O_b the object on the N × N pixels centred at the
               whole pixel a_b = floor(p_b + 0.5) nearest position p_b, P_b the probe
               moved by the sub-pixel rest p_b − a_b with a Fourier phase ramp)
    counts     I_b = |fftshift(fft2(ψ_b, norm="ortho"))|²,   zero frequency at (N/2, N/2)
This samples the exit wave P(r − p_b)·O(r) on the object's own pixel grid, with no
interpolation of the object (which would blur it); at whole-pixel positions P_b = P.
The probe is first scaled by one real factor so that the mean over patterns of
the expected total counts Σ I_b equals ``nphotons``, and the Scan stores that
scaled probe: the noise-free amplitudes are then exactly those of the exit waves
above with ``scan.probe``, which lets the physics code be checked against the
simulator.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.errors import ConfigError
from ..data.patches import extract_patches
from ..data.scan import Scan, ScanMetadata

# Patterns per FFT block: about 32 MB of complex64 at N = 64.
_CHUNK_PIXELS = 4_200_000


def _blocks(n: int, N: int) -> list[slice]:
    step = max(1, _CHUNK_PIXELS // (N * N))
    return [slice(start, min(n, start + step)) for start in range(0, n, step)]


def _checked(obj: np.ndarray, probe: np.ndarray, positions: np.ndarray,
             nphotons: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    obj = np.asarray(obj)
    probe = np.asarray(probe)
    positions = np.asarray(positions, dtype=np.float64)
    problems = []
    if obj.ndim != 2:
        problems.append(("simulate.object", f"has shape {obj.shape}; expected a 2-D object"))
    if probe.ndim != 2 or probe.shape[0] != probe.shape[1] or probe.shape[0] % 2:
        problems.append(("simulate.probe", f"has shape {probe.shape}; expected an even "
                                           "square (N, N) probe"))
    if positions.ndim != 2 or positions.shape[1] != 2 or positions.shape[0] == 0:
        problems.append(("simulate.patterns", f"positions have shape {positions.shape}; "
                                              "expected (n, 2) with n >= 1"))
    if not np.isfinite(nphotons) or nphotons <= 0:
        problems.append(("simulate.photons", f"{nphotons} is not a positive photon count"))
    if problems:
        raise ConfigError(problems)
    return obj.astype(np.complex64), probe.astype(np.complex64), positions


def shifted_probes(probe: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """(n, N, N) complex64: the probe moved by each sub-pixel shift (n, 2) [x, y] pixels,
    exactly, by a Fourier phase ramp (the probe taken as periodic over its array)."""
    N = probe.shape[0]
    frequency = np.fft.fftfreq(N)
    ramp = np.exp(-2j * np.pi * (shifts[:, 1, None, None] * frequency[None, :, None]
                                 + shifts[:, 0, None, None] * frequency[None, None, :]))
    return np.fft.ifft2(np.fft.fft2(probe)[None] * ramp).astype(np.complex64)


def exit_waves(obj: np.ndarray, probe: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """(n, N, N) complex64 exit waves P_b · O_b at positions (n, 2) [x, y] (module docstring)."""
    N = probe.shape[0]
    whole = np.floor(positions + 0.5)
    patches = extract_patches(obj, whole, N)  # whole pixels: exact copies, no interpolation
    rest = positions - whole
    if not rest.any():
        return probe * patches
    return shifted_probes(probe, rest) * patches


def _mean_total_counts(obj: np.ndarray, probe: np.ndarray, positions: np.ndarray) -> float:
    """Mean over patterns of Σ|P_b·O_b|² (= Σ of the diffracted counts, by Parseval)."""
    N = probe.shape[0]
    total = 0.0
    for block in _blocks(len(positions), N):
        waves = exit_waves(obj, probe, positions[block])
        total += float(np.sum(np.abs(waves).astype(np.float64) ** 2))
    return total / len(positions)


def far_field_amplitude(exit_waves: np.ndarray) -> np.ndarray:
    """|fftshift(fft2(ψ, norm="ortho"))| of (n, N, N) complex64 exit waves → (n, N, N) float32."""
    spectrum = np.fft.fftshift(np.fft.fft2(exit_waves, norm="ortho"), axes=(-2, -1))
    return np.abs(spectrum).astype(np.float32, copy=False)


def simulate_scan(obj: np.ndarray, probe: np.ndarray, positions: np.ndarray, nphotons: float,
                  seed: int = 0, noise: bool = True, *, object_pixel_m: float | None = None,
                  extra: dict[str, Any] | None = None) -> Scan:
    """Diffraction amplitudes of ``obj`` scanned by ``probe``, as a Scan.

    obj: (H, W) complex object (transmission). probe: (N, N) complex, any scale.
    positions: (n, 2) float [x, y] probe centres, object pixels.
    nphotons: mean expected photons per pattern. noise: draw Poisson counts with
    ``np.random.default_rng(seed)``; otherwise store the expected amplitudes.
    Returns a Scan with (n, N, N) float32 amplitudes sqrt(counts), the scaled probe,
    the object as ground truth, and metadata (file_format "simulated", extra settings).
    """
    obj, probe, positions = _checked(obj, probe, positions, nphotons)
    mean_counts = _mean_total_counts(obj, probe, positions)
    if not mean_counts > 0:
        raise ConfigError([("simulate.patterns", "the probe illuminates no object at any scan "
                                                 "position (all exit waves are zero); put the "
                                                 "positions over the object")])
    probe = (probe * np.float32(np.sqrt(nphotons / mean_counts))).astype(np.complex64)
    rng = np.random.default_rng(seed)
    N = probe.shape[0]
    diffraction = np.empty((len(positions), N, N), dtype=np.float32)
    for block in _blocks(len(positions), N):
        amplitude = far_field_amplitude(exit_waves(obj, probe, positions[block]))
        if noise:
            counts = rng.poisson(amplitude.astype(np.float64) ** 2)
            amplitude = np.sqrt(counts).astype(np.float32)
        diffraction[block] = amplitude
    settings = {"noise": bool(noise), "noise_seed": int(seed)}
    settings.update(extra or {})
    metadata = ScanMetadata(source_file="", file_format="simulated",
                            photons_per_pattern=float(nphotons), object_pixel_m=object_pixel_m,
                            extra=settings)
    return Scan(diffraction, positions, probe, ground_truth=obj, metadata=metadata)
