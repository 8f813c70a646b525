"""Replicate-weight variance (JK1, JKn, BRR, bootstrap, or any scale), as R ``svrepdesign``.

Point estimates use the full-sample weights; each replicate recomputes the estimate with its own
weights, and the variance is ``scale * sum_r rscales_r * (theta_r - centre)^2`` where the centre
is the full-sample estimate (``mse=True``, R's ``survey.replicates.mse=TRUE``) or the mean of the
replicates (``mse=False``, R's default). Defaults for ``scale``/``rscales`` per type follow R:
JK1 (R-1)/R; BRR 1/R; bootstrap 1/(R-1); JKn needs ``rscales`` (given by
:func:`jackknife_weights`).

Cost: one weighted ``bincount`` per replicate and variable (fine for the usual 50-200
replicates; :class:`~migdata.survey.Design` is the fast path for millions of rows).
:func:`jackknife_weights` builds JK1/JKn replicates from a Taylor design (one replicate per PSU,
with the FPC factor as R's ``as.svrepdesign``).

Example:
    >>> import pandas as pd
    >>> df = pd.DataFrame({"y": [1.0, 2, 3, 4], "w": [1.0, 1, 1, 1], "p": [1, 2, 3, 4]})
    >>> rep = ReplicateDesign.jackknife(Design(df, weights="w", psu="p"))
    >>> round(float(rep.mean("y")["se"].iloc[0]), 6)   # equals the Taylor SE for a mean of an SRS
    0.645497
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from migdata.errors import UsageError
from migdata.survey import reliability
from migdata.survey.design import Design, Domains, _as_list

TYPES = ("JK1", "JKn", "BRR", "bootstrap", "other")


def jackknife_weights(design: Design) -> tuple[np.ndarray, str, float, np.ndarray]:
    """JK1 (unstratified) or JKn replicate weights from a Taylor design's first stage.

    Returns (weights array rows x replicates, type, scale, rscales). As R ``jk1weights`` /
    ``jknweights``: dropping PSU j of stratum h sets its rows to 0 and multiplies the other rows
    of h by n_h / (n_h - 1); with an FPC the scales are multiplied by 1 - n_h / N_h.
    """
    st = design.stages[0]
    units = st.row_units(design.n_rows)
    row_stratum = st.unit_stratum[units]
    nh = st.stratum_n
    f = st.stratum_f                       # 1 - n/N, or 1 without FPC
    W = np.repeat(design.w[:, None], st.n_units, axis=1)
    for j in range(st.n_units):
        h = st.unit_stratum[j]
        in_h = row_stratum == h
        if nh[h] > 1:
            W[in_h, j] *= nh[h] / (nh[h] - 1)
        W[units == j, j] = 0.0
    if st.n_strata == 1:
        n = nh[0]
        return W, "JK1", float((n - 1) / n * f[0]), np.ones(st.n_units)
    rscales = ((nh - 1) / nh * f)[st.unit_stratum]
    return W, "JKn", 1.0, rscales


class ReplicateDesign:
    """A design with replicate weights; the same estimators and result columns as Design.

    ``df`` for the t intervals is R's ``degf`` of a replicate design: the rank of the
    replicate weights minus 1 (here: number of replicates - 1 unless given).
    """

    def __init__(self, df: pd.DataFrame, weights: str | np.ndarray,
                 replicate_weights: Sequence[str] | np.ndarray, type: str = "JK1",
                 scale: float | None = None, rscales: Sequence[float] | None = None,
                 mse: bool = False, degf: float | None = None,
                 policy: reliability.ReliabilityPolicy | str | None = None, level: float = 0.95) -> None:
        if type not in TYPES:
            raise UsageError("MD307", what="Replicate type", value=type, choices=", ".join(TYPES))
        self._base = Design(df.assign(_w=weights) if isinstance(weights, np.ndarray) else df,
                            weights="_w" if isinstance(weights, np.ndarray) else weights,
                            lonely_psu="certainty", policy=policy, level=level)
        if isinstance(replicate_weights, np.ndarray):
            self.W = np.asarray(replicate_weights, dtype=float)
        else:
            self.W = np.column_stack([self._base._numeric(c, "replicate weight") for c in replicate_weights])
        R = self.W.shape[1]
        defaults = {"JK1": (R - 1) / R, "BRR": 1 / R, "bootstrap": 1 / (R - 1), "JKn": 1.0, "other": 1.0}
        self.scale = defaults[type] if scale is None else scale
        self.rscales = np.ones(R) if rscales is None else np.asarray(rscales, dtype=float)
        self.type, self.mse = type, mse
        self._degf = float(R - 1) if degf is None else degf

    @classmethod
    def jackknife(cls, design: Design, mse: bool = False) -> "ReplicateDesign":
        """JK1/JKn replicates of a Taylor design (R ``as.svrepdesign(design)``)."""
        W, typ, scale, rscales = jackknife_weights(design)
        return cls(design.data, design.w, W, type=typ, scale=scale, rscales=rscales, mse=mse,
                   policy=design.policy, level=design.level)

    def domains(self, by, observed: bool = True) -> Domains:
        return self._base.domains(by, observed)

    def _estimate(self, names, by, observed, kind: str, denominators=None) -> pd.DataFrame:
        base = self._base
        dom = base.domains(by, observed)
        codes, n_dom = dom.codes, dom.n
        ok = codes >= 0
        c = codes[ok]
        ests, vars_, ns = [], [], []
        for i, name in enumerate(names):
            y = base._numeric(name, kind)
            valid = ~np.isnan(y)
            x = None
            if kind == "ratio":
                x = base._numeric(denominators[i], kind)
                valid &= ~np.isnan(x)
            a = np.where(valid, y, 0.0)[ok]
            b = (np.where(valid, x, 0.0) if x is not None else valid.astype(float))[ok]

            def theta(wcol):
                sa = np.bincount(c, weights=wcol * a, minlength=n_dom)
                if kind == "total":
                    return sa
                with np.errstate(divide="ignore", invalid="ignore"):
                    return sa / np.bincount(c, weights=wcol * b, minlength=n_dom)

            full = theta(base.w[ok])
            reps = np.column_stack([theta(self.W[ok, r]) for r in range(self.W.shape[1])])
            centre = full if self.mse else reps.mean(axis=1)
            var = self.scale * ((reps - centre[:, None]) ** 2 * self.rscales).sum(axis=1)
            ests.append(full)
            vars_.append(var)
            ns.append(np.bincount(c, weights=valid[ok].astype(float), minlength=n_dom))
        est, var, n = np.column_stack(ests), np.column_stack(vars_), np.column_stack(ns)
        df = np.full_like(est, self._degf)
        label = names if kind != "ratio" else [f"{y}/{x}" for y, x in zip(names, denominators)]
        out = base._finish(dom, est, var, n, df, label, base._t_ci, n_missing=dom.sizes()[:, None] - n)
        out.attrs["design"] = f"ReplicateDesign(type={self.type}, replicates={self.W.shape[1]}, mse={self.mse})"
        return out

    def mean(self, variables, by=None, observed: bool = True) -> pd.DataFrame:
        """Weighted mean(s) per domain with replicate SEs."""
        return self._estimate(_as_list(variables), by, observed, "mean")

    def total(self, variables, by=None, observed: bool = True) -> pd.DataFrame:
        """Weighted total(s) per domain with replicate SEs."""
        return self._estimate(_as_list(variables), by, observed, "total")

    def ratio(self, numerator, denominator, by=None, observed: bool = True) -> pd.DataFrame:
        """Ratio(s) of totals per domain with replicate SEs."""
        nums, dens = _as_list(numerator), _as_list(denominator)
        dens = dens * len(nums) if len(dens) == 1 else dens
        return self._estimate(nums, by, observed, "ratio", dens)


__all__ = ["ReplicateDesign", "jackknife_weights"]
