"""Stitch reconstructed object patches into one object by overlap-weighted averaging.

Geometry: a centre is ``[x, y]`` = (column, row) in object pixels. A patch of size
``N`` centred at ``(x, y)`` holds object row ``y - N//2 + i`` in its row ``i``
(pixel ``N//2`` is the centre). Only the central ``crop x crop`` window enters the
sum: patch rows ``s ... s + crop - 1`` with ``s = (N - crop)//2``, so window row
``k`` sits at object row ``y - N//2 + s + k`` (the same rule for odd and even
``N`` and ``crop``; columns alike).

Sub-pixel centres are splatted bilinearly: a window whose first pixel falls at
``i0 + dy`` (``i0`` integer, ``0 <= dy < 1``) is added to rows ``i0 + k`` with
weight ``1 - dy`` and ``i0 + k + 1`` with weight ``dy`` (columns alike, weights
multiply), in the numerator and in the weight alike, so an integer centre is an
exact copy. The result is ``sum(w * patch) / sum(w)`` where ``sum(w) > 0``, else 0
(equal weights, like PtychoPINN's ``reassemble_position``).

Fractional parts within ``SNAP_TOLERANCE`` of an integer are snapped to it, so
float32 positions such as 10.0000001 do not grow a one-pixel rim of weight 1e-7.

Precision: the value is accumulated in complex64 and the weight in float32
(about 7 significant digits; summing ``m`` overlapping patches adds a relative
rounding error of order ``m * 6e-8``). On CUDA the scatter-add uses atomics, so
the summation order, and hence the last bits, can vary from run to run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

SNAP_TOLERANCE = 1e-4
"""Fractional pixel parts closer than this to an integer are treated as integers."""


@dataclass(frozen=True)
class Stitched:
    """A stitched object and its overlap weight on a canvas anchored at ``offset``.

    ``object``: (H, W) complex64, the overlap-weighted average of the patches.
    ``weight``: (H, W) float32, summed overlap weight (0 = never covered).
    ``offset``: (row, col) of ``object[0, 0]`` in the frame of the input positions,
    so ``object[r, c]`` is the object sample at frame row ``offset[0] + r``,
    column ``offset[1] + c``.
    """

    object: np.ndarray
    weight: np.ndarray
    offset: tuple[float, float]

    @property
    def covered(self) -> np.ndarray:
        """(H, W) bool: pixels that at least one patch reached."""
        return self.weight > 0


def _window_start(patch_size: int, crop: int) -> int:
    """First patch row (and column) of the central ``crop`` window."""
    if not 1 <= crop <= patch_size:
        raise ValueError(f"crop must lie in 1 … {patch_size} (the patch size); got {crop}")
    return (patch_size - crop) // 2


def _split_positions(
    centres: torch.Tensor, patch_size: int, crop: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Integer frame (row, col) of each window's first pixel and its fractional part.

    centres: (n, 2) float64 [x, y]. Returns ``(start, frac)``: (n, 2) int64 and (n, 2)
    float64, both ordered (row, col), with ``0 <= frac < 1``.
    """
    lead = -(patch_size // 2) + _window_start(patch_size, crop)
    rows_cols = centres.flip(-1) + lead
    start = torch.floor(rows_cols)
    frac = rows_cols - start
    up = frac > 1.0 - SNAP_TOLERANCE
    start = torch.where(up, start + 1.0, start)
    frac = torch.where(up | (frac < SNAP_TOLERANCE), torch.zeros_like(frac), frac)
    return start.to(torch.int64), frac


def _as_centres(centres: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
    if isinstance(centres, np.ndarray):  # read-only arrays (e.g. Groups) are copied once
        centres = np.array(centres, dtype=np.float64)
    tensor = torch.as_tensor(centres, device=device).to(torch.float64)
    if tensor.ndim != 2 or tensor.shape[1] != 2:
        raise ValueError(f"centres must have shape (n, 2) [x, y]; got {tuple(tensor.shape)}")
    if not torch.isfinite(tensor).all():
        raise ValueError("centres contain NaN or infinite values")
    return tensor


def canvas_for(
    centres: np.ndarray | torch.Tensor, patch_size: int, crop: int
) -> tuple[tuple[int, int], tuple[float, float]]:
    """The smallest canvas that holds every splatted window, and its offset.

    centres: (n, 2) [x, y] object pixels; patch_size: N; crop: window size.
    Returns ``((H, W), (row0, col0))``: the canvas shape, and the frame (row, col)
    of canvas pixel [0, 0] (the floor of the smallest covered coordinate). The
    canvas reaches one pixel past the last window for the bilinear spill.
    """
    tensor = _as_centres(centres, torch.device("cpu"))
    if tensor.shape[0] == 0:
        raise ValueError("cannot size a canvas for zero centres")
    start, _ = _split_positions(tensor, patch_size, crop)
    low = start.min(dim=0).values
    high = start.max(dim=0).values + crop + 1
    shape = (int(high[0] - low[0]), int(high[1] - low[1]))
    return shape, (float(low[0]), float(low[1]))


def _weight_profile(frac: torch.Tensor, crop: int) -> torch.Tensor:
    """Per-axis splat weights of an all-ones window: (n, crop + 1) float32.

    frac: (n,) float32 fractional shift. Entry ``k`` is ``(1 - frac)`` if
    ``k < crop`` plus ``frac`` if ``k >= 1``.
    """
    k = torch.arange(crop + 1, device=frac.device)
    f = frac[:, None]
    return (1.0 - f) * (k < crop).to(f.dtype) + f * (k >= 1).to(f.dtype)


def _splat_footprint(window: torch.Tensor, frac: torch.Tensor) -> torch.Tensor:
    """Bilinearly splatted windows on their (crop + 1)^2 footprint.

    window: (n, c, c) complex64; frac: (n, 2) float32 (row, col) fractional parts.
    Returns (n, c + 1, c + 1) complex64 with
    ``F[k, l] = sum_{a,b in {0,1}} wy_a wx_b window[k - a, l - b]``.
    """
    n, c, _ = window.shape
    fy = frac[:, 0, None, None]
    fx = frac[:, 1, None, None]
    rows = torch.zeros((n, c + 1, c), dtype=window.dtype, device=window.device)
    rows[:, :c] += (1.0 - fy) * window
    rows[:, 1:] += fy * window
    out = torch.zeros((n, c + 1, c + 1), dtype=window.dtype, device=window.device)
    out[:, :, :c] += (1.0 - fx) * rows
    out[:, :, 1:] += fx * rows
    return out


class StitchAccumulator:
    """Streams patches onto a known canvas, so inference can stitch chunk by chunk.

    canvas_shape: (H, W); offset: frame (row, col) of canvas pixel [0, 0] (integer
    valued, e.g. from ``canvas_for``); crop: central window size; device: where the
    sums live (CPU by default; CUDA works). ``chunk`` bounds how many patches one
    scatter handles inside ``add``.
    """

    def __init__(
        self,
        canvas_shape: tuple[int, int],
        offset: tuple[float, float],
        crop: int,
        *,
        device: torch.device | str | None = None,
        chunk: int = 4096,
    ):
        height, width = (int(v) for v in canvas_shape)
        if height < 1 or width < 1:
            raise ValueError(f"canvas_shape must be positive; got {canvas_shape}")
        if any(float(v) != np.floor(float(v)) for v in offset):
            raise ValueError(f"canvas offset must be integer valued; got {offset}")
        if crop < 1:
            raise ValueError(f"crop must be at least 1; got {crop}")
        if chunk < 1:
            raise ValueError(f"chunk must be at least 1; got {chunk}")
        self.shape = (height, width)
        self.offset = (float(offset[0]), float(offset[1]))
        self.crop = int(crop)
        self.chunk = int(chunk)
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self._value = torch.zeros(height * width, dtype=torch.complex64, device=self.device)
        self._weight = torch.zeros(height * width, dtype=torch.float32, device=self.device)
        self._origin = torch.tensor(
            [int(offset[0]), int(offset[1])], dtype=torch.int64, device=self.device
        )
        self.count = 0

    def add(self, patches: np.ndarray | torch.Tensor, centres: np.ndarray | torch.Tensor) -> None:
        """Adds patches (n, N, N) complex (numpy or torch) centred at centres (n, 2) [x, y]."""
        if patches.ndim != 3 or patches.shape[1] != patches.shape[2]:
            raise ValueError(f"patches must have shape (n, N, N); got {tuple(patches.shape)}")
        n, patch_size = int(patches.shape[0]), int(patches.shape[1])
        start_index = _window_start(patch_size, self.crop)
        centres_t = _as_centres(centres, self.device)
        if centres_t.shape[0] != n:
            raise ValueError(f"{n} patches but {centres_t.shape[0]} centres")
        window = slice(start_index, start_index + self.crop)
        for first in range(0, n, self.chunk):
            last = min(n, first + self.chunk)
            block = patches[first:last, window, window]
            if isinstance(block, np.ndarray):
                block = torch.from_numpy(np.ascontiguousarray(block, dtype=np.complex64))
            block = block.to(device=self.device, dtype=torch.complex64)
            self._scatter(block, centres_t[first:last], patch_size)
        self.count += n

    def _scatter(self, window: torch.Tensor, centres: torch.Tensor, patch_size: int) -> None:
        """One scatter-add of a chunk: window (m, crop, crop) complex64, centres (m, 2)."""
        start, frac = _split_positions(centres, patch_size, self.crop)
        start = start - self._origin
        height, width = self.shape
        span = self.crop + 1
        low = start.min(dim=0).values
        high = start.max(dim=0).values + span
        if bool((low < 0).any()) or int(high[0]) > height or int(high[1]) > width:
            raise ValueError(
                f"patch windows reach canvas rows {int(low[0])}…{int(high[0]) - 1} and columns "
                f"{int(low[1])}…{int(high[1]) - 1}, outside the {height}×{width} canvas; size "
                "the canvas with canvas_for(all centres, patch_size, crop)"
            )
        frac32 = frac.to(torch.float32)
        footprint = _splat_footprint(window, frac32)
        weight = (
            _weight_profile(frac32[:, 0], self.crop)[:, :, None]
            * _weight_profile(frac32[:, 1], self.crop)[:, None, :]
        )
        steps = torch.arange(span, device=self.device)
        rows = start[:, 0, None] + steps
        cols = start[:, 1, None] + steps
        flat = (rows[:, :, None] * width + cols[:, None, :]).reshape(-1)
        torch.view_as_real(self._value).index_add_(
            0, flat, torch.view_as_real(footprint.reshape(-1))
        )
        self._weight.index_add_(0, flat, weight.reshape(-1))

    def result(self) -> Stitched:
        """The overlap-weighted average so far (copied to host memory)."""
        covered = self._weight > 0
        safe = torch.where(covered, self._weight, torch.ones_like(self._weight))
        value = torch.where(covered, self._value / safe, torch.zeros_like(self._value))
        return Stitched(
            object=value.reshape(self.shape).cpu().numpy(),
            weight=self._weight.reshape(self.shape).cpu().numpy(),
            offset=self.offset,
        )


def stitch_patches(
    patches: np.ndarray | torch.Tensor,
    centres: np.ndarray | torch.Tensor,
    crop: int,
    *,
    device: torch.device | str | None = None,
    chunk: int = 4096,
    canvas_shape: tuple[int, int] | None = None,
    offset: tuple[float, float] | None = None,
) -> Stitched:
    """Stitches patches (n, N, N) complex centred at centres (n, 2) [x, y] object pixels.

    Only the central ``crop x crop`` window of each patch enters. Without
    ``canvas_shape``/``offset`` the canvas is the smallest that holds every window
    (``canvas_for``); pass both to stitch onto a fixed canvas instead.
    """
    if patches.ndim != 3:
        raise ValueError(f"patches must have shape (n, N, N); got {tuple(patches.shape)}")
    if (canvas_shape is None) != (offset is None):
        raise ValueError("give canvas_shape and offset together, or neither")
    if canvas_shape is None:
        canvas_shape, offset = canvas_for(centres, int(patches.shape[1]), crop)
    accumulator = StitchAccumulator(canvas_shape, offset, crop, device=device, chunk=chunk)
    accumulator.add(patches, centres)
    return accumulator.result()
