"""Streaming import: a file of any size read, mapped, validated and written chunk by chunk.

:func:`migdata.import_files` holds a whole file in memory (16.2 M CALABARZON persons need about
3 GB; the national CBMS, 110 M persons, would need 20 GB or more). :func:`import_stream` reads a
CSPro file a chunk of cases at a time (never cutting a case), applies the same reader, profile,
hooks and validation rules to each chunk, and writes each chunk's rows at once into a
partitioned store (:mod:`migdata.model.partitions`), so memory holds one chunk plus a few
integers per row:

- **Rules within a row or a case** (value checks, codes, ranges, PSGC look-ups, the CBMS skip
  rules, ...) run on each chunk, with the file's own line numbers.
- **Rules between rows** (:func:`migdata.model.validate.check_keys`: duplicate household ids,
  duplicate person lines, persons without a household, several heads, empty households) run
  once, after the last chunk, on integer codes of all the rows: household ids are kept as exact
  byte strings in a registry of sorted runs (:class:`_Registry`, about 30 bytes per household), persons
  as the code of their household and their line number. The rows those rules reject are then
  removed from the parts already written, persons whose household lies in another chunk are
  written with it, and the problems are listed with the rows' key values read back from small
  key files kept beside the chunks.
- **The report** is the in-memory import's: the problems of each step are merged in file order
  (reader, profile and hooks, value checks, the rules between rows; the kinds of problems in
  the order the chunks agree on, ties in the profile's step order), and the counts add up. A
  case whose id reappears in a later chunk (``MD406``) is counted once, as in memory: its
  household row and that row's problems are the first copy's, and the records each copy joins
  are its own block's (:class:`migdata.profiles.engine.CaseBlocks`, the rule in memory too).
- **Worker processes** (``workers``: two for a file of more than two chunks, by default): what a chunk gives on its own (its rows read, mapped by the profile and checked row
  by row, its case blocks) is prepared in other processes, while this one registers each chunk's
  ids against the chunks before it and writes it, in file order, so the result is the one
  process's. Processes, not threads: the profile engine's pandas work holds the GIL (a thread
  pipeline was measured: no gain). The workers are forked by a fresh server process
  (``forkserver``), never from this one, whose Arrow threads may hold a lock, and they do not
  run the user's script again (a script needs no ``if __name__ == "__main__":`` guard).
  A plain file's chunks are mappings of the file (:func:`_mapped`), here to cut cases and count
  lines and in a worker to read the chunk at its offset: no copy of the text is made; a
  compressed file is decompressed straight into a few reused files in shared memory
  (:class:`_Spool`), which the workers map in turn. A worker runs one thread when the workers fill the cores, keeps the memory
  it frees for its next chunk, and sends back the checked tables only: a chunk that repeats an
  earlier chunk's case is prepared again here.
- **Killed mid-way**, the import leaves the old store untouched (the store is written in a
  temporary folder and swapped in at the end, as :meth:`HouseholdData.save` does); the shared
  memory it held for a compressed file's chunks is freed by the next import.

Files may be compressed (``.gz``, ``.zst``, ``.bz2``, ``.lz4``: decompressed by pyarrow as they
are read), which a 110 GB national file in the CBMS layout needs on most disks.

Example:
    >>> store = import_stream(["cbms_2022_hpq.dat"], "cbms_2022_hpq", "store")   # doctest: +SKIP
    >>> print(store.report.summary())                                           # doctest: +SKIP
"""

from __future__ import annotations

import heapq
import itertools
import mmap
import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from migdata._kernels.parallel import release_freed_memory
from migdata._kernels.text import count_byte, string_buffers
from migdata.errors import UsageError
from migdata.model.report import POLICIES, ImportReport, Problem, quoted_values

#: Bytes of text per chunk: about 2.7 M persons in the LFS layout, 250,000 in the CBMS layout.
CHUNK_BYTES = 256 << 20
#: Worker processes that prepare chunks (:func:`_prepared`) when a file has more than two.
WORKERS = 2
#: ``progress(message, done, total)`` (:mod:`migdata.progress`): bytes of input done.
Progress = Callable[..., None]
_COMPRESSED = {".gz": "gzip", ".zst": "zstd", ".bz2": "bz2", ".lz4": "lz4"}


def _codec(path: Path) -> str | None:
    """The compression of a data file, by its extension (None: plain text)."""
    return _COMPRESSED.get(path.suffix.lower())


def _open_stream(path: Path, codec: str | None) -> Any:
    """The file as a stream of its (decompressed) bytes."""
    return pa.input_stream(str(path), compression=codec) if codec else open(path, "rb")


# ----------------------------------------------------------------------------- chunks of cases
@dataclass
class Chunk:
    """The bytes of consecutive whole cases of a file, with the lines and bytes before them.

    ``file``: the plain (uncompressed) file the bytes are at offset ``bytes_before`` of, so that
    another process can read them itself (:meth:`text`) instead of receiving them."""

    data: Any
    lines_before: int
    bytes_before: int
    n_bytes: int = 0  # of a chunk without its data (:meth:`light`)
    file: str | None = None
    at: int | None = None  # where in ``file`` the bytes are, when not at ``bytes_before`` (:class:`_Spool`)

    @property
    def size(self) -> int:
        return len(self.data) if self.data is not None else self.n_bytes

    def light(self) -> "Chunk":
        """The chunk without its bytes (what the writer side keeps of a chunk sent to a worker):
        where they are in a plain file, if they are."""
        return Chunk(None, self.lines_before, self.bytes_before, self.size, self.file, self.at)

    def portable(self) -> "Chunk":
        """The chunk as sent to another process: where its bytes are in a plain file, or else a
        copy of them (the reader of :func:`chunks` reuses its buffer for the next chunk)."""
        if self.file is not None:
            return self.light()
        return Chunk(bytes(self.data), self.lines_before, self.bytes_before)

    def text(self, *, map_slot: bool = False) -> Any:
        """The chunk's bytes: its data, or read from its file. A plain file's bytes are mapped,
        not read; a spool slot's only with ``map_slot``, by a worker process, whose results are
        copies sent back before the slot is written again (here they could outlive the slot's
        text)."""
        if self.data is not None:
            return self.data
        if self.file is None:
            raise ValueError("a chunk without its bytes or its file")
        offset = self.bytes_before if self.at is None else self.at
        if self.at is None or map_slot:
            mapped = _mapped(self.file, offset, self.n_bytes, populate=self.at is not None)
            if mapped is not None:
                return mapped
        view = memoryview(bytearray(self.n_bytes))
        with open(self.file, "rb") as fh:
            fh.seek(offset)
            got = _read_into(fh, view)
        if got != self.n_bytes:
            raise OSError(f"{self.file}: {self.n_bytes} bytes expected at offset {offset}, "
                          f"{got} read (the file changed during the import)")
        return view


#: Linux's flag that maps a file's pages at once (not one fault at a time); 0 elsewhere.
_POPULATE = getattr(mmap, "MAP_POPULATE", 0)


def _map(fileno: int, length: int, offset: int = 0, *, write: bool = False, populate: bool = False) -> mmap.mmap:
    """A shared mapping of ``length`` bytes of an open file from ``offset``; ``populate``: its
    pages filled in at once where the system can (Linux)."""
    if populate and _POPULATE:
        return mmap.mmap(fileno, length, offset=offset, flags=mmap.MAP_SHARED | _POPULATE,
                         prot=mmap.PROT_READ | (mmap.PROT_WRITE if write else 0))
    return mmap.mmap(fileno, length, offset=offset, access=mmap.ACCESS_WRITE if write else mmap.ACCESS_READ)


def _mapped(path: str, offset: int, length: int, populate: bool = False) -> memoryview | None:
    """Bytes ``offset .. offset + length`` of the file at ``path``, mapped into memory (read-only;
    unmapped once the view and its slices are gone); None where they cannot be mapped (beyond
    the end of the file, a file that cannot be mapped). A chunk's text is then a view of the
    operating system's cache of the file, where reading it copied each chunk into a buffer (a
    quarter of the importing process's time). As the CSPro reader does with a whole file, a
    mapping assumes that no program shortens the file while it is imported."""
    if length <= 0:
        return None
    at = offset - offset % mmap.ALLOCATIONGRANULARITY  # a mapping starts on a page boundary
    try:
        with open(path, "rb") as fh:
            m = _map(fh.fileno(), offset + length - at, at, populate=populate)
    except (OSError, ValueError, OverflowError):
        return None
    return memoryview(m)[offset - at:]


