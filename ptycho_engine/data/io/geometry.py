"""Scan geometry: units, far-field pixel size, scan step, probe size, near-field detection.

These numbers decide whether the far-field PtychoPINN model applies to a scan at
all, so readers compute them once and the summary and the app report them.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

ELECTRON_VOLT_J = 1.602176634e-19
"""One electronvolt in joules (exact, SI 2019); CXI stores the source energy in joules."""

PLANCK_TIMES_LIGHT_EV_M = 1.239841984e-6
"""h*c in eV*m: wavelength_m = PLANCK_TIMES_LIGHT_EV_M / energy_eV."""

FAR_FIELD_FILL = 0.75
"""Largest fraction of the far-field field of view the illuminated area may fill."""


def wavelength_from_energy_eV(energy_eV: float) -> float:
    """Photon wavelength in metres for a photon energy in eV."""
    return PLANCK_TIMES_LIGHT_EV_M / energy_eV


def energy_eV_from_wavelength(wavelength_m: float) -> float:
    """Photon energy in eV for a wavelength in metres."""
    return PLANCK_TIMES_LIGHT_EV_M / wavelength_m


def far_field_object_pixel_m(wavelength_m: float, distance_m: float, detector_pixel_m: float,
                             N: int) -> float:
    """Object pixel size lambda*z / (N*dx) in metres of an N x N far-field pattern."""
    return wavelength_m * distance_m / (N * detector_pixel_m)


def median_step_px(positions_px: np.ndarray) -> float | None:
    """Median over the scan points of the distance to the nearest point at another place.

    positions_px: (n, 2) float, (x, y) in object pixels. Duplicated positions do
    not count as neighbours (they would give a step of 0); a point with more than
    8 copies is left out. None when fewer than two distinct points.
    """
    points = np.asarray(positions_px, dtype=np.float64).reshape(-1, 2)
    points = points[np.isfinite(points).all(axis=1)]  # bad positions are the Scan's to refuse
    if points.shape[0] < 2:
        return None
    distances, _ = cKDTree(points).query(points, k=min(points.shape[0], 9))
    distinct = distances > 1e-9
    found = distinct.any(axis=1)
    if not found.any():
        return None
    nearest = distances[found, np.argmax(distinct[found], axis=1)]
    return float(np.median(nearest))


def probe_diameter_px(probe: np.ndarray) -> float:
    """Diameter of the equivalent circle of the region where |probe| >= 0.5 * max |probe|.

    probe: (N, N) complex. A full-width-at-half-maximum-like size that works for
    discs, Gaussians and irregular measured probes alike.
    """
    magnitude = np.abs(np.asarray(probe))
    peak = magnitude.max()
    if peak <= 0:
        return 0.0
    area = float((magnitude >= 0.5 * peak).sum())
    return float(2.0 * np.sqrt(area / np.pi))


def far_field_check(wavelength_m: float, distance_m: float, detector_pixel_m: float, N: int,
                    positions_px: np.ndarray) -> str | None:
    """A warning sentence when the geometry does not fit the far-field model, else None.

    Method: read as far field, an N x N pattern with detector pixel dx at distance z
    gives an object pixel lambda*z/(N*dx) and a field of view of N object pixels.
    A ptychographic probe is about two scan steps wide (for the usual ~50 %
    overlap), and the far-field model needs that illuminated area to fit well
    inside the field of view, so we flag when 2 * median_step_px > 0.75 * N.
    The Fresnel number F = a**2 / (lambda*z), with a = 2 * step in metres, is
    reported next to the F at that limit (a = 0.75 * field of view); far-field
    (Fraunhofer) diffraction needs F well below 1.

    positions_px: (n, 2) float, (x, y) probe positions in far-field object pixels.
    """
    step = median_step_px(positions_px)
    if step is None:
        return None
    illuminated_px = 2.0 * step
    if illuminated_px <= FAR_FIELD_FILL * N:
        return None
    pixel_m = far_field_object_pixel_m(wavelength_m, distance_m, detector_pixel_m, N)
    illuminated_m = illuminated_px * pixel_m
    view_m = N * pixel_m
    # products, not ** 2: float ** overflows with an error, a product to inf
    fresnel = illuminated_m * illuminated_m / (wavelength_m * distance_m)
    fresnel_limit = (FAR_FIELD_FILL * view_m) * (FAR_FIELD_FILL * view_m) / (
        wavelength_m * distance_m)
    return (f"near-field geometry: the scan step of {step:.1f} px ({step * pixel_m * 1e6:.2f} µm) "
            f"implies an illuminated area of ~{illuminated_m * 1e6:.2f} µm, larger than "
            f"{FAR_FIELD_FILL:.0%} of the {view_m * 1e6:.2f} µm far-field field of view "
            f"(Fresnel number {fresnel:.3g}, far-field needs < {fresnel_limit:.3g}); "
            "the far-field PtychoPINN model does not apply to this scan")
