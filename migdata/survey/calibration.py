"""Calibration of survey weights (post-stratification, raking, linear / raking / logit
calibration) and the variance of estimates from a calibrated design, as R ``survey``.

Hand-written because no maintained Python library reproduces R ``survey``'s calibrated
variance: ``samplics`` adjusts weights (post-stratification, raking, calibration) but its
Taylor variance ignores the calibration, and nothing else applies R's rules. R computes the
variance of a calibrated estimate on the residuals of the calibration regression
(``svyrecvar``): this module stores, for each calibration, the linear step that R applies to
the estimating functions and applies the same steps, vectorised over every domain at once.

The weights (read from survey 4.1):

- :func:`poststratify` is ``postStratify``: w * N_c / sum_c(w) in each cell c.
- :func:`rake` is ``rake``: post-stratify on each margin in turn until the joint table of all
  margin variables changes by less than ``epsilon`` (R's ``control=list(maxit=10, epsilon=1)``).
- :func:`calibrate` is ``calibrate``: ``method="linear"`` without bounds is R's
  ``regcalibrate`` (g = 1 + x' T^-1 (X - X_hat), one step); otherwise R's ``grake`` Newton
  iterations with its start, step halving and stopping rule (relative misfit < ``epsilon``).
  The model matrix is R's: an intercept, each margin treatment-coded against its first
  category (a joint margin of several columns is one factor of their combined cells), then the
  numeric totals, so the stopping rule sees the same misfits as R.

The variance: every calibration records :class:`Projection` steps, each
``x <- x - a * M (G^-1 M' (b * x))`` on the weighted scores x, exactly what R's ``svyrecvar``
does to them: for ``calibrate`` (``greg_calibration``) a = new weights, b = old / new
weights, G = M' W_old M (the residuals of the weighted regression); for ``postStratify``
the same with M the cell indicators; for ``rake`` R's approximation, ten passes over the
margins of ``x <- x - w_m * mean_c(x / w_m)`` (w_m: weights after margin m's last step).
Because each step is linear, the residual scores of every domain are obtained from cell sums:
T = M' (b * x) by (domain, column of M), then coefficients per step, then unit totals
Z = A - sum_s Q_s B_s with Q_s = sum over a unit's rows of a_s M_s. As in R, a calibrated
design keeps every row in every domain (out-of-domain rows have residual scores), so every
sampling unit is present in every domain's variance.

Example:
    >>> import pandas as pd
    >>> from migdata.survey import Design
    >>> df = pd.DataFrame({"sex": ["f", "m", "f", "m"], "w": [1.0, 1, 2, 2], "y": [1.0, 2, 3, 4]})
    >>> d = Design(df, weights="w").poststratify(["sex"], pd.Series({"f": 30.0, "m": 70.0}))
    >>> d.total("y")["estimate"].round(6).tolist()   # f: 10 (1 + 3 * 2); m: 70/3 (2 + 4 * 2)
    [303.333333]
"""

from __future__ import annotations

import copy
import math
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from migdata.errors import DataError, DesignError, UsageError
from migdata.survey.variance import design_variance

if TYPE_CHECKING:  # pragma: no cover
    from migdata.survey.design import Design, Domains

METHODS = ("linear", "raking", "logit")
#: Largest dense (units x domains x columns) block of residual scores built at once.
BLOCK = 1 << 23


# ----------------------------------------------------------------------------- the projection
@dataclass(eq=False)
class Projection:
    """One linear step on the weighted scores x: ``x <- x - a * M (G^-1 M' (b * x))``.

    ``M`` is the (rows x p) model matrix in COO parts (``row``, ``col``, ``val``); ``G`` is
    either a vector (diagonal G) or a sparse matrix; ``name`` says where the step came from.
    """

    row: np.ndarray
    col: np.ndarray
    val: np.ndarray
    p: int
    a: np.ndarray
    b: np.ndarray
    G: Any
    name: str = ""
    _solver: Any = field(default=None, repr=False)

    def matrix(self, n: int, scale: np.ndarray | None = None) -> sp.csr_matrix:
        v = self.val if scale is None else self.val * scale[self.row]
        return sp.csr_matrix((v, (self.row, self.col)), shape=(n, self.p))

    def solve(self, S: np.ndarray) -> np.ndarray:
        """G^-1 S (the projection onto M's column space when G is singular, as R's qr.resid)."""
        if isinstance(self.G, np.ndarray) and self.G.ndim == 1:
            with np.errstate(divide="ignore", invalid="ignore"):
                inv = np.where(self.G != 0, 1.0 / self.G, 0.0)
            return S * inv[:, None]
        if self._solver is None:
            self._solver = _factor(self.G)
        return self._solver(S)


