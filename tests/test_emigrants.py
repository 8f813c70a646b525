"""A census emigration module (persons abroad who are not household members) and the direct
"mother/father lives abroad" items of surveys such as MICS. Expected values are hand counts of
the small files written here.

No census with an emigrants roster is in ../shared/realdata (the Kenya 2019 CSPro dictionary is
not there), so the roster is a small CSV export shaped like one: one line per former member
abroad, with the household it belongs to, sex, age at departure, country and year left.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import migdata
from migdata.indicators import compute
from migdata.model import HouseholdData

PROFILE = """
[profile]
name = "census_emigrants"
title = "A census with an emigrants roster (test)"
reader = "csv"
round = "2020"
complete_count = true

[tables.households]
from = "households"
[tables.households.columns]
hh_id = { from = "hh", dtype = "string" }
psgc = { from = "area", area = "psgc10" }
weight = { value = 1.0 }

[tables.persons]
from = "members"
[tables.persons.columns]
hh_id = { from = "hh", dtype = "string" }
line_no = "line"
sex = { from = "sex", codes = { 1 = "male", 2 = "female" } }
age = "age"
relationship = { from = "rel", codes = { 1 = "head", 2 = "spouse", 3 = "child" } }

[tables.emigrants]
from = "emigrants"
[tables.emigrants.columns]
hh_id = { from = "hh", dtype = "string" }
emigrant_no = "no"
sex = { from = "sex", codes = { 1 = "male", 2 = "female" }, source_column = "sex_src" }
age = "age"
country = "country"
year_left = "year"
"""

FILES = {
    "households.csv": "hh,area\n1,0401001001\n2,0401001001\n3,0402101001\n",
    "members.csv": "hh,line,sex,age,rel\n1,1,1,50,1\n1,2,2,48,2\n2,1,2,39,1\n3,1,1,70,1\n",
    # household 1: two emigrants; household 3: three; household 2: none
    "emigrants.csv": ("hh,no,sex,age,country,year\n1,1,2,24,SAU,2019\n1,2,1,27,ARE,2021\n"
                      "3,1,2,33,SAU,2015\n3,2,2,30,USA,2018\n3,3,1,,CAN,2020\n"),
}


@pytest.fixture()
def census(tmp_path: Path) -> HouseholdData:
    for name, text in FILES.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "census.toml").write_text(PROFILE)
    return migdata.import_files([tmp_path / n for n in FILES], tmp_path / "census.toml")


def test_emigrants_roster_has_its_place_in_the_model(census, tmp_path):
    em = census.tables["emigrants"]
    assert census.report.problems == []
    assert census.report.counts["emigrants"] == {"read": 5, "kept": 5, "rejected": 0}
    assert len(census.persons) == 4  # emigrants are not household members
    assert em["country"].tolist() == ["SAU", "ARE", "SAU", "USA", "CAN"]
    assert em["sex"].astype(str).tolist() == ["female", "male", "female", "female", "male"]
    assert pd.to_numeric(em["year_left"]).tolist() == [2019, 2021, 2015, 2018, 2020]
    # stored and read back
    back = migdata.load(census.save(tmp_path / "store"))
    assert len(back.tables["emigrants"]) == 5


def test_emigrants_are_counted_by_their_households_area(census):
    # the one frame: each emigrant carries the area of the household that lists them
    f = census.frame("emigrants")
    assert f["province"].astype(str).tolist() == ["0401000000"] * 2 + ["0402100000"] * 3
    d = census.design("emigrants").update(one=[1.0] * len(f))
    by_country = d.total("one", by=["country"]).set_index("country")["estimate"].to_dict()
    assert by_country == {"ARE": 1.0, "CAN": 1.0, "SAU": 2.0, "USA": 1.0}
    by_prov = d.total("one", by=["province", "sex"]).set_index(["province", "sex"])["estimate"]
    assert by_prov[("0402100000", "female")] == 2.0 and by_prov[("0401000000", "male")] == 1.0


def _children(mother_abroad, father_abroad):
    """Household A: father (OFW) on the roster, mother not; household B: no parent on the roster."""
    hh = pd.DataFrame({"hh_id": ["A", "B"], "weight": 1.0, "source": "t", "region": "0400000000",
                       "province": "0401000000", "city_mun": "0401001000", "barangay": "0401001001"})
    pp = pd.DataFrame({
        "hh_id": ["A", "A", "A", "B", "B", "B"], "line_no": [1, 2, 3, 1, 2, 3],
        "relationship": ["head", "child", "child", "head", "grandchild", "grandchild"],
        "sex": ["male", "female", "male", "female", "male", "female"], "age": [40, 10, 8, 66, 9, 6],
        "of_status": ["ofw_contract", "resident", "resident", "resident", "resident", "resident"],
        "mother_abroad": pd.array(mother_abroad, dtype="boolean"),
        "father_abroad": pd.array(father_abroad, dtype="boolean")})
    return HouseholdData({"households": hh, "persons": pp}, provenance={"complete_count": True})


def test_direct_parent_items_complete_the_roster_link():
    from migdata.indicators.derive import units

    d = _children(mother_abroad=[None, True, False, None, True, False],
                  father_abroad=[None, None, None, None, False, None])
    got = [None if pd.isna(v) else v for v in units(d)["person"]["parent_abroad"]]
    # A2: father linked abroad + mother abroad (item) -> both; A3: father linked abroad -> father;
    # B2: no parent listed, mother abroad, father not -> mother; B3: mother not abroad, father
    # unknown -> still unlisted (never guessed)
    assert got == [None, "both", "father", None, "mother", "parent_unlisted"]
    t = compute(d, ids=["CL01"], level="barangay", by=[])
    row = t[t["area_level"] == "barangay"].iloc[0]
    assert row["estimate"] == pytest.approx(100 * 3 / 4)


def test_without_direct_items_the_link_rule_alone():
    from migdata.indicators.derive import units

    d = _children([None] * 6, [None] * 6)
    d.tables["persons"] = d.persons.drop(columns=["mother_abroad", "father_abroad"])
    got = [None if pd.isna(v) else v for v in units(d)["person"]["parent_abroad"]]
    assert got == [None, "father", "father", None, "parent_unlisted", "parent_unlisted"]


@pytest.mark.parametrize("seed", range(4))
def test_parent_link_by_key_table_equals_the_link_by_distinct_keys(seed, monkeypatch):
    # seeded rosters (heads, spouses, children, nuclear families, OFW parents, persons without a
    # household): the link looked up in a table of household positions gives each child the
    # answer of the link through the distinct keys
    import migdata.indicators.derive as D

    rng = np.random.default_rng(seed)
    nh = int(rng.integers(50, 400))
    hh = pd.DataFrame({"hh_id": [f"H{i:04d}" for i in range(nh)], "weight": 1.0, "source": "t",
                       "region": "0400000000", "province": "0401000000", "city_mun": "0401001000",
                       "barangay": "0401001001"})
    size = rng.integers(1, 8, nh)
    ids = np.repeat(hh["hh_id"].to_numpy(), size)
    ids[rng.random(len(ids)) < 0.03] = "NOWHERE"
    n = len(ids)
    pp = pd.DataFrame({
        "hh_id": ids, "line_no": np.concatenate([np.arange(1, k + 1) for k in size]),
        "relationship": rng.choice(["head", "spouse", "child", "grandchild", "other"], n),
        "sex": rng.choice(["male", "female"], n), "age": rng.integers(0, 80, n),
        "of_status": rng.choice(["ofw_contract", "resident", "of_other"], n, p=[0.2, 0.7, 0.1]),
        "family_no": rng.choice([1.0, 2.0, np.nan], n),
        "rel_family_head_src": rng.choice([1.0, 2.0, 3.0, 4.0, 5.0, np.nan], n)})
    d = HouseholdData({"households": hh, "persons": pp}, provenance={"complete_count": True})
    by_table = D.units(d)["person"]["parent_abroad"].astype(object)
    monkeypatch.setattr(D, "_TABLE_KEYS", 0)
    by_keys = D.units(d)["person"]["parent_abroad"].astype(object)
    assert by_table.isin(["father", "mother", "both"]).sum() > 5
    pd.testing.assert_series_equal(by_table, by_keys)
