"""Key kernels: one row per case, household-id codes and duplicate pairs.

Survey files keep their usual order (cases sorted by their id items, a household's members on
consecutive lines, small integer codes): these kernels compare neighbours or index tables
where that order allows and fall back to hashing otherwise, so 16 M persons cost a few array
passes. Each equals the plain pandas operation named in its docstring, in every order.

Example:
    >>> import pandas as pd
    >>> df = pd.DataFrame({"hh": [1, 1, 2, 1], "line": [1, 2, 1, 3]})
    >>> first_per_case(df, ["hh"]).index.tolist()
    [0, 2]
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from migdata._kernels.codes import own_width
from migdata._kernels.text import arrow_text

def first_per_case(df: pd.DataFrame, keys: list[str], starts: np.ndarray | None = None) -> pd.DataFrame:
    """``df.drop_duplicates(subset=keys, keep="first")`` (same rows, same order, same index).
    ``starts``: ``run_starts(df, keys)`` when the caller has them.

    Only the rows that start a run of equal keys are hashed: a case's records are contiguous in
    the files we read, so 16 M person lines give 3.5 M run starts, and none is hashed when their
    ids are seen to be distinct without it (:func:`_increasing_ids`). A row equal to the row
    before it is a duplicate of whatever that row duplicates, so dropping it first changes
    nothing."""
    heads = df.iloc[run_starts(df, keys) if starts is None else starts]
    return heads if _increasing_ids(heads, keys) else heads.drop_duplicates(subset=keys, keep="first")


def packed_keys(frames: list[pd.DataFrame], keys: list[str]) -> list[np.ndarray] | None:
    """One int64 code per row of each frame for the integer key columns ``keys``: two rows (of
    any of the frames) get the same code exactly when all their keys are equal, so merging on
    the code equals ``pd.merge(..., on=keys)``. Each key is offset by its smallest value and the
    keys are combined in mixed radix (their ranges over all the frames), which a survey file's
    small id items fit in 63 bits. None (use the keys themselves) when a key is not an integer
    column, has a missing value, or the ranges do not fit.

    Merging on one int64 column spares pandas factorising each of a case id's eight or nine
    columns (a CBMS chunk's join of Section B with Section A: 28 to 7 ms, with
    :func:`left_join_codes`)."""
    if not keys or not frames:
        return None
    cols = []
    for k in keys:
        parts = []
        for df in frames:
            if k not in df or not pd.api.types.is_integer_dtype(df[k].dtype):
                return None
            v, na = own_width(df[k])
            if na.any():
                return None
            parts.append(v)
        cols.append(parts)
    lo = [min((int(p.min()) for p in parts if len(p)), default=0) for parts in cols]
    span = [max((int(p.max()) for p in parts if len(p)), default=0) - m + 1 for parts, m in zip(cols, lo)]
    total = 1
    for r in span:
        total *= max(r, 1)
    if total >= 1 << 62:
        return None
    out = []
    for j in range(len(frames)):
        code = np.zeros(len(frames[j]), dtype=np.int64)
        for parts, m, r in zip(cols, lo, span):
            code *= r
            code += parts[j].astype(np.int64, copy=False)
            code -= m
        out.append(code)
    return out


def left_join_codes(df: pd.DataFrame, right: pd.DataFrame, a: np.ndarray, b: np.ndarray) -> pd.DataFrame | None:
    """``df.assign(_k=a).merge(right.assign(_k=b), on="_k", how="left", sort=False)`` without the
    ``_k`` column, for codes ``b`` distinct (one row of ``right`` per code) and column names
    that the two frames do not share; None when some row of ``df`` has no match (the caller
    merges: pandas then decides the missing values' types).

    A file's records of one case follow each other, so the rows of two record types of a clean
    file often have the same codes in the same order: then ``right``'s columns are put beside
    ``df``'s as they are (no hash table, no copy); otherwise its rows are taken by position."""
    if len(a) == len(b) and np.array_equal(a, b):
        taken = right
    else:
        at = pd.Index(b).get_indexer(a)
        if len(at) and at.min() < 0:
            return None
        taken = right.take(at)
    return pd.concat([df.reset_index(drop=True), taken.reset_index(drop=True)], axis=1)


def run_starts(df: pd.DataFrame, keys: list[str]) -> np.ndarray:
    """Positions where a run of equal keys starts (a missing key starts a run): in pandas,
    ``np.flatnonzero(df[keys].ne(df[keys].shift()).any(axis=1) | df[keys].isna().any(axis=1))``."""
    n = len(df)
    start = np.ones(n, dtype=bool)
    if n > 1:
        same = np.ones(n - 1, dtype=bool)
        for k in keys:
            if isinstance(df[k].dtype, pd.StringDtype):  # text ids: Arrow compares ×8 faster
                same &= ~_runs(arrow_text(df[k]))[1:]
                continue
            col = df[k]
            if pd.api.types.is_integer_dtype(col.dtype):  # at the column's own width, no masked arrays
                v, na = own_width(col)
                same &= (v[1:] == v[:-1]) & ~na[1:] & ~na[:-1]  # a missing key starts a run
                continue
            a = col.array
            eq = pd.array(a[1:] == a[:-1], dtype="boolean")  # NA (a missing key) starts a run
            same &= eq.to_numpy(dtype=bool, na_value=False)
        start[1:] = ~same
    return np.flatnonzero(start)


def runs_are_cases(heads: pd.DataFrame, keys: list[str]) -> bool:
    """True when the rows that start the runs (``df.iloc[run_starts(df, keys)]``) are seen to be
    distinct cases without hashing, i.e. ``not heads.duplicated(keys).any()`` is then sure; False
    means "not seen", not "duplicated"."""
    return _increasing_ids(heads, keys)


def run_reduce(values: np.ndarray, starts: np.ndarray, how: str) -> np.ndarray:
    """One value per run of ``values`` (runs begin at ``starts``), missing values (NaN)
    skipped: equals ``pd.Series(values).groupby(run_number).agg(how)`` for ``how`` in mean,
    sum, min, max, first (a run of only NaN gives NaN, and 0 for sum, as pandas). A case's
    rows are contiguous, so a per-case aggregate is one array pass instead of a hashed
    group-by.

    Example:
        >>> run_reduce(np.array([1.0, 3.0, np.nan, 5.0]), np.array([0, 2]), "mean").tolist()
        [2.0, 5.0]
    """
    if not len(values):
        return np.zeros(0)
    ok = ~np.isnan(values)
    count = np.add.reduceat(ok.astype(np.int64), starts)
    if how in ("sum", "mean"):
        total = np.add.reduceat(np.where(ok, values, 0.0), starts)
        if how == "sum":
            return total
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, total / np.maximum(count, 1), np.nan)
    if how in ("min", "max"):
        fill = np.inf if how == "min" else -np.inf
        red = (np.minimum if how == "min" else np.maximum).reduceat(np.where(ok, values, fill), starts)
        return np.where(count > 0, red, np.nan)
    # first non-missing value of each run
    pos = np.where(ok, np.arange(len(values)), len(values))
    first = np.minimum.reduceat(pos, starts)
    return np.where(count > 0, values[np.minimum(first, len(values) - 1)], np.nan)


