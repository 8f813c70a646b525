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


def _beyond_int64(s: pd.Series) -> bool:
    """An unsigned column holding a value that int64 cannot (it is hashed as it is)."""
    return s.dtype.kind == "u" and bool(s.max(skipna=True) >= 2 ** 63)
