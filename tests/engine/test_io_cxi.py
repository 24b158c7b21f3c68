"""CXI/HDF5 reading and writing: round trips, foreign layouts, lazy reads, the real P25 file."""

from __future__ import annotations

import copy
import threading
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from ptycho_engine.core.errors import ScanFormatError
from ptycho_engine.data.io import CxiDiffraction, load_scan, save_scan
from ptycho_engine.data.io.cxi import estimate_probe
from ptycho_engine.data.io.geometry import (
    ELECTRON_VOLT_J,
    PLANCK_TIMES_LIGHT_EV_M,
    probe_diameter_px,
)

from .test_io_npz import GEOMETRY, make_arrays, make_scan

DETECTOR = "entry_1/instrument_1/detector_1"
SOURCE = "entry_1/instrument_1/source_1"
TRANSLATION = "entry_1/sample_1/geometry_1/translation"


def object_pixel(N: int = 16) -> float:
    return GEOMETRY["wavelength_m"] * GEOMETRY["detector_distance_m"] / (
        N * GEOMETRY["detector_pixel_m"])


def write_foreign_cxi(path: Path, counts: np.ndarray, translation: np.ndarray, *,
                      energy_J: float | None = 1.2e-15, wavelength_m: float | None = None,
                      distance: float | None = 1.5, pixel: float = 75e-6,
                      mask: np.ndarray | None = None, data_path: str = f"{DETECTOR}/data",
                      probe: tuple[str, np.ndarray] | None = None) -> None:
    """A CXI file laid out the way other programs write it (no engine code involved)."""
    with h5py.File(path, "w") as file:
        file["cxi_version"] = 160
        file.create_dataset(data_path, data=counts, chunks=(1, *counts.shape[1:]),
                            compression="gzip")
        if distance is not None:
            file[f"{DETECTOR}/distance"] = distance
        file[f"{DETECTOR}/x_pixel_size"] = pixel
        file[f"{DETECTOR}/y_pixel_size"] = pixel
        if mask is not None:
            file[f"{DETECTOR}/mask"] = mask
        if energy_J is not None:
            file[f"{SOURCE}/energy"] = energy_J
        if wavelength_m is not None:
            file[f"{SOURCE}/wavelength"] = wavelength_m
        file[TRANSLATION] = translation
        if probe is not None:
            file[probe[0]] = probe[1]


