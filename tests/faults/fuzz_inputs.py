"""Valid tiny input files and hypothesis strategies that damage them in many ways.

Byte-level damage (truncation, bit flips, overwritten or inserted bytes) hits
any format; structured damage (dropped or renamed keys, wrong dtypes and
shapes, NaN/Inf, empty arrays, absurd declared sizes) is built per format
with the format's own library, so it reaches the deeper checks of a reader.
"""

from __future__ import annotations

import functools
import io
import json
import warnings
import zipfile
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from hypothesis import strategies as st
from numpy.lib import format as npy_format

HUGE_LENGTHS = (10**12, 2**40, 2**62)
"""Absurd declared sizes along one axis, beyond any memory (2**62 x N x N overflows int64
bytes). Large but possible sizes are tried in test_resource_limits, not drawn here."""
ODD_DTYPES = ("int8", "uint16", "int64", "float16", "float64", "complex64", "complex128",
              "bool", "<U3", "|S2", "<M8[s]", "<m8[s]", "V8", "object")
SPECIAL_FLOATS = (np.nan, np.inf, -np.inf, -1.0, 0.0, 1e38, 1e300, -1e-300, 5e-324)


# ------------------------------------------------------------------ valid bases
def base_arrays(N: int = 8, n: int = 12) -> dict[str, np.ndarray]:
    """A tiny valid PtychoPINN NPZ: n patterns of N x N, positions, probe, object, scalars."""
    rng = np.random.default_rng(5)
    angle = np.arange(n) * 2.39996
    radius = 2.0 * np.sqrt(np.arange(n))
    yy, xx = np.mgrid[:N, :N] - N / 2
    probe = np.exp(-(xx**2 + yy**2) / (2 * (N / 6) ** 2)).astype(np.complex64)
    return {
        "diffraction": rng.random((n, N, N), dtype=np.float32) * 3,
        "xcoords": 20 + radius * np.cos(angle),
        "ycoords": 20 + radius * np.sin(angle),
        "probeGuess": probe,
        "objectGuess": np.exp(1j * rng.random((40, 40))).astype(np.complex64),
        "nphotons": np.float64(1e4),
        "energy_eV": np.float64(8000.0),
        "detector_distance_m": np.float64(2.0),
        "detector_pixel_m": np.float64(75e-6),
        "scan_index": np.zeros(n, dtype=np.int64),
    }


def npz_bytes(arrays: dict[str, Any], compressed: bool = False) -> bytes:
    buffer = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buffer, **arrays)
    return buffer.getvalue()


def npy_with_declared_shape(shape: tuple[int, ...], dtype: str = "<f4",
                            data: bytes = b"\0" * 64) -> bytes:
    """A .npy member whose header declares ``shape`` but which holds only ``data``."""
    buffer = io.BytesIO()
    npy_format.write_array_header_1_0(buffer, {"descr": dtype, "fortran_order": False,
                                                "shape": shape})
    return buffer.getvalue() + data


