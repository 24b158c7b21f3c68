"""Differentiable ptychography physics: group windows, overlap merge, probe, refinement,
far field, losses.

Conventions: offsets and shifts are ``[x, y]`` pixels (x = column); group offsets
are physical, ``p - anchor`` (the anchor is a whole pixel near the group centroid);
amplitudes have zero frequency at (N/2, N/2). Everything is batched torch,
channels-first (B, C, N, N), and runs on the device of its inputs.
"""

from .forward import forward_amplitude, member_probes
from .losses import amplitude_mae, combined_loss, poisson_nll, poisson_nll_terms
from .overlap import MERGE_EPS, canvas_size, merge_patches, overlap_weight
from .probe import disc_mask, normalise_probe, shift_probe
from .propagate import autocast_disabled, far_field_amplitude
from .refine import refine_canvas
from .windows import GroupWindows, gather_views, group_windows, scatter_sum, split_offsets

__all__ = [
    "MERGE_EPS",
    "GroupWindows",
    "amplitude_mae",
    "autocast_disabled",
    "canvas_size",
    "combined_loss",
    "disc_mask",
    "far_field_amplitude",
    "forward_amplitude",
    "gather_views",
    "group_windows",
    "member_probes",
    "merge_patches",
    "normalise_probe",
    "overlap_weight",
    "poisson_nll",
    "poisson_nll_terms",
    "refine_canvas",
    "scatter_sum",
    "shift_probe",
    "split_offsets",
]
