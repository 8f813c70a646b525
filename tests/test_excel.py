"""Excel workbook and CSV output of indicator tables, opened with openpyxl / read back as text."""

from __future__ import annotations

import csv
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from migdata.errors import UsageError
from migdata.publish.tables import compute  # published tables (disclosure control applied)
from migdata.publish.excel import write_csv, write_workbook

sys.path.insert(0, str(Path(__file__).parent))
from test_indicators import fixture_data  # noqa: E402

ADIA = "0401001001"


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    t = compute(fixture_data(), ids=["OF02", "OF03", "OF05", "RM02"], level="barangay", by=["sex"], k=3)
    t = t.copy()
    t["area_name"] = t["area_name"].astype(object)
    t["flag"] = t["flag"].astype(object)
    # a data value that looks like a formula (e.g. a hostile area name in a source file)
    t.loc[t["area_code"] == ADIA, "area_name"] = "=HYPERLINK(\"http://evil\",\"Adia\")"
    # a survey-style caution flag on one published cell, to check the "*" rendering
    sel = (t["indicator_id"] == "OF03") & (t["area_level"] == "region") & (t["sex"] == "Total")
    t.loc[sel, "flag"] = "caution"
    t.attrs.update(compute(fixture_data(), ids=["OF02"], level="region", by=["sex"], k=3).attrs)
    t.attrs["not_computable"] = [{"indicator_id": "OF08", "name": "x", "status": "not computable",
                                  "reason": "column(s) occupation_abroad not in this dataset or empty"}]
    return t


@pytest.fixture(scope="module")
def workbook(table, tmp_path_factory):
    path = tmp_path_factory.mktemp("xl") / "tables.xlsx"
    write_workbook(table, path)
    return path, load_workbook(path)


def find_row(ws, code: str) -> int:
    for row in ws.iter_rows(min_row=1, max_col=2):
        if row[1].value == code:
            return row[1].row
    raise AssertionError(code)


def test_sheets_and_headers(workbook):
    _, wb = workbook
    assert wb.sheetnames == ["contents", "OF02", "OF03", "OF05", "RM02", "data", "metadata"]
    ws = wb["OF02"]
    assert ws["A1"].value == "OF02 Overseas Filipino workers (stock)"
    # header: row 4 the sex categories across (Total first), row 5 the area columns
    assert [c.value for c in ws[4]][2:6] == ["Sex", "Total", "Male", "Female"]
    assert [c.value for c in ws[5]][:3] == ["Area level", "Area code", "Area name"]
    assert ws.freeze_panes == "D6"


def test_values_flags_and_suppression(workbook):
    _, wb = workbook
    ws = wb["OF02"]
    heads = [c.value for c in ws[4]]
    total_col = heads.index("Total") + 1
    r = find_row(ws, "0400000000")
    # OFWs in the region: A2, B2, D1, D2 -> 4, count format with thousands separator
    assert ws.cell(r, total_col).value == 4 and ws.cell(r, total_col).number_format == "#,##0"
    # Adia has 2 OFWs (< 3): suppressed, shown as x, value not written anywhere in the sheet
    r = find_row(ws, ADIA)
    assert ws.cell(r, total_col).value == "x"
    ws3 = wb["OF03"]
    r = find_row(ws3, "0400000000")
    c = ws3.cell(r, [x.value for x in ws3[4]].index("Total") + 1)
    # 4/15 as a fraction with a percent format and the caution mark
    assert c.value == pytest.approx(4 / 15) and c.number_format == '0.0%" *"'
    # PHP format for money
    ws_rm = wb["RM02"]
    r = find_row(ws_rm, "0400000000")
    assert ws_rm.cell(r, 4).value == 325000 and ws_rm.cell(r, 4).number_format == '"PHP "#,##0'


def test_definition_source_and_legend_under_table(workbook):
    _, wb = workbook
    ws = wb["OF02"]
    labels = {row[0].value: row[1].value for row in ws.iter_rows(min_row=6) if row[0].value}
    assert labels["Definition"].startswith("Household members aged 15+ who are OFWs")
    assert labels["Source"] == "handmade"
    texts = [row[1].value for row in ws.iter_rows(min_row=6) if row[1].value]
    assert any(str(t).startswith("x: suppressed") and "fewer than 3 units" in str(t) for t in texts)
    assert any(str(t).startswith("* after a number") for t in texts)


def test_no_data_cell_is_a_formula(workbook):
    path, wb = workbook
    ws = wb["OF02"]
    r = find_row(ws, ADIA)
    c = ws.cell(r, 3)
    assert c.value == "=HYPERLINK(\"http://evil\",\"Adia\")" and c.data_type == "s" and c.quotePrefix
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/"):
                assert "<f>" not in z.read(name).decode("utf-8")


def test_long_and_metadata_sheets(workbook, table):
    _, wb = workbook
    data = wb["data"]
    head = [c.value for c in data[1]]
    assert {"indicator_id", "area_code", "estimate", "se", "flag", "suppressed", "suppression"} <= set(head)
    assert data.max_row == len(table) + 1
    est, sup = head.index("estimate"), head.index("suppressed")
    rows = [[c.value for c in r] for r in data.iter_rows(min_row=2)]
    # suppressed rows are kept, with their value blanked
    assert any(r[sup] is True and r[est] is None for r in rows)
    meta = wb["metadata"]
    mh = [c.value for c in meta[1]]
    mrows = {r[0]: r for r in ([c.value for c in row] for row in meta.iter_rows(min_row=2))}
    assert mrows["OF08"][mh.index("status")] == "not computable from this dataset"
    assert "occupation_abroad" in mrows["OF08"][mh.index("reason")]
    assert mrows["OF02"][mh.index("status")] == "computed"
    assert len(mrows) >= 54


