"""The codebook every reader returns beside its raw tables (the pyreadstat ``(data, meta)`` shape).

A :class:`Codebook` lists each variable with its table, label, type, fixed-width position (when
the format has one), implied decimals, value labels and missing-value declarations. It also
carries the :class:`~migdata.model.report.ImportReport` in which the reader recorded located
problems (truncated lines, unknown record types, text in numeric fields, ...).

Raw tables carry a ``_source_row`` column: the 1-based line (fixed-width, CSV) or row (Excel,
SPSS case number) in the source file, so later steps can point the user back to it.

Example:
    >>> cb = Codebook(source="x.sav", format="spss")
    >>> cb.add(Variable(name="sex", table="main", label="Sex", value_labels={1: "Male", 2: "Female"}))
    >>> cb.labels("sex")[2]
    'Female'
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from migdata.model.report import ImportReport


@dataclass
class Variable:
    """One variable (item) of a source file."""

    name: str
    table: str
    label: str | None = None
    type: str = "numeric"  # numeric | string | date | datetime
    start: int | None = None  # 1-based column in a fixed-width record
    length: int | None = None
    decimals: int = 0  # implied decimals (CSPro) or display decimals
    value_labels: dict[Any, str] = field(default_factory=dict)
    missing_values: list[Any] = field(default_factory=list)  # discrete user-missing codes
    missing_ranges: list[tuple[Any, Any]] = field(default_factory=list)
    special_values: dict[Any, str] = field(default_factory=dict)  # e.g. CSPro NOTAPPL/MISSING
    occurrences: int = 1
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Codebook:
    """Variables of one source, plus the reader's problem report."""

    source: str
    format: str
    variables: list[Variable] = field(default_factory=list)
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)  # per-table info (keys, record type)
    report: ImportReport = field(default_factory=ImportReport)
    notes: list[str] = field(default_factory=list)
    #: a CSPro file's case blocks when the reader was asked for them (``read_cspro(..., case_blocks=True)``)
    case_blocks: Any = field(default=None, compare=False, repr=False)

    def add(self, var: Variable) -> None:
        self.variables.append(var)

    def variable(self, name: str, table: str | None = None) -> Variable:
        for v in self.variables:
            if v.name == name and (table is None or v.table == table):
                return v
        raise KeyError(name)

    def labels(self, name: str, table: str | None = None) -> dict[Any, str]:
        return self.variable(name, table).value_labels

    def to_frame(self) -> pd.DataFrame:
        """One row per variable: name, table, label, type, position, decimals, value labels (text)."""
        rows = []
        for v in self.variables:
            d = asdict(v)
            d["value_labels"] = "; ".join(f"{k}={lab}" for k, lab in v.value_labels.items())
            d["missing_values"] = ", ".join(map(str, v.missing_values))
            d["missing_ranges"] = ", ".join(f"{a}–{b}" for a, b in v.missing_ranges)
            d["special_values"] = "; ".join(f"{k}={lab}" for k, lab in v.special_values.items())
            d.pop("extra")
            rows.append(d)
        return pd.DataFrame(rows)
