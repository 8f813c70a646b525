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
``area``          PSGC conversion: ``region`` (2-digit region number), ``psgc9``
                  (correspondence code), ``psgc10``; ``area_codes`` overrides single codes
``drop = true``   a direct identifier: dropped unless ``keep_identifiers=True``
``free_text = true``  typed-in text: phone numbers, e-mail addresses and the household's own
                  names in it are redacted (MD515); messages never quote it

Privacy rules (:mod:`migdata.model.privacy`): ``*_src`` columns keep codes only (a name typed
into a coded column is left out, MD504/MD514); problem messages withhold values that look
personal and every value of identifier and free-text columns.

Table keys: ``from`` (raw table), ``one_per_case`` / ``from_persons`` (one row per case id,
first row wins; the cases are those of ``from`` and of every ``join`` table), ``keys`` (raw
case-id columns; default: the reader's), ``join`` (raw tables left-joined on the case id; cases
without a match are kept and reported, MD507; cases without a ``from`` row are reported, MD513).

Columns whose name starts with ``_`` are scratch columns for a hooks module (``hooks =
"module"`` with ``derive(tables, raw, codebook, report)``); they are dropped after the hooks ran.

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

import importlib
import importlib.util
import re
import sys
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from migdata._kernels.codes import factorize
from migdata._kernels.keys import first_per_case
from migdata._kernels.parallel import map_in_threads
from migdata._kernels.text import constant_text, map_text, padded_join, take_text
from migdata.errors import DataError, MigdataError
from migdata.model import codes as codelists
from migdata.model.privacy import looks_personal
from migdata.model.report import ImportReport
from migdata.model.spec import LinkSpec
from migdata.model.spec import DesignSpec
from migdata.profiles import free_text
from migdata.readers.codebook import Codebook

STRING = pd.StringDtype("pyarrow")
PROFILE_KEYS = {"name", "title", "reader", "source", "round", "complete_count", "hooks",
                "description", "files", "version", "dictionary", "psgc_release", "reference_date",
                "period", "stream", "units"}
TABLE_KEYS = {"from", "one_per_case", "from_persons", "keys", "join", "columns", "doc"}
COLUMN_KEYS = {"from", "concat", "sep", "widths", "codes", "missing", "source_column", "scale",
               "value", "default", "dtype", "area", "area_codes", "drop", "free_text", "doc"}
AREA_KINDS = ("region", "psgc9", "psgc10")


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
            if not any(k in cspec for k in ("from", "concat", "value", "default")):
                raise DataError("MD501", file=path, where=f"{where} column {cname}",
                                reason="needs one of from, concat, value or default")
            if "area" in cspec and cspec["area"] not in AREA_KINDS:
                raise DataError("MD501", file=path, where=f"{where} column {cname}",
                                reason=f"area = {cspec['area']!r}; choose one of {', '.join(AREA_KINDS)}")
            if "codes" in cspec and not isinstance(cspec["codes"], dict):
                raise DataError("MD501", file=path, where=f"{where} column {cname}",
                                reason="codes must be a table { source code = \"canonical code\" }")
            cols[cname] = cspec
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
    return Profile(name=p["name"], title=p.get("title", ""), reader=p.get("reader", ""),
                   source=p.get("source", ""), round=str(p.get("round", "")),
                   complete_count=spec.complete_count, hooks=p.get("hooks"),
                   design=spec, reader_options=dict(data.get("reader", {})), links=list(links),
                   tables=tables, meta=p, path=path)


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
            values=values.to_numpy()[idx], mask=withhold, **fields)

    def column(self, name: str, spec: dict[str, Any]) -> pd.Series | None:
        n = len(self.raw)
        idx = self.raw.index
        if "value" in spec:
            s = pd.Series([spec["value"]] * n, index=idx) if n else pd.Series([], dtype=object)
        elif "concat" in spec:
            s = self._concat(name, spec)
            if s is None:
                return None
        elif "from" in spec:
            src = spec["from"]
            if src not in self.raw.columns:
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
        if "codes" in spec:
            s = self._codes(name, spec, s, fz)
        if "area" in spec:
            s = self._area(name, spec, s)
        if "default" in spec and ("from" in spec or "concat" in spec):
            if not isinstance(spec["default"], str) and pd.api.types.is_string_dtype(s.dtype):
                s = s.astype(object)  # a number default in an all-text (e.g. empty) column
            s = s.fillna(spec["default"])
        s = self._cast(name, spec, s)
        s.attrs["extra"] = extra
        return s

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
        return padded_join([self.raw[c] for c in parts], widths, spec.get("sep", ""), self.raw.index)

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
        cspec = self.schema.get(name, {})
        tg = np.array(targets, dtype=object)
        if cspec.get("dtype") == "category" and "codes" in cspec:
            dt = codelists.dtype(cspec["codes"])
            cats = list(dt.categories)
            unknown = {t for t in targets if t is not None and t not in cats}
            if unknown:
                raise DataError("MD505", file=self.p.path, table=self.t, column=name,
                                value=sorted(map(str, unknown)), allowed=", ".join(cats))
            tcodes = np.array([cats.index(t) if t is not None else -1 for t in targets], dtype=np.int16)
            return pd.Series(pd.Categorical.from_codes(tcodes[fcodes], dtype=dt), index=s.index)
        return pd.Series(tg[fcodes], index=s.index)

    def _area(self, name: str, spec: dict[str, Any], s: pd.Series) -> pd.Series:
        kind = spec["area"]
        overrides = {str(k): v for k, v in spec.get("area_codes", {}).items()}
        fcodes, uniques = factorize(s)
        known, corr = _psgc_lookup(kind == "psgc9")
        out: list[Any] = []
        bad_u = np.zeros(len(uniques) + 1, dtype=bool)
        for i, u in enumerate(uniques):
            k = _key_text(u)
            if k in overrides:
                out.append(overrides[k])
                continue
            code = None
            if k.isdigit():
                if kind == "region" and len(k) <= 2:
                    code = f"{int(k):02d}00000000"
                elif kind == "psgc10" and len(k) <= 10:
                    code = k.zfill(10)
                elif kind == "psgc9" and len(k) <= 9:
                    code = corr.get(k.zfill(9))
            if code is not None and known is not None and code not in known:
                code = None
            if code is None:
                bad_u[i] = True
            out.append(code)
        out.append(None)
        bad = bad_u[fcodes]
        if bad.any():
            self.problem_rows("MD506", bad, name, s, "set_missing", kind=kind)
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
            if kind == "bool" and pd.api.types.is_bool_dtype(s):
                return s.astype("boolean")
            if kind == "category" and not isinstance(s.dtype, pd.CategoricalDtype):
                codes_name = self.schema.get(name, {}).get("codes")
                if codes_name:
                    return s  # validation reports values outside the code list
        except (TypeError, ValueError):
            return s  # validation reports the values it cannot read
        return s