def hash_rows(df: pd.DataFrame, hash_key: str) -> np.ndarray:
    """``pd.util.hash_pandas_object(df, index=False, hash_key=hash_key).to_numpy(np.uint64)``
    (the same values). A text column whose equal values stand in runs (a household's id on each
    of its members' rows) is hashed once per run, which is where the time goes at census scale;
    the columns are then combined as pandas combines them (CPython's tuple hash)."""
    n = len(df)
    parts = []
    for c in df.columns:
        s = df[c]
        if n > 1 and not pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
            starts = run_starts(df, [c])
            if len(starts) * 2 < n:  # long runs: hash each run's value once
                parts.append(np.repeat(_hash_values(s.iloc[starts], hash_key), np.diff(np.append(starts, n))))
            else:
                parts.append(_hash_values(s, hash_key))
            continue
        parts.append(pd.util.hash_pandas_object(s, index=False, hash_key=hash_key).to_numpy(dtype=np.uint64))
    return _combine_hashes(parts, n)


def _hash_values(s: pd.Series, hash_key: str) -> np.ndarray:
    """``pd.util.hash_pandas_object(s, index=False, hash_key=hash_key)`` of mostly distinct
    values (ids, run heads): without pandas' categorising first, which only costs then; a
    missing value hashes as pandas hashes it when categorising."""
    na = s.isna().to_numpy()
    h = np.empty(len(s), dtype=np.uint64)
    h[~na] = pd.util.hash_pandas_object(s[~na], index=False, hash_key=hash_key,
                                        categorize=False).to_numpy(dtype=np.uint64)
    h[na] = pd.util.hash_pandas_object(s[na], index=False, hash_key=hash_key).to_numpy(dtype=np.uint64)
    return h


