"""How loss curves go on a log axis when the loss can be negative.

The Poisson negative log-likelihood that PtychoPINN minimises is usually
negative, so it cannot be drawn on a log axis as it is. When the engine has
sent the data's Poisson floor (the loss a perfect prediction of every count
would reach, see ``ptycho_engine.training.loss_floor``), each curve is drawn as its excess
over its own split's floor: positive, falling towards 0 as the fit improves, and
comparable between train and validation. Without a floor, positive losses are
drawn as they are, and otherwise as their excess over the lowest loss seen so
far plus a small offset delta = 1e-2 x (highest - lowest) so the lowest point
stays on the axis (that lowest point then always looks like a plunge, which is
why the floor is preferred). The axis label says which is shown and ``describe``
gives the numbers, so every drawn value can be turned back into a loss.
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
    ``delta`` the offset added after subtracting it; ``floor`` the (train, validation)
    Poisson floors subtracted instead, when the engine sent them.
    """

    train: np.ndarray
    val: np.ndarray
    label: str
    baseline: float | None
    delta: float
    floor: tuple[float, float] | None = None

    def describe(self) -> str:
        """How to read the drawn values back as losses (for a note under the plot)."""
        if self.floor is not None:
            return (f"Drawn: loss − the data's Poisson floor (train {self.floor[0]:.6g}, "
                    f"validation {self.floor[1]:.6g}), the loss a perfect prediction of every "
                    "count would reach.")
        if self.baseline is None:
            return "Losses drawn as they are."
        return (f"Drawn: loss − lowest ({self.baseline:.6g}) + δ ({self.delta:.2g}); "
                "the lowest loss so far sits at δ.")


def loss_curves(train: np.ndarray, val: np.ndarray,
                floor: tuple[float, float | None] | None = None) -> LossCurves:
    """Values for a log axis from ``train`` and ``val`` (E,) losses (NaN where missing);
    ``floor``: the engine's (train, validation or None) Poisson floors, when known."""
    train = np.asarray(train, dtype=np.float64)
    val = np.asarray(val, dtype=np.float64)
    if floor is not None:
        floors = (float(floor[0]), float(floor[0] if floor[1] is None else floor[1]))
        above_train, above_val = train - floors[0], val - floors[1]
        above = np.concatenate([above_train, above_val])
        if np.all(above[np.isfinite(above)] > 0):
            return LossCurves(above_train, above_val, "loss − floor (log scale)",
                              None, 0.0, floors)
    both = np.concatenate([train, val])
    finite = both[np.isfinite(both)]
    if finite.size == 0 or finite.min() > 0:
        return LossCurves(train, val, "loss (log scale)", None, 0.0)
    lowest, highest = float(finite.min()), float(finite.max())
    spread = highest - lowest
    delta = spread * DELTA_FRACTION if spread > 0 else max(abs(lowest), 1.0) * 1e-6
    return LossCurves(train - lowest + delta, val - lowest + delta,
                      "loss − lowest + δ (log scale)", lowest, delta)
