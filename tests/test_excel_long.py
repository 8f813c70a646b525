"""The long ``data`` sheet (written as XML by hand for speed) read back with openpyxl: every
cell equals the published table, text is never a formula, header frozen and bold."""

from __future__ import annotations

import math
import zipfile

import numpy as np
import pytest
from openpyxl import load_workbook

from migdata.publish.tables import compute  # published tables (disclosure control applied)
from migdata.publish.excel import publishable, write_workbook
from test_indicators import fixture_data

HOSTILE = "=HYPERLINK(\"http://evil\",\"<Adia> & co\")"


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    t = compute(fixture_data(), ids=["OF02", "OF03", "RM02", "HH01"], level="barangay", by=["sex"], k=3)
    t["area_name"] = t["area_name"].astype(object)
    t.loc[t["area_code"] == "0401001001", "area_name"] = HOSTILE
    t.loc[t["area_code"] == "0401001002", "area_name"] = "  Bagong\x01 Sikat "  # spaces kept, control char dropped
    # a suppressed row (an unreliable survey-style estimate; complete counts are perturbed instead)
    sel = (t["indicator_id"] == "OF02") & (t["area_code"] == "0401001001") & (t["sex"] == "Total")
    t["flag"] = t["flag"].astype(object)
    t.loc[sel, ["flag", "suppressed", "suppression"]] = ["suppress", True, "reliability"]
    path = tmp_path_factory.mktemp("xl") / "t.xlsx"
    write_workbook(t, path)
    return t, path, load_workbook(path)


def test_every_cell_equals_the_published_table(written):
    t, _, wb = written
    ws = wb["data"]
    pub = publishable(t)
    assert [c.value for c in ws[1]][:len(pub.columns)] == list(pub.columns)
    rows = [[c.value for c in r] for r in ws.iter_rows(min_row=2)]
    assert len(rows) == len(pub)
    for j, col in enumerate(pub.columns):
        for i, want in enumerate(pub[col].tolist()):
            got = rows[i][j]
            if want is None or (isinstance(want, float) and math.isnan(want)) or want == "":
                assert got is None, (i, col, got)
            elif isinstance(want, (bool, np.bool_)):
                assert got is bool(want), (i, col, got)
            elif isinstance(want, (int, float, np.number)):
                assert got == pytest.approx(float(want)), (i, col, got, want)
            elif col == "area_name" and "Sikat" in str(want):
                assert got == "  Bagong Sikat ", (i, col, got)
            else:
                assert got == str(want), (i, col, got, want)


def test_suppressed_rows_blank_and_marked(written):
    t, _, wb = written
    ws = wb["data"]
    head = [c.value for c in ws[1]]
    rows = [[c.value for c in r] for r in ws.iter_rows(min_row=2)]
    sup = [r for r in rows if r[head.index("suppressed")] is True]
    assert sup and all(r[head.index(c)] is None for r in sup for c in ("estimate", "n", "numerator"))


def test_text_is_never_a_formula_and_header_is_frozen_and_bold(written):
    _, path, wb = written
    ws = wb["data"]
    assert ws.freeze_panes == "A2"
    n = len(publishable(written[0]).columns)
    assert all(c.font.b for c in ws[1][:n])
    head = [c.value for c in ws[1]]
    cells = [r[head.index("area_name")] for r in ws.iter_rows(min_row=2)]
    hostile = [c for c in cells if c.value == HOSTILE]
    assert hostile and all(c.data_type == "s" and c.quotePrefix for c in hostile)
    plain = [c for c in cells if c.value and c.value != HOSTILE]
    assert plain and not any(c.quotePrefix for c in plain)
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None
        for name in z.namelist():
            if name.startswith("xl/worksheets/"):
                assert "<f>" not in z.read(name).decode("utf-8")


def test_table_without_attrs_keeps_its_disaggregation(tmp_path):
    # a filtered/concatenated table loses attrs["by"]; the sheet must still lay sex across
    t = compute(fixture_data(), ids=["OF02"], level="region", by=["sex"], k=1)
    t.attrs = {}
    wb = load_workbook(write_workbook(t, tmp_path / "t.xlsx"))
    ws = wb["OF02"]
    assert [c.value for c in ws[4]][2:6] == ["Sex", "Total", "Male", "Female"]
    row = [c.value for c in ws[6]]
    # the published OFWs in the region (hand count in test_indicators.py, before perturbation:
    # A2 f, B2 m, D1 m, D2 f -> 4, 2 male, 2 female)
    region = t[t["area_code"] == "0400000000"].set_index("sex")["estimate"]
    assert row[1] == "0400000000" and row[3:6] == [region["Total"], region["male"], region["female"]]
    assert abs(region["Total"] - 4) <= 3 and abs(region["male"] - 2) <= 3 and abs(region["female"] - 2) <= 3


def test_legend_beside_the_long_table(written):
    t, _, wb = written
    ws = wb["data"]
    n = len(publishable(t).columns)
    # one empty column, then the legend, one line a row from the header row down
    side = [[c.value for c in r][n:n + 2] for r in ws.iter_rows(min_row=1, max_row=6)]
    assert side[0] == [None, "Legend"]
    assert side[1][1].startswith("Total:") and side[2][1].startswith("* after a number")
    assert side[3][1].startswith("x: suppressed") and "too few units" in side[3][1]
    assert "cell-key method, threshold k=3" in side[4][1]  # the k the table was published with
    assert side[5][1] == "Blank: no units in this cell."
