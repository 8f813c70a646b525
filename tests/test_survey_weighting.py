"""Weighting, comparisons and regression: errors, hand checks and properties on seeded designs.

Expected values come from outside the code: hand counts on small fixtures written here,
textbook identities (the jackknife variance of a total equals the Taylor variance), and the
totals the calibration was given. Agreement with R is in ``test_survey_calibration_r.py`` and
``test_survey_replicate_r.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migdata.errors import DataError, DesignError, UsageError, render
from migdata.survey import Design
from migdata.survey.replicate import ReplicateDesign

SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture
def df():
    return pd.DataFrame({
        "y": [1.0, 2, 3, 4, 5, 6, 7, 8],
        "x": [1.0, np.nan, 3, 4, 5, 6, np.nan, 8],
        "w": [10.0, 10, 20, 20, 10, 10, 20, 20],
        "s": ["A", "A", "A", "A", "B", "B", "B", "B"],
        "p": [1, 1, 2, 2, 3, 3, 4, 4],
        "sex": ["f", "m", "f", "m", "f", "m", "f", "m"],
        "g": ["u", "u", "v", "v", "u", "u", "v", "v"],
    })


def test_poststratify_by_hand(df):
    d = Design(df, weights="w", strata="s", psu="p")
    ps = d.poststratify("sex", pd.DataFrame({"sex": ["f", "m"], "total": [120.0, 60.0]}))
    # f weights 10+20+10+20 = 60 -> x2; m 60 -> x1
    assert ps.w.tolist() == [20.0, 10, 40, 20, 20, 10, 40, 20]
    tot = ps.total("y")["estimate"].iloc[0]
    assert tot == pytest.approx(20 * 1 + 10 * 2 + 40 * 3 + 20 * 4 + 20 * 5 + 10 * 6 + 40 * 7 + 20 * 8)
    assert "calibrated=poststratify(sex)" in ps.describe()
    assert d.calibration == () and len(ps.calibration) == 1           # a new design, the old unchanged


def test_missing_values_dropped_jointly_by_default(df):
    """R svymean(~y+x, na.rm=TRUE) keeps the complete cases of y and x together."""
    d = Design(df, weights="w", strata="s", psu="p")
    joint = d.mean(["y", "x"]).set_index("variable")
    keep = df["x"].notna()
    wy = (df["w"] * df["y"])[keep].sum() / df["w"][keep].sum()
    assert joint.loc["y", "estimate"] == pytest.approx(wy)
    assert joint.loc["y", "n"] == 6 and joint.loc["y", "n_missing"] == 2
    sep = d.mean(["y", "x"], missing="separate").set_index("variable")
    assert sep.loc["y", "estimate"] == pytest.approx((df["w"] * df["y"]).sum() / df["w"].sum())
    assert sep.loc["y", "n"] == 8
    with pytest.raises(UsageError) as e:
        d.mean(["y", "x"], missing="pairwise")
    assert str(e.value) == render("MD307", what="missing", value="pairwise", choices="joint, separate")


def test_deff_of_an_srs_mean_is_one_without_fpc_correction():
    """Equal weights, every row its own PSU: the with-replacement deff of a mean is exactly
    (n-1)/n * n/(n-1) = 1 (Taylor variance s2/n against S2/n)."""
    y = pd.Series([3.0, 1, 4, 1, 5, 9, 2, 6])
    d = Design(pd.DataFrame({"y": y, "w": 1.0}), weights="w")
    r = d.mean("y", deff="replace")
    assert r["deff"].iloc[0] == pytest.approx(1.0, rel=1e-12)
    assert "deff" not in d.mean("y").columns


def test_contrast_of_two_complete_domains_by_hand():
    df = pd.DataFrame({"y": [1.0, 3, 2, 6], "g": ["a", "a", "b", "b"]})
    r = Design.complete_count(df).contrast("total", "y", "g", {"b": 1, "a": -1})
    assert r["estimate"].tolist() == [4.0] and r["se"].tolist() == [0.0]


def test_contrast_names_an_unknown_domain(df):
    d = Design(df, weights="w", strata="s", psu="p")
    with pytest.raises(UsageError) as e:
        d.contrast("mean", "y", "g", {"u": 1, "w": -1})
    assert str(e.value) == render("MD342", domain="w", by="g", known="'u', 'v'")


def test_glm_of_a_complete_count_is_least_squares():
    df = pd.DataFrame({"y": [1.0, 2, 4, 3, 6], "x": [1.0, 2, 3, 4, 5], "c": ["p", "q", "p", "q", "r"]})
    r = Design.complete_count(df).glm("y", ["x", "c"])
    X = np.column_stack([np.ones(5), df["x"], df["c"] == "q", df["c"] == "r"]).astype(float)
    beta = np.linalg.lstsq(X, df["y"].to_numpy(), rcond=None)[0]
    assert r["term"].tolist() == ["(Intercept)", "x", "cq", "cr"]
    np.testing.assert_allclose(r["estimate"], beta, rtol=1e-10)


def test_glm_binomial_outcome_must_be_between_0_and_1(df):
    d = Design(df, weights="w", strata="s", psu="p")
    with pytest.raises(DataError) as e:
        d.glm("y", ["x"], family="binomial")
    assert str(e.value) == render("MD343", column="y", value=3.0, row=3)   # row 2 lacks x: not in the model
    with pytest.raises(DataError) as e:
        Design(df.assign(x=np.nan), weights="w").glm("y", ["x"])
    assert str(e.value) == render("MD344", columns="y, x")


@pytest.mark.parametrize("kw,code,fields", [
    ({"margins": {"sex": pd.Series({"f": 90.0})}}, "MD333", {"margin": "sex", "category": "m"}),
    ({"margins": {"sex": pd.Series({"f": 90.0, "m": -1.0})}}, "MD334", {"margin": "sex", "category": "m", "value": -1.0}),
    ({"margins": {"sex": pd.Series({"f": 90.0, "m": 90.0, "x": 5.0})}}, "MD335",
     {"margin": "sex", "category": "x", "count": 1, "what": "calibration margin"}),
    ({"margins": {"sex": pd.Series({"f": 90.0, "m": 90.0}), "g": pd.Series({"u": 90.0, "v": 100.0})}}, "MD337",
     {"first": "sex", "first_total": 180.0, "other": "g", "other_total": 190.0}),
    ({"margins": {"sex": [1, 2]}}, "MD330", {"margin": "sex", "got": "list"}),
    ({}, "MD336", {"what": "calibrate"}),
    ({"totals": {"y": 300.0}, "method": "logit"}, "MD338", {"bounds": "(-inf, inf)"}),
    ({"totals": {"y": 300.0}, "method": "logit", "bounds": (1.0, 2.0)}, "MD338", {"bounds": "(1.0, 2.0)"}),
    ({"totals": {"y": 1e6}, "method": "raking", "bounds": (0.5, 2.0)}, "MD339", None),
    ({"totals": {"x": 300.0}}, "MD331", {"column": "x", "count": 2, "row": 2}),
])
def test_calibration_errors_are_located(df, kw, code, fields):
    d = Design(df, weights="w", strata="s", psu="p")
    with pytest.raises((DataError, DesignError, UsageError)) as e:
        d.calibrate(**kw)
    assert e.value.code == code
    if fields is not None:
        assert str(e.value) == render(code, **fields)


def test_poststratify_and_rake_errors(df):
    d = Design(df, weights="w", strata="s", psu="p")
    with pytest.raises(DesignError) as e:
        d.poststratify("sex", pd.Series({"f": 1.0, "m": 2.0, "z": 3.0}))
    assert str(e.value) == render("MD335", margin="sex", category="z", count=1, what="post-stratum")
    with pytest.warns(UserWarning, match="ignored"):
        ps = d.poststratify("sex", pd.Series({"f": 1.0, "m": 2.0, "z": 3.0}), partial=True)
    assert ps.w.sum() == pytest.approx(3.0)
    with pytest.raises(UsageError) as e:
        d.poststratify("sex", pd.Series([1.0, 2.0], index=["f", "f"]))
    assert str(e.value) == render("MD332", margin="sex", category="f")
    with pytest.raises(UsageError) as e:
        d.rake({})
    assert str(e.value) == render("MD336", what="rake")
    with pytest.raises(DesignError) as e:
        Design.complete_count(df).poststratify("sex", pd.Series({"f": 4.0, "m": 4.0}))
    assert str(e.value) == render("MD340", what="calibrate")
    with pytest.warns(UserWarning, match="did not converge"):
        d.rake({"sex": pd.Series({"f": 100.0, "m": 80.0}), "g": pd.Series({"u": 30.0, "v": 150.0})},
               maxit=1, epsilon=1e-12)


# ----------------------------------------------------------------------------- seeded generators
@st.composite
def designs(draw):
    """Stratified cluster samples with a lonely PSU in some draws, unequal weights, domains,
    calibration variables."""
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    rows = []
    n_strata = int(rng.integers(2, 5))
    for h in range(n_strata):
        n_psu = 1 if (h == 0 and draw(st.booleans())) else int(rng.integers(2, 5))
        for j in range(n_psu):
            for _ in range(int(rng.integers(1, 6))):
                rows.append((h, f"{h}-{j}"))
    df = pd.DataFrame(rows, columns=["stratum", "psu"])
    n = len(df)
    df["w"] = rng.uniform(1, 50, n)
    df["y"] = rng.normal(10, 4, n)
    df["sex"] = rng.choice(["f", "m"], n)
    df["g"] = rng.choice(["g1", "g2", "g3"], n)
    df["inc"] = rng.gamma(2.0, 3.0, n)
    return df


@SETTINGS
@given(designs(), st.sampled_from(["remove", "certainty"]))
def test_jackknife_variance_of_a_total_equals_taylor(df, lonely):
    """For a linear statistic the JKn variance is the Taylor variance, lonely strata contributing
    nothing under remove/certainty in both (the defect: the jackknife ignored the rule)."""
    d = Design(df, weights="w", strata="stratum", psu="psu", lonely_psu=lonely)
    jk = ReplicateDesign.jackknife(d)
    t, j = d.total("y", by="g"), jk.total("y", by="g")
    # an SE that is 0 in exact arithmetic comes out as rounding noise in one of the two: an absolute
    # tolerance scaled to the totals
    scale = float(np.abs(t["estimate"]).max()) or 1.0
    np.testing.assert_allclose(j["se"], t["se"], rtol=1e-9, atol=1e-12 * scale)
    assert jk.degf <= jk.W.shape[1] - 1


@SETTINGS
@given(designs())
def test_calibrated_weights_reach_the_totals(df):
    d = Design(df, weights="w", strata="stratum", psu="psu", lonely_psu="adjust")
    rng = np.random.default_rng(int(df["w"].iloc[0] * 1000))
    N = float(df["w"].sum())
    sex = df.groupby("sex")["w"].sum() * rng.uniform(0.95, 1.05, df["sex"].nunique())
    sex = sex / sex.sum() * N
    inc = float((df["w"] * df["inc"]).sum()) * rng.uniform(0.97, 1.03)
    for kw in ({}, {"method": "raking"}):
        c = d.calibrate(margins={"sex": sex}, totals={"inc": inc}, **kw)
        got = pd.Series(c.w).groupby(df["sex"].to_numpy()).sum()
        np.testing.assert_allclose(got.loc[sex.index], sex, rtol=1e-6)
        assert float((c.w * df["inc"]).sum()) == pytest.approx(inc, rel=1e-6)
        assert np.isfinite(c.mean("y", by="g")["se"]).all()
    own = d.calibrate(margins={"g": pd.Series(d.w).groupby(df["g"].to_numpy()).sum()})
    np.testing.assert_allclose(own.w, d.w, rtol=1e-12)


def _row_level_variance(d: Design, df: pd.DataFrame, y: str, dom: str) -> np.ndarray:
    """Plain numpy of R's svyrecvar on a calibrated design, one domain at a time: the weighted
    scores of the domain mean (rows x 1), each calibration step applied as R writes it (greg:
    qr.resid of the weighted regression; postStratify: cell means; rake: ten passes of ave),
    then PSU totals and the stratified with-replacement variance."""
    from migdata.survey.calibration import Projection
    out = []
    strata, psu = df["stratum"].to_numpy(), df["psu"].to_numpy()
    for lev in sorted(df[dom].unique()):
        ind = (df[dom] == lev).to_numpy()
        yy = df[y].to_numpy()
        mean = (d.w * yy * ind).sum() / (d.w * ind).sum()
        x = d.w * ind * (yy - mean) / (d.w * ind).sum()
        for s in d.calibration:
            assert isinstance(s, Projection)
            M = np.zeros((len(x), s.p))
            M[s.row, s.col] = s.val
            if s.name.startswith("calibrate"):
                w0 = s.b * s.a                                   # old weights
                q, _ = np.linalg.qr(M * np.sqrt(w0)[:, None])
                v = x / s.a * np.sqrt(w0)
                x = (v - q @ (q.T @ v)) / np.sqrt(w0) * s.a
            elif s.name.startswith("poststratify"):
                cell = s.col
                oldw = s.b * s.a
                means = np.bincount(cell, weights=x * oldw / s.a) / np.bincount(cell, weights=oldw)
                x = x - means[cell] * s.a
            else:                                                # one pass of rake over a margin
                cell = s.col
                x = x - s.a * (np.bincount(cell, weights=x / s.a) / np.bincount(cell))[cell]
        var = 0.0
        for h in np.unique(strata):
            zs = pd.Series(x[strata == h]).groupby(psu[strata == h]).sum().to_numpy()
            var += len(zs) / (len(zs) - 1) * ((zs - zs.mean()) ** 2).sum()
        out.append(var)
    return np.array(out)


@SETTINGS
@given(designs())
def test_calibrated_variance_equals_the_row_level_steps(df):
    """Differential test of calibration.unit_scores (cell sums for every domain at once) against
    R's steps applied row by row, for a design post-stratified, then raked, then calibrated."""
    df = df[df["stratum"].map(df.groupby("stratum")["psu"].nunique()) > 1].reset_index(drop=True)
    d = Design(df, weights="w", strata="stratum", psu="psu")
    N = float(df["w"].sum())
    sex = df.groupby("sex")["w"].sum() * 1.1
    g = df.groupby("g")["w"].sum()
    g = g / g.sum() * float(sex.sum())
    c = (d.poststratify("sex", sex)
         .rake({"g": g, "sex": sex}, epsilon=1e-9, maxit=50)
         .calibrate(totals={"inc": float((d.w * df["inc"]).sum()) * 1.02}, population=N * 1.1))
    ours = c.mean("y", by="g")["se"].to_numpy() ** 2
    expected = _row_level_variance(c, df, "y", "g")
    np.testing.assert_allclose(ours, expected, rtol=1e-9, atol=1e-12 * expected.max())


