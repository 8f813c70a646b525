"""Replicate-weight variance (JK1, JKn, BRR, Fay, bootstrap, or any scale), as R ``svrepdesign``.

Point estimates use the full-sample weights; each replicate recomputes the estimate with its own
weights, and the variance is ``scale * sum_r rscales_r * (theta_r - centre)^2`` where the centre
is the full-sample estimate (``mse=True``, R's ``survey.replicates.mse=TRUE``) or the mean of the
replicates with a non-zero ``rscales`` (``mse=False``, R's default, ``svrVar``). As R, a
replicate whose estimate is missing (no unit of a small domain keeps a weight in it) is dropped
for that estimate, with a warning.

Defaults for ``scale``/``rscales`` per type follow R: JK1 (R-1)/R; BRR 1/R; Fay 1/(R (1-rho)^2);
bootstrap 1/(R-1); JKn needs ``rscales`` (R refuses without them, and so does this class;
:meth:`ReplicateDesign.jackknife` gives them). ``df`` is R's ``degf`` of a replicate design: the
rank of the replicate weights minus 1 (R's ``qr(weights, tol=1e-5)$rank - 1``, ``rank.py``);
for proportions and quantiles it is the rank among the domain's rows (R's ``svyby`` subsets),
as the Taylor design does (see ``design.py``).

Proportions use R ``svyciprop`` on a replicate design: the logit interval comes from the
replicate variance of logit(p) (``svyglm`` refitted per replicate), the others from the
replicate SE of p. Quantiles use Woodruff's interval with the replicate SE of the proportion
below the quantile (R ``svyquantile``, ``interval.type="mean"``).

:meth:`poststratify`, :meth:`rake` and :meth:`calibrate` calibrate the full-sample weights and
every replicate to the same totals (R's methods for ``svyrep.design``), so the replicate
variance includes the calibration.

Cost: one sparse product per estimate, (domains x rows) times (rows x replicates); fine for the
usual 50-200 replicates. :class:`~migdata.survey.Design` is the fast path for millions of rows.

Example:
    >>> import pandas as pd
    >>> df = pd.DataFrame({"y": [1.0, 2, 3, 4], "w": [1.0, 1, 1, 1], "p": [1, 2, 3, 4]})
    >>> rep = ReplicateDesign.jackknife(Design(df, weights="w", psu="p"))
    >>> round(float(rep.mean("y")["se"].iloc[0]), 6)   # equals the Taylor SE for a mean of an SRS
    0.645497
"""

from __future__ import annotations

import copy
import warnings
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from migdata.errors import DesignError, UsageError
from migdata.survey import calibration, intervals, reliability
from migdata.survey.design import Design, Domains, _as_list
from migdata.survey.quantile import math_quantile
from migdata.survey.rank import rank

TYPES = ("JK1", "JKn", "BRR", "Fay", "bootstrap", "other")
RANK_TOL = 1e-5


