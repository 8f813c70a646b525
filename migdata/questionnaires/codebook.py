"""An Excel codebook of the questionnaires: one row per question, with choices and rules.

The lead wires this into ``migdata questionnaires codebook [--out FILE.xlsx]``. Columns: form,
variable (the Kobo export column, i.e. the group path), name, question (English), question
(Filipino), type, choices (``code=label; ...``), relevance, constraint, required, calculation,
repeat (the sheet the variable lands on in a Kobo XLSX export).

Formula safety: every cell is written as a string cell (``data_type = 's'``), and any text that
begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading space, so no
spreadsheet program (nor a CSV saved from the workbook) can take it for a formula.

Example:
    >>> import tempfile, os
    >>> p = codebook(os.path.join(tempfile.mkdtemp(), "codebook.xlsx"))
    >>> p.suffix
    '.xlsx'
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Font

from migdata.fileio import atomic_write
from migdata.errors import UsageError
from migdata.publish.safe import guard_sheet
from migdata.questionnaires.form import SELECT_MULTIPLE, SELECT_ONE, load_form
from migdata.questionnaires.xlsform import FORMS

COLUMNS = ["form", "variable", "name", "question", "question_fil", "type", "choices", "relevance",
           "constraint", "required", "calculation", "repeat"]
def codebook_frame(forms: Iterable[str | os.PathLike[str]] | None = None) -> pd.DataFrame:
    """The codebook as a DataFrame (one row per question that holds data)."""
    rows = []
    for spec in (list(forms) if forms is not None else list(FORMS)):
        form = load_form(spec)
        langs = form.languages
        en = langs[0] if langs else None
        fil = langs[1] if len(langs) > 1 else None
        for e in form.questions():
            typ = e.type
            choices = ""
            if typ in (SELECT_ONE, SELECT_MULTIPLE) and e.list_name:
                choices = "; ".join(f"{c}={form.choice_label(e.list_name, c, en)}"
                                    for c in form.choice_names(e.list_name))
                typ = ("select_one " if typ == SELECT_ONE else "select_multiple ") + e.list_name
            rel = " and ".join(f"({r})" for r in e.relevant_chain + ((e.relevant,) if e.relevant else ()))
            rows.append({
                "form": form.form_id, "variable": e.path, "name": e.name,
                "question": e.text("label", en), "question_fil": e.text("label", fil) if fil else "",
                "type": typ, "choices": choices, "relevance": rel, "constraint": e.constraint or "",
                "required": "yes" if e.required else "", "calculation": e.calculation or "",
                "repeat": e.repeat or "",
            })
    return pd.DataFrame(rows, columns=COLUMNS)


def codebook(out_xlsx: str | os.PathLike[str], forms: Iterable[str | os.PathLike[str]] | None = None) -> Path:
    """Write the codebook workbook (one sheet ``codebook``) atomically and return its path."""
    out = Path(out_xlsx)
    if out.suffix.lower() != ".xlsx":
        raise UsageError("MD603", path=str(out), suffix=".xlsx")
    df = codebook_frame(forms)
    wb = Workbook()
    ws = wb.active
    ws.title = "codebook"
    ws.append(COLUMNS)
    for c in ws[1]:
        c.font = Font(bold=True)
    for rec in df.itertuples(index=False):
        ws.append([None if v is None else str(v) for v in rec])
    guard_sheet(ws)  # text stays text (never a formula); empty cells stay empty
    for col, width in zip("ABCDEFGHIJKL", (26, 34, 22, 60, 60, 28, 60, 50, 40, 9, 30, 12)):
        ws.column_dimensions[col].width = width
    ws.freeze_panes = "C2"
    return atomic_write(out, wb.save)
