"""Does a profile fit the files it is given? Layouts, items, value sets, rounds and file roles.

A source changes from round to round: PSA's Labor Force Survey renumbers its items in the
quarterly rounds (the overseas-Filipino indicator is ``PUFC08_CONWR`` in the monthly files,
``PUFC10_CONWR`` in January, April, July and October), and the household number restarts each
round. A profile says so as data, and this module checks, before any row is mapped, that the
files are what the profile expects; when they are not, the import stops with one located
message instead of producing an empty column.

Profile sections read here (see ``migdata/profiles/README.md``)::

    [layouts.monthly]                 # the item names the [tables] use
    doc = "February, March, May, June, August, September, November, December"
    [layouts.quarterly]
    doc = "January, April, July, October"
    items = { PUFC08_CONWR = "PUFC10_CONWR" }   # name in [tables] = name in this layout

    [files]                           # raw table (role) = file name pattern(s)
    members = ["*members*.csv", "*roster*.csv"]

Rules:

- **layouts** (:func:`choose`): the first layout whose items the file's dictionary all has is
  used, and the file's items are renamed to the profile's names (:func:`to_profile_names`), so
  files of different layouts import together; none: ``MD521`` names, per layout, the items the
  file lacks. A
  profile without layouts has one, its own names: an item the dictionary lacks is ``MD520``.
  Items of columns declared ``optional``, with a ``default``, or of identifiers (``drop =
  true``) may be absent.
- **value sets** (:func:`check_value_sets`): a coded item whose dictionary labels codes the
  profile does not map, or (CSPro: codes of all its value sets) no longer has codes the profile
  maps, is a problem ``MD522`` (the rows that use an unmapped code are reported one by one,
  MD504).
- **rounds** (:func:`check_round_keys`): when the files hold several rounds, a case id used in
  two rounds would merge two households: ``MD523``.
- **file roles** (:func:`role_of`): with a ``[files]`` table, each file becomes the raw table
  whose pattern its name matches, so one profile serves every month's files; a file that
  matches no pattern is ``MD524``.

Hand-written: no library checks a declarative mapping against a survey dictionary.

Example:
    >>> from migdata.profiles.engine import parse_profile
    >>> prof = parse_profile('''
    ... [profile]
    ... name = "demo"
    ... [layouts.old]
    ... [layouts.new]
    ... items = { Q8 = "Q10" }
    ... [tables.persons]
    ... from = "P"
    ... [tables.persons.columns]
    ... hh_id = "HH"
    ... line_no = "LN"
    ... age = "Q8"
    ... ''')
    >>> fitted = resolve(prof, {"P": {"HH", "LN", "Q10"}}, "new.dat")
    >>> fitted.layout, fitted.tables["persons"]["columns"]["age"]["from"]
    ('new', 'Q10')
"""

from __future__ import annotations

import copy
import dataclasses
import fnmatch
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping

import numpy as np
import pandas as pd

from migdata.errors import DataError, UsageError

if TYPE_CHECKING:  # the engine imports this module; no import cycle at run time
    from migdata.model.report import ImportReport
    from migdata.profiles.engine import Profile
    from migdata.readers.codebook import Codebook

LAYOUT_KEYS = {"items", "doc"}


# -- parsing (called by engine.parse_profile) ---------------------------------------------------

def parse_layouts(section: Any, path: str | None) -> list[dict[str, Any]]:
    """``[layouts.<name>]`` tables as ``[{"name", "items", "doc"}]`` in the profile's order."""
    if section is None:
        return []
    if not isinstance(section, dict) or not all(isinstance(v, dict) for v in section.values()):
        raise DataError("MD501", file=path or "<profile>", where="[layouts]",
                        reason="each layout is a table [layouts.<name>] with items = { name = \"its name here\" }")
    out = []
    for name, spec in section.items():
        bad = set(spec) - LAYOUT_KEYS
        if bad:
            raise DataError("MD501", file=path or "<profile>", where=f"[layouts.{name}]",
                            reason=f"unknown key(s) {sorted(bad)}; allowed: {sorted(LAYOUT_KEYS)}")
        items = spec.get("items", {})
        if not isinstance(items, dict) or not all(isinstance(v, str) for v in items.values()):
            raise DataError("MD501", file=path or "<profile>", where=f"[layouts.{name}] items",
                            reason="items = { name in [tables] = \"name in this layout\" }")
        out.append({"name": str(name), "items": dict(items), "doc": str(spec.get("doc", ""))})
    return out


