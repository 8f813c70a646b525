"""IPUMS reader against ipumspy's test extracts (realdata/ipums) and against ipumspy itself."""

from __future__ import annotations

import gzip
import shutil
import warnings
from pathlib import Path

import pandas as pd
import pytest

from migdata.errors import DataError
from migdata.readers import ipums
from tests.conftest import realfile


def _ipums(name: str) -> Path:
    return realfile("ipums", name)


def _truncated_extract(tmp_path: Path, n_lines: int, extra: list[str] = ()) -> Path:
    """The DDI plus the first n_lines of cps_00421.dat.gz (and extra lines) in tmp_path."""
    shutil.copy(_ipums("cps_00421.xml"), tmp_path / "cps_00421.xml")
    with gzip.open(_ipums("cps_00421.dat.gz"), "rt", encoding="iso-8859-1") as f:
        lines = [next(f) for _ in range(n_lines)]
    with gzip.open(tmp_path / "cps_00421.dat.gz", "wt", encoding="iso-8859-1") as f:
        f.writelines(lines + [x + "\n" for x in extra])
    return tmp_path / "cps_00421.xml"


def test_hierarchical_counts_full_file():
    tables, cb = ipums.read(_ipums("cps_00421.xml"))
    with gzip.open(_ipums("cps_00421.dat.gz"), "rt", encoding="iso-8859-1") as f:
        first = [line[0] for line in f]
    # record counts straight from the first character of every line
    assert len(tables["household"]) == first.count("H")
    assert len(tables["person"]) == first.count("P")
    assert cb.report.counts["person"]["rejected"] == 0 and not cb.report.problems
    assert cb.variable("SEX", "person").value_labels == {1: "Male", 2: "Female", 9: "NIU"}
    assert cb.variable("HWTFINL", "household").decimals == 4
    # each person carries the household record's variables (here the household weight)
    assert {"HWTFINL", "STATEFIP", "MONTH"} <= set(tables["person"].columns)


