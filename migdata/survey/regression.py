"""Design-based generalised linear models, as R ``svyglm`` (gaussian and quasi-binomial).

The coefficients are those of a weighted GLM with the weights rescaled to mean 1 (R's
``rescale=TRUE``), fitted by the same iteratively reweighted least squares as R's ``glm.fit``
(same start, same convergence test ``|dev - dev_old| / (|dev| + 0.1) < 1e-8``, same working
weights kept from the last iteration), so that the estimates agree with R's to rounding, not
merely to the convergence tolerance. The variance is the sandwich of ``svy.varcoef``: the
design variance (``svyrecvar``, with the calibration residuals of a calibrated design) of the
influence functions X_i r_i w_i A^-1. ``family="binomial"`` gives R's ``quasibinomial`` SEs
(the sandwich does not use the dispersion, so binomial and quasibinomial agree).

Terms follow R's model matrix: ``(Intercept)``, then each variable in order; numbers enter as
they are, true/false as ``<name>TRUE``, other columns as factors treatment-coded against their
first level (sorted values, or the categorical order; levels with no complete case are
dropped), named ``<name><level>``. Aliased columns (collinear with earlier ones, R's ``dqrdc2``
rule with tolerance 1e-11) get a missing coefficient, as R's ``NA``. Rows missing the outcome
or any predictor are left out (R's ``na.omit``); they stay in the design, as R's subset.

The residual degrees of freedom are R's ``degf(design) + 1 - p`` (``degf`` counted on the
complete cases with a non-zero weight, p the number of estimable coefficients); t, p-values and
intervals use them.

Example:
    >>> import pandas as pd
    >>> from migdata.survey import Design
    >>> df = pd.DataFrame({"y": [1.0, 2, 4, 3, 6, 5], "x": [1.0, 2, 3, 4, 5, 6],
    ...                    "w": [1.0, 2, 1, 2, 1, 2]})
    >>> r = Design(df, weights="w").glm("y", ["x"])
    >>> r["term"].tolist(), [round(float(v), 4) for v in r["estimate"]]
    (['(Intercept)', 'x'], [0.4359, 0.8205])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from migdata.errors import DataError, UsageError
from migdata.survey.rank import kept_columns

if TYPE_CHECKING:  # pragma: no cover
    from migdata.survey.design import Design

FAMILIES = ("gaussian", "binomial")
EPS = np.finfo(float).eps


def _is_bool(s: pd.Series) -> bool:
    return pd.api.types.is_bool_dtype(s.dtype)


def model_matrix(design: "Design", y: str, xs: Sequence[str]) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray]:
    """(outcome, X of the complete rows' model matrix for all rows, term names, complete mask)."""
    yv = design._numeric(y, "regression")
    complete = ~np.isnan(yv)
    kinds = []
    for x in xs:
        s = design._column(x, "variable")
        if _is_bool(s) or (pd.api.types.is_numeric_dtype(s.dtype) and not isinstance(s.dtype, pd.CategoricalDtype)):
            v = s.to_numpy(dtype=float, na_value=np.nan)
            complete &= ~np.isnan(v)
            kinds.append(("bool" if _is_bool(s) else "num", v))
        else:
            codes, cats = design._categories(x)
            complete &= codes >= 0
            kinds.append(("cat", (codes, cats)))
    cols, names = [np.ones(design.n_rows)], ["(Intercept)"]
    for x, (kind, v) in zip(xs, kinds):
        if kind == "num":
            cols.append(np.where(complete, v, 0.0))
            names.append(x)
        elif kind == "bool":
            cols.append(np.where(complete, v, 0.0))
            names.append(f"{x}TRUE")
        else:
            codes, cats = v
            present = np.flatnonzero(np.bincount(codes[complete], minlength=len(cats)))
            for c in present[1:]:
                cols.append((complete & (codes == c)).astype(float))
                names.append(f"{x}{cats[c]}")
    return yv, np.column_stack(cols), names, complete


def _family(name: str):
    """(linkinv, mu_eta, variance, dev_resids, initialize) of R's gaussian() / binomial()."""
    if name == "gaussian":
        return (lambda eta: eta, lambda eta: np.ones_like(eta), lambda mu: np.ones_like(mu),
                lambda y, mu, wt: wt * (y - mu) ** 2, lambda y, wt: y.copy(), lambda mu: mu)

    def linkinv(eta):
        tmp = np.where(eta < -30, EPS, np.where(eta > 30, 1 / EPS, np.exp(np.clip(eta, -30, 30))))
        return tmp / (1 + tmp)

    def mu_eta(eta):
        opexp = 1 + np.exp(np.clip(eta, -30, 30))
        return np.where(np.abs(eta) > 30, EPS, np.exp(np.clip(eta, -30, 30)) / (opexp * opexp))

    def ylogy(y, mu):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(y != 0, y * np.log(y / mu), 0.0)

    return (linkinv, mu_eta, lambda mu: mu * (1 - mu),
            lambda y, mu, wt: 2 * wt * (ylogy(y, mu) + ylogy(1 - y, 1 - mu)),
            lambda y, wt: (wt * np.where(wt == 0, 0.0, y) + 0.5) / (wt + 1),
            lambda mu: np.log(mu / (1 - mu)))


def irls(X: np.ndarray, y: np.ndarray, prior: np.ndarray, family: str, maxit: int = 25,
         epsilon: float = 1e-8):
    """R's ``glm.fit``: (coefficients, kept columns, working weights, working residuals, A^-1)."""
    linkinv, mu_eta, variance, dev_resids, initialize, linkfun = _family(family)
    mustart = initialize(y, prior)
    eta = linkfun(mustart)
    mu = linkinv(eta)
    devold = float(np.sum(dev_resids(y, mu, prior)))
    keep = None
    coef = None
    for _ in range(maxit):
        me = mu_eta(eta)
        good = (prior > 0) & (me != 0)
        z = eta[good] + (y - mu)[good] / me[good]
        w = np.sqrt(prior[good] * me[good] ** 2 / variance(mu)[good])
        Xg = X[good] * w[:, None]
        if keep is None:
            keep = kept_columns(Xg, min(1e-7, epsilon / 1000))
        Xk = Xg[:, keep]
        Q, R = np.linalg.qr(Xk)
        coef = np.linalg.solve(R, Q.T @ (z * w))
        eta = X[:, keep] @ coef
        mu = linkinv(eta)
        dev = float(np.sum(dev_resids(y, mu, prior)))
        if abs(dev - devold) / (abs(dev) + 0.1) < epsilon:
            break
        devold = dev
    wt = np.zeros(len(y))
    wt[good] = w ** 2
    resid = (y - mu) / mu_eta(eta)
    Rinv = np.linalg.inv(R)
    return coef, keep, wt, resid, Rinv @ Rinv.T


def glm(design: "Design", y: str, xs: str | Sequence[str], family: str = "gaussian") -> pd.DataFrame:
    """One row per coefficient: ``term``, ``estimate``, ``se``, ``t``, ``p``, ``ci_low``,
    ``ci_high``, ``df`` (residual df), ``n`` (complete cases); ``attrs["vcov"]`` holds the
    design-based variance matrix of the coefficients."""
    if family not in FAMILIES:
        raise UsageError("MD307", what="GLM family", value=family, choices=", ".join(FAMILIES))
    xs = [xs] if isinstance(xs, str) else list(xs)
    yv, X, names, complete = model_matrix(design, y, xs)
    w = design.w
    use = complete & (w > 0)
    if not use.any():
        raise DataError("MD344", columns=", ".join([y, *xs]))
    if family == "binomial":
        bad = complete & ((yv < 0) | (yv > 1))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError("MD343", column=y, value=float(yv[i]), row=design._row(i))
    prior = w / w.mean()                       # R svyglm: rescale=TRUE (mean over all rows)
    idx = np.flatnonzero(complete)
    coef, keep, wt, resid, Ainv = irls(X[idx], yv[idx], prior[idx], family)
    # influence functions (R svy.varcoef): estfun %*% A^-1, on every row (0 off the model)
    infl = np.zeros((design.n_rows, len(keep)))
    infl[idx] = (X[idx][:, keep] * (resid * wt)[:, None]) @ Ainv
    dom = design.domains(None)
    vcov = _vcov(design, dom, infl, complete)
    p = len(keep)
    if design.complete:
        df_res = np.nan
    else:
        cells = design._cells(dom)
        degf = design._domain_degf(cells, cells.sum(use.astype(float))[:, None], 1)[0, 0]
        df_res = degf + 1 - p
    est = np.full(len(names), np.nan)
    se = np.full(len(names), np.nan)
    est[keep] = coef
    se[keep] = np.sqrt(np.maximum(np.diag(vcov), 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        t = est / se
    if np.isfinite(df_res) and df_res > 0:
        pval = 2 * stats.t.sf(np.abs(t), df_res)
        crit = stats.t.ppf(1 - (1 - design.level) / 2, df_res)
        lo, hi = est - crit * se, est + crit * se
    else:
        pval = np.full(len(names), np.nan)
        lo = hi = np.where(se == 0, est, np.nan)
    out = pd.DataFrame({"term": names, "estimate": est, "se": se, "t": t, "p": pval,
                        "ci_low": lo, "ci_high": hi, "df": float(df_res), "n": int(complete.sum())})
    kept_names = [names[j] for j in keep]
    out.attrs["vcov"] = pd.DataFrame(vcov, index=kept_names, columns=kept_names)
    out.attrs["family"] = family
    out.attrs["design"] = design.describe()
    return out


def _vcov(design: "Design", dom, infl: np.ndarray, complete: np.ndarray) -> np.ndarray:
    """Full variance matrix from the variances of the columns and of their pairwise sums."""
    p = infl.shape[1]
    cols = [infl[:, j] for j in range(p)]
    pairs = [(i, j) for i in range(p) for j in range(i + 1, p)]
    v = design._score_variance(dom, cols + [infl[:, i] + infl[:, j] for i, j in pairs], complete)[0]
    V = np.diag(v[:p])
    for (i, j), vij in zip(pairs, v[p:]):
        V[i, j] = V[j, i] = (vij - v[i] - v[j]) / 2
    return V


__all__ = ["glm", "irls", "model_matrix", "FAMILIES"]
