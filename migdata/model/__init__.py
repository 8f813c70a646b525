"""The tidy household model: code lists, schema, validation, import report and dataset store.

The package holds two layers. Its definitions (``codes``, ``schema.toml``, ``spec``, ``report``,
``privacy``, ``agegroups``) are the vocabulary every stage shares: readers report problems in an
``ImportReport`` and profiles map onto the code lists and specs. Its store (``data``, ``frame``,
``database``, ``validate``) comes after mapping. The names below are loaded on first use, so that
importing a definition (``migdata.model.report``) never loads the store.

Example:
    >>> from migdata.model import HouseholdData, validate, age_group
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

_WHERE = {
    "age_group": "migdata.model.agegroups",
    "HouseholdData": "migdata.model.data",
    "load": "migdata.model.data",
    "read_manifest": "migdata.model.data",
    "ImportReport": "migdata.model.report",
    "Problem": "migdata.model.report",
    "validate": "migdata.model.validate",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    # PEP 562: the store modules load when a caller first asks for one of their names
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'migdata.model' has no attribute {name!r}")


class _Package(types.ModuleType):
    """``validate`` is both a function of this package and the module that holds it: importing
    the module (``from migdata.model.validate import ...``) must not replace the function, or
    ``from migdata.model import validate`` would give the module, depending on what ran before."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _WHERE and isinstance(value, types.ModuleType) and value.__name__ == _WHERE[name]:
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
