"""The CBMS 2022 HPQ profile (``cbms_2022_hpq``) and the CBMS country crosswalk.

Expected values come from outside the profile: the fixed-width files are read here with plain
string slicing (positions of PSA's HPQF2_DICT.dcf, checked in test_sample.py and
test_cbms_layout.py), codes are mapped with
the tables of DOMAIN.md §2.2 written out below, and the dirty sample's problems come from its
own list of planted problems (each checked in the file here before it is looked for in the report).
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest

from conftest import realfile
from migdata.importer import import_files
from migdata.profiles import load_profile
from migdata.profiles.cbms_2022_hpq import countries, member_lines
from migdata.sample.cbms import Layout
from migdata.sample.dataset import write_cbms

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"
DIRTY = SAMPLE / "dirty"
CSV = ROOT / "migdata" / "profiles" / "cbms_countries.csv"
DCF = "cbms_2022_hpq_layout.dcf"  # the dictionary migdata writes beside its CBMS files

# DOMAIN.md §2.2.3: A02 relationship codes -> the canonical list (codes.toml)
A02 = {1: "head", 2: "spouse", 3: "child", 4: "child", 5: "child", 6: "child", 7: "child_in_law",
       8: "child_in_law", 9: "grandchild", 10: "grandchild", 11: "parent", 12: "parent",
       13: "parent_in_law", 14: "parent_in_law", 15: "sibling", 16: "sibling", 17: "sibling_in_law",
       18: "sibling_in_law", 19: "other_relative", 20: "other_relative", 21: "other_relative",
       22: "other_relative", 23: "other_relative", 24: "boarder", 25: "domestic_helper", 26: "non_relative"}
B06 = {1: "ofw_contract", 2: "ofw_no_contract", 3: "embassy_staff", 4: "student", 5: "tourist",
       6: "other_of", 7: "resident"}


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is not in this checkout")
    return path


def cases(path: Path) -> dict[str, dict[str, list[tuple[int, str]]]]:
    """case id -> record type -> [(file line, text)] read with plain Python."""
    text = path.read_bytes().decode("utf-8-sig")
    out: dict[str, dict[str, list[tuple[int, str]]]] = {}
    for i, line in enumerate(text.split("\n"), start=1):
        if len(line) >= 28:
            out.setdefault(line[1:28], {}).setdefault(line[0], []).append((i, line))
    return out


def col(line: str, start: int, length: int) -> int | None:
    v = line[start - 1:start - 1 + length].strip()
    return int(v) if v.isdigit() else None


@pytest.fixture(scope="module")
def clean():
    dat = _need(SAMPLE / "cbms_2022_hpq.dat")
    return import_files([dat, SAMPLE / DCF], "cbms_2022_hpq"), cases(dat)


@pytest.fixture(scope="module")
def dirty():
    dat = _need(DIRTY / "cbms_2022_hpq_dirty.dat")
    data = import_files([dat, DIRTY / DCF], "cbms_2022_hpq")
    with open(DIRTY / "planted_problems.csv", encoding="utf-8") as fh:
        planted = list(csv.DictReader(fh))
    return data, planted, dat


# --- the clean sample -----------------------------------------------------------------------------

def test_clean_sample_imports_without_problems(clean):
    data, raw = clean
    assert data.report.problems == []
    n_persons = sum(len(r.get("1", [])) for r in raw.values())
    assert data.report.counts["households"] == {"read": len(raw), "kept": len(raw), "rejected": 0}
    assert data.report.counts["persons"] == {"read": n_persons, "kept": n_persons, "rejected": 0}
    assert (data.households["weight"] == 1).all()
    assert set(data.households["source"]) == {"cbms_2022_hpq"}


def test_identifiers_dropped(clean):
    data, _ = clean
    for gone in ("head_last_name", "head_first_name", "street", "house_number", "longitude", "latitude"):
        assert gone not in data.households.columns
    assert "name" not in data.persons.columns


def test_identifiers_kept_on_request(tmp_path):
    dat = tmp_path / "c.dat"
    write_cbms(dat, 5, seed=9)
    data = import_files([dat, _need(SAMPLE / DCF)], "cbms_2022_hpq", keep_identifiers=True)
    raw = cases(dat)
    first = next(iter(raw.values()))
    geo = first["R"][0][1]
    assert data.households.loc[0, "head_last_name"] == geo[29:59].strip()  # LSTNAME cols 30-59
    assert data.persons.loc[0, "name"] == first["1"][0][1][30:124].strip()  # A01_HHNAME cols 31-124


@pytest.fixture(scope="module")
def parsed(clean):
    """The clean sample's persons and households read with plain slicing, and the tidy tables."""
    data, raw = clean
    persons, households = [], []
    for cid, recs in raw.items():
        hrec, krec, prec = recs["B"][0][1], recs["F"][0][1], recs["M"][0][1]
        owwa = member_lines(prec[95:125])  # P02_1C_OWWA, columns 96-125
        households.append({"hh_id": cid, "h3g": col(hrec, 113, 9), "h05": col(hrec, 533, 9),
                           "k01": [col(krec, c, 1) for c in range(29, 36)]})
        for (_, a), (_, b), (_, e) in zip(recs["1"], recs["3"], recs["6"]):
            ln = col(a, 29, 2)
            persons.append({"hh_id": cid, "line_no": ln, "a05": col(a, 230, 1), "a07": col(a, 239, 3),
                            "a02": col(a, 224, 2), "a03": col(a, 226, 2), "b06": col(b, 140, 1),
                            "b08": col(b, 147, 2), "b09": col(b, 149, 4), "e01": col(e, 29, 1),
                            "e03": col(e, 31, 1), "e25": col(e, 282, 1), "e32": col(e, 382, 1),
                            "owwa": ln in owwa})
    pp = pd.DataFrame(persons).merge(data.persons, on=["hh_id", "line_no"], how="left", validate="1:1")
    hh = pd.DataFrame(households).merge(data.households, on="hh_id", how="left", validate="1:1")
    return pp, hh


