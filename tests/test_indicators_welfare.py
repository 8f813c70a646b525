"""ED03, HE02-HE04, SP02/SP02a/SP02b, PV01 and PV02 on a small hand-made dataset, by household
migratory status. Every expected value is a hand count over the four households written here.

    H1 OFW household:  head M 40 | spouse F 38 OFW with contract | daughter 10 | son 16
    H2 OF household:   head F 50 | son 22 student abroad | daughter 20
    H3 other:          head M 35 | spouse F 30 | son 3
    H4 other:          head F 70 living alone
"""

from __future__ import annotations

import pandas as pd
import pytest

from migdata.indicators import compute
from migdata.model import HouseholdData, validate

PSGC = "0401001001"  # a barangay of Batangas


def data() -> HouseholdData:
    hh = pd.DataFrame({
        "hh_id": ["H1", "H2", "H3", "H4"], "psgc": [PSGC] * 4, "weight": 1.0, "source": "handmade",
        "income": [200000.0, 90000.0, 60000.0, 20000.0],
        "poverty_threshold": [28872.0] * 4,
        "programme_any": [False, True, False, True], "programme_4ps": [False, True, False, False],
        "programmes": ["", "4ps_regular social_pension", "", "social_pension"],
        "child_death_3y": [False, False, True, False],
        "mpi_poor": [False, False, True, False],
    })
    P = [  # hh, line, sex, age, rel, of_status, highest_grade, difficulty, pregnant_3y, breastfeeding, ill
        ("H1", 1, "male", 40, "head", "resident", "jhs_graduate", False, None, None, False),
        ("H1", 2, "female", 38, "spouse", "ofw_contract", "college_graduate", False, False, False, False),
        ("H1", 3, "female", 10, "child", None, "elementary_undergraduate", False, False, False, True),
        ("H1", 4, "male", 16, "child", "resident", "jhs_undergraduate", False, None, None, False),
        ("H2", 1, "female", 50, "head", "resident", "elementary_graduate", False, False, False, False),
        ("H2", 2, "male", 22, "child", "student", "college_undergraduate", False, None, None, False),
        ("H2", 3, "female", 20, "child", "resident", "shs_graduate", False, False, False, False),
        ("H3", 1, "male", 35, "head", "resident", "college_graduate", False, None, None, False),
        ("H3", 2, "female", 30, "spouse", "resident", "college_graduate", False, True, True, False),
        ("H3", 3, "male", 3, "child", None, None, None, None, None, False),
        ("H4", 1, "female", 70, "head", "resident", "elementary_undergraduate", True, None, None, True),
    ]
    cols = ["hh_id", "line_no", "sex", "age", "relationship", "of_status", "highest_grade", "difficulty",
            "pregnant_3y", "breastfeeding", "ill_12m"]
    pp = pd.DataFrame(P, columns=cols)
    d = validate(HouseholdData({"households": hh, "persons": pp},
                               provenance={"complete_count": True, "sources": ["handmade"]}))
    assert not d.report.problems
    return d


IDS = ["ED03", "HE02", "HE03", "HE03a", "HE03b", "HE04", "SP02", "SP02a", "SP02b", "PV01", "PV02"]


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return compute(data(), ids=IDS, level="region", by=["hh_migratory_status", "migratory_status"])


def get(t: pd.DataFrame, ind: str, category: str = "", hms: str = "Total", ms: str = "Total") -> float:
    sel = ((t["indicator_id"] == ind) & (t["area_level"] == "region") & (t["category"] == category)
           & (t["hh_migratory_status"] == hms))
    if "migratory_status" in t.columns:
        sel &= t["migratory_status"] == ms
    rows = t[sel]
    assert len(rows) == 1, (ind, category, hms, ms, len(rows))
    return float(rows["estimate"].iloc[0])


# (indicator, category, household status) -> hand count
EXPECTED = {
    # persons 15+ with a grade: H1 40, 38, 16; H2 50, 22, 20; H3 35, 30; H4 70 = 9; college
    # graduates: H1 spouse, H3 head and spouse
    ("ED03", "college_graduate", "Total"): 100 * 3 / 9,
    ("ED03", "college_graduate", "ofw_household"): 100 / 3,
    ("ED03", "college_graduate", "other"): 100 * 2 / 3,
    ("ED03", "elementary_undergraduate", "other"): 100 / 3,  # H4
    ("ED03", "college_undergraduate", "of_household"): 100 / 3,  # H2 son
    # difficulty known for 10 (not the 3-year-old); H4 has one
    ("HE02", "", "Total"): 100 / 10, ("HE02", "", "other"): 100 / 3, ("HE02", "", "ofw_household"): 0.0,
    # women 15-49 with the item: H1 spouse, H2 daughter, H3 spouse; H3 spouse pregnant
    ("HE03", "", "Total"): 100 / 3, ("HE03", "", "other"): 100.0, ("HE03", "", "of_household"): 0.0,
    ("HE03a", "", "Total"): 100 / 3,
    # child death: H3 of 4 households
    ("HE03b", "", "Total"): 25.0, ("HE03b", "", "other"): 50.0, ("HE03b", "", "ofw_household"): 0.0,
    # ill: H1 daughter, H4 of 11 persons; H1 1/4; H3+H4 1/4; H2 0/3
    ("HE04", "", "Total"): 100 * 2 / 11, ("HE04", "", "ofw_household"): 25.0, ("HE04", "", "other"): 25.0,
    ("HE04", "", "of_household"): 0.0,
    # any programme: H2, H4
    ("SP02", "", "Total"): 50.0, ("SP02", "", "of_household"): 100.0, ("SP02", "", "other"): 50.0,
    ("SP02", "", "ofw_household"): 0.0,
    ("SP02a", "", "Total"): 25.0,
    ("SP02b", "social_pension", "Total"): 50.0, ("SP02b", "4ps_regular", "Total"): 25.0,
    ("SP02b", "social_pension", "other"): 50.0,
    # per capita 50000, 30000, 20000, 20000 against 28872: H3, H4 poor
    ("PV01", "", "Total"): 50.0, ("PV01", "", "other"): 100.0, ("PV01", "", "ofw_household"): 0.0,
    ("PV01", "", "of_household"): 0.0,
    ("PV02", "", "Total"): 25.0, ("PV02", "", "other"): 50.0,
}


@pytest.mark.parametrize("ind,category,hms", sorted(EXPECTED))
def test_hand_counts_by_household_migratory_status(table, ind, category, hms):
    assert get(table, ind, category, hms) == pytest.approx(EXPECTED[(ind, category, hms)], rel=1e-12)


def test_education_of_overseas_filipinos(table):
    # the OFW (H1 spouse) is a college graduate; the student abroad (H2 son) a college undergraduate
    assert get(table, "ED03", "college_graduate", ms="of_worker") == 100.0
    assert get(table, "ED03", "college_undergraduate", ms="of_non_worker") == 100.0


def test_all_computable(table):
    assert set(table["indicator_id"]) == set(IDS)
