"""How loss curves go on a log axis when the loss can be negative.

The Poisson negative log-likelihood that PtychoPINN minimises is usually
negative, so it cannot be drawn on a log axis as it is. When every value is
positive the curves are drawn as they are. Otherwise both curves are drawn as
their excess over the lowest loss seen so far (train or validation), plus a
small offset delta = 1e-2 x (highest - lowest) so the lowest point stays on
the axis, two decades below the highest. The axis label says which of the two
is shown and ``describe`` gives the lowest loss and delta, so every drawn value
can be turned back into a loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DELTA_FRACTION = 1e-2
"""delta as a fraction of the spread of all losses so far."""


@dataclass(frozen=True)
class LossCurves:
    """(E,) float64 values to draw for train and validation (NaN = no point) and the label.

    ``baseline`` is the lowest loss subtracted (None when raw values are drawn) and
    ``delta`` the offset added after subtracting it.
    """

    train: np.ndarray
    val: np.ndarray
    label: str
    baseline: float | None
    delta: float

    def describe(self) -> str:
        """How to read the drawn values back as losses (for a note under the plot)."""
        if self.baseline is None:
            return "Losses drawn as they are."
        return (f"Drawn: loss − lowest ({self.baseline:.6g}) + δ ({self.delta:.2g}); "
                "the lowest loss so far sits at δ.")


def loss_curves(train: np.ndarray, val: np.ndarray) -> LossCurves:
    """Values for a log axis from ``train`` and ``val`` (E,) losses (NaN where missing)."""
    train = np.asarray(train, dtype=np.float64)
    val = np.asarray(val, dtype=np.float64)
    both = np.concatenate([train, val])
    finite = both[np.isfinite(both)]
    if finite.size == 0 or finite.min() > 0:
        return LossCurves(train, val, "loss (log scale)", None, 0.0)
    lowest, highest = float(finite.min()), float(finite.max())
    spread = highest - lowest
    delta = spread * DELTA_FRACTION if spread > 0 else max(abs(lowest), 1.0) * 1e-6
    return LossCurves(train - lowest + delta, val - lowest + delta,
                      "loss − lowest + δ (log scale)", lowest, delta)