def test_roster_values_match_the_file(parsed):
    pp, _ = parsed
    assert (pp["sex"].astype(object) == pp["a05"].map({1: "male", 2: "female"})).all()
    assert (pp["age"] == pp["a07"]).all()
    assert (pp["relationship"].astype(object) == pp["a02"].map(A02)).all()
    assert (pp["relationship_src"] == pp["a02"].astype(str)).all()
    assert (pp["family_no"] == pp["a03"]).all()
    asked = pp["b06"].notna()
    assert (pp.loc[asked, "of_status"].astype(object) == pp.loc[asked, "b06"].map(B06)).all()
    assert pp.loc[~asked, "of_status"].isna().all()
    assert len(pp) > 5000


def test_overseas_items_match_the_file(parsed):
    pp, _ = parsed
    iso = {9201: "SAU", 9240: "ARE", 9104: "HKG", 9125: "KWT", 9185: "QAT", 9207: "SGP", 9224: "TWN",
           9116: "JPN", 9243: "USA", 9039: "CAN", 9015: "AUS", 9241: "GBR"}
    sel = pp["b09"].isin(iso)
    assert sel.sum() > 100
    assert (pp.loc[sel, "of_country"] == pp.loc[sel, "b09"].map(iso)).all()
    assert (pp.loc[sel, "of_country_src"] == pp.loc[sel, "b09"].astype(int).astype(str)).all()
    known = sel & pp["b08"].notna() & (pp["b08"] != 98)
    assert (pp.loc[known, "months_abroad"] == pp.loc[known, "b08"]).all()
    assert pp.loc[sel & (pp["b08"] == 98), "months_abroad"].isna().all()


def test_labour_force_status_follows_section_e(parsed):
    pp, _ = parsed
    answered = (pp["a07"] >= 15) & pp["e01"].notna()
    emp = (pp["e01"] == 1) | (pp["e03"] == 1)
    unemp = ~emp & (pp["e25"] == 1) & (pp["e32"] == 1)
    want = pd.Series("not_in_labour_force", index=pp.index).mask(emp, "employed").mask(unemp, "unemployed")
    assert (pp.loc[answered, "lf_status"].astype(object) == want[answered]).all()
    assert pp.loc[~answered, "lf_status"].isna().all()
    assert set(want[answered]) == {"employed", "unemployed", "not_in_labour_force"}


def test_household_items_match_the_file(parsed):
    pp, hh = parsed
    assert (hh["cash_abroad"] == hh["h3g"]).all()
    assert (hh["income"] == hh["h05"]).all()
    assert (hh["has_account"].astype(bool) == hh["k01"].map(lambda f: 1 in f)).all()
    assert (pp["owwa_member"].astype(bool) == pp["owwa"]).all()
    assert pp["owwa"].sum() > 50


