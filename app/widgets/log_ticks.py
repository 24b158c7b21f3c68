"""Readable tick labels for a short log axis (the learning-rate plot).

pyqtgraph labels a log axis that spans less than a decade with every minor
tick (0.0004, 0.0006, 0.0008, ...), which piles the labels on top of each
other in a plot 110 px high. Here the axis gets ticks at 1, 2 and 5 times the
powers of ten inside the range, or only the powers of ten when that would be
more than ``most`` labels.
"""

from __future__ import annotations

import math


def log_ticks(low_log10: float, high_log10: float, most: int = 4) -> list[tuple[float, str]]:
    """Ticks as (log10 position, label) for a log axis showing [low_log10, high_log10]."""
    if not (math.isfinite(low_log10) and math.isfinite(high_log10)) or high_log10 < low_log10:
        return []
    first, last = math.floor(low_log10), math.ceil(high_log10)
    for mantissas in ((1.0, 2.0, 5.0), (1.0,)):
        values = [m * 10.0 ** k for k in range(first, last + 1) for m in mantissas]
        inside = [v for v in values if low_log10 - 1e-9 <= math.log10(v) <= high_log10 + 1e-9]
        if len(inside) <= most:
            break
    if len(inside) > most:  # many decades: every n-th power of ten
        step = math.ceil(len(inside) / most)
        inside = inside[::step]
    return [(math.log10(v), f"{v:g}") for v in inside]
