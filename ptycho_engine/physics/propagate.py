"""Far-field propagation: exit wave to diffraction amplitude.

Â = |fftshift(fft2(ψ, norm="ortho"))|: the orthonormal FFT keeps Parseval
(Σ Â² = Σ |ψ|²), fftshift puts zero frequency at pixel (N/2, N/2) as in the
data. No ifftshift before the FFT: the modulus does not depend on where the
real-space origin is. The FFT always runs in complex64 (or complex128 for
double input), also under autocast, where bf16/fp16 FFTs would be inaccurate.
"""

from __future__ import annotations

import contextlib

import torch
from torch import Tensor


def autocast_disabled(device: torch.device) -> contextlib.AbstractContextManager:
    """A context that turns autocast off for this device type (no-op where unsupported)."""
    device_type = device.type
    if not torch.amp.is_autocast_available(device_type):
        return contextlib.nullcontext()
    return torch.autocast(device_type=device_type, enabled=False)


def complex_working(values: Tensor) -> Tensor:
    """values as complex128 if they are float64/complex128, else as complex64."""
    if values.dtype in (torch.complex128, torch.float64):
        return values.to(torch.complex128)
    return values.to(torch.complex64)


def far_field_amplitude(exit_wave: Tensor) -> Tensor:
    """Diffraction amplitude of exit waves.

    exit_wave: (..., N, N) complex (a real tensor is taken as a real wave).
    Returns (..., N, N) float32 (float64 for double input) amplitude, zero
    frequency at (N/2, N/2), in the exit wave's units (sqrt of its intensity).
    """
    with autocast_disabled(exit_wave.device):
        wave = complex_working(exit_wave)
        spectrum = torch.fft.fft2(wave, dim=(-2, -1), norm="ortho")
        return torch.abs(torch.fft.fftshift(spectrum, dim=(-2, -1)))
