"""SPSS (.sav/.zsav/.por), Stata (.dta) and SAS (.sas7bdat/.xpt) files, read through pyreadstat.

Each file becomes one raw table named after the file stem, with ``_source_row`` (1-based case
number) and a :class:`~migdata.readers.codebook.Codebook` holding variable labels, value labels
and missing-value declarations.

**Missing values are never silently merged into NaN.** pyreadstat is always called with
``user_missing=True``; then, for every variable that declares user-missing values (SPSS discrete
values and ranges) or holds Stata ``.a``–``.z`` / SAS ``.A``–``.Z``, ``._`` special missing
values, the reader

- sets the value column to missing (NaN / None), so arithmetic never uses a code like 99 or -1;
- adds a companion string column ``<var>__missing`` holding which missing state each row had:
  the SPSS code as written (``"-1"``, ``"2500"``, ``"Z"`` for a string variable), or the Stata/SAS
  letter in the program's own notation (``".a"``, ``".A"``, ``"._"``); empty (``None``) where the
  value is present or system-missing (plain ``.``/sysmis).

The codebook records the declarations: ``Variable.missing_values`` (discrete SPSS codes, or the
Stata/SAS letters seen), ``Variable.missing_ranges`` (SPSS ranges), and
``Variable.special_values`` (labels of Stata/SAS letters, e.g. ``{".a": "refused"}``). SPSS value
labels of user-missing codes stay in ``value_labels`` (their keys are real numbers). Portable
(.por) files carry no user-missing declarations in pyreadstat; the codebook notes it.

``categoricals=True`` turns every labelled variable into a pandas Categorical of its labels
(missing states stay missing in the value column; the companion column keeps them).

Example:
    >>> tables, cb = read_spss("survey.sav")                      # doctest: +SKIP
    >>> tables["survey"][["age", "age__missing"]].head()          # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from migdata.errors import DataError, UsageError
from migdata.readers.codebook import Codebook, Variable

MISSING_SUFFIX = "__missing"

SPSS_EXT = (".sav", ".zsav", ".por")
STATA_EXT = (".dta",)
SAS_EXT = (".sas7bdat", ".xpt", ".xport")


def _norm_key(k: Any) -> Any:
    """1.0 -> 1 so that value-label keys look like the codes people write in profiles."""
    if isinstance(k, float) and np.isfinite(k) and k.is_integer():
        return int(k)
    return k


def _code_text(v: Any) -> str:
    v = _norm_key(v)
    return str(v)


def _check_file(path: Path) -> None:
    if not path.exists():
        raise DataError("MD001", path=str(path))
    if path.is_file() and path.stat().st_size == 0:
        raise DataError("MD002", path=str(path))


def _call(fn: Callable, path: Path, fmt: str, encoding: str | None, **kw: Any):
    import pyreadstat

    if encoding:
        kw["encoding"] = encoding
    try:
        return fn(str(path), **kw)
    except pyreadstat.ReadstatError as e:
        text = str(e)
        if "encoding" in text.lower() or "convert string" in text.lower():
            raise DataError("MD450", file=str(path), encoding=encoding or "the file's declared encoding",
                            detail=text) from e
        raise DataError("MD451", file=str(path), format=fmt, detail=text) from e
    except (pyreadstat.PyreadstatError, UnicodeDecodeError, LookupError) as e:
        if isinstance(e, LookupError) and not isinstance(e, UnicodeDecodeError):
            raise DataError("MD450", file=str(path), encoding=encoding, detail=f"unknown encoding ({e})") from e
        if isinstance(e, UnicodeDecodeError):
            raise DataError("MD450", file=str(path), encoding=encoding or "the file's declared encoding",
                            detail=str(e)) from e
        raise DataError("MD451", file=str(path), format=fmt, detail=str(e)) from e


def _spss_missing_mask(col: pd.Series, ranges: list[dict[str, Any]]) -> pd.Series:
    mask = pd.Series(False, index=col.index)
    if col.dtype == object or pd.api.types.is_string_dtype(col):
        for r in ranges:
            lo, hi = r["lo"], r["hi"]
            if isinstance(lo, str):
                s = col.astype("string")
                # SPSS pads string missing values with blanks
                mask |= (s.str.rstrip() >= str(lo).rstrip()) & (s.str.rstrip() <= str(hi).rstrip())
        return mask.fillna(False).astype(bool)
    num = pd.to_numeric(col, errors="coerce")
    for r in ranges:
        mask |= (num >= r["lo"]) & (num <= r["hi"])
    return mask.fillna(False).astype(bool)


def _build(df: pd.DataFrame, meta: Any, path: Path, fmt: str, categoricals: bool,
           has_user_missing: bool) -> tuple[dict[str, pd.DataFrame], Codebook]:
    table = path.stem
    if any(c is None for c in df.columns) or any(c is None for c in meta.column_names):
        raise DataError("MD450", file=str(path), encoding=getattr(meta, "file_encoding", None),
                        detail="some variable names could not be decoded")
    cb = Codebook(source=str(path), format=fmt)
    labels = dict(zip(meta.column_names, meta.column_labels or [None] * len(meta.column_names)))
    vtypes = getattr(meta, "readstat_variable_types", {}) or {}
    value_labels = getattr(meta, "variable_value_labels", {}) or {}
    ranges_all = getattr(meta, "missing_ranges", {}) or {}
    user_letters = getattr(meta, "missing_user_values", {}) or {}
    out: dict[str, Any] = {}
    for name in df.columns:
        col = df[name]
        is_string = vtypes.get(name) == "string"
        var = Variable(name=name, table=table, label=labels.get(name) or None,
                       type="string" if is_string else "numeric")
        if pd.api.types.is_datetime64_any_dtype(col):
            var.type = "datetime"
        vl = {}
        for k, lab in value_labels.get(name, {}).items():
            if fmt in ("stata", "sas") and isinstance(k, str) and not is_string:
                var.special_values["." + k] = lab
            else:
                vl[_norm_key(k)] = lab
        var.value_labels = vl
        companion = None
        if fmt == "spss" and name in ranges_all:
            rs = ranges_all[name]
            for r in rs:
                if r["lo"] == r["hi"]:
                    var.missing_values.append(_norm_key(r["lo"]))
                else:
                    var.missing_ranges.append((_norm_key(r["lo"]), _norm_key(r["hi"])))
            mask = _spss_missing_mask(col, rs)
            companion = pd.Series([None] * len(col), index=col.index, dtype=object)
            if mask.any():
                companion[mask] = [(_code_text(v).rstrip() if isinstance(v, str) else _code_text(v))
                                   for v in col[mask]]
                col = col.where(~mask, None if is_string else np.nan)
        elif fmt in ("stata", "sas") and not is_string and not pd.api.types.is_numeric_dtype(col) \
                and not pd.api.types.is_datetime64_any_dtype(col):
            is_letter = col.map(lambda v: isinstance(v, str))
            if is_letter.any() or name in user_letters:
                companion = pd.Series([None] * len(col), index=col.index, dtype=object)
                companion[is_letter] = ["." + v for v in col[is_letter]]
                var.missing_values = sorted({"." + v for v in col[is_letter]})
                col = pd.to_numeric(col.where(~is_letter, np.nan), errors="coerce")
        if categoricals and var.value_labels:
            col = _to_category(col, var)
        out[name] = col
        if companion is not None:
            out[name + MISSING_SUFFIX] = companion
            var.extra["missing_column"] = name + MISSING_SUFFIX
        cb.add(var)
    data = pd.DataFrame(out, index=df.index)
    data.insert(0, "_source_row", np.arange(1, len(data) + 1, dtype="int64"))
    data = data.reset_index(drop=True)
    info: dict[str, Any] = {"file": str(path), "n_rows": len(data),
                            "file_label": getattr(meta, "file_label", None),
                            "encoding": getattr(meta, "file_encoding", None)}
    mr = getattr(meta, "mr_sets", None)
    if mr:
        info["mr_sets"] = mr
    cb.tables[table] = info
    if not has_user_missing:
        cb.notes.append(f"{path.name}: this file type carries no user-missing declarations; "
                        "missing values are system-missing only.")
    cb.report.set_counts(table, read=len(data), kept=len(data), rejected=0)
    return {table: data}, cb


def _to_category(col: pd.Series, var: Variable) -> pd.Series:
    missing_codes = set(var.missing_values)
    labs = {k: v for k, v in var.value_labels.items() if k not in missing_codes}
    mapped = col.map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v))
                     else labs.get(_norm_key(v), _code_text(v)))
    cats = list(dict.fromkeys(list(labs.values()) + [v for v in mapped.dropna().unique()]))
    return pd.Series(pd.Categorical(mapped, categories=cats), index=col.index)


def read_spss(path: str | Path, categoricals: bool = False, encoding: str | None = None,
              catalog: str | Path | None = None) -> tuple[dict[str, pd.DataFrame], Codebook]:
    """Read an SPSS .sav/.zsav/.por file (``catalog`` is ignored: SPSS keeps labels inside).

    Example:
        >>> tables, cb = read_spss("lgu_survey.sav")                  # doctest: +SKIP
        >>> cb.variable("sex").value_labels                          # doctest: +SKIP
        {1: 'Male', 2: 'Female'}
    """
    import pyreadstat

    path = Path(path)
    _check_file(path)
    ext = path.suffix.lower()
    if ext == ".por":
        df, meta = _call(pyreadstat.read_por, path, "spss", encoding, formats_as_category=False)
        return _build(df, meta, path, "spss", categoricals, has_user_missing=False)
    if ext not in (".sav", ".zsav"):
        raise DataError("MD452", file=str(path), value=ext, format="SPSS", choices=", ".join(SPSS_EXT))
    df, meta = _call(pyreadstat.read_sav, path, "spss", encoding, user_missing=True,
                     formats_as_category=False)
    return _build(df, meta, path, "spss", categoricals, has_user_missing=True)


def read_stata(path: str | Path, categoricals: bool = False, encoding: str | None = None,
               catalog: str | Path | None = None) -> tuple[dict[str, pd.DataFrame], Codebook]:
    """Read a Stata .dta file; ``.a``–``.z`` become flagged missing states (see module doc).

    Example:
        >>> tables, cb = read_stata("lfs.dta")                        # doctest: +SKIP
    """
    import pyreadstat

    path = Path(path)
    _check_file(path)
    if path.suffix.lower() not in STATA_EXT:
        raise DataError("MD452", file=str(path), value=path.suffix, format="Stata", choices=".dta")
    df, meta = _call(pyreadstat.read_dta, path, "stata", encoding, user_missing=True,
                     formats_as_category=False)
    return _build(df, meta, path, "stata", categoricals, has_user_missing=True)


def read_sas(path: str | Path, categoricals: bool = False, encoding: str | None = None,
             catalog: str | Path | None = None) -> tuple[dict[str, pd.DataFrame], Codebook]:
    """Read a SAS .sas7bdat (with an optional .sas7bcat format ``catalog`` for value labels) or .xpt file.

    Example:
        >>> tables, cb = read_sas("data.sas7bdat", catalog="formats.sas7bcat")   # doctest: +SKIP
    """
    import pyreadstat

    path = Path(path)
    _check_file(path)
    ext = path.suffix.lower()
    if ext == ".sas7bdat":
        kw: dict[str, Any] = {"user_missing": True, "formats_as_category": False}
        df, meta = _call(pyreadstat.read_sas7bdat, path, "sas", encoding, **kw)
        if catalog is not None:
            # pyreadstat applies catalog formats to the data themselves; we want the codes in the
            # data and the labels in the codebook, so the catalog is read for metadata only.
            catalog = Path(catalog)
            _check_file(catalog)
            _, cmeta = _call(pyreadstat.read_sas7bdat, path, "sas", encoding, metadataonly=True,
                             catalog_file=str(catalog), user_missing=True)
            meta.variable_value_labels = cmeta.variable_value_labels
        return _build(df, meta, path, "sas", categoricals, has_user_missing=True)
    if ext in (".xpt", ".xport") or ext.startswith(".xpt"):
        df, meta = _call(pyreadstat.read_xport, path, "sas", encoding)
        return _build(df, meta, path, "sas", categoricals, has_user_missing=False)
    raise DataError("MD452", file=str(path), value=ext, format="SAS", choices=", ".join(SAS_EXT))


def read(path: str | Path, **options: Any) -> tuple[dict[str, pd.DataFrame], Codebook]:
    """Read any SPSS/Stata/SAS file, choosing the format from the extension.

    Options: ``categoricals``, ``encoding``, ``catalog`` (SAS format catalog).

    Example:
        >>> tables, cb = read("survey.dta", categoricals=True)         # doctest: +SKIP
    """
    ext = Path(path).suffix.lower()
    if ext in SPSS_EXT:
        return read_spss(path, **options)
    if ext in STATA_EXT:
        return read_stata(path, **options)
    if ext in SAS_EXT or ext.startswith(".xpt"):
        return read_sas(path, **options)
    raise UsageError("MD452", file=str(path), value=ext, format="SPSS/Stata/SAS",
                     choices=", ".join(SPSS_EXT + STATA_EXT + SAS_EXT))
