"""Exchange formats: Ptychodus product HDF5, TIFF pairs, PtychoPINN scan NPZ, ONNX."""

import h5py
import numpy as np
import pytest
import torch

from ptycho_engine import ScanFormatError
from ptycho_engine.api import Reconstruction
from ptycho_engine.core.config import to_dict
from ptycho_engine.data.io import save_scan
from ptycho_engine.model.pinn import PtychoPINN
from ptycho_engine.outputs.product import ProductMetadata, read_product, write_product
from ptycho_engine.outputs.results import load_reconstruction, save_reconstruction
from ptycho_engine.outputs.tiff import tiff_paths, write_tiff_pair

from .conftest import tiny_config

# keys the original PtychoPINN reads from a scan NPZ (docs/method.md, Data conventions)
# and the scalars we add
PTYCHOPINN_KEYS = {"diffraction", "diff3d", "xcoords", "ycoords", "probeGuess", "objectGuess",
                   "xcoords_start", "ycoords_start", "scan_index", "Y"}
OUR_SCALARS = {"nphotons", "object_pixel_m", "energy_eV", "detector_distance_m",
               "detector_pixel_m"}


def random_reconstruction(seed: int = 0, shape=(20, 30), n: int = 12) -> Reconstruction:
    rng = np.random.default_rng(seed)
    obj = (rng.random(shape) * np.exp(1j * rng.uniform(-3, 3, shape))).astype(np.complex64)
    positions = np.stack([rng.uniform(2, shape[1] - 2, n), rng.uniform(2, shape[0] - 2, n)], 1)
    offset = (3.5, -2.25)
    positions = positions + np.array([offset[1], offset[0]])
    weight = rng.random(shape).astype(np.float32)
    return Reconstruction(object=obj, offset=offset, weight=weight, positions=positions)


def random_probe(seed: int = 1, N: int = 16) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(N, N)) + 1j * rng.normal(size=(N, N))).astype(np.complex64)


# ----------------------------------------------------------------------------- product HDF5
def test_product_round_trip_in_metres(tmp_path):
    recon, probe = random_reconstruction(), random_probe()
    pixel = 2.5e-8
    metadata = ProductMetadata(name="scan 7", comments="from a test", probe_energy_eV=8800.0,
                               detector_object_distance_m=1.9, object_pixel_m=pixel)
    losses, epochs = np.array([3.0, 2.0, 1.5]), np.array([1, 2, 3])
    path = tmp_path / "product.h5"
    write_product(path, recon, probe, metadata, loss_values=losses, loss_epochs=epochs)

    with h5py.File(path, "r") as h5:  # the layout Ptychodus reads, checked by hand
        assert str(h5.attrs["name"]) == "scan 7"
        assert float(h5.attrs["probe_energy_eV"]) == 8800.0
        assert float(h5.attrs["exposure_time_s"]) == 0.0
        x_m, y_m = h5["probe_position_x_m"][()], h5["probe_position_y_m"][()]
        assert np.allclose(x_m, recon.positions[:, 0] * pixel, rtol=1e-12)
        assert np.array_equal(h5["probe_position_indexes"][()], np.arange(12))
        obj = h5["object"]
        assert obj.dtype == np.complex64 and obj.shape == (20, 30)
        # Ptychodus: column = (x_m - center_x_m) / pixel_width_m + W / 2 (rows alike)
        column = (x_m - obj.attrs["center_x_m"]) / obj.attrs["pixel_width_m"] + 30 / 2
        row = (y_m - obj.attrs["center_y_m"]) / obj.attrs["pixel_height_m"] + 20 / 2
        assert np.allclose(np.stack([column, row], 1), recon.positions_in_object_frame)
        assert h5["probe"].attrs["pixel_width_m"] == pixel
        assert h5["object_layer_spacing_m"].shape == (0,)
        assert np.array_equal(h5["loss_values"][()], losses)

    product = read_product(path)
    back = product.reconstruction
    assert np.array_equal(back.object, recon.object)
    assert np.allclose(back.offset, recon.offset, atol=1e-9)
    assert np.allclose(back.positions, recon.positions, atol=1e-9)
    assert np.array_equal(back.weight, recon.weight)
    assert np.array_equal(product.probe, probe)
    assert np.array_equal(product.loss_values, losses)
    assert np.array_equal(product.loss_epochs, epochs)
    assert product.metadata == metadata and product.pixel_size_known


