"""The overlap constraint: merge a group's patches into one canvas, extract views.

Group geometry: ``offsets[b, c] = p_(b,c) - centroid_b`` in pixels, ``[x, y]``,
the PHYSICAL offset of member c from its group's centroid. (PtychoPINN's
``coords_relative`` stores the opposite sign, ``-(p - centroid)``, and flips it
back inside its merge/extract layers; here the sign is physical throughout.)
The canvas centre (pixel M/2, M/2) is the group centroid, and patch c is
centred at canvas centre + offset. A patch "centred at (x, y)" holds rows
``y - N/2 … y + N/2 - 1``: its own pixel N/2 is the centre.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .translate import real_dtype, sample_window

#: Added to the merge denominator; small against the weight 1 of a central window.
MERGE_EPS = 1e-6


def canvas_size(N: int, max_abs_offset: float) -> int:
    """Side M of a group canvas that holds every member patch without clipping.

    M = N + 2·pad with pad = ceil(max_abs_offset) rounded up to even, so M - N
    is even (the centre stays on a pixel) and no offset ≤ max_abs_offset (pixels)
    pushes a patch off the canvas.
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


def _check_group(images: Tensor, offsets: Tensor, name: str) -> None:
    if offsets.ndim != 3 or offsets.shape[-1] != 2 or offsets.shape[0] != images.shape[0]:
        raise ValueError(f"{name}: offsets must be (B, C, 2) with B = {images.shape[0]}, "
                         f"got {tuple(offsets.shape)}")


def _margin(M: int, N: int) -> int:
    if M < N or (M - N) % 2:
        raise ValueError(f"canvas size {M} must be >= patch size {N} with an even difference")
    return (M - N) // 2


def merge_patches(patches: Tensor, offsets: Tensor, canvas: int, weight: Tensor) -> Tensor:
    """Weighted average of a group's patches placed at their offsets on one canvas.

    patches: (B, C, N, N) complex object patches. offsets: (B, C, 2) ``[x, y]``
    pixels, physical offset of each member from its group centroid. canvas: M.
    weight: (N, N) real, see ``overlap_weight``. Returns (B, M, M) complex:
    ``Σ_c T_o(pad(w·patch_c)) / (Σ_c T_o(pad(w)) + MERGE_EPS)`` with T_o the
    bilinear translation by +offset. Numerator and denominator carry the same
    weight, so where no member covers a pixel both are 0 and the result is 0;
    where a central window covers it the denominator is ≥ 1 and the 1e-6 only
    changes the value by a relative 1e-6.
    """
    if patches.ndim != 4 or patches.shape[-1] != patches.shape[-2]:
        raise ValueError(f"merge_patches: patches must be (B, C, N, N), got {tuple(patches.shape)}")
    _check_group(patches, offsets, "merge_patches")
    B, C, N, _ = patches.shape
    margin = _margin(canvas, N)
    real = real_dtype(patches)
    weighted = patches * weight.to(device=patches.device, dtype=real)
    # Canvas pixel Y shows patch pixel Y - margin - offset: a window starting there.
    starts = (-(offsets + margin)).reshape(B * C, 2)
    placed = sample_window(weighted.reshape(B * C, N, N), starts, (canvas, canvas))
    numerator = placed.reshape(B, C, canvas, canvas).sum(dim=1)
    real_weight = weight.to(device=patches.device, dtype=real)
    covered = sample_window(real_weight.expand(B * C, N, N), starts, (canvas, canvas))
    denominator = covered.reshape(B, C, canvas, canvas).sum(dim=1)
    return numerator / (denominator + MERGE_EPS)


def extract_patches(canvas: Tensor, offsets: Tensor, N: int) -> Tensor:
    """The N × N views of a canvas centred at each member's position.

    canvas: (B, M, M) complex (or real). offsets: (B, C, 2) ``[x, y]`` pixels,
    physical member offsets from the centroid (= canvas centre). Returns
    (B, C, N, N): the canvas translated by -offset, centre-cropped to N × N
    (bilinear, zero outside the canvas). Only the N × N window is resampled.
    """
    if canvas.ndim != 3:
        raise ValueError(f"extract_patches: canvas must be (B, M, M), got {tuple(canvas.shape)}")
    _check_group(canvas, offsets, "extract_patches")
    B, M, _ = canvas.shape
    C = offsets.shape[1]
    margin = _margin(M, N)
    starts = (offsets + margin).reshape(B * C, 2)
    copies = canvas.unsqueeze(1).expand(B, C, M, M).reshape(B * C, M, M)
    return sample_window(copies, starts, (N, N)).reshape(B, C, N, N)


def central_crop(canvas: Tensor, N: int) -> Tensor:
    """The central N × N of (..., M, M) images: the object around the group centroid."""
    margin = _margin(canvas.shape[-1], N)
    return canvas[..., margin:margin + N, margin:margin + N]
