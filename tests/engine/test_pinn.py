"""PtychoPINN wired to the new physics: predicted amplitudes with and without refinement,
the refinement's step sizes, and configs stored before these settings existed."""

import numpy as np
import pytest
import torch

from ptycho_engine.core.config import (
    LEGACY_DEFAULTS,
    PtychoConfig,
    stored_config,
    to_dict,
)
from ptycho_engine.data.grouping import make_groups
from ptycho_engine.model.checkpoint import load_checkpoint
from ptycho_engine.model.network import PiTanh
from ptycho_engine.model.pinn import PtychoPINN
from ptycho_engine.physics import (
    forward_amplitude,
    gather_views,
    group_windows,
    merge_patches,
    refine_canvas,
)
from ptycho_engine.reconstruction.inference import stitch_groups

from .conftest import tiny_config

N = 32


def _module(seed=0, **overrides):
    torch.manual_seed(seed)
    values = {"data.gridsize": 2, "data.neighbor_count": 5}
    values.update(overrides)
    rng = np.random.default_rng(seed)
    probe = (np.exp(-((np.arange(N) - N / 2) ** 2)[:, None] / 40
                    - ((np.arange(N) - N / 2) ** 2)[None, :] / 40)
             * np.exp(1j * rng.uniform(0, 0.3, (N, N)))).astype(np.complex64)
    return PtychoPINN(to_dict(tiny_config(**values)), intensity_scale=5.0, canvas=48,
                      probe=probe).eval()


def _batch(seed=0, B=3, fractional=True):
    rng = np.random.default_rng(seed)
    x = torch.from_numpy(rng.uniform(0.0, 2.0, (B, 4, N, N)).astype(np.float32))
    offsets = rng.uniform(-4, 4, (B, 4, 2))
    if not fractional:
        offsets = np.round(offsets)
    return x, torch.from_numpy(offsets.astype(np.float32))


def _legacy_dict(config: PtychoConfig) -> dict:
    """The config as an engine from before refinement stored it: without the new keys."""
    values = to_dict(config)
    for key in LEGACY_DEFAULTS:
        section, name = key.split(".")
        values[section].pop(name)
    values["model"].pop("refine_momentum")
    return values


@pytest.mark.parametrize("fractional", [False, True])
def test_without_refinement_the_prediction_is_the_forward_model_of_the_merged_patches(
        fractional):
    module = _module(**{"model.refine_steps": 0})
    assert not hasattr(module, "refine_step_sizes")
    x, offsets = _batch(fractional=fractional)
    with torch.no_grad():
        predicted = module.predicted_amplitude(x, offsets)
        windows = group_windows(offsets, N, module.canvas)
        canvas = merge_patches(module(x), windows, module.overlap_weight)
        probes = module.probe * torch.ones(1, 4, 1, 1)
        if fractional:  # each member's probe moved by its sub-pixel rest, by hand
            rest = offsets - torch.floor(offsets + 0.5)
            f = torch.fft.fftfreq(N)
            ramp = torch.exp(-2j * torch.pi * (f[:, None] * rest[..., 1, None, None]
                                               + f[None, :] * rest[..., 0, None, None]))
            probes = torch.fft.ifft2(torch.fft.fft2(module.probe) * ramp)
        expected = forward_amplitude(canvas, windows, probes) * torch.exp(module.log_scale)
    assert predicted.shape == (3, 4, N, N) and predicted.dtype == torch.float32
    torch.testing.assert_close(predicted, expected, rtol=1e-5, atol=1e-5 * float(expected.max()))


