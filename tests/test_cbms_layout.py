"""The project's CBMS 2022 layout subset, the dictionary written from it, and PSA's dictionary.

- the layout subset (``migdata/sample/cbms_2022_layout.csv``) has the record types, positions,
  lengths and decimals of PSA's ``HPQF2_DICT.dcf`` (real file, skipped when absent), checked with
  the project's parser and with a plain text scan written here;
- the dictionary written beside the sample (``cbms_2022_hpq_layout.dcf``) parses, reads the
  sample's .dat without a problem, and is the one the layout writes;
- the ``cbms_2022_hpq`` profile gives the same tables with the generated and the real dictionary;
- a 2022 barangay code that the current PSGC release no longer has (Bacoor, merged in 2023) keeps
  its household at the city/municipality level (MD560); an unknown city gives no psgc (MD201).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from conftest import realfile
from migdata.errors import render
from migdata.importer import import_files
from migdata.readers.cspro import read_cspro, read_dictionary
from migdata.sample.dataset import write_cbms
from migdata.sample.layout import DICTIONARY_NAME, load_layout, write_dictionary

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"

# DOMAIN.md §2.2.2 (ID items, columns 2-28) and §2.2.4 (Section B columns), written out by hand
DOMAIN_POSITIONS = {
    "REG_PSGC": (2, 2), "PROV_PSGC": (4, 2), "CITY_MUN_PSGC": (6, 2), "BRGY_PSGC": (8, 3), "EAN": (11, 6),
    "BSN": (17, 4), "HUSN": (21, 4), "HSN": (25, 4), "LNO": (29, 2),
    "B01_MIG": (29, 1), "B01_PHILIPPINES1": (30, 4), "B01_COUNTRY1": (34, 4), "B02_FYRSRESIDE": (38, 1),
    "B01_PHILIPPINES2": (39, 4), "B01_COUNTRY2": (43, 4), "B03_REASONFYRS": (47, 2), "B04_SMOSRESIDE": (79, 1),
    "B01_PHILIPPINES4": (80, 4), "B01_COUNTRY4": (84, 4), "B05_REASONSMOS": (88, 2), "B06_OFI": (140, 1),
    "B07_LEAVE_MONTH": (141, 2), "B07_LEAVE_YR": (143, 4), "B08_STAY": (147, 2), "B09_COUNTRY": (149, 4),
    "B10_PTSENDMNY": (153, 2),
}


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is not in this checkout")
    return path


def scan_dcf(path: Path) -> tuple[dict[str, tuple], dict[str, tuple]]:
    """A plain scan of a CSPro text dictionary, independent of migdata's parser.

    Returns item name -> (record type value or None for ID items, start, length, decimals) and
    record type value -> (record name, RecordLen).
    """
    items: dict[str, tuple] = {}
    records: dict[str, tuple] = {}
    section, rtype, rname, cur = None, None, None, None

    def close() -> None:
        if cur is not None and "Name" in cur:
            items[cur["Name"]] = (cur["rtype"], int(cur["Start"]), int(cur["Len"]), int(cur.get("Decimal", 0)))

    for raw in path.read_text(encoding="utf-8-sig").splitlines():
        line = raw.strip()
        if line.startswith("["):
            close()
            cur = None
            section = line
            if section == "[Record]":
                rtype, rname = "?", None
            elif section == "[Item]":
                cur = {"rtype": rtype}
            continue
        key, _, val = line.partition("=")
        if section == "[Record]":
            if key == "Name":
                rname = val
            elif key == "RecordTypeValue":
                rtype = val.strip("'")
            elif key == "RecordLen":
                records[rtype] = (rname, int(val))
        elif section == "[Item]" and cur is not None and key in ("Name", "Start", "Len", "Decimal"):
            cur[key] = val
    close()
    return items, records


@pytest.fixture(scope="module")
def layout():
    return load_layout()


@pytest.fixture(scope="module")
def real_dcf() -> Path:
    return realfile("ph", "cbms", "HPQF2_DICT.dcf")


# --- (a) the layout subset against PSA's dictionary ------------------------------------------------

def test_layout_matches_real_dictionary_parsed(layout, real_dcf):
    real = read_dictionary(real_dcf)
    assert layout.settings == {"RecordTypeStart": str(real.record_type_start),
                               "RecordTypeLen": str(real.record_type_len),
                               "ZeroFill": "Yes" if real.zero_fill else "No",
                               "DecimalChar": "Yes" if real.decimal_char else "No"}
    for it in layout.id_items:
        r = real.item(it.name)
        assert r.is_id and (r.start, r.length, r.decimals, r.data_type, r.zero_fill) == \
            (it.start, it.length, it.decimals, it.data_type, it.zero_fill), it.name
    for rec in layout.records:
        rr = real.record(rec.name)
        assert (rr.type_value, rr.length, rr.max_records, rr.required) == \
            (rec.type_value, rec.record_len, rec.max_records, rec.required), rec.name
        for it in rec.items:
            r = real.item(it.name)
            assert r.record == rec.name, it.name
            assert (r.start, r.length, r.decimals, r.data_type, r.zero_fill) == \
                (it.start, it.length, it.decimals, it.data_type, it.zero_fill), it.name
    # the records written are exactly those PSA's dictionary requires in every case
    assert [r.name for r in layout.records] == [r.name for r in real.records if r.required]


def test_layout_matches_real_dictionary_text_scan(layout, real_dcf):
    items, records = scan_dcf(real_dcf)
    for it in layout.id_items:
        assert items[it.name] == (None, it.start, it.length, it.decimals), it.name
    for rec in layout.records:
        assert records[rec.type_value] == (rec.name, rec.record_len), rec.name
        for it in rec.items:
            assert items[it.name] == (rec.type_value, it.start, it.length, it.decimals), it.name
    # ID items and Section B as DOMAIN.md §2.2 states them
    for name, (start, length) in DOMAIN_POSITIONS.items():
        assert items[name][1:3] == (start, length), name
    section_b = [it.name for it in layout.record("SECTION_B").items]
    assert {n for n in DOMAIN_POSITIONS if n.startswith("B0") or n.startswith("B1")} <= set(section_b)


def test_value_set_codes_are_psa_codes(layout, real_dcf):
    real = read_dictionary(real_dcf)
    checked = 0
    for rec in layout.records:
        for it in rec.items:
            if not it.value_set:
                continue
            src = real.item("B01_COUNTRY4" if it.value_set == "country" else it.name)  # one country set
            # PSA splits some code lists over several value sets (A02: head; everyone else)
            psa = {v.low for vs in src.value_sets for v in vs.values if not v.is_range and v.special is None}
            assert {c for c, _ in layout.value_sets[it.value_set]} == psa, it.name
            checked += 1
    assert checked >= 14


def test_layout_positions_from_domain_without_real_file(layout):
    for name, (start, length) in DOMAIN_POSITIONS.items():
        it = layout.item(name)
        assert (it.start, it.length) == (start, length), name
    # DOMAIN.md §2.2.2: record types and lengths
    assert (layout.record("GEO_ID").type_value, layout.record("SECTION_A").type_value,
            layout.record("SECTION_B").type_value, layout.record("SECTION_H").type_value) == ("R", "1", "3", "B")
    assert (layout.record("SECTION_A").record_len, layout.record("SECTION_B").record_len,
            layout.record("SECTION_H").record_len) == (983, 254, 670)
    assert layout.record("SECTION_A").max_records == 35


# --- (b) the generated dictionary ------------------------------------------------------------------

def test_generated_dictionary_parses(layout, tmp_path):
    p = write_dictionary(layout, tmp_path / DICTIONARY_NAME)
    raw = p.read_bytes()
    assert raw[:3] == b"\xef\xbb\xbf" and b"\r\n" in raw
    text = raw.decode("utf-8-sig")
    assert text.startswith("[Dictionary]\r\nVersion=CSPro 7.7\r\n")
    assert "migdata-generated" in text and "Positions=Absolute" in text
    for section in ("[Level]", "[IdItems]", "[Record]", "[Item]", "[ValueSet]"):
        assert section in text
    d = read_dictionary(p)
    assert [it.name for it in d.id_items] == ["REG_PSGC", "PROV_PSGC", "CITY_MUN_PSGC", "BRGY_PSGC",
                                              "EAN", "BSN", "HUSN", "HSN"]
    assert len(d.records) == 29  # PSA's 30 record types less the optional notes record
    assert d.record("SECTION_B").length == 254 and d.record("SECTION_A").max_records == 35
    assert d.item("B06_OFI").value_labels()[1] == "Overseas worker with a contract"
    assert d.item("B09_COUNTRY").value_labels()[9201] == "Saudi Arabia"  # DOMAIN.md §2.2.4
    assert d.item("X_LONG").data_type == "alpha" and d.item("EAN").zero_fill


def test_committed_sample_dictionaries_are_the_generated_one(layout, tmp_path):
    want = write_dictionary(layout, tmp_path / DICTIONARY_NAME).read_bytes()
    for folder in (SAMPLE, SAMPLE / "dirty"):
        assert _need(folder / DICTIONARY_NAME).read_bytes() == want, folder
        assert not list(folder.glob("HPQF2*")), "PSA's dictionary must not be shipped"


def test_generated_dictionary_reads_the_sample_without_problems():
    dat = _need(SAMPLE / "cbms_2022_hpq.dat")
    tables, cb = read_cspro(dat, SAMPLE / DICTIONARY_NAME)
    assert cb.report.problems == []
    lines = dat.read_bytes().decode("utf-8-sig").split("\n")[:-1]
    by_type: dict[str, int] = {}
    for ln in lines:
        by_type[ln[0]] = by_type.get(ln[0], 0) + 1
    # sample_data/README.md; counted with plain Python on the file (record type in column 1)
    assert len(tables["GEO_ID"]) == by_type["R"] == 1200
    assert len(tables["SECTION_A"]) == by_type["1"] == 5028
    # Section L1 occurrences are not one per member: one per listed member, at least one a case
    assert len(tables["SECTION_L1"]) == by_type["H"] == 1401
    assert len(tables["SECTION_B"]) == by_type["3"] and len(tables["SECTION_P"]) == by_type["M"]
    a = tables["SECTION_A"]
    first = next(ln for ln in lines if ln[0] == "1")
    assert a.loc[0, "A07_AGE"] == int(first[238:241]) and a.loc[0, "A05_SEX"] == int(first[229])


# --- (c) the profile with either dictionary ----------------------------------------------------------

@pytest.fixture(scope="module")
def small_file(tmp_path_factory) -> Path:
    dat = tmp_path_factory.mktemp("cbms_layout") / "cbms.dat"
    write_cbms(dat, 120, seed=31)
    write_dictionary(load_layout(), dat.with_name(DICTIONARY_NAME))
    return dat


def test_profile_reads_generated_and_real_dictionary_alike(small_file, real_dcf):
    ours = import_files([small_file, small_file.with_name(DICTIONARY_NAME)], "cbms_2022_hpq")
    psa = import_files([small_file, real_dcf], "cbms_2022_hpq")
    assert ours.report.problems == [] and psa.report.problems == []
    assert len(ours.households) == 120
    for name in ("households", "persons"):
        pd.testing.assert_frame_equal(getattr(ours, name), getattr(psa, name), check_dtype=False)


def test_profile_finds_the_generated_dictionary_beside_the_file(small_file):
    data = import_files([small_file], "cbms_2022_hpq")
    assert data.report.problems == [] and len(data.households) == 120


# --- barangays the current PSGC release does not have ----------------------------------------------

def _move_case(dat: Path, out: Path, geo9: str) -> tuple[str, int]:
    """Copy ``dat`` to ``out`` with the first case's geo code (columns 2-10) set to ``geo9``;
    returns the new case id and the file line of its geo record."""
    lines = dat.read_bytes().decode("utf-8-sig").split("\n")[:-1]
    case = lines[0][1:28]
    for i, ln in enumerate(lines):
        if ln[1:28] == case:
            lines[i] = ln[0] + geo9 + ln[10:]
    out.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
    return geo9 + case[9:], 1


def test_old_bacoor_barangay_counted_at_city_level(small_file, tmp_path):
    # Alima, City of Bacoor: 9-digit code 042103001 in the 2022 PSGC; merged in 2023, so the current
    # release has no such barangay. City of Bacoor is 0402103000 (PSGC, DOMAIN.md §4.2).
    dat = tmp_path / "bacoor.dat"
    hh, row = _move_case(small_file, dat, "042103001")
    data = import_files([dat, small_file.with_name(DICTIONARY_NAME)], "cbms_2022_hpq")
    h = data.households.set_index("hh_id")
    assert h.loc[hh, "psgc"] == "0402103000"
    assert len(h) == 120  # kept
    probs = data.report.to_frame()
    hit = probs[probs["code"] == "MD560"]
    assert len(hit) == 1 and set(probs["code"]) == {"MD560"}
    assert (hit.iloc[0]["source_row"], hit.iloc[0]["value"], hit.iloc[0]["action"]) == (row, "042103001", "kept")
    assert hit.iloc[0]["message"] == render("MD560", row=row, file=str(dat), table="households", column="psgc",
                                            value="042103001", city="City of Bacoor", psgc="0402103000")
    assert "City of Bacoor" in hit.iloc[0]["message"] and "not in the current PSGC release" in hit.iloc[0]["message"]


def test_unknown_city_gives_no_psgc(small_file, tmp_path):
    # Cavite (province 21) has no city/municipality 99
    dat = tmp_path / "nowhere.dat"
    hh, row = _move_case(small_file, dat, "042199001")
    data = import_files([dat, small_file.with_name(DICTIONARY_NAME)], "cbms_2022_hpq")
    h = data.households.set_index("hh_id")
    assert pd.isna(h.loc[hh, "psgc"]) and len(h) == 120
    probs = data.report.to_frame()
    hit = probs[probs["code"] == "MD201"]  # not in the reference (the areas rule), set missing
    assert len(hit) == 1 and (hit.iloc[0]["source_row"], hit.iloc[0]["value"]) == (row, "042199001")


def test_extract_layout_reproduces_the_committed_spec(real_dcf, tmp_path):
    from migdata.sample import extract_layout

    settings, rows = extract_layout.extract(real_dcf)
    out = extract_layout.write(settings, rows, tmp_path / "layout.csv")
    assert out.read_bytes() == extract_layout.OUT.read_bytes()
