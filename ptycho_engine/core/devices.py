"""Where computations run: the one device resolver, with one message for a missing GPU.

Training (``training.device``, ``--accelerator``), inference and bundles
(``--device``) and the CLI all name devices the same way and pass the name
here: 'auto' (or None) is the GPU when torch sees one, else the CPU; 'gpu'
and 'cuda' are the first GPU, 'cuda:N' a given one, 'cpu' the CPU.
"""

from __future__ import annotations

import torch

from .errors import PtychoError

DEVICE_NAMES = "auto, cpu, gpu, cuda or cuda:N"


def _no_gpu(requested: str) -> PtychoError:
    visible = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return PtychoError(f"device {requested!r} was requested but torch sees {visible} CUDA "
                       "GPU(s); use 'auto' or 'cpu' (training.device, --accelerator or --device)")


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """The torch device a device name means; PtychoError when it is unknown or absent."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    requested = str(device)
    try:
        resolved = torch.device("cuda" if requested == "gpu" else requested)
    except (RuntimeError, TypeError):
        raise PtychoError(f"device {requested!r} is unknown; use {DEVICE_NAMES}") from None
    if resolved.type not in ("cpu", "cuda"):
        raise PtychoError(f"device {requested!r} is not supported; use {DEVICE_NAMES}")
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise _no_gpu(requested)
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise _no_gpu(requested)
    return resolved


def accelerator(device: str | torch.device | None = None) -> str:
    """Lightning's name for where ``device`` is: 'gpu' or 'cpu'."""
    return "gpu" if resolve_device(device).type == "cuda" else "cpu"
