"""Multi-process training through Lightning's DDP (gloo on CPU), as a CLI subprocess."""

from .conftest import run_cli


def test_two_process_cpu_ddp_training(small_scan, tmp_path):
    run = tmp_path / "ddp"
    result = run_cli("train", "--scan", small_scan, "--out", run, "--epochs", "2",
                     "--accelerator", "cpu", "--devices", "2", "--strategy", "ddp",
                     "--set", "data.N=32", "--set", "model.n_filters_scale=1",
                     "--set", "inference.stitch_crop=16", timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("finished: 2 epochs") == 1  # one report, from rank 0
    checkpoints = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert checkpoints == ["best.ckpt", "last.ckpt"]  # one writer, no per-rank copies
    rows = (run / "history.csv").read_text().strip().splitlines()
    assert rows[0].startswith("epoch,") and [int(r.split(",")[0]) for r in rows[1:]] == [1, 2]
    lr = float(rows[1].split(",")[3])
    assert abs(lr - 2e-3 * 2**0.5) < 1e-9  # learning rate scaled by sqrt(processes)


def test_two_process_time_limit_stops_every_rank_at_the_same_batch(small_scan, tmp_path):
    import json

    run = tmp_path / "ddp-limited"
    result = run_cli("train", "--scan", small_scan, "--out", run, "--epochs", "1000",
                     "--time-limit", "0.3", "--accelerator", "cpu", "--devices", "2",
                     "--strategy", "ddp", "--set", "data.N=32",
                     "--set", "model.n_filters_scale=1", "--set", "inference.stitch_crop=16",
                     timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "time_limit" and 0 < info["epochs"] < 1000