def _onehot(codes: np.ndarray, a: np.ndarray, b: np.ndarray, G: np.ndarray, name: str) -> Projection:
    k = int(codes.max()) + 1 if len(codes) else 0
    return Projection(np.arange(len(codes)), codes.astype(np.int64), np.ones(len(codes)), k, a, b, G, name)


# ----------------------------------------------------------------------------- margins
def _key_columns(key) -> list[str]:
    return list(key) if isinstance(key, tuple) else [key]


def _as_totals(key, value) -> pd.Series:
    """A margin as a Series category -> total (tuples for joint margins)."""
    cols = _key_columns(key)
    if isinstance(value, pd.DataFrame):
        if "total" not in value.columns or not set(cols) <= set(value.columns):
            raise UsageError("MD330", margin=", ".join(cols), got=", ".join(map(str, value.columns)))
        idx = (pd.MultiIndex.from_frame(value[cols]) if len(cols) > 1 else pd.Index(value[cols[0]]))
        return pd.Series(value["total"].to_numpy(dtype=float), index=idx)
    if isinstance(value, Mapping):
        value = pd.Series(dict(value), dtype=float)
    if not isinstance(value, pd.Series):
        raise UsageError("MD330", margin=", ".join(cols), got=type(value).__name__)
    return value.astype(float)


@dataclass
class _Margin:
    key: Any
    codes: np.ndarray        # category per row, 0..K-1 in R's level order
    labels: list             # category labels (tuples for joint margins)
    totals: np.ndarray       # population total per category


def _margin(design: "Design", key, value, partial: bool = False, what: str = "margin") -> _Margin:
    cols = _key_columns(key)
    dom = design.domains(cols, observed=True)
    if dom.n_no_domain:
        first = int(np.flatnonzero(dom.codes < 0)[0])
        bad = next(c for c in cols if pd.isna(design.data[c].iloc[first]))
        raise DataError("MD331", column=bad, count=dom.n_no_domain, row=design._row(first))
    lab = dom.labels
    labels = (list(lab[cols[0]]) if len(cols) == 1 else list(lab[cols].itertuples(index=False, name=None)))
    totals = _as_totals(key, value)
    index = totals.index
    if len(cols) > 1 and not isinstance(index, pd.MultiIndex):
        index = pd.MultiIndex.from_tuples(list(index))
    if index.has_duplicates:
        raise UsageError("MD332", margin=", ".join(cols), category=str(index[index.duplicated()][0]))
    where = index.get_indexer(pd.MultiIndex.from_tuples(labels) if len(cols) > 1 else pd.Index(labels))
    if (where < 0).any():
        raise UsageError("MD333", margin=", ".join(cols), category=str(labels[int(np.flatnonzero(where < 0)[0])]))
    tot = totals.to_numpy()[where]
    if not np.isfinite(tot).all() or (tot < 0).any():
        i = int(np.flatnonzero(~np.isfinite(tot) | (tot < 0))[0])
        raise UsageError("MD334", margin=", ".join(cols), category=str(labels[i]), value=float(tot[i]))
    extra = np.setdiff1d(np.arange(len(index)), where)
    extra = extra[totals.to_numpy()[extra] != 0]
    if len(extra):
        if not partial:
            raise DesignError("MD335", margin=", ".join(cols), category=str(index[extra[0]]),
                              count=len(extra), what=what)
        warnings.warn(f"{len(extra)} population cell(s) of {', '.join(cols)} have no sampled unit: ignored "
                      "(R postStratify partial=TRUE)", stacklevel=4)
    return _Margin(key, dom.codes, labels, tot)