def test_cxi_round_trip(tmp_path: Path):
    scan = make_scan(photons_per_pattern=2.5e4, extra={"scan_index": np.arange(12)})
    path = tmp_path / "scan.cxi"
    save_scan(scan, path)
    back = load_scan(path)
    assert isinstance(back.diffraction, CxiDiffraction) and back.is_lazy
    np.testing.assert_allclose(back.diffraction_array(), scan.diffraction, rtol=1e-6)
    np.testing.assert_allclose(back.positions, scan.positions, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(back.probe, scan.probe)
    np.testing.assert_array_equal(back.ground_truth, scan.ground_truth)
    np.testing.assert_array_equal(back.metadata.extra["scan_index"], np.arange(12))
    assert back.metadata.file_format == "cxi"
    assert back.metadata.object_pixel_m == pytest.approx(object_pixel(), rel=1e-12)
    for field in ("energy_eV", "wavelength_m", "detector_distance_m", "detector_pixel_m",
                  "photons_per_pattern"):
        assert getattr(back.metadata, field) == pytest.approx(getattr(scan.metadata, field),
                                                              rel=1e-12), field
    assert not back.metadata.extra.get("probe_estimated")


def test_written_cxi_layout_follows_the_cxi_conventions(tmp_path: Path):
    scan = make_scan()
    path = tmp_path / "layout.h5"
    save_scan(scan, path)  # the .h5 suffix selects CXI
    with h5py.File(path, "r") as file:
        counts = file[f"{DETECTOR}/data"][()]
        assert counts.dtype == np.float32
        np.testing.assert_array_equal(counts, scan.diffraction**2)
        np.testing.assert_array_equal(file["entry_1/data_1/data"][()], counts)  # soft link
        assert file[f"{SOURCE}/energy"][()] == pytest.approx(
            GEOMETRY["energy_eV"] * ELECTRON_VOLT_J, rel=1e-12)
        translation = file[TRANSLATION][()]
    assert translation.shape == (12, 3)
    np.testing.assert_allclose(translation[:, :2], -scan.positions * object_pixel(), rtol=1e-12)


def test_foreign_cxi_positions_mask_energy_and_estimated_probe(tmp_path: Path):
    rng = np.random.default_rng(5)
    n, N = 10, 16
    counts = rng.poisson(20.0, (n, N, N)).astype(np.int32)
    counts[:, 0, 1] = -7  # bad detector pixels hold garbage; the mask hides it
    mask = np.zeros((N, N), dtype=np.uint32)
    mask[0, 1] = mask[3, 3] = 1
    mask[5, 6] = 8
    translation = np.zeros((n, 3))
    translation[:, :2] = rng.uniform(-2e-6, 2e-6, (n, 2))
    energy_J = 1.2e-15
    path = tmp_path / "foreign.cxi"
    write_foreign_cxi(path, counts, translation, energy_J=energy_J, mask=mask)

    scan = load_scan(path, intensities=False)
    wavelength = PLANCK_TIMES_LIGHT_EV_M * ELECTRON_VOLT_J / energy_J
    pixel = wavelength * 1.5 / (N * 75e-6)
    expected = -translation[:, :2] / pixel
    expected += N / 2 - expected.min(axis=0)
    np.testing.assert_allclose(scan.positions, expected, rtol=0, atol=1e-9)
    assert scan.positions.min(axis=0) == pytest.approx([N / 2, N / 2])
    assert scan.metadata.wavelength_m == pytest.approx(wavelength, rel=1e-12)
    assert scan.metadata.energy_eV == pytest.approx(energy_J / ELECTRON_VOLT_J, rel=1e-12)
    assert scan.metadata.extra["masked_pixels"] == 3
    expected_amplitude = np.sqrt(np.where(mask != 0, 0, counts).astype(np.float64))
    np.testing.assert_allclose(scan.diffraction_array(), expected_amplitude, rtol=1e-6)
    assert scan.metadata.extra["probe_estimated"] is True
    assert scan.probe.shape == (N, N) and scan.probe.dtype == np.complex64
    assert np.abs(scan.probe).max() == pytest.approx(1.0)


def test_data_1_data_and_detector_probe_are_accepted(tmp_path: Path):
    rng = np.random.default_rng(6)
    counts = rng.random((6, 16, 16)).astype(np.float64) * 50
    modes = (rng.random((2, 16, 16)) + 1j).astype(np.complex64)
    path = tmp_path / "data1.cxi"
    write_foreign_cxi(path, counts, np.zeros((6, 3)) + 1e-7 * np.arange(6)[:, None],
                      energy_J=None, wavelength_m=1e-10, data_path="entry_1/data_1/data",
                      probe=(f"{DETECTOR}/probe", modes))
    scan = load_scan(path)
    np.testing.assert_allclose(scan.diffraction_array(), np.sqrt(counts), rtol=1e-6)
    np.testing.assert_array_equal(scan.probe, modes[0])
    assert scan.metadata.extra["probe_modes"] == 2
    assert "probe_estimated" not in scan.metadata.extra


def test_lazy_reads_match_numpy_indexing(tmp_path: Path):
    rng = np.random.default_rng(7)
    counts = rng.poisson(9.0, (30, 16, 16)).astype(np.uint16)
    path = tmp_path / "lazy.cxi"
    write_foreign_cxi(path, counts, np.zeros((30, 3)) + 1e-7 * np.arange(30)[:, None])
    reference = np.sqrt(counts.astype(np.float64))
    lazy = load_scan(path).diffraction
    picks = np.array([17, 3, 3, 29, 0, 17, 25])
    cases = [5, -1, slice(2, 20, 3), slice(None), picks, np.arange(30) % 2 == 0,
             np.array([], dtype=np.int64), np.int64(4)]
    for index in cases:
        got = lazy[index]
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, reference[index], rtol=1e-6, err_msg=str(index))
    np.testing.assert_allclose(np.asarray(lazy), reference, rtol=1e-6)
    with pytest.raises(IndexError):
        lazy[30]

    clone = copy.deepcopy(lazy)  # plain state, as a DataLoader worker receives it
    np.testing.assert_allclose(clone[picks], reference[picks], rtol=1e-6)

    results: dict[int, np.ndarray] = {}

    def worker(k: int) -> None:
        results[k] = lazy[np.arange(k, 30, 4)]

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for k in range(4):
        np.testing.assert_allclose(results[k], reference[k::4], rtol=1e-6)


