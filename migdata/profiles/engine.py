"""The profile engine: applies a source profile (TOML data) to a reader's raw tables.

A profile maps raw tables (CSPro records, SPSS files, Kobo sheets, CSV files) onto the tidy
``households`` and ``persons`` tables. The format is documented for statisticians in
``migdata/profiles/README.md``; this module is its only interpreter. Hand-written (no library
does "declarative recode to a fixed schema with located problems"), and vectorised: every
column operation works on whole columns; codes are looked up once per *distinct* value. The
shortcuts that make this fast on 16 M rows (small integer codes factorised without hashing,
text columns built from distinct values, zero-padded ids written as bytes, one row per case
without hashing, columns and tables mapped two at a time) are kernels in
:mod:`migdata._kernels`, each tested against the pandas operation it equals; this module
states what a profile means.

Column spec keys (a plain string ``"X"`` means ``{ from = "X" }``):

``from``          raw column
``concat``/``sep``/``widths``   join several raw columns (numbers zero-padded to ``widths``,
                  or to the item length the codebook knows)
``codes``         source code -> canonical code (``"1:14"`` is a range); codes not listed are
                  reported (MD504) and set missing
``missing``       source codes meaning missing (not reported)
``source_column`` keep the source code as text in this column (e.g. ``sex_src``)
``scale``         multiply numbers
``value``         a constant
``default``       fill missing values (or the whole column when ``from`` is absent)
``dtype``         string | int | float | bool | category (defaults to the tidy schema's type)
``area``          PSGC conversion: ``region`` (2-digit region number), or ``psgc`` (alias
                  ``psgc9``, ``psgc10``): every form :func:`migdata.areas.normalize_codes`
                  reads, each unreadable row reported (MD2xx); ``area_codes`` overrides codes
``drop = true``   a direct identifier: dropped unless ``keep_identifiers=True``
``optional = true``  the item may be absent (a generic profile, e.g. any IPUMS extract): the
                  column is then not imported (a note says so); other absent items stop the
                  import (:mod:`migdata.profiles.fit`, MD520)
``aggregate``     in a one-row-per-case table: combine the item over the case's rows (``mean``,
                  ``sum``, ``min``, ``max``, ``first``), e.g. a household weight that is the
                  mean of its members' person weights
``free_text = true``  typed-in text: phone numbers, e-mail addresses and the household's own
                  names in it are redacted (MD515); messages never quote it
``codes_file``    codes from a CSV beside the profile (``{ file, code, value }`` or the name of a
                  ``[code_tables.<name>]``); blank values are missing-value codes
``choice``        a select_multiple answer holds this choice (bool; missing when unanswered)
``set_when``      ``{ from, codes, value }``: the value where another raw column has the codes
``sum``           the sum of columns of the same table (missing when a term is missing)
``cases``         ``[{ when = { col = [codes] | "blank" | "answered" }, value = ... }, ...]``:
                  the first case that holds gives the value (no value: missing)
``any_of``/``yes_items`` + ``yes``  several yes/no items: whether any is yes, or the names of
                  those that are (space-separated); missing when none is answered
``area_attribute``  a column of the PSGC reference (``urban_rural``) for the table's ``psgc``

Privacy rules (:mod:`migdata.model.privacy`): ``*_src`` columns keep codes only (a name typed
into a coded column is left out, MD504/MD514); problem messages withhold values that look
personal and every value of identifier and free-text columns.

Table keys: ``from`` (raw table), ``one_per_case`` / ``from_persons`` (one row per case id,
first row wins; the cases are those of ``from`` and of every ``join`` table), ``keys`` (raw
case-id columns; default: the reader's), ``join`` (raw tables left-joined on the case id; cases
without a match are kept and reported, MD507; cases without a ``from`` row are reported, MD513).
A case id keyed again later in a CSPro file (MD406) is a block of its own: its rows join the
records of their block, and a case's ``aggregate`` reads its first block (the row kept).

Columns whose name starts with ``_`` are scratch columns for a hooks module (``hooks =
"module"`` with ``derive(tables, raw, codebook, report)``, and ``profile=`` when it takes it:
the parsed profile, whose ``settings`` hold its other top-level tables); they are dropped after
the hooks ran.

Example:
    >>> import pandas as pd
    >>> from migdata.readers.codebook import Codebook
    >>> prof = parse_profile('''
    ... [profile]
    ... name = "demo"
    ... reader = "csv"
    ... [tables.persons]
    ... from = "people"
    ... [tables.persons.columns]
    ... hh_id = "HH"
    ... line_no = "LN"
    ... sex = { from = "SEX", codes = { 1 = "male", 2 = "female" } }
    ... ''')
    >>> raw = {"people": pd.DataFrame({"HH": [7, 7], "LN": [1, 2], "SEX": [2, 1], "_source_row": [2, 3]})}
    >>> out = apply_profile(prof, raw, Codebook("people.csv", "csv"))
    >>> out["persons"]["sex"].tolist()
    ['female', 'male']
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from migdata._kernels.codes import factorize, own_width
from migdata._kernels.keys import first_per_case, left_join_codes, packed_keys, run_reduce, run_starts, runs_are_cases
from migdata._kernels.parallel import map_in_threads
from migdata._kernels.text import constant_text, map_text, padded_join, take_text
from migdata.errors import DataError, MigdataError
from migdata.model import codes as codelists
from migdata.model.privacy import looks_personal
from migdata.model.report import ImportReport, quoted_values
from migdata.model.spec import LinkSpec
from migdata.model.spec import DesignSpec
from migdata.profiles import free_text
from migdata.readers.codebook import Codebook

STRING = pd.StringDtype("pyarrow")
PROFILE_KEYS = {"name", "title", "reader", "source", "round", "complete_count", "hooks",
                "description", "files", "version", "dictionary", "psgc_release", "reference_date",
                "period", "stream", "units"}
TABLE_KEYS = {"from", "one_per_case", "from_persons", "keys", "join", "columns", "doc"}
COLUMN_KEYS = {"from", "concat", "sep", "widths", "codes", "codes_file", "missing", "source_column", "scale",
               "value", "default", "dtype", "area", "area_codes", "drop", "free_text", "doc",
               "choice", "set_when", "cases", "sum", "area_fallback", "any_of", "yes_items", "yes",
               "area_attribute", "aggregate", "optional"}
CODE_TABLE_KEYS = {"file", "code", "value"}
#: top-level tables the engine reads; the others are settings handed to the hooks
ENGINE_TABLES = {"profile", "tables", "design", "reader", "links", "code_tables", "layouts", "files"}
#: keys that give a column its values (one of them is required)
SOURCE_KEYS = ("from", "concat", "value", "default", "cases", "sum", "any_of", "yes_items", "area_attribute")
AREA_KINDS = ("region", "psgc", "psgc9", "psgc10")
#: columns of the PSGC reference a profile can copy for the table's psgc (``area_attribute``)
AREA_ATTRIBUTES = ("urban_rural",)
#: ``aggregate`` of a column of a one-row-per-case table: how the case's rows are combined
AGGREGATES = ("mean", "sum", "min", "max", "first")


@dataclass
class Profile:
    """A parsed source profile (see the module docstring and ``README.md``)."""

    name: str
    title: str = ""
    reader: str = ""
    source: str = ""
    round: str = ""
    complete_count: bool = False
    hooks: str | None = None
    design: DesignSpec = field(default_factory=DesignSpec)
    reader_options: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    links: list[dict[str, Any]] = field(default_factory=list)
    path: str | None = None
    #: the profile's other top-level tables (e.g. ``[poverty]``, ``[mpi]``): data for its hooks
    settings: dict[str, Any] = field(default_factory=dict)
    #: ``[layouts.<name>]`` (see :mod:`migdata.profiles.fit`): item names per layout of the source
    layouts: list[dict[str, Any]] = field(default_factory=list)
    #: ``[files]``: raw table (role) -> file name patterns
    files: dict[str, list[str]] = field(default_factory=dict)
    #: the layout the files were found to have (set by :func:`migdata.profiles.fit.resolve`)
    layout: str | None = None

    def raw_columns(self) -> dict[str, set[str]]:
        """Raw columns each raw table must provide (lets a reader decode only those)."""
        out: dict[str, set[str]] = {}
        for tspec in self.tables.values():
            srcs = [tspec.get("from")] + list(tspec.get("join", []))
            cols: set[str] = set(tspec.get("keys", []))
            for spec in tspec.get("columns", {}).values():
                if spec.get("from"):
                    cols.add(spec["from"])
                cols.update(spec.get("concat", []))
                if "set_when" in spec:
                    cols.add(spec["set_when"]["from"])
                for case in spec.get("cases", []):
                    cols.update(case.get("when", {}))
                cols.update(spec.get("any_of", []))
                cols.update(spec.get("yes_items", {}))
            for s in srcs:
                if s:
                    out.setdefault(s, set()).update(cols)
        return out


def _where(path: str | None, *parts: str) -> str:
    return " / ".join([path or "<profile>", *[p for p in parts if p]])


def parse_profile(text: str, path: str | None = None) -> Profile:
    """Parse and check a profile's TOML text; errors name the file, the table, the column and the key."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        at = re.search(r"\(at (line \d+, column \d+|end of document)\)", str(exc))
        raise DataError("MD501", file=path or "<profile>", where=at.group(1) if at else "the file",
                        reason=f"not valid TOML: {exc}") from None
    p = data.get("profile")
    if not isinstance(p, dict) or not p.get("name"):
        raise DataError("MD501", file=path or "<profile>", where="[profile]",
                        reason="a [profile] table with name = \"...\" is required")
    unknown = set(p) - PROFILE_KEYS
    if unknown:
        raise DataError("MD501", file=path, where="[profile]",
                        reason=f"unknown key(s) {sorted(unknown)}; allowed: {sorted(PROFILE_KEYS)}")
    tables: dict[str, dict[str, Any]] = {}
    for tname, tspec in data.get("tables", {}).items():
        where = f"[tables.{tname}]"
        bad = set(tspec) - TABLE_KEYS
        if bad:
            raise DataError("MD501", file=path, where=where,
                            reason=f"unknown key(s) {sorted(bad)}; allowed: {sorted(TABLE_KEYS)}")
        if tspec.get("from_persons"):
            tspec = dict(tspec)
            tspec.setdefault("from", tables.get("persons", {}).get("from"))
            tspec["one_per_case"] = True
        if not tspec.get("from"):
            raise DataError("MD501", file=path, where=where, reason="from = \"<raw table>\" is required")
        if isinstance(tspec.get("join"), str):
            tspec["join"] = [tspec["join"]]
        cols: dict[str, dict[str, Any]] = {}
        for cname, cspec in tspec.get("columns", {}).items():
            if isinstance(cspec, str):
                cspec = {"from": cspec}
            if not isinstance(cspec, dict):
                raise DataError("MD501", file=path, where=f"{where} column {cname}",
                                reason="a column is a raw column name or a table { from = ..., ... }")
            bad = set(cspec) - COLUMN_KEYS
            if bad:
                raise DataError("MD501", file=path, where=f"{where} column {cname}",
                                reason=f"unknown key(s) {sorted(bad)}; allowed: {sorted(COLUMN_KEYS)}")
            if not any(k in cspec for k in SOURCE_KEYS):
                raise DataError("MD501", file=path, where=f"{where} column {cname}",
                                reason="needs one of from, concat, value, default, cases, sum, any_of, "
                                       "yes_items or area_attribute")
            cspec = _check_derivations(cspec, path, f"{where} column {cname}", data.get("code_tables", {}))
            if "area_fallback" in cspec and (cspec["area_fallback"] != "city_mun" or "area" not in cspec):
                raise DataError("MD501", file=path, where=f"{where} column {cname}",
                                reason="area_fallback = \"city_mun\" goes with area = ...")
            if "area" in cspec and cspec["area"] not in AREA_KINDS:
                raise DataError("MD501", file=path, where=f"{where} column {cname}",
                                reason=f"area = {cspec['area']!r}; choose one of {', '.join(AREA_KINDS)}")
            if "aggregate" in cspec and (cspec["aggregate"] not in AGGREGATES or not tspec.get("one_per_case")
                                         or not cspec.get("from")):
                raise DataError("MD501", file=path, where=f"{where} column {cname}",
                                reason=f"aggregate = {cspec['aggregate']!r}: one of {', '.join(AGGREGATES)}, "
                                       "of a from item in a table with one_per_case = true")
            if "codes" in cspec and not isinstance(cspec["codes"], dict):
                raise DataError("MD501", file=path, where=f"{where} column {cname}",
                                reason="codes must be a table { source code = \"canonical code\" }")
            cols[cname] = cspec
        for cname, cspec in cols.items():
            if "area_attribute" in cspec and ("psgc" not in cols or cspec["area_attribute"] not in AREA_ATTRIBUTES):
                raise DataError("MD501", file=path, where=f"{where} column {cname}",
                                reason=f"area_attribute is one of {', '.join(AREA_ATTRIBUTES)} and needs a "
                                       "psgc column in the same table")
        for cname, cspec in cols.items():  # sums add columns of the same table
            unknown_terms = [c for c in cspec.get("sum", []) if c not in cols]
            if unknown_terms:
                raise DataError("MD501", file=path, where=f"{where} column {cname}",
                                reason=f"sum names {unknown_terms}, which are not columns of [tables.{tname}]")
        tspec = dict(tspec)
        tspec["columns"] = cols
        tables[tname] = tspec
    if not tables:
        raise DataError("MD501", file=path, where="[tables]",
                        reason="a profile maps at least one table, e.g. [tables.persons]")
    try:  # the [design] table is a typed spec: an unknown key or rule is a profile error
        spec = DesignSpec.from_profile(data.get("design"), bool(p.get("complete_count", False)))
    except MigdataError as exc:
        raise DataError("MD501", file=path, where="[design]", reason=exc.message) from None
    links = data.get("links", [])
    for i, link in enumerate(links if isinstance(links, list) else [links]):
        try:  # links to other streams are data too (see migdata.model.spec.LinkSpec)
            LinkSpec.from_dict(link if isinstance(link, dict) else {})
        except MigdataError as exc:
            raise DataError("MD501", file=path, where=f"[[links]] #{i + 1}", reason=exc.message) from None
    from migdata.profiles import fit  # layouts and file roles are checked against the files there

    return Profile(name=p["name"], title=p.get("title", ""), reader=p.get("reader", ""),
                   source=p.get("source", ""), round=str(p.get("round", "")),
                   complete_count=spec.complete_count, hooks=p.get("hooks"),
                   design=spec, reader_options=dict(data.get("reader", {})), links=list(links),
                   tables=tables, meta=p, path=path,
                   settings={k: v for k, v in data.items() if k not in ENGINE_TABLES},
                   layouts=fit.parse_layouts(data.get("layouts"), path),
                   files=fit.parse_files(data.get("files"), path))


