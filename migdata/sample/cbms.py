"""Write CBMS 2022 HPQ cases as CSPro fixed-width text, in the layout of PSA's CBMS 2022 HPQ dictionary.

Hand-written because no library writes CSPro data files. Positions, lengths and zero-fill come
from the project's layout subset (:mod:`migdata.sample.layout`, ``cbms_2022_layout.csv``, checked
against PSA's ``HPQF2_DICT.dcf`` in the tests), through the same CSPro dictionary that is written
beside every generated file (``cbms_2022_hpq_layout.dcf``), so the file follows the layout the
importer reads. Records of a case are written in dictionary order
(``R`` geo, ``V``, ``1`` Section A x members, ``3`` Section B x members, ``4`` C, ``5`` D,
``6`` E x members, ..., ``B`` H, ..., ``F`` K, ..., ``M`` P, ...); the n-th occurrence of a
person record belongs to roster line n (Sections B, C and E carry no line number), so every
member has one record of each, blank where the item was not asked. Sections the sample does not
fill but the dictionary marks as required get one blank record (type and case ID only). As
CSPro does, trailing blanks are trimmed; the file is UTF-8 with a BOM.

Encoding is vectorised: each record type of a chunk becomes a ``(rows, record length)`` byte
matrix filled item by item.

Example:
    >>> lay = Layout()
    >>> lay.item("A05_SEX").start, lay.record("SECTION_A").type_value
    (230, '1')
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, Mapping

import numpy as np

from migdata.readers.cspro import CsproDictionary, Item, Record, read_dictionary
from migdata.sample import layout as layout_spec

ID_ITEMS = ("REG_PSGC", "PROV_PSGC", "CITY_MUN_PSGC", "BRGY_PSGC", "EAN", "BSN", "HUSN", "HSN")
DICTIONARY_NAME = layout_spec.DICTIONARY_NAME


def write_dictionary(out_dir: str | Path) -> Path:
    """Write the layout's CSPro dictionary (``cbms_2022_hpq_layout.dcf``) into ``out_dir``."""
    return layout_spec.write_dictionary(layout_spec.load_layout(), Path(out_dir) / DICTIONARY_NAME)


