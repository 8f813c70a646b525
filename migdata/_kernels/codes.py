"""Factorisation of a column, with a shortcut for the small integer codes of survey files.

Example:
    >>> import pandas as pd
    >>> codes, uniques = factorize(pd.Series(pd.array([3, None, 1, 3], dtype="Int8")))
    >>> [None if c < 0 else int(uniques[c]) for c in codes]
    [3, None, 1, 3]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

_DIRECT_CODES = 1 << 16  # integer codes below this index a table instead of being hashed


def factorize(s: pd.Series) -> tuple[np.ndarray, Any]:
    """``pd.factorize(s, use_na_sentinel=True)``: codes (-1 for missing) and the distinct values,
    so that ``uniques[codes]`` equals ``s`` row by row. Small non-negative integer codes, the
    usual case in survey files, are their own hash: they index a table of the values present,
    so 16 M rows cost two array passes instead of a hash table. The distinct values then come in
    increasing order, not in order of appearance (callers must not depend on the order)."""
    if pd.api.types.is_integer_dtype(s.dtype) and len(s) and _numpy_dtype(s).itemsize <= 2:
        got = _narrow(s)
        if got is not None:
            return got
    if pd.api.types.is_integer_dtype(s.dtype) and len(s) and not _beyond_int64(s):
        na = s.isna().to_numpy(dtype=bool)
        v = s.to_numpy(dtype=np.int64, na_value=0)
        lo, hi = (int(v[~na].min()), int(v[~na].max())) if not na.all() else (0, 0)
        if lo >= 0 and hi < _DIRECT_CODES:
            present = np.bincount(v[~na], minlength=hi + 1) > 0
            uniques = np.flatnonzero(present)
            lut = np.full(hi + 2, -1, dtype=np.int64)  # the last slot answers missing values
            lut[uniques] = np.arange(len(uniques))
            codes = lut[np.where(na, hi + 1, v)]
            return codes, pd.array(uniques, dtype=s.dtype)
    return pd.factorize(s, use_na_sentinel=True)


def _numpy_dtype(s: pd.Series) -> np.dtype:
    return np.dtype(getattr(s.dtype, "numpy_dtype", s.dtype))


def own_width(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """An integer column's values at its own width (a missing value read as 0) and its missing
    mask: ``(s.fillna(0).to_numpy(<its numpy dtype>), s.isna().to_numpy())``. A file's codes are
    8, 16 or 32 bits; a 64-bit copy would cost two to eight times the memory passes."""
    return s.to_numpy(dtype=_numpy_dtype(s), na_value=0), s.isna().to_numpy(dtype=bool)


def _narrow(s: pd.Series) -> tuple[np.ndarray, Any] | None:
    """The direct path of :func:`factorize` for 8- and 16-bit integers (the reader's codes),
    None when a value is negative. Every possible value is a slot of a table of 256 or 65,536,
    so the values are read at their own width: no 64-bit copy, no pass to find the range,
    and missing values (read as 0) are taken out of slot 0's count, not out of the rows."""
    v, na = own_width(s)
    missing = int(na.sum())
    width = v.dtype
    v = v.view(f"u{width.itemsize}")
    counts = np.bincount(v, minlength=1 << (8 * width.itemsize))
    counts[0] -= missing
    if width.kind == "i" and counts[len(counts) // 2:].any():  # a negative value: hashed
        return None
    uniques = np.flatnonzero(counts)
    lut = np.full(len(counts), -1, dtype=np.int64)
    lut[uniques] = np.arange(len(uniques))
    codes = lut[v]  # (indexing by a narrow array is faster here than lut.take)
    if missing:
        np.putmask(codes, na, -1)
    return codes, pd.array(uniques, dtype=s.dtype)


def _beyond_int64(s: pd.Series) -> bool:
    """An unsigned column holding a value that int64 cannot (it is hashed as it is)."""
    return s.dtype.kind == "u" and bool(s.max(skipna=True) >= 2 ** 63)


def isin(values: np.ndarray, test: Any) -> np.ndarray:
    """``np.isin(values, test)`` for a numeric array and a short list of numbers (category
    codes against the positions of a few labels, a numeric item against its codes).

    ``np.isin`` sorts or builds a table per call; a census partition tests millions of codes
    against two or three values dozens of times, so integer codes index a small lookup table
    and other numbers are compared value by value (NaN matches nothing, as in ``np.isin``).

    Example:
        >>> isin(np.array([-1, 0, 2, 1], dtype=np.int8), [2, 1]).tolist()
        [False, False, True, True]
    """
    values = np.asarray(values)
    test = np.asarray(list(test)).ravel().tolist()
    if not test or values.dtype.kind not in "iuf":
        return np.isin(values, test)
    if values.dtype.kind in "iu" and all(isinstance(t, (int, float)) and float(t).is_integer() for t in test):
        ints = [int(t) for t in test]
        lo, hi = min(ints), max(ints)
        if values.dtype.itemsize <= 2 and hi - lo < 1 << 16:
            # every possible code of a small integer type is a slot of the table
            info = np.iinfo(values.dtype)
            table = np.zeros(int(info.max) - int(info.min) + 1, dtype=bool)
            for t in ints:
                if info.min <= t <= info.max:
                    table[t - int(info.min)] = True
            return table[values.astype(np.int64) - int(info.min)] if info.min else table[values]
    out = np.zeros(values.shape, dtype=bool)
    for t in test:
        out |= values == t
    return out


#: Whole ages below this are grouped through a table (:func:`interval_codes`).
_INTERVAL_TABLE = 1 << 12


def interval_codes(s: pd.Series, cuts: np.ndarray, upper: int | None = None) -> np.ndarray:
    """The interval of each value between whole-number ``cuts``, as int8 codes (-1: missing,
    below the first cut, or at/above ``upper``); equals

        a = s.astype(float); i = np.searchsorted(cuts, a, side="right") - 1
        np.where(np.isnan(a) | (i < 0) | (a >= upper), -1, i)

    An integer column (ages as read) is grouped through a table of its whole values, read at
    its own width: no float copy and no binary search per row. Whole cuts make the floor of a
    value fall in the same interval as the value, so the table holds for any whole number.
    """
    cuts = np.asarray(cuts, dtype=np.int64)
    if len(cuts) < 127 and pd.api.types.is_integer_dtype(s.dtype) and len(s):
        v, na = own_width(s)
        lo, hi = int(v.min()), int(v.max())
        if lo >= 0 and hi < _INTERVAL_TABLE:
            whole = np.arange(hi + 1)
            lut = (np.searchsorted(cuts, whole, side="right") - 1).astype(np.int8)
            if upper is not None:
                lut[whole >= upper] = -1
            codes = lut[v]
            if na.any():
                np.putmask(codes, na, -1)
            return codes
    a = pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    idx = np.searchsorted(cuts.astype("float64"), a, side="right") - 1
    bad = np.isnan(a) | (idx < 0)
    if upper is not None:
        bad |= a >= upper
    return np.where(bad, -1, idx)