def _check_derivations(cspec: dict[str, Any], path: str | None, where: str,
                       code_tables: dict[str, Any]) -> dict[str, Any]:
    """Check the derivation keys of a column (``choice``, ``set_when``, ``cases``, ``sum``) and
    merge a ``codes_file`` into ``codes`` / ``missing``; errors name the profile and column."""
    def bad(reason: str) -> DataError:
        return DataError("MD501", file=path, where=where, reason=reason)

    cspec = dict(cspec)
    if "choice" in cspec and ("from" not in cspec or not isinstance(cspec["choice"], (str, int))):
        raise bad("choice = \"<choice name>\" needs from = \"<select_multiple column>\"")
    if "set_when" in cspec:
        sw = cspec["set_when"]
        if not (isinstance(sw, dict) and set(sw) == {"from", "codes", "value"} and isinstance(sw["codes"], list)):
            raise bad("set_when is a table { from = \"<raw column>\", codes = [...], value = ... }")
    if "cases" in cspec:
        cases = cspec["cases"]
        if not isinstance(cases, list) or not all(isinstance(c, dict) and set(c) <= {"when", "value"}
                                                  for c in cases):
            raise bad("cases is a list of { when = { <raw column> = [codes] | \"blank\" | \"answered\" }, "
                      "value = ... } (first match wins; no value = missing)")
        for c in cases:
            for col, cond in c.get("when", {}).items():
                if not (isinstance(cond, list) or cond in ("blank", "answered")):
                    raise bad(f"cases: the condition on {col} is a list of codes, \"blank\" or \"answered\"")
    if "any_of" in cspec and not (isinstance(cspec["any_of"], list) and cspec["any_of"]):
        raise bad("any_of is a list of raw yes/no items, with yes = [codes]")
    if "yes_items" in cspec and not (isinstance(cspec["yes_items"], dict) and cspec["yes_items"]):
        raise bad("yes_items is a table { <raw yes/no item> = \"<choice name>\" }, with yes = [codes]")
    if ("any_of" in cspec or "yes_items" in cspec) != isinstance(cspec.get("yes"), list):
        raise bad("yes = [codes] goes with any_of or yes_items (the codes that mean yes)")
    if "sum" in cspec and not (isinstance(cspec["sum"], list) and cspec["sum"]
                               and all(isinstance(c, str) for c in cspec["sum"])):
        raise bad("sum is a list of columns of the same table")
    if "codes_file" in cspec:
        ref = cspec.pop("codes_file")
        if isinstance(ref, str):
            if ref not in code_tables:
                raise bad(f"codes_file = {ref!r} names no [code_tables.{ref}] "
                          f"(known: {', '.join(sorted(code_tables)) or 'none'})")
            ref = code_tables[ref]
        if not isinstance(ref, dict) or set(ref) != CODE_TABLE_KEYS:
            raise bad("a code table is { file = \"<csv beside the profile>\", code = \"<column>\", "
                      "value = \"<column>\" }")
        table = code_table(ref["file"], ref["code"], ref["value"], path, where)
        codes = {k: v for k, v in table.items() if v}
        codes.update({str(k).strip(): v for k, v in cspec.get("codes", {}).items()})
        cspec["codes"] = codes
        cspec["missing"] = list(cspec.get("missing", [])) + [k for k, v in table.items() if not v]
    return cspec


