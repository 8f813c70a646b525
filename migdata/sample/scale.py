"""A seeded, streaming generator of CBMS 2022 files at regional and national scale.

:mod:`migdata.sample.dataset` writes the bundled CALABARZON sample. This module writes the same
cases (the population model of :mod:`migdata.sample.population` and
:mod:`migdata.sample.welfare`, in the layout of :mod:`migdata.sample.layout`, the positions of
PSA's CBMS 2022 HPQ dictionary) for the benchmarks and the scale tests:

- **where**: every barangay of the PSGC reference with a 2020 population and a 9-digit
  correspondence code (the 2022 geo ID; 41,973 of the 42,011), or those of one region,
  households allocated in proportion to the 2020 population; barangays in geo-ID order, so the
  file is sorted by region, province, city/municipality and barangay, as PSA's files are;
- **how**: chunk by chunk (``chunk_households``), each chunk encoded into one byte buffer with
  numpy (:class:`CaseEncoder`: every record type a byte matrix, rows trimmed and placed in their
  cases' lines; the same bytes as :func:`migdata.sample.cbms.write_cases`, several times
  faster), so memory stays bounded at any size. The CBMS layout spends about 1 KB of mostly blank
  text per person (120 GB for 110 M persons), so the file can be written compressed
  (``compression="zstd"`` or ``"gzip"``, pyarrow's codecs), which the streaming import reads.

Hand-written because no library writes CSPro data files (see :mod:`migdata.sample.cbms`).
The same ``persons``, ``seed``, ``region`` and ``chunk_households`` give the same bytes.

Example:
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp()) / "cbms.dat"
    >>> counts = write_cbms_scale(out, persons=2000, seed=1, region="1400000000")
    >>> counts["households"], out.with_name(DICTIONARY).exists()
    (476, True)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from migdata._kernels.text import count_byte
from migdata.sample import cbms, dataset, welfare
from migdata.sample import population as popmod

DICTIONARY = cbms.DICTIONARY_NAME
MEAN_SIZE = 4.2  # persons per household in the population model (8,404 in the 2,000 of the sample)
DEFAULT_CHUNK = 20_000  # households per chunk (about 85,000 persons, 95 MB of text)


def barangays(ref: pd.DataFrame | None = None, region: str | None = None) -> pd.DataFrame:
    """Barangays with a 2020 population and a 9-digit correspondence code, in geo-ID order
    (all of the country, or of ``region``, a 10-digit PSGC region code).

    Columns: ``psgc``, ``corr9``, ``ppmm``, ``population``."""
    if ref is None:
        from migdata.areas.reference import reference

        ref = reference()
    b = ref[ref["level"].astype(str) == "barangay"]
    if region is not None:
        b = b[b["psgc"].astype(str).str[:2] == str(region)[:2]]
    pop = pd.to_numeric(b["population_2020"], errors="coerce").fillna(0)
    b = b[(pop > 0) & b["correspondence_code"].notna()]
    out = pd.DataFrame({"psgc": b["psgc"].astype(str).to_numpy(),
                        "corr9": b["correspondence_code"].astype(str).str.zfill(9).to_numpy(),
                        "population": pop[b.index].astype(float).to_numpy()})
    out["ppmm"] = out["corr9"].str[2:6].astype(int)
    return out.sort_values("corr9", kind="stable").reset_index(drop=True)


class CaseEncoder:
    """Encodes chunks of CBMS cases into the bytes of the file: the bytes
    :func:`migdata.sample.cbms.write_cases` writes for the same arguments (a differential test
    checks it), built without a Python object per line.

    Every record type of a chunk is one ``(rows, width)`` byte matrix (record type and case id
    once per case, then each item: numbers as :meth:`Layout.encode` writes them, text as given),
    trimmed of trailing blanks; the cases' lines are then joined in file order: records in
    dictionary order, person records once per member, list records (Section L1) as often as
    the case lists them, and one line with only type and case id for every other required
    record."""

    def __init__(self, layout: cbms.Layout | None = None) -> None:
        self.layout = layout or cbms.Layout()
        d = self.layout.dictionary
        self._id_end = max([it.end for it in d.id_items] + [d.record_type_start - 1 + d.record_type_len])
        self._type_col = d.record_type_start - 1

    def _matrix(self, name: str, prefix: np.ndarray, values: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """The records' bytes (``prefix``: type and case id of each row, then each item) and
        each row's trimmed length."""
        rec = self.layout.record(name)
        rows = len(prefix)
        items = [(self.layout.item(k), v) for k, v in values.items()]
        width = max([prefix.shape[1]] + [it.start - 1 + it.length for it, _ in items])
        M = np.full((rows, width), 32, dtype=np.uint8)
        M[:, :prefix.shape[1]] = prefix
        M[:, self._type_col] = ord(rec.type_value)
        for it, v in items:
            lo = it.start - 1
            M[:, lo:lo + it.length] = cbms._numeric(np.asarray(v), it) if it.numeric else cbms._alpha(v, it.length)
        filled = M != 32
        trimmed = width - np.argmax(filled[:, ::-1], axis=1)
        trimmed[~filled.any(axis=1)] = 0
        return M, trimmed

    def encode(self, ids: dict[str, np.ndarray], members: np.ndarray,
               person_values: dict[str, dict[str, Any]], household_values: dict[str, dict[str, Any]],
               list_values: dict[str, tuple[np.ndarray, dict[str, Any]]] | None = None) -> bytes:
        """The bytes of the chunk's cases (arguments as :func:`migdata.sample.cbms.write_cases`)."""
        list_values = list_values or {}
        members = np.asarray(members, dtype=np.int64)
        n = len(members)
        hprefix = self.layout.encode(self.layout.dictionary.records[0].name, n,
                                     {k: np.asarray(v) for k, v in ids.items()})[:, :self._id_end]
        blocks = []  # per record: its lines' bytes (row order) and the end of each case's lines
        for rec in self.layout.dictionary.records:
            if rec.name in person_values:
                vals, occ = person_values[rec.name], members
            elif rec.name in list_values:
                occ, vals = np.asarray(list_values[rec.name][0], dtype=np.int64), list_values[rec.name][1]
            elif rec.name in household_values:
                vals, occ = household_values[rec.name], None
            elif rec.required:
                vals, occ = {}, None
            else:
                continue
            prefix = hprefix if occ is None else np.repeat(hprefix, occ, axis=0)
            M, trimmed = self._matrix(rec.name, prefix, vals)
            rows = len(M)
            M = np.hstack([M, np.full((rows, 1), 32, dtype=np.uint8)])
            M[np.arange(rows), trimmed] = 10  # each line ends with a newline after its last byte
            data = M[np.arange(M.shape[1])[None, :] <= trimmed[:, None]].tobytes()
            per_row = trimmed + 1
            per_case = per_row if occ is None else np.bincount(np.repeat(np.arange(n), occ), weights=per_row,
                                                               minlength=n).astype(np.int64)
            blocks.append((memoryview(data), np.cumsum(per_case)))
        # cases in order, each with its records in dictionary order
        ends = np.stack([e for _, e in blocks], axis=1).tolist()
        pieces = []
        prev = [0] * len(blocks)
        for row in ends:
            for j, (data, _) in enumerate(blocks):
                pieces.append(data[prev[j]:row[j]])
            prev = row
        return b"".join(pieces)


