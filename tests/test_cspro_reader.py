"""CSPro fixed-width reader: real PSA/Popstan files and a hand-made fixture for each failure mode."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from migdata.errors import DataError, render
from migdata.model.report import ImportReport
from migdata.readers.cspro import parse_dictionary_text, read_cspro, read_dictionary
from tests.conftest import realfile

# -- real files ----------------------------------------------------------------------------


def test_lfs_counts_and_published_shape():
    tables, cb = read_cspro(realfile("ph", "lfs", "LFS_PUF_December_2022.F2"),
                            realfile("ph", "lfs", "LFS_PUF_December_2022.dcf"))
    df = tables["HHMEM"]
    # realdata README: 45,687 persons, 10,896 households (PUFREG+PUFHHNUM), 483 PSUs
    assert len(df) == 45687
    assert len(df[["PUFREG", "PUFHHNUM"]].drop_duplicates()) == 10896
    assert df["PUFPSU"].nunique() == 483
    assert cb.report.problems == []
    assert cb.report.counts["lines of LFS_PUF_December_2022.F2"] == {"read": 45687, "kept": 45687, "rejected": 0}


def test_lfs_values_agree_with_read_fwf():
    """Every numeric item equals pandas.read_fwf's parse of the same columns (an independent parser)."""
    dcf = realfile("ph", "lfs", "LFS_PUF_December_2022.dcf")
    dat = realfile("ph", "lfs", "LFS_PUF_December_2022.F2")
    d = read_dictionary(dcf)
    items = list(d.items())
    ref = pd.read_fwf(dat, colspecs=[(it.start - 1, it.end) for it in items],
                      names=[it.name for it in items], header=None, encoding="utf-8-sig",
                      dtype=str)
    tables, _ = read_cspro(dat, d)
    df = tables["HHMEM"]
    for it in items:
        expected = pd.to_numeric(ref[it.name].str.strip(), errors="raise") / 10 ** it.decimals
        got = df[it.name].astype("float64")
        np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), equal_nan=True, err_msg=it.name)


def test_lfs_first_line_by_hand():
    tables, _ = read_cspro(realfile("ph", "lfs", "LFS_PUF_December_2022.F2"),
                           realfile("ph", "lfs", "LFS_PUF_December_2022.dcf"))
    row = tables["HHMEM"].iloc[0]
    # first line: '201000012001209545112202200188...'; PUFPWGTPRV = cols 10-19 '0012095451', 4 decimals
    assert (row["PUFREG"], row["PUFHHNUM"], row["PUFURB2015"]) == (1, 1, 2)
    assert row["PUFPWGTPRV"] == pytest.approx(1209.5451)
    assert (row["PUFSVYMO"], row["PUFSVYYR"], row["_occ"], row["_source_row"]) == (12, 2022, 1, 1)


def test_popstan_record_types_and_occurrences():
    dat = realfile("cspro", "popstan", "Popstan Census.dat")
    tables, cb = read_cspro(dat, realfile("cspro", "popstan", "Census Dictionary.dcf"))
    lines = dat.read_text(encoding="utf-8-sig").splitlines()
    first = pd.Series([ln[0] for ln in lines]).value_counts()
    assert len(tables["PERSON"]) == first["1"]
    assert len(tables["HOUSING"]) == first["2"]
    assert len(tables["INTERVIEW_RECORD"]) == first["3"]
    p = tables["PERSON"]
    # the first case has three person lines (lines 1-3 of the file)
    assert p["_occ"].head(4).tolist() == [1, 2, 3, 1]
    assert p["_source_row"].head(3).tolist() == [1, 2, 3]
    iv = tables["INTERVIEW_RECORD"].iloc[0]
    # line 5: '301010030011021001120001220Lisa                1'
    assert (iv["INTERVIEW_YEAR"], iv["INTERVIEW_MONTH"], iv["ENUMERATOR"]) == (2000, 12, "Lisa")
    assert cb.variable("P08_RES95", "PERSON").special_values == {"  ": "NOTAPPL"}