def _check_sampled(design: "Design", m: _Margin, w: np.ndarray, what: str) -> np.ndarray:
    """Weighted sample count per category; a category with population but no weight fails."""
    st = np.bincount(m.codes, weights=w, minlength=len(m.labels))
    bad = (st == 0) & (m.totals != 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DesignError("MD335", margin=", ".join(_key_columns(m.key)), category=str(m.labels[i]),
                          count=int(bad.sum()), what=what)
    return st


# ----------------------------------------------------------------------------- post-stratification
def poststratify_weights(m: _Margin, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(new weights, sample total per cell): w * N_c / sum_c(w), R's ``postStratify``."""
    st = np.bincount(m.codes, weights=w, minlength=len(m.labels))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(st != 0, m.totals / st, np.where(m.totals == 0, 0.0, np.nan))
    return w * ratio[m.codes], st


def _poststrat_projection(m: _Margin, old: np.ndarray, new: np.ndarray) -> Projection:
    psw = np.where((new == 0) & (old == 0), 1.0, new)      # as R's svyrecvar
    G = np.bincount(m.codes, weights=old, minlength=len(m.labels))
    with np.errstate(divide="ignore", invalid="ignore"):
        b = np.where(psw != 0, old / psw, 0.0)
    return _onehot(m.codes, psw, b, G, f"poststratify({', '.join(_key_columns(m.key))})")


def poststratify(design: "Design", by, totals, partial: bool = False) -> "Design":
    """R ``postStratify(design, ~by, totals)``: see :meth:`Design.poststratify`."""
    cols = [by] if isinstance(by, str) else list(by)
    key = cols[0] if len(cols) == 1 else tuple(cols)
    if isinstance(totals, pd.DataFrame) and len(cols) == 1 and "total" in totals.columns:
        totals = pd.Series(totals["total"].to_numpy(dtype=float), index=pd.Index(totals[cols[0]]))
    m = _margin(design, key, totals, partial=partial, what="post-stratum")
    w = design.w
    _check_sampled(design, m, w, "post-stratum")
    new, _ = poststratify_weights(m, w)
    return design._calibrated(new, [_poststrat_projection(m, w, new)])


# ----------------------------------------------------------------------------- raking
def _joint(margins: list[_Margin]) -> np.ndarray:
    """Codes of the cross-classification of every margin (R's svytable of all margin variables)."""
    key = np.zeros(len(margins[0].codes), dtype=np.int64)
    for m in margins:
        key = key * len(m.labels) + m.codes
    return pd.factorize(key)[0]


def rake_weights(margins: list[_Margin], w: np.ndarray, maxit: int = 10, epsilon: float = 1.0
                 ) -> tuple[np.ndarray, list[np.ndarray], bool, int]:
    """R's ``rake``: (weights, weights after each margin of the last sweep, converged, sweeps)."""
    joint = _joint(margins)
    K = int(joint.max()) + 1
    eps = epsilon * w.sum() if epsilon < 1 else epsilon
    old = np.bincount(joint, weights=w, minlength=K)
    it, converged, after = 0, False, []
    cur = w
    while it < maxit:
        after = []
        for m in margins:      # R: postStratify on each margin in turn, from the current weights
            cur, _ = poststratify_weights(m, cur)
            after.append(cur)
        new = np.bincount(joint, weights=cur, minlength=K)
        if np.max(np.abs(old - new)) < eps:
            converged = True
            break
        old = new
        it += 1
    return cur, after, converged, it


def rake(design: "Design", margins: Mapping, maxit: int = 10, epsilon: float = 1.0) -> "Design":
    """R ``rake(design, sample.margins, population.margins, control)``: see :meth:`Design.rake`."""
    if not margins:
        raise UsageError("MD336", what="rake")
    ms = [_margin(design, k, v, what="raking margin") for k, v in margins.items()]
    w = design.w
    for m in ms:
        _check_sampled(design, m, w, "raking margin")
    new, after, converged, it = rake_weights(ms, w, maxit, epsilon)
    if not converged:
        warnings.warn(f"Raking did not converge after {it} iterations (R rake warns the same); "
                      "raise maxit or epsilon.", stacklevel=3)
    projs = []
    for m, psw in zip(ms, after):
        with np.errstate(divide="ignore"):
            b = np.where(psw != 0, 1.0 / psw, 0.0)
        projs.append(_onehot(m.codes, psw, b, np.bincount(m.codes, minlength=len(m.labels)).astype(float),
                             f"rake({', '.join(_key_columns(m.key))})"))
    # R's svyrecvar: ten passes over the margins, x <- x - w_m * ave(x / w_m, margin m)
    return design._calibrated(new, projs * 10)


# ----------------------------------------------------------------------------- calibration
@dataclass
class Basis:
    """The calibration model matrix in R's coding, as a sparse matrix, with its population."""

    M: sp.csr_matrix
    names: list[str]
    population: np.ndarray


def build_basis(design: "Design", margins: Mapping | None, totals: Mapping | None,
                population: float | None) -> Basis:
    """Intercept, margins treatment-coded against their first category, numeric totals."""
    n = design.n_rows
    rows, cols, vals, names, pop = [np.arange(n)], [np.zeros(n, dtype=np.int64)], [np.ones(n)], ["(Intercept)"], [0.0]
    p = 1
    sums = []
    for key, value in (margins or {}).items():
        m = _margin(design, key, value, what="calibration margin")
        sums.append((", ".join(_key_columns(key)), float(m.totals.sum())))
        keep = m.codes > 0
        idx = np.flatnonzero(keep)
        rows.append(idx)
        cols.append(p + m.codes[idx] - 1)
        vals.append(np.ones(len(idx)))
        label = "".join(_key_columns(key))
        names += [f"{label}{lab}" for lab in m.labels[1:]]
        pop += list(m.totals[1:])
        p += len(m.labels) - 1
    for col, total in (totals or {}).items():
        x = design._numeric(col, "calibration total")
        bad = np.isnan(x)
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise DataError("MD331", column=col, count=int(bad.sum()), row=design._row(first))
        if not math.isfinite(float(total)):
            raise UsageError("MD334", margin=col, category="total", value=total)
        nz = np.flatnonzero(x != 0)
        rows.append(nz)
        cols.append(np.full(len(nz), p))
        vals.append(x[nz])
        names.append(col)
        pop.append(float(total))
        p += 1
    if sums:
        N = sums[0][1]
        for name, s in sums[1:]:
            if abs(s - N) > 1e-9 * max(abs(N), 1.0):
                raise DesignError("MD337", first=sums[0][0], first_total=N, other=name, other_total=s)
        if population is not None and abs(float(population) - N) > 1e-9 * max(abs(N), 1.0):
            raise DesignError("MD337", first=sums[0][0], first_total=N, other="population",
                              other_total=float(population))
    else:
        N = float(design.w.sum()) if population is None else float(population)
    pop[0] = N
    M = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, p))
    return Basis(M, names, np.asarray(pop, dtype=float))


