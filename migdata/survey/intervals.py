"""Confidence intervals for survey estimates (vectorised over many estimates).

- ``t``: estimate ± t(df) · SE, as R ``confint(est, df=degf(design))``.
- ``logit``: R ``svyciprop(method="logit")`` (its default): a Wald interval for logit(p) with
  SE(p) / (p (1 - p)) and t(df), transformed back.
- ``beta``: R ``svyciprop(method="beta")`` (Korn–Graubard): a Clopper–Pearson interval on the
  effective sample size n_eff = p (1 - p) / Var(p), rescaled by (t(n - 1) / t(df))².
- ``wilson``: the Wilson score interval on the same effective sample size with t(df) as the
  critical value. R ``survey`` has no Wilson interval; this follows the usual
  design-effect-adjusted Wilson formula (n replaced by n_eff).

When SE is 0 (complete counts, p of 0 or 1) every method gives the point (estimate, estimate).

Example:
    >>> import numpy as np
    >>> lo, hi = t_interval(np.array([10.0]), np.array([1.0]), np.array([np.inf]))
    >>> round(float(lo[0]), 3), round(float(hi[0]), 3)
    (8.04, 11.96)
"""

from __future__ import annotations

import numpy as np

from migdata.errors import UsageError

PROPORTION_METHODS = ("logit", "beta", "wilson", "t")


def critical(df: np.ndarray, level: float = 0.95) -> np.ndarray:
    """t quantile for a two-sided interval; the normal quantile when df is infinite."""
    from scipy import stats  # imported when needed: ~1.5 s that a complete count never uses

    df = np.asarray(df, dtype=float)
    q = 1 - (1 - level) / 2
    with np.errstate(invalid="ignore"):
        return np.where(np.isinf(df), stats.norm.ppf(q), stats.t.ppf(q, np.where(df > 0, df, np.nan)))


def _point_when_exact(est, se, lo, hi):
    exact = se == 0
    return np.where(exact, est, lo), np.where(exact, est, hi)


def t_interval(est: np.ndarray, se: np.ndarray, df: np.ndarray, level: float = 0.95):
    """(low, high) = est ± t(df) · se."""
    c = critical(df, level)
    lo, hi = est - c * se, est + c * se
    return _point_when_exact(est, se, lo, hi)


def logit_interval(p: np.ndarray, se: np.ndarray, df: np.ndarray, level: float = 0.95):
    """R svyciprop(method='logit')."""
    c = critical(df, level)
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.log(p / (1 - p))
        half = c * se / (p * (1 - p))
        lo, hi = 1 / (1 + np.exp(-(eta - half))), 1 / (1 + np.exp(-(eta + half)))
    return _point_when_exact(p, se, lo, hi)


def beta_interval(p: np.ndarray, se: np.ndarray, df: np.ndarray, n: np.ndarray, level: float = 0.95):
    """R svyciprop(method='beta') (Korn–Graubard)."""
    from scipy import stats

    alpha = 1 - level
    with np.errstate(divide="ignore", invalid="ignore"):
        n_eff = p * (1 - p) / (se * se)
        ratio = stats.t.ppf(alpha / 2, np.where(n > 1, n - 1, np.nan))
        ratio = ratio / np.where(np.isinf(df), stats.norm.ppf(alpha / 2),
                                 stats.t.ppf(alpha / 2, np.where(df > 0, df, np.nan)))
        n_eff = n_eff * ratio ** 2
        lo = stats.beta.ppf(alpha / 2, n_eff * p, n_eff * (1 - p) + 1)
        hi = stats.beta.ppf(1 - alpha / 2, n_eff * p + 1, n_eff * (1 - p))
    return _point_when_exact(p, se, lo, hi)


def wilson_interval(p: np.ndarray, se: np.ndarray, df: np.ndarray, level: float = 0.95):
    """Wilson score interval on the effective sample size p (1 - p) / Var(p)."""
    c = critical(df, level)
    with np.errstate(divide="ignore", invalid="ignore"):
        n_eff = p * (1 - p) / (se * se)
        c2n = c * c / n_eff
        centre = (p + c2n / 2) / (1 + c2n)
        half = c * np.sqrt(p * (1 - p) / n_eff + c2n / (4 * n_eff)) / (1 + c2n)
    return _point_when_exact(p, se, centre - half, centre + half)


def proportion_interval(method: str, p, se, df, n, level: float = 0.95):
    """Dispatch on the proportion CI method name."""
    if method == "logit":
        return logit_interval(p, se, df, level)
    if method == "beta":
        return beta_interval(p, se, df, n, level)
    if method == "wilson":
        return wilson_interval(p, se, df, level)
    if method == "t":
        return t_interval(p, se, df, level)
    raise UsageError("MD307", what="Confidence interval method", value=method,
                     choices=", ".join(PROPORTION_METHODS))
