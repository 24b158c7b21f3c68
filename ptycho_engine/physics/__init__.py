"""Differentiable ptychography physics: translation, overlap merge, probe, far field, losses.

Conventions: offsets and shifts are ``[x, y]`` pixels (x = column); group
offsets are physical, ``p - centroid``; amplitudes have zero frequency at
(N/2, N/2). Everything is batched torch, channels-first (B, C, N, N), and runs
on the device of its inputs.
"""

from .forward import forward_amplitude, object_views
from .losses import amplitude_mae, combined_loss, poisson_nll, poisson_nll_terms
from .overlap import (
    MERGE_EPS,
    canvas_size,
    central_crop,
    extract_patches,
    merge_patches,
    overlap_weight,
)
from .probe import disc_mask, normalise_probe
from .propagate import autocast_disabled, far_field_amplitude
from .translate import sample_window, translate

__all__ = [
    "MERGE_EPS",
    "amplitude_mae",
    "autocast_disabled",
    "canvas_size",
    "central_crop",
    "combined_loss",
    "disc_mask",
    "extract_patches",
    "far_field_amplitude",
    "forward_amplitude",
    "merge_patches",
    "normalise_probe",
    "object_views",
    "overlap_weight",
    "poisson_nll",
    "poisson_nll_terms",
    "sample_window",
    "translate",
]