def test_contrast_of_proportions_is_the_contrast_of_the_indicator_means(df):
    """A proportion is the mean of its category's indicator: same contrast, same SE."""
    d = Design(df.assign(is_f=(df["sex"] == "f").astype(float)), weights="w", strata="s", psu="p")
    p = d.contrast("proportion", "sex", "g", {"v": 1, "u": -1})
    m = d.contrast("mean", "is_f", "g", {"v": 1, "u": -1})
    f = p[p["category"] == "f"]
    np.testing.assert_allclose(f[["estimate", "se"]].to_numpy(), m[["estimate", "se"]].to_numpy(), rtol=1e-12)


def test_update_keeps_the_calibration(df):
    """Derived variables on a calibrated design (Design.update) keep its weights and variance."""
    d = Design(df, weights="w", strata="s", psu="p")
    c = d.calibrate(margins={"sex": pd.Series({"f": 70.0, "m": 80.0})})
    u = c.update(y2=df["y"] * 2)
    np.testing.assert_array_equal(u.w, c.w)
    a, b = c.total("y", by="g"), u.total("y2", by="g")
    np.testing.assert_allclose(b["estimate"], 2 * a["estimate"], rtol=1e-12)
    np.testing.assert_allclose(b["se"], 2 * a["se"], rtol=1e-12)
