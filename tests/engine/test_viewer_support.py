"""Engine helpers the viewers use: mean intensity, probe size, probe files, presets, versions."""

from __future__ import annotations

import math
from pathlib import Path

import h5py
import numpy as np
import pytest

from ptycho_engine import (
    ConfigError,
    PtychoConfig,
    Scan,
    ScanFormatError,
    ScanMetadata,
    config_preset,
    config_presets,
    field_infos,
    load_probe,
    mean_intensity,
    probe_properties,
    replace_probe,
    system_info,
    validate,
)


def gaussian_probe(N: int = 32, sigma: float = 3.0) -> np.ndarray:
    yy, xx = np.mgrid[:N, :N] - N / 2
    return (np.exp(-(xx**2 + yy**2) / (2 * sigma**2)) * np.exp(0.3j * yy)).astype(np.complex64)


def small_scan(n: int = 23, N: int = 16, seed: int = 4) -> Scan:
    rng = np.random.default_rng(seed)
    diffraction = rng.random((n, N, N)).astype(np.float32) * 5
    positions = rng.uniform(10, 40, (n, 2))
    return Scan(diffraction, positions, gaussian_probe(N),
                metadata=ScanMetadata(source_file="small.npz"))


def test_mean_intensity_is_the_mean_of_squared_amplitudes_in_chunks():
    scan = small_scan()
    calls = []
    mean = mean_intensity(scan, chunk=5, progress=lambda done, total: calls.append((done, total)))
    expected = (scan.diffraction_array().astype(np.float64) ** 2).mean(axis=0)
    assert mean.dtype == np.float32 and np.allclose(mean, expected, rtol=1e-6)
    assert calls == [(5, 23), (10, 23), (15, 23), (20, 23), (23, 23)]


def test_mean_intensity_stops_between_chunks():
    asked = []

    def should_stop() -> bool:
        asked.append(1)
        return len(asked) > 2

    assert mean_intensity(small_scan(), chunk=5, should_stop=should_stop) is None
    assert len(asked) == 3


def test_probe_properties_of_a_gaussian_match_the_analytic_widths():
    sigma = 3.0
    facts = probe_properties(gaussian_probe(64, sigma), object_pixel_m=10e-9)
    # intensity exp(-r^2 / sigma^2): FWHM = 2 sigma sqrt(ln 2)
    fwhm = 2 * sigma * math.sqrt(math.log(2))
    assert facts["fwhm_x_px"] == pytest.approx(fwhm, rel=0.02)
    assert facts["fwhm_y_px"] == pytest.approx(fwhm, rel=0.02)
    assert facts["fwhm_x_m"] == pytest.approx(facts["fwhm_x_px"] * 10e-9)
    # continuous integral of the intensity: pi sigma^2
    assert facts["total_intensity"] == pytest.approx(math.pi * sigma**2, rel=1e-3)
    assert facts["peak_amplitude"] == pytest.approx(1.0)
    assert facts["peak_px"] == (32, 32)


def test_probe_properties_of_an_elongated_probe():
    yy, xx = np.mgrid[:64, :64] - 32
    probe = np.exp(-(xx**2) / (2 * 6.0**2) - (yy**2) / (2 * 2.0**2)).astype(np.complex64)
    facts = probe_properties(probe)
    ratio = facts["fwhm_x_px"] / facts["fwhm_y_px"]
    assert ratio == pytest.approx(3.0, rel=0.05)
    assert facts["fwhm_x_m"] is None


@pytest.mark.parametrize("kind", ["npy", "npz_probeGuess", "npz_single", "hdf5_cxi",
                                  "hdf5_single", "stack_of_one"])
def test_load_probe_from_each_format(tmp_path: Path, kind: str):
    probe = gaussian_probe(16)
    path = tmp_path / f"probe_{kind}"
    if kind == "npy":
        np.save(path.with_suffix(".npy"), probe)
        path = path.with_suffix(".npy")
    elif kind == "npz_probeGuess":
        np.savez(path.with_suffix(".npz"), probeGuess=probe, other=np.zeros(3))
        path = path.with_suffix(".npz")
    elif kind == "npz_single":
        np.savez(path.with_suffix(".npz"), anything=probe)
        path = path.with_suffix(".npz")
    elif kind == "stack_of_one":
        np.save(path.with_suffix(".npy"), probe[None])
        path = path.with_suffix(".npy")
    else:
        path = path.with_suffix(".h5")
        with h5py.File(path, "w") as file:
            key = ("entry_1/instrument_1/detector_1/probe" if kind == "hdf5_cxi"
                   else "some/where/illum")
            file[key] = probe
            file["entry_1/other"] = np.zeros(4)  # 1-D data do not count
    loaded = load_probe(path, N=16)
    assert loaded.dtype == np.complex64 and np.array_equal(loaded, probe)


