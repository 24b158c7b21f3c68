"""PtychoPINN NPZ reading and writing: round trips, legacy layouts, intensities, atomicity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ptycho_engine.data.io import load_scan, save_scan
from ptycho_engine.data.io.geometry import PLANCK_TIMES_LIGHT_EV_M
from ptycho_engine.data.scan import Scan, ScanMetadata

ENERGY_EV = 8000.0
GEOMETRY = {
    "energy_eV": ENERGY_EV,
    "wavelength_m": PLANCK_TIMES_LIGHT_EV_M / ENERGY_EV,
    "detector_distance_m": 2.0,
    "detector_pixel_m": 75e-6,
}


def make_arrays(seed: int = 0, n: int = 12, N: int = 16):
    """Random amplitudes (n, N, N), a jittered 4 x 3 grid with 3 px steps, a Gaussian probe."""
    rng = np.random.default_rng(seed)
    diffraction = (rng.random((n, N, N)) * 10).astype(np.float32)
    grid = np.stack(np.meshgrid(np.arange(4), np.arange(3)), axis=-1).reshape(-1, 2)[:n]
    positions = N / 2 + 1.0 + 3.0 * grid + rng.uniform(-0.3, 0.3, (n, 2))
    yy, xx = np.mgrid[:N, :N] - N / 2
    probe = (np.exp(-(xx**2 + yy**2) / (2 * 3.0**2)) * np.exp(0.1j * xx)).astype(np.complex64)
    obj = (rng.random((40, 40)) * np.exp(1j * rng.random((40, 40)))).astype(np.complex64)
    return diffraction, positions, probe, obj


def make_scan(seed: int = 0, *, with_geometry: bool = True, **metadata) -> Scan:
    diffraction, positions, probe, obj = make_arrays(seed)
    N = diffraction.shape[-1]
    fields = dict(GEOMETRY) if with_geometry else {}
    if with_geometry:
        fields["object_pixel_m"] = (GEOMETRY["wavelength_m"] * GEOMETRY["detector_distance_m"]
                                    / (N * GEOMETRY["detector_pixel_m"]))
    fields.update(metadata)
    return Scan(diffraction, positions, probe, ground_truth=obj, metadata=ScanMetadata(**fields))


def test_npz_round_trip_keeps_every_array_and_scalar(tmp_path: Path):
    scan = make_scan(photons_per_pattern=1.5e6,
                     extra={"scan_index": np.arange(12, dtype=np.int64) % 2})
    path = tmp_path / "scan.npz"
    save_scan(scan, path)
    back = load_scan(path)
    np.testing.assert_array_equal(back.diffraction, scan.diffraction)
    np.testing.assert_array_equal(back.positions, scan.positions)
    np.testing.assert_array_equal(back.probe, scan.probe)
    np.testing.assert_array_equal(back.ground_truth, scan.ground_truth)
    np.testing.assert_array_equal(back.metadata.extra["scan_index"], np.arange(12) % 2)
    for field in ("photons_per_pattern", "energy_eV", "wavelength_m", "detector_distance_m",
                  "detector_pixel_m", "object_pixel_m"):
        assert getattr(back.metadata, field) == pytest.approx(getattr(scan.metadata, field),
                                                              rel=1e-12), field
    assert back.metadata.file_format == "npz"
    assert back.metadata.source_file == str(path)
    assert back.mean_photons_per_pattern() == 1.5e6
    assert back.warnings == ()  # a far-field scan: no near-field warning


def test_written_npz_holds_plain_arrays_in_the_ptychopinn_layout(tmp_path: Path):
    path = tmp_path / "plain.npz"
    save_scan(make_scan(), path)
    with np.load(path, allow_pickle=False) as npz:  # would raise on any object array
        keys = set(npz.files)
        dtypes = {key: npz[key].dtype for key in npz.files}
        shapes = {key: npz[key].shape for key in npz.files}
    assert {"diffraction", "xcoords", "ycoords", "probeGuess", "objectGuess"} <= keys
    assert "diff3d" not in keys
    assert dtypes["diffraction"] == np.float32 and shapes["diffraction"] == (12, 16, 16)
    assert dtypes["xcoords"] == np.float64 and shapes["xcoords"] == (12,)
    assert dtypes["probeGuess"] == np.complex64 and dtypes["objectGuess"] == np.complex64
    assert shapes["energy_eV"] == () and dtypes["energy_eV"] == np.float64
    assert not any(dtype.kind == "O" for dtype in dtypes.values())


def test_scan_without_metadata_writes_no_scalar_keys(tmp_path: Path):
    path = tmp_path / "bare.npz"
    save_scan(make_scan(with_geometry=False), path)
    with np.load(path, allow_pickle=False) as npz:
        assert set(npz.files) == {"diffraction", "xcoords", "ycoords", "probeGuess",
                                  "objectGuess"}
    back = load_scan(path)
    assert back.metadata.energy_eV is None and back.metadata.object_pixel_m is None


def test_diff3d_key_and_legacy_layout_are_read(tmp_path: Path):
    diffraction, positions, probe, _ = make_arrays(1)
    legacy = tmp_path / "legacy.npz"
    np.savez(legacy, diff3d=np.transpose(diffraction, (1, 2, 0)), xcoords=positions[:, 0],
             ycoords=positions[:, 1], probeGuess=probe)
    scan = load_scan(legacy)
    np.testing.assert_array_equal(scan.diffraction, diffraction)
    assert scan.ground_truth is None

    singleton = tmp_path / "singleton.npz"
    np.savez(singleton, diffraction=diffraction[..., None], xcoords=positions[:, 0],
             ycoords=positions[:, 1], probeGuess=probe[..., None])
    scan = load_scan(singleton)
    np.testing.assert_array_equal(scan.diffraction, diffraction)
    np.testing.assert_array_equal(scan.probe, probe)


def test_intensities_flag_takes_the_square_root(tmp_path: Path):
    diffraction, positions, probe, _ = make_arrays(2)
    counts = np.round(diffraction**2 * 100)
    path = tmp_path / "counts.npz"
    np.savez(path, diffraction=counts, xcoords=positions[:, 0], ycoords=positions[:, 1],
             probeGuess=probe)
    scan = load_scan(path, intensities=True)
    np.testing.assert_allclose(scan.diffraction, np.sqrt(counts), rtol=1e-6)
    assert scan.diffraction.dtype == np.float32
    plain = load_scan(path)
    np.testing.assert_allclose(plain.diffraction, counts, rtol=1e-7)


def test_uint16_data_do_not_overflow(tmp_path: Path):
    _, positions, probe, _ = make_arrays(3)
    counts = np.full((12, 16, 16), 300, dtype=np.uint16)  # 300**2 overflows uint16
    counts[0, 0, 0] = 65535
    path = tmp_path / "uint16.npz"
    np.savez(path, diff3d=counts, xcoords=positions[:, 0], ycoords=positions[:, 1],
             probeGuess=probe)
    amplitudes = load_scan(path)
    expected = (counts.astype(np.float64) ** 2).sum(axis=(1, 2)).mean()
    assert amplitudes.mean_photons_per_pattern() == pytest.approx(expected, rel=1e-9)
    intensities = load_scan(path, intensities=True)
    np.testing.assert_allclose(intensities.diffraction, np.sqrt(counts.astype(np.float64)),
                               rtol=1e-7)


def test_npz_geometry_scalars_give_pixel_size_and_near_field_check(tmp_path: Path):
    diffraction, positions, probe, _ = make_arrays(4)
    wide = positions * 10.0  # steps of ~30 px with N = 16: far beyond the far-field view
    path = tmp_path / "wide.npz"
    np.savez(path, diffraction=diffraction, xcoords=wide[:, 0], ycoords=wide[:, 1],
             probeGuess=probe, energy_eV=np.float64(ENERGY_EV),
             detector_distance_m=np.float64(2.0), detector_pixel_m=np.float64(75e-6))
    scan = load_scan(path)
    expected_pixel = PLANCK_TIMES_LIGHT_EV_M / ENERGY_EV * 2.0 / (16 * 75e-6)
    assert scan.metadata.object_pixel_m == pytest.approx(expected_pixel, rel=1e-12)
    assert any(warning.startswith("near-field geometry") for warning in scan.warnings)


def test_content_not_suffix_picks_the_reader(tmp_path: Path):
    path = tmp_path / "looks_like.cxi"
    save_scan(make_scan(), path, format="npz")
    assert path.read_bytes()[:4] == b"PK\x03\x04"
    np.testing.assert_array_equal(load_scan(path).diffraction, make_scan().diffraction)


def test_failed_write_leaves_the_old_file_intact(tmp_path: Path, monkeypatch):
    path = tmp_path / "keep.npz"
    save_scan(make_scan(0), path)
    before = path.read_bytes()

    def broken(handle, **arrays):
        handle.write(b"PK\x03\x04 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez_compressed", broken)
    with pytest.raises(OSError, match="disk full"):
        save_scan(make_scan(1), path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.npz"]
