"""One device resolver, one message: training, inference, bundles and the CLI agree."""

from __future__ import annotations

import pytest
import torch

from ptycho_engine import PtychoError, PtychoPINN, load_model, resolve_device, train
from ptycho_engine.core.devices import accelerator

from .conftest import tiny_config

no_gpu = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")


def test_names_resolve_to_torch_devices():
    assert resolve_device("cpu") == torch.device("cpu")
    auto = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device(None) == resolve_device("auto") == auto
    assert accelerator("cpu") == "cpu"
    assert accelerator("auto") == ("gpu" if torch.cuda.is_available() else "cpu")


@pytest.mark.parametrize("name", ["tpu0", "quantum", "mps"])
def test_unknown_devices_are_refused_with_the_names_that_work(name):
    with pytest.raises(PtychoError, match="auto, cpu, gpu, cuda or cuda:N"):
        resolve_device(name)


@no_gpu
@pytest.mark.parametrize("name", ["gpu", "cuda", "cuda:1"])
def test_a_missing_gpu_is_one_message(name):
    with pytest.raises(PtychoError) as caught:
        resolve_device(name)
    assert str(caught.value) == (
        f"device {name!r} was requested but torch sees 0 CUDA GPU(s); use 'auto' or 'cpu' "
        "(training.device, --accelerator or --device)")


@no_gpu
def test_training_and_model_loading_give_the_resolver_message(tiny_scan, tmp_path):
    with pytest.raises(PtychoError) as expected:
        resolve_device("gpu")
    with pytest.raises(PtychoError) as in_training:
        train(tiny_scan, tiny_config(**{"training.device": "gpu"}), run_dir=tmp_path / "run")
    assert str(in_training.value) == str(expected.value)
    model = PtychoPINN(tiny_config(), intensity_scale=10.0, canvas=32)
    with pytest.raises(PtychoError) as in_loading:
        load_model(model, "gpu")
    assert str(in_loading.value) == str(expected.value)