def test_load_probe_refusals_name_file_and_problem(tmp_path: Path):
    def refused(path: Path, *fragments: str, N: int | None = 16) -> None:
        with pytest.raises(ScanFormatError) as caught:
            load_probe(path, N=N)
        message = str(caught.value)
        assert path.name in message
        for fragment in fragments:
            assert fragment in message, message

    np.save(tmp_path / "shape.npy", np.ones((20, 20), np.complex64))
    refused(tmp_path / "shape.npy", "(20, 20)", "(16, 16)")
    np.save(tmp_path / "modes.npy", np.ones((2, 16, 16), np.complex64))
    refused(tmp_path / "modes.npy", "2 probe modes")
    nan = np.ones((16, 16), np.complex64)
    nan[3, 3] = np.nan
    np.save(tmp_path / "nan.npy", nan)
    refused(tmp_path / "nan.npy", "NaN")
    np.save(tmp_path / "zero.npy", np.zeros((16, 16)))
    refused(tmp_path / "zero.npy", "zero everywhere")
    np.savez(tmp_path / "pickled.npz", probe=np.array([{"a": 1}], dtype=object))
    refused(tmp_path / "pickled.npz", "pickled")
    np.savez(tmp_path / "keys.npz", a=np.ones(3), b=np.ones(3))
    refused(tmp_path / "keys.npz", "no probe", "'a'")
    (tmp_path / "text.npy").write_text("hello there")
    refused(tmp_path / "text.npy", "unknown probe file format")
    refused(tmp_path / "missing.npy", "not found")
    with h5py.File(tmp_path / "two.h5", "w") as file:
        file["a"] = np.ones((16, 16))
        file["b"] = np.ones((16, 16))
    refused(tmp_path / "two.h5", "no probe dataset", "2 other")
    good = tmp_path / "good.npz"
    np.savez(good, probeGuess=gaussian_probe(16))
    good.write_bytes(good.read_bytes()[:100])
    refused(good, "truncated or corrupt")


def test_replace_probe_keeps_the_data_and_records_the_source():
    scan = small_scan()
    probe = gaussian_probe(16, sigma=1.5)
    replaced = replace_probe(scan, probe, source="/data/probe.npy")
    assert np.array_equal(replaced.probe, probe)
    assert replaced.diffraction is scan.diffraction
    assert np.array_equal(replaced.positions, scan.positions)
    assert replaced.metadata.extra["probe_file"] == "/data/probe.npy"
    assert replaced.metadata.source_file == scan.metadata.source_file
    with pytest.raises(ScanFormatError, match=r"\(8, 8\)"):
        replace_probe(scan, np.ones((8, 8), np.complex64))


def test_presets_are_valid_configs_and_only_touch_their_keys():
    names = [preset.name for preset in config_presets()]
    assert names == ["quick look (CPU)", "full quality (GPU)"]
    base = PtychoConfig()
    for preset in config_presets():
        config = preset.apply(base)
        assert validate(config) == []
        touched = dict(preset.overrides)
        for key, value in touched.items():
            section, name = key.split(".")
            assert getattr(getattr(config, section), name) == value
        for info in field_infos():  # every other setting keeps its default
            if info.key not in touched:
                assert getattr(getattr(config, info.section), info.name) == info.default
    assert config_preset("quick look (CPU)").apply().training.device == "cpu"
    with pytest.raises(ConfigError, match="unknown preset"):
        config_preset("turbo")


def test_system_info_reports_versions_and_device():
    import torch

    info = system_info()
    assert info["torch"] == torch.__version__
    assert info["gpu_available"] == torch.cuda.is_available()
    assert info["device"].startswith("GPU: " if info["gpu_available"] else "CPU (")
    assert info["engine"] and info["python"].count(".") == 2
