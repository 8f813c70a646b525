"""Validation of the tidy tables against ``schema.toml``, with every problem located and reported.

Checks, in order: required columns; types (text in a number field); allowed codes; ranges
(age 0-120, ...); string patterns (10-digit PSGC, ISO3); keys (``hh_id`` unique; (``hh_id``,
``line_no``) unique); every person's household exists; every household has at least one person
and at most one head; PSGC codes exist in the area reference. The policy (``lenient``,
``reject``, ``strict``) is documented in :mod:`migdata.model.report`.

Vectorised: checks run on whole columns (distinct values for patterns and PSGC look-ups), and
only the offending rows are turned into report entries, so 16 M persons validate in seconds.

Example:
    >>> import pandas as pd
    >>> from migdata.model.data import HouseholdData
    >>> hh = pd.DataFrame({"hh_id": ["a"], "weight": [1.0], "source": ["demo"]})
    >>> pp = pd.DataFrame({"hh_id": ["a", "a"], "line_no": [1, 2], "sex": ["female", "male"],
    ...                    "age": [34, 250], "relationship": ["head", "child"]})
    >>> out = validate(HouseholdData({"households": hh, "persons": pp}))
    >>> out.persons["age"].tolist()
    [34, <NA>]
    >>> [p.code for p in out.report.problems]
    ['MD105']
"""

from __future__ import annotations

import re
import tomllib
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from migdata.errors import DataError, UsageError
from migdata.model import codes as codelists
from migdata.model.data import HouseholdData
from migdata.model.report import POLICIES, ImportReport

STRING = pd.StringDtype("pyarrow")
INT = "Int32"
FLOAT = "float64"
BOOL = "boolean"
_TRUE = {"1", "true", "yes", "y", "t", "oo"}
_FALSE = {"0", "false", "no", "n", "f", "hindi", "2"}


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The tidy-model schema (``migdata/model/schema.toml``) as a dict."""
    text = resources.files("migdata.model").joinpath("schema.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def columns(table: str) -> dict[str, dict[str, Any]]:
    """Column specifications of tidy table ``table``."""
    return schema()[table]["columns"]


def _isin(s: pd.Series, values: Any) -> np.ndarray:
    """``s.isin(values)`` as a boolean array, through Arrow: pandas' isin on Arrow strings loops
    in Python (about 25x slower on millions of household ids)."""
    arr = _arrow_text(s)
    if not isinstance(values, pd.Series):
        values = pd.Series(values, dtype="object")
    vset = _arrow_text(values.dropna()).cast(arr.type)
    return pc.is_in(arr, value_set=vset, skip_nulls=True).fill_null(False).to_numpy(zero_copy_only=False)


class _HouseholdKeys:
    """Integer codes for the ``hh_id`` of households and persons.

    An id's code is the row of the first household with that id: ``hh_code`` for each household
    row, ``pp_hh`` for each person (-1 where no household has the id, or the id is missing).
    ``pp_code`` is each person's own id code: ``pp_hh``, or past the households for an id that
    no household has. Ids are compared, not hashed, where the usual order of the files allows
    (see ``__init__``); Arrow hash look-ups cover every other order.
    """

    def __init__(self, hh_ids: pd.Series, pp_ids: pd.Series) -> None:
        h = _arrow_text(hh_ids)
        p = _arrow_text(pp_ids)
        self.n_hh = len(h)
        rows = np.arange(len(h))
        # households in increasing id order (the usual case) are unique without hashing
        self.hh_code = rows if _increasing(h) else _first_row(h, h)
        self.hh_first = self.hh_code == rows
        # a household's members are consecutive rows: look up each run of equal ids once
        # (3.5 M look-ups instead of 16 M), and none at all when the runs follow the households
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
            self.pp_code[orphan] = len(h) + _codes(p.filter(pa.array(orphan)).dictionary_encode())

    @classmethod
    def from_codes(cls, hh_code: np.ndarray, pp_hh: np.ndarray, pp_code: np.ndarray) -> "_HouseholdKeys":
        """Keys already coded (a streaming import codes the ids of all its chunks): ``hh_code``
        the row of each household's first occurrence of its id, ``pp_hh`` each person's household
        code (-1: none), ``pp_code`` each person's own id code (as in ``__init__``)."""
        self = cls.__new__(cls)
        self.n_hh = len(hh_code)
        self.hh_code = hh_code
        self.hh_first = hh_code == np.arange(len(hh_code))
        self.pp_hh, self.pp_code = pp_hh, pp_code
        return self

    def in_households(self, kept_rows: np.ndarray) -> np.ndarray:
        """Persons whose hh_id is the id of a household row in ``kept_rows``."""
        ok = np.zeros(self.n_hh + 1, dtype=bool)  # the last slot answers code -1
        ok[self.hh_code[kept_rows & (self.hh_code >= 0)]] = True
        return ok[self.pp_hh]

    def persons_per_household(self, rows: np.ndarray) -> np.ndarray:
        """Count of the persons in ``rows`` per household id (at the id's first household row)."""
        sel = self.pp_hh[rows & (self.pp_hh >= 0)]
        return np.bincount(sel, minlength=self.n_hh)

    def per_household_row(self, per_id: np.ndarray) -> np.ndarray:
        """A per-id array spread over the household rows (0 where hh_id is missing)."""
        return np.append(per_id, 0)[self.hh_code]