def jackknife_weights(design: Design) -> tuple[np.ndarray, str, float, np.ndarray]:
    """JK1 (unstratified) or JKn replicate weights from a Taylor design's first stage.

    Returns (weights array rows x replicates, type, scale, rscales). As R ``jk1weights`` /
    ``jknweights`` (``as.svrepdesign``): dropping PSU j of stratum h sets its rows to 0 and
    multiplies the other rows of h by n_h / (n_h - 1); with an FPC the scales are multiplied by
    1 - n_h / N_h, and strata sampled completely (f = 0) get no replicate. A stratum with one
    PSU follows the design's ``lonely_psu``: ``fail`` raises, ``remove``/``certainty`` give it no
    replicate, ``average`` too and multiplies the scale by PSUs / replicates, ``adjust`` gives
    it one replicate that zeroes it and multiplies every other row by H / (H - 1), with rscale
    (H - 1) / H (H strata).
    """
    st = design.stages[0]
    units = st.row_units(design.n_rows)
    row_stratum = st.unit_stratum[units]
    nh = st.stratum_n
    f = st.stratum_f                       # 1 - n/N, or 1 without FPC
    H = st.n_strata
    if H == 1:
        n = nh[0]
        W = np.repeat(design.w[:, None], st.n_units, axis=1) * (n / (n - 1) if n > 1 else np.inf)
        W[np.arange(design.n_rows), units] = 0.0
        return W, "JK1", float((n - 1) / n * f[0]), np.ones(st.n_units)
    lonely = (nh == 1) & (f > 1e-7)
    if lonely.any() and design.lonely_psu == "fail":
        names = sorted({st.stratum_label[h] for h in np.flatnonzero(lonely)})
        raise DesignError("MD303", strata="(" + ", ".join(names[:10]) + ")", stage=1)
    cols, rscales = [], []
    for h in range(H):
        in_h = row_stratum == h
        if f[h] <= 1e-7:                   # certainty stratum: R drops its replicates
            continue
        if nh[h] == 1:
            if design.lonely_psu == "adjust":
                col = np.where(in_h, 0.0, design.w * H / (H - 1))
                cols.append(col)
                rscales.append((H - 1) / H)
            continue
        for j in np.flatnonzero(st.unit_stratum == h):
            col = np.where(in_h, design.w * nh[h] / (nh[h] - 1), design.w)
            col[units == j] = 0.0
            cols.append(col)
            rscales.append((nh[h] - 1) / nh[h] * f[h])
    if not cols:
        raise DesignError("MD345", what="a jackknife of this design (every stratum sampled completely)")
    scale = 1.0
    if design.lonely_psu == "average" and len(cols) < st.n_units:
        scale = st.n_units / len(cols)
    return np.column_stack(cols), "JKn", scale, np.asarray(rscales)


