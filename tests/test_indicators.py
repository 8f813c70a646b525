"""Indicator catalogue and evaluator on a hand-made CBMS-like fixture (22 persons, 6 households
in two barangays of Agoncillo, Batangas). Every expected number is a hand count written next to
it; the fixture is in tests/fixtures/indicators/ (persons.csv, households.csv).

Fixture summary (line numbers in brackets):
  Adia (0401001001):    A: head[1] m45 resident, spouse[2] f42 OFW contract SAU dep 2022-03 8 mo,
                           children[3] f16, [4] m10, [5] m3 ; cash 120000, income 300000
                        B: head[1] f60 resident, was abroad 5y ago (returned); son[2] m30 OFW no
                           contract ARE dep 2020-05 30 mo (family 2); daughter[3] f28 student USA;
                           grandchild[4] f5 (family 2, daughter of [2]) ; cash 0, income 90000
                        C: head[1] m35, spouse[2] f33 (unemployed), child[3] m8: all moved from
                           another place 5y ago ; cash not answered, income 200000
  Bagong Sikat (…002):  D: head[1] m50 OFW SAU dep 2021-11 12 mo, spouse[2] f48 OFW HKG dep 2022-01
                           10 mo, children[3] f17 (not attending, reason 05), [4] m12, boarder[5]
                           m20 (moved from PPMM 5624) ; cash 200000, income 250000
                        E: head[1] f70, nephew[2] m9 ; cash 5000, income 60000
                        F: head[1] m40 tourist JPN, spouse[2] f38, child[3] f14 ; cash 0, income 100000
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from migdata.errors import DataError, UsageError, render
from migdata.indicators import availability, catalogue, compute, not_computable
from migdata.indicators.catalogue import load_catalogue
from migdata.model import HouseholdData, validate

FIX = Path(__file__).parent / "fixtures" / "indicators"


def fixture_data(**prov) -> HouseholdData:
    hh = pd.read_csv(FIX / "households.csv", dtype=str, keep_default_na=False, na_values=[""])
    pp = pd.read_csv(FIX / "persons.csv", dtype=str, keep_default_na=False, na_values=[""])
    provenance = {"complete_count": True, "reference_date": "2022-10-01", "sources": ["handmade"]}
    provenance.update(prov)
    data = validate(HouseholdData({"households": hh, "persons": pp}, provenance=provenance))
    assert not data.report.problems
    return data


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return compute(fixture_data(), level="barangay", by=["sex", "age_group"])


def cell(t: pd.DataFrame, ind: str, level: str = "region", code: str | None = None, category: str = "",
         **by: str) -> pd.Series:
    sel = (t["indicator_id"] == ind) & (t["area_level"] == level) & (t["category"] == category)
    if code is not None:
        sel &= t["area_code"] == code
    for col in ("sex", "age_group"):
        sel &= t[col] == by.get(col, "Total")
    rows = t[sel]
    assert len(rows) == 1, (ind, level, code, category, by, len(rows))
    return rows.iloc[0]


def est(t, ind, **kw) -> float:
    return float(cell(t, ind, **kw)["estimate"])


ADIA, BAGONG = "0401001001", "0401001002"

# Region totals, each a hand count over the fixture.
EXPECTED = {
    # population bases: 22 persons (A1-5, B1-4, C1-3, D1-5, E1-2, F1-3) in 6 households, 15 aged 15+
    "DM01": 22, "DM02": 6, "DM03": 15,
    # OFs 15+: A2, B2, B3 (student), D1, D2, F1 (tourist) -> 6
    "OF01": 6,
    # OFWs 15+: A2, B2, D1, D2 -> 4
    "OF02": 4,
    # persons 15+: A1-3, B1-3, C1-2, D1-3, D5, E1, F1-2 = 15 -> 4/15
    "OF03": 100 * 4 / 15,
    # female OFWs A2, D2 of 4
    "OF04": 50.0,
    # departures <= 12 months before 2022-10: A2 (7 mo), D1 (11), D2 (9); B2 (29) not -> 3/4
    "OF10": 75.0,
    # months abroad of OFWs 8, 30, 12, 10 -> median (10+12)/2
    "OF11": 11.0,
    # households with an OF: A, B, D, F of 6
    "HH01": 100 * 4 / 6,
    # OFW households: A, B, D of 6
    "HH02": 50.0,
    # 2+ OFs: B (B2, B3), D (D1, D2) of the 4 OF households
    "HH03": 50.0,
    # cash answered: A, B, D, E, F (C blank); > 0: A, D, E -> 3/5
    "RM01": 60.0,
    # 120000 + 0 + 200000 + 5000 + 0
    "RM02": 325000.0,
    # 325000 / 3 receiving households
    "RM03": 325000 / 3,
    # receiving A, D, E: 325000 / (300000 + 250000 + 60000)
    "RM04": 100 * 325000 / 610000,
    # OFs asked B10 (not tourists): A2 6, B2 0, B3 2, D1 12, D2 10 -> 4 of 5 sent money
    "RM05": 80.0,
    # uses answered: A, D; both save
    "RM09": 100.0,
    # households with an account and the item: A yes, B no, D yes, F no -> 2/4
    "RM10": 50.0,
    # 15+ with LF status: A1 E, A3 N, B1 E, C1 E, C2 U, D3 N, D5 E, E1 N, F2 E -> 5 employed / 9
    "EM01": 100 * 5 / 9,
    # labour force: 5 employed + C2 unemployed -> 1/6
    "EM02": 100 / 6,
    # PSA's LFPR: labour force 6 (5 employed + C2) / 9 persons 15+ with a status
    "LF01": 100 * 6 / 9,
    # PSA's employment rate: 5 employed / labour force 6
    "LF02": 100 * 5 / 6,
    # return migrants with LF status: B1 only, employed
    "EM03": 100.0,
    # 5-17 with attendance: A3, A4, B4, C3, D3, D4, E2, F3 = 8; D3 not attending -> 7/8
    "ED01": 87.5,
    # PhilHealth yes: A1-5 (5), B1, B4 (2), D1-4 (4), E1-2 (2) = 13 of 22 persons
    "HE01": 100 * 13 / 22,
    # difficulty: B1, E1 of 22
    "HE02": 100 * 2 / 22,
    # ill: B1, D4, E1 of 22
    "HE04": 100 * 3 / 22,
    # OFWs with the OWWA item: A2 yes, B2 no, D1 yes (D2 blank) -> 2/3
    "SP01": 100 * 2 / 3,
    # any programme: B, D, E of 6
    "SP02": 50.0,
    # 4Ps: B, E of 6
    "SP02a": 100 * 2 / 6,
    # 5+ with res_5y (everyone except A5, aged 3) = 21; movers B1 (abroad), C1, C2, C3, D5 -> 5
    "IM01": 100 * 5 / 21,
    # born elsewhere: B1, C1, C2, C3 -> 4/21
    "IM02": 100 * 4 / 21,
    # 6-month movers: C3, D5 -> 2/21
    "IM03": 100 * 2 / 21,
    # 15+ residents back from abroad: B1 -> 1/15
    "RT01": 100 / 15,
    # children 0-17: A3 A4 A5 (mother abroad), B4 (father B2 via family 2), C3 (none),
    # D3 D4 (both), E2 (nephew: parent unlisted), F3 (father F1, a tourist = OF) -> 7/9
    "CL01": 100 * 7 / 9,
    # per-capita income below 30000: A 60000, B 22500 (poor), C 66667, D 50000, E 30000 (not
    # below), F 33333 -> 1/6
    "PV01": 100 / 6,
}

# Distributions: (indicator, category) -> share, hand counts
EXPECTED_CATEGORIES = {
    # OFWs' countries: A2 SAU, B2 ARE, D1 SAU, D2 HKG
    ("OF05", "SAU"): 50.0, ("OF05", "ARE"): 25.0, ("OF05", "HKG"): 25.0,
    # contract: A2, D1, D2; no contract: B2
    ("OF06", "ofw_contract"): 75.0, ("OF06", "ofw_no_contract"): 25.0,
    # of 6 OFs: B3 student, F1 tourist
    ("OF07", "student"): 100 / 6, ("OF07", "tourist"): 100 / 6, ("OF07", "embassy_staff"): 0.0,
    # households with a channel: A bank, D money transfer
    ("RM07", "bank"): 50.0, ("RM07", "money_transfer"): 50.0, ("RM07", "e_wallet"): 0.0,
    # uses: A food education savings, D food savings
    ("RM08", "food"): 100.0, ("RM08", "education"): 50.0, ("RM08", "savings"): 100.0,
    # the one non-attender (D3) gave reason 05
    ("ED02", "05"): 100.0,
    # 5 movers: B1 finished contract, C1 employment, C2 join spouse, C3 live with parents, D5 employment
    ("IM04", "employment"): 40.0, ("IM04", "finished_contract"): 20.0, ("IM04", "join_spouse"): 20.0,
    ("IM04", "live_with_parents"): 20.0, ("IM04", "school"): 0.0,
    # 9 children: C3 none; B4, F3 father; A3 A4 A5 mother; D3 D4 both; E2 unlisted
    ("CL02", "none"): 100 / 9, ("CL02", "father"): 200 / 9, ("CL02", "mother"): 300 / 9,
    ("CL02", "both"): 200 / 9, ("CL02", "parent_unlisted"): 100 / 9,
}


def test_catalogue_has_every_required_indicator():
    ids = set(catalogue())
    required = ({f"OF{i:02d}" for i in range(1, 12)} | {"HH01", "HH02", "HH03"}
                | {f"RM{i:02d}" for i in range(1, 11)} | {"EM01", "EM02", "ED01", "ED02"}
                | {f"HE{i:02d}" for i in range(1, 5)} | {"SP01", "SP02"} | {f"IM{i:02d}" for i in range(1, 6)}
                | {"RT01", "CL01", "CL02", "PV01"})
    assert required <= ids
    assert len(ids) >= 54


@pytest.mark.parametrize("ind", sorted(EXPECTED))
def test_region_total_equals_hand_count(table, ind):
    assert est(table, ind) == pytest.approx(EXPECTED[ind], rel=1e-9)


@pytest.mark.parametrize("ind,category", sorted(EXPECTED_CATEGORIES))
def test_distribution_equals_hand_count(table, ind, category):
    assert est(table, ind, category=category) == pytest.approx(EXPECTED_CATEGORIES[(ind, category)])


def test_origin_counts(table):
    # movers' origins: C1 C2 C3 from 0402108000 -> Cavite 0402100000; D5 from PPMM 5624, the City
    # of Lucena (DOMAIN.md 4.2), which PSA tables show with Quezon 0405600000; B1 abroad
    assert est(table, "IM05", category="0402100000") == 3
    assert est(table, "IM05", category="0405600000") == 1
    assert est(table, "IM05", category="abroad") == 1


def test_every_computable_indicator_is_checked(table):
    checked = set(EXPECTED) | {i for i, _ in EXPECTED_CATEGORIES} | {"IM05"}
    computed = set(table["indicator_id"])
    assert computed == checked
    nc = not_computable(table)
    assert set(nc["indicator_id"]) | computed == set(catalogue())


def test_disaggregations_by_sex_age_and_barangay(table):
    # OFWs: male B2 (Adia), D1 (Bagong Sikat); female A2 (Adia), D2 (Bagong Sikat)
    assert est(table, "OF02", sex="male") == 2 and est(table, "OF02", sex="female") == 2
    assert est(table, "OF02", level="barangay", code=ADIA) == 2
    assert est(table, "OF02", level="barangay", code=BAGONG, sex="female") == 1
    # broad ages of the OFWs: 42 (35-44), 30 (25-34), 50 and 48 (45-54)
    assert est(table, "OF02", age_group="45-54") == 2
    assert est(table, "OF02", sex="female", age_group="35-44") == 1
    # OFW prevalence among men 15+ (A1, B2, C1, D1, D5, F1): B2, D1 -> 2/6
    assert est(table, "OF03", sex="male") == pytest.approx(100 * 2 / 6)
    # OF households in Adia: A, B of A, B, C
    assert est(table, "HH01", level="barangay", code=ADIA) == pytest.approx(100 * 2 / 3)
    # household indicators do not split by sex: only Total rows
    assert set(table.loc[table["indicator_id"] == "HH01", "sex"]) == {"Total"}
    # female share of OFWs is never split by sex (not_by)
    assert set(table.loc[table["indicator_id"] == "OF04", "sex"]) == {"Total"}


def test_totals_at_every_level(table):
    t = table[table["indicator_id"] == "OF01"]
    assert set(t["area_level"]) == {"region", "province", "city", "barangay"}
    # city row = sum of its two barangays (3 + 3), and region = province = city
    assert est(table, "OF01", level="barangay", code=ADIA) == 3
    assert est(table, "OF01", level="barangay", code=BAGONG) == 3
    assert est(table, "OF01", level="city", code="0401001000") == 6
    assert est(table, "OF01", level="province", code="0401000000") == 6
    assert cell(table, "OF01", level="barangay", code=ADIA)["parent_code"] == "0401001000"


def test_complete_count_has_no_sampling_error(table):
    r = cell(table, "OF03")
    assert r["se"] == 0 and r["ci_low"] == r["estimate"] == r["ci_high"] and r["flag"] == "complete_count"
    assert r["numerator"] == 4 and r["denominator"] == 15 and r["n"] == 15


def test_by_migratory_status_and_urban_rural():
    t = compute(fixture_data(), ids=["EM01", "PV01", "OF02"], level="city",
                by=["hh_migratory_status", "urban_rural"])

    def get(ind, **kw):
        sel = (t["indicator_id"] == ind) & (t["area_level"] == "region")
        for c in ("hh_migratory_status", "urban_rural"):
            sel &= t[c] == kw.get(c, "Total")
        return float(t.loc[sel, "estimate"].iloc[0])

    # EM01 in OFW households (A, B, D): A1 E, A3 N, B1 E, D3 N, D5 E -> 3/5
    assert get("EM01", hh_migratory_status="ofw_household") == pytest.approx(60.0)
    # OF-only household F: F2 employed -> 1/1; other (C, E): C1 E, C2 U, E1 N -> 1/3
    assert get("EM01", hh_migratory_status="of_household") == pytest.approx(100.0)
    assert get("EM01", hh_migratory_status="other") == pytest.approx(100 / 3)
    # poor households: only B (an OFW household) -> 1 of 3 OFW households
    assert get("PV01", hh_migratory_status="ofw_household") == pytest.approx(100 / 3)
    # fixture flags Adia households urban: OFWs A2, B2 -> 2
    assert get("OF02", urban_rural="urban") == 2


def test_person_migratory_status_and_custom_age_groups():
    t = compute(fixture_data(), ids=["OF01", "IM01"], level="region", by=["migratory_status", "age_group"],
                age_scheme=[0, 15, 40])

    def get(ind, ms="Total", ag="Total"):
        sel = (t["indicator_id"] == ind) & (t["migratory_status"] == ms) & (t["age_group"] == ag)
        return float(t.loc[sel, "estimate"].iloc[0])

    # OFs aged 15-39: B2 (30), B3 (28) -> 2; 40+: A2, D1, D2, F1 -> 4
    assert get("OF01", ag="15-39") == 2 and get("OF01", ag="40+") == 4
    # OF non-workers: B3 student, F1 tourist
    assert get("OF01", ms="of_non_worker") == 2
    # IM01 among internal 5-year migrants (C1, C2, C3, D5): all movers -> 100 %
    assert get("IM01", ms="internal_migrant_5y") == 100.0


def test_cut_points_as_text():
    t = compute(fixture_data(), ids=["OF02"], level="region", by="age_group", age_scheme="0,15,45")
    got = dict(zip(t["age_group"], t["estimate"]))
    # OFWs aged 42, 30 (15-44) and 50, 48 (45+)
    assert got == {"Total": 4, "15-44": 2, "45+": 2}


def test_five_year_age_groups():
    t = compute(fixture_data(), ids=["OF02"], level="region", by=["age_group"], age_scheme="five_year")
    got = dict(zip(t["age_group"], t["estimate"]))
    # OFWs aged 42 (40-44), 30 (30-34), 50 (50-54), 48 (45-49)
    assert got["40-44"] == 1 and got["30-34"] == 1 and got["50-54"] == 1 and got["45-49"] == 1
    assert got["Total"] == 4


def test_not_computable_is_listed_with_reason():
    data = fixture_data()
    data.tables["persons"] = data.persons.drop(columns=["months_abroad"])
    t = compute(data, ids=["OF02", "OF11"], level="region", by=[])
    nc = not_computable(t)
    assert list(nc["indicator_id"]) == ["OF11"]
    assert "months_abroad" in nc["reason"].iloc[0]
    assert set(t["indicator_id"]) == {"OF02"}


def test_missing_reference_date_makes_of10_not_computable():
    data = fixture_data()
    data.provenance.reference_date = None
    a = availability(data, ["OF10"])
    assert a["status"].iloc[0] == "not computable" and "reference date" in a["reason"].iloc[0]


def test_unknown_indicator_level_by_and_k():
    data = fixture_data()
    with pytest.raises(UsageError) as e:
        compute(data, ids=["XX99"])
    assert e.value.code == "MD701" and str(e.value) == render("MD701", value="XX99",
                                                              choices=", ".join(catalogue()))
    with pytest.raises(UsageError) as e:
        compute(data, ids=["OF01"], level="purok")
    # one "known area level" rule for every table (migdata.areas.levels; MD706 was its copy)
    assert e.value.code == "MD208"
    with pytest.raises(UsageError) as e:
        compute(data, ids=["OF01"], by=["shoe_size"])
    assert e.value.code == "MD705"
    from migdata.publish.tables import compute as publish  # the threshold is a publishing choice
    for bad in (0, -1, 2.5, True):
        with pytest.raises(UsageError) as e:
            publish(data, ids=["OF01"], k=bad)
        assert e.value.code == "MD708"


def test_missing_area_column_is_a_located_error():
    data = fixture_data()
    data.tables["households"] = data.households.drop(columns=["barangay"])
    with pytest.raises(DataError) as e:
        compute(data, ids=["OF01"], level="barangay")
    assert e.value.code == "MD707" and "'barangay'" in str(e.value)


def test_catalogue_rejects_unsafe_or_incomplete_entries():
    base = 'name = "x"\ndefinition = "x"\nunit = "person"\n'
    with pytest.raises(UsageError) as e:
        load_catalogue('[X1]\n' + base + 'statistic = "count"\nnumerator = "__import__(\'os\').system(\'true\')"\n')
    assert e.value.code == "MD703" and "__import__" in str(e.value)
    with pytest.raises(UsageError) as e:
        load_catalogue('[X2]\n' + base + 'statistic = "count"\nnumerator = "age.__class__"\n')
    assert e.value.code == "MD703" and "attribute" in str(e.value)
    with pytest.raises(UsageError) as e:
        load_catalogue('[X3]\n' + base + 'statistic = "average"\n')
    assert e.value.code == "MD702" and "statistic" in str(e.value)
    with pytest.raises(UsageError) as e:
        load_catalogue('[X4]\n' + base + 'statistic = "ratio"\nnumerator = "a"\n')
    assert e.value.code == "MD702" and "denominator" in str(e.value)
    with pytest.raises(UsageError) as e:
        load_catalogue('[X5]\n' + base + 'statistic = "count"\nnumerator = "a"\ncolour = "red"\n')
    assert e.value.code == "MD702" and "colour" in str(e.value)


def test_sample_survey_rows_stop_at_design_domain():
    # the same fixture declared a sample survey (weights 1, each household its own PSU)
    data = fixture_data(complete_count=False)
    data.tables["households"] = data.households.assign(psu=data.households["hh_id"])
    data.provenance.design = data.spec.replace(psu="psu")  # the design is declared, never guessed
    from migdata.publish.tables import compute as publish  # hiding unreliable rows is publishing
    t = publish(data, ids=["OF03"], level="barangay", by=["sex"])
    assert set(t["area_level"]) == {"region"}
    assert any("design domain" in n for n in t.attrs["notes"])
    r = t[t["sex"] == "Total"].iloc[0]
    # same point estimate as the hand count; sampling error now > 0; n = 15 persons 15+
    assert r["estimate"] == pytest.approx(100 * 4 / 15) and r["se"] > 0 and r["n"] == 15
    # n < 30 -> suppressed by the reliability policy
    assert r["flag"] == "suppress" and r["suppressed"] and r["suppression"] == "reliability"


def test_national_level_on_request():
    t = compute(fixture_data(), ids=["OF02"], level="national", by=[])
    r = t.iloc[0]
    assert len(t) == 1 and isinstance(t.attrs["not_computable"], pd.DataFrame)
    assert len(t) == 1 and (r["area_level"], r["area_code"], r["area_name"]) == ("national", "PH", "Philippines")
    assert t["estimate"].iloc[0] == 4  # A2, B2, D1, D2


def test_each_indicator_alone_equals_its_rows_of_the_whole_catalogue(table):
    """An indicator computed alone derives only the person columns it reads (the plan's
    ``need``): its rows must be the whole catalogue's rows (hand-counted above), for every one."""
    cols = ["area_level", "area_code", "sex", "age_group", "category", "estimate", "numerator",
            "denominator", "n"]
    for ind in table["indicator_id"].astype(str).unique():
        alone = compute(fixture_data(), ids=[ind], level="barangay", by=["sex", "age_group"])
        want = table[table["indicator_id"] == ind]
        key = cols[:5]
        alone, want = alone[cols].copy(), want[cols].copy()
        alone.attrs, want.attrs = {}, {}  # they hold frames, which pandas cannot compare
        got = alone[cols].astype({c: str for c in key}).sort_values(key).reset_index(drop=True)
        exp = want[cols].astype({c: str for c in key}).sort_values(key).reset_index(drop=True)
        pd.testing.assert_frame_equal(got, exp, check_dtype=False, obj=ind)