def test_member_lines():
    assert member_lines("0103") == [1, 3]
    assert member_lines("12") == [12]
    assert member_lines("") == [] and member_lines(None) == []


# --- the dirty sample: each planted problem is reported where it is --------------------------------

def test_dirty_problems_are_in_the_file(dirty):
    _, planted, dat = dirty
    lines = dat.read_bytes().decode("utf-8-sig").split("\n")
    lay = Layout()
    for row in planted:
        line = lines[int(row["file_line"]) - 1]
        assert line[0] == row["record_type"]
        it = lay.item(row["item"])
        got, want = line[it.start - 1:it.start - 1 + it.length].strip(), row["value"].strip()
        assert got == want or (got.isdigit() and want.isdigit() and int(got) == int(want)), row["problem"]


def test_each_planted_problem_is_reported_with_its_location(dirty):
    data, planted, _ = dirty
    probs = data.report.to_frame()
    assert len(planted) == 11
    for row in planted:
        rows = {int(row["file_line"])}
        if row["roster_file_line"]:
            rows.add(int(row["roster_file_line"]))
        hit = probs[(probs["code"] == row["expected_code"]) & probs["source_row"].isin(rows)]
        assert len(hit) >= 1, f"{row['problem']}: no {row['expected_code']} at line(s) {rows}"
        msg = hit.iloc[0]["message"]
        assert str(min(rows)) in msg or str(max(rows)) in msg


def test_dirty_counts_balance_and_duplicate_rejected(dirty):
    data, planted, _ = dirty
    data.report.check_balance()
    dup = next(r for r in planted if r["problem"] == "duplicate_line_no")
    c = data.report.counts["persons"]
    assert c["rejected"] == 1 and c["read"] == c["kept"] + 1
    kept = data.persons[data.persons["hh_id"] == dup["hh_id"]]
    assert kept["line_no"].is_unique


def test_dirty_values_set_missing(dirty):
    data, planted, _ = dirty
    p = data.persons.set_index(["hh_id", "line_no"])
    by = {r["problem"]: r for r in planted}
    r = by["invalid_sex"]
    assert pd.isna(p.loc[(r["hh_id"], int(r["roster_line"])), "sex"])
    r = by["skip_child_b06"]
    assert pd.isna(p.loc[(r["hh_id"], int(r["roster_line"])), "of_status"])
    r = by["skip_ofw_section_e"]
    assert pd.isna(p.loc[(r["hh_id"], int(r["roster_line"])), "lf_status"])
    r = by["truncated_line"]
    assert pd.isna(p.loc[(r["hh_id"], int(r["roster_line"])), "age"])
    r = by["unknown_barangay"]
    h = data.households.set_index("hh_id")
    # barangay 999 does not exist; the household stays in its city/municipality, whose 9-digit
    # code is the case id's first 6 digits + 000 (looked up in the PSGC reference here)
    assert h.loc[r["hh_id"], "psgc"] == _psgc_of(r["hh_id"][:6] + "000")


def _psgc_of(code9: str) -> str:
    from migdata.areas.reference import reference

    ref = reference()
    hit = ref.loc[ref["correspondence_code"] == code9, "psgc"]
    assert len(hit) == 1, code9
    return str(hit.iloc[0])


# --- skip rules the dirty sample does not plant: hand-edited small files -------------------------

