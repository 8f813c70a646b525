"""Property test: values written into a fixed-width CSPro layout by plain string formatting are
read back exactly (blank fields as missing, implied decimals applied, trailing blanks trimmed)."""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from migdata.readers.cspro import parse_dictionary_text, read_cspro

DCF = """[Dictionary]
Name=R
RecordTypeStart=1
RecordTypeLen=1
DecimalChar=No
[Level]
Name=L
[IdItems]
[Item]
Name=HH
Start=2
Len=4
[Record]
Name=P
RecordTypeValue='P'
MaxRecords=99
[Item]
Name=A
Start=6
Len=1
[Item]
Name=B
Start=7
Len=3
[Item]
Name=W
Start=10
Len=7
Decimal=3
[Item]
Name=T
Start=17
Len=4
DataType=Alpha
[Item]
Name=C
Start=21
Len=2
"""

row = st.tuples(st.integers(1, 9999), st.one_of(st.none(), st.integers(0, 9)),
                st.one_of(st.none(), st.integers(0, 999)), st.one_of(st.none(), st.integers(0, 9_999_999)),
                st.one_of(st.none(), st.text(alphabet="abcXYZ é-", min_size=1, max_size=4)),
                st.one_of(st.none(), st.integers(0, 99)))


def fmt(v, width):
    return " " * width if v is None else str(v).rjust(width)


@settings(max_examples=40, deadline=None)
@given(st.lists(row, min_size=1, max_size=30))
def test_written_values_read_back(tmp_path_factory, rows):
    d = parse_dictionary_text(DCF)
    lines = []
    for hh, a, b, w, t, c in rows:
        text = None if t is None or not t.strip() else t.rstrip()
        line = ("P" + str(hh).zfill(4) + fmt(a, 1) + fmt(b, 3) + fmt(w, 7)
                + (text or "").ljust(4) + fmt(c, 2))
        lines.append(line.rstrip())  # CSPro trims trailing blanks
    p = tmp_path_factory.mktemp("rt") / "x.dat"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tables, cb = read_cspro(p, d)
    df = tables["P"]
    assert cb.report.problems == [] or all(pr.code == "MD406" for pr in cb.report.problems)
    assert len(df) == len(rows)
    for k, (hh, a, b, w, t, c) in enumerate(rows):
        r = df.iloc[k]
        assert r["HH"] == hh
        for col, v in (("A", a), ("B", b), ("C", c)):
            assert (pd.isna(r[col]) if v is None else r[col] == v), (col, v, r[col])
        assert pd.isna(r["W"]) if w is None else abs(r["W"] - w / 1000) < 1e-9
        text = None if t is None or not t.strip() else t.rstrip()
        assert (pd.isna(r["T"]) if text is None else r["T"] == text)
        assert r["_source_row"] == k + 1
