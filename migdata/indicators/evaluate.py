"""The indicator evaluator: the catalogue over a dataset, at every area level and disaggregation.

``compute(dataset, ids, level, by, ...)`` returns one long table (one row per indicator x area x
disaggregation cell x category) with the estimate, its precision (SE, CI, CV), unweighted n and
a reliability flag. It is the estimates as the dataset's design gives them; disclosure control
is applied when they are published (:func:`migdata.compute`, :mod:`migdata.publish`).

This module maps catalogue entries onto the estimation engine; it estimates nothing itself:

- the unit tables are the dataset's analysis frames with the derived attributes of
  :mod:`migdata.indicators.derive` (one join: ``HouseholdData.frame``);
- **complete counts** (CBMS, census) go through the cell-sum engine of
  :mod:`migdata.survey.cells` (sums into the finest cells, then every level and every subset of
  ``by``), which also sums the record keys that disclosure control needs;
- **sample surveys** go through the dataset's one design (``HouseholdData.design``, built from
  its :class:`~migdata.model.spec.DesignSpec`): each grouping set is one call with integer domain
  codes (units outside the indicator's universe get code -1: the design is never subset), giving
  SE, CI, CV, df, n and the reliability flag. Estimates are never shown below the design domain
  (``DesignSpec.design_domain``, region by default).

Empty universes (no children in a small area or in a small sample) never stop ``compute``.
An indicator with *no unit at all* in its universe in this dataset (no child 0-17 for CL01) is
listed as not computable with the reason :data:`NO_UNITS`, for complete counts and surveys
alike: a table of empty rows would only repeat "nothing here" once per area and cell, and a
survey estimate of 0 with SE 0 would look like a precise figure. Within a computed indicator, a
domain (area x cell) without units in the universe has no row (as R ``svyby``); a count of 0
over a non-empty universe is a row with estimate 0.

An indicator whose columns are absent or empty in the dataset is not computed; it is listed with
the reason in ``result.attrs["not_computable"]`` (a DataFrame; also :func:`not_computable`) and by
:func:`availability`. Clear ``attrs`` before ``pd.concat`` of two results (pandas compares them).

Example:
    >>> import pandas as pd
    >>> from migdata.model import HouseholdData
    >>> hh = pd.DataFrame({"hh_id": ["A", "B"], "weight": 1.0, "source": "demo",
    ...     "region": "0400000000", "province": "0401000000", "city_mun": "0401001000",
    ...     "barangay": ["0401001001", "0401001002"]})
    >>> pp = pd.DataFrame({"hh_id": ["A", "A", "B"], "line_no": [1, 2, 1], "age": [40, 30, 50],
    ...     "sex": ["male", "female", "female"], "relationship": ["head", "spouse", "head"],
    ...     "of_status": ["ofw_contract", "resident", "resident"]})
    >>> d = HouseholdData({"households": hh, "persons": pp}, provenance={"complete_count": True})
    >>> t = compute(d, ids=["OF02"], level="city", by=["sex"])
    >>> t[["area_level", "sex", "estimate"]].values.tolist()
    [['region', 'Total', 1.0], ['region', 'female', 0.0], ['region', 'male', 1.0], ['province', 'Total', 1.0], ['province', 'female', 0.0], ['province', 'male', 1.0], ['city', 'Total', 1.0], ['city', 'female', 0.0], ['city', 'male', 1.0]]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import numpy as np
import pandas as pd

from migdata._kernels.keys import lexsort_ints, run_starts
from migdata._kernels.parallel import imap_in_threads, map_in_threads, map_shared, release_freed_memory
from migdata.areas import levels as area_levels
from migdata.areas.levels import LEVELS, NATIONAL_CODE, NATIONAL_NAME
from migdata.errors import DataError, UsageError
from migdata.indicators import derive, expr
from migdata.indicators.catalogue import Indicator, catalogue
from migdata.model.data import HouseholdData
from migdata.model.frame import household_positions
from migdata.survey import cells, reliability
from migdata.survey.cells import CellSpace, subsets

TOTAL = "Total"
NOT_STATED = cells.NOT_STATED
#: Why a sample-survey indicator with an empty universe has no rows (see module docstring).
NO_UNITS = "no units in the universe: no unit of this dataset meets the indicator's universe"
OUT_COLUMNS = ["indicator_id", "name", "area_level", "area_code", "area_name", "parent_code"]
VALUE_COLUMNS = ["category", "estimate", "se", "ci_low", "ci_high", "cv", "n", "numerator", "denominator",
                 "units", "flag", "suppressed", "suppression", "unit", "measure", "source", "period"]


# ----------------------------------------------------------------------------- labels
class _Labels:
    """A growing label list shared by all indicators, so every text column of the result is a
    Categorical built once from integer codes (far cheaper than millions of Python strings)."""

    def __init__(self, first: Sequence[str] = ()) -> None:
        self.labels: list[str] = []
        self.index: dict[str, int] = {}
        for x in first:
            self.code(x)

    def code(self, label: Any) -> int:
        key = "" if label is None or (isinstance(label, float) and np.isnan(label)) else str(label)
        if key not in self.index:
            self.index[key] = len(self.labels)
            self.labels.append(key)
        return self.index[key]

    def codes(self, labels: Sequence[Any]) -> np.ndarray:
        return np.array([self.code(x) for x in labels], dtype=np.int64)

    def categorical(self, codes: np.ndarray) -> pd.Categorical:
        return pd.Categorical.from_codes(codes, categories=pd.Index(self.labels, dtype=object))


# ----------------------------------------------------------------------------- availability
def _requirements(ind: Indicator) -> set[str]:
    req: set[str] = set()
    for c in ind.columns():
        req |= set(derive.DEPENDS.get(c, [c])) if c in derive.DEPENDS else {c}
    return req


def availability(dataset: Any, ids: Sequence[str] | None = None) -> pd.DataFrame:
    """Which catalogue indicators this dataset supports: ``indicator_id``, ``name``, ``status``
    (``computable`` / ``not computable``) and ``reason``.

    Example:
        >>> import pandas as pd
        >>> from migdata.model import HouseholdData
        >>> d = HouseholdData({"households": pd.DataFrame({"hh_id": ["A"], "weight": [1.0]}),
        ...                    "persons": pd.DataFrame({"hh_id": ["A"], "line_no": [1], "age": [3]})})
        >>> availability(d, ["OF02"])["reason"].iloc[0]
        'column(s) of_status not in this dataset or empty'
    """
    cat = _select(ids)
    present = derive.columns_present(dataset)
    rows = []
    for ind in cat:
        if ind.unit == "association":
            tables = dataset.tables() if _is_store(dataset) else getattr(dataset, "tables", {})
            if "associations" not in tables:
                rows.append((ind.id, ind.name, "not computable",
                             "needs an associations registry table (administrative data), not household data"))
                continue
        missing = sorted(r for r in _requirements(ind) if r not in present[ind.unit if ind.unit in present
                                                                            else "person"])
        if missing:
            shown = ["reference date (provenance 'reference_date')" if m == "@reference_date" else m
                     for m in missing]
            rows.append((ind.id, ind.name, "not computable",
                         f"column(s) {', '.join(shown)} not in this dataset or empty"))
        else:
            rows.append((ind.id, ind.name, "computable", ""))
    return pd.DataFrame(rows, columns=["indicator_id", "name", "status", "reason"])


def not_computable(table: pd.DataFrame) -> pd.DataFrame:
    """The indicators :func:`compute` could not compute for its dataset, with the reason
    (``indicator_id``, ``name``, ``status``, ``reason``), from ``table.attrs``."""
    nc = table.attrs.get("not_computable", [])
    if isinstance(nc, pd.DataFrame):
        return nc.copy()
    return pd.DataFrame(nc, columns=["indicator_id", "name", "status", "reason"])


def _select(ids: Sequence[str] | str | None) -> list[Indicator]:
    cat = catalogue()
    if ids is None:
        return list(cat.values())
    if isinstance(ids, str):
        ids = [i.strip() for i in ids.split(",") if i.strip()]
    out = []
    for i in ids:
        if i not in cat:
            raise UsageError("MD701", value=i, choices=", ".join(cat))
        out.append(cat[i])
    return out


# ----------------------------------------------------------------------------- catalogue -> row arrays
def _masks(ind: Indicator, df: pd.DataFrame, cache: dict | None = None) -> dict[str, Any]:
    """Universe mask and the per-row numerator/denominator arrays of an indicator."""
    def ev(field: str, text: str | None) -> Any:
        key = (id(df), text)
        if cache is not None and key in cache:
            return cache[key]
        val = expr.evaluate(text, df, (ind.id, field))
        if cache is not None and field == "universe":  # universes repeat; keep memory bounded
            cache[key] = val
        return val

    def as_bool(v: Any) -> np.ndarray:
        if isinstance(v, np.ndarray) and v.dtype == bool:
            return v
        if isinstance(v, pd.arrays.BooleanArray):
            return v.to_numpy(dtype=bool, na_value=False)
        if isinstance(v, pd.Series) and pd.api.types.is_bool_dtype(v.dtype):
            return v.to_numpy(dtype=bool, na_value=False)
        return pd.Series(v).astype("boolean").fillna(False).to_numpy(dtype=bool)

    def as_num(v: Any) -> np.ndarray:
        return pd.to_numeric(pd.Series(v), errors="coerce").astype("Float64").to_numpy(
            dtype="float64", na_value=np.nan)

    u = as_bool(ev("universe", ind.universe))
    st = ind.statistic
    out: dict[str, Any] = {"u": u}
    if st in ("count", "share"):
        out["num"] = as_bool(ev("numerator", ind.numerator)) & u if ind.numerator else u.copy()
        out["den"] = u
    elif st in ("total", "mean", "median"):
        v = as_num(ev("value", ind.value))
        ok = u & ~np.isnan(v)
        out["u"] = ok
        out["value"] = np.where(ok, v, 0.0)
        out["num"] = ok
        out["den"] = ok
    elif st == "ratio":
        a, b = as_num(ev("numerator", ind.numerator)), as_num(ev("denominator", ind.denominator))
        ok = u & ~np.isnan(a) & ~np.isnan(b)
        out["u"] = ok
        out["a"], out["b"] = np.where(ok, a, 0.0), np.where(ok, b, 0.0)
        out["num"] = ok
        out["den"] = ok
    return out


def _categories(ind: Indicator, df: pd.DataFrame, u: np.ndarray) -> tuple[np.ndarray, list[str], np.ndarray] | None:
    """Category codes per row (for distributions), labels, and which labels to report."""
    if ind.multi:
        return None
    s = df[ind.category]
    dim = cells.factor(s.rename(ind.category))
    labels = dim.labels
    # Report the categories met in the universe; a short fixed code list is shown in full
    # (a 0 % share is information), "not stated" only when it occurs.
    seen = np.bincount(dim.codes[u], minlength=len(labels)) > 0
    return dim.codes, labels, _kept_categories(ind, labels, seen, isinstance(s.dtype, pd.CategoricalDtype))


def _kept_categories(ind: Indicator, labels: list[str], seen: np.ndarray, categorical: bool) -> np.ndarray:
    """Which categories of a distribution are reported: those met in the universe (``seen``);
    a short fixed code list in full (a 0 % share is information), "not stated" (the last label)
    only when it occurs; only the indicator's own ``categories`` when it names some."""
    fixed = categorical and len(labels) <= 26
    keep = seen | (fixed & (np.arange(len(labels)) < len(labels) - 1))
    if ind.categories:
        keep &= np.isin(labels, list(ind.categories))
    return keep


