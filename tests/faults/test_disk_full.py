"""A full disk (ENOSPC) in the middle of a write: a clear error, the old file intact.

The fault is injected into ``ptycho_engine.core.atomic``'s file handle (see
conftest.DiskFull): part of the data reaches the disk, then the write fails,
or every write succeeds and the fsync fails (network file systems).
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from ptycho_engine.core.errors import FileWriteError, PtychoError, TrainingError
from ptycho_engine.data.scan import Scan
from ptycho_engine.model.checkpoint import read_checkpoint

from .conftest import tiny_config

FAULTS = [pytest.param({"budget": 0}, id="first-write"),
          pytest.param({"budget": 4096}, id="mid-file"),
          pytest.param({"at_fsync": True}, id="at-fsync")]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def leftovers(folder: Path) -> list[str]:
    """Temp files a failed write left behind (there must be none)."""
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def with_geometry(scan: Scan) -> Scan:
    """The scan with the beamline geometry CXI needs (8 keV, 2 m, 75 um pixels)."""
    meta = scan.metadata.replace(energy_eV=8000.0, wavelength_m=1.5498e-10,
                                 detector_distance_m=2.0, detector_pixel_m=75e-6)
    return Scan(scan.diffraction, scan.positions, scan.probe, ground_truth=scan.ground_truth,
                metadata=meta)


def assert_clear_no_space_error(error: BaseException, path: Path) -> None:
    text = str(error)
    assert isinstance(error, PtychoError)
    assert "no space left on device" in text and str(path) in text, text
    assert "free space" in text, text


@pytest.mark.filterwarnings("ignore:The dirpath has changed")
def test_checkpoint_on_full_disk_keeps_the_previous_checkpoint(trained, tiny_scan, tmp_path,
                                                               disk_full):
    from ptycho_engine.training.fit import train

    run = tmp_path / "run"
    shutil.copytree(trained.run_dir, run)
    last = run / "checkpoints" / "last.ckpt"
    before = digest(last)
    disk_full.fail(".ckpt", budget=1024)
    with pytest.raises(TrainingError) as caught:
        train(tiny_scan, tiny_config(**{"training.epochs": 3}), resume_from=run, run_dir=run)
    assert disk_full.failed, "the fault was never triggered"
    assert_clear_no_space_error(caught.value, disk_full.failed[0])
    assert "--resume" in str(caught.value)
    assert digest(last) == before
    assert read_checkpoint(last)["epoch"] == 0  # still the first epoch's weights
    assert leftovers(run / "checkpoints") == []


@pytest.mark.parametrize("fault", FAULTS)
def test_bundle_export_on_full_disk_keeps_the_previous_bundle(trained, tmp_path, disk_full,
                                                              fault):
    from ptycho_engine.bundle import export_bundle, load_bundle

    path = tmp_path / "model.ptyz"
    export_bundle(trained, path)
    before = digest(path)
    disk_full.fail("model.ptyz", **fault)
    with pytest.raises(FileWriteError) as caught:
        export_bundle(trained.module, path)
    assert_clear_no_space_error(caught.value, path)
    assert isinstance(caught.value, OSError) and caught.value.errno == 28
    assert digest(path) == before
    bundle = load_bundle(path)
    assert bundle.manifest["training"]["epochs"] == 1  # the first export, not the second
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("fault", FAULTS)
def test_reconstruction_save_on_full_disk_keeps_the_previous_result(trained, tiny_scan,
                                                                    tmp_path, disk_full, fault):
    from ptycho_engine.outputs.results import load_reconstruction, save_reconstruction
    from ptycho_engine.reconstruction.inference import reconstruct

    recon = reconstruct(trained.module, tiny_scan)
    path = tmp_path / "recon.npz"
    save_reconstruction(recon, path)
    before = digest(path)
    changed = type(recon)(object=recon.object * 2, offset=recon.offset, weight=recon.weight,
                          positions=recon.positions, source=recon.source)
    disk_full.fail("recon.npz", **fault)
    with pytest.raises(FileWriteError) as caught:
        save_reconstruction(changed, path)
    assert_clear_no_space_error(caught.value, path)
    assert digest(path) == before
    np.testing.assert_array_equal(load_reconstruction(path).object, recon.object)
    assert leftovers(tmp_path) == []


def test_reconstruct_cli_reports_a_full_disk_on_one_line(trained, tiny_scan_file, tmp_path,
                                                         disk_full, capsys):
    """The batch command names the scan and the reason, and exits 2 (in-process CLI)."""
    from ptycho_engine.cli import main

    out = tmp_path / "recon.npz"
    disk_full.fail("recon.npz", budget=100)
    status = main(["reconstruct", "--model", str(trained.run_dir), "--scan",
                   str(tiny_scan_file), "--out", str(out)])
    err = capsys.readouterr().err
    assert status == 2
    assert "FAILED" in err and "no space left on device" in err and str(out) in err, err
    assert not out.exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize("writer", ["scan-npz", "scan-cxi", "config", "history"])
def test_other_writers_on_full_disk_keep_the_previous_file(writer, tiny_scan, trained,
                                                           tmp_path, disk_full):
    """Every engine writer goes through atomic_write, so each fails the same clear way."""
    from ptycho_engine.core.config import load_config, save_config
    from ptycho_engine.data.io import load_scan, save_scan
    from ptycho_engine.simulation import SimulationSpec, simulate_from_spec
    from ptycho_engine.training.run_folder import read_history, write_history

    if writer.startswith("scan"):
        suffix = ".npz" if writer == "scan-npz" else ".cxi"
        path = tmp_path / f"scan{suffix}"
        save_scan(with_geometry(tiny_scan), path)
        other = with_geometry(simulate_from_spec(SimulationSpec(N=32, patterns=20, step_px=3.0,
                                                                seed=3)))

        def write():
            save_scan(other, path)

        def check():
            assert load_scan(path).n_patterns == tiny_scan.n_patterns
    elif writer == "config":
        path = tmp_path / "config.toml"
        save_config(tiny_config(), path)

        def write():
            save_config(tiny_config(**{"training.epochs": 7}), path)

        def check():
            assert load_config(path) == tiny_config()
    else:
        path = tmp_path / "history.csv"
        write_history(path, trained.history)

        def write():
            write_history(path, trained.history * 2)

        def check():
            assert read_history(path) == trained.history
    before = digest(path)
    # CXI is written by HDF5 through its own stream on the same file: fail at fsync.
    disk_full.fail(path.name, at_fsync=writer == "scan-cxi", budget=64)
    with pytest.raises(FileWriteError) as caught:
        write()
    assert_clear_no_space_error(caught.value, path)
    assert digest(path) == before
    check()
    assert leftovers(tmp_path) == []


def test_checkpoint_files_are_written_atomically_with_fsync(trained, tiny_scan, tmp_path,
                                                            monkeypatch):
    """Checkpoints go through atomic_write (one temp file, fsync, replace), not Lightning's
    writer: a kill at any moment leaves either the old or the new checkpoint."""
    import ptycho_engine.core.atomic as atomic
    from ptycho_engine.training.fit import train

    synced: list[int] = []
    real_fsync = atomic.os.fsync

    def counting_fsync(fd):
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(atomic.os, "fsync", counting_fsync)
    run = tmp_path / "run"
    train(tiny_scan, tiny_config(**{"training.epochs": 1}), run_dir=run)
    # config.toml, run.json x2, history.csv, best.ckpt, last.ckpt
    assert len(synced) >= 6
    state = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert state["epoch"] == 0 and "state_dict" in state