def _calfun(method: str, bounds: tuple[float, float]):
    """R's cal.linear / cal.raking / cal.logit: (Fm1, dF) of u = x' eta."""
    L, U = bounds
    if method == "linear":
        return (lambda u: np.minimum(np.maximum(u + 1, L), U) - 1,
                lambda u: ((u < U - 1) & (u > L - 1)).astype(float))
    if method == "raking":
        return (lambda u: np.minimum(np.maximum(np.exp(u), L), U) - 1,
                lambda u: np.where((u < U - 1) & (u > L - 1), np.exp(u), 0.0))
    A = (U - L) / ((U - 1) * (1 - L))

    def fm1(u):
        e = np.exp(A * u)
        return (L * (U - 1) + U * (1 - L) * e) / (U - 1 + (1 - L) * e) - 1

    def df(u):
        e = np.exp(A * u)
        den = U - 1 + (1 - L) * e
        return U * (1 - L) * e * A / den - (L * (U - 1) + U * (1 - L) * e) * ((1 - L) * e * A) / den ** 2
    return fm1, df


def _gram(M: sp.csr_matrix, d: np.ndarray) -> sp.csc_matrix:
    """M' diag(d) M, sparse (margins give block-diagonal blocks plus the intercept's border)."""
    return (M.T @ (sp.diags(d) @ M)).tocsc()


def _factor(T):
    """A solver for T x = r: sparse LU of the (sparse, p x p) matrix, or, when T is singular,
    the pseudo-inverse (MASS::ginv's tolerance, as R's grake; qr.resid's projection)."""
    try:
        lu = spla.splu(sp.csc_matrix(T))
        probe = lu.solve(np.ones(T.shape[0]))
        if np.isfinite(probe).all():
            return lambda r: lu.solve(np.asarray(r, dtype=float))
    except RuntimeError:
        pass
    dense = T.toarray() if sp.issparse(T) else np.asarray(T)
    pinv = np.linalg.pinv(dense, rcond=256 * np.finfo(float).eps)
    return lambda r: pinv @ r


def _ginv_solve(T, r: np.ndarray) -> np.ndarray:
    """MASS::ginv(T) %*% r (a plain solve when T is invertible, as it is unless margins overlap)."""
    return _factor(T)(r)


