"""Area codes as users have them, turned into 10-digit PSGC codes; roll-up to coarser levels.

Accepted forms (decided per distinct value, so a column of 16 million codes costs one pass
over its few thousand distinct values):

- 10 digits ``RRPPPMMBBB``: the current PSGC;
- 9 digits ``RRPPMMBBB``: the correspondence code of the pre-2023 releases;
- 9 digits that are a 10-digit code whose leading zero was lost (``401001001`` stored as a
  number): which reading is right is decided by which one exists in the reference; when
  both exist the value is ambiguous and reported, never guessed;
- 8 digits: a 9-digit code whose leading zero was lost;
- 4 digits ``PPMM`` (old 2-digit province + 2-digit city/municipality, used by CBMS 2022 and
  the census for places of residence), ``PP99`` = the province only; 3 digits = a PPMM that
  lost its leading zero.

Anything else, or a code not in the reference, is a located :class:`DataError` listing the
closest codes. Roll-up (:func:`rollup`) reads the parents from the code and the reference.

Example:
    >>> normalize(401001001)          # a 10-digit code that lost its leading zero
    '0401001001'
    >>> normalize("043405000")        # 9-digit correspondence code of Calamba
    '0403405000'
    >>> ppmm_to_psgc("5699")          # Quezon, city/municipality unknown
    '0405600000'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Literal

import numpy as np
import pandas as pd

from migdata.areas.reference import Index, index
from migdata.errors import DataError, UsageError

ROLLUP_LEVELS = ("region", "province", "city_mun", "barangay")


@dataclass
class Reading:
    """How one distinct input value was read: the code, or the problem found."""

    code: str | None = None
    how: str = ""
    repaired: bool = False
    error: str | None = None                    # an MD2xx code
    fields: dict[str, Any] = field(default_factory=dict)


def _digits(value: Any) -> str | None:
    """The value as a digit string, None for missing; raises ValueError for non-codes."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, (float, np.floating)):
        if np.isnan(value):
            return None
        if not float(value).is_integer():
            raise ValueError
        value = int(value)
    if isinstance(value, (bool, np.bool_)):
        raise ValueError
    text = str(value).strip()
    if text == "":
        return None
    if text.endswith(".0") and text[:-2].isdigit():  # a number that went through a float column
        text = text[:-2]
    if not text.isdigit() or not text.isascii():
        raise ValueError
    return text


def _ppmm(ix: Index, pp: str, mm: str) -> str | None:
    if mm in ("99", "00"):
        return ix.by_pp.get(pp)
    return ix.by_ppmm.get(pp + mm)


def read_code(value: Any, ix: Index) -> Reading:
    """Read one value (see the module docstring for the accepted forms). A text value's reading
    is kept in ``ix`` and given again (readings are never changed by their users)."""
    if type(value) is str:
        got = ix.readings.get(value)
        if got is None:
            got = _read_code(value, ix)
            if len(ix.readings) < READINGS_KEPT:
                ix.readings[value] = got
        return got
    return _read_code(value, ix)


#: Text values whose reading an area index keeps (memory stays bounded on free text).
READINGS_KEPT = 200_000


