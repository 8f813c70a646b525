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
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from migdata.errors import DataError, render, rule

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


@dataclass
class ImportReport:
    """Counts per table and every problem; travels with the dataset into ``manifest.json``."""

    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def set_counts(self, table: str, read: int, kept: int, rejected: int) -> None:
        self.counts[table] = {"read": int(read), "kept": int(kept), "rejected": int(rejected)}

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
        **fields: Any,
    ) -> Problem:
        """Record a problem; the message is rendered from the catalogue with all the fields."""
        if action not in ACTIONS:
            raise ValueError(f"action must be one of {ACTIONS}")
        msg = render(
            code, table=table, file=source_file, row=source_row, column=column, value=value,
            record=record, **fields,
        )
        p = Problem(code, table, source_file, None if source_row is None else int(source_row),
                    column, value, rule(code), msg, action, record)
        self.problems.append(p)
        return p

    def add_many(self, code: str, rows: pd.DataFrame, *, table: str, column: str | None,
                 action: str, source_file: str | None = None, value_col: str | None = None,
                 row_col: str = "_source_row", record_col: str | None = None,
                 **fields: Any) -> None:
        """Record one problem per row of ``rows`` (vectorised callers pass the offending rows)."""
        vcol = value_col or column
        for rec in rows.to_dict("records"):
            self.add(code, table=table, source_file=source_file,
                     source_row=rec.get(row_col), column=column,
                     value=rec.get(vcol) if vcol else None, action=action,
                     record=None if record_col is None else str(rec.get(record_col)), **fields)

    def extend(self, other: "ImportReport") -> None:
        for t, c in other.counts.items():
            self.counts[t] = dict(c)
        self.problems.extend(other.problems)
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
        """Every problem as a row (columns as in :class:`Problem`)."""
        cols = list(Problem.__dataclass_fields__)
        return pd.DataFrame([p.to_dict() for p in self.problems], columns=cols)

    def summary(self, max_problems: int = 20) -> str:
        """A short text for the terminal: counts per table, problems by rule, the first few."""
        w = max([len("table"), *(len(t) for t in self.counts)]) + 2
        lines = ["Import report", f"  {'table':<{w}}{'read':>11}{'kept':>11}{'rejected':>11}"]
        for t, c in self.counts.items():
            lines.append(f"  {t:<{w}}{c['read']:>11,}{c['kept']:>11,}{c['rejected']:>11,}")
        if not self.problems:
            lines.append("  no problems found")
        else:
            df = self.to_frame()
            lines.append(f"  {len(df):,} problem(s):")
            for (code, r, action), n in df.groupby(["code", "rule", "action"]).size().items():
                lines.append(f"    {code} {r} ({action}): {n:,}")
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
                "notes": list(self.notes)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ImportReport":
        return cls(counts={k: dict(v) for k, v in d.get("counts", {}).items()},
                   problems=[Problem(**p) for p in d.get("problems", [])],
                   notes=list(d.get("notes", [])))
