"""The cell-sum engine of complete counts: sums into the finest cells, then every roll-up.

A complete count (CBMS, census) has no sampling error, so an estimate for any domain is a
function of sums over the domain's units: counts, sums of values, sums of record keys (for
disclosure control) and the largest single contribution. Sums add, so every domain of an area
hierarchy and of every subset of the disaggregations is the sum of the finest cells inside it:

- *stage 1* (:func:`stage1`): one ``numpy.bincount`` per sum over all rows into the finest
  cells (area at the finest requested level x every ``by`` column [x category]);
- *stage 2* (:func:`rollup`): the small cell table is added up to every higher area level and
  to the ``Total`` of each ``by`` column (all 2^k combinations).

This is the same arithmetic as :meth:`migdata.survey.Design.complete_count`'s estimators (a
domain total of a complete count is a bincount over the domain's rows; the tests check that
they agree); it is kept as a separate kernel because the indicator cube needs every level and
every subset of ``by`` from one pass, which the one-domain-set-per-call estimators cannot give.
Because the sums are additive across any partition of the rows, the same two stages run
partition by partition and add up (out of core).

Plain equivalents (for the differential tests): :func:`stage1` equals
``df.groupby([area, *by, category]).agg(sum)`` on the masked rows; :func:`rollup` equals a
``groupby(...).sum()`` of those cells for every (level, subset of ``by``); :func:`group_index`
equals ``np.unique(key, return_inverse=True)``.

Example:
    >>> import pandas as pd
    >>> df = pd.DataFrame({"city_mun": ["c1", "c1", "c2"], "province": ["p", "p", "p"],
    ...                    "sex": pd.Categorical(["f", "m", "f"])})
    >>> space = cell_space(df, ["city", "province"], ["sex"])
    >>> cells, _ = stage1(space, ["sex"], {"u": np.ones(3, bool), "num": np.ones(3, bool)})
    >>> cube = rollup(cells, space, ["city", "province"], ["sex"], ["num"])
    >>> int(cube.loc[(cube["area_level"] == LEVELS.index("province")) & (cube["sex"] == -1), "num"].iloc[0])
    3
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from migdata._kernels.keys import hash_rows
from migdata.areas.levels import COLUMN, LEVELS, NATIONAL_CODE

NOT_STATED = "not stated"
DENSE_LIMIT = 20_000_000
#: Record keys are integers below 2**KEY_BITS: sums of up to 2**33 of them stay exact in float64.
KEY_BITS = 20


@dataclass
class Dim:
    """A disaggregation column factorised: codes 0..size-1, ``not stated`` the last label.

    ``values`` are the distinct values behind the labels (the categories of a Categorical,
    else the sorted distinct values), so that the dims of several partitions of one dataset can
    be merged into the labels one frame of all their rows would give (:func:`merge_dims`)."""

    name: str
    codes: np.ndarray
    labels: list[str]
    values: Any = None
    categorical: bool = False

    @property
    def size(self) -> int:
        return len(self.labels)


def factor(s: pd.Series) -> Dim:
    """A column as a :class:`Dim` (Categorical codes, or sorted distinct values)."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        codes = s.cat.codes.to_numpy().astype(np.int64)
        values = s.cat.categories
        categorical = True
    else:
        codes, values = pd.factorize(s, sort=True)
        codes = codes.astype(np.int64)
        categorical = False
    labels = [str(u) for u in values]
    codes = np.where(codes < 0, len(labels), codes)
    return Dim(str(s.name), codes, labels + [NOT_STATED], values, categorical)


def merge_dims(dims: Sequence[Dim]) -> tuple[Dim, list[np.ndarray]]:
    """The :class:`Dim` of the union of several frames' rows (without codes) and, for each
    input, the map from its codes to the merged codes.

    Equals :func:`factor` of the concatenated column: a Categorical keeps its categories (a
    Categorical of the values met, whose categories differ from frame to frame, gets their sorted
    union, as ``pd.Categorical`` of all the values would); other columns get the sorted union of
    their distinct values (``pd.factorize(sort=True)`` of the distinct values of all inputs),
    ``not stated`` last."""
    first = dims[0]
    same = all(d.labels == first.labels for d in dims)
    if first.categorical and same:
        values = first.values
    elif first.categorical:
        # categories made from the values met (e.g. a derived column): those of all the rows
        cats = pd.Index([]).append([pd.Index(d.values) for d in dims]).unique()
        ordered = all(list(pd.Index(d.values)) == sorted(pd.Index(d.values)) for d in dims)
        values = cats.sort_values() if ordered else cats
    else:
        parts = [pd.Series(d.values) for d in dims if d.values is not None and len(d.values)]
        values = pd.factorize(pd.concat(parts, ignore_index=True), sort=True)[1] if parts else first.values[:0]
    labels = [str(u) for u in values] + [NOT_STATED]
    index = {lab: i for i, lab in enumerate(labels)}
    maps = [np.array([index[lab] for lab in d.labels], dtype=np.int64) for d in dims]
    return Dim(first.name, np.zeros(0, dtype=np.int64), labels, values, first.categorical), maps