@lru_cache(maxsize=2)
def _psgc_lookup(with_correspondence: bool) -> tuple[frozenset[str] | None, dict[str, str]]:
    """The set of known 10-digit PSGC codes and (when asked) 9-digit correspondence -> PSGC."""
    try:
        from migdata.areas.reference import reference
        ref = reference()
    except Exception:  # the reference ships with the package; without it codes pass unchecked
        return None, {}
    known = frozenset(ref["psgc"].astype(object).tolist())
    corr: dict[str, str] = {}
    if with_correspondence and "correspondence_code" in ref:
        cc = ref["correspondence_code"].astype(object).tolist()
        corr = {str(c): p for c, p in zip(cc, ref["psgc"].astype(object).tolist()) if isinstance(c, str)}
    return known, corr


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
        df = first_per_case(df, keys).assign(_in_from=True)
        for j in joins:  # cases that only the joined tables have
            other = raw[j].drop_duplicates(subset=keys, keep="first")
            extra = other.merge(df[keys], on=keys, how="left", indicator=True)
            extra = extra.loc[extra["_merge"] == "left_only", keys + ["_source_row"]]
            if len(extra):
                df = pd.concat([df, extra.assign(_in_from=False)], ignore_index=True)
        lacking = ~df["_in_from"].astype(bool).to_numpy()
        if lacking.any():
            m = _Mapper(profile, tname, df, codebook, report, src)
            m.problem_rows("MD513", lacking, "case id", _case_text(df, keys), "kept", other=src)
        df = df.drop(columns=["_in_from"])
    for j in joins:
        other = raw[j]
        drop = [c for c in other.columns if c in df.columns and c not in keys]
        right = other.drop(columns=drop).drop_duplicates(subset=keys, keep="first").assign(_joined=True)
        merged = df.merge(right, on=keys, how="left", sort=False)
        miss = merged["_joined"].isna().to_numpy()
        if miss.any():
            m = _Mapper(profile, tname, merged, codebook, report, src)
            m.problem_rows("MD507", miss, "case id", _case_text(merged, keys), "kept", other=j)
        df = merged.drop(columns=["_joined"])
        df.index = range(len(df))
    return df


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
    jobs = [(c, spec) for c, spec in tspec["columns"].items() if not spec.get("drop") or keep_identifiers]
    cols: dict[str, pd.Series] = {}
    for (cname, cspec), (s, local) in zip(jobs, _map_columns(mapper, jobs)):
        report.extend(local)
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
        res = hooks.derive(out, raw, codebook, report)
        if res is not None:
            out = res
    if not keep_identifiers:
        free_text.redact_tables(profile, out, codebook.source, report)
    for name, df in out.items():  # scratch columns ("_x") are for hooks only
        scratch = [c for c in df.columns if str(c).startswith("_") and c not in ("_source_row", "_source_file")]
        if scratch:
            out[name] = df.drop(columns=scratch)
    _note_value_set_differences(profile, codebook, report)
    return out


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


def _note_value_set_differences(profile: Profile, codebook: Codebook, report: ImportReport) -> None:
    """Name the codes a source's codebook labels that the profile does not map (round differences)."""
    for tname, tspec in profile.tables.items():
        for cname, cspec in tspec["columns"].items():
            if "codes" not in cspec or not cspec.get("from"):
                continue
            try:
                var = codebook.variable(cspec["from"])
            except KeyError:
                continue
            mapped = {str(k).strip() for k in cspec["codes"]} | {_key_text(m) for m in cspec.get("missing", [])}
            ranges = _ranges({str(k): v for k, v in cspec["codes"].items()})
            extra = []
            for code in var.value_labels:
                k = _key_text(code)
                if k in mapped:
                    continue
                try:
                    if any(lo <= float(k) <= hi for lo, hi, _ in ranges):
                        continue
                except ValueError:
                    pass
                extra.append(f"{k} ({var.value_labels[code]})")
            if extra:
                report.notes.append(
                    f"profile {profile.name}: {tname}.{cname} maps {cspec['from']}, whose value set in "
                    f"{codebook.source} also labels {', '.join(extra)}; these codes are set missing "
                    "and reported where they occur (add them to the profile's codes to keep them).")
