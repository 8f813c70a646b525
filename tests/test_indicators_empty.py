"""Empty universes and domains never crash ``compute`` (integration defect G2-1).

Fixtures are written here: the hand-made CBMS-like fixture of test_indicators.py with its
children removed, and one household of two resident adults (no children, no OFs)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from migdata.indicators import compute, not_computable
from migdata.indicators.evaluate import NO_UNITS
from migdata.model import HouseholdData, validate
from test_indicators import fixture_data


def adults_only(complete: bool) -> HouseholdData:
    d = fixture_data(complete_count=complete)
    pp = d.persons
    adults = pp[pd.to_numeric(pp["age"]) >= 18].reset_index(drop=True)
    hh = d.households.assign(psu=d.households["hh_id"])
    return HouseholdData({"households": hh, "persons": adults}, provenance=d.provenance)


def test_survey_with_no_children_lists_cl01_cl02_as_not_computable():
    # before the fix: ValueError "No objects to concatenate"
    t = compute(adults_only(False), ids=["CL01", "CL02", "OF02"], level="city", by=["sex", "age_group"])
    nc = not_computable(t).set_index("indicator_id")
    assert set(nc.index) == {"CL01", "CL02"}
    assert (nc["reason"] == NO_UNITS).all() and "no units in the universe" in NO_UNITS
    assert set(t["indicator_id"]) == {"OF02"}
    # OF02 (OFWs 15+) over the 13 adults of the fixture (ages >= 18 in the docstring of
    # test_indicators.py): 4 OFWs (A2, B2, D1, D2) (6 OFs: A2, B2, B3, D1, D2, F1)
    r = t[(t["sex"] == "Total") & (t["age_group"] == "Total")].iloc[0]
    assert r["n"] == 13 and r["estimate"] == pytest.approx(4)


def test_complete_count_with_no_children_lists_cl01_cl02_as_not_computable():
    # before the fix: CL01/CL02 silently vanished (no rows, not listed)
    t = compute(adults_only(True), ids=["CL01", "CL02", "OF02"], level="city", by=["sex", "age_group"])
    nc = not_computable(t).set_index("indicator_id")
    assert set(nc.index) == {"CL01", "CL02"} and (nc["reason"] == NO_UNITS).all()
    assert set(t["indicator_id"]) == {"OF02"}
    r = t[(t["sex"] == "Total") & (t["age_group"] == "Total") & (t["area_level"] == "region")].iloc[0]
    assert r["estimate"] == 4 and r["n"] == 13


def test_empty_domain_has_no_row_but_other_domains_do():
    # children only in barangay Adia (households A, B, C): CL01 has no row for Bagong Sikat
    d = fixture_data()
    pp = d.persons
    hh_ids = set(d.households.loc[d.households["barangay"] == "0401001002", "hh_id"])
    drop = pp["hh_id"].isin(hh_ids) & (pd.to_numeric(pp["age"]) < 18)
    d2 = HouseholdData({"households": d.households, "persons": pp[~drop].reset_index(drop=True)},
                       provenance=d.provenance)
    t = compute(d2, ids=["CL01"], level="barangay", by=["sex"])
    bgy = t[t["area_level"] == "barangay"]
    assert set(bgy["area_code"]) == {"0401001001"}
    # Adia children 0-17: A3, A4, A5, C3, B4 = 5; with a parent abroad: A3, A4, A5 (mother), B4 (father)
    r = bgy[bgy["sex"] == "Total"].iloc[0]
    assert r["n"] == 5 and r["estimate"] == pytest.approx(80)


def two_adults(**prov) -> HouseholdData:
    hh = pd.DataFrame({"hh_id": ["A"], "weight": [1.0], "source": ["demo"], "region": ["0400000000"],
                       "province": ["0401000000"], "city_mun": ["0401001000"], "barangay": ["0401001001"]})
    pp = pd.DataFrame({"hh_id": ["A", "A"], "line_no": [1, 2], "age": [40, 38], "sex": ["male", "female"],
                       "relationship": ["head", "spouse"], "of_status": ["resident", "resident"]})
    return validate(HouseholdData({"households": hh, "persons": pp},
                                  provenance={"reference_date": "2022-10-01", **prov}))


@pytest.mark.parametrize("prov", [{"complete_count": True},
                                  {"complete_count": False, "design": {"weights": "weight", "lonely_psu": "adjust"}}],
                         ids=["complete_count", "survey"])
def test_every_indicator_on_one_household_of_two_adults(prov):
    t = compute(two_adults(**prov), level="barangay", by=["sex", "age_group"])
    assert len(t)
    # OF02 (overseas Filipinos) is 0 in this household of two residents
    of02 = t[(t["indicator_id"] == "OF02") & (t["sex"] == "Total") & (t["age_group"] == "Total")]
    assert len(of02) and np.allclose(of02["estimate"], 0)
    nc = not_computable(t)
    # child indicators have their columns here, but there is no child
    assert {"CL01", "CL02"} <= set(nc.loc[nc["reason"] == NO_UNITS, "indicator_id"])
    assert not set(nc["indicator_id"]) & set(t["indicator_id"])


def test_one_psu_survey_with_default_lonely_psu_is_a_named_design_error():
    # one household = one PSU: the sampling variance cannot be estimated; with the default
    # lonely_psu='fail' compute says so (MD303, what to choose), it does not crash
    from migdata.errors import DesignError

    with pytest.raises(DesignError) as e:
        compute(two_adults(complete_count=False), level="barangay", by=["sex"])
    assert e.value.code == "MD303" and "lonely_psu" in str(e.value)
