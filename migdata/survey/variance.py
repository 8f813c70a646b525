"""Taylor-linearisation variance for many domains at once, as R ``survey`` computes it.

Hand-written (not a library) because no maintained Python package computes the R ``survey``
Taylor variance for thousands of domains in one pass: R's ``svyby`` and the ``svy`` package loop
over domains. Here one pass over the rows builds the sufficient statistics of every
(domain, sampling unit) *cell* with ``numpy.bincount`` on integer keys; everything after that
works on the small cell table.

The formulas are those of R ``survey`` (``svyrecvar`` → ``multistage`` → ``onestage`` →
``onestrat``, read from survey 4.1): for each stratum h with n_h sampled units and unit totals
z_hj of the linearised score,

    v_h = f_h * n_h / (n_h - 1) * sum_j (z_hj - mean_j z_hj)^2,   f_h = 1 - n_h / N_h (1 without FPC)

where the mean runs over all n_h units of the stratum, including units with no case in the
domain (they contribute z = 0; the data are never subset). With FPCs and several stages the
variance of stage s inside each stage-(s-1) unit is added, multiplied by the sampling fractions
n/N of the stages above (R's default multistage variance).

Lonely PSUs (a stratum with one sampled unit) follow R's ``options(survey.lonely.psu=)``:
``fail`` raises, ``remove`` and ``certainty`` contribute 0, ``adjust`` uses the unit total
uncentred, ``average`` leaves the stratum out and multiplies the variance by
(strata present) / (strata with a variance), counted among the strata that have cases of the
domain. Strata with f_h ~ 0 (certainty by FPC) contribute 0 before any lonely-PSU rule, as in R.
``adjust_domain_lonely=True`` mirrors ``options(survey.adjust.domain.lonely=TRUE)``; the default
(False, as R) treats a stratum with one in-domain unit among several like any other stratum.

Example:
    >>> import numpy as np
    >>> st = Stage.build(stratum=np.array([0, 0, 1, 1]), unit=np.array([0, 1, 2, 3]))
    >>> cells = Cells(np.zeros(4, dtype=np.int64), 1, np.arange(4), 4, rows_are_units=True)
    >>> z = cells.sum(np.array([1.0, 3.0, 2.0, 2.0]))[:, None]
    >>> float(stage_variance(cells.dom, cells.unit, z, z != 0, st, 1, "fail")[0, 0])
    4.0
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from migdata.errors import DesignError

#: Largest dense key space (cells) built with bincount; above it keys are factorised (hashing).
DENSE_LIMIT = 1 << 24

LONELY_OPTIONS = ("fail", "remove", "certainty", "adjust", "average")


def factorize(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes 0..k-1 and the k distinct values of an int64 key (first-seen order)."""
    codes, uniq = pd.factorize(key, sort=False)
    return codes.astype(np.int64, copy=False), np.asarray(uniq, dtype=np.int64)


@dataclass
class Stage:
    """One sampling stage: which unit and stratum each row is in, and per-stratum constants.

    Units and strata are coded 0..k-1; strata are nested in the units of the stage above
    (``stratum_parent``), units in strata (``unit_stratum``).
    """

    unit: np.ndarray | None            # per row; None when every row is its own unit
    n_units: int
    unit_stratum: np.ndarray           # per unit
    n_strata: int
    stratum_n: np.ndarray              # sampled units per stratum (R's sampsize)
    stratum_f: np.ndarray              # 1 - n/N; 1 without FPC
    stratum_frac: np.ndarray           # n/N; multiplies the variance of the stages below
    stratum_mult: np.ndarray           # product of the fractions of the stages above
    stratum_parent: np.ndarray         # parent unit (previous stage), 0 at stage 1
    n_parents: int
    stratum_label: list[str] = field(default_factory=list)
    number: int = 1

    @classmethod
    def build(cls, stratum: np.ndarray, unit: np.ndarray | None, popsize: np.ndarray | None = None,
              parent: np.ndarray | None = None, n_parents: int = 1,
              mult: np.ndarray | None = None, labels: list[str] | None = None,
              number: int = 1) -> "Stage":
        """A stage from per-row stratum codes (0..H-1) and unit codes (or None: rows are units).

        ``popsize`` is the population count per stratum (None: sampling with replacement).
        """
        n_strata = int(stratum.max()) + 1 if len(stratum) else 0
        if unit is None:
            unit_stratum = stratum.astype(np.int64)
            n_units = len(stratum)
        else:
            n_units = int(unit.max()) + 1 if len(unit) else 0
            unit_stratum = np.zeros(n_units, dtype=np.int64)
            unit_stratum[unit] = stratum
        stratum_n = np.bincount(unit_stratum, minlength=n_strata).astype(float)
        if popsize is None:
            f = np.ones(n_strata)
            frac = np.full(n_strata, np.nan)
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                f = np.where(np.isinf(popsize), 1.0, (popsize - stratum_n) / popsize)
                frac = stratum_n / popsize
        return cls(unit=unit, n_units=n_units, unit_stratum=unit_stratum, n_strata=n_strata,
                   stratum_n=stratum_n, stratum_f=f, stratum_frac=frac,
                   stratum_mult=np.ones(n_strata) if mult is None else mult,
                   stratum_parent=np.zeros(n_strata, dtype=np.int64) if parent is None else parent,
                   n_parents=n_parents, stratum_label=labels or [str(i) for i in range(n_strata)],
                   number=number)

    def row_units(self, n: int) -> np.ndarray:
        return np.arange(n, dtype=np.int64) if self.unit is None else self.unit

    def unit_parent(self) -> np.ndarray:
        """The parent unit (previous stage) of each unit of this stage."""
        return self.stratum_parent[self.unit_stratum]


