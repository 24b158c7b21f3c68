"""train -> reconstruct -> evaluate from the command line, on a tiny scan."""

import json

import numpy as np

from .conftest import run_cli

TINY = ["--set", "data.N=32", "--set", "model.n_filters_scale=1", "--set",
        "inference.stitch_crop=16", "--set", "data.n_groups=0", "--set", "data.gridsize=2"]


def test_train_reconstruct_evaluate(small_scan, tmp_path):
    run = tmp_path / "run"
    trained = run_cli("train", "--scan", small_scan, "--out", run, "--epochs", "2",
                      "--accelerator", "cpu", *TINY)
    assert trained.returncode == 0, trained.stderr
    assert "epoch 2/2" in trained.stderr  # the default 10 minutes outlast 2 epochs
    assert "training on CPU (1 thread): until 10 min (epoch cap 2)" in trained.stderr
    assert trained.stdout.startswith("finished: 2 epochs")
    assert "finished — NOT CONVERGED (too short to judge)" in trained.stdout
    assert (run / "checkpoints" / "last.ckpt").is_file()

    resumed = run_cli("train", "--scan", small_scan, "--out", run, "--resume", "--epochs", "3")
    assert resumed.returncode == 0, resumed.stderr
    assert "epoch 3/3" in resumed.stderr and "epoch 1/" not in resumed.stderr
    rows = (run / "history.csv").read_text().strip().splitlines()[1:]
    assert [int(row.split(",")[0]) for row in rows] == [1, 2, 3]

    recon_path = tmp_path / "recon.npz"
    recon = run_cli("reconstruct", "--model", run, "--scan", small_scan, "--out", recon_path)
    assert recon.returncode == 0, recon.stderr
    warnings = [line for line in recon.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "NOT CONVERGED" in warnings[0], recon.stderr
    with np.load(recon_path, allow_pickle=False) as data:
        obj = data["object"]
        assert obj.dtype == np.complex64 and obj.ndim == 2
        assert data["offset"].shape == (2,)
        assert data["xcoords"].shape == data["ycoords"].shape == (96,)
        # positions lie inside the reconstruction's own pixel frame
        assert 0 <= data["xcoords"].min() and data["xcoords"].max() < obj.shape[1]
        assert np.allclose(data["amplitude"], np.abs(obj))

    every_path = tmp_path / "every.npz"  # the default is 'covering'; 'all' runs every group
    every = run_cli("reconstruct", "--model", run, "--scan", small_scan, "--out",
                    every_path, "--groups", "all")
    assert every.returncode == 0, every.stderr
    with np.load(every_path, allow_pickle=False) as every, \
            np.load(recon_path, allow_pickle=False) as fewer:
        assert every["object"].shape == fewer["object"].shape  # same frame
    # other patches: compared on the stitches alone, since the scan-wide steps may start
    # both from the same flat object for a 2-epoch model
    from ptycho_engine import load_model, reconstruct
    from ptycho_engine.core.config import with_overrides

    model = load_model(run, "cpu")
    model.config = with_overrides(model.config, {"inference.scan_refine_steps": 0})
    stitches = [reconstruct(model, small_scan, groups=groups).object
                for groups in ("all", "covering")]
    assert not np.allclose(*stitches)

    scores = run_cli("evaluate", recon_path, "--truth", small_scan, "--json")
    assert scores.returncode == 0, scores.stderr
    metrics = json.loads(scores.stdout)
    for key in ("amplitude_ssim", "phase_ssim", "amplitude_frc_px", "phase_psnr"):
        assert key in metrics
    assert -1 <= metrics["phase_ssim"] <= 1


def test_reconstruct_with_missing_model_is_one_line(small_scan, tmp_path):
    result = run_cli("reconstruct", "--model", tmp_path / "nothing", "--scan", small_scan,
                     "--out", tmp_path / "r.npz")
    assert result.returncode == 2 and "nothing" in result.stderr
    assert "Traceback" not in result.stderr


def test_time_limit_overrides_the_config_and_a_one_epoch_run_is_not_converged(small_scan,
                                                                              tmp_path):
    config = tmp_path / "long.toml"
    config.write_text("[training]\ntime_limit_min = 90.0\nepochs = 1\n")
    run = tmp_path / "run"
    trained = run_cli("train", "--scan", small_scan, "--out", run, "--config", config,
                      "--time-limit", "5", "--accelerator", "cpu", *TINY)
    assert trained.returncode == 0, trained.stderr
    first = next(line for line in trained.stderr.splitlines() if line.startswith("training on"))
    assert "until 5 min (epoch cap 1)" in first
    assert "epoch 1/1" in trained.stderr  # one epoch ends this run, not the 5 minutes
    info = json.loads((run / "run.json").read_text())
    assert info["budget"] == {"time_limit_s": 300.0, "epoch_cap": 1}
    assert "time_limit_min = 5.0" in (run / "config.toml").read_text()
    summary = trained.stdout.splitlines()
    assert summary[0].startswith("finished: 1 epochs")
    assert summary[1].startswith("finished — NOT CONVERGED (too short to judge): only 1 epoch "
                                 "finished")
    assert "; try: train longer" in summary[1]
    assert info["convergence"]["verdict"] == "too short to judge"
