"""The indicator evaluator: the catalogue over a dataset, at every area level and disaggregation.

``compute(dataset, ids, level, by, ...)`` returns one long table (one row per indicator x area x
disaggregation cell x category) with the estimate, its precision, unweighted n, a flag and the
disclosure/reliability suppression marks.

How it works (and why it is fast): the derived unit tables are built once
(:mod:`migdata.indicators.derive`); every area and ``by`` column is factorised once into integer
codes; then for each indicator

- **complete counts** (CBMS, census): *stage 1* sums numerator, denominator and unit counts into
  the finest cells (area at the requested level x every ``by`` column [x category]) with one
  ``numpy.bincount`` per sum over all rows; *stage 2* adds the small cell table up to every higher
  area level and to the "Total" of each ``by`` column (all 2^k combinations). Sums are additive,
  so totals equal the sum of their parts exactly; SE is 0. Medians are not additive and are
  taken per domain with a groupby.
- **sample surveys**: each grouping set is one call of :class:`migdata.survey.Design` with integer
  domain codes (units outside the indicator's universe get code -1: the design is never
  subset), giving SE, CI, CV, df and n. Estimates are never shown below the design domain
  (``provenance["design_domain"]``, region by default).

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
    >>> t = compute(d, ids=["OF02"], level="city", by=["sex"], k=1)
    >>> t[["area_level", "sex", "estimate"]].values.tolist()
    [['region', 'Total', 1.0], ['region', 'female', 0.0], ['region', 'male', 1.0], ['province', 'Total', 1.0], ['province', 'female', 0.0], ['province', 'male', 1.0], ['city', 'Total', 1.0], ['city', 'female', 0.0], ['city', 'male', 1.0]]
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from migdata.errors import DataError, UsageError
from migdata.indicators import derive, expr
from migdata.indicators.catalogue import Indicator, catalogue

LEVELS = ["barangay", "city", "province", "region", "national"]
LEVEL_COLUMN = {"barangay": "barangay", "city": "city_mun", "province": "province", "region": "region",
                "national": "_national"}
NATIONAL_CODE, NATIONAL_NAME = "PH", "Philippines"
LEVEL_ALIASES = {"city_mun": "city", "municipality": "city", "city/municipality": "city", "mun": "city",
                 "prov": "province", "huc": "province", "reg": "region", "bgy": "barangay", "brgy": "barangay"}
TOTAL = "Total"
NOT_STATED = "not stated"
#: Why a sample-survey indicator with an empty universe has no rows (see module docstring).
NO_UNITS = "no units in the universe: no unit of this dataset meets the indicator's universe"
DENSE_LIMIT = 20_000_000
OUT_COLUMNS = ["indicator_id", "name", "area_level", "area_code", "area_name", "parent_code"]
VALUE_COLUMNS = ["category", "estimate", "se", "ci_low", "ci_high", "cv", "n", "numerator", "denominator",
                 "units", "flag", "suppressed", "suppression", "unit", "measure", "source", "period"]


# ----------------------------------------------------------------------------- keys
@dataclass
class _Dim:
    name: str
    codes: np.ndarray          # int64, NOT_STATED is the last label
    labels: list[str]

    @property
    def size(self) -> int:
        return len(self.labels)


@dataclass
class _Frame:
    """One unit table with its factorised area and disaggregation keys."""

    df: pd.DataFrame
    w: np.ndarray
    area_codes: np.ndarray                 # finest requested level, int64 (-1: no area)
    area_labels: np.ndarray                # finest level code strings
    up: dict[str, np.ndarray]              # level -> map finest code -> code at that level
    up_labels: dict[str, np.ndarray]
    dims: dict[str, _Dim]
    cells: dict = field(default_factory=dict)


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


def _factor(s: pd.Series) -> _Dim:
    if isinstance(s.dtype, pd.CategoricalDtype):
        codes = s.cat.codes.to_numpy().astype(np.int64)
        labels = [str(c) for c in s.cat.categories]
    else:
        codes, uniq = pd.factorize(s, sort=True)
        codes = codes.astype(np.int64)
        labels = [str(u) for u in uniq]
    codes = np.where(codes < 0, len(labels), codes)
    return _Dim(str(s.name), codes, labels + [NOT_STATED])


def _frame(df: pd.DataFrame, levels: list[str], by: list[str], unit: str) -> _Frame:
    finest = LEVEL_COLUMN[levels[0]]
    col = df[finest] if finest in df.columns else pd.Series(pd.Categorical([NATIONAL_CODE] * len(df)))
    if isinstance(col.dtype, pd.CategoricalDtype):
        codes = col.cat.codes.to_numpy().astype(np.int64)
        uniq = np.asarray(col.cat.categories.astype(str), dtype=object)
    else:
        codes, uniq = pd.factorize(col.astype("string"), sort=True)
        codes = codes.astype(np.int64)
        uniq = np.asarray(uniq, dtype=object)
    up: dict[str, np.ndarray] = {}
    up_labels: dict[str, np.ndarray] = {}
    ok = codes >= 0
    first = np.full(len(uniq), -1, dtype=np.int64)
    pos = np.flatnonzero(ok)
    first[codes[pos[::-1]]] = pos[::-1]  # a representative row per finest area
    for lev in levels:
        col = LEVEL_COLUMN[lev]
        if col not in df.columns:  # the national level: one constant code
            vals = np.full(len(first), NATIONAL_CODE, dtype=object)
        else:
            vals = df[col].iloc[np.maximum(first, 0)].astype("string").to_numpy(dtype=object, na_value=None) \
                if len(first) else np.array([], dtype=object)
            if len(first):
                vals[first < 0] = None  # a category with no rows
        c2, u2 = pd.factorize(pd.Series(vals, dtype="object"), sort=True)
        up[lev] = c2.astype(np.int64)
        up_labels[lev] = np.asarray(u2, dtype=object)
    dims = {}
    for b in by:
        if b in df.columns:
            dims[b] = _factor(df[b].rename(b))
    w = pd.to_numeric(df["weight"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan) \
        if "weight" in df.columns else np.ones(len(df))
    return _Frame(df, np.nan_to_num(w), codes, uniq, up, up_labels, dims)


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
            if "associations" not in getattr(dataset, "tables", {}):
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


def _levels(level: str, top_allowed: str | None = None) -> list[str]:
    lev = LEVEL_ALIASES.get(str(level).lower(), str(level).lower())
    if lev not in LEVELS:
        raise UsageError("MD706", value=level, choices=", ".join(LEVELS))
    out = LEVELS[LEVELS.index(lev):]
    if top_allowed is not None:
        out = [lv for lv in out if LEVELS.index(lv) >= LEVELS.index(top_allowed)] or [top_allowed]
    return out


# ----------------------------------------------------------------------------- stage 1 + 2
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
    dim = _factor(s.rename(ind.category))
    labels = dim.labels
    # Report the categories met in the universe; a short fixed code list is shown in full
    # (a 0 % share is information), "not stated" only when it occurs.
    seen = np.bincount(dim.codes[u], minlength=len(labels)) > 0
    fixed = isinstance(s.dtype, pd.CategoricalDtype) and len(labels) <= 26
    keep = seen | (fixed & (np.arange(len(labels)) < len(labels) - 1))
    if ind.categories:
        keep &= np.isin(labels, list(ind.categories))
    return dim.codes, labels, keep


def _multi(ind: Indicator, df: pd.DataFrame, u: np.ndarray) -> tuple[list[str], list[np.ndarray]]:
    s = df[ind.multi].astype("string")
    distinct = s[u].dropna().unique()  # few distinct answer strings, many rows
    codes = sorted({t for row in distinct for t in str(row).split()})
    arrs = [expr.evaluate(f"has({ind.multi}, {c!r})", df, (ind.id, "multi")) & u for c in codes]
    return codes, arrs


def _radix(fr: _Frame, dims: list[str]) -> tuple[np.ndarray, list[int]]:
    """Finest-cell number of every row (area x dims, mixed radix); cached per dims on the frame."""
    sizes = [fr.dims[d].size for d in dims]
    key = tuple(dims)
    if key not in fr.cells:
        cell = fr.area_codes.copy()
        for d, size in zip(dims, sizes):
            cell = cell * size + fr.dims[d].codes
        fr.cells[key] = np.where(fr.area_codes >= 0, cell, 0)
    return fr.cells[key], sizes


def _bincount(cell: np.ndarray, mask: np.ndarray, weights: np.ndarray | None, ncell: int) -> np.ndarray:
    idx = cell[mask]
    if weights is None:
        return np.bincount(idx, minlength=ncell).astype("float64")
    return np.bincount(idx, weights=weights[mask], minlength=ncell)


def _cells_cc(fr: _Frame, dims: list[str], m: dict[str, Any], ind: Indicator,
              cat: tuple[np.ndarray, list[str], np.ndarray] | None,
              multi: tuple[list[str], list[np.ndarray]] | None) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Stage 1: sums per finest cell (complete counts, so weights are the units' weights).

    Returns the cells and, for distributions, the domain denominators (cells without category)."""
    cell, sizes = _radix(fr, dims)
    ncell = len(fr.area_labels) * int(np.prod(sizes, dtype=np.int64))
    has_area = fr.area_codes >= 0
    w = fr.w
    unit_w = fr.cells.get("_unit_weights")
    if unit_w is None:
        unit_w = fr.cells["_unit_weights"] = bool(np.all(w == 1.0))

    def count(mask: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
        # weights of 1 (a census): the weighted sum is the count; one bincount instead of two
        return _bincount(cell, mask, None if (unit_w and weights is w) else weights, ncell)

    st = ind.statistic
    cols: dict[str, np.ndarray] = {}
    dkey = ("den", ind.universe, st in ("count", "share"), tuple(dims))
    if dkey in fr.cells:
        u, den_w, den_n = fr.cells[dkey]
    else:
        u = m["u"] & has_area
        den_n = count(u, None)
        den_w = den_n if unit_w else count(u, w)
        if st in ("count", "share"):  # universes repeat across indicators: reuse their sums
            fr.cells[dkey] = (u, den_w, den_n)
    # ``units`` = the units the numerator rests on (``n``: those of the denominator); disclosure
    # control suppresses a cell when either is 1..k-1. For a total, mean or ratio the numerator
    # is a sum of values, which rests only on the units with a non-zero value (a total of 5
    # households of which one received remittances reveals that household's amount).
    if st in ("total", "mean", "median"):
        num_w = _bincount(cell, u, w * m["value"], ncell)
        cols = {"num": num_w, "den": den_w, "n": den_n, "units": count(u & (m["value"] != 0), None)}
    elif st == "ratio":
        cols = {"num": _bincount(cell, u, w * m["a"], ncell), "den": _bincount(cell, u, w * m["b"], ncell),
                "n": den_n, "units": count(u & (m["a"] != 0), None)}
    if cat is None and multi is None:
        if st in ("count", "share"):
            num = m["num"] & has_area
            units = count(num, None)
            cols = {"num": units if unit_w else count(num, w), "den": den_w, "n": den_n, "units": units}
        keep = np.flatnonzero(cols["n"] > 0)
        out = pd.DataFrame({k: v[keep] for k, v in cols.items()})
        out["_cell"] = keep
        out["_cat"] = -1
    else:
        # Category x cell: per-category numerators, the domain denominator repeated.
        if multi is not None:
            labels, arrs = multi
            K = len(labels)
            parts = []
            for j, arr in enumerate(arrs):
                mk = arr & has_area
                nn = count(mk, None)
                nw = nn if unit_w else count(mk, w)
                keep = np.flatnonzero(den_n > 0)
                parts.append(pd.DataFrame({"num": nw[keep], "units": nn[keep], "_cell": keep, "_cat": j}))
            out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
                columns=["num", "units", "_cell", "_cat"])
        else:
            codes, labels, keep_cat = cat
            K = len(labels)
            mk = m["num"] & has_area
            key = cell * K + codes
            if ncell * K <= DENSE_LIMIT:
                nn = _bincount(key, mk, None, ncell * K)
                nw = nn if unit_w else _bincount(key, mk, w, ncell * K)
                dom_has = np.repeat(den_n > 0, K)
                small = K <= 27
                sel = np.flatnonzero(dom_has & (np.tile(keep_cat, ncell)) & ((nn > 0) | small))
                out = pd.DataFrame({"num": nw[sel], "units": nn[sel], "_cell": sel // K, "_cat": sel % K})
            else:
                kk = key[mk]
                uniq, inv = np.unique(kk, return_inverse=True)
                nw = np.bincount(inv, weights=w[mk], minlength=len(uniq))
                nn = np.bincount(inv, minlength=len(uniq)).astype("float64")
                c = uniq % K
                sel = keep_cat[c]
                out = pd.DataFrame({"num": nw[sel], "units": nn[sel], "_cell": uniq[sel] // K, "_cat": c[sel]})
        keep = np.flatnonzero(den_n > 0)
        dom = _decode(pd.DataFrame({"den": den_w[keep], "n": den_n[keep], "_cell": keep, "_cat": -1}),
                      dims, sizes)
        return _decode(out, dims, sizes), dom
    return _decode(out, dims, sizes), None


def _decode(out: pd.DataFrame, dims: list[str], sizes: list[int]) -> pd.DataFrame:
    """Split the finest cell number back into area and dims codes."""
    rest = out["_cell"].to_numpy().astype(np.int64).copy()
    for d, size in zip(reversed(dims), reversed(sizes)):
        out[d] = rest % size
        rest //= size
    out["_area"] = rest
    return out


def group_index(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of a non-negative int64 key (sorted) and each row's group number.

    Dense keys (max below a few times the row count) use a bincount lookup instead of the sort
    inside ``np.unique``; this is the hot path of the roll-up and of disclosure control."""
    if len(key) == 0:
        return key[:0], key[:0]
    top = int(key.max()) + 1
    if top <= max(8 * len(key), 1 << 22):
        seen = np.bincount(key, minlength=top) > 0
        uniq = np.flatnonzero(seen)
        lookup = np.empty(top, dtype=np.int64)
        lookup[uniq] = np.arange(len(uniq))
        return uniq, lookup[key]
    uniq, inv = np.unique(key, return_inverse=True)
    return uniq, inv.reshape(-1)


def _subsets(dims: list[str]) -> list[tuple[str, ...]]:
    return [keep for r in range(len(dims), -1, -1) for keep in itertools.combinations(dims, r)]


def _cube(cells: pd.DataFrame, fr: _Frame, levels: list[str], dims: list[str], sums: list[str],
          ) -> pd.DataFrame:
    """Stage 2: every area level x every subset of dims ('Total' = code -1), summed from cells.

    Pure numpy on the small cell table: one combined integer key per grouping set, then
    ``np.unique`` + ``np.bincount``; the frame is assembled once at the end."""
    area_f = cells["_area"].to_numpy().astype(np.int64)
    dcodes = {d: cells[d].to_numpy().astype(np.int64) for d in dims}
    cat = cells["_cat"].to_numpy().astype(np.int64)
    vals = {v: cells[v].to_numpy(dtype="float64") for v in sums}
    sizes = [fr.dims[d].size + 1 for d in dims]
    ncat = int(cat.max()) + 2 if len(cat) else 1
    out: dict[str, list[np.ndarray]] = {c: [] for c in ["_alev", "_cat", "area_level", *dims, *sums]}
    zeros = np.zeros(len(cells), dtype=np.int64)
    for lev in levels:
        acode = fr.up[lev][area_f] if len(area_f) else zeros
        for keep in _subsets(dims):
            key = acode.copy()
            for d, size in zip(dims, sizes):
                key = key * size + (dcodes[d] + 1 if d in keep else zeros)
            key = key * ncat + (cat + 1)
            uniq, inv = group_index(key)
            for v in sums:
                out[v].append(np.bincount(inv, weights=vals[v], minlength=len(uniq)))
            rest = uniq
            out["_cat"].append(rest % ncat - 1)
            rest = rest // ncat
            for d, size in zip(reversed(dims), reversed(sizes)):
                out[d].append(rest % size - 1)
                rest = rest // size
            out["_alev"].append(rest)
            out["area_level"].append(np.full(len(uniq), LEVELS.index(lev), dtype=np.int64))
    return pd.DataFrame({c: np.concatenate(v) if v else np.array([], dtype=np.int64) for c, v in out.items()})


def _median_cc(fr: _Frame, dims: list[str], m: dict[str, Any], levels: list[str]) -> pd.DataFrame:
    """Medians per domain (complete count: plain median of the units in the universe)."""
    u = m["u"] & (fr.area_codes >= 0)
    vals = m["value"][u]
    area_f = fr.area_codes[u]
    frames = []
    for lev in levels:
        acode = fr.up[lev][area_f]
        for keep in _subsets(dims):
            if True:
                key = pd.DataFrame({"_alev": acode, **{d: fr.dims[d].codes[u] for d in keep}})
                g = pd.Series(vals).groupby([key[c] for c in key.columns], sort=False)
                res = pd.DataFrame({"estimate": g.median(), "n": g.size().astype("float64")}).reset_index()
                res.columns = ["_alev", *keep, "estimate", "n"]
                for d in dims:
                    if d not in keep:
                        res[d] = -1
                res["area_level"] = LEVELS.index(lev)
                frames.append(res)
    out = pd.concat(frames, ignore_index=True)
    out["_cat"] = -1
    out["units"] = out["n"]
    out["num"] = np.nan
    out["den"] = np.nan
    return out


def _estimate_cc(cube: pd.DataFrame, ind: Indicator) -> pd.DataFrame:
    st = ind.statistic
    num, den = cube["num"].to_numpy(), cube["den"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        if st in ("count", "total"):
            est = num
        elif st == "median":
            est = cube["estimate"].to_numpy()
        else:
            est = np.where(den > 0, num / den, np.nan)
            if st == "share":
                est = est * 100.0
    est = est * (ind.scale if st == "ratio" else 1.0)
    cube = cube.assign(estimate=est, se=np.where(np.isnan(est), np.nan, 0.0), ci_low=est, ci_high=est,
                       cv=np.where(np.isnan(est), np.nan, 0.0))
    cube["numerator"] = num
    cube["denominator"] = den if st not in ("count", "total") else np.nan
    return cube


# ----------------------------------------------------------------------------- survey path
def _survey(fr: _Frame, dims: list[str], m: dict[str, Any], ind: Indicator, levels: list[str],
            cat: Any, multi: Any, design_args: dict[str, Any], policy: Any) -> pd.DataFrame | None:
    """Design-based estimates for every grouping set; ``None`` when no sampled unit is in the
    indicator's universe (``compute`` then lists the indicator as not computable)."""
    try:
        from migdata.survey import Design
    except ImportError as exc:  # pragma: no cover - the engine ships with migdata
        raise DataError("MD711", detail=str(exc)) from None
    df = fr.df
    work = pd.DataFrame(index=df.index)
    for role in ("weights", "strata", "psu", "fpc"):
        c = design_args.get(role)
        if c:
            work[c] = df[c].to_numpy()
    st = ind.statistic
    u = m["u"] & (fr.area_codes >= 0)
    if not u.any():
        return None
    variables: list[tuple[str, str, Any]] = []   # (kind, column(s), category label)
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
    design = Design(work, weights=design_args.get("weights"), strata=design_args.get("strata"),
                    psu=design_args.get("psu"), fpc=design_args.get("fpc"),
                    lonely_psu=design_args.get("lonely_psu", "fail"), policy=policy)
    frames = []
    for lev in levels:
        acode = np.where(fr.area_codes >= 0, fr.up[lev][np.maximum(fr.area_codes, 0)], -1)
        for r in range(len(dims), -1, -1):
            for keep in itertools.combinations(dims, r):
                sizes = [fr.dims[d].size for d in keep]
                code = acode.copy()
                for d, size in zip(keep, sizes):
                    code = code * size + fr.dims[d].codes
                code = np.where(u & (acode >= 0), code, -1)
                present, inv = np.unique(code[code >= 0], return_inverse=True)
                if len(present) == 0:
                    continue
                dcode = np.full(len(code), -1, dtype=np.int64)
                dcode[code >= 0] = inv
                calls: list[tuple[pd.DataFrame, np.ndarray]] = []
                means = [(var, j) for kind, var, j in variables if kind == "mean"]
                if means:
                    res = design.mean([v for v, _ in means], by=dcode)
                    jmap = {v: j for v, j in means}
                    calls.append((res, res["variable"].map(jmap).to_numpy()))
                for kind, var, j in variables:
                    if kind == "mean":
                        continue
                    if kind == "proportion":
                        res = design.proportion(var, by=dcode)
                        catj = res["category"].to_numpy().astype(np.int64)
                        if j is None:  # a plain share: the "yes" category
                            res, jj = res[catj == 1], np.full(int((catj == 1).sum()), -1)
                        else:
                            sel = j[catj]
                            res, jj = res[sel], catj[sel]
                        calls.append((res.reset_index(drop=True), jj))
                        continue
                    if kind == "total":
                        res = design.total(var, by=dcode)
                    elif kind == "ratio":
                        res = design.ratio(var[0], var[1], by=dcode)
                    else:
                        res = design.quantile(var, [0.5], by=dcode)
                    calls.append((res, np.full(len(res), j)))
                for res, jj in calls:
                    rest = present[res["domain"].to_numpy().astype(np.int64)]
                    g = pd.DataFrame({"estimate": res["estimate"].to_numpy(), "se": res["se"].to_numpy(),
                                      "ci_low": res["ci_low"].to_numpy(), "ci_high": res["ci_high"].to_numpy(),
                                      "cv": res["cv"].to_numpy(), "n": res["n"].to_numpy().astype(float)})
                    for d, size in zip(reversed(keep), reversed(sizes)):
                        g[d] = rest % size
                        rest = rest // size
                    g["_alev"] = rest
                    for d in dims:
                        if d not in keep:
                            g[d] = -1
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


def _design_args(dataset: Any, units: pd.DataFrame) -> dict[str, Any]:
    prov = getattr(dataset, "provenance", {}) or {}
    design = dict(prov.get("design") or {})
    args = {"weights": design.get("weights", "weight"), "strata": design.get("strata"),
            "psu": design.get("psu"), "fpc": design.get("fpc"),
            "lonely_psu": design.get("lonely_psu", "fail")}
    for role in ("weights", "strata", "psu", "fpc"):
        if not args[role]:
            args[role] = None
    args["weights"] = args["weights"] or "weight"
    for role in ("strata", "psu"):
        if args[role] is None and role in units.columns and units[role].notna().any():
            args[role] = role if role != "strata" else "stratum"
    if args["strata"] is None and "stratum" in units.columns and units["stratum"].notna().any():
        args["strata"] = "stratum"
    w = args["weights"]
    if w not in units.columns or not units[w].notna().any():
        raise DataError("MD710", dataset=prov.get("dataset_id", "?"), detail=f"column {w!r} missing or empty")
    return args


def compute(dataset: Any, ids: Sequence[str] | str | None = None, level: str = "city",
            by: Sequence[str] | str | None = ("sex", "age_group"), age_scheme: str | Sequence[int] = "broad",
            k: int = 3, policy: Any = None, disclosure: bool = True) -> pd.DataFrame:
    """Compute catalogue indicators for ``dataset`` (a :class:`~migdata.model.HouseholdData`).

    Args:
        ids: indicator ids (default: every computable indicator of the catalogue).
        level: finest area level (``barangay``, ``city``, ``province``, ``region``); every higher
            level is added, each with its totals.
        by: disaggregation columns (``sex``, ``age_group``, ``urban_rural``, ``migratory_status``,
            ``hh_migratory_status``, ``head_sex``, ``of_status``, any tidy column). A column that
            does not apply to an indicator's unit (sex for households) or that the indicator
            excludes (``not_by``) is shown as ``Total``.
        age_scheme: age groups for ``age_group`` (``five_year``, ``broad``, ... or cut points).
        k: disclosure threshold for complete counts (cells from 1..k-1 units are suppressed,
            with secondary suppression); ``disclosure=False`` skips it.
        policy: reliability policy for sample surveys (name or ``ReliabilityPolicy``).

    Returns the long table (see module docstring); ``attrs["not_computable"]`` lists indicators
    the dataset cannot support, with the reason (read it with :func:`not_computable`);
    ``attrs["notes"]`` says what was adjusted.
    """
    if isinstance(by, str):
        by = [b.strip() for b in by.split(",") if b.strip()]
    if isinstance(age_scheme, str) and "," in age_scheme:  # cut points from a command line: "0,15,30,60"
        try:
            age_scheme = [int(x) for x in age_scheme.split(",") if x.strip()]
        except ValueError:
            pass  # age_group() names the problem
    by = list(by or [])
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise UsageError("MD708", value=k)
    inds = _select(ids)
    complete = bool(getattr(dataset, "complete_count", False))
    prov = getattr(dataset, "provenance", {}) or {}
    notes: list[str] = []
    top = None
    if not complete:
        dd = prov.get("design_domain", "region")
        top = LEVEL_ALIASES.get(dd, dd)
        if LEVELS.index(LEVEL_ALIASES.get(level, level) if LEVEL_ALIASES.get(level, level) in LEVELS
                        else "region") < LEVELS.index(top):
            notes.append(f"sample survey: estimates are shown down to the design domain ({top}), "
                         f"not {level}")
    levels = _levels(level, top)
    hh = dataset.households
    # a country-wide total row when the data cover more than one region
    if "region" in hh.columns and hh["region"].nunique() <= 1 and len(levels) > 1:
        levels = [lv for lv in levels if lv != "national"]
    for lev in levels:
        if lev == "national":
            continue
        col = LEVEL_COLUMN[lev]
        if col not in hh.columns or not hh[col].notna().any():
            raise DataError("MD707", column=col, level=lev)

    avail = availability(dataset, [i.id for i in inds])
    ok_ids = set(avail.loc[avail["status"] == "computable", "indicator_id"])
    nc = avail[avail["status"] != "computable"].reset_index(drop=True)
    # household columns the person indicators need (areas, by, design, expressions)
    need = {LEVEL_COLUMN[lv] for lv in levels} | set(by) | {"weight", "psu", "stratum"}
    need |= {c for c in (prov.get("design") or {}).values() if isinstance(c, str)}
    for ind in inds:
        if ind.unit == "person":
            need |= ind.columns()
    need |= {"hh_migratory_status", "urban_rural", "head_sex"} & set(by)
    units = derive.units(dataset, age_scheme, household_columns=sorted(need))
    known = set(units["person"].columns) | set(units["household"].columns)
    for b in by:
        if b not in known:
            raise UsageError("MD705", value=b, table="this dataset",
                             choices=", ".join(sorted(c for c in known if not c.startswith("_"))))
    frames: dict[str, _Frame] = {}
    design_args: dict[str, dict[str, Any]] = {}
    source = ", ".join(map(str, prov.get("sources", [])))
    if not source and "source" in hh.columns:
        source = ", ".join(sorted(map(str, hh["source"].dropna().unique())))
    period = str(prov.get("period") or ", ".join(map(str, prov.get("rounds", []))) or "")
    results = []
    extra_nc = []
    reg = {"area": _Labels([""]), "category": _Labels([""]), "flag": _Labels(),
           **{b: _Labels([TOTAL]) for b in by}}
    done: list[Indicator] = []
    mask_cache: dict = {}
    for ind in inds:
        if ind.id not in ok_ids:
            continue
        ind_levels = [lv for lv in levels if not ind.levels or lv in ind.levels]
        if not ind_levels:
            extra_nc.append((ind.id, ind.name, "not computable",
                             f"shown only at level(s) {', '.join(ind.levels)}; this dataset/request has "
                             f"{', '.join(levels)}"))
            continue
        unit = ind.unit
        if unit not in frames:
            udf = units[unit]
            frames[unit] = _frame(udf, levels, [b for b in by if b in udf.columns], unit)
            if not complete:
                design_args[unit] = _design_args(dataset, udf)
        fr = frames[unit]
        dims = [b for b in by if b in fr.dims and b not in ind.not_by and b != ind.category]
        m = _masks(ind, fr.df, mask_cache)
        if not (m["u"] & (fr.area_codes >= 0)).any():
            extra_nc.append((ind.id, ind.name, "not computable", NO_UNITS))
            continue
        cat = _categories(ind, fr.df, m["u"]) if ind.category else None
        multi = _multi(ind, fr.df, m["u"]) if ind.multi else None
        if complete:
            if ind.statistic == "median":
                cube = _median_cc(fr, dims, m, ind_levels)
            else:
                cells, dom = _cells_cc(fr, dims, m, ind, cat, multi)
                if dom is None:
                    cube = _cube(cells, fr, ind_levels, dims, ["num", "den", "n", "units"])
                else:
                    keys = ["area_level", "_alev", *dims]
                    dcube = _cube(dom, fr, ind_levels, dims, ["den", "n"]).drop(columns=["_cat"])
                    cube = _cube(cells, fr, ind_levels, dims, ["num", "units"]).merge(dcube, on=keys, how="left")
            cube = _estimate_cc(cube, ind)
            cube["flag"] = "complete_count"
        else:
            cube = _survey(fr, dims, m, ind, ind_levels, cat, multi, design_args[unit], policy)
            if cube is None:
                extra_nc.append((ind.id, ind.name, "not computable", NO_UNITS))
                continue
            from migdata.survey import reliability
            cube["flag"] = reliability.flag(cube["cv"].to_numpy(), cube["n"].to_numpy(), policy)
        results.append(_label(cube, ind, fr, by, dims, cat, multi, ind_levels, reg, len(done)))
        done.append(ind)
    out = _assemble(results, done, by, reg, source, period)
    del results, frames, units, mask_cache  # free the unit tables before disclosure control
    if complete and disclosure and len(out):
        from migdata.publish.disclosure import suppress
        out = suppress(out, k=k, by=by)
    elif not complete and len(out):
        sup = (out["flag"] == "suppress").to_numpy()
        out["suppressed"] = sup
        out["suppression"] = pd.Categorical.from_codes(np.where(sup, 3, 0), dtype=out["suppression"].dtype)
    if extra_nc:
        nc = pd.concat([nc, pd.DataFrame(extra_nc, columns=nc.columns)], ignore_index=True)
    # a DataFrame (other modules read it so); clear attrs before pd.concat of two results
    out.attrs["not_computable"] = nc
    out.attrs["notes"] = notes
    out.attrs["by"] = by
    out.attrs["complete_count"] = complete
    out.attrs["k"] = k
    return out


AREA_LEVEL_ORDER = ["national", "region", "province", "city", "barangay"]


def _label(cube: pd.DataFrame, ind: Indicator, fr: _Frame, by: list[str], dims: list[str],
           cat: Any, multi: Any, levels: list[str], reg: dict[str, _Labels], ind_code: int) -> dict[str, Any]:
    """Codes -> shared label codes, rows sorted (higher levels first, Total first, code order).

    Returns plain arrays (integer codes into the shared label lists in ``reg``); ``compute``
    assembles one frame for all indicators at the end."""
    lev_idx = cube["area_level"].to_numpy().astype(np.int64)  # index in LEVELS
    lev_code = np.array([AREA_LEVEL_ORDER.index(lv) for lv in LEVELS], dtype=np.int64)[lev_idx]
    alev = cube["_alev"].to_numpy().astype(np.int64)
    # area codes in the shared list, per level through the (small) per-level label arrays
    area = np.zeros(len(cube), dtype=np.int64)
    parent = np.full(len(cube), reg["area"].code(""), dtype=np.int64)
    for i, lv in enumerate(levels):
        sel = lev_idx == LEVELS.index(lv)
        if ("area", lv) not in fr.cells:
            fr.cells[("area", lv)] = reg["area"].codes(fr.up_labels[lv])
        area[sel] = fr.cells[("area", lv)][alev[sel]]
        if i + 1 < len(levels):
            hi = levels[i + 1]
            if ("parent", lv, hi) not in fr.cells:
                # parent of each level-lv area, through the finest areas inside it
                par = np.full(len(fr.up_labels[lv]), -1, dtype=np.int64)
                par[fr.up[lv]] = reg["area"].codes(fr.up_labels[hi])[fr.up[hi]]
                fr.cells[("parent", lv, hi)] = par
            parent[sel] = fr.cells[("parent", lv, hi)][alev[sel]]
    keys = [cube["_cat"].to_numpy().astype(np.int64)]
    keys += [cube[d].to_numpy().astype(np.int64) for d in reversed(dims)]
    keys += [area, lev_code]
    order = np.lexsort(keys)
    n = len(order)
    out: dict[str, Any] = {"indicator_id": np.full(n, ind_code), "area_level": lev_code[order],
                           "area_code": area[order], "parent_code": parent[order]}
    for b in by:
        if b in dims:
            g = reg[b].codes([TOTAL] + fr.dims[b].labels)
            out[b] = g[cube[b].to_numpy().astype(np.int64)[order] + 1]
        else:
            out[b] = np.full(n, reg[b].code(TOTAL))
    if cat is not None or multi is not None:
        labels = cat[1] if cat is not None else multi[0]
        g = reg["category"].codes(labels) if len(labels) else np.zeros(1, dtype=np.int64)
        out["category"] = g[cube["_cat"].to_numpy().astype(np.int64)[order]]
    else:
        out["category"] = np.full(n, reg["category"].code(""))
    for c in ("estimate", "se", "ci_low", "ci_high", "cv", "n", "numerator", "denominator", "units"):
        out[c] = cube[c].to_numpy(dtype="float64")[order] if c in cube.columns else np.full(n, np.nan)
    flags = cube["flag"].to_numpy()[order] if "flag" in cube.columns else np.full(n, "", dtype=object)
    uniq, inv = np.unique(flags.astype(str), return_inverse=True)
    out["flag"] = reg["flag"].codes(uniq)[inv]
    return out


def _assemble(parts: list[dict[str, Any]], inds: list[Indicator], by: list[str], reg: dict[str, _Labels],
              source: str, period: str) -> pd.DataFrame:
    """One frame for all indicators: Categorical text columns from the shared label lists."""
    cols = OUT_COLUMNS + by + VALUE_COLUMNS
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="float64" if c in VALUE_COLUMNS[1:10] else object) for c in cols})
    cat_ = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    ids = [i.id for i in inds]
    out: dict[str, Any] = {
        "indicator_id": pd.Categorical.from_codes(cat_["indicator_id"], categories=pd.Index(ids, dtype=object)),
        "name": pd.Categorical.from_codes(cat_["indicator_id"], categories=pd.Index([i.name for i in inds],
                                                                                      dtype=object)),
        "area_level": pd.Categorical.from_codes(cat_["area_level"], categories=AREA_LEVEL_ORDER, ordered=True),
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
    return pd.DataFrame({c: out[c] for c in cols})