def _tail_cut(buf: np.ndarray, d: Any, window: int = 4 << 20) -> tuple[int, np.ndarray]:
    """The last case start of a window of text (:func:`_case_cut`) among the starts of its
    complete lines, looked for in its last ``window`` bytes, then in 8 times more, up to the whole
    buffer: returns the index of the cut in the starts returned (0: no cut in the whole buffer,
    whose complete lines' starts are then returned). The newlines of the rest of the buffer are
    never looked at (a chunk is hundreds of megabytes; the cut lies in its last lines)."""
    n = len(buf)
    while True:
        w0 = max(n - window, 0)
        nl = np.flatnonzero(buf[w0:] == 10) + w0
        if len(nl):
            # line starts after each newline of the window (and the buffer's first line); the
            # line the window starts inside is not one of them
            starts = nl + 1 if w0 else np.r_[0, nl + 1]
            complete = starts[starts <= nl[-1]]  # the last line may be incomplete
            cut = _case_cut(buf, complete, d)
            if cut > 0 or w0 == 0:
                return cut, complete
        elif w0 == 0:
            return 0, np.zeros(1, dtype=np.int64)
        window *= 8


def _case_cut(buf: np.ndarray, starts: np.ndarray, d: Any, windows: Sequence[int] = (4096, 262144)) -> int:
    """Index of the last line that starts a case in ``buf`` (lines at ``starts``): a line of a
    known record type whose case id differs from that of the line before, which is also of a
    known type (lines too short or of unknown types never border a cut). 0 if none.

    The last cut is near the end: the lines are looked at from the end, a window at a time (a
    cut between two lines of the window is a cut of the whole chunk)."""
    n = len(starts)
    for tail in (*windows, n):
        lo = max(n - tail, 0)
        hit = _last_cut(buf, starts[lo:], d)
        if hit > 0 or lo == 0:
            return lo + hit
    return 0


def _id_offsets(d: Any) -> list[int]:
    """The byte offsets in a line of the dictionary's case-id items."""
    return sorted({c for it in (d.levels[0].id_items if d.levels else []) for c in range(it.start - 1, it.end)})


def _last_cut(buf: np.ndarray, starts: np.ndarray, d: Any) -> int:
    """:func:`_case_cut` over every line at ``starts`` (the last ends at the end of ``buf``)."""
    ids = _id_offsets(d)
    rts, rtl = d.record_type_start - 1, d.record_type_len
    need = max(ids + [rts + rtl - 1]) + 1 if ids or rtl else 1
    ends = np.r_[starts[1:] - 1, len(buf)]
    ok = (ends - starts) >= need
    types = {r.type_value.encode("latin-1") for r in d.records}
    if rtl:
        t = _id_bytes(buf, starts, range(rts, rts + rtl))
        # a line's type is one of the dictionary's (compared as byte rows: no bytes object per line)
        known = np.zeros(len(starts), dtype=bool)
        for tv in types:
            if len(tv) == rtl:
                known |= (t == np.frombuffer(tv, dtype=np.uint8)).all(axis=1)
        ok &= known
    if not ids:
        return int(len(starts) - 1)
    key = _id_bytes(buf, starts, ids)
    new = np.zeros(len(starts), dtype=bool)
    new[1:] = (key[1:] != key[:-1]).any(axis=1) & ok[1:] & ok[:-1]
    hit = np.flatnonzero(new)
    return int(hit[-1]) if len(hit) else 0


def chunks(path: str | Path, d: Any, chunk_bytes: int = CHUNK_BYTES, *, reuse: bool = False,
           spool: "_Spool | None" = None) -> Iterator[Chunk]:
    """The chunks of a CSPro data file (plain or compressed, see the module docstring): each
    about ``chunk_bytes`` of text, cut between two cases, never inside one. A chunk of a plain
    file names the file (:attr:`Chunk.file`) and is a view of its mapping (:func:`_mapped`).

    ``reuse`` (a file read, not mapped: compressed, or one that cannot be mapped): every chunk's
    data is a view of one buffer, which the next chunk is read into, so a chunk's data is valid
    only until the next chunk is asked for (the import prepares, or sends, each chunk before it
    asks for the next): the buffer's memory is touched once, not once per chunk.

    ``spool`` (a file read, for worker processes): the text is read straight into the spool's
    slots in turn (:class:`_Spool`), and each chunk names its slot (:attr:`Chunk.file`, at 0),
    so neither this process nor a worker copies it again."""
    path = Path(path)
    codec = _codec(path)
    mapped = not codec and _mapped(str(path), 0, 1) is not None
    win: _MappedWindows | _ReadWindows | _SpoolWindows = (
        _MappedWindows(path) if mapped else _SpoolWindows(path, codec, spool) if spool is not None
        else _ReadWindows(path, codec, reuse))
    try:
        start = n_carry = lines_before = 0  # the window starts at byte ``start``; ``n_carry`` seen
        while True:
            # the window: the carried tail of the last one, then up to ``want`` bytes more
            want = max(chunk_bytes - n_carry, 1 << 20)
            data, got = win.window(start, n_carry, want)
            size = n_carry + got
            if not size:
                break
            if got == 0:  # the end of the file: the rest is the last chunk
                yield Chunk(data, lines_before, start, **win.where())
                break
            if not win.has_newline(data):
                n_carry = size
                continue
            buf = np.frombuffer(data, dtype=np.uint8)
            cut_line, complete = _tail_cut(buf, d)
            if cut_line == 0:  # one case fills the window: read more before cutting
                if size > 16 * chunk_bytes:
                    cut_line = len(complete) - 1  # pathological: no case boundary; cut at a line
                else:
                    buf = complete = data = None  # type: ignore[assignment]
                    n_carry = size
                    continue
            cut = int(complete[cut_line])
            buf = complete = None  # type: ignore[assignment]
            out = Chunk(data[:cut], lines_before, start, **win.where())
            lines_before += count_byte(out.data)
            data = None  # type: ignore[assignment]
            yield out
            out = None  # type: ignore[assignment]  # not held while the next chunk is read
            win.carry(cut, size)
            start += cut
            n_carry = size - cut
    finally:
        win.close()


class _MappedWindows:
    """The windows of :func:`chunks` over a plain file: views of its mapping, no copy."""

    def __init__(self, path: Path) -> None:
        self.path, self.n = str(path), path.stat().st_size

    def where(self) -> dict[str, Any]:
        """Where the current window's chunk lies (:attr:`Chunk.file`, :attr:`Chunk.at`)."""
        return {"file": self.path}

    def window(self, start: int, n_carry: int, want: int) -> tuple[memoryview | None, int]:
        got = max(min(want, self.n - start - n_carry), 0)
        if not n_carry + got:
            return None, 0
        data = _mapped(self.path, start, n_carry + got)
        if data is None:
            raise OSError(f"{self.path}: {n_carry + got} bytes expected at offset {start} "
                          "(the file changed during the import)")
        return data, got

    @staticmethod
    def has_newline(data: memoryview) -> bool:
        # (the mapping from its page boundary to the window's end; stops at the first newline)
        m = data.obj
        return m.find(b"\n", len(m) - len(data)) >= 0

    def carry(self, cut: int, size: int) -> None:
        pass  # the next window is mapped from the cut

    def close(self) -> None:
        pass


