"""Probe masks and the probe normalisation that sets the model's amplitude scale.

PtychoPINN normalises the probe so that its modulus inside a disc of radius
N/4, averaged over all N² pixels, is 1/probe_scale. Together with the
sigmoid-bounded object amplitude and the (N/2)² normalisation of the measured
amplitudes, this keeps the predicted diffraction in the data's range.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..core.errors import ScanFormatError


def disc_mask(N: int, *, device: torch.device | str | None = None,
              dtype: torch.dtype = torch.float32) -> Tensor:
    """Hard disc (N, N): 1 where the distance from the centre is < N/4, else 0.

    Pixel i sits at i - N/2 + 0.5 from the centre, so the disc is symmetric
    about the point between pixels N/2 - 1 and N/2 (PtychoPINN's convention).
    """
    if N <= 0:
        raise ValueError(f"probe size N must be positive, got {N}")
    coordinate = torch.arange(N, device=device, dtype=torch.float64) - N / 2 + 0.5
    radius = torch.sqrt(coordinate[:, None] ** 2 + coordinate[None, :] ** 2)
    return (radius < N / 4).to(dtype)


def normalise_probe(probe: Tensor, probe_scale: float) -> Tensor:
    """The probe divided by probe_scale · mean over all N² pixels of |disc_mask ⊙ probe|.

    probe: (N, N) complex, on the object pixel grid (arbitrary units).
    probe_scale: > 0 (ModelConfig.probe_scale, 4 by default). Returns a probe of
    the same dtype whose masked mean modulus is 1/probe_scale. Differentiable;
    it reads one scalar back to refuse a probe that is zero inside the disc.
    """
    if probe.ndim != 2 or probe.shape[0] != probe.shape[1]:
        raise ValueError(f"normalise_probe needs an (N, N) probe, got {tuple(probe.shape)}")
    if not probe_scale > 0:
        raise ValueError(f"probe_scale must be > 0, got {probe_scale}")
    mask = disc_mask(probe.shape[0], device=probe.device, dtype=probe.real.dtype)
    mean_modulus = torch.mean(torch.abs(probe * mask))
    value = float(mean_modulus.detach())
    if not value > 0 or value == float("inf"):
        raise ScanFormatError(
            f"the probe's mean modulus inside the central disc of radius N/4 is {value}, so it "
            "cannot be normalised; the probe must be finite and non-zero around its centre "
            "(check that the probe is centred in its N x N array)", key="probe")
    return probe / (probe_scale * mean_modulus)


def shift_probe(probe: Tensor, shifts: Tensor) -> Tensor:
    """The probe moved by sub-pixel shifts, exactly (a Fourier phase ramp).

    probe: (N, N) complex. shifts: (..., 2) ``[x, y]`` pixels; a positive shift moves
    the probe towards +x / +y. Returns (..., N, N) complex; when every shift is 0
    the probe itself, broadcast as (1, ..., 1, N, N), so scans on whole pixels pay
    nothing. Why a shifted probe: the forward model keeps the object on its own
    pixel grid (no interpolation blur) and puts each position's sub-pixel rest
    here instead (``windows``). The probe is treated as periodic over its N × N
    array, so it should be small at the array edge (probes are).
    """
    lead = shifts.shape[:-1]
    if not bool(shifts.ne(0).any()):
        return probe.reshape(*([1] * len(lead)), *probe.shape)
    N = probe.shape[-1]
    frequency = torch.fft.fftfreq(N, device=probe.device, dtype=probe.real.dtype)
    shifts = shifts.to(probe.real.dtype)
    phase_x = shifts[..., 0, None] * frequency  # (..., N) cycles
    phase_y = shifts[..., 1, None] * frequency
    ramp = torch.polar(torch.ones_like(phase_y[..., :, None] + phase_x[..., None, :]),
                       -2 * torch.pi * (phase_y[..., :, None] + phase_x[..., None, :]))
    spectrum = torch.fft.fft2(probe)
    return torch.fft.ifft2(spectrum * ramp)
