"""Model bundles: exact round trips, and refusal of every damaged or crafted file.

Tampering helpers rebuild the zip with one member changed (so zip's own CRC is
valid and only our SHA-256 can notice) and, where a test needs it, re-seal the
manifest so the file passes the checksum stage and reaches the later checks.
"""

import hashlib
import io
import json
import pickle
import struct
import zipfile

import numpy as np
import pytest
import torch

from ptycho_engine import BundleError
from ptycho_engine.bundle import FORMAT_VERSION, export_bundle, load_bundle
from ptycho_engine.bundle import archive as bundle_archive
from ptycho_engine.bundle.format import MANIFEST, seal_manifest
from ptycho_engine.bundle.load import expected_shapes
from ptycho_engine.bundle.sources import data_provenance
from ptycho_engine.core.config import LEGACY_DEFAULTS, config_to_toml, from_dict, to_dict
from ptycho_engine.data.training_data import prepare_training_data
from ptycho_engine.model.checkpoint import load_checkpoint
from ptycho_engine.model.pinn import PtychoPINN
from ptycho_engine.reconstruction.inference import reconstruct
from ptycho_engine.trained.loading import load_model
from ptycho_engine.trained.scoring import training_metrics
from ptycho_engine.training.fit import train

from .conftest import tiny_config

MEMBERS = ("manifest.json", "weights.safetensors", "probe.npy", "config.toml", "history.csv")


@pytest.fixture(scope="module")
def trained(tiny_scan_file, tmp_path_factory):
    return train(tiny_scan_file, tiny_config(), run_dir=tmp_path_factory.mktemp("run"))


@pytest.fixture(scope="module")
def bundle_path(trained, tmp_path_factory):
    return export_bundle(trained, tmp_path_factory.mktemp("bundle") / "model.ptyz")


def fresh_module(seed: int, **overrides) -> PtychoPINN:
    """An untrained module (no Lightning run): cheap, and different for each seed."""
    torch.manual_seed(seed)
    probe = np.exp(1j * np.linspace(0, 1, 32 * 32)).reshape(32, 32).astype(np.complex64)
    return PtychoPINN(config=to_dict(tiny_config(**overrides)), intensity_scale=3.0 + seed,
                      canvas=32, probe=probe).eval()