def lexsort_ints(keys: list[np.ndarray]) -> np.ndarray:
    """``np.lexsort(keys)`` (the last key sorts first) for integer keys: the keys packed into one
    int64 (mixed radix over each key's range) and sorted once, stably, which is several times
    faster than one pass per key; ``np.lexsort`` itself when the ranges' product does not fit."""
    if not len(keys) or not len(keys[0]):
        return np.lexsort(keys)
    packed: np.ndarray | None = None
    total = 1
    for k in reversed(keys):
        k = np.asarray(k, dtype=np.int64)
        lo = int(k.min())
        size = int(k.max()) - lo + 1
        total *= size
        if total >= 1 << 62:
            return np.lexsort(keys)
        packed = k - lo if packed is None else packed * size + (k - lo)
    return np.argsort(packed, kind="stable")


def _combine_hashes(parts: list[np.ndarray], n: int) -> np.ndarray:
    """pandas' combination of column hashes into a row hash (``combine_hash_arrays``: CPython's
    tuple hash), here because pandas keeps it private."""
    if not parts:
        return np.full(n, 0x345678 + 97531, dtype=np.uint64)
    mult = np.uint64(1000003)
    out = np.full(n, 0x345678, dtype=np.uint64)
    for i, a in enumerate(parts):
        inverse_i = len(parts) - i
        out ^= a
        out *= mult
        mult += np.uint64(82520 + inverse_i + inverse_i)
    out += np.uint64(97531)
    return out


def _increasing_ids(df: pd.DataFrame, keys: list[str]) -> bool:
    """True when the rows' keys are seen to be distinct without hashing: non-negative integer
    keys with no missing value, packed into one int64 (mixed radix) in some order of the key
    columns, increase strictly. Files sort cases by their id items, not always in the
    dictionary's order, so each order of up to four keys is tried (a few passes over the cases);
    five keys or more are tried in their own order."""
    if len(df) < 2:
        return True
    cols = []
    for k in keys:
        col = df[k]
        if not pd.api.types.is_integer_dtype(col.dtype) or col.isna().any():
            return False
        v = col.to_numpy(dtype=np.int64)
        if int(v.min()) < 0:
            return False
        cols.append((v, int(v.max()) + 1))
    if float(np.prod([float(r) for _, r in cols])) >= 2.0 ** 62:
        return False
    # more than four keys: only their own order (120 orders would cost more than hashing)
    for order in itertools.permutations(cols) if len(cols) <= 4 else [cols]:
        packed = np.zeros(len(df), dtype=np.int64)
        for v, radix in order:
            packed = packed * radix + v
        if bool((packed[1:] > packed[:-1]).all()):
            return True
    return False


def _runs(ids: pa.Array) -> np.ndarray:
    """True where a row's id differs from the row before (a missing id is a run of its own)."""
    out = np.ones(len(ids), dtype=bool)
    if len(ids) > 1:
        ne = pc.not_equal(ids.slice(1), ids.slice(0, len(ids) - 1)).fill_null(True)
        out[1:] = ne.to_numpy(zero_copy_only=False)
    return out


def _increasing(ids: pa.Array) -> bool:
    """Every id present and greater than the one before (so all are distinct)."""
    if ids.null_count:
        return False
    return len(ids) < 2 or bool(pc.all(pc.greater(ids.slice(1), ids.slice(0, len(ids) - 1))).as_py())


def _first_row(ids: pa.Array, households: pa.Array) -> np.ndarray:
    """Row of the first household whose id equals each of ``ids`` (-1: none, or id missing)."""
    found = pc.index_in(ids, value_set=households, skip_nulls=True).fill_null(-1)
    return found.to_numpy(zero_copy_only=False).astype(np.int64)