def _multi(ind: Indicator, df: pd.DataFrame, u: np.ndarray) -> tuple[list[str], list[np.ndarray]]:
    s = df[ind.multi].astype("string")
    distinct = s[u].dropna().unique()  # few distinct answer strings, many rows
    codes = sorted({t for row in distinct for t in str(row).split()})
    arrs = [expr.evaluate(f"has({ind.multi}, {c!r})", df, (ind.id, "multi")) & u for c in codes]
    return codes, arrs


# ----------------------------------------------------------------------------- survey path
def _survey(space: CellSpace, design: Any, dims: list[str], m: dict[str, Any], ind: Indicator,
            levels: list[str], cat: Any, multi: Any) -> pd.DataFrame | None:
    """Design-based estimates for every grouping set, on the dataset's one design: each grouping
    set is a call with integer domain codes (units outside the universe get -1, so the design
    is never subset). ``None`` when no sampled unit is in the universe."""
    st = ind.statistic
    u = m["u"] & space.in_area
    if not u.any():
        return None
    work: dict[str, Any] = {}
    variables: list[tuple[str, Any, Any]] = []   # (kind, column(s), category label)
    if st == "count":
        work["_y"] = m["num"].astype(float)
        variables.append(("total", "_y", -1))
    elif st == "total":
        work["_y"] = m["value"]
        variables.append(("total", "_y", -1))
    elif st == "mean":
        work["_y"] = m["value"]
        variables.append(("mean", "_y", -1))
    elif st == "median":
        work["_y"] = np.where(u, m["value"], np.nan)
        variables.append(("median", "_y", -1))
    elif st == "ratio":
        work["_a"], work["_b"] = m["a"], m["b"]
        variables.append(("ratio", ("_a", "_b"), -1))
    elif st == "share":
        # shares are proportions (logit intervals, as R svyciprop); multiple response: 0/1 means
        if cat is not None:
            codes, labels, keep = cat
            work["_p"] = pd.Categorical.from_codes(np.where(m["u"], codes, -1), categories=range(len(labels)))
            variables.append(("proportion", "_p", keep))
        elif multi is not None:
            labels, arrs = multi
            for j, arr in enumerate(arrs):
                work[f"_c{j}"] = arr.astype(float)
                variables.append(("mean", f"_c{j}", j))
        else:
            work["_p"] = pd.Categorical.from_codes(np.where(m["u"], m["num"].astype(np.int64), -1),
                                                   categories=[0, 1])
            variables.append(("proportion", "_p", None))
    d = design.update(**work)
    frames = []
    for lev in levels:
        acode = np.where(space.in_area, space.up[lev][np.maximum(space.area_codes, 0)], -1)
        for keep in subsets(dims):
            sizes = [space.dims[k].size for k in keep]
            code = acode.copy()
            for k, size in zip(keep, sizes):
                code = code * size + space.dims[k].codes
            code = np.where(u & (acode >= 0), code, -1)
            present, inv = np.unique(code[code >= 0], return_inverse=True)
            if len(present) == 0:
                continue
            dcode = np.full(len(code), -1, dtype=np.int64)
            dcode[code >= 0] = inv
            calls: list[tuple[pd.DataFrame, np.ndarray]] = []
            means = [(var, j) for kind, var, j in variables if kind == "mean"]
            if means:
                res = d.mean([v for v, _ in means], by=dcode)
                jmap = {v: j for v, j in means}
                calls.append((res, res["variable"].map(jmap).to_numpy()))
            for kind, var, j in variables:
                if kind == "mean":
                    continue
                if kind == "proportion":
                    res = d.proportion(var, by=dcode)
                    catj = res["category"].to_numpy().astype(np.int64)
                    if j is None:  # a plain share: the "yes" category
                        res, jj = res[catj == 1], np.full(int((catj == 1).sum()), -1)
                    else:
                        sel = j[catj]
                        res, jj = res[sel], catj[sel]
                    calls.append((res.reset_index(drop=True), jj))
                    continue
                if kind == "total":
                    res = d.total(var, by=dcode)
                elif kind == "ratio":
                    res = d.ratio(var[0], var[1], by=dcode)
                else:
                    res = d.quantile(var, [0.5], by=dcode)
                calls.append((res, np.full(len(res), j)))
            for res, jj in calls:
                rest = present[res["domain"].to_numpy().astype(np.int64)]
                g = pd.DataFrame({c: res[c].to_numpy() for c in ("estimate", "se", "ci_low", "ci_high", "cv")})
                g["n"] = res["n"].to_numpy().astype(float)
                g["flag"] = res["flag"].to_numpy()
                for k, size in zip(reversed(keep), reversed(sizes)):
                    g[k] = rest % size
                    rest = rest // size
                g["_alev"] = rest
                for k in dims:
                    if k not in keep:
                        g[k] = -1
                g["_cat"] = jj.astype(np.int64)
                g["area_level"] = LEVELS.index(lev)
                frames.append(g)
    out = pd.concat(frames, ignore_index=True)
    scale = 100.0 if st == "share" else (ind.scale if st == "ratio" else 1.0)
    for c in ("estimate", "se", "ci_low", "ci_high"):
        out[c] = out[c] * scale
    out["units"] = out["n"]
    out["numerator"] = np.nan
    out["denominator"] = np.nan
    return out