class Cells:
    """The non-empty (domain, unit) cells of a design and a way to sum row values into them.

    ``dom`` and ``unit`` give each cell's domain and unit; ``sum(values)`` adds row values per
    cell (rows outside every domain, code -1, are left out).
    """

    def __init__(self, dom: np.ndarray, n_dom: int, unit: np.ndarray, n_units: int,
                 rows_are_units: bool = False) -> None:
        self.n_dom = n_dom
        self._take = None
        self._key = None
        self._kept = None
        if rows_are_units:
            # Every row is its own unit: the cells are the in-domain rows themselves.
            self._take = np.flatnonzero(dom >= 0)
            self.dom = dom[self._take]
            self.unit = self._take.astype(np.int64)
            self.size = len(self._take)
            return
        shifted = np.where(dom < 0, n_dom, dom).astype(np.int64)
        key = shifted * n_units + unit
        space = (n_dom + 1) * n_units
        if space <= DENSE_LIMIT:
            self._space = space
            counts = np.bincount(key, minlength=space)
            kept = np.flatnonzero(counts[: n_dom * n_units])
        else:
            key, uniq = factorize(key)
            self._space = len(uniq)
            kept_mask = uniq < n_dom * n_units
            kept = np.flatnonzero(kept_mask)
            uniq_kept = uniq[kept]
        self._key = key
        self._kept = kept
        if space <= DENSE_LIMIT:
            self.dom, self.unit = kept // n_units, kept % n_units
        else:
            self.dom, self.unit = uniq_kept // n_units, uniq_kept % n_units
        self.size = len(kept)

    def sum(self, values: np.ndarray) -> np.ndarray:
        """Per-cell sums of a row array (float)."""
        if self._take is not None:
            return np.asarray(values, dtype=float)[self._take]
        return np.bincount(self._key, weights=values, minlength=self._space)[self._kept]

    def sum_by_category(self, values: np.ndarray, cat: np.ndarray, n_cat: int) -> np.ndarray:
        """Per-cell sums of ``values`` split by category codes ``cat`` (-1 ignored): (cells, n_cat)."""
        if self._take is not None:
            out = np.zeros((self.size, n_cat))
            c = cat[self._take]
            ok = c >= 0
            out[np.flatnonzero(ok), c[ok]] = np.asarray(values, dtype=float)[self._take][ok]
            return out
        if self._space * n_cat <= DENSE_LIMIT * 4:
            key = self._key * n_cat + np.where(cat < 0, 0, cat)
            vals = np.where(cat < 0, 0.0, values)
            full = np.bincount(key, weights=vals, minlength=self._space * n_cat)
            return full.reshape(self._space, n_cat)[self._kept]
        return np.column_stack([self.sum(np.where(cat == k, values, 0.0)) for k in range(n_cat)])