def _read_code(value: Any, ix: Index) -> Reading:
    try:
        d = _digits(value)
    except ValueError:
        return Reading(error="MD204")
    if d is None:
        return Reading(how="missing")
    n = len(d)
    if n == 10:
        if d in ix.codes:
            return Reading(d, "10-digit PSGC")
        return Reading(error="MD201", fields={"reading": "read as a 10-digit PSGC",
                                               "suggestions": ix.close(d)})
    if n in (8, 9):
        cands: list[tuple[str, str, bool]] = []
        corr = d.zfill(9)
        if corr in ix.by_corr.index:
            cands.append((ix.by_corr[corr], "9-digit correspondence code", n == 8))
        if n == 9 and "0" + d in ix.codes:
            cands.append(("0" + d, "10-digit PSGC without its leading zero", True))
        if len(cands) == 1:
            code, how, repaired = cands[0]
            return Reading(code, how, repaired)
        if len(cands) > 1:
            return Reading(error="MD202", fields={"candidates": "; ".join(
                f"{ix.label(c)} as {how}" for c, how, _ in cands)})
        tried = "read as a 9-digit correspondence code" + (
            " or a 10-digit PSGC without its leading zero" if n == 9 else " without its leading zero")
        # Suggestions: the correspondence code laid out as 10 digits (RR 0PP MM BBB holds for
        # most provinces) and, for 9 digits, the code with its zero put back.
        sugg = ix.close(corr[:2] + "0" + corr[2:])
        if n == 9:
            sugg += [x for x in ix.close("0" + d) if x not in sugg]
        sugg = sugg[:5]
        return Reading(error="MD201", fields={"reading": tried, "suggestions": sugg})
    if n in (3, 4):
        ppmm = d.zfill(4)
        code = _ppmm(ix, ppmm[:2], ppmm[2:])
        if code is not None:
            return Reading(code, "PPMM" if ppmm[2:] not in ("99", "00") else "PP99 (province only)",
                           repaired=(n == 3))
        near = sorted(k for k in ix.by_ppmm.index if k[:2] == ppmm[:2])[:8]
        sugg = [f"{k} {ix.name(ix.by_ppmm[k])}" for k in near]
        if ppmm[:2] in ix.by_pp.index:
            sugg.insert(0, f"{ppmm[:2]}99 {ix.name(ix.by_pp[ppmm[:2]])}")
        return Reading(error="MD205", fields={"pp": ppmm[:2], "mm": ppmm[2:],
                                               "suggestions": sugg})
    return Reading(error="MD204")


def _where(file: str | None, row: Any, column: str | None, n: int | None = None) -> str:
    parts = []
    if file:
        parts.append(f"in {file}")
    if row is not None and not (isinstance(row, float) and np.isnan(row)):
        parts.append(f"{'first at ' if n and n > 1 else ''}row {int(row)}")
    if column:
        parts.append(f"column {column}")
    text = ", ".join(parts)
    if n and n > 1:
        text += f"; {n:,} rows have this value"
    return f" ({text})" if text else ""


def problem_fields(r: Reading, ix: Index) -> dict[str, Any]:
    """The message fields of a reading's problem (its MD2xx code's template), except the value
    and where it was found.

    Example:
        >>> from migdata.areas.reference import index
        >>> problem_fields(read_code("12", index()), index())["release"] == index().release
        True
    """
    fields = dict(r.fields)
    if "suggestions" in fields:
        fields["suggestions"] = "; ".join(fields["suggestions"]) or "none"
    return {"release": ix.release, **fields}


def read_distinct(values: pd.Series, ref: pd.DataFrame | None = None
                  ) -> tuple[np.ndarray, Any, list[Reading], Index]:
    """Read each distinct value once (:func:`read_code`): ``pd.factorize(values)`` (codes, -1
    for missing, and the distinct values), one :class:`Reading` per distinct value, and the
    index used.

    Example:
        >>> codes, _, readings, _ = read_distinct(pd.Series(["3405", "3405", None, "x"]))
        >>> codes.tolist(), [r.code for r in readings], readings[1].error
        ([0, 0, -1, 1], ['0403405000', None], 'MD204')
    """
    ix = index(ref)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return codes, uniques, [read_code(v, ix) for v in uniques], ix


def _error(r: Reading, value: Any, ix: Index, file: str | None, row: Any,
           column: str | None, n: int | None = None) -> DataError:
    return DataError(r.error, value=value, where=_where(file, row, column, n), file=file, row=row,
                     column=column, **problem_fields(r, ix))


def normalize(code: Any, ref: pd.DataFrame | None = None, *, file: str | None = None,
              row: int | None = None, column: str | None = None) -> str:
    """One area code as a 10-digit PSGC string; a :class:`DataError` when it cannot be read.

    ``file``, ``row`` and ``column`` locate the value in the error message.

    Example:
        >>> normalize("3405")   # PPMM of Calamba
        '0403405000'
    """
    ix = index(ref)
    r = read_code(code, ix)
    if r.error:
        raise _error(r, code, ix, file, row, column)
    if r.code is None:
        raise DataError("MD204", value=code, where=_where(file, row, column))
    return r.code