def code_table(file: str, code: str, value: str, path: str | None = None, where: str = "[code_tables]"
               ) -> dict[str, str]:
    """Source code -> canonical code from a CSV file beside the profile ``path`` (else among the
    shipped profiles' files); a blank value (``""``) means the code is a missing-value code.
    Lines starting with ``#`` are comments. Errors (MD501) name the profile and ``where``.

    Example:
        >>> code_table("cbms_countries.csv", "cbms_code", "iso3")["9201"]
        'SAU'
    """
    import csv

    here = Path(path).parent if path else Path.cwd()
    shipped = Path(__file__).parent
    found = next((d / file for d in (here, shipped) if (d / file).is_file()), None)
    if found is None:
        raise DataError("MD501", file=path, where=where,
                        reason=f"the code table file {file!r} is neither beside the profile nor shipped")
    lines = [ln for ln in found.read_text(encoding="utf-8").splitlines() if not ln.startswith("#")]
    rows = list(csv.DictReader(lines))
    if rows and (code not in rows[0] or value not in rows[0]):
        raise DataError("MD501", file=path, where=where,
                        reason=f"{found.name} has the columns {list(rows[0])}, not {code!r} and {value!r}")
    return {r[code].strip(): (r[value] or "").strip() for r in rows if (r[code] or "").strip()}


# -- column operations ------------------------------------------------------------------------

def _key_text(v: Any) -> str:
    """The text form under which a source code is looked up (``1``, ``1.0`` and ``"1"`` agree)."""
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    if isinstance(v, (bool, np.bool_)):
        return str(v).lower()
    return str(v).strip()


def _ranges(codes: dict[str, Any]) -> list[tuple[float, float, Any]]:
    out = []
    for k, target in codes.items():
        m = re.fullmatch(r"\s*(-?[\d.]+)\s*:\s*(-?[\d.]+)\s*", k)
        if m:
            out.append((float(m.group(1)), float(m.group(2)), target))
    return out


def _in_range(k: str, lo: float, hi: float) -> bool:
    try:
        return lo <= float(k) <= hi
    except ValueError:
        return False


def _private(profile: Profile, table: str, column: str | None) -> bool:
    """A direct identifier (``drop = true``) or free text (``free_text = true`` in the profile or
    the tidy schema): values never quoted in a message."""
    spec = profile.tables.get(table, {}).get("columns", {}).get(column or "", {})
    return bool(spec.get("drop") or spec.get("free_text") or _schema(table).get(column or "", {}).get("free_text"))


def _text(s: pd.Series, factorized: tuple[np.ndarray, Any] | None = None) -> pd.Series:
    """Source values as the text under which codes are looked up (:func:`_key_text`), NA kept."""
    return map_text(s, _key_text, factorized)


_PARALLEL_ROWS = 200_000  # below this, threads cost more than they save