# -- a small dictionary for the failure modes ------------------------------------------------

DCF = """[Dictionary]
Name=T
RecordTypeStart=1
RecordTypeLen=1
DecimalChar=No

[Level]
Name=L

[IdItems]

[Item]
Name=HH
Start=2
Len=3
DataType=Numeric

[Record]
Name=HOUSE
RecordTypeValue='H'
Required=Yes
RecordLen=12

[Item]
Name=INC
Start=5
Len=6
DataType=Numeric
Decimal=2

[Item]
Name=ROOMS
Start=11
Len=2
DataType=Numeric

[Record]
Name=PERSON
RecordTypeValue='P'
Required=No
MaxRecords=2
RecordLen=14

[Item]
Name=LINE
Start=5
Len=2
DataType=Numeric

[Item]
Name=AGE
Start=7
Len=3
DataType=Numeric

[ValueSet]
Name=AGE_VS1
Value=0:98
Value=999;Missing
Name=MISSING,Special

[Item]
Name=NAME
Start=10
Len=5
DataType=Alpha
"""


def _read(tmp_path, text: bytes | str, **kw):
    (tmp_path / "t.dcf").write_text(DCF)
    p = tmp_path / "t.dat"
    p.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return read_cspro(p, tmp_path / "t.dcf", **kw)


def _codes(cb):
    return [(p.code, p.source_row, p.column, p.action) for p in cb.report.problems]


def test_clean_fixture_hand_values(tmp_path):
    data = ("H001012345 3\n"
            "P00101 34Ana\n"
            "P00102  5Bé\n"       # non-ASCII name: positions are characters
            "H002\n"              # trailing blanks trimmed: INC and ROOMS blank -> NA
            "P002019990\n")      # 999 = MISSING special value, kept as the code
    tables, cb = _read(tmp_path, data)
    h, p = tables["HOUSE"], tables["PERSON"]
    assert h["HH"].tolist() == [1, 2]
    assert h["INC"].tolist()[0] == pytest.approx(123.45)   # '012345' with 2 implied decimals
    assert pd.isna(h["INC"].iloc[1]) and pd.isna(h["ROOMS"].iloc[1])
    assert h["ROOMS"].iloc[0] == 3
    assert p["AGE"].tolist() == [34, 5, 999]
    assert p["NAME"].tolist()[:2] == ["Ana", "Bé"]
    assert p["NAME"].tolist()[2] == "0"
    assert p["_occ"].tolist() == [1, 2, 1]
    assert p["_source_row"].tolist() == [2, 3, 5]
    assert cb.report.problems == []
    assert cb.variable("AGE", "PERSON").missing_values == [999]


def test_truncated_line_inside_numeric_item(tmp_path):
    tables, cb = _read(tmp_path, "H001012345 3\nP00101 3\n")
    assert _codes(cb) == [("MD402", 2, "AGE", "set_missing")]
    assert pd.isna(tables["PERSON"]["AGE"].iloc[0])
    assert cb.report.problems[0].message == render(
        "MD402", row=2, file=str(tmp_path / "t.dat"), record="PERSON", length=8, column="AGE",
        start=7, end=9, value=" 3")


def test_line_too_short_for_case_id_is_rejected(tmp_path):
    tables, cb = _read(tmp_path, "H001012345 3\nP0\n")
    assert _codes(cb) == [("MD408", 2, None, "rejected")]
    assert len(tables["PERSON"]) == 0
    assert cb.report.counts["lines of t.dat"] == {"read": 2, "kept": 1, "rejected": 1}