@pytest.fixture(scope="module")
def edited(tmp_path_factory):
    """One small generated file with four hand edits in four different households, imported once.

    Returns the problems frame and the 1-based file line of each edit.
    """
    dat = tmp_path_factory.mktemp("cbms_edits") / "s.dat"
    write_cbms(dat, 150, seed=21)
    lines = dat.read_bytes().decode("utf-8-sig").split("\n")[:-1]
    used: set[str] = set()
    where: dict[str, int] = {}

    # MD553: a student abroad (B06 = 4) with months abroad (B08)
    i = _find(lines, "3", "B06_OFI", 7, used)
    _edit(lines, i, "B06_OFI", "4")
    _edit(lines, i, "B08_STAY", "12")
    where["MD553"] = i + 1
    # MD554: a tourist (B06 = 5) who sent money (B10)
    i = _find(lines, "3", "B06_OFI", 7, used)
    _edit(lines, i, "B06_OFI", "5")
    _edit(lines, i, "B10_PTSENDMNY", "3")
    where["MD554"] = i + 1
    # MD558: the OWWA member list names line 36 (rosters have at most 35 lines)
    i = next(k for k, ln in enumerate(lines) if ln[0] == "M" and ln[1:28] not in used)
    used.add(lines[i][1:28])
    lines[i] = lines[i].ljust(125)[:95] + "0136".ljust(30) + lines[i].ljust(125)[125:]
    where["MD558"] = i + 1
    # MD559: an extra Section B record after a case's last one, with no roster line for it
    i = next(k for k, ln in enumerate(lines) if ln[0] == "3" and ln[1:28] not in used
             and lines[k + 1][0] != "3")
    lines.insert(i + 1, lines[i][:28] + "1")
    for key in where:
        if where[key] > i + 1:
            where[key] += 1
    where["MD559"] = i + 2
    dat.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
    probs = import_files([dat, _need(SAMPLE / DCF)], "cbms_2022_hpq").report.to_frame()
    return probs, where


def _edit(lines: list[str], idx: int, item: str, value: str) -> None:
    it = Layout().item(item)
    line = lines[idx].ljust(it.start - 1 + it.length)
    lines[idx] = line[:it.start - 1] + value.rjust(it.length) + line[it.start - 1 + it.length:]


def _find(lines: list[str], rec: str, item: str, value: int, used: set[str]) -> int:
    it = Layout().item(item)
    for i, ln in enumerate(lines):
        if ln[0] == rec and ln[1:28] not in used and ln[it.start - 1:it.start - 1 + it.length].strip() == str(value):
            used.add(ln[1:28])
            return i
    raise AssertionError(f"no {item} = {value} in the generated file")


def test_non_worker_with_departure_date_md553(edited):
    probs, where = edited
    hit = probs[probs["code"] == "MD553"]
    assert list(hit["source_row"]) == [where["MD553"]] and list(hit["value"]) == ["B08_STAY"]


def test_tourist_sending_money_md554(edited):
    probs, where = edited
    hit = probs[probs["code"] == "MD554"]
    assert list(hit["source_row"]) == [where["MD554"]] and list(hit["value"]) == [3]


def test_member_list_naming_missing_line_md558(edited):
    probs, where = edited
    hit = probs[probs["code"] == "MD558"]
    assert list(hit["source_row"]) == [where["MD558"]] and list(hit["value"]) == ["36"]


def test_section_b_without_roster_line_md559(edited):
    probs, where = edited
    hit = probs[probs["code"] == "MD559"]
    assert list(hit["source_row"]) == [where["MD559"]]


def test_edits_give_no_other_problems(edited):
    probs, _ = edited
    assert set(probs["code"]) == {"MD553", "MD554", "MD558", "MD559"}


# --- the country crosswalk -----------------------------------------------------------------------

def test_country_crosswalk_by_hand():
    c = countries()
    assert len(c) == 257  # 9001-9256 and 9997
    assert set(c) == {str(k) for k in range(9001, 9257)} | {"9997"}
    assert (c["9201"], c["9240"], c["9104"], c["9125"], c["9185"], c["9207"]) == \
        ("SAU", "ARE", "HKG", "KWT", "QAT", "SGP")
    assert c["9069"] == "GBR" and c["9202"] == "GBR" and c["9100"] == "USA" and c["9224"] == "TWN"
    assert c["9997"] is None and c["9002"] is None