def _drop_empty(basis: Basis, w: np.ndarray) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """R drops model columns that are all zero with a zero population total."""
    M = basis.M
    st = np.asarray(M.T @ w).ravel()
    if (st == 0).any():
        nnz = np.bincount(M.indices, minlength=M.shape[1])
        zz = (basis.population == 0) & (nnz == 0)
        keep = np.flatnonzero(~zz)
        M = M[:, keep]
        return M, basis.population[keep], st[keep]
    return M, basis.population, st


def grake(M: sp.csr_matrix, w: np.ndarray, population: np.ndarray, method: str,
          bounds: tuple[float, float], maxit: int = 50, epsilon: float = 1e-7) -> tuple[np.ndarray, float | None]:
    """R's ``grake``: g-weights (new / old) and the misfit reached when it failed (None if not)."""
    fm1, dF = _calfun(method, bounds)
    st = np.asarray(M.T @ w).ravel()
    eta = np.zeros(M.shape[1])
    xeta = M @ eta
    g = 1 + fm1(xeta)
    deriv = dF(xeta)
    it = 1
    with np.errstate(divide="ignore", invalid="ignore"):
        scales = population / st
    scale = None
    if np.min(scales) > 20:
        scale = float(np.mean(scales))
        w = w * scale
        st = st * scale
        if np.isfinite(bounds).any():
            warnings.warn(f"Bounds were set but will be interpreted after rescaling by {scale:.3g} (as R)",
                          stacklevel=4)
    with np.errstate(over="ignore", invalid="ignore"):
        g, failed = _newton(M, w, st, population, fm1, dF, eta, xeta, g, deriv, it, maxit, epsilon)
    if scale is not None:
        g = g * scale
    return g, failed


def _newton(M, w, st, population, fm1, dF, eta, xeta, g, deriv, it, maxit, epsilon):
    """grake's loop (overflow of exp in a too-long step is handled by R's step halving)."""
    failed = None
    while True:
        T = _gram(M, w * deriv)
        misfit = population - st - M.T @ (w * fm1(xeta))
        deta = _ginv_solve(T, misfit)
        eta = eta + deta
        xeta = M @ eta
        g, deriv = 1 + fm1(xeta), dF(xeta)
        while it < maxit and not (np.isfinite(g).all() and np.isfinite(deriv).all()):
            it += 1
            deta = deta / 2
            eta = eta - deta
            xeta = M @ eta
            g, deriv = 1 + fm1(xeta), dF(xeta)
        misfit = population - st - M.T @ (w * fm1(xeta))
        rel = np.abs(misfit) / (1 + np.abs(population))
        if np.all(rel < epsilon):
            break
        it += 1
        if it > maxit:
            failed = float(np.max(rel))
            break
    return g, failed


def regcalibrate(M: sp.csr_matrix, w: np.ndarray, population: np.ndarray,
                 T: sp.csc_matrix | None = None) -> np.ndarray:
    """R's ``regcalibrate`` (linear calibration without bounds): g = 1 + x' T^-1 (X - X_hat),
    T = M' W M (pass it when already computed)."""
    st = np.asarray(M.T @ w).ravel()
    T = _gram(M, w) if T is None else T
    try:
        lu = spla.splu(T)
    except RuntimeError:
        raise np.linalg.LinAlgError("singular calibration matrix") from None
    tT = lu.solve(population - st)
    if not np.isfinite(tT).all():
        raise np.linalg.LinAlgError("singular calibration matrix")
    return 1 + M @ tT


def calibration_g(design: "Design", basis: Basis, w: np.ndarray, method: str,
                  bounds: tuple[float, float] | None, maxit: int, epsilon: float
                  ) -> tuple[np.ndarray, sp.csr_matrix, np.ndarray, sp.csc_matrix]:
    """g-weights of the full-sample weights, the model matrix and population used (after R's
    drop of empty columns with a zero total) and M' W M (the variance step needs it too)."""
    M, pop, st = _drop_empty(basis, w)
    G = _gram(M, w)
    lo, hi = (-np.inf, np.inf) if bounds is None else (float(bounds[0]), float(bounds[1]))
    if method == "logit" and not (np.isfinite(lo) and np.isfinite(hi) and lo < 1 < hi):
        raise UsageError("MD338", bounds=f"({lo}, {hi})")
    if method == "linear" and not np.isfinite([lo, hi]).any():
        try:
            return regcalibrate(M, w, pop, G), M, pop, G
        except np.linalg.LinAlgError:
            raise DesignError("MD339", detail="the calibration variables are collinear", misfit="-") from None
    g, failed = grake(M, w, pop, method, (lo, hi), maxit, epsilon)
    if failed is not None:
        raise DesignError("MD339", detail=f"no convergence in {maxit} iterations", misfit=f"{failed:.3g}")
    return g, M, pop, G