def test_unknown_record_type_is_rejected_and_located(tmp_path):
    tables, cb = _read(tmp_path, "H001012345 3\nX00101 34Ana\nP00101 34Ana\n")
    assert _codes(cb) == [("MD401", 2, "record type", "rejected")]
    assert cb.report.problems[0].value == "X"
    assert len(tables["PERSON"]) == 1
    cb.report.check_balance()
    assert cb.report.counts["lines of t.dat"] == {"read": 3, "kept": 2, "rejected": 1}


def test_record_longer_than_dictionary_is_named(tmp_path):
    tables, cb = _read(tmp_path, "H001012345 3XYZ\nH002012345 3XYZW\n")
    (prob,) = cb.report.problems
    assert (prob.code, prob.source_row, prob.value, prob.table) == ("MD403", 1, 16, "HOUSE")
    assert "2 line(s) of record HOUSE" in prob.message and "record length 12" in prob.message


def test_text_in_numeric_field(tmp_path):
    tables, cb = _read(tmp_path, "H0010123X5 3\nH002-01234 3\nH0031 2345 3\n")
    # '0123X5' is text; '-01234' is a negative number (-12.34); '1 2345' has a gap -> text
    assert _codes(cb) == [("MD404", 1, "INC", "set_missing"), ("MD404", 3, "INC", "set_missing")]
    inc = tables["HOUSE"]["INC"]
    assert pd.isna(inc.iloc[0]) and inc.iloc[1] == pytest.approx(-12.34) and pd.isna(inc.iloc[2])


def test_duplicate_case_and_too_many_occurrences(tmp_path):
    data = ("H001012345 3\nP00101 34Ana\nP00102 30Ben\nP00103 10Cy\n"
            "H002012345 1\nP00201 50Di\n"
            "H001012345 2\n")
    tables, cb = _read(tmp_path, data)
    assert ("MD407", 4, None, "kept") in _codes(cb)
    assert ("MD406", 7, "case id", "kept") in _codes(cb)
    assert len(tables["HOUSE"]) == 3  # rows are kept; the tidy validation rejects the duplicate key


def test_required_record_missing_and_empty_line(tmp_path):
    tables, cb = _read(tmp_path, "P00101 34Ana\n\nH002012345 3\n")
    assert ("MD411", 1, None, "kept") in _codes(cb)
    assert ("MD409", 2, None, "rejected") in _codes(cb)


def test_value_set_check_optional(tmp_path):
    data = "H001012345 3\nP00101 99Ana\nP00102999Ben\n"
    _, cb = _read(tmp_path, data)
    assert cb.report.problems == []
    _, cb = _read(tmp_path, data, check_value_sets=True)
    # 99 is outside 0:98; 999 is the MISSING special value, which is in the value set
    assert _codes(cb) == [("MD405", 2, "AGE", "kept")]


def test_bad_encoding_names_file_and_offset(tmp_path):
    with pytest.raises(DataError) as ei:
        _read(tmp_path, b"H001012345 3\nP00101 34An\xe9\n")
    assert ei.value.code == "MD003"
    assert ei.value.fields["offset"] == 13 + 11
    # the same bytes read as cp1252, as CSPro 6 wrote them
    tables, _ = _read(tmp_path, b"H001012345 3\nP00101 34An\xe9\n", encoding="cp1252")
    assert tables["PERSON"]["NAME"].iloc[0] == "An\u00e9"


def test_missing_and_empty_files(tmp_path):
    (tmp_path / "t.dcf").write_text(DCF)
    with pytest.raises(DataError) as ei:
        read_cspro(tmp_path / "none.dat", tmp_path / "t.dcf")
    assert ei.value.code == "MD001"
    (tmp_path / "e.dat").write_bytes(b"\xef\xbb\xbf\r\n")
    with pytest.raises(DataError) as ei:
        read_cspro(tmp_path / "e.dat", tmp_path / "t.dcf")
    assert ei.value.code == "MD002"


