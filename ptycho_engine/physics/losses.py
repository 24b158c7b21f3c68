"""Losses between predicted and measured diffraction amplitudes.

Both arguments are amplitudes in the same units: the predicted amplitude
already multiplied by the intensity scale, and the measured amplitude
(sqrt of photon counts). Each loss is a mean over every element (batch,
members, pixels) and is computed in at least float32, also under autocast.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .propagate import autocast_disabled


def _at_least_float32(values: Tensor) -> Tensor:
    if values.dtype == torch.float64:
        return values
    return values.to(torch.float32)


def poisson_nll(pred_amplitude: Tensor, measured_amplitude: Tensor, eps: float = 1e-12) -> Tensor:
    """Poisson negative log-likelihood of the counts, mean over all elements.

    pred_amplitude, measured_amplitude: (...) real, sqrt(photons), same shape.
    Per element λ - k·log(λ + eps) with λ = pred², k = meas². The log k! term
    of the full likelihood is left out: it does not depend on the prediction,
    so it changes the value but not the gradients. eps keeps log finite where
    the prediction is exactly 0. The minimum over pred is at pred = meas.
    """
    return torch.mean(poisson_nll_terms(pred_amplitude, measured_amplitude, eps))


def poisson_nll_terms(pred_amplitude: Tensor, measured_amplitude: Tensor,
                      eps: float = 1e-12) -> Tensor:
    """The per-element terms λ - k·log(λ + eps) whose mean is :func:`poisson_nll`
    (same shape as the inputs, at least float32)."""
    with autocast_disabled(pred_amplitude.device):
        rate = _at_least_float32(pred_amplitude) ** 2
        counts = _at_least_float32(measured_amplitude) ** 2
        return rate - counts * torch.log(rate + eps)


def amplitude_mae(pred_amplitude: Tensor, measured_amplitude: Tensor) -> Tensor:
    """Mean absolute difference of the amplitudes (same shapes, sqrt(photons))."""
    with autocast_disabled(pred_amplitude.device):
        difference = _at_least_float32(pred_amplitude) - _at_least_float32(measured_amplitude)
        return torch.mean(torch.abs(difference))


def combined_loss(pred_amplitude: Tensor, measured_amplitude: Tensor, nll_weight: float,
                  mae_weight: float) -> Tensor:
    """nll_weight · poisson_nll + mae_weight · amplitude_mae; a term of weight 0 is not computed.

    Both weights 0 is refused (ValueError): the configuration validator already
    rejects it, since nothing would be learned.
    """
    if nll_weight == 0 and mae_weight == 0:
        raise ValueError("combined_loss: nll_weight and mae_weight are both 0")
    terms = []
    if nll_weight != 0:
        terms.append(nll_weight * poisson_nll(pred_amplitude, measured_amplitude))
    if mae_weight != 0:
        terms.append(mae_weight * amplitude_mae(pred_amplitude, measured_amplitude))
    return terms[0] if len(terms) == 1 else terms[0] + terms[1]
