"""Scan summaries and the geometry behind them: step, probe size, overlap, near-field check."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ptycho_engine.data.io import format_summary, load_scan, summarize_scan
from ptycho_engine.data.io.geometry import (
    far_field_check,
    far_field_object_pixel_m,
    median_step_px,
    probe_diameter_px,
)
from ptycho_engine.data.scan import Scan, ScanMetadata

N = 16
STEP = 3.0
RADIUS = 5.0


def grid(step: float, rows: int = 4, cols: int = 5, start: float = 10.0) -> np.ndarray:
    ys, xs = np.mgrid[:rows, :cols]
    return np.stack([start + step * xs.ravel(), start + step * ys.ravel()], axis=1)


def disc_probe(radius: float = RADIUS) -> np.ndarray:
    yy, xx = np.mgrid[:N, :N] - N / 2
    return (np.hypot(xx, yy) <= radius).astype(np.complex64)


def summary_scan(**metadata) -> Scan:
    rng = np.random.default_rng(21)
    positions = grid(STEP)
    diffraction = rng.random((len(positions), N, N)).astype(np.float32) * 3
    return Scan(diffraction, positions, disc_probe(),
                ground_truth=np.ones((40, 40), np.complex64),
                metadata=ScanMetadata(source_file="/data/demo.npz", file_format="npz",
                                      **metadata))


def test_geometry_helpers_against_direct_formulas():
    rng = np.random.default_rng(22)
    positions = grid(STEP) + rng.uniform(-0.2, 0.2, (20, 2))
    distances = np.hypot(*(positions[:, None, :] - positions[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(distances, np.inf)
    nearest = distances.min(axis=1)
    assert median_step_px(positions) == pytest.approx(np.median(nearest))
    doubled = np.concatenate([positions, positions[:5]])  # duplicates do not give a 0 step
    assert median_step_px(doubled) == pytest.approx(np.median(np.r_[nearest, nearest[:5]]))
    assert median_step_px(positions[:1]) is None

    count = int((np.abs(disc_probe()) > 0).sum())
    assert probe_diameter_px(disc_probe()) == pytest.approx(2 * np.sqrt(count / np.pi))
    sigma = 6.0
    yy, xx = np.mgrid[:128, :128] - 64
    gaussian = np.exp(-(xx**2 + yy**2) / (2 * sigma**2)) * np.exp(0.3j * xx)
    fwhm = 2 * np.sqrt(2 * np.log(2)) * sigma
    assert probe_diameter_px(gaussian) == pytest.approx(fwhm, rel=0.03)
    assert far_field_object_pixel_m(1e-10, 2.0, 50e-6, 100) == pytest.approx(4e-8)


def test_far_field_check_fires_only_beyond_three_quarters_of_the_view():
    wavelength, distance, pixel = 1e-10, 2.0, 50e-6
    assert far_field_check(wavelength, distance, pixel, N, grid(N / 4)) is None
    assert far_field_check(wavelength, distance, pixel, N, grid(0.37 * N)) is None
    message = far_field_check(wavelength, distance, pixel, N, grid(0.38 * N))
    assert message is not None and message.startswith("near-field geometry")
    step = 0.38 * N
    pixel_m = wavelength * distance / (N * pixel)
    fresnel = (2 * step * pixel_m) ** 2 / (wavelength * distance)
    limit = (0.75 * N * pixel_m) ** 2 / (wavelength * distance)
    assert f"Fresnel number {fresnel:.3g}" in message
    assert f"far-field needs < {limit:.3g}" in message
    assert f"{step:.1f} px" in message
    assert "does not apply" in message


def test_summary_numbers_and_json(tmp_path: Path):
    pixel_m = 2e-8
    scan = summary_scan(object_pixel_m=pixel_m, energy_eV=9000.0, wavelength_m=1.3776e-10,
                        detector_distance_m=3.0, detector_pixel_m=75e-6)
    summary = summarize_scan(scan)
    json.loads(json.dumps(summary))  # plain JSON types only
    diameter = 2 * np.sqrt(int((np.abs(disc_probe()) > 0).sum()) / np.pi)
    assert summary["file"] == "/data/demo.npz" and summary["format"] == "npz"
    assert summary["patterns"] == 20 and summary["N"] == N
    assert summary["position_extent_px"] == {"x_min": 10.0, "x_max": 22.0,
                                             "y_min": 10.0, "y_max": 19.0}
    assert summary["median_step_px"] == pytest.approx(STEP)
    assert summary["probe_diameter_px"] == pytest.approx(diameter)
    assert summary["probe_diameter_m"] == pytest.approx(diameter * pixel_m)
    assert summary["linear_overlap"] == pytest.approx(1 - STEP / diameter)
    expected_photons = (scan.diffraction.astype(np.float64) ** 2).sum(axis=(1, 2)).mean()
    assert summary["mean_photons_per_pattern"] == pytest.approx(expected_photons, rel=1e-9)
    assert summary["energy_eV"] == 9000.0 and summary["detector_distance_m"] == 3.0
    assert summary["has_ground_truth"] is True and summary["warnings"] == []

    text = format_summary(summary)
    lines = text.splitlines()
    assert any(line.startswith("patterns") and "20 x 16 x 16" in line for line in lines)
    assert any(line.startswith("median step") and "3 px" in line for line in lines)
    assert any(line.startswith("linear overlap") and f"{1 - STEP / diameter:.0%}" in line
               for line in lines)
    assert any(line.startswith("energy") and "9 keV" in line for line in lines)
    assert any(line.startswith("object pixel") and "20 nm" in line for line in lines)
    assert lines[-1].split() == ["warnings", "none"]


def test_summary_of_a_scan_with_unknown_geometry_and_warnings():
    scan = Scan(np.zeros((3, N, N), np.float32), np.full((3, 2), 8.0), disc_probe())
    summary = summarize_scan(scan)
    assert summary["energy_eV"] is None and summary["probe_diameter_m"] is None
    assert summary["median_step_px"] is None and summary["linear_overlap"] is None
    assert summary["file"] == "" and summary["has_ground_truth"] is False
    assert len(summary["warnings"]) == 2  # duplicated positions, all-zero patterns
    text = format_summary(summary)
    assert any(line.split() == ["energy", "unknown"] for line in text.splitlines())
    assert "(in memory)" in text
    for warning in summary["warnings"]:
        assert f"  - {warning}" in text


def test_summary_of_the_real_petra3_file(shared_data: Path):
    scan = load_scan(shared_data / "petra3_p25_nearfield.cxi")
    summary = summarize_scan(scan)
    json.dumps(summary)
    assert summary["format"] == "cxi" and summary["patterns"] == 200 and summary["N"] == 100
    assert summary["masked_pixels"] == 5 and summary["probe_estimated"] is True
    assert summary["position_extent_px"]["x_min"] == pytest.approx(50.0)
    assert summary["object_pixel_m"] == pytest.approx(9.7949e-11 * 1.12 / (100 * 55e-6),
                                                      rel=1e-3)
    assert any(w.startswith("near-field geometry") for w in summary["warnings"])
    assert "near-field geometry" in format_summary(summary)
