"""Draw a stratified sample from a frame: simple random or PPS systematic selection within strata.

A pure, seeded function (:func:`draw`): the same frame, plan and seed give the same sample, and
the frame is never modified. It returns the selected units with their stratum, first-order
inclusion probability ``pi``, design weight ``1 / pi`` and the frame count of their stratum
(``frame_n``, the FPC of a stratified SRS design), and a table of the strata (frame count,
planned sample size, total size measure). That is the list a field team takes; the survey's
profile maps these columns to the design (strata, weights, FPC).

Methods, per stratum h with N_h units and n_h to draw:

- ``"srs"``: simple random sampling without replacement, ``pi = n_h / N_h``;
- ``"pps"``: systematic sampling with probability proportional to a size measure ``x`` in the
  frame's order (sort the frame, e.g. by area, for implicit stratification): ``pi_i = n_h x_i /
  X_h``. Units whose ``pi`` would reach 1 are taken with certainty (``pi = 1``) and the rest of
  the stratum's sample is spread over the other units, repeatedly, as usual for PPS designs.
  With a random start ``u`` in [0, 1) the points ``u, u + 1, ..., u + n' - 1`` fall on the
  cumulated ``pi`` of the non-certainty units; each point selects the unit whose interval holds
  it, so a unit is selected with probability exactly ``pi_i`` (every ``pi_i < 1``, so never twice).

Allocation (``n`` an integer): proportional to the frame counts N_h (``"srs"``) or to the size
totals X_h (``"pps"``), rounded by largest remainders, at least ``min_per_stratum`` units per
stratum and never more than N_h; or ``n`` maps each stratum to its n_h.

Hand-written: ``samplics`` (the Python sampling library) draws from numpy's global random state,
so a draw is neither pure nor reproducible from an argument, selects PPS systematic samples with a
Python loop over units and points, and would add polars and statsmodels as dependencies; R's
``sampling`` is not Python.
The algorithms are the textbook ones (Cochran, *Sampling Techniques*, 3rd ed., ch. 5 and 9A;
Sarndal, Swensson & Wretman 1992, sec. 3.6), and the tests check their defining properties
(planned sizes, probabilities summing to n_h, unbiased Horvitz-Thompson totals over many seeds).

Example:
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"id": range(10), "prov": ["A"] * 6 + ["B"] * 4})
    >>> s = draw(frame, 4, strata="prov", seed=1)
    >>> s.units.groupby("stratum")["pi"].agg(["size", "first"]).reset_index().values.tolist()
    [['A', 2, 0.3333333333333333], ['B', 2, 0.5]]
    >>> s.strata[["stratum", "frame_n", "sample_n"]].values.tolist()
    [['A', 6, 2], ['B', 4, 2]]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from migdata.errors import DataError, UsageError

METHODS = ("srs", "pps")
#: columns :func:`draw` adds to the selected frame rows
DESIGN_COLUMNS = ["stratum", "pi", "weight", "frame_n", "sample_n", "certainty"]


@dataclass(frozen=True)
class Sample:
    """The result of :func:`draw`.

    ``units``: the selected frame rows (all their columns) plus ``stratum``, ``pi``, ``weight``
    (``1 / pi``), ``frame_n`` (N_h), ``sample_n`` (n_h) and ``certainty`` (taken with ``pi = 1``),
    in frame order within strata. ``strata``: one row per stratum with ``frame_n``, ``sample_n``
    and, for PPS, ``size_total`` (X_h).
    """

    units: pd.DataFrame
    strata: pd.DataFrame
    method: str
    seed: int


def _stratum_labels(frame: pd.DataFrame, strata: str | Sequence[str] | None) -> pd.Series:
    if strata is None:
        return pd.Series("all", index=frame.index, dtype=object)
    cols = [strata] if isinstance(strata, str) else list(strata)
    for c in cols:
        if c not in frame.columns:
            raise UsageError("MD360", column=c, known=", ".join(map(str, list(frame.columns)[:12])))
    miss = frame[cols].isna().any(axis=1).to_numpy()
    if miss.any():
        row = int(np.flatnonzero(miss)[0])
        raise DataError("MD361", column=", ".join(cols), count=int(miss.sum()), row=row)
    if len(cols) == 1:
        return frame[cols[0]].astype(str).astype(object)
    return frame[cols].astype(str).agg(" | ".join, axis=1).astype(object)


def allocate(totals: pd.Series, n: int, counts: pd.Series, min_per_stratum: int = 2) -> pd.Series:
    """Sample sizes per stratum: ``n`` shared in proportion to ``totals``, at least
    ``min_per_stratum`` (or the whole stratum when smaller) and at most ``counts`` (the frame
    count) in each stratum; strata held at a bound are set aside and the rest shared again, then
    rounded by largest remainders.

    Example:
        >>> t = pd.Series([60.0, 30.0, 10.0], index=["a", "b", "c"])
        >>> allocate(t, 10, pd.Series([60, 30, 10], index=t.index), min_per_stratum=1).tolist()
        [6, 3, 1]
        >>> allocate(t, 10, pd.Series([60, 30, 10], index=t.index), min_per_stratum=2).tolist()
        [5, 3, 2]
    """
    counts = counts.reindex(totals.index).astype(int)
    lo = np.minimum(min_per_stratum, counts.to_numpy()).astype(float)
    hi = counts.to_numpy().astype(float)
    if n > hi.sum():
        raise UsageError("MD362", n=n, available=int(hi.sum()))
    if n < lo.sum():
        raise UsageError("MD366", n=n, minimum=int(lo.sum()), strata=len(lo), per=min_per_stratum)
    t = totals.to_numpy(dtype=float)
    target = np.zeros(len(t))
    pinned = np.zeros(len(t), dtype=bool)
    for _ in range(len(t) + 1):
        free = ~pinned
        rest = n - target[pinned].sum()
        share = t[free].sum()
        target[free] = rest * t[free] / share if share > 0 else rest / max(int(free.sum()), 1)
        low, high = free & (target < lo), free & (target > hi)
        if not (low.any() or high.any()):
            break
        target[low], target[high] = lo[low], hi[high]
        pinned |= low | high
    out = np.floor(target + 1e-9).astype(int)
    left = n - int(out.sum())
    frac = np.where(out < hi, target - out, -np.inf)
    for i in np.argsort(-frac, kind="stable")[:left]:
        out[i] += 1
    return pd.Series(out, index=totals.index, dtype=int)


def _pps_probabilities(size: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Inclusion probabilities ``n * x / X`` with certainty units (``pi = 1``) taken out
    until every other ``pi`` is below 1; returns ``(pi, certainty)``."""
    pi = np.zeros(len(size))
    certain = np.zeros(len(size), dtype=bool)
    for _ in range(len(size) + 1):
        left = n - int(certain.sum())
        rest = ~certain
        total = size[rest].sum()
        if left <= 0 or total <= 0:
            break
        pi[rest] = left * size[rest] / total
        new = rest & (pi >= 1 - 1e-12)
        if not new.any():
            break
        certain |= new
    pi[certain] = 1.0
    return pi, certain