class _Mapper:
    """Maps the columns of one tidy table (``tname``) from its source rows (``raw``, with
    ``_source_row`` and ``_source_file`` when the reader gives them); problems go to ``report``
    located by source row."""

    def __init__(self, profile: Profile, tname: str, raw: pd.DataFrame, codebook: Codebook,
                 report: ImportReport, source_table: str) -> None:
        self.p, self.t, self.raw, self.cb, self.report = profile, tname, raw, codebook, report
        self.src_table = source_table
        self.schema = _schema(tname)
        self._texts: dict[str, pd.Series] = {}  # raw columns as code text (see _raw_text)

    def problem_rows(self, code: str, mask: np.ndarray, column: str, values: pd.Series,
                     action: str, withhold: bool | None = None, **fields: Any) -> None:
        """Report the rows in ``mask``, located by their source file and row; values of
        identifier and free-text columns are withheld."""
        idx = np.flatnonzero(mask)
        if not len(idx):
            return
        raw = self.raw
        if withhold is None and _private(self.p, self.t, column):
            withhold = True
        self.report.record(
            code, table=self.t, column=column, action=action,
            rows=raw["_source_row"].to_numpy()[idx] if "_source_row" in raw else None,
            source_file=raw["_source_file"].to_numpy()[idx] if "_source_file" in raw else self.cb.source,
            values=quoted_values(values.iloc[idx]), mask=withhold, **fields)

    def column(self, name: str, spec: dict[str, Any]) -> pd.Series | None:
        n = len(self.raw)
        idx = self.raw.index
        if "value" in spec:
            s = pd.Series([spec["value"]] * n, index=idx) if n else pd.Series([], dtype=object)
        elif "concat" in spec:
            s = self._concat(name, spec)
            if s is None:
                return None
        elif "cases" in spec:
            s = self._cases(name, spec["cases"])
        elif "any_of" in spec or "yes_items" in spec:
            s = self._yes_items(name, spec)
        elif "from" in spec:
            src = _aggregated(spec) if spec.get("aggregate") else spec["from"]
            if src not in self.raw.columns:
                if spec.get("optional"):  # a generic profile: the column is simply not imported
                    self.report.notes.append(f"{self.t}.{name} is not imported: {self.cb.source} has no {src} "
                                             f"(optional in profile {self.p.name})")
                    return None
                self._missing_source(name, src)
                if "default" not in spec:
                    return None
                s = pd.Series([spec["default"]] * n, index=idx)
            else:
                s = _blank_to_na(self.raw[src])
        else:
            s = pd.Series([spec["default"]] * n, index=idx)
        if "scale" in spec:
            s = pd.to_numeric(s, errors="coerce") * float(spec["scale"])
        extra: dict[str, pd.Series] = {}
        # one factorisation serves the source column and the code map
        fz = factorize(s) if spec.get("source_column") and "codes" in spec else None
        if spec.get("source_column"):
            extra[spec["source_column"]] = self._source_codes(name, spec, s, fz)
        elif name.endswith("_src"):
            s = self._source_codes(name, spec, s, None)
        if "missing" in spec and "codes" not in spec:
            miss = {_key_text(m) for m in spec["missing"]}
            s = s.where(~_text(s).isin(miss).fillna(False).to_numpy(dtype=bool))
        if "choice" in spec:
            s = self._choice(spec["choice"], s)
        if "codes" in spec:
            s = self._codes(name, spec, s, fz)
        if "area" in spec:
            s = self._area(name, spec, s)
        if "set_when" in spec:
            s = self._set_when(name, spec["set_when"], s)
        if "default" in spec and ("from" in spec or "concat" in spec):
            if not isinstance(spec["default"], str) and pd.api.types.is_string_dtype(s.dtype):
                s = s.astype(object)  # a number default in an all-text (e.g. empty) column
            s = s.fillna(spec["default"])
        s = self._cast(name, spec, s)
        s.attrs["extra"] = extra
        return s

    def _raw_text(self, name: str, column: str) -> pd.Series:
        """A raw column as the text codes are matched on (all missing when the file lacks it,
        reported MD503); read once per column and mapper (cases name a column several times)."""
        if column not in self.raw.columns:
            self._missing_source(name, column)
            return pd.Series(pd.NA, index=self.raw.index, dtype=STRING)
        if column not in self._texts:
            self._texts[column] = _text(_blank_to_na(self.raw[column]))
        return self._texts[column]

    def _matches(self, name: str, column: str, cond: Any) -> np.ndarray:
        """Rows whose raw ``column`` is one of the codes ``cond`` (or blank / answered)."""
        t = self._raw_text(name, column)
        if cond == "blank":
            return t.isna().to_numpy()
        if cond == "answered":
            return t.notna().to_numpy()
        return t.isin([_key_text(c) for c in cond]).fillna(False).to_numpy(dtype=bool)

    def _cases(self, name: str, cases: list[dict[str, Any]]) -> pd.Series:
        """``cases``: the value of the first case whose conditions (all of them) hold; a case
        without a value, or no case, gives missing."""
        out = np.full(len(self.raw), None, dtype=object)
        todo = np.ones(len(self.raw), dtype=bool)
        for case in cases:
            hit = todo.copy()
            for column, cond in case.get("when", {}).items():
                hit &= self._matches(name, column, cond)
            if "value" in case:
                out[hit] = case["value"]
            todo &= ~hit
        return self._as_codes(name, pd.Series(out, index=self.raw.index))

    def _yes_items(self, name: str, spec: dict[str, Any]) -> pd.Series:
        """Several yes/no items: ``any_of`` gives whether any is yes (``yes`` codes); ``yes_items``
        the names of those that are, space-separated like a select_multiple answer ("" for
        none). Missing when no item is answered."""
        items = spec.get("yes_items") or {c: c for c in spec["any_of"]}
        yes = np.column_stack([self._matches(name, c, spec["yes"]) for c in items])
        answered = np.column_stack([self._matches(name, c, "answered") for c in items]).any(axis=1)
        if "any_of" in spec:  # (typed at once: an object column is converted value by value)
            return pd.Series(pd.arrays.BooleanArray(yes.any(axis=1), ~answered), index=self.raw.index)
        # the few distinct yes-patterns are turned into text once each
        bits = (yes * (1 << np.arange(yes.shape[1], dtype=np.int64))).sum(axis=1)
        uniq, inv = np.unique(bits, return_inverse=True)
        names = list(items.values())
        labels = [" ".join(nm for j, nm in enumerate(names) if u >> j & 1) for u in uniq.tolist()]
        return take_text(labels, np.where(answered, inv.reshape(-1), -1), self.raw.index)

    def _choice(self, choice: Any, s: pd.Series) -> pd.Series:
        """``choice``: whether a select_multiple answer (space-separated choice names) holds
        ``choice``; missing when the question was not answered."""
        fcodes, uniques = factorize(s)
        want = _key_text(choice)
        has = [want in _key_text(u).split() for u in uniques] + [None]
        return pd.Series(pd.array(np.array(has, dtype=object)[fcodes], dtype="boolean"), index=s.index)

    def _set_when(self, name: str, rule: dict[str, Any], s: pd.Series) -> pd.Series:
        """``set_when``: ``value`` in the rows whose raw column ``from`` holds one of ``codes``
        (e.g. an amount not asked because the household said it received nothing)."""
        hit = self._matches(name, rule["from"], rule["codes"])
        if not hit.any():
            return s
        value = rule["value"]
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return pd.to_numeric(s, errors="coerce").astype("float64").mask(hit, float(value))
        return s.astype(object).mask(hit, value)

    def _source_codes(self, name: str, spec: dict[str, Any], s: pd.Series,
                      factorized: tuple[np.ndarray, Any] | None) -> pd.Series:
        """Source values as text, codes only (``*_src`` columns): a value that is neither listed
        (the profile's codes, missing codes and ranges, the codebook's value labels) nor shaped
        like a code (a name typed into a coded column) is left out. Unlisted values of a coded
        column are reported with the codes (MD504); those of a plain ``*_src`` column here
        (MD514), withheld."""
        codes, uniques = factorized if factorized is not None else factorize(s)
        listed = {str(k).strip() for k in spec.get("codes", {})} | {_key_text(m) for m in spec.get("missing", [])}
        try:
            listed |= {_key_text(k) for k in self.cb.variable(spec.get("from", "")).value_labels}
        except KeyError:
            pass
        ranges = _ranges({str(k): v for k, v in spec.get("codes", {}).items()})
        labels, bad_u = [], np.zeros(len(uniques) + 1, dtype=bool)
        for i, u in enumerate(uniques):
            k = _key_text(u)
            if k in listed or any(_in_range(k, lo, hi) for lo, hi, _ in ranges) or not looks_personal(k):
                labels.append(k)
            else:
                labels.append(None)
                bad_u[i] = True
        bad = bad_u[codes]
        if bad.any() and "codes" not in spec:
            self.problem_rows("MD514", bad, name, s, "set_missing", withhold=True)
        return take_text(labels, codes, s.index)

    def _missing_source(self, name: str, src: str) -> None:
        self.report.add("MD503", table=self.t, source_file=self.cb.source, column=name, value=src,
                        action="set_missing", raw_table=self.src_table, profile=self.p.name)

    def _concat(self, name: str, spec: dict[str, Any]) -> pd.Series | None:
        parts = spec["concat"]
        missing = [c for c in parts if c not in self.raw.columns]
        if missing:
            for c in missing:
                self._missing_source(name, c)
            return None
        widths = list(spec.get("widths") or [None] * len(parts))
        for i, (c, w) in enumerate(zip(parts, widths)):
            if w is None:
                try:
                    v = self.cb.variable(c)
                    widths[i] = v.length if v.type == "numeric" and not v.decimals else None
                except KeyError:
                    pass
        # a blank part (CSV "") is missing: no id
        return padded_join([_blank_to_na(self.raw[c]) for c in parts], widths, spec.get("sep", ""),
                           self.raw.index)

    def _codes(self, name: str, spec: dict[str, Any], s: pd.Series,
               factorized: tuple[np.ndarray, Any] | None = None) -> pd.Series:
        codes = {str(k).strip(): v for k, v in spec["codes"].items()}
        ranges = _ranges(codes)
        miss = {_key_text(m) for m in spec.get("missing", [])}
        fcodes, uniques = factorized if factorized is not None else factorize(s)
        targets: list[Any] = []
        bad_u = np.zeros(len(uniques) + 1, dtype=bool)
        for i, u in enumerate(uniques):
            k = _key_text(u)
            if k in miss:
                targets.append(None)
            elif k in codes:
                targets.append(codes[k])
            else:
                hit = None
                try:
                    x = float(k)
                    for lo, hi, tgt in ranges:
                        if lo <= x <= hi:
                            hit = (tgt,)
                            break
                except ValueError:
                    pass
                if hit is None:
                    targets.append(None)
                    bad_u[i] = True
                else:
                    targets.append(hit[0])
        targets.append(None)
        bad = bad_u[fcodes]
        if bad.any():
            allowed = ", ".join(sorted(codes))
            self.problem_rows("MD504", bad, name, s, "set_missing", raw_column=spec.get("from", ""),
                              allowed=allowed if len(allowed) < 200 else allowed[:200] + " ...")
        if self._code_list(name) is not None:
            # straight from the codes: a text column of every row costs more than the mapping
            return self._as_codes(name, s, (fcodes, targets))
        kind = spec.get("dtype") or self.schema.get(name, {}).get("dtype")
        if kind == "bool" and all(t is None or isinstance(t, (bool, np.bool_)) for t in targets):
            # coded true/false: the boolean column straight from the codes (what _cast makes of
            # the object column, without a Python object per row)
            val = np.array([bool(t) if t is not None else False for t in targets])
            na = np.array([t is None for t in targets])
            return pd.Series(pd.arrays.BooleanArray(val[fcodes], na[fcodes]), index=s.index)
        return pd.Series(np.array(targets, dtype=object)[fcodes], index=s.index)

    def _code_list(self, name: str) -> str | None:
        """The code list the tidy schema gives column ``name`` (None: not a coded categorical)."""
        cspec = self.schema.get(name, {})
        return cspec["codes"] if cspec.get("dtype") == "category" and "codes" in cspec else None

    def _as_codes(self, name: str, s: pd.Series, factorized: tuple[np.ndarray, list[Any]] | None = None
                  ) -> pd.Series:
        """Canonical codes (``s``, or ``targets[fcodes]`` when ``factorized``: then only
        ``s.index`` is used) as the tidy column's categorical when the schema gives it a code
        list; a code outside the list is a profile error (MD505)."""
        code_list = self._code_list(name)
        if code_list is None:
            return s
        fcodes, targets = factorized if factorized is not None else factorize(s)
        targets = [None if t is None or (not isinstance(t, str) and pd.isna(t)) else t for t in targets]
        dt = codelists.dtype(code_list)
        cats = list(dt.categories)
        unknown = {t for t in targets if t is not None and t not in cats}
        if unknown:
            raise DataError("MD505", file=self.p.path, table=self.t, column=name,
                            value=sorted(map(str, unknown)), allowed=", ".join(cats))
        tcodes = np.array([cats.index(t) if t is not None else -1 for t in targets] + [-1], dtype=np.int16)
        return pd.Series(pd.Categorical.from_codes(tcodes[fcodes], dtype=dt), index=s.index)

    def _area(self, name: str, spec: dict[str, Any], s: pd.Series) -> pd.Series:
        """Area codes as 10-digit PSGC. ``region``: a 2-digit region number (not a PSGC form);
        the other kinds are read by :func:`migdata.areas.read_distinct`, the rule of
        :func:`migdata.areas.normalize_codes` (10-digit PSGC, 9-digit correspondence code,
        PPMM, lost leading zeros decided against the reference): each row whose code it cannot
        read is reported with that rule's MD2xx problem and set missing; a repaired leading zero
        is reported once per distinct code (MD203, kept)."""
        kind = spec["area"]
        overrides = {str(k): v for k, v in spec.get("area_codes", {}).items()}
        if kind == "region":
            return self._region(name, overrides, s)
        from migdata.areas.codes import _where, problem_fields, read_distinct

        fcodes, uniques, readings, ix = read_distinct(s)
        out: list[Any] = []
        errors: dict[str, list[int]] = {}
        parents: dict[int, str] = {}
        for i, (u, r) in enumerate(zip(uniques, readings)):
            k = _key_text(u)
            if k in overrides:
                out.append(overrides[k])
                continue
            if r.error == "MD202" and kind in ("psgc9", "psgc10"):  # the declared form decides
                r = _declared_reading(k, kind, ix)
            if r.error == "MD201" and spec.get("area_fallback") and k.isdigit():
                parent = _parent_code(k, ix)
                if parent is not None:
                    parents[i] = parent
                    out.append(parent)
                    continue
            out.append(r.code)
            if r.error:
                errors.setdefault(r.error, []).append(i)
            elif r.repaired:
                self._repaired(name, spec, fcodes, i, u, r.code, ix)
        out.append(None)
        if parents:
            self._fallback(name, fcodes, s, parents, ix)
        raw_col = spec.get("from") or name
        files = self.raw["_source_file"].to_numpy() if "_source_file" in self.raw else None
        rows = self.raw["_source_row"].to_numpy() if "_source_row" in self.raw else None
        for code, bad_u in errors.items():
            is_bad = np.zeros(len(uniques) + 1, dtype=bool)
            is_bad[bad_u] = True
            mask = is_bad[fcodes]
            idx = np.flatnonzero(mask)[:self.report.max_listed]  # only listed problems need text
            per_u = [problem_fields(readings[j], ix) if is_bad[j] else {} for j in range(len(uniques))]
            keys = sorted({k for f in per_u for k in f})
            each = {k: [per_u[fcodes[i]].get(k) for i in idx] for k in keys}
            each["where"] = [_where(str(files[i]) if files is not None else self.cb.source,
                                    None if rows is None else rows[i], raw_col) for i in idx]
            self.problem_rows(code, mask, name, s, "set_missing", each=each)
        return take_text(out, fcodes, s.index)

    def _fallback(self, name: str, fcodes: np.ndarray, s: pd.Series, parents: dict[int, str], ix: Any) -> None:
        """Rows kept at the city/municipality of a barangay code the release no longer has
        (``area_fallback``), each reported (MD560)."""
        for i, parent in parents.items():
            self.problem_rows("MD560", fcodes == i, name, _text(s), "kept", city=ix.name(parent), psgc=parent)

    def _repaired(self, name: str, spec: dict[str, Any], fcodes: np.ndarray, i: int, value: Any,
                  code: str, ix: Any) -> None:
        from migdata.areas.codes import _where

        at = np.flatnonzero(fcodes == i)
        first = int(at[0])
        row = self.raw["_source_row"].iat[first] if "_source_row" in self.raw else None
        file = str(self.raw["_source_file"].iat[first]) if "_source_file" in self.raw else self.cb.source
        self.report.add("MD203", table=self.t, source_file=file, source_row=row, column=name, value=value,
                        action="kept", psgc=code, name=ix.name(code),
                        where=_where(file, row, spec.get("from") or name, len(at)), n=len(at))

    def _region(self, name: str, overrides: dict[str, Any], s: pd.Series) -> pd.Series:
        from migdata.areas.reference import index

        fcodes, uniques = factorize(s)
        known = index().codes
        out: list[Any] = []
        bad_u = np.zeros(len(uniques) + 1, dtype=bool)
        for i, u in enumerate(uniques):
            k = _key_text(u)
            if k in overrides:
                out.append(overrides[k])
                continue
            code = f"{int(k):02d}00000000" if k.isdigit() and len(k) <= 2 else None
            if code is not None and code not in known:
                code = None
            if code is None:
                bad_u[i] = True
            out.append(code)
        out.append(None)
        bad = bad_u[fcodes]
        if bad.any():
            self.problem_rows("MD506", bad, name, s, "set_missing", kind="region")
        return take_text(out, fcodes, s.index)

    def _cast(self, name: str, spec: dict[str, Any], s: pd.Series) -> pd.Series:
        kind = spec.get("dtype") or self.schema.get(name, {}).get("dtype")
        try:
            if kind == "string":
                if isinstance(s.dtype, pd.StringDtype):
                    return s
                if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
                    return _text(s)
                return s.astype(object).where(s.notna(), None).astype(STRING)
            # text that is not a number is left as it is: validation reports it (MD103)
            if kind == "int" and pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
                if pd.api.types.is_integer_dtype(s):
                    return s
                return s.astype("Int32") if (s.dropna() % 1 == 0).all() else s
            if kind == "float" and pd.api.types.is_numeric_dtype(s):
                return s.astype("float64")
            if kind == "bool" and (pd.api.types.is_bool_dtype(s) or (
                    s.dtype == object and pd.api.types.infer_dtype(s, skipna=True) == "boolean")):
                return s.astype("boolean")  # coded true/false (codes = { 1 = true }): typed here, once
            if kind == "category" and not isinstance(s.dtype, pd.CategoricalDtype):
                codes_name = self.schema.get(name, {}).get("codes")
                if codes_name:
                    return s  # validation reports values outside the code list
        except (TypeError, ValueError):
            return s  # validation reports the values it cannot read
        return s


