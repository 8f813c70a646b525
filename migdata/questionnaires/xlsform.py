"""Write the bundled questionnaires as XLSForm workbooks (survey, choices, settings sheets).

The forms' readable source is Python data in :mod:`migdata.questionnaires.forms` (one module per
form: ``SETTINGS``, ``SURVEY`` rows made with :func:`q`, ``CHOICES``), so that reviews see diffs
of questions rather than of binary workbooks. This module turns that data into the standard
XLSForm layout with openpyxl; conversion to XForm XML is left to pyxform (see :mod:`.build`).

Two languages are written for every label, hint and constraint message: ``English (en)`` and
``Filipino (fil)``, because pyxform warns when a translation is missing.

Example:
    >>> from migdata.questionnaires.xlsform import FORMS, form_module
    >>> form_module("overseas_filipino_survey").SETTINGS["form_id"]
    'overseas_filipino_survey'
"""

from __future__ import annotations

import datetime
import importlib
import os
import re
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

from openpyxl import Workbook

from migdata.fileio import atomic_write
from migdata.errors import UsageError
from migdata.publish.safe import guard_sheet

LANGS = ("English (en)", "Filipino (fil)")

#: The bundled forms, in the order the CLI lists them.
FORMS = ("cbms_migration_rider", "overseas_filipino_survey", "children_left_behind_survey")

SURVEY_COLUMNS = (
    ["type", "name"]
    + [f"label::{lang}" for lang in LANGS]
    + [f"hint::{lang}" for lang in LANGS]
    + ["required"]
    + [f"required_message::{lang}" for lang in LANGS]
    + ["relevant", "constraint"]
    + [f"constraint_message::{lang}" for lang in LANGS]
    + ["calculation", "appearance", "repeat_count", "default", "parameters"]
)
CHOICE_COLUMNS = ["list_name", "name"] + [f"label::{lang}" for lang in LANGS]
SETTINGS_COLUMNS = ["form_title", "form_id", "version", "default_language", "allow_choice_duplicates"]

FIXED_DATE = datetime.datetime(2026, 1, 1)

REQUIRED_MESSAGE = ("This question must be answered.", "Kailangang sagutin ang tanong na ito.")


def q(
    type: str,
    name: str,
    en: str | None = None,
    fil: str | None = None,
    *,
    hint: tuple[str, str] | None = None,
    required: bool = False,
    relevant: str | None = None,
    constraint: str | None = None,
    msg: tuple[str, str] | None = None,
    calc: str | None = None,
    appearance: str | None = None,
    repeat_count: str | None = None,
    default: str | None = None,
    parameters: str | None = None,
) -> dict[str, Any]:
    """One survey-sheet row. ``en``/``fil`` are the label in English and Filipino.

    Example:
        >>> q("integer", "age", "Age", "Edad", required=True, constraint=". <= 120",
        ...   msg=("At most 120.", "Hanggang 120 lamang."))["constraint"]
        '. <= 120'
    """
    row: dict[str, Any] = {"type": type, "name": name}
    if en is not None:
        row[f"label::{LANGS[0]}"] = en
        row[f"label::{LANGS[1]}"] = fil if fil is not None else en
    if hint:
        row[f"hint::{LANGS[0]}"], row[f"hint::{LANGS[1]}"] = hint
    if required:
        row["required"] = "yes"
        row[f"required_message::{LANGS[0]}"], row[f"required_message::{LANGS[1]}"] = REQUIRED_MESSAGE
    if constraint:
        if not msg:
            raise ValueError(f"question {name}: a constraint needs a constraint message")
        row["constraint"] = constraint
        row[f"constraint_message::{LANGS[0]}"], row[f"constraint_message::{LANGS[1]}"] = msg
    for key, val in (("relevant", relevant), ("calculation", calc), ("appearance", appearance),
                     ("repeat_count", repeat_count), ("default", default),
                     ("parameters", parameters)):
        if val is not None:
            row[key] = val
    return row


def end(kind: str) -> dict[str, Any]:
    """An ``end_group`` / ``end_repeat`` row."""
    return {"type": f"end_{kind}"}


def form_module(name: str) -> ModuleType:
    """The source module of bundled form ``name`` (raises MD600 for an unknown name)."""
    if name not in FORMS:
        raise UsageError("MD600", form=name, choices=", ".join(FORMS))
    return importlib.import_module(f"migdata.questionnaires.forms.{name}")


def write_xlsform(name: str, path: str | os.PathLike[str]) -> Path:
    """Write bundled form ``name`` as an XLSForm workbook at ``path`` (atomic) and return the path.

    Every cell is written as a literal string (``data_type = 's'``): XLSForm expressions never
    become spreadsheet formulas.
    """
    mod = form_module(name)
    wb = Workbook()
    ws = wb.active
    ws.title = "survey"
    _write_rows(ws, SURVEY_COLUMNS, mod.SURVEY)
    cs = wb.create_sheet("choices")
    choice_rows = []
    for list_name, items in mod.CHOICES.items():
        for item in items:
            code, en, fil = item
            choice_rows.append({"list_name": list_name, "name": str(code),
                                f"label::{LANGS[0]}": en, f"label::{LANGS[1]}": fil})
    _write_rows(cs, CHOICE_COLUMNS, choice_rows)
    ss = wb.create_sheet("settings")
    _write_rows(ss, SETTINGS_COLUMNS, [mod.SETTINGS])
    # Fixed document dates, so regenerating an unchanged form gives the same workbook content.
    wb.properties.created = wb.properties.modified = FIXED_DATE
    wb.properties.creator = "migdata"
    def write(tmp: Path) -> None:
        wb.save(tmp)
        _reproducible(str(tmp))

    return atomic_write(path, write)


def _reproducible(xlsx: str) -> None:
    """Rewrite the workbook zip with fixed member dates and document dates (openpyxl stamps both
    with the current time), so an unchanged form source gives a byte-identical workbook."""
    with zipfile.ZipFile(xlsx) as z:
        members = [(i.filename, z.read(i.filename)) for i in z.infolist()]
    stamp = FIXED_DATE.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    with zipfile.ZipFile(xlsx, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members:
            if name == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>" + stamp, data)
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)


def _write_rows(ws: Any, columns: list[str], rows: list[dict[str, Any]]) -> None:
    unknown = {k for r in rows for k in r} - set(columns)
    if unknown:
        raise ValueError(f"unknown XLSForm columns {sorted(unknown)}")
    used = [c for c in columns if any(c in r for r in rows) or c in ("type", "name", "list_name")]
    ws.append(used)
    for r in rows:
        ws.append([r.get(c) for c in used])
    guard_sheet(ws)  # expressions and labels are literal text, never spreadsheet formulas


def write_all(out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write every bundled form as ``<out_dir>/<name>.xlsx``."""
    return [write_xlsform(n, Path(out_dir) / f"{n}.xlsx") for n in FORMS]
