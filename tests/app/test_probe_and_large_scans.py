"""The probe viewer (facts, loading a probe with a shape check), a 100,000-pattern lazy HDF5 scan
browsed on demand, and the near-field warning of the real P25 file."""

from __future__ import annotations

import time
from pathlib import Path

import h5py
import numpy as np
from PySide6.QtWidgets import QLabel, QSpinBox, QWidget

from ptycho_engine import probe_properties

from .bad_files import write_lazy_cxi
from .conftest import wait_for_scans


def test_probe_view_shows_amplitude_phase_and_engine_facts(qtbot, make_window,
                                                          tiny_scan_file: Path):
    window = make_window([tiny_scan_file])
    wait_for_scans(qtbot, window, 1)
    probe = window.session.current_scan().scan.probe
    view = window.findChild(QWidget, "probeView")
    assert np.allclose(view.amplitude_view.displayed_image(), np.abs(probe))
    assert np.allclose(view.phase_view.displayed_image(), np.angle(probe))
    info = window.findChild(QLabel, "probeInfo").text()
    # Gaussian amplitude with sigma 2.5 px: intensity FWHM = 2 * 2.5 * sqrt(ln 2) = 4.16 px
    assert "FWHM 4.2 px (x) × 4.2 px (y)" in info
    assert f"{float((np.abs(probe) ** 2).sum()):.4g}" in info


def test_loading_a_probe_replaces_it_and_a_wrong_shape_is_refused(qtbot, make_window, dialogs,
                                                                  tiny_scan_file: Path,
                                                                  tmp_path: Path):
    window = make_window([tiny_scan_file])
    wait_for_scans(qtbot, window, 1)
    original = window.session.current_scan().scan.probe.copy()
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.ones((20, 20), np.complex64))
    dialogs.files_to_open = [wrong]
    window.findChild(QWidget, "loadProbeButton").click()
    qtbot.waitUntil(lambda: len(dialogs.errors) == 1 and not window.jobs.busy)
    title, text, _ = dialogs.errors[-1]
    assert title == "Load probe" and "wrong.npy" in text and "(16, 16)" in text
    assert np.array_equal(window.session.current_scan().scan.probe, original)

    new_probe = (np.outer(np.hanning(16), np.hanning(16)) * np.exp(0.5j)).astype(np.complex64)
    good = tmp_path / "probe.h5"
    with h5py.File(good, "w") as file:
        file["entry_1/instrument_1/source_1/illumination"] = new_probe
    dialogs.files_to_open = [good]
    window.findChild(QWidget, "loadProbeButton").click()
    qtbot.waitUntil(lambda: not window.jobs.busy
                    and "probe_file" in window.session.current_scan().scan.metadata.extra)
    entry = window.session.current_scan()
    assert np.array_equal(entry.scan.probe, new_probe)
    assert "loaded from probe.h5" in window.findChild(QLabel, "probeInfo").text()
    assert np.allclose(window.findChild(QWidget, "probeView").phase_view.displayed_image(),
                       np.angle(new_probe))
    assert entry.summary["probe_diameter_px"] == probe_properties(new_probe)["diameter_px"]
    assert len(dialogs.errors) == 1


def test_browsing_a_100000_pattern_hdf5_scan_reads_patterns_on_demand(qtbot, make_window,
                                                                      tmp_path: Path):
    path = write_lazy_cxi(tmp_path / "big.cxi", 100_000)
    window = make_window([path])
    wait_for_scans(qtbot, window, 1, timeout=30000)
    scan = window.session.current_scan().scan
    assert scan.is_lazy and scan.n_patterns == 100_000
    index_box = window.findChild(QSpinBox, "patternIndex")
    view = window.findChild(QWidget, "diffractionView")
    start = time.perf_counter()
    steps = list(range(0, 100_000, 997))[:100]
    for index in steps:
        index_box.setValue(index)
        window.diffraction_viewer._draw()  # what the coalescing timer does next
    per_step = (time.perf_counter() - start) / len(steps)
    assert per_step < 0.05, f"{per_step * 1000:.1f} ms per pattern"
    index_box.setValue(50_000)
    qtbot.waitUntil(lambda: np.allclose(view.image(), 15.0))  # the pattern written there
    index_box.setValue(3)
    qtbot.waitUntil(lambda: np.allclose(view.image(), 4.0))  # an unwritten one: fill value
    assert window.session.mean_pattern(1) is None  # nothing read the whole stack


def test_near_field_warning_of_the_real_p25_file(qtbot, make_window, shared_data: Path):
    window = make_window([shared_data / "petra3_p25_nearfield.cxi"])
    wait_for_scans(qtbot, window, 1)
    warnings = window.findChild(QLabel, "scanWarnings").text()
    assert "near-field geometry" in warnings
    assert "far-field PtychoPINN model does not apply" in warnings
    table = window.scan_browser.details.table
    rows = {table.item(r, 0).text(): table.item(r, 1).text() for r in range(table.rowCount())}
    assert rows["energy"] == "12.66 keV" and rows["detector distance"] == "1.12 m"
    assert rows["detector pixel"] == "55 µm"
