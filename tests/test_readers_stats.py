"""SPSS/Stata/SAS reader against pyreadstat's own test fixtures and their expected-output CSVs.

The CSVs beside the binaries (``sample.csv``, ``sample_missing*.csv``, ``missing_*.csv``,
``sas_formatted.csv``, ``dates.csv``) are the expected values; they are read with plain pandas
here the way pyreadstat's ``tests/test_basic.py`` reads them (``na_values="#NULL!"``). The value
labels asserted below are those pyreadstat's test suite asserts (mylabl 1 Male/2 Female, myord
1 low/2 medium/3 high). Options per fixture: ``sas_catalog`` files need ``catalog=`` (the
``.sas7bcat`` beside them), ``missing_test.sas7bdat`` labels need ``missing_formats.sas7bcat``;
user-missing values are always read (the reader passes ``user_missing=True``); no fixture needs
an explicit encoding (``tegulu.sav``/``hebrews.sav`` declare UTF-8).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from migdata.errors import DataError, render
from migdata.readers import stats
from tests.conftest import REALDATA, realfile

PRS = ("stats_files", "pyreadstat")
PR_DIR = REALDATA.joinpath(*PRS)
ALL_FIXTURES = sorted(
    str(p.relative_to(PR_DIR)) for p in PR_DIR.rglob("*")
    if p.is_file() and p.suffix.lower() not in (".csv", ".sas7bcat")
) if PR_DIR.is_dir() else []

CATALOGS = {
    "sas_catalog/test_data_linux.sas7bdat": "sas_catalog/test_formats_linux.sas7bcat",
    "sas_catalog/test_data_win.sas7bdat": "sas_catalog/test_formats_win.sas7bcat",
    "missing_data/missing_test.sas7bdat": "missing_data/missing_formats.sas7bcat",
}

SAMPLE_FILES = ["basic/sample.sav", "basic/sample.zsav", "basic/sample.por", "basic/sample.dta",
                "basic/sample.sas7bdat", "basic/sample_bincompressed.sas7bdat", "basic/sample.xpt",
                "ínternátionál/sample.sas7bdat"]


def _read(rel: str, **kw):
    path = realfile(*PRS, *rel.split("/"))
    if rel in CATALOGS and "catalog" not in kw:
        kw["catalog"] = realfile(*PRS, *CATALOGS[rel].split("/"))
    tables, cb = stats.read(path, **kw)
    assert list(tables) == [path.stem]
    return tables[path.stem], cb


def _csv(rel: str, **kw) -> pd.DataFrame:
    return pd.read_csv(realfile(*PRS, *rel.split("/")), **kw)


def _same_num(a, b) -> bool:
    a = pd.to_numeric(pd.Series(a), errors="coerce").to_numpy(float)
    b = pd.to_numeric(pd.Series(b), errors="coerce").to_numpy(float)
    return bool(np.allclose(a, b, equal_nan=True))


def _code(s: str) -> str:
    """Stata/SAS letters are stored as '.a'/'.A'/'._'; the expected CSVs print them bare."""
    return s[1:] if isinstance(s, str) and s.startswith(".") else s


def _view(df: pd.DataFrame, col: str) -> list:
    """The 'user-missing' view: the value, or the missing code where the companion holds one."""
    comp = df.get(col + stats.MISSING_SUFFIX)
    out = []
    for i, v in enumerate(df[col]):
        m = None if comp is None else comp.iloc[i]
        out.append(_code(m) if isinstance(m, str) else v)
    return out


@pytest.mark.parametrize("rel", ALL_FIXTURES or ["<absent>"])
def test_every_fixture_reads_with_source_rows(rel):
    if rel == "<absent>":
        pytest.skip("pyreadstat fixtures absent")
    import pyreadstat

    df, cb = _read(rel)
    path = PR_DIR / rel
    # number of rows as declared in the file header (pyreadstat metadata-only read), when known
    fn = {".sav": pyreadstat.read_sav, ".zsav": pyreadstat.read_sav, ".dta": pyreadstat.read_dta,
          ".sas7bdat": pyreadstat.read_sas7bdat}.get(path.suffix.lower())
    if fn is not None:
        _, meta = fn(str(path), metadataonly=True)
        assert len(df) == meta.number_rows
    assert df["_source_row"].tolist() == list(range(1, len(df) + 1))
    assert cb.report.counts[path.stem] == {"read": len(df), "kept": len(df), "rejected": 0}
    assert {v.name for v in cb.variables} == {c for c in df.columns
                                              if c != "_source_row" and not c.endswith("__missing")}


@pytest.mark.parametrize("rel", SAMPLE_FILES)
def test_sample_values_and_labels(rel):
    df, cb = _read(rel)
    df.columns = [c.lower() for c in df.columns]
    exp = _csv("basic/sample.csv")
    assert df["mychar"].tolist() == exp["mychar"].tolist()
    assert _same_num(df["mynum"], exp["mynum"])
    assert _same_num(df["mylabl"], exp["mylabl"])
    assert _same_num(df["myord"], exp["myord"])
    dates = [None if (d is None or (isinstance(d, float) and math.isnan(d)) or pd.isna(d))
             else str(pd.Timestamp(d).date()) for d in df["mydate"]]
    assert dates == [None if pd.isna(d) else d for d in exp["mydate"]]
    if rel.endswith((".sav", ".zsav", ".por")):
        names = {v.name.lower(): v for v in cb.variables}
        assert names["mylabl"].value_labels == {1: "Male", 2: "Female"}
        assert names["myord"].value_labels == {1: "low", 2: "medium", 3: "high"}


@pytest.mark.parametrize("rel", ["basic/sample.sav", "basic/sample.zsav", "basic/sample.por"])
def test_categoricals_match_pyreadstat_formatted_values(rel):
    df, _ = _read(rel, categoricals=True)
    df.columns = [c.lower() for c in df.columns]
    exp = _csv("basic/sample.csv")
    assert isinstance(df["mylabl"].dtype, pd.CategoricalDtype)
    assert df["mylabl"].astype(str).tolist() == exp["mylabl"].map({1: "Male", 2: "Female"}).tolist()
    assert df["myord"].astype(str).tolist() == exp["myord"].map({1: "low", 2: "medium", 3: "high"}).tolist()


def test_sav_user_missing_discrete_and_ranges_are_flagged():
    df, cb = _read("basic/sample_missing.sav")
    system = _csv("basic/sample_missing.csv", na_values="#NULL!", keep_default_na=False)
    user = _csv("basic/sample_missing_user.csv", na_values="#NULL!", keep_default_na=False)
    for col in ("mynum", "mylabl", "myord"):
        # value column: every missing state is missing (the sysmis view of the file)
        assert _same_num(df[col], system[col]), col
        # value-or-code view equals pyreadstat's user_missing=True expected output
        assert _same_num(_view(df, col), user[col]), col
    assert df["mynum__missing"].tolist() == [None] * 5 + ["-1", "2500"]
    assert df["myord__missing"].tolist() == [None] * 5 + ["-1", "-3"]
    mynum = cb.variable("mynum")
    assert mynum.missing_ranges == [(2000, 3000)] and mynum.missing_values == [-1]
    assert cb.variable("myord").missing_values == [-1, -2, -3]
    assert cb.variable("mylabl").value_labels[-1] == "undetermined"


@pytest.mark.parametrize("rel,labeled_csv", [
    ("missing_data/missing_test.dta", "missing_data/missing_dta_labeled.csv"),
    ("missing_data/missing_test.sas7bdat", "missing_data/missing_sas_labeled.csv"),
])
def test_stata_sas_special_missing_letters(rel, labeled_csv):
    df, cb = _read(rel)
    cols = [f"var{i}" for i in range(1, 10)]
    unformatted = _csv("missing_data/missing_unformatted.csv")
    formatted = _csv("missing_data/missing_sas_formatted.csv" if rel.endswith("sas7bdat")
                     else "missing_data/missing_dta_formatted.csv")
    labeled = _csv(labeled_csv)
    for c in cols:
        assert _same_num(df[c], unformatted[c]), c
        got = _view(df, c)[0]
        want = formatted[c][0]
        if isinstance(want, str):
            assert got == want, c
            var = cb.variable(c)
            lab = var.special_values.get(df[c + "__missing"][0], got)
            assert lab == labeled[c][0], c
        else:
            assert _same_num([got], [want]), c
            assert c + "__missing" not in df.columns or df[c + "__missing"][0] is None


def test_sav_missing_test_labeled():
    df, cb = _read("missing_data/missing_test.sav")
    assert _same_num(df["var1"], _csv("missing_data/missing_sav_unformatted.csv")["var1"])
    assert _same_num(_view(df, "var1"), _csv("missing_data/missing_sav_formatted.csv")["var1"])
    labels = cb.variable("var1").value_labels
    labeled = [labels.get(int(float(v)), str(int(float(v)))) for v in _view(df, "var1")]
    assert labeled == _csv("missing_data/missing_sav_labeled.csv")["var1"].astype(str).tolist()


def test_sav_string_user_missing():
    df, cb = _read("missing_data/missing_char.sav")
    assert [None if pd.isna(v) else v for v in df["mychar"]] == [None, "a"]
    assert df["mychar__missing"].tolist() == ["Z", None]
    assert _csv("missing_data/missing_char_formatted.csv")["mychar"].tolist() == ["Z", "a"]
    assert cb.variable("mychar").missing_values == ["Z"]


@pytest.mark.parametrize("rel", ["sas_catalog/test_data_linux.sas7bdat", "sas_catalog/test_data_win.sas7bdat"])
def test_sas_catalog_labels(rel):
    exp = _csv("sas_catalog/sas_formatted.csv")
    df, cb = _read(rel)
    # codes stay in the data, labels come from the catalog into the codebook
    assert [cb.variable("SEXA").value_labels[v] for v in df["SEXA"]] == exp["SEXA"].tolist()
    df2, _ = _read(rel, categoricals=True)
    assert df2["SEXB"].astype(str).tolist() == exp["SEXB"].tolist()
    assert df2["ID"].tolist() == exp["ID"].tolist()


def test_sas_dates():
    df, _ = _read("basic/dates.sas7bdat")
    exp = _csv("basic/dates.csv")
    assert [str(pd.Timestamp(d).date()) for d in df["date"]] == exp["date"].tolist()


@pytest.mark.parametrize("rel", ["basic/sas.xpt5", "basic/sas.xpt8"])
def test_xport_versions(rel):
    df, _ = _read(rel)
    df.columns = [c.lower() for c in df.columns]
    assert df["i"].tolist() == [float(x) for x in range(1, 11)]  # as pyreadstat's test_xport_v5/v8


def test_multiple_response_sets_and_missing_declarations():
    df, cb = _read("multiple_response/simple_alltypes.sav")
    mr = cb.tables["simple_alltypes"]["mr_sets"]
    assert mr["mymrset"]["variable_list"] == ["bool1", "bool2", "bool3"]
    z = cb.variable("z")
    assert z.missing_ranges == [(-999, 0)] and z.missing_values == [999]
    # z holds -9 in case 1 and 999 in case 4 (hand-read from the file's own declarations)
    assert df.loc[0, "z__missing"] == "-9" and math.isnan(df.loc[0, "z"])
    assert df.loc[3, "z__missing"] == "999"


def test_non_latin_names_and_labels():
    df, _ = _read("basic/tegulu.sav")
    assert "Q16br9oe_Q24br9oe" in df.columns
    assert df["Q16br9oe_Q24br9oe"][0].startswith("నేను")
    df, _ = _read("basic/hebrews.sav")
    assert "ותק_ב" in df.columns


def test_wrong_encoding_is_a_located_error():
    path = realfile(*PRS, "basic", "tegulu.sav")
    with pytest.raises(DataError) as ei:
        stats.read_spss(path, encoding="ascii")
    assert ei.value.code == "MD450"
    assert str(path) in str(ei.value) and "encoding=" in str(ei.value)


def test_undecodable_variable_names_are_an_error_not_none():
    path = realfile(*PRS, "basic", "hebrews.sav")
    with pytest.raises(DataError) as ei:
        stats.read_spss(path, encoding="ascii")
    assert ei.value.code == "MD450"


def test_missing_empty_and_corrupt_files(tmp_path):
    with pytest.raises(DataError) as ei:
        stats.read_stata(tmp_path / "nope.dta")
    assert ei.value.code == "MD001"
    empty = tmp_path / "empty.sav"
    empty.write_bytes(b"")
    with pytest.raises(DataError) as ei:
        stats.read_spss(empty)
    assert str(ei.value) == render("MD002", path=str(empty))
    bad = tmp_path / "bad.dta"
    bad.write_bytes(b"this is not a stata file at all" * 10)
    with pytest.raises(DataError) as ei:
        stats.read_stata(bad)
    assert ei.value.code == "MD451" and str(bad) in str(ei.value)
    with pytest.raises(DataError) as ei:
        stats.read_spss(tmp_path / "x.csv") if (tmp_path / "x.csv").write_text("a") else None
    assert ei.value.code == "MD452"
