"""The overlap constraint: merge a group's member patches into one shared canvas.

The canvas centre (pixel M/2, M/2) is the group's anchor and member c's window is
centred at canvas centre + the whole-pixel part of its offset (``windows``). A
patch "centred at (x, y)" holds rows ``y - N/2 … y + N/2 - 1``: its own pixel N/2
is the centre. Merging averages the members' patches where their windows overlap;
reading the merged canvas back at each window (``windows.gather_views``) gives the
object every member sees: the real-space overlap constraint.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .windows import GroupWindows, scatter_sum

#: Added to the merge denominator; small against the weight 1 of a central window.
MERGE_EPS = 1e-6


def canvas_size(N: int, max_abs_offset: float) -> int:
    """Side M of a group canvas that holds every member window without clipping.

    M = N + 2·pad with pad = ceil(max_abs_offset) rounded up to even, so M - N
    is even (the centre stays on a pixel) and no offset ≤ max_abs_offset (pixels)
    pushes a window off the canvas.
    """
    if N <= 0 or N % 2:
        raise ValueError(f"patch size N must be a positive even number, got {N}")
    if not math.isfinite(max_abs_offset) or max_abs_offset < 0:
        raise ValueError(f"max_abs_offset must be a finite number >= 0, got {max_abs_offset}")
    pad = math.ceil(max_abs_offset)
    pad += pad % 2
    return N + 2 * pad


def _central_window(N: int) -> slice:
    """Rows/columns of the central N/2 × N/2 window of an N × N patch."""
    start = (N - N // 2) // 2
    return slice(start, start + N // 2)


def overlap_weight(N: int, border_weight: float, *, device: torch.device | str | None = None,
                   dtype: torch.dtype = torch.float32) -> Tensor:
    """Per-pixel merge weight (N, N): 1 on the central N/2 × N/2 window, border_weight elsewhere.

    The network's high-resolution object lives in the central N/2 window. With
    border_weight = 1e-3 (probe_big) a low-resolution border value survives in
    the merged canvas only where no member's central window covers that canvas
    pixel; with 0 (no probe_big) borders are ignored. The same weight is used in
    the numerator and the denominator of the merge. (PtychoPINN's TF code
    weighted only the denominator, by the central mask, which amplified border
    values about 1000×; this is the self-consistent form.)
    """
    if N <= 0 or N % 2:
        raise ValueError(f"patch size N must be a positive even number, got {N}")
    weight = torch.full((N, N), float(border_weight), device=device, dtype=dtype)
    window = _central_window(N)
    weight[window, window] = 1.0
    return weight


def merge_patches(patches: Tensor, windows: GroupWindows, weight: Tensor, *,
                  object_big: bool = True) -> Tensor:
    """The group canvas (B, M, M) from the network's patches (B, K, N, N) complex.

    object_big (K = C): the weighted average ``Σ_c w·patch_c / (Σ_c w + MERGE_EPS)``
    of the members' patches on their windows, with the same weight (N, N) in the
    numerator and the denominator (``overlap_weight``): where no window covers a
    pixel both are 0 and so is the result; under a central window the 1e-6 changes
    the value by a relative 1e-6. At gridsize 1 (K = C = 1) the canvas is the patch
    itself on its window, unweighted, as PtychoPINN skips the merge there. Without
    object_big (K = 1) the one patch is zero-padded around the anchor and every
    member sees its part of it.
    """
    if patches.ndim != 4:
        raise ValueError(f"patches must be (B, K, N, N), got {tuple(patches.shape)}")
    B, K, N, _ = patches.shape
    if K != (windows.members if object_big else 1) or B != windows.batch:
        raise ValueError(f"patches {tuple(patches.shape)} do not fit {windows.batch} groups of "
                         f"{windows.members} members (object_big={object_big})")
    M = windows.canvas
    if not object_big:
        margin = (M - N) // 2
        return torch.nn.functional.pad(patches[:, 0], (margin, margin, margin, margin))
    if K == 1:  # gridsize 1: the average of one patch is the patch itself, exactly
        return scatter_sum(patches, windows)  # (no 1e-6, and kept where the weight is 0)
    real_weight = weight.to(device=patches.device, dtype=patches.real.dtype)
    numerator = scatter_sum(patches * real_weight, windows)
    denominator = scatter_sum(real_weight[None, None], windows)
    return numerator / (denominator + MERGE_EPS)
