"""Tests of the PtychoPINN network: shapes, filter ladders, head geometry, polar form, init."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from ptycho_engine.core.config import DataConfig, ModelConfig
from ptycho_engine.core.errors import ConfigError
from ptycho_engine.model.network import (
    PtychoPINNNet,
    build_network,
    decoder_filters,
    encoder_filters,
    head_filters,
)


def make_net(N: int = 32, gridsize: int = 1, n: int = 1, seed: int = 0, **options) -> PtychoPINNNet:
    torch.manual_seed(seed)
    return PtychoPINNNet(N, gridsize, n, **options)


def diffraction(batch: int, channels: int, N: int, seed: int = 1, scale: float = 1.0):
    """Random non-negative 'normalised amplitudes' (B, C, N, N) float32."""
    generator = torch.Generator().manual_seed(seed)
    return scale * torch.rand(batch, channels, N, N, generator=generator)


def central_window(N: int) -> tuple[slice, slice]:
    return slice(N // 4, N // 4 + N // 2), slice(N // 4, N // 4 + N // 2)


def outside_mask(N: int) -> np.ndarray:
    """(N, N) bool: True outside the central N/2 x N/2 window."""
    mask = np.ones((N, N), bool)
    mask[central_window(N)] = False
    return mask


@pytest.mark.parametrize("n", [1, 2, 3])
def test_filter_ladders_reproduce_reference_tables(n):
    assert encoder_filters(64, n) == [32 * n, 64 * n, 128 * n]
    assert encoder_filters(128, n) == [16 * n, 32 * n, 64 * n, 128 * n]
    assert encoder_filters(256, n) == [8 * n, 16 * n, 32 * n, 64 * n, 128 * n]
    assert decoder_filters(64, n) == [64 * n, 32 * n]
    assert decoder_filters(128, n) == [128 * n, 64 * n, 32 * n]
    assert decoder_filters(256, n) == [256 * n, 128 * n, 64 * n, 32 * n]
    assert [head_filters(N, n) for N in (64, 128, 256)] == [32 * n, 16 * n, 8 * n]
    # our N = 32 extension, by the same rule
    assert encoder_filters(32, n) == [64 * n, 128 * n]
    assert decoder_filters(32, n) == [32 * n]
    assert head_filters(32, n) == 64 * n


def test_built_layers_follow_the_ladders():
    net = make_net(64, 2, 2)
    encoder_out = [block.conv2.out_channels for block in net.encoder]
    decoder_out = [block.conv2.out_channels for block in net.amplitude_decoder.blocks]
    assert encoder_out == [64, 128, 256]
    assert decoder_out == [128, 64]
    assert net.encoder[0].conv1.in_channels == 4
    assert net.amplitude_decoder.head.border_block.conv1.out_channels == 64


SMALL_CASES = list(itertools.product([32, 64], [1, 2], [True, False], [True, False], [True, False]))


@pytest.mark.parametrize("N, gridsize, object_big, pad_object, probe_big", SMALL_CASES)
def test_output_shapes_and_dtype(N, gridsize, object_big, pad_object, probe_big):
    net = make_net(N, gridsize, 1, object_big=object_big, pad_object=pad_object,
                   probe_big=probe_big)
    C = gridsize**2
    K = C if object_big else 1
    x = diffraction(2, C, N)
    with torch.no_grad():
        obj = net(x)
        amplitude, phase = net.amplitude_and_phase(x)
    assert net.out_channels == K
    assert obj.shape == (2, K, N, N) and obj.dtype == torch.complex64
    assert amplitude.shape == phase.shape == (2, K, N, N)
    assert amplitude.dtype == phase.dtype == torch.float32
    assert torch.isfinite(torch.view_as_real(obj)).all()


@pytest.mark.parametrize("gridsize, object_big, pad_object, probe_big",
                         [(1, True, True, True), (2, True, False, True), (2, False, True, False)])
def test_output_shapes_N128(gridsize, object_big, pad_object, probe_big):
    net = make_net(128, gridsize, 1, object_big=object_big, pad_object=pad_object,
                   probe_big=probe_big)
    with torch.no_grad():
        obj = net(diffraction(1, gridsize**2, 128))
    assert obj.shape == (1, gridsize**2 if object_big else 1, 128, 128)


def test_output_shape_N256():
    net = make_net(256, 2, 1)
    with torch.no_grad():
        bottleneck = net.encode(diffraction(1, 4, 256))
        obj = net(diffraction(1, 4, 256))
    assert bottleneck.shape == (1, 128, 8, 8)
    assert obj.shape == (1, 4, 256, 256) and obj.dtype == torch.complex64


@pytest.mark.parametrize("N, n", [(32, 1), (64, 2), (128, 1)])
def test_encoder_bottleneck_is_8x8_with_128n_filters(N, n):
    net = make_net(N, 2, n)
    with torch.no_grad():
        assert net.encode(diffraction(3, 4, N)).shape == (3, 128 * n, 8, 8)


@pytest.mark.parametrize("N", [32, 64])
def test_pad_object_without_probe_big_is_zero_outside_central_window(N):
    net = make_net(N, 2, 1, pad_object=True, probe_big=False)
    x = diffraction(2, 4, N)
    with torch.no_grad():
        amplitude, phase = (t.numpy() for t in net.amplitude_and_phase(x))
        obj = net(x).numpy()
    outside = outside_mask(N)
    assert np.all(amplitude[..., outside] == 0.0)
    assert np.all(phase[..., outside] == 0.0)
    assert np.all(obj[..., outside] == 0.0)
    # sigmoid never gives exactly 0, so the central window is all non-zero
    assert np.all(amplitude[..., ~outside] > 0.0)


def test_border_branch_fills_only_the_outside():
    """Same weights with and without probe_big: the central window is unchanged."""
    N = 32
    big = make_net(N, 2, 1, pad_object=True, probe_big=True)
    small = make_net(N, 2, 1, pad_object=True, probe_big=False, seed=5)
    missing, unexpected = small.load_state_dict(big.state_dict(), strict=False)
    assert missing == [] and all(".border_" in key for key in unexpected) and unexpected
    border_pre = {}
    for name, decoder in (("amplitude", big.amplitude_decoder), ("phase", big.phase_decoder)):
        decoder.head.border_conv.register_forward_hook(
            lambda module, args, out, name=name: border_pre.__setitem__(name, out.double().numpy()))
    x = diffraction(2, 4, N)
    with torch.no_grad():
        a_big, p_big = (t.numpy() for t in big.amplitude_and_phase(x))
        a_small, p_small = (t.numpy() for t in small.amplitude_and_phase(x))
    outside = outside_mask(N)
    np.testing.assert_array_equal(a_big[..., ~outside], a_small[..., ~outside])
    np.testing.assert_array_equal(p_big[..., ~outside], p_small[..., ~outside])
    assert np.count_nonzero(a_big[..., outside]) > 0.9 * a_big[..., outside].size
    # the border branch is swish for amplitude and phase alike (as the reference code)
    for name, values in (("amplitude", a_big), ("phase", p_big)):
        z = border_pre[name][..., outside]
        np.testing.assert_allclose(values[..., outside], z / (1.0 + np.exp(-z)),
                                   rtol=1e-5, atol=1e-7)


def _spread_heads(net: PtychoPINNNet, factor: float) -> None:
    """Scale the final convs so the pre-activations span a wide range."""
    with torch.no_grad():
        for decoder in (net.amplitude_decoder, net.phase_decoder):
            head = decoder.head
            conv = head.central_conv if head.pad_object else head.full_conv
            conv.weight.mul_(factor)


@pytest.mark.parametrize("pad_object", [True, False])
def test_sigmoid_amplitude_and_phase_stay_in_range(pad_object):
    N = 32
    net = make_net(N, 2, 1, pad_object=pad_object, probe_big=True)
    _spread_heads(net, 200.0)
    with torch.no_grad():
        amplitude, phase = (t.numpy() for t in net.amplitude_and_phase(diffraction(4, 4, N)))
    if pad_object:
        rows, cols = central_window(N)
        amplitude, phase = amplitude[..., rows, cols], phase[..., rows, cols]
    # the spread actually reaches towards the bounds, so the check below can fail
    assert amplitude.min() < 0.1 and amplitude.max() > 0.9
    assert phase.min() < -0.8 * np.pi and phase.max() > 0.8 * np.pi
    assert amplitude.min() >= 0.0 and amplitude.max() <= 1.0
    assert np.abs(phase).max() <= np.float32(np.pi)


AMPLITUDE_FORMULAS = {
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "swish": lambda z: z / (1.0 + np.exp(-z)),
    "softplus": lambda z: np.log1p(np.exp(z)),
    "relu": lambda z: np.maximum(z, 0.0),
}


@pytest.mark.parametrize("activation", sorted(AMPLITUDE_FORMULAS))
@pytest.mark.parametrize("pad_object", [True, False])
def test_amplitude_activation_applies_the_named_formula(activation, pad_object):
    """Amplitude = formula(last conv output), phase = pi*tanh(last conv output)."""
    N = 32
    net = make_net(N, 1, 1, pad_object=pad_object, probe_big=False, amp_activation=activation)
    _spread_heads(net, 500.0)
    captured = {}
    for name, decoder in (("amplitude", net.amplitude_decoder), ("phase", net.phase_decoder)):
        head = decoder.head
        conv = head.central_conv if pad_object else head.full_conv
        conv.register_forward_hook(
            lambda module, args, out, name=name: captured.__setitem__(name, out.double().numpy()))
    with torch.no_grad():
        amplitude, phase = (t.numpy() for t in net.amplitude_and_phase(diffraction(2, 1, N)))
    if pad_object:
        rows, cols = central_window(N)
        amplitude, phase = amplitude[..., rows, cols], phase[..., rows, cols]
    assert captured["amplitude"].min() < -1.0 and captured["amplitude"].max() > 1.0
    expected = AMPLITUDE_FORMULAS[activation](captured["amplitude"])
    np.testing.assert_allclose(amplitude, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(phase, np.pi * np.tanh(captured["phase"]), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("probe_big", [True, False])
def test_object_is_polar_combination_of_amplitude_and_phase(probe_big):
    net = make_net(32, 2, 1, probe_big=probe_big)
    _spread_heads(net, 20.0)
    x = diffraction(2, 4, 32)
    with torch.no_grad():
        amplitude, phase = (t.numpy().astype(np.float64) for t in net.amplitude_and_phase(x))
        obj = net(x).numpy()
    reference = amplitude * np.exp(1j * phase)
    np.testing.assert_allclose(obj, reference, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.abs(obj), np.abs(amplitude), rtol=1e-5, atol=1e-6)
    positive = amplitude > 1e-3
    wrapped = np.angle(obj[positive] * np.exp(-1j * phase[positive]))
    assert np.abs(wrapped).max() < 1e-4
    # the MATH_POLAR_001 bug (A + i*phi) must not match
    assert np.abs(obj - (amplitude + 1j * phase)).max() > 0.1


def test_glorot_uniform_weights_and_zero_biases():
    net = make_net(64, 2, 2)
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    for conv in convs:
        out_ch, in_ch, kh, kw = conv.weight.shape
        limit = math.sqrt(6.0 / (kh * kw * (in_ch + out_ch)))
        assert conv.weight.abs().max().item() <= limit
        assert torch.count_nonzero(conv.bias).item() == 0
    large = net.encoder[-1].conv2  # 256 -> 256 channels, 3x3: 589,824 weights
    fan_in = fan_out = 256 * 9
    expected = 2.0 / (fan_in + fan_out)
    variance = large.weight.double().var().item()
    assert abs(variance / expected - 1.0) < 0.1
    assert abs(large.weight.double().mean().item()) < 0.1 * math.sqrt(expected)


def test_parameter_count_matches_layer_list():
    """N=64, gridsize 2, n=2, object_big, probe_big, pad_object, counted by hand."""
    net = make_net(64, 2, 2, object_big=True, probe_big=True, pad_object=True)
    encoder = [(4, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256)]
    decoder = [(256, 128), (128, 128), (128, 64), (64, 64)]
    central = [(64 - 4, 4)]
    border = [(4, 64), (64, 64), (64, 4)]
    layers = encoder + 2 * (decoder + central + border)

    def conv_params(cin, cout):
        return 3 * 3 * cin * cout + cout

    expected = sum(conv_params(cin, cout) for cin, cout in layers)
    assert sum(p.numel() for p in net.parameters()) == expected == 2_340_208
    # the border mask is a constant, not a weight a bundle has to carry
    assert not any("mask" in key for key in net.state_dict())


@pytest.mark.parametrize("pad_object, probe_big", [(True, True), (True, False), (False, True)])
def test_gradients_reach_every_parameter(pad_object, probe_big):
    net = make_net(32, 2, 1, pad_object=pad_object, probe_big=probe_big)
    x = diffraction(2, 4, 32)
    net(x).abs().square().mean().backward()
    for name, parameter in net.named_parameters():
        assert parameter.grad is not None, name
        assert torch.isfinite(parameter.grad).all(), name
    # the phase only shows in the far field, so a diffraction-like loss reaches every weight
    net.zero_grad()
    obj = net(x)
    (obj.abs().mean() + torch.fft.fft2(obj).abs().mean()).backward()
    for name, parameter in net.named_parameters():
        assert parameter.grad.abs().sum().item() > 0.0, name


def test_bf16_autocast_gives_finite_complex64():
    net = make_net(32, 2, 1)
    x = diffraction(2, 4, 32)
    with torch.no_grad():
        reference = net(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            obj = net(x)
            amplitude, phase = net.amplitude_and_phase(x)
    assert obj.dtype == torch.complex64
    assert amplitude.dtype == phase.dtype == torch.float32
    assert torch.isfinite(torch.view_as_real(obj)).all()
    assert (obj - reference).abs().max().item() < 0.05


def test_channels_last_input_and_model_give_same_output():
    net = make_net(32, 2, 1)
    x = diffraction(2, 4, 32)
    with torch.no_grad():
        reference = net(x)
        from_channels_last_input = net(x.to(memory_format=torch.channels_last))
        net = net.to(memory_format=torch.channels_last)
        from_channels_last_model = net(x.to(memory_format=torch.channels_last))
    assert from_channels_last_input.shape == reference.shape
    torch.testing.assert_close(from_channels_last_input, reference, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(from_channels_last_model, reference, rtol=1e-5, atol=1e-6)


def test_forward_traces_as_one_graph():
    """No data-dependent Python control flow: dynamo captures forward without graph breaks."""
    net = make_net(32, 1, 1)
    x = diffraction(1, 1, 32)
    compiled = torch.compile(net, fullgraph=True, backend="eager")
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), net(x))


def test_build_network_follows_configs():
    data = DataConfig(N=64, gridsize=2)
    model = ModelConfig(n_filters_scale=1, object_big=False, probe_big=False,
                        pad_object=True, amp_activation="softplus")
    net = build_network(data, model)
    assert (net.N, net.gridsize, net.n_filters_scale) == (64, 2, 1)
    assert net.out_channels == 1 and net.in_channels == 4
    assert isinstance(net.amplitude_decoder.head.activation, torch.nn.Softplus)
    assert not hasattr(net.amplitude_decoder.head, "border_block")
    with torch.no_grad():
        assert net(diffraction(1, 4, 64)).shape == (1, 1, 64, 64)


@pytest.mark.parametrize("name", ["linear", "pi_tanh"])
def test_phase_activation_follows_the_config(name):
    """'linear' passes the last conv output through unbounded; 'pi_tanh' bounds it."""
    net = build_network(DataConfig(N=32, gridsize=1),
                        ModelConfig(n_filters_scale=1, probe_big=False, phase_activation=name))
    _spread_heads(net, 500.0)
    captured = {}
    net.phase_decoder.head.central_conv.register_forward_hook(
        lambda module, args, out: captured.__setitem__("phase", out.double().numpy()))
    with torch.no_grad():
        _, phase = (t.numpy() for t in net.amplitude_and_phase(diffraction(2, 1, 32)))
    rows, cols = central_window(32)
    raw = captured["phase"]
    assert np.abs(raw).max() > 2 * np.pi  # the spread leaves tanh's range far behind
    expected = raw if name == "linear" else np.pi * np.tanh(raw)
    np.testing.assert_allclose(phase[..., rows, cols], expected, rtol=1e-5, atol=1e-5)


def test_unusable_arguments_raise_one_config_error_listing_all():
    with pytest.raises(ConfigError) as info:
        PtychoPINNNet(48, 0, 0, amp_activation="tanh")
    keys = [key for key, _ in info.value.problems]
    assert keys == ["data.N", "data.gridsize", "model.n_filters_scale", "model.amp_activation"]
    assert "32, 64, 128, 256" in str(info.value)
