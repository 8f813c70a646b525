"""One formula guard (migdata/publish/safe.py) for every writer: the source codebook workbook
keeps tab-led and formula-like text as text and leaves empty cells empty (issue 16 item 11)."""

from __future__ import annotations

import openpyxl
import pytest

from migdata.cli import main

DCF = """[Dictionary]
Name=D
RecordTypeStart=1
RecordTypeLen=1
[Level]
Name=L
[IdItems]
[Item]
Label=Household id
Name=HH
Start=2
Len=3
[Record]
Name=P
RecordTypeValue='1'
RecordLen=9
[Item]
Label=\t=HYPERLINK("http://x","click")
Name=A
Start=5
Len=1
[Item]
Label=+63 phone
Name=B
Start=6
Len=1
[Item]
Label=-1 means none
Name=C
Start=7
Len=1
[Item]
Label=@sum
Name=E
Start=8
Len=1
[Item]
Name=F
Start=9
Len=1
"""


def test_codebook_workbook_guards_every_risky_label_and_keeps_empty_cells_empty(tmp_path, capsys):
    f = tmp_path / "d.dcf"
    f.write_text(DCF)
    with pytest.raises(SystemExit) as e:
        main(["codebook", str(f), "--out", str(tmp_path / "cb.xlsx")])
    assert e.value.code == 0, capsys.readouterr().err
    ws = openpyxl.load_workbook(tmp_path / "cb.xlsx")["codebook"]
    header = [c.value for c in ws[1]]
    rows = {ws.cell(row=r, column=header.index("name") + 1).value: r for r in range(2, ws.max_row + 1)}
    label = {n: ws.cell(row=r, column=header.index("label") + 1) for n, r in rows.items()}
    expected = {"A": '\t=HYPERLINK("http://x","click")', "B": "+63 phone", "C": "-1 means none", "E": "@sum"}
    for name, text in expected.items():
        c = label[name]
        assert c.value == text and c.data_type == "s" and c.quotePrefix, (name, c.value)
    assert label["HH"].value == "Household id" and not label["HH"].quotePrefix
    assert label["F"].value is None  # no label: an empty cell, not a lone apostrophe
    for row in ws.iter_rows():
        for c in row:
            assert c.value != "'" and c.value != "" and c.data_type != "f", (c.coordinate, c.value)