def zip_of(members: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> bytes:
    """A zip archive of ``members`` (stored: quick to write, read like deflated ones)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def write_base_cxi(path: Path, N: int = 8) -> None:
    """A valid tiny CXI file (12 patterns of N x N), written by the engine itself."""
    from ptycho_engine.data.io import save_scan
    from ptycho_engine.data.scan import Scan, ScanMetadata

    arrays = base_arrays(N)
    meta = ScanMetadata(energy_eV=8000.0, wavelength_m=1.5498e-10, detector_distance_m=2.0,
                        detector_pixel_m=75e-6, photons_per_pattern=1e4)
    scan = Scan(arrays["diffraction"], np.stack([arrays["xcoords"], arrays["ycoords"]], 1),
                arrays["probeGuess"], ground_truth=arrays["objectGuess"], metadata=meta)
    save_scan(scan, path, format="cxi")


# ------------------------------------------------------------ byte-level damage
@st.composite
def damaged_bytes(draw: st.DrawFn, base: bytes) -> bytes:
    """``base`` truncated, bit-flipped, overwritten, with bytes inserted, or zeroed.

    Positions favour the start (headers) and the end (zip central directory).
    """
    data = bytearray(base)
    size = len(data)
    position = st.one_of(st.integers(0, min(size - 1, 600)),
                         st.integers(max(size - 600, 0), size - 1),
                         st.integers(0, size - 1))
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["truncate", "flip", "overwrite", "insert", "zero"]))
        if not data:
            break
        size = len(data)
        at = min(draw(position), size - 1)
        if kind == "truncate":
            del data[at:]
        elif kind == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "overwrite":
            chunk = draw(st.one_of(st.binary(min_size=1, max_size=12), st.sampled_from(
                [b"\xff" * 8, b"\x00" * 8, b"\x7f\xff\xff\xff"])))
            data[at:at + len(chunk)] = chunk
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=12))
        else:
            data[at:at + draw(st.integers(1, 256))] = b"\0" * min(256, size - at)
    return bytes(data)


# -------------------------------------------------------------- array damage
def odd_array(draw: st.DrawFn, template: np.ndarray) -> Any:
    """A replacement for one array: other dtype, shape, emptiness, specials or absurd size."""
    kind = draw(st.sampled_from(["dtype", "shape", "empty", "special", "scalar", "random",
                                 "text"]))
    if kind == "dtype":
        dtype = draw(st.sampled_from(ODD_DTYPES))
        if dtype == "object":
            return np.array([{"x": 1}, None], dtype=object)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # NaN to int, complex to real: intended
                return template.astype(dtype)
        except (TypeError, ValueError):
            return np.zeros(template.shape, dtype=dtype)
    if kind == "shape":
        shape = tuple(draw(st.lists(st.integers(0, 9), min_size=0, max_size=4)))
        return np.ones(shape, dtype=template.dtype)
    if kind == "empty":
        return np.zeros((0,) + template.shape[1:], dtype=template.dtype)
    if kind == "special":
        values = np.array(template, copy=True)
        if values.dtype.kind not in "fc":
            values = values.astype(np.float64) if values.dtype.kind in "biu" \
                else np.zeros(values.shape)
        flat = values.reshape(-1)
        if flat.size:
            for _ in range(draw(st.integers(1, 4))):
                with np.errstate(over="ignore"):  # 1e300 into float32 is inf: intended
                    flat[draw(st.integers(0, flat.size - 1))] = draw(
                        st.sampled_from(SPECIAL_FLOATS))
        return values
    if kind == "scalar":
        return np.asarray(draw(st.sampled_from(SPECIAL_FLOATS + (7, True))))
    if kind == "text":
        return np.asarray(draw(st.text(max_size=8)))
    return np.asarray(draw(st.lists(st.floats(allow_nan=True, allow_infinity=True),
                                    max_size=6)))


@st.composite
def damaged_npz(draw: st.DrawFn) -> bytes:
    """A PtychoPINN NPZ with keys dropped, renamed or replaced, or sizes lied about."""
    arrays: dict[str, Any] = base_arrays()
    members: dict[str, bytes] = {}
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from(sorted(arrays)))
        kind = draw(st.sampled_from(["drop", "rename", "replace", "replace", "huge",
                                     "not-npy", "transpose"]))
        if key not in arrays:
            continue
        if kind == "drop":
            del arrays[key]
        elif kind == "rename":
            new = draw(st.one_of(st.sampled_from(["diff3d", "Diffraction", "probe", "xcoord",
                                                  "objectguess", key + "_"]),
                                 st.text(min_size=1, max_size=10)))
            arrays[new] = arrays.pop(key)
        elif kind == "replace":
            arrays[key] = odd_array(draw, np.asarray(arrays[key]))
        elif kind == "transpose" and np.ndim(arrays[key]) == 3:
            arrays[key] = np.transpose(arrays[key], (1, 2, 0))
        elif kind == "huge":
            template = np.asarray(arrays.pop(key))
            shape = (draw(st.sampled_from(HUGE_LENGTHS)),) + template.shape[1:]
            members[f"{key}.npy"] = npy_with_declared_shape(shape, template.dtype.str)
        elif kind == "not-npy":
            arrays.pop(key)
            members[draw(st.sampled_from([key, f"{key}.npy"]))] = draw(st.binary(max_size=40))
    safe_arrays = {k: v for k, v in arrays.items() if "/" not in k and "\0" not in k}
    raw = npz_bytes(safe_arrays, compressed=draw(st.booleans()))
    if not members:
        return raw
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        existing = {info.filename: archive.read(info) for info in archive.infolist()}
    existing.update(members)
    return zip_of(existing)


# -------------------------------------------------------------------- CXI damage
CXI_DATASETS = (
    "entry_1/instrument_1/detector_1/data",
    "entry_1/instrument_1/detector_1/distance",
    "entry_1/instrument_1/detector_1/x_pixel_size",
    "entry_1/instrument_1/detector_1/y_pixel_size",
    "entry_1/instrument_1/source_1/energy",
    "entry_1/instrument_1/source_1/wavelength",
    "entry_1/instrument_1/source_1/illumination",
    "entry_1/sample_1/geometry_1/translation",
    "entry_1/image_1/data",
    "entry_1/ptycho_studio/scan_index",
)


def damage_cxi(draw: st.DrawFn, path: Path) -> None:
    """Change a valid CXI file in place with h5py: drop, replace, link or re-type datasets."""
    with h5py.File(path, "r+") as file:
        for _ in range(draw(st.integers(1, 3))):
            name = draw(st.sampled_from(CXI_DATASETS + ("entry_1/instrument_1/detector_1/mask",)))
            kind = draw(st.sampled_from(["drop", "replace", "replace", "huge", "group",
                                         "dangling", "attribute"]))
            node = file.get(name)
            old = np.asarray(node[()]) if isinstance(node, h5py.Dataset) and node.size < 10**5 \
                else np.zeros((12, 8, 8), np.float32)
            if kind == "attribute":
                target = draw(st.sampled_from([
                    file.get("entry_1/sample_1/geometry_1/translation"),
                    file.get("entry_1/ptycho_studio"),
                    file.get("entry_1/instrument_1/source_1/illumination")])) or file
                attribute = draw(st.sampled_from(["object_frame_origin_px",
                                                  "photons_per_pattern", "estimated"]))
                target.attrs[attribute] = odd_attribute(draw)
                continue
            if name in file or isinstance(file.get(name, getlink=True), h5py.SoftLink):
                del file[name]
            if kind == "drop":
                continue
            if kind == "group":
                file.create_group(name)
            elif kind == "dangling":
                file[name] = h5py.SoftLink("/nowhere/at/all")
            elif kind == "huge":
                shape = (draw(st.sampled_from(HUGE_LENGTHS)),) + old.shape[1:]
                chunks = (1,) + old.shape[1:] if name.endswith("detector_1/data") else True
                file.create_dataset(name, shape=shape, dtype=np.float32, chunks=chunks)
            else:
                replacement = odd_array(draw, old)
                if replacement.dtype.kind == "U":  # HDF5 stores bytes: UTF-8 text
                    replacement = np.char.encode(replacement, "utf-8", "surrogatepass")
                elif replacement.dtype.kind in "OMmV":
                    replacement = np.asarray([b"text"] * max(replacement.size, 1))
                file.create_dataset(name, data=replacement)


def odd_attribute(draw: st.DrawFn) -> Any:
    return draw(st.sampled_from([np.array([np.nan, 1.0]), np.zeros(3), "text", np.inf, -5.0,
                                 np.array([], dtype=np.float64), True, b"\xff\xfe"]))


# ---------------------------------------------------------------- TOML damage
TOML_VALUES = st.one_of(
    st.integers(min_value=-2**63, max_value=2**63 - 1).map(str),
    st.sampled_from(["nan", "inf", "-inf", "1e400", "-0.0", "0x7fffffff", "1_000", "true",
                     "false", '""', '"cpu"', "[]", "[1, 2]", "{}", "{ a = 1 }",
                     "1979-05-27T07:32:00Z", "07:32:00", "'''x'''", '"\\u0000"']),
    st.floats(allow_nan=False).map(repr).filter(lambda text: "e" not in text or "." in text),
    st.text(max_size=12).map(json.dumps),
)


@st.composite
def damaged_toml(draw: st.DrawFn, base: str) -> bytes:
    """The config TOML with values replaced, keys or sections renamed, lines dropped."""
    lines = base.splitlines()
    settings = [i for i, line in enumerate(lines) if "=" in line and not line.startswith("#")]
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["value", "value", "key", "section", "drop", "duplicate",
                                     "garbage"]))
        index = draw(st.sampled_from(settings))
        key, _, _ = lines[index].partition("=")
        if kind == "value":
            lines[index] = f"{key.strip()} = {draw(TOML_VALUES)}"
        elif kind == "key":
            lines[index] = f"{draw(st.text(min_size=1, max_size=10)).strip() or 'x'} = 1"
        elif kind == "section":
            sections = [i for i, line in enumerate(lines) if line.startswith("[")]
            lines[draw(st.sampled_from(sections))] = draw(st.sampled_from(
                ["[Data]", "[model.extra]", "[[training]]", "[]", "[inference", "[data]"]))
        elif kind == "drop":
            lines[index] = ""
        elif kind == "duplicate":
            lines.insert(index, lines[index])
        else:
            lines.insert(index, draw(st.text(max_size=20)))
    return "\n".join(lines).encode("utf-8", errors="surrogatepass")


# -------------------------------------------------------------- bundle damage
def read_zip(raw: bytes) -> dict[str, bytes]:
    """Member name -> bytes (a fresh dict; the unpacking is cached per archive)."""
    return dict(_unpacked(raw))


@functools.lru_cache(maxsize=4)
def _unpacked(raw: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def resealed(members: dict[str, bytes], manifest: dict[str, Any]) -> bytes:
    """A bundle whose checksums and seal match its (damaged) members: deep checks run."""
    from ptycho_engine.bundle.format import MANIFEST, seal_manifest, sha256_hex

    manifest = dict(manifest)
    manifest["members"] = {name: sha256_hex(data) for name, data in members.items()
                           if name != MANIFEST}
    try:
        sealed = seal_manifest(manifest)
    except (ValueError, TypeError):  # NaN or a non-JSON value: write it unsealed
        sealed = json.dumps(manifest, default=str).encode()
    return zip_of({MANIFEST: sealed, **{k: v for k, v in members.items() if k != MANIFEST}})


JSON_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                        st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8),
                        st.lists(st.integers(), max_size=3),
                        st.dictionaries(st.text(max_size=4), st.integers(), max_size=2))


@st.composite
def damaged_bundle(draw: st.DrawFn, base: bytes) -> bytes:
    """A bundle with a member or a manifest entry changed, then resealed (or not)."""
    from ptycho_engine.bundle.format import CONFIG, HISTORY, MANIFEST, PROBE, WEIGHTS

    members = read_zip(base)
    manifest = json.loads(members[MANIFEST])
    kind = draw(st.sampled_from(["manifest", "manifest", "config", "probe", "weights",
                                 "history", "extra", "missing"]))
    if kind == "manifest":
        keys = sorted(manifest) + ["probe.shape", "weights.tensors", "config.data.N"]
        key = draw(st.sampled_from(keys))
        if "." in key:
            section, _, rest = key.partition(".")
            target = manifest[section]
            *parents, leaf = rest.split(".")
            for parent in parents:
                target = target[parent]
            target[leaf] = draw(JSON_VALUES)
        elif draw(st.booleans()):
            manifest[key] = draw(JSON_VALUES)
        else:
            del manifest[key]
    elif kind == "config":
        members[CONFIG] = draw(damaged_toml(members[CONFIG].decode()))
    elif kind == "probe":
        probe = np.load(io.BytesIO(members[PROBE]))
        replacement = odd_array(draw, probe)
        buffer = io.BytesIO()
        np.save(buffer, replacement, allow_pickle=True)
        members[PROBE] = buffer.getvalue()
    elif kind == "weights":
        members[WEIGHTS] = draw(damaged_bytes(members[WEIGHTS][:4096])) \
            + members[WEIGHTS][4096:]
    elif kind == "history":
        members[HISTORY] = draw(st.one_of(st.binary(max_size=60),
                                          st.text(max_size=60).map(str.encode)))
    elif kind == "extra":
        members[draw(st.sampled_from(["../evil.py", "notes.txt", "a//b", "/abs"]))] = b"x"
    else:
        del members[draw(st.sampled_from([CONFIG, HISTORY, PROBE, WEIGHTS]))]
    if draw(st.integers(0, 4)) == 0:  # now and then keep the stale checksums
        return zip_of({MANIFEST: json.dumps(manifest, default=str).encode(),
                       **{k: v for k, v in members.items() if k != MANIFEST}})
    return resealed(members, manifest)
