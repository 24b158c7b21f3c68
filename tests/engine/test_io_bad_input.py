"""Bad scan files: each raises ScanFormatError naming the file and the problem; odd scans warn."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest

from ptycho_engine.core.errors import ScanFormatError
from ptycho_engine.data.io import load_scan, save_scan

from .test_io_cxi import DETECTOR, write_foreign_cxi
from .test_io_npz import make_arrays, make_scan


def write_npz(path: Path, **changes) -> Path:
    """A valid PtychoPINN NPZ with some keys replaced (None drops a key)."""
    diffraction, positions, probe, obj = make_arrays(11)
    arrays = {"diffraction": diffraction, "xcoords": positions[:, 0],
              "ycoords": positions[:, 1], "probeGuess": probe, "objectGuess": obj}
    arrays.update(changes)
    np.savez(path, **{key: value for key, value in arrays.items() if value is not None})
    return path


def refused(path: Path, *fragments: str, intensities: bool = False) -> str:
    """Load ``path``, expect ScanFormatError, check it names the file and every fragment."""
    with pytest.raises(ScanFormatError) as caught:
        load_scan(path, intensities=intensities)
    message = str(caught.value)
    assert path.name in message, message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


class Planted:
    """Unpickling this object would create a folder: proof that no pickled code ran."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def member_dtype(path: Path, key: str) -> np.dtype:
    """The dtype in a member's .npy header, read without unpickling anything."""
    with zipfile.ZipFile(path) as archive, archive.open(f"{key}.npy") as member:
        major, _ = np.lib.format.read_magic(member)
        read_header = (np.lib.format.read_array_header_1_0 if major == 1
                       else np.lib.format.read_array_header_2_0)
        return read_header(member)[2]


def test_missing_file(tmp_path: Path):
    refused(tmp_path / "nowhere.npz", "not found")


def test_empty_file(tmp_path: Path):
    path = tmp_path / "empty.npz"
    path.write_bytes(b"")
    refused(path, "empty (0 bytes)")


def test_unknown_format_lists_the_known_ones(tmp_path: Path):
    path = tmp_path / "notes.npz"
    path.write_text("x, y\n1, 2\n")
    refused(path, "unknown file format", "NPZ", "CXI/HDF5")


def test_truncated_npz(tmp_path: Path):
    path = write_npz(tmp_path / "truncated.npz")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    refused(path, "truncated or corrupt")


def test_corrupt_npz_member(tmp_path: Path):
    path = tmp_path / "corrupt.npz"
    save_scan(make_scan(), path)  # compressed members
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("diffraction.npy")
    data = bytearray(path.read_bytes())
    middle = info.header_offset + 30 + len(info.filename) + info.compress_size // 2
    data[middle:middle + 16] = bytes(255 - b for b in data[middle:middle + 16])
    path.write_bytes(bytes(data))
    refused(path, "truncated or corrupt")


