"""Release crosswalks: a hand-made pair of releases, and the real c. 2022 CBMS barangay list.

The real-file expectations are PSA facts recorded in DOMAIN.md §4.2: Bacoor's 44 old barangay
codes were replaced by 18 new ones, Calaca and Carmona became cities; the 2022 list has 4,019
Region IV-A barangays.
"""

from __future__ import annotations

import pandas as pd
import pytest

from conftest import realfile
from migdata import areas
from migdata.areas.build import finish
from migdata.errors import DataError


def _release(units: list[tuple], name: str) -> pd.DataFrame:
    df = pd.DataFrame(units, columns=["psgc", "name", "level", "correspondence_code"])
    return finish(df, name)


OLD = _release([
    ("0100000000", "Region I", "region", "010000000"),
    ("0102800000", "Province A", "province", "012800000"),
    ("0102801000", "Town A", "municipality", "012801000"),      # becomes a city
    ("0102801001", "Alpha", "barangay", "012801001"),           # same
    ("0102801002", "Beta I", "barangay", "012801002"),          # renamed
    ("0102801003", "Gamma", "barangay", "012801003"),           # } merged into one new
    ("0102801004", "Delta", "barangay", "012801004"),           # }
    ("0102801005", "Epsilon", "barangay", "012801005"),         # split into two new
    ("0102802000", "Town B", "municipality", "012802000"),
    ("0102802001", "Zeta", "barangay", "012802001"),            # abolished
    ("0102802002", "Eta", "barangay", "012802002"),
    ("0102900000", "Province B", "province", "012900000"),      # moves to region 02
    ("0102901000", "Town C", "municipality", "012901000"),
    ("0102901001", "Theta", "barangay", "012901001"),
], "old")

NEW = _release([
    ("0100000000", "Region I", "region", "010000000"),
    ("0102800000", "Province A", "province", "012800000"),
    ("0102801000", "City of Town A", "city", "012801000"),
    ("0102801001", "Alpha", "barangay", "012801001"),
    ("0102801002", "Beta 1", "barangay", "012801002"),
    ("0102801006", "Gamma-Delta", "barangay", None),
    ("0102802000", "Town B", "municipality", "012802000"),
    ("0102802002", "Eta", "barangay", "012802002"),
    ("0102802003", "Epsilon North", "barangay", None),
    ("0102802004", "Epsilon South", "barangay", None),
    ("0200000000", "Region II", "region", "020000000"),
    ("0202900000", "Province B", "province", "012900000"),
    ("0202901000", "Town C", "municipality", "012901000"),
    ("0202901001", "Theta", "barangay", "012901001"),
    ("0202901002", "Iota", "barangay", None),                   # new
], "new")


@pytest.fixture(scope="module")
def small() -> pd.DataFrame:
    return areas.crosswalk(OLD, NEW)


def _by_old(cw: pd.DataFrame, code: str) -> pd.Series:
    rows = cw[cw["old_code"].eq(code).fillna(False)]
    assert len(rows) == 1, code
    return rows.iloc[0]


def test_one_to_one_changes_are_mapped(small):
    assert _by_old(small, "0102801001")[["new_code", "change"]].tolist() == ["0102801001", "same"]
    assert _by_old(small, "0102801002")[["new_code", "change"]].tolist() == ["0102801002", "renamed"]
    r = _by_old(small, "0102801000")
    assert (r["new_code"], r["change"], r["new_level"]) == ("0102801000", "reclassified", "city")
    assert "municipality -> city" in r["note"]
    r = _by_old(small, "0102900000")
    assert (r["new_code"], r["change"]) == ("0202900000", "recoded")
    assert _by_old(small, "0102901001")[["new_code", "change"]].tolist() == ["0202901001", "recoded"]


def test_many_to_few_is_not_guessed(small):
    for code in ("0102801003", "0102801004", "0102801005"):
        r = _by_old(small, code)
        assert pd.isna(r["new_code"])
    # Town A: Gamma, Delta vanished and one new barangay appeared -> merged.
    assert _by_old(small, "0102801003")["change"] == "merged"
    assert "0102801006" in _by_old(small, "0102801003")["note"]
    new_row = small[small["new_code"].eq("0102801006").fillna(False)].iloc[0]
    assert pd.isna(new_row["old_code"]) and new_row["change"] == "merged"


def test_split_abolished_and_new(small):
    # Town B: Zeta vanished, Epsilon North/South appeared (Epsilon came from Town A, and the
    # publication does not say so): 1 old and 2 new codes under Town B -> split, unmapped.
    assert _by_old(small, "0102802001")["change"] == "split"
    # Epsilon: vanished from Town A where only one code appeared -> grouped with Gamma/Delta.
    assert _by_old(small, "0102801005")["change"] == "merged"
    iota = small[small["new_code"].eq("0202901002").fillna(False)].iloc[0]
    assert iota["change"] == "new" and pd.isna(iota["old_code"])
    r2 = small[small["new_code"].eq("0200000000").fillna(False)].iloc[0]
    assert r2["change"] == "new"


