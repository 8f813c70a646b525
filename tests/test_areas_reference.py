"""The shipped PSGC reference and the code functions, checked against published figures.

Expected values come from outside migdata: PSA's published counts and 2020 CPH populations
(DOMAIN.md §4.2 and §5.5, the PSA National Summary sheet) and codes printed in DOMAIN.md §4.2.
"""

from __future__ import annotations

from importlib import resources

import pandas as pd
import pytest

from migdata import areas
from migdata.errors import DataError, UsageError, render
from migdata.model.report import ImportReport

IVA = "0400000000"
# DOMAIN.md §5.5 (PSA 2020 CPH) by province; Quezon excludes Lucena, shown separately.
POP_2020 = {"0401000000": 2_908_494, "0402100000": 4_344_829, "0403400000": 3_382_193,
            "0405600000": 1_950_459, "0431200000": 278_924, "0405800000": 3_330_143}


@pytest.fixture(scope="module")
def ref() -> pd.DataFrame:
    return areas.reference()


def test_shipped_file_is_small():
    f = resources.files("migdata.areas").joinpath("psgc_2025_07.parquet")
    assert f.is_file()
    assert len(f.read_bytes()) <= 3 * 1024 * 1024


def test_region_iva_counts_match_psa(ref):
    iva = ref[ref["region"].eq(IVA)]
    counts = iva["level"].astype(str).value_counts().to_dict()
    assert counts == {"region": 1, "province": 5, "city": 22, "municipality": 120, "barangay": 3993}
    assert iva.loc[iva["level"].eq("barangay"), "population_2020"].sum() == 16_195_042


def test_national_counts_match_psa_summary(ref):
    # PSA National Summary sheet, July 2025: 82 provinces, 149 cities, 1,493 municipalities,
    # 42,011 barangays.
    counts = ref["level"].astype(str).value_counts()
    assert (counts["province"], counts["city"], counts["municipality"], counts["barangay"]) == \
        (82, 149, 1493, 42011)


def test_barangay_sums_reproduce_province_populations(ref):
    bgy = ref[ref["level"].eq("barangay")]
    by_admin = bgy.groupby("province")["population_2020"].sum()
    for code, pop in POP_2020.items():
        assert by_admin[code] == pop, code
    # Statistically Lucena is shown with Quezon.
    by_stat = bgy.groupby("stat_province")["population_2020"].sum()
    assert by_stat["0405600000"] == POP_2020["0405600000"] + POP_2020["0431200000"]
    assert "0431200000" not in by_stat.index


def test_lucena_rolls_up_to_quezon_statistically():
    lucena_bgy = areas.children("0431200000", "barangay")["psgc"]
    assert len(lucena_bgy) > 0
    assert set(areas.rollup(lucena_bgy, "province")) == {"0405600000"}
    assert set(areas.rollup(lucena_bgy, "province", statistical=False)) == {"0431200000"}
    assert set(areas.rollup(lucena_bgy, "city_mun")) == {"0431200000"}
    assert set(areas.rollup(lucena_bgy, "region")) == {IVA}


def test_rollup_levels_and_edge_cases():
    codes = pd.Series(["0403405000", "0403400000", IVA, None, "1380601001", "1381701001"])
    # Calamba is a city of Laguna (DOMAIN §4.2); Manila's barangays belong to the City of
    # Manila through their sub-municipality; Pateros (NCR) has no province.
    assert areas.rollup(codes, "province").tolist() == \
        ["0403400000", "0403400000", pd.NA, pd.NA, "1380600000", "1381701000"]
    assert areas.rollup(codes, "city_mun").tolist() == \
        ["0403405000", pd.NA, pd.NA, pd.NA, "1380600000", "1381701000"]
    assert areas.rollup(codes, "barangay").tolist() == [pd.NA] * 4 + ["1380601001", "1381701001"]
    cat = areas.rollup(codes.astype("category"), "province")
    assert cat.tolist() == areas.rollup(codes, "province").tolist()


def test_rollup_code_not_in_reference_uses_its_ancestors():
    # 0402103001 (Alima, Bacoor) was consolidated away after 2022; its digits still say Bacoor.
    assert areas.rollup(["0402103001"], "city_mun").tolist() == ["0402103000"]
    assert areas.rollup(["0402103001"], "province").tolist() == ["0402100000"]
    assert areas.rollup(["0402103001"], "barangay").tolist() == ["0402103001"]


def test_rollup_rejects_non_psgc_and_unknown_level():
    with pytest.raises(DataError) as e:
        areas.rollup(["0403405000", "3405"], "province")
    assert e.value.code == "MD209"
    assert "'3405'" in str(e.value)
    assert areas.rollup(["0403405000", "3405", None], "province", errors="coerce").tolist() == \
        ["0403400000", pd.NA, pd.NA]
    with pytest.raises(UsageError) as e:
        areas.rollup(["0403405000"], "district")
    assert e.value.code == "MD208"


@pytest.mark.parametrize("value, expected", [
    ("0403400000", "0403400000"),      # 10-digit text
    (403400000, "0403400000"),         # the same number with its leading zero lost
    (403400000.0, "0403400000"),       # ... after passing through a float column
    ("043400000", "0403400000"),       # 9-digit correspondence code of Laguna (DOMAIN §4.2)
    (43400000, "0403400000"),          # ... with its leading zero lost
    ("041000000", "0401000000"),       # Batangas
    ("045624000", "0431200000"),       # Lucena's correspondence code
    ("5624", "0431200000"),            # PPMM of Lucena (DOMAIN §4.2)
    ("3499", "0403400000"),            # PP99: Laguna, city/municipality unknown
    ("5699", "0405600000"),            # PP99: Quezon
    (" 0402104000 ", "0402104000"),    # Carmona, spaces around
])
def test_normalize_accepts_the_usual_forms(value, expected):
    assert areas.normalize(value) == expected


