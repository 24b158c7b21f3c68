"""The simulator against numpy formulas written here, photon statistics and geometry."""

import numpy as np
import pytest
from scipy.spatial import cKDTree

from ptycho_engine.core.errors import ConfigError
from ptycho_engine.data.scan import Scan
from ptycho_engine.simulation import (
    SimulationSpec,
    dead_leaves,
    defocused_probe,
    disc_probe,
    fermat_spiral_positions,
    fit_to_object,
    focused_probe,
    gaussian_random_field,
    lines,
    make_object,
    make_probe,
    object_from_file,
    place_in_new_object,
    probe_from_file,
    raster_positions,
    siemens_star,
    simulate_from_spec,
    simulate_scan,
)


def _small_case(seed=0, n=12, N=16, size=48):
    rng = np.random.default_rng(seed)
    obj = gaussian_random_field(size, seed)
    probe = focused_probe(N, N / 3) * np.exp(0.3j)
    positions = rng.integers(N // 2, size - N // 2 + 1, size=(n, 2)).astype(np.float64)
    return obj, probe, positions


def _reference_amplitude(obj, probe, positions):
    """|fftshift(fft2(P·O))| / N with patches cut by integer slicing."""
    N = probe.shape[0]
    out = []
    for x, y in positions.astype(int):
        patch = obj[y - N // 2:y + N // 2, x - N // 2:x + N // 2].astype(np.complex128)
        field = np.fft.fft2(probe.astype(np.complex128) * patch) / N
        out.append(np.abs(np.fft.fftshift(field)))
    return np.array(out)


def test_noise_free_diffraction_matches_numpy_formula():
    obj, probe, positions = _small_case()
    scan = simulate_scan(obj, probe, positions, nphotons=1e5, seed=0, noise=False)
    assert isinstance(scan, Scan)
    assert scan.diffraction.dtype == np.float32 and scan.diffraction.shape == (12, 16, 16)
    expected = _reference_amplitude(obj, scan.probe, positions)
    np.testing.assert_allclose(scan.diffraction, expected, rtol=1e-4, atol=1e-3)
    # The stored probe is the given one times one positive real factor.
    ratio = scan.probe / probe
    np.testing.assert_allclose(ratio, ratio[8, 8], rtol=1e-4)
    assert abs(ratio[8, 8].imag) < 1e-6 * abs(ratio[8, 8]) and ratio[8, 8].real > 0
    np.testing.assert_array_equal(scan.ground_truth, obj)


@pytest.mark.parametrize("fractional", [False, True])
def test_mean_expected_counts_equal_nphotons(fractional):
    obj, probe, positions = _small_case(seed=1, n=30)
    if fractional:
        positions = positions + np.random.default_rng(1).uniform(-0.5, 0.5, positions.shape)
    for nphotons in (1e3, 1e7):
        scan = simulate_scan(obj, probe, positions, nphotons=nphotons, seed=0, noise=False)
        totals = (scan.diffraction.astype(np.float64) ** 2).sum(axis=(1, 2))
        assert totals.mean() == pytest.approx(nphotons, rel=1e-4)
        assert scan.metadata.photons_per_pattern == nphotons
        assert scan.mean_photons_per_pattern() == nphotons


def test_poisson_noise_statistics_and_seeds():
    obj, probe, positions = _small_case(seed=2, n=40, N=16)
    clean = simulate_scan(obj, probe, positions, nphotons=2e4, seed=0, noise=False)
    noisy = simulate_scan(obj, probe, positions, nphotons=2e4, seed=5)
    counts = noisy.diffraction.astype(np.float64) ** 2
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-3)  # integer photon counts
    expected = clean.diffraction.astype(np.float64) ** 2
    # Sum over many pixels: mean within a few Poisson sigmas of the expectation.
    assert abs(counts.sum() - expected.sum()) < 4 * np.sqrt(expected.sum())
    bright = expected > 20
    z = (counts[bright] - expected[bright]) / np.sqrt(expected[bright])
    assert abs(z.mean()) < 4 / np.sqrt(bright.sum())
    assert z.var() == pytest.approx(1.0, abs=0.1)
    again = simulate_scan(obj, probe, positions, nphotons=2e4, seed=5)
    other = simulate_scan(obj, probe, positions, nphotons=2e4, seed=6)
    np.testing.assert_array_equal(noisy.diffraction, again.diffraction)
    assert not np.array_equal(noisy.diffraction, other.diffraction)


def test_subpixel_positions_shift_the_probe_not_the_object():
    """At a fractional position the object window sits at the nearest whole pixel
    (floor(p + 0.5)) and the probe moves by the rest with a Fourier phase ramp."""
    obj, probe, _ = _small_case(seed=3)
    positions = np.array([[20.25, 21.5], [25.75, 30.1], [24.0, 24.0], [22.5, 27.49]])
    scan = simulate_scan(obj, probe, positions, nphotons=1e4, seed=0, noise=False)
    N = 16
    f = np.fft.fftfreq(N)
    expected = []
    for p in positions:
        x, y = np.floor(p + 0.5).astype(int)
        rest = p - [x, y]
        ramp = np.exp(-2j * np.pi * (f[:, None] * rest[1] + f[None, :] * rest[0]))
        shifted = np.fft.ifft2(np.fft.fft2(scan.probe.astype(np.complex128)) * ramp)
        patch = obj[y - N // 2:y + N // 2, x - N // 2:x + N // 2]
        expected.append(np.abs(np.fft.fftshift(np.fft.fft2(shifted * patch) / N)))
    np.testing.assert_allclose(scan.diffraction, np.array(expected), rtol=1e-4, atol=1e-4)
    # the whole-pixel position is the plain formula, and the sub-pixel rest matters
    np.testing.assert_allclose(scan.diffraction[2], _reference_amplitude(
        obj, scan.probe, positions[2:3])[0], rtol=1e-4, atol=1e-4)
    rounded = _reference_amplitude(obj, scan.probe, np.floor(positions + 0.5))
    assert np.abs(scan.diffraction[[0, 1, 3]] - rounded[[0, 1, 3]]).max() > 1e-2


def test_simulate_rejects_bad_inputs():
    obj, probe, positions = _small_case()
    with pytest.raises(ConfigError):
        simulate_scan(obj, probe, positions, nphotons=0)
    with pytest.raises(ConfigError):
        simulate_scan(obj, probe, positions + 1000, nphotons=1e3)


@pytest.mark.parametrize("maker", [
    lambda: siemens_star(64),
    lambda: lines(64, seed=1),
    lambda: gaussian_random_field(64, seed=1),
    lambda: dead_leaves(64, seed=1),
])
def test_objects_shape_dtype_range_and_phase(maker):
    obj = maker()
    assert obj.shape == (64, 64) and obj.dtype == np.complex64
    amplitude, phase = np.abs(obj), np.angle(obj)
    assert amplitude.min() > 0 and amplitude.max() <= 1 + 1e-6
    assert amplitude.std() > 0.02 and phase.std() > 0.05  # both carry structure
    assert np.abs(phase).max() < np.pi


def test_make_object_kinds_and_seeds():
    for kind in ("lines", "grf", "dead_leaves"):
        a = make_object(kind, 48, seed=1)
        np.testing.assert_array_equal(a, make_object(kind, 48, seed=1))
        assert not np.array_equal(a, make_object(kind, 48, seed=2))
    np.testing.assert_array_equal(make_object("siemens", 48, 0), siemens_star(48))
    with pytest.raises(ConfigError) as error:
        make_object("cat", 48, 0)
    assert error.value.problems[0][0] == "simulate.object"


def test_siemens_star_has_its_spokes():
    star = siemens_star(128, spokes=16, amp_min=0.5, phase_rad=1.0)
    radius = 40
    angles = (np.arange(64) + 0.5) * 2 * np.pi / 64
    x = np.round(64 + radius * np.cos(angles)).astype(int)
    y = np.round(64 + radius * np.sin(angles)).astype(int)
    amplitude = np.abs(star[y, x])
    # 16 opaque spokes: the amplitude alternates 16 times around the circle.
    crossings = np.count_nonzero(np.diff(np.sign(amplitude - 0.75)))
    assert 30 <= crossings <= 32
    assert np.abs(star[0, 0]) == pytest.approx(1.0)  # transparent outside the star


def test_object_and_probe_from_goldballs(shared_data):
    path = shared_data / "goldballs_recon.npz"
    obj = object_from_file(path)
    assert obj.dtype == np.complex64
    assert 150 <= obj.shape[0] <= 300 and 150 <= obj.shape[1] <= 300  # padding cropped away
    assert np.abs(obj).max() == pytest.approx(1.0)
    np.testing.assert_array_equal(make_object(f"file:{path}", 0, 0), obj)
    probe = probe_from_file(path, 64)
    with np.load(path, allow_pickle=False) as archive:
        raw = archive["probeGuess"]
    assert probe.shape == (64, 64) and probe.dtype == np.complex64
    np.testing.assert_array_equal(probe, raw[20:84, 20:84])  # centre crop, no resampling
    assert (np.abs(probe) ** 2).sum() > 0.99 * (np.abs(raw) ** 2).sum()
    padded = probe_from_file(path, 128)
    np.testing.assert_array_equal(padded[12:116, 12:116], raw)


def test_focused_probe_lobe_diameter():
    probe = focused_probe(64, 16)
    amplitude = np.abs(probe)
    assert probe.shape == (64, 64) and probe.dtype == np.complex64
    assert np.unravel_index(amplitude.argmax(), amplitude.shape) == (32, 32)
    row = amplitude[32, 32:48]
    first_zero = int(np.argmin(row[:12]))
    assert first_zero == 8  # central-lobe radius = diameter / 2
    assert np.abs(probe.imag).max() < 1e-5  # an unaberrated focus is real


def test_defocused_probe_is_wider_with_curved_phase():
    focused = np.abs(focused_probe(64, 16)) ** 2
    defocused = defocused_probe(64, 24, 12.0)
    intensity = np.abs(defocused) ** 2
    yy, xx = np.mgrid[0:64, 0:64] - 32

    radius = np.hypot(xx, yy)

    def half_energy_radius(i):
        order = np.argsort(radius.ravel())
        energy = np.cumsum(i.ravel()[order]) / i.sum()
        return radius.ravel()[order][np.searchsorted(energy, 0.5)]

    assert half_energy_radius(intensity) > 1.5 * half_energy_radius(focused)
    assert np.ptp(np.unwrap(np.angle(defocused[32, 26:39]))) > 0.5
    assert intensity[8:56, 8:56].sum() > 0.95 * intensity.sum()  # still fits the window


def test_disc_probe_and_dispatch():
    disc = disc_probe(32, 10)
    assert disc.real.sum() == pytest.approx(np.pi * 25, rel=0.02)
    assert disc[16, 16] == 1 and disc[0, 0] == 0
    np.testing.assert_array_equal(make_probe("disc", 32, 10), disc)
    np.testing.assert_array_equal(make_probe("focused", 32), focused_probe(32, 8))
    with pytest.raises(ConfigError):
        make_probe("laser", 32)


def test_fermat_spacing_and_raster():
    positions = fermat_spiral_positions(500, 5.0)
    distance, _ = cKDTree(positions).query(positions, k=2)
    assert np.median(distance[:, 1]) == pytest.approx(5.0, rel=0.05)
    raster = raster_positions((3, 4), 2.5)
    assert raster.shape == (12, 2)
    np.testing.assert_array_equal(raster[:4, 0], [0, 2.5, 5, 7.5])
    np.testing.assert_array_equal(raster[::4, 1], [0, 2.5, 5])
    jittered = raster_positions((3, 4), 2.5, jitter_px=0.5, seed=3)
    np.testing.assert_array_equal(jittered, raster_positions((3, 4), 2.5, 0.5, seed=3))
    assert 0 < np.abs(jittered - raster).max() < 3


def test_positions_fit_inside_objects():
    positions = fermat_spiral_positions(200, 4.0)
    placed, (height, width) = place_in_new_object(positions, 32)
    assert placed[:, 0].min() == pytest.approx(16) and placed[:, 1].min() == pytest.approx(16)
    assert placed[:, 0].max() + 16 <= width and placed[:, 1].max() + 16 <= height
    centred = fit_to_object(positions, (200, 150), 32)
    assert centred[:, 0].min() >= 16 and centred[:, 0].max() + 16 <= 150
    assert centred[:, 1].min() >= 16 and centred[:, 1].max() + 16 <= 200
    with pytest.raises(ConfigError):
        fit_to_object(positions, (60, 60), 32)


def test_simulate_from_spec_well_formed_and_reproducible():
    spec = SimulationSpec(patterns=60, N=32, step_px=4.0, photons=1e4, seed=3)
    scan = simulate_from_spec(spec)
    assert scan.warnings == ()
    assert scan.n_patterns == 60 and scan.N == 32
    height, width = scan.ground_truth.shape
    assert (scan.positions - 16 >= 0).all()
    assert (scan.positions[:, 0] + 16 <= width).all()
    assert (scan.positions[:, 1] + 16 <= height).all()
    assert scan.metadata.file_format == "simulated"
    assert scan.metadata.extra["simulation"] == spec.to_dict()
    np.testing.assert_array_equal(simulate_from_spec(spec).diffraction, scan.diffraction)
    other = simulate_from_spec(SimulationSpec(patterns=60, N=32, step_px=4.0, photons=1e4,
                                              seed=4))
    assert not np.array_equal(other.diffraction, scan.diffraction)


@pytest.mark.parametrize("changes", [
    {"scan": "raster", "jitter_px": 0.5, "object": "dead_leaves", "probe": "defocused"},
    {"object": "lines", "probe": "disc", "noise": False},
])
def test_spec_variants(changes):
    spec = SimulationSpec(patterns=30, N=32, step_px=4.0, photons=1e4, **changes)
    scan = simulate_from_spec(spec)
    assert scan.warnings == () and scan.n_patterns == 30


def test_spec_round_trip_and_validation():
    spec = SimulationSpec(object="grf", patterns=10)
    assert SimulationSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(ConfigError) as error:
        SimulationSpec.from_dict({"colour": "red"})
    assert error.value.problems[0][0] == "simulate.colour"
    with pytest.raises(ConfigError) as error:
        SimulationSpec(N=33, patterns=0, scan="spiral").validate()
    fields = {field for field, _ in error.value.problems}
    assert {"simulate.N", "simulate.patterns", "simulate.scan"} <= fields


def test_spec_from_goldballs_file(shared_data):
    path = shared_data / "goldballs_recon.npz"
    spec = SimulationSpec(object=f"file:{path}", probe=f"file:{path}", patterns=40,
                          step_px=5.0, photons=1e5)
    scan = simulate_from_spec(spec)
    assert scan.warnings == ()
    assert scan.metadata.object_pixel_m == pytest.approx(11.13e-9, rel=1e-3)
    with pytest.raises(ConfigError):
        simulate_from_spec(SimulationSpec(object=f"file:{path}", patterns=5000, step_px=6.0))


def test_command_line_flags_build_the_spec():
    import argparse

    from ptycho_engine.cli.simulate_arguments import add_simulation_arguments, spec_from_arguments

    parser = argparse.ArgumentParser()
    add_simulation_arguments(parser)
    args = parser.parse_args(["--object", "grf", "--patterns", "200", "--N", "32", "--step",
                              "4", "--photons", "1e5", "--seed", "7", "--no-noise"])
    assert spec_from_arguments(args) == SimulationSpec(object="grf", patterns=200, N=32,
                                                       step_px=4.0, photons=1e5, seed=7,
                                                       noise=False)
    assert spec_from_arguments(parser.parse_args([])) == SimulationSpec()
    with pytest.raises(ConfigError):
        spec_from_arguments(parser.parse_args(["--N", "31"]))
