"""Every failure mode of the survey engine gives a located, plain-language MigdataError."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from migdata.errors import DataError, DesignError, UsageError, render
from migdata.survey.reliability import ReliabilityPolicy, flag
from migdata.survey import Design


@pytest.fixture
def df():
    return pd.DataFrame({
        "y": [1.0, 2, 3, 4, 5, 6],
        "w": [1.0, 2, 3, 4, 5, 6],
        "s": ["A", "A", "B", "B", "C", "C"],
        "p": [1, 2, 3, 4, 5, 6],
        "name": ["x", "y", "z", "u", "v", "t"],
    })


def test_unknown_columns_are_named(df):
    for kw, role in (({"weights": "wt"}, "weights"), ({"strata": "strat"}, "strata"),
                     ({"psu": "cluster"}, "psu")):
        with pytest.raises(UsageError) as e:
            Design(df, **kw)
        col = next(iter(kw.values()))
        assert str(e.value) == render("MD300", column=col, role=role, known="y, w, s, p, name")
    d = Design(df, weights="w")
    with pytest.raises(UsageError, match="'income'"):
        d.mean("income")
    with pytest.raises(UsageError) as e:
        d.mean("y", by="region")
    assert e.value.code == "MD300" and e.value.fields["role"] == "by"


@pytest.mark.parametrize("bad,shown", [(-2.0, -2.0), (np.nan, np.nan), (np.inf, np.inf)])
def test_invalid_weights_name_the_row(df, bad, shown):
    df.loc[3, "w"] = bad
    with pytest.raises(DataError) as e:
        Design(df, weights="w")
    assert e.value.code == "MD301"
    assert e.value.fields["row"] == 4 and e.value.fields["count"] == 1
    assert "row 4" in str(e.value)


def test_invalid_weight_uses_source_row(df):
    df["_source_row"] = [10, 11, 12, 13, 14, 15]
    df.loc[2, "w"] = -1
    with pytest.raises(DataError) as e:
        Design(df, weights="w")
    assert str(e.value) == render("MD301", column="w", count=1, row=12, value=-1.0)


def test_missing_stratum_and_psu(df):
    df.loc[4, "s"] = None
    with pytest.raises(DataError) as e:
        Design(df, weights="w", strata="s")
    assert str(e.value) == render("MD302", column="s", role="strata", count=1, row=5)


def test_lonely_psu_fail_names_all_lonely_strata():
    df = pd.DataFrame({"y": [1.0, 2, 3, 4], "s": ["A", "B", "C", "C"], "p": [1, 2, 3, 4]})
    with pytest.warns(UserWarning, match="equal probability"):
        d = Design(df, strata="s", psu="p")
    with pytest.raises(DesignError) as e:
        d.mean("y")
    assert str(e.value) == render("MD303", strata="(A, B)", stage=1)


def test_fpc_problems(df):
    mixed = df.assign(f=[0.5, 0.5, 10, 10, 10, 10])
    with pytest.raises(DesignError) as e:
        Design(mixed, strata="s", fpc="f")
    assert str(e.value) == render("MD304", column="f", small=0.5, big=10.0)
    small = df.assign(f=[1, 1, 10, 10, 10, 10])         # stratum A: 2 sampled of 1
    with pytest.raises(DesignError) as e:
        Design(small, strata="s", fpc="f")
    assert str(e.value) == render("MD305", column="f", stratum="A", stage=1, popsize=1.0, sampsize=2)
    varies = df.assign(f=[10, 11, 10, 10, 10, 10])
    with pytest.raises(DesignError) as e:
        Design(varies, strata="s", fpc="f")
    assert str(e.value) == render("MD306", column="f", stratum="A", stage=1, values="10 to 11")
    with pytest.raises(DesignError) as e:
        Design(df.assign(f=10), psu=["s", "p"], fpc="f")
    assert str(e.value) == render("MD309", stages=2, fpcs=1)
    with pytest.raises(DataError) as e:
        Design(df.assign(f=[10, None, 10, 10, 10, 10]), fpc="f")
    assert e.value.code == "MD302" and e.value.fields["row"] == 2


def test_unknown_options(df):
    with pytest.raises(UsageError) as e:
        Design(df, weights="w", lonely_psu="drop")
    assert e.value.code == "MD307" and "average" in str(e.value)
    d = Design(df, weights="w")
    with pytest.raises(UsageError, match="clopper"):
        d.proportion("s", ci_method="clopper")
    with pytest.raises(UsageError):
        d.estimate_many("median", "y")


def test_non_numeric_variable(df):
    d = Design(df, weights="w")
    with pytest.raises(UsageError) as e:
        d.mean("name")
    assert str(e.value) == render("MD308", column="name", dtype=str(df["name"].dtype), estimator="mean")


def test_quantile_probability_out_of_range(df):
    with pytest.raises(UsageError) as e:
        Design(df, weights="w").quantile("y", [0.5, 1.5])
    assert str(e.value) == render("MD310", value=1.5)


def test_empty_data():
    with pytest.raises(DesignError) as e:
        Design(pd.DataFrame({"w": []}), weights="w")
    assert e.value.code == "MD311"


def test_domain_codes_of_wrong_length(df):
    with pytest.raises(UsageError) as e:
        Design(df, weights="w").mean("y", by=np.zeros(3, dtype=int))
    assert str(e.value) == render("MD313", got=3, expected=6)


def test_reliability_policy_thresholds():
    cv = np.array([0.0, 0.2, 0.2000001, 0.3, 0.31, np.nan, np.inf, 0.1])
    n = np.array([30, 30, 30, 30, 30, 30, 30, 29])
    assert flag(cv, n).tolist() == ["publish", "publish", "caution", "caution", "suppress",
                                    "suppress", "suppress", "suppress"]
    pol = ReliabilityPolicy(cv_publish=0.1, cv_caution=0.15, min_n=0, name="tight")
    assert flag([0.1, 0.12, 0.2], [1, 1, 1], pol).tolist() == ["publish", "caution", "suppress"]
    assert flag([0.9], [1], complete_count=True).tolist() == ["complete_count"]
    with pytest.raises(UsageError) as e:
        ReliabilityPolicy(cv_publish=0.4, cv_caution=0.3, name="bad")
    assert e.value.code == "MD312"
    with pytest.raises(UsageError):
        flag([0.1], [50], "no_such_policy")


def test_design_uses_the_policy(df):
    d = Design(df, weights="w", policy=ReliabilityPolicy(cv_publish=5, cv_caution=5, min_n=1, name="loose"))
    assert d.mean("y")["flag"].iloc[0] == "publish"
    assert Design(df, weights="w").mean("y")["flag"].iloc[0] == "suppress"   # n = 6 < 30


def test_unknown_replicate_type(df):
    from migdata.survey.replicate import ReplicateDesign

    with pytest.raises(UsageError) as e:
        ReplicateDesign(df, "w", ["w"], type="JK2")
    assert e.value.code == "MD307" and "bootstrap" in str(e.value)
