"""The import report: what was read, kept and rejected, and every problem with its location.

Invariant (checked by :meth:`ImportReport.check_balance`): for every table,
``read == kept + rejected``. A problem always names the table (or record type / sheet), the
source file and 1-based source row where known, the column, the value, the rule broken
(a catalogue code from :mod:`migdata.errors`) and a plain message with what to do.

Validation policy (a named choice, see :data:`POLICIES`):

- ``lenient`` (default): a row whose *key* is unusable (missing or duplicate id, a person
  whose household does not exist) is rejected; a bad *value* in any other column (age 250,
  sex code 3, an unknown code) is set to missing and the row is kept. Both are reported.
  This keeps people in the household population, which planning denominators need.
- ``reject``: any row with any problem is rejected and reported.
- ``strict``: any problem fails the import with a :class:`~migdata.errors.DataError`.

Example:
    >>> r = ImportReport()
    >>> r.set_counts("persons", read=3, kept=2, rejected=1)
    >>> p = r.add("MD105", table="persons", source_row=7, column="age", value=250, action="set_missing")
    >>> r.counts["persons"]
    {'read': 3, 'kept': 2, 'rejected': 1}

    A column's problems are recorded at once; beyond the cap they are counted, not listed:

    >>> r = ImportReport(max_listed=2)
    >>> r.record("MD105", table="persons", column="age", rows=[3, 4, 9], values=[250, 130, 999],
    ...          action="set_missing", min=0, max=120)
    3
    >>> [p.source_row for p in r.problems], r.unlisted
    ([3, 4], {('MD105', 'persons', 'age', 'set_missing'): 1})
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd

from migdata.errors import DataError, catalogue, render, rule
from migdata.model.privacy import looks_personal, withheld

POLICIES = ("lenient", "reject", "strict")
ACTIONS = ("rejected", "set_missing", "kept", "failed")


@dataclass
class Problem:
    """One located problem found while importing."""

    code: str
    table: str
    source_file: str | None = None
    source_row: int | None = None
    column: str | None = None
    value: Any = None
    rule: str = ""
    message: str = ""
    action: str = "rejected"
    record: str | None = None  # case or record id, e.g. "hh 0401001001-0001 line 3"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        v = d["value"]
        if v is not None and not isinstance(v, (str, int, float, bool)):
            d["value"] = str(v)
        try:
            if v is not None and pd.isna(v):
                d["value"] = None
        except (TypeError, ValueError):
            pass
        return d


MAX_LISTED = 1000  # problems listed one by one per (code, table, column); the rest are counted


def _is_sequence(v: Any) -> bool:
    return hasattr(v, "__len__") and not isinstance(v, (str, bytes, dict))


def _each(v: Any, n: int) -> list[Any]:
    """``v`` as one value per problem: a sequence as its first ``n`` items, anything else repeated."""
    if isinstance(v, pd.Series):
        return v.iloc[:n].tolist()
    if _is_sequence(v):
        return list(v[:n])
    return [v] * n


def _length(*values: Any) -> int | None:
    for v in values:
        if _is_sequence(v):
            return len(v)
    return None


def _positional(v: Any) -> pd.Series:
    """A sequence as a Series indexed 0..n-1."""
    if isinstance(v, pd.Series):
        return v.reset_index(drop=True)
    return pd.Series(list(v) if isinstance(v, (list, tuple)) else v)


def quoted_values(s: pd.Series) -> np.ndarray:
    """The values of a column's offending rows as a problem quotes them: each row's own value,
    one object per row. An integer column with a missing value elsewhere stays integer (its
    numpy form would be float: ``1.0``), so a value reads the same whichever rows are read
    with it (a whole table in memory, one chunk of a streaming import).

    Example:
        >>> quoted_values(pd.Series([1, None, 3], dtype="Int32")).tolist()
        [1, <NA>, 3]
    """
    return s.to_numpy(dtype=object)


def _plain(v: Any) -> Any:
    """A missing value as None, a numpy scalar as its Python value (messages and JSON)."""
    if v is None or isinstance(v, (list, tuple, dict)):
        return v
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        return v
    return v.item() if isinstance(v, np.generic) else v


@dataclass
class ImportReport:
    """Counts per table and every problem; travels with the dataset into ``manifest.json``.

    Every step (readers, profile engine and hooks, validation, importer) records problems with
    :meth:`record` (or :meth:`add`, its one-problem form). Per (code, table, column) the first
    ``max_listed`` problems are listed one by one in :attr:`problems`; the rest are counted in
    :attr:`unlisted`, so a file with a million bad values cannot flood the report (or memory).
    Every code must be in the message catalogue (``migdata/messages``).
    """

    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: problems counted but not listed: (code, table, column, action) -> how many
    unlisted: dict[tuple[str, str, str | None, str], int] = field(default_factory=dict)
    max_listed: int = MAX_LISTED

    def __post_init__(self) -> None:
        self._listed: Counter[tuple[str, str, str | None]] = Counter(
            (p.code, p.table, p.column) for p in self.problems)
        # source rows of unlisted problems, per (code, table, column, file): not saved, but the
        # reject policy needs every row with a problem, listed or not
        self._unlisted_rows: dict[tuple[str, str, str | None, str | None], list[np.ndarray]] = {}

    def set_counts(self, table: str, read: int, kept: int, rejected: int) -> None:
        self.counts[table] = {"read": int(read), "kept": int(kept), "rejected": int(rejected)}

    def record(
        self,
        code: str,
        *,
        table: str,
        action: str = "rejected",
        column: str | None = None,
        source_file: Any = None,
        rows: Any = None,
        values: Any = None,
        records: Any = None,
        each: dict[str, Any] | None = None,
        mask: bool | None = None,
        **fields: Any,
    ) -> int:
        """Record problems of one kind (one code, table and column); returns how many.

        ``rows`` (1-based source rows), ``values``, ``records`` (case ids, or a DataFrame of key
        columns written ``"hh_id h1 line_no 2"``) and ``source_file`` each give one entry per
        problem (a list, array or Series) or one for all (a scalar; None when unknown). With no
        sequence among them, one problem is recorded. ``fields`` fill the message template, the
        same for every problem; ``each`` holds message fields with one value per problem.

        Values are quoted unless they look personal (:func:`migdata.model.privacy.looks_personal`:
        a name typed where a code belongs, a phone number, an e-mail address); ``mask=True``
        withholds every value (identifier and free-text columns), ``mask=False`` quotes every
        value (ids the user needs to find a case). Only the problems within the cap are
        turned into :class:`Problem` entries (a few thousand at most), so a caller passes the
        offending rows of a whole column at once.
        """
        if action not in ACTIONS:
            raise ValueError(f"action must be one of {ACTIONS}")
        if code not in catalogue():
            raise KeyError(f"message code {code} is not in the catalogue (migdata/messages/*.toml)")
        n = _length(rows, values, records, source_file)
        n = 1 if n is None else n
        if n == 0:
            return 0
        key = (code, table, column)
        room = max(self.max_listed - self._listed[key], 0)
        k = min(room, n)
        if k:
            if isinstance(records, pd.DataFrame):
                recs = [" ".join(f"{c} {_plain(v)}" for c, v in zip(records.columns, row))
                        for row in records.iloc[:k].itertuples(index=False)]
            else:
                recs = _each(records if records is not None or n == 1 else None, k)
            vals = [values] if n == 1 and _length(values) is None else _each(values, k)
            per = [dict(zip(each, t)) for t in zip(*(_each(v, k) for v in each.values()))] if each else [{}] * k
            for r, v, rec, f, extra in zip(_each(rows, k), vals, recs, _each(source_file, k), per):
                v = _plain(v)
                if v is not None and (mask or (mask is None and not isinstance(v, (list, tuple, dict))
                                               and looks_personal(v))):
                    v = withheld(v)
                self._append(code, table, column, action, _plain(f), _plain(r), v,
                             None if rec is None else str(rec), {**fields, **extra})
            self._listed[key] += k
        if n > k:
            ukey = (code, table, column, action)
            self.unlisted[ukey] = self.unlisted.get(ukey, 0) + n - k
            if _length(rows) is not None:
                self._keep_unlisted_rows(code, table, column, rows, source_file, k)
        return n

    def _keep_unlisted_rows(self, code: str, table: str, column: str | None, rows: Any,
                            source_file: Any, start: int) -> None:
        rest = pd.to_numeric(_positional(rows).iloc[start:], errors="coerce")
        if _length(source_file) is None:
            groups = [(_plain(source_file), rest.to_numpy(dtype="float64"))]
        else:
            files = _positional(source_file).iloc[start:].astype(object)
            groups = [(_plain(f), rest[files.map(_plain) == _plain(f)].to_numpy(dtype="float64"))
                      for f in pd.unique(files)]
        for f, part in groups:
            self._unlisted_rows.setdefault((code, table, column, f), []).append(part)

    def _append(self, code: str, table: str, column: str | None, action: str, source_file: Any,
                row: Any, value: Any, record: str | None, fields: dict[str, Any]) -> Problem:
        src = None if source_file is None else str(source_file)
        row = None if row is None else int(row)  # a line number reads 5114 from a float column too
        msg = render(code, table=table, file=src, row=row, column=column, value=value,
                     record=record, **fields)
        p = Problem(code, table, src, row, column, value, rule(code),
                    msg, action, record)
        self.problems.append(p)
        return p

    def add(
        self,
        code: str,
        *,
        table: str,
        source_file: str | None = None,
        source_row: int | None = None,
        column: str | None = None,
        value: Any = None,
        action: str = "rejected",
        record: str | None = None,
        mask: bool | None = None,
        **fields: Any,
    ) -> Problem | None:
        """Record one problem (:meth:`record` with one row); returns it, or None when the cap of
        its kind is reached (it is then counted in :attr:`unlisted`)."""
        before = len(self.problems)
        self.record(code, table=table, action=action, column=column, source_file=source_file,
                    rows=[source_row], values=[value], records=[record], mask=mask, **fields)
        return self.problems[-1] if len(self.problems) > before else None

    def extend_problems(self, problems: Iterable[Problem], counted_in: Iterable["ImportReport"] = ()) -> None:
        """Add problems recorded in other reports (the chunks of a streaming import, merged in
        file order) under this report's cap, as if recorded here; what those reports
        (``counted_in``) counted without listing is counted here too."""
        for p in problems:
            key = (p.code, p.table, p.column)
            if self._listed[key] < self.max_listed:
                self.problems.append(p)
                self._listed[key] += 1
                continue
            ukey = (p.code, p.table, p.column, p.action)
            self.unlisted[ukey] = self.unlisted.get(ukey, 0) + 1
            self._unlisted_rows.setdefault((p.code, p.table, p.column, p.source_file), []).append(
                np.array([np.nan if p.source_row is None else p.source_row], dtype="float64"))
        for r in counted_in:
            for ukey, n in r.unlisted.items():
                self.unlisted[ukey] = self.unlisted.get(ukey, 0) + n
            for rkey, parts in r._unlisted_rows.items():
                self._unlisted_rows.setdefault(rkey, []).extend(parts)

    def drop_rows(self, table: str, inside: Callable[[pd.DataFrame], np.ndarray]) -> None:
        """Forget the problems of ``table`` located ``inside`` (a function of a frame of
        locations, columns ``_source_row`` and ``_source_file``, giving a mask), listed or
        counted: rows a later step removes as if never read (a later copy of a repeated case's
        household row).

        Example:
            >>> r = ImportReport()
            >>> _ = r.record("MD507", table="households", rows=[3, 9], values=["a", "b"], other="B")
            >>> r.drop_rows("households", lambda at: at["_source_row"].to_numpy() > 5)
            >>> [p.source_row for p in r.problems]
            [3]
        """
        mine = [i for i, p in enumerate(self.problems) if p.table == table and p.source_row is not None]
        out = np.zeros(len(self.problems), dtype=bool)
        if mine:
            out[mine] = inside(pd.DataFrame({
                "_source_row": np.array([self.problems[i].source_row for i in mine], dtype=np.int64),
                "_source_file": [self.problems[i].source_file for i in mine]}))
        for i in np.flatnonzero(out):
            p = self.problems[i]
            self._listed[(p.code, p.table, p.column)] -= 1
        self.problems = [p for p, o in zip(self.problems, out) if not o]
        for (code, t, column, f), parts in self._unlisted_rows.items():
            if t != table:
                continue
            rows = np.concatenate(parts) if parts else np.zeros(0)
            known = ~np.isnan(rows)
            gone = np.zeros(len(rows), dtype=bool)
            gone[known] = inside(pd.DataFrame({"_source_row": rows[known].astype(np.int64),
                                               "_source_file": [f] * int(known.sum())}))
            if not gone.any():
                continue
            self._unlisted_rows[(code, t, column, f)] = [rows[~gone]]
            n = int(gone.sum())
            for ukey in [k for k in self.unlisted if k[:3] == (code, t, column)]:
                d = min(n, self.unlisted[ukey])
                self.unlisted[ukey] -= d
                n -= d
                if not self.unlisted[ukey]:
                    del self.unlisted[ukey]

    def has(self, code: str) -> bool:
        """Whether a problem with ``code`` was recorded, listed or counted (e.g. the reader's
        MD406: a case id keyed again later in the file)."""
        return any(k[0] == code and n > 0 for k, n in self._listed.items()) or any(
            k[0] == code for k in self.unlisted)

    @property
    def n_problems(self) -> int:
        """Problems listed plus problems counted but not listed."""
        return len(self.problems) + sum(self.unlisted.values())

    def rows_with(self, codes: Iterable[str]) -> list[tuple[str, str, str | None, str | None, int]]:
        """(code, table, column, source file, source row) of every problem with one of ``codes``,
        listed or not (the reject policy removes every such row)."""
        codes = set(codes)
        out = [(p.code, p.table, p.column, p.source_file, int(p.source_row)) for p in self.problems
               if p.code in codes and p.source_row]
        for (code, table, column, f), parts in self._unlisted_rows.items():
            if code in codes:
                out += [(code, table, column, f, int(r)) for part in parts for r in part if r == r]
        return out

    def extend(self, other: "ImportReport") -> None:
        """Append ``other``'s counts, problems and notes (the cap applies to the merged report)."""
        for t, c in other.counts.items():
            self.counts[t] = dict(c)
        self.extend_problems(other.problems, [other])
        self.notes.extend(other.notes)

    def check_balance(self) -> None:
        """Raise if any table's rows read differ from kept + rejected (nothing may vanish)."""
        for t, c in self.counts.items():
            if c["read"] != c["kept"] + c["rejected"]:
                raise DataError("MD100", table=t, **c)

    @property
    def n_rejected(self) -> int:
        return sum(c["rejected"] for c in self.counts.values())

    def to_frame(self) -> pd.DataFrame:
        """Every listed problem as a row (columns as in :class:`Problem`)."""
        cols = list(Problem.__dataclass_fields__)
        return pd.DataFrame([p.to_dict() for p in self.problems], columns=cols)

    def summary(self, max_problems: int = 20) -> str:
        """A short text for the terminal: counts per table, problems by rule, the first few."""
        w = max([len("table"), *(len(t) for t in self.counts)]) + 2
        lines = ["Import report", f"  {'table':<{w}}{'read':>11}{'kept':>11}{'rejected':>11}"]
        for t, c in self.counts.items():
            lines.append(f"  {t:<{w}}{c['read']:>11,}{c['kept']:>11,}{c['rejected']:>11,}")
        if not self.n_problems:
            lines.append("  no problems found")
        else:
            by_rule: Counter[tuple[str, str, str]] = Counter((p.code, p.rule, p.action) for p in self.problems)
            for (code, _t, _c, action), n in self.unlisted.items():
                by_rule[(code, rule(code), action)] += n
            lines.append(f"  {self.n_problems:,} problem(s):")
            for (code, r, action), n in sorted(by_rule.items()):
                lines.append(f"    {code} {r} ({action}): {n:,}")
            for (code, table, column, action), n in self.unlisted.items():
                lines.append("    " + render("MD116", n=n, kind=code, table=table, column=column or "-",
                                                 cap=self.max_listed))
            lines.append("  first problems:")
            for p in self.problems[:max_problems]:
                lines.append(f"    - {p.message}")
            if len(self.problems) > max_problems:
                lines.append(f"    … and {len(self.problems) - max_problems:,} more "
                             "(see the import report in the dataset's manifest.json)")
        for n in self.notes:
            lines.append(f"  note: {n}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"counts": self.counts, "problems": [p.to_dict() for p in self.problems],
                "unlisted": [{"code": c, "table": t, "column": col, "action": a, "n": n}
                             for (c, t, col, a), n in self.unlisted.items()],
                "notes": list(self.notes)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ImportReport":
        return cls(counts={k: dict(v) for k, v in d.get("counts", {}).items()},
                   problems=[Problem(**p) for p in d.get("problems", [])],
                   notes=list(d.get("notes", [])),
                   unlisted={(u["code"], u["table"], u.get("column"), u.get("action", "rejected")): int(u["n"])
                             for u in d.get("unlisted", [])})