def _group(key: np.ndarray, space: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Codes of an integer key and the key value of each code (dense when the space is small)."""
    if space <= DENSE_LIMIT:
        return key, np.arange(space, dtype=np.int64), space
    codes, uniq = factorize(key)
    return codes, uniq, len(uniq)


def stage_variance(dom: np.ndarray, unit: np.ndarray, Z: np.ndarray, P: np.ndarray, stage: Stage,
                   n_dom: int, lonely_psu: str, adjust_domain_lonely: bool = False) -> np.ndarray:
    """Variance contribution of one stage for each domain and column: array (n_dom, k).

    ``dom``, ``unit``: each cell's domain and unit *of this stage* (cells unique);
    ``Z``: cell totals of the linearised scores (cells, k); ``P``: whether the cell has
    at least one case used by the estimate (cells, k), which decides which strata are
    "present" in a domain for the lonely-PSU rules.
    """
    H = stage.n_strata
    s_of_cell = stage.unit_stratum[unit]
    g, g_key, G = _group(dom * H + s_of_cell, n_dom * H)
    g_dom, g_s = g_key // H, g_key % H
    nh = stage.stratum_n[g_s]
    f = stage.stratum_f[g_s]
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(nh > 1, f * nh / (nh - 1), f)
    certain = f < 1e-7
    mult = stage.stratum_mult[g_s]
    k = Z.shape[1]
    out = np.zeros((n_dom, k))
    for j in range(k):
        z = Z[:, j]
        p = P[:, j].astype(float)
        s1 = np.bincount(g, weights=z, minlength=G)
        m = np.bincount(g, weights=p, minlength=G)
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = np.where(nh > 0, s1 / nh, 0.0)
        dev = z - mean[g]
        ss = np.bincount(g, weights=dev * dev * p, minlength=G) + (nh - m) * mean * mean
        v = scale * ss
        present = m > 0
        lonely = present & (nh == 1) & ~certain
        if lonely.any():
            if lonely_psu == "fail":
                names = sorted({stage.stratum_label[i] for i in g_s[lonely]})
                shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
                raise DesignError("MD303", strata=f"({shown})", stage=stage.number)
            if lonely_psu == "adjust":
                v[lonely] = (scale * s1 * s1)[lonely]
            elif lonely_psu == "average":
                v[lonely] = np.nan
        if adjust_domain_lonely:
            single = present & (m == 1) & (nh > 1) & ~certain
            if lonely_psu == "adjust":
                v[single] = (scale * s1 * s1)[single]
            elif lonely_psu == "average":
                v[single] = np.nan
        v[certain] = 0.0
        v = v * mult
        missing = np.isnan(v) & present
        if missing.any():
            # R's onestage: sum the strata with a variance, times (present strata / those).
            parent = stage.stratum_parent[g_s]
            pk, pk_key, PK = _group(g_dom * stage.n_parents + parent, n_dom * stage.n_parents)
            nstrat = np.bincount(pk, weights=present.astype(float), minlength=PK)
            nok = np.bincount(pk, weights=(present & ~np.isnan(v)).astype(float), minlength=PK)
            vsum = np.bincount(pk, weights=np.where(np.isnan(v), 0.0, v), minlength=PK)
            with np.errstate(divide="ignore", invalid="ignore"):
                vpar = np.where(nstrat > 0, vsum * nstrat / nok, 0.0)
            out[:, j] = np.bincount(pk_key // stage.n_parents, weights=vpar, minlength=n_dom)
        else:
            out[:, j] = np.bincount(g_dom, weights=np.where(present, v, 0.0), minlength=n_dom)
    return out


def aggregate_cells(dom: np.ndarray, unit: np.ndarray, n_units: int, Z: np.ndarray,
                    P: np.ndarray, n_dom: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cells summed up to coarser units (``unit`` already mapped): dom, unit, Z, P."""
    g, key, G = _group(dom * n_units + unit, n_dom * n_units)
    z = np.column_stack([np.bincount(g, weights=Z[:, j], minlength=G) for j in range(Z.shape[1])])
    p = np.column_stack([np.bincount(g, weights=P[:, j].astype(float), minlength=G)
                         for j in range(P.shape[1])]) > 0
    if G == n_dom * n_units and len(key) == G:
        used = np.flatnonzero(np.bincount(g, minlength=G))
        return key[used] // n_units, key[used] % n_units, z[used], p[used]
    return key // n_units, key % n_units, z, p


def design_variance(cells: Cells, stages: list[Stage], Z: np.ndarray, P: np.ndarray,
                    lonely_psu: str, adjust_domain_lonely: bool = False) -> np.ndarray:
    """Total variance per domain and column over all stages used for variance: (n_dom, k).

    ``cells`` are at the units of the last stage in ``stages``.
    """
    n_dom = cells.n_dom
    total = np.zeros((n_dom, Z.shape[1]))
    last = len(stages) - 1
    for s in range(last, -1, -1):
        st = stages[s]
        if s == last:
            dom, unit, z, p = cells.dom, cells.unit, Z, P
        else:
            # Map the finest units up to this stage's units.
            up = cells.unit
            for t in range(last, s, -1):
                up = stages[t].unit_parent()[up]
            dom, unit, z, p = aggregate_cells(cells.dom, up, st.n_units, Z, P, n_dom)
        total += stage_variance(dom, unit, z, p, st, n_dom, lonely_psu, adjust_domain_lonely)
    return total