def test_crlf_bom_item_occurrences_decimal_char(tmp_path):
    dcf = DCF.replace("Name=ROOMS\nStart=11\nLen=2", "Name=ROOMS\nStart=11\nLen=1\nOccurrences=2")
    dcf = dcf.replace("Decimal=2", "Decimal=2\nDecimalChar=Yes")
    (tmp_path / "t.dcf").write_text(dcf)
    (tmp_path / "t.dat").write_bytes(b"\xef\xbb\xbfH001123.4537\r\nH002  12.0 1\r\n")
    tables, cb = read_cspro(tmp_path / "t.dat", tmp_path / "t.dcf")
    h = tables["HOUSE"]
    assert h["INC"].tolist() == [pytest.approx(123.45), pytest.approx(12.0)]
    assert h["ROOMS_1"].tolist()[0] == 3 and h["ROOMS_2"].tolist() == [7, 1]
    assert pd.isna(h["ROOMS_1"].iloc[1])
    assert cb.report.problems == []
    # decoding only some items: an occurrence column name selects its item
    tables, _ = read_cspro(tmp_path / "t.dat", tmp_path / "t.dcf", items=["ROOMS_2"])
    assert list(tables["HOUSE"].columns) == ["HH", "ROOMS_1", "ROOMS_2", "_source_row"]


def test_many_problems_are_capped_but_counted(tmp_path):
    data = "".join(f"X{i:03d}\n" for i in range(30))
    _, cb = _read(tmp_path, data, max_problems=5)
    codes = [p.code for p in cb.report.problems]
    assert codes == ["MD401"] * 5
    (((code, _, _, action), n),) = cb.report.unlisted.items()
    assert (code, action, n) == ("MD401", "rejected", 25) and cb.report.n_problems == 30
    assert "25 more problem(s) of kind MD401" in cb.report.summary()
    assert cb.report.counts["lines of t.dat"] == {"read": 30, "kept": 0, "rejected": 30}


def test_report_passed_in_is_filled(tmp_path):
    r = ImportReport()
    (tmp_path / "t.dcf").write_text(DCF)
    (tmp_path / "t.dat").write_text("H001012345 3\n")
    _, cb = read_cspro(tmp_path / "t.dat", parse_dictionary_text(DCF), report=r)
    assert cb.report is r and r.counts["lines of t.dat"]["kept"] == 1


def test_dictionary_without_record_type(tmp_path):
    """RecordTypeLen=0: every line is the single record (CSPro lookup files)."""
    dcf = ("[Dictionary]\nName=T\nRecordTypeStart=0\nRecordTypeLen=0\n[Level]\nName=L\n[IdItems]\n"
           "[Item]\nName=CODE\nStart=1\nLen=3\n[Record]\nName=R\nRecordTypeValue=''\n"
           "[Item]\nName=NAME\nStart=4\nLen=5\nDataType=Alpha\n")
    (tmp_path / "t.dcf").write_text(dcf)
    (tmp_path / "t.dat").write_text("001Alpha\n002Beta\n")
    tables, cb = read_cspro(tmp_path / "t.dat", tmp_path / "t.dcf")
    assert tables["R"]["CODE"].tolist() == [1, 2]
    assert tables["R"]["NAME"].tolist() == ["Alpha", "Beta"]
    assert cb.report.problems == []


