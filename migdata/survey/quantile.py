"""R ``survey``'s ``qrule="math"`` quantile of a weighted sample (survey >= 4.0 default).

Hand-written because the rule is R-specific: sort the values, accumulate the weights, and take
the last value whose cumulative weight is <= p * total; if that cumulative share equals p exactly
the quantile is that value, otherwise the next one. R accumulates sums in long double; so do we
(numpy ``longdouble``), so that ties at exactly p * total resolve as in R.

Example:
    >>> import numpy as np
    >>> math_quantile(np.array([1.0, 2.0, 3.0, 4.0]), np.ones(4), 0.5)
    2.0
    >>> math_quantile(np.array([1.0, 2.0, 3.0]), np.ones(3), 0.5)
    2.0
"""

from __future__ import annotations

import numpy as np


def math_quantile(x: np.ndarray, w: np.ndarray, p: float) -> float:
    """The p-quantile of values ``x`` (sorted ascending) with weights ``w`` (R ``qrule_math``)."""
    nz = w != 0
    if not nz.all():
        x, w = x[nz], w[nz]
    if len(x) == 0:
        return float("nan")
    wl = w.astype(np.longdouble)
    cumw = np.cumsum(wl).astype(float)
    total = float(np.sum(wl))
    below = cumw <= p * total
    # R's survey:::last() returns 1 (the first position) when no cumulative weight is <= p * total.
    pos = int(np.flatnonzero(below)[-1]) if below.any() else 0
    nxt = pos if pos == len(x) - 1 else pos + 1
    wlow = p - cumw[pos] / total
    return float(x[pos] if wlow == 0 else x[nxt])
