"""Export the inference network (diffraction -> object patches) to ONNX.

ONNX has no complex tensors, so the exported graph returns the object patch as
two real outputs, ``amplitude`` A and ``phase`` phi (radians), each
(batch, K, N, N) float32, with object = A * exp(i phi) (A may dip slightly
below 0 in the border region, as in the PyTorch network). Its input
``diffraction`` is (batch, C, N, N) float32 normalised amplitudes, exactly what
``PtychoPINN.forward`` takes: sqrt(counts) scaled so that the scan's mean
over patterns of sum(X**2) is (N/2)**2; C = gridsize**2, K = C with object_big
else 1. The intensity-scale step is inside the graph. The batch axis is dynamic.
Stitching the patches at the scan positions stays with the caller, and so do the
physics refinement steps (``model.refine_steps``, ``inference.refine_steps``), which
need the probe and the measured amplitudes: the graph gives the network's first guess,
which the engine's reconstruction then refines and phase-aligns (docs/method.md).
"""

from __future__ import annotations

import copy
import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..bundle import Bundle, load_bundle
from ..core.atomic import write_bytes_atomic
from ..core.errors import PtychoError
from ..model.network import build_network
from ..model.pinn import PtychoPINN
from ..trained.loading import load_model

INPUT_NAME = "diffraction"
OUTPUT_NAMES = ("amplitude", "phase")
DEFAULT_OPSET = 17
VERIFY_BATCH = 3
VERIFY_SEED = 0
VERIFY_TOLERANCE = 1e-4
"""Largest |ONNX - torch| accepted for amplitude (normalised units) and phase (rad)."""


