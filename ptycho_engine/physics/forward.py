"""The differentiable PtychoPINN forward model: object patches to diffraction amplitudes.

For a group of C scan points with physical offsets ``o_c = p_c - centroid``
(pixels, ``[x, y]``, see ``overlap``):

1. object view O'_c: with object_big, the C predicted patches are merged into
   one canvas (overlap-weighted average) and re-extracted at each offset; that
   is the real-space overlap constraint. Without object_big, one predicted
   patch per group is zero-padded and viewed at each offset.
2. exit wave ψ_c = P ⊙ O'_c (⊙ disc mask when given).
3. amplitude Â_c = |fftshift(fft2(ψ_c, norm="ortho"))|.

At gridsize 1 (C == 1, the only offset is 0) merging and extracting would
return the patch itself, so they are skipped: identical maths, no
interpolation. The whole model runs with autocast off, in complex64 (complex128
for double input).
"""

from __future__ import annotations

from torch import Tensor

from .overlap import central_crop, extract_patches, merge_patches
from .propagate import autocast_disabled, complex_working, far_field_amplitude
from .translate import real_dtype


def object_views(object_patches: Tensor, offsets: Tensor, *, object_big: bool, canvas: int,
                 weight: Tensor) -> tuple[Tensor, Tensor]:
    """The object seen by each member and the object around the group centroid.

    object_patches: (B, K, N, N) complex, K = C with object_big, else K = 1.
    offsets: (B, C, 2) ``[x, y]`` pixels, p - centroid. canvas: M (see
    ``canvas_size``). weight: (N, N) merge weight (see ``overlap_weight``).
    Without object_big neither is needed: viewing the zero-padded patch at an
    offset is the same as resampling the patch itself with zero fill.
    Returns views (B, C, N, N) and the central N × N of the canvas (B, N, N).
    """
    B, K, N, _ = object_patches.shape
    C = offsets.shape[1]
    expected = C if object_big else 1
    if K != expected or offsets.shape != (B, C, 2):
        raise ValueError(f"object patches {tuple(object_patches.shape)} and offsets "
                         f"{tuple(offsets.shape)} do not fit: object_big={object_big} needs "
                         f"(B, {expected}, N, N) patches and (B, C, 2) offsets")
    if C == 1:
        return object_patches, object_patches[:, 0]
    if object_big:
        region = merge_patches(object_patches, offsets, canvas, weight)
        return extract_patches(region, offsets, N), central_crop(region, N)
    # A single patch padded to the canvas: its central crop is the patch, and its
    # views are the patch itself resampled at each offset (zero outside).
    single = object_patches[:, 0]
    return extract_patches(single, offsets, N), single


def forward_amplitude(object_patches: Tensor, offsets: Tensor, probe: Tensor, *,
                      object_big: bool, canvas: int, weight: Tensor,
                      probe_mask: Tensor | None) -> tuple[Tensor, Tensor]:
    """Predicted diffraction amplitudes of a batch of groups.

    object_patches: (B, K, N, N) complex object (K = C with object_big, else 1).
    offsets: (B, C, 2) ``[x, y]`` pixels, member position minus group centroid.
    probe: (N, N) complex, normalised (see ``normalise_probe``). canvas: M.
    weight: (N, N) real merge weight. probe_mask: (N, N) real or None.
    Returns the amplitude (B, C, N, N) real, in units of the normalised data
    (multiply by the intensity scale for photon units), and the complex object
    (B, N, N) around each group centroid, used for stitching.
    """
    with autocast_disabled(object_patches.device):
        patches = complex_working(object_patches)
        offsets = offsets.to(dtype=real_dtype(patches))
        views, centre_object = object_views(patches, offsets, object_big=object_big,
                                            canvas=canvas, weight=weight)
        exit_wave = views * probe.to(device=patches.device, dtype=patches.dtype)
        if probe_mask is not None:
            exit_wave = exit_wave * probe_mask.to(device=patches.device,
                                                  dtype=real_dtype(patches))
        return far_field_amplitude(exit_wave), centre_object