def test_hierarchical_matches_ipumspy(tmp_path):
    from ipumspy import readers

    ddi_path = _truncated_extract(tmp_path, 3000)
    tables, _ = ipums.read(ddi_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ddi = readers.read_ipums_ddi(str(ddi_path))
        peer = readers.read_hierarchical_microdata(ddi, str(tmp_path / "cps_00421.dat.gz"))
    for code, table in (("H", "household"), ("P", "person")):
        mine = tables[table]
        theirs = peer[code]
        assert mine["_source_row"].tolist() == [i + 1 for i in theirs.index]
        cols = list(theirs.columns)
        pd.testing.assert_frame_equal(mine[cols].reset_index(drop=True), theirs.reset_index(drop=True),
                                      check_dtype=False)
    # the household variables copied onto persons are those of the household record before them
    h = peer["H"].reset_index()
    p = peer["P"].reset_index()
    merged = pd.merge_asof(p, h[["index", "HWTFINL"]], on="index")
    assert tables["person"]["HWTFINL"].tolist() == merged["HWTFINL"].tolist()


@pytest.mark.parametrize("fmt", [".csv.gz", ".parquet"])
def test_same_extract_in_several_formats_gives_identical_tables(fmt):
    base, cb = ipums.read(_ipums("cps_00006.xml"))  # finds cps_00006.dat.gz beside the DDI
    other, _ = ipums.read(_ipums("cps_00006" + fmt))
    a = base["person"].drop(columns="_source_row")
    b = other["person"].drop(columns="_source_row")
    assert len(a) == 7668
    pd.testing.assert_frame_equal(a, b)
    assert cb.variable("HWTSUPP").decimals == 4
    assert cb.variable("STATEFIP").value_labels[6] == "California"


def test_rectangular_value_labels_and_source_rows():
    tables, cb = ipums.read(_ipums("usa_00172.xml"))
    p = tables["person"]
    assert cb.variable("SEX").value_labels == {1: "Male", 2: "Female"}
    assert p["_source_row"].iloc[0] == 1
    # the first data line: 2012 2012 02 00000001 ... PERNUM 1, SEX 1, AGE 51 (read off `zcat | head -1`)
    with gzip.open(_ipums("usa_00172.dat.gz"), "rt") as f:
        line = f.readline()
    sex = cb.variable("SEX")
    age = cb.variable("AGE")
    assert p["SEX"].iloc[0] == int(line[sex.start - 1: sex.start - 1 + sex.length])
    assert p["AGE"].iloc[0] == int(line[age.start - 1: age.start - 1 + age.length])


def test_unknown_record_type_and_orphan_person_are_reported(tmp_path):
    with gzip.open(_ipums("cps_00421.dat.gz"), "rt", encoding="iso-8859-1") as f:
        head = [next(f).rstrip("\n") for _ in range(10)]
    person = next(line for line in head if line.startswith("P"))
    foreign = "X" + person[1:]
    orphan = "P" + person[1:5] + "99999" + person[10:]  # SERIAL 99999 follows household of line 10
    ddi_path = _truncated_extract(tmp_path, 10, [foreign, orphan])
    tables, cb = ipums.read(ddi_path)
    n_p = sum(1 for line in head if line.startswith("P"))
    assert len(tables["person"]) == n_p
    assert cb.report.counts["_unknown_records"] == {"read": 1, "kept": 0, "rejected": 1}
    assert cb.report.counts["person"] == {"read": n_p + 1, "kept": n_p, "rejected": 1}
    got = {(p.code, p.source_row, p.column) for p in cb.report.problems}
    assert got == {("MD471", 11, "RECTYPE"), ("MD461", 12, "SERIAL")}
    cb.report.check_balance()


def test_missing_pieces(tmp_path):
    with pytest.raises(DataError) as ei:
        ipums.read(tmp_path / "nothing.xml")
    assert ei.value.code == "MD001"
    shutil.copy(_ipums("cps_00006.xml"), tmp_path / "cps_00006.xml")
    with pytest.raises(DataError) as ei:
        ipums.read(tmp_path / "cps_00006.xml")
    assert ei.value.code == "MD470" and "cps_00006" in str(ei.value)
    (tmp_path / "lonely.dat.gz").write_bytes(b"x")
    with pytest.raises(DataError) as ei:
        ipums.read(tmp_path / "lonely.dat.gz")
    assert ei.value.code == "MD470" and "lonely.xml" in str(ei.value)
    (tmp_path / "broken.xml").write_text("<codeBook><oops>")
    (tmp_path / "broken.dat").write_text("1\n")
    with pytest.raises(DataError) as ei:
        ipums.read(tmp_path / "broken.xml")
    assert ei.value.code == "MD472"


def test_text_in_a_numeric_field_is_reported(tmp_path):
    with gzip.open(_ipums("cps_00421.dat.gz"), "rt", encoding="iso-8859-1") as f:
        head = [next(f).rstrip("\n") for _ in range(10)]
    i = next(j for j, line in enumerate(head) if line.startswith("P"))
    # AGE is in columns 41-42 of a person line (DDI); write "x7" there
    head[i] = head[i][:40] + "x7" + head[i][42:]
    shutil.copy(_ipums("cps_00421.xml"), tmp_path / "cps_00421.xml")
    with gzip.open(tmp_path / "cps_00421.dat.gz", "wt", encoding="iso-8859-1") as f:
        f.writelines(line + "\n" for line in head)
    tables, cb = ipums.read(tmp_path / "cps_00421.xml")
    (p,) = cb.report.problems
    assert (p.code, p.source_row, p.column, p.value, p.action) == ("MD473", i + 1, "AGE", "x7", "set_missing")
    row = tables["person"].set_index("_source_row").loc[i + 1]
    assert pd.isna(row["AGE"])
