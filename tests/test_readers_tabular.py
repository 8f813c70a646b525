"""CSV/Excel reader: encodings, delimiters, title rows, ragged rows, Excel sheets, real FIES CSV."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from migdata.errors import DataError, render
from migdata.readers import tabular
from tests.conftest import realfile

FIX = Path(__file__).parent / "fixtures" / "readers"
CP1252 = FIX / "lgu_households_cp1252.csv"

# hand-written from the fixture file (see tests/fixtures/readers/lgu_households_cp1252.csv)
CP1252_EXPECTED = pd.DataFrame({
    "hh_id": ["001", "002", "003", "004"],
    "barangay": ["Poblacion", "Santo Niño", "Peñafrancia", "Poblacion"],
    "head_sex": ["Female", "Male", "Female", "Male"],
    "members": ["4", "3", "5", "2"],
    "remarks": ["Nanay sa Dubai", "", 'says "OK; fine"', "café owner"],
})


def test_fies_real_csv():
    path = realfile("ph", "fies", "fies2015_kaggle_subset_IVB_MIMAROPA.csv")
    tables, cb = tabular.read(path)
    df = tables[path.stem]
    assert df.shape == (1249, 12)  # 1,249 rows x 11 columns (README) + _source_row
    assert list(df.columns[1:]) == [
        "Total.Household.Income", "Region", "Total.Food.Expenditure", "Household.Head.Sex",
        "Household.Head.Age", "Type.of.Household", "Total.Number.of.Family.members",
        "House.Floor.Area", "House.Age", "Number.of.bedrooms", "Electricity"]
    # first data line of the file, as printed by `head -2`
    assert df.iloc[0, 1:].tolist() == ["144437", "IVB - MIMAROPA", "64609", "Male", "66",
                                       "Single Family", "3", "45", "33", "1", "1"]
    assert df["_source_row"].iloc[0] == 2 and df["_source_row"].iloc[-1] == 1250
    # the peer: pandas reading the same file as strings gives the same table
    peer = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert df.drop(columns="_source_row").equals(peer)
    info = cb.tables[path.stem]
    assert info["encoding"] == "utf-8" and info["delimiter"] == ","
    assert cb.report.counts[path.stem] == {"read": 1249, "kept": 1249, "rejected": 0}


def test_semicolon_cp1252_with_title_rows():
    tables, cb = tabular.read_csv(CP1252)
    df = tables["lgu_households_cp1252"]
    assert df.drop(columns="_source_row").equals(CP1252_EXPECTED.astype("str"))
    assert df["_source_row"].tolist() == [5, 6, 7, 8]
    info = cb.tables["lgu_households_cp1252"]
    assert (info["encoding"], info["delimiter"], info["header_row"]) == ("cp1252", ";", 4)


def test_explicit_header_row_and_delimiter():
    tables, _ = tabular.read_csv(CP1252, header_row=4, delimiter=";", encoding="cp1252")
    assert tables["lgu_households_cp1252"].drop(columns="_source_row").equals(CP1252_EXPECTED.astype("str"))
    with pytest.raises(DataError) as ei:
        tabular.read_csv(CP1252, header_row=3)  # line 3 is blank
    assert ei.value.code == "MD480"
    with pytest.raises(DataError) as ei:
        tabular.read_csv(CP1252, header_row=99)
    assert ei.value.code == "MD480" and "99" in str(ei.value)


@pytest.mark.parametrize("enc,expected", [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"),
                                          ("utf-16", "utf-16"), ("cp1252", "cp1252")])
def test_encodings_detected(tmp_path, enc, expected):
    text = CP1252.read_bytes().decode("cp1252")
    p = tmp_path / "h.csv"
    p.write_bytes(text.encode(enc))  # Python's utf-16 codec writes a BOM
    tables, cb = tabular.read_csv(p)
    assert tables["h"].drop(columns="_source_row").equals(CP1252_EXPECTED.astype("str"))
    assert cb.tables["h"]["encoding"] == expected


@pytest.mark.parametrize("delim", [",", "\t", "|", ";"])
def test_delimiters_detected(tmp_path, delim):
    p = tmp_path / "d.csv"
    p.write_text(delim.join(["a", "b", "c"]) + "\n" + delim.join(["1", "x y", "3"]) + "\n"
                 + delim.join(["4", "5", ""]) + "\n")
    tables, cb = tabular.read_csv(p)
    assert cb.tables["d"]["delimiter"] == delim
    assert tables["d"][["a", "b", "c"]].values.tolist() == [["1", "x y", "3"], ["4", "5", ""]]


def test_wrong_declared_encoding_is_located(tmp_path):
    raw = CP1252.read_bytes()
    first_bad = next(i for i, b in enumerate(raw) if b > 127)  # the ñ of "Santo Niño"
    with pytest.raises(DataError) as ei:
        tabular.read_csv(CP1252, encoding="utf-8")
    assert str(ei.value) == render("MD003", path=str(CP1252), encoding="utf-8", offset=first_bad)


def test_utf16_without_bom_is_an_encoding_error(tmp_path):
    p = tmp_path / "u16.csv"
    p.write_bytes("a,b\n1,2\n".encode("utf-16-le"))
    with pytest.raises(DataError) as ei:
        tabular.read_csv(p)
    assert ei.value.code == "MD003" and ei.value.fields["offset"] == 1


def test_empty_files(tmp_path):
    p = tmp_path / "empty.csv"
    p.write_bytes(b"")
    with pytest.raises(DataError) as ei:
        tabular.read_csv(p)
    assert str(ei.value) == render("MD002", path=str(p))
    p.write_text("\n\n  \n")
    with pytest.raises(DataError) as ei:
        tabular.read_csv(p)
    assert ei.value.code == "MD002"
    p.write_text("a,b,c\n")  # header only: no data rows
    with pytest.raises(DataError) as ei:
        tabular.read_csv(p)
    assert ei.value.code == "MD002"
    with pytest.raises(DataError) as ei:
        tabular.read_csv(tmp_path / "absent.csv")
    assert ei.value.code == "MD001"


def test_ragged_rows_are_reported_rejections():
    tables, cb = tabular.read_csv(FIX / "ragged.csv")
    df = tables["ragged"]
    # ragged.csv: 4 data lines; line 3 has an extra field, line 4 a missing one
    assert df["id"].tolist() == ["1", "4"]
    assert cb.report.counts["ragged"] == {"read": 4, "kept": 2, "rejected": 2}
    probs = cb.report.to_frame()
    assert probs["code"].tolist() == ["MD482", "MD482"]
    assert probs["source_row"].tolist() == [3, 4]
    assert probs["value"].tolist() == [4, 2]
    cb.report.check_balance()


def test_duplicate_column_names_renamed_and_reported(tmp_path):
    p = tmp_path / "dup.csv"
    p.write_text("id,age,age\n1,3,4\n")
    tables, cb = tabular.read_csv(p)
    assert list(tables["dup"].columns) == ["_source_row", "id", "age", "age.1"]
    assert cb.report.problems[0].code == "MD483" and cb.report.problems[0].source_row == 1


def test_values_stay_text(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("code,country,n\n0401001,NA,\n")
    df = tabular.read_csv(p)[0]["t"]
    assert df.loc[0, "code"] == "0401001" and df.loc[0, "country"] == "NA" and df.loc[0, "n"] == ""


def test_excel_sheets_title_rows_and_types(tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "households"
    ws.append(["LGU survey 2024"])
    ws.append([])
    ws.append(["hh_id", "visit_date", "members", "income"])
    ws.append(["0001", dt.date(2024, 3, 5), 4, 12500.5])
    ws.append(["0002", dt.date(2024, 3, 6), 3.0, None])
    ws2 = wb.create_sheet("persons")
    ws2.append(["hh_id", "line_no"])
    ws2.append(["0001", 1])
    wb.create_sheet("notes")  # empty sheet
    p = tmp_path / "s.xlsx"
    wb.save(p)
    tables, cb = tabular.read(p)
    assert set(tables) == {"households", "persons"}
    h = tables["households"]
    assert h.drop(columns="_source_row").values.tolist() == [
        ["0001", "2024-03-05", "4", "12500.5"], ["0002", "2024-03-06", "3", ""]]
    assert h["_source_row"].tolist() == [4, 5]
    assert cb.tables["households"]["header_row"] == 3
    assert cb.report.counts["persons"] == {"read": 1, "kept": 1, "rejected": 0}
    with pytest.raises(DataError) as ei:
        tabular.read_excel(p, sheet="members")
    assert ei.value.code == "MD481" and "households, persons, notes" in str(ei.value)


def test_not_an_excel_file(tmp_path):
    p = tmp_path / "fake.xlsx"
    p.write_text("hello")
    with pytest.raises(DataError) as ei:
        tabular.read(p)
    assert ei.value.code == "MD484"


def test_real_kobo_workbook_as_plain_excel():
    path = realfile("kobo", "kobocruncher", "data.xlsx")
    tables, cb = tabular.read_excel(path)
    # data.xlsx: the main sheet with 5 submissions and the members repeat sheet with 12 rows
    assert sorted(len(t) for t in tables.values()) == [5, 12]


def test_parser_choice_and_quoted_line_breaks(tmp_path):
    # regular file: the fast (pyarrow) parser; same values as the exact csv-module path
    regular = tmp_path / "regular.csv"
    regular.write_text('id,remark\n1,"a, b"\n2,"say ""hi"""\n,\n3,\n')
    tables, cb = tabular.read_csv(regular)
    assert cb.tables["regular"]["parser"] == "pyarrow"
    df = tables["regular"]
    assert df["remark"].tolist() == ["a, b", 'say "hi"', ""]
    assert df["_source_row"].tolist() == [2, 3, 5]  # line 4 holds only delimiters: blank
    # a value with a line break inside quotes: exact path, rows located by their first line
    broken = tmp_path / "broken.csv"
    broken.write_text('id,remark\n1,"first line\nsecond line"\n2,plain\n')
    tables, cb = tabular.read_csv(broken)
    assert cb.tables["broken"]["parser"] == "csv module (exact)"
    assert tables["broken"]["remark"].tolist() == ["first line\nsecond line", "plain"]
    assert tables["broken"]["_source_row"].tolist() == [2, 4]


def test_fast_path_taken_for_real_and_fixture_files():
    _, cb = tabular.read_csv(CP1252)
    assert cb.tables["lgu_households_cp1252"]["parser"] == "pyarrow"
    _, cb = tabular.read_csv(FIX / "ragged.csv")
    assert cb.tables["ragged"]["parser"] == "csv module (exact)"


def test_describe_names_what_was_detected():
    text = tabular.describe(FIX / "ragged.csv")
    assert "table ragged: 2 rows x 3 columns; encoding utf-8, delimiter ','" in text
    assert "header on line 1" in text
    assert render("MD482", file=str(FIX / "ragged.csv"), row=3, value=4, expected=3) in text


def test_unknown_encoding_name_is_a_usage_error():
    from migdata.errors import UsageError

    with pytest.raises(UsageError) as ei:
        tabular.read_csv(CP1252, encoding="klingon-8")
    assert ei.value.code == "MD004" and "klingon-8" in str(ei.value)
