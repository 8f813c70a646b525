"""The survey design object and its estimators (total, mean, proportion, ratio, quantile).

A :class:`Design` holds the weights and the coded sampling structure (strata, units of each
stage, FPCs) of one data frame. Its estimators return tidy DataFrames with one row per domain
(x variable x category): the domain columns first, then ``variable``, ``category``
(proportions), ``quantile`` (quantiles), ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``cv``,
``df``, ``n`` (unweighted in-domain cases used), ``n_missing`` (in-domain cases left out because
the variable is missing, like R's ``na.rm=TRUE``), ``ci_method`` and ``flag``.

Conventions (all as R ``survey``, see ``variance.py`` for the variance formulas):

- PSUs are always nested in strata (R's ``nest=TRUE``), stage-k units in stage-(k-1) units.
- Without an FPC the first stage is taken as sampled with replacement and later stages are
  ignored (ultimate cluster). With one FPC per stage, each stage's variance is added (R's default
  multistage variance). FPC values <= 1 are sampling fractions, otherwise population counts.
- Without weights they are derived from the FPCs (product over stages of N_h / n_h); with
  neither, every unit gets weight 1 (R warns and does the same).
- Domains never subset the data: out-of-domain cases contribute zero to the scores and every
  PSU of the design stays in the variance. ``n`` and ``n_missing`` count in-domain rows.
- ``df`` follows R. Proportions and quantiles get the domain's own degrees of freedom (PSUs
  minus strata among the domain's cases with a non-zero weight): R's ``svyby`` hands each
  domain's subset to ``svyciprop`` / ``svyquantile``, whose default ``df=degf(design)`` is then
  the subset's. Means, totals and ratios get the full design's ``degf`` (PSUs minus strata,
  counting only PSUs and strata with a non-zero weight): ``svyby(..., svymean)`` prints normal
  (df = Inf) intervals, and our ``t`` intervals with the design df are R's
  ``confint(est, df=degf(design))``. ``domain_df="design"`` (or ``"domain"``) on the design or
  on an estimator call uses that rule for every estimator.
- Missing values: rows missing any of the variables of one call are left out of all of them
  (R's ``na.rm=TRUE``: ``svymean(~a+b)`` keeps complete cases); ``missing="separate"`` leaves
  each variable's missing rows out of that variable only.
- ``deff=True`` adds R's design effect (``deff=TRUE``: variance / variance under simple random
  sampling without replacement of the same size from a population of sum(w)); ``deff="replace"``
  compares with sampling with replacement, as R's ``deff="replace"``.
- A calibrated design (:meth:`Design.poststratify`, :meth:`Design.rake`,
  :meth:`Design.calibrate`, see ``calibration.py``) keeps its calibration: every estimate's
  variance is computed on the calibration residuals, as R.
- A missing domain value puts a row in no domain (like R's ``svyby``); how many such rows
  there were is in ``result.attrs["n_no_domain"]``.

Example:
    >>> import pandas as pd
    >>> df = pd.DataFrame({"y": [1.0, 2, 3, 4], "w": [1.0, 1, 2, 2], "s": [1, 1, 2, 2]})
    >>> d = Design(df, weights="w", strata="s")
    >>> float(d.mean("y")["estimate"].iloc[0])
    2.8333333333333335
"""

from __future__ import annotations

import copy
import math
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, Sequence

import numpy as np
import pandas as pd

from migdata.errors import DataError, DesignError, UsageError
from migdata.survey import intervals, reliability
from migdata.survey.quantile import math_quantile
from migdata.survey.variance import DENSE_LIMIT, LONELY_OPTIONS, Cells, Stage, design_variance

if TYPE_CHECKING:
    from migdata.model.spec import DesignSpec

MISSING = ("joint", "separate")
RESULT_COLUMNS = ["estimate", "se", "ci_low", "ci_high", "cv", "df", "n", "n_missing",
                  "ci_method", "flag"]


def _as_list(x) -> list:
    if x is None:
        return []
    if isinstance(x, (str, bytes)) or not isinstance(x, Iterable):
        return [x]
    return list(x)


@dataclass
class Domains:
    """Integer domain codes for the rows of a design (-1: in no domain) and their labels.

    Build once with :meth:`Design.domains` and pass as ``by=`` to many estimator calls: the
    cell structure is computed once and reused.

    Example:
        >>> import pandas as pd
        >>> d = Design(pd.DataFrame({"sex": ["f", "m", "f"], "w": [1.0, 1, 1]}), weights="w")
        >>> dom = d.domains(["sex"])
        >>> dom.codes.tolist(), dom.labels["sex"].tolist()
        ([0, 1, 0], ['f', 'm'])
    """

    codes: np.ndarray
    labels: pd.DataFrame
    n_no_domain: int = 0
    _cells: dict = field(default_factory=dict, repr=False)
    _sizes: np.ndarray | None = field(default=None, repr=False)

    @property
    def n(self) -> int:
        return len(self.labels)

    def sizes(self) -> np.ndarray:
        """In-domain row counts."""
        if self._sizes is None:
            c = self.codes
            self._sizes = np.bincount(c[c >= 0], minlength=self.n).astype(float)
        return self._sizes