class ReplicateDesign:
    """A design with replicate weights; the same estimators and result columns as Design.

    ``replicate_weights`` are the analysis weights of each replicate (R's combined weights).
    ``df`` for the t intervals is R's ``degf``: the rank of the replicate weights minus 1
    (``degf=`` overrides it).
    """

    def __init__(self, df: pd.DataFrame, weights: str | np.ndarray,
                 replicate_weights: Sequence[str] | np.ndarray, type: str = "JK1",
                 scale: float | None = None, rscales: Sequence[float] | None = None,
                 mse: bool = False, degf: float | None = None, rho: float | None = None,
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
        if type == "JKn" and rscales is None:
            raise DesignError("MD341")
        if type == "Fay" and rho is None:
            raise UsageError("MD307", what="Fay replicates without rho", value=None, choices="rho=0.5 (or the survey's)")
        defaults = {"JK1": (R - 1) / R, "BRR": 1 / R, "bootstrap": 1 / (R - 1), "JKn": 1.0, "other": 1.0,
                    "Fay": 1 / (R * (1 - (rho or 0.0)) ** 2)}
        self.scale = defaults[type] if scale is None or type in ("BRR", "Fay") else scale
        self.rscales = np.ones(R) if rscales is None else np.broadcast_to(np.asarray(rscales, float), (R,)).copy()
        self.type, self.mse, self.rho = type, mse, rho
        self._degf = degf

    @classmethod
    def jackknife(cls, design: Design, mse: bool = False) -> "ReplicateDesign":
        """JK1/JKn replicates of a Taylor design (R ``as.svrepdesign(design)``), honouring its
        lonely-PSU rule."""
        W, typ, scale, rscales = jackknife_weights(design)
        return cls(design.data, design.w, W, type=typ, scale=scale, rscales=rscales, mse=mse,
                   policy=design.policy, level=design.level)

    # ------------------------------------------------------------------ basics
    @property
    def degf(self) -> float:
        """R's ``degf``: rank of the replicate weights (tolerance 1e-5) minus 1."""
        if self._degf is None:
            self._degf = float(rank(self.W, RANK_TOL) - 1)
        return self._degf

    @property
    def w(self) -> np.ndarray:
        return self._base.w

    def domains(self, by, observed: bool = True) -> Domains:
        return self._base.domains(by, observed)

    def _domain_matrix(self, dom: Domains) -> sp.csr_matrix:
        ok = np.flatnonzero(dom.codes >= 0)
        return sp.csr_matrix((np.ones(len(ok)), (dom.codes[ok], ok)), shape=(dom.n, len(dom.codes)))

    def _domain_degf(self, dom: Domains, valid: np.ndarray) -> np.ndarray:
        """R's degf of each domain's subset: rank of its rows' replicate weights minus 1."""
        out = np.full(dom.n, np.nan)
        for d in range(dom.n):
            rows = np.flatnonzero((dom.codes == d) & valid)
            out[d] = rank(self.W[rows], RANK_TOL) - 1 if len(rows) else np.nan
        return out

    def _variance(self, full: np.ndarray, reps: np.ndarray, what: str) -> np.ndarray:
        """R's ``svrVar`` per row of ``reps`` (statistics x replicates), missing replicates dropped."""
        ok = np.isfinite(reps)
        dropped = ~ok.all(axis=1) & np.isfinite(full)
        if dropped.any():
            warnings.warn(f"{int((~ok[dropped]).sum())} replicate estimate(s) of {int(dropped.sum())} {what} "
                          "had no unit with a weight and were discarded (as R's svrVar).", stacklevel=4)
        rs = np.broadcast_to(self.rscales, reps.shape)
        r0 = np.where(ok, reps, 0.0)
        if self.mse:
            centre = full
        else:
            use = ok & (rs > 0)
            with np.errstate(invalid="ignore", divide="ignore"):
                centre = (r0 * use).sum(axis=1) / use.sum(axis=1)
        dev = np.where(ok, r0 - centre[:, None], 0.0)
        var = self.scale * (dev * dev * rs).sum(axis=1)
        return np.where(ok.any(axis=1), var, np.nan)

    def _df(self, dom: Domains, valid: np.ndarray, kind: str, domain_df: str | None, k: int) -> np.ndarray:
        rule = self._base._df_rule(kind, domain_df)
        if rule == "domain":
            return np.repeat(self._domain_degf(dom, valid)[:, None], k, axis=1)
        return np.full((dom.n, k), self.degf)

    # ------------------------------------------------------------------ estimators
    def _ratio_reps(self, D, a, b):
        """Full-sample and replicate ratios sum(w a) / sum(w b) per domain (b None: totals)."""
        w = self._base.w
        num_f = D @ (w * a)
        num_r = D @ (self.W * a[:, None])
        if b is None:
            return num_f, num_r, None
        den_f = D @ (w * b)
        den_r = D @ (self.W * b[:, None])
        with np.errstate(divide="ignore", invalid="ignore"):
            return num_f / den_f, num_r / den_r, den_f

    def _estimate(self, names, by, observed, kind: str, denominators=None, missing: str = "joint",
                  domain_df: str | None = None) -> pd.DataFrame:
        base = self._base
        dom = base.domains(by, observed)
        D = self._domain_matrix(dom)
        ys = [base._numeric(nm, kind) for nm in names]
        xs = [base._numeric(dn, kind) for dn in denominators] if kind == "ratio" else []
        if missing == "joint":
            every = np.logical_and.reduce([~np.isnan(v) for v in ys + xs])
            valids = [every] * len(ys)
        else:
            base._valid([], missing)
            valids = [~np.isnan(y) & (~np.isnan(xs[i]) if xs else True) for i, y in enumerate(ys)]
        ests, vars_, ns = [], [], []
        for i, (y, valid) in enumerate(zip(ys, valids)):
            a = np.where(valid, y, 0.0)
            b = (np.where(valid, xs[i], 0.0) if kind == "ratio" else valid.astype(float)) if kind != "total" else None
            full, reps, _ = self._ratio_reps(D, a, b)
            ests.append(full)
            vars_.append(self._variance(full, reps, "domain estimate(s)"))
            ns.append(D @ valid.astype(float))
        est, var, n = np.column_stack(ests), np.column_stack(vars_), np.column_stack(ns)
        df = np.full_like(est, np.nan)
        for j, valid in enumerate(valids):
            df[:, j] = self._df(dom, valid, kind, domain_df, 1)[:, 0]
        label = names if kind != "ratio" else [f"{y}/{x}" for y, x in zip(names, denominators)]
        out = base._finish(dom, est, var, n, df, label, base._t_ci, n_missing=dom.sizes()[:, None] - n)
        out.attrs["design"] = self.describe()
        return out

    def describe(self) -> str:
        return f"ReplicateDesign(type={self.type}, replicates={self.W.shape[1]}, mse={self.mse})"

    def mean(self, variables, by=None, observed: bool = True, missing: str = "joint",
             domain_df: str | None = None) -> pd.DataFrame:
        """Weighted mean(s) per domain with replicate SEs (R ``svymean`` on ``svrepdesign``)."""
        return self._estimate(_as_list(variables), by, observed, "mean", missing=missing, domain_df=domain_df)

    def total(self, variables, by=None, observed: bool = True, missing: str = "joint",
              domain_df: str | None = None) -> pd.DataFrame:
        """Weighted total(s) per domain with replicate SEs."""
        return self._estimate(_as_list(variables), by, observed, "total", missing=missing, domain_df=domain_df)

    def ratio(self, numerator, denominator, by=None, observed: bool = True, missing: str = "joint",
              domain_df: str | None = None) -> pd.DataFrame:
        """Ratio(s) of totals per domain with replicate SEs."""
        nums, dens = _as_list(numerator), _as_list(denominator)
        dens = dens * len(nums) if len(dens) == 1 else dens
        return self._estimate(nums, by, observed, "ratio", dens, missing=missing, domain_df=domain_df)

    def proportion(self, variable, by=None, ci_method: str = "logit", observed: bool = True,
                   missing: str = "joint", domain_df: str | None = None) -> pd.DataFrame:
        """Proportion of each category per domain with replicate SEs (R ``svyciprop`` on a
        replicate design: the logit interval from the replicate variance of logit(p))."""
        if ci_method not in intervals.PROPORTION_METHODS:
            raise UsageError("MD307", what="Confidence interval method", value=ci_method,
                             choices=", ".join(intervals.PROPORTION_METHODS))
        base = self._base
        dom = base.domains(by, observed)
        D = self._domain_matrix(dom)
        names = _as_list(variable)
        coded = [base._categories(nm) for nm in names]
        valids = base._valid([np.where(c >= 0, 0.0, np.nan) for c, _ in coded], missing)
        frames = []
        for name, (codes, cats), valid in zip(names, coded, valids):
            K = max(len(cats), 1)
            vf = valid.astype(float)
            est, var, lvar = np.zeros((dom.n, K)), np.zeros((dom.n, K)), np.zeros((dom.n, K))
            for k in range(K):
                full, reps, _ = self._ratio_reps(D, ((codes == k) & valid).astype(float), vf)
                est[:, k] = full
                var[:, k] = self._variance(full, reps, "domain proportion(s)")
                with np.errstate(divide="ignore", invalid="ignore"):
                    lvar[:, k] = self._variance(np.log(full / (1 - full)), np.log(reps / (1 - reps)),
                                                "domain proportion(s)") if ci_method == "logit" else 0.0
            n = np.repeat((D @ vf)[:, None], K, axis=1)
            df = self._df(dom, valid, "proportion", domain_df, K)

            def ci(est, se, df, n, _m=ci_method, _lv=lvar):
                if _m != "logit":
                    lo, hi = intervals.proportion_interval(_m, est, se, df, n, base.level)
                    return _m, lo, hi
                c = intervals.critical(df, base.level)
                with np.errstate(divide="ignore", invalid="ignore"):
                    eta = np.log(est / (1 - est))
                    half = c * np.sqrt(np.maximum(_lv, 0))
                    lo, hi = 1 / (1 + np.exp(-(eta - half))), 1 / (1 + np.exp(-(eta + half)))
                exact = se == 0
                return _m, np.where(exact, est, lo), np.where(exact, est, hi)

            out = base._finish(dom, est, var, n, df, [name] * K, ci, extra={"category": cats},
                               n_missing=dom.sizes()[:, None] - n)
            out.attrs["design"] = self.describe()
            frames.append(out)
        return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)

    def quantile(self, variables, probs, by=None, observed: bool = True, missing: str = "joint",
                 domain_df: str | None = None) -> pd.DataFrame:
        """Quantiles per domain, Woodruff intervals from the replicate SE of the proportion below
        the quantile (R ``svyquantile`` on a replicate design, ``interval.type="mean"``)."""
        base = self._base
        probs_l = [float(p) for p in _as_list(probs)]
        for p in probs_l:
            if not 0 <= p <= 1:
                raise UsageError("MD310", value=p)
        dom = base.domains(by, observed)
        D = self._domain_matrix(dom)
        names = _as_list(variables)
        ys = [base._numeric(nm, "quantile") for nm in names]
        valids = base._valid(ys, missing)
        frames = []
        for name, y, valid_y in zip(names, ys, valids):
            valid = valid_y & (dom.codes >= 0)
            idx = np.flatnonzero(valid)
            order = idx[np.lexsort((y[idx], dom.codes[idx]))]
            bounds = np.searchsorted(dom.codes[order], np.arange(dom.n + 1))
            segs = [(y[order][bounds[i]:bounds[i + 1]], base.w[order][bounds[i]:bounds[i + 1]]) for i in range(dom.n)]
            K = len(probs_l)
            q = np.array([[math_quantile(x, w, p) for p in probs_l] for x, w in segs]).reshape(dom.n, K)
            lo, hi, se = np.full_like(q, np.nan), np.full_like(q, np.nan), np.zeros_like(q)
            df = self._df(dom, valid_y, "quantile", domain_df, K)
            for j in range(K):
                qrow = np.where(dom.codes >= 0, q[np.maximum(dom.codes, 0), j], np.nan)
                below = np.where(valid_y, (y <= qrow).astype(float), 0.0)
                full, reps, _ = self._ratio_reps(D, below, valid_y.astype(float))
                sep = np.sqrt(np.maximum(self._variance(full, reps, "domain quantile(s)"), 0))
                c = intervals.critical(df[:, j], base.level)
                plo, phi = full - c * sep, full + c * sep
                for i, (x, w) in enumerate(segs):
                    if len(x):
                        lo[i, j] = np.nan if not (plo[i] >= 0) else math_quantile(x, w, plo[i])
                        hi[i, j] = np.nan if not (phi[i] <= 1) else math_quantile(x, w, phi[i])
                se[:, j] = (hi[:, j] - lo[:, j]) / (2 * c)
            n = np.repeat((D @ valid_y.astype(float))[:, None], K, axis=1)
            lo_, hi_ = lo, hi
            out = base._finish(dom, q, se ** 2, n, df, [name] * K, lambda *a: ("woodruff", lo_, hi_),
                               extra={"quantile": probs_l}, n_missing=dom.sizes()[:, None] - n)
            out.attrs["design"] = self.describe()
            frames.append(out)
        return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)

    # ------------------------------------------------------------------ weighting
    def _with(self, w: np.ndarray, W: np.ndarray) -> "ReplicateDesign":
        new = copy.copy(self)
        new._base = copy.copy(self._base)
        new._base.w = w
        new._base._df = new._base._degf()
        new.W = W
        new._degf = None
        return new

    def poststratify(self, by, totals, partial: bool = False) -> "ReplicateDesign":
        """Post-stratify the full-sample weights and every replicate (R ``postStratify`` on a
        replicate design)."""
        cols = [by] if isinstance(by, str) else list(by)
        key = cols[0] if len(cols) == 1 else tuple(cols)
        if isinstance(totals, pd.DataFrame) and len(cols) == 1 and "total" in totals.columns:
            totals = pd.Series(totals["total"].to_numpy(dtype=float), index=pd.Index(totals[cols[0]]))
        m = calibration._margin(self._base, key, totals, partial=partial, what="post-stratum")
        calibration._check_sampled(self._base, m, self.w, "post-stratum")
        w, _ = calibration.poststratify_weights(m, self.w)
        return self._with(w, self._poststratify_reps(m, self.W))

    @staticmethod
    def _poststratify_reps(m, W: np.ndarray) -> np.ndarray:
        M = sp.csr_matrix((np.ones(len(m.codes)), (m.codes, np.arange(len(m.codes)))),
                          shape=(len(m.labels), len(m.codes)))
        S = M @ W
        with np.errstate(divide="ignore", invalid="ignore"):
            return W * (m.totals[:, None] / S)[m.codes]

    def rake(self, margins: Mapping, maxit: int = 10, epsilon: float = 1.0) -> "ReplicateDesign":
        """Rake the full-sample weights and every replicate (R ``rake`` on a replicate design:
        the sweeps stop when the full-sample joint table has converged)."""
        if not margins:
            raise UsageError("MD336", what="rake")
        ms = [calibration._margin(self._base, k, v, what="raking margin") for k, v in margins.items()]
        for m in ms:
            calibration._check_sampled(self._base, m, self.w, "raking margin")
        joint = calibration._joint(ms)
        K = int(joint.max()) + 1
        eps = epsilon * self.w.sum() if epsilon < 1 else epsilon
        w, W = self.w, self.W
        old = np.bincount(joint, weights=w, minlength=K)
        it, converged = 0, False
        while it < maxit:
            for m in ms:
                w, _ = calibration.poststratify_weights(m, w)
                W = self._poststratify_reps(m, W)
            new = np.bincount(joint, weights=w, minlength=K)
            if np.max(np.abs(old - new)) < eps:
                converged = True
                break
            old = new
            it += 1
        if not converged:
            warnings.warn(f"Raking did not converge after {it} iterations (R rake warns the same).", stacklevel=2)
        return self._with(w, W)

    def calibrate(self, margins: Mapping | None = None, totals: Mapping | None = None,
                  population: float | None = None, method: str = "linear",
                  bounds: tuple[float, float] | None = None, maxit: int = 50,
                  epsilon: float = 1e-7) -> "ReplicateDesign":
        """Calibrate the full-sample weights and every replicate to the same totals (R
        ``calibrate`` on a replicate design)."""
        if method not in calibration.METHODS:
            raise UsageError("MD307", what="Calibration method", value=method, choices=", ".join(calibration.METHODS))
        if not margins and not totals and population is None:
            raise UsageError("MD336", what="calibrate")
        basis = calibration.build_basis(self._base, margins, totals, population)
        g, M, pop, _ = calibration.calibration_g(self._base, basis, self.w, method, bounds, maxit, epsilon)
        W = self.W.copy()
        for r in range(W.shape[1]):
            gr = calibration.replicate_g(M, pop, W[:, r], method, bounds, maxit, epsilon)
            W[:, r] = W[:, r] * gr
        new = self._with(self.w * g, W)
        if method != "linear" or bounds is not None:
            new._degf = self.degf      # R recomputes degf only after linear calibration (regcalibrate)
        return new


__all__ = ["ReplicateDesign", "jackknife_weights", "TYPES"]
