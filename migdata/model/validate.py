"""Validation of the tidy tables against ``schema.toml``, with every problem located and reported.

Checks, in order: required columns; types (text in a number field); finite numbers (``inf``,
``1e309``: MD117); whole numbers that fit 32 bits; allowed codes; ranges (age 0-120, ...); design
weights present (MD118) and not zero (reported); string patterns (10-digit PSGC, ISO3); keys
(``hh_id`` unique; (``hh_id``, ``line_no``) unique; the response id of each stand-alone survey
table the schema declares unique, MD113); every person's household exists; every household has
at least one person and at most one head; PSGC codes exist in the area reference. The policy
(``lenient``, ``reject``, ``strict``) is documented in :mod:`migdata.model.report`; a problem in
a key or a ``needed`` column (a weight) rejects the row under every policy.

Vectorised: checks run on whole columns (distinct values for patterns and PSGC look-ups), and
only the offending rows are turned into report entries, so 16 M persons validate in seconds. The
shortcuts that make the key checks fast (household ids as integer codes, duplicate pairs, text
membership) are kernels in :mod:`migdata._kernels`, each tested against the pandas operation it
equals; this module states the rules.

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
from typing import Any

import numpy as np
import pandas as pd

from migdata._kernels.codes import factorize
from migdata._kernels.keys import HouseholdKeys, duplicated_pairs
from migdata._kernels.text import isin_text, take_text
from migdata.errors import DataError, UsageError
from migdata.model import codes as codelists
from migdata.model.data import HouseholdData
from migdata.model.report import POLICIES, ImportReport, quoted_values
from migdata.model.schema import BOOL, FLOAT, INT, STRING, columns, schema

_TRUE = {"1", "true", "yes", "y", "t", "oo"}
_FALSE = {"0", "false", "no", "n", "f", "hindi", "2"}
_INT32 = (-(2 ** 31), 2 ** 31 - 1)


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
        spec = columns(table)
        # a row cannot be used without these (a design weight): a problem rejects it under every policy
        self.needed = {c for c, s in spec.items() if s.get("needed")}
        self.masked = {c for c, s in spec.items() if s.get("free_text")}  # values never quoted

    def problem(self, code: str, mask: np.ndarray, column: str | None, values: pd.Series | None,
                **fields: Any) -> None:
        """Report rows in ``mask``; reject them or blank ``column`` according to the policy."""
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        is_key = column in self.key or column is None or column in self.needed
        action = "rejected" if (is_key or self.policy != "lenient") else "set_missing"
        if self.policy == "strict":
            action = "failed"
        self.report_rows(code, mask, column, values, action, **fields)
        if action == "set_missing" and column is not None:
            # a new column, never a write into the caller's arrays (the frame is a shallow copy)
            self.df[column] = self.df[column].mask(mask)
        else:
            self.reject |= mask

    def column(self, name: str) -> pd.Series:
        """A column of the table (the values problems show)."""
        return self.df[name]

    def report_rows(self, code: str, mask: np.ndarray, column: str | None, values: pd.Series | None,
                    action: str, **fields: Any) -> None:
        """Report the rows in ``mask``, located by source file and row and by their key."""
        df, idx = self.df, np.flatnonzero(mask)
        if not len(idx):
            return
        keys = [c for c in self.key if c in df.columns]
        self.report.record(
            code, table=self.table, column=column, action=action,
            rows=df["_source_row"].to_numpy()[idx] if "_source_row" in df else None,
            source_file=df["_source_file"].to_numpy()[idx] if "_source_file" in df else self.source_file,
            values=quoted_values(values.iloc[idx]) if values is not None else [None] * len(idx),
            records=df[keys].iloc[idx] if keys else None,
            mask=True if column in self.masked else (False if column in self.key else None), **fields)


def _numbers(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """The column as float64 (NaN for missing) and the rows whose text is not a number."""
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        return s.to_numpy(dtype=FLOAT, na_value=np.nan), np.zeros(len(s), dtype=bool)
    stripped = s.astype("string").str.strip().replace("", pd.NA)
    num = pd.to_numeric(stripped, errors="coerce")
    v = pd.Series(num).astype("Float64").to_numpy(dtype=FLOAT, na_value=np.nan)
    return v, (np.isnan(v) & stripped.notna().to_numpy(dtype=bool))


def range_text(lo: float | None, hi: float | None, above: float | None = None) -> str:
    """The allowed range in words: ``0 to 120``, ``1 or more``, ``more than 0``, ``12 or less``.

    Example:
        >>> range_text(0, 120), range_text(1, None), range_text(None, None, 0), range_text(None, 12)
        ('0 to 120', '1 or more', 'more than 0', '12 or less')
    """
    def num(x: float) -> str:
        return f"{x:,}" if abs(x) >= 1e6 else f"{x:g}"

    low = f"more than {num(above)}" if above is not None else (f"{num(lo)} or more" if lo is not None else "")
    if hi is None:
        return low or "any number"
    if lo is not None and above is None:
        return f"{num(lo)} to {num(hi)}"
    return f"{low}, at most {num(hi)}" if low else f"{num(hi)} or less"


def _passes(s: pd.Series, kind: str, lo: float | None, hi: float | None, spec: dict[str, Any]) -> bool:
    """True when a column of numbers passes every number rule, seen from its extremes (a pass
    or two, no mask per rule): the usual case of a clean file of millions of rows."""
    if pd.api.types.is_bool_dtype(s) or not len(s):
        return not len(s)
    if pd.api.types.is_integer_dtype(s):
        mn, mx = s.min(), s.max()
    elif pd.api.types.is_float_dtype(s) and kind == "float":  # an int column needs the fraction test
        v = s.to_numpy(dtype=FLOAT, na_value=np.nan)
        mn, mx = np.fmin.reduce(v), np.fmax.reduce(v)  # NaN ignored, no copy
    else:
        return False
    if pd.isna(mn):  # every value missing
        return not spec.get("needed")
    if not (np.isfinite(mn) and np.isfinite(mx)) or (lo is not None and mn < lo) or (hi is not None and mx > hi):
        return False
    if spec.get("zero_reported") and mn <= 0 <= mx:
        return False
    return not (spec.get("needed") and bool(s.isna().any()))


def _coerce_number(ck: _Checker, name: str, spec: dict[str, Any], s: pd.Series, kind: str) -> None:
    """Numbers: text that is not a number (MD103), values that are not finite (MD117), fractions
    in whole-number columns (MD103), values out of range (MD105; whole numbers must also fit a
    32-bit integer), zeros where they are worth a word (MD105, a weight), and missing values
    where every row needs one (MD118). Offending values are never stored: blanked, or their rows
    rejected, by the policy."""
    lo, hi = spec.get("min"), spec.get("max")
    if kind == "int":  # whole numbers are stored as 32-bit integers: 1e12 does not fit
        lo = _INT32[0] if lo is None else max(lo, _INT32[0])
        hi = _INT32[1] if hi is None else min(hi, _INT32[1])
    if _passes(s, kind, lo, hi, spec):
        ck.df[name] = s.astype(INT if kind == "int" else FLOAT)
        return
    v, text = _numbers(s)
    if pd.api.types.is_integer_dtype(s):  # whole and finite already
        bad = np.zeros(len(v), dtype=bool)
    else:
        ck.problem("MD103", text, name, s, expected="a number")
        bad = np.isinf(v)
        ck.problem("MD117", bad, name, s)
        if kind == "int":
            with np.errstate(invalid="ignore"):
                frac = ~bad & ~np.isnan(v) & (v != np.floor(v))
            ck.problem("MD103", frac, name, s, expected="a whole number")
            bad |= frac
    if spec.get("zero_reported"):  # a legal value a design gives no weight: reported, kept (lenient)
        zero = v == 0
        range_ = range_text(None, hi, 0)
        if ck.policy == "lenient":
            ck.report_rows("MD105", zero, name, s, "kept", min=0, max=hi, range=range_)
        else:
            ck.problem("MD105", zero, name, s, min=0, max=hi, range=range_)
            bad |= zero
    out_of_range = np.zeros(len(v), dtype=bool)
    with np.errstate(invalid="ignore"):
        if lo is not None:
            out_of_range |= v < lo
        if hi is not None:
            out_of_range |= v > hi
    out_of_range &= ~bad
    ck.problem("MD105", out_of_range, name, s, min=lo, max=hi, range=range_text(lo, hi))
    bad |= out_of_range | text
    if spec.get("needed"):
        ck.problem("MD118", np.isnan(v) & ~bad, name, s)
    if kind == "float":
        ck.df[name] = pd.Series(np.where(bad, np.nan, v) if bad.any() else v, index=s.index, dtype=FLOAT)
    elif pd.api.types.is_integer_dtype(s) and not bad.any():
        ck.df[name] = s.astype(INT)  # whole numbers that fit already: no conversion
    else:
        ck.df[name] = pd.Series(np.where(bad, np.nan, v), index=s.index).astype(INT)


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
                ck.problem("MD106", isin_text(s, bad_vals), name, s, pattern=spec["pattern"])
    elif kind in ("int", "float"):
        _coerce_number(ck, name, spec, s, kind)
    elif kind == "bool":
        if pd.api.types.is_bool_dtype(s) or (s.dtype == object and pd.api.types.infer_dtype(s, skipna=True) == "boolean"):
            # (True/False objects with missing values, as hooks build flags: what their text
            # "True"/"False" reads as below, without a string per row)
            df[name] = s.astype(BOOL)
        else:
            txt = s.astype("string").str.strip().str.lower().replace("", pd.NA)
            out = pd.Series(pd.NA, index=s.index, dtype=BOOL)
            out[isin_text(txt, sorted(_TRUE))] = True
            out[isin_text(txt, sorted(_FALSE))] = False
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


# the order in which _coerce finds a column's problems
_CODE_ORDER = {c: i for i, c in enumerate(["MD103", "MD117", "MD105", "MD118", "MD106", "MD104"])}


def check_order(table: str) -> Any:
    """The place of a kind of problem ``(code, table, column, action)`` among the checks of
    :func:`_check_table` on ``table``, which finds them column by column in the schema's order
    (within a column, type before range before code list), then missing keys (MD107). A
    streaming import merges its chunks' problems by this order where no chunk shows two kinds
    together.

    Example:
        >>> order = check_order("persons")
        >>> order(("MD105", "persons", "age", "set_missing")) < order(("MD105", "persons", "family_no", "set_missing"))
        True
    """
    cols = {c: i for i, c in enumerate(columns(table))}
    last = (len(cols) + 1, 0)

    def rank(kind: tuple) -> tuple[int, int]:
        code, column = kind[0], kind[2]
        if code == "MD107":
            return (len(cols), 0)
        if column in cols:
            return (cols[column], _CODE_ORDER.get(code, len(_CODE_ORDER)))
        return last

    return rank


def _check_psgc(ck: _Checker) -> None:
    """Unknown PSGC codes are reported; area columns are derived from ``psgc`` when absent.

    Works on the distinct codes (a few thousand at most) and spreads the results with one Arrow
    dictionary cast per column, so millions of households cost one factorisation."""
    if "psgc" not in ck.df.columns:
        return
    try:
        import migdata.areas as areas
    except ImportError:  # pragma: no cover - areas ships with the package
        return
    ref = areas.reference()
    s = ck.df["psgc"]
    fcodes, uniq = factorize(s)
    uniq = [str(u) for u in uniq]
    known = np.asarray(pd.Index(ref["psgc"].astype(str)).get_indexer(uniq) >= 0, dtype=bool)
    if not known.all():
        unknown_rows = np.append(~known, False)[fcodes]
        ck.problem("MD114", unknown_rows, "psgc", s)
    for level, col in (("region", "region"), ("province", "province"), ("city_mun", "city_mun"),
                       ("barangay", "barangay")):
        if col not in ck.df.columns:
            up = areas.rollup(pd.Series(uniq, dtype="object"), level, errors="coerce")
            ck.df[col] = take_text(up.tolist(), fcodes, ck.df.index)


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
    n_before, listed_before = report.n_problems, len(report.problems)
    checked: dict[str, _Checker] = {}
    # stand-alone tables the model declares (survey responses): their column rules and their key
    for name in data.tables:
        if name not in ("households", "persons") and name in schema():
            ck = _check_table(data.tables[name], name, report, policy, src)
            dup = ck.df.duplicated(subset=ck.key, keep="first").to_numpy() & ~ck.reject
            ck.problem("MD113", dup, ck.key[0], ck.df[ck.key[0]])
            checked[name] = ck
    has_hh, has_pp = "households" in data.tables, "persons" in data.tables
    if has_hh != has_pp:
        raise DataError("MD102", present="households" if has_hh else "persons",
                        absent="persons" if has_hh else "households")
    if has_hh:
        checked.update(_check_households(data, report, policy, src))

    if policy == "strict" and report.n_problems > n_before:
        first = "; ".join(p.message for p in report.problems[listed_before:listed_before + 3])
        err = DataError("MD119", n=report.n_problems - n_before, first=first)
        err.report = report  # type: ignore[attr-defined]
        raise err

    tables = dict(data.tables)
    for name, ck in checked.items():
        kept = ck.df.loc[~ck.reject].reset_index(drop=True)
        report.set_counts(name, read=len(ck.df), kept=len(kept), rejected=int(ck.reject.sum()))
        tables[name] = kept
    report.check_balance()
    return HouseholdData(tables, codebook=data.codebook, provenance=data.provenance.replace(), report=report)


def _check_households(data: HouseholdData, report: ImportReport, policy: str, src: str | None
                      ) -> dict[str, _Checker]:
    """The household model: column rules of both tables, then the rules that link them."""
    hh = _check_table(data.households, "households", report, policy, src)
    pp = _check_table(data.persons, "persons", report, policy, src)
    # Keys are checked on integer codes of the household ids (one per distinct id), so the
    # rules between rows are array look-ups.
    keys = HouseholdKeys(hh.df["hh_id"], pp.df["hh_id"])
    is_head = ((pp.df["relationship"] == "head").fillna(False).to_numpy(dtype=bool)
               if "relationship" in pp.df.columns else None)
    check_keys(hh, pp, keys, pp.df["line_no"], is_head, policy, psgc=lambda: _check_psgc(hh))
    return {"households": hh, "persons": pp}


def check_keys(hh: Any, pp: Any, keys: HouseholdKeys, line_no: Any, is_head: np.ndarray | None,
               policy: str, psgc: Any = None) -> None:
    """The rules between rows, in this order: ``hh_id`` unique (MD108; the first occurrence is
    kept), [``psgc()``, the PSGC look-up, runs here], (``hh_id``, ``line_no``) unique (MD109),
    every person's household exists (MD110), at most one head (MD112), every household has a
    person (MD111), persons of rejected households go too (MD115).

    ``hh`` and ``pp`` are the checkers of the two tables (their ``reject`` masks are updated);
    a streaming import passes checkers over all its chunks, with ``keys`` coded across them
    (:meth:`migdata._kernels.keys.HouseholdKeys.from_codes`)."""
    # keys: the first occurrence is kept, later duplicates are rejected
    dup = ~keys.hh_first & ~hh.reject
    hh.problem("MD108", dup, "hh_id", hh.column("hh_id"))
    if psgc is not None:
        psgc()
    dup = duplicated_pairs(keys.pp_code, line_no) & ~pp.reject
    pp.problem("MD109", dup, "line_no", pp.column("line_no"))

    # every person's household exists (among households kept so far)
    orphan = ~keys.in_households(~hh.reject) & ~pp.reject
    pp.problem("MD110", orphan, "hh_id", pp.column("hh_id"))

    # at most one head
    if is_head is not None:
        counts = keys.persons_per_household(is_head & ~pp.reject)
        nheads = keys.per_household_row(counts)
        m = (nheads > 1) & ~hh.reject
        heads = pd.Series(nheads) if m.any() else None
        if policy == "lenient":  # two heads do not make a household unusable: reported, kept
            hh.report_rows("MD112", m, "relationship", heads, "kept")
        else:
            hh.problem("MD112", m, None, heads)

    # every household has at least one person; persons of rejected households go too
    members = keys.per_household_row(keys.persons_per_household(~pp.reject))
    empty = (members == 0) & ~hh.reject
    hh.problem("MD111", empty, None, None)
    cascade = ~keys.in_households(~hh.reject) & ~pp.reject
    pp.problem("MD115", cascade, None, None)


def drop_internal(data: HouseholdData) -> HouseholdData:
    """Drop bookkeeping columns (``_source_row``, ``_source_file``, ...) before publishing."""
    tables = {k: v.drop(columns=[c for c in v.columns if str(c).startswith("_")])
              for k, v in data.tables.items()}
    return HouseholdData(tables, codebook=data.codebook, provenance=data.provenance, report=data.report)
