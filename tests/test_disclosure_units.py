"""Primary suppression rests on the units of the numerator AND of the denominator, whatever the
statistic and the disaggregation (integration defect G2-2). Fixtures are written here or are the
hand-made CBMS-like fixture of test_indicators.py; expected cells are hand counts."""

from __future__ import annotations

import pandas as pd
import pytest

from migdata.publish.tables import compute  # published tables (disclosure control applied)
from migdata.model import HouseholdData, validate
from migdata.publish.disclosure import singletons
from test_indicators import BAGONG, fixture_data


def children_fixture() -> HouseholdData:
    """One barangay, five households. Household P: both parents OFWs, one child (9, attending).
    Households Q-T: resident parents, one child each (10-13, all attending)."""
    geo = {"region": "0400000000", "province": "0401000000", "city_mun": "0401001000",
           "barangay": "0401001001", "weight": 1.0, "source": "handmade"}
    hh = pd.DataFrame({"hh_id": list("PQRST"), **geo})
    rows = [("P", 1, "male", 40, "head", "ofw_contract", None),
            ("P", 2, "female", 38, "spouse", "ofw_contract", None),
            ("P", 3, "female", 9, "child", "resident", "attending")]
    for i, h in enumerate("QRST"):
        rows += [(h, 1, "male", 41, "head", "resident", None),
                 (h, 2, "female", 39, "spouse", "resident", None),
                 (h, 3, "male", 10 + i, "child", "resident", "attending")]
    pp = pd.DataFrame(rows, columns=["hh_id", "line_no", "sex", "age", "relationship", "of_status",
                                     "school_attendance"])
    return validate(HouseholdData({"households": hh, "persons": pp},
                                  provenance={"complete_count": True, "reference_date": "2022-10-01"}))


def test_ed01_both_parents_abroad_single_child_is_suppressed():
    t = compute(children_fixture(), ids=["ED01"], level="barangay", by=["sex", "parent_abroad"], k=3)
    both = t[(t["parent_abroad"] == "both") & (t["sex"] == "Total")]
    assert len(both) == 4  # barangay, city, province, region
    # the exact cell: 1 child of 1 attending (n = 1, units = 1)
    assert (both["n"] == 1).all() and (both["units"] == 1).all()
    assert both["suppressed"].all() and (both["suppression"] == "primary").all()
    # and it cannot be worked out from the Total (5 children) by subtraction
    none = t[(t["parent_abroad"] == "none") & (t["sex"] == "Total")]
    assert (none["n"] == 4).all() and none["suppressed"].all()
    assert singletons(t) == 0


def test_total_resting_on_fewer_than_k_units_is_suppressed():
    # RM02 (total cash from abroad, households with an answer) in Bagong Sikat: D 200000,
    # E 5000, F 0 -> denominator 3 households, but the total rests on 2 (D and E)
    t = compute(fixture_data(), ids=["RM02"], level="barangay", by=[], k=3)
    r = t[(t["area_level"] == "barangay") & (t["area_code"] == BAGONG)].iloc[0]
    assert r["n"] == 3 and r["units"] == 2
    assert r["suppressed"] and r["suppression"] == "primary"
    # the region: A 120000, B 0, D, E, F -> 5 households, 3 with money: published
    reg = t[t["area_level"] == "region"].iloc[0]
    assert reg["n"] == 5 and reg["units"] == 3 and reg["estimate"] == 325000
    assert not reg["suppressed"]


@pytest.mark.parametrize("by", [["sex", "age_group"], ["parent_abroad"], ["hh_migratory_status", "parent_abroad"]])
def test_no_published_cell_rests_on_1_to_k_minus_1_units(by):
    t = compute(fixture_data(), level="barangay", by=by, k=3)
    small = lambda c: (t[c] > 0) & (t[c] < 3)  # noqa: E731
    assert not (~t["suppressed"] & (small("units") | small("n"))).any()