def members_of(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def write_zip(path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def resealed(members: dict[str, bytes], edit=None) -> dict[str, bytes]:
    """Members with checksums recomputed and the manifest re-sealed (after ``edit``)."""
    manifest = json.loads(members[MANIFEST])
    if edit is not None:
        edit(manifest)
    manifest["members"] = {name: hashlib.sha256(data).hexdigest()
                           for name, data in members.items() if name != MANIFEST}
    return {**members, MANIFEST: seal_manifest(manifest)}


def flip(data: bytes, index: int) -> bytes:
    altered = bytearray(data)
    altered[index] ^= 0x01
    return bytes(altered)


class CreatesFile:
    """Unpickling this runs open(marker, 'w'): a file appears if code is ever executed."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


# --------------------------------------------------------------------------- round trips
def test_round_trip_reconstruction_is_bit_identical(trained, bundle_path, tiny_scan):
    bundle = load_bundle(bundle_path)
    direct = reconstruct(load_model(trained, "cpu"), tiny_scan)
    restored = reconstruct(load_model(bundle, "cpu"), tiny_scan)
    assert np.array_equal(direct.object, restored.object)
    assert np.array_equal(direct.weight, restored.weight)
    assert direct.offset == restored.offset
    module = bundle.to_module(device="cpu")
    for name, tensor in trained.module.state_dict().items():
        assert torch.equal(module.state_dict()[name].cpu(), tensor.cpu()), name


def test_manifest_describes_the_model_and_its_data(trained, bundle_path, tiny_scan_file):
    bundle = load_bundle(bundle_path)
    manifest = bundle.manifest
    assert manifest["format"] == "ptycho-studio-bundle"
    assert manifest["format_version"] == FORMAT_VERSION
    assert (manifest["N"], manifest["gridsize"]) == (32, 1)
    assert manifest["intensity_scale"] == pytest.approx(
        float(torch.exp(trained.module.log_scale.detach())), rel=1e-7)
    assert manifest["initial_intensity_scale"] == trained.data.intensity_scale
    assert manifest["probe"]["normalisation"] == {"method": "mean modulus in N/4 disc",
                                                  "probe_scale": 4.0}
    history = trained.history
    training = manifest["training"]
    assert training["epochs"] == len(history) == 2
    assert training["final_train_loss"] == history[-1].train_loss
    assert training["best_val_loss"] == min(r.val_loss for r in history)
    assert training["status"] == "finished"
    assert [r.train_loss for r in bundle.history] == [r.train_loss for r in history]
    provenance = manifest["provenance"]
    assert provenance["source"] == "tiny_scan.npz" and provenance["patterns"] == 96
    assert provenance["sha256"] == hashlib.sha256(tiny_scan_file.read_bytes()).hexdigest()
    assert provenance["hash_of"] == "scan file"
    assert manifest["metrics"] is None
    assert from_dict(manifest["config"]) == trained.config
    stored = members_of(bundle_path)
    assert sorted(stored) == sorted(MEMBERS)
    assert manifest["members"] == {name: hashlib.sha256(data).hexdigest()
                                   for name, data in stored.items() if name != MANIFEST}
    probe = np.load(io.BytesIO(stored["probe.npy"]), allow_pickle=False)
    assert probe.dtype == np.complex64 and np.array_equal(probe, trained.probe)
    centre = np.arange(32) - 16 + 0.5  # pixel centres; the disc has radius N/4
    disc = np.hypot(centre[:, None], centre[None, :]) < 8
    assert np.mean(np.abs(probe * disc)) == pytest.approx(1 / 4, rel=1e-5)
    summary = bundle.summary()
    assert summary["N"] == 32 and summary["file_bytes"] == bundle_path.stat().st_size


def test_in_memory_data_is_hashed_by_its_array(tiny_scan):
    data = prepare_training_data(tiny_scan, tiny_config())
    provenance = data_provenance(data)
    expected = hashlib.sha256(np.ascontiguousarray(data.diffraction, np.float32).tobytes())
    assert provenance["sha256"] == expected.hexdigest()
    assert provenance["hash_of"].startswith("normalised diffraction array")
    assert provenance["patterns"] == 96 and provenance["ground_truth"] is True


def test_run_folder_export_uses_the_best_checkpoint(trained, tmp_path):
    path = export_bundle(trained.run_dir, tmp_path / "run.ptyz")
    bundle = load_bundle(path)
    assert bundle.manifest["weights"]["from"] == "best.ckpt"
    assert bundle.manifest["training"]["status"] == "finished"
    best = load_checkpoint(trained.best_checkpoint, device="cpu").state_dict()
    for name, tensor in bundle.to_module(device="cpu").state_dict().items():
        assert torch.equal(tensor, best[name]), name
    assert [r.epoch for r in bundle.history] == [1, 2]


def test_evaluate_stores_metrics_against_the_ground_truth(trained, tiny_scan, tmp_path):
    from ptycho_engine import PtychoError
    from ptycho_engine.metrics import evaluate

    def metrics_of(recon):
        return evaluate(recon.object, recon.offset, tiny_scan.ground_truth,
                        mask=recon.weight > 0).to_dict()

    from_run = load_bundle(export_bundle(trained.run_dir, tmp_path / "a.ptyz",
                                         metrics=training_metrics(trained.run_dir)))
    expected = metrics_of(reconstruct(load_model(trained.run_dir, "cpu"), tiny_scan))
    assert from_run.manifest["metrics"] == {"scan": "tiny_scan.npz", **expected}
    from_result = load_bundle(export_bundle(trained, tmp_path / "b.ptyz",
                                            metrics=training_metrics(trained)))
    expected = metrics_of(reconstruct(load_model(trained, "cpu"), tiny_scan))
    for key in ("amplitude_ssim", "phase_ssim", "amplitude_psnr", "phase_mae"):
        assert from_result.manifest["metrics"][key] == pytest.approx(expected[key], rel=1e-3)
    with pytest.raises(PtychoError, match="no ground truth"):
        training_metrics(trained.run_dir,
                         scan=write_without_truth(tiny_scan, tmp_path / "plain.npz"))
    assert not (tmp_path / "c.ptyz").exists()


def write_without_truth(scan, path):
    from ptycho_engine.data.io import save_scan
    from ptycho_engine.data.scan import Scan

    save_scan(Scan(scan.diffraction_array(), scan.positions, scan.probe), path)
    return path


@pytest.mark.parametrize("refine_steps", [0, 3])
def test_expected_shapes_match_the_module(refine_steps):
    module = fresh_module(0, **{"data.gridsize": 2, "model.probe_big": False,
                                "model.refine_steps": refine_steps})
    shapes = {name: tuple(t.shape) for name, t in module.state_dict().items()}
    assert ("refine_step_sizes" in shapes) == (refine_steps > 0)
    assert expected_shapes(module.config) == shapes


def test_a_bundle_from_before_refinement_loads_as_the_model_it_was(tmp_path, tiny_scan):
    """Its config lacks the refinement keys: they read as LEGACY_DEFAULTS (no refinement,
    pi_tanh phase), so the weights fit and the model reconstructs as before."""
    module = fresh_module(4, **LEGACY_DEFAULTS)
    members = members_of(export_bundle(module, tmp_path / "today.ptyz"))
    new_keys = [*LEGACY_DEFAULTS, "model.refine_momentum"]

    def strip(manifest):
        for key in new_keys:
            section, name = key.split(".")
            del manifest["config"][section][name]

    lines = members["config.toml"].decode().splitlines()
    kept = [line for line in lines if not line.startswith(
        tuple(f"{key.split('.')[1]} =" for key in new_keys))]
    assert len(kept) == len(lines) - len(new_keys)
    members["config.toml"] = ("\n".join(kept) + "\n").encode()
    path = tmp_path / "old.ptyz"
    write_zip(path, resealed(members, strip))
    bundle = load_bundle(path)
    assert bundle.config == module.config
    loaded = bundle.to_module(device="cpu")
    assert not hasattr(loaded, "refine_step_sizes")
    scan = tiny_scan
    results = [reconstruct(model, scan).object for model in (module, loaded)]
    np.testing.assert_array_equal(results[0], results[1])


def test_two_bundles_never_share_state(bundle_path, tmp_path):
    other_path = export_bundle(fresh_module(5), tmp_path / "other.ptyz")
    x = torch.rand(4, 1, 32, 32, generator=torch.Generator().manual_seed(1))
    first = load_bundle(bundle_path)
    rng_before = torch.get_rng_state()
    first_module = first.to_module(device="cpu")
    with torch.inference_mode():
        before = first_module(x)
    second = load_bundle(other_path)
    second_module = second.to_module(device="cpu")
    assert torch.equal(torch.get_rng_state(), rng_before)  # no global state touched
    with torch.inference_mode():
        assert torch.equal(first_module(x), before)
        assert not torch.allclose(second_module(x), before)
    pointers = [{t.data_ptr() for t in m.state_dict().values()}
                for m in (first_module, second_module)]
    pointers += [{t.data_ptr() for t in b.state_dict.values()} for b in (first, second)]
    for i in range(4):
        for j in range(i + 1, 4):
            assert not pointers[i] & pointers[j]
    assert first_module.input_scale != second_module.input_scale


def test_loads_on_cpu_and_on_gpu_when_present(tmp_path):
    module = fresh_module(2)
    x = torch.rand(3, 1, 32, 32, generator=torch.Generator().manual_seed(3))
    with torch.inference_mode():
        expected = module(x)
    if torch.cuda.is_available():
        module = module.to("cuda")  # a bundle written from a GPU module
    path = export_bundle(module, tmp_path / "device.ptyz")
    cpu_module = load_bundle(path).to_module(device="cpu")
    assert all(t.device.type == "cpu" for t in cpu_module.state_dict().values())
    with torch.inference_mode():
        assert torch.equal(cpu_module(x), expected)
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device: the CPU half ran; the GPU half needs a GPU")
    gpu_module = load_bundle(path).to_module(device="cuda")
    with torch.inference_mode():
        assert torch.allclose(gpu_module(x.cuda()).cpu(), expected, atol=1e-4)


def test_newer_minor_version_and_listed_extra_member_load(bundle_path, tmp_path):
    members = members_of(bundle_path)
    members["notes.txt"] = b"added by a newer minor version"
    path = tmp_path / "minor.ptyz"
    write_zip(path, resealed(members, lambda m: m.update(format_version="1.9")))
    assert load_bundle(path).manifest["format_version"] == "1.9"


# --------------------------------------------------------------------------- refusals
@pytest.mark.parametrize("member", MEMBERS)
def test_flipped_byte_with_valid_zip_crc_names_the_member(bundle_path, tmp_path, member):
    members = members_of(bundle_path)
    size = len(members[member])
    for index in (0, size // 2, size - 1):
        path = tmp_path / f"flipped-{index}.ptyz"
        write_zip(path, {**members, member: flip(members[member], index)})
        with pytest.raises(BundleError) as error:
            load_bundle(path)
        assert member in str(error.value) and str(path) in str(error.value)


@pytest.mark.parametrize("field", ['"created": "', '"final_train_loss": ', '"status": "'])
def test_any_changed_manifest_value_breaks_its_seal(bundle_path, tmp_path, field):
    """Values no other check looks at (dates, losses, labels) are still protected."""
    members = members_of(bundle_path)
    index = members[MANIFEST].index(field.encode()) + len(field) + 1
    path = tmp_path / "edited.ptyz"
    write_zip(path, {**members, MANIFEST: flip(members[MANIFEST], index)})
    assert json.loads(members_of(path)[MANIFEST])  # still valid JSON: only the seal can tell
    with pytest.raises(BundleError, match="manifest.json: checksum mismatch"):
        load_bundle(path)


@pytest.mark.parametrize("member", MEMBERS)
def test_flipped_byte_in_the_file_is_caught(bundle_path, tmp_path, member):
    raw = bytearray(bundle_path.read_bytes())
    with zipfile.ZipFile(bundle_path) as archive:
        info = archive.getinfo(member)
    name_length, extra_length = struct.unpack("<HH", raw[info.header_offset + 26:
                                                         info.header_offset + 30])
    start = info.header_offset + 30 + name_length + extra_length
    raw[start + info.compress_size // 2] ^= 0x10
    path = tmp_path / "raw-flip.ptyz"
    path.write_bytes(bytes(raw))
    with pytest.raises(BundleError) as error:
        load_bundle(path)
    assert member in str(error.value)


def test_truncated_bundles_are_refused(bundle_path, tmp_path):
    raw = bundle_path.read_bytes()
    for length in (0, 100, len(raw) // 2, len(raw) - 10):
        path = tmp_path / f"cut-{length}.ptyz"
        path.write_bytes(raw[:length])
        with pytest.raises(BundleError, match="truncated"):
            load_bundle(path)
    with pytest.raises(BundleError, match="not found"):
        load_bundle(tmp_path / "absent.ptyz")


def test_future_major_version_is_refused_naming_both(bundle_path, tmp_path):
    path = tmp_path / "future.ptyz"
    write_zip(path, resealed(members_of(bundle_path),
                             lambda m: m.update(format_version="2.0", engine_version="9.1")))
    with pytest.raises(BundleError) as error:
        load_bundle(path)
    message = str(error.value)
    assert "2.0" in message and FORMAT_VERSION in message and "manifest.json" in message


@pytest.mark.parametrize("member", MEMBERS)
def test_missing_member_is_named(bundle_path, tmp_path, member):
    members = members_of(bundle_path)
    del members[member]
    path = tmp_path / "missing.ptyz"
    write_zip(path, members)
    with pytest.raises(BundleError, match=r"missing") as error:
        load_bundle(path)
    assert member in str(error.value)


def test_unlisted_member_is_refused(bundle_path, tmp_path):
    path = tmp_path / "extra.ptyz"
    write_zip(path, {**members_of(bundle_path), "extra.bin": b"\x00" * 10})
    with pytest.raises(BundleError, match="extra.bin: is not listed"):
        load_bundle(path)


@pytest.mark.parametrize("name", ["../x", "/etc/x", "a/../../x", "C:/x", "a\\..\\x"])
def test_escaping_member_names_are_refused_before_reading(bundle_path, tmp_path, monkeypatch,
                                                          name):
    path = tmp_path / "deep" / "escape.ptyz"
    path.parent.mkdir()
    write_zip(path, {**members_of(bundle_path), name: b"payload"})
    reads = []
    monkeypatch.setattr(bundle_archive, "read_member", lambda *a: reads.append(a))
    from ptycho_engine.bundle import load as bundle_load

    monkeypatch.setattr(bundle_load, "read_member", lambda *a: reads.append(a))
    with pytest.raises(BundleError, match="refused") as error:
        load_bundle(path)
    assert name in str(error.value)
    assert reads == [] and not (tmp_path / "x").exists()


def test_zip_bomb_is_refused_before_inflating(bundle_path, tmp_path, monkeypatch):
    path = tmp_path / "bomb.ptyz"
    write_zip(path, {**members_of(bundle_path), "history.csv": bytes(8 << 20)})
    from ptycho_engine.bundle import load as bundle_load

    monkeypatch.setattr(bundle_load, "read_member", pytest.fail)
    with pytest.raises(BundleError, match="zip bomb") as error:
        load_bundle(path)
    assert "history.csv" in str(error.value)
    monkeypatch.setattr(bundle_archive, "MAX_MEMBER_BYTES", 1000)
    with pytest.raises(BundleError, match="declares .* bytes uncompressed"):
        load_bundle(bundle_path)


def test_pickle_payloads_are_never_executed(bundle_path, tmp_path):
    control = tmp_path / "control-ran"
    pickle.loads(pickle.dumps(CreatesFile(control)))  # the payload does work when unpickled
    assert control.exists()
    marker = tmp_path / "payload-ran"
    members = members_of(bundle_path)

    buffer = io.BytesIO()
    np.save(buffer, np.array([CreatesFile(marker)], dtype=object), allow_pickle=True)
    evil_probe = tmp_path / "evil-probe.ptyz"
    write_zip(evil_probe, resealed({**members, "probe.npy": buffer.getvalue()}))
    with pytest.raises(BundleError, match="probe.npy: holds pickled"):
        load_bundle(evil_probe)

    buffer = io.BytesIO()
    torch.save({"network.x": CreatesFile(marker)}, buffer)
    evil_weights = tmp_path / "evil-weights.ptyz"
    write_zip(evil_weights, resealed({**members, "weights.safetensors": buffer.getvalue()}))
    with pytest.raises(BundleError, match="weights.safetensors: is not a safetensors"):
        load_bundle(evil_weights)

    listed_pickle = tmp_path / "evil-extra.ptyz"
    write_zip(listed_pickle, resealed({**members,
                                       "weights.pkl": pickle.dumps(CreatesFile(marker))}))
    load_bundle(listed_pickle).to_module(device="cpu")  # listed extras are never opened
    unlisted = tmp_path / "evil-unlisted.ptyz"
    write_zip(unlisted, {**members, "weights.pkl": pickle.dumps(CreatesFile(marker))})
    with pytest.raises(BundleError, match="weights.pkl"):
        load_bundle(unlisted)
    assert not marker.exists()


def test_invalid_config_is_named(bundle_path, tmp_path):
    def bad_n(manifest):
        manifest["config"]["data"]["N"] = 33

    path = tmp_path / "config.ptyz"
    write_zip(path, resealed(members_of(bundle_path), bad_n))
    with pytest.raises(BundleError, match=r"manifest.json: config: invalid .*data.N"):
        load_bundle(path)


def test_crafted_manifests_are_refused(bundle_path, tmp_path):
    members = members_of(bundle_path)
    path = tmp_path / "crafted.ptyz"
    write_zip(path, resealed(members, lambda m: m.update(training="fast")))
    with pytest.raises(BundleError, match="manifest.json: training: is str"):
        load_bundle(path)
    write_zip(path, {**members, MANIFEST: b"[" * 200_000 + b"]" * 200_000})
    with pytest.raises(BundleError, match="manifest.json: is not valid JSON"):
        load_bundle(path)
    write_zip(path, {**members, MANIFEST: b" " * (17 << 20)})
    with pytest.raises(BundleError, match="manifest.json: declares .* bytes uncompressed"):
        load_bundle(path)


def test_weights_that_do_not_fit_are_named(bundle_path, tmp_path):
    members = members_of(bundle_path)
    wider = tiny_config(**{"model.n_filters_scale": 2})

    def claim_wider(manifest):
        manifest["config"] = to_dict(wider)

    members["config.toml"] = config_to_toml(wider).encode()
    path = tmp_path / "shapes.ptyz"
    write_zip(path, resealed(members, claim_wider))
    with pytest.raises(BundleError, match=r"weights.safetensors: tensor 'network\..*' has shape"):
        load_bundle(path)


def test_not_a_zip_is_refused(tmp_path):
    path = tmp_path / "noise.ptyz"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(BundleError, match="not a zip archive"):
        load_bundle(path)
    with pytest.raises(BundleError, match="is a folder"):
        load_bundle(tmp_path)


def test_interrupted_export_keeps_the_previous_bundle(bundle_path, tmp_path, monkeypatch):
    path = tmp_path / "model.ptyz"
    path.write_bytes(bundle_path.read_bytes())
    before = path.read_bytes()
    calls = []
    original = bundle_archive._write_member

    def failing(archive, name, data):
        calls.append(name)
        if len(calls) == 3:
            raise OSError("disk full (simulated)")
        original(archive, name, data)

    monkeypatch.setattr(bundle_archive, "_write_member", failing)
    with pytest.raises(OSError, match="simulated"):
        export_bundle(fresh_module(1), path)
    assert len(calls) == 3
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.ptyz"]
    assert load_bundle(path).manifest["training"]["epochs"] == 2
