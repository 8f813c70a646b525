"""CSPro reader: a ``.dcf`` dictionary plus its fixed-width data file -> one raw table per record type.

Hand-written because no maintained library reads CSPro data; ``pandas.read_fwf`` handles one
layout per file, not hierarchical record types, and is slow. The hot path is vectorised: the file
is read as bytes, split into lines with numpy, padded into a (lines x columns) byte matrix in
chunks, and every numeric item of a record type is decoded at once with one matrix product
(digits x powers of ten); only offending fields take a slow path.

Policies (each reported problem names file, line, record type, item and value):

- **Trimmed trailing blanks** are normal (CSPro writes them so): items past the end of a line are
  blank, and a blank numeric field is NA, a blank alpha field NA.
- **Special values**: NOTAPPL is a blank field, so it reads as NA; MISSING / DEFAULT / REFUSED
  codes (e.g. 9, 99) are left as their code. The codebook lists each item's special values
  (``Variable.special_values``), so a profile can map them (``missing = [...]``).
- **Truncated line** (MD402): a line that ends *inside* a numeric item lost part of that value;
  the item is set to NA and reported, the line kept. A line too short to hold the case ID
  (MD408) is rejected.
- **Unknown record type** (MD401): the line is rejected and reported.
- **Dictionary/data disagreement** (MD403): lines longer than the record length in the
  dictionary are reported once per record type (count, longest, first line); usually the wrong
  dictionary. Lines are kept.
- **Text in a numeric field** (MD404): value NA, reported.
- **Value outside the value set** (MD405): checked only with ``check_value_sets=True``
  (reported, value kept); normally the profile step reports codes it cannot map.
- **Duplicate case ID** (MD406: a case whose ID lines are not contiguous), **too many
  occurrences** (MD407) and **missing required record** (MD411) are reported; rows are kept.
  The tidy-model validation then rejects duplicate household keys.
- **Encoding** (MD003): the file must decode in ``encoding`` (UTF-8 by default); the error names
  the file and the byte offset. Positions are in characters (CSPro 7+), so lines with
  non-ASCII text are re-aligned character by character.

Reported problems per code and file are capped (``max_problems``, default 1,000), with one
summary entry saying how many more there were; the counts always balance:
lines read = lines kept + lines rejected.

Example:
    >>> tables, cb = read_cspro("LFS_PUF_December_2022.F2", "LFS_PUF_December_2022.dcf")  # doctest: +SKIP
    >>> tables["HHMEM"][["PUFREG", "PUFHHNUM", "_occ", "PUFPWGTPRV"]].head(1)              # doctest: +SKIP
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from migdata.errors import DataError
from migdata.model.report import ImportReport
from migdata.readers.codebook import Codebook, Variable
from migdata.readers.cspro_dictionary import (  # noqa: F401  (public API)
    CsproDictionary,
    Item,
    Level,
    Record,
    Value,
    ValueSet,
    parse_dictionary_text,
    read_dictionary,
)

__all__ = ["CsproDictionary", "Item", "Level", "Record", "Value", "ValueSet", "find_dictionary",
           "parse_dictionary_text", "read", "read_cspro", "read_dictionary"]

CHUNK_LINES = 1 << 18
MAX_EXACT_DIGITS = 15  # float64 holds every integer up to 15 digits exactly
_SUB = 0x1A  # placeholder for a non-ASCII character (keeps character positions)


class _Problems:
    """Reports problems with a cap per (code, table) so a broken file cannot flood the report."""

    def __init__(self, report: ImportReport, source_file: str, cap: int) -> None:
        self.report, self.file, self.cap = report, source_file, cap
        self.n: dict[tuple[str, str], int] = defaultdict(int)

    def add(self, code: str, table: str, row: int | None, column: str | None, value: Any,
            action: str, **fields: Any) -> None:
        key = (code, table)
        self.n[key] += 1
        if self.n[key] <= self.cap:
            self.report.add(code, table=table, source_file=self.file, source_row=row,
                            column=column, value=value, action=action, **fields)

    def close(self) -> None:
        for (code, table), n in self.n.items():
            if n > self.cap:
                self.report.add("MD449", table=table, source_file=self.file, action="kept",
                                n=n - self.cap, kind=code, value=None)


def _item_columns(it: Item) -> list[tuple[str, int]]:
    """(column name, 0-based start) of each occurrence of an item."""
    if it.occurrences <= 1:
        return [(it.name, it.start - 1)]
    return [(f"{it.name}_{k}", it.occurrence_start(k) - 1) for k in range(1, it.occurrences + 1)]


def _int_dtype(width: int, decimals: int) -> str:
    if decimals:
        return "float64"
    if width <= 2:
        return "Int8"
    if width <= 4:
        return "Int16"
    if width <= 9:
        return "Int32"
    return "Int64"


class _Field:
    """One output column: an item occurrence at a 0-based start."""

    __slots__ = ("item", "col", "start", "width", "numeric", "dot")

    def __init__(self, item: Item, col: str, start: int) -> None:
        self.item, self.col, self.start, self.width = item, col, start, item.length
        self.numeric = item.numeric
        # With DecimalChar=Yes the point is written at a fixed column (CSPro right-aligns).
        self.dot = (start + item.length - item.decimals - 1
                    if item.numeric and item.decimals and item.decimal_char else -1)


class _RecordPlan:
    """Per record type: the fields to decode and the matrices that decode them in one product."""

    def __init__(self, rec: Record, ids: list[Item], wanted: set[str] | None, width: int) -> None:
        self.rec = rec
        fields: list[_Field] = []
        for it in ids:
            for col, s in _item_columns(it):
                fields.append(_Field(it, col, s))
        for it in rec.items:
            if wanted is not None and it.name not in wanted and not any(
                    col in wanted for col, _ in _item_columns(it)):
                continue
            for col, s in _item_columns(it):
                fields.append(_Field(it, col, s))
        self.fields = fields
        self.n_ids = sum(len(_item_columns(it)) for it in ids)
        self.num = [f for f in fields if f.numeric and f.width - (f.dot >= 0) <= MAX_EXACT_DIGITS]
        self.wide = [f for f in fields if f.numeric and f not in self.num]
        self.alpha = [f for f in fields if not f.numeric]
        self.width = width
        # the columns the numeric fields use, and each column's row in the transposed chunk
        cols = sorted({c for f in self.num for c in range(f.start, min(f.start + f.width, width))})
        self.tcols = np.array(cols, dtype=np.intp)
        self.trow = {c: i for i, c in enumerate(cols)}
        self.last_id_end = max((it.end for it in ids), default=0)
        self.parts: dict[str, list[Any]] = defaultdict(list)
        self.bad: dict[str, list[np.ndarray]] = defaultdict(list)
        self.rows: list[np.ndarray] = []


def _decode_numeric(T: np.ndarray, f: _Field, trow: dict[int, int]
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Integer value (digits only, before implied decimals), blank mask and malformed mask of one
    numeric field, from the transposed chunk ``T`` (columns x rows, so each column is contiguous).

    Horner's rule over the field's columns: a field is well formed when it is leading blanks
    then digits (a written decimal point allowed at its fixed column); anything else (a sign, a
    letter, a blank after a digit) is flagged for the slow path.
    """
    n = T.shape[1]
    cols = [c for c in range(f.start, f.start + f.width) if c in trow]
    if len(cols) == 1 and f.dot < 0:  # one-digit items are the most common: no accumulation
        col = T[trow[cols[0]]]
        dg = col - np.uint8(48)
        isd = dg < 10
        blank = col == 32
        return dg.astype(np.int64), blank, ~isd & ~blank
    acc = np.zeros(n, dtype=np.int64)
    seen = np.zeros(n, dtype=bool)
    bad = np.zeros(n, dtype=bool)
    for c in cols:
        col = T[trow[c]]
        if c == f.dot:
            bad |= ~((col == 46) | ((col == 32) & ~seen))
            continue
        dg = col - np.uint8(48)
        isd = dg < 10
        acc *= 10
        acc += np.where(isd, dg, np.uint8(0))
        bad |= ~isd & ((col != 32) | seen)
        seen |= isd
    return acc, ~seen & ~bad, bad


