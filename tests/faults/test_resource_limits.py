"""Files that declare absurd sizes are refused before memory is allocated.

Each load runs under tracemalloc (numpy and h5py reads are traced); the peak
must stay tiny next to what the file declares.
"""

from __future__ import annotations

import io
import tracemalloc
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest

from ptycho_engine.core.errors import ScanFormatError
from ptycho_engine.data.io import load_scan, summarize_scan

from .fuzz_inputs import base_arrays, npy_with_declared_shape, npz_bytes, write_base_cxi

PEAK_LIMIT = 32 * 1024**2  # bytes: what a refused load may allocate at most


def refused_cheaply(path: Path, *fragments: str) -> str:
    """Load ``path``: ScanFormatError naming the file and ``fragments``, low peak memory."""
    tracemalloc.start()
    try:
        with pytest.raises(ScanFormatError) as caught:
            load_scan(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    message = str(caught.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message, message
    assert peak < PEAK_LIMIT, f"peak {peak / 1e6:.0f} MB while refusing {path.name}"
    return message


def npz_with_members(path: Path, members: dict[str, bytes]) -> Path:
    """The tiny valid scan with some members replaced by raw bytes."""
    with zipfile.ZipFile(io.BytesIO(npz_bytes(base_arrays()))) as archive:
        contents = {info.filename: archive.read(info) for info in archive.infolist()}
    contents.update(members)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in contents.items():
            archive.writestr(name, data)
    return path


def test_npz_declaring_a_trillion_patterns(tmp_path):
    header = npy_with_declared_shape((10**12, 8, 8))
    path = npz_with_members(tmp_path / "huge.npz", {"diffraction.npy": header})
    refused_cheaply(path, "diffraction", "1000000000000", "more than the")


def test_npz_member_declaring_more_than_it_holds(tmp_path):
    """A header for 4000 patterns over the data of 12: truncated or crafted, refused unread."""
    header = npy_with_declared_shape((4000, 8, 8), data=b"\0" * (12 * 8 * 8 * 4))
    path = npz_with_members(tmp_path / "short.npz", {"diffraction.npy": header})
    refused_cheaply(path, "diffraction", "holds only", "truncated")


def test_npz_zip_bomb_is_refused_before_inflating(tmp_path, monkeypatch):
    """~200 kB that inflate to 200 MB of zeros, on a computer that can hold only 64 MB.

    The memory limit is lowered so the test means the same on every machine.
    """
    import ptycho_engine.data.io.npz as npz

    monkeypatch.setattr(npz, "memory_limit_bytes", lambda: 64 * 1024**2)
    path = tmp_path / "bomb.npz"
    patterns = 200 * 1024**2 // (64 * 64 * 4)
    with zipfile.ZipFile(io.BytesIO(npz_bytes(base_arrays()))) as archive:
        contents = {info.filename: archive.read(info) for info in archive.infolist()
                    if info.filename != "diffraction.npy"}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in contents.items():
            archive.writestr(name, data)
        with archive.open("diffraction.npy", "w", force_zip64=True) as member:
            header = npy_with_declared_shape((patterns, 64, 64), data=b"")
            member.write(header)
            zeros = bytes(1024**2)
            for _ in range(200):
                member.write(zeros)
    assert path.stat().st_size < 2 * 1024**2
    refused_cheaply(path, "diffraction", "more than the", "CXI/HDF5")


def test_npz_overlapping_members_adding_up_to_too_much(tmp_path, monkeypatch):
    """Many members each below the limit but together above it: refused as one archive."""
    import ptycho_engine.data.io.npz as npz

    monkeypatch.setattr(npz, "memory_limit_bytes", lambda: 16 * 1024**2)
    block = npy_with_declared_shape((1024, 32, 32), data=bytes(1024 * 32 * 32 * 4))
    members = {f"extra_{k}.npy": block for k in range(6)}  # 6 x 4 MB declared
    path = npz_with_members(tmp_path / "many.npz", members)
    refused_cheaply(path, "members declare", "more than the")


def make_cxi_with_huge_data(path: Path, patterns: int, translation_rows: int) -> Path:
    """A CXI file whose diffraction declares ``patterns`` chunked frames, none written."""
    write_base_cxi(path)
    with h5py.File(path, "r+") as file:
        detector = file["entry_1/instrument_1/detector_1"]
        del detector["data"]
        detector.create_dataset("data", shape=(patterns, 8, 8), dtype=np.float32,
                                chunks=(1, 8, 8))
        del file["entry_1/sample_1/geometry_1/translation"]
        file.create_dataset("entry_1/sample_1/geometry_1/translation",
                            shape=(translation_rows, 3), dtype=np.float64,
                            chunks=(min(translation_rows, 1024), 3))
    return path


def test_cxi_with_a_trillion_patterns_and_positions_is_refused(tmp_path):
    path = make_cxi_with_huge_data(tmp_path / "huge.cxi", 10**12, 10**12)
    refused_cheaply(path, "translation", "more than the")


def test_cxi_with_a_trillion_patterns_but_few_positions_is_refused(tmp_path):
    path = make_cxi_with_huge_data(tmp_path / "mismatch.cxi", 10**12, 12)
    refused_cheaply(path, "translation", "12 positions", "1000000000000")


def test_cxi_huge_scalar_or_probe_is_refused_unread(tmp_path):
    path = tmp_path / "scalar.cxi"
    write_base_cxi(path)
    with h5py.File(path, "r+") as file:
        source = file["entry_1/instrument_1/source_1"]
        del source["energy"], source["wavelength"]
        source.create_dataset("energy", shape=(10**12,), dtype=np.float64, chunks=(4096,))
    refused_cheaply(path, "source_1/energy", "expected one positive number")
    with h5py.File(path, "r+") as file:
        source = file["entry_1/instrument_1/source_1"]
        del source["energy"], source["illumination"]
        source["energy"] = 8000 * 1.602176634e-19
        modes = source.create_dataset("illumination", shape=(10**9, 8, 8), dtype=np.complex64,
                                      chunks=(1, 8, 8))
        modes[0] = base_arrays()["probeGuess"]
    # a (modes, N, N) probe: only the first mode is read, so 10^9 modes cost nothing
    tracemalloc.start()
    try:
        scan = load_scan(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert scan.metadata.extra["probe_modes"] == 10**9 and peak < PEAK_LIMIT


def test_lazy_cxi_with_many_patterns_is_inspected_without_reading_it_all(tmp_path):
    """A large but honest lazy scan: loading and `inspect` read a few patterns, not all."""
    path = tmp_path / "large.cxi"
    write_base_cxi(path, N=32)
    n = 200_000  # 200,000 x 32 x 32 float32 = 819 MB declared; positions 4.8 MB
    with h5py.File(path, "r+") as file:
        detector = file["entry_1/instrument_1/detector_1"]
        del detector["data"]
        data = detector.create_dataset("data", shape=(n, 32, 32), dtype=np.float32,
                                       chunks=(64, 32, 32), fillvalue=1.0)
        data[:10] = 4.0
        del file["entry_1/sample_1/geometry_1/translation"]
        rows = np.zeros((n, 3))
        rows[:, 0] = -(np.arange(n) % 500) * 1e-8
        rows[:, 1] = -(np.arange(n) // 500) * 1e-8
        file["entry_1/sample_1/geometry_1/translation"] = rows
    tracemalloc.start()
    try:
        scan = load_scan(path)
        summary = summarize_scan(scan)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert scan.is_lazy and scan.n_patterns == n and summary["patterns"] == n
    assert peak < 100 * 1024**2, f"peak {peak / 1e6:.0f} MB"  # not the 819 MB declared
