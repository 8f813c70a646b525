"""Building the reference from the PSA workbook: the real July 2025 file and small bad ones.

Counts on the real workbook are made here with openpyxl directly (not with migdata) and
compared with what migdata builds and describes.
"""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from conftest import realfile
from migdata import areas
from migdata.areas.build import build, finish, main, parse_rows, read_publication, release_label, write
from migdata.errors import DataError

WORKBOOK = ("ph", "psgc", "PSGC-July-2025-Publication-Datafile.xlsx")
HEADER = ["10-digit PSGC", "Name", "Correspondence Code", "Geographic Level", "Old names",
          "City Class", "Income\nClassification (DOF DO No. 074.2024)",
          "Urban / Rural\n(based on 2020 CPH)", "2020 Population", None, "Status"]


@pytest.fixture(scope="module")
def sheet() -> list[tuple]:
    """The PSGC sheet exactly as openpyxl reads it (header first); read once for the module."""
    wb = openpyxl.load_workbook(realfile(*WORKBOOK), read_only=True, data_only=True)
    rows = list(wb["PSGC"].iter_rows(values_only=True))
    wb.close()
    return rows


@pytest.fixture(scope="module")
def raw_rows(sheet) -> list[tuple]:
    """(code padded by hand, level, population, name) for every unit, without migdata."""
    return [(str(r[0]).zfill(10), r[3], r[8], r[1]) for r in sheet[1:]]


@pytest.fixture(scope="module")
def built(sheet, tmp_path_factory) -> tuple[pd.DataFrame, Path]:
    """What ``python -m migdata.areas.build`` makes of these rows (same code path, one read)."""
    out = tmp_path_factory.mktemp("psgc") / "psgc.parquet"
    ref = finish(parse_rows(sheet, WORKBOOK[-1]), release_label(WORKBOOK[-1]), WORKBOOK[-1])
    write(ref, out, WORKBOOK[-1])
    return ref, out


@pytest.mark.realdata
def test_build_reproduces_the_shipped_reference(built):
    ref, out = built
    shipped = areas.reference()
    pd.testing.assert_frame_equal(pd.read_parquet(out), shipped, check_dtype=False)
    assert ref.attrs["release"] == "2025-07"
    assert out.stat().st_size <= 3 * 1024 * 1024


@pytest.mark.realdata
def test_every_workbook_row_is_in_the_reference(raw_rows, built):
    ref, _ = built
    assert len(ref) == len(raw_rows) == 43_769
    assert set(ref["psgc"]) == {r[0] for r in raw_rows}


@pytest.mark.realdata
def test_region_iva_counted_from_the_workbook(raw_rows):
    iva = [r for r in raw_rows if r[0].startswith("04")]
    counts = pd.Series([r[1] for r in iva]).value_counts().to_dict()
    # the published figures (realdata README, DOMAIN §4.2) hold in the raw file ...
    assert counts == {"Reg": 1, "Prov": 5, "City": 22, "Mun": 120, "Bgy": 3993}
    # ... and in the shipped reference
    ref = areas.reference()
    mine = ref[ref["region"].eq("0400000000")]["level"].astype(str).value_counts().to_dict()
    assert mine == {"region": 1, "province": 5, "city": 22, "municipality": 120, "barangay": 3993}
    assert sum(r[2] for r in iva if r[1] == "Bgy") == 16_195_042


@pytest.mark.realdata
def test_describe_laguna_matches_counts_from_the_workbook(raw_rows):
    laguna = [r for r in raw_rows if r[0][:5] == "04034" and r[0] != "0403400000"]
    n_city = sum(r[1] == "City" for r in laguna)
    n_mun = sum(r[1] == "Mun" for r in laguna)
    n_bgy = sum(r[1] == "Bgy" for r in laguna)
    pop = next(r[2] for r in raw_rows if r[0] == "0403400000")
    text = areas.describe("0403400000")
    assert "Laguna" in text
    assert "CALABARZON" in text and "Region IV-A" in text
    assert f"{n_city} cities, {n_mun} municipalities, {n_bgy:,} barangays" in text
    assert f"{pop:,}" in text and pop == 3_382_193


@pytest.mark.realdata
def test_codes_stored_as_numbers_are_padded(raw_rows):
    # The workbook stores some codes as numbers (e.g. Puerto Princesa 1731500000) and many
    # correspondence codes without their zero (Caloocan 137501000 is fine, Batangas' 41000000
    # would not be): every reference code has its full width.
    ref = areas.reference()
    assert ref["psgc"].str.fullmatch(r"\d{10}").all()
    assert ref["correspondence_code"].dropna().str.fullmatch(r"\d{9}").all()
    assert areas.lookup("0401000000")["correspondence_code"] == "041000000"


# --- small bad workbooks -------------------------------------------------------------------

def _workbook(path: Path, rows: list[list], header: list | None = HEADER, sheet: str = "PSGC") -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    if header is not None:
        ws.append(header)
    for r in rows:
        ws.append(r + [None] * (len(HEADER) - len(r)))
    wb.save(path)
    return path