def _parse_slow(text: str, item: Item) -> float | int | None:
    """Parse one field the fast path could not (sign, misplaced point, >15 digits); None if text."""
    t = text.strip()
    if not t:
        return None
    try:
        if item.decimals and not item.decimal_char and "." not in t:
            return int(t) / 10 ** item.decimals
        if "." in t or item.decimals:
            return float(t)
        return int(t)
    except ValueError:
        return None


def _positions(buf: np.ndarray, byte: int | None = None, at_least: int | None = None,
               step: int = 1 << 24) -> np.ndarray:
    """Offsets of bytes equal to ``byte`` (or >= ``at_least``), found in blocks so that no
    file-sized boolean array is ever allocated."""
    out = []
    for b0 in range(0, len(buf), step):
        blk = buf[b0:b0 + step]
        hit = np.flatnonzero(blk == byte) if byte is not None else np.flatnonzero(blk >= at_least)
        if len(hit):
            out.append(hit + b0)
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def _lines(buf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive, without CR) byte offsets of every line."""
    nl = _positions(buf, 10)
    starts = np.concatenate(([0], nl + 1))
    ends = np.concatenate((nl, [len(buf)]))
    if starts[-1] >= len(buf):  # file ends with a newline: no last line
        starts, ends = starts[:-1], ends[:-1]
    has_cr = (ends > starts) & (buf[np.maximum(ends - 1, 0)] == 13)
    ends = ends - has_cr
    return starts, ends


def _windows(buf: np.ndarray, width: int) -> np.ndarray:
    """Every ``width``-byte window of ``buf`` as one fixed-size item (a zero-copy view): gathering
    rows of it is a plain memory copy per line."""
    n = len(buf) - width + 1
    return np.ndarray(shape=(max(n, 0),), dtype=np.dtype((np.void, width)), buffer=buf, offset=0,
                      strides=(1,))


def _matrix(buf: np.ndarray, starts: np.ndarray, width: int) -> np.ndarray:
    """The ``width`` bytes from each line start as an (n x width) uint8 matrix.

    Bytes past a line's end (its newline, the next lines) are NOT blanked here: callers blank
    only the columns they decode (see ``_blank_after``), which is far cheaper than masking the
    whole matrix. The last lines, whose window would run past the end of the file, come from a
    small blank-padded copy of the file's tail.
    """
    n = len(starts)
    if n == 0:
        return np.full((0, width), 32, dtype=np.uint8)
    limit = len(buf) - width
    inside = starts <= limit
    if inside.all():
        return _windows(buf, width)[starts].view(np.uint8).reshape(n, width)
    M = np.empty((n, width), dtype=np.uint8)
    if inside.any():
        M[inside] = _windows(buf, width)[starts[inside]].view(np.uint8).reshape(-1, width)
    t0 = int(starts[~inside].min())
    tail = np.concatenate((buf[t0:], np.full(width, 32, dtype=np.uint8)))
    M[~inside] = _windows(tail, width)[starts[~inside] - t0].view(np.uint8).reshape(-1, width)
    return M


def _blank_after(block: np.ndarray, first_col: int, lens: np.ndarray) -> np.ndarray:
    """Blank the cells of ``block`` (rows x columns starting at 0-based ``first_col``) that lie at
    or past each row's line length."""
    cols = np.arange(first_col, first_col + block.shape[1], dtype=np.int64)
    short = lens < first_col + block.shape[1]
    if short.any():
        np.putmask(block, cols[None, :] >= lens[:, None], np.uint8(32))
    return block