def replicate_g(M: sp.csr_matrix, pop: np.ndarray, w: np.ndarray, method: str,
                bounds: tuple[float, float] | None, maxit: int, epsilon: float) -> np.ndarray:
    """g-weights of one replicate (R calibrates each replicate with the full sample's model
    matrix; a replicate that does not converge only warns, as R's grake)."""
    lo, hi = (-np.inf, np.inf) if bounds is None else (float(bounds[0]), float(bounds[1]))
    if method == "linear" and not np.isfinite([lo, hi]).any():
        return regcalibrate(M, w, pop)
    g, failed = grake(M, w, pop, method, (lo, hi), maxit, epsilon)
    if failed is not None:
        warnings.warn(f"A replicate's calibration did not converge (misfit {failed:.3g}), as R warns.",
                      stacklevel=3)
    return g


def calibrate(design: "Design", margins: Mapping | None = None, totals: Mapping | None = None,
              population: float | None = None, method: str = "linear",
              bounds: tuple[float, float] | None = None, maxit: int = 50,
              epsilon: float = 1e-7) -> "Design":
    """R ``calibrate(design, formula, population, bounds, calfun)``: see :meth:`Design.calibrate`."""
    if method not in METHODS:
        raise UsageError("MD307", what="Calibration method", value=method, choices=", ".join(METHODS))
    if not margins and not totals and population is None:
        raise UsageError("MD336", what="calibrate")
    basis = build_basis(design, margins, totals, population)
    w = design.w
    g, M, _, G = calibration_g(design, basis, w, method, bounds, maxit, epsilon)
    new = w * g
    coo = M.tocoo()
    with np.errstate(divide="ignore", invalid="ignore"):
        b = np.where(new != 0, w / new, 0.0)
    proj = Projection(coo.row.astype(np.int64), coo.col.astype(np.int64), coo.data, M.shape[1], new, b, G,
                      f"calibrate({method})")
    return design._calibrated(new, [proj])


# ----------------------------------------------------------------------------- variance
class _DenseCells:
    """Every (domain, unit) pair of a block of domains, in the layout ``design_variance`` reads."""

    def __init__(self, n_dom: int, n_units: int) -> None:
        self.n_dom = n_dom
        self.dom = np.repeat(np.arange(n_dom, dtype=np.int64), n_units)
        self.unit = np.tile(np.arange(n_units, dtype=np.int64), n_dom)


def _distinct(steps: Sequence[Projection]) -> list[Projection]:
    seen, out = set(), []
    for s in steps:
        if id(s) not in seen:
            seen.add(id(s))
            out.append(s)
    return out


