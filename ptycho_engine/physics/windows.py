"""Where each group member's N × N window lies on its group canvas, on whole pixels.

Group geometry: ``offsets[b, c] = p_(b,c) - anchor_b`` in object pixels, ``[x, y]``:
the physical offset of member c from its group's anchor (a whole pixel near the
group's centroid, see ``data.grouping``). The canvas centre (pixel M/2, M/2) is the
anchor. Each offset splits into a whole-pixel part, which places the member's
window on the canvas exactly (no interpolation, so no blur), and a sub-pixel rest
in [-0.5, 0.5), which the forward model moves into the probe instead
(``probe.shift_probe``): sampling the exit wave ``P(r - p)·O(r)`` on the object's
own pixel grid gives ``P(r' - rest)·O(a + r')`` with ``a`` the whole-pixel part.
For scans on whole pixels (rasters, most simulations) the rest is zero and the
model is exact.

A window "centred at" canvas pixel (x, y) holds rows ``y - N/2 … y + N/2 - 1``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class GroupWindows:
    """Member windows of a batch of groups on their canvases.

    index: (B, C·N·N) int64 flat canvas index of every window pixel (row-major).
    residual: (B, C, 2) ``[x, y]`` sub-pixel rest of each member's offset, in [-0.5, 0.5).
    canvas: M, the canvas side; N: the window side; members: C.
    """

    index: Tensor
    residual: Tensor
    canvas: int
    N: int
    members: int

    @property
    def batch(self) -> int:
        return int(self.index.shape[0])


def split_offsets(offsets: Tensor) -> tuple[Tensor, Tensor]:
    """(whole-pixel part, rest in [-0.5, 0.5)) of offsets; floor(x + 0.5) rounding,
    the same rule as ``data.grouping`` and the stitcher, so both agree on ties."""
    whole = torch.floor(offsets + 0.5)
    return whole, offsets - whole


def group_windows(offsets: Tensor, N: int, canvas: int) -> GroupWindows:
    """The windows of members at ``offsets`` (B, C, 2) ``[x, y]`` px on M × M canvases.

    Raises ValueError when a window would leave the canvas (make the canvas with
    ``overlap.canvas_size`` from the largest offset).
    """
    if offsets.ndim != 3 or offsets.shape[-1] != 2:
        raise ValueError(f"offsets must be (B, C, 2) [x, y], got {tuple(offsets.shape)}")
    margin = (canvas - N) // 2
    if canvas < N or (canvas - N) % 2:
        raise ValueError(f"canvas size {canvas} must be >= patch size {N} with an even difference")
    whole, residual = split_offsets(offsets)
    start = whole.to(torch.int64) + margin  # (B, C, 2) window corner [x, y]
    if bool((start < 0).any()) or bool((start + N > canvas).any()):
        raise ValueError(f"a member window (offsets up to {float(offsets.abs().max()):.1f} px) "
                         f"leaves the {canvas} x {canvas} canvas; size it with canvas_size")
    steps = torch.arange(N, device=offsets.device)
    rows = start[..., 1, None] + steps  # (B, C, N)
    cols = start[..., 0, None] + steps
    index = rows[..., :, None] * canvas + cols[..., None, :]  # (B, C, N, N)
    B, C = offsets.shape[:2]
    return GroupWindows(index=index.reshape(B, C * N * N), residual=residual, canvas=canvas,
                        N=N, members=C)


def gather_views(canvases: Tensor, windows: GroupWindows) -> Tensor:
    """(B, M, M) canvases -> (B, C, N, N) member windows (exact copies of canvas pixels)."""
    B, M = canvases.shape[0], windows.canvas
    flat = torch.gather(canvases.reshape(B, M * M), 1, windows.index)
    return flat.reshape(B, windows.members, windows.N, windows.N)


def scatter_sum(patches: Tensor, windows: GroupWindows) -> Tensor:
    """(B, C, N, N) member patches (or any shape that broadcasts to it) summed onto
    (B, M, M) canvases at their windows: the adjoint of ``gather_views``."""
    B, C, N, M = windows.batch, windows.members, windows.N, windows.canvas
    values = patches.expand(B, C, N, N).reshape(B, C * N * N)
    canvases = torch.zeros(B, M * M, dtype=values.dtype, device=values.device)
    return canvases.scatter_add(1, windows.index, values).reshape(B, M, M)


__all__ = ["GroupWindows", "gather_views", "group_windows", "scatter_sum", "split_offsets"]