def normalize_codes(values: Iterable[Any] | pd.Series, ref: pd.DataFrame | None = None, *,
                    errors: Literal["raise", "report"] = "raise", report: Any = None,
                    table: str = "", column: str | None = None, source_file: str | None = None,
                    source_rows: Iterable[int] | pd.Series | None = None) -> pd.Series:
    """Many area codes as 10-digit PSGC strings (``string`` dtype; missing stays missing).

    ``errors="raise"``: the first unreadable value raises a located :class:`DataError`.
    ``errors="report"``: unreadable values become NA and each distinct one is added to
    ``report`` (an :class:`~migdata.model.report.ImportReport`) with its first row and count,
    action ``set_missing``. Repaired leading zeros are added as MD203 (action ``kept``) when a
    report is given. ``source_rows`` (e.g. the raw table's ``_source_row``) locates values.

    Example:
        >>> normalize_codes(["0403405000", 403405000, "043405000", "3405", None]).tolist()
        ['0403405000', '0403405000', '0403405000', '0403405000', <NA>]
    """
    if errors not in ("raise", "report"):
        raise UsageError("MD004", what="errors", value=errors, choices="raise, report")
    if errors == "report" and report is None:
        raise UsageError("MD004", what="report", value=None, choices="an ImportReport when errors='report'")
    s = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    codes, uniques, readings, ix = read_distinct(s, ref)
    out_u = np.empty(len(uniques), dtype=object)
    rows = None if source_rows is None else np.asarray(pd.Series(source_rows).to_numpy())
    first: np.ndarray | None = None
    counts: np.ndarray | None = None
    for k, (v, r) in enumerate(zip(uniques, readings)):
        out_u[k] = r.code if r.code is not None else pd.NA
        if not r.error and not (r.repaired and report is not None):
            continue
        if first is None:
            valid = codes >= 0
            order = np.flatnonzero(valid)
            first = np.full(len(uniques), -1)
            first[codes[order][::-1]] = order[::-1]
            counts = np.bincount(codes[valid], minlength=len(uniques))
        pos = int(first[k])
        row = int(rows[pos]) if rows is not None else None
        if r.error:
            err = _error(r, v, ix, source_file, row, column, int(counts[k]))
            if errors == "raise":
                raise err
            report.add(r.error, table=table, source_file=source_file, source_row=row,
                       column=column, value=v, action="set_missing",
                       **{k2: v2 for k2, v2 in err.fields.items()
                          if k2 not in ("file", "row", "column", "value", "table")},
                       n=int(counts[k]))
        else:
            report.add("MD203", table=table, source_file=source_file, source_row=row,
                       column=column, value=v, action="kept", psgc=r.code, name=ix.name(r.code),
                       where=_where(source_file, row, column, int(counts[k])), n=int(counts[k]))
    result = pd.array(out_u, dtype="string").take(codes, allow_fill=True)
    return pd.Series(result, index=s.index, name=s.name if isinstance(values, pd.Series) else None)


def ppmm_to_psgc(ppmm: Any, ref: pd.DataFrame | None = None) -> str:
    """The 10-digit PSGC of a PPMM code (city/municipality), or of the province for ``PP99``.

    Example:
        >>> ppmm_to_psgc("5624")   # City of Lucena
        '0431200000'
    """
    ix = index(ref)
    try:
        d = _digits(ppmm)
    except ValueError:
        d = ""
    if d is None or len(d) not in (3, 4):
        raise DataError("MD204", value=ppmm, where="")
    r = read_code(d, ix)
    if r.error:
        raise _error(r, ppmm, ix, None, None, None)
    return r.code


