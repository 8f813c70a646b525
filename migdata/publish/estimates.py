"""What ``migdata estimate`` publishes: design-based estimates, with disclosure control on a
complete count.

A sample survey's estimates come back as the design gives them (estimate, SE, CI, CV, n and the
reliability flag). A complete count's are the numbers the indicator tables publish: each domain's
sums (units counted, sum of values, largest single contribution, summed record keys) go through
the one disclosure control of the product, :func:`migdata.publish.disclosure.control`, so a number
``migdata estimate`` prints is the same cell, with the same published value, as in the indicator
tables, and differencing the two reveals nothing. Which statistic of the cell-key method a
request is:

- ``total`` of a yes/no (or 0/1) column: a count (published as the indicator tables publish
  counts); of any other column: a total (magnitude noise from the largest contribution);
- ``mean`` of a yes/no column, and ``proportion``: a share (from the published count and
  published base, as a fraction 0-1); ``mean`` of any other column: a mean;
- ``ratio``: a ratio (both sums perturbed); ``quantile``: shown only where the published count
  of units it rests on is at least ``k + D`` (as medians).

On a complete count the SE, CV and interval are 0 and the estimate; ``n`` is the published
(perturbed) count of units with a value; ``n_missing`` (a raw count) is not shown; a domain whose
published ``n`` is 0 has no row; ``suppressed``/``suppression`` say which rows have no value.

Example:
    >>> import pandas as pd
    >>> from migdata.model.data import HouseholdData
    >>> hh = pd.DataFrame({"hh_id": [f"h{i}" for i in range(40)], "weight": 1.0,
    ...                    "poor": [True] * 10 + [False] * 30})
    >>> d = HouseholdData({"households": hh}, provenance={"complete_count": True})
    >>> r = estimate(d, "total", "poor", table="households")
    >>> bool(abs(r["estimate"].iloc[0] - 10) <= 3), "n_missing" in r
    (True, False)
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from migdata.errors import UsageError
from migdata.publish import disclosure
from migdata.survey import cells
from migdata.survey.frontend import UNIT_OF_TABLE, estimate as raw_estimate


def estimate(data: Any, kind: str, variables: str | Sequence[str], by: str | Sequence[str] | None = None,
             table: str = "persons", denominator: str | None = None, probs: Sequence[float] = (0.5,),
             ci_method: str = "logit", lonely_psu: str | None = None, k: int = 3,
             policy: Any = None) -> pd.DataFrame:
    """The published estimate table: :func:`migdata.survey.frontend.estimate`, then, for a
    complete count, disclosure control (see the module docstring). ``k``: no published count
    lies in ``1..k-1``."""
    disclosure.parameters(k)  # a bad k is a usage error before any work
    result = raw_estimate(data, kind, variables, by=by, table=table, denominator=denominator, probs=probs,
                          ci_method=ci_method, lonely_psu=lonely_psu, policy=policy)
    if not data.complete_count:
        return result
    return _protect(data, result, kind, _list(variables), _list(by), table, denominator, k)


def _list(x: str | Sequence[str] | None) -> list[str]:
    return [] if x is None else [x] if isinstance(x, str) else list(x)


def _numbers(s: pd.Series) -> np.ndarray:
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def _text(s: pd.Series) -> np.ndarray:
    return s.astype(object).where(s.notna(), "").astype(str).to_numpy()


def _protect(data: Any, result: pd.DataFrame, kind: str, names: list[str], by: list[str], table: str,
             denominator: str | None, k: int) -> pd.DataFrame:
    unit = UNIT_OF_TABLE.get(table, table)
    frame = data.frame(unit)
    keys = cells.unit_keys(frame, unit, data.provenance.disclosure_key)
    if keys is None:
        raise UsageError("MD716", table=table, columns=", ".join(cells.UNIT_ID_COLUMNS["person"]))
    dom = data.design(unit, frame=frame).domains(by or None)
    code, ndom = dom.codes, len(dom.labels)
    inside = code >= 0

    def count(mask: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        m = mask & inside
        return np.bincount(code[m], weights=None if weights is None else weights[m], minlength=ndom).astype(float)

    def key(mask: np.ndarray) -> np.ndarray:
        return cells.cell_key(count(mask, keys))

    def top(mask: np.ndarray, values: np.ndarray) -> np.ndarray:
        out = np.zeros(ndom)
        m = mask & inside
        np.maximum.at(out, code[m], np.abs(values[m]))
        return out

    # the result's rows: their domain (by the design's own labels) and part (variable, category)
    lab = dom.labels.copy()
    for b in by:
        lab[b] = _text(lab[b])
    lab["_dom"] = np.arange(ndom)
    rows = result.reset_index(drop=True).copy()
    rows["_order"] = np.arange(len(rows))
    on = {b: _text(rows[b]) for b in by}
    rows = rows.assign(**{f"_by_{b}": v for b, v in on.items()}).merge(
        lab.rename(columns={b: f"_by_{b}" for b in by}), on=[f"_by_{b}" for b in by] or None, how="left") \
        if by else rows.assign(_dom=0)
    dom_of = rows["_dom"].to_numpy(dtype=np.int64)

    # sums per part and domain
    pairs = [(n, denominator) for n in names] if kind == "ratio" else [(n, None) for n in names]
    cols = {n: frame[n] for n in {*names, *([denominator] if kind == "ratio" and denominator else [])}}
    if kind == "proportion":
        valid = np.logical_and.reduce([cols[n].notna().to_numpy() for n in names])
    elif kind == "ratio":
        valid = np.logical_and.reduce([~np.isnan(_numbers(c)) for c in cols.values()])
    else:
        valid = np.logical_and.reduce([~np.isnan(_numbers(cols[n])) for n in names])
    n_units, ck_den = count(valid), key(valid)
    part_rows: dict[tuple[str, str], dict[str, Any]] = {}
    for name, den in pairs:
        if kind == "proportion":
            s = cols[name]
            cats, codes = _categories(s)
            for j, c in enumerate(cats):
                hit = valid & (codes == j)
                part_rows[(name, c)] = {"statistic": "share", "units": count(hit), "_ck_num": key(hit)}
            continue
        y = np.nan_to_num(_numbers(cols[name]))
        label = f"{name}/{den}" if kind == "ratio" else name
        binary = kind in ("total", "mean") and _is_binary(cols[name], valid)
        if binary:
            hit = valid & (y != 0)
            part_rows[(label, "")] = {"statistic": "count" if kind == "total" else "share",
                                      "units": count(hit), "_ck_num": key(hit)}
        elif kind in ("total", "mean"):
            nz = valid & (y != 0)
            part_rows[(label, "")] = {"statistic": kind, "numerator": count(valid, y), "units": count(nz),
                                      "_ck_num": key(nz), "_top_num": top(valid, y)}
        elif kind == "ratio":
            x = np.nan_to_num(_numbers(cols[den]))
            nz = valid & (y != 0)
            part_rows[(label, "")] = {"statistic": "ratio", "numerator": count(valid, y), "units": count(nz),
                                      "denominator": count(valid, x), "_ck_num": key(nz),
                                      "_ck_den": key(valid & (x != 0)), "_top_num": top(valid, y),
                                      "_top_den": top(valid, x)}
        else:  # quantile
            part_rows[(label, "")] = {"statistic": "median"}

    # one raw row per result row, in the contract of disclosure.control
    var = _text(rows["variable"])
    cat = _text(rows["category"]) if kind == "proportion" else np.full(len(rows), "", dtype=object)
    raw = pd.DataFrame({"indicator_id": var, "flag": disclosure.COMPLETE,
                        "estimate": _numbers(rows["estimate"]), "n": n_units[dom_of], "_ck_den": ck_den[dom_of],
                        "_row": np.arange(len(rows))})
    for c in ("statistic", "units", "numerator", "denominator", "_ck_num", "_top_num", "_top_den"):
        raw[c] = np.nan if c != "statistic" else ""
    for (label, c), sums in part_rows.items():
        sel = np.flatnonzero((var == label) & (cat == c))
        for col, v in sums.items():
            raw.loc[sel, col] = v if isinstance(v, str) else v[dom_of[sel]]
        if "_ck_den" in sums:
            raw.loc[sel, "_ck_den"] = sums["_ck_den"][dom_of[sel]]
    if (raw["statistic"] == "").any():  # a result row without its sums: a defect, not bad input
        raise AssertionError("estimate rows without their domain sums")
    pub = disclosure.control(raw, k=k)
    share = (pub["statistic"] == "share").to_numpy()
    est = pub["estimate"].to_numpy() / np.where(share, 100.0, 1.0)  # shares as fractions, as the design
    out = rows.iloc[pub["_row"].to_numpy()].copy()
    out["estimate"] = est
    for c in ("ci_low", "ci_high"):
        out[c] = est
    for c in ("se", "cv"):
        out[c] = pub[c].to_numpy()
    out["n"] = pub["n"].to_numpy()
    out["suppressed"] = pub["suppressed"].to_numpy()
    out["suppression"] = pub["suppression"].to_numpy()
    out = out.sort_values("_order").drop(columns=[c for c in out.columns if c.startswith("_")] + ["n_missing"],
                                         errors="ignore")
    out = out.reset_index(drop=True)
    out.attrs = dict(result.attrs)
    out.attrs["disclosure"] = pub.attrs.get("disclosure")
    out.attrs["published"] = True
    return out


def _categories(s: pd.Series) -> tuple[list[str], np.ndarray]:
    """Category labels (as text) and codes of a column, as the design's proportions list them:
    a Categorical's categories, else the sorted distinct values."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        return [str(c) for c in s.cat.categories], s.cat.codes.to_numpy().astype(np.int64)
    codes, uniq = pd.factorize(s, sort=True)
    return [str(u) for u in uniq], codes.astype(np.int64)


def _is_binary(s: pd.Series, valid: np.ndarray) -> bool:
    """A yes/no column: boolean, or numbers that are all 0 or 1 where valid."""
    if pd.api.types.is_bool_dtype(s.dtype):
        return True
    v = _numbers(s)[valid]
    return bool(len(v)) and bool(np.isin(v, (0.0, 1.0)).all())
