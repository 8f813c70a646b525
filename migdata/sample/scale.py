"""A seeded, streaming generator of CBMS 2022 files at regional and national scale.

:mod:`migdata.sample.dataset` writes the bundled sample with every detail (names, addresses,
coordinates); at 16.2 M persons it takes a quarter of an hour and at the national 110 M persons
of CBMS (27 M households, 42,011 barangays) about two hours. This module writes the same
records, in the same layout (:mod:`migdata.sample.layout`, the positions of PSA's CBMS 2022 HPQ
dictionary) and from the same population model (:mod:`migdata.sample.population`), for the
benchmarks and the scale tests:

- **where**: every barangay of the PSGC reference with a 2020 population and a 9-digit
  correspondence code (the 2022 geo ID), or those of one region, households allocated in
  proportion to the 2020 population; barangays in geo-ID order, so the file is sorted by region,
  province, city/municipality and barangay, as PSA's files are;
- **what is left blank**: the direct identifiers (names, street, house number, GPS), which the
  importer drops anyway; every other item the ``cbms_2022_hpq`` profile reads is filled;
- **how**: chunk by chunk (a few tens of thousands of households), each chunk encoded into one
  byte buffer with numpy (every record type is a byte matrix, trimmed and scattered into the
  lines of its cases), so memory stays bounded at any size; the file can be written compressed
  (``.zst``/``.gz`` through pyarrow's codecs), since the CBMS layout spends about 1 KB of mostly
  blank text per person (110 GB at national scale).

Hand-written because no library writes CSPro data files (see :mod:`migdata.sample.cbms`).
The same ``persons``, ``seed``, ``region`` and ``chunk_households`` give the same bytes.

Example:
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp()) / "cbms.dat"
    >>> counts = write_cbms_scale(out, persons=2000, seed=1, region="1400000000")
    >>> counts["persons"] >= 2000, out.with_name(DICTIONARY).exists()
    (True, True)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from migdata.sample import cbms
from migdata.sample import population as popmod
from migdata.sample.dataset import GEO_ITEMS, HOUSEHOLD_ITEMS, PERSON_ITEMS, _RENAME

DICTIONARY = cbms.DICTIONARY_NAME
MEAN_SIZE = 4.07  # persons per household: 110 M persons in 27 M households (CBMS 2022)
DEFAULT_CHUNK = 25_000  # households per chunk (about 100,000 persons, 100 MB of text)
#: Household items of the profile the bundled model does not fill (left as the model leaves them).
_LISTS = ("P02_1C_OWWA", "P02_1G_PHLHEALTH")
_SKIP_GEO = {"LSTNAME", "FIRSTNAME", "STRTNME", "HBN", "X_LONG", "Y_LAT"}  # identifiers: blank
_SKIP_PERSON = {"A01_HHNAME", "A01_LSTNAME", "A01_FIRSTNAME"}


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


def _member_lists(hh: np.ndarray, line: np.ndarray, flag: np.ndarray, n: int, width: int = 30) -> np.ndarray:
    """Per household, the flagged members' line numbers as two-digit codes ("0103"), at most
    ``width`` characters, as a ``(n, width)`` byte matrix (blank where none): the byte form of
    :func:`migdata.sample.population._member_lists`."""
    out = np.full((n, width), 32, dtype=np.uint8)
    sel = np.flatnonzero(flag)
    if len(sel):
        h, ln = hh[sel], line[sel]  # persons come sorted by household and line
        first = np.r_[True, h[1:] != h[:-1]]
        rank = np.arange(len(sel)) - np.maximum.accumulate(np.where(first, np.arange(len(sel)), 0))
        ok = 2 * rank + 1 < width
        out[h[ok], 2 * rank[ok]] = 48 + (ln[ok] // 10) % 10
        out[h[ok], 2 * rank[ok] + 1] = 48 + ln[ok] % 10
    return out


def household_items(rng: np.random.Generator, p: pd.DataFrame, n: int) -> dict[str, Any]:
    """Household items as :func:`migdata.sample.population.household_items` draws them (same
    model), member lists as byte matrices."""
    hh = p["hh"].to_numpy()
    b06 = p["B06_OFI"].to_numpy()
    line = p["line_no"].to_numpy()
    has_ofw = np.bincount(hh, weights=np.isin(b06, [1, 2]), minlength=n) > 0
    has_of = np.bincount(hh, weights=np.isin(b06, [3, 4, 6]), minlength=n) > 0
    u = rng.random(n)
    receives = np.where(has_ofw, u < 0.90, np.where(has_of, u < 0.3, u < 0.03))
    amount = np.where(has_ofw, rng.lognormal(np.log(150_000), 0.6, n), rng.lognormal(np.log(30_000), 0.8, n))
    h3g = np.where(receives, np.round(amount, -2), 0).astype(np.int64)
    other_income = np.round(rng.lognormal(np.log(260_000), 0.7, n), -2).astype(np.int64)
    out: dict[str, Any] = {"NO_HHMEM": np.bincount(hh, minlength=n), "H3G_CASHRECEIPTS": h3g,
                           "H03EN_CASHRECEIPTSN": np.ones(n, dtype=np.int64),
                           "H05_SOURCESOFINCOME": other_income + h3g}
    bank = rng.random(n) < np.where(receives, 0.55, 0.32)
    emoney = rng.random(n) < np.where(receives, 0.45, 0.28)
    coop = rng.random(n) < 0.05
    any_acct = bank | emoney | coop
    out["K01A_BANK"] = np.where(bank, 1, 2)
    out["K01C_EMONEY"] = np.where(emoney, 1, 2)
    out["K01E_COOP"] = np.where(coop, 1, 2)
    out["K03_REMITTANCE"] = np.where(any_acct, np.where(receives & (rng.random(n) < 0.65), 1, 2), -1)
    owwa = (b06 == 1) & (rng.random(len(p)) < 0.8)
    ph_hh = rng.random(n) < 0.75
    ph = ph_hh[hh] & ((p["A02"].to_numpy() <= 2) | (rng.random(len(p)) < 0.8))
    out["P01C_OWWA"] = np.where(np.bincount(hh, weights=owwa, minlength=n) > 0, 1, 2)
    out["P02_1C_OWWA"] = _member_lists(hh, line, owwa, n)
    out["P01G_PHLHEALTH"] = np.where(np.bincount(hh, weights=ph, minlength=n) > 0, 1, 2)
    out["P02_1G_PHLHEALTH"] = _member_lists(hh, line, ph, n)
    out["P05A_REG4PS"] = np.where(rng.random(n) < np.where(other_income < 150_000, 0.35, 0.03), 1, 2)
    out["P05J_HEALTH"] = np.where(rng.random(n) < 0.08, 1, 2)
    return out


class CaseEncoder:
    """Encodes chunks of CBMS cases (households with their members) into the bytes of the file.

    Every record type of a chunk is one ``(rows, width)`` byte matrix (:meth:`Layout.encode`
    for numbers, byte matrices for the member lists); rows are trimmed of trailing blanks and
    scattered into their lines: records in dictionary order within a case, person records once
    per member, and one line with only type and case id for every other required record."""

    def __init__(self, layout: cbms.Layout | None = None) -> None:
        self.layout = layout or cbms.Layout()
        plan = []
        for rec in self.layout.dictionary.records:
            if rec.name in PERSON_ITEMS:
                plan.append((rec.name, "person"))
            elif rec.name in HOUSEHOLD_ITEMS or rec.name == "GEO_ID":
                plan.append((rec.name, "household"))
            elif rec.required:
                plan.append((rec.name, "blank"))
        self.plan = plan
        d = self.layout.dictionary
        self._id_end = max([it.end for it in d.id_items] + [d.record_type_start - 1 + d.record_type_len])
        self._type_col = d.record_type_start - 1

    def _matrix(self, name: str, prefix: np.ndarray, values: dict[str, Any]) -> np.ndarray:
        """The records' bytes: ``prefix`` (record type and case id, the same for every record
        of a case) then each item of ``values`` (numbers: -1 is blank; byte matrices as given),
        as wide as the last item."""
        rec = self.layout.record(name)
        rows = len(prefix)
        width = max([prefix.shape[1]] + [self.layout.item(k).start - 1 + self.layout.item(k).length
                                         for k in values])
        M = np.full((rows, width), 32, dtype=np.uint8)
        M[:, :prefix.shape[1]] = prefix
        M[:, self._type_col] = ord(rec.type_value)
        for k, v in values.items():
            it = self.layout.item(k)
            lo = it.start - 1
            M[:, lo:lo + it.length] = v if v.ndim == 2 else cbms._numeric(np.asarray(v), it)
        return M

    def encode(self, ids: dict[str, np.ndarray], members: np.ndarray,
               person_values: dict[str, dict[str, Any]], household_values: dict[str, dict[str, Any]]) -> bytes:
        n, m = len(members), int(members.sum())
        hprefix = self.layout.encode(self.plan[0][0], n, ids)[:, :self._id_end]
        pprefix = np.repeat(hprefix, members, axis=0)
        blocks = []  # per record: its lines' bytes (row order) and where each case's lines end
        for name, kind in self.plan:
            vals = person_values[name] if kind == "person" else household_values.get(name, {})
            rows = m if kind == "person" else n
            M = self._matrix(name, pprefix if kind == "person" else hprefix, vals)
            # trimmed length of each line: the end of its last non-blank item (or of the case id)
            trimmed = np.full(rows, self._id_end, dtype=np.int64)
            for key, v in vals.items():
                it = self.layout.item(key)
                end = it.start - 1 + it.length
                if end <= self._id_end:
                    continue
                filled = (v != 32).any(axis=1) if v.ndim == 2 else np.asarray(v) >= 0
                np.maximum(trimmed, np.where(filled, end, 0), out=trimmed)
            # a newline after the last byte of each line, then the lines' bytes in row order
            M = np.hstack([M, np.full((rows, 1), 32, dtype=np.uint8)])
            M[np.arange(rows), trimmed] = 10
            data = M[np.arange(M.shape[1])[None, :] <= trimmed[:, None]].tobytes()
            per_row = trimmed + 1
            if kind == "person":
                per_case = np.bincount(np.repeat(np.arange(n), members), weights=per_row, minlength=n)
            else:
                per_case = per_row
            blocks.append((memoryview(data), np.cumsum(per_case).astype(np.int64)))
        # cases in order, each with its records in dictionary order
        ends = np.stack([e for _, e in blocks], axis=1).tolist()
        pieces = []
        prev = [0] * len(blocks)
        for i in range(n):
            row = ends[i]
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


def make_chunk(rng: np.random.Generator, bgy: pd.DataFrame, bgy_index: np.ndarray,
               places: popmod.Places) -> tuple[dict[str, np.ndarray], np.ndarray, pd.DataFrame, dict[str, Any]]:
    """One chunk: case ids, members per household, persons (source codes) and household items."""
    from migdata.sample.dataset import serials

    n = len(bgy_index)
    p = popmod.build_households(rng, n)
    p = popmod.add_migration(rng, p, bgy["ppmm"].to_numpy()[bgy_index], places)
    p = popmod.add_school_work(rng, p)
    h = household_items(rng, p, n)
    corr = bgy["corr9"].to_numpy()[bgy_index].astype("U9")
    digits = corr.view(np.uint32).reshape(n, 9).astype(np.int64) - 48 if n else np.zeros((0, 9), np.int64)
    ids = {"REG_PSGC": digits[:, 0] * 10 + digits[:, 1], "PROV_PSGC": digits[:, 2] * 10 + digits[:, 3],
           "CITY_MUN_PSGC": digits[:, 4] * 10 + digits[:, 5],
           "BRGY_PSGC": digits[:, 6] * 100 + digits[:, 7] * 10 + digits[:, 8]}
    ids.update(serials(rng, bgy_index))
    return ids, h["NO_HHMEM"], p, h


def write_cbms_scale(path: str | Path, persons: int, seed: int = 2022, region: str | None = None,
                     chunk_households: int = DEFAULT_CHUNK, compression: str | None = None,
                     progress: Callable[[int, int, str], None] | None = None,
                     ref: pd.DataFrame | None = None) -> dict[str, int]:
    """Write about ``persons`` persons of CBMS 2022 cases to ``path`` (and the layout's
    dictionary beside it, :data:`DICTIONARY`); returns the counts written (households,
    persons, lines, bytes of text).

    ``region``: a 10-digit PSGC region code (default: the whole country). ``compression``:
    ``"zstd"`` or ``"gzip"`` (written with pyarrow's codecs; the importer reads such files), or
    None for plain text. ``progress(done, total, message)`` is called after each chunk with
    households written.
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
    tmp = path.with_name(path.name + ".part")
    totals = {"households": 0, "persons": 0, "lines": 0, "bytes": 0}
    sink = pa.CompressedOutputStream(str(tmp), compression) if compression else open(tmp, "wb")
    try:
        sink.write(b"\xef\xbb\xbf")
        for c, group in enumerate(_chunks(counts, chunk_households)):
            rng = np.random.default_rng([seed, 1, c])
            index = np.repeat(group, counts[group])
            ids, members, p, h = make_chunk(rng, bgy, index, places)
            pv = {rec: {item: p[_RENAME.get(item, item)].to_numpy() for item in items if item not in _SKIP_PERSON}
                  for rec, items in PERSON_ITEMS.items()}
            hv = {rec: {item: h[item] for item in items if item in h} for rec, items in HOUSEHOLD_ITEMS.items()}
            hv["GEO_ID"] = {"MODE": np.ones(len(members), dtype=np.int64), "AGREE_INT": np.ones(len(members), dtype=np.int64),
                            "NO_HHMEM": members}
            data = enc.encode(ids, members, pv, hv)
            sink.write(data)
            totals["households"] += len(members)
            totals["persons"] += int(members.sum())
            totals["lines"] += data.count(b"\n")
            totals["bytes"] += len(data)
            if progress is not None:
                progress(totals["households"], households, f"CBMS file: {totals['persons']:,} persons")
    finally:
        sink.close()
    tmp.replace(path)
    cbms.write_dictionary(path.parent)
    totals["bytes"] += 3
    return totals