def read_cspro(
    data_path: str | Path,
    dictionary: str | Path | CsproDictionary,
    report: ImportReport | None = None,
    *,
    items: Iterable[str] | None = None,
    records: Iterable[str] | None = None,
    encoding: str = "utf-8",
    check_value_sets: bool = False,
    max_problems: int = 1000,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[dict[str, pd.DataFrame], Codebook]:
    """Read a CSPro fixed-width data file with its dictionary.

    Returns ``(tables, codebook)``: one DataFrame per record type (named by the record's
    ``Name``), each with the case-ID items, ``_occ`` (1-based occurrence within the case, for
    records that may repeat), the record's items (``NAME_k`` for item occurrences) and
    ``_source_row`` (1-based line in the file). Numeric items become nullable integers (or
    float64 with implied decimals applied), alpha items strings; see the module docstring for
    what is reported and how. ``items`` limits the decoded items (ID items always come);
    ``records`` limits the record types returned (other types are still counted as read).

    Example:
        >>> tables, cb = read_cspro("Popstan Census.dat", "Census Dictionary.dcf")  # doctest: +SKIP
        >>> sorted(tables)                                                          # doctest: +SKIP
        ['HOUSING', 'INTERVIEW_RECORD', 'PERSON']
    """
    d = dictionary if isinstance(dictionary, CsproDictionary) else read_dictionary(dictionary)
    path = Path(data_path)
    if not path.is_file():
        raise DataError("MD001", path=str(path))
    report = report if report is not None else ImportReport()
    src = str(path)
    probs = _Problems(report, src, max_problems)
    raw = path.read_bytes()
    buf = np.frombuffer(raw, dtype=np.uint8)
    off = 3 if raw[:3] == b"\xef\xbb\xbf" else 0
    buf = buf[off:]
    if not any((buf[b0:b0 + (1 << 24)] > 32).any() for b0 in range(0, len(buf), 1 << 24)):
        raise DataError("MD002", path=src)
    starts, ends = _lines(buf)
    n_lines = len(starts)

    # Non-ASCII text: validate the encoding, then re-align those lines character by character.
    hi = _positions(buf, at_least=0x80)
    uni_lines: dict[int, str] = {}
    if len(hi):
        try:
            raw[off:].decode(encoding)
        except UnicodeDecodeError as exc:
            raise DataError("MD003", path=src, encoding=encoding, offset=exc.start + off) from None
        except LookupError:
            raise DataError("MD004", what="encoding", value=encoding, choices="utf-8, cp1252, latin-1, ...") from None
        for li in np.unique(np.searchsorted(starts, hi, side="right") - 1):
            uni_lines[int(li)] = bytes(buf[starts[li]:ends[li]]).decode(encoding)

    rts, rtl = d.record_type_start - 1, d.record_type_len
    wanted = None if items is None else set(items)
    keep_records = None if records is None else set(records)
    level0 = d.levels[0].id_items if d.levels else []
    id_cols = sorted({c for it in level0 for c in range(it.start - 1, it.end)})
    width = max([r.length for r in d.records] + [it.end for it in d.id_items] + [rts + rtl, 1])
    plans = {r.type_value: _RecordPlan(r, d.id_items_for(r), wanted, width) for r in d.records
             if keep_records is None or r.name in keep_records}
    line_rec = np.full(n_lines, -1, dtype=np.int16)  # record index per line (-1 unknown/rejected)
    rec_index = {r.type_value: i for i, r in enumerate(d.records)}
    case_key = np.zeros((n_lines, len(id_cols)), dtype=np.uint8)
    too_long: dict[str, list[int]] = defaultdict(list)
    n_rejected = 0

    for c0 in range(0, n_lines, CHUNK_LINES):
        c1 = min(c0 + CHUNK_LINES, n_lines)
        s, e = starts[c0:c1], ends[c0:c1]
        lens = e - s
        M = _matrix(buf, s, width)
        for li, text in uni_lines.items():
            if c0 <= li < c1:
                enc = bytes(ord(ch) if ord(ch) < 128 else _SUB for ch in text[:width])
                M[li - c0, :] = 32
                M[li - c0, :len(enc)] = np.frombuffer(enc, dtype=np.uint8)
                lens[li - c0] = len(text)
        if id_cols:
            case_key[c0:c1] = M[:, id_cols]
        # record type of each line (blank where the line is shorter)
        rt = _blank_after(M[:, rts:rts + rtl].copy(), rts, lens)
        if rtl == 0:
            types = np.zeros(c1 - c0, dtype=np.int16) + (0 if d.records else -1)
            tvals = [d.records[0].type_value] if d.records else []
        elif rtl == 1:  # one-character types: a 256-entry lookup table
            lut = np.full(256, -1, dtype=np.int16)
            for t, i in rec_index.items():
                if len(t) == 1:
                    lut[ord(t) if ord(t) < 256 else 0] = i
            types = lut[rt[:, 0]]
        else:
            keys = np.ascontiguousarray(rt).view(f"S{rtl}").ravel()
            tvals_b, inv = np.unique(keys, return_inverse=True)
            tvals = [t.decode("latin-1").ljust(rtl) for t in tvals_b]
            types = np.array([rec_index.get(t, rec_index.get(t.rstrip(), -1)) for t in tvals],
                             dtype=np.int16)[inv]
        empty = lens == 0
        for li in np.flatnonzero(empty):
            probs.add("MD409", "lines", int(c0 + li + 1), None, None, "rejected")
        unknown = (types < 0) & ~empty
        for li in np.flatnonzero(unknown):
            val = bytes(M[li, rts:rts + rtl]).decode("latin-1")
            probs.add("MD401", "lines", int(c0 + li + 1), "record type", val, "rejected",
                      start=rts + 1, length=rtl)
        n_rejected += int(empty.sum() + unknown.sum())
        for ri, rec in enumerate(d.records):
            sel = np.flatnonzero(types == ri)
            if not len(sel):
                continue
            plan = plans.get(rec.type_value)
            rlens = lens[sel]
            short = rlens < plan.last_id_end if plan else rlens < 0
            if plan is not None and short.any():
                for li in sel[short]:
                    probs.add("MD408", rec.name, int(c0 + li + 1), None, int(lens[li]), "rejected",
                              record=rec.name, need=plan.last_id_end)
                n_rejected += int(short.sum())
                sel, rlens = sel[~short], rlens[~short]
            line_rec[c0 + sel] = ri
            if rec.length and (rlens > rec.length).any():
                too_long[rec.name].extend((c0 + sel[rlens > rec.length] + 1).tolist())
            if plan is None or not len(sel):
                continue
            R = M if len(sel) == len(M) else M[sel]
            plan.rows.append(c0 + sel)
            _decode_chunk(R, rlens, plan, c0 + sel, uni_lines, probs)
        if progress is not None:
            progress(int(ends[c1 - 1]), len(buf))

    # the file's bytes are no longer needed: free them before the tables are assembled
    line_lengths = ends - starts
    del buf, raw, starts, ends
    for name, rows in too_long.items():
        rec = d.record(name)
        longest = int(line_lengths[np.asarray(rows) - 1].max())
        probs.add("MD403", name, rows[0], None, longest, "kept", record=name, n=len(rows),
                  length=rec.length, dictionary=d.path or d.name)

    # cases: a new case starts where the level-1 ID changes from the line before
    valid = line_rec >= 0
    vidx = np.flatnonzero(valid)
    K = case_key[vidx]
    new_case = np.ones(len(vidx), dtype=bool)
    if len(vidx) > 1 and K.shape[1]:
        new_case[1:] = (K[1:] != K[:-1]).any(axis=1)
    elif len(vidx) > 1:
        new_case[1:] = False
    case_no = np.cumsum(new_case) - 1
    case_of_line = np.full(n_lines, -1, dtype=np.int64)
    case_of_line[vidx] = case_no
    block_first = vidx[new_case]  # first line of each case block
    if K.shape[1] and len(block_first):
        dup = _duplicated_rows(K[new_case])
        for li in block_first[dup]:
            probs.add("MD406", d.records[line_rec[li]].name, int(li + 1), "case id",
                      bytes(case_key[li]).decode("latin-1"), "kept")

    tables: dict[str, pd.DataFrame] = {}
    for ri, rec in enumerate(d.records):
        plan = plans.get(rec.type_value)
        rows = np.concatenate(plan.rows) if plan and plan.rows else np.zeros(0, dtype=np.int64)
        cases = case_of_line[rows]
        if plan is None:
            continue
        cols: dict[str, Any] = {}
        for f in plan.fields:
            parts = plan.parts.pop(f.col, None)  # each column's chunks are freed once joined
            if parts:
                cols[f.col] = _concat(parts)
            else:
                cols[f.col] = pd.array([], dtype="string") if not f.numeric else pd.array([], dtype="Int8")
            del parts
        occ = np.ones(len(rows), dtype=np.int16)
        if len(rows):
            first = np.ones(len(rows), dtype=bool)
            first[1:] = cases[1:] != cases[:-1]
            grp_start = np.maximum.accumulate(np.where(first, np.arange(len(rows)), 0))
            occ = (np.arange(len(rows)) - grp_start + 1).astype(np.int16)
            over = occ > rec.max_records
            for k in np.flatnonzero(over & (occ == rec.max_records + 1)):
                probs.add("MD407", rec.name, int(rows[k] + 1), None, None, "kept",
                          record=rec.name, max=rec.max_records)
        ordered: dict[str, Any] = {f.col: cols.pop(f.col) for f in plan.fields[:plan.n_ids]}
        if rec.repeating:
            ordered["_occ"] = occ
        for f in plan.fields[plan.n_ids:]:
            ordered[f.col] = cols.pop(f.col)
        ordered["_source_row"] = rows + 1
        # one constructor call without copies: the arrays were built for this table only
        df = pd.DataFrame(ordered, copy=False)
        del ordered
        tables[rec.name] = df
        if check_value_sets:
            _check_values(df, rec, plan, probs)
        # required records: a case lacking one is reported (kept)
        if rec.required and len(block_first):
            have = np.zeros(len(block_first), dtype=bool)
            have[np.unique(cases)] = True
            for li in block_first[~have][: max_problems + 1]:
                probs.add("MD411", rec.name, int(li + 1), None, bytes(case_key[li]).decode("latin-1"),
                          "kept", record=rec.name)
    n_kept = int(valid.sum())
    report.set_counts(f"lines of {path.name}", read=n_lines, kept=n_kept, rejected=n_lines - n_kept)
    probs.close()
    cb = _codebook(d, src, report, tables)
    return tables, cb


def _duplicated_rows(K: np.ndarray) -> np.ndarray:
    """Rows of a uint8 matrix equal to an earlier row, hashed as uint64 words (no Python bytes
    object per case)."""
    n, w = K.shape
    pad = (-w) % 8
    if pad:
        K = np.concatenate((K, np.zeros((n, pad), dtype=np.uint8)), axis=1)
    words = np.ascontiguousarray(K).view(np.uint64)
    return pd.DataFrame(words).duplicated(keep="first").to_numpy()


def _concat(parts: list[Any]) -> Any:
    if isinstance(parts[0], pa.ChunkedArray) or isinstance(parts[0], pa.Array):
        arr = pa.chunked_array([p for p in parts])
        return pd.arrays.ArrowStringArray(arr) if hasattr(pd.arrays, "ArrowStringArray") else arr
    if isinstance(parts[0], pd.api.extensions.ExtensionArray):
        return type(parts[0])._concat_same_type(parts)
    return np.concatenate(parts)


def _decode_chunk(R: np.ndarray, rlens: np.ndarray, plan: _RecordPlan, lines: np.ndarray,
                  uni_lines: dict[int, str], probs: _Problems) -> None:
    """Decode every wanted field of the rows ``R`` (one record type, one chunk)."""
    rec = plan.rec
    if plan.num:
        T = np.take(R, plan.tcols, axis=1).T.copy()
        if (rlens <= plan.tcols[-1]).any():
            for c, i in plan.trow.items():
                np.putmask(T[i], rlens <= c, np.uint8(32))
        for f in plan.num:
            ival, na, b = _decode_numeric(T, f, plan.trow)
            vals = ival / 10.0 ** f.item.decimals if f.item.decimals else ival
            end = f.start + f.width  # a line ending strictly inside the field lost part of it
            cut = (rlens > f.start) & (rlens < end)
            if b.any():
                for k in np.flatnonzero(b & ~cut):
                    text = bytes(R[k, f.start:min(end, int(rlens[k]))]).decode("latin-1")
                    if int(lines[k]) in uni_lines:
                        text = uni_lines[int(lines[k])][f.start:end]
                    v = None if _SUB in R[k, f.start:min(end, int(rlens[k]))] else _parse_slow(text, f.item)
                    if v is None:
                        na[k] = True
                        probs.add("MD404", rec.name, int(lines[k] + 1), f.col, text, "set_missing",
                                  record=rec.name)
                    else:
                        if not f.item.decimals and vals.dtype.kind == "i" and float(v).is_integer():
                            vals[k] = int(v)
                        else:
                            vals = vals.astype(np.float64)
                            vals[k] = v
                        b[k] = False
            if cut.any():
                for k in np.flatnonzero(cut):
                    probs.add("MD402", rec.name, int(lines[k] + 1), f.col,
                              bytes(R[k, f.start:int(rlens[k])]).decode("latin-1"), "set_missing",
                              record=rec.name, length=int(rlens[k]), start=f.start + 1, end=end)
                na |= cut
            na |= b & ~na
            plan.parts[f.col].append(_to_array(vals, na, f))
    for f in plan.wide:
        out = np.zeros(len(R))
        na = np.zeros(len(R), dtype=bool)
        for k in range(len(R)):
            text = bytes(R[k, f.start:min(f.start + f.width, int(rlens[k]))]).decode("latin-1")
            v = _parse_slow(text, f.item)
            if v is None:
                na[k] = True
                if text.strip():
                    probs.add("MD404", rec.name, int(lines[k] + 1), f.col, text, "set_missing",
                              record=rec.name)
            else:
                out[k] = v
        plan.parts[f.col].append(pd.array(np.where(na, np.nan, out), dtype="float64"))
    for f in plan.alpha:
        sub = _blank_after(np.ascontiguousarray(R[:, f.start:f.start + f.width]), f.start, rlens)
        arr = pa.array(sub.view(f"S{f.width}").ravel()).cast(pa.string(), safe=False) \
            if f.width else pa.nulls(len(R), pa.string())
        arr = pc.utf8_rtrim(arr, characters=" ")
        if uni_lines:
            fix = {k: uni_lines[int(li)][f.start:f.start + f.width].rstrip(" ")
                   for k, li in enumerate(lines) if int(li) in uni_lines}
            if fix:
                py = arr.to_pylist()
                for k, v in fix.items():
                    py[k] = v
                arr = pa.array(py, type=pa.string())
        arr = pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)
        plan.parts[f.col].append(arr)