class _ReadWindows:
    """The windows of :func:`chunks` read from a stream (a compressed file, or a plain one that
    cannot be mapped) into a buffer: the carried tail of the last window at its front, the next
    bytes read after it in place (no copy of the block to join them)."""

    def __init__(self, path: Path, codec: str | None, reuse: bool) -> None:
        self.stream = _open_stream(path, codec)
        self.reuse, self.store = reuse, bytearray(0)
        self.plain = None if codec else str(path)

    def where(self) -> dict[str, Any]:
        return {"file": self.plain}  # (a compressed file's chunk is its data alone)

    def window(self, start: int, n_carry: int, want: int) -> tuple[memoryview, int]:
        if not self.reuse or len(self.store) < n_carry + want:
            grown = bytearray(n_carry + want)
            grown[:n_carry] = memoryview(self.store)[:n_carry]
            self.store = grown
        view = memoryview(self.store)[n_carry:n_carry + want]
        got = _read_into(self.stream, view)
        view.release()
        return memoryview(self.store)[:n_carry + got], got

    def has_newline(self, data: memoryview) -> bool:
        return self.store.find(b"\n", 0, len(data)) >= 0  # (stops at the first newline)

    def carry(self, cut: int, size: int) -> None:
        if self.reuse:
            self.store[:size - cut] = self.store[cut:size]
        else:  # the chunk given out keeps its bytes: the tail goes to a new buffer
            self.store = bytearray(memoryview(self.store)[cut:size])

    def close(self) -> None:
        self.stream.close()


class _SpoolWindows:
    """The windows of :func:`chunks` read from a stream straight into the slots of a
    :class:`_Spool`, in turn: the carried tail of the last window copied to the front of the
    next slot, the next bytes read after it in place. Where a worker read the slot, the text
    was written to it and read back from it: two copies of every byte of the file (a tenth of
    the import's time). One slot is mapped here at a time (as one buffer was)."""

    def __init__(self, path: Path, codec: str | None, spool: "_Spool") -> None:
        self.stream = _open_stream(path, codec)
        self.spool, self.n = spool, 0
        self.view: memoryview | None = None  # the current window's slot, mapped
        self.tail = b""  # the bytes after the last chunk's cut, for the next slot

    def window(self, start: int, n_carry: int, want: int) -> tuple[memoryview, int]:
        if self.view is None or len(self.view) < n_carry + want:  # a new slot, or this one grows
            self.view = None  # (the smaller mapping goes before the larger is made)
            self.view = self.spool.slot(self.n, n_carry + want)
            if self.tail:
                self.view[:n_carry] = self.tail
                self.tail = b""
        view = self.view[n_carry:n_carry + want]
        got = _read_into(self.stream, view)
        view.release()
        return self.view[:n_carry + got], got

    def has_newline(self, data: memoryview) -> bool:
        return self.view.obj.find(b"\n", 0, len(data)) >= 0  # type: ignore[union-attr]

    def where(self) -> dict[str, Any]:
        return {"file": str(self.spool.path(self.n)), "at": 0}

    def carry(self, cut: int, size: int) -> None:
        self.tail = bytes(self.view[cut:size])  # type: ignore[index]
        self.view = None  # (unmapped with the chunk's last view)
        self.n += 1

    def close(self) -> None:
        self.stream.close()
        self.view = None


def _read_into(stream: Any, view: memoryview) -> int:
    """Fill ``view`` from ``stream`` as far as the stream goes (a read may return less than
    asked before the end); the bytes read."""
    got = 0
    while got < len(view):
        n = stream.readinto(view[got:])
        if not n:
            break
        got += n
    return got


