"""PtychoPINN is a plain nn.Module: inference, bundles and ONNX never import Lightning;
the training system wraps it, and checkpoints from before that wrapping still load."""

from __future__ import annotations

import subprocess
import sys

import torch

from ptycho_engine.core.config import to_dict
from ptycho_engine.model.checkpoint import SYSTEM_PREFIX, model_state, system_state
from ptycho_engine.model.pinn import PtychoPINN
from ptycho_engine.model.system import PtychoPINNModule

from .conftest import tiny_config

WITHOUT_LIGHTNING = """
import sys
import numpy as np
import torch
from ptycho_engine.bundle import export_bundle, load_bundle
from ptycho_engine.core.config import PtychoConfig, with_overrides
from ptycho_engine.model.pinn import PtychoPINN
from ptycho_engine.reconstruction.inference import reconstruct
from ptycho_engine.simulation import SimulationSpec, simulate_from_spec
from ptycho_engine.trained.loading import load_model

config = with_overrides(PtychoConfig(), {"data.N": 32, "data.gridsize": 1,
                                         "model.n_filters_scale": 1,
                                         "inference.stitch_crop": 16})
model = PtychoPINN(config, intensity_scale=10.0, canvas=32).eval()
patches = model(torch.rand(2, 1, 32, 32))
assert patches.shape == (2, 1, 32, 32) and patches.is_complex()
path = export_bundle(model, sys.argv[1])
loaded = load_model(load_bundle(path), "cpu")
scan = simulate_from_spec(SimulationSpec(N=32, patterns=20, step_px=3.0, seed=1))
assert np.isfinite(reconstruct(loaded, scan).object).all()
bad = sorted(name for name in sys.modules if name.split(".")[0] == "lightning")
assert not bad, bad[:5]
"""


def test_model_bundle_and_inference_run_without_lightning(tmp_path):
    result = subprocess.run([sys.executable, "-c", WITHOUT_LIGHTNING,
                             str(tmp_path / "model.ptyz")], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr


def test_the_system_runs_its_model():
    torch.manual_seed(0)
    system = PtychoPINNModule(to_dict(tiny_config()), intensity_scale=10.0, canvas=32).eval()
    x = torch.rand(3, 1, 32, 32)
    with torch.no_grad():
        assert torch.equal(system(x), system.model(x))
    assert set(system.state_dict()) == {SYSTEM_PREFIX + name
                                        for name in system.model.state_dict()}
    assert system.monitor == "val_loss"
    assert PtychoPINNModule(to_dict(tiny_config()), 10.0, 32, monitor="train_loss").monitor == (
        "train_loss")


def test_checkpoint_weights_load_with_and_without_the_system_prefix():
    model = PtychoPINN(tiny_config(), intensity_scale=10.0, canvas=32)
    old = model.state_dict()  # how checkpoints named the weights before the system held a model
    new = system_state(old)
    assert all(name.startswith(SYSTEM_PREFIX) for name in new)
    assert system_state(new) == new
    assert model_state(new).keys() == model_state(old).keys() == old.keys()
    system = PtychoPINNModule(to_dict(tiny_config()), 10.0, 32)
    checkpoint = {"state_dict": dict(old)}
    system.on_load_checkpoint(checkpoint)
    system.load_state_dict(checkpoint["state_dict"], strict=True)
    for name, tensor in old.items():
        assert torch.equal(system.model.state_dict()[name], tensor)
