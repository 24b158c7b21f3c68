"""`ptycho-engine simulate` and `inspect`, and one-line errors with exit code 2."""

import json

import numpy as np
import pytest

from .conftest import run_cli


def test_inspect_demo_scan_text_and_json(demo_scan):
    text = run_cli("inspect", demo_scan)
    assert text.returncode == 0, text.stderr
    assert "840" in text.stdout and "64" in text.stdout
    as_json = run_cli("inspect", demo_scan, "--json")
    summary = json.loads(as_json.stdout)
    assert summary["patterns"] == 840 and summary["N"] == 64
    assert 0.9e6 < summary["mean_photons_per_pattern"] < 1.1e6
    assert summary["warnings"] == []


def test_simulate_writes_a_loadable_scan(small_scan):
    with np.load(small_scan, allow_pickle=False) as data:
        assert data["diffraction"].shape == (96, 32, 32)
        assert data["probeGuess"].shape == (32, 32)
        assert "objectGuess" in data.files


def test_inspect_near_field_cxi_reports_geometry_and_warning(shared_data):
    result = run_cli("inspect", shared_data / "petra3_p25_nearfield.cxi", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["patterns"] == 200 and summary["N"] == 100
    assert summary["detector_distance_m"] == pytest.approx(1.12, rel=1e-3)
    assert any("near-field" in warning for warning in summary["warnings"])


@pytest.mark.parametrize("content, expected", [
    (None, "not found"),
    (b"", "empty"),
    (b"PK\x03\x04 truncated", "truncated"),
])
def test_bad_files_give_one_line_and_exit_2(tmp_path, content, expected):
    path = tmp_path / "bad.npz"
    if content is not None:
        path.write_bytes(content)
    result = run_cli("inspect", path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "bad.npz" in lines[0] and expected in lines[0].lower()
    assert "Traceback" not in result.stderr


def test_bad_setting_is_one_line(small_scan, tmp_path):
    result = run_cli("train", "--scan", small_scan, "--out", tmp_path / "run",
                     "--set", "training.epoch=3")
    assert result.returncode == 2
    assert "did you mean 'training.epochs'" in result.stderr
    assert "Traceback" not in result.stderr


def test_version():
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.startswith("ptycho-engine ")
