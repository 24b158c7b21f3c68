"""The differentiable forward model: a group canvas to its members' diffraction amplitudes.

For a group of C scan points at offsets ``o_c = p_c - anchor`` (pixels, ``[x, y]``,
see ``windows``):

1. the canvas O: the network's patches merged on whole-pixel windows
   (``overlap.merge_patches``), then optionally refined (``refine``);
2. exit wave ψ_c = P_c ⊙ O_c, with O_c member c's window of the canvas and P_c the
   probe moved by the sub-pixel rest of o_c (⊙ a disc mask when given);
3. amplitude Â_c = |fftshift(fft2(ψ_c, norm="ortho"))|.

Nothing is interpolated: the object stays on its pixel grid, so a scan on whole
pixels is modelled exactly, and sub-pixel positions are exact for a band-limited
probe. The model runs with autocast off, in complex64 (complex128 for double input).
"""

from __future__ import annotations

from torch import Tensor

from .probe import shift_probe
from .propagate import autocast_disabled, complex_working, far_field_amplitude
from .windows import GroupWindows, gather_views


def member_probes(probe: Tensor, windows: GroupWindows, probe_mask: Tensor | None = None
                  ) -> Tensor:
    """Each member's probe (B, C, N, N) complex, or (1, 1, N, N) when every member sits on
    a whole pixel: the probe shifted by the member's sub-pixel rest, times the exit-wave
    mask when one is given (N, N real)."""
    probes = shift_probe(probe, windows.residual)
    if probe_mask is not None:
        probes = probes * probe_mask.to(device=probes.device, dtype=probes.real.dtype)
    return probes


def forward_amplitude(canvas: Tensor, windows: GroupWindows, probes: Tensor) -> Tensor:
    """Predicted diffraction amplitudes (B, C, N, N) of group canvases (B, M, M) complex.

    probes: from ``member_probes``. The amplitude is in the units of the canvas ×
    probe (multiply by the intensity scale for photon units), float32 (float64 for
    double input), zero frequency at (N/2, N/2).
    """
    with autocast_disabled(canvas.device):
        canvas = complex_working(canvas)
        return far_field_amplitude(gather_views(canvas, windows) * probes.to(canvas.dtype))


__all__ = ["forward_amplitude", "member_probes"]
