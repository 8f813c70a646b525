"""One error hierarchy with stable, numbered codes (the pyxform way).

Every message lives in a catalogue (``migdata/messages/*.toml``, one file per package) as data:
a code, a one-line rule, a message template and what the user should do. Code raises
``DataError("MD101", table=..., row=...)``; tests rebuild the expected text with
:func:`render` from the same catalogue, so wording can change without breaking tests.

An entry may set ``exit = 2`` when the error always means a usage error (a path that does not
exist), whatever class raises it; otherwise the class decides (1, or 2 for :class:`UsageError`).

Code ranges: MD0xx general/CLI, MD1xx model and store, MD2xx areas, MD3xx survey engine,
MD4xx readers, MD5xx profiles, MD6xx questionnaires and sample data, MD7xx indicators and
publishing, MD8xx reports.

Example:
    >>> from migdata.errors import DataError, render
    >>> err = DataError("MD001", path="x.csv")
    >>> err.code
    'MD001'
"""

from __future__ import annotations

import string
import tomllib
from functools import lru_cache
from importlib import resources
from typing import Any


@lru_cache(maxsize=1)
def catalogue() -> dict[str, dict[str, str]]:
    """All message entries by code, merged from ``migdata/messages/*.toml``."""
    entries: dict[str, dict[str, str]] = {}
    for item in sorted(resources.files("migdata.messages").iterdir(), key=lambda p: p.name):
        if not item.name.endswith(".toml"):
            continue
        data = tomllib.loads(item.read_text(encoding="utf-8"))
        for code, entry in data.items():
            if code in entries:
                raise RuntimeError(f"message code {code} defined twice (second in {item.name})")
            entries[code] = entry
    return entries


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return "?"


def render(code: str, **fields: Any) -> str:
    """The plain-language message for ``code`` filled with ``fields``, plus what to do.

    Unknown fields print as ``?`` rather than failing: an error must never raise an error.
    """
    entry = catalogue().get(code)
    if entry is None:
        return f"{code}: " + ", ".join(f"{k}={v!r}" for k, v in fields.items())
    formatter = string.Formatter()
    text = formatter.vformat(entry["message"], (), _Blank(fields))
    todo = entry.get("todo")
    if todo:
        text += " " + formatter.vformat(todo, (), _Blank(fields))
    return f"[{code}] {text}"


def rule(code: str) -> str:
    """The short rule name of a catalogue entry (e.g. ``unique household id``)."""
    return catalogue().get(code, {}).get("rule", code)


class MigdataError(Exception):
    """Base of every error migdata raises on purpose.

    ``code`` is stable across versions; ``fields`` hold the located details (file, sheet,
    record type, row, column, value) so that programs can read them without parsing text.
    """

    exit_code = 1

    def __init__(self, code: str, **fields: Any) -> None:
        self.code = code
        self.fields = fields
        self.message = render(code, **fields)
        # a catalogue entry may name its own exit code: a file or folder the user named that
        # does not exist is a usage error (2) whichever part of migdata finds it
        self.exit_code = int(catalogue().get(code, {}).get("exit", type(self).exit_code))
        super().__init__(self.message)

    def __reduce__(self) -> tuple[Any, ...]:
        # rebuilt from its code and fields (Exception's own pickling would pass the message as
        # the code): an error raised in a worker process reads the same in the caller
        return _rebuild, (type(self), self.code, self.fields), self.__dict__


def _rebuild(cls: type[MigdataError], code: str, fields: dict[str, Any]) -> MigdataError:
    return cls(code, **fields)


class DataError(MigdataError):
    """The input data or file is wrong (bad value, layout, encoding, missing table)."""


class StoreError(MigdataError):
    """A dataset store on disk is missing, corrupted or would be overwritten."""


class DesignError(MigdataError):
    """A survey design or estimate request cannot be honoured (e.g. a lonely PSU)."""


class UsageError(MigdataError):
    """The user asked for something that does not exist or is not allowed (exit code 2)."""

    exit_code = 2