def _arrow_text(s: pd.Series) -> pa.Array:
    """A column as one Arrow string array (text as it is; other values as text)."""
    arr = pa.array(s.astype(STRING) if not isinstance(s.dtype, pd.StringDtype) else s)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr


def _codes(encoded: pa.DictionaryArray) -> np.ndarray:
    return encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


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


NA_LINE = -(2 ** 31)  # a missing line number in an integer array of line numbers


def _duplicated_pairs(code: np.ndarray, line_no: pd.Series | np.ndarray) -> np.ndarray:
    """Rows whose (id code, line number) pair appeared on an earlier row; missing values count
    as equal to each other, as in ``DataFrame.duplicated`` (a numpy ``line_no`` holds
    :data:`NA_LINE` for a missing value)."""
    key = (line_no.astype(np.int64, copy=True) if isinstance(line_no, np.ndarray)
           else line_no.to_numpy(dtype="int64", na_value=-(2 ** 31), copy=True))
    key += 2 ** 31
    key += code.astype(np.int64, copy=False) << 33
    if len(key) < 2 or bool((key[1:] > key[:-1]).all()):  # the usual order: no duplicate possible
        return np.zeros(len(key), dtype=bool)
    # a stable sort keeps equal keys in row order, so every key after the first of its run is a
    # later duplicate; persons arrive grouped by household, and timsort is linear on such runs
    order = np.argsort(key, kind="stable")
    ks = key[order]
    dup = np.zeros(len(key), dtype=bool)
    dup[order[1:]] = ks[1:] == ks[:-1]
    return dup


class _Checker:
    """Applies one table's column rules and collects the rows to reject."""

    def __init__(self, df: pd.DataFrame, table: str, report: ImportReport, policy: str,
                 source_file: str | None) -> None:
        self.df = df
        self.table = table
        self.report = report
        self.policy = policy
        self.source_file = source_file
        self.reject = np.zeros(len(df), dtype=bool)
        self.key = schema()[table]["key"]

    def _rows(self, mask: np.ndarray) -> pd.DataFrame:
        cols = [c for c in ("_source_row", "_source_file", *self.key) if c in self.df.columns]
        return self.df.loc[mask, cols]

    def column(self, name: str) -> pd.Series:
        """A column of the table (the values problems show)."""
        return self.df[name]

    def records(self, mask: np.ndarray) -> list[dict[str, Any]]:
        """The rows in ``mask`` (source row and file, key columns) as dicts, in row order."""
        return self._rows(mask).to_dict("records")

    def problem(self, code: str, mask: np.ndarray, column: str | None, values: pd.Series | None,
                **fields: Any) -> None:
        """Report rows in ``mask``; reject them or blank ``column`` according to the policy."""
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        is_key = column in self.key or column is None
        action = "rejected" if (is_key or self.policy != "lenient") else "set_missing"
        if self.policy == "strict":
            action = "failed"
        rows = self._rows(mask)
        vals = values[mask] if values is not None else pd.Series([None] * int(mask.sum()), index=rows.index)
        keycols = [c for c in self.key if c in rows.columns]
        for (idx, rec), v in zip(rows.iterrows(), vals.tolist()):
            where = " ".join(f"{k} {rec[k]}" for k in keycols)
            self.report.add(code, table=self.table,
                            source_file=rec.get("_source_file", self.source_file),
                            source_row=None if pd.isna(rec.get("_source_row", np.nan)) else rec.get("_source_row"),
                            column=column, value=v, action=action, record=where or None, **fields)
        if action == "set_missing" and column is not None:
            # a new column, never a write into the caller's arrays (the frame is a shallow copy)
            self.df[column] = self.df[column].mask(mask)
        else:
            self.reject |= mask


