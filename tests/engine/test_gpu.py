"""GPU checks: training and inference on CUDA agree with the CPU. Skipped without a GPU."""

import numpy as np
import pytest
import torch

from ptycho_engine.model.checkpoint import load_checkpoint
from ptycho_engine.reconstruction.inference import reconstruct
from ptycho_engine.training.fit import train

from .conftest import tiny_config

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.parametrize("precision", ["32", "bf16-mixed"])
def test_training_on_gpu_learns(tiny_scan, tmp_path, precision):
    config = tiny_config(**{"training.epochs": 4, "training.precision": precision,
                            "training.compile": "off", "data.gridsize": 2})
    result = train(tiny_scan, config, run_dir=tmp_path / "run", accelerator="gpu")
    losses = [record.train_loss for record in result.history]
    assert result.status == "finished" and all(np.isfinite(losses))
    assert losses[-1] < losses[0]
    assert result.info["device"].startswith("GPU")


def test_gpu_model_reconstructs_on_cpu_like_on_gpu(tiny_scan, tmp_path):
    config = tiny_config(**{"training.compile": "off", "data.gridsize": 2})
    result = train(tiny_scan, config, run_dir=tmp_path / "run", accelerator="gpu")
    on_gpu = reconstruct(load_checkpoint(result.last_checkpoint, device="cuda"), tiny_scan)
    on_cpu = reconstruct(load_checkpoint(result.last_checkpoint, device="cpu"), tiny_scan)
    assert on_gpu.offset == on_cpu.offset
    np.testing.assert_allclose(on_gpu.object, on_cpu.object, atol=2e-3, rtol=1e-3)


def test_compiled_training_runs(tiny_scan, tmp_path):
    config = tiny_config(**{"training.compile": "on", "training.epochs": 2})
    result = train(tiny_scan, config, run_dir=tmp_path / "run", accelerator="gpu")
    assert result.status == "finished" and np.isfinite(result.history[-1].train_loss)
