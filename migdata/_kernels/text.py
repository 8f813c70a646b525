"""Text-column kernels: Arrow string columns without a Python object per row.

A survey file of 16 M rows has a few thousand distinct values in a column: these kernels
format each distinct value once and spread the result with an Arrow dictionary cast, or write
zero-padded ids as bytes. Each equals the plain pandas operation named in its docstring.

Example:
    >>> import pandas as pd
    >>> s = pd.Series(pd.array([1, None, 1, 20], dtype="Int64"))
    >>> map_text(s, lambda v: f"<{v}>").tolist()
    ['<1>', <NA>, '<1>', '<20>']
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from migdata._kernels.codes import factorize, own_width

STRING = pd.StringDtype("pyarrow")


def _series(arr: pa.Array, index: pd.Index) -> pd.Series:
    return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([arr], type=pa.large_string())),
                     index=index)


def _label(v: Any) -> str | None:
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    return str(v)


def take_text(labels: Sequence[Any], codes: np.ndarray, index: pd.Index) -> pd.Series:
    """``pd.Series([labels[c] for c in codes], index=index, dtype="string[pyarrow]")`` with
    ``str()`` of each label, where code -1 or a missing label (None, NA, NaN) gives a missing
    value. One Arrow take from the labels, a missing label appended for code -1: no Python
    string per row (and half the time of a dictionary array's cast, which needs a null mask)."""
    lab = pa.array([_label(v) for v in labels] + [None], type=pa.large_string())
    codes = np.asarray(codes)
    return _series(lab.take(pa.array(np.where(codes < 0, len(labels), codes))), index)


def map_text(s: pd.Series, fn: Callable[[Any], Any],
             factorized: tuple[np.ndarray, Any] | None = None) -> pd.Series:
    """``s.map(lambda v: pd.NA if pd.isna(v) else fn(v)).astype("string[pyarrow]")`` (``str()``
    of each result; a result of None is missing), calling ``fn`` once per distinct value.
    ``factorized`` is ``factorize(s)`` when the caller already has it."""
    codes, uniques = factorized if factorized is not None else factorize(s)
    return take_text([fn(u) for u in uniques], codes, s.index)


def constant_text(value: str, index: pd.Index) -> pd.Series:
    """``pd.Series(value, index=index, dtype="string[pyarrow]")``, built by Arrow (pandas makes
    a Python list of millions of strings first)."""
    return _series(pa.repeat(pa.scalar(str(value), pa.large_string()), len(index)), index)


def arrow_text(s: pd.Series) -> pa.Array:
    """``s.astype("string[pyarrow]")`` as one (unchunked) Arrow string array."""
    arr = pa.array(s.astype(STRING) if not isinstance(s.dtype, pd.StringDtype) else s)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr


def string_buffers(arr: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """The value offsets (int64, one more than the values) and the bytes of an Arrow string
    array, as numpy views of its buffers: value ``i`` is ``data[offsets[i]:offsets[i + 1]]``."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    arr = arr.cast(pa.large_string()) if arr.type != pa.large_string() else arr
    bufs = arr.buffers()
    offsets = (np.frombuffer(bufs[1], dtype=np.int64)[arr.offset:arr.offset + len(arr) + 1]
               if bufs[1] is not None else np.zeros(1, dtype=np.int64))
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    return offsets, data


#: Bytes compared at a time by :func:`count_byte` (its temporary stays small and in cache).
_COUNT_BLOCK = 4 << 20


def count_byte(data: bytes | bytearray | memoryview, byte: int = 10) -> int:
    r"""``data.count(bytes([byte]))``: how often ``byte`` occurs (by default the newlines of a
    text). CPython counts a byte one at a time; numpy compares a block of 4 MB at a time with
    vector instructions, about 3x faster on a 256 MB chunk of a CSPro file.

    Example:
        >>> count_byte(b"a\nb\n\nc")
        3
    """
    buf = np.frombuffer(data, dtype=np.uint8)
    return sum(int(np.count_nonzero(buf[a:a + _COUNT_BLOCK] == byte)) for a in range(0, len(buf), _COUNT_BLOCK))


def isin_text(s: pd.Series, values: Any) -> np.ndarray:
    """``s.astype("string").isin(pd.Series(values).dropna().astype("string")).fillna(False)``
    as a boolean array: values compare as text, and a missing value is never in the set. Through
    Arrow: pandas' ``isin`` on Arrow strings loops in Python (about 25x slower on millions of
    household ids)."""
    arr = arrow_text(s)
    if not isinstance(values, pd.Series):
        values = pd.Series(values, dtype="object")
    vset = arrow_text(values.dropna()).cast(arr.type)
    return pc.is_in(arr, value_set=vset, skip_nulls=True).fill_null(False).to_numpy(zero_copy_only=False)


_TENS = (48 + np.arange(100) // 10).astype(np.uint8)
_UNITS = (48 + np.arange(100) % 10).astype(np.uint8)


def padded_join(cols: Sequence[pd.Series], widths: Sequence[int | None], sep: str,
                index: pd.Index) -> pd.Series:
    """Row by row ``sep.join(part_text)``, missing when any part is missing (as
    ``pyarrow.compute.binary_join_element_wise``), where a number's text is ``str(int(v))``
    (``repr(float(v))`` if not whole) left-padded with zeros to its width, ``.rjust(w, "0")``
    (which for the non-negative integers of ids is ``f"{v:0{w}d}"``), and text is kept as it is.
    In pandas: ``cols[0].astype(str).str.rjust(widths[0], "0") + sep + ...``.

    Non-negative integer parts that fit their widths go straight into one byte matrix, written
    once per run of equal parts (a household's members share its id) and copied to the run's
    rows: an id of region, PSU and household number for 16 M persons costs a few array passes
    instead of string casts and a join. Other parts take the Arrow string path."""
    fixed = _padded_digits(cols, widths, sep)
    if fixed is None:
        arrs = []
        for col, w in zip(cols, widths):
            if pd.api.types.is_integer_dtype(col) or pd.api.types.is_float_dtype(col):
                a = arrow_text(map_text(col, _number_text))
                if w:
                    a = pc.utf8_lpad(a, width=int(w), padding="0")
            else:
                a = arrow_text(col)
            arrs.append(a.cast(pa.large_string()))
        fixed = (pc.binary_join_element_wise(*arrs, pa.scalar(sep, pa.large_string()))
                 if len(arrs) > 1 else arrs[0])
        if isinstance(fixed, pa.ChunkedArray):
            fixed = fixed.combine_chunks()
    return _series(fixed.cast(pa.large_string()), index)


def _number_text(v: Any) -> str:
    f = float(v)
    return str(int(v)) if f.is_integer() else repr(f)


def _padded_digits(cols: Sequence[pd.Series], widths: Sequence[int | None], sep: str) -> pa.Array | None:
    """The byte-matrix path of :func:`padded_join`; ``None`` when it does not apply (a width
    unknown, a non-ASCII ``sep``, a part that is not a non-negative integer fitting its width)."""
    if not cols or not all(widths) or not sep.isascii():
        return None
    n = len(cols[0])
    vals, missing = [], np.zeros(n, dtype=bool)
    for col, w in zip(cols, widths):
        if not pd.api.types.is_integer_dtype(col.dtype):
            return None
        v, na = own_width(col)  # the digits widen only the run heads
        if len(v) and (int(v.min()) < 0 or int(v.max()) >= 10 ** int(w)):
            return None
        vals.append(v)
        missing |= na
    change = np.zeros(n, dtype=bool)
    change[:1] = True
    for v in vals:
        change[1:] |= v[1:] != v[:-1]
    if n and np.count_nonzero(change) < 0.8 * n:
        heads = np.flatnonzero(change)
        M = _digits_matrix([v[heads] for v in vals], widths, sep)
        rows = M.view(np.dtype((np.void, M.shape[1])))[:, 0]  # one item per id: a row copy each
        M = rows[np.cumsum(change) - 1].view(np.uint8).reshape(n, M.shape[1])
    else:
        M = _digits_matrix(vals, widths, sep)
    width = M.shape[1]
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int64)
    out = pa.Array.from_buffers(pa.large_string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(M)])
    if missing.any():
        out = pc.if_else(pa.array(missing), pa.scalar(None, pa.large_string()), out)
    return out


def _digits_matrix(vals: list[np.ndarray], widths: Sequence[int | None], sep: str) -> np.ndarray:
    """One row of ASCII bytes per value tuple: each value zero-padded to its width, ``sep``
    between values."""
    n = len(vals[0])
    seb = np.frombuffer(sep.encode("ascii"), dtype=np.uint8)
    width = sum(int(w) for w in widths) + len(seb) * (len(vals) - 1)
    T = np.empty((width, n), dtype=np.uint8)  # one contiguous row per character, transposed once
    pos = 0
    for i, (v, w) in enumerate(zip(vals, widths)):
        if i:
            T[pos:pos + len(seb)] = seb[:, None]
            pos += len(seb)
        # two digits per division (uint32 divides faster than int64)
        rest = v.astype(np.uint32) if int(w) <= 9 else v.astype(np.uint64)
        j = int(w)
        while j >= 2:
            q = rest // 100
            r = rest - q * 100
            T[pos + j - 2] = _TENS[r]
            T[pos + j - 1] = _UNITS[r]
            rest, j = q, j - 2
        if j:
            T[pos] = rest % 10 + 48
        pos += int(w)
    return np.ascontiguousarray(T.T)