def rollup(codes: Iterable[Any] | pd.Series, level: str, statistical: bool = True,
           ref: pd.DataFrame | None = None, errors: Literal["raise", "coerce"] = "raise") -> pd.Series:
    """The code at ``level`` above each 10-digit code (``string`` dtype; NA when there is none).

    ``level``: ``region``, ``province``, ``city_mun`` or ``barangay``. With
    ``statistical=True`` a highly urbanised city and its barangays roll up to the geographic
    province PSA tabulates them with (Lucena ``0431200000`` to Quezon ``0405600000``); with
    ``False`` to the unit at the province position of the code (Lucena itself). A code finer
    than ``level`` gives NA (a province has no barangay). Codes not in the reference roll up
    through their nearest ancestor in it (the code's own digits decide the ancestors).
    Works on distinct values, so 16 million codes cost a factorisation. A value that is not
    a 10-digit code raises MD209 (``errors="raise"``) or gives NA (``errors="coerce"``, for
    callers that have already reported it).

    Example:
        >>> rollup(["0431200001", "0403405012"], "province").tolist()
        ['0405600000', '0403400000']
        >>> rollup(["0431200001"], "province", statistical=False).tolist()
        ['0431200000']
    """
    if level not in ROLLUP_LEVELS:
        raise UsageError("MD208", value=level, choices=", ".join(ROLLUP_LEVELS))
    if errors not in ("raise", "coerce"):
        raise UsageError("MD004", what="errors", value=errors, choices="raise, coerce")
    ix = index(ref)
    s = codes if isinstance(codes, pd.Series) else pd.Series(codes)
    if isinstance(s.dtype, pd.CategoricalDtype):
        fcodes = s.cat.codes.to_numpy()
        uniques = pd.Index(s.cat.categories.astype(str))
    else:
        fcodes, uniques = pd.factorize(s, use_na_sentinel=True)
        uniques = pd.Index(uniques)
    u = pd.Series(uniques.astype(str), dtype="string")
    bad = ~u.str.fullmatch(r"\d{10}").fillna(False)
    if bad.any():
        used = np.zeros(len(u), dtype=bool)
        used[fcodes[fcodes >= 0]] = True
        bad_used = np.flatnonzero(bad.to_numpy() & used)
        if len(bad_used) and errors == "coerce":
            keep = ~bad.to_numpy()
            remap = np.where(keep, np.cumsum(keep) - 1, -1)
            fcodes = np.where(fcodes >= 0, remap[np.maximum(fcodes, 0)], -1)
            uniques = uniques[keep]
            u = pd.Series(uniques.astype(str), dtype="string")
        elif len(bad_used):
            first = uniques[int(bad_used[0])]
            row = int(np.flatnonzero(fcodes == bad_used[0])[0])
            raise DataError("MD209", value=first, where=f" (item {row + 1})")
    col = {"region": "region", "province": "stat_province" if statistical else "province",
           "city_mun": "city_mun", "barangay": None}[level]
    result = _rollup_unique(u, level, col, ix)
    out = pd.array(result.to_numpy(dtype=object), dtype="string").take(fcodes, allow_fill=True)
    return pd.Series(out, index=s.index, name=level)


def _rollup_unique(u: pd.Series, level: str, col: str | None, ix: Index) -> pd.Series:
    ref = ix.ref
    # Plain Python strings and set look-ups: the distinct values are few, and pandas' isin on
    # Arrow-backed strings walks them in Python anyway.
    uu = [str(x) for x in u.to_numpy(dtype=object)]
    known = np.fromiter((x in ix.codes for x in uu), dtype=bool, count=len(uu))
    # Codes absent from the reference: use the nearest ancestor that is in it.
    anchor = list(uu)
    for i in np.flatnonzero(~known):
        x = uu[i]
        for cut, pad in ((7, "000"), (5, "00000"), (2, "00000000")):
            cand = x[:cut] + pad
            if cand in ix.codes:
                anchor[i] = cand
                break
    pos = ix.pos.reindex(anchor)
    valid = pos.notna().to_numpy()
    take = pos.fillna(0).astype(int).to_numpy()
    if level == "region":
        vals = [x[:2] + "00000000" if x[:2] != "00" else None for x in uu]
    elif level == "barangay":
        lv = ref["level"].astype(str).to_numpy()[take]
        # A code unknown to the reference that is barangay-shaped is its own barangay.
        vals = [x if (k and v and lvl == "barangay") or (not k and x[7:] != "000") else None
                for x, k, v, lvl in zip(uu, known, valid, lv)]
    else:
        vals = np.where(valid, ref[col].to_numpy(dtype=object)[take], None)
    return pd.Series(np.asarray(vals, dtype=object), index=u.index)