def test_no_new_code_is_used_twice(small):
    mapped = small["new_code"].dropna()
    assert not mapped.duplicated().any()
    old = small["old_code"].dropna()
    assert not old.duplicated().any()
    assert set(old) == set(OLD["psgc"]) and set(mapped) == set(NEW["psgc"])


# --- the real c. 2022 CBMS list against the shipped July 2025 reference -------------------

@pytest.fixture(scope="module")
def old_release() -> pd.DataFrame:
    return areas.read_release(realfile("ph", "psgc", "rcbms-app_psgc_barangay_wide.xlsx"))


@pytest.fixture(scope="module")
def real(old_release) -> pd.DataFrame:
    return areas.crosswalk(old_release, areas.reference())


@pytest.mark.realdata
def test_old_release_has_its_published_counts(old_release):
    # realdata README: 42,046 barangays, 4,019 in Region IV-A.
    bgy = old_release[old_release["level"].eq("barangay")]
    assert len(bgy) == 42_046
    assert bgy["region"].eq("0400000000").sum() == 4_019
    # DOMAIN §4.2: the 2022 list had 19 component cities + 1 HUC in Region IV-A.
    iva_cities = old_release[old_release["region"].eq("0400000000") & old_release["level"].eq("city")]
    assert len(iva_cities) == 20


@pytest.mark.realdata
def test_bacoor_consolidation_is_detected_not_guessed(real):
    bacoor_old = real[real["old_code"].str.startswith("0402103").fillna(False)
                      & real["old_level"].eq("barangay").fillna(False)]
    gone = bacoor_old[bacoor_old["new_code"].isna()]
    assert len(gone) == 44
    assert set(gone["change"]) == {"merged"}
    born = real[real["new_code"].str.startswith("0402103").fillna(False)
                & real["old_code"].isna() & real["new_level"].eq("barangay").fillna(False)]
    assert len(born) == 18
    assert set(born["change"]) == {"merged"}
    assert born["new_code"].min() == "0402103076"


@pytest.mark.realdata
def test_calaca_and_carmona_became_cities(real):
    for code in ("0401007000", "0402104000"):
        r = real[real["old_code"].eq(code).fillna(False)].iloc[0]
        assert (r["new_code"], r["change"], r["old_level"], r["new_level"]) == \
            (code, "reclassified", "municipality", "city")


@pytest.mark.realdata
def test_real_crosswalk_is_one_to_one_where_mapped(real, old_release):
    mapped = real.dropna(subset=["old_code", "new_code"])
    assert not mapped["new_code"].duplicated().any()
    assert not real["old_code"].dropna().duplicated().any()
    assert set(real["old_code"].dropna()) == set(old_release["psgc"])
    assert set(real["new_code"].dropna()) == set(areas.reference()["psgc"])


def test_read_release_refuses_other_files(tmp_path):
    import openpyxl

    p = tmp_path / "other.xlsx"
    wb = openpyxl.Workbook()
    wb.active.append(["code", "name"])
    wb.save(p)
    with pytest.raises(DataError) as e:
        areas.read_release(p)
    assert e.value.code == "MD206"
    with pytest.raises(DataError) as e:
        areas.read_release(tmp_path / "missing.xlsx")
    assert e.value.code == "MD001"


def test_codes_of_an_older_release_are_checked_against_it():
    # Gamma (0102801003) exists only in OLD; the shipped reference and NEW do not know it.
    assert areas.normalize(102801003, ref=OLD) == "0102801003"
    assert areas.normalize("012801003", ref=OLD) == "0102801003"
    assert areas.rollup(["0102801003"], "city_mun", ref=OLD).tolist() == ["0102801000"]
    with pytest.raises(DataError) as e:
        areas.normalize("0102801003", ref=NEW)
    assert e.value.code == "MD201" and "new" in str(e.value)


def test_translate_only_one_to_one_codes(small):
    from migdata.model.report import ImportReport

    codes = pd.Series(["0102801002", "0102900000", "0102801003", None, "0102801003", "0109999001"])
    with pytest.raises(DataError) as e:
        areas.translate(codes, small, column="bgy", source_rows=[2, 3, 4, 5, 6, 7])
    assert e.value.code == "MD211" and "Gamma" in str(e.value) and "merged" in str(e.value)
    assert e.value.fields["row"] == 4
    rep = ImportReport()
    out = areas.translate(codes, small, errors="report", report=rep, table="households",
                          column="bgy", source_rows=[2, 3, 4, 5, 6, 7])
    assert out.tolist() == ["0102801002", "0202900000", pd.NA, pd.NA, pd.NA, pd.NA]
    df = rep.to_frame()
    assert df[["code", "source_row", "value"]].values.tolist() == [
        ["MD211", 4, "0102801003"], ["MD212", 7, "0109999001"]]
    assert "2 rows have this value" in df.loc[0, "message"]


@pytest.mark.realdata
def test_poblacion_mark_is_not_a_rename(real, old_release):
    # The wide list writes "Adams (Pob.)"; the July 2025 publication "Adams" with status Pob.
    assert old_release.set_index("psgc").loc["0102801001", "status"] == "Pob."
    r = real[real["old_code"].eq("0102801001").fillna(False)].iloc[0]
    assert (r["old_name"], r["new_name"], r["change"]) == ("Adams", "Adams", "same")