def test_csv_guard_and_blanking(table, tmp_path):
    path = write_csv(table, tmp_path / "t.csv")
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    adia = [r for r in rows if r["area_code"] == ADIA]
    assert adia and all(r["area_name"] == "'=HYPERLINK(\"http://evil\",\"Adia\")" for r in adia)
    sup = [r for r in rows if r["suppressed"] == "True"]
    assert sup and all(r["estimate"] == "" for r in sup)
    assert len(rows) == len(table)


def test_writer_errors(table, tmp_path):
    with pytest.raises(UsageError) as e:
        write_workbook(table.drop(columns=["estimate"]), tmp_path / "x.xlsx")
    assert e.value.code == "MD709"
    blocker = tmp_path / "afile"
    blocker.write_text("not a folder")
    with pytest.raises(UsageError) as e:
        write_csv(table, blocker / "t.csv")
    assert e.value.code == "MD005"


def test_publish_indicators_from_a_store(tmp_path):
    from migdata.publish.tables import write_tables as publish_indicators

    store = fixture_data().save(tmp_path / "store")
    paths = publish_indicators(store, tmp_path / "out" / "tables.xlsx", level="city", by="sex",
                               ids="OF02,HH01", k=1, csv=True)
    assert [p.name for p in paths] == ["tables.xlsx", "tables.csv"]
    wb = load_workbook(paths[0])
    ws = wb["HH01"]
    r = find_row(ws, "0401001000")
    # OF households in the city: A, B, D, F of 6 households
    assert ws.cell(r, 4).value == pytest.approx(4 / 6)
    with open(paths[1], encoding="utf-8-sig") as f:
        assert len(list(csv.DictReader(f))) > 0


def test_long_sheet_left_out_when_too_many_rows(table, tmp_path, monkeypatch):
    import migdata.publish.excel as xl

    monkeypatch.setattr(xl, "MAX_ROWS", 10)
    wb = load_workbook(write_workbook(table, tmp_path / "t.xlsx"))
    assert "data" not in wb.sheetnames and "metadata" in wb.sheetnames
    notes = [r[1].value for r in wb["contents"].iter_rows() if r[0].value == "Note"]
    assert any("more than an Excel sheet holds" in n for n in notes)


def test_csv_guard_on_categorical_text_columns(tmp_path):
    # compute() returns its text columns as Categoricals; a hostile label must be guarded there too
    t = compute(fixture_data(), ids=["OF02"], level="barangay", by=["sex"], k=1)
    assert isinstance(t["area_name"].dtype, pd.CategoricalDtype)
    t["area_name"] = t["area_name"].cat.rename_categories(
        lambda v: "@SUM(1+1)" if v == t.loc[t.area_code == ADIA, "area_name"].iloc[0] else v)
    with open(write_csv(t, tmp_path / "c.csv"), encoding="utf-8-sig", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["area_code"] == ADIA]
    assert rows and all(r["area_name"] == "'@SUM(1+1)" for r in rows)


def test_contents_links_to_every_indicator_sheet(workbook):
    _, wb = workbook
    ws = wb["contents"]
    links = {c.value: c.hyperlink.location for row in ws.iter_rows() for c in row if c.hyperlink}
    assert links == {i: f"'{i}'!A1" for i in ("OF02", "OF03", "OF05", "RM02")}
    for name in links:
        assert name in wb.sheetnames


def test_legend_of_flags_and_suppression_on_every_sheet(workbook):
    _, wb = workbook
    for name in wb.sheetnames:
        texts = [str(c.value) for row in wb[name].iter_rows() for c in row if isinstance(c.value, str)]
        assert "Legend" in texts, name
        assert any(t.startswith("x: suppressed") and "fewer than 3 units" in t for t in texts), name
        assert any(t.startswith("* after a number: use with caution") for t in texts), name
    # indicator sheets also say it in one line above the frozen header
    assert wb["OF02"]["A3"].value.startswith("* use with caution   x suppressed")


def test_columns_fit_their_content(workbook, table):
    _, wb = workbook
    ws = wb["OF02"]
    names = [str(x) for x in table[table["indicator_id"] == "OF02"]["area_name"]]
    width = ws.column_dimensions["C"].width
    assert max(len(n) for n in names) <= width <= 60
    # the area-code column fits 10 digits, not much more
    assert 10 <= ws.column_dimensions["B"].width <= 14
    # RM02 (pesos): the region's value 325,000 is shown as "PHP 325,000" (11 characters)
    assert wb["RM02"].column_dimensions["D"].width >= len("PHP 325,000")
    # data sheet: the indicator name column fits the longest name of the four indicators
    data = wb["data"]
    head = [c.value for c in data[1]]
    col = chr(ord("A") + head.index("name"))
    longest = max(len(str(x)) for x in table["name"].astype(str).unique())
    assert data.column_dimensions[col].width >= min(longest, 60)


def test_percent_sheet_unit_line(workbook):
    _, wb = workbook
    assert wb["OF03"]["A2"].value == "Unit: % of persons"
    assert wb["OF02"]["A2"].value == "Unit: persons"