def _systematic(rng: np.random.Generator, pi: np.ndarray) -> np.ndarray:
    """Positions selected by systematic sampling on the cumulated ``pi`` (all below 1)."""
    k = int(round(pi.sum()))
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    cum = np.cumsum(pi)
    points = rng.uniform(0.0, 1.0) + np.arange(k)
    # unit i holds the points in (cum[i-1], cum[i]]
    return np.searchsorted(cum, points, side="left").clip(max=len(pi) - 1)


def draw(frame: pd.DataFrame, n: int | Mapping[str, int], *, strata: str | Sequence[str] | None = None,
         method: str = "srs", size: str | None = None, seed: int, min_per_stratum: int = 2) -> Sample:
    """Select a stratified sample from ``frame`` (one row per unit); see the module docstring.

    ``strata``: column(s) whose values define the strata (None: one stratum, ``"all"``);
    ``method``: ``"srs"`` or ``"pps"`` (then ``size`` names a column of positive size measures);
    ``n``: the total sample size (allocated as described) or ``{stratum: n_h}``; ``seed``: the
    seed of the random numbers (``numpy.random.default_rng``); strata are drawn in sorted order
    from one stream, so the whole sample depends on the seed only.

    Example:
        >>> import pandas as pd
        >>> f = pd.DataFrame({"unit": list("abcdef"), "x": [1, 1, 2, 2, 4, 10]})
        >>> s = draw(f, 3, method="pps", size="x", seed=7)
        >>> s.units[["unit", "pi", "certainty"]].values.tolist()[-1]
        ['f', 1.0, True]
        >>> round(float(s.units["weight"].sum()), 6) <= len(f)
        True
    """
    if method not in METHODS:
        raise UsageError("MD004", what="sampling method", value=method, choices=", ".join(METHODS))
    if not isinstance(frame, pd.DataFrame) or frame.empty:
        raise DataError("MD311")
    labels = _stratum_labels(frame, strata)
    x = None
    if method == "pps":
        if size is None or size not in frame.columns:
            raise UsageError("MD360", column=size, known=", ".join(map(str, list(frame.columns)[:12])))
        x = pd.to_numeric(frame[size], errors="coerce").to_numpy(dtype="float64")
        bad = ~(np.isfinite(x) & (x > 0))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            v = frame[size].iloc[i]
            raise DataError("MD363", column=size, count=int(bad.sum()), row=i, value=v.item() if hasattr(v, "item") else v)
    counts = labels.value_counts().sort_index()
    totals = counts.astype(float) if x is None else pd.Series(x, index=frame.index).groupby(labels.to_numpy()).sum()
    totals = totals.reindex(counts.index)
    if isinstance(n, Mapping):
        unknown = [k for k in n if str(k) not in counts.index]
        if unknown:
            raise UsageError("MD364", stratum=unknown[0], known=", ".join(counts.index[:12]))
        plan = pd.Series({str(k): int(v) for k, v in n.items()}).reindex(counts.index).fillna(0).astype(int)
    else:
        plan = allocate(totals, int(n), counts, min_per_stratum)
    over = plan[plan > counts]
    if len(over):
        k = over.index[0]
        raise UsageError("MD365", stratum=k, n=int(plan[k]), available=int(counts[k]))
    if (plan < 0).any():
        raise UsageError("MD365", stratum=plan[plan < 0].index[0], n=int(plan.min()), available=0)

    rng = np.random.default_rng(seed)
    pos_all = np.arange(len(frame))
    lab = labels.to_numpy()
    picked, pis, certs, strat = [], [], [], []
    for h in counts.index:  # sorted: the stream is consumed in a fixed order
        rows = pos_all[lab == h]
        nh = int(plan[h])
        if nh == 0:
            continue
        if method == "srs":
            sel = np.sort(rng.choice(len(rows), size=nh, replace=False))
            pi = np.full(nh, nh / len(rows))
            cert = pi >= 1.0
        else:
            p_all, c_all = _pps_probabilities(x[rows], nh)
            rest = np.flatnonzero(~c_all)
            chosen = rest[_systematic(rng, p_all[rest])] if len(rest) else np.zeros(0, dtype=np.int64)
            sel = np.sort(np.concatenate([np.flatnonzero(c_all), chosen]))
            pi, cert = p_all[sel], c_all[sel]
        picked.append(rows[sel])
        pis.append(pi)
        certs.append(cert)
        strat.append(np.full(len(sel), h, dtype=object))
    idx = np.concatenate(picked) if picked else np.zeros(0, dtype=np.int64)
    st = np.concatenate(strat) if strat else np.zeros(0, dtype=object)
    pi = np.concatenate(pis) if pis else np.zeros(0)
    where = counts.index.get_indexer(st)
    units = frame.iloc[idx].assign(
        stratum=st, pi=pi, weight=1.0 / pi, frame_n=counts.to_numpy()[where].astype(int),
        sample_n=plan.reindex(counts.index).to_numpy()[where].astype(int),
        certainty=np.concatenate(certs) if certs else np.zeros(0, dtype=bool))
    table = pd.DataFrame({"stratum": counts.index, "frame_n": counts.to_numpy(),
                          "sample_n": plan.reindex(counts.index).to_numpy()})
    if x is not None:
        table["size_total"] = totals.to_numpy()
    return Sample(units=units, strata=table, method=method, seed=seed)