def parse_files(section: Any, path: str | None) -> dict[str, list[str]]:
    """``[files]``: raw table (role) -> file name patterns."""
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise DataError("MD501", file=path or "<profile>", where="[files]",
                        reason="[files] maps a raw table to file name patterns: members = \"*members*.csv\"")
    out = {}
    for role, pats in section.items():
        pats = [pats] if isinstance(pats, str) else pats
        if not isinstance(pats, list) or not pats or not all(isinstance(p, str) and p for p in pats):
            raise DataError("MD501", file=path or "<profile>", where=f"[files] {role}",
                            reason="a file name pattern (\"*members*.csv\") or a list of them")
        out[str(role)] = list(pats)
    return out


# -- layouts and items --------------------------------------------------------------------------

def available_items(codebook: "Codebook | None", raw: Mapping[str, pd.DataFrame] | None = None
                    ) -> dict[str, set[str]]:
    """The items each raw table of a file has: its dictionary's variables (repeated items also
    as ``NAME_k``) and, when given, the columns the reader produced."""
    out: dict[str, set[str]] = {}
    for v in (codebook.variables if codebook is not None else []):
        names = out.setdefault(v.table, set())
        names.add(v.name)
        if (v.occurrences or 1) > 1:
            names.update(f"{v.name}_{k}" for k in range(1, v.occurrences + 1))
    for t, df in (raw or {}).items():
        out.setdefault(t, set()).update(str(c) for c in df.columns)
    return out


def _renamed(tables: dict[str, dict[str, Any]], items: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """The tables with their raw item names replaced as a layout names them."""
    if not items:
        return tables
    out = copy.deepcopy(tables)
    for tspec in out.values():
        if tspec.get("keys"):
            tspec["keys"] = [items.get(k, k) for k in tspec["keys"]]
        for cspec in tspec["columns"].values():
            if cspec.get("from"):
                cspec["from"] = items.get(cspec["from"], cspec["from"])
            if cspec.get("concat"):
                cspec["concat"] = [items.get(c, c) for c in cspec["concat"]]
    return out


def _optional(cspec: Mapping[str, Any]) -> bool:
    """Columns that may lack their item: declared optional, filled by a default, or identifiers
    (dropped anyway)."""
    return "default" in cspec or bool(cspec.get("drop")) or bool(cspec.get("optional"))


def missing_items(tables: Mapping[str, Mapping[str, Any]], available: Mapping[str, set[str]]
                  ) -> list[tuple[str, str, str]]:
    """``(tidy table, tidy column, raw item)`` for every mapped item none of the table's raw
    tables has. A table whose raw table is absent is left to the engine (MD502)."""
    out = []
    for tname, tspec in tables.items():
        if tspec["from"] not in available:
            continue
        have = set().union(*(available.get(s, set()) for s in [tspec["from"], *tspec.get("join", [])]))
        for k in tspec.get("keys", []):
            if k not in have:
                out.append((tname, "keys", k))
        for cname, cspec in tspec["columns"].items():
            if _optional(cspec):
                continue
            for item in [cspec["from"]] if cspec.get("from") else cspec.get("concat", []):
                if item not in have:
                    out.append((tname, cname, item))
    return out


def _listed(missing: Iterable[tuple[str, str, str]]) -> str:
    seen = list(dict.fromkeys(item for _, _, item in missing))
    return ", ".join(seen)


def choose(profile: "Profile", available: Mapping[str, set[str]], source: str | None) -> dict[str, Any]:
    """The layout of a file whose raw tables have ``available`` items: the first of the
    profile's layouts whose items are all there (``{"name", "items", "doc"}``; name None for a
    profile without layouts). Raises ``MD521`` when no declared layout fits (naming, per layout,
    the items the file lacks) and ``MD520`` when a profile without layouts maps items the file
    lacks."""
    layouts = profile.layouts or [{"name": None, "items": {}, "doc": ""}]
    tried = []
    for lay in layouts:
        miss = missing_items(_renamed(profile.tables, lay["items"]), available)
        if not miss:
            return lay
        tried.append((lay["name"], miss))
    if not profile.layouts:
        miss = tried[0][1]
        raise DataError("MD520", profile=profile.name, file=source or "the file",
                        missing=", ".join(f"{item} ({t}.{c})" for t, c, item in miss),
                        items=[item for _, _, item in miss])
    differ = "; ".join(f"layout {name} lacks {_listed(miss)}" for name, miss in tried)
    raise DataError("MD521", profile=profile.name, file=source or "the file", differ=differ,
                    missing={name: [item for _, _, item in miss] for name, miss in tried})


def layout_named(profile: "Profile", name: str | None) -> dict[str, Any]:
    """A layout of the profile by name (None: the profile's own names)."""
    for lay in profile.layouts:
        if lay["name"] == name:
            return lay
    return {"name": None, "items": {}, "doc": ""}


def file_items(items: Iterable[str], layout: Mapping[str, Any] | None) -> list[str]:
    """The names under which a file of ``layout`` holds the profile's ``items``."""
    ren = (layout or {}).get("items", {})
    return sorted({ren.get(i, i) for i in items})


def to_profile_names(tables: dict[str, pd.DataFrame], codebook: "Codebook", layout: Mapping[str, Any] | None
                     ) -> tuple[dict[str, pd.DataFrame], "Codebook"]:
    """A file's raw tables and codebook with its layout's item names replaced by the names the
    profile's tables use, so that files of different layouts stack into one raw table."""
    ren = (layout or {}).get("items", {})
    if not ren:
        return tables, codebook
    back = {v: k for k, v in ren.items()}
    out = {name: df.rename(columns=back) for name, df in tables.items()}
    for v in codebook.variables:
        if v.name in back:
            v.extra = {**v.extra, "name_in_file": v.name}
            v.name = back[v.name]
    return out, codebook


def resolve(profile: "Profile", available: Mapping[str, set[str]], source: str | None) -> "Profile":
    """The profile as it applies to a file whose raw tables have ``available`` items (see
    :func:`choose`): its tables use the chosen layout's item names, ``Profile.layout`` names it."""
    lay = choose(profile, available, source)
    return dataclasses.replace(profile, tables=_renamed(profile.tables, lay["items"]), layout=lay["name"])


# -- value sets ---------------------------------------------------------------------------------

def _code_text(v: Any) -> str:
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v).strip()


