"""Properties of the survey engine that hold whatever the data (hypothesis), and hand checks.

Expected values come from outside the engine: pandas group sums, textbook SRS formulas,
scipy's Wilson interval.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from migdata.model.codes import categorical
from migdata.survey import Design

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def samples(draw):
    """A small stratified cluster sample: >= 2 PSUs per stratum, weights > 0, domains g1..g3."""
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    n_strata = draw(st.integers(1, 4))
    rows = []
    for h in range(n_strata):
        for j in range(int(rng.integers(2, 5))):
            for _ in range(int(rng.integers(1, 6))):
                rows.append((h, f"{h}-{j}"))
    df = pd.DataFrame(rows, columns=["stratum", "psu"])
    n = len(df)
    df["w"] = rng.uniform(1, 100, n)
    df["y"] = rng.normal(10, 5, n)
    df["flag"] = rng.random(n) < 0.4
    df["g"] = rng.choice(["g1", "g2", "g3"], n)
    df["c"] = rng.choice(["a", "b"], n)
    return df


@SETTINGS
@given(samples())
def test_complete_count_is_plain_sums_with_zero_se(df):
    c = Design.complete_count(df)
    tot = c.total("y", by="g").set_index("g")
    mean = c.mean("y", by="g").set_index("g")
    expected = df.groupby("g")["y"]
    np.testing.assert_allclose(tot["estimate"], expected.sum().loc[tot.index], rtol=1e-12)
    np.testing.assert_allclose(mean["estimate"], expected.mean().loc[mean.index], rtol=1e-12)
    assert (tot["se"] == 0).all() and (mean["se"] == 0).all()
    assert (tot["flag"] == "complete_count").all()
    assert (tot["ci_low"] == tot["estimate"]).all() and (tot["ci_high"] == tot["estimate"]).all()
    assert tot["n"].tolist() == expected.size().loc[tot.index].tolist()


@SETTINGS
@given(samples(), st.floats(0.01, 1000))
def test_scaling_weights_scales_totals_only(df, c):
    d1 = Design(df, weights="w", strata="stratum", psu="psu")
    d2 = Design(df.assign(w=df["w"] * c), weights="w", strata="stratum", psu="psu")
    t1, t2 = d1.total("y", by="g"), d2.total("y", by="g")
    np.testing.assert_allclose(t2["estimate"], c * t1["estimate"], rtol=1e-9)
    np.testing.assert_allclose(t2["se"], c * t1["se"], rtol=1e-9)
    for a, b in ((d1.mean("y", by="g"), d2.mean("y", by="g")),
                 (d1.proportion("c", by="g"), d2.proportion("c", by="g")),
                 (d1.mean("flag", by="g"), d2.mean("flag", by="g"))):
        np.testing.assert_allclose(b["estimate"], a["estimate"], rtol=1e-9)
        np.testing.assert_allclose(b["se"], a["se"], rtol=1e-9, atol=1e-12)


@SETTINGS
@given(samples())
def test_domain_estimate_equals_subset_estimate(df):
    d = Design(df, weights="w", strata="stratum", psu="psu", lonely_psu="certainty")
    dom = d.mean("y", by="g").set_index("g")
    for g in dom.index:
        sub = Design(df[df["g"] == g], weights="w", strata="stratum", psu="psu", lonely_psu="certainty")
        assert dom.loc[g, "estimate"] == pytest.approx(sub.mean("y")["estimate"].iloc[0], rel=1e-12)


def test_domain_se_differs_from_subset_se():
    """Subsetting drops the PSUs without cases of the domain; the domain SE keeps them (zeros)."""
    df = pd.DataFrame({
        "stratum": [1, 1, 1, 1, 2, 2, 2, 2],
        "psu": [1, 2, 3, 4, 5, 6, 7, 8],
        "w": [10.0, 10, 10, 10, 20, 20, 20, 20],
        "y": [1.0, 2, 3, 4, 5, 6, 7, 8],
        "g": ["a", "a", "b", "b", "a", "b", "a", "b"],
    })
    full = Design(df, weights="w", strata="stratum", psu="psu").total("y", by="g").set_index("g")
    sub = Design(df[df["g"] == "a"], weights="w", strata="stratum", psu="psu").total("y")
    assert full.loc["a", "estimate"] == sub["estimate"].iloc[0] == 10 * 3 + 20 * 12
    # Hand count, stratum 1: PSU totals (10, 20, 0, 0), mean 7.5 -> SS 6.25+156.25+2*56.25 = 275;
    # stratum 2: (100, 0, 140, 0), mean 60 -> SS 1600+3600+6400+3600 = 15200; factor 4/3.
    assert full.loc["a", "se"] == pytest.approx(np.sqrt(4 / 3 * (275 + 15200)), rel=1e-12)
    # Subset: stratum 1 (10, 20) -> 2*50; stratum 2 (100, 140) -> 2*800.
    assert sub["se"].iloc[0] == pytest.approx(np.sqrt(2 * 50 + 2 * 800), rel=1e-12)
    assert full.loc["a", "se"] != pytest.approx(sub["se"].iloc[0])


def test_srs_without_replacement_matches_textbook_formula():
    rng = np.random.default_rng(3)
    y = rng.normal(100, 15, 40)
    N = 500
    d = Design(pd.DataFrame({"y": y, "N": N}), fpc="N")
    r = d.mean("y")
    se = np.sqrt((1 - 40 / N) * np.var(y, ddof=1) / 40)
    assert r["estimate"].iloc[0] == pytest.approx(y.mean(), rel=1e-12)
    assert r["se"].iloc[0] == pytest.approx(se, rel=1e-12)
    assert r["df"].iloc[0] == 39
    t = stats.t.ppf(0.975, 39)
    assert r["ci_low"].iloc[0] == pytest.approx(y.mean() - t * se, rel=1e-12)
    # Fractions give the same design as counts (R's rule: values <= 1 are fractions).
    r2 = Design(pd.DataFrame({"y": y, "f": 40 / N}), fpc="f").mean("y")
    assert r2["se"].iloc[0] == pytest.approx(se, rel=1e-12)


def test_wilson_interval_matches_scipy_when_effective_n_is_n():
    """SRS of n from N = n^2 has Var(p) = p(1-p)/n exactly, so n_eff = n; R has no Wilson CI."""
    n, k = 50, 17
    df = pd.DataFrame({"y": ["yes"] * k + ["no"] * (n - k), "N": n * n})
    r = Design(df, fpc="N").proportion("y", ci_method="wilson").set_index("category").loc["yes"]
    t = stats.t.ppf(0.975, n - 1)
    level = 2 * stats.norm.cdf(t) - 1          # scipy uses a normal quantile
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=level, method="wilson")
    assert r["ci_method"] == "wilson"
    assert r["ci_low"] == pytest.approx(ci.low, rel=1e-9)
    assert r["ci_high"] == pytest.approx(ci.high, rel=1e-9)


def test_empty_domains_and_zero_cells_do_not_crash():
    df = pd.DataFrame({
        "sex": categorical(["male", "male", "female", "male"], "sex"),
        "age": pd.Categorical(["0-4", "5-9", "0-4", "0-4"], categories=["0-4", "5-9", "10-14"]),
        "y": [1.0, 2.0, 3.0, np.nan],
        "w": [1.0, 2.0, 3.0, 4.0],
    })
    d = Design(df, weights="w")
    r = d.mean("y", by=["sex", "age"], observed=False)
    assert len(r) == 2 * 3                        # every sex x age cell listed
    empty = r[(r["sex"] == "female") & (r["age"] == "10-14")].iloc[0]
    assert empty["n"] == 0 and np.isnan(empty["estimate"]) and empty["flag"] == "suppress"
    t = d.total("y", by=["sex", "age"], observed=False)
    assert t["estimate"].sum() == pytest.approx(1 * 1 + 2 * 2 + 3 * 3)
    male04 = t[(t["sex"] == "male") & (t["age"] == "0-4")].iloc[0]
    assert male04["n"] == 1 and male04["n_missing"] == 1
    assert d.mean("y", by=["sex", "age"])["n"].tolist() == [1, 1, 1]   # observed cells only
    p = d.proportion("age", by="sex", observed=False)
    assert len(p) == 2 * 3 and p["estimate"].notna().all()


def test_missing_domain_value_puts_row_in_no_domain():
    df = pd.DataFrame({"y": [1.0, 2, 3], "g": ["a", None, "a"], "w": [1.0, 1, 1]})
    r = Design(df, weights="w").total("y", by="g")
    assert r["estimate"].tolist() == [4.0]
    assert r.attrs["n_no_domain"] == 1


def test_several_variables_and_precomputed_domains():
    rng = np.random.default_rng(5)
    df = pd.DataFrame({"a": rng.normal(size=60), "b": rng.random(60) < 0.5,
                       "g": rng.choice(["x", "y"], 60), "w": rng.uniform(1, 3, 60),
                       "psu": np.repeat(np.arange(20), 3)})
    d = Design(df, weights="w", psu="psu")
    dom = d.domains("g")
    many = d.estimate_many("mean", ["a", "b"], by=dom)
    assert list(many.columns[:2]) == ["g", "variable"]
    for v in ("a", "b"):
        one = d.mean(v, by="g")
        np.testing.assert_allclose(many[many["variable"] == v]["se"], one["se"], rtol=1e-14)
    codes = d.mean("a", by=dom.codes)
    np.testing.assert_allclose(codes["estimate"], d.mean("a", by="g")["estimate"], rtol=1e-14)


def test_ratio_pairs_and_quantile_of_complete_count():
    df = pd.DataFrame({"y": [1.0, 2, 3, 4, 5], "x": [2.0, 2, 2, 2, 2]})
    c = Design.complete_count(df)
    assert c.ratio("y", "x")["estimate"].iloc[0] == pytest.approx(15 / 10)
    q = c.quantile("y", [0.5, 0.2])
    # qrule "math": smallest value whose cumulative share reaches p (3 for p=.5; 1 for p=.2).
    assert q["estimate"].tolist() == [3.0, 1.0]
    assert (q["se"] == 0).all()


def test_by_accepts_series_of_values():
    df = pd.DataFrame({"age": [3, 15, 40, 70, 8], "y": [1.0, 2, 3, 4, 5]})
    c = Design.complete_count(df)
    band = pd.Series(np.where(df["age"] < 15, "child", "adult"), name="band")
    r = c.total("y", by=[band]).set_index("band")
    assert r.loc["child", "estimate"] == 1 + 5 and r.loc["adult", "estimate"] == 2 + 3 + 4
