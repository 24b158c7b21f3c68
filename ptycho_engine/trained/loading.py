"""``load_model``: a ready PtychoPINN from whatever names a trained model.

A run folder (its best checkpoint, else the last), a ``.ckpt`` file, a bundle
file, a loaded ``Bundle``, a ``TrainingResult``, the training system or the
model itself. Reconstruction, ONNX export and the CLI take the loaded model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..bundle import Bundle, load_bundle
from ..core.devices import resolve_device
from ..core.errors import PtychoError
from ..model.checkpoint import load_checkpoint
from ..model.pinn import PtychoPINN
from ..training.run_folder import RunFolder


def load_model(source: Any, device: str | torch.device | None = None) -> PtychoPINN:
    """The PtychoPINN ``source`` names, on ``device`` ('auto'/None: the GPU when present).

    A model that is already loaded is returned as it is when ``device`` is None,
    else moved there.
    """
    if isinstance(source, (str, Path)):
        return _model_from_path(Path(source), device)
    if isinstance(source, PtychoPINN):
        return source if device is None else source.to(resolve_device(device))
    if isinstance(source, Bundle):
        return source.to_module(device=device)
    for name in ("module", "model"):  # a TrainingResult, or the training system
        inner = getattr(source, name, None)
        if isinstance(inner, PtychoPINN):
            return load_model(inner, device)
    raise PtychoError(f"cannot use a {type(source).__name__} as a model; give a run folder, "
                      "a .ckpt file, a bundle, or a trained model")


def _model_from_path(path: Path, device: str | torch.device | None) -> PtychoPINN:
    if path.is_dir():
        return load_checkpoint(RunFolder(path).find_checkpoint(), device=device)
    if path.suffix == ".ckpt":
        return load_checkpoint(path, device=device)
    if not path.exists():
        raise PtychoError(f"{path}: not found; give a run folder, a .ckpt file or a model bundle")
    return load_bundle(path).to_module(device=device)