def test_unknown_pixel_size_keeps_pixels(tmp_path):
    recon = random_reconstruction(2)
    path = tmp_path / "pixels.h5"
    write_product(path, recon, random_probe())
    with h5py.File(path, "r") as h5:
        assert not h5.attrs["pixel_size_known"]
        assert h5["object"].attrs["pixel_width_m"] == 1.0
        assert np.allclose(h5["probe_position_y_m"][()], recon.positions[:, 1])
    product = read_product(path)
    assert product.metadata.object_pixel_m is None and not product.pixel_size_known
    assert np.allclose(product.reconstruction.positions, recon.positions)
    assert product.loss_values.shape == (0,)


@pytest.mark.parametrize("probe_modes", [(3,), (2, 3)])
def test_reads_multi_mode_probe_and_multi_layer_object(tmp_path, probe_modes):
    """A file as Ptychodus writes it for mixed-state probes and multi-slice objects."""
    rng = np.random.default_rng(4)
    probes = rng.normal(size=(*probe_modes, 8, 8)) + 1j * rng.normal(size=(*probe_modes, 8, 8))
    layers = rng.normal(size=(2, 10, 12)) + 1j * rng.normal(size=(2, 10, 12))
    path = tmp_path / "ptychodus.h5"
    with h5py.File(path, "w") as h5:
        for key, value in (("name", "other tool"), ("comments", ""),
                           ("detector_object_distance_m", 2.0), ("probe_energy_eV", 1e4),
                           ("exposure_time_s", 0.1)):
            h5.attrs[key] = value
        h5["probe_position_indexes"] = np.arange(3)
        h5["probe_position_x_m"] = np.array([1e-6, 2e-6, 3e-6])
        h5["probe_position_y_m"] = np.array([0.0, 1e-6, -1e-6])
        h5["probe"] = probes  # complex128, as numpy makes it
        h5["probe"].attrs.update(pixel_width_m=1e-7, pixel_height_m=1e-7)
        h5["object"] = layers
        h5["object"].attrs.update(center_x_m=2e-6, center_y_m=0.0, pixel_width_m=1e-7,
                                  pixel_height_m=2e-7)
        h5["object_layer_spacing_m"] = np.array([1e-6])
        h5["costs"] = np.array([5.0, 4.0])
    product = read_product(path)
    recon = product.reconstruction
    assert np.array_equal(recon.object, layers[0].astype(np.complex64))
    assert np.array_equal(product.probe, probes[(0,) * len(probe_modes)].astype(np.complex64))
    assert np.allclose(recon.positions, [[10, 0], [20, 5], [30, -5]])
    assert np.allclose(recon.offset, (0.0 / 2e-7 - 10 / 2, 2e-6 / 1e-7 - 12 / 2))
    assert np.array_equal(product.loss_values, [5.0, 4.0])
    assert np.array_equal(product.loss_epochs, [0, 1])
    assert product.metadata.exposure_time_s == 0.1 and product.metadata.object_pixel_m == 1e-7
    assert np.array_equal(load_reconstruction(path).object, recon.object)


def test_product_without_object_is_named(tmp_path):
    path = tmp_path / "broken.h5"
    with h5py.File(path, "w") as h5:
        h5["probe"] = np.ones((4, 4), np.complex64)
    with pytest.raises(ScanFormatError, match="broken.h5: object: missing"):
        read_product(path)
    (tmp_path / "text.h5").write_text("not hdf5")
    with pytest.raises(ScanFormatError, match="text.h5"):
        read_product(tmp_path / "text.h5")


def test_product_write_is_atomic(tmp_path):
    path = tmp_path / "keep.h5"
    write_product(path, random_reconstruction(), random_probe())
    before = path.read_bytes()
    with pytest.raises(ValueError, match="loss_epochs"):
        write_product(path, random_reconstruction(3), random_probe(), loss_values=[1.0, 2.0],
                      loss_epochs=[1])
    assert path.read_bytes() == before
    with pytest.raises(TypeError):  # a weight that cannot be stored: fails half-way through
        write_product(path, Reconstruction(object=np.ones((4, 4), np.complex64), offset=(0, 0),
                                           weight=np.array([object()]), positions=np.zeros((0, 2))),
                      random_probe())
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == [
        "keep.h5"]


