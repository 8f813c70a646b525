"""The unit of an indicator's values as readers say it, shared by charts, maps and workbooks.

Example:
    >>> unit_label("%", "household"), unit_label("PHP/year", "household")
    ('% of households', 'PHP/year')
"""

from __future__ import annotations

from typing import Any


def _text(v: Any) -> str:
    if v is None:
        return ""
    try:
        if v != v:  # NaN
            return ""
    except (TypeError, ValueError):
        pass
    return str(v)


def unit_label(measure: Any, unit: Any = None) -> str:
    """``% of households`` for a percentage of households (the catalogue's ``measure`` ``%``
    and ``unit`` ``household``), else the measure itself (``persons``, ``PHP/year``).

    >>> unit_label("%", "person"), unit_label("persons", "person"), unit_label("%")
    ('% of persons', 'persons', '%')
    """
    measure, unit = _text(measure), _text(unit)
    if measure == "%":
        return f"% of {unit}s" if unit else "%"
    return measure


__all__ = ["unit_label"]
