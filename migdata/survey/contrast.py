"""Linear combinations of domain estimates (differences, sums, averages) with their SE.

R's ``svycontrast(svyby(~y, ~by, design, svymean, covmat=TRUE), coefficients)``: the
variance of sum_d c_d theta_d is computed from the combined influence function on the full
design (R's ``covmat=TRUE`` path), so the covariance between domains that share PSUs or
strata is counted. It is done in the same one pass as the domain estimates: the cell scores
of every domain are combined with the coefficients per sampling unit, then the design variance
is taken of the combined column (no domain-by-domain covariance matrix is built).

Intervals are t intervals with the design's df (R's ``confint(contrast, df=degf(design))``).

Example:
    >>> import pandas as pd
    >>> from migdata.survey import Design
    >>> df = pd.DataFrame({"y": [1.0, 2, 3, 4, 5, 7], "prov": ["A", "A", "A", "B", "B", "B"],
    ...                    "w": [1.0, 1, 1, 1, 1, 1]})
    >>> r = Design(df, weights="w").contrast("mean", "y", "prov", {"B": 1, "A": -1})
    >>> round(float(r["estimate"].iloc[0]), 6), round(float(r["se"].iloc[0]), 6)
    (3.333333, 0.942809)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

import numpy as np
import pandas as pd

from migdata.errors import UsageError
from migdata.survey import intervals, reliability

if TYPE_CHECKING:  # pragma: no cover
    from migdata.survey.design import Design, Domains

KINDS = ("mean", "total", "proportion", "ratio")


def _domain_keys(dom: "Domains") -> list:
    cols = list(dom.labels.columns)
    if len(cols) == 1:
        return list(dom.labels[cols[0]])
    return list(dom.labels[cols].itertuples(index=False, name=None))


def coefficient_matrix(dom: "Domains", coefficients: Mapping, by_name: str) -> tuple[np.ndarray, list[str]]:
    """(n_dom, m) coefficients and the m contrast names from {domain: c} or {name: {domain: c}}."""
    if coefficients and all(isinstance(v, Mapping) for v in coefficients.values()):
        named = {str(k): v for k, v in coefficients.items()}
    else:
        named = {"contrast": coefficients}
    keys = _domain_keys(dom)
    exact = {k: i for i, k in enumerate(keys)}
    text = {str(k): i for i, k in enumerate(keys)}
    C = np.zeros((dom.n, len(named)))
    for j, coefs in enumerate(named.values()):
        for key, c in coefs.items():
            i = exact.get(key) if not isinstance(key, list) else None
            if i is None:
                i = text.get(str(key))
            if i is None:
                known = ", ".join(map(repr, keys[:10])) + (" ..." if len(keys) > 10 else "")
                raise UsageError("MD342", domain=key, by=by_name, known=known)
            C[i, j] = float(c)
    return C, list(named)


def contrast(design: "Design", kind: str, variable: str, by, coefficients: Mapping,
             denominator: str | None = None, observed: bool = True) -> pd.DataFrame:
    """One row per contrast (and category, for proportions): ``contrast``, ``variable``,
    [``category``], ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``cv``, ``df``, ``n``
    (cases in the domains with a non-zero coefficient), ``ci_method``, ``flag``."""
    if kind not in KINDS:
        raise UsageError("MD307", what="Contrast kind", value=kind, choices=", ".join(KINDS))
    dom = design.domains(by, observed)
    C, names = coefficient_matrix(dom, coefficients, str(by))
    y_name = variable
    cats = None
    if kind == "proportion":
        codes, cats = design._categories(variable)
        valid = codes >= 0
        sc = design._scores(dom, [None], [None], [valid], ratio=True, cat=(codes, max(len(cats), 1)))
    elif kind == "ratio":
        y, x = design._numeric(variable, "ratio"), design._numeric(denominator, "ratio")
        valid = ~np.isnan(y) & ~np.isnan(x)
        sc = design._scores(dom, [np.where(valid, y, 0.0)], [np.where(valid, x, 0.0)], [valid], ratio=True)
        y_name = f"{variable}/{denominator}"
    else:
        y = design._numeric(variable, kind)
        valid = ~np.isnan(y)
        sc = design._scores(dom, [np.where(valid, y, 0.0)], [None], [valid], ratio=kind == "mean")
    k = sc.est.shape[1]
    used = C != 0
    # R drops domains with a zero coefficient before combining (an NA estimate there does no harm)
    est = np.einsum("dm,dk->mk", np.where(used, C, 0.0), np.where(used.any(axis=1)[:, None], sc.est, 0.0))
    var = design._variance(dom, sc, combine=C)
    se = np.sqrt(np.maximum(var, 0.0))
    df = np.full_like(est, np.nan if design.complete else design.degf)
    lo, hi = intervals.t_interval(est, se, df, design.level)
    n = (used.astype(float).T @ sc.n) if k else np.zeros_like(est)
    with np.errstate(divide="ignore", invalid="ignore"):
        cv = np.where(se == 0, np.where(est != 0, 0.0, np.nan), se / np.abs(est))
    out = pd.DataFrame({"contrast": np.repeat(names, k), "variable": y_name})
    if cats is not None:
        out["category"] = np.tile(np.asarray(cats, dtype=object), len(names))
    flat = lambda a: np.asarray(a, dtype=float).reshape(-1)
    out["estimate"], out["se"] = flat(est), flat(se)
    out["ci_low"], out["ci_high"], out["cv"], out["df"] = flat(lo), flat(hi), flat(cv), flat(df)
    out["n"] = flat(n).astype(np.int64)
    out["ci_method"] = "complete count (no sampling error)" if design.complete else "t"
    out["flag"] = reliability.flag(out["cv"].to_numpy(), out["n"].to_numpy(), design.policy,
                                   complete_count=design.complete)
    out.attrs["design"] = design.describe()
    out.attrs["coefficients"] = pd.DataFrame(C, index=pd.Index(_domain_keys(dom), name="domain"), columns=names)
    return out


__all__ = ["contrast", "coefficient_matrix", "KINDS"]
