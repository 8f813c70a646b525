"""A small CBMS 2022 file with planted problems, so users can see what the import report says.

A clean synthetic file is written first (:func:`migdata.sample.dataset.write_cbms`); then chosen
lines are edited in place, item by item, at the dictionary's positions. Every planted problem is
listed in ``planted_problems.csv`` (problem, household, roster line, file line, record type,
item, value, the message code expected in the import report) and in ``README.md``.

Planted problems:

- ``invalid_sex``: A05_SEX = 3 (the value set is 1, 2);
- ``invalid_of_code``: B06_OFI = 8 (the value set is 1-7);
- ``duplicate_line_no``: a member's LNO repeats the previous member's line number;
- ``skip_child_b06``: a child aged 10-14 with B06 answered (asked of 15+ only);
- ``skip_resident_country``: a resident (B06 = 7) with a country abroad in B09;
- ``skip_toddler_b01``: a child under 5 with B01 answered (asked of 5+ only);
- ``skip_ofw_section_e``: an OFW (B06 = 1) with Section E answered (OFWs skip it);
- ``invalid_country``: B09 = 9300 (CBMS codes are 9001-9256 and 9997);
- ``invalid_ppmm``: B01_PHILIPPINES1 = 1080 (Batangas has no city/municipality 80);
- ``truncated_line``: a Section A line cut inside A07_AGE;
- ``unknown_barangay``: a whole case moved to barangay 999 of its city/municipality (kept at the
  city/municipality's PSGC code, as an old 2022 barangay code of Bacoor would be).

Example:
    >>> "truncated_line" in PROBLEMS
    True
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import pandas as pd

from migdata.sample import cbms

PROBLEMS = {
    "invalid_sex": ("MD504", "A05_SEX is 3; the value set is 1 male, 2 female"),
    "invalid_of_code": ("MD504", "B06_OFI is 8; the value set is 1-7"),
    "duplicate_line_no": ("MD109", "two members of one household have the same line number"),
    "skip_child_b06": ("MD551", "B06-B10 are asked only of persons 15 and over"),
    "skip_resident_country": ("MD552", "B07-B10 are blank for residents (B06 = 7)"),
    "skip_toddler_b01": ("MD550", "B01-B05 are asked only of persons 5 and over"),
    "skip_ofw_section_e": ("MD557", "Section E is not asked of OFWs abroad (B06 = 1, 2, 3, 6)"),
    "invalid_country": ("MD556", "B09 must be a CBMS country code 9001-9256 or 9997"),
    "invalid_ppmm": ("MD555", "a PPMM place code must name a real city/municipality (or PP99)"),
    "truncated_line": ("MD402", "a line must not end inside an item"),
    "unknown_barangay": ("MD560", "a barangay the current PSGC lacks is counted at its city/municipality"),
}
FIELDS = ["problem", "expected_code", "rule", "hh_id", "roster_line", "file_line", "roster_file_line",
          "record_type", "item", "value"]


def _get(line: str, it: Any) -> str:
    return line[it.start - 1:it.start - 1 + it.length]


def _put(line: str, it: Any, value: str) -> str:
    text = value.zfill(it.length) if it.zero_fill else value.rjust(it.length)
    line = line.ljust(it.start - 1 + it.length)
    return line[:it.start - 1] + text + line[it.start - 1 + it.length:]


def _int(line: str, it: Any) -> int | None:
    s = _get(line, it).strip()
    return int(s) if s.isdigit() else None


class _Cases:
    """The lines of a CBMS file grouped by case, with each person's A/B/E line numbers."""

    def __init__(self, lines: list[str], lay: cbms.Layout) -> None:
        self.lines = lines
        self.lay = lay
        self.persons: list[dict[str, Any]] = []
        self.case_lines: dict[str, list[int]] = {}
        by_case: dict[str, dict[str, list[int]]] = {}
        for i, ln in enumerate(lines):
            if len(ln) < 28:
                continue
            cid = ln[1:28]
            self.case_lines.setdefault(cid, []).append(i)
            by_case.setdefault(cid, {}).setdefault(ln[0], []).append(i)
        for cid, recs in by_case.items():
            for k, ia in enumerate(recs.get("1", [])):
                a = lines[ia]
                self.persons.append({
                    "hh_id": cid, "k": k, "A": ia, "B": recs.get("3", [None] * (k + 1))[k],
                    "E": recs.get("6", [None] * (k + 1))[k],
                    "line": _int(a, lay.item("LNO")), "age": _int(a, lay.item("A07_AGE")),
                    "b06": _int(lines[recs["3"][k]], lay.item("B06_OFI")) if "3" in recs else None,
                })

    def find(self, used: set[str], **cond: Any) -> dict[str, Any]:
        for p in self.persons:
            if p["hh_id"] in used:
                continue
            ok = True
            for key, test in cond.items():
                if not test(p[key]):
                    ok = False
                    break
            if ok:
                used.add(p["hh_id"])
                return p
        raise RuntimeError(f"no person for {cond} in the clean file; generate more households")


