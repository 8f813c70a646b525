"""Estimates from a HouseholdData: the dataset's frame and declared design, one weight rule.

Replaces the tests of the removed behaviours (a person weight mixed row by row with household
weights; a complete count guessed from weights of 1): the rule is now declared per dataset
(``DesignSpec.person_weights``, ``DesignSpec.complete_count``) and these tests check it.
"""

from __future__ import annotations

import pandas as pd
import pytest

from migdata.errors import DataError, UsageError, render
from migdata.model.data import HouseholdData
from migdata.survey.frontend import estimate, format_table


def _data(design: dict, person_weight=None):
    hh = pd.DataFrame({"hh_id": ["a", "b", "c", "d"], "weight": [10.0, 20.0, 30.0, 40.0],
                       "stratum": ["1", "1", "2", "2"], "psu": ["p1", "p2", "p3", "p4"], "source": "lfs"})
    pp = pd.DataFrame({"hh_id": ["a", "a", "b", "c", "d", "d"], "line_no": [1, 2, 1, 1, 1, 2],
                       "sex": ["male", "female", "female", "male", "female", "male"],
                       "ofw": [True, False, False, True, False, False]})
    if person_weight is not None:
        pp["weight"] = person_weight
    return HouseholdData({"households": hh, "persons": pp}, provenance={"design": design})


def test_persons_carry_their_household_weight_by_default():
    data = _data({"strata": "stratum", "psu": "psu"})
    r = estimate(data, "total", "ofw")
    # hand count: the OFWs are a/1 (household weight 10) and c/1 (30)
    assert r["estimate"].iloc[0] == 10 + 30
    r = estimate(data, "total", "ofw", by="sex").set_index("sex")
    assert r.loc["male", "estimate"] == 40 and r.loc["female", "estimate"] == 0
    assert r["n"].to_dict() == {"female": 3, "male": 3}
    assert "sex" in format_table(r.reset_index())


def test_declared_person_weights_win_for_every_person():
    data = _data({"strata": "stratum", "psu": "psu", "person_weights": "weight"},
                 person_weight=[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    assert estimate(data, "total", "ofw")["estimate"].iloc[0] == 1.0 + 4.0
    # households keep the household weight
    assert estimate(data, "total", "weight", table="households")["estimate"].iloc[0] == 10**2 + 20**2 + 30**2 + 40**2


def test_a_missing_person_weight_is_not_filled_from_the_household():
    data = _data({"psu": "psu", "person_weights": "weight"}, person_weight=[1.0, None, 3.0, 4.0, 5.0, 6.0])
    with pytest.raises(DataError) as e:
        estimate(data, "total", "ofw")
    assert e.value.code == "MD301" and str(e.value) == render("MD301", column="weight", count=1, row=2,
                                                              value=float("nan"))


def test_complete_count_is_declared_not_guessed():
    r = estimate(_data({"complete_count": True}), "total", "ofw")
    assert r["estimate"].iloc[0] == 2 and r["se"].iloc[0] == 0 and r["flag"].iloc[0] == "complete_count"
    # weights of 1 without the declaration are a survey: its SE is not 0
    data = _data({"psu": "psu"})
    data.tables["households"]["weight"] = 1.0
    assert estimate(data, "total", "ofw")["se"].iloc[0] > 0


def test_unknown_table():
    with pytest.raises(UsageError) as e:
        estimate(_data({}), "mean", "age", table="migrants")
    assert e.value.code == "MD307"
