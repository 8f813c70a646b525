"""Readers: one module per file format, each returning ``(raw tables, Codebook)``.

:data:`READERS` maps a reader name (the ``reader = "..."`` of a profile) to ``"module:function"``.
Modules are imported lazily by name, so a reader whose module (or optional dependency) is
missing fails only when it is used, with a plain error, and never breaks the others.
Each function is called as ``function(path, **options)``; the CSPro reader also takes the
dictionary (``dictionary=``; by default the ``.dcf`` beside the data file).

Example:
    >>> reader_for("survey.sav")
    'spss'
    >>> callable(get_reader("cspro"))
    True
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Callable

from migdata.errors import UsageError

READERS: dict[str, str] = {
    "cspro": "migdata.readers.cspro:read",
    "spss": "migdata.readers.stats:read_spss",
    "stata": "migdata.readers.stats:read_stata",
    "sas": "migdata.readers.stats:read_sas",
    "csv": "migdata.readers.tabular:read_csv",
    "excel": "migdata.readers.tabular:read_excel",
    "kobo_xlsx": "migdata.readers.kobo:read_xlsx",
    "kobo_json": "migdata.readers.kobo:read_json",
    "odk_csv": "migdata.readers.kobo:read_odk_csv",
    "ipums": "migdata.readers.ipums:read",
}

#: File extension -> reader name, for ``migdata codebook FILE`` and profiles without a reader.
EXTENSIONS: dict[str, str] = {
    ".dcf": "cspro", ".dat": "cspro",
    ".sav": "spss", ".zsav": "spss", ".por": "spss",
    ".dta": "stata",
    ".sas7bdat": "sas", ".xpt": "sas",
    ".csv": "csv", ".tsv": "csv", ".txt": "csv",
    ".xlsx": "excel", ".xlsm": "excel",
    ".json": "kobo_json",
    ".xml": "ipums",
}


def get_reader(name: str) -> Callable[..., Any]:
    """The read function registered as ``name``; ``MD509`` when unknown or not installed."""
    target = READERS.get(name)
    if target is None:
        raise UsageError("MD509", value=name, reason="no such reader", choices=", ".join(sorted(READERS)))
    mod_name, func = target.split(":")
    try:
        mod = importlib.import_module(mod_name)
        return getattr(mod, func)
    except (ImportError, AttributeError) as exc:
        raise UsageError("MD509", value=name, reason=f"{type(exc).__name__}: {exc}",
                         choices=", ".join(sorted(available_readers()))) from None


def available_readers() -> list[str]:
    """Reader names whose module can be imported now."""
    out = []
    for name, target in READERS.items():
        mod_name, func = target.split(":")
        try:
            if hasattr(importlib.import_module(mod_name), func):
                out.append(name)
        except ImportError:
            pass
    return out


def reader_for(path: str | Path) -> str:
    """The reader name for a file, from its extension (a CSPro data file of any extension is
    recognised by a ``.dcf`` of the same name beside it)."""
    p = Path(path)
    ext = p.suffix.lower()
    if ext in EXTENSIONS:
        return EXTENSIONS[ext]
    if p.with_suffix(".dcf").exists() or p.with_suffix(".DCF").exists():
        return "cspro"
    raise UsageError("MD510", path=str(p), value=ext, choices=", ".join(sorted(EXTENSIONS)))
