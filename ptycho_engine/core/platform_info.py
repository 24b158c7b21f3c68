"""Versions and compute devices of this installation, for the About box, logs and bug reports.

torch is imported inside :func:`system_info` (about 3 s of CPU), so callers
decide when to pay for it: the app asks from a background thread.
"""

from __future__ import annotations

import os
import platform
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy

from .version import __version__


def _package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def system_info() -> dict[str, Any]:
    """Plain facts: versions of the engine, Python, numpy, torch, Lightning, and the GPUs.

    ``device`` is a one-line description of where training with device 'auto'
    runs: 'GPU: <name>' when CUDA sees a GPU, else 'CPU (<n> cores)'.
    """
    import torch  # about 3 s of CPU: only when asked (see the module docstring)

    gpu_available = bool(torch.cuda.is_available())
    gpus = ([torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
            if gpu_available else [])
    cores = os.cpu_count() or 1
    return {
        "engine": __version__,
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "torch": torch.__version__,
        "lightning": _package_version("lightning"),
        "cuda": torch.version.cuda or "none (CPU build of torch)",
        "gpu_available": gpu_available,
        "gpus": gpus,
        "cpu_cores": cores,
        "device": f"GPU: {gpus[0]}" if gpus else f"CPU ({cores} cores)",
    }