def test_ppmm_to_psgc():
    assert areas.ppmm_to_psgc("5624") == "0431200000"
    assert areas.ppmm_to_psgc(3499) == "0403400000"
    assert areas.ppmm_to_psgc("2104") == "0402104000"    # Carmona, 9-digit 042104000
    with pytest.raises(DataError) as e:
        areas.ppmm_to_psgc("0403400000")
    assert e.value.code == "MD204"


def test_unknown_code_names_the_code_and_suggests_close_ones():
    with pytest.raises(DataError) as e:
        areas.normalize("0403405999", file="hh.csv", row=12, column="bgy")
    err = e.value
    assert err.code == "MD201"
    msg = str(err)
    assert "'0403405999'" in msg and "hh.csv" in msg and "row 12" in msg and "column bgy" in msg
    # One digit away: Calamba itself; the suggestion names it.
    assert "0403405000 City of Calamba" in msg
    assert msg == render("MD201", **err.fields)


def test_unknown_ppmm_is_reported_with_its_parts():
    with pytest.raises(DataError) as e:
        areas.normalize("3498")
    assert e.value.code == "MD205"
    assert "34" in e.value.fields["pp"] and e.value.fields["mm"] == "98"
    assert "3499 Laguna" in str(e.value)


def test_ambiguous_lost_zero_is_reported_not_guessed():
    # 100000000 is Region I (0100000000) without its zero AND the 9-digit correspondence code
    # of Region X (1000000000).
    with pytest.raises(DataError) as e:
        areas.normalize(100000000)
    assert e.value.code == "MD202"
    assert "0100000000" in str(e.value) and "1000000000" in str(e.value)


@pytest.mark.parametrize("value", ["abc", "12345", "04-034", 3.5, True])
def test_malformed_codes(value):
    with pytest.raises(DataError) as e:
        areas.normalize(value)
    assert e.value.code == "MD204"


def test_normalize_codes_reports_every_distinct_problem_once():
    rep = ImportReport()
    values = pd.Series(["0403405000", 403405000, "100000000", "abc", "0403405999", None, "abc",
                        "3405", 403405000])
    out = areas.normalize_codes(values, errors="report", report=rep, table="households",
                                column="geo", source_file="hh.csv",
                                source_rows=[2, 3, 4, 5, 6, 7, 8, 9, 10])
    assert out.tolist() == ["0403405000", "0403405000", pd.NA, pd.NA, pd.NA, pd.NA, pd.NA,
                            "0403405000", "0403405000"]
    df = rep.to_frame()
    assert df[["code", "source_row", "action"]].values.tolist() == [
        ["MD203", 3, "kept"], ["MD202", 4, "set_missing"], ["MD204", 5, "set_missing"],
        ["MD201", 6, "set_missing"]]
    assert "2 rows have this value" in df.loc[0, "message"]   # 403405000 occurs twice
    assert "2 rows have this value" in df.loc[2, "message"]   # 'abc' occurs twice


def test_normalize_codes_raise_mode_locates_the_first_bad_row():
    with pytest.raises(DataError) as e:
        areas.normalize_codes(["0403405000", "0403405999"], source_rows=[10, 11], column="bgy")
    assert e.value.fields["row"] == 11


def test_names_lookup_and_search():
    assert areas.name("0403400000") == "Laguna"
    assert areas.lookup("043405000")["name"] == "City of Calamba"
    hits = areas.search("binan")
    assert hits.iloc[0]["psgc"] == "0403403000" and hits.iloc[0]["name"] == "City of Biñan"
    assert areas.search("BIÑAN", level="city")["psgc"].tolist() == ["0403403000"]
    assert areas.search("no such place xyz").empty
    with pytest.raises(UsageError) as e:
        areas.search_text("no such place xyz")
    assert e.value.code == "MD210"
    assert "City of Biñan" in areas.search_text("binan", level="city")


def test_children_of_laguna_and_quezon():
    # DOMAIN §4.2: Laguna's component cities are Biñan, Cabuyao, Calamba, San Pablo, San Pedro,
    # Santa Rosa; Quezon's is Tayabas (Lucena is an HUC, outside it administratively).
    assert len(areas.children("0403400000", "city")) == 6
    assert areas.children("0405600000", "city")["name"].tolist() == ["City of Tayabas"]
    stat = areas.children("0405600000", "city", statistical=True)["name"].tolist()
    assert sorted(stat) == ["City of Lucena", "City of Tayabas"]
    direct = areas.children(IVA)
    assert set(direct["level"].astype(str)) == {"province", "city"}   # 5 provinces + Lucena
    assert len(direct) == 6


def test_describe_region_iva():
    text = areas.describe(IVA)
    assert "CALABARZON" in text
    assert "5 provinces, 22 cities, 120 municipalities, 3,993 barangays" in text
    assert "16,195,042" in text


def test_describe_lucena_mentions_its_statistical_province():
    text = areas.describe("0431200000")
    assert "City of Lucena" in text and "HUC" in text and "Quezon" in text and "278,924" in text