def _area_attribute(psgc: pd.Series, attribute: str) -> pd.Series:
    """``attribute`` of each PSGC code in the reference (missing for codes it lacks)."""
    from migdata.areas.reference import reference

    ref = reference()
    fcodes, uniques = factorize(psgc)
    by = dict(zip(ref["psgc"].astype(object), ref[attribute].astype(object)))
    values = np.array([by.get(str(u)) for u in uniques] + [None], dtype=object)
    return pd.Series(values[fcodes], index=psgc.index).where(lambda v: v.notna(), None)


def _declared_reading(k: str, kind: str, ix: Any) -> Any:
    """A 9-digit code that is both a correspondence code and a 10-digit PSGC without its leading
    zero, read as the form the profile declares (``psgc9`` or ``psgc10``)."""
    from migdata.areas.codes import Reading

    if kind == "psgc9":
        return Reading(ix.by_corr[k.zfill(9)], "9-digit correspondence code", len(k) < 9)
    return Reading("0" + k, "10-digit PSGC without its leading zero", True)


def _parent_code(k: str, ix: Any) -> str | None:
    """The city/municipality of a barangay code (10-digit PSGC, or 9-digit correspondence code
    with or without its leading zero) when the reference knows it, else None."""
    if len(k) == 10:
        city = k[:7] + "000"
        return city if city in ix.codes else None
    if len(k) in (8, 9):
        return ix.by_corr.get(k.zfill(9)[:6] + "000")
    return None


