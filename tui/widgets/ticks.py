"""Round tick values for the terminal plots (plotext's own choice depends on its global state)."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["nice_ticks"]


def nice_ticks(lo: float, hi: float, count: int = 5) -> tuple[list[float], list[str]]:
    """Return about ``count`` round values between ``lo`` and ``hi`` (steps of 1, 2 or 5 times a power of ten).

    Parameters
    ----------
    lo, hi : float
        Range of the axis.
    count : int
        Wanted number of ticks.

    Returns
    -------
    tuple of list
        Tick values and their labels.

    Examples
    --------
    >>> nice_ticks(58990.0, 59270.0)[1]
    ['59000', '59100', '59200']
    """
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo], [f"{lo:g}"]
    raw = (hi - lo) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    values = np.arange(math.ceil(lo / step) * step, hi + step * 1e-9, step)
    decimals = max(0, -math.floor(math.log10(step)))
    return values.tolist(), [f"{v:.{decimals}f}" for v in values]