def test_chunks_and_threads_do_not_change_the_result(tmp_path, monkeypatch):
    """Chunks are decoded on a thread pool and joined in order: a file cut into many chunks
    gives the same tables and the same problems, in the same (line) order, as one chunk."""
    import migdata.readers.cspro as cspro
    from migdata._kernels import parallel

    lines = []
    for h in range(1, 41):
        lines.append(f"H{h:03d}{h * 137 % 1000000:06d}{h % 9:2d}")
        for p in range(1, 3):
            lines.append(f"P{h:03d}{p:02d}{(h * 7 + p) % 99:3d}{'Ana' if p == 1 else 'Bé'}")
    # bad fields planted so that several chunks hold several kinds of problem
    lines[5] = "H0030123X5 3"      # text in INC (MD404)
    lines[17] = "P00601 3"         # line ends inside AGE (MD402)
    lines[30] = "X01001 34Ana"     # unknown record type (MD401)
    lines[44] = ""                 # empty line (MD409)
    lines[58] = "P0"               # too short for the case ID (MD408)
    lines[71] = "P02401 -5Cy"      # a sign: parsed by the slow path, no problem
    lines[90] = "H0311 2345 3"     # a blank after a digit in INC (MD404)
    lines[91] = "P03101 3X"        # text in AGE (MD404)
    data = "\n".join(lines) + "\n"

    def read(chunk_lines, threads):
        monkeypatch.setattr(cspro, "CHUNK_LINES", chunk_lines)
        monkeypatch.setattr(parallel, "THREADS", threads)
        tables, cb = _read(tmp_path, data)
        probs = [(p.code, p.source_row, p.column, p.value, p.message) for p in cb.report.problems]
        return tables, probs, cb.report.counts

    t1, p1, n1 = read(1 << 16, 2)  # one chunk
    assert {p[0] for p in p1} >= {"MD401", "MD402", "MD404", "MD408", "MD409"}
    line_level = [p[1] for p in p1 if p[0] in ("MD401", "MD402", "MD404", "MD408", "MD409")]
    assert line_level == sorted(line_level) and len(line_level) == 7
    for chunk_lines, threads in ((16, 2), (7, 2), (7, 1), (1, 2)):
        t2, p2, n2 = read(chunk_lines, threads)
        assert p2 == p1, (chunk_lines, threads)
        assert n2 == n1
        assert sorted(t2) == sorted(t1)
        for name in t1:
            pd.testing.assert_frame_equal(t2[name], t1[name])
    person = t1["PERSON"].set_index("_source_row")
    assert person.loc[72, "AGE"] == -5 and pd.isna(person.loc[92, "AGE"])


def test_one_record_type_with_rejected_lines(tmp_path, monkeypatch):
    """A dictionary of one record type: columns are written per line and the rejected lines
    dropped at the end, across chunks."""
    import migdata.readers.cspro as cspro

    dcf = ("[Dictionary]\nName=T\nRecordTypeStart=0\nRecordTypeLen=0\n[Level]\nName=L\n[IdItems]\n"
           "[Item]\nName=CODE\nStart=1\nLen=3\n[Record]\nName=R\nRecordTypeValue=''\nMaxRecords=9\n"
           "[Item]\nName=N\nStart=4\nLen=2\n[Item]\nName=W\nStart=6\nLen=4\nDecimal=1\n")
    (tmp_path / "t.dcf").write_text(dcf)
    (tmp_path / "t.dat").write_text("00112 123\n002 3\n0\n0034x   5\n00\n004 99999\n")
    for chunk_lines in (1 << 16, 2, 1):
        monkeypatch.setattr(cspro, "CHUNK_LINES", chunk_lines)
        tables, cb = read_cspro(tmp_path / "t.dat", tmp_path / "t.dcf")
        r = tables["R"]
        assert r["_source_row"].tolist() == [1, 2, 4, 6]
        assert r["CODE"].tolist() == [1, 2, 3, 4] and str(r["N"].dtype) == "Int8"
        assert r["N"].tolist()[:2] == [12, 3] and pd.isna(r["N"].iloc[2]) and r["N"].iloc[3] == 9
        assert r["W"].tolist()[0] == pytest.approx(12.3) and r["W"].iloc[3] == pytest.approx(999.9)
        assert pd.isna(r["W"].iloc[1]) and r["W"].iloc[2] == pytest.approx(0.5)
        assert _codes(cb) == [("MD408", 3, None, "rejected"), ("MD404", 4, "N", "set_missing"),
                              ("MD408", 5, None, "rejected")]
        assert cb.report.counts["lines of t.dat"] == {"read": 6, "kept": 4, "rejected": 2}