def plant(lines: list[str], lay: cbms.Layout) -> tuple[list[str], list[dict[str, Any]]]:
    """Plant one problem of each kind in ``lines`` (text lines without newlines); returns the
    edited lines and the list of planted problems (one dict per problem, ``FIELDS``)."""
    cases = _Cases(lines, lay)
    used: set[str] = set()
    out = list(lines)
    planted: list[dict[str, Any]] = []

    def note(problem: str, p: dict[str, Any], line_idx: int, item: str, value: str) -> None:
        code, rule = PROBLEMS[problem]
        planted.append({"problem": problem, "expected_code": code, "rule": rule, "hh_id": p["hh_id"],
                        "roster_line": p.get("line"), "file_line": line_idx + 1,
                        "roster_file_line": p["A"] + 1 if p.get("line") is not None else None,
                        "record_type": out[line_idx][0], "item": item, "value": value})

    def edit(problem: str, p: dict[str, Any], rec: str, item: str, value: str) -> None:
        idx = p[rec]
        out[idx] = _put(out[idx], lay.item(item), value)
        note(problem, p, idx, item, value)

    adult = dict(age=lambda a: a is not None and a >= 20)
    p = cases.find(used, k=lambda k: k == 1, **adult)
    edit("invalid_sex", p, "A", "A05_SEX", "3")
    p = cases.find(used, b06=lambda b: b == 7, **adult)
    edit("invalid_of_code", p, "B", "B06_OFI", "8")
    p = cases.find(used, k=lambda k: k == 2, line=lambda ln: ln == 3)
    edit("duplicate_line_no", p, "A", "LNO", "2")
    planted[-1]["roster_line"] = 2
    p = cases.find(used, age=lambda a: a is not None and 10 <= a <= 14)
    edit("skip_child_b06", p, "B", "B06_OFI", "7")
    p = cases.find(used, b06=lambda b: b == 7, **adult)
    edit("skip_resident_country", p, "B", "B09_COUNTRY", "9201")
    p = cases.find(used, age=lambda a: a is not None and a < 5)
    edit("skip_toddler_b01", p, "B", "B01_MIG", "1")
    p = cases.find(used, b06=lambda b: b == 1)
    edit("skip_ofw_section_e", p, "E", "E01_WORK", "1")
    p = cases.find(used, b06=lambda b: b == 1)
    edit("invalid_country", p, "B", "B09_COUNTRY", "9300")
    p = cases.find(used, age=lambda a: a is not None and a >= 5)
    out[p["B"]] = _put(out[p["B"]], lay.item("B01_MIG"), "2")
    edit("invalid_ppmm", p, "B", "B01_PHILIPPINES1", "1080")
    p = cases.find(used, age=lambda a: a is not None and a >= 10)
    age_item = lay.item("A07_AGE")
    idx = p["A"]
    out[idx] = out[idx][:age_item.start + 1]  # keeps two of the three age columns: " 4" of " 41"
    note("truncated_line", p, idx, "A07_AGE", out[idx][age_item.start - 1:])
    p = cases.find(used, k=lambda k: k == 0)
    brgy = lay.item("BRGY_PSGC")
    for i in cases.case_lines[p["hh_id"]]:
        out[i] = _put(out[i], brgy, "999")
    geo = next(i for i in cases.case_lines[p["hh_id"]] if out[i][0] == "R")
    p = dict(p, line=None)
    note("unknown_barangay", p, geo, "BRGY_PSGC", "999")
    planted[-1]["hh_id"] = out[geo][1:28]
    return out, planted


