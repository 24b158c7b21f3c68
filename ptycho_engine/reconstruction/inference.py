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
from .phase_sync import AlignedStitcher
from .scan_refine import refine_stitched
from .stitching import StitchAccumulator, canvas_for


def _device_of(module: torch.nn.Module) -> torch.device:
    return next(module.parameters()).device


def inference_refine_steps(module: PtychoPINN) -> int:
    """Physics refinement steps per group when reconstructing (``inference.refine_steps``,
    -1: as many as the model trained with)."""
    configured = module.config.inference.refine_steps
    return module.config.model.refine_steps if configured < 0 else configured


def whole_pixel_positions(positions: np.ndarray) -> np.ndarray:
    """(n, 2) [x, y] whole pixels where the members' windows are centred: floor(p + 0.5),
    the rounding of ``physics.windows``, so a window lands exactly on stitched pixels."""
    return np.floor(np.asarray(positions, np.float64) + 0.5)


def iter_object_patches(module: PtychoPINN, diffraction: DiffractionStack, groups: Groups,
                        positions: np.ndarray, *, batch_size: int,
                        device: torch.device | None = None, scale: float = 1.0,
                        merged: bool = True, refine_steps: int | None = None
                        ) -> Iterator[tuple[np.ndarray, torch.Tensor, np.ndarray]]:
    """Yield (window centres (b*C, 2) whole pixels, object patches (b*C, N, N) complex,
    group ids (b*C,) int: the row of each member's group in ``groups``).

    diffraction: (n, N, N) amplitudes, in memory or read lazily chunk by chunk;
    ``scale`` times them are the normalised amplitudes (mean sum X**2 = (N/2)**2).
    positions: (n, 2) [x, y] scan positions. Each group yields the object on every
    member's whole-pixel window: the member views of the group's merged canvas after
    ``refine_steps`` physics steps (default ``inference_refine_steps``); with
    ``merged=False`` and no refinement, each member's own predicted patch, which needs
    a network that predicts one patch per member (``object_big``).
    """
    device = device or _device_of(module)
    steps = inference_refine_steps(module) if refine_steps is None else refine_steps
    own = not merged and steps == 0 and module.config.model.object_big
    offsets_all = groups.relative_offsets
    canvas = module.canvas_for(float(np.abs(offsets_all).max()) if offsets_all.size else 0.0)
    centres_all = whole_pixel_positions(positions)
    was_training = module.training
    module.eval()
    try:
        with torch.inference_mode():
            for start in range(0, groups.indices.shape[0], batch_size):
                index = groups.indices[start:start + batch_size]
                chunk = np.asarray(diffraction[index.ravel()], dtype=np.float32)
                x = torch.from_numpy(chunk.reshape(*index.shape, *chunk.shape[-2:]))
                x = x.to(device, non_blocking=True) * scale
                offsets = torch.from_numpy(
                    offsets_all[start:start + batch_size].astype(np.float32)).to(device)
                views = module(x) if own else module.member_views(
                    x, offsets, canvas=canvas, refine_steps=steps)
                group_ids = np.repeat(np.arange(start, start + len(index)), index.shape[1])
                yield (centres_all[index.ravel()], views.reshape(-1, *views.shape[-2:]),
                       group_ids)
    finally:
        module.train(was_training)


def stitch_groups(module: PtychoPINN, diffraction: DiffractionStack, groups: Groups,
                  positions: np.ndarray, *, batch_size: int, crop: int,
                  device: torch.device | None = None, source: str = "", scale: float = 1.0,
                  mode: str = "all", refine_steps: int | None = None) -> Reconstruction:
    """Predict the object around every position and stitch it there.

    ``groups`` should be one group per position. ``mode`` (``inference.groups``):
    'all' runs every group, so a position is the average of the ~gridsize² groups
    that contain it; 'covering' runs only a covering subset (see
    ``covering_groups``), about 2.6x fewer network passes at gridsize 2. Without
    refinement, 'all' stitches each member's own predicted patch (measured on a
    2,000-pattern Siemens star: phase SSIM 0.870 against 0.831 for 'covering').
    With ``inference.align_phase`` each group's phase offset is aligned to its
    neighbours' before averaging (``phase_sync``).
    """
    return stitch_candidates(module, diffraction, groups, positions, batch_size=batch_size,
                             crop=crop, device=device, source=source, scale=scale, mode=mode,
                             refine_steps=refine_steps)[0]


def stitch_candidates(module: PtychoPINN, diffraction: DiffractionStack, groups: Groups,
                      positions: np.ndarray, *, batch_size: int, crop: int,
                      device: torch.device | None = None, source: str = "",
                      scale: float = 1.0, mode: str = "all",
                      refine_steps: int | None = None, with_unaligned: bool = False
                      ) -> list[Reconstruction]:
    """``stitch_groups``'s stitch, and with ``with_unaligned`` (and phase alignment on)
    also the plain average of the same patches: the phase alignment helps most scans
    but on a large one it can leave a slow phase drift the plain average does not have
    (``scan_refine`` keeps whichever explains the data better)."""
    device = device or _device_of(module)
    covering = mode == "covering"
    if covering:
        groups = covering_groups(groups)
    shape, offset = canvas_for(whole_pixel_positions(positions), diffraction.shape[-1], crop)
    align = module.config.inference.align_phase
    accumulator = (AlignedStitcher(shape, offset, crop, device=device) if align
                   else StitchAccumulator(shape, offset, crop, device=device))
    for centres, objects, group_ids in iter_object_patches(
            module, diffraction, groups, positions, batch_size=batch_size, device=device,
            scale=scale, merged=covering, refine_steps=refine_steps):
        if align:
            accumulator.add(objects, centres, group_ids)
        else:
            accumulator.add(objects, centres)
    stitches = [accumulator.result()]
    if align and with_unaligned:
        stitches.append(accumulator.result(aligned=False))
    return [Reconstruction(object=stitched.object, offset=stitched.offset,
                           weight=stitched.weight, positions=np.asarray(positions, np.float64),
                           source=source, info={"groups_run": int(groups.indices.shape[0])})
            for stitched in stitches]


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
    scan is never held in memory. The stitched object is then refined with every
    pattern (``inference.scan_refine_steps``, ``scan_refine``), from the phase-aligned
    and the plain stitch, keeping the one that fits the data better. ``load_model`` loads
    a model from a run folder, a checkpoint or a bundle.
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
    scale = amplitude_normalisation(scan.diffraction)
    steps = config.inference.scan_refine_steps
    stitched = stitch_candidates(model, scan.diffraction, scan_groups, scan.positions,
                                 batch_size=batch_size or inference_batch_size(model),
                                 crop=crop or config.inference.stitch_crop,
                                 mode=groups or config.inference.groups,
                                 source=scan.metadata.source_file or scan.name, scale=scale,
                                 with_unaligned=steps > 0)
    return refine_stitched(model, stitched, scan.diffraction, scan.positions, steps=steps,
                           scale=scale)
