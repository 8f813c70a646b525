"""Estimates from a HouseholdData: design columns joined from households, complete counts detected."""

from __future__ import annotations

import pandas as pd
import pytest

from migdata.errors import UsageError
from migdata.model.data import HouseholdData
from migdata.survey.frontend import design_for, estimate, format_table


def _data(weights=(10.0, 20.0, 30.0, 40.0), strata=("1", "1", "2", "2")):
    hh = pd.DataFrame({"hh_id": ["a", "b", "c", "d"], "weight": list(weights), "stratum": list(strata),
                       "psu": ["p1", "p2", "p3", "p4"], "source": "lfs"})
    pp = pd.DataFrame({"hh_id": ["a", "a", "b", "c", "d", "d"], "line_no": [1, 2, 1, 1, 1, 2],
                       "sex": ["male", "female", "female", "male", "female", "male"],
                       "ofw": [True, False, False, True, False, False],
                       "weight": [None, None, 25.0, None, None, None]})
    return HouseholdData({"households": hh, "persons": pp})


def test_person_estimates_use_household_design_and_person_weights():
    r = estimate(_data(), "total", "ofw")
    # Hand count: OFWs are a/1 (household weight 10) and c/1 (30); b/1 has its own weight 25.
    assert r["estimate"].iloc[0] == 10 + 30
    r = estimate(_data(), "total", "ofw", by="sex").set_index("sex")
    assert r.loc["male", "estimate"] == 40 and r.loc["female", "estimate"] == 0
    n = estimate(_data(), "total", "ofw", by="sex").set_index("sex")["n"]
    assert n.to_dict() == {"female": 3, "male": 3}
    assert "sex" in format_table(r.reset_index())


def test_complete_count_detected():
    data = _data(weights=(1.0, 1.0, 1.0, 1.0), strata=(None, None, None, None))
    data.tables["households"]["psu"] = None
    data.tables["persons"]["weight"] = None
    r = estimate(data, "total", "ofw")
    assert r["estimate"].iloc[0] == 2 and r["se"].iloc[0] == 0 and r["flag"].iloc[0] == "complete_count"
    assert design_for(_data()).complete is False


def test_unknown_table():
    with pytest.raises(UsageError) as e:
        estimate(_data(), "mean", "age", table="migrants")
    assert e.value.code == "MD307"
