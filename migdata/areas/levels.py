"""The area levels of tables and reports: national, region, province, city/municipality, barangay.

One list for every table, report, map and disclosure rule (the PSGC reference's own level
classification, which also knows sub-municipalities and special areas, is
:data:`migdata.areas.structure.PSGC_LEVELS`). Each level is held in the tidy model by one
household column (``COLUMN``); the national level has no column: it is the whole dataset.

Example:
    >>> from migdata.areas import levels
    >>> levels.level("municipality"), levels.COLUMN["city"]
    ('city', 'city_mun')
    >>> levels.coarser("city")
    ['province', 'region', 'national']
"""

from __future__ import annotations

from migdata.errors import UsageError

#: Table levels, coarse to fine.
LEVELS: tuple[str, ...] = ("national", "region", "province", "city", "barangay")
#: The tidy household column holding each level's PSGC code (None: the whole dataset).
COLUMN: dict[str, str | None] = {"national": None, "region": "region", "province": "province",
                                 "city": "city_mun", "barangay": "barangay"}
#: Words for readers.
NAMES: dict[str, str] = {"national": "country", "region": "region", "province": "province",
                         "city": "city/municipality", "barangay": "barangay"}
#: Other spellings users and older code use.
ALIASES: dict[str, str] = {"city_mun": "city", "municipality": "city", "city/municipality": "city",
                           "mun": "city", "prov": "province", "huc": "province", "reg": "region",
                           "bgy": "barangay", "brgy": "barangay", "country": "national", "ph": "national",
                           "nation": "national"}
NATIONAL_CODE, NATIONAL_NAME = "PH", "Philippines"


def level(name: str) -> str:
    """The level called ``name`` (any alias or the column name), or a UsageError listing them."""
    key = str(name).strip().lower()
    lev = ALIASES.get(key, key)
    if lev not in LEVELS:
        raise UsageError("MD208", value=name, choices=", ".join(LEVELS))
    return lev


def of_column(column: str) -> str:
    """The level a tidy area column holds (``city_mun`` -> ``city``)."""
    for lev, col in COLUMN.items():
        if col == column:
            return lev
    return level(column)


def coarser(lev: str) -> list[str]:
    """The levels above ``lev``, nearest first."""
    i = LEVELS.index(level(lev))
    return list(reversed(LEVELS[:i]))


def finer(lev: str) -> str | None:
    """The level just below ``lev`` (None for barangays)."""
    i = LEVELS.index(level(lev))
    return LEVELS[i + 1] if i + 1 < len(LEVELS) else None


def from_finest(lev: str, top: str | None = None) -> list[str]:
    """``lev`` and every level above it, finest first, stopping at ``top`` (inclusive)."""
    i = LEVELS.index(level(lev))
    out = list(reversed(LEVELS[:i + 1]))
    if top is not None:
        t = LEVELS.index(level(top))
        out = [lv for lv in out if LEVELS.index(lv) <= t]  # never finer than ``top``
    return out