def _coerce(ck: _Checker, name: str, spec: dict[str, Any]) -> None:
    df = ck.df
    s = df[name]
    kind = spec["dtype"]
    if kind == "string":
        if not isinstance(s.dtype, pd.StringDtype):
            if pd.api.types.is_float_dtype(s):
                # numbers that arrived as floats (e.g. ids read from Excel) print without ".0"
                s = s.map(lambda v: v if pd.isna(v) else (str(int(v)) if float(v).is_integer() else str(v)))
            s = s.astype("object").where(s.notna(), None).astype(STRING)
        elif s.dtype != STRING:
            # one text type whatever the input's (pandas' "str" or an all-missing column), so the
            # chunks of a streaming import and a whole file give the same table
            s = s.astype(STRING)
        df[name] = s
        if "pattern" in spec:
            uniq = pd.unique(s.dropna())
            rx = re.compile(spec["pattern"])
            bad_vals = [u for u in uniq if not rx.match(u)]
            if bad_vals:
                ck.problem("MD106", _isin(s, bad_vals), name, s, pattern=spec["pattern"])
    elif kind in ("int", "float"):
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            num = s.astype(FLOAT) if kind == "float" else s
        else:
            stripped = s.astype("string").str.strip().replace("", pd.NA)
            num = pd.to_numeric(stripped, errors="coerce")
            bad = (num.isna() & stripped.notna()).to_numpy()
            ck.problem("MD103", bad, name, s, expected="a number")
        if kind == "int" and pd.api.types.is_integer_dtype(num):
            out = num.astype(INT)  # whole numbers already: no fraction test
        elif kind == "int":
            numf = pd.Series(num, dtype=FLOAT)
            frac = (numf.notna() & (numf != np.floor(numf.fillna(0)))).to_numpy()
            if frac.any():
                ck.problem("MD103", frac, name, s, expected="a whole number")
                numf[frac] = np.nan
            out = numf.astype(INT)
        else:
            out = pd.Series(num, dtype=FLOAT)
        df[name] = out
        lo, hi = spec.get("min"), spec.get("max")
        if lo is not None or hi is not None:
            v = df[name].to_numpy(dtype=FLOAT, na_value=np.nan)
            with np.errstate(invalid="ignore"):
                bad = np.zeros(len(v), dtype=bool)
                if lo is not None:
                    bad |= v < lo
                if hi is not None:
                    bad |= v > hi
            ck.problem("MD105", bad, name, s, min=lo if lo is not None else "-",
                       max=hi if hi is not None else "-")
    elif kind == "bool":
        if pd.api.types.is_bool_dtype(s):
            df[name] = s.astype(BOOL)
        else:
            txt = s.astype("string").str.strip().str.lower().replace("", pd.NA)
            out = pd.Series(pd.NA, index=s.index, dtype=BOOL)
            out[_isin(txt, sorted(_TRUE))] = True
            out[_isin(txt, sorted(_FALSE))] = False
            bad = (out.isna() & txt.notna()).to_numpy()
            df[name] = out
            ck.problem("MD104", bad, name, s, allowed="yes/no (1/0, true/false)")
    elif kind == "category":
        dt = codelists.dtype(spec["codes"])
        if isinstance(s.dtype, pd.CategoricalDtype) and list(s.dtype.categories) == list(dt.categories):
            df[name] = s.astype(dt)
            return
        txt = s.astype("object")
        known = txt.isin(list(dt.categories)) | txt.isna()
        bad = (~known).to_numpy()
        ck.problem("MD104", bad, name, s, allowed=", ".join(dt.categories))
        df[name] = pd.Series(pd.Categorical(txt.where(known, None), dtype=dt), index=s.index)
    else:  # pragma: no cover - schema error
        raise ValueError(f"unknown dtype {kind} in schema for {name}")