class Layout:
    """Items and records of the dictionary, by name: the project's layout subset, or the
    CSPro dictionary at ``path`` (PSA's full dictionary, in the tests)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.dictionary: CsproDictionary = read_dictionary(path) if path else layout_spec.cspro_dictionary()
        self._items: dict[str, Item] = {it.name: it for it in self.dictionary.items()}
        self._records: dict[str, Record] = {r.name: r for r in self.dictionary.records}

    def item(self, name: str) -> Item:
        return self._items[name]

    def record(self, name: str) -> Record:
        return self._records[name]

    def encode(self, record: str, n: int, values: Mapping[str, object]) -> np.ndarray:
        """A ``(n, width)`` uint8 matrix of ``n`` records; ``values`` maps item names to arrays.

        ``width`` is the end of the last item given (shorter than the record: CSPro trims
        trailing blanks).

        Numeric arrays use ``-1`` (or any negative) for a blank item; alpha arrays hold str.
        """
        rec = self.record(record)
        # only the columns up to the last item given: the rest would be trimmed blanks anyway
        ts0 = self.dictionary.record_type_start - 1 + len(rec.type_value)
        width = max([ts0] + [self.item(k).start - 1 + self.item(k).length for k in values])
        buf = np.full((n, width), 32, dtype=np.uint8)
        ts = self.dictionary.record_type_start - 1
        buf[:, ts:ts + len(rec.type_value)] = np.frombuffer(rec.type_value.encode("ascii"), np.uint8)
        for name, v in values.items():
            it = self.item(name)
            if not it.is_id and it.record != rec.name:
                raise KeyError(f"{name} is not an item of {record}")
            lo = it.start - 1
            buf[:, lo:lo + it.length] = _numeric(np.asarray(v), it) if it.numeric else _alpha(v, it.length)
        return buf


def _numeric(v: np.ndarray, it: Item) -> np.ndarray:
    w = it.length
    v = v.astype(np.int64)
    if (v >= 10 ** w).any():
        bad = v[v >= 10 ** w][0]
        raise ValueError(f"value {bad} does not fit item {it.name} ({w} columns)")
    blank = v < 0
    vv = np.where(blank, 0, v)
    powers = 10 ** np.arange(w - 1, -1, -1, dtype=np.int64)
    out = (48 + (vv[:, None] // powers) % 10).astype(np.uint8)
    if not it.zero_fill:
        lead = (vv[:, None] < powers) & (np.arange(w) < w - 1)
        out[lead] = 32
    out[blank] = 32
    return out


def _alpha(v: object, w: int) -> np.ndarray:
    arr = np.asarray(v, dtype=object)
    b = np.array([("" if s is None else str(s)).encode("ascii", "replace")[:w] for s in arr], dtype=f"S{w}")
    out = b.view(np.uint8).reshape(len(arr), w).copy() if len(arr) else np.zeros((0, w), np.uint8)
    out[out == 0] = 32
    return out


def lines(matrix: np.ndarray) -> list[bytes]:
    """Each row as bytes without trailing blanks (as CSPro writes them).

    The trimmed length is found with numpy (the last non-blank column of each row), so the
    Python loop only slices.
    """
    n, width = matrix.shape
    if n == 0:
        return []
    filled = matrix != 32
    last = (filled * np.arange(1, width + 1, dtype=np.int32)).max(axis=1)
    buf = matrix.tobytes()
    return [buf[i * width:i * width + k] for i, k in enumerate(last.tolist())]


def write_cases(fh: IO[bytes], layout: Layout, ids: Mapping[str, np.ndarray],
                members: np.ndarray, person_values: Mapping[str, Mapping[str, object]],
                household_values: Mapping[str, Mapping[str, object]],
                list_values: Mapping[str, tuple[np.ndarray, Mapping[str, object]]] | None = None) -> int:
    """Write the cases of one chunk; returns the number of lines written.

    ``ids`` holds the 8 ID items per household; ``members`` the number of roster lines per
    household (persons are sorted by household, then line); ``person_values[record]`` and
    ``household_values[record]`` the item arrays of each record; ``list_values[record]`` is
    ``(occurrences per household, item arrays)`` for a repeating record whose occurrences are not
    one per member (Section L1: the k-th pregnant woman, ill member ... of a case). Records are
    written in dictionary order; person records once per member; every other record the
    dictionary marks as required gets one line holding only its type and the case ID (a section
    left blank).
    """
    n = len(members)
    list_values = list_values or {}
    members = np.asarray(members, dtype=np.int64)
    pid = {k: np.repeat(np.asarray(v), members) for k, v in ids.items()}  # shared by person records
    plan = []  # (record name, kind, occurrences per case) in file order
    for rec in layout.dictionary.records:
        if rec.name in person_values:
            plan.append((rec.name, person_values[rec.name], members))
        elif rec.name in list_values:
            counts, vals = list_values[rec.name]
            plan.append((rec.name, vals, np.asarray(counts, dtype=np.int64)))
        elif rec.name in household_values:
            plan.append((rec.name, household_values[rec.name], None))
        elif rec.required:
            plan.append((rec.name, {}, None))
    per_case = sum(np.ones(n, dtype=np.int64) if occ is None else occ for _, _, occ in plan)
    start = np.concatenate([[0], np.cumsum(per_case)[:-1]]).astype(np.int64)
    total = int(np.sum(per_case))
    out: list[bytes] = [b""] * total
    offset = np.zeros(n, dtype=np.int64)  # lines of this case already placed
    for name, values, occ in plan:
        if occ is not None:  # repeating record: occurrence k of case i at start + offset + k
            m = int(occ.sum())
            k = np.arange(m) - np.repeat(np.concatenate([[0], np.cumsum(occ)[:-1]]), occ)
            vals = dict(pid) if occ is members else {key: np.repeat(np.asarray(v), occ) for key, v in ids.items()}
            vals.update(values)
            pos = np.repeat(start + offset, occ) + k
            rows = lines(layout.encode(name, m, vals))
            offset += occ
        else:
            vals = dict(ids)
            vals.update(values)
            pos = start + offset
            rows = lines(layout.encode(name, n, vals))
            offset += 1
        for p_, row in zip(pos.tolist(), rows):
            out[p_] = row
    fh.write(b"\n".join(out) + b"\n")
    return total
