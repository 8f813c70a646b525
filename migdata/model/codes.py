"""Canonical code lists as fixed-category pandas Categoricals (the lists live in ``codes.toml``).

Example:
    >>> s = categorical(["female", "male", None], "sex")
    >>> list(s.cat.categories)
    ['male', 'female']
    >>> label("of_status", "ofw_contract")
    'OFW with contract'
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from importlib import resources
from typing import Any, Iterable

import pandas as pd


@lru_cache(maxsize=1)
def code_lists() -> dict[str, dict[str, list[str]]]:
    """Every canonical code list: ``{name: {"categories": [...], "labels": [...]}}``."""
    text = resources.files("migdata.model").joinpath("codes.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def categories(name: str) -> list[str]:
    """The fixed categories of code list ``name``."""
    return list(code_lists()[name]["categories"])


def dtype(name: str) -> pd.CategoricalDtype:
    """The pandas dtype of code list ``name`` (unordered, fixed categories)."""
    return pd.CategoricalDtype(categories(name), ordered=False)


def categorical(values: Iterable[Any], name: str) -> pd.Series:
    """``values`` as a Categorical of code list ``name``; anything not in the list becomes NA.

    Callers that must *report* unknown codes check them first (see :mod:`migdata.model.validate`).
    """
    return pd.Series(pd.Categorical(list(values) if not isinstance(values, pd.Series) else values,
                                    dtype=dtype(name)))


def label(name: str, code: str) -> str:
    """The English label of ``code`` in list ``name``."""
    cl = code_lists()[name]
    return cl["labels"][cl["categories"].index(code)]


def labels(name: str) -> dict[str, str]:
    cl = code_lists()[name]
    return dict(zip(cl["categories"], cl["labels"]))
