"""The codebook workbook of a source file (``migdata codebook FILE --out codebook.xlsx``).

It lives in ``publish`` because it writes a spreadsheet: the formula guard of
:mod:`migdata.publish.safe` applies to it as to every other workbook, and the reading side
(:func:`migdata.importer.codebook_table`) stays free of writers.

Example:
    >>> import pandas as pd, tempfile
    >>> table = pd.DataFrame({"name": ["SEX"], "label": ["=Sex"], "value_labels": [""]})
    >>> write_codebook(table, tempfile.mkdtemp() + "/cb.xlsx").suffix
    '.xlsx'
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from migdata.publish.safe import write_table_xlsx


def write_codebook(source: str | os.PathLike[str] | pd.DataFrame, out_xlsx: str | os.PathLike[str],
                   **options: Any) -> Path:
    """Write the codebook of ``source`` (a readable file, or a table from
    :func:`~migdata.importer.codebook_table`) to sheet ``codebook`` of ``out_xlsx``; text that
    would start a formula stays text, empty cells stay empty. Returns the workbook path."""
    if isinstance(source, pd.DataFrame):
        table = source
    else:
        from migdata.importer import codebook_table

        table = codebook_table(source, **options)
    return write_table_xlsx(table, out_xlsx, sheet="codebook")
