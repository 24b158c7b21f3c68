"""The PtychoPINN CNN: normalised diffraction amplitudes to complex object patches.

A plain ``nn.Module`` with no physics and no intensity scaling (the
LightningModule divides by the intensity scale before calling it). The layout
follows the TF reference (``ptycho/model.py``): a shared encoder of
Conv-Conv-MaxPool blocks down to an 8 x 8 bottleneck with ``128 n`` filters, two
independent decoders (amplitude, phase) of Conv-Conv-Upsample blocks up to
``N/2``, and the dual-resolution output head ("decoder_last"). No batch norm,
no attention (the torch port's CBAM collapses the amplitude at N = 128), and
Keras' Glorot-uniform weights with zero biases. Tensors are channels-first.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..core.config import DataConfig, ModelConfig
from ..core.errors import ConfigError

SUPPORTED_N = (32, 64, 128, 256)
AMP_ACTIVATIONS = ("sigmoid", "swish", "softplus", "relu")
BOTTLENECK_SIZE = 8
"""Spatial size (px) the encoder always ends at."""
BORDER_CHANNELS = 4
"""Last channels of the decoder output that feed the border branch (the reference's c_outer)."""


def _depth(N: int) -> int:
    """Number of encoder blocks: halvings from N down to the 8 x 8 bottleneck."""
    return int(math.log2(N // BOTTLENECK_SIZE))


def encoder_filters(N: int, n_filters_scale: int) -> list[int]:
    """Filters of each encoder block: ends at ``128 n``, each earlier block halves.

    Reproduces the reference ladders, e.g. N = 64 -> [32n, 64n, 128n].
    """
    depth = _depth(N)
    return [128 * n_filters_scale // 2 ** (depth - 1 - i) for i in range(depth)]


def decoder_filters(N: int, n_filters_scale: int) -> list[int]:
    """Filters of each decoder block: ends at ``32 n`` (at N/2 px), each earlier block doubles.

    Reproduces the reference ladders, e.g. N = 128 -> [128n, 64n, 32n].
    """
    blocks = _depth(N) - 1
    return [32 * n_filters_scale * 2 ** (blocks - 1 - j) for j in range(blocks)]


def head_filters(N: int, n_filters_scale: int) -> int:
    """Filters of the head's up-sampling block (border branch, or the whole head unpadded)."""
    return n_filters_scale * 2048 // N


def _conv3x3(in_channels: int, out_channels: int) -> nn.Conv2d:
    """3 x 3 'same' convolution initialised as Keras does (Glorot uniform, zero bias)."""
    conv = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1)
    nn.init.xavier_uniform_(conv.weight)
    nn.init.zeros_(conv.bias)
    return conv


class ConvPoolBlock(nn.Sequential):
    """Conv3x3 + ReLU, Conv3x3 + ReLU, MaxPool 2: halves the spatial size."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(OrderedDict(
            conv1=_conv3x3(in_channels, out_channels), relu1=nn.ReLU(),
            conv2=_conv3x3(out_channels, out_channels), relu2=nn.ReLU(),
            pool=nn.MaxPool2d(2),
        ))


class ConvUpBlock(nn.Sequential):
    """Conv3x3 + ReLU, Conv3x3 + ReLU, nearest Upsample x2: doubles the spatial size."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(OrderedDict(
            conv1=_conv3x3(in_channels, out_channels), relu1=nn.ReLU(),
            conv2=_conv3x3(out_channels, out_channels), relu2=nn.ReLU(),
            up=nn.Upsample(scale_factor=2, mode="nearest"),
        ))


class PiTanh(nn.Module):
    """Phase activation pi * tanh: keeps the phase inside (-pi, pi)."""

    def forward(self, x: Tensor) -> Tensor:
        return math.pi * torch.tanh(x)


def phase_activation(name: str) -> nn.Module:
    """The phase output activation by its config name: 'linear' (unbounded; e^(iφ) wraps
    it) or PtychoPINN's 'pi_tanh'. Why linear is the default: a phase object's global
    offset is invisible in the diffraction, so it drifts during training; with pi_tanh
    it drifted into tanh's flat end (median phase 3.07 rad on a 400-position scan),
    where the phase gradient vanishes and the phase contrast stopped growing."""
    return nn.Identity() if name == "linear" else PiTanh()


def amplitude_activation(name: str) -> nn.Module:
    """The amplitude output activation by its config name (swish is SiLU)."""
    modules = {"sigmoid": nn.Sigmoid, "swish": nn.SiLU, "softplus": nn.Softplus, "relu": nn.ReLU}
    return modules[name]()


def border_mask(N: int) -> Tensor:
    """(1, 1, N, N) float32: 1 outside the central N/2 x N/2 window, 0 inside."""
    mask = torch.ones(1, 1, N, N)
    mask[..., N // 4: N // 4 + N // 2, N // 4: N // 4 + N // 2] = 0.0
    return mask


class OutputHead(nn.Module):
    """The reference's "decoder_last": decoder features at N/2 to one real map per patch at N.

    With ``pad_object`` the high-resolution object lives in the central N/2 x N/2
    window (oversampling): a linear conv on all but the last 4 channels, the
    activation, then zero padding by N/4. With ``probe_big`` a low-resolution
    border branch on the last 4 channels fills the rest, for probes with
    extended tails. The border branch ends in swish for the amplitude *and*
    the phase head, as the reference code does (its paper text says otherwise;
    the code is ground truth), so there the amplitude may dip to about -0.28
    and the phase is not bounded by pi. Without ``pad_object`` an up-sampling
    block on all channels gives the full N x N map.
    """

    def __init__(self, N: int, n_filters_scale: int, features: int, out_channels: int,
                 activation: nn.Module, *, pad_object: bool, probe_big: bool):
        super().__init__()
        self.pad_object = pad_object
        self.probe_big = probe_big and pad_object
        self.activation = activation
        self.pad = N // 4
        self.central_channels = features - BORDER_CHANNELS
        up_filters = head_filters(N, n_filters_scale)
        if pad_object:
            self.central_conv = _conv3x3(self.central_channels, out_channels)
            if self.probe_big:
                self.border_block = ConvUpBlock(BORDER_CHANNELS, up_filters)
                self.border_conv = _conv3x3(up_filters, out_channels)
                self.border_activation = nn.SiLU()
                self.register_buffer("border_mask", border_mask(N), persistent=False)
        else:
            self.full_block = ConvUpBlock(features, up_filters)
            self.full_conv = _conv3x3(up_filters, out_channels)

    def forward(self, features: Tensor) -> Tensor:
        """(B, 32n, N/2, N/2) decoder output -> (B, K, N, N) activated map."""
        if not self.pad_object:
            return self.activation(self.full_conv(self.full_block(features)))
        central = self.activation(self.central_conv(features[:, : self.central_channels]))
        central = F.pad(central, (self.pad, self.pad, self.pad, self.pad))
        if not self.probe_big:
            return central
        border = self.border_conv(self.border_block(features[:, self.central_channels:]))
        return central + self.border_activation(border) * self.border_mask


class ObjectDecoder(nn.Module):
    """One decoder stack (8 x 8 -> N/2) followed by its output head (-> N)."""

    def __init__(self, N: int, n_filters_scale: int, in_channels: int, out_channels: int,
                 activation: nn.Module, *, pad_object: bool, probe_big: bool):
        super().__init__()
        filters = decoder_filters(N, n_filters_scale)
        widths = [in_channels, *filters]
        pairs = zip(widths[:-1], filters, strict=True)
        self.blocks = nn.Sequential(*(ConvUpBlock(a, b) for a, b in pairs))
        self.head = OutputHead(N, n_filters_scale, filters[-1], out_channels, activation,
                               pad_object=pad_object, probe_big=probe_big)

    def forward(self, bottleneck: Tensor) -> Tensor:
        """(B, 128n, 8, 8) -> (B, K, N, N)."""
        return self.head(self.blocks(bottleneck))


def _check_arguments(N: int, gridsize: int, n_filters_scale: int, amp_activation: str) -> None:
    """Raise one ConfigError listing every unusable constructor argument."""
    problems = []
    if N not in SUPPORTED_N:
        problems.append(("data.N", f"{N!r} px is not supported by the network; use one of "
                         + ", ".join(str(n) for n in SUPPORTED_N)))
    if not isinstance(gridsize, int) or gridsize < 1:
        problems.append(("data.gridsize", f"{gridsize!r} is not allowed; use an integer >= 1"))
    if not isinstance(n_filters_scale, int) or n_filters_scale < 1:
        problems.append(("model.n_filters_scale",
                         f"{n_filters_scale!r} is not allowed; use an integer >= 1"))
    if amp_activation not in AMP_ACTIVATIONS:
        problems.append(("model.amp_activation", f"{amp_activation!r} is not allowed; use one of "
                         + ", ".join(repr(a) for a in AMP_ACTIVATIONS)))
    if problems:
        raise ConfigError(problems)


class PtychoPINNNet(nn.Module):
    """PtychoPINN's encoder + amplitude/phase decoders, returning complex object patches.

    Input ``(B, C, N, N)`` float, C = gridsize², normalised diffraction
    amplitudes (already divided by the intensity scale). Output
    ``(B, K, N, N)`` complex64 object patches A·exp(iφ), K = C when
    ``object_big`` else 1. Forward has no data-dependent Python branches, so it
    can be compiled; the complex exponential is taken in float32 even under
    autocast.
    """

    def __init__(self, N: int, gridsize: int, n_filters_scale: int = 2, *,
                 object_big: bool = True, probe_big: bool = True, pad_object: bool = True,
                 amp_activation: str = "sigmoid", phase_activation_name: str = "pi_tanh"):
        _check_arguments(N, gridsize, n_filters_scale, amp_activation)
        super().__init__()
        self.N = N
        self.gridsize = gridsize
        self.n_filters_scale = n_filters_scale
        self.object_big = object_big
        self.probe_big = probe_big
        self.pad_object = pad_object
        self.amp_activation = amp_activation
        self.in_channels = gridsize**2
        filters = encoder_filters(N, n_filters_scale)
        widths = [self.in_channels, *filters]
        pairs = zip(widths[:-1], filters, strict=True)
        self.encoder = nn.Sequential(*(ConvPoolBlock(a, b) for a, b in pairs))
        decoder_options = dict(pad_object=pad_object, probe_big=probe_big)
        self.amplitude_decoder = ObjectDecoder(
            N, n_filters_scale, filters[-1], self.out_channels,
            amplitude_activation(amp_activation), **decoder_options)
        self.phase_decoder = ObjectDecoder(
            N, n_filters_scale, filters[-1], self.out_channels,
            phase_activation(phase_activation_name), **decoder_options)

    @classmethod
    def from_config(cls, data: DataConfig, model: ModelConfig) -> PtychoPINNNet:
        """The network a (validated) data + model config describes."""
        return cls(data.N, data.gridsize, model.n_filters_scale, object_big=model.object_big,
                   probe_big=model.probe_big, pad_object=model.pad_object,
                   amp_activation=model.amp_activation,
                   phase_activation_name=model.phase_activation)

    @property
    def out_channels(self) -> int:
        """K: object patches per group (gridsize² with object_big, else 1)."""
        return self.in_channels if self.object_big else 1

    def encode(self, diffraction: Tensor) -> Tensor:
        """(B, C, N, N) normalised amplitudes -> (B, 128n, 8, 8) bottleneck features."""
        return self.encoder(diffraction)

    def amplitude_and_phase(self, diffraction: Tensor) -> tuple[Tensor, Tensor]:
        """(B, C, N, N) -> amplitude and phase (rad), each (B, K, N, N) float32."""
        bottleneck = self.encode(diffraction)
        amplitude = self.amplitude_decoder(bottleneck)
        phase = self.phase_decoder(bottleneck)
        return amplitude.float(), phase.float()

    def forward(self, diffraction: Tensor) -> Tensor:
        """(B, C, N, N) float normalised amplitudes -> (B, K, N, N) complex64 object patches."""
        amplitude, phase = self.amplitude_and_phase(diffraction)
        return torch.polar(amplitude, phase)


def build_network(data: DataConfig, model: ModelConfig) -> PtychoPINNNet:
    """The PtychoPINN network for a data + model config (see PtychoPINNNet.from_config)."""
    return PtychoPINNNet.from_config(data, model)


__all__ = [
    "PtychoPINNNet", "build_network", "encoder_filters", "decoder_filters", "head_filters",
    "border_mask", "SUPPORTED_N", "AMP_ACTIVATIONS",
]