def test_truncated_hdf5(tmp_path: Path):
    path = tmp_path / "truncated.cxi"
    save_scan(make_scan(), path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    refused(path, "truncated or corrupt")


def test_missing_diffraction_key(tmp_path: Path):
    refused(write_npz(tmp_path / "nodiff.npz", diffraction=None), "diffraction", "diff3d",
            "'probeGuess'", "'xcoords'")


def test_real_reconstruction_without_diffraction(shared_data: Path):
    message = refused(shared_data / "goldballs_recon.npz", "no diffraction data")
    for key in ("objectGuess", "probeGuess", "xcoords", "ycoords", "object_pixel_m"):
        assert key in message


@pytest.mark.parametrize("dropped", ["xcoords", "ycoords"])
def test_missing_coordinates(tmp_path: Path, dropped: str):
    refused(write_npz(tmp_path / f"no_{dropped}.npz", **{dropped: None}), dropped, "missing")


def test_position_count_differs_from_pattern_count(tmp_path: Path):
    _, positions, _, _ = make_arrays(11)
    path = write_npz(tmp_path / "count.npz", xcoords=positions[:-1, 0],
                     ycoords=positions[:-1, 1])
    refused(path, "xcoords/ycoords", "11 positions", "12 diffraction patterns")


def test_non_square_patterns(tmp_path: Path):
    diffraction = make_arrays(11)[0][:, :, :12]
    refused(write_npz(tmp_path / "rect.npz", diffraction=diffraction), "diffraction",
            "16x12", "square")


def test_probe_shape_differs_from_pattern_shape(tmp_path: Path):
    refused(write_npz(tmp_path / "probe.npz", probeGuess=np.ones((20, 20), np.complex64)),
            "probeGuess", "(20, 20)", "(16, 16)")


@pytest.mark.parametrize("value, word", [(np.nan, "NaN"), (np.inf, "Inf"), (-1.0, "negative")])
def test_bad_values_name_the_pattern(tmp_path: Path, value: float, word: str):
    diffraction = make_arrays(11)[0]
    diffraction[7, 3, 4] = value
    path = write_npz(tmp_path / f"bad_{word}.npz", diffraction=diffraction)
    refused(path, "diffraction", "pattern 7", word)
    refused(path, "diffraction", "pattern 7", word, intensities=True)


@pytest.mark.parametrize("value, word", [(np.nan, "NaN"), (-3.0, "negative")])
def test_bad_counts_in_cxi_name_the_pattern_when_read(tmp_path: Path, value: float, word: str):
    counts = np.full((40, 16, 16), 4.0)
    counts[20, 5, 5] = value  # not among the 16 patterns checked at load time
    path = tmp_path / f"bad_{word}.cxi"
    translation = np.zeros((40, 3)) + 1e-7 * np.arange(40)[:, None]
    probe = (f"{DETECTOR}/probe", np.ones((16, 16), np.complex64))
    write_foreign_cxi(path, counts, translation, probe=probe)
    scan = load_scan(path)
    with pytest.raises(ScanFormatError) as caught:
        scan.pattern(20)
    for fragment in (path.name, f"{DETECTOR}/data", "pattern 20", word):
        assert fragment in str(caught.value)
    with pytest.raises(ScanFormatError, match="pattern 20"):
        scan.diffraction_array()
    # the loaded scan holds no open handle, so the file can be rewritten in place
    counts[0, 0, 0] = value  # pattern 0 is always checked at load time
    write_foreign_cxi(path, counts, translation, probe=probe)
    refused(path, "pattern 0", word)


def test_complex_diffraction(tmp_path: Path):
    diffraction = make_arrays(11)[0].astype(np.complex64)
    refused(write_npz(tmp_path / "complex.npz", diffraction=diffraction), "diffraction",
            "complex")


def test_zero_patterns(tmp_path: Path):
    path = write_npz(tmp_path / "none.npz", diffraction=np.zeros((0, 16, 16), np.float32),
                     xcoords=np.zeros(0), ycoords=np.zeros(0))
    refused(path, "diffraction", "zero patterns")


def test_pickled_object_array_is_refused_without_running_it(tmp_path: Path):
    marker = tmp_path / "code_ran"
    planted = np.empty(12, dtype=object)
    planted[:] = [Planted(marker) for _ in range(12)]
    path = write_npz(tmp_path / "pickled.npz", xcoords=planted)
    assert member_dtype(path, "xcoords") == np.dtype(object)  # the trap is really there
    refused(path, "xcoords", "pickled", "not loaded for safety")
    assert not marker.exists()


def test_pickled_metadata_is_skipped_and_never_run(tmp_path: Path):
    marker = tmp_path / "metadata_ran"
    planted = np.empty((), dtype=object)
    planted[()] = Planted(marker)
    path = write_npz(tmp_path / "with_metadata.npz", _metadata=planted)
    assert member_dtype(path, "_metadata") == np.dtype(object)
    scan = load_scan(path)
    assert scan.n_patterns == 12
    assert not marker.exists()


def test_cxi_without_detector_distance(tmp_path: Path):
    path = tmp_path / "nodistance.cxi"
    write_foreign_cxi(path, np.ones((4, 16, 16)), np.zeros((4, 3)), distance=None)
    refused(path, f"{DETECTOR}/distance", "missing", "cannot be converted to pixels")


def test_cxi_without_energy_or_wavelength(tmp_path: Path):
    path = tmp_path / "noenergy.cxi"
    write_foreign_cxi(path, np.ones((4, 16, 16)), np.zeros((4, 3)), energy_J=None)
    refused(path, "entry_1/instrument_1/source_1/energy", "wavelength")


def test_cxi_without_translation_or_data(tmp_path: Path):
    path = tmp_path / "notranslation.cxi"
    write_foreign_cxi(path, np.ones((4, 16, 16)), np.zeros((4, 3)))
    with h5py.File(path, "a") as file:
        del file["entry_1/sample_1/geometry_1/translation"]
    refused(path, "entry_1/sample_1/geometry_1/translation", "missing")
    with h5py.File(path, "a") as file:
        del file[f"{DETECTOR}/data"]
    refused(path, "no diffraction data", f"{DETECTOR}/data", "entry_1/data_1/data")


def test_cxi_non_square_and_complex_data(tmp_path: Path):
    path = tmp_path / "shape.cxi"
    write_foreign_cxi(path, np.ones((4, 16, 12)), np.zeros((4, 3)))
    refused(path, f"{DETECTOR}/data", "(4, 16, 12)", "square")
    write_foreign_cxi(path, np.ones((4, 16, 16), np.complex64), np.zeros((4, 3)))
    refused(path, f"{DETECTOR}/data", "complex64")


def test_cxi_with_non_square_detector_pixels(tmp_path: Path):
    path = tmp_path / "rectpixels.cxi"
    write_foreign_cxi(path, np.ones((4, 16, 16)), np.zeros((4, 3)))
    with h5py.File(path, "a") as file:
        file[f"{DETECTOR}/y_pixel_size"][()] = 150e-6
    refused(path, f"{DETECTOR}/y_pixel_size", "non-square detector pixels")


def test_odd_scans_load_with_warnings(tmp_path: Path):
    diffraction, positions, probe, _ = make_arrays(11)
    positions[3] = positions[2]  # a duplicated position
    diffraction[5] = 0.0  # an all-zero pattern
    path = write_npz(tmp_path / "odd.npz", diffraction=diffraction, xcoords=positions[:, 0],
                     ycoords=positions[:, 1], objectGuess=np.ones((20, 20), np.complex64))
    warnings = load_scan(path).warnings
    assert any("1 duplicate scan positions" in w for w in warnings), warnings
    assert any("1 all-zero patterns" in w for w in warnings), warnings
    assert any("beyond the 20x20 object" in w for w in warnings), warnings
    assert load_scan(write_npz(tmp_path / "fine.npz")).warnings == ()
