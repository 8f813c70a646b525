"""CSPro reader: a ``.dcf`` dictionary plus its fixed-width data file -> one raw table per record type.

Hand-written because no maintained library reads CSPro data; ``pandas.read_fwf`` handles one
layout per file, not hierarchical record types, and is slow. The hot path is vectorised: the file
is mapped into memory and split into lines with numpy; chunks of lines are gathered into a
(lines x columns) byte matrix, the columns of the numeric items are transposed so that each is
contiguous, and each numeric item is decoded for all lines of the chunk at once by Horner's rule
(one pass per digit column); only offending fields take a slow path. Chunks are decoded on two
threads (numpy releases the GIL) and joined in line order, so the result and the order of the
reported problems do not depend on the chunk size or the number of threads.

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
- **Encoding** (MD003): the lines holding non-ASCII bytes must decode in ``encoding`` (UTF-8 by
  default; ASCII is valid in every encoding this reader supports); the error names the file and
  the byte offset of the first undecodable byte. Positions are in characters (CSPro 7+), so
  lines with non-ASCII text are re-aligned character by character.

Problems of single lines (MD401, MD402, MD404, MD408, MD409) are reported in line order, then
those of record types and cases. The import report lists the first problems of each kind and
counts the rest (``max_problems``, default 1,000, is the cap of a report made here; a report
passed in keeps its own); the counts always balance: lines read = lines kept + lines rejected.

Example:
    >>> tables, cb = read_cspro("LFS_PUF_December_2022.F2", "LFS_PUF_December_2022.dcf")  # doctest: +SKIP
    >>> tables["HHMEM"][["PUFREG", "PUFHHNUM", "_occ", "PUFPWGTPRV"]].head(1)              # doctest: +SKIP
"""

from __future__ import annotations

import codecs
import mmap
import re
from collections import defaultdict, deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from migdata._kernels import parallel
from migdata.errors import DataError, UsageError
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

CHUNK_LINES = 1 << 16  # lines decoded at once: a chunk's matrices (a few MB) stay in cache
CHUNK_BYTES = 1 << 26  # at most this many bytes in one chunk's matrix (fewer lines when wide)
MAX_ABSENT = 1000  # item occurrences beyond every line of a file before the dictionary is wrong
_BLOCK = 1 << 22  # bytes scanned for newlines by one task (the comparison's temporary stays in cache)
MAX_EXACT_DIGITS = 15  # float64 holds every integer up to 15 digits exactly
_SUB = 0x1A  # placeholder for a non-ASCII character (keeps character positions)