def unit_scores(design: "Design", dom: "Domains", rows: list[tuple[np.ndarray, np.ndarray | None]],
                alpha: np.ndarray, beta: np.ndarray):
    """The calibrated scores of every (domain, column), summed per finest variance unit.

    Column (d, j) has weighted scores x_i = w_i [i in d] (alpha_dj a_ij + beta_dj b_ij) before
    calibration; ``rows[j] = (a_j, b_j)``. Returns a function of a block of domains giving the
    dense (units, domains in the block, columns) residual unit totals.

    Equals (differential test ``test_calibrated_variance_equals_the_row_level_steps``) applying
    R's ``svyrecvar`` steps to the rows x (domains x columns) score matrix one step at a time
    (``qr.resid`` / ``rowsum`` / ``ave``) and summing the rows per unit; here no rows x domains
    matrix is built: each step needs only M' (b x), summed per (column of M, domain).
    """
    n, w = design.n_rows, design.w
    n_dom, k = alpha.shape
    steps = design.calibration
    st = design.var_stages[-1]
    n_units = st.n_units
    unit = st.row_units(n)
    codes = dom.codes
    inside = codes >= 0
    # M' (b * x) per distinct step: bincount over (column of M, domain)
    T: dict[int, np.ndarray] = {}
    for s in _distinct(steps):
        r_in = inside[s.row]
        rr, cc, vv = s.row[r_in], s.col[r_in], s.val[r_in]
        key = cc * n_dom + codes[rr]
        t = np.zeros((s.p, n_dom, k))
        for j, (a_j, b_j) in enumerate(rows):
            for vec, coef in ((a_j, alpha[:, j]), (b_j, beta[:, j])):
                if vec is None:
                    continue
                sums = np.bincount(key, weights=vv * (s.b * w * vec)[rr], minlength=s.p * n_dom)
                t[:, :, j] += sums.reshape(s.p, n_dom) * coef[None, :]
        T[id(s)] = t.reshape(s.p, n_dom * k)
    # sequential steps: each sees the scores left by the steps before it
    cross: dict[tuple[int, int], sp.csr_matrix] = {}
    mats = {id(s): s.matrix(n) for s in _distinct(steps)}
    Bsum: dict[int, np.ndarray] = {id(s): np.zeros_like(T[id(s)]) for s in _distinct(steps)}
    cur = {i: t.copy() for i, t in T.items()}
    distinct = _distinct(steps)
    for s in steps:
        B = s.solve(cur[id(s)])
        Bsum[id(s)] += B
        for q in distinct:
            kk = (id(q), id(s))
            if kk not in cross:
                cross[kk] = (mats[id(q)].T @ s.matrix(n, q.b * s.a)).tocsr()
            cur[id(q)] -= cross[kk] @ B
    Q = {}
    for s in distinct:
        Q[id(s)] = sp.csr_matrix((s.val * s.a[s.row], (unit[s.row], s.col)), shape=(n_units, s.p))
    # uncorrected unit totals of each (domain, column)
    cells = design._cells(dom)
    A = np.zeros((n_units, n_dom, k))
    for j, (a_j, b_j) in enumerate(rows):
        part = cells.sum(w * a_j) * alpha[cells.dom, j]
        if b_j is not None:
            part = part + cells.sum(w * b_j) * beta[cells.dom, j]
        np.add.at(A[:, :, j], (cells.unit, cells.dom), part)

    def block(d0: int, d1: int) -> np.ndarray:
        Z = A[:, d0:d1, :].reshape(n_units, -1).copy()
        for s in distinct:
            Z -= Q[id(s)] @ Bsum[id(s)][:, d0 * k:d1 * k]
        return Z.reshape(n_units, d1 - d0, k)

    return block


def variance(design: "Design", dom: "Domains", rows, alpha: np.ndarray, beta: np.ndarray,
             combine: np.ndarray | None = None) -> np.ndarray:
    """Variance (n_dom, k) of calibrated domain estimates; with ``combine`` (n_dom, m), the
    variance (m, k) of the linear combinations sum_d combine[d, i] * estimate[d, j]."""
    n_dom, k = alpha.shape
    n_units = design.var_stages[-1].n_units
    block = unit_scores(design, dom, rows, alpha, beta)
    step = max(1, BLOCK // max(1, n_units * k))
    lonely, adj = design.lonely_psu, design.adjust_domain_lonely
    if combine is not None:
        m = combine.shape[1]
        Zc = np.zeros((n_units, m, k))
        for d0 in range(0, n_dom, step):
            d1 = min(n_dom, d0 + step)
            Zc += np.einsum("udk,dm->umk", block(d0, d1), combine[d0:d1])
        Z = Zc.transpose(1, 0, 2).reshape(m * n_units, k)
        return design_variance(_DenseCells(m, n_units), design.var_stages, Z, np.ones(Z.shape, bool), lonely, adj)
    out = np.zeros((n_dom, k))
    for d0 in range(0, n_dom, step):
        d1 = min(n_dom, d0 + step)
        Z = block(d0, d1).transpose(1, 0, 2).reshape((d1 - d0) * n_units, k)
        out[d0:d1] = design_variance(_DenseCells(d1 - d0, n_units), design.var_stages, Z,
                                     np.ones(Z.shape, bool), lonely, adj)
    return out


def with_weights(design: "Design", w: np.ndarray, steps: Sequence[Projection]) -> "Design":
    """A copy of ``design`` with new weights and the calibration steps appended."""
    new = copy.copy(design)
    new.w = np.asarray(w, dtype=float)
    new.calibration = tuple(getattr(design, "calibration", ())) + tuple(steps)
    new._df = new._degf() if not design.complete else design._df
    return new


__all__ = ["Projection", "Basis", "build_basis", "poststratify", "rake", "calibrate", "grake",
           "regcalibrate", "replicate_g", "variance", "with_weights", "METHODS"]