@pytest.mark.parametrize("sigma", [1.5, 2.5, 4.0])
def test_estimated_probe_matches_a_gaussian_probe_size(sigma: float):
    rng = np.random.default_rng(8)
    N = 32
    yy, xx = np.mgrid[:N, :N] - N / 2
    probe = np.exp(-(xx**2 + yy**2) / (2 * sigma**2))
    phase = 3 * gaussian_filter(rng.standard_normal((20, N, N)), (0, 2, 2))  # smooth object
    intensity = np.abs(np.fft.fftshift(np.fft.fft2(probe * np.exp(1j * phase)), axes=(1, 2)))**2
    counts = rng.poisson(intensity * 1e5 / intensity.sum(axis=(1, 2), keepdims=True))
    estimate = estimate_probe(np.sqrt(counts), N)
    assert probe_diameter_px(estimate) == pytest.approx(probe_diameter_px(probe), rel=0.2)
    assert np.unravel_index(np.argmax(np.abs(estimate)), estimate.shape) == (N // 2, N // 2)
    assert np.abs(estimate).max() == pytest.approx(1.0)
    np.testing.assert_array_equal(estimate_probe(np.sqrt(counts), N), estimate)


def test_writing_cxi_needs_the_geometry(tmp_path: Path):
    path = tmp_path / "no_geometry.cxi"
    with pytest.raises(ScanFormatError, match="detector_distance_m") as error:
        save_scan(make_scan(with_geometry=False), path)
    assert "no_geometry.cxi" in str(error.value)
    assert not path.exists()


def test_overwriting_the_cxi_a_lazy_scan_reads_from(tmp_path: Path):
    path = tmp_path / "self.cxi"
    save_scan(make_scan(), path)
    first = load_scan(path)
    save_scan(first, path)
    again = load_scan(path)
    np.testing.assert_allclose(again.diffraction_array(), make_scan().diffraction, rtol=1e-6)
    with h5py.File(path, "w"):  # no handle is held open by the loaded scans
        pass


def _rss_bytes() -> int:
    status = Path("/proc/self/status")
    if not status.exists():
        pytest.skip("resident memory is read from /proc (Linux only)")
    line = next(x for x in status.read_text().splitlines() if x.startswith("VmRSS:"))
    return int(line.split()[1]) * 1024


@pytest.fixture(scope="module")
def big_cxi(tmp_path_factory) -> Path:
    """100,000 x 32 x 32 uint16 patterns (200 MB of data), gzip-chunked per pattern."""
    path = tmp_path_factory.mktemp("big") / "big.cxi"
    n, N, block = 100_000, 32, 10_000
    translation = np.zeros((n, 3))
    translation[:, 0] = (np.arange(n) % 316) * 1e-7
    translation[:, 1] = (np.arange(n) // 316) * 1e-7
    write_foreign_cxi(path, np.zeros((1, N, N), np.uint16), translation[:1], pixel=55e-6)
    with h5py.File(path, "a") as file:
        del file[f"{DETECTOR}/data"], file[TRANSLATION]
        file[TRANSLATION] = translation
        data = file.create_dataset(f"{DETECTOR}/data", shape=(n, N, N), dtype=np.uint16,
                                   chunks=(1, N, N), compression="gzip", compression_opts=1)
        frames = np.ones((block, N, N), dtype=np.uint16)
        for start in range(0, n, block):
            frames[:, N // 2, N // 2] = np.arange(start, start + block) % 60_000
            frames[:, 0, 0] = np.arange(start, start + block) // 60_000
            data[start:start + block] = frames
    return path


def test_one_pattern_of_a_100k_pattern_file_is_read_lazily(big_cxi: Path):
    before = _rss_bytes()
    started = time.perf_counter()
    scan = load_scan(big_cxi)
    pattern = scan.pattern(54_321)
    elapsed = time.perf_counter() - started
    grown = _rss_bytes() - before
    assert scan.n_patterns == 100_000 and scan.N == 32
    assert pattern[16, 16] ** 2 == pytest.approx(54_321 % 60_000)
    assert pattern[0, 0] ** 2 == pytest.approx(54_321 // 60_000)
    assert elapsed < 2.0, f"loading and reading one pattern took {elapsed:.2f} s"
    assert grown < 100 * 2**20, f"resident memory grew by {grown / 2**20:.0f} MB"


def test_real_petra3_file_loads_with_its_geometry_and_near_field_warning(shared_data: Path):
    path = shared_data / "petra3_p25_nearfield.cxi"
    scan = load_scan(path)
    assert scan.n_patterns == 200 and scan.N == 100
    assert scan.metadata.wavelength_m == pytest.approx(9.79e-11, rel=1e-3)
    assert scan.metadata.energy_eV == pytest.approx(12_660, rel=1e-3)
    assert scan.metadata.detector_distance_m == pytest.approx(1.12, rel=1e-6)
    assert scan.metadata.detector_pixel_m == pytest.approx(55e-6, rel=1e-6)
    assert scan.metadata.extra["masked_pixels"] == 5
    with h5py.File(path, "r") as file:
        mask = file[f"{DETECTOR}/mask"][()] != 0
        raw = file[f"{DETECTOR}/data"][7]
    pattern = scan.pattern(7)
    assert (pattern[mask] == 0).all()
    np.testing.assert_allclose(pattern[~mask], np.sqrt(raw[~mask]), rtol=1e-6)
    near = [w for w in scan.warnings if w.startswith("near-field geometry")]
    assert len(near) == 1 and "far-field PtychoPINN model does not apply" in near[0]
    assert scan.metadata.extra["probe_estimated"] is True


def test_simulated_far_field_cxi_has_no_near_field_warning(tmp_path: Path):
    diffraction, positions, probe, _ = make_arrays(9)
    assert np.median(np.abs(np.diff(positions[:, 0]))) <= 16 / 4  # steps <= N/4
    path = tmp_path / "far.cxi"
    save_scan(make_scan(9), path)
    scan = load_scan(path)
    assert not any("near-field" in w for w in scan.warnings)