def _chunks(counts: np.ndarray, size: int) -> list[np.ndarray]:
    """Consecutive barangay groups of about ``size`` households (empty barangays skipped)."""
    nz = np.flatnonzero(counts)
    cum = np.cumsum(counts[nz])
    cuts = np.searchsorted(cum, np.arange(size, int(cum[-1]) + size, size), side="left") + 1 if len(nz) else []
    out, lo = [], 0
    for c in cuts:
        c = min(int(c), len(nz))
        if c > lo:
            out.append(nz[lo:c])
            lo = c
    if lo < len(nz):
        out.append(nz[lo:])
    return out


def write_cbms_scale(path: str | Path, persons: int, seed: int = 2022, region: str | None = None,
                     chunk_households: int = DEFAULT_CHUNK, compression: str | None = None,
                     progress: Callable[[int, int, str], None] | None = None,
                     ref: pd.DataFrame | None = None, part: tuple[int, int] = (0, 1)) -> dict[str, int]:
    """Write about ``persons`` persons of CBMS 2022 cases to ``path`` (and the layout's
    dictionary beside it, :data:`DICTIONARY`); returns the counts written (households,
    persons, lines, bytes of text).

    ``region``: a 10-digit PSGC region code (default: the whole country). ``compression``:
    ``"zstd"`` or ``"gzip"`` (written with pyarrow's codecs; the importer reads such files), or
    None for plain text. ``progress(done, total, message)`` is called after each chunk with
    households written.

    ``part=(i, k)`` writes only the ``i``-th of ``k`` consecutive runs of chunks (the byte-order
    mark with the first), so ``k`` processes can write a national file at once: the parts
    joined in order are the whole file's bytes (compressed: one zstd/gzip frame per part, which
    decompress to the whole as one stream). The counts returned are the part's.
    """
    import pyarrow as pa

    if ref is None:
        from migdata.areas.reference import reference

        ref = reference()
    path = Path(path)
    bgy = barangays(ref, region)
    places = popmod.Places.from_reference(ref)
    enc = CaseEncoder()
    households = max(int(round(persons / MEAN_SIZE)), 1)
    counts = np.random.default_rng([seed, 0]).multinomial(households, bgy["population"] / bgy["population"].sum())
    i, k = part
    if not 0 <= i < k:
        raise ValueError(f"part {part}: want (i, k) with 0 <= i < k")
    groups = _chunks(counts, chunk_households)
    lo, hi = len(groups) * i // k, len(groups) * (i + 1) // k
    tmp = path.with_name(path.name + ".part")
    totals = {"households": 0, "persons": 0, "lines": 0, "bytes": 0}
    sink = pa.CompressedOutputStream(str(tmp), compression) if compression else open(tmp, "wb")
    try:
        if i == 0:
            sink.write(b"\xef\xbb\xbf")
            totals["bytes"] += 3
        for c in range(lo, hi):
            group = groups[c]
            rng = np.random.default_rng([seed, 1, c])
            h, p = dataset.make_chunk(rng, bgy, np.repeat(group, counts[group]), places)
            h = h.assign(MODE=1, AGREE_INT=1)
            args = encoder_inputs(h, p)
            members = args[1]
            data = enc.encode(*args)
            sink.write(data)
            totals["households"] += len(members)
            totals["persons"] += int(members.sum())
            totals["lines"] += count_byte(data)
            totals["bytes"] += len(data)
            if progress is not None:
                progress(totals["households"], households, f"CBMS file: {totals['persons']:,} persons")
    finally:
        sink.close()
    tmp.replace(path)
    cbms.write_dictionary(path.parent)
    return totals


def encoder_inputs(h: pd.DataFrame, p: pd.DataFrame) -> tuple[dict, np.ndarray, dict, dict, dict]:
    """The arguments of :meth:`CaseEncoder.encode` for generated households ``h`` and persons ``p``
    (the generator's tables, as :func:`migdata.sample.dataset.write_chunk` takes them): id items,
    members per household, person and household items per record, and the Section L1 lists."""
    ids = {k: h[k].to_numpy() for k in cbms.ID_ITEMS}
    pv = {rec: {item: p[dataset._RENAME.get(item, item)].to_numpy() for item in items}
          for rec, items in dataset.PERSON_ITEMS.items()}
    hv = {rec: {item: h[item].to_numpy() for item in items} for rec, items in dataset.HOUSEHOLD_ITEMS.items()}
    hv["GEO_ID"] = {item: h[item].to_numpy() for item in dataset.GEO_ITEMS}
    l1_counts, l1 = welfare.l1_occurrences(p, len(h))
    lv = {"SECTION_L1": (l1_counts, {item: l1[item] for item in dataset.LIST_ITEMS["SECTION_L1"]})}
    return ids, h["NO_HHMEM"].to_numpy(), pv, hv, lv
