"""Formula-injection guard shared by every Excel and CSV writer of migdata (indicator tables,
``migdata estimate --out``, the codebook workbooks, the questionnaire XLSForms and the sample
Kobo exports): the one place where this rule lives.

A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return can be taken
for a formula by a spreadsheet (OWASP "CSV injection"). Data never becomes a formula in migdata
outputs:

- **Excel** (openpyxl): the text is kept exactly as it is, stored as a *string* cell
  (``data_type = "s"``, so no ``<f>`` element is written) and marked with Excel's
  ``quotePrefix`` style, which is what Excel itself does when a user types a leading apostrophe;
  editing the cell in Excel keeps it text.
- **CSV** has no types, so the text is prefixed with an apostrophe (``'=1+2``), the
  OWASP-recommended neutralisation; readers see the apostrophe.
- **Empty cells stay empty**: an empty text, ``None`` or NaN is written as no value at all (never
  a lone apostrophe).

Why in ``publish`` and not lower: every writer of a spreadsheet is a publishing step, so the
writers live in ``publish`` (the codebook workbook: :mod:`migdata.publish.codebook`) or in
packages that nothing earlier in the chain imports (``questionnaires``); readers, profiles and the
model write no spreadsheets, so no dependency points backwards.

Example:
    >>> csv_text("=HYPERLINK(\\"http://x\\")")
    '\\'=HYPERLINK("http://x")'
    >>> csv_text("Batangas"), csv_text(-5)
    ('Batangas', -5)
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

RISKY = ("=", "+", "-", "@", "\t", "\r", "\n")


def risky(value: Any) -> bool:
    """True for a text value a spreadsheet could read as a formula."""
    return isinstance(value, str) and value.startswith(RISKY)


def csv_text(value: Any) -> Any:
    """``value`` made safe for a CSV cell (text only; numbers are left as they are)."""
    return "'" + value if risky(value) else value


def _empty(value: Any) -> bool:
    if value is None or (isinstance(value, str) and value == ""):
        return True
    try:
        return bool(value is getattr(__import__("pandas"), "NA") or
                    (isinstance(value, float) and math.isnan(value)))
    except ImportError:  # pragma: no cover
        return False


def excel_value(cell: Any, value: Any) -> Any:
    """Put ``value`` into an openpyxl cell so that text never becomes a formula; returns the cell.
    Control characters that XML cannot hold (openpyxl refuses them) are dropped from text; an
    empty value (``""``, ``None``, NaN, ``pd.NA``) leaves the cell empty."""
    if _empty(value):
        value = None
    elif isinstance(value, str):
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        value = ILLEGAL_CHARACTERS_RE.sub("", value)
    elif hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()  # numpy scalars: openpyxl takes plain Python numbers
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"
        if risky(value):
            cell.quotePrefix = True
    return cell


def guard_sheet(ws: Any) -> Any:
    """Apply :func:`excel_value` to every cell of an openpyxl worksheet already filled (for
    writers that build a normal, not write-only, workbook); returns the sheet.

    Example:
        >>> from openpyxl import Workbook
        >>> ws = Workbook().active
        >>> ws.append(["=1+2", "", "ok"])
        >>> c = guard_sheet(ws)["A1"]
        >>> c.value, c.data_type, c.quotePrefix, ws["B1"].value
        ('=1+2', 's', True, None)
    """
    for row in ws.iter_rows():
        for cell in row:
            excel_value(cell, cell.value)
    return ws


def write_table_xlsx(df: Any, path: str | os.PathLike[str], sheet: str = "data") -> Path:
    """Write a DataFrame as one sheet of an .xlsx workbook, atomically: a bold header row, every
    cell through :func:`excel_value`. Returns the path.

    Example:
        >>> import pandas as pd, tempfile, openpyxl
        >>> df = pd.DataFrame({"label": ["\\tTab", ""], "n": [1, 2]})
        >>> p = write_table_xlsx(df, tempfile.mkdtemp() + "/t.xlsx")
        >>> [[c.value for c in r] for r in openpyxl.load_workbook(p).active.iter_rows()]
        [['label', 'n'], ['\\tTab', 1], [None, 2]]
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    from migdata.fileio import atomic_write

    bold = Font(bold=True)

    def write(tmp: Path) -> None:
        wb = Workbook(write_only=True)
        ws = wb.create_sheet(sheet)
        header = []
        for name in df.columns:
            c = excel_value(WriteOnlyCell(ws), str(name))
            c.font = bold
            header.append(c)
        ws.append(header)
        for row in df.itertuples(index=False, name=None):
            ws.append([excel_value(WriteOnlyCell(ws), v) for v in row])
        wb.save(tmp)

    return atomic_write(path, write)


def write_table_csv(df: Any, path: str | os.PathLike[str]) -> Path:
    """Write a DataFrame as CSV (UTF-8 with a byte-order mark, so Excel opens it right),
    atomically, every text cell through :func:`csv_text`. Returns the path.

    Example:
        >>> import pandas as pd, tempfile
        >>> p = write_table_csv(pd.DataFrame({"a": ["=1+2", "x"]}), tempfile.mkdtemp() + "/t.csv")
        >>> p.read_text(encoding="utf-8-sig").splitlines()
        ['a', "'=1+2", 'x']
    """
    import pandas as pd

    from migdata.fileio import atomic_write

    out = df.copy()
    for c in out.columns:
        if not pd.api.types.is_numeric_dtype(out[c].dtype) or pd.api.types.is_bool_dtype(out[c].dtype):
            out[c] = out[c].astype("object").map(csv_text)
    return atomic_write(path, lambda tmp: out.to_csv(tmp, index=False, encoding="utf-8-sig"))