def _check_table(df: pd.DataFrame, table: str, report: ImportReport, policy: str,
                 source_file: str | None) -> _Checker:
    spec = columns(table)
    missing = [c for c, s in spec.items() if s.get("required") and c not in df.columns]
    if missing:
        raise DataError("MD101", table=table, columns=", ".join(missing), file=source_file)
    ck = _Checker(df.copy(deep=False), table, report, policy, source_file)
    for name, cspec in spec.items():
        if name in ck.df.columns:
            _coerce(ck, name, cspec)
    for k in ck.key:
        ck.problem("MD107", ck.df[k].isna().to_numpy() & ~ck.reject, k, ck.df[k])
    return ck


def _check_psgc(ck: _Checker) -> None:
    """Unknown PSGC codes are reported; area columns are derived from ``psgc`` when absent.

    Works on the distinct codes (a few thousand at most) and spreads the results with one Arrow
    dictionary cast per column, so millions of households cost one factorisation."""
    if "psgc" not in ck.df.columns:
        return
    try:
        from migdata import areas
    except ImportError:  # pragma: no cover - areas ships with the package
        return
    ref = areas.reference()
    s = ck.df["psgc"]
    fcodes, uniq = pd.factorize(s, use_na_sentinel=True)
    uniq = [str(u) for u in uniq]
    known = np.asarray(pd.Index(ref["psgc"].astype(str)).get_indexer(uniq) >= 0, dtype=bool)
    if not known.all():
        unknown_rows = np.append(~known, False)[fcodes]
        ck.problem("MD114", unknown_rows, "psgc", s)
    for level, col in (("region", "region"), ("province", "province"), ("city_mun", "city_mun"),
                       ("barangay", "barangay")):
        if col not in ck.df.columns:
            up = areas.rollup(pd.Series(uniq, dtype="object"), level, errors="coerce")
            labels = pa.array(up.astype("object").where(up.notna(), None).tolist(), type=pa.large_string())
            idx = pa.array(fcodes.astype(np.int32), mask=fcodes < 0)
            arr = pa.DictionaryArray.from_arrays(idx, labels).cast(pa.large_string())
            ck.df[col] = pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([arr])), index=ck.df.index)


def check_keys(hh: Any, pp: Any, keys: _HouseholdKeys, line_no: Any, is_head: np.ndarray | None,
               policy: str, report: ImportReport, src: str | None, psgc: Any = None) -> None:
    """The rules between rows, in this order: ``hh_id`` unique (MD108; the first occurrence is
    kept), [``psgc()``, the PSGC look-up, runs here], (``hh_id``, ``line_no``) unique (MD109),
    every person's household exists (MD110), at most one head (MD112), every household has a
    person (MD111), persons of rejected households go too (MD115).

    ``hh`` and ``pp`` are the checkers of the two tables (their ``reject`` masks are updated);
    a streaming import passes checkers over all its chunks, with ``keys`` coded across them."""
    dup = ~keys.hh_first & ~hh.reject
    hh.problem("MD108", dup, "hh_id", hh.column("hh_id"))
    if psgc is not None:
        psgc()
    dup = _duplicated_pairs(keys.pp_code, line_no) & ~pp.reject
    pp.problem("MD109", dup, "line_no", pp.column("line_no"))

    # every person's household exists (among households kept so far)
    orphan = ~keys.in_households(~hh.reject) & ~pp.reject
    pp.problem("MD110", orphan, "hh_id", pp.column("hh_id"))

    # at most one head
    if is_head is not None:
        counts = keys.persons_per_household(is_head & ~pp.reject)
        nheads = keys.per_household_row(counts)
        m = (nheads > 1) & ~hh.reject
        if m.any():
            if policy == "lenient":
                for rec, k in zip(hh.records(m), nheads[m].tolist()):
                    report.add("MD112", table="households", source_file=rec.get("_source_file", src),
                               source_row=rec.get("_source_row"), column="relationship",
                               value=int(k), action="kept", record=f"hh_id {rec['hh_id']}")
            else:
                hh.problem("MD112", m, None, pd.Series(nheads.astype("float64")))

    # every household has at least one person; persons of rejected households go too
    members = keys.per_household_row(keys.persons_per_household(~pp.reject))
    empty = (members == 0) & ~hh.reject
    hh.problem("MD111", empty, None, None)
    cascade = ~keys.in_households(~hh.reject) & ~pp.reject
    pp.problem("MD115", cascade, None, None)


