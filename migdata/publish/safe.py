"""Formula-injection guard shared by the Excel and CSV writers.

A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return can be taken
for a formula by a spreadsheet (OWASP "CSV injection"). Data never becomes a formula in migdata
outputs:

- **Excel** (openpyxl): the text is kept exactly as it is, stored as a *string* cell
  (``data_type = "s"``, so no ``<f>`` element is written) and marked with Excel's
  ``quotePrefix`` style, which is what Excel itself does when a user types a leading apostrophe;
  editing the cell in Excel keeps it text.
- **CSV** has no types, so the text is prefixed with an apostrophe (``'=1+2``), the
  OWASP-recommended neutralisation; readers see the apostrophe.

Example:
    >>> csv_text("=HYPERLINK(\\"http://x\\")")
    '\\'=HYPERLINK("http://x")'
    >>> csv_text("Batangas"), csv_text(-5)
    ('Batangas', -5)
"""

from __future__ import annotations

from typing import Any

RISKY = ("=", "+", "-", "@", "\t", "\r", "\n")


def risky(value: Any) -> bool:
    """True for a text value a spreadsheet could read as a formula."""
    return isinstance(value, str) and value.startswith(RISKY)


def csv_text(value: Any) -> Any:
    """``value`` made safe for a CSV cell (text only; numbers are left as they are)."""
    return "'" + value if risky(value) else value


def excel_value(cell: Any, value: Any) -> Any:
    """Put ``value`` into an openpyxl cell so that text never becomes a formula; returns the cell.
    Control characters that XML cannot hold (openpyxl refuses them) are dropped from text."""
    if isinstance(value, str):
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        value = ILLEGAL_CHARACTERS_RE.sub("", value)
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"
        if risky(value):
            cell.quotePrefix = True
    return cell