def _blank_to_na(s: pd.Series) -> pd.Series:
    """Empty text cells (CSV/Excel readers keep them as "") are missing values."""
    if pd.api.types.is_string_dtype(s) or s.dtype == object:
        t = s.astype(STRING).str.strip()
        return t.mask((t == "").fillna(False).to_numpy(dtype=bool))
    return s


def _schema(table: str) -> dict[str, dict[str, Any]]:
    try:
        from migdata.model.schema import columns
        return columns(table)
    except (ImportError, KeyError):
        return {}


# -- tables -------------------------------------------------------------------------------------

def _case_keys(raw_name: str, tspec: dict[str, Any], codebook: Codebook, df: pd.DataFrame) -> list[str]:
    keys = tspec.get("keys") or codebook.tables.get(raw_name, {}).get("keys") or []
    return [k for k in keys if k in df.columns]


def _source_table(profile: Profile, tname: str, tspec: dict[str, Any], raw: dict[str, pd.DataFrame],
                  codebook: Codebook, report: ImportReport) -> pd.DataFrame:
    """The raw rows a tidy table is built from: ``from``, one row per case when asked, and the
    ``join`` tables left-joined on the case id. With ``one_per_case`` the cases are the union of
    the cases of every listed table, so a case that lacks the ``from`` record is not lost (it is
    reported, MD513, and the tidy-model validation decides)."""
    src = tspec["from"]
    if src not in raw:
        raise DataError("MD502", file=codebook.source, profile=profile.name, table=tname, value=src,
                        available=", ".join(sorted(raw)) or "none")
    df = raw[src]
    keys = _case_keys(src, tspec, codebook, df)
    # built once, when a join or an aggregate needs it
    blocks = functools.cache(lambda: CaseBlocks.if_repeated(raw, keys, codebook))

    joins = []
    for j in tspec.get("join", []):
        if j not in raw:
            report.add("MD502", table=tname, source_file=codebook.source, value=j, action="kept",
                       profile=profile.name, available=", ".join(sorted(raw)))
            continue
        jkeys = [k for k in keys if k in raw[j].columns]
        if not jkeys or len(jkeys) < len(keys):
            raise DataError("MD501", file=profile.path, where=f"[tables.{tname}]",
                            reason=f"cannot join {j}: it lacks the case-id column(s) "
                                   f"{[k for k in keys if k not in raw[j].columns]} of {src}")
        joins.append(j)
    if tspec.get("one_per_case"):
        if not keys:
            raise DataError("MD501", file=profile.path, where=f"[tables.{tname}]",
                            reason=f"one row per case needs keys = [...]: the reader gave no case id for {src}")
        starts = run_starts(df, keys)  # the runs of cases, found once for the rows and the aggregates
        df = first_per_case(df, keys, starts).assign(_in_from=True)
        for j in joins:  # cases that only the joined tables have
            extra = _cases_not_in(raw[j], df, keys)
            if len(extra):
                df = pd.concat([df, extra.assign(_in_from=False)], ignore_index=True)
        lacking = ~df["_in_from"].astype(bool).to_numpy()
        if lacking.any():
            m = _Mapper(profile, tname, df, codebook, report, src)
            m.problem_rows("MD513", lacking, "case id", _case_text(df, keys), "kept", other=src)
        df = df.drop(columns=["_in_from"])
        df = _case_aggregates(tspec, raw[src], keys, df, starts, blocks)
    for j in joins:
        merged = join_records(df, raw[j], keys, blocks())
        miss = ~merged["_joined"].to_numpy()
        if miss.any():
            m = _Mapper(profile, tname, merged, codebook, report, src)
            # one kind of problem per joined record (its column is the record's name), as the
            # reader's MD411 is per record type: each is listed and capped on its own
            m.problem_rows("MD507", miss, j, _case_text(merged, keys), "kept", other=j)
        df = merged.drop(columns=["_joined"])
        df.index = range(len(df))
    return df