@dataclass
class CellSpace:
    """The factorised area hierarchy and disaggregations of one unit frame.

    ``area_codes`` are the rows' areas at the finest requested level (-1: no area);
    ``up[level]`` maps each finest area to its code at ``level`` and ``up_labels[level]`` holds
    those codes' PSGC strings. ``cache`` keeps arrays reused across indicators.
    """

    n: int
    area_codes: np.ndarray
    area_labels: np.ndarray
    up: dict[str, np.ndarray]
    up_labels: dict[str, np.ndarray]
    dims: dict[str, Dim]
    cache: dict = field(default_factory=dict)

    @property
    def in_area(self) -> np.ndarray:
        """Whether each row has an area (``area_codes >= 0``), computed once: every indicator
        of a partition intersects its universe with it (read-only; do not change it)."""
        got = self.cache.get("in_area")
        if got is None:
            got = self.cache["in_area"] = self.area_codes >= 0
        return got


def cell_space(df: pd.DataFrame, levels: Sequence[str], by: Sequence[str]) -> CellSpace:
    """The :class:`CellSpace` of frame ``df`` for ``levels`` (finest first) and ``by`` columns."""
    finest = COLUMN[levels[0]]
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
        c = COLUMN[lev]
        if c is None or c not in df.columns:  # the national level: one constant code
            vals = np.full(len(first), NATIONAL_CODE, dtype=object)
        else:
            vals = df[c].iloc[np.maximum(first, 0)].astype("string").to_numpy(dtype=object, na_value=None) \
                if len(first) else np.array([], dtype=object)
            if len(first):
                vals[first < 0] = None  # a category with no rows
        c2, u2 = pd.factorize(pd.Series(vals, dtype="object"), sort=True)
        up[lev] = c2.astype(np.int64)
        up_labels[lev] = np.asarray(u2, dtype=object)
    dims = {b: factor(df[b].rename(b)) for b in by if b in df.columns}
    return CellSpace(len(df), codes, uniq, up, up_labels, dims)


def area_table(space: CellSpace, levels: Sequence[str]) -> pd.DataFrame:
    """The areas of a :class:`CellSpace` that have rows: one row per finest area (``_area``, its
    code in the space) with its code at every level (columns named after the levels)."""
    finest = levels[0]
    used = np.flatnonzero(space.up[finest] >= 0) if len(space.up[finest]) else np.zeros(0, np.int64)
    out = {"_area": used}
    for lev in levels:
        out[lev] = space.up_labels[lev][space.up[lev][used]] if len(used) else np.array([], dtype=object)
    return pd.DataFrame(out)


def merge_spaces(tables: Sequence[pd.DataFrame], levels: Sequence[str],
                 dims: dict[str, list[Dim]]) -> tuple[CellSpace, list[np.ndarray], dict[str, list[np.ndarray]]]:
    """One :class:`CellSpace` (no rows) for the areas and dims of several partitions, as
    :func:`cell_space` of the concatenated frames would give for the cells of every partition,
    and per partition the maps from its area codes and dim codes to the merged ones.

    ``tables`` are :func:`area_table` of each partition; ``dims`` the partitions' dims by name."""
    finest = levels[0]
    allt = pd.concat([t.assign(_part=i) for i, t in enumerate(tables)], ignore_index=True) if tables \
        else pd.DataFrame({"_area": [], "_part": [], **{lv: [] for lv in levels}})
    labels = np.asarray(sorted(pd.unique(allt[finest].astype(object))), dtype=object) if len(allt) else np.array([], dtype=object)
    index = {lab: i for i, lab in enumerate(labels)}
    gcode = np.array([index[x] for x in allt[finest].astype(object)], dtype=np.int64)
    # the first row of each merged finest area gives its codes at every level
    first = np.full(len(labels), -1, dtype=np.int64)
    first[gcode[::-1]] = np.arange(len(gcode))[::-1]
    up: dict[str, np.ndarray] = {}
    up_labels: dict[str, np.ndarray] = {}
    for lev in levels:
        vals = allt[lev].astype(object).to_numpy()[first] if len(first) else np.array([], dtype=object)
        c2, u2 = pd.factorize(pd.Series(vals, dtype="object"), sort=True)
        up[lev] = c2.astype(np.int64)
        up_labels[lev] = np.asarray(u2, dtype=object)
    area_maps = []
    for i, t in enumerate(tables):
        sel = (allt["_part"] == i).to_numpy()
        width = int(t["_area"].max()) + 1 if len(t) else 0
        amap = np.full(width, -1, dtype=np.int64)
        amap[t["_area"].to_numpy().astype(np.int64)] = gcode[sel]
        area_maps.append(amap)
    gdims: dict[str, Dim] = {}
    dim_maps: dict[str, list[np.ndarray]] = {}
    for name, ds in dims.items():
        gdims[name], dim_maps[name] = merge_dims(ds)
    return CellSpace(0, np.zeros(0, dtype=np.int64), labels, up, up_labels, gdims), area_maps, dim_maps


