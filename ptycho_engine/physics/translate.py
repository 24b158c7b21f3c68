"""Bilinear sub-pixel translation and windowed resampling of (complex) images.

Convention: shifts are ``[x, y]`` in pixels (x = column = last axis, y = row),
and ``translate(img, t)[y, x] = img(y - t_y, x - t_x)``: a positive shift moves
content towards +x / +y. Values between pixels are bilinear, values outside the
image are zero. Complex images are resampled as their real and imaginary parts,
with the same weights.

Because a translation moves every pixel by the same amount, bilinear
interpolation is separable with two weights per axis that are the same for the
whole image. The resampling is therefore done as two 1-D gathers (rows, then
columns) with exact integer indices: an integer shift reproduces the input
bit for bit, in float32 as in float64, which ``grid_sample``'s normalised
coordinates would not. Everything is differentiable with respect to the images
and the shifts (through the fractional weights).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def real_dtype(images: Tensor) -> torch.dtype:
    """The real working dtype of the physics: float64 for float64/complex128, else float32."""
    if images.dtype in (torch.float64, torch.complex128):
        return torch.float64
    return torch.float32


def _as_channels(images: Tensor) -> tuple[Tensor, bool]:
    """(L, H, W) images as a real (L, H, W, K) tensor: K = 2 (re, im) or 1."""
    if images.is_complex():
        if images.dtype != torch.complex128:
            images = images.to(torch.complex64)
        return torch.view_as_real(images), True
    return images.to(real_dtype(images)).unsqueeze(-1), False


def _sample_axis(data: Tensor, starts: Tensor, length: int, axis: int) -> Tensor:
    """Linear interpolation along one axis of a real (L, H, W, K) tensor.

    ``out[l, i] = data_l(i + starts[l])`` along ``axis`` (1 = rows, 2 = columns)
    for ``i = 0 … length - 1``, zero outside the input. starts: (L,) real, pixels.
    """
    size = data.shape[axis]
    pad = [0, 0, 0, 0, 0, 0]  # (K, W, H) pairs for F.pad, innermost first
    pad[2 * (3 - axis)] = 1
    pad[2 * (3 - axis) + 1] = 1
    padded = F.pad(data, pad)  # one zero sample on each side of the axis
    floor = torch.floor(starts.detach())
    frac = (starts - floor).to(data.dtype)
    base = torch.arange(length, device=data.device).unsqueeze(0) + floor.long().unsqueeze(1)
    out_shape = list(data.shape)
    out_shape[axis] = length
    view = [data.shape[0], 1, 1, 1]
    view[axis] = length
    weight_view = [data.shape[0], 1, 1, 1]
    result = None
    for step, weight in ((0, 1 - frac), (1, frac)):
        # index + 1 addresses the padded axis; anything outside lands on a zero.
        index = (base + step + 1).clamp(0, size + 1).view(view).expand(out_shape)
        term = torch.gather(padded, axis, index) * weight.view(weight_view)
        result = term if result is None else result + term
    return result


def sample_window(images: Tensor, starts: Tensor, size: tuple[int, int]) -> Tensor:
    """A bilinear window of each image: ``out[l, i, j] = img_l(i + start_y, j + start_x)``.

    images: (L, H, W) real or complex. starts: (L, 2) ``[x, y]`` in pixels, the
    (fractional) input coordinate of the window's pixel (0, 0). size: (h, w) of
    the output. Returns (L, h, w) in the images' working dtype (complex64 or
    complex128 for complex input, float32 or float64 for real), zero where the
    window leaves the image. This is the one resampling primitive: translation,
    patch placement on a canvas and patch extraction are all windows.
    """
    if images.ndim != 3 or starts.shape != (images.shape[0], 2):
        raise ValueError(f"sample_window needs images (L, H, W) and starts (L, 2); got "
                         f"{tuple(images.shape)} and {tuple(starts.shape)}")
    data, is_complex = _as_channels(images)
    starts = starts.to(device=data.device, dtype=data.dtype)
    rows = _sample_axis(data, starts[:, 1], size[0], axis=1)
    out = _sample_axis(rows, starts[:, 0], size[1], axis=2)
    if is_complex:
        return torch.view_as_complex(out.contiguous())
    return out.squeeze(-1)


def translate(images: Tensor, shifts: Tensor) -> Tensor:
    """Translate images by sub-pixel shifts (bilinear, zero fill).

    images: (..., H, W) real or complex. shifts: (..., 2) ``[x, y]`` in pixels;
    the leading dimensions of both broadcast against each other. Returns
    (broadcast..., H, W) with ``out[y, x] = img(y - t_y, x - t_x)``, in the
    working dtype (complex64/complex128 or float32/float64).
    """
    if images.ndim < 2 or shifts.ndim < 1 or shifts.shape[-1] != 2:
        raise ValueError(f"translate needs images (..., H, W) and shifts (..., 2); got "
                         f"{tuple(images.shape)} and {tuple(shifts.shape)}")
    height, width = images.shape[-2:]
    lead = torch.broadcast_shapes(images.shape[:-2], shifts.shape[:-1])
    flat_images = images.expand(*lead, height, width).reshape(-1, height, width)
    flat_shifts = shifts.expand(*lead, 2).reshape(-1, 2)
    out = sample_window(flat_images, -flat_shifts, (height, width))
    return out.reshape(*lead, height, width)