def _to_array(v: np.ndarray, na: np.ndarray, f: _Field) -> Any:
    dt = _int_dtype(f.width, f.item.decimals)
    if dt == "float64":
        out = v.copy()
        out[na] = np.nan
        return out
    np_dt = {"Int8": np.int8, "Int16": np.int16, "Int32": np.int32, "Int64": np.int64}[dt]
    if v.dtype.kind == "f":
        v = np.rint(np.where(na, 0, v))
    return pd.arrays.IntegerArray(v.astype(np_dt), na)


def _check_values(df: pd.DataFrame, rec: Record, plan: _RecordPlan, probs: _Problems) -> None:
    """Report values outside each item's primary value set (values are kept)."""
    for f in plan.fields:
        vs = f.item.value_set
        if vs is None or f.col not in df.columns:
            continue
        s = df[f.col]
        ok = s.isna().to_numpy().copy()
        for v in vs.values:
            if isinstance(v.low, str) and not v.low.strip():
                continue  # a blank code (NOTAPPL) is NA here
            if v.high is None:
                ok |= (s == v.low).fillna(False).to_numpy(dtype=bool)
            else:
                try:
                    ok |= ((s >= v.low) & (s <= v.high)).fillna(False).to_numpy(dtype=bool)
                except TypeError:
                    pass
        for k in np.flatnonzero(~ok):
            probs.add("MD405", rec.name, int(df["_source_row"].iat[k]), f.col, s.iat[k], "kept",
                      record=rec.name, valueset=vs.name)