def group_index(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of a non-negative int64 key (sorted) and each row's group number.

    Equals ``np.unique(key, return_inverse=True)``. Dense keys (max below a few times the row
    count) use a bincount lookup instead of the sort inside ``np.unique``; this is the hot path
    of the roll-up."""
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


def attach(left: pd.DataFrame, right: pd.DataFrame, on: Sequence[str]) -> pd.DataFrame:
    """``left.merge(right, on=on, how="left")`` for a ``right`` with one row per key (a cube's
    domain denominators beside its category rows), where every key column holds integer codes
    of -1 or more: one integer key per row and an index lookup instead of pandas' merge, which
    copies every column of both sides (a national distribution has tens of millions of rows)."""
    on = list(on)
    sizes = [int(max(left[c].max() if len(left) else -1, right[c].max() if len(right) else -1)) + 2 for c in on]

    def key(df: pd.DataFrame) -> np.ndarray:
        k = np.zeros(len(df), dtype=np.int64)
        for c, size in zip(on, sizes):
            k = k * size + (df[c].to_numpy().astype(np.int64) + 1)
        return k

    pos = pd.Index(key(right)).get_indexer(key(left))
    found = pos >= 0
    out = left.copy(deep=False)
    for c in right.columns:
        if c in on:
            continue
        vals = right[c].to_numpy()
        col = vals[np.where(found, pos, 0)] if len(vals) else np.zeros(len(left), dtype=vals.dtype)
        if not found.all():
            col = np.where(found, col, np.nan)
        out[c] = col
    return out


def subsets(dims: Sequence[str]) -> list[tuple[str, ...]]:
    """Every subset of ``dims``, largest first (the grouping sets of a cube)."""
    return [keep for r in range(len(dims), -1, -1) for keep in itertools.combinations(dims, r)]


def record_keys(ids: pd.DataFrame, secret: str) -> np.ndarray:
    """A uniform integer key in [0, 2**KEY_BITS) per row of ``ids`` (the unit's identifying
    columns), from a keyed hash with the dataset's secret: the same unit always gets the same
    key, and without the secret nobody can compute it.

    A cell's key (the sum of its units' keys modulo 2**KEY_BITS) drives the cell-key disclosure
    method: a cell has the same key in every table it appears in.
    """
    key = (str(secret) * 2)[:16].ljust(16, "0")
    h = hash_rows(ids, key)  # = pd.util.hash_pandas_object(ids, index=False, hash_key=key)
    return (h >> np.uint64(64 - KEY_BITS)).astype(np.float64)


#: The columns that identify a unit of each table for its record key.
UNIT_ID_COLUMNS = {"person": ("hh_id", "line_no"), "household": ("hh_id",)}


def unit_keys(frame: pd.DataFrame, unit: str, secret: str) -> np.ndarray | None:
    """Record keys (:func:`record_keys`) of the rows of ``unit``'s frame, from the unit's id
    columns (:data:`UNIT_ID_COLUMNS`); None when the frame has none of them. Every path that
    publishes complete counts (the indicator cube, ``migdata estimate``) keys units here, so one
    unit has one key everywhere."""
    cols = [c for c in UNIT_ID_COLUMNS.get(unit, ("hh_id",)) if c in frame.columns]
    return record_keys(frame[cols], secret) if cols else None


def cell_key(sums: np.ndarray) -> np.ndarray:
    """Cell keys in [0, 1) from summed record keys (the fraction of the sum modulo 2**KEY_BITS)."""
    m = float(1 << KEY_BITS)
    return np.mod(sums, m) / m


def _radix(space: CellSpace, dims: list[str]) -> tuple[np.ndarray, list[int]]:
    """Finest-cell number of every row (area x dims, mixed radix); cached per dims."""
    sizes = [space.dims[d].size for d in dims]
    key = ("radix", tuple(dims))
    if key not in space.cache:
        cell = space.area_codes.copy()
        for d, size in zip(dims, sizes):
            cell = cell * size + space.dims[d].codes
        space.cache[key] = np.where(space.in_area, cell, 0)
    return space.cache[key], sizes


#: Rows counted at a time by :func:`stage1` (8 MB per array of int64).
_COUNT_BLOCK = 1 << 20


def _bincount(cell: np.ndarray, mask: np.ndarray, weights: np.ndarray | None, ncell: int) -> np.ndarray:
    # a.take(np.flatnonzero(mask)) equals a[mask] (same rows, same order); the rows are found
    # once for the cells and the weights, and most masks select few of them
    rows = np.flatnonzero(mask)
    idx = cell.take(rows)
    if weights is None:
        return np.bincount(idx, minlength=ncell).astype("float64")
    return np.bincount(idx, weights=weights.take(rows), minlength=ncell)


def _top(cell: np.ndarray, mask: np.ndarray, values: np.ndarray, ncell: int) -> np.ndarray:
    """Largest |value| per cell (0 for empty cells); equals ``groupby(cell).max()`` of |values|."""
    out = np.zeros(ncell)
    idx = cell[mask]
    if len(idx):
        np.maximum.at(out, idx, np.abs(values[mask]))
    return out


def _decode(out: pd.DataFrame, dims: list[str], sizes: list[int]) -> pd.DataFrame:
    """Split the finest cell number back into area and dims codes."""
    rest = out["_cell"].to_numpy().astype(np.int64).copy()
    for d, size in zip(reversed(dims), reversed(sizes)):
        out[d] = rest % size
        rest //= size
    out["_area"] = rest
    return out


def stage1(space: CellSpace, dims: list[str], m: dict[str, Any], statistic: str = "count",
           cat: tuple[np.ndarray, list[str], np.ndarray] | None = None,
           multi: tuple[list[str], list[np.ndarray]] | None = None,
           keys: np.ndarray | None = None, den_cache: Any = None) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Sums per finest cell of a complete count (every unit weighs 1).

    ``m`` holds the row arrays of a statistic: ``u`` (universe), ``num`` (rows counted), and for
    sums ``value`` (total/mean) or ``a``/``b`` (ratio). ``cat`` splits a count into categories
    (a distribution), ``multi`` into several yes/no answers. ``keys`` are record keys
    (:func:`record_keys`); when given, each cell also carries ``ck_num``/``ck_den`` (summed keys)
    and, for sums of values, ``top_num``/``top_den`` (largest single contribution).

    Returns the cells (columns ``num``, ``den``, ``n``, ``units`` [, keys], ``_cell``, ``_cat``
    and the decoded area/dims codes) and, for distributions, the domain denominators.
    ``units`` is what the numerator rests on: the units counted, or for sums the units with a
    non-zero value (a total over 5 households of which one received remittances reveals that
    household's amount).
    """
    cell, sizes = _radix(space, dims)
    ncell = len(space.area_labels) * int(np.prod(sizes, dtype=np.int64))
    has_area = space.in_area

    def count_keys(mask: np.ndarray, k: np.ndarray | None = None, width: int = 0
                   ) -> tuple[np.ndarray, np.ndarray | None]:
        """The units per cell of ``mask`` and the sum of their record keys (None without keys),
        the rows selected once for both."""
        k, width = (cell, ncell) if k is None else (k, width)
        n = np.zeros(width)
        ks = None if keys is None else np.zeros(width)
        # a block of rows at a time: counts and sums of integer keys are exact in any order, and
        # a block's temporaries stay below the size the C library maps afresh for each one
        for a in range(0, max(len(mask), 1), _COUNT_BLOCK):
            rows = np.flatnonzero(mask[a:a + _COUNT_BLOCK])
            idx = k[a:a + _COUNT_BLOCK].take(rows)  # = k[mask] of the block
            n += np.bincount(idx, minlength=width)
            if ks is not None:
                ks += np.bincount(idx, weights=keys[a:a + _COUNT_BLOCK].take(rows), minlength=width)
        return n, ks

    dkey = ("den", den_cache, tuple(dims)) if den_cache is not None else None
    if dkey is not None and dkey in space.cache:
        u, den_n, den_k = space.cache[dkey]
    else:
        u = m["u"] & has_area
        den_n, den_k = count_keys(u)
        if dkey is not None:  # universes repeat across indicators: reuse their sums
            space.cache[dkey] = (u, den_n, den_k)
    cols: dict[str, np.ndarray] = {}
    if statistic in ("total", "mean", "median"):
        v = m["value"]
        nz = u & (v != 0)
        nz_n, nz_k = count_keys(nz)
        cols = {"num": _bincount(cell, u, v, ncell), "den": den_n, "n": den_n, "units": nz_n}
        if keys is not None:
            top = _top(cell, u, v, ncell)
            cols.update(ck_num=nz_k, ck_den=den_k, top_num=top, top_den=np.ones(ncell))
    elif statistic == "ratio":
        a, b = m["a"], m["b"]
        nz = u & (a != 0)
        nz_n, nz_k = count_keys(nz)
        cols = {"num": _bincount(cell, u, a, ncell), "den": _bincount(cell, u, b, ncell),
                "n": den_n, "units": nz_n}
        if keys is not None:
            cols.update(ck_num=nz_k, ck_den=count_keys(u & (b != 0))[1],
                        top_num=_top(cell, u, a, ncell), top_den=_top(cell, u, b, ncell))
    if cat is None and multi is None:
        if statistic in ("count", "share"):
            units, num_k = count_keys(m["num"] & has_area)
            cols = {"num": units, "den": den_n, "n": den_n, "units": units}
            if keys is not None:
                cols.update(ck_num=num_k, ck_den=den_k)
        keep = np.flatnonzero(cols["n"] > 0)
        out = pd.DataFrame({k: v[keep] for k, v in cols.items()})
        out["_cell"] = keep
        out["_cat"] = -1
        return _decode(out, dims, sizes), None
    # Category x cell: per-category numerators (cells with a count only), the domain
    # denominators apart; :func:`categories` adds the rows of categories with no unit
    dom_cols = {"den": den_n, "n": den_n}
    if keys is not None:
        dom_cols["ck_den"] = den_k
    if multi is not None:
        labels, arrs = multi
        parts = []
        for j, arr in enumerate(arrs):
            nn, nk = count_keys(arr & has_area)
            hit = np.flatnonzero(nn > 0)
            part = {"num": nn[hit], "units": nn[hit], "_cell": hit, "_cat": np.full(len(hit), j)}
            if nk is not None:
                part["ck_num"] = nk[hit]
            parts.append(pd.DataFrame(part))
        out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
            {c: np.zeros(0) for c in ["num", "units", "_cell", "_cat"] + (["ck_num"] if keys is not None else [])})
    else:
        codes, labels = cat[0], cat[1]
        K = len(labels)
        mk = m["num"] & has_area
        key = cell * K + codes
        if ncell * K <= DENSE_LIMIT:
            nn, nk = count_keys(mk, key, ncell * K)
            sel = np.flatnonzero(nn > 0)
            out = pd.DataFrame({"num": nn[sel], "units": nn[sel], "_cell": sel // K, "_cat": sel % K})
            if nk is not None:
                out["ck_num"] = nk[sel]
        else:
            kk = key[mk]
            uniq, inv = np.unique(kk, return_inverse=True)
            nn = np.bincount(inv, minlength=len(uniq)).astype("float64")
            out = pd.DataFrame({"num": nn, "units": nn, "_cell": uniq // K, "_cat": uniq % K})
            if keys is not None:
                out["ck_num"] = np.bincount(inv, weights=keys[mk], minlength=len(uniq))
    keep = np.flatnonzero(den_n > 0)
    dom = pd.DataFrame({k: v[keep] for k, v in dom_cols.items()})
    dom["_cell"] = keep
    dom["_cat"] = -1
    return _decode(out, dims, sizes), _decode(dom, dims, sizes)


def categories(cells: pd.DataFrame, dom: pd.DataFrame, dims: Sequence[str], keep: np.ndarray,
               zeros: bool) -> pd.DataFrame:
    """The category rows of a distribution: cells of the categories in ``keep`` (a boolean per
    category code), and with ``zeros`` also a zero row for every kept category a domain cell
    (a row of ``dom``) has no unit in (a 0 % share of a short code list is information).

    Equals filtering ``cells`` on ``keep[_cat]`` and, with ``zeros``, a left join of the cross
    product ``dom x kept categories`` on ``cells`` with missing counts set to 0."""
    keep = np.asarray(keep, dtype=bool)
    cat = cells["_cat"].to_numpy().astype(np.int64)
    out = cells[keep[cat]] if len(cat) else cells
    if not zeros or not len(dom):
        return out.reset_index(drop=True)
    kept = np.flatnonzero(keep)
    cols = ["_area", *dims]
    nd, nk = len(dom), len(kept)
    grid = {c: np.repeat(dom[c].to_numpy().astype(np.int64), nk) for c in cols}
    grid["_cat"] = np.tile(kept, nd)
    # one integer per (domain cell, category) to find the grid rows that have no cell yet
    radix = [int(max(grid[c].max(initial=0), out[c].max() if len(out) else 0)) + 1 for c in cols] + [len(keep)]

    def pack(frame: dict | pd.DataFrame) -> np.ndarray:
        k = np.zeros(len(frame["_cat"]), dtype=np.int64)
        for c, r in zip(cols + ["_cat"], radix):
            k = k * r + np.asarray(frame[c], dtype=np.int64)
        return k

    have = pack(out)
    missing = ~np.isin(pack(grid), have)
    extra = pd.DataFrame({c: v[missing] for c, v in grid.items()})
    for c in out.columns:
        if c not in extra.columns:
            extra[c] = 0.0
    return pd.concat([out, extra[out.columns]], ignore_index=True)


def combine(frames: Sequence[pd.DataFrame], keys: Sequence[str], sums: Sequence[str],
            maxes: Sequence[str] = ()) -> pd.DataFrame:
    """Stage-1 cells of several partitions as one table: cells with the same ``keys`` (global
    codes) are added (``sums``) or take their maximum (``maxes``).

    Equals ``pd.concat(frames).groupby(keys).agg(sum/max)``; partitions that hold different
    areas (the usual case: areas nest in partitions) are only concatenated."""
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame({c: np.zeros(0) for c in [*keys, *sums, *maxes]})
    out = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    k = np.zeros(len(out), dtype=np.int64)
    for c in keys:
        v = out[c].to_numpy().astype(np.int64)
        k = k * (int(v.max()) + 2) + (v + 1)
    uniq, inv = group_index(k)
    if len(uniq) == len(out):
        return out.reset_index(drop=True)
    first = np.full(len(uniq), len(out), dtype=np.int64)
    np.minimum.at(first, inv, np.arange(len(out)))
    res = {c: out[c].to_numpy()[first] for c in keys}
    for c in sums:
        res[c] = np.bincount(inv, weights=out[c].to_numpy(dtype="float64"), minlength=len(uniq))
    for c in maxes:
        mx = np.full(len(uniq), -np.inf)
        np.maximum.at(mx, inv, out[c].to_numpy(dtype="float64"))
        res[c] = mx
    return pd.DataFrame(res)


def _aggregate(area: np.ndarray, dcodes: dict[str, np.ndarray], cat: np.ndarray, vals: dict[str, np.ndarray],
               dims: list[str], keep: Sequence[str], sizes: list[int], ncat: int, sums: Sequence[str],
               maxes: Sequence[str]) -> dict[str, np.ndarray]:
    """Rows with the same (area, the ``keep`` dims, category) added up (``sums``) or maximised
    (``maxes``); dims not kept become -1 (``Total``)."""
    zeros = np.zeros(len(area), dtype=np.int64)
    key = area.copy()
    for d, size in zip(dims, sizes):
        key = key * size + (dcodes[d] + 1 if d in keep else zeros)
    key = key * ncat + (cat + 1)
    uniq, inv = group_index(key)
    out: dict[str, np.ndarray] = {}
    for v in sums:
        out[v] = np.bincount(inv, weights=vals[v], minlength=len(uniq))
    if maxes:
        order = np.argsort(inv, kind="stable")
        starts = np.searchsorted(inv[order], np.arange(len(uniq)))
    for v in maxes:
        # every group has a row (inv covers 0..len(uniq)-1): maxima of the sorted runs
        out[v] = np.maximum(np.maximum.reduceat(vals[v][order], starts), 0.0) if len(order) else np.zeros(0)
    rest = uniq
    out["_cat"] = rest % ncat - 1
    rest = rest // ncat
    for d, size in zip(reversed(dims), reversed(sizes)):
        out[d] = rest % size - 1
        rest = rest // size
    out["_alev"] = rest
    return out


def _nesting(space: CellSpace, finest_used: np.ndarray, lower: str, upper: str) -> np.ndarray | None:
    """The code at level ``upper`` of each code at level ``lower`` when every area of ``lower``
    lies in one area of ``upper`` (over the finest areas used); None otherwise."""
    lo, up = space.up[lower][finest_used], space.up[upper][finest_used]
    if not len(lo):
        return np.zeros(0, dtype=np.int64)
    m = np.full(int(lo.max()) + 1, -1, dtype=np.int64)
    m[lo] = up
    return m if bool((m[lo] == up).all()) else None


def rollup(cells: pd.DataFrame, space: CellSpace, levels: Sequence[str], dims: Sequence[str],
           sums: Sequence[str], maxes: Sequence[str] = ()) -> pd.DataFrame:
    """Every area level x every subset of ``dims`` (``Total`` = code -1), from the finest cells:
    columns ``sums`` are added, columns ``maxes`` take their maximum.

    Pure numpy on the small cell table: one combined integer key per grouping set, then
    :func:`group_index` + ``np.bincount``; ``area_level`` is the index in
    :data:`migdata.areas.levels.LEVELS`, ``_alev`` the area's code at that level. Each level is
    added up from the level below it (every ``by`` column kept) where its areas nest in the
    coarser ones, and each subset of ``by`` from its level's cells with every ``by`` column: the
    same sums as grouping the finest cells each time (which it equals), from far fewer rows."""
    dims = list(dims)
    sizes = [space.dims[d].size + 1 for d in dims]
    area_f = cells["_area"].to_numpy().astype(np.int64)
    cat0 = cells["_cat"].to_numpy().astype(np.int64)
    ncat = int(cat0.max()) + 2 if len(cat0) else 1
    base = {"_area": area_f, "_cat": cat0, **{d: cells[d].to_numpy().astype(np.int64) for d in dims},
            **{v: cells[v].to_numpy(dtype="float64") for v in [*sums, *maxes]}}
    used = np.unique(area_f) if len(area_f) else area_f
    out: dict[str, list[np.ndarray]] = {c: [] for c in ["_alev", "_cat", "area_level", *dims, *sums, *maxes]}
    full = None  # the previous level's cells with every by column: (codes at that level, columns)
    for i, lev in enumerate(levels):
        nest = _nesting(space, used, levels[i - 1], lev) if i and full is not None else None
        if nest is not None:
            src_area, src = nest[full["_alev"]], full
        else:
            src_area = space.up[lev][area_f] if len(area_f) else area_f
            src = base
        dsrc = {d: src[d] for d in dims}
        vsrc = {v: src[v] for v in [*sums, *maxes]}
        for keep in subsets(dims):
            agg = _aggregate(src_area, dsrc, src["_cat"], vsrc, dims, keep, sizes, ncat, sums, maxes)
            if len(keep) == len(dims):
                full = agg
                # the next subsets of this level start from its full cells (fewer rows)
                src_area, dsrc, vsrc = agg["_alev"], {d: agg[d] for d in dims}, {v: agg[v] for v in [*sums, *maxes]}
                src = agg
            for c in ["_alev", "_cat", *dims, *sums, *maxes]:
                out[c].append(agg[c])
            out["area_level"].append(np.full(len(agg["_alev"]), LEVELS.index(lev), dtype=np.int64))
    # each column's pieces are dropped as it is joined: never every piece and every column twice
    return pd.DataFrame({c: _join(out, c) for c in list(out)}, copy=False)


def _join(pieces: dict[str, list[np.ndarray]], column: str) -> np.ndarray:
    parts = pieces.pop(column)
    return np.concatenate(parts) if parts else np.array([], dtype=np.int64)


def median_cells(space: CellSpace, dims: Sequence[str], m: dict[str, Any],
                 keys: np.ndarray | None = None) -> pd.DataFrame:
    """The value histogram of each finest cell: one row per (cell, distinct value) of the units
    in the universe, with their count. Histograms add across partitions, and every domain's
    median is read exactly from the sum of its cells' histograms (:func:`median_rollup`).

    Equals ``groupby([area, *dims, value]).size()`` over the units in the universe; with record
    ``keys``, each row also carries ``ck``, the summed keys of its units (they add too, and give
    each domain's ``ck_den`` so that disclosure control perturbs the median's n)."""
    dims = list(dims)
    cell, sizes = _radix(space, dims)
    u = m["u"] & space.in_area
    c, v = cell[u], m["value"][u]
    if not len(c):
        out = pd.DataFrame({"_cell": np.zeros(0, np.int64), "value": np.zeros(0), "count": np.zeros(0)})
        if keys is not None:
            out["ck"] = np.zeros(0)
        return _decode(out, dims, sizes)
    order = np.lexsort((v, c))
    c, v = c[order], v[order]
    start = np.r_[True, (c[1:] != c[:-1]) | (v[1:] != v[:-1])]
    idx = np.flatnonzero(start)
    counts = np.diff(np.r_[idx, len(c)]).astype("float64")
    out = pd.DataFrame({"_cell": c[idx], "value": v[idx], "count": counts})
    if keys is not None:
        out["ck"] = np.add.reduceat(keys[u][order], idx)
    return _decode(out, dims, sizes)


def median_rollup(hist: pd.DataFrame, space: CellSpace, levels: Sequence[str], dims: Sequence[str]
                  ) -> pd.DataFrame:
    """Medians per domain (every level x every subset of ``dims``) from value histograms
    (:func:`median_cells`): the plain median of the domain's units, the mean of the two middle
    values for an even count. Equals ``groupby(domain)[value].median()`` on the units."""
    dims = list(dims)
    area_f = hist["_area"].to_numpy().astype(np.int64)
    vals = hist["value"].to_numpy(dtype="float64")
    cnt = hist["count"].to_numpy(dtype="float64")
    cks = hist["ck"].to_numpy(dtype="float64") if "ck" in hist.columns else None
    dcodes = {d: hist[d].to_numpy().astype(np.int64) for d in dims}
    sizes = [space.dims[d].size + 1 for d in dims]
    zeros = np.zeros(len(hist), dtype=np.int64)
    frames = []
    # rows by value once; a stable sort of each domain key in that order then equals
    # np.lexsort((vals, key)), at the cost of one sort per domain set instead of two
    by_value = np.argsort(vals, kind="stable")
    for lev in levels:
        acode = space.up[lev][area_f] if len(area_f) else zeros
        for keep in subsets(dims):
            key = acode.copy()
            for d, size in zip(dims, sizes):
                key = key * size + (dcodes[d] + 1 if d in keep else zeros)
            order = by_value[np.argsort(key[by_value], kind="stable")]
            k, v, c = key[order], vals[order], cnt[order]
            first = np.r_[True, k[1:] != k[:-1]] if len(k) else np.zeros(0, bool)
            starts = np.flatnonzero(first)
            ends = np.r_[starts[1:], len(k)]
            cum = np.cumsum(c)
            before = np.r_[0.0, cum][starts]  # units in the groups before
            n = cum[ends - 1] - before
            # the values at ranks (n-1)//2 and n//2 (0-based) of each group
            lo = np.searchsorted(cum, before + np.floor((n - 1) / 2), side="right")
            hi = np.searchsorted(cum, before + np.floor(n / 2), side="right")
            est = (v[lo] + v[hi]) / 2.0
            rest = k[starts]
            res: dict[str, Any] = {}
            for d, size in zip(reversed(dims), reversed(sizes)):
                res[d] = rest % size - 1
                rest = rest // size
            frame = pd.DataFrame({"_alev": rest, **{d: res[d] for d in dims}, "estimate": est, "n": n})
            if cks is not None:
                frame["ck_den"] = np.add.reduceat(cks[order], starts) if len(starts) else np.zeros(0)
            frame["area_level"] = LEVELS.index(lev)
            frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    out["_cat"] = -1
    out["units"] = out["n"]
    out["num"] = np.nan
    out["den"] = np.nan
    return out


def estimates(cube: pd.DataFrame, statistic: str, scale: float = 1.0) -> pd.DataFrame:
    """Estimates of a complete count from its cell sums: counts and totals are the sums, shares
    ``100 num / den``, means and ratios ``num / den`` (times ``scale``); SE 0 and the interval
    collapsed on the estimate (no sampling error)."""
    num, den = cube["num"].to_numpy(), cube["den"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        if statistic in ("count", "total"):
            est = num
        elif statistic == "median":
            est = cube["estimate"].to_numpy()
        else:
            est = np.where(den > 0, num / den, np.nan)
            if statistic == "share":
                est = est * 100.0
    est = est * (scale if statistic == "ratio" else 1.0)
    cube = cube.assign(estimate=est, se=np.where(np.isnan(est), np.nan, 0.0), ci_low=est, ci_high=est,
                       cv=np.where(np.isnan(est), np.nan, 0.0))
    cube["numerator"] = num
    cube["denominator"] = den if statistic not in ("count", "total") else np.nan
    return cube