GOOD = [
    ["0400000000", "Region IV-A (CALABARZON)", "040000000", "Reg", None, None, "", "", 1000],
    [403400000, "Laguna", 43400000, "Prov", None, None, "1st", "", 600],        # numbers, zeros lost
    ["0403405000", "City of Calamba", "043405000", "City", None, "CC", "1st", "", 600],
    ["0403405001", "Bagong Kalsada", "043405001", "Bgy", None, None, None, "R", 250],
    ["0403405002", "Banadero", "043405002", "Bgy", None, None, None, "U", 350],
    ["0405600000", "Quezon", "045600000", "Prov", None, None, "1st", "", 0, "(excluding CITY OF LUCENA) "],
    ["0431200000", "City of Lucena ", "045624000", "City", None, "HUC", "1st", "", 400, None, "Capital"],
    ["0431200001", "Barangay 1 (Pob.)", "045624001", "Bgy", None, None, None, "U", "-"],
]


def test_small_workbook_builds_with_hierarchy(tmp_path):
    wb = _workbook(tmp_path / "PSGC-July-2025-Publication-Datafile.xlsx", GOOD)
    out = tmp_path / "ref.parquet"
    assert main([str(wb), str(out)]) == 0
    ref = pd.read_parquet(out).set_index("psgc")
    assert ref.loc["0403400000", "correspondence_code"] == "043400000"
    assert ref.loc["0403405001", "parent"] == "0403405000"
    assert ref.loc["0403405001", "city_mun"] == "0403405000"
    assert ref.loc["0403405001", "urban_rural"] == "rural"
    assert ref.loc["0431200000", "name"] == "City of Lucena"       # trailing space dropped
    assert ref.loc["0431200000", "parent"] == "0400000000"
    assert ref.loc["0431200001", "stat_province"] == "0405600000"  # via 045624000 -> 0456
    assert ref.loc["0431200001", "province"] == "0431200000"
    assert pd.isna(ref.loc["0431200001", "population_2020"])        # '-' in the workbook
    assert ref.loc["0405600000", "note"] == "(excluding CITY OF LUCENA)"


def test_missing_file(tmp_path):
    with pytest.raises(DataError) as e:
        read_publication(tmp_path / "nope.xlsx")
    assert e.value.code == "MD001"


def test_not_a_workbook(tmp_path):
    p = tmp_path / "x.xlsx"
    p.write_text("not a zip")
    with pytest.raises(DataError) as e:
        read_publication(p)
    assert e.value.code == "MD206" and "x.xlsx" in str(e.value)


def test_wrong_sheet_or_columns(tmp_path):
    with pytest.raises(DataError) as e:
        read_publication(_workbook(tmp_path / "a.xlsx", GOOD, sheet="Data"))
    assert e.value.code == "MD206" and "'PSGC'" in str(e.value)
    with pytest.raises(DataError) as e:
        read_publication(_workbook(tmp_path / "b.xlsx", GOOD, header=["Code", "Name"]))
    assert e.value.code == "MD206" and "psgc" in str(e.value)


@pytest.mark.parametrize("bad, column, row", [
    (["04034A5000", "X", "043405000", "Bgy"], "psgc", 10),          # letter in the code
    (["0403405003", "X", "0434050031", "Bgy"], "correspondence_code", 10),  # 10 digits
    (["0403405003", "X", "043405003", "Village"], "psa_level", 10),  # unknown level
    (["0403405003", "X", "043405003", "Bgy", None, None, None, "Urban"], "urban_rural", 10),
    (["0403405003", "X", "043405003", "Bgy", None, None, None, "U", "many"], "population_2020", 10),
    (["0403405001", "Dup", "043405001", "Bgy"], "10-digit PSGC", 10),  # duplicate code
])
def test_bad_rows_are_located(tmp_path, bad, column, row):
    wb = _workbook(tmp_path / "bad.xlsx", GOOD + [bad])
    with pytest.raises(DataError) as e:
        read_publication(wb)
    err = e.value
    assert err.code == "MD207"
    assert err.fields["row"] == row and err.fields["column"] == column
    assert "bad.xlsx" in str(err) and "row 10" in str(err)


def test_orphan_unit_is_refused(tmp_path):
    wb = _workbook(tmp_path / "orphan.xlsx", GOOD + [["0403499001", "Lost", "043499001", "Bgy"]])
    with pytest.raises(DataError) as e:
        build(wb, tmp_path / "o.parquet")
    assert e.value.code == "MD207" and "0403499000" in str(e.value)
    assert e.value.fields["row"] == 10


def test_barangay_at_a_city_position_is_refused(tmp_path):
    wb = _workbook(tmp_path / "pos.xlsx", GOOD + [["0403406000", "Misplaced", "043406000", "Bgy"]])
    with pytest.raises(DataError) as e:
        build(wb, tmp_path / "p.parquet")
    assert "barangay cannot have a code at the city_mun position" in str(e.value)