@dataclass
class Plan:
    """What a :func:`compute` call evaluates, decided once from the dataset's metadata (never
    from its rows), so that every partition of a store is evaluated the same way: the
    computable complete-count indicators, the levels each is shown at, the disaggregations, the
    columns person units need (the household columns they carry, the derived person columns
    computed) and the secret of the record keys."""

    inds: list[Indicator]
    levels_of: dict[str, list[str]]
    levels: list[str]
    by: list[str]
    age_scheme: Any
    need: list[str]
    key: str


def partial(plan: Plan, data: Any, progress: Any = None) -> dict[str, Any]:
    """Stage 1 of every indicator of ``plan`` on one partition of a complete count (or on a
    whole dataset in memory): the derived unit tables, then for each indicator the sums of its
    finest cells (:func:`migdata.survey.cells.stage1`; value histograms for medians) with the
    partition's own codes, the labels of those codes (areas, ``by`` columns, categories) and
    which categories occur in the universe. Partitions are reduced by :func:`finish`.

    A partition of more than :data:`BLOCK_PERSONS` persons is evaluated a block of whole
    households at a time and the blocks' sums reduced (:func:`reduce_partials`): the same sums.

    An indicator with no unit of the partition in its universe is absent from ``"inds"``.
    ``progress(message, done, total)`` hears each indicator."""
    blocks = household_blocks(data, plan.levels[0], BLOCK_PERSONS)
    if len(blocks) == 1:
        return _partial(plan, data, progress)

    def one(item: tuple[int, Any]) -> dict[str, Any]:
        j, block = item
        say = None if progress is None else \
            (lambda msg, done, total: progress(msg, j * total + done, len(blocks) * total))
        return _partial(plan, block, say)

    # the engine's threads that have no partition left compute blocks of this one
    return reduce_partials(plan, map_shared(one, enumerate(blocks)))


#: Persons per block of :func:`partial`. A block's 64-bit arrays (12 MB) stay below the size
#: from which the C library maps each new array afresh (32 MB): one block's temporaries reuse
#: the memory of the last, where a partition of 4 M persons paid the kernel for fresh pages on
#: every one (a 4.3 M-person partition: 5.9-6.4 s whole, 4.6-5.0 s in three blocks).
BLOCK_PERSONS = 1_500_000