def _cases_not_in(other: pd.DataFrame, df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The first row (its ``keys`` and ``_source_row``) of each case of ``other`` that ``df``
    lacks, in ``other``'s order, with a new index: ``other.drop_duplicates(keys)`` merged with
    ``df[keys]`` (one row per case) and kept where only ``other`` has the case; on the packed
    keys when they fit (:func:`migdata._kernels.keys.packed_keys`), the same rows."""
    cols = keys + ["_source_row"]
    packed = packed_keys([other, df], keys)
    if packed is None:
        extra = other.drop_duplicates(subset=keys, keep="first").merge(df[keys], on=keys, how="left", indicator=True)
        return extra.loc[extra["_merge"] == "left_only", cols].reset_index(drop=True)
    oc, dc = packed
    keep = ~np.isin(oc, dc)
    if keep.any():
        first = np.zeros(len(oc), dtype=bool)
        first[np.unique(oc, return_index=True)[1]] = True
        keep &= first
    return other.loc[keep, cols].reset_index(drop=True)


def join_records(df: pd.DataFrame, other: pd.DataFrame, keys: list[str], blocks: "CaseBlocks | None"
                 ) -> pd.DataFrame:
    """``df`` left-joined with the first row of ``other`` per case id ``keys`` (columns of
    ``other`` that ``df`` has, other than the keys, are not taken), with a boolean ``_joined``
    column: the one rule for joining a case's records, used by the engine and by hooks.

    With ``blocks`` (:meth:`CaseBlocks.if_repeated` of the raw tables: a case id is keyed again
    later in a CSPro file, the reader's MD406), the rows of each block join the records of that
    block, as a streaming import that reads the blocks in different chunks joins them, so a row
    whose block lacks the record is not joined (whichever table has the repeated case). Without,
    ``pandas.merge(df, other.drop_duplicates(keys), on=keys, how="left")``.

    Example:
        >>> a = pd.DataFrame({"HH": [1, 2, 1], "_source_row": [1, 3, 5]})
        >>> b = pd.DataFrame({"HH": [1, 2, 1], "X": ["x1", "x2", "x1 again"], "_source_row": [2, 4, 6]})
        >>> join_records(a, b, ["HH"], CaseBlocks.of_raw({"A": a, "B": b}, ["HH"]))["X"].tolist()
        ['x1', 'x2', 'x1 again']
    """
    right = other.drop(columns=[c for c in other.columns if c in df.columns and c not in keys])
    on = keys
    if blocks is not None and blocks.repeated:
        on = [*keys, "_block"]
        df = df.assign(_block=blocks.block(df))
        right = right.assign(_block=blocks.block(other))  # the same rows, with their line numbers
        right = right.drop_duplicates(subset=on, keep="first")
    packed = packed_keys([df, right], on)
    if blocks is None or not blocks.repeated:
        # a file's ids in order are seen distinct without hashing: increasing codes, or else
        # the runs of equal ids (:func:`first_per_case`)
        if packed is None or not (packed[1][1:] > packed[1][:-1]).all():
            right = first_per_case(right, keys)
            packed = packed_keys([df, right], on)
    right = right.assign(_joined=True)
    merged = None
    if packed is not None:  # the same rows joined, on one int64 column
        right = right.drop(columns=on)
        merged = left_join_codes(df, right, *packed)
        if merged is None:
            merged = df.assign(_key=packed[0]).merge(right.assign(_key=packed[1]), on="_key", how="left",
                                                     sort=False).drop(columns="_key")
    if merged is None:
        merged = df.merge(right, on=on, how="left", sort=False)
    merged["_joined"] = merged["_joined"].notna()
    return merged.drop(columns=["_block"], errors="ignore")


class CaseBlocks:
    """The blocks of a file's lines: runs of lines of one case id, all record types together, in
    file order. A case id keyed again later in the file (the reader's MD406) has several blocks;
    the first is the case (its household row is kept), each block's records belong together, as
    a streaming import sees them chunk by chunk. Built from the reader's line numbers
    (``_source_row``, and ``_source_file`` with several files) of every raw table: the one rule
    for "which copy of a case is this row of", used by the engine and by hooks.

    Example:
        >>> a = pd.DataFrame({"HH": [1, 2, 1], "_source_row": [1, 3, 5]})
        >>> b = pd.DataFrame({"HH": [1, 2, 1], "_source_row": [2, 4, 6]})
        >>> cb = CaseBlocks.of_raw({"A": a, "B": b}, ["HH"])
        >>> cb.repeated, cb.block(b).tolist(), cb.first(a).tolist()
        (True, [0, 1, 2], [True, True, False])
    """

    def __init__(self, at: np.ndarray, block: np.ndarray, files: pd.Index | None, first: np.ndarray) -> None:
        self._at, self._block, self._files = at, block, files
        self._first = first  # per block: the first of its case
        #: whether some case id has more than one block
        self.repeated = not bool(first.all())

    @classmethod
    def of_raw(cls, raw: dict[str, pd.DataFrame], keys: list[str]) -> "CaseBlocks | None":
        """The blocks of the case id ``keys`` (the reader's occurrence number ``_occ`` left out);
        None when the raw tables lack the reader's line numbers or the case id."""
        case = [k for k in keys if k != "_occ"]
        multi = any("_source_file" in t for t in raw.values())
        where = ["_source_file", "_source_row"] if multi else ["_source_row"]
        if not case or any(c not in t.columns for t in raw.values() for c in where):
            return None
        parts = [t for t in raw.values() if all(c in t.columns for c in case) and len(t)]
        if not parts:
            return None
        files = pd.Index(pd.unique(np.concatenate([t["_source_file"].astype(str).to_numpy() for t in parts]))) \
            if multi else None
        at = np.concatenate([cls._where(t, files) for t in parts])
        order = np.argsort(at, kind="stable")  # each table is in file order: a merge of sorted runs
        at = at[order]
        head = np.zeros(len(at), dtype=bool)
        head[:1] = True
        for c in case:  # a new block where the id changes from the line before
            cols = [t[c] for t in parts]
            if all(pd.api.types.is_integer_dtype(x.dtype) for x in cols):  # the reader's codes: no hashing
                got = [own_width(x) for x in cols]
                v = np.concatenate([g[0].astype(np.int64, copy=False) for g in got])[order]
                na = np.concatenate([g[1] for g in got])[order]
            else:
                v, _ = pd.factorize(pd.concat(cols, ignore_index=True), use_na_sentinel=True)
                v = v[order]
                na = np.zeros(len(v), dtype=bool)  # (missing is code -1)
            head[1:] |= (v[1:] != v[:-1]) | (na[1:] != na[:-1])  # a blank part equals a blank, as the reader reads ids
        if multi:
            head[1:] |= (at[1:] >> 40) != (at[:-1] >> 40)
        block = np.cumsum(head) - 1
        heads = pd.concat([t[case] for t in parts], ignore_index=True).iloc[order[head]]
        return cls(at, block, files, ~heads.duplicated().to_numpy())

    @classmethod
    def if_repeated(cls, raw: dict[str, pd.DataFrame], keys: list[str], codebook: Codebook | None
                    ) -> "CaseBlocks | None":
        """:meth:`of_raw` when the CSPro reader of ``codebook`` found a case id in two blocks (it
        reports each as MD406), else None, without building anything. Only a CSPro file numbers
        the lines of all its record types in one sequence, in which a case is one run of lines;
        in other files (a spreadsheet per table, a person file sorted by something else) a case
        whose rows are apart is not a second copy of it."""
        report = getattr(codebook, "report", None)
        if getattr(codebook, "format", None) != "cspro" or report is None or not report.has("MD406"):
            return None
        blocks = cls.of_raw(raw, keys)
        return blocks if blocks is not None and blocks.repeated else None

    @staticmethod
    def _where(df: pd.DataFrame, files: pd.Index | None) -> np.ndarray:
        """A line's place in the files as one integer: file number << 40 | line number."""
        row = pd.to_numeric(df["_source_row"]).to_numpy(dtype="int64", na_value=-1)
        if files is None:
            return row
        return (files.get_indexer(df["_source_file"].astype(str)).astype(np.int64) << 40) | row

    def block(self, df: pd.DataFrame) -> np.ndarray:
        """The block number of each row of ``df`` (a raw or tidy table with the reader's line
        numbers); -1 for a line the raw tables do not have."""
        at = self._where(df, self._files)
        pos = np.minimum(np.searchsorted(self._at, at), max(len(self._at) - 1, 0))
        ok = (self._at[pos] == at) if len(self._at) else np.zeros(len(at), dtype=bool)
        return np.where(ok, self._block[pos] if len(self._at) else -1, -1)

    def first(self, df: pd.DataFrame) -> np.ndarray:
        """Whether each row of ``df`` lies in the first block of its case (all True when no case
        id is repeated)."""
        if not self.repeated:
            return np.ones(len(df), dtype=bool)
        b = self.block(df)
        return np.where(b >= 0, self._first[np.maximum(b, 0)], True)


def _aggregated(spec: dict[str, Any]) -> str:
    """The scratch raw column holding a column's per-case aggregate (``PUFPWGTPRV@mean``)."""
    return f"{spec['from']}@{spec['aggregate']}"


def _case_aggregates(tspec: dict[str, Any], rows: pd.DataFrame, keys: list[str], cases: pd.DataFrame,
                     starts: np.ndarray | None = None, blocks: Any = None) -> pd.DataFrame:
    """``cases`` (one row per case) with a column per ``aggregate`` column spec: the item
    combined over all the case's rows of ``rows`` (missing values skipped, as pandas'
    ``groupby(keys)[item].agg(how)``), e.g. a household weight that is the mean of its members'
    person weights. Cases without rows in ``rows`` get a missing value.

    A case's rows are contiguous in the files we read: when the runs of equal keys are distinct
    cases, each run is reduced in one array pass (:func:`migdata._kernels.keys.run_reduce`).
    ``starts``: ``run_starts(rows, keys)`` when the caller has them. ``blocks``: a function
    returning the :class:`CaseBlocks` of the raw tables; with it, a case repeated later in the file
    is combined over its first block only (the case as first keyed, whose row the table keeps)."""
    specs = [s for s in tspec["columns"].values() if s.get("aggregate") and s.get("from") in rows.columns]
    if not specs:
        return cases
    out = cases.copy(deep=False)
    starts = run_starts(rows, keys) if starts is None else starts
    # the heads' keys and row numbers only: the rows' other columns are not looked at
    heads = rows[[*keys, *(["_source_row"] if "_source_row" in rows.columns else [])]].iloc[starts]
    n_runs = len(starts)
    by_runs = (n_runs <= len(cases) and runs_are_cases(heads, keys) and "_source_row" in rows.columns
               and np.array_equal(cases["_source_row"].to_numpy()[:n_runs], heads["_source_row"].to_numpy()))
    first_rows = rows
    if not by_runs and blocks is not None and (cb := blocks()) is not None:
        first_rows = rows[cb.first(rows)]
    for spec in specs:
        item, how = spec["from"], spec["aggregate"]
        if by_runs:
            v = pd.to_numeric(rows[item], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
            vals = np.full(len(cases), np.nan)
            vals[:n_runs] = run_reduce(v, starts, how)
            out[_aggregated(spec)] = vals
            continue
        agg = first_rows.groupby(keys, sort=False, dropna=False)[item].agg(how)
        pos = agg.index.get_indexer(pd.MultiIndex.from_frame(cases[keys]) if len(keys) > 1
                                    else pd.Index(cases[keys[0]]))
        vals = agg.to_numpy()[np.maximum(pos, 0)]
        out[_aggregated(spec)] = pd.Series(vals, index=cases.index).where(pos >= 0)
    return out


def _case_text(df: pd.DataFrame, keys: list[str]) -> pd.Series:
    parts = [_text(df[k]).fillna("") for k in keys]
    out = parts[0]
    for p in parts[1:]:
        out = out + "-" + p
    return out


def _map_columns(mapper: _Mapper, jobs: list[tuple[str, dict[str, Any]]]
                 ) -> list[tuple[pd.Series | None, ImportReport]]:
    """Each column of a table mapped on its own (two at a time for large tables), each into its
    own report, merged in column order by the caller: the import report reads the same however
    the threads interleave."""
    def one(job: tuple[str, dict[str, Any]]) -> tuple[pd.Series | None, ImportReport]:
        local = ImportReport()
        m = _Mapper(mapper.p, mapper.t, mapper.raw, mapper.cb, local, mapper.src_table)
        return m.column(*job), local

    return map_in_threads(one, jobs, parallel=len(mapper.raw) >= _PARALLEL_ROWS)


def _map_table(profile: Profile, tname: str, raw: dict[str, pd.DataFrame], codebook: Codebook,
               report: ImportReport, keep_identifiers: bool) -> pd.DataFrame:
    """One tidy table of the profile, from its source rows."""
    tspec = profile.tables[tname]
    df = _source_table(profile, tname, tspec, raw, codebook, report)
    mapper = _Mapper(profile, tname, df, codebook, report, tspec["from"])
    jobs = [(c, spec) for c, spec in tspec["columns"].items()
            if (not spec.get("drop") or keep_identifiers) and "sum" not in spec and "area_attribute" not in spec]
    cols: dict[str, pd.Series] = {}
    for (cname, cspec), (s, local) in zip(jobs, _map_columns(mapper, jobs)):
        report.extend(local)
        if s is None and cspec.get("optional") and not mapper.schema.get(cname, {}).get("required"):
            continue  # an optional item the file lacks: no column (a required one stays, empty)
        if s is None:
            if cname in ("hh_id", "line_no"):
                raise DataError("MD503", file=codebook.source, table=tname, column=cname,
                                value=cspec.get("from") or cspec.get("concat"), raw_table=tspec["from"],
                                profile=profile.name)
            s = pd.Series(pd.NA, index=df.index, dtype=object)
            s = mapper._cast(cname, cspec, s)
            s.attrs["extra"] = {}
        extra = s.attrs.pop("extra", {})
        cols[cname] = s
        cols.update(extra)
    for cname, cspec in tspec["columns"].items():  # derived from columns mapped above, in order
        if "area_attribute" in cspec:
            cols[cname] = mapper._cast(cname, cspec, _area_attribute(cols["psgc"], cspec["area_attribute"]))
        if "sum" in cspec:
            terms = [pd.to_numeric(cols[c], errors="coerce").astype("float64") for c in cspec["sum"]]
            total = terms[0]
            for t in terms[1:]:
                total = total + t  # missing when a term is missing
            cols[cname] = mapper._cast(cname, cspec, total)
    if not keep_identifiers:
        cols.update(free_text.identifier_columns(profile, tname, df))
    for c in ("_source_row", "_source_file"):
        if c in df.columns:
            cols[c] = df[c]
    return pd.DataFrame(cols, index=df.index).reset_index(drop=True)


def apply_profile(profile: Profile, raw: dict[str, pd.DataFrame], codebook: Codebook,
                  report: ImportReport | None = None, keep_identifiers: bool = False) -> dict[str, pd.DataFrame]:
    """Map raw tables onto the tidy tables named in the profile; problems go to ``report``
    (default: ``codebook.report``). Returns ``{"persons": ..., "households": ..., ...}`` with
    ``_source_row`` (and ``_source_file`` when the raw tables have it) kept for validation.

    A households table that is not in the profile is built from persons (one row per
    ``hh_id``); ``source`` and ``round`` default to the profile's name and round.
    """
    report = report if report is not None else codebook.report
    out: dict[str, pd.DataFrame] = {}
    names = list(profile.tables)
    rows = sum(len(raw[t["from"]]) for t in profile.tables.values() if t["from"] in raw)

    # tables at once when large (households overlap persons), each into its own report, merged
    # in the profile's order
    def one(tname: str) -> tuple[pd.DataFrame, ImportReport]:
        local = ImportReport()
        return _map_table(profile, tname, raw, codebook, local, keep_identifiers), local

    for tname, (df, local) in zip(names, map_in_threads(one, names, parallel=rows >= _PARALLEL_ROWS)):
        report.extend(local)
        out[tname] = df
    if "persons" in out and "households" not in out and "hh_id" in out["persons"]:
        p = out["persons"]
        keep = [c for c in ("hh_id", "weight", "_source_row", "_source_file") if c in p.columns]
        out["households"] = p[keep].drop_duplicates("hh_id").reset_index(drop=True)
    if "households" in out:
        h = out["households"]
        if "source" not in h:
            h["source"] = constant_text(profile.name, h.index)
        if "round" not in h and profile.round:
            h["round"] = constant_text(profile.round, h.index)
        if "weight" not in h and profile.complete_count:
            h["weight"] = 1.0
    if profile.hooks:
        hooks = _load_hooks(profile)
        # hooks that take the profile read its settings ([poverty], ...) from the file applied
        takes_profile = "profile" in inspect.signature(hooks.derive).parameters
        local = ImportReport()
        res = (hooks.derive(out, raw, codebook, local, profile=profile) if takes_profile
               else hooks.derive(out, raw, codebook, local))
        if res is not None:
            out = res
        _forget_later_copies(profile, raw, codebook, local)
        report.extend(local)
    if not keep_identifiers:
        free_text.redact_tables(profile, out, codebook.source, report)
    for name, df in out.items():  # scratch columns ("_x") are for hooks only
        scratch = [c for c in df.columns if str(c).startswith("_") and c not in ("_source_row", "_source_file")]
        if scratch:
            out[name] = df.drop(columns=scratch)
    return out


def _forget_later_copies(profile: Profile, raw: dict[str, pd.DataFrame], codebook: Codebook,
                         report: ImportReport) -> None:
    """A case keyed again later in the file (MD406) has one row per case, its first copy's: the
    problems a hook found on a one-row-per-case table at a later copy's lines are forgotten, as
    that copy's row is never built (and a streaming import, which builds it in a later chunk,
    drops it with its problems)."""
    for tname, tspec in profile.tables.items():
        if not (tspec.get("one_per_case") or tspec.get("from_persons")) or tspec["from"] not in raw:
            continue
        if not any(p.table == tname for p in report.problems) and not any(k[1] == tname for k in report.unlisted):
            continue
        blocks = CaseBlocks.if_repeated(raw, _case_keys(tspec["from"], tspec, codebook, raw[tspec["from"]]), codebook)
        if blocks is not None:
            report.drop_rows(tname, lambda at: ~blocks.first(at))


def step_order(profile: Profile) -> Any:
    """The place of a kind of problem ``(code, table, column, action)`` among the steps of
    :func:`apply_profile`, which finds them in this order: per tidy table in the profile's order,
    the source rows (missing raw tables MD502, cases without a ``from`` row MD513, cases without
    a joined record MD507, per record), then the columns in the profile's order; then the hooks
    and the redaction (no place: they come last, in the order found). A streaming import merges
    its chunks' problems by this order where no chunk shows two kinds together.

    Example:
        >>> prof = parse_profile('[profile]\\nname = "t"\\n[tables.persons]\\nfrom = "A"\\n'
        ...                      '[tables.persons.columns]\\nhh_id = "HH"\\nsex = "SEX"\\n')
        >>> order = step_order(prof)
        >>> order(("MD504", "persons", "sex", "set_missing")) > order(("MD504", "persons", "hh_id", "set_missing"))
        True
    """
    tables = {t: i for i, t in enumerate(profile.tables)}
    columns = {t: {c: i for i, c in enumerate(spec["columns"])} for t, spec in profile.tables.items()}
    joins = {t: {j: i for i, j in enumerate(spec.get("join", []))} for t, spec in profile.tables.items()}
    last = (len(tables), 0, 0)

    def rank(kind: tuple) -> tuple[int, int, int]:
        code, table, column = kind[0], kind[1], kind[2]
        if table not in tables:
            return last
        ti = tables[table]
        if code in ("MD502", "MD513"):
            return (ti, 0, 0 if code == "MD502" else 1)
        if code == "MD507" and column in joins[table]:
            return (ti, 0, 2 + joins[table][column])
        if column in columns[table]:
            return (ti, 1, columns[table][column])
        return last

    return rank


def _load_hooks(profile: Profile) -> Any:
    name = profile.hooks
    try:
        if name.endswith(".py"):
            base = Path(profile.path).parent if profile.path else Path.cwd()
            path = (base / name).resolve()
            spec = importlib.util.spec_from_file_location(f"migdata_profile_hooks_{path.stem}", path)
            if spec is None or spec.loader is None:
                raise ImportError(f"no module at {path}")
            mod = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = mod
            spec.loader.exec_module(mod)
        else:
            mod = importlib.import_module(name)
    except Exception as exc:  # any failure importing user code is reported the same way
        raise DataError("MD508", file=profile.path, value=name, reason=f"{type(exc).__name__}: {exc}") from None
    if not hasattr(mod, "derive"):
        raise DataError("MD508", file=profile.path, value=name,
                        reason="the module has no function derive(tables, raw, codebook, report)")
    return mod