def write_dirty(out_dir: str | os.PathLike[str], seed: int, ref: pd.DataFrame | None = None,
                households: int = 150) -> list[Path]:
    """Write ``cbms_2022_hpq_dirty.dat`` (+ dictionary, planted_problems.csv, README.md)."""
    from migdata.sample.dataset import write_cbms

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dat = out / "cbms_2022_hpq_dirty.dat"
    write_cbms(dat, households, seed, ref=ref)
    raw = dat.read_bytes()
    bom = raw[:3] == b"\xef\xbb\xbf"
    lines = raw[3 if bom else 0:].decode("utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    lay = cbms.Layout()
    edited, planted = plant(lines, lay)
    dat.write_bytes((b"\xef\xbb\xbf" if bom else b"") + ("\n".join(edited) + "\n").encode("utf-8"))
    csv_path = out / "planted_problems.csv"
    with open(csv_path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=FIELDS, lineterminator="\n")
        w.writeheader()
        for row in planted:
            w.writerow(row)
    readme = out / "README.md"
    readme.write_text(_readme(planted, households, seed), encoding="utf-8")
    return [dat, csv_path, readme, cbms.write_dictionary(out)]


def _readme(planted: list[dict[str, Any]], households: int, seed: int) -> str:
    rows = "\n".join(
        f"| {r['problem']} | {r['hh_id']} | {r['roster_line'] if r['roster_line'] is not None else '-'} "
        f"| {r['file_line']} | `{r['record_type']}` | {r['item']} | `{r['value']}` | {r['expected_code']} | {r['rule']} |"
        for r in planted)
    return f"""# Dirty CBMS 2022 sample: planted problems

`cbms_2022_hpq_dirty.dat` is a synthetic CBMS 2022 HPQ file ({households} households, seed {seed}) in the
fixed-width layout of PSA's CBMS 2022 HPQ dictionary (`HPQF2_DICT.dcf`; the dictionary beside
it, `cbms_2022_hpq_layout.dcf`, is migdata's own description of the records written), with the
problems below planted on purpose, so that you can see what `migdata import` reports. Nothing in
it describes real people.

    migdata import sample_data/dirty/cbms_2022_hpq_dirty.dat --profile cbms_2022_hpq --out dirty_store

Each problem is reported with the file line, the household (27-digit case id), the roster line,
the item and the value. A bad code in Section B that the profile maps (B06) is reported at the
member's Section A line (`roster_file_line` in the CSV), where the person's row starts.
`planted_problems.csv` holds the same list for programs (the tests use it). A planted problem
can cause a knock-on report: a repeated line number, for example, leaves a Section P member
list naming a line that is no longer on the roster (MD558).

| problem | household | roster line | file line | record | item | value | report code | rule |
|---|---|---|---|---|---|---|---|---|
{rows}

What the import does with them (lenient policy): invalid codes, skip-rule answers, the bad
country and place codes are set to missing and the rows kept; the person whose line number
repeats is rejected (the first one is kept); the truncated age is set to missing; the household in
the unknown barangay is kept and placed in its city/municipality (psgc is the city/municipality's
code). Every one of these is in the import report.
"""