# ----------------------------------------------------------------------------- exact id registry
def fixed_bytes(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """An Arrow string array as fixed-width byte strings (numpy ``S`` dtype, exact) and its
    validity mask. Equals ``np.asarray([s.encode() for s in values], dtype="S")`` for the valid
    values; built from Arrow's buffers, without Python strings."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    n = len(arr)
    valid = arr.is_valid().to_numpy(zero_copy_only=False) if arr.null_count else np.ones(n, dtype=bool)
    offsets, data = string_buffers(arr)
    lens = np.diff(offsets)
    w = max(int(lens.max()) if n else 1, 1)
    if n and (lens == w).all():
        mat = data[offsets[0]:offsets[-1]].reshape(n, w)
    else:
        mat = np.zeros((n, w), dtype=np.uint8)
        if n and int(lens.sum()):
            row = np.repeat(np.arange(n), lens)
            col = np.arange(int(lens.sum())) - np.repeat(offsets[:-1] - offsets[0], lens)
            mat[row, col] = data[offsets[0]:offsets[-1]]
    return np.ascontiguousarray(mat).view(f"S{w}").ravel(), valid


class _Registry:
    """Exact byte-string keys with an integer value each: the household ids seen so far and the
    global row of each one's first household. Equals a dict from id to first row, in a few bytes
    per key instead of a Python object.

    Kept as a few sorted runs, each at least twice the size of the next newer one (a
    log-structured merge): a chunk's keys are sorted on their own and merged into the runs of
    similar size, so each key is copied O(log n) times. One sorted array that took each chunk's
    keys by ``np.insert`` copied every key on every chunk: quadratic, 33 s for 10 M keys and
    minutes for the 27.5 M households of a national census (``bench_scale.py registry``)."""

    def __init__(self) -> None:
        self.runs: list[tuple[np.ndarray, np.ndarray]] = []  # (sorted keys, values), oldest first

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        """The value of each key (-1 where absent)."""
        out = np.full(len(keys), -1, dtype=np.int64)
        if not len(keys):
            return out
        for j, (ks, vs) in enumerate(self.runs):
            if ks.dtype.itemsize < keys.dtype.itemsize:  # widened once, kept wide
                ks = ks.astype(keys.dtype)
                self.runs[j] = (ks, vs)
            k = keys.astype(ks.dtype, copy=False)
            pos = np.minimum(np.searchsorted(ks, k), len(ks) - 1)
            hit = ks[pos] == k
            out[hit] = vs[pos[hit]]  # a key is in one run at most (only new keys are added)
        return out

    def add(self, keys: np.ndarray, vals: np.ndarray) -> None:
        """Add keys that are not registered yet (distinct), with their values."""
        if not len(keys):
            return
        order = np.argsort(keys, kind="stable")
        self.runs.append((keys[order], np.asarray(vals)[order]))
        while len(self.runs) > 1 and len(self.runs[-2][0]) < 2 * len(self.runs[-1][0]):
            (ka, va), (kb, vb) = self.runs[-2], self.runs.pop()
            w = max(ka.dtype.itemsize, kb.dtype.itemsize)
            ka, kb = ka.astype(f"S{w}", copy=False), kb.astype(f"S{w}", copy=False)
            pos = np.searchsorted(ka, kb)  # a linear merge of two sorted runs
            self.runs[-1] = (np.insert(ka, pos, kb), np.insert(va, pos, vb))


# ----------------------------------------------------------------------------- merged report
_LINE_CODES = {"MD401", "MD402", "MD404", "MD408", "MD409"}


def _merge_reader(reports: list[ImportReport], d: Any) -> list[Problem]:
    """The reader's problems of a file's chunks in the order one read of the file gives: line
    problems in line order, then per record type those of record types (MD403, merged) and
    cases, then the summaries of capped kinds."""
    out = [p for r in reports for p in r.problems if p.code in _LINE_CODES]
    rest = [p for r in reports for p in r.problems if p.code not in _LINE_CODES]
    order = {rec.name: i for i, rec in enumerate(d.records)}
    md403 = [p for p in rest if p.code == "MD403"]
    merged403: dict[str, Problem] = {}
    for p in md403:  # one per record type: the first line, all lines, the longest
        merged403.setdefault(p.table, p)
    out += sorted(merged403.values(), key=lambda p: p.source_row or 0)
    out += sorted((p for p in rest if p.code == "MD406"), key=lambda p: p.source_row or 0)
    for name in sorted(order, key=order.get):
        out += [p for p in rest if p.table == name and p.code in ("MD407", "MD405")]
        out += [p for p in rest if p.table == name and p.code == "MD411"]
    out += [p for p in rest if p.code not in ("MD403", "MD406", "MD407", "MD405", "MD411")]
    return out


def _merge_steps(reports: list[ImportReport], rank: Any = None) -> list[Problem]:
    """Problems of one step (profile and hooks, or value checks) of every chunk: each kind
    (code, table, column, action) in the order the chunks agree on (:func:`_merged_order`; ties
    by ``rank``, a kind's place among the step's rules, then by first appearance), its problems
    in chunk order (file order)."""
    groups: dict[tuple, list[Problem]] = {}
    seqs = []
    for r in reports:
        seq: dict[tuple, None] = {}
        for p in r.problems:
            k = (p.code, p.table, p.column, p.action)
            groups.setdefault(k, []).append(p)
            seq[k] = None
        seqs.append(list(seq))
    return [p for k in _merged_order(list(groups), seqs, rank) for p in groups[k]]


def _merged_order(kinds: list[tuple], seqs: list[list[tuple]], place: Any = None) -> list[tuple]:
    """``kinds`` in the order the chunks' own orders ``seqs`` agree on: a kind that any chunk
    lists before another comes before it (one read of the whole file lists the kinds in the
    order of the steps that find them, and each chunk lists a part of that order). Kinds no
    chunk shows together go by ``place`` (a function of a kind: its step's place) when given,
    then by first appearance, as do contradictions. A kind found only in a later chunk thus
    takes its place among the kinds of the chunks before it."""
    first = {k: i for i, k in enumerate(kinds)}
    kinds = sorted(kinds, key=lambda k: (place(k), first[k]) if place else first[k])
    rank = {k: i for i, k in enumerate(kinds)}
    after: dict[tuple, set[tuple]] = {k: set() for k in kinds}
    n_before = dict.fromkeys(kinds, 0)
    for seq in seqs:
        for a, b in zip(seq, seq[1:]):
            if b not in after[a]:
                after[a].add(b)
                n_before[b] += 1
    ready = [rank[k] for k in kinds if not n_before[k]]
    heapq.heapify(ready)
    out: list[tuple] = []
    while len(out) < len(kinds):
        if not ready:  # a contradiction (a cycle): the first kind not yet placed
            ready = [min(rank[k] for k in kinds if n_before[k] > 0)]
            n_before[kinds[ready[0]]] = 0
        k = kinds[heapq.heappop(ready)]
        if n_before[k] < 0:
            continue
        n_before[k] = -1  # placed
        out.append(k)
        for b in after[k]:
            if n_before[b] > 0:
                n_before[b] -= 1
                if not n_before[b]:
                    heapq.heappush(ready, rank[b])
    return out


# ----------------------------------------------------------------------------- the rows of all chunks
@dataclass
class _Rows:
    """What the rules between rows need of every row of one table, over all chunks: each array
    field a list of the chunks' arrays until :meth:`cat` joins it into one."""

    table: str
    code: list[np.ndarray] | np.ndarray = field(default_factory=list)      # households: first row of the id
    reject: list[np.ndarray] | np.ndarray = field(default_factory=list)    # rejected by the rules of one row
    part: list[np.ndarray] | np.ndarray = field(default_factory=list)      # partition number written to (-1: not written)
    line: list[np.ndarray] | np.ndarray = field(default_factory=list)      # persons: line number
    head: list[np.ndarray] | np.ndarray = field(default_factory=list)      # persons: is the head
    key_files: list[Path] = field(default_factory=list)       # per chunk: key columns, row order
    offsets: list[int] = field(default_factory=lambda: [0])   # first global row of each chunk

    def cat(self, name: str) -> np.ndarray:
        """The chunks' arrays of ``name`` as one, kept in their place: the pieces are freed
        (a national census's persons would otherwise be held twice) and a later call returns
        the same array."""
        parts = getattr(self, name)
        if isinstance(parts, np.ndarray):
            return parts
        out = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        setattr(self, name, out)
        return out


class _StoredChecker:
    """A checker (:class:`migdata.model.validate._Checker`) over the rows of all chunks, for the
    rules between rows: problems name the rows' source line, file and key values, read back from
    the chunks' key files for the offending rows only."""

    def __init__(self, rows: _Rows, reject: np.ndarray, report: ImportReport, policy: str,
                 source_file: str | None) -> None:
        from migdata.model.schema import schema

        self.rows, self.reject, self.report, self.policy = rows, reject, report, policy
        self.source_file = source_file
        self.table = rows.table
        self.key = schema()[rows.table]["key"]

    def fetch(self, mask: np.ndarray) -> pd.DataFrame:
        """Key columns (and source row/file) of the rows in ``mask``, in row order."""
        idx = np.flatnonzero(mask)
        offs = np.asarray(self.rows.offsets)
        chunk = np.searchsorted(offs, idx, side="right") - 1
        frames = []
        for c in np.unique(chunk):
            local = idx[chunk == c] - offs[c]
            frames.append(pd.read_parquet(self.rows.key_files[c]).iloc[local])
        if not frames:
            return pd.DataFrame(columns=["_source_row", *self.key])
        return pd.concat(frames, ignore_index=True)

    def column(self, name: str) -> "_Lazy":
        return _Lazy(self, name)

    def records(self, mask: np.ndarray) -> list[dict[str, Any]]:
        return self.fetch(mask).to_dict("records")

    def problem(self, code: str, mask: np.ndarray, column: str | None, values: Any, **fields: Any) -> None:
        """As :meth:`migdata.model.validate._Checker.problem` (the rules between rows only
        reject rows, never blank a value)."""
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        self.report_rows(code, mask, column, values, "failed" if self.policy == "strict" else "rejected",
                         **fields)
        self.reject |= mask

    def report_rows(self, code: str, mask: np.ndarray, column: str | None, values: Any, action: str,
                    **fields: Any) -> None:
        """As :meth:`migdata.model.validate._Checker.report_rows`."""
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        rows = self.fetch(mask)
        vals = quoted_values(values[mask]) if values is not None else [None] * len(rows)
        keycols = [c for c in self.key if c in rows.columns]
        self.report.record(
            code, table=self.table, column=column, action=action,
            rows=rows["_source_row"].to_numpy() if "_source_row" in rows else None,
            source_file=rows["_source_file"].to_numpy() if "_source_file" in rows else self.source_file,
            values=vals, records=rows[keycols] if keycols else None,
            mask=False if column in self.key else None, **fields)


class _Lazy:
    """A column of a :class:`_StoredChecker`'s rows, read only where a mask selects rows."""

    def __init__(self, checker: _StoredChecker, name: str) -> None:
        self.checker, self.name = checker, name

    def __getitem__(self, mask: np.ndarray) -> pd.Series:
        return self.checker.fetch(mask)[self.name]


# ----------------------------------------------------------------------------- a chunk on its own
@dataclass
class _Task:
    """What every chunk of one file is prepared with (sent once to each worker process)."""

    prof: Any
    file: Path
    dictionary: Any
    opts: dict[str, Any]
    multi: bool
    keep_identifiers: bool
    policy: str
    src: str | None


@dataclass
class _Ready:
    """A chunk read, mapped by the profile and checked row by row (:func:`_prepare`)."""

    rep_read: ImportReport
    cb: Any
    blocks: tuple[np.ndarray, ...] | None
    tidy: dict[str, pd.DataFrame] | None  # None: not sent back (see _worker_prepare)
    rep_map: ImportReport
    checked: tuple[Any, ...] | None


def _prepare(task: _Task, ch: Chunk, map_slot: bool = False) -> _Ready:
    """What a chunk gives on its own, whatever the chunks before it: its rows read and mapped by
    the profile, its case blocks, and the rules within a row (every policy but ``reject``, where
    value problems remove rows first). Nothing of the import's state is read or changed, so
    chunks are prepared in other processes while the one before is written. ``map_slot``: see
    :meth:`Chunk.text`."""
    from migdata.profiles.engine import apply_profile
    from migdata.readers.cspro import read_cspro

    f, d = task.file, task.dictionary
    rep_read = ImportReport()
    raw, cb = read_cspro(f, d, rep_read, data=ch.text(map_slot=map_slot), lines_before=ch.lines_before,
                         bytes_before=ch.bytes_before, case_blocks=True, **task.opts)
    blocks, cb.case_blocks = cb.case_blocks, None
    if task.multi:  # as the rows of several files joined in memory: the file's name as text
        for name, df in raw.items():
            raw[name] = df.assign(_source_file=np.full(len(df), str(f), dtype=object))
    rep_map = ImportReport()
    tidy = apply_profile(task.prof, raw, cb, rep_map, keep_identifiers=task.keep_identifiers)
    del raw
    checked = _check(tidy, task.policy, task.src) if task.policy != "reject" else None
    return _Ready(rep_read, cb, blocks, tidy, rep_map, checked)


def _check(tidy: dict[str, pd.DataFrame], policy: str, src: str | None) -> tuple[Any, ...]:
    """The rules within a row of a chunk's two tables; the PSGC codes' rejections are kept apart
    (in memory they run between MD108 and MD109)."""
    from migdata.model.validate import _check_psgc, _check_table

    rep_hh, rep_pp, rep_psgc = ImportReport(), ImportReport(), ImportReport()
    hh = _check_table(tidy["households"], "households", rep_hh, policy, src)
    pp = _check_table(tidy["persons"], "persons", rep_pp, policy, src)
    before = hh.reject.copy()
    hh.report = rep_psgc
    _check_psgc(hh)
    psgc_reject = hh.reject & ~before
    hh.reject = before
    return hh, pp, rep_hh, rep_pp, rep_psgc, psgc_reject


def _id_bytes(buf: np.ndarray, at: np.ndarray, ids: Sequence[int]) -> np.ndarray:
    """The bytes at offsets ``ids`` (ascending) of the lines starting at ``at`` (one row per
    line), in one gather. Equals ``np.stack([buf[np.minimum(at + c, len(buf) - 1)] for c in ids], axis=1)``
    (tested against it): past the end of the buffer a short last line reads its last byte."""
    ids = np.asarray(ids, dtype=np.int64)
    lo, hi = int(ids[0]), int(ids[-1])
    at = np.asarray(at, dtype=np.int64)
    out = np.empty((len(at), len(ids)), dtype=np.uint8)
    inside = at + hi < len(buf)
    if len(buf) > hi - lo and inside.any():  # a strided view of the buffer: nothing copied
        window = np.lib.stride_tricks.sliding_window_view(buf, hi - lo + 1)
        out[inside] = window[at[inside] + lo][:, ids - lo]
    rest = np.flatnonzero(~inside)  # the last lines of the buffer
    out[rest] = buf[np.minimum(at[rest, None] + ids[None, :], len(buf) - 1)]
    return out


def _in_blocks(rows: np.ndarray, first: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Whether each file line of ``rows`` lies in one of the blocks of lines ``[first, end)``
    (sorted, not overlapping)."""
    i = np.searchsorted(first, rows, side="right") - 1
    ok = i >= 0
    return ok & (rows < end[np.maximum(i, 0)])


_TASK: _Task | None = None  # a worker process's task (set once by its initializer)


def _worker_init(task: _Task, threads: int) -> None:
    global _TASK
    _TASK = task
    # the worker processes already fill the cores: threads there only compete for them
    # (measured on a 2-core machine: the reader took a third more CPU per chunk on two threads)
    from migdata._kernels import parallel
    parallel.set_threads(threads)
    parallel.keep_freed_memory()  # (a worker is ours alone; each chunk reuses the last one's memory)


def _threads_per_worker(workers: int) -> int:
    """Threads in each of ``workers`` worker processes: the cores left to each."""
    return max(1, (os.cpu_count() or 1) // max(workers, 1))


def _worker_prepare(ch: Chunk) -> _Ready:
    assert _TASK is not None
    # (the result is sent back before the chunk's spool slot is written again)
    ready = _prepare(_TASK, ch, map_slot=True)
    if ready.checked is not None and ch.file is not None:
        # the checked tables are what the importing process writes: the mapped ones are only
        # needed again for a chunk that repeats an earlier chunk's case (a defect, rare), which
        # it then prepares again from the file; half the data is sent back
        ready.tidy = None
    return ready


def _prepared(task: _Task, chunks_: Iterable[Chunk], workers: int, notes: list[str] | None = None
              ) -> Iterator[tuple[Chunk, _Ready]]:
    """``((ch, _prepare(task, ch)) for ch in chunks_)``, in order. With ``workers`` > 0 the chunks
    are prepared in that many worker processes, at most ``workers + 1`` ahead of the caller (the
    profile engine's work is pandas code that holds the GIL: threads do not share it out).

    Where worker processes cannot run (no process support, a task they cannot load), the chunks
    are prepared in this process and ``notes`` says why; an error of the data raised in a worker
    reaches the caller as it would here."""
    it = iter(chunks_)
    if workers > 0:
        try:
            yield from _in_workers(task, it, workers)
            return
        except _NoWorkers as exc:
            if notes is not None:
                notes.append(f"Worker processes could not be used ({exc}); the file was read in this process.")
            it = itertools.chain(exc.chunks, it)
    for ch in it:
        ready, light = _prepare(task, ch), ch.light()
        del ch  # the chunk's text goes before the next one is read (the caller keeps its size)
        yield light, ready


@contextmanager
def _main_not_run_again() -> Iterator[None]:
    """While worker processes start: the script that runs this program is not run again in them.

    A new Python process re-runs the main script (by its ``__file__``, or its module name under
    ``python -m``) unless the script keeps its work under ``if __name__ == "__main__":``; the
    workers need only migdata's own functions, so the main module is shown to the process
    machinery without a file or name for that moment, and restored after."""
    import sys

    main = sys.modules.get("__main__")
    saved = {k: main.__dict__[k] for k in ("__file__", "__spec__") if main is not None and k in main.__dict__}
    if main is not None:
        main.__dict__.pop("__file__", None)
        if "__spec__" in saved:
            main.__spec__ = None
    try:
        yield
    finally:
        if main is not None:
            main.__dict__.update(saved)


class _Spool:
    """Where the text of a compressed file's chunks is decompressed for the worker processes
    (:class:`_SpoolWindows`): a few files in shared memory (``/dev/shm``), written in turn, which
    the workers map as they map a plain file's chunks (:meth:`Chunk.text`). Sent through the
    pipe instead, the text was copied four times (a copy of the buffer, the pickle, the pipe
    both ways), into fresh memory each.

    A slot is written again only after the chunk that used it came back (``slots``: the chunks
    in flight, and the one being read), so a chunk's slot still holds its text while the
    importing process handles its result. :meth:`open` gives None where there is no
    ``/dev/shm`` or too little room in it: the text is then sent."""

    def __init__(self, folder: Path, slots: int) -> None:
        self.folder, self.slots = folder, slots

    @classmethod
    def open(cls, slots: int, chunk_bytes: int, shm: Path = Path("/dev/shm")) -> "_Spool | None":
        try:
            if not shm.is_dir():
                return None
            cls._remove_orphans(shm)
            if shutil.disk_usage(shm).free < 2 * slots * (chunk_bytes + (16 << 20)):
                return None
            return cls(Path(tempfile.mkdtemp(prefix=f"migdata-chunks-{os.getpid()}-", dir=shm)), slots)
        except OSError:
            return None

    @staticmethod
    def _remove_orphans(shm: Path) -> None:
        """Slots left by an import that was killed (its process is gone): shared memory is RAM,
        kept until the machine restarts."""
        for folder in shm.glob("migdata-chunks-*-*"):
            pid = folder.name.split("-")[2]
            if pid.isdigit() and not _alive(int(pid)):
                shutil.rmtree(folder, ignore_errors=True)

    def path(self, n: int) -> Path:
        """The file of the ``n``-th chunk's slot."""
        return self.folder / f"slot-{n % self.slots}"

    def slot(self, n: int, size: int) -> memoryview:
        """The ``n``-th chunk's slot, mapped for writing, at least ``size`` bytes. A slot's file
        only grows (a worker's mapping of a shorter file would fault past its end). The mapping
        goes with the chunk's last view (this process holds one slot, as it held one buffer),
        and is filled in at once (``MAP_POPULATE``: a page at a time, the kernel's faults took
        as long as the copy this saves)."""
        with open(self.path(n), "a+b") as fh:
            have = os.fstat(fh.fileno()).st_size
            if have < size:
                fh.truncate(size)
            return memoryview(_map(fh.fileno(), max(have, size), write=True, populate=True))

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    """Whether a process ``pid`` runs (on this machine)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process
        return True
    return True


def _in_memory(chunks_: list[Chunk]) -> list[Chunk]:
    """Chunks whose text is in a :class:`_Spool` slot, with their text read back (the slots go
    with the workers; a plain file's chunks are read at their offset again)."""
    return [Chunk(bytes(c.text()), c.lines_before, c.bytes_before) if c.at is not None else c for c in chunks_]


class _NoWorkers(Exception):
    """Worker processes failed before any chunk was prepared; ``chunks``: those sent to them."""

    def __init__(self, reason: str, chunks: list[Chunk]) -> None:
        super().__init__(reason)
        self.chunks = chunks


def _in_workers(task: _Task, it: Iterator[Chunk], workers: int) -> Iterator[tuple[Chunk, _Ready]]:
    import multiprocessing as mp
    import pickle
    from collections import deque
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    first: list[Chunk] = []  # kept whole until a worker has proved it works
    # (a chunk is sent as where it lies, in its file or a spool slot, or else as a copy of its text)

    cannot = (OSError, NotImplementedError, ImportError, pickle.PicklingError, TypeError, AttributeError,
              RuntimeError, BrokenProcessPool)
    try:
        pickle.dumps(task)
        # forkserver: a fresh process forks the workers, never this one with its threads
        ctx = mp.get_context("forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn")
        pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_worker_init,
                                   initargs=(task, _threads_per_worker(workers)))
    except cannot as exc:
        raise _NoWorkers(f"{type(exc).__name__}: {exc}", _in_memory(first)) from None
    proven = False
    try:
        pending: deque = deque()
        for ch in it:  # (an error reading the file is raised as it is, never taken for the workers')
            ch = ch.portable()  # (the next chunk is read into the same buffer)
            first.append(ch)
            try:
                with _main_not_run_again():  # the workers start with the first submissions
                    fut = pool.submit(_worker_prepare, ch)
            except cannot as exc:
                raise _NoWorkers(f"{type(exc).__name__}: {exc}", _in_memory(first)) from None
            pending.append((ch.light(), fut))
            if len(pending) > workers:
                break
        while pending:
            ch, fut = pending.popleft()
            nxt = next(it, None)  # read while the workers work
            if nxt is not None:
                nxt = nxt.portable()
                if not proven:
                    first.append(nxt)
                pending.append((nxt.light(), pool.submit(_worker_prepare, nxt)))
            try:
                ready = fut.result()
            except BrokenProcessPool as exc:
                if proven:
                    raise
                raise _NoWorkers(f"{type(exc).__name__}: {exc}", _in_memory(first)) from None
            if not proven:
                proven, first = True, []
            fut = None
            yield ch, ready
    finally:  # an error or an import abandoned: chunks not started yet are not prepared
        pool.shutdown(wait=True, cancel_futures=True)


# ----------------------------------------------------------------------------- the import
def import_stream(paths: str | Path | Iterable[str | Path], profile: Any, out: str | Path,
                  policy: str = "lenient", keep_identifiers: bool = False,
                  progress: Progress | None = None, reference_date: str | None = None,
                  partition_by: str = "province", force: bool = False,
                  chunk_bytes: int = CHUNK_BYTES, workers: int | None = None, **reader_options: Any) -> Any:
    """Import CSPro files chunk by chunk into a partitioned store at ``out``; returns the store
    (:class:`~migdata.model.partitions.Store`, with its ``report``). Arguments as
    :func:`migdata.import_files`; ``partition_by``: ``province`` or ``region``; ``chunk_bytes``:
    text per chunk; ``workers``: processes that read, map and check chunks while this one writes
    them (default None: :data:`WORKERS` for a file of more than two chunks, else none; 0: none).
    Other formats (survey-sized files) are imported in memory and saved
    partitioned. Under the strict policy nothing is written when a problem is found
    (:class:`~migdata.errors.DataError` MD119 with the report, as ``import_files``)."""
    from migdata.importer import _paths, import_files, provenance_of, strict_error
    from migdata.model import partitions
    from migdata.model.data import new_work_folder
    from migdata.profiles import load_profile

    if policy not in POLICIES:
        raise UsageError("MD004", what="validation policy", value=policy, choices=", ".join(POLICIES))
    prof = load_profile(profile)
    files = _paths(paths)
    levels = partitions.LEVELS[:partitions.LEVELS.index(partition_by) + 1]
    if (prof.reader or "") != "cspro" or set(prof.tables) - {"households", "persons"} \
            or not {"households", "persons"} <= set(prof.tables):
        data = import_files(files, prof, policy=policy, keep_identifiers=keep_identifiers,
                            reference_date=reference_date, **reader_options)
        return partitions.Store(data.save(out, force=force, partition_by=partition_by))
    provenance = provenance_of(prof, files, policy, keep_identifiers, reference_date)
    job = _Import(prof, files, provenance, policy, keep_identifiers, levels, progress, reader_options)
    writer = partitions.PartitionWriter(out, provenance.dataset_id, force, levels)
    staging = new_work_folder(writer.target)  # removed below; by the next import if this one is killed
    try:
        job.run(writer, staging, chunk_bytes, workers)
        if job.failed:
            raise strict_error(job.report)
        job.progress("checking ids across chunks")
        job.check_keys(writer)
        if policy == "strict" and job.report.n_problems > job.n_before_validate:
            raise strict_error(job.report, job.n_before_validate, job.listed_before_validate)
        job.finish_rows(writer, staging)
        job.report.check_balance()
        from migdata.model.data import HouseholdData

        data = HouseholdData({}, codebook=job.codebook, provenance=provenance, report=job.report)
        if job.codebook is not None:
            writer.write("_codebook", None, job.codebook.astype("string"))
        manifest = partitions.base_manifest(data)
        path = writer.close(manifest)
    except BaseException:
        writer.abort()
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return partitions.Store(path)


class _Import:
    """The state of one streaming import (see the module docstring)."""

    def __init__(self, prof: Any, files: list[Path], provenance: Any, policy: str, keep_identifiers: bool,
                 levels: tuple[str, ...], progress: Progress | None, reader_options: dict[str, Any]) -> None:
        self.prof, self.files, self.provenance, self.policy = prof, files, provenance, policy
        from migdata.progress import as_progress

        self.keep_identifiers, self.levels, self.progress = keep_identifiers, levels, as_progress(progress)
        self.reader_options = reader_options
        self.src = ", ".join(map(str, provenance.files)) or None
        self.hh, self.pp = _Rows("households"), _Rows("persons")
        self.registry = _Registry()
        self.pending: list[tuple[int, np.ndarray]] = []  # (chunk, persons' local rows) with no household in their chunk
        self.pending_ids: list[np.ndarray] = []
        self.keys_of: dict[tuple[str | None, ...], int] = {}
        self.part_files: dict[tuple[str, int, int], list[tuple[int, str]]] = {}
        self.extra_rejected: dict[str, int] = {}
        self.read_reports: list[tuple[Any, list[ImportReport]]] = []
        self.steps: dict[str, list[ImportReport]] = {"map": [], "hh": [], "pp": [], "psgc": []}
        self.psgc_reject: list[np.ndarray] = []
        self.lines: dict[str, list[int]] = {}
        self.notes: list[str] = []
        self.codebook: pd.DataFrame | None = None
        self.report = ImportReport()
        self.n_before_validate = self.listed_before_validate = 0
        self.failed = False
        self.chunk_no = 0
        self.waiting: dict[int, np.ndarray] = {}
        self.case_keys: dict[str, _Registry] = {}
        self.staging: Path | None = None

    # -- pass over the chunks ------------------------------------------------------------------
    def run(self, writer: Any, staging: Path, chunk_bytes: int, workers: int | None) -> None:
        from migdata.importer import fit_cspro_files, identifier_sources, layout_note

        self.staging = staging
        opts = dict(self.prof.reader_options)
        opts.update(self.reader_options)
        opts.pop("keep_identifiers", None)
        hidden = identifier_sources(self.prof) if not self.keep_identifiers else set()
        # the in-memory import's fitting step (migdata.importer.read_raw): each file's dictionary,
        # layout and items, identifiers never decoded; every file fitted before any is read
        files = fit_cspro_files(self.prof, self.files, opts, hidden)
        data_files = [f for f, *_ in files]
        total = sum(p.stat().st_size for p in data_files)
        done = 0
        for f, _, _, layout in files:
            if layout and layout.get("name"):
                self.notes.append(layout_note(f, layout["name"], self.prof))
        if workers is None:  # processes pay off once a file has a few chunks
            workers = WORKERS if total > 2 * chunk_bytes else 0
        for f, d, fopts, _ in files:
            reports: list[ImportReport] = []
            self.read_reports.append((d, reports))
            task = _Task(self.prof, f, d, fopts, len(data_files) > 1, self.keep_identifiers, self.policy, self.src)
            # a compressed file's text reaches the workers through shared memory (a plain file's
            # chunks are read where they lie in the file)
            spool = _Spool.open(workers + 2, chunk_bytes) if workers and _codec(f) else None
            try:
                for ch, ready in _prepared(task, chunks(f, d, chunk_bytes, reuse=True, spool=spool), workers,
                                           self.notes):
                    self.chunk(f, ready, reports, writer, staging, lambda: _prepare(task, ch).tidy)
                    done += ch.size
                    ready = None  # type: ignore[assignment]  # (not held while the next is prepared)
                    self.progress(f"importing {f.name} (chunk by chunk)", min(done, total), total)
            finally:
                if spool is not None:
                    spool.close()
            self.case_keys.pop(str(f), None)  # a file's case ids matter only while it is read
        self._merge_before_keys()

    def chunk(self, f: Path, ready: _Ready, reports: list[ImportReport], writer: Any, staging: Path,
              again: Callable[[], dict[str, pd.DataFrame]]) -> None:
        """Register and write a prepared chunk (:func:`_prepare`), in file order: the steps that
        depend on the chunks before it. ``again``: the chunk's mapped tables, prepared again
        (when the worker did not send them back)."""
        from migdata.importer import _reject_value_problems

        rep_read, rep_map, tidy = ready.rep_read, ready.rep_map, ready.tidy
        reports.append(rep_read)
        repeated = self._repeated_cases(f, ready.blocks, rep_read)
        key = f"lines of {f.name}"
        c = rep_read.counts.pop(key)
        prev = self.lines.setdefault(key, [0, 0, 0])
        self.lines[key] = [prev[0] + c["read"], prev[1] + c["kept"], prev[2] + c["rejected"]]
        if self.codebook is None:
            self.codebook = ready.cb.to_frame()
        for note in rep_map.notes:
            if note not in self.notes:
                self.notes.append(note)
        rep_map.notes = []
        self.steps["map"].append(rep_map)
        checked = ready.checked
        if tidy is None and (len(repeated[0]) or checked is None):
            tidy = again()
        if len(repeated[0]):
            # one row per case over the whole file, the first: a case whose id an earlier chunk
            # had keeps that chunk's row (as the profile engine keeps the first in memory)
            for tname, tspec in self.prof.tables.items():
                if tspec.get("one_per_case") and tname in tidy and "_source_row" in tidy[tname]:
                    rows = tidy[tname]["_source_row"].to_numpy(dtype="int64", na_value=-1)
                    tidy[tname] = tidy[tname][~_in_blocks(rows, *repeated)].reset_index(drop=True)
                    # and its problems: in memory the later copy's row never existed
                    rep_map.drop_rows(tname, lambda at: _in_blocks(at["_source_row"].to_numpy(), *repeated))
            checked = None  # checked again, on the rows that stay
        if self.policy == "reject":
            for rep in (rep_read, rep_map):  # each marks its own problems' rows as rejected
                tidy, extra = _reject_value_problems(tidy, rep, self.prof)
                for t, n in extra.items():
                    self.extra_rejected[t] = self.extra_rejected.get(t, 0) + n
        if self.policy == "strict" and (rep_read.n_problems or rep_map.n_problems):
            self.failed = True
        if self.failed:  # strict and a problem found: only count the rest of the problems
            return
        hh, pp, rep_hh, rep_pp, rep_psgc, psgc_reject = checked or _check(tidy, self.policy, self.src)
        self.psgc_reject.append(psgc_reject)
        for name, r in (("hh", rep_hh), ("pp", rep_pp), ("psgc", rep_psgc)):
            self.steps[name].append(r)
        self._keys(hh, pp, writer, staging)

    def _repeated_cases(self, f: Path, blocks: tuple[np.ndarray, ...] | None, report: ImportReport
                        ) -> tuple[np.ndarray, np.ndarray]:
        """This chunk's case blocks whose case id an earlier chunk of the file had, as the first
        line and the line after the last of each block: each such block is reported (MD406, as one
        read of the whole file reports a case id that is not contiguous)."""
        reg = self.case_keys.setdefault(str(f), _Registry())
        none = np.zeros(0, dtype=np.int64)
        if blocks is None:
            return none, none
        keys, first, recs, end = blocks
        seen = reg.lookup(keys) >= 0
        if seen.any():
            for h in np.flatnonzero(seen):
                report.add("MD406", table=recs[h], source_file=str(f), source_row=int(first[h]),
                           column="case id", value=bytes(keys[h]).decode("latin-1"), action="kept")
        uniq = np.unique(keys[~seen])
        reg.add(uniq, np.zeros(len(uniq), dtype=np.int64))
        ends = np.r_[first[1:], end]
        return first[seen], ends[seen]

    def _keys(self, hh: Any, pp: Any, writer: Any, staging: Path) -> None:
        """Code this chunk's ids against those of the chunks before, stage the key columns and
        write the rows that no rule of one row rejected."""
        from migdata.model.frame import household_positions
        from migdata.model.partitions import household_keys
        from migdata._kernels.keys import NA_LINE

        c = self.chunk_no
        self.chunk_no += 1
        h0 = self.hh.offsets[-1]
        hdf, pdf = hh.df, pp.df
        nh, npp = len(hdf), len(pdf)
        # household ids: the first row of each id over all chunks (exact, through the registry)
        ids, valid = fixed_bytes(pa.array(hdf["hh_id"].astype("string[pyarrow]")))
        code = np.full(nh, -1, dtype=np.int64)
        if valid.any():
            vi = np.flatnonzero(valid)
            known = self.registry.lookup(ids[vi])
            code[vi] = known
            new = vi[known < 0]
            if len(new):
                uniq, first, inv = np.unique(ids[new], return_index=True, return_inverse=True)
                code[new] = h0 + new[first][inv.reshape(-1)]
                self.registry.add(uniq, h0 + new[first])
        self.hh.code.append(code.astype(np.int32))  # rows of 2 G households at most per import
        self.hh.reject.append(hh.reject.copy())
        # persons: their household in this chunk (by position), else an earlier or later chunk
        pos = household_positions(hdf, pdf)
        pcode = np.where(pos >= 0, code[np.maximum(pos, 0)] if nh else -1, -1)
        away = np.flatnonzero((pos < 0) & pdf["hh_id"].notna().to_numpy())
        if len(away):
            pids, _ = fixed_bytes(pa.array(pdf["hh_id"].iloc[away].astype("string[pyarrow]")))
            self.pending.append((c, away))
            self.pending_ids.append(pids)
        self.pp.code.append(pcode.astype(np.int32))
        self.pp.reject.append(pp.reject.copy())
        self.pp.line.append(pdf["line_no"].to_numpy(dtype="int64", na_value=NA_LINE).astype(np.int32)
                            if "line_no" in pdf.columns else np.full(npp, NA_LINE, dtype=np.int32))
        self.pp.head.append((pdf["relationship"] == "head").fillna(False).to_numpy(dtype=bool)
                            if "relationship" in pdf.columns else np.zeros(npp, dtype=bool))
        # key files: what problem messages show of a row
        for rows, df, cols in ((self.hh, hdf, ["_source_row", "_source_file", "hh_id"]),
                               (self.pp, pdf, ["_source_row", "_source_file", "hh_id", "line_no"])):
            kf = staging / f"{rows.table}-{c:05d}.parquet"
            df[[x for x in cols if x in df.columns]].to_parquet(kf, index=False)
            rows.key_files.append(kf)
            rows.offsets.append(rows.offsets[-1] + len(df))
        # partitions: households by their area, persons with their household in this chunk
        keys, kcode = household_keys(hdf, self.levels)
        gpart = np.array([self.keys_of.setdefault(k, len(self.keys_of)) for k in keys], dtype=np.int64)
        hpart = gpart[kcode] if nh else np.zeros(0, dtype=np.int64)
        hpart = np.where(hh.reject | self.psgc_reject[-1], -1, hpart)
        ppart = np.where(pos >= 0, hpart[np.maximum(pos, 0)] if nh else -1, -1)
        ppart = np.where(pp.reject, -1, ppart)
        self.hh.part.append(hpart.astype(np.int16))
        self.pp.part.append(ppart.astype(np.int16))
        for table, df, part in (("households", hdf, hpart), ("persons", pdf, ppart)):
            self._write(writer, table, c, df, part)
        # persons kept so far but not written (their household is elsewhere or was rejected):
        # staged, in case the rules between rows find them a household
        waiting = np.flatnonzero(~pp.reject & (ppart < 0))
        if len(waiting):
            pdf.iloc[waiting].to_parquet(staging / f"waiting-{c:05d}.parquet", index=False)
            self.waiting[c] = waiting

    def _write(self, writer: Any, table: str, c: int, df: pd.DataFrame, part: np.ndarray) -> None:
        """Write the rows of ``df`` to their partitions (``part``: -1 not written)."""
        keys = {v: k for k, v in self.keys_of.items()}
        order = np.argsort(part, kind="stable")
        sp = part[order]
        for p in np.unique(sp[sp >= 0]):
            rows = order[np.searchsorted(sp, p, "left"):np.searchsorted(sp, p, "right")]
            # a file sorted by area gives each partition a run of rows: a slice of the frame is
            # a view, where taking the rows copies every column
            run = int(rows[-1]) - int(rows[0]) + 1 == len(rows)
            part_rows = df.iloc[int(rows[0]):int(rows[-1]) + 1] if run else df.iloc[rows]
            names = writer.write(table, keys[int(p)], part_rows)
            self.part_files[(table, c, int(p))] = names

    def _merge_before_keys(self) -> None:
        """The report up to the rules between rows, merged from the chunks."""
        from migdata.model.validate import check_order
        from migdata.profiles.engine import step_order

        r = self.report
        for d, reports in self.read_reports:
            r.extend_problems(_merge_reader(reports, d), reports)
        for key, (read, kept, rejected) in self.lines.items():
            r.set_counts(key, read=read, kept=kept, rejected=rejected)
        r.extend_problems(_merge_steps(self.steps["map"], step_order(self.prof)), self.steps["map"])
        r.notes += self.notes
        self.n_before_validate, self.listed_before_validate = r.n_problems, len(r.problems)
        if self.failed:
            return
        r.extend_problems(_merge_steps(self.steps["hh"], check_order("households")), self.steps["hh"])
        r.extend_problems(_merge_steps(self.steps["pp"], check_order("persons")), self.steps["pp"])

    # -- the rules between rows --------------------------------------------------------------
    def check_keys(self, writer: Any) -> None:
        from migdata._kernels.keys import HouseholdKeys
        from migdata.model.validate import check_keys

        hcode = self.hh.cat("code")
        pcode = self.pp.cat("code")
        n_hh = len(hcode)
        # persons whose household is in another chunk: look their id up among all households
        pending_rows = [self.pp.offsets[c] + rows for c, rows in self.pending]
        orphan_rows = orphan_codes = np.zeros(0, dtype=np.int64)
        if pending_rows:
            prow = np.concatenate(pending_rows)
            pids = np.concatenate([x.astype(f"S{max(p.dtype.itemsize for p in self.pending_ids)}")
                                   for x in self.pending_ids])
            found = self.registry.lookup(pids)
            pcode[prow] = found
            lost = np.flatnonzero(found < 0)
            if len(lost):  # ids no household has: codes past the households, one per id
                _, first, inv = np.unique(pids[lost], return_index=True, return_inverse=True)
                rank = np.argsort(np.argsort(first, kind="stable"), kind="stable")  # order of first appearance
                orphan_rows, orphan_codes = prow[lost], n_hh + rank[inv.reshape(-1)]
        self.registry = _Registry()  # its last use: ~1 GB for a national census, freed before the rules
        # with the chunks' freed heap (a third of the process at 10 M persons) handed back: the
        # rules' arrays of every row come on top of what is left
        release_freed_memory()
        pp_code = pcode.copy()
        pp_code[orphan_rows] = orphan_codes
        keys = HouseholdKeys.from_codes(hcode, pcode, pp_code)
        self.hh_reject_rows = self.hh.cat("reject")
        self.pp_reject_rows = self.pp.cat("reject")
        hh = _StoredChecker(self.hh, self.hh_reject_rows.copy(), self.report, self.policy, self.src)
        pp = _StoredChecker(self.pp, self.pp_reject_rows.copy(), self.report, self.policy, self.src)
        psgc = self.psgc_reject

        def psgc_step() -> None:
            self.report.extend_problems(_merge_steps(self.steps["psgc"]), self.steps["psgc"])
            hh.reject |= np.concatenate(psgc) if psgc else np.zeros(0, bool)

        check_keys(hh, pp, keys, self.pp.cat("line"), self.pp.cat("head"), self.policy, psgc=psgc_step)
        self.hh_final, self.pp_final, self.keys = hh.reject, pp.reject, keys

    def finish_rows(self, writer: Any, staging: Path) -> None:
        """Remove from the written parts the rows the rules between rows rejected, write the
        persons whose household was in another chunk, and set the counts."""
        r = self.report
        for rows, final, name in ((self.hh, self.hh_final, "households"), (self.pp, self.pp_final, "persons")):
            part = rows.cat("part")
            if name == "persons":
                # a person's partition is its household's (the first row of its id)
                hpart = self.hh.cat("part")
                code = self.keys.pp_hh
                want = np.where(code >= 0, hpart[np.maximum(code, 0)] if len(hpart) else -1, -1)
                want = np.where(final, -1, want)
            else:
                want = np.where(final, -1, part)
            self._fix(writer, name, rows, part, want)
            n = len(final)
            extra = self.extra_rejected.get(name, 0)
            r.set_counts(name, read=n + extra, kept=int((~final).sum()), rejected=int(final.sum()) + extra)

    def _fix(self, writer: Any, table: str, rows: _Rows, written: np.ndarray, want: np.ndarray) -> None:
        """Rewrite the parts that hold rows which must go (rejected, or to another partition),
        and write the rows that were not written where they now belong."""
        bad = np.flatnonzero(written != want)
        if not len(bad):
            return
        offs = np.asarray(rows.offsets)
        keys = {v: k for k, v in self.keys_of.items()}
        for c in np.unique(np.searchsorted(offs, bad, side="right") - 1).tolist():
            lo, hi = offs[c], offs[c + 1]
            w, t = written[lo:hi], want[lo:hi]
            moving: dict[int, list[pd.DataFrame]] = {}
            for p in np.unique(w[(w != t) & (w >= 0)]).tolist():
                sel = np.flatnonzero(w == p)  # the chunk's rows in partition p, as written
                names = self.part_files.pop((table, c, p))
                df = pd.concat([writer.read_part(n) for n in names], ignore_index=True)
                writer.drop(names)
                stay = t[sel] == p
                if stay.any():
                    self.part_files[(table, c, p)] = writer.write(table, keys[p], df[stay])
                for q in np.unique(t[sel][(t[sel] >= 0) & ~stay]).tolist():
                    moving.setdefault(q, []).append(df[t[sel] == q])
            arrive = np.flatnonzero((w < 0) & (t >= 0))
            if len(arrive):  # only staged rows (persons waiting for a household) can arrive
                staged = pd.read_parquet(self.staging / f"waiting-{c:05d}.parquet")
                at = np.searchsorted(self.waiting[c], arrive)
                for q in np.unique(t[arrive]).tolist():
                    moving.setdefault(q, []).append(staged.iloc[at[t[arrive] == q]])
            for q, frames in moving.items():
                writer.write(table, keys[q], pd.concat(frames, ignore_index=True))