# ----------------------------------------------------------------------------- TIFF, NPZ
def test_tiff_pair_holds_amplitude_and_phase(tmp_path):
    import tifffile

    recon = random_reconstruction(5)
    amplitude_path, phase_path = write_tiff_pair(recon, tmp_path / "object.tif", pixel_m=5e-8)
    assert (amplitude_path.name, phase_path.name) == ("object_amplitude.tif", "object_phase.tif")
    amplitude, phase = tifffile.imread(amplitude_path), tifffile.imread(phase_path)
    assert amplitude.dtype == phase.dtype == np.float32
    assert np.array_equal(amplitude, np.abs(recon.object).astype(np.float32))
    assert np.array_equal(phase, np.angle(recon.object).astype(np.float32))
    with tifffile.TiffFile(amplitude_path) as tif:
        assert tif.is_imagej
        x_resolution = tif.pages[0].tags["XResolution"].value
        assert x_resolution[0] / x_resolution[1] == pytest.approx(1 / 0.05, rel=1e-6)
    assert tiff_paths(tmp_path / "scan") == (tmp_path / "scan_amplitude.tif",
                                             tmp_path / "scan_phase.tif")


def test_save_reconstruction_chooses_the_format(tmp_path):
    recon, probe = random_reconstruction(6), random_probe()
    assert save_reconstruction(recon, tmp_path / "a.npz") == [tmp_path / "a.npz"]
    assert save_reconstruction(recon, tmp_path / "b.h5", probe=probe) == [tmp_path / "b.h5"]
    written = save_reconstruction(recon, tmp_path / "c", format="tiff")
    assert written == [tmp_path / "c_amplitude.tif", tmp_path / "c_phase.tif"]
    for name in ("a.npz", "b.h5"):
        back = load_reconstruction(tmp_path / name)
        assert np.array_equal(back.object, recon.object)
        assert np.allclose(back.positions, recon.positions)
    with pytest.raises(ScanFormatError, match="needs the probe"):
        save_reconstruction(recon, tmp_path / "d.h5")


def test_scan_npz_keeps_the_ptychopinn_convention(tiny_scan, tmp_path):
    path = tmp_path / "scan.npz"
    save_scan(tiny_scan, path)
    with np.load(path, allow_pickle=False) as data:  # no object arrays: loads without pickle
        keys = set(data.files)
        arrays = {key: data[key] for key in keys}
    assert {"diffraction", "xcoords", "ycoords", "probeGuess", "objectGuess"} <= keys
    assert keys <= PTYCHOPINN_KEYS | OUR_SCALARS
    assert all(array.dtype != object for array in arrays.values())
    n, N = 96, 32
    assert arrays["diffraction"].dtype == np.float32 and arrays["diffraction"].shape == (n, N, N)
    assert arrays["xcoords"].dtype == arrays["ycoords"].dtype == np.float64
    assert arrays["xcoords"].shape == (n,)
    assert arrays["probeGuess"].dtype == np.complex64 and arrays["probeGuess"].shape == (N, N)
    assert arrays["objectGuess"].dtype == np.complex64 and arrays["objectGuess"].ndim == 2
    assert np.array_equal(arrays["diffraction"], tiny_scan.diffraction_array())
    assert all(arrays[key].shape == () for key in keys & OUR_SCALARS)


# ----------------------------------------------------------------------------- ONNX
def test_onnx_matches_torch(tmp_path):
    pytest.importorskip("onnx", reason="the 'onnx' extra is not installed (pip install onnx)")
    ort = pytest.importorskip("onnxruntime",
                              reason="onnxruntime is not installed: the ONNX graph cannot be "
                                     "run here (pip install onnxruntime)")
    from ptycho_engine.outputs.onnx import export_onnx

    torch.manual_seed(3)
    config = tiny_config(**{"data.gridsize": 2})
    module = PtychoPINN(config=to_dict(config), intensity_scale=7.0, canvas=40).eval()
    with torch.no_grad():
        module.log_scale.fill_(np.log(9.0))  # input and trained scales differ, as after training
    result = export_onnx(module, tmp_path / "model.onnx")
    assert result.verified and result.max_abs_difference < 1e-4
    assert result.input_shape == ("batch", 4, 32, 32) == result.output_shape
    session = ort.InferenceSession(str(result.path), providers=["CPUExecutionProvider"])
    for batch in (1, 5):  # the batch axis is dynamic
        x = np.random.default_rng(batch).random((batch, 4, 32, 32), dtype=np.float32)
        amplitude, phase = session.run(["amplitude", "phase"], {"diffraction": x})
        with torch.inference_mode():
            expected = module(torch.from_numpy(x)).numpy()
        assert np.abs(amplitude * np.exp(1j * phase) - expected).max() < 1e-4
    import onnx

    properties = {p.key: p.value for p in onnx.load(str(result.path)).metadata_props}
    assert properties["N"] == "32" and properties["gridsize"] == "2"
