"""Small scan files for the app tests: one good NPZ and a corpus of broken ones.

Written with numpy/h5py only (no engine code), so the files are what another
program could hand to the app.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import h5py
import numpy as np

DETECTOR = "entry_1/instrument_1/detector_1"


def good_arrays(n: int = 30, N: int = 16, seed: int = 0) -> dict[str, np.ndarray]:
    """Valid PtychoPINN NPZ arrays: (n, N, N) amplitudes, a grid of positions, a Gaussian probe."""
    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(n)))
    grid = np.stack(np.meshgrid(np.arange(side), np.arange(side)), axis=-1).reshape(-1, 2)[:n]
    positions = N / 2 + 2.0 + 3.0 * grid + rng.uniform(-0.3, 0.3, (n, 2))
    yy, xx = np.mgrid[:N, :N] - N / 2
    probe = (np.exp(-(xx**2 + yy**2) / (2 * 2.5**2)) * np.exp(0.2j * xx)).astype(np.complex64)
    return {
        "diffraction": (rng.random((n, N, N)) * 10).astype(np.float32),
        "xcoords": positions[:, 0],
        "ycoords": positions[:, 1],
        "probeGuess": probe,
    }


def write_good_npz(path: Path, **changes: np.ndarray | None) -> Path:
    """A valid NPZ scan; keyword arrays replace keys (None drops one)."""
    arrays = good_arrays()
    arrays.update(changes)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


def write_bad_files(folder: Path) -> dict[str, tuple[Path, str]]:
    """Every broken file of the foundation's list: name -> (path, a fragment of the message)."""
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, tuple[Path, str]] = {}

    empty = folder / "empty.npz"
    empty.write_bytes(b"")
    files["empty"] = (empty, "empty")

    text = folder / "notes.npz"
    text.write_text("x, y\n1, 2\n")
    files["unknown format"] = (text, "unknown file format")

    truncated = write_good_npz(folder / "truncated.npz")
    truncated.write_bytes(truncated.read_bytes()[: truncated.stat().st_size // 2])
    files["truncated npz"] = (truncated, "truncated or corrupt")

    files["missing diffraction"] = (write_good_npz(folder / "nodiff.npz", diffraction=None),
                                    "no diffraction data")
    files["missing xcoords"] = (write_good_npz(folder / "noxcoords.npz", xcoords=None),
                                "xcoords")
    files["missing probe"] = (write_good_npz(folder / "noprobe.npz", probeGuess=None),
                              "probeGuess")

    nan = good_arrays()["diffraction"]
    nan[4, 2, 2] = np.nan
    files["NaN pattern"] = (write_good_npz(folder / "nan.npz", diffraction=nan), "pattern 4")

    negative = good_arrays()["diffraction"]
    negative[6, 1, 1] = -2.0
    files["negative pattern"] = (write_good_npz(folder / "negative.npz", diffraction=negative),
                                 "negative")

    files["non-square"] = (write_good_npz(folder / "rect.npz",
                                          diffraction=good_arrays()["diffraction"][:, :, :12]),
                           "square")
    files["probe shape"] = (write_good_npz(folder / "probeshape.npz",
                                           probeGuess=np.ones((20, 20), np.complex64)),
                            "(20, 20)")
    files["complex diffraction"] = (
        write_good_npz(folder / "complex.npz",
                       diffraction=good_arrays()["diffraction"].astype(np.complex64)),
        "complex")
    files["position count"] = (write_good_npz(folder / "count.npz",
                                              xcoords=good_arrays()["xcoords"][:-1],
                                              ycoords=good_arrays()["ycoords"][:-1]),
                               "positions")

    pickled = np.empty(30, dtype=object)
    pickled[:] = [{"x": i} for i in range(30)]
    files["pickled"] = (write_good_npz(folder / "pickled.npz", xcoords=pickled), "pickled")

    corrupt = folder / "corrupt_member.npz"
    np.savez_compressed(corrupt, **good_arrays())
    with zipfile.ZipFile(corrupt) as archive:
        info = archive.getinfo("diffraction.npy")
    data = bytearray(corrupt.read_bytes())
    middle = info.header_offset + 30 + len(info.filename) + info.compress_size // 2
    data[middle:middle + 16] = bytes(255 - b for b in data[middle:middle + 16])
    corrupt.write_bytes(bytes(data))
    files["corrupt member"] = (corrupt, "truncated or corrupt")

    hdf5 = folder / "truncated.cxi"
    with h5py.File(hdf5, "w") as file:
        file.create_dataset(f"{DETECTOR}/data", data=np.ones((40, 16, 16), np.float32))
    hdf5.write_bytes(hdf5.read_bytes()[: hdf5.stat().st_size // 2])
    files["truncated hdf5"] = (hdf5, "truncated or corrupt")

    files["missing file"] = (folder / "nowhere.npz", "not found")
    return files


def write_lazy_cxi(path: Path, n: int, N: int = 16) -> Path:
    """A CXI file with ``n`` patterns that costs almost no disk: unwritten chunks read as a
    fill value, and a few patterns get distinct values so reads can be checked."""
    with h5py.File(path, "w") as file:
        data = file.create_dataset(f"{DETECTOR}/data", shape=(n, N, N), dtype="u2",
                                   chunks=(1, N, N), fillvalue=4, compression="gzip")
        for index in (0, 1, n // 2, n - 1):
            data[index] = np.full((N, N), 9 + index % 7, dtype=np.uint16)
        file[f"{DETECTOR}/distance"] = 1.5
        file[f"{DETECTOR}/x_pixel_size"] = 75e-6
        file[f"{DETECTOR}/y_pixel_size"] = 75e-6
        file["entry_1/instrument_1/source_1/energy"] = 1.2e-15
        side = int(np.ceil(np.sqrt(n)))
        grid = np.stack(np.meshgrid(np.arange(side), np.arange(side)), axis=-1)
        file["entry_1/sample_1/geometry_1/translation"] = np.concatenate(
            [grid.reshape(-1, 2)[:n] * 2e-7, np.zeros((n, 1))], axis=1)
    return path
