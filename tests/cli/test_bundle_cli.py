"""export / info / reconstruct (batch) / export-onnx from the command line."""

import json

import numpy as np
import pytest

from ptycho_engine.core.config import PtychoConfig, with_overrides

from .conftest import run_cli

TINY = {"data.N": 32, "data.gridsize": 1, "data.n_groups": 0, "model.n_filters_scale": 1,
        "training.epochs": 2, "training.batch_size": 16, "training.val_fraction": 0.1,
        "inference.stitch_crop": 16}


@pytest.fixture(scope="module")
def run_dir(small_scan, tmp_path_factory):
    """A finished 2-epoch training run (made in-process: the CLI under test is export)."""
    from ptycho_engine.training.fit import train

    result = train(small_scan, with_overrides(PtychoConfig(), TINY),
                   run_dir=tmp_path_factory.mktemp("cli-run") / "run")
    return result.run_dir


@pytest.fixture(scope="module")
def bundle(run_dir, tmp_path_factory):
    path = tmp_path_factory.mktemp("cli-bundle") / "model.ptyz"
    exported = run_cli("export", run_dir, "--out", path)
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout.startswith(f"wrote {path}")
    assert "2 epochs (finished), weights from best.ckpt" in exported.stdout
    return path


def test_info_text_and_json(bundle):
    text = run_cli("info", bundle)
    assert text.returncode == 0, text.stderr
    assert "N 32, gridsize 1" in text.stdout
    assert "finished, 2 epochs" in text.stdout and "small.npz, 96 patterns" in text.stdout
    assert "Traceback" not in text.stderr
    # the verdict on the training travels with the model (2 epochs: too short to judge)
    verdict = next(line for line in text.stdout.splitlines() if line.startswith("convergence"))
    assert "NOT CONVERGED (too short to judge): only 2 epochs finished" in verdict
    assert "try: train longer" in verdict
    as_json = run_cli("info", bundle, "--json")
    assert as_json.returncode == 0, as_json.stderr
    manifest = json.loads(as_json.stdout)
    assert manifest["format_version"] == "1.0" and manifest["N"] == 32
    training = manifest["training"]
    assert training["convergence"]["verdict"] == "too short to judge"
    assert training["budget"] == {"time_limit_s": 600.0, "epoch_cap": 2}
    assert set(training["loss_floor"]) == {"train", "validation", "train_noise",
                                           "validation_noise"}
    assert manifest["config"]["model"]["n_filters_scale"] == 1
    assert set(manifest["members"]) == {"weights.safetensors", "probe.npy", "config.toml",
                                        "history.csv"}


def test_batch_reconstruct_skips_a_bad_scan(bundle, run_dir, small_scan, tmp_path):
    bad = tmp_path / "bad.npz"
    np.savez(bad, diffraction=np.ones((3, 32, 32), np.float32))  # no positions, no probe
    out = tmp_path / "results"
    result = run_cli("reconstruct", "--model", bundle, "--scan", small_scan, bad,
                     "--out", out, "--format", "h5")
    assert result.returncode == 2
    assert sorted(p.name for p in out.iterdir()) == ["small.h5"]
    failures = [line for line in result.stderr.splitlines() if "FAILED" in line]
    assert len(failures) == 1 and str(bad) in failures[0] and "xcoords" in failures[0]
    assert "reconstructed 1 of 2 scans; failed:" in result.stderr
    assert "[1/2]" in result.stdout and "small.h5" in result.stdout
    assert "Traceback" not in result.stderr

    from ptycho_engine.outputs.product import read_product
    from ptycho_engine.reconstruction.inference import reconstruct
    from ptycho_engine.trained.loading import load_model
    from ptycho_engine.training.run_folder import read_history

    product = read_product(out / "small.h5")
    expected = reconstruct(load_model(run_dir, "cpu"), small_scan)  # best.ckpt, as exported
    # the same call in another process: the scan-wide steps may sum in another thread order
    assert np.allclose(product.reconstruction.object, expected.object, atol=2e-4)
    history = read_history(run_dir / "history.csv")
    assert np.array_equal(product.loss_values, [r.train_loss for r in history])
    assert np.array_equal(product.loss_epochs, [1, 2])