def household_blocks(data: Any, level: str, size: int) -> list[Any]:
    """``data`` as blocks of whole households of at most about ``size`` persons each, cut where
    the ``level`` area changes when it can (a cell then lies in one block); ``[data]`` when it
    has at most ``size`` persons, has other unit tables, or its persons do not follow its
    households in order (the order a store keeps). A partition of 1.5-3 M persons is cut in two
    as well: the engine's other thread then has a block to take when it is the last one."""
    names = {"person": "persons", "household": "households", **data.provenance.units}
    hh_name, pp_name = names["household"], names["person"]
    hh, pp = data.tables.get(hh_name), data.tables.get(pp_name)
    if hh is None or pp is None or len(pp) <= size or "hh_id" not in pp.columns:
        return [data]
    hpos = household_positions(hh, pp)
    if hpos[0] < 0 or (np.diff(hpos) < 0).any():
        return [data]  # orphans or another order: one block (no cut is safe)
    col = area_levels.COLUMN.get(level)
    change = run_starts(hh, [col])[1:] if col in hh.columns else np.arange(1, len(hh))
    nb = -(-len(pp) // size)
    cuts = [0]
    for j in range(1, nb):
        want = int(hpos[j * len(pp) // nb])  # the household at the j-th share of the persons
        k = np.searchsorted(change, want)
        cut = int(change[k]) if k < len(change) else len(hh)
        if cuts[-1] < cut < len(hh):
            cuts.append(cut)
    if len(cuts) == 1:
        return [data]
    cuts.append(len(hh))
    pcuts = np.searchsorted(hpos, cuts)
    pcuts[-1] = len(pp)
    return [HouseholdData({hh_name: hh.iloc[a:b].reset_index(drop=True),
                           pp_name: pp.iloc[c:d].reset_index(drop=True)},
                          codebook=data.codebook, provenance=data.provenance, report=data.report)
            for a, b, c, d in zip(cuts[:-1], cuts[1:], pcuts[:-1], pcuts[1:])]


def _partial(plan: Plan, data: Any, progress: Any = None) -> dict[str, Any]:
    """:func:`partial` of one block."""
    units = derive.units(data, plan.age_scheme, household_columns=plan.need, person_columns=plan.need)
    known = set(units["person"].columns) | set(units["household"].columns)
    for b in plan.by:
        if b not in known:
            raise UsageError("MD705", value=b, table="this dataset",
                             choices=", ".join(sorted(c for c in known if not c.startswith("_"))))
    out: dict[str, Any] = {"areas": {}, "dims": {}, "inds": {}}
    spaces: dict[str, tuple[CellSpace, np.ndarray | None]] = {}
    cache: dict = {}
    for i, ind in enumerate(plan.inds):
        if progress is not None:
            progress("indicators", i, len(plan.inds))
        unit = ind.unit
        fr = units[unit]
        if unit not in spaces:
            space = cells.cell_space(fr, plan.levels, [b for b in plan.by if b in fr.columns])
            keys = cells.unit_keys(fr, unit, plan.key)
            spaces[unit] = (space, keys)
            out["areas"][unit] = cells.area_table(space, plan.levels)
            out["dims"][unit] = {b: _no_codes(d) for b, d in space.dims.items()}
        space, keys = spaces[unit]
        m = _masks(ind, fr, cache)
        u = m["u"] & space.in_area
        if not u.any():
            continue
        dims = [b for b in plan.by if b in space.dims and b not in ind.not_by and b != ind.category]
        res: dict[str, Any] = {"dims": dims}
        cat = multi = None
        if ind.category:
            dim = cells.factor(fr[ind.category].rename(ind.category))
            cat = (dim.codes, dim.labels)
            res["cat"] = _no_codes(dim)
            res["seen"] = np.bincount(dim.codes[m["u"]], minlength=dim.size) > 0
        elif ind.multi:
            multi = _multi(ind, fr, m["u"])
            res["multi"] = multi[0]
        if ind.statistic == "median":
            res["hist"] = cells.median_cells(space, dims, m, keys)
        else:
            den_cache = ind.universe if ind.statistic in ("count", "share") else None
            res["cells"], res["dom"] = cells.stage1(space, dims, m, ind.statistic, cat, multi, keys, den_cache)
        out["inds"][ind.id] = res
    if progress is not None:
        progress("indicators", len(plan.inds), len(plan.inds))
    return out


def _no_codes(dim: cells.Dim) -> cells.Dim:
    """A :class:`Dim` without its row codes (what a partition sends to the reduction)."""
    return cells.Dim(dim.name, np.zeros(0, dtype=np.int64), dim.labels, dim.values, dim.categorical)


_SUMS = ("num", "den", "n", "units", "ck_num", "ck_den")
_MAXES = ("top_num", "top_den")


def _remap(frame: pd.DataFrame, area: np.ndarray, dims: dict[str, np.ndarray],
           cat: np.ndarray | None) -> pd.DataFrame:
    """A partition's cells with merged codes (area, dims, category)."""
    out = frame.copy()
    out["_area"] = area[frame["_area"].to_numpy().astype(np.int64)]
    for d, mp in dims.items():
        if d in out.columns:
            out[d] = mp[out[d].to_numpy().astype(np.int64)]
    if cat is not None and "_cat" in out.columns:
        c = out["_cat"].to_numpy().astype(np.int64)
        out["_cat"] = np.where(c >= 0, cat[np.maximum(c, 0)], c)
    return out


def _unit_spaces(plan: Plan, partials: Sequence[dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    """Per unit: the partials that evaluated it, their merged :class:`CellSpace` and the maps of
    each partial's area and dim codes to the merged ones (:func:`cells.merge_spaces`)."""
    out: dict[str, tuple[Any, ...]] = {}
    for unit in {ind.unit for ind in plan.inds}:
        have = [p for p in partials if unit in p["areas"]]
        if have:
            names = list(have[0]["dims"][unit])
            out[unit] = (have, *cells.merge_spaces([p["areas"][unit] for p in have], plan.levels,
                                                   {b: [p["dims"][unit][b] for p in have] for b in names}))
    return out


def _merged(ind: Indicator, unit_space: tuple[Any, ...], take: bool = False) -> dict[str, Any] | None:
    """One indicator's stage-1 results of several partitions as one result in the merged codes
    of ``unit_space`` (:func:`_unit_spaces`): categories merged (which occur anywhere), cells
    with the same codes added (``cells.combine``), histograms put together; None when no
    partition has the indicator. ``take``: the results are taken out of the partials (freed
    once merged). The one reduction of :func:`finish` and :func:`reduce_partials`."""
    have, _, amaps, dmaps = unit_space
    idx = [i for i, p in enumerate(have) if ind.id in p["inds"]]
    if not idx:
        return None
    res = [have[i]["inds"].pop(ind.id) if take else have[i]["inds"][ind.id] for i in idx]
    dims = res[0]["dims"]
    out: dict[str, Any] = {"dims": dims}
    catmaps: list[np.ndarray | None] = [None] * len(res)
    if ind.category:
        gdim, catmaps = cells.merge_dims([r["cat"] for r in res])
        seen = np.zeros(len(gdim.labels), dtype=bool)
        for r, mp in zip(res, catmaps):
            seen[mp[r["seen"]]] = True
        out["cat"], out["seen"] = gdim, seen
    elif ind.multi:
        codes = sorted({c for r in res for c in r["multi"]})
        pos = {c: i for i, c in enumerate(codes)}
        catmaps = [np.array([pos[c] for c in r["multi"]], dtype=np.int64) for r in res]
        out["multi"] = codes
    remap = [(amaps[i], {d: dmaps[d][i] for d in dims}, cm) for i, cm in zip(idx, catmaps)]
    if ind.statistic == "median":
        out["hist"] = pd.concat([_remap(r["hist"], *rm) for r, rm in zip(res, remap)], ignore_index=True)
        return out
    c = [_remap(r["cells"], *rm) for r, rm in zip(res, remap)]
    cols = c[0].columns
    keys = ["_area", *dims, "_cat"]
    out["cells"] = cells.combine(c, keys, [x for x in _SUMS if x in cols], [x for x in _MAXES if x in cols])
    out["dom"] = None
    if res[0]["dom"] is not None:
        dom = [_remap(r["dom"], *rm) for r, rm in zip(res, remap)]
        out["dom"] = cells.combine(dom, keys, [x for x in _SUMS if x in dom[0].columns])
    return out


def reduce_partials(plan: Plan, partials: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Several :func:`partial` results (blocks of one partition, or partitions) as one, in
    merged codes: what :func:`finish` makes of them is what it makes of the one. Used to add up
    the blocks of a partition where they are computed, so the reduction sees one result per
    partition."""
    out: dict[str, Any] = {"areas": {}, "dims": {}, "inds": {}}
    spaces = _unit_spaces(plan, partials)
    for unit, (_, space, _, _) in spaces.items():
        out["areas"][unit] = cells.area_table(space, plan.levels)
        out["dims"][unit] = space.dims
    for ind in plan.inds:
        m = _merged(ind, spaces[ind.unit]) if ind.unit in spaces else None
        if m is not None:
            out["inds"][ind.id] = m
    return out


def finish(plan: Plan, partials: Sequence[dict[str, Any]], notes: list[str] | None = None
           ) -> tuple[list[dict[str, Any]], list[Indicator], list[tuple[str, str, str, str]], dict[str, _Labels]]:
    """Reduce the stage-1 sums of every partition (:func:`partial`) and finish each indicator:
    merged codes, categories, roll-up to every level and subset of ``by``, estimates, cell keys,
    labels. Returns the labelled parts, the indicators done, those with no unit anywhere (not
    computable) and the shared label lists (for :func:`_assemble`)."""
    reg = _registry(plan.by)
    results, done, missing = [], [], []
    for ind, part in finish_each(plan, partials, reg):
        if part is None:
            missing.append((ind.id, ind.name, "not computable", NO_UNITS))
        else:
            results.append(part)
            done.append(ind)
    return results, done, missing, reg


def _registry(by: Sequence[str]) -> dict[str, _Labels]:
    """The shared label lists of one result (areas, categories, flags, each ``by`` column)."""
    return {"area": _Labels([""]), "category": _Labels([""]), "flag": _Labels(),
            **{b: _Labels([TOTAL]) for b in by}}


def finish_each(plan: Plan, partials: Sequence[dict[str, Any]], reg: dict[str, _Labels]):
    """:func:`finish` one indicator at a time: yields ``(indicator, labelled part)``, or
    ``(indicator, None)`` for an indicator with no unit in any partition. Only one indicator's
    rows are held at a time (a national table is published batch by batch)."""
    by = plan.by
    spaces = _unit_spaces(plan, partials)

    def numeric(ind: Indicator) -> tuple[Any, ...] | None:
        """The indicator's cube from its partition sums (None: no unit in any partition)."""
        if ind.unit not in spaces:
            return None
        space = spaces[ind.unit][1]
        # taken out of the partials: an indicator's partition sums are freed once it is finished
        m = _merged(ind, spaces[ind.unit], take=True)
        if m is None:
            return None
        dims = m["dims"]
        cat_info = multi_info = None
        zeros = False
        keep = None
        if ind.category:
            labels = m["cat"].labels
            keep = _kept_categories(ind, labels, m["seen"], m["cat"].categorical)
            zeros = len(labels) <= 27
            cat_info = (None, labels, keep)
        elif ind.multi:
            keep, zeros = np.ones(len(m["multi"]), dtype=bool), True
            multi_info = (m["multi"], None)
        st = ind.statistic
        if st == "median":
            cube = cells.median_rollup(m["hist"], space, plan.levels_of[ind.id], dims)
        else:
            c = m["cells"]
            cols = c.columns
            lv = plan.levels_of[ind.id]
            has_keys = "ck_num" in cols
            if m["dom"] is None:
                cube = cells.rollup(c, space, lv, dims, [x for x in _SUMS if x in cols],
                                    [x for x in _MAXES if x in cols])
            else:
                dom = m["dom"]
                c = cells.categories(c, dom, dims, keep, zeros)
                ks = ["ck_num", "ck_den"] if has_keys else []
                on = ["area_level", "_alev", *dims]
                dcube = cells.rollup(dom, space, lv, dims, ["den", "n", *ks[1:]]).drop(columns=["_cat"])
                cube = cells.attach(cells.rollup(c, space, lv, dims, ["num", "units", *ks[:1]]), dcube, on)
        c = dom = dcube = m = None  # noqa: F841  (freed before the labels)
        cube = cells.estimates(cube, st, ind.scale)
        for c_ in ("ck_num", "ck_den"):
            if c_ in cube.columns:
                cube["_" + c_] = cells.cell_key(cube.pop(c_).to_numpy())
        for c_ in ("top_num", "top_den"):
            if c_ in cube.columns:
                cube["_" + c_] = cube.pop(c_)
        if ind.category and not zeros:
            cube["_sparse"] = 1.0  # the list's categories have rows only where they occur
        rows = _label_rows(cube, space, by, dims, plan.levels_of[ind.id], reg, reliability.COMPLETE_COUNT)
        return rows, cat_info, multi_info

    # Every label the rows use but the categories' enters the shared lists now, in indicator
    # order, so that the rows can be put in order on other threads (_label)
    for ind in plan.inds:
        if ind.unit in spaces:
            res = next((p["inds"][ind.id] for p in spaces[ind.unit][0] if ind.id in p["inds"]), None)
            if res is not None:
                _register(reg, spaces[ind.unit][1], plan.levels_of[ind.id], by, res["dims"],
                          reliability.COMPLETE_COUNT)

    # Small results (a region): the next indicators' cubes are computed on the other core while
    # one is labelled. A national result is finished one indicator at a time (memory).
    rows = sum(len(r[k]) for p in partials for r in p["inds"].values()
               for k in ("cells", "dom", "hist") if r.get(k) is not None)
    ahead = LOOKAHEAD if rows <= LOOKAHEAD_ROWS else 0
    ind_code = 0
    for ind, got in imap_in_threads(numeric, plan.inds, ahead):
        if got is None:
            yield ind, None
            continue
        rows, cat_info, multi_info = got
        got = None
        part = _label_categories(rows, cat_info, multi_info, reg, ind_code)
        rows = None
        ind_code += 1
        yield ind, part
        part = None
        if not ahead:
            # a national part and its table are gone once the caller asks for the next one: their
            # freed heap goes back before the next indicator is finished (110 M persons: 11.2 GB
            # at the peak before the references were dropped and this was done, 8.0 GB after)
            release_freed_memory()


#: Indicators finished ahead of the one being labelled (:func:`finish_each`), when the
#: partition sums of all indicators hold at most ``LOOKAHEAD_ROWS`` rows: a region's whole
#: catalogue (CALABARZON, 16.2 M persons: 2.9 M rows), never a national request, whose
#: distributions hold 3-5 M rows each and finish into 4-5 times as many (four of them side by
#: side peaked at 13.3 GB with 20 M here; results/scale.md, "Late evening of 7 December").
LOOKAHEAD = 2
LOOKAHEAD_ROWS = 5_000_000


# ----------------------------------------------------------------------------- public API
def _area_names(codes: Sequence[str]) -> list[str]:
    """Names of PSGC codes from the areas reference (empty when unknown or not installed)."""
    names = {NATIONAL_CODE: NATIONAL_NAME, "": ""}
    try:
        from migdata.areas import reference  # built in parallel; optional here

        ref = reference()
        names.update(zip(ref["psgc"].astype(str), ref["name"].astype(str)))
    except Exception:  # no reference: the codes are shown, names stay empty
        pass
    return [names.get(str(c), "") for c in codes]


def compute(dataset: Any, ids: Sequence[str] | str | None = None, level: str = "city",
            by: Sequence[str] | str | None = ("sex", "age_group"), age_scheme: str | Sequence[int] = "broad",
            policy: Any = None, engine: Any = None, progress: Any = None, cache: bool = True) -> pd.DataFrame:
    """Compute catalogue indicators for ``dataset``: the estimates as the design gives them,
    before disclosure control. To publish them (Excel, CSV, a report) use
    :func:`migdata.compute`, which applies disclosure control to this table.

    ``dataset`` is a :class:`~migdata.model.HouseholdData`, or a partitioned store (its folder
    or a :class:`~migdata.model.partitions.Store`), which is evaluated partition by partition
    without ever holding more than one partition in memory: a complete count's indicators are
    sums over finest cells, so each partition's cell sums (:func:`partial`) are reduced and
    finished once (:func:`finish`), which gives the same table as the whole dataset in memory.
    A sample survey's design needs all its rows: a store of one is read whole.

    Args:
        ids: indicator ids (default: every computable indicator of the catalogue).
        level: finest area level (``barangay``, ``city``, ``province``, ``region``, ``national``);
            every higher level is added, each with its totals. A sample survey is not shown below
            its design domain (``DesignSpec.design_domain``).
        by: disaggregation columns (``sex``, ``age_group``, ``urban_rural``, ``migratory_status``,
            ``hh_migratory_status``, ``head_sex``, ``of_status``, any tidy column). A column that
            does not apply to an indicator's unit (sex for households) or that the indicator
            excludes (``not_by``) is shown as ``Total``.
        age_scheme: age groups for ``age_group`` (``five_year``, ``broad``, ... or cut points).
        policy: reliability policy for sample surveys (name or ``ReliabilityPolicy``).
        engine: where partitions are evaluated (:func:`migdata.survey.engine.get_engine`: None
            or ``"local"`` in this process; ``"dask"``, a Dask ``Client`` or a scheduler address
            on a Dask cluster).
        progress: ``progress(message, done, total)`` (:mod:`migdata.progress`): each indicator
            of a dataset in memory, each partition of a store.
        cache: keep each partition's cell sums in the store and use them again (see
            :func:`partition_task`); False computes every partition anew.

    Returns the long table (see module docstring); ``attrs["not_computable"]`` lists indicators
    the dataset cannot support, with the reason (read it with :func:`not_computable`);
    ``attrs["notes"]`` says what was adjusted. Complete-count rows carry the cell keys and
    largest contributions that disclosure control needs (columns starting with ``_``).
    """
    return next(_evaluate(dataset, ids, level, by, age_scheme, policy, engine, progress, cache, False, {}))


def compute_batches(dataset: Any, ids: Sequence[str] | str | None = None, level: str = "city",
                    by: Sequence[str] | str | None = ("sex", "age_group"), age_scheme: str | Sequence[int] = "broad",
                    policy: Any = None, engine: Any = None, progress: Any = None, cache: bool = True,
                    attrs: dict[str, Any] | None = None) -> Iterator[pd.DataFrame]:
    """:func:`compute` as a sequence of tables, one per indicator, for a partitioned complete
    count (any other dataset gives its one table): a national table (tens of millions of rows)
    is then written batch by batch without ever being held whole. Each table has the columns of
    :func:`compute`'s and the same rows; ``attrs`` (a dict, when given) receives the table's
    attributes (the indicators not computable, notes) once the last batch is out.

    Example:
        >>> for t in compute_batches("store", level="barangay"):    # doctest: +SKIP
        ...     t.to_parquet(f"{t['indicator_id'].iloc[0]}.parquet")
    """
    return _evaluate(dataset, ids, level, by, age_scheme, policy, engine, progress, cache, True,
                     attrs if attrs is not None else {})


def _evaluate(dataset: Any, ids: Any, level: str, by: Any, age_scheme: Any, policy: Any, engine: Any,
              progress: Any, cache: bool, batches: bool, final: dict[str, Any]) -> Iterator[pd.DataFrame]:
    """The one evaluation behind :func:`compute` (one table) and :func:`compute_batches`."""
    if isinstance(by, str):
        by = [b.strip() for b in by.split(",") if b.strip()]
    if isinstance(age_scheme, str) and "," in age_scheme:  # cut points from a command line: "0,15,30,60"
        try:
            age_scheme = [int(x) for x in age_scheme.split(",") if x.strip()]
        except ValueError:
            pass  # age_group() names the problem
    by = list(by or [])
    dataset = _open(dataset)
    store = dataset if _is_store(dataset) else None
    inds = _select(ids)
    spec = dataset.spec
    complete = spec.complete_count
    if store is not None and not complete:
        dataset, store = store.read(), None  # a survey's design needs all its rows
    prov = dataset.provenance
    notes: list[str] = []
    finest = area_levels.level(level)
    levels = area_levels.from_finest(finest, top=spec.design_domain)
    if levels[0] != finest:
        notes.append(f"sample survey: estimates are shown down to the design domain "
                     f"({spec.design_domain}), not {finest}")
    hh_present, n_regions = _household_facts(dataset)
    # a country-wide total row only when the data cover more than one region
    if n_regions is not None and n_regions <= 1 and len(levels) > 1:
        levels = [lv for lv in levels if lv != "national"]
    for lev in levels:
        col = area_levels.COLUMN[lev]
        if col is not None and col not in hh_present:
            raise DataError("MD707", column=col, level=lev)

    avail = availability(dataset, [i.id for i in inds])
    ok_ids = set(avail.loc[avail["status"] == "computable", "indicator_id"])
    nc = avail[avail["status"] != "computable"].reset_index(drop=True)
    # columns the person indicators need (areas, by, expressions): the household columns the
    # person frame carries and the derived person columns computed; design columns always
    # travel with the frame
    need = {area_levels.COLUMN[lv] for lv in levels if area_levels.COLUMN[lv]} | set(by)
    for ind in inds:
        if ind.unit == "person":
            need |= ind.columns()
    source = ", ".join(prov.sources) or _sources(dataset)
    period = str(prov.period or ", ".join(prov.rounds) or "")
    extra_nc: list[tuple[str, str, str, str]] = []
    todo: list[Indicator] = []
    levels_of: dict[str, list[str]] = {}
    for ind in inds:
        if ind.id not in ok_ids:
            continue
        ind_levels = [lv for lv in levels if not ind.levels or lv in ind.levels]
        if not ind_levels:
            extra_nc.append((ind.id, ind.name, "not computable",
                             f"shown only at level(s) {', '.join(ind.levels)}; this dataset/request has "
                             f"{', '.join(levels)}"))
            continue
        todo.append(ind)
        levels_of[ind.id] = ind_levels
    plan = Plan(todo, levels_of, levels, by, age_scheme, sorted(need), prov.disclosure_key)
    from migdata.progress import as_progress

    say = as_progress(progress)

    def attrs() -> dict[str, Any]:
        full = nc
        if extra_nc:
            order = {ind.id: i for i, ind in enumerate(inds)}
            extra_nc.sort(key=lambda r: order.get(r[0], len(order)))
            full = pd.concat([nc, pd.DataFrame(extra_nc, columns=nc.columns)], ignore_index=True)
        # a DataFrame (other modules read it so); clear attrs before pd.concat of two results
        return {"not_computable": full, "notes": notes, "by": by, "complete_count": complete,
                "design": spec.describe()}

    if complete:
        if store is not None:
            from migdata.survey.engine import get_engine

            import functools

            task = functools.partial(partition_task, cache=cache)
            partials = get_engine(engine).map_partitions(task, store, plan, say)
        else:
            partials = [partial(plan, dataset, say)]
        if batches:
            reg = _registry(by)
            for ind, part in finish_each(plan, partials, reg):
                if part is None:
                    extra_nc.append((ind.id, ind.name, "not computable", NO_UNITS))
                    continue
                part["indicator_id"] = np.zeros_like(part["indicator_id"])
                out = _assemble([part], [ind], by, reg, source, period)
                part = None
                out.attrs.update(attrs())
                yield out
                out = None  # not held while the next indicator is finished
            final.update(attrs())
            return
        results, done, missing, reg = finish(plan, partials)
        extra_nc += missing
    else:
        results, done, missing, reg = _survey_all(plan, dataset, policy, say)
        extra_nc += missing
    out = _assemble(results, done, by, reg, source, period)
    out.attrs.update(attrs())
    final.update(out.attrs)
    yield out


def _survey_all(plan: Plan, dataset: Any, policy: Any, progress: Any
                ) -> tuple[list[dict[str, Any]], list[Indicator], list[tuple[str, str, str, str]], dict[str, _Labels]]:
    """Every indicator of a sample survey on the dataset's one design (see :func:`_survey`)."""
    by = plan.by
    units = derive.units(dataset, plan.age_scheme, household_columns=plan.need, person_columns=plan.need)
    known = set(units["person"].columns) | set(units["household"].columns)
    for b in by:
        if b not in known:
            raise UsageError("MD705", value=b, table="this dataset",
                             choices=", ".join(sorted(c for c in known if not c.startswith("_"))))
    reg = {"area": _Labels([""]), "category": _Labels([""]), "flag": _Labels(),
           **{b: _Labels([TOTAL]) for b in by}}
    spaces: dict[str, CellSpace] = {}
    designs: dict[str, Any] = {}
    results, done, missing = [], [], []
    mask_cache: dict = {}
    for i, ind in enumerate(plan.inds):
        progress("indicators", i, len(plan.inds))
        unit = ind.unit
        if unit not in spaces:
            udf = units[unit]
            spaces[unit] = cells.cell_space(udf, plan.levels, [b for b in by if b in udf.columns])
            designs[unit] = dataset.design(unit, frame=udf, policy=policy)
        space = spaces[unit]
        fr = units[unit]
        dims = [b for b in by if b in space.dims and b not in ind.not_by and b != ind.category]
        m = _masks(ind, fr, mask_cache)
        if not (m["u"] & space.in_area).any():
            missing.append((ind.id, ind.name, "not computable", NO_UNITS))
            continue
        cat = _categories(ind, fr, m["u"]) if ind.category else None
        multi = _multi(ind, fr, m["u"]) if ind.multi else None
        cube = _survey(space, designs[unit], dims, m, ind, plan.levels_of[ind.id], cat, multi)
        if cube is None:
            missing.append((ind.id, ind.name, "not computable", NO_UNITS))
            continue
        results.append(_label(cube, ind, space, by, dims, cat, multi, plan.levels_of[ind.id], reg, len(done)))
        done.append(ind)
    progress("indicators", len(plan.inds), len(plan.inds))
    return results, done, missing, reg


def partition_task(store: Any, partition: Any, plan: Plan, cache: bool = True) -> dict[str, Any]:
    """Stage 1 (:func:`partial`) of one partition of a store: what an engine runs per partition.
    ``store`` is a :class:`~migdata.model.partitions.Store` or its folder (a worker of a
    distributed engine opens it itself).

    The result is kept in the store's cache (:func:`migdata.model.partitions.cached`), under a
    key made of the plan and the partition's file checksums: computing the same tables again
    (another report, the workbook after the report) reads a few kilobytes per partition instead
    of the partition."""
    from migdata.model.partitions import Store, cached

    st = store if isinstance(store, Store) else Store(store)
    if not cache:
        return partial(plan, st.read([partition]))
    return cached(st, partition, ("partial", plan), lambda: partial(plan, st.read([partition])))


def _open(dataset: Any) -> Any:
    """A dataset, or a store folder opened lazily (partitioned) or read whole (otherwise)."""
    import os

    if isinstance(dataset, (str, os.PathLike)):
        from migdata.model.partitions import Store

        st = Store(dataset)
        return st if st.partitioned else st.read()
    if _is_store(dataset) and not dataset.partitioned:
        return dataset.read()
    return dataset


def _is_store(dataset: Any) -> bool:
    from migdata.model.partitions import Store

    return isinstance(dataset, Store)


def _household_facts(dataset: Any) -> tuple[set[str], int | None]:
    """The columns with values of the table holding the areas (the households, or the persons'
    own table of a stand-alone survey), and the number of regions (None: no region column)."""
    units_map = {"person": "persons", "household": "households", **dataset.provenance.units}
    if _is_store(dataset):
        present = dataset.present(units_map["household"]) or dataset.present(units_map["person"])
        if "region" in dataset.levels:
            return present, len(dataset.codes("region"))
        return present, None
    hh = dataset.tables.get(units_map["household"])
    if hh is None or not len(hh):
        hh = dataset.tables.get(units_map["person"], dataset.households)
    present = {c for c in hh.columns if hh[c].notna().any()}
    return present, (int(hh["region"].nunique()) if "region" in hh.columns else None)


def _sources(dataset: Any) -> str:
    """The ``source`` values of the households (when the provenance names no source)."""
    if _is_store(dataset):
        if "source" not in dataset.present("households"):
            return ""
        vals: set[str] = set()
        for part in dataset.partitions:
            vals |= set(map(str, dataset.read_table(part, "households", ["source"])["source"].dropna().unique()))
        return ", ".join(sorted(vals))
    hh = dataset.households
    return ", ".join(sorted(map(str, hh["source"].dropna().unique()))) if "source" in hh.columns else ""


#: Columns only disclosure control reads (never published): cell keys, largest contributions,
#: and ``_sparse`` (1: a category row of a code list not listed in full in every domain).
HIDDEN_COLUMNS = ["_ck_num", "_ck_den", "_top_num", "_top_den", "_sparse"]


def _label(cube: pd.DataFrame, ind: Indicator, fr: CellSpace, by: list[str], dims: list[str],
           cat: Any, multi: Any, levels: list[str], reg: dict[str, _Labels], ind_code: int,
           flag: str | None = None) -> dict[str, Any]:
    """Codes -> shared label codes, rows sorted (higher levels first, Total first, code order).
    ``flag``: one reliability flag for every row (complete counts) instead of a ``flag`` column.

    Returns plain arrays (integer codes into the shared label lists in ``reg``); ``compute``
    assembles one frame for all indicators at the end. The labels of the areas and ``by``
    values enter ``reg`` first (:func:`_register`), then the rows are put in order
    (:func:`_label_rows`, which only reads ``reg``) and the categories' labels enter last
    (:func:`_label_categories`): :func:`finish_each` orders rows on other threads and keeps the
    two registrations in indicator order, so the label lists are the same either way."""
    _register(reg, fr, levels, by, dims, flag)
    out = _label_rows(cube, fr, by, dims, levels, reg, flag)
    return _label_categories(out, cat, multi, reg, ind_code)


def _register(reg: dict[str, _Labels], fr: CellSpace, levels: list[str], by: list[str],
              dims: list[str], flag: str | None) -> None:
    """Enter the labels one indicator's rows use (areas of ``levels`` and their parents, the
    values of ``dims``, ``flag``) into ``reg``, in the order :func:`_label` always has, and keep
    the codes of the areas, their parents and the ``dims`` values in ``fr.cache``."""
    for i, lv in enumerate(levels):
        if ("area", lv) not in fr.cache:
            fr.cache[("area", lv)] = reg["area"].codes(fr.up_labels[lv])
        if i + 1 < len(levels):
            hi = levels[i + 1]
            if ("parent", lv, hi) not in fr.cache:
                # parent of each level-lv area, through the finest areas inside it
                par = np.full(len(fr.up_labels[lv]), -1, dtype=np.int64)
                par[fr.up[lv]] = reg["area"].codes(fr.up_labels[hi])[fr.up[hi]]
                fr.cache[("parent", lv, hi)] = par
    for b in by:
        if b in dims and ("dim", b) not in fr.cache:
            fr.cache[("dim", b)] = reg[b].codes([TOTAL] + fr.dims[b].labels)
    if flag is not None:
        reg["flag"].code(flag)


def _label_rows(cube: pd.DataFrame, fr: CellSpace, by: list[str], dims: list[str],
                levels: list[str], reg: dict[str, _Labels], flag: str | None = None) -> dict[str, Any]:
    """:func:`_label` but the indicator and category codes: ``"category"`` holds the cube's
    own category codes in row order. With ``flag``, reads ``reg`` and ``fr.cache`` as
    :func:`_register` left them, so several indicators may be put in order at once."""
    lev_idx = cube["area_level"].to_numpy().astype(np.int64)  # index in LEVELS (coarse first)
    lev_code = lev_idx
    alev = cube["_alev"].to_numpy().astype(np.int64)
    # area codes in the shared list, per level through the (small) per-level label arrays
    area = np.zeros(len(cube), dtype=np.int64)
    parent = np.full(len(cube), reg["area"].code(""), dtype=np.int64)
    for i, lv in enumerate(levels):
        sel = lev_idx == LEVELS.index(lv)
        area[sel] = fr.cache[("area", lv)][alev[sel]]
        if i + 1 < len(levels):
            parent[sel] = fr.cache[("parent", lv, levels[i + 1])][alev[sel]]
    keys = [cube["_cat"].to_numpy().astype(np.int64)]
    keys += [cube[d].to_numpy().astype(np.int64) for d in reversed(dims)]
    keys += [area, lev_code]
    order = lexsort_ints(keys)
    n = len(order)
    out: dict[str, Any] = {"area_level": lev_code[order], "area_code": area[order], "parent_code": parent[order]}
    for b in by:
        if b in dims:
            out[b] = fr.cache[("dim", b)][cube[b].to_numpy().astype(np.int64)[order] + 1]
        else:
            out[b] = np.full(n, reg[b].code(TOTAL))
    out["category"] = keys[0][order]
    for c in ("estimate", "se", "ci_low", "ci_high", "cv", "n", "numerator", "denominator", "units",
              *HIDDEN_COLUMNS):
        # each column leaves the cube as it is taken (a national cube holds gigabytes; callers
        # do not use it after labelling)
        out[c] = cube.pop(c).to_numpy(dtype="float64")[order] if c in cube.columns else np.full(n, np.nan)
    if flag is not None:
        out["flag"] = np.full(n, reg["flag"].code(flag))
    else:
        flags = cube["flag"] if "flag" in cube.columns else pd.Series(np.full(len(cube), "", dtype=object))
        uniq, inv = np.unique(flags.to_numpy()[order].astype(str), return_inverse=True)
        out["flag"] = reg["flag"].codes(uniq)[inv]
    return out


def _label_categories(out: dict[str, Any], cat: Any, multi: Any, reg: dict[str, _Labels],
                      ind_code: int) -> dict[str, Any]:
    """The rows of :func:`_label_rows` with their indicator code and their categories' labels
    entered into ``reg`` (in place; returned)."""
    n = len(out["area_level"])
    if cat is not None or multi is not None:
        labels = cat[1] if cat is not None else multi[0]
        g = reg["category"].codes(labels) if len(labels) else np.zeros(1, dtype=np.int64)
        out["category"] = g[out["category"]]
    else:
        out["category"] = np.full(n, reg["category"].code(""))
    return {"indicator_id": np.full(n, ind_code), **out}


def _assemble(parts: list[dict[str, Any]], inds: list[Indicator], by: list[str], reg: dict[str, _Labels],
              source: str, period: str) -> pd.DataFrame:
    """One frame for all indicators: Categorical text columns from the shared label lists."""
    cols = OUT_COLUMNS + by + VALUE_COLUMNS
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="float64" if c in VALUE_COLUMNS[1:10] else object) for c in cols})
    if len(parts) == 1:
        cat_ = parts[0]
    else:  # column by column on two threads: the copy is mostly the kernel mapping fresh pages
        keys = list(parts[0])
        cat_ = dict(zip(keys, map_in_threads(lambda k: np.concatenate([p[k] for p in parts]), keys,
                                             parallel=sum(len(p[keys[0]]) for p in parts) > 100_000)))
    ids = [i.id for i in inds]
    out: dict[str, Any] = {
        "indicator_id": pd.Categorical.from_codes(cat_["indicator_id"], categories=pd.Index(ids, dtype=object)),
        "name": pd.Categorical.from_codes(cat_["indicator_id"], categories=pd.Index([i.name for i in inds],
                                                                                      dtype=object)),
        "area_level": pd.Categorical.from_codes(cat_["area_level"], categories=list(LEVELS), ordered=True),
        "area_code": reg["area"].categorical(cat_["area_code"]),
    }
    names = _area_names(reg["area"].labels)
    nlab = _Labels([""])
    out["area_name"] = nlab.categorical(nlab.codes(names)[cat_["area_code"]])
    out["parent_code"] = reg["area"].categorical(cat_["parent_code"])
    for b in by:
        out[b] = reg[b].categorical(cat_[b])
    out["category"] = reg["category"].categorical(cat_["category"])
    for c in ("estimate", "se", "ci_low", "ci_high", "cv", "n", "numerator", "denominator", "units"):
        out[c] = cat_[c]
    out["flag"] = reg["flag"].categorical(cat_["flag"])
    out["suppressed"] = np.zeros(len(cat_["flag"]), dtype=bool)
    out["suppression"] = pd.Categorical.from_codes(np.zeros(len(cat_["flag"]), dtype=np.int64),
                                                   categories=pd.Index(["", "primary", "secondary", "reliability"],
                                                                       dtype=object))
    def per_ind(vals: list[str]) -> pd.Categorical:
        uniq, inv = np.unique(np.asarray(vals, dtype=object).astype(str), return_inverse=True)
        return pd.Categorical.from_codes(inv[cat_["indicator_id"]], categories=pd.Index(list(uniq), dtype=object))

    out["unit"] = per_ind([i.unit for i in inds])
    out["measure"] = per_ind([i.measure for i in inds])
    out["source"] = pd.Categorical.from_codes(np.zeros(len(cat_["flag"]), dtype=np.int64),
                                              categories=pd.Index([source], dtype=object))
    out["period"] = pd.Categorical.from_codes(np.zeros(len(cat_["flag"]), dtype=np.int64),
                                              categories=pd.Index([period], dtype=object))
    if "round" in by:  # a row of one round (pooled rounds, by=["round"]) is of that round's period
        rnd = out["round"].astype(object)
        out["period"] = pd.Categorical(np.where(rnd == TOTAL, period, rnd))
    hidden = [c for c in HIDDEN_COLUMNS if np.isfinite(cat_[c]).any()]
    for c in hidden:
        out[c] = cat_[c]
    return pd.DataFrame({c: out[c] for c in cols + hidden}, copy=False)