class Design:
    """A survey design on a data frame (Taylor linearisation, as R ``survey``).

    Args:
        df: the data, one row per sampled unit of analysis.
        weights: column of sampling weights (None: derived from ``fpc``, or 1).
        strata: stratum column (or a list, one per stage; None entries mean unstratified).
        psu: cluster column, or a list of columns one per stage (R's ``id=~dnum+snum``);
            None: every row is its own PSU.
        fpc: population counts or sampling fractions, a column or one column per stage.
        lonely_psu: ``fail`` (default), ``remove``, ``certainty``, ``adjust``, ``average``.
        adjust_domain_lonely: R's ``survey.adjust.domain.lonely`` (default False, as R).
        domain_df: None (R's rule: the domain's df for proportions and quantiles, the design's
            for means, totals and ratios), ``design`` or ``domain`` for every estimator.
        policy: reliability policy (name or object) for the ``flag`` column.
        level: confidence level of the intervals.

    Example:
        >>> import pandas as pd
        >>> df = pd.DataFrame({"y": [2.0, 4, 6, 8], "w": [10.0, 10, 20, 20], "psu": [1, 2, 3, 4]})
        >>> float(Design(df, weights="w", psu="psu").total("y")["estimate"].iloc[0])
        340.0
    """

    def __init__(self, df: pd.DataFrame, weights: str | None = None,
                 strata: str | Sequence[str | None] | None = None,
                 psu: str | Sequence[str] | None = None, fpc: str | Sequence[str] | None = None,
                 lonely_psu: str = "fail", adjust_domain_lonely: bool = False,
                 domain_df: str | None = None, policy: reliability.ReliabilityPolicy | str | None = None,
                 level: float = 0.95) -> None:
        if lonely_psu not in LONELY_OPTIONS:
            raise UsageError("MD307", what="Lonely PSU option", value=lonely_psu,
                             choices=", ".join(LONELY_OPTIONS))
        if domain_df not in (None, "design", "domain"):
            raise UsageError("MD307", what="domain_df", value=domain_df, choices="design, domain")
        self.data = df
        self.n_rows = len(df)
        if self.n_rows == 0:
            raise DesignError("MD311")
        self.lonely_psu = lonely_psu
        self.adjust_domain_lonely = adjust_domain_lonely
        self.domain_df = domain_df
        self.policy = reliability.get_policy(policy)
        self.level = level
        self.complete = False
        self.calibration: tuple = ()
        psus = _as_list(psu) or [None]
        stratas = _as_list(strata)
        fpcs = _as_list(fpc)
        if fpcs and len(fpcs) != len(psus):
            raise DesignError("MD309", stages=len(psus), fpcs=len(fpcs))
        for role, cols in (("weights", _as_list(weights)), ("strata", stratas), ("psu", psus),
                           ("fpc", fpcs)):
            for c in cols:
                if c is not None:
                    self._column(c, role)
        self.weights_col, self.strata_cols, self.psu_cols, self.fpc_cols = weights, stratas, psus, fpcs
        self.stages = self._build_stages(psus, stratas, fpcs)
        # R adds later stages to the variance only when FPCs are given (multistage()).
        self.var_stages = self.stages if fpcs else self.stages[:1]
        self.w = self._weights(weights, fpcs)
        self._df = self._degf()
        self.spec = None
        self._structure = object()  # shared by update() copies: same cells for the same domains

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_spec(cls, df: pd.DataFrame, spec: "DesignSpec", unit: str = "person",
                  policy: reliability.ReliabilityPolicy | str | None = None, **options) -> "Design":
        """The design a :class:`~migdata.model.spec.DesignSpec` declares, on frame ``df`` (R's
        ``svydesign(ids=, strata=, fpc=, weights=, nest=TRUE)``; a complete count for censuses).

        The usual way to get one is ``data.design(unit)``, which passes the dataset's frame.

        Example:
            >>> import pandas as pd
            >>> from migdata.model.spec import DesignSpec
            >>> df = pd.DataFrame({"y": [1.0, 3.0], "weight": [2.0, 2.0], "psu": [1, 2]})
            >>> print(Design.from_spec(df, DesignSpec(psu="psu")).describe())
            Design(weights=weight, strata=None, psu=['psu'], fpc=None, lonely_psu=fail)
        """
        if spec.complete_count:
            d = cls.complete_count(df, policy=policy)
        else:
            d = cls(df, weights=spec.weight_column(unit), strata=list(spec.strata) or None,
                    psu=list(spec.psu) or None, fpc=list(spec.fpc) or None,
                    lonely_psu=spec.lonely_psu, policy=policy, **options)
        d.spec = spec
        return d

    def update(self, **columns) -> "Design":
        """The same design with columns added or replaced (R's ``update(design, ...)``): derived
        variables are estimated without building the design again.

        Values are arrays or Series aligned with the design's rows.

        Example:
            >>> import pandas as pd
            >>> d = Design(pd.DataFrame({"y": [1.0, 2.0], "w": [1.0, 3.0]}), weights="w")
            >>> float(d.update(y2=d.data["y"] * 2).total("y2")["estimate"].iloc[0])
            14.0
        """
        new = copy.copy(self)
        data = self.data.copy(deep=False)
        for name, values in columns.items():
            v = values.to_numpy() if isinstance(values, pd.Series) and not isinstance(
                values.dtype, pd.CategoricalDtype) else values
            if len(v) != self.n_rows:
                raise UsageError("MD313", got=len(v), expected=self.n_rows)
            data[name] = v.values if isinstance(v, pd.Series) else v
        new.data = data
        return new

    @classmethod
    def complete_count(cls, df: pd.DataFrame,
                       policy: reliability.ReliabilityPolicy | str | None = None) -> "Design":
        """A census / complete enumeration: weight 1, no sampling error (SE 0, totals = sums).

        Example:
            >>> import pandas as pd
            >>> c = Design.complete_count(pd.DataFrame({"y": [1.0, 2.0]}))
            >>> c.total("y")[["estimate", "se", "flag"]].values.tolist()
            [[3.0, 0.0, 'complete_count']]
        """
        self = cls.__new__(cls)
        self.data = df
        self.n_rows = len(df)
        if self.n_rows == 0:
            raise DesignError("MD311")
        self.lonely_psu = "fail"
        self.adjust_domain_lonely = False
        self.domain_df = None
        self.policy = reliability.get_policy(policy)
        self.level = 0.95
        self.complete = True
        self.calibration = ()
        self.weights_col, self.strata_cols, self.psu_cols, self.fpc_cols = None, [], [None], []
        stage = Stage.build(np.zeros(self.n_rows, dtype=np.int64), None,
                            popsize=np.array([float(self.n_rows)]), labels=["(all)"])
        self.stages = self.var_stages = [stage]
        self.w = np.ones(self.n_rows)
        self._df = np.nan
        self.spec = None
        self._structure = object()
        return self

    def _row(self, i: int):
        """The user-facing row number of position i (``_source_row`` when the data has it)."""
        if "_source_row" in self.data.columns:
            v = self.data["_source_row"].iloc[i]
            return v.item() if hasattr(v, "item") else v
        return i + 1

    def _column(self, name: str, role: str) -> pd.Series:
        if name not in self.data.columns:
            known = ", ".join(map(str, list(self.data.columns)[:15]))
            raise UsageError("MD300", column=name, role=role, known=known)
        return self.data[name]

    def _codes(self, name: str, role: str) -> tuple[np.ndarray, np.ndarray]:
        s = self._column(name, role)
        codes, uniq = pd.factorize(s, sort=True)
        bad = codes < 0
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise DataError("MD302", column=name, role=role, count=int(bad.sum()), row=self._row(first))
        return codes.astype(np.int64), np.asarray(uniq)

    def _fpc_values(self, fpcs: list[str]) -> list[np.ndarray]:
        vals = []
        for c in fpcs:
            v = pd.to_numeric(self._column(c, "fpc"), errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            bad = ~np.isfinite(v) | (v <= 0)
            if bad.any():
                first = int(np.flatnonzero(bad)[0])
                raise DataError("MD302", column=c, role="fpc", count=int(bad.sum()), row=self._row(first))
            vals.append(v)
        allv = np.concatenate(vals) if vals else np.array([])
        if len(allv) and (allv > 1).any() and (allv < 1).any():
            col = next(c for c, v in zip(fpcs, vals) if (v < 1).any())
            raise DesignError("MD304", column=col, small=float(allv[allv < 1][0]), big=float(allv[allv > 1][0]))
        self._fpc_is_count = bool(len(allv) and (allv > 1).any())
        return vals

    def _build_stages(self, psus, stratas, fpcs) -> list[Stage]:
        n = self.n_rows
        fpc_vals = self._fpc_values(fpcs) if fpcs else []
        stages: list[Stage] = []
        parent = np.zeros(n, dtype=np.int64)
        n_parents = 1
        parent_names = np.array(["(all)"], dtype=object)
        for s, psu in enumerate(psus):
            scol = stratas[s] if s < len(stratas) else None
            if scol is None:
                rs, suniq_raw = np.zeros(n, dtype=np.int64), np.array(["(unstratified)"], dtype=object)
            else:
                rs, suniq_raw = self._codes(scol, "strata")
            ns = len(suniq_raw)
            stratum, skeys = factorize_sorted(parent * ns + rs)
            s_parent = skeys // ns
            s_raw = suniq_raw[skeys % ns]
            if s == 0:
                labels = [str(x) for x in s_raw]
            else:
                pname = self.psu_cols[s - 1]
                labels = [f"{x} in {pname}={parent_names[p]}" if scol is not None else
                          f"{pname}={parent_names[p]}" for x, p in zip(s_raw, s_parent)]
            if psu is None:
                unit, unit_names = None, None
            else:
                rp, puniq = self._codes(psu, "psu")
                unit, ukeys = factorize_sorted(stratum * len(puniq) + rp)
                unit_names = puniq[ukeys % len(puniq)].astype(object)
            popsize = None
            if fpcs:
                popsize = self._stratum_popsize(fpc_vals[s], fpcs[s], stratum, len(skeys), unit, labels, s + 1)
            mult = None
            if s > 0:
                prev = stages[-1]
                prev_stratum = prev.unit_stratum[s_parent]
                mult = prev.stratum_mult[prev_stratum] * prev.stratum_frac[prev_stratum]
            st = Stage.build(stratum, unit, popsize=popsize, parent=s_parent, n_parents=n_parents,
                             mult=mult, labels=labels, number=s + 1)
            if popsize is not None:
                over = popsize < st.stratum_n - 1e-9
                if over.any():
                    i = int(np.flatnonzero(over)[0])
                    raise DesignError("MD305", column=fpcs[s], stratum=labels[i], stage=s + 1,
                                      popsize=popsize[i], sampsize=int(st.stratum_n[i]))
            stages.append(st)
            if psu is None:
                break
            parent = unit
            n_parents = st.n_units
            parent_names = unit_names
        return stages

    def _stratum_popsize(self, v, col, stratum, n_strata, unit, labels, stage_no) -> np.ndarray:
        order = pd.Series(v).groupby(stratum)
        lo, hi = order.min().to_numpy(), order.max().to_numpy()
        varies = hi - lo > 1e-9 * np.maximum(1, np.abs(hi))
        if varies.any():
            i = int(np.flatnonzero(varies)[0])
            raise DesignError("MD306", column=col, stratum=labels[i], stage=stage_no,
                              values=f"{lo[i]:g} to {hi[i]:g}")
        if self._fpc_is_count:
            return lo.astype(float)
        if unit is None:
            n_h = np.bincount(stratum, minlength=n_strata).astype(float)
        else:
            us = np.zeros(int(unit.max()) + 1, dtype=np.int64)
            us[unit] = stratum
            n_h = np.bincount(us, minlength=n_strata).astype(float)
        return n_h / lo

    def _weights(self, weights, fpcs) -> np.ndarray:
        n = self.n_rows
        if weights is not None:
            s = self._column(weights, "weights")
            v = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            bad = ~np.isfinite(v) | (v < 0)
            if bad.any():
                first = int(np.flatnonzero(bad)[0])
                value = s.iloc[first]
                raise DataError("MD301", column=weights, count=int(bad.sum()), row=self._row(first),
                                value=value.item() if hasattr(value, "item") else value)
            return v
        if fpcs:
            w = np.ones(n)
            for st in self.stages:
                inv = 1.0 / (st.stratum_frac)
                per_unit = inv[st.unit_stratum]
                w = w * (per_unit[st.unit] if st.unit is not None else per_unit)
            return w
        warnings.warn("No weights or FPC given: assuming equal probability (weight 1), as R survey does.",
                      stacklevel=3)
        return np.ones(n)

    def _degf(self) -> float:
        st = self.stages[0]
        nz = self.w != 0
        units = st.row_units(self.n_rows)[nz]
        used_units = np.flatnonzero(np.bincount(units, minlength=st.n_units))
        used_strata = np.bincount(st.unit_stratum[used_units], minlength=st.n_strata) > 0
        return float(len(used_units) - used_strata.sum())

    @property
    def degf(self) -> float:
        """Design degrees of freedom: PSUs minus strata (R's ``degf``); NaN for a complete count."""
        return self._df

    # ------------------------------------------------------------------ domains
    def domains(self, by: str | Sequence[str | pd.Series] | pd.Series | np.ndarray | Domains | None,
                observed: bool = True) -> Domains:
        """Domain codes for ``by`` columns (or precomputed integer codes, -1 = no domain).

        Items of ``by`` are column names or Series of values aligned with the rows (named by
        the Series name), e.g. ``age_group(df["age"], "five_year")``.

        ``observed=True`` lists only combinations that occur (R's ``drop.empty.groups``);
        ``observed=False`` lists every combination of the columns' categories, empty ones too.
        """
        if isinstance(by, Domains):
            if len(by.codes) != self.n_rows:
                raise UsageError("MD313", got=len(by.codes), expected=self.n_rows)
            return by
        n = self.n_rows
        if by is None or (not isinstance(by, np.ndarray) and len(_as_list(by)) == 0):
            return Domains(np.zeros(n, dtype=np.int64), pd.DataFrame(index=range(1)))
        if isinstance(by, np.ndarray):
            if len(by) != n:
                raise UsageError("MD313", got=len(by), expected=n)
            codes = by.astype(np.int64)
            n_dom = int(codes.max()) + 1 if len(codes) else 0
            return Domains(codes, pd.DataFrame({"domain": np.arange(n_dom)}), int((codes < 0).sum()))
        items = [by] if isinstance(by, pd.Series) else _as_list(by)
        cols, series = [], []
        for item in items:
            if isinstance(item, pd.Series):      # values given directly (e.g. a derived age group)
                if len(item) != n:
                    raise UsageError("MD313", got=len(item), expected=n)
                cols.append(item.name if item.name is not None else f"by{len(cols)}")
                series.append(item.reset_index(drop=True))
            else:
                cols.append(item)
                series.append(self._column(item, "by"))
        parts, cats = [], []
        for s in series:
            if isinstance(s.dtype, pd.CategoricalDtype):
                parts.append(s.cat.codes.to_numpy().astype(np.int64))
                cats.append(s.cat.categories)
            else:
                k, u = pd.factorize(s, sort=True)
                parts.append(k.astype(np.int64))
                cats.append(pd.Index(u))
        sizes = [max(len(c), 1) for c in cats]
        combined = np.zeros(n, dtype=np.int64)
        missing = np.zeros(n, dtype=bool)
        for p, size in zip(parts, sizes):
            missing |= p < 0
            combined = combined * size + np.where(p < 0, 0, p)
        combined[missing] = -1
        total = math.prod(sizes)
        if observed:
            ok = combined >= 0
            if total <= DENSE_LIMIT:
                present = np.flatnonzero(np.bincount(combined[ok], minlength=total))
                remap = np.full(total, -1, dtype=np.int64)
                remap[present] = np.arange(len(present))
                codes = np.where(ok, remap[np.where(ok, combined, 0)], -1)
            else:
                present = np.unique(combined[ok])
                codes = np.where(ok, np.searchsorted(present, combined), -1)
        else:
            present = np.arange(total)
            codes = combined
        idx = np.unravel_index(present, sizes) if len(sizes) else ()
        labels = {}
        for c, cat, ix, orig in zip(cols, cats, idx, series):
            if isinstance(orig.dtype, pd.CategoricalDtype):
                labels[c] = pd.Categorical.from_codes(ix, dtype=orig.dtype)
            else:
                labels[c] = cat.take(ix) if len(cat) else np.full(len(ix), np.nan)
        return Domains(codes.astype(np.int64), pd.DataFrame(labels), int(missing.sum()))

    def _cells(self, dom: Domains) -> Cells:
        # cells depend on the domains and the design's units only, so update() copies share them
        if dom._cells.get("owner") is self._structure:
            return dom._cells["cells"]
        st = self.var_stages[-1]
        cells = Cells(dom.codes, dom.n, st.row_units(self.n_rows), st.n_units,
                      rows_are_units=st.unit is None)
        dom._cells = {"owner": self._structure, "cells": cells}  # one design at a time: bounded memory
        return cells

    # ------------------------------------------------------------------ variables
    def _numeric(self, name: str, estimator: str) -> np.ndarray:
        s = self._column(name, "variable")
        if pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_numeric_dtype(s.dtype):
            return s.to_numpy(dtype=float, na_value=np.nan)
        if s.dtype == object:
            conv = pd.to_numeric(s, errors="coerce")
            if conv.isna().equals(s.isna()) and not s.map(lambda x: isinstance(x, str)).any():
                return conv.to_numpy(dtype=float, na_value=np.nan)
        raise UsageError("MD308", column=name, dtype=str(s.dtype), estimator=estimator)

    # ------------------------------------------------------------------ engine
    def _df_rule(self, kind: str, domain_df: str | None = None) -> str:
        """Which df an estimator reports: ``design`` or ``domain`` (see the module docstring)."""
        rule = domain_df if domain_df is not None else self.domain_df
        if rule is None:
            return "domain" if kind in ("proportion", "quantile") else "design"
        if rule not in ("design", "domain"):
            raise UsageError("MD307", what="domain_df", value=rule, choices="design, domain")
        return rule

    def _scores(self, dom: Domains, a_list, b_list, valid_list, ratio: bool, cat=None,
                want_cnz: bool = False) -> "_Scores":
        """One pass over the rows: cell sums, estimates and linearised scores of every domain.

        a_list, b_list: row arrays (0 where invalid); valid_list: bool row arrays.
        For proportions ``cat=(codes, K)`` splits one variable into K indicator columns.
        """
        cells = self._cells(dom)
        w = self.w
        A, B, C, CNZ, rows = [], [], [], [], []
        for a, b, valid in zip(a_list, b_list, valid_list):
            wv = np.where(valid, w, 0.0)
            if cat is not None:
                codes, K = cat
                A.append(cells.sum_by_category(wv, codes, K))
                wsum, cnt = cells.sum(wv), cells.sum(valid.astype(float))
                B.append(np.repeat(wsum[:, None], K, axis=1))
                C.append(np.repeat(cnt[:, None], K, axis=1))
                if want_cnz:
                    CNZ.append(np.repeat(cells.sum((valid & (w > 0)).astype(float))[:, None], K, axis=1))
                if self.calibration:
                    vf = valid.astype(float)
                    rows += [(((codes == kk) & valid).astype(float), vf) for kk in range(K)]
            else:
                A.append(cells.sum(wv * a)[:, None])
                if not ratio:
                    B.append(np.zeros((cells.size, 1)))
                else:  # b None: the denominator is the count of valid cases (a mean)
                    B.append(cells.sum(wv if b is None else wv * b)[:, None])
                C.append(cells.sum(valid.astype(float))[:, None])
                if want_cnz:
                    CNZ.append(cells.sum((valid & (w > 0)).astype(float))[:, None])
                if self.calibration:
                    den = (valid.astype(float) if b is None else np.where(valid, b, 0.0)) if ratio else None
                    rows.append((np.where(valid, a, 0.0), den))
        A, B, C = np.hstack(A), np.hstack(B), np.hstack(C)
        n_dom, k = dom.n, A.shape[1]
        sum_dom = lambda X: np.column_stack([np.bincount(cells.dom, weights=X[:, j], minlength=n_dom)
                                              for j in range(k)])
        SA, n = sum_dom(A), sum_dom(C)
        if ratio:
            SB = sum_dom(B)
            with np.errstate(divide="ignore", invalid="ignore"):
                est = SA / SB
                Z = (A - est[cells.dom] * B) / SB[cells.dom]
                alpha, beta = 1.0 / SB, -est / SB
            Z = np.where(np.isfinite(Z), Z, 0.0)
            alpha = np.where(np.isfinite(alpha), alpha, 0.0)
            beta = np.where(np.isfinite(beta), beta, 0.0)
        else:
            SB = None
            est, Z = SA, A
            alpha, beta = np.ones((n_dom, k)), np.zeros((n_dom, k))
        return _Scores(cells, est, n, Z, C, np.hstack(CNZ) if CNZ else None, rows, alpha, beta, ratio, SB)

    def _variance(self, dom: Domains, sc: "_Scores", combine: np.ndarray | None = None) -> np.ndarray:
        """Variance of every domain's estimate (or, with ``combine`` (n_dom, m), of the m linear
        combinations of domain estimates, as R ``svycontrast(svyby(..., covmat=TRUE))``)."""
        from migdata.survey import calibration  # lazy: scipy.sparse only when weighting
        if self.complete:
            return np.zeros((dom.n, sc.est.shape[1]) if combine is None else (combine.shape[1], sc.est.shape[1]))
        if self.calibration:
            var = calibration.variance(self, dom, sc.rows, sc.alpha, sc.beta, combine=combine)
        elif combine is None:
            var = design_variance(sc.cells, self.var_stages, sc.Z, sc.C > 0, self.lonely_psu,
                                  self.adjust_domain_lonely)
        else:
            # R's covmat=TRUE: every domain's influence on the full design, every unit present
            n_units = self.var_stages[-1].n_units
            m, k = combine.shape[1], sc.Z.shape[1]
            key = np.arange(m)[None, :] * n_units + sc.cells.unit[:, None]          # (cells, m)
            Zc = np.zeros((m * n_units, k))
            for j in range(k):
                contrib = combine[sc.cells.dom] * sc.Z[:, j][:, None]                # (cells, m)
                Zc[:, j] = np.bincount(key.ravel(), weights=contrib.ravel(), minlength=m * n_units)
            var = design_variance(calibration._DenseCells(m, n_units), self.var_stages, Zc,
                                  np.ones(Zc.shape, bool), self.lonely_psu, self.adjust_domain_lonely)
        if sc.ratio and combine is None:
            var = np.where(np.isfinite(sc.est), var, np.nan)
        return var

    def _linear(self, dom: Domains, a_list, b_list, valid_list, ratio: bool, cat=None,
                df_rule: str = "design"):
        """Estimates, variances, n and df of linear / ratio statistics: arrays (n_dom, k)."""
        sc = self._scores(dom, a_list, b_list, valid_list, ratio, cat, want_cnz=df_rule == "domain")
        var = self._variance(dom, sc)
        est = sc.est
        if self.complete:
            df = np.full_like(est, np.nan)
        elif df_rule == "domain":
            df = self._domain_degf(sc.cells, sc.CNZ, dom.n)
        else:
            df = np.full_like(est, self._df)
        return est, var, sc.n, df

    def _score_variance(self, dom: Domains, x_list: list[np.ndarray], valid: np.ndarray) -> np.ndarray:
        """Variance per domain of weighted row scores x (R ``svyrecvar(x, ...)``), x = 0 off the
        domain's valid rows; used by :func:`migdata.survey.regression.glm`."""
        from migdata.survey import calibration  # lazy: scipy.sparse only when weighting
        cells = self._cells(dom)
        Z = np.column_stack([cells.sum(np.where(valid, x, 0.0)) for x in x_list])
        if self.complete:
            return np.zeros((dom.n, len(x_list)))
        if self.calibration:
            with np.errstate(divide="ignore", invalid="ignore"):
                rows = [(np.where(valid & (self.w != 0), x / self.w, 0.0), None) for x in x_list]
            k = len(x_list)
            return calibration.variance(self, dom, rows, np.ones((dom.n, k)), np.zeros((dom.n, k)))
        P = np.repeat(cells.sum(valid.astype(float))[:, None] > 0, len(x_list), axis=1)
        return design_variance(cells, self.var_stages, Z, P, self.lonely_psu, self.adjust_domain_lonely)

    def _domain_degf(self, cells: Cells, CNZ: np.ndarray, n_dom: int) -> np.ndarray:
        st1 = self.stages[0]
        up = cells.unit
        for t in range(len(self.var_stages) - 1, 0, -1):
            up = self.var_stages[t].unit_parent()[up]
        out = np.zeros((n_dom, CNZ.shape[1]))
        for j in range(CNZ.shape[1]):
            ok = CNZ[:, j] > 0
            du = np.unique(cells.dom[ok] * st1.n_units + up[ok])
            ds = np.unique((du // st1.n_units) * st1.n_strata + st1.unit_stratum[du % st1.n_units])
            out[:, j] = (np.bincount(du // st1.n_units, minlength=n_dom)
                         - np.bincount(ds // st1.n_strata, minlength=n_dom))
        return out

    def _deff(self, dom: Domains, mode, kind: str, us: list[np.ndarray], valids: list[np.ndarray],
              var: np.ndarray) -> np.ndarray:
        """R's design effect: variance / (variance under SRS of the domain's size), per column.

        As R ``svymean``/``svytotal(deff=TRUE)``: S2 = n/(n-1) sum w (u - u_bar)^2 / sum w over
        the domain's valid rows with n of them of non-zero weight, N = sum w; SRS variance of a
        mean S2 (N - n) / (N n) (``deff="replace"``: S2 / n), of a total N^2 times that. For a
        ratio R uses the total of r = (y - R x) / X_hat.
        """
        codes = dom.codes
        out = np.full(var.shape, np.nan)
        if self.complete:
            return out
        for j, (u, valid) in enumerate(zip(us, valids)):
            m = (codes >= 0) & valid
            c, w, uu = codes[m], self.w[m], u[m]
            psum = np.bincount(c, weights=w, minlength=dom.n)
            nobs = np.bincount(c, weights=(w != 0).astype(float), minlength=dom.n)
            with np.errstate(divide="ignore", invalid="ignore"):
                mu = np.bincount(c, weights=w * uu, minlength=dom.n) / psum
                ss = np.bincount(c, weights=w * (uu - mu[c]) ** 2, minlength=dom.n)
                s2 = ss / psum * nobs / (nobs - 1)
                if kind == "total":
                    s2 = s2 * psum ** 2
                if mode == "replace":
                    vsrs = s2 / nobs
                else:
                    if (psum < nobs).any():
                        warnings.warn("Sample size greater than population size: are weights correctly "
                                      "scaled? (deff is NA, as R)", stacklevel=4)
                    vsrs = np.where(psum < nobs, np.nan, s2 * (psum - nobs) / (psum * nobs))
                out[:, j] = var[:, j] / vsrs
        return out

    def _finish(self, dom: Domains, est, var, n, df, names, ci, extra=None, n_missing=None, deff=None):
        """Assemble the tidy result: rows are domain-major, then variable (then category)."""
        n_dom, k = est.shape
        se = np.sqrt(np.maximum(var, 0.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            cv = se / np.abs(est)
        cv = np.where(se == 0, np.where(np.isfinite(est) & (est != 0), 0.0, cv), cv)
        method, lo, hi = ci(est, se, df, n)
        out = dom.labels.loc[dom.labels.index.repeat(k)].reset_index(drop=True)
        out["variable"] = np.tile(np.asarray(names, dtype=object), n_dom)
        for col, vals in (extra or {}).items():
            out[col] = np.tile(np.asarray(vals, dtype=object), n_dom)
        flat = lambda x: np.asarray(x, dtype=float).reshape(-1)
        out["estimate"], out["se"] = flat(est), flat(se)
        out["ci_low"], out["ci_high"] = flat(lo), flat(hi)
        out["cv"], out["df"] = flat(cv), flat(df)
        out["n"] = flat(n).astype(np.int64)
        nm = np.zeros_like(est) if n_missing is None else n_missing
        out["n_missing"] = flat(nm).astype(np.int64)
        out["ci_method"] = "complete count (no sampling error)" if self.complete else method
        out["flag"] = reliability.flag(out["cv"].to_numpy(), out["n"].to_numpy(), self.policy,
                                       complete_count=self.complete)
        if deff is not None:
            out["deff"] = flat(deff)
        out.attrs["n_no_domain"] = dom.n_no_domain
        out.attrs["design"] = self.describe()
        return out

    def _t_ci(self, est, se, df, n):
        lo, hi = intervals.t_interval(est, se, df, self.level)
        return "t", lo, hi

    def describe(self) -> str:
        """One line naming the design (for result attributes and reports)."""
        if self.complete:
            return "complete count"
        parts = [f"weights={self.weights_col}", f"strata={self.strata_cols or None}",
                 f"psu={self.psu_cols}", f"fpc={self.fpc_cols or None}", f"lonely_psu={self.lonely_psu}"]
        if self.calibration:
            parts.append("calibrated=" + "+".join(dict.fromkeys(s.name for s in self.calibration)))
        return "Design(" + ", ".join(parts) + ")"

    # ------------------------------------------------------------------ weighting
    def _calibrated(self, w: np.ndarray, steps) -> "Design":
        """Hook for ``calibration.py``: this design with new weights and its calibration steps."""
        from migdata.survey import calibration  # lazy: scipy.sparse only when weighting
        if self.complete:
            raise DesignError("MD340", what="calibrate")
        return calibration.with_weights(self, w, steps)

    def poststratify(self, by: str | Sequence[str], totals, partial: bool = False) -> "Design":
        """Post-stratified design (R ``postStratify``): weights times N_c / (weighted count) per cell.

        ``totals``: a DataFrame with the ``by`` columns and a ``total`` column, or a Series
        (category or tuple of categories -> total). Cells with a population but no sampled unit
        fail unless ``partial=True`` (then they are left out, as R). Returns a new design whose
        estimates all carry the post-stratified variance.

        Example:
            >>> import pandas as pd
            >>> df = pd.DataFrame({"sex": ["f", "m", "f", "m"], "w": [1.0, 1, 1, 1], "y": [1.0, 2, 3, 4]})
            >>> pop = pd.DataFrame({"sex": ["f", "m"], "total": [60.0, 40.0]})
            >>> Design(df, weights="w").poststratify("sex", pop).total("y")["estimate"].tolist()
            [240.0]
        """
        from migdata.survey import calibration  # lazy: scipy.sparse only when weighting
        return calibration.poststratify(self, by, totals, partial=partial)

    def rake(self, margins: dict, maxit: int = 10, epsilon: float = 1.0) -> "Design":
        """Raked design (R ``rake``): iterative post-stratification on each margin in turn.

        ``margins``: {column (or tuple of columns): Series category -> total}. Stops when no
        cell of the joint table of the margin variables moves by ``epsilon`` or more (a share of
        the weight total when < 1), after at most ``maxit`` sweeps, R's defaults; warns, as R,
        when it did not converge.

        Example:
            >>> import pandas as pd
            >>> df = pd.DataFrame({"a": ["x", "x", "y", "y"], "b": ["u", "v", "u", "v"], "w": [1.0, 2, 3, 4]})
            >>> r = Design(df, weights="w").rake({"a": pd.Series({"x": 50.0, "y": 50.0}),
            ...                                   "b": pd.Series({"u": 40.0, "v": 60.0})}, epsilon=1e-9)
            >>> [round(float(x), 6) for x in r.w.reshape(2, 2).sum(axis=1)]
            [50.0, 50.0]
        """
        from migdata.survey import calibration  # lazy: scipy.sparse only when weighting
        return calibration.rake(self, margins, maxit=maxit, epsilon=epsilon)

    def calibrate(self, margins: dict | None = None, totals: dict | None = None,
                  population: float | None = None, method: str = "linear",
                  bounds: tuple[float, float] | None = None, maxit: int = 50,
                  epsilon: float = 1e-7) -> "Design":
        """Calibrated design (R ``calibrate``): weights whose totals equal known population totals.

        ``margins``: {column (or tuple of columns): Series category -> total}; ``totals``:
        {numeric column: population total}; ``population``: the total of the weights after
        calibration (default: the margins' total, or the design's current weight total, R's
        intercept). ``method``: ``linear`` (GREG), ``raking`` or ``logit``; ``bounds=(lo, hi)``
        limits new weight / old weight (required for logit).

        Example:
            >>> import pandas as pd
            >>> df = pd.DataFrame({"x": [1.0, 2, 3, 4], "w": [10.0, 10, 10, 10], "y": [2.0, 4, 5, 9]})
            >>> c = Design(df, weights="w").calibrate(totals={"x": 110.0})
            >>> round(float((c.w * df["x"]).sum()), 6), round(float(c.w.sum()), 6)
            (110.0, 40.0)
        """
        from migdata.survey import calibration  # lazy: scipy.sparse only when weighting
        return calibration.calibrate(self, margins, totals, population, method, bounds, maxit, epsilon)

    # ------------------------------------------------------------------ comparisons, regression
    def contrast(self, kind: str, variable: str, by, coefficients: dict,
                 denominator: str | None = None, observed: bool = True) -> pd.DataFrame:
        """Linear combinations of domain estimates with their SE (R ``svycontrast(svyby(...,
        covmat=TRUE), ...)``), e.g. the difference between two provinces.

        ``coefficients``: {domain value: coefficient} for one contrast, or {name: {domain value:
        coefficient}} for several (a tuple of values when ``by`` has several columns). See
        :func:`migdata.survey.contrast.contrast`.

        Example:
            >>> import pandas as pd
            >>> df = pd.DataFrame({"y": [1.0, 2, 3, 5], "g": ["a", "a", "b", "b"], "p": [1, 2, 3, 4]})
            >>> r = Design.complete_count(df).contrast("mean", "y", "g", {"b": 1, "a": -1})
            >>> r[["contrast", "estimate", "se"]].values.tolist()
            [['contrast', 2.5, 0.0]]
        """
        from migdata.survey.contrast import contrast
        return contrast(self, kind, variable, by, coefficients, denominator=denominator, observed=observed)

    def glm(self, y: str, xs: str | Sequence[str], family: str = "gaussian") -> pd.DataFrame:
        """Design-based regression (R ``svyglm``): one row per coefficient, R's order and names.

        ``family``: ``gaussian`` (linear) or ``binomial`` (logistic, quasi-binomial SEs as R).
        See :func:`migdata.survey.regression.glm`.

        Example:
            >>> import pandas as pd
            >>> df = pd.DataFrame({"y": [1.0, 3, 5, 7], "x": [0.0, 1, 2, 3]})
            >>> Design.complete_count(df).glm("y", ["x"])[["term", "estimate"]].values.tolist()
            [['(Intercept)', 1.0], ['x', 2.0]]
        """
        from migdata.survey.regression import glm
        return glm(self, y, xs, family=family)

    # ------------------------------------------------------------------ estimators
    def estimate_many(self, kind: str, variables: str | Sequence[str], by=None,
                      ci_method: str | None = None, denominator: str | Sequence[str] | None = None,
                      observed: bool = True, **options) -> pd.DataFrame:
        """Vectorised entry point: one call, many variables, every domain.

        ``kind`` is ``mean``, ``total``, ``proportion`` or ``ratio``; ``by`` may be column
        names, a :class:`Domains` from :meth:`domains`, or an int array of domain codes.
        ``options`` (``deff``, ``missing``, ``domain_df``) pass to the estimator.

        Example:
            >>> import pandas as pd
            >>> df = pd.DataFrame({"a": [1.0, 0, 1], "b": [2.0, 4, 6], "g": ["x", "y", "x"]})
            >>> r = Design.complete_count(df).estimate_many("mean", ["a", "b"], by="g")
            >>> r[["g", "variable", "estimate"]].values.tolist()
            [['x', 'a', 1.0], ['x', 'b', 4.0], ['y', 'a', 0.0], ['y', 'b', 4.0]]
        """
        if kind == "mean":
            return self.mean(variables, by=by, observed=observed, **options)
        if kind == "total":
            return self.total(variables, by=by, observed=observed, **options)
        if kind == "proportion":
            return self.proportion(variables, by=by, ci_method=ci_method or "logit", observed=observed, **options)
        if kind == "ratio":
            return self.ratio(variables, denominator, by=by, observed=observed, **options)
        raise UsageError("MD307", what="Estimate kind", value=kind, choices="mean, total, proportion, ratio")

    def _valid(self, arrays: list[np.ndarray], missing: str) -> list[np.ndarray]:
        """Rows each variable uses: complete cases of all of them (R) or each its own."""
        if missing not in MISSING:
            raise UsageError("MD307", what="missing", value=missing, choices=", ".join(MISSING))
        valid = [~np.isnan(y) for y in arrays]
        if missing == "joint" and len(valid) > 1:
            every = np.logical_and.reduce(valid)
            valid = [every] * len(valid)
        return valid

    def _simple(self, variables, by, observed, ratio: bool, estimator: str, deff=False,
                missing: str = "joint", domain_df: str | None = None) -> pd.DataFrame:
        dom = self.domains(by, observed)
        names = _as_list(variables)
        ys = [self._numeric(v, estimator) for v in names]
        valid = self._valid(ys, missing)
        a = [np.where(v, y, 0.0) for y, v in zip(ys, valid)]
        est, var, n, df = self._linear(dom, a, [None] * len(a), valid, ratio=ratio,
                                       df_rule=self._df_rule(estimator, domain_df))
        n_missing = dom.sizes()[:, None] - n
        d = self._deff(dom, deff, estimator, a, valid, var) if deff else None
        return self._finish(dom, est, var, n, df, names, self._t_ci, n_missing=n_missing, deff=d)

    def mean(self, variables: str | Sequence[str], by=None, observed: bool = True, deff: bool | str = False,
             missing: str = "joint", domain_df: str | None = None) -> pd.DataFrame:
        """Weighted mean(s) with Taylor SE, per domain (R ``svymean`` / ``svyby``, na.rm=TRUE).

        Boolean or 0/1 columns give proportions with t intervals; use :meth:`proportion` for
        logit intervals. ``deff=True`` adds R's design effect (``deff="replace"``: against
        sampling with replacement); ``missing="separate"`` drops each variable's missing rows
        from that variable only (default: complete cases of all, as R).
        """
        return self._simple(variables, by, observed, ratio=True, estimator="mean", deff=deff,
                            missing=missing, domain_df=domain_df)

    def total(self, variables: str | Sequence[str], by=None, observed: bool = True, deff: bool | str = False,
              missing: str = "joint", domain_df: str | None = None) -> pd.DataFrame:
        """Weighted total(s) with Taylor SE, per domain (R ``svytotal``, na.rm=TRUE); options as :meth:`mean`."""
        return self._simple(variables, by, observed, ratio=False, estimator="total", deff=deff,
                            missing=missing, domain_df=domain_df)

    def ratio(self, numerator: str | Sequence[str], denominator: str | Sequence[str], by=None,
              observed: bool = True, deff: bool | str = False, missing: str = "joint",
              domain_df: str | None = None) -> pd.DataFrame:
        """Ratio(s) of weighted totals sum(w y) / sum(w x) per domain (R ``svyratio``, na.rm=TRUE).

        Numerators and denominators pair up in order (one denominator serves all numerators).
        Rows where any of them is missing are left out (``missing="separate"``: where that
        pair's numerator or denominator is missing).
        """
        nums = _as_list(numerator)
        dens = _as_list(denominator)
        if len(dens) == 1:
            dens = dens * len(nums)
        if len(dens) != len(nums):
            raise UsageError("MD307", what="Denominator list", value=dens, choices="one, or one per numerator")
        dom = self.domains(by, observed)
        ys = [self._numeric(y_name, "ratio") for y_name in nums]
        xs = [self._numeric(x_name, "ratio") for x_name in dens]
        if missing == "joint":
            every = np.logical_and.reduce([~np.isnan(v) for v in ys + xs])
            valids = [every] * len(nums)
        else:
            self._valid([], missing)
            valids = [~np.isnan(y) & ~np.isnan(x) for y, x in zip(ys, xs)]
        a = [np.where(v, y, 0.0) for y, v in zip(ys, valids)]
        b = [np.where(v, x, 0.0) for x, v in zip(xs, valids)]
        est, var, n, df = self._linear(dom, a, b, valids, ratio=True, df_rule=self._df_rule("ratio", domain_df))
        d = None
        if deff:
            with np.errstate(divide="ignore", invalid="ignore"):
                X = np.column_stack([np.bincount(np.where(dom.codes >= 0, dom.codes, dom.n),
                                                 weights=self.w * bb, minlength=dom.n + 1)[:dom.n] for bb in b])
            codes = np.maximum(dom.codes, 0)
            with np.errstate(divide="ignore", invalid="ignore"):
                r = [(aa - est[codes, j] * bb) / X[codes, j] for j, (aa, bb) in enumerate(zip(a, b))]
            r = [np.where(np.isfinite(x), x, 0.0) for x in r]
            d = self._deff(dom, deff, "total", r, valids, var)
        names = [f"{y}/{x}" for y, x in zip(nums, dens)]
        return self._finish(dom, est, var, n, df, names, self._t_ci, n_missing=dom.sizes()[:, None] - n, deff=d)

    def _categories(self, name: str) -> tuple[np.ndarray, list]:
        s = self._column(name, "variable")
        if isinstance(s.dtype, pd.CategoricalDtype):
            return s.cat.codes.to_numpy().astype(np.int64), list(s.cat.categories)
        codes, u = pd.factorize(s, sort=True)
        return codes.astype(np.int64), list(u)

    def proportion(self, variable: str | Sequence[str], by=None, ci_method: str = "logit",
                   observed: bool = True, deff: bool | str = False, missing: str = "joint",
                   domain_df: str | None = None) -> pd.DataFrame:
        """Proportion of each category of ``variable`` per domain, with a named CI method.

        ``ci_method``: ``logit`` (R ``svyciprop`` default), ``beta`` (Korn–Graubard),
        ``wilson``, or ``t``. Categories come from the column's categorical dtype (unobserved
        categories give 0) or its sorted distinct values; missing values are left out (of
        every variable of the call unless ``missing="separate"``). The df of the intervals is
        the domain's own (R's ``svyby(..., svyciprop)``) unless ``domain_df="design"``.
        """
        if ci_method not in intervals.PROPORTION_METHODS:
            raise UsageError("MD307", what="Confidence interval method", value=ci_method,
                             choices=", ".join(intervals.PROPORTION_METHODS))
        frames = []
        dom = self.domains(by, observed)
        names = _as_list(variable)
        coded = [self._categories(name) for name in names]
        valids = self._valid([np.where(c >= 0, 0.0, np.nan) for c, _ in coded], missing)
        rule = self._df_rule("proportion", domain_df)
        for name, (codes, cats), valid in zip(names, coded, valids):
            K = max(len(cats), 1)
            est, var, n, df = self._linear(dom, [None], [None], [valid], ratio=True, cat=(codes, K), df_rule=rule)

            def ci(est, se, df, n, _m=ci_method):
                lo, hi = intervals.proportion_interval(_m, est, se, df, n, self.level)
                return _m, lo, hi

            d = None
            if deff:
                ind = [((codes == kk) & valid).astype(float) for kk in range(K)]
                d = self._deff(dom, deff, "mean", ind, [valid] * K, var)
            frames.append(self._finish(dom, est, var, n, df, [name] * K, ci, extra={"category": cats},
                                       n_missing=dom.sizes()[:, None] - n, deff=d))
        out = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
        out.attrs["n_no_domain"] = dom.n_no_domain
        return out

    def quantile(self, variables: str | Sequence[str], probs: float | Sequence[float], by=None,
                 observed: bool = True, missing: str = "joint", domain_df: str | None = None) -> pd.DataFrame:
        """Quantiles per domain as R ``svyquantile`` (survey >= 4.0 defaults).

        The quantile is R's ``qrule="math"`` (the smallest value whose cumulative weight share
        reaches p); the CI is Woodruff's (``interval.type="mean"``): a t interval for the
        proportion below the quantile, mapped back through the same rule; the SE is the CI width
        divided by 2 t(df), as R derives it. The df is the domain's own unless
        ``domain_df="design"``.
        """
        probs_l = [float(p) for p in _as_list(probs)]
        for p in probs_l:
            if not 0 <= p <= 1:
                raise UsageError("MD310", value=p)
        dom = self.domains(by, observed)
        names = _as_list(variables)
        ys_all = [self._numeric(name, "quantile") for name in names]
        valids = self._valid(ys_all, missing)
        rule = self._df_rule("quantile", domain_df)
        frames = []
        for name, y, valid_y in zip(names, ys_all, valids):
            valid = valid_y & (dom.codes >= 0)
            idx = np.flatnonzero(valid)
            order = idx[np.lexsort((y[idx], dom.codes[idx]))]
            d_sorted = dom.codes[order]
            bounds = np.searchsorted(d_sorted, np.arange(dom.n + 1))
            ys, ws = y[order], self.w[order]
            segs = [(ys[bounds[i]:bounds[i + 1]], ws[bounds[i]:bounds[i + 1]]) for i in range(dom.n)]
            q = np.array([[math_quantile(x, w, p) for p in probs_l] for x, w in segs]).reshape(dom.n, len(probs_l))
            lo = np.full_like(q, np.nan)
            hi = np.full_like(q, np.nan)
            se = np.zeros_like(q)
            n_valid = np.bincount(dom.codes[valid], minlength=dom.n).astype(float)
            if self.complete:
                lo, hi = q.copy(), q.copy()
                df = np.full_like(q, np.nan)
            else:
                df = np.zeros_like(q)
                for j, p in enumerate(probs_l):
                    qrow = np.where(dom.codes >= 0, q[np.maximum(dom.codes, 0), j], np.nan)
                    below = np.where(valid_y, (y <= qrow).astype(float), 0.0)
                    est, var, _, dfj = self._linear(dom, [below], [None], [valid_y], ratio=True, df_rule=rule)
                    c = intervals.critical(dfj[:, 0], self.level)
                    sep = np.sqrt(np.maximum(var[:, 0], 0))
                    plo, phi = est[:, 0] - c * sep, est[:, 0] + c * sep
                    for i, (x, w) in enumerate(segs):
                        if len(x) == 0:
                            continue
                        lo[i, j] = np.nan if not (plo[i] >= 0) else math_quantile(x, w, plo[i])
                        hi[i, j] = np.nan if not (phi[i] <= 1) else math_quantile(x, w, phi[i])
                    se[:, j] = (hi[:, j] - lo[:, j]) / (2 * c)
                    df[:, j] = dfj[:, 0]
            n = np.repeat(n_valid[:, None], len(probs_l), axis=1)
            lo_, hi_ = lo, hi
            frame = self._finish(dom, q, se ** 2, n, df, [name] * len(probs_l),
                                 lambda *a: ("woodruff", lo_, hi_), extra={"quantile": probs_l},
                                 n_missing=dom.sizes()[:, None] - n)
            frames.append(frame)
        out = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
        out.attrs["n_no_domain"] = dom.n_no_domain
        return out


@dataclass
class _Scores:
    """What one pass over the rows gives: cells, estimates, cell scores and, for a calibrated
    design, the row arrays its residualisation needs (x = w (alpha a + beta b) per domain)."""

    cells: Cells
    est: np.ndarray
    n: np.ndarray
    Z: np.ndarray
    C: np.ndarray
    CNZ: np.ndarray | None
    rows: list
    alpha: np.ndarray
    beta: np.ndarray
    ratio: bool
    SB: np.ndarray | None = None


def factorize_sorted(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes 0..k-1 of an int64 key in sorted order of the key, and the sorted distinct keys."""
    codes, uniq = pd.factorize(key, sort=True)
    return codes.astype(np.int64), np.asarray(uniq, dtype=np.int64)
