"""Find and load a trained model: from a run folder, a checkpoint, or a live object.

Checkpoints are read with ``torch.load(weights_only=True)``: loading a file
never runs code from it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..core.errors import BundleError, PtychoError

BEST_CHECKPOINT = "best.ckpt"
LAST_CHECKPOINT = "last.ckpt"


def checkpoint_dir(run_dir: Path) -> Path:
    return Path(run_dir) / "checkpoints"


def find_checkpoint(run_dir: Path, *, prefer: str = BEST_CHECKPOINT) -> Path:
    """The best (or last) checkpoint of a run folder; a clear error when there is none."""
    folder = checkpoint_dir(run_dir)
    for name in (prefer, LAST_CHECKPOINT, BEST_CHECKPOINT):
        if (folder / name).is_file():
            return folder / name
    raise PtychoError(f"{run_dir}: no checkpoint found in {folder}; is this a training run "
                      "folder (made by `ptycho-engine train --out`)?")


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


def load_checkpoint(path: str | Path, *, device: str | torch.device | None = None) -> Any:
    """Rebuild a PtychoPINNModule from a checkpoint file, in eval mode, on ``device``."""
    path = Path(path)
    checkpoint = read_checkpoint(path)
    hparams = dict(checkpoint["hyper_parameters"])
    try:
        with torch.random.fork_rng(devices=[]):  # building draws init weights: keep the
            module = _build_module(hparams)      # caller's random state untouched
        module.load_state_dict(checkpoint["state_dict"], strict=True)
    except PtychoError:
        raise
    except (KeyError, RuntimeError, TypeError, ValueError) as error:
        raise BundleError(f"does not match this engine's model ({error}); it was made by an "
                          "incompatible version", source=path) from None
    return module.to(resolve_device(device)).eval()


def _build_module(hparams: dict[str, Any]) -> Any:
    from .system import PtychoPINNModule

    return PtychoPINNModule(config=hparams["config"],
                            intensity_scale=float(hparams["intensity_scale"]),
                            canvas=int(hparams["canvas"]))


def resolve_device(device: str | torch.device | None) -> torch.device:
    """'auto'/None -> CUDA when present, else CPU; 'gpu' -> CUDA (error when absent)."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "gpu":
        device = "cuda"
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise PtychoError("a GPU was requested but torch sees no CUDA device; use --accelerator "
                          "cpu (or device = \"cpu\")")
    return device


def resolve_model(model: Any, *, device: str | torch.device | None = None) -> Any:
    """A PtychoPINNModule from a module, a TrainingResult, a run folder, a .ckpt or a bundle."""
    if isinstance(model, (str, Path)):
        return _model_from_path(Path(model), device)
    from .system import PtychoPINNModule

    if isinstance(model, PtychoPINNModule):
        return model if device is None else model.to(resolve_device(device))
    if hasattr(model, "module") and isinstance(model.module, PtychoPINNModule):
        return resolve_model(model.module, device=device)
    if hasattr(model, "to_module"):  # a loaded bundle
        return model.to_module(device=device)
    raise PtychoError(f"cannot use a {type(model).__name__} as a model; give a run folder, "
                      "a .ckpt file, a bundle, or a trained module")


def _model_from_path(path: Path, device: str | torch.device | None) -> Any:
    if path.is_dir():
        return load_checkpoint(find_checkpoint(path), device=device)
    if path.suffix == ".ckpt":
        return load_checkpoint(path, device=device)
    if not path.exists():
        raise PtychoError(f"{path}: not found; give a run folder, a .ckpt file or a model bundle")
    from ..bundle import load_bundle

    return load_bundle(path).to_module(device=device)
