"""``export_bundle``: write a trained model as one self-describing, checksummed file.

The whole archive is assembled in memory and written through ``atomic_write``,
so an export that fails half-way leaves any earlier file at that path as it was.
"""

from __future__ import annotations

import io
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save as save_safetensors

from ..core.atomic import atomic_write
from ..core.config import config_to_toml, to_dict
from ..core.version import __version__
from .archive import write_archive
from .format import (
    CONFIG,
    FORMAT_NAME,
    FORMAT_VERSION,
    HISTORY,
    MANIFEST,
    PROBE,
    PROBE_NORMALISATION,
    WEIGHTS,
    seal_manifest,
    sha256_hex,
)
from .sources import ExportSource, export_source, training_summary


def export_bundle(source: Any, path: str | Path, *, metrics: dict[str, Any] | None = None,
                  scan: str | Path | None = None) -> Path:
    """Write ``source`` (a TrainingResult, a run folder or a PtychoPINN) to ``path``.

    metrics: quality figures to store in the manifest, e.g. ``training_metrics``
    of the same source (the bundle itself evaluates nothing). scan: the training
    scan file when a run folder's recorded scan path no longer exists (for the
    provenance hash). Returns ``path``.
    """
    path = Path(path)
    prepared = export_source(source, scan=scan)
    members = bundle_members(prepared, metrics)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as handle:
        write_archive(handle, members)
    return path


def cpu_state_dict(module: Any) -> dict[str, torch.Tensor]:
    """The module's persistent tensors as independent, contiguous CPU copies."""
    return {name: tensor.detach().to("cpu", copy=True).contiguous()
            for name, tensor in module.state_dict().items()}


def probe_npy(probe: np.ndarray) -> bytes:
    """(N, N) complex64 probe as .npy bytes (no pickle)."""
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(probe, dtype=np.complex64), allow_pickle=False)
    return buffer.getvalue()


def bundle_members(prepared: ExportSource, metrics: dict[str, Any] | None) -> dict[str, bytes]:
    """Member name -> bytes, the manifest first."""
    module = prepared.module
    state = cpu_state_dict(module)
    probe = torch.complex(state["probe_real"], state["probe_imag"]).numpy()
    others = {
        WEIGHTS: save_safetensors(state, metadata={"format": FORMAT_NAME,
                                                   "format_version": FORMAT_VERSION}),
        PROBE: probe_npy(probe),
        CONFIG: config_to_toml(module.config).encode("utf-8"),
        HISTORY: prepared.history_csv,
    }
    manifest = build_manifest(prepared, state, metrics,
                              {name: sha256_hex(data) for name, data in others.items()})
    return {MANIFEST: seal_manifest(manifest), **others}


def build_manifest(prepared: ExportSource, state: dict[str, torch.Tensor],
                   metrics: dict[str, Any] | None, members: dict[str, str]) -> dict[str, Any]:
    """The manifest's content (everything but its own seal)."""
    module = prepared.module
    config = module.config
    N, gridsize = config.data.N, config.data.gridsize
    parameters = sum(p.numel() for p in module.parameters())
    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "engine_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "N": N,
        "gridsize": gridsize,
        "intensity_scale": float(torch.exp(state["log_scale"]).item()),
        "initial_intensity_scale": module.input_scale,
        "canvas": module.canvas,
        "probe": {"member": PROBE, "shape": [N, N], "dtype": "complex64",
                  "normalisation": {"method": PROBE_NORMALISATION,
                                    "probe_scale": config.model.probe_scale},
                  "trainable": config.model.probe_trainable},
        "weights": {"member": WEIGHTS, "from": prepared.weights_from, "tensors": len(state),
                    "parameters": int(parameters)},
        "training": training_summary(prepared.history, prepared.run_info),
        "provenance": prepared.provenance,
        "metrics": metrics,
        "config": to_dict(config),
        "members": members,
    }
