"""Lightning checkpoints of a PtychoPINN: read safely, rebuild the model, map old keys.

Checkpoints are read with ``torch.load(weights_only=True)``: loading a file
never runs code from it. A checkpoint holds the training system's weights,
whose names start with ``model.`` (the system keeps its PtychoPINN there);
checkpoints written before that move have the same names without the prefix,
and both load.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from ..core.config import stored_config
from ..core.devices import resolve_device
from ..core.errors import BundleError, PtychoError
from .pinn import PtychoPINN

SYSTEM_PREFIX = "model."
"""Where the training system keeps its PtychoPINN: the prefix of its weights' names."""


def model_state(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A checkpoint's weights named as in a PtychoPINN (old and new checkpoints alike)."""
    return {name.removeprefix(SYSTEM_PREFIX): tensor for name, tensor in state_dict.items()}


def system_state(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A checkpoint's weights named as in the training system (old and new alike)."""
    return {name if name.startswith(SYSTEM_PREFIX) else SYSTEM_PREFIX + name: tensor
            for name, tensor in state_dict.items()}


def read_checkpoint(path: Path) -> dict[str, Any]:
    """The checkpoint dict (state_dict, hyper_parameters, …), loaded without unpickling code."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise BundleError("not found; check the path", source=path) from None
    except Exception as error:  # torch raises many types for damaged files
        raise BundleError(f"cannot be read as a checkpoint ({type(error).__name__}: "
                          f"{str(error).splitlines()[0][:200]}); the file is damaged or not a "
                          "Ptycho Studio checkpoint", source=path) from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise BundleError("holds no model weights ('state_dict' missing)", source=path)
    if "hyper_parameters" not in checkpoint:
        raise BundleError("holds no model settings ('hyper_parameters' missing)", source=path)
    return checkpoint


def load_checkpoint(path: str | Path, *, device: str | torch.device | None = None
                    ) -> PtychoPINN:
    """Rebuild the PtychoPINN of a checkpoint file, in eval mode, on ``device``."""
    path = Path(path)
    checkpoint = read_checkpoint(path)
    hparams = dict(checkpoint["hyper_parameters"])
    try:
        with torch.random.fork_rng(devices=[]):  # building draws init weights: keep the
            model = PtychoPINN(stored_config(hparams["config"]),  # caller's random state
                               float(hparams["intensity_scale"]), int(hparams["canvas"]))
        model.load_state_dict(model_state(checkpoint["state_dict"]), strict=True)
    except PtychoError:
        raise
    except (KeyError, RuntimeError, TypeError, ValueError) as error:
        raise BundleError(f"does not match this engine's model ({error}); it was made by an "
                          "incompatible version", source=path) from None
    return model.to(resolve_device(device)).eval()