def test_export_onnx(bundle, tmp_path):
    pytest.importorskip("onnx", reason="the 'onnx' extra is not installed (pip install onnx)")
    pytest.importorskip("onnxruntime", reason="onnxruntime is not installed: the CLI cannot "
                                              "verify the export (pip install onnxruntime)")
    out = tmp_path / "model.onnx"
    result = run_cli("export-onnx", bundle, "--out", out)
    assert result.returncode == 0, result.stderr
    assert out.is_file() and f"wrote {out}" in result.stdout
    difference = float(result.stdout.split("max abs difference to PyTorch ")[1].split()[0])
    assert difference < 1e-4


def test_format_choices_match_the_engine():
    from ptycho_engine.cli.model_commands import RESULT_FORMATS as CLI_FORMATS
    from ptycho_engine.outputs.results import RESULT_FORMATS

    assert CLI_FORMATS == RESULT_FORMATS


def test_output_paths_never_overwrite_a_scan(tmp_path):
    from ptycho_engine import PtychoError
    from ptycho_engine.cli.model_commands import output_paths

    a, b, c = tmp_path / "x" / "a.npz", tmp_path / "y" / "a.cxi", tmp_path / "b.h5"
    assert output_paths([a], tmp_path / "r.h5", None) == ([tmp_path / "r.h5"], "h5")
    assert output_paths([a], tmp_path / "r", "tiff") == ([tmp_path / "r"], "tiff")
    out = tmp_path / "results"
    assert output_paths([a, b, c], out, None) == (
        [out / "a.npz", out / "a_2.npz", out / "b.npz"], "npz")
    assert output_paths([a, c], out, "tiff")[0] == [out / "a", out / "b"]
    with pytest.raises(PtychoError, match="would overwrite this scan"):
        output_paths([a], a, None)
    with pytest.raises(PtychoError, match="would overwrite this scan"):
        output_paths([c, a], tmp_path, "h5")  # b.h5 -> tmp_path/b.h5
    (tmp_path / "file").write_text("")
    with pytest.raises(PtychoError, match="must be a folder"):
        output_paths([a, b], tmp_path / "file", None)


def test_reconstruct_spread_over_two_processes_matches_one(bundle, small_scan, tmp_path):
    import shutil

    scans = tmp_path / "scans"
    scans.mkdir()
    for name in ("a", "b", "c"):
        shutil.copy(small_scan, scans / f"{name}.npz")
    bad = scans / "d.npz"
    np.savez(bad, diffraction=np.ones((3, 32, 32), np.float32))  # fails in its worker
    one = run_cli("reconstruct", "--model", bundle, "--scan", scans, "--out", tmp_path / "one",
                  "--device", "cpu")
    two = run_cli("reconstruct", "--model", bundle, "--scan", scans, "--out", tmp_path / "two",
                  "--device", "cpu", "--devices", "2")
    assert one.returncode == two.returncode == 2, two.stderr
    assert "Traceback" not in two.stderr
    assert "reconstructed 3 of 4 scans; failed:" in two.stderr and str(bad) in two.stderr
    for number, name in enumerate("abc", start=1):
        assert f"[{number}/4]" in two.stdout
        with np.load(tmp_path / "one" / f"{name}.npz") as a, \
                np.load(tmp_path / "two" / f"{name}.npz") as b:
            # one or two threads per process: the scan-wide steps sum in another order
            np.testing.assert_allclose(b["object"], a["object"], rtol=1e-4, atol=2e-4)
    refused = run_cli("reconstruct", "--model", bundle, "--scan", scans, "--out",
                      tmp_path / "three", "--device", "cuda:1", "--devices", "2")
    assert refused.returncode == 2 and "--device cuda" in refused.stderr
    assert "Traceback" not in refused.stderr
