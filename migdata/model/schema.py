"""The tidy-model schema: tables, columns and their types, read from ``schema.toml`` (data).

A definition module: readers, profiles and writers read it without loading the store or the
validator (``migdata.model.validate`` applies these rules; this module only states them).

Example:
    >>> columns("persons")["age"]["dtype"]
    'int'
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from importlib import resources
from typing import Any

import pandas as pd

#: Storage types of the schema's ``dtype`` kinds (categories come from the code lists).
STRING = pd.StringDtype("pyarrow")
INT = "Int32"
FLOAT = "float64"
BOOL = "boolean"


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The tidy-model schema (``migdata/model/schema.toml``) as a dict."""
    text = resources.files("migdata.model").joinpath("schema.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def columns(table: str) -> dict[str, dict[str, Any]]:
    """Column specifications of tidy table ``table``."""
    return schema()[table]["columns"]