def test_refinement_changes_the_prediction_and_has_its_step_sizes():
    module = _module(**{"model.refine_steps": 3, "model.refine_momentum": 0.5})
    assert isinstance(module.refine_step_sizes, torch.nn.Parameter)
    assert module.refine_step_sizes.shape == (3,) and bool((module.refine_step_sizes == 1).all())
    assert "refine_step_sizes" in module.state_dict()
    x, offsets = _batch()
    with torch.no_grad():
        refined = module.predicted_amplitude(x, offsets)
        plain = module.predicted_amplitude(x, offsets, refine_steps=0)
        # what group_object does: refine the merged canvas with the measured amplitudes
        objects, windows, probes = module.group_object(x, offsets, refine_steps=0)
        target = x * (module.input_scale / torch.exp(module.log_scale))
        by_hand = refine_canvas(objects, windows, probes, target, module.refine_step_sizes, 3,
                                momentum=0.5)
        expected = forward_amplitude(by_hand, windows, probes) * torch.exp(module.log_scale)
        views = module.member_views(x, offsets)
    assert (refined - plain).abs().max() > 1e-3 * plain.abs().max()
    torch.testing.assert_close(refined, expected, rtol=1e-5, atol=1e-5 * float(expected.max()))
    torch.testing.assert_close(views, gather_views(by_hand, windows), rtol=1e-5, atol=1e-6)


def test_the_step_sizes_learn_through_the_loss():
    module = _module(**{"model.refine_steps": 2}).train()
    x, offsets = _batch()
    loss = (module.predicted_amplitude(x, offsets) - x * 5.0).square().mean()
    loss.backward()
    grad = module.refine_step_sizes.grad
    assert grad is not None and grad.shape == (2,) and bool(torch.isfinite(grad).all())
    assert bool((grad != 0).all())
    assert any(p.grad is not None and p.grad.abs().max() > 0
               for p in module.network.parameters())


def test_stored_config_fills_missing_keys_with_their_legacy_values():
    today = PtychoConfig()
    assert today.model.refine_steps > 0 and today.model.phase_activation == "linear"
    legacy = stored_config(_legacy_dict(today))
    assert legacy.model.refine_steps == 0 and legacy.inference.refine_steps == 0
    assert legacy.model.phase_activation == "pi_tanh"
    for key, value in LEGACY_DEFAULTS.items():
        section, name = key.split(".")
        assert getattr(getattr(legacy, section), name) == value
    assert legacy.model.refine_momentum == today.model.refine_momentum  # default unchanged
    assert stored_config(to_dict(today)) == today  # a complete config is taken as it is
    custom = tiny_config(**{"model.refine_steps": 5, "model.phase_activation": "pi_tanh"})
    assert stored_config(to_dict(custom)) == custom
    assert stored_config({}).model.refine_steps == 0
    missing_section = _legacy_dict(today)
    del missing_section["inference"]
    assert stored_config(missing_section).inference.refine_steps == 0


def test_an_old_checkpoint_loads_as_the_model_it_was(tmp_path, tiny_scan):
    """A checkpoint written before refinement: no refine keys, no step sizes, pi_tanh."""
    legacy = tiny_config(**LEGACY_DEFAULTS)
    torch.manual_seed(3)
    old = PtychoPINN(legacy, 10.0, 32, probe=tiny_scan.probe).eval()
    assert isinstance(old.network.phase_decoder.head.activation, PiTanh)
    path = tmp_path / "old.ckpt"
    torch.save({"state_dict": old.state_dict(),
                "hyper_parameters": {"config": _legacy_dict(legacy), "intensity_scale": 10.0,
                                     "canvas": 32}}, path)
    loaded = load_checkpoint(path)
    assert loaded.config == legacy
    assert not hasattr(loaded, "refine_step_sizes")
    assert isinstance(loaded.network.phase_decoder.head.activation, PiTanh)
    groups = make_groups(tiny_scan.positions, 1, 4, 0, seed=0)
    diffraction = np.asarray(tiny_scan.diffraction)
    results = [stitch_groups(model, diffraction, groups, tiny_scan.positions, batch_size=32,
                             crop=16, scale=0.05) for model in (old, loaded)]
    np.testing.assert_array_equal(results[0].object, results[1].object)
    # the same weights in today's defaults would be another model: refine steps, no tanh
    with pytest.raises(RuntimeError, match="refine_step_sizes"):
        PtychoPINN(to_dict(tiny_config()), 10.0, 32).load_state_dict(old.state_dict())
