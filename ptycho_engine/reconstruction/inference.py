"""Reconstruct a scan with a trained model: patches for every position, stitched.

Inference streams the scan in chunks (``inference.batch_size`` groups at a
time) into one stitch accumulator, so memory stays flat as scans grow.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from ..api import Reconstruction
from ..core.config import INFERENCE_GROUPS
from ..core.errors import PtychoError, ScanFormatError
from ..data.grouping import Groups, amplitude_normalisation, covering_groups, make_groups
from ..data.io import load_scan
from ..data.scan import DiffractionStack, Scan
from ..model.pinn import PtychoPINN
from .stitching import StitchAccumulator, canvas_for


def _device_of(module: torch.nn.Module) -> torch.device:
    return next(module.parameters()).device


def iter_object_patches(module: PtychoPINN, diffraction: DiffractionStack, groups: Groups, *,
                        batch_size: int, device: torch.device | None = None,
                        scale: float = 1.0, merged: bool = True
                        ) -> Iterator[tuple[np.ndarray, torch.Tensor]]:
    """Yield (member positions (b*C, 2), object patches (b*C, N, N) complex on device).

    diffraction: (n, N, N) amplitudes, in memory or read lazily chunk by chunk;
    ``scale`` times them are the normalised amplitudes (mean sum X**2 = (N/2)**2).
    Each group yields the object around every member, centred on that member:
    with ``merged`` the member views of the group's merged canvas (the overlap
    average, blurred once more by the two sub-pixel shifts); otherwise each
    member's own predicted patch, which needs a network that predicts one patch
    per member (``object_big``) and falls back to the views when it does not.
    """
    device = device or _device_of(module)
    offsets_all = groups.relative_offsets
    canvas = module.canvas_for(float(np.abs(offsets_all).max()) if offsets_all.size else 0.0)
    was_training = module.training
    module.eval()
    try:
        with torch.inference_mode():
            for start in range(0, groups.indices.shape[0], batch_size):
                stop = start + batch_size
                index = groups.indices[start:stop]
                chunk = np.asarray(diffraction[index.ravel()], dtype=np.float32)
                chunk = chunk.reshape(*index.shape, *chunk.shape[-2:])
                x = torch.from_numpy(chunk).to(device, non_blocking=True)
                if scale != 1.0:
                    x = x * scale
                offsets = torch.from_numpy(offsets_all[start:stop].astype(np.float32)).to(device)
                patches = module(x)
                own = not merged and patches.shape[1] == offsets.shape[1]
                views = patches if own else module.member_views(patches, offsets, canvas)
                centres = (groups.centroids[start:stop, None, :] + offsets_all[start:stop])
                yield centres.reshape(-1, 2), views.reshape(-1, *views.shape[-2:])
    finally:
        module.train(was_training)


def stitch_groups(module: PtychoPINN, diffraction: DiffractionStack, groups: Groups,
                  positions: np.ndarray, *, batch_size: int, crop: int,
                  device: torch.device | None = None, source: str = "", scale: float = 1.0,
                  mode: str = "all") -> Reconstruction:
    """Predict the object around every position and stitch it there.

    ``groups`` should be one group per position. ``mode`` (``inference.groups``):
    'all' runs every group and stitches each member's own patch, so a position is
    the average of the ~gridsize² groups that contain it; 'covering' runs only a
    covering subset (see ``covering_groups``) and stitches its merged member views.
    Measured on the 2,000-pattern quality benchmark: phase SSIM 0.870 ('all')
    against 0.831 ('covering'), for 2.6x the network passes.
    """
    device = device or _device_of(module)
    covering = mode == "covering"
    if covering:
        groups = covering_groups(groups)
    shape, offset = canvas_for(positions, diffraction.shape[-1], crop)
    accumulator = StitchAccumulator(shape, offset, crop, device=device)
    for centres, objects in iter_object_patches(module, diffraction, groups,
                                                batch_size=batch_size, device=device,
                                                scale=scale, merged=covering):
        accumulator.add(objects, centres)
    stitched = accumulator.result()
    return Reconstruction(object=stitched.object, offset=stitched.offset, weight=stitched.weight,
                          positions=np.asarray(positions, np.float64), source=source,
                          info={"groups_run": int(groups.indices.shape[0])})


def inference_batch_size(module: PtychoPINN) -> int:
    """The configured inference batch, or 1024 groups on a GPU and 128 on a CPU."""
    configured = module.config.inference.batch_size
    if configured:
        return configured
    return 1024 if _device_of(module).type == "cuda" else 128


def reconstruct(model: PtychoPINN, scan: Scan | str | Path, *, batch_size: int | None = None,
                crop: int | None = None, groups: str | None = None) -> Reconstruction:
    """Reconstruct ``scan`` (a Scan or a scan file) with a loaded ``model``, on its device.

    Every scan position is covered by a group (gridsize > 1: the position and its
    nearest neighbours), so the stitched object covers the whole scan. ``groups``
    ('all' or 'covering', see ``stitch_groups``) overrides the model's
    ``inference.groups``. Patterns are read chunk by chunk, so a lazily read HDF5
    scan is never held in memory. ``load_model`` loads a model from a run folder,
    a checkpoint or a bundle.
    """
    if not isinstance(scan, Scan):
        scan = load_scan(scan)
    config = model.config
    if scan.N != config.data.N:
        raise ScanFormatError(f"has {scan.N}x{scan.N} patterns but the model was trained on "
                              f"{config.data.N}x{config.data.N}; use a model trained for this "
                              "detector size", source=scan.metadata.source_file or scan.name)
    if groups is not None and groups not in INFERENCE_GROUPS:
        raise PtychoError(f"groups={groups!r}; use one of {', '.join(INFERENCE_GROUPS)}")
    scan_groups = make_groups(scan.positions, config.data.gridsize, config.data.neighbor_count,
                              0, config.training.seed)
    return stitch_groups(model, scan.diffraction, scan_groups, scan.positions,
                         batch_size=batch_size or inference_batch_size(model),
                         crop=crop or config.inference.stitch_crop,
                         mode=groups or config.inference.groups,
                         source=scan.metadata.source_file or scan.name,
                         scale=amplitude_normalisation(scan.diffraction))