def _codebook(d: CsproDictionary, src: str, report: ImportReport,
              tables: dict[str, pd.DataFrame]) -> Codebook:
    cb = Codebook(source=src, format="cspro", report=report)
    for rec in d.records:
        ids = d.id_items_for(rec)
        cb.tables[rec.name] = {"record_type": rec.type_value, "max_records": rec.max_records,
                               "required": rec.required, "keys": [it.name for it in ids],
                               "rows": len(tables.get(rec.name, ()))}
        for it in ids + rec.items:
            vs = it.value_set
            specials = it.special_values()
            cb.add(Variable(
                name=it.name, table=rec.name, label=it.label,
                type="numeric" if it.numeric else "string", start=it.start, length=it.length,
                decimals=it.decimals, value_labels=it.value_labels(),
                missing_values=[k for k, kind in specials.items() if kind in ("MISSING", "REFUSED")],
                missing_ranges=[], special_values=specials, occurrences=it.occurrences,
                extra={"id_item": it.is_id, "subitem_of": it.subitem_of, "zero_fill": it.zero_fill,
                       "decimal_char": it.decimal_char,
                       "value_set": vs.name if vs else None,
                       "ranges": [(v.low, v.high, v.label) for v in (vs.values if vs else []) if v.is_range]},
            ))
    return cb


def find_dictionary(data_path: str | Path) -> Path:
    """The ``.dcf`` for a data file: same name with ``.dcf``, else the only ``.dcf`` beside it."""
    p = Path(data_path)
    for cand in (p.with_suffix(".dcf"), p.with_suffix(".DCF")):
        if cand.is_file():
            return cand
    dcfs = sorted(q for q in p.parent.glob("*") if q.suffix.lower() == ".dcf")
    if len(dcfs) == 1:
        return dcfs[0]
    raise DataError("MD511", path=str(p))


def read(path: str | Path, dictionary: str | Path | CsproDictionary | None = None,
         **options: Any) -> tuple[dict[str, pd.DataFrame], Codebook]:
    """Registry entry (``READERS["cspro"]``): :func:`read_cspro` with the dictionary found
    beside the data file when not given. A ``.dcf`` path alone gives empty tables and the
    dictionary's codebook (for ``migdata codebook DICT.dcf``)."""
    p = Path(path)
    if p.suffix.lower() == ".dcf":
        d = read_dictionary(p)
        report = options.get("report") or ImportReport()
        return {}, _codebook(d, str(p), report, {})
    return read_cspro(p, dictionary if dictionary is not None else find_dictionary(p), **options)