class AmplitudePhaseNet(nn.Module):
    """The module's forward pass with real outputs: (B, C, N, N) -> amplitude, phase.

    network: the PtychoPINNNet; input_scale: the data's intensity scale the
    module was built with; log_scale: the trained log intensity scale.
    """

    def __init__(self, network: nn.Module, config: Any, input_scale: float,
                 log_scale: torch.Tensor):
        super().__init__()
        self.network = network
        self.config = config
        self.register_buffer("input_scale", torch.tensor(float(input_scale)))
        self.register_buffer("log_scale", log_scale.detach().to("cpu", torch.float32).clone())

    @classmethod
    def from_module(cls, module: PtychoPINN) -> AmplitudePhaseNet:
        """From a PtychoPINN (its network is copied: the model stays where it is)."""
        network = copy.deepcopy(module.network).to("cpu", torch.float32)
        return cls(network, module.config, module.input_scale, module.log_scale)

    @classmethod
    def from_bundle(cls, bundle: Bundle) -> AmplitudePhaseNet:
        """From a loaded Bundle: its network only, with the bundle's weights."""
        config = bundle.config
        with torch.random.fork_rng(devices=[]):
            network = build_network(config.data, config.model)
        prefix = "network."
        network.load_state_dict({name[len(prefix):]: tensor
                                 for name, tensor in bundle.state_dict.items()
                                 if name.startswith(prefix)}, strict=True)
        return cls(network, config, bundle.initial_intensity_scale,
                   bundle.state_dict["log_scale"])

    def forward(self, diffraction: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        scaled = diffraction * (self.input_scale / torch.exp(self.log_scale))
        return self.network.amplitude_and_phase(scaled)


def inference_net(model: Any) -> AmplitudePhaseNet:
    """The exportable network of a bundle (path or Bundle), run folder, .ckpt or model."""
    if isinstance(model, AmplitudePhaseNet):
        return model
    if isinstance(model, Bundle):
        return AmplitudePhaseNet.from_bundle(model)
    if isinstance(model, (str, Path)) and Path(model).is_file() and Path(model).suffix != ".ckpt":
        return AmplitudePhaseNet.from_bundle(load_bundle(model))
    return AmplitudePhaseNet.from_module(load_model(model, device="cpu"))


@dataclass(frozen=True)
class OnnxExport:
    """What ``export_onnx`` wrote and how well onnxruntime reproduced PyTorch.

    max_abs_difference: largest |ONNX - torch| over amplitude and phase on a
    seeded random batch; None when onnxruntime is not installed (verified False).
    """

    path: Path
    input_shape: tuple[str, int, int, int]
    output_shape: tuple[str, int, int, int]
    verified: bool
    max_abs_difference: float | None


def _require_onnx() -> Any:
    try:  # optional packages (the 'onnx' extra): imported when used
        import onnx
    except ModuleNotFoundError:
        raise PtychoError("ONNX export needs the 'onnx' package, which is not installed; "
                          "pip install 'ptycho-studio[onnx]' (or onnx onnxruntime)") from None
    return onnx


def _model_properties(net: AmplitudePhaseNet) -> dict[str, str]:
    config = net.config
    return {
        "producer": "ptycho-studio",
        "N": str(config.data.N),
        "gridsize": str(config.data.gridsize),
        "intensity_scale": repr(float(torch.exp(net.log_scale).item())),
        "input": "diffraction (batch, gridsize^2, N, N) float32 normalised amplitudes: "
                 "sqrt(counts) scaled so the scan's mean sum(X^2) per pattern is (N/2)^2",
        "outputs": "amplitude, phase (batch, K, N, N) float32; object = amplitude * "
                   "exp(1j * phase); K = gridsize^2 with object_big, else 1",
    }


def onnx_bytes(net: AmplitudePhaseNet, *, opset: int = DEFAULT_OPSET) -> bytes:
    """The serialized ONNX model of the inference network (CPU, float32)."""
    onnx = _require_onnx()
    wrapper = net.to("cpu").float().eval()
    config = net.config
    channels = config.data.gridsize ** 2
    example = torch.zeros(2, channels, config.data.N, config.data.N)
    buffer = io.BytesIO()
    axes = {name: {0: "batch"} for name in (INPUT_NAME, *OUTPUT_NAMES)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notices
        torch.onnx.export(wrapper, (example,), buffer, dynamo=False, input_names=[INPUT_NAME],
                          output_names=list(OUTPUT_NAMES), dynamic_axes=axes,
                          opset_version=opset, do_constant_folding=True)
    model = onnx.load_from_string(buffer.getvalue())
    model.doc_string = __doc__ or ""
    onnx.helper.set_model_props(model, _model_properties(net))
    onnx.checker.check_model(model)
    return model.SerializeToString()


def verify_onnx(data: bytes, net: AmplitudePhaseNet, *, batch: int = VERIFY_BATCH,
                seed: int = VERIFY_SEED) -> float | None:
    """Max |ONNX - torch| over amplitude and phase on a seeded batch; None without onnxruntime."""
    try:  # optional, as above
        import onnxruntime
    except ModuleNotFoundError:
        return None
    config = net.config
    rng = np.random.default_rng(seed)
    x = rng.random((batch, config.data.gridsize ** 2, config.data.N, config.data.N),
                   dtype=np.float32)
    session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    amplitude, phase = session.run(list(OUTPUT_NAMES), {INPUT_NAME: x})
    with torch.inference_mode():
        ref_amplitude, ref_phase = net.to("cpu").float().eval()(torch.from_numpy(x))
    return float(max(np.abs(amplitude - ref_amplitude.numpy()).max(),
                     np.abs(phase - ref_phase.numpy()).max()))


def export_onnx(model: Any, path: str | Path, *, opset: int = DEFAULT_OPSET,
                verify: bool = True) -> OnnxExport:
    """Write ``model`` (bundle path, Bundle, run folder, .ckpt or module) as ONNX, atomically.

    With ``verify`` and onnxruntime installed, the written graph is run on a
    seeded random batch and compared with PyTorch (see ``OnnxExport``).
    """
    net = inference_net(model)
    path = Path(path)
    data = onnx_bytes(net, opset=opset)
    difference = verify_onnx(data, net) if verify else None
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(path, data)
    config = net.config
    N, channels = config.data.N, config.data.gridsize ** 2
    patches = channels if config.model.object_big else 1
    return OnnxExport(path=path, input_shape=("batch", channels, N, N),
                      output_shape=("batch", patches, N, N), verified=difference is not None,
                      max_abs_difference=difference)