class HouseholdKeys:
    """Integer codes for the household ids of households and persons (ids compare as text).

    With ``first[id]`` the row of the first household with that id (``h`` the household ids,
    ``p`` the persons'), the attributes equal, in pandas:

    - ``hh_code``: ``h.map(first)``, -1 for a missing id;
    - ``hh_first``: ``h.notna() & ~h.duplicated()`` (the row is the first with its id);
    - ``pp_hh``: ``p.map(first)``, -1 where no household has the id or the id is missing;
    - ``pp_code``: ``pp_hh``, or for an id no household has, a code of its own past the
      households (``len(h)`` + its rank among those ids), so that two persons share a code
      exactly when they share an id: ``pd.factorize(p)`` up to a renumbering.

    Ids are compared, not hashed, where the usual order of the files allows (households in
    increasing id order are distinct; a household's members are consecutive rows, so each run
    of equal ids is looked up once, and none when the runs follow the households); Arrow hash
    look-ups cover every other order.
    """

    def __init__(self, hh_ids: pd.Series, pp_ids: pd.Series) -> None:
        h = arrow_text(hh_ids)
        p = arrow_text(pp_ids)
        self.n_hh = len(h)
        rows = np.arange(len(h))
        self.hh_code = rows if _increasing(h) else _first_row(h, h)
        self.hh_first = self.hh_code == rows
        run = _runs(p)
        heads = p.take(pa.array(np.flatnonzero(run)))
        if len(heads) == len(h) and not heads.null_count and not h.null_count \
                and bool(pc.all(pc.equal(heads, h)).as_py()):
            head_hh = self.hh_code
        else:
            head_hh = _first_row(heads, h)
        self.pp_hh = head_hh[np.cumsum(run) - 1] if len(p) else np.zeros(0, dtype=np.int64)
        self.pp_code = self.pp_hh
        orphan = (self.pp_hh < 0) & p.is_valid().to_numpy(zero_copy_only=False)
        if orphan.any():
            self.pp_code = self.pp_hh.copy()
            enc = p.filter(pa.array(orphan)).dictionary_encode()
            self.pp_code[orphan] = len(h) + enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)

    @classmethod
    def from_codes(cls, hh_code: np.ndarray, pp_hh: np.ndarray, pp_code: np.ndarray) -> "HouseholdKeys":
        """Keys already coded as the attributes above (a streaming import codes the ids of all
        its chunks against one registry of ids)."""
        self = cls.__new__(cls)
        self.n_hh = len(hh_code)
        self.hh_code = hh_code
        self.hh_first = hh_code == np.arange(len(hh_code))
        self.pp_hh, self.pp_code = pp_hh, pp_code
        return self

    def in_households(self, kept_rows: np.ndarray) -> np.ndarray:
        """``p.isin(h[kept_rows])`` as a boolean array (a missing id is in no household)."""
        ok = np.zeros(self.n_hh + 1, dtype=bool)  # the last slot answers code -1
        ok[self.hh_code[kept_rows & (self.hh_code >= 0)]] = True
        return ok[self.pp_hh]

    def persons_per_household(self, rows: np.ndarray) -> np.ndarray:
        """Per household row: ``p[rows].value_counts()`` of its id at the id's first household
        row, 0 on every other row (a later duplicate or a missing id)."""
        sel = self.pp_hh[rows & (self.pp_hh >= 0)]
        return np.bincount(sel, minlength=self.n_hh)

    def per_household_row(self, per_first_row: np.ndarray) -> np.ndarray:
        """``per_first_row[hh_code]``: a value held at each id's first household row, on every
        household row with that id (0 where the id is missing)."""
        return np.append(per_first_row, 0)[self.hh_code]


NA_LINE = -(2 ** 31)  # a missing line number in an int32 array of line numbers


def duplicated_pairs(code: np.ndarray, line_no: pd.Series | np.ndarray) -> np.ndarray:
    """``pd.DataFrame({"code": code, "line": line_no}).duplicated(keep="first").to_numpy()``:
    rows whose (id code, line number) pair appeared on an earlier row; missing line numbers
    count as equal to each other. ``code`` is a non-negative integer below 2**30 or -1, and
    line numbers fit in 32-bit integers (as validated ``line_no`` does); a numpy ``line_no``
    (a streaming import's) holds :data:`NA_LINE` for a missing one.

    Pairs are packed into one int64; when they increase (the usual order) there is no duplicate
    and no sort."""
    if isinstance(line_no, np.ndarray):
        key = line_no.astype(np.int64)
        key[key == NA_LINE] = -(2 ** 31) - 1
    else:
        key = line_no.to_numpy(dtype="int64", na_value=-(2 ** 31) - 1, copy=True)
    key += 2 ** 31 + 1  # 1 .. 2**32 for line numbers, 0 for a missing one
    key += np.asarray(code, dtype=np.int64) << 33
    if len(key) < 2 or bool((key[1:] > key[:-1]).all()):
        return np.zeros(len(key), dtype=bool)
    # a stable sort keeps equal keys in row order, so every key after the first of its run is a
    # later duplicate; persons arrive grouped by household, and timsort is linear on such runs
    order = np.argsort(key, kind="stable")
    ks = key[order]
    dup = np.zeros(len(key), dtype=bool)
    dup[order[1:]] = ks[1:] == ks[:-1]
    return dup
