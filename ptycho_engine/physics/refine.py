"""Physics refinement of a group canvas: unrolled Fourier-magnitude projection steps.

Why: a network that maps diffraction to object in one pass learns the coarse object
quickly but the fine detail slowly, and on a single scan on a CPU it never gets
there (measured on a 400-position scan of a strong natural object: phase SSIM 0.44,
training loss 65 above its Poisson floor after 20 epochs). Each step below moves the
group's canvas towards agreement with the group's own measured patterns, with the
known probe: the parallel (all members at once) ePIE/error-reduction update

    ψ_c = P_c · O_c,   ψ'_c = F⁻¹[ A_c · F ψ_c / |F ψ_c| ],
    O ← O + α_k · Σ_c window_c(P_c* (ψ'_c − ψ_c)) / (Σ_c window_c |P_c|² + δ),

with a heavy-ball momentum term. The network supplies the starting canvas and is
trained through the steps, so it learns what they cannot do quickly (the coarse
object, the phase of large features) and the steps supply what it cannot (detail
consistent with the data). The same network then measured phase SSIM 0.75 after
10 epochs with 10 steps, 0.89 with 30 steps at inference (docs/method.md,
"Physics refinement"). Every operation is differentiable and costs a few FFTs per
pattern, small against the network.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .propagate import autocast_disabled, complex_working
from .windows import GroupWindows, gather_views, scatter_sum

REFINE_REGULARISATION = 0.1
"""δ as a fraction of the largest Σ|P|² of the canvas: keeps the update bounded where
only the probe's faint tails reach (the canvas edge)."""
MAGNITUDE_EPS = 1e-6
"""Added under the square root of |Fψ|², so the projection is smooth where Fψ is 0."""


def _normaliser(probes: Tensor, windows: GroupWindows, regularisation: float) -> Tensor:
    """Σ_c window_c |P_c|² + δ on each canvas (B, M, M), real."""
    intensity = probes.real.square() + probes.imag.square()
    total = scatter_sum(intensity, windows)
    return total + regularisation * total.amax(dim=(-2, -1), keepdim=True)


def projection_update(canvas: Tensor, windows: GroupWindows, probes: Tensor,
                      target_unshifted: Tensor) -> Tensor:
    """Σ_c window_c(P_c* (ψ'_c − ψ_c)) on the canvases: one step's raw update (B, M, M).

    target_unshifted: (B, C, N, N) measured amplitudes, zero frequency at pixel 0.
    """
    exit_waves = gather_views(canvas, windows) * probes
    spectrum = torch.fft.fft2(exit_waves, norm="ortho")
    magnitude = torch.sqrt(spectrum.real.square() + spectrum.imag.square() + MAGNITUDE_EPS)
    projected = torch.fft.ifft2(spectrum * (target_unshifted / magnitude), norm="ortho")
    return scatter_sum(torch.conj(probes) * (projected - exit_waves), windows)


def refine_canvas(canvas: Tensor, windows: GroupWindows, probes: Tensor, target: Tensor,
                  step_sizes: Tensor, steps: int, *, momentum: float,
                  regularisation: float = REFINE_REGULARISATION) -> Tensor:
    """``steps`` projection steps on group canvases.

    canvas: (B, M, M) complex, the merged network object. windows: the members'
    windows (``group_windows``). probes: (B or 1, C or 1, N, N) complex, each member's
    (shifted, masked) probe. target: (B, C, N, N) measured amplitudes in the model's
    units (what ``far_field_amplitude`` of the exit waves should be), zero frequency at
    (N/2, N/2). step_sizes: (K,) α_k; steps beyond K reuse the last one. momentum: the
    heavy-ball factor η in [0, 1). Returns the refined (B, M, M) canvases.
    """
    if steps <= 0:
        return canvas
    with autocast_disabled(canvas.device):
        canvas = complex_working(canvas)
        probes = probes.to(canvas.dtype)
        target_unshifted = torch.fft.ifftshift(target.to(canvas.real.dtype), dim=(-2, -1))
        normaliser = _normaliser(probes, windows, regularisation)
        velocity = torch.zeros_like(canvas)
        last = step_sizes.shape[0] - 1
        for step in range(steps):
            alpha = step_sizes[min(step, last)].to(canvas.real.dtype)
            update = alpha * projection_update(canvas, windows, probes, target_unshifted)
            update = update / normaliser
            velocity = momentum * velocity + update
            canvas = canvas + update + momentum * velocity
        return canvas


__all__ = ["MAGNITUDE_EPS", "REFINE_REGULARISATION", "projection_update", "refine_canvas"]
