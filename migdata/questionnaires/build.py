"""Build the XForms (XML) of the questionnaires with pyxform, failing on any error or warning.

The lead wires this into ``migdata questionnaires build [--out DIR]``. Bundled forms are written
from their source (:mod:`migdata.questionnaires.forms`) to a temporary XLSForm first, so the build
works from an installed package; any other XLSForm can be passed by path.

Example:
    >>> import tempfile
    >>> paths = build(tempfile.mkdtemp(), forms=["children_left_behind_survey"])
    >>> paths[0].name
    'children_left_behind_survey.xml'
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Iterable

from pyxform.errors import PyXFormError
from pyxform.xls2xform import convert

from migdata.fileio import atomic_write_text
from migdata.errors import DataError, UsageError
from migdata.questionnaires.xlsform import FORMS, write_xlsform


def xlsform_path(form: str | os.PathLike[str], tmp_dir: str | os.PathLike[str]) -> Path:
    """The XLSForm of ``form``: a bundled name (written into ``tmp_dir``) or an existing path."""
    s = str(form)
    if s in FORMS:
        return write_xlsform(s, Path(tmp_dir) / f"{s}.xlsx")
    p = Path(s)
    if p.suffix.lower() not in (".xlsx", ".xls"):
        raise UsageError("MD600", form=s, choices=", ".join(FORMS))
    if not p.exists():
        raise DataError("MD001", path=s)
    return p


def to_xform(xlsform: str | os.PathLike[str], *, validate: bool = False) -> tuple[str, str]:
    """(form_id, XForm XML) of an XLSForm; MD601 on a pyxform error, MD602 on any warning.

    ``validate=True`` also runs ODK Validate (needs Java), as pyxform's ``validate`` option does.
    """
    warnings: list[str] = []
    try:
        result = convert(str(xlsform), warnings=warnings, validate=validate, pretty_print=True)
    except PyXFormError as exc:
        raise DataError("MD601", file=str(xlsform), detail=str(exc)) from exc
    if warnings:
        raise DataError("MD602", file=str(xlsform), n=len(warnings), detail=" | ".join(warnings))
    return str(result._pyxform.get("id_string") or Path(xlsform).stem), result.xform


def build(out_dir: str | os.PathLike[str], forms: Iterable[str | os.PathLike[str]] | None = None,
          *, validate: bool = False) -> list[Path]:
    """Write ``<form_id>.xml`` into ``out_dir`` for each form (default: the three bundled ones).

    Each file is written atomically (temporary file, then rename). Returns the paths written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp:
        for form in (list(forms) if forms is not None else list(FORMS)):
            form_id, xml = to_xform(xlsform_path(form, tmp), validate=validate)
            target = out / f"{form_id}.xml"
            written.append(atomic_write_text(target, xml))
    return written