def validate(data: HouseholdData, policy: str = "lenient") -> HouseholdData:
    """Check and type the tidy tables of ``data``; returns a new :class:`HouseholdData` with the
    rows that passed, the report (``data.report`` extended) counting read/kept/rejected rows.

    With ``policy="strict"`` any problem raises :class:`~migdata.errors.DataError` (``MD119``);
    the full report is attached to the exception as ``.report``.
    """
    if policy not in POLICIES:
        raise UsageError("MD004", what="validation policy", value=policy, choices=", ".join(POLICIES))
    report = data.report
    src = ", ".join(map(str, data.provenance.files)) or None
    n_before = len(report.problems)
    has_hh, has_pp = "households" in data.tables, "persons" in data.tables
    if not has_hh and not has_pp:
        # a stand-alone survey (e.g. of overseas Filipinos) not linked to a household roster:
        # its own table was checked by its profile; there is no household model to validate
        return HouseholdData(dict(data.tables), codebook=data.codebook,
                             provenance=data.provenance.replace(), report=report)
    if has_hh != has_pp:
        raise DataError("MD102", present="households" if has_hh else "persons",
                        absent="persons" if has_hh else "households")
    hh = _check_table(data.households, "households", report, policy, src)
    pp = _check_table(data.persons, "persons", report, policy, src)
    # Keys are checked on integer codes: each distinct hh_id is hashed once (Arrow), and the
    # duplicate, orphan, head and empty-household checks become array look-ups. On 16 M persons
    # this is several times faster than pandas' duplicated/isin on Arrow strings.
    keys = _HouseholdKeys(hh.df["hh_id"], pp.df["hh_id"])
    is_head = ((pp.df["relationship"] == "head").fillna(False).to_numpy(dtype=bool)
               if "relationship" in pp.df.columns else None)
    check_keys(hh, pp, keys, pp.df["line_no"], is_head, policy, report, src, psgc=lambda: _check_psgc(hh))

    if policy == "strict" and len(report.problems) > n_before:
        first = "; ".join(p.message for p in report.problems[n_before:n_before + 3])
        err = DataError("MD119", n=len(report.problems) - n_before, first=first)
        err.report = report  # type: ignore[attr-defined]
        raise err

    tables = dict(data.tables)
    for name, ck in (("households", hh), ("persons", pp)):
        kept = ck.df.loc[~ck.reject].reset_index(drop=True)
        report.set_counts(name, read=len(ck.df), kept=len(kept), rejected=int(ck.reject.sum()))
        tables[name] = kept
    report.check_balance()
    return HouseholdData(tables, codebook=data.codebook, provenance=data.provenance.replace(), report=report)


def drop_internal(data: HouseholdData) -> HouseholdData:
    """Drop bookkeeping columns (``_source_row``, ``_source_file``, ...) before publishing."""
    tables = {k: v.drop(columns=[c for c in v.columns if str(c).startswith("_")])
              for k, v in data.tables.items()}
    return HouseholdData(tables, codebook=data.codebook, provenance=data.provenance, report=data.report)