def _in_ranges(code: str, ranges: list[tuple[float, float]]) -> bool:
    try:
        x = float(code)
    except ValueError:
        return False
    return any(lo <= x <= hi for lo, hi in ranges)


def value_set_differences(cspec: Mapping[str, Any], labels: Mapping[Any, str],
                          specials: Iterable[Any] = (), valid: Iterable[Any] | None = None,
                          valid_ranges: Iterable[tuple[Any, Any]] = ()) -> tuple[list[str], list[str]]:
    """(codes the dictionary labels that the profile does not map, as ``code (label)``; codes
    the profile maps that the dictionary no longer has). Ranges (``"1:14"``) and the
    profile's ``missing`` codes are accounted for; special values (CSPro NOTAPPL, MISSING) are
    not value-set codes. The second list needs ``valid``, every code the dictionary's value
    sets allow (a CSPro item may split its codes over several value sets); without it (SPSS,
    Stata labels are often partial) it is empty.

    >>> value_set_differences({"codes": {1: "a", 2: "b"}}, {1: "A", 2: "B", 3: "C"}, valid=[1, 2, 3])
    (['3 (C)'], [])
    >>> value_set_differences({"codes": {1: "a", 7: "b"}}, {1: "A"}, valid=[1, 2])
    ([], ['7'])
    """
    mapped, ranges = set(), []
    for k in cspec.get("codes", {}):
        m = re.fullmatch(r"\s*(-?[\d.]+)\s*:\s*(-?[\d.]+)\s*", str(k))
        if m:
            ranges.append((float(m.group(1)), float(m.group(2))))
        else:
            mapped.add(str(k).strip())
    missing = {_code_text(m) for m in cspec.get("missing", [])}
    labelled = {_code_text(k): str(v) for k, v in labels.items()}
    special = {_code_text(s) for s in specials}
    new = [f"{k} ({v})" for k, v in labelled.items()
           if k not in mapped and k not in missing and not _in_ranges(k, ranges)]
    if valid is None:
        return new, []
    allowed = {_code_text(v) for v in valid} | special
    spans = [(float(lo), float(hi)) for lo, hi in valid_ranges]
    gone = sorted((k for k in mapped if k not in allowed and k not in missing and not _in_ranges(k, spans)),
                  key=lambda k: (len(k), k))
    return new, gone


