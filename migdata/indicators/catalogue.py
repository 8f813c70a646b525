"""Load and check the indicator catalogue (``catalogue.toml`` beside this module).

The catalogue is data: one TOML table per indicator (see the header of ``catalogue.toml`` for the
fields). Loading checks every entry (known statistic and unit, the fields each statistic needs,
every expression safe) so a bad edit fails at load time with a located message (MD702/MD703).

Example:
    >>> cat = catalogue()
    >>> cat["OF02"].statistic, cat["OF02"].unit
    ('count', 'person')
    >>> sorted(cat["OF03"].columns())
    ['age', 'is_ofw', 'of_status']
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from migdata.errors import UsageError
from migdata.indicators import expr

STATISTICS = ("count", "share", "total", "mean", "median", "ratio")
UNITS = ("person", "household", "association")
PROVENANCE = ("GUIDE", "CBMS", "PSA", "SDG", "PROP")
FILE = "migdata/indicators/catalogue.toml"


@dataclass(frozen=True)
class Indicator:
    """One catalogue entry."""

    id: str
    name: str
    definition: str
    unit: str
    statistic: str
    universe: str = ""
    numerator: str | None = None
    denominator: str | None = None
    value: str | None = None
    category: str | None = None
    categories: tuple[str, ...] | None = None
    multi: str | None = None
    scale: float = 1.0
    measure: str = ""
    by: tuple[str, ...] = ()
    not_by: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    provenance: tuple[str, ...] = ()
    note: str = ""
    levels: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def percent(self) -> bool:
        return self.measure == "%"

    def expressions(self) -> dict[str, str]:
        """Field name -> expression text, for the fields that hold expressions."""
        out = {"universe": self.universe}
        for f in ("numerator", "denominator", "value"):
            v = getattr(self, f)
            if v:
                out[f] = v
        return {k: v for k, v in out.items() if v}

    def columns(self) -> set[str]:
        """Every column the indicator reads (expressions, category, multi)."""
        cols: set[str] = set()
        for f, e in self.expressions().items():
            cols |= expr.names(e, (self.id, f))
        for c in (self.category, self.multi):
            if c:
                cols.add(c)
        return cols


def _bad(ind: str, fld: str, problem: str) -> UsageError:
    return UsageError("MD702", id=ind, field=fld, problem=problem, file=FILE)


def _entry(ind: str, d: dict[str, Any]) -> Indicator:
    for f in ("name", "definition", "unit", "statistic"):
        if not d.get(f):
            raise _bad(ind, f, "is missing")
    if d["statistic"] not in STATISTICS:
        raise _bad(ind, "statistic", f"is {d['statistic']!r}; allowed: {', '.join(STATISTICS)}")
    if d["unit"] not in UNITS:
        raise _bad(ind, "unit", f"is {d['unit']!r}; allowed: {', '.join(UNITS)}")
    stat = d["statistic"]
    need = {"count": ["numerator"], "share": [], "total": ["value"], "mean": ["value"],
            "median": ["value"], "ratio": ["numerator", "denominator"]}[stat]
    if stat == "share" and not (d.get("numerator") or d.get("category") or d.get("multi")):
        raise _bad(ind, "numerator", "is missing (a share needs a numerator, a category or a multi column)")
    for f in need:
        if not d.get(f):
            raise _bad(ind, f, f"is missing (statistic {stat} needs it)")
    for p in d.get("provenance", []):
        if p not in PROVENANCE:
            raise _bad(ind, "provenance", f"has {p!r}; allowed: {', '.join(PROVENANCE)}")
    known = {f for f in Indicator.__dataclass_fields__} - {"id", "extra"}
    extra = {k: v for k, v in d.items() if k not in known}
    if extra:
        raise _bad(ind, sorted(extra)[0], "is not a catalogue field")
    item = Indicator(
        id=ind, name=d["name"], definition=d["definition"], unit=d["unit"], statistic=stat,
        universe=d.get("universe", ""), numerator=d.get("numerator"), denominator=d.get("denominator"),
        value=d.get("value"), category=d.get("category"),
        categories=tuple(d["categories"]) if d.get("categories") else None, multi=d.get("multi"),
        scale=float(d.get("scale", 1.0)), measure=d.get("measure", ""),
        by=tuple(d.get("by", ())), not_by=tuple(d.get("not_by", ())), sources=tuple(d.get("sources", ())),
        provenance=tuple(d.get("provenance", ())), note=d.get("note", ""), levels=tuple(d.get("levels", ())))
    item.columns()  # parses (and so checks) every expression
    return item


def load_catalogue(text: str) -> dict[str, Indicator]:
    """Parse catalogue TOML text into ``{id: Indicator}`` (checked)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _bad("(file)", "(syntax)", str(exc)) from None
    return {ind: _entry(ind, d) for ind, d in data.items()}


@lru_cache(maxsize=1)
def catalogue() -> dict[str, Indicator]:
    """The bundled catalogue, in file order."""
    text = resources.files("migdata.indicators").joinpath("catalogue.toml").read_text(encoding="utf-8")
    return load_catalogue(text)


def metadata() -> "Any":
    """The catalogue as a DataFrame (one row per indicator), for the workbook's metadata sheet."""
    import pandas as pd

    rows = []
    for ind in catalogue().values():
        rows.append({"indicator_id": ind.id, "name": ind.name, "definition": ind.definition,
                     "unit": ind.unit, "statistic": ind.statistic, "measure": ind.measure,
                     "universe": ind.universe, "numerator": ind.numerator or "",
                     "denominator": ind.denominator or "", "value": ind.value or "",
                     "category": ind.category or ind.multi or "",
                     "default_by": ", ".join(ind.by), "sources": ", ".join(ind.sources),
                     "provenance": ", ".join(ind.provenance), "note": ind.note})
    return pd.DataFrame(rows)


def catalogue_text() -> str:
    """The catalogue as plain text, one line per indicator (for ``migdata indicators --list``).

    Example:
        >>> any(line.startswith("OF01") for line in catalogue_text().splitlines())
        True
    """
    return "\n".join(f"{i.id:6} {i.statistic:7} {i.measure:10} {i.name}" for i in catalogue().values())