class _Problems:
    """This file's problems, recorded in the report (which lists the first ones of each kind and
    counts the rest)."""

    def __init__(self, report: ImportReport, source_file: str, lines_before: int = 0) -> None:
        self.report, self.file = report, source_file
        self.lines_before = lines_before  # a chunk of a file: its rows are the file's lines

    def add(self, code: str, table: str, row: int | None, column: str | None, value: Any,
            action: str, **fields: Any) -> None:
        if row is not None and self.lines_before:
            row = int(row) + self.lines_before
        self.report.add(code, table=table, source_file=self.file, source_row=row,
                        column=column, value=value, action=action, **fields)


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
    """Per record type: the fields to decode, and where their bytes are once a chunk's rows are
    transposed (see :func:`_byte_rows`)."""

    def __init__(self, rec: Record, ids: list[Item], wanted: set[str] | None,
                 skip: set[str] = frozenset(), limit: int | None = None  # type: ignore[assignment]
                 ) -> None:
        self.rec = rec
        fields: list[_Field] = []
        ids = [it for it in ids if it.name not in skip]
        for it in ids:
            for col, s in _item_columns(it):
                fields.append(_Field(it, col, s))
        for it in rec.items:
            if it.name in skip:
                continue
            if wanted is not None and it.name not in wanted and not any(
                    col in wanted for col, _ in _item_columns(it)):
                continue
            for col, s in _item_columns(it):
                fields.append(_Field(it, col, s))
        self.fields = fields
        self.n_ids = sum(len(_item_columns(it)) for it in ids)
        # fields that start where no line of the file reaches (``limit``: the longest line) are
        # missing on every line: not decoded, and not in the byte matrix
        self.absent = [f for f in fields if limit is not None and f.start >= limit and not f.item.is_id]
        present = [f for f in fields if f not in self.absent] if self.absent else fields
        self.num = [f for f in present if f.numeric and f.width - (f.dot >= 0) <= MAX_EXACT_DIGITS]
        self.wide = [f for f in present if f.numeric and f not in self.num]
        self.alpha = [f for f in present if not f.numeric]
        # the columns of the numeric fields, the 8-byte words of a line that hold them, and
        # where each column is among those words (see _byte_rows)
        cols = sorted({c for f in self.num for c in range(f.start, f.start + f.width)})
        self.words = np.array(sorted({c // 8 for c in cols}), dtype=np.intp)
        wpos = {int(w): k for k, w in enumerate(self.words)}
        self.col_word = np.array([wpos[c // 8] for c in cols], dtype=np.intp)
        self.col_byte = np.array([c % 8 for c in cols], dtype=np.intp)
        self.brow = {c: i for i, c in enumerate(cols)}
        self.frows = {f.col: [self.brow[c] for c in range(f.start, f.start + f.width)]
                      for f in self.num}
        self.num_end = max((f.start + f.width for f in self.num), default=0)
        self.end = max((f.start + f.width for f in present), default=0)
        self.last_id_end = max((it.end for it in ids), default=0)


def _byte_rows(R: np.ndarray, plan: _RecordPlan) -> np.ndarray:
    """The numeric fields' columns of the rows ``R`` (rows x Wp, Wp a multiple of 8),
    transposed: row ``plan.brow[c]`` of the result holds column ``c`` of every row, contiguous.

    Done in two steps because numpy copies a strided 8-byte word about as fast as a strided
    byte: first the words that hold the columns (few strided copies), then the columns' bytes
    out of those words (a short-stride copy)."""
    n = len(R)
    Tw = R.view(np.uint64).T[plan.words]  # (words x n), each word contiguous
    return Tw.view(np.uint8).reshape(len(plan.words), n, 8).transpose(0, 2, 1)[
        plan.col_word, plan.col_byte]


def _digits(B: np.ndarray, rows: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Integer value, "has a digit" mask and malformed mask of a numeric field without a written
    decimal point, from its columns ``rows`` of the transposed byte block ``B``.

    Horner's rule, one column at a time, in the smallest integer type that holds the field's
    largest value. A field is well formed when it is leading blanks then digits; anything else
    (a sign, a letter, a blank after a digit) is flagged for the slow path. A blank is 0x20, so
    ``byte & 15`` is the digit's value and 0 for a leading blank.
    """
    w = len(rows)
    x = B[rows[0]]
    dg = x - np.uint8(48)
    seen = dg < 10
    bad = (x != 32) > seen  # neither digit nor blank
    if w == 1:  # one-digit items are the most common: no accumulation
        return dg.view(np.int8), seen, bad
    dt = np.int8 if w <= 2 else np.int16 if w <= 4 else np.int32 if w <= 9 else np.int64
    acc = (x & np.uint8(15)).astype(dt)
    for r in rows[1:]:
        x = B[r]
        isd = (x - np.uint8(48)) < 10
        bad |= (seen | (x != 32)) > isd  # not a digit, and after a digit or not a blank
        seen |= isd
        acc *= 10
        np.add(acc, x & np.uint8(15), out=acc, casting="unsafe")
    return acc, seen, bad


def _digits_with_point(B: np.ndarray, f: _Field, brow: dict[int, int]
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """As :func:`_digits` for a field with a written decimal point at its fixed column (the
    point may be blank only while no digit came before it)."""
    n = B.shape[1]
    acc = np.zeros(n, dtype=np.int64)
    seen = np.zeros(n, dtype=bool)
    bad = np.zeros(n, dtype=bool)
    for c in range(f.start, f.start + f.width):
        col = B[brow[c]]
        if c == f.dot:
            bad |= ~((col == 46) | ((col == 32) & ~seen))
            continue
        dg = col - np.uint8(48)
        isd = dg < 10
        acc *= 10
        acc += np.where(isd, dg, np.uint8(0))
        bad |= ~isd & ((col != 32) | seen)
        seen |= isd
    return acc, seen, bad


_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)")


def _parse_slow(text: str, item: Item) -> float | int | None:
    """Parse one field the fast path could not (sign, misplaced point, >15 digits); None if text.
    Only digits with an optional sign and point are numbers, as CSPro writes them: ``inf``,
    ``nan`` and ``1e12`` are text (never a non-finite value or an exponent nobody typed)."""
    t = text.strip()
    if not t or not _NUMBER.fullmatch(t):
        return None
    try:
        if item.decimals and not item.decimal_char and "." not in t:
            return int(t) / 10 ** item.decimals
        if "." in t or item.decimals:
            return float(t)
        return int(t)
    except ValueError:
        return None


def _windows(buf: np.ndarray, width: int) -> np.ndarray:
    """Every ``width``-byte window of ``buf`` as one fixed-size item (a zero-copy view): gathering
    rows of it is a plain memory copy per line."""
    n = len(buf) - width + 1
    return np.ndarray(shape=(max(n, 0),), dtype=np.dtype((np.void, width)), buffer=buf, offset=0,
                      strides=(1,))


def _matrix(buf: np.ndarray, starts: np.ndarray, width: int) -> np.ndarray:
    """The ``width`` bytes from each line start as an (n x width) uint8 matrix.

    Bytes past a line's end (its newline, the next lines) are NOT blanked here: callers blank
    or ignore only the columns they decode, which is far cheaper than masking the whole matrix.
    The last lines, whose window would run past the end of the file, come from a small
    blank-padded copy of the file's tail.
    """
    n = len(starts)
    limit = len(buf) - width
    if n and starts[-1] <= limit:  # starts ascend: every window is inside the file
        return _windows(buf, width)[starts].view(np.uint8).reshape(n, width)
    inside = starts <= limit
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
    short = np.flatnonzero(lens < first_col + block.shape[1])
    if len(short):
        cols = np.arange(first_col, first_col + block.shape[1], dtype=np.int64)
        sub = block[short]
        np.putmask(sub, cols[None, :] >= lens[short, None], np.uint8(32))
        block[short] = sub
    return block


def _scan_block(arr: np.ndarray, a: int, b: int) -> tuple[np.ndarray, int, np.ndarray | None]:
    """Newline offsets, largest byte and (when there are any) offsets of non-ASCII bytes of
    ``arr[a:b]``, as offsets into ``arr``. The largest byte answers both "is every byte a blank"
    and "is there non-ASCII text" without another pass."""
    blk = arr[a:b]
    nl = np.flatnonzero(blk == 10)
    nl += a
    top = int(blk.max()) if len(blk) else 0
    hi = np.flatnonzero(blk >= 0x80) + a if top >= 0x80 else None
    return nl, top, hi


def _load(path: Path, pool: ThreadPoolExecutor | None, data: Any = None
          ) -> tuple[np.ndarray, int, np.ndarray, int, np.ndarray]:
    """The file's bytes, mapped into memory (read where the file cannot be mapped), and its
    newline offsets, found in blocks on the pool. Mapping costs no copy, and the page faults
    are taken by the scanning threads in parallel. Returns (bytes after any UTF-8 BOM, BOM
    length, newline offsets, largest byte, non-ASCII offsets); offsets count from after the
    BOM. ``data``: the bytes to read instead of the file's (a chunk of it)."""
    if data is not None:
        raw = np.frombuffer(data, dtype=np.uint8)
    else:
        with open(path, "rb") as fh:
            try:  # (the mapping assumes that no other program shortens the file while it is read)
                raw = np.frombuffer(mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ), dtype=np.uint8)
            except (ValueError, OSError):  # an empty file, or one that cannot be mapped
                raw = np.frombuffer(fh.read(), dtype=np.uint8)
    off = 3 if bytes(raw[:3]) == b"\xef\xbb\xbf" else 0
    buf = raw[off:]
    blocks = [(a, min(a + _BLOCK, len(buf))) for a in range(0, len(buf), _BLOCK)]
    parts = (list(pool.map(lambda ab: _scan_block(buf, *ab), blocks)) if pool
             else [_scan_block(buf, *ab) for ab in blocks])
    nl = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, dtype=np.int64)
    top = max((p[1] for p in parts), default=0)
    his = [p[2] for p in parts if p[2] is not None]
    hi = np.concatenate(his) if his else np.zeros(0, dtype=np.int64)
    return buf, off, nl, top, hi


def _longest(nl: np.ndarray, n: int) -> int:
    """Bytes in the longest line of a file of ``n`` bytes with newlines at ``nl`` (newline
    excluded, a CR included: an upper bound, which is all its callers need)."""
    if not len(nl):
        return n
    inner = int(np.diff(nl).max()) - 1 if len(nl) > 1 else 0
    return max(int(nl[0]), inner, n - int(nl[-1]) - 1)


def _check_reach(d: CsproDictionary, plans: dict[str, "_RecordPlan"], longest: int, data: str) -> None:
    """MD416 when more than :data:`MAX_ABSENT` item occurrences to decode start beyond the
    longest line of the data: a few trailing items (trimmed blanks) are normal, that many mean
    the dictionary does not describe the file, and would only fill memory with empty columns."""
    absent = [f for p in plans.values() for f in p.absent]
    if len(absent) > MAX_ABSENT:
        it = absent[0].item
        raise DataError("MD416", file=d.path or d.name, row=it.line or "?", item=it.name,
                        n=len(absent) - 1, length=longest, data=data)


def _bounds(buf: np.ndarray, nl: np.ndarray, n: int, c0: int, c1: int,
            M: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Start offset and length in bytes (without CR) of lines ``c0 .. c1-1``, from the newline
    offsets ``nl`` of the ``n`` bytes of ``buf``. ``M``, the lines' matrix when the caller has
    it (see :func:`_matrix`), holds the last byte of most lines: looking for a CR there is far
    cheaper than in the file, which is no longer in any cache."""
    s = _starts(nl, c0, c1)
    e = nl[c0:c1] if c1 <= len(nl) else np.concatenate((nl[c0:], [n]))
    lens = e - s
    if M is None:
        return s, lens - ((lens > 0) & (buf[np.maximum(e - 1, 0)] == 13))
    w = M.shape[1]
    at = np.arange(0, len(s) * w, w)
    at += np.minimum(lens, w)
    at -= 1  # an empty line points before its row: masked below
    cr = (lens > 0) & (M.ravel()[at] == 13)
    long = np.flatnonzero(lens > w)  # the last byte is not in the matrix
    if len(long):
        cr[long] = buf[e[long] - 1] == 13
    return s, lens - cr


def _starts(nl: np.ndarray, c0: int, c1: int) -> np.ndarray:
    """Start offsets of lines ``c0 .. c1-1``."""
    s = np.empty(c1 - c0, dtype=np.int64)
    if c0 == 0:
        s[0] = 0
        s[1:] = nl[:c1 - 1] + 1
    else:
        s[:] = nl[c0 - 1:c1 - 1] + 1
    return s


class _Chunk:
    """What one chunk of lines yields; merged into the result in line order."""

    __slots__ = ("problems", "parts", "rows", "too_long", "end")

    def __init__(self) -> None:
        self.problems: list[tuple[Any, ...]] = []  # (line, seq, code, table, row, column, ...)
        self.parts: dict[str, dict[str, Any]] = {}  # record type -> column -> array
        self.rows: dict[str, Any] = {}  # record type -> 0-based lines, or their range
        self.too_long: dict[str, tuple[int, int, int]] = {}  # name -> (first line, n, longest)
        self.end = 0

    def add(self, code: str, table: str, row: int | None, column: str | None, value: Any,
            action: str, **fields: Any) -> None:
        self.problems.append((row or 0, len(self.problems), code, table, row, column, value,
                              action, fields))


class _Reader:
    """The state shared by the chunk workers (read-only while they run, except the per-line
    arrays ``line_rec``, ``case_key`` and ``direct``, of which each chunk writes only its own
    lines)."""

    def __init__(self, d: CsproDictionary, buf: np.ndarray, n: int, nl: np.ndarray, wp: int,
                 plans: dict[str, _RecordPlan], uni_lines: dict[int, str], n_lines: int) -> None:
        self.d, self.buf, self.n, self.nl, self.wp, self.plans = d, buf, n, nl, wp, plans
        self.uni_lines = uni_lines
        self.uni_keys = np.array(sorted(uni_lines), dtype=np.int64)
        self.records = d.records
        self.rts, self.rtl = d.record_type_start - 1, d.record_type_len
        self.rec_index = {r.type_value: i for i, r in enumerate(self.records)}
        if self.rtl == 1:  # one-character types: a 256-entry lookup table
            self.lut = np.full(256, -1, dtype=np.int16)
            for t, i in self.rec_index.items():
                if len(t) == 1:
                    self.lut[ord(t) if ord(t) < 256 else 0] = i
        level0 = d.levels[0].id_items if d.levels else []
        self.id_cols = sorted({c for it in level0 for c in range(it.start - 1, it.end)})
        # the case key of a line: its level-1 ID bytes, as masked 8-byte words
        self.key_words = sorted({c // 8 for c in self.id_cols})
        kpos = {w: k for k, w in enumerate(self.key_words)}
        masks = np.zeros((len(self.key_words), 8), dtype=np.uint8)
        for c in self.id_cols:
            masks[kpos[c // 8], c % 8] = 0xFF
        self.key_masks = masks.view(np.uint64).ravel()
        self.key_pos = [kpos[c // 8] * 8 + c % 8 for c in self.id_cols]
        # the head of a line (its case id and record type) is read for every line; the rest of a
        # line only for the records decoded, each as wide as its own fields reach (a CBMS file's
        # widest record is 888 bytes, most of its lines far shorter: gathering every line at the
        # widest record's width copied four times the text)
        head = max(self.id_cols + [self.rts + self.rtl - 1, 0]) + 1
        self.hw = min(-(-head // 8) * 8, wp)
        self.rec_wp = {t: min(max(-(-p.end // 8) * 8, self.hw), wp) for t, p in plans.items()}
        if len(self.records) == 1 and len(self.rec_wp) == 1:  # one record type: one gather per line
            self.hw = next(iter(self.rec_wp.values()))
        self.line_rec = np.full(n_lines, -1, dtype=np.int16)  # record per line (-1 rejected)
        # With one record type, the numeric columns are written straight into arrays with a row
        # per line (rejected lines are dropped at the end), not joined from chunks: no second
        # copy, and the chunks' arrays are freed (and their memory reused) at once.
        self.direct: dict[str, tuple[np.ndarray, np.ndarray | None]] | None = None
        if len(self.records) == 1 and self.records[0].type_value in plans:
            self.direct = {}
            for f in plans[self.records[0].type_value].num:
                dt = _int_dtype(f.width, f.item.decimals)
                if dt == "float64":
                    self.direct[f.col] = (np.empty(n_lines, dtype=np.float64), None)
                    continue
                # values and mask in one allocation: numpy backs large ones with huge pages,
                # and writing a few MB into small pages costs more in page faults than copies
                size = n_lines * np.dtype(_NP_INT[dt]).itemsize
                block = np.empty(size + n_lines, dtype=np.uint8)
                self.direct[f.col] = (block[:size].view(_NP_INT[dt]), block[size:].view(bool))
        self.case_key = np.zeros((len(self.key_words), n_lines), dtype=np.uint64)

    def key_text(self, line: int) -> str:
        """The level-1 case ID of a line as text (for messages)."""
        b = np.ascontiguousarray(self.case_key[:, line]).view(np.uint8)
        return bytes(b[self.key_pos]).decode("latin-1")

    def rows(self, rec: Record, M: np.ndarray, s: np.ndarray, sel: np.ndarray, c0: int) -> np.ndarray:
        """The lines ``sel`` of a chunk (first line ``c0``, line starts ``s``, heads ``M``) of one
        record type, each as wide as the record's fields reach, non-ASCII lines re-aligned.
        Equals ``M[sel]`` of the chunk's lines gathered at the widest record's width."""
        R = _matrix(self.buf, s[sel], self.rec_wp[rec.type_value])
        self.realign(R, c0 + sel)
        return R

    def realign(self, M: np.ndarray, lines: np.ndarray) -> None:
        """Rows of ``M`` (the windows of ``lines``, ascending) that hold non-ASCII text, re-aligned
        character by character (each non-ASCII character one substitute byte), in place."""
        k0, k1 = np.searchsorted(self.uni_keys, [lines[0], lines[-1] + 1]) if len(lines) else (0, 0)
        if k1 <= k0:
            return
        keys = self.uni_keys[k0:k1]
        pos = np.searchsorted(lines, keys)
        for li, row in zip(keys.tolist(), pos.tolist()):
            if row < len(lines) and lines[row] == li:
                text = self.uni_lines[li][:M.shape[1]]
                enc = bytes(ord(ch) if ord(ch) < 128 else _SUB for ch in text)
                M[row, :] = 32
                M[row, :len(enc)] = np.frombuffer(enc, dtype=np.uint8)

    def types(self, M: np.ndarray, lens: np.ndarray) -> np.ndarray:
        """Record index of each line (-1 unknown); the type is blank where the line is shorter."""
        rts, rtl, n = self.rts, self.rtl, len(M)
        if rtl == 0:
            return np.zeros(n, dtype=np.int16) + (0 if self.records else -1)
        if rtl == 1:
            types = self.lut[M[:, rts]]
            short = lens <= rts
            if short.any():
                types[short] = self.lut[32]
            return types
        rt = _blank_after(M[:, rts:rts + rtl].copy(), rts, lens)
        keys = np.ascontiguousarray(rt).view(f"S{rtl}").ravel()
        tvals_b, inv = np.unique(keys, return_inverse=True)
        tvals = [t.decode("latin-1").ljust(rtl) for t in tvals_b]
        rec_index = self.rec_index
        return np.array([rec_index.get(t, rec_index.get(t.rstrip(), -1)) for t in tvals],
                        dtype=np.int16)[inv.ravel()]

    def chunk(self, c0: int, c1: int) -> _Chunk:
        """Decode lines ``c0 .. c1-1``: runs in a worker thread (numpy releases the GIL)."""
        out = _Chunk()
        rts, rtl = self.rts, self.rtl
        M = _matrix(self.buf, _starts(self.nl, c0, c1), self.hw)  # the lines' heads
        s, lens = _bounds(self.buf, self.nl, self.n, c0, c1, M)
        blens = lens  # byte lengths; ``lens`` counts characters once non-ASCII lines are re-aligned
        out.end = int(s[-1] + lens[-1])
        # Bytes past a line's end (its newline, the next line) are not blanked here: each use
        # below blanks, or ignores, only what it reads, far cheaper than masking the matrix.
        k0, k1 = np.searchsorted(self.uni_keys, [c0, c1])
        if k1 > k0:
            lens = lens.copy()
            self.realign(M, np.arange(c0, c1))
            for li in self.uni_keys[k0:k1].tolist():
                lens[li - c0] = len(self.uni_lines[li])
        if self.key_words:
            M64 = M.view(np.uint64)
            for k, w in enumerate(self.key_words):
                np.bitwise_and(M64[:, w], self.key_masks[k], out=self.case_key[k, c0:c1])
        types = self.types(M, lens)
        empty = np.flatnonzero(lens == 0)
        for li in empty:
            out.add("MD409", "lines", int(c0 + li + 1), None, None, "rejected")
        one = len(self.records) == 1 and types.min() >= 0  # every line is the only record
        if not one and types.min() < 0:
            unknown = types < 0
            unknown[empty] = False
            for li in np.flatnonzero(unknown):
                val = bytes(M[li, rts:rts + rtl]).decode("latin-1")
                out.add("MD401", "lines", int(c0 + li + 1), "record type", val, "rejected",
                        start=rts + 1, length=rtl)
        if not one:  # each record type's lines, ascending: np.flatnonzero(types == ri), in one sort
            order = np.argsort(types, kind="stable")
            ends = np.cumsum(np.bincount(types.astype(np.int64) + 1, minlength=len(self.records) + 1))
        for ri, rec in enumerate(self.records):
            sel = np.arange(len(types)) if one else order[ends[ri]:ends[ri + 1]]
            if not len(sel):
                continue
            plan = self.plans.get(rec.type_value)
            rlens = lens[sel]
            short = rlens < plan.last_id_end if plan else None
            if plan is not None and short.any():
                for li in sel[short]:
                    out.add("MD408", rec.name, int(c0 + li + 1), None, int(lens[li]), "rejected",
                            record=rec.name, need=plan.last_id_end)
                sel, rlens = sel[~short], rlens[~short]
            full = len(sel) == len(M)  # every line of the chunk is of this record
            self.line_rec[slice(c0, c1) if full else c0 + sel] = ri
            if rec.length:
                over = rlens > rec.length
                if over.any():
                    first = int(c0 + sel[over][0] + 1)
                    out.too_long[rec.name] = (first, int(over.sum()), int(blens[sel[over]].max()))
            if plan is None or not len(sel):
                continue
            R = M if full and self.rec_wp[rec.type_value] == self.hw else self.rows(rec, M, s, sel, c0)
            # a whole chunk's lines are kept as their range: a file of one record type then
            # needs no array of row numbers at all
            out.rows[rec.type_value] = (c0, c1) if full else c0 + sel
            out.parts[rec.type_value] = self.decode(R, rlens, plan, c0 + sel, out)
        return out

    def decode(self, R: np.ndarray, rlens: np.ndarray, plan: _RecordPlan, lines: np.ndarray,
               out: _Chunk) -> dict[str, Any]:
        """Decode every wanted field of the rows ``R`` (one record type, one chunk)."""
        rec, uni_lines = plan.rec, self.uni_lines
        parts: dict[str, Any] = {}
        if plan.alpha and uni_lines:  # rows of non-ASCII lines (``lines`` ascend)
            keys = self.uni_keys[np.searchsorted(self.uni_keys, lines[0]):
                                 np.searchsorted(self.uni_keys, lines[-1], side="right")]
            pos = np.searchsorted(lines, keys)
            uni_rows = pos[lines[pos] == keys].tolist()
        else:
            uni_rows = []
        if plan.num:
            B = _byte_rows(R, plan)
            # lines ending before a field's last column: the field is NA (MD402 when the line
            # ends inside it); only these few lines need looking at per field
            short = np.flatnonzero(rlens < plan.num_end)
            slens = rlens[short]
        for f in plan.num:
            if f.dot >= 0:
                ival, seen, b = _digits_with_point(B, f, plan.brow)
            else:
                ival, seen, b = _digits(B, plan.frows[f.col])
            na = ~seen
            end = f.start + f.width
            cut = short[:0]
            if len(short):
                lost = slens < end
                if lost.any():
                    gone = short[lost]
                    na[gone] = True
                    b[gone] = False
                    cut = gone[slens[lost] > f.start]
            vals = ival / 10.0 ** f.item.decimals if f.item.decimals else ival
            if b.any():
                for k in np.flatnonzero(b):
                    text = bytes(R[k, f.start:min(end, int(rlens[k]))]).decode("latin-1")
                    if int(lines[k]) in uni_lines:
                        text = uni_lines[int(lines[k])][f.start:end]
                    v = None if _SUB in R[k, f.start:min(end, int(rlens[k]))] else _parse_slow(text, f.item)
                    if v is None:
                        na[k] = True
                        out.add("MD404", rec.name, int(lines[k] + 1), f.col, text, "set_missing",
                                record=rec.name)
                    else:
                        na[k] = False
                        if not f.item.decimals and vals.dtype.kind == "i" and float(v).is_integer():
                            vals[k] = int(v)
                        else:
                            vals = vals.astype(np.float64, copy=False)
                            vals[k] = v
            for k in cut:
                out.add("MD402", rec.name, int(lines[k] + 1), f.col,
                        bytes(R[k, f.start:int(rlens[k])]).decode("latin-1"), "set_missing",
                        record=rec.name, length=int(rlens[k]), start=f.start + 1, end=end)
            vals, na = _values(vals, na, f)
            if self.direct is None:
                parts[f.col] = _to_array(vals, na)
            else:
                dv, dm = self.direct[f.col]
                span = lines[-1] - lines[0] + 1 == len(lines)  # consecutive lines: a slice
                at = slice(lines[0], lines[-1] + 1) if span else lines
                dv[at] = vals
                if dm is not None:
                    dm[at] = na
        for f in plan.wide:
            vals = np.zeros(len(R))
            na = np.zeros(len(R), dtype=bool)
            for k in range(len(R)):
                text = bytes(R[k, f.start:min(f.start + f.width, int(rlens[k]))]).decode("latin-1")
                v = _parse_slow(text, f.item)
                if v is None:
                    na[k] = True
                    if text.strip():
                        out.add("MD404", rec.name, int(lines[k] + 1), f.col, text, "set_missing",
                                record=rec.name)
                else:
                    vals[k] = v
            parts[f.col] = pd.array(np.where(na, np.nan, vals), dtype="float64")
        for f in plan.alpha:
            sub = _blank_after(np.ascontiguousarray(R[:, f.start:f.start + f.width]), f.start, rlens)
            arr = pa.array(sub.view(f"S{f.width}").ravel()).cast(pa.string(), safe=False) \
                if f.width else pa.nulls(len(R), pa.string())
            arr = pc.utf8_rtrim(arr, characters=" ")
            if uni_rows:
                py = arr.to_pylist()
                for k in uni_rows:
                    py[k] = uni_lines[int(lines[k])][f.start:f.start + f.width].rstrip(" ")
                arr = pa.array(py, type=pa.string())
            arr = pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)
            parts[f.col] = arr
        for f in plan.absent:
            parts[f.col] = _missing(f, len(R))
        return parts


def _missing(f: _Field, n: int) -> Any:
    """An all-missing column of ``n`` rows with the dtype the field would have."""
    if not f.numeric:
        return pa.nulls(n, pa.string())
    if f.width - (f.dot >= 0) > MAX_EXACT_DIGITS:  # a "wide" field (see decode)
        return pd.array(np.full(n, np.nan), dtype="float64")
    vals, na = _values(np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool), f)
    return _to_array(vals, na)


def read_cspro(
    data_path: str | Path,
    dictionary: str | Path | CsproDictionary,
    report: ImportReport | None = None,
    *,
    items: Iterable[str] | None = None,
    records: Iterable[str] | None = None,
    skip_items: Iterable[str] | None = None,
    encoding: str = "utf-8",
    check_value_sets: bool = False,
    max_problems: int = 1000,
    progress: Callable[[int, int], None] | None = None,
    data: Any = None,
    lines_before: int = 0,
    bytes_before: int = 0,
    case_blocks: bool = False,
) -> tuple[dict[str, pd.DataFrame], Codebook]:
    """Read a CSPro fixed-width data file with its dictionary.

    Returns ``(tables, codebook)``: one DataFrame per record type (named by the record's
    ``Name``), each with the case-ID items, ``_occ`` (1-based occurrence within the case, for
    records that may repeat), the record's items (``NAME_k`` for item occurrences) and
    ``_source_row`` (1-based line in the file). Numeric items become nullable integers (or
    float64 with implied decimals applied), alpha items strings; see the module docstring for
    what is reported and how. ``items`` limits the decoded items (ID items always come);
    ``records`` limits the record types returned (other types are still counted as read);
    ``skip_items`` are never decoded, not even to report a bad value (the importer passes the
    direct identifiers a profile drops, so that no message can quote them).
    ``case_blocks``: also set ``codebook.case_blocks`` (:func:`_case_blocks`), the runs of lines
    of one case id among the lines of the tables returned.

    Example:
        >>> tables, cb = read_cspro("Popstan Census.dat", "Census Dictionary.dcf")  # doctest: +SKIP
        >>> sorted(tables)                                                          # doctest: +SKIP
        ['HOUSING', 'INTERVIEW_RECORD', 'PERSON']
    """
    d = dictionary if isinstance(dictionary, CsproDictionary) else read_dictionary(dictionary)
    path = Path(data_path)
    if not path.is_file():
        raise DataError("MD001", path=str(path))
    report = report if report is not None else ImportReport(max_listed=max_problems)
    src = str(path)
    probs = _Problems(report, src, lines_before)
    rts, rtl = d.record_type_start - 1, d.record_type_len
    wanted = None if items is None else set(items)
    keep_records = None if records is None else set(records)
    skip = set(skip_items or ())

    threads = parallel.THREADS  # chunks decoded at once (numpy releases the GIL in the array work)
    pool = ThreadPoolExecutor(threads) if threads > 1 else None
    try:
        buf, off, nl, top, hi = _load(path, pool, data)
        n = len(buf)
        if top <= 32:
            raise DataError("MD002", path=src)
        n_lines = len(nl) + (0 if len(nl) and nl[-1] == n - 1 else 1)
        longest = _longest(nl, n)
        plans = {r.type_value: _RecordPlan(r, d.id_items_for(r), wanted, skip, longest) for r in d.records
                 if keep_records is None or r.name in keep_records}
        _check_reach(d, plans, longest, src)
        # the byte matrix holds the columns that some line reaches and something reads
        width = max([it.end for it in d.id_items] + [rts + rtl, 1] + [p.end for p in plans.values()])
        wp = -(-width // 8) * 8  # rows are read as 8-byte words
        chunk_lines = max(256, min(CHUNK_LINES, CHUNK_BYTES // wp))

        # Non-ASCII text: validate the encoding, then re-align those lines character by character.
        uni_lines: dict[int, str] = {}
        if len(hi):
            try:
                codecs.lookup(encoding)
            except LookupError:
                raise UsageError("MD004", what="encoding", value=encoding, choices="utf-8, cp1252, latin-1, ...") from None
            # Each line holding non-ASCII bytes is decoded alone: in an ASCII-compatible
            # encoding no character spans a newline, so the first error is where a decoding
            # of the whole file would stop, without holding the whole file as text.
            for li in np.unique(np.searchsorted(nl, hi)).tolist():
                s, ln = _bounds(buf, nl, n, li, li + 1)
                try:
                    uni_lines[li] = bytes(buf[int(s[0]):int(s[0] + ln[0])]).decode(encoding)
                except UnicodeDecodeError as exc:
                    raise DataError("MD003", path=src, encoding=encoding,
                                    offset=int(s[0]) + exc.start + off + bytes_before) from None
        rd = _Reader(d, buf, n, nl, wp, plans, uni_lines, n_lines)

        rows: dict[str, list[Any]] = defaultdict(list)
        parts: dict[str, dict[str, list[Any]]] = {t: defaultdict(list) for t in plans}
        too_long: dict[str, list[int]] = {}

        def merge(ch: _Chunk) -> None:
            # problems of a chunk in line order (within a line, in the order found): the
            # report is the same whatever the chunk size or the number of threads
            for _, _, code, table, row, column, value, action, fields in sorted(
                    ch.problems, key=lambda p: (p[0], p[1])):
                probs.add(code, table, row, column, value, action, **fields)
            for t, r in ch.rows.items():
                rows[t].append(r)
                for col, a in ch.parts[t].items():
                    parts[t][col].append(a)
            for name, (first, cnt, longest) in ch.too_long.items():
                if name in too_long:
                    too_long[name][1] += cnt
                    too_long[name][2] = max(too_long[name][2], longest)
                else:
                    too_long[name] = [first, cnt, longest]
            if progress is not None:
                progress(ch.end, n)

        # Chunks are decoded by the pool and merged in order; a few are kept in flight so that
        # both threads stay busy while memory stays bounded.
        pending: deque[Future[_Chunk]] = deque()
        for c0 in range(0, n_lines, chunk_lines):
            c1 = min(c0 + chunk_lines, n_lines)
            if pool is None:
                merge(rd.chunk(c0, c1))
                continue
            pending.append(pool.submit(rd.chunk, c0, c1))
            if len(pending) > 2 * threads:
                merge(pending.popleft().result())
        while pending:
            merge(pending.popleft().result())

        # the file's bytes are no longer needed: free them before the tables are assembled
        del buf, nl  # unmaps the file
        rd.buf = rd.nl = None  # type: ignore[assignment]
        for name, (first, cnt, longest) in sorted(too_long.items(), key=lambda kv: kv[1][0]):
            rec = d.record(name)
            probs.add("MD403", name, first, None, longest, "kept", record=name, n=cnt,
                      length=rec.length, dictionary=d.path or d.name)
        tables, n_kept = _tables(d, plans, rd, rows, parts, probs, check_value_sets, max_problems,
                                 pool)
        blocks = _case_blocks(rd, plans, lines_before) if case_blocks else None
        if lines_before:
            for t in tables.values():
                t["_source_row"] += lines_before
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    report.set_counts(f"lines of {path.name}", read=n_lines, kept=n_kept, rejected=n_lines - n_kept)
    cb = _codebook(d, src, report, tables)
    cb.case_blocks = blocks
    return tables, cb


def _tables(d: CsproDictionary, plans: dict[str, _RecordPlan], rd: _Reader,
            rows: dict[str, list[Any]], parts: dict[str, dict[str, list[Any]]],
            probs: _Problems, check_value_sets: bool, max_problems: int,
            pool: ThreadPoolExecutor | None) -> tuple[dict[str, pd.DataFrame], int]:
    """Join the chunks into one table per record type, numbering cases and occurrences and
    reporting case-level problems. Returns (tables, lines kept)."""
    def join(pp: dict[str, list[Any]], f: _Field) -> Any:
        ps = pp.pop(f.col, None)  # each column's chunks are freed once joined
        if ps:
            return _concat(ps)
        return pd.array([], dtype="string") if not f.numeric else pd.array([], dtype="Int8")

    # the columns are joined on the pool while the cases are numbered here
    joined: dict[str, list[Any]] = {}
    for t, plan in plans.items():
        pp = parts.pop(t)
        joined[t] = [pool.submit(join, pp, f) if pool and f.col in pp else join(pp, f)
                     for f in plan.fields]
    # cases: a new case starts where the level-1 ID changes from the line before
    # (the arrays here have a row per line: at full scale each is hundreds of MB, so the common
    # case, no line rejected, is spared the ones it does not need)
    line_rec, case_key = rd.line_rec, rd.case_key
    n_lines = len(line_rec)
    valid = line_rec >= 0
    every = bool(valid.all())  # no line rejected: line numbers are valid-line numbers
    vidx = np.arange(0) if every else np.flatnonzero(valid)
    n_valid = n_lines if every else len(vidx)
    del valid
    K = case_key if every else case_key[:, vidx]
    new_case = np.ones(n_valid, dtype=bool)
    if n_valid > 1:
        new_case[1:] = False
        for k in range(len(K)):
            new_case[1:] |= K[k, 1:] != K[k, :-1]
    case_of_line = np.cumsum(new_case, dtype=np.int32)
    case_of_line -= 1
    if not every:
        case_no, case_of_line = case_of_line, np.full(n_lines, -1, dtype=np.int32)
        case_of_line[vidx] = case_no
        del case_no
    firsts = np.flatnonzero(new_case)
    block_first = firsts if every else vidx[firsts]  # first line of each case block
    n_cases = len(firsts)
    dup = None  # duplicate case IDs: found on the pool while the tables are built
    if len(K) and n_cases:
        Kf = K[:, firsts]
        dup = pool.submit(_duplicated_rows, Kf) if pool else _duplicated_rows(Kf)
    del K, new_case

    tables: dict[str, pd.DataFrame] = {}
    built = []
    for ri, rec in enumerate(d.records):
        plan = plans.get(rec.type_value)
        if plan is None:
            continue
        rws = rows.pop(rec.type_value, None) or []
        n_rows = sum(r[1] - r[0] if isinstance(r, tuple) else len(r) for r in rws)
        whole = n_rows == n_lines  # every line is one of this record's (rws is not needed)
        rws = None if whole else np.concatenate(
            [np.arange(*r) if isinstance(r, tuple) else r for r in rws] or [np.zeros(0, np.int64)])
        cases = case_of_line if whole else case_of_line[rws]
        cols = {f.col: c.result() if isinstance(c, Future) else c
                for f, c in zip(plan.fields, joined.pop(rec.type_value))}
        if rd.direct is not None and n_rows:
            for col, (v, m) in rd.direct.items():
                cols[col] = (_to_array(v, m) if whole
                             else _to_array(v[rws], None if m is None else m[rws]))
            rd.direct = None
        occ = np.ones(n_rows, dtype=np.int16)
        if n_rows:
            # occurrence = position within the run of lines of one case: a running count, set
            # back at each new case (in int16 arithmetic, which wraps as the int16 result would)
            first = firsts[1:] if whole else np.flatnonzero(cases[1:] != cases[:-1]) + 1
            occ[first] -= np.diff(first, prepend=0).astype(np.int16)
            np.cumsum(occ, dtype=np.int16, out=occ)
        ordered: dict[str, Any] = {f.col: cols.pop(f.col) for f in plan.fields[:plan.n_ids]}
        if rec.repeating:
            ordered["_occ"] = occ
        for f in plan.fields[plan.n_ids:]:
            ordered[f.col] = cols.pop(f.col)
        ordered["_source_row"] = np.arange(1, n_lines + 1) if whole else rws + 1
        # one constructor call without copies: the arrays were built for this table only
        tables[rec.name] = pd.DataFrame(ordered, copy=False)
        del ordered
        built.append((rec, plan, rws, cases, occ))

    if dup is not None:
        for li in block_first[dup.result() if pool else dup]:
            probs.add("MD406", d.records[line_rec[li]].name, int(li + 1), "case id",
                      rd.key_text(li), "kept")
    for rec, plan, rws, cases, occ in built:
        for k in np.flatnonzero(occ == rec.max_records + 1):
            line = k if rws is None else rws[k]
            probs.add("MD407", rec.name, int(line + 1), None, None, "kept",
                      record=rec.name, max=rec.max_records)
        if check_value_sets:
            _check_values(tables[rec.name], rec, plan, probs)
        # required records: a case lacking one is reported (kept)
        if rec.required and n_cases:
            have = np.zeros(n_cases, dtype=bool)
            have[cases] = True
            for li in block_first[~have][: max_problems + 1]:
                probs.add("MD411", rec.name, int(li + 1), None, rd.key_text(li),
                          "kept", record=rec.name)
    return tables, n_valid


def _case_blocks(rd: "_Reader", plans: dict[str, _RecordPlan], lines_before: int = 0
                 ) -> tuple[np.ndarray, ...] | None:
    """The case blocks of the lines read (runs of lines of one case id, all the record types
    returned together, in file order), from the per-line record types and case keys the reader
    has already built: the id of each block (bytes), its first line (1-based, counting
    ``lines_before``), the record name of that line, and the line after the last. None: no case
    id or no line. Equals, and replaces, looking the lines up again in the text: the ids'
    bytes at each line's start (tested against it)."""
    if not rd.key_words:
        return None
    wanted = np.zeros(len(rd.records) + 1, dtype=bool)  # (index -1, a rejected line: the last)
    wanted[[i for i, r in enumerate(rd.records) if r.type_value in plans]] = True
    lines = np.flatnonzero(wanted[rd.line_rec])
    if not len(lines):
        return None
    K = rd.case_key[:, lines]
    head = np.ones(len(lines), dtype=bool)
    for k in range(len(K)):
        head[1:] &= K[k, 1:] == K[k, :-1]
    head[1:] = ~head[1:]
    heads = lines[head]
    ids = np.ascontiguousarray(rd.case_key[:, heads].T).view(np.uint8)
    ids = np.ascontiguousarray(ids.reshape(len(heads), -1)[:, rd.key_pos]).view(f"S{len(rd.key_pos)}").ravel()
    names = np.asarray([r.name for r in rd.records], dtype=object)[rd.line_rec[heads]]
    return ids, heads + 1 + lines_before, names, np.int64(lines[-1] + 2 + lines_before)


def _duplicated_rows(K: np.ndarray) -> np.ndarray:
    """Columns of a (words x n) uint64 key matrix equal to an earlier column.

    The words are folded into one hash and sorted (numpy sorts integers far faster than a hash
    table counts them); only the columns whose hash repeats are then compared in full."""
    out = np.zeros(K.shape[1], dtype=bool)
    h = K[0].copy()
    for k in range(1, len(K)):
        h *= np.uint64(0x9E3779B97F4A7C15)
        h ^= K[k]
    hs = np.sort(h)
    rep = hs[1:][hs[1:] == hs[:-1]]
    if not len(rep):
        return out
    rep = np.unique(rep)
    cand = np.flatnonzero(rep[np.minimum(np.searchsorted(rep, h), len(rep) - 1)] == h)
    out[cand] = pd.DataFrame(K[:, cand].T).duplicated(keep="first").to_numpy()
    return out


def _concat(parts: list[Any]) -> Any:
    if isinstance(parts[0], pa.ChunkedArray) or isinstance(parts[0], pa.Array):
        arr = pa.chunked_array([p for p in parts])
        return pd.arrays.ArrowStringArray(arr) if hasattr(pd.arrays, "ArrowStringArray") else arr
    if isinstance(parts[0], pd.api.extensions.ExtensionArray):
        return type(parts[0])._concat_same_type(parts)
    return np.concatenate(parts)


_NP_INT = {"Int8": np.int8, "Int16": np.int16, "Int32": np.int32, "Int64": np.int64}


def _values(v: np.ndarray, na: np.ndarray, f: _Field) -> tuple[np.ndarray, np.ndarray | None]:
    """A numeric field's output values and NA mask (None for float64, where NA is NaN)."""
    dt = _int_dtype(f.width, f.item.decimals)
    if dt == "float64":
        out = v if v.dtype == np.float64 else v.astype(np.float64)
        out[na] = np.nan
        return out, None
    if v.dtype.kind == "f":
        v = np.rint(np.where(na, 0, v))
    return v.astype(_NP_INT[dt], copy=False), na


def _to_array(v: np.ndarray, mask: np.ndarray | None) -> Any:
    return v if mask is None else pd.arrays.IntegerArray(v, mask)


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