def check_value_sets(profile: "Profile", codebook: "Codebook", report: "ImportReport") -> None:
    """Report (``MD522``, kept) every coded item whose value set in the file's dictionary no
    longer matches the profile's codes (items the dictionary gives no labels are not checked)."""
    for tname, tspec in profile.tables.items():
        srcs = [tspec["from"], *tspec.get("join", [])]
        for cname, cspec in tspec["columns"].items():
            if "codes" not in cspec or not cspec.get("from"):
                continue
            var = None
            for s in srcs:
                try:
                    var = codebook.variable(cspec["from"], s)
                    break
                except KeyError:
                    continue
            if var is None or not var.value_labels:
                continue
            new, gone = value_set_differences(cspec, var.value_labels, var.special_values,
                                              var.extra.get("valid_codes"), var.extra.get("valid_ranges", ()))
            parts = []
            if new:
                parts.append(f"the file labels {', '.join(new)}, which the profile does not map "
                             "(rows with these codes are set missing and reported)")
            if gone:
                parts.append(f"the profile maps {', '.join(gone)}, which the file no longer labels")
            if parts:
                report.add("MD522", table=tname, source_file=codebook.source, column=cname,
                           value=cspec["from"], action="kept", item=cspec["from"], profile=profile.name,
                           detail="; ".join(parts))


# -- rounds -------------------------------------------------------------------------------------

def round_items(profile: "Profile") -> list[str]:
    """The raw items the households' ``round`` column is made of (empty: a fixed round)."""
    spec = profile.tables.get("households", {}).get("columns", {}).get("round")
    if not spec:
        return []
    return [spec["from"]] if spec.get("from") else list(spec.get("concat", []))


def check_round_keys(profile: "Profile", raw: Mapping[str, pd.DataFrame], codebook: "Codebook") -> None:
    """``MD523`` when the files hold several rounds and a case id (the households' ``keys``, or
    the reader's) is used in more than one: one row per case would merge two households."""
    items = round_items(profile)
    hspec = profile.tables.get("households")
    if not items or not hspec or not hspec.get("one_per_case"):
        return
    df = raw.get(hspec["from"])
    if df is None or not set(items) <= set(df.columns):
        return
    keys = hspec.get("keys") or codebook.tables.get(hspec["from"], {}).get("keys") or []
    keys = [k for k in keys if k in df.columns]
    if not keys or set(items) <= set(keys):
        return
    rounds = df[items].drop_duplicates()
    if len(rounds) < 2:
        return
    cases = df[keys + items].drop_duplicates()
    dup = cases.duplicated(subset=keys, keep=False).to_numpy()
    if not dup.any():
        return
    first = cases.loc[dup].iloc[0]
    labels = ["-".join(_code_text(v) for v in r) for r in rounds.itertuples(index=False)]
    raise DataError("MD523", file=codebook.source, profile=profile.name, rounds=", ".join(sorted(labels)),
                    keys=", ".join(keys), value="-".join(_code_text(first[k]) for k in keys),
                    round_items=", ".join(items))


# -- file roles ---------------------------------------------------------------------------------

def role_of(profile: "Profile", path: str | Path) -> str | None:
    """The raw table (role) file ``path`` plays in the profile's ``[files]`` table (its name
    matches one of the role's patterns, case ignored); None when the profile has no ``[files]``.
    Raises ``MD524`` when the name matches no pattern."""
    if not profile.files:
        return None
    name = Path(path).name.lower()
    for role, pats in profile.files.items():
        if any(fnmatch.fnmatchcase(name, p.lower()) for p in pats):
            return role
    shown = "; ".join(f"{role}: {', '.join(p)}" for role, p in profile.files.items())
    raise UsageError("MD524", file=str(path), profile=profile.name, patterns=shown)


__all__ = ["available_items", "check_round_keys", "check_value_sets", "choose", "file_items", "layout_named",
           "missing_items", "parse_files", "parse_layouts", "resolve", "role_of", "round_items",
           "to_profile_names", "value_set_differences"]