def test_country_crosswalk_labels_are_the_dictionary_labels():
    dcf = realfile("ph", "cbms", "HPQF2_DICT.dcf")
    from migdata.readers.cspro import read_dictionary

    labels = read_dictionary(dcf).item("B01_COUNTRY4").value_labels()
    with open(CSV, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert {int(r["cbms_code"]) for r in rows} == set(labels)
    for r in rows:
        assert labels[int(r["cbms_code"])].endswith(r["cbms_label"])


def test_country_crosswalk_iso_names():
    pycountry = pytest.importorskip("pycountry", reason="pycountry not installed (optional check)")
    with open(CSV, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        if r["match"] == "iso_name":
            assert pycountry.countries.lookup(r["cbms_label"]).alpha_3 == r["iso3"], r["cbms_label"]
        elif r["iso3"] and r["iso3"] != "XKX":
            assert pycountry.countries.get(alpha_3=r["iso3"]) is not None, r["iso3"]


def test_profile_parses_and_is_complete_count():
    p = load_profile("cbms_2022_hpq")
    assert p.complete_count and p.reader == "cspro" and p.round == "2022"
    assert p.tables["persons"]["join"] == ["SECTION_B", "SECTION_C", "SECTION_E"]


def test_skip_rules_quote_the_first_answered_item(tmp_path):
    """A child of 3 with Section B and E answers breaks MD550 (B01-B05 before 5), MD551
    (B06-B10 before 15) and MD557 (Section E before 5); each problem quotes the first item of
    its list that the child's line answers, read here from the line's own columns (B01_MIG
    blanked, so that the first answered item is a later one)."""
    from migdata.profiles.cbms_2022_hpq import B01_B05, B06_B10, E_ITEMS

    dat = tmp_path / "s.dat"
    write_cbms(dat, 30, seed=21)
    lines = dat.read_bytes().decode("utf-8-sig").split("\n")[:-1]
    lay = Layout()
    # the first person: the first line of Sections A, B and E of the first household (occurrence 1)
    a = next(i for i, ln in enumerate(lines) if ln[0] == lay.record("SECTION_A").type_value)
    b = next(i for i, ln in enumerate(lines) if ln[0] == lay.record("SECTION_B").type_value)
    e = next(i for i, ln in enumerate(lines) if ln[0] == lay.record("SECTION_E").type_value)
    assert lines[a][1:28] == lines[b][1:28] == lines[e][1:28]
    _edit(lines, a, "A07_AGE", "3")
    _edit(lines, b, "B01_MIG", " ")
    dat.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))

    def first(line: str, items: list[str]) -> str:
        for name in items:
            it = lay.item(name)
            if line.ljust(it.start - 1 + it.length)[it.start - 1:it.start - 1 + it.length].strip():
                return name
        raise AssertionError("nothing answered")

    probs = import_files([dat, _need(SAMPLE / DCF)], "cbms_2022_hpq").report.to_frame()
    for code, line, items in (("MD550", lines[b], B01_B05), ("MD551", lines[b], B06_B10),
                              ("MD557", lines[e], E_ITEMS)):
        hit = probs[probs["code"] == code]
        assert list(hit["value"]) == [first(line, items)], code
    assert first(lines[b], B01_B05) != "B01_MIG"


def test_household_sums_count_the_first_block_of_a_repeated_case():
    """Section H as a repeating record (a dictionary with several per case): a household's
    income and cash from abroad sum the records of its case's first block; a later block of the
    same case id (``_occ`` numbered from 1 again) is not added. Hand count: case 1 has 100 + 20
    in its first block and 999 in a later one; case 2 has 5 + 7."""
    from migdata.profiles.cbms_2022_hpq import ID, _hh_id, _households
    from migdata.profiles.engine import CaseBlocks

    ids = {c: [4, 10, 1, 1, 1, 1, 1, 1][i] for i, c in enumerate(ID)}
    case1, case2 = dict(ids), dict(ids, HSN=2)
    rows = [dict(case1, _occ=1, H05_SOURCESOFINCOME=100.0, H3G_CASHRECEIPTS=1.0),
            dict(case1, _occ=2, H05_SOURCESOFINCOME=20.0, H3G_CASHRECEIPTS=None),
            dict(case2, _occ=1, H05_SOURCESOFINCOME=5.0, H3G_CASHRECEIPTS=None),
            dict(case2, _occ=2, H05_SOURCESOFINCOME=7.0, H3G_CASHRECEIPTS=None),
            dict(case1, _occ=1, H05_SOURCESOFINCOME=999.0, H3G_CASHRECEIPTS=50.0)]
    sh = pd.DataFrame(rows).assign(_source_row=[1, 2, 3, 4, 5])  # the reader's line numbers
    h = pd.DataFrame({"hh_id": _hh_id(pd.DataFrame([case1, case2]))})
    raw = {"SECTION_H": sh}
    _households(h, raw, CaseBlocks.of_raw(raw, ID))
    assert h["income"].tolist() == [120.0, 12.0]
    assert h["cash_abroad"].iloc[0] == 1.0 and pd.isna(h["cash_abroad"].iloc[1])
