"""``migdata.survey.draw``: stratified SRS and PPS systematic selection from a frame.

Expected values come from the definitions, not from the code: a hand-made frame whose strata
sizes and size measures are written here; planned sizes per stratum; inclusion probabilities
that sum to the stratum sample size (sum of n_h x_i / X_h over the stratum is n_h); and, over
many seeds, Horvitz-Thompson totals whose mean is the frame total within a stated tolerance.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from migdata.errors import DataError, UsageError, render
from migdata.survey.draw import allocate, draw


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    # 3 strata of 40, 25 and 15 units; size measures 1..10 (a few large units in stratum "C")
    rng = np.random.default_rng(11)
    f = pd.DataFrame({
        "unit": [f"u{i:03d}" for i in range(80)],
        "prov": ["A"] * 40 + ["B"] * 25 + ["C"] * 15,
        "x": np.r_[rng.integers(1, 11, 40), rng.integers(1, 11, 25), [40, 35] + list(rng.integers(1, 6, 13))],
    })
    f["y"] = f["x"] * 3.0 + rng.normal(0, 2, len(f))  # an outcome related to the size
    return f


def test_srs_planned_size_and_probabilities(frame):
    plan = {"A": 8, "B": 5, "C": 3}
    s = draw(frame, plan, strata="prov", seed=3)
    u = s.units
    assert u.groupby("stratum").size().to_dict() == plan
    assert u["unit"].is_unique and set(u["unit"]) <= set(frame["unit"])
    # SRS: pi = n_h / N_h, written out by hand for the frame above (40, 25, 15 units)
    want = {"A": 8 / 40, "B": 5 / 25, "C": 3 / 15}
    assert u.groupby("stratum")["pi"].apply(lambda p: set(p.round(12))).to_dict() == \
        {k: {round(v, 12)} for k, v in want.items()}
    assert np.allclose(u["weight"], 1 / u["pi"])
    assert u.groupby("stratum")["frame_n"].first().to_dict() == {"A": 40, "B": 25, "C": 15}
    assert s.strata.set_index("stratum")[["frame_n", "sample_n"]].to_dict("index") == {
        "A": {"frame_n": 40, "sample_n": 8}, "B": {"frame_n": 25, "sample_n": 5}, "C": {"frame_n": 15, "sample_n": 3}}


def test_pps_probabilities_sum_to_the_stratum_sample(frame):
    plan = {"A": 6, "B": 4, "C": 5}
    s = draw(frame, plan, strata="prov", method="pps", size="x", seed=5)
    u = s.units
    assert u.groupby("stratum").size().to_dict() == plan
    # every unit's probability, recomputed here from n_h x_i / X_h (with certainty units of
    # stratum C: 40 and 35 out of X_C; 5 * 40 / X_C >= 1 makes them certain)
    for h, nh in plan.items():
        g = frame[frame["prov"] == h]
        x = g["x"].to_numpy(float)
        pi = nh * x / x.sum()
        cert = np.zeros(len(x), bool)
        while (pi[~cert] >= 1).any():
            cert |= pi >= 1
            pi = np.where(cert, 1.0, (nh - cert.sum()) * x / x[~cert].sum())
        assert pi.sum() == pytest.approx(nh, abs=1e-9)  # sum of probabilities = n_h
        got = u[u["stratum"] == h].set_index("unit")["pi"]
        expect = pd.Series(pi, index=g["unit"]).loc[got.index]
        assert np.allclose(got.to_numpy(), expect.to_numpy(), rtol=1e-12)
    c = u[u["stratum"] == "C"]
    assert set(c.loc[c["certainty"], "unit"]) == set(frame.loc[frame["x"] >= 35, "unit"])
    assert (c.loc[c["certainty"], "pi"] == 1).all()


def test_proportional_allocation():
    totals = pd.Series([40.0, 25.0, 15.0], index=["A", "B", "C"])
    counts = totals.astype(int)
    # n = 16 out of 80: 8, 5, 3 exactly
    assert allocate(totals, 16, counts).tolist() == [8, 5, 3]
    # n = 10: 5, 3.125, 1.875 -> floors 5, 3, 1 and the largest remainder (C, 0.875) gets one; then
    # the minimum of 2 holds
    assert allocate(totals, 10, counts).tolist() == [5, 3, 2]
    # a stratum smaller than its share is taken whole; the rest is shared again
    assert allocate(pd.Series([1.0, 1.0]), 9, pd.Series([3, 100]), min_per_stratum=1).tolist() == [3, 6]


def test_same_seed_same_sample_and_frame_untouched(frame):
    before = frame.copy()
    a = draw(frame, 12, strata="prov", method="pps", size="x", seed=99)
    b = draw(frame, 12, strata="prov", method="pps", size="x", seed=99)
    c = draw(frame, 12, strata="prov", method="pps", size="x", seed=100)
    pd.testing.assert_frame_equal(a.units, b.units)
    assert list(a.units["unit"]) != list(c.units["unit"])
    pd.testing.assert_frame_equal(frame, before)


@pytest.mark.parametrize("method", ["srs", "pps"])
def test_horvitz_thompson_total_is_unbiased(frame, method):
    """Mean of the HT total over 1,000 seeds vs the frame total of y.

    Tolerance: 4 Monte-Carlo standard errors (sd of the 1,000 estimates / sqrt(1,000)); an
    unbiased estimator fails this with probability below 1e-4, and the seeds are fixed, so the
    test is deterministic. A design that ignored the probabilities (e.g. weights n_h/N_h under
    PPS) would be off by far more (checked below for PPS)."""
    truth = frame["y"].sum()
    est, naive = [], []
    plan = {"A": 6, "B": 4, "C": 5}
    for seed in range(1000):
        u = draw(frame, plan, strata="prov", method=method, size="x" if method == "pps" else None, seed=seed).units
        est.append((u["y"] * u["weight"]).sum())
        naive.append((u["y"] * u["frame_n"] / u["sample_n"]).sum())
    est = np.asarray(est)
    mc_se = est.std(ddof=1) / np.sqrt(len(est))
    assert abs(est.mean() - truth) < 4 * mc_se
    if method == "pps":  # the check has power: ignoring the PPS probabilities is clearly biased
        naive = np.asarray(naive)
        assert abs(naive.mean() - truth) > 10 * naive.std(ddof=1) / np.sqrt(len(naive))


def test_pps_single_stratum_and_total_n():
    f = pd.DataFrame({"id": range(6), "x": [1, 1, 2, 2, 4, 10]})
    s = draw(f, 3, method="pps", size="x", seed=7)
    # hand: 3 * 10 / 20 = 1.5 >= 1 -> unit 5 certain; the other 2 draws over X = 10
    assert s.units.loc[s.units["id"] == 5, "pi"].tolist() == [1.0]
    assert len(s.units) == 3 and set(s.units["stratum"]) == {"all"}


def test_errors_are_located(frame):
    with pytest.raises(UsageError) as e:
        draw(frame, 5, strata="province", seed=1)
    assert e.value.code == "MD360" and "province" in str(e.value)
    with pytest.raises(UsageError) as e:
        draw(frame, {"A": 41}, strata="prov", seed=1)
    assert str(e.value) == render("MD365", stratum="A", n=41, available=40)
    with pytest.raises(UsageError) as e:
        draw(frame, 81, strata="prov", seed=1)
    assert e.value.code == "MD362"
    with pytest.raises(UsageError) as e:
        draw(frame, {"Z": 1}, strata="prov", seed=1)
    assert e.value.code == "MD364"
    bad = frame.assign(x=frame["x"].astype(float))
    bad.loc[7, "x"] = 0
    with pytest.raises(DataError) as e:
        draw(bad, 5, strata="prov", method="pps", size="x", seed=1)
    assert str(e.value) == render("MD363", column="x", count=1, row=7, value=0.0)
    gap = frame.assign(prov=frame["prov"].where(frame.index != 3))
    with pytest.raises(DataError) as e:
        draw(gap, 5, strata="prov", seed=1)
    assert e.value.code == "MD361"
    with pytest.raises(UsageError) as e:
        draw(frame, 4, strata="prov", seed=1)  # 3 strata x minimum 2 = 6 > 4
    assert str(e.value) == render("MD366", n=4, minimum=6, strata=3, per=2)


def test_survey_does_not_import_later_packages():
    import ast
    from pathlib import Path

    src = Path(__file__).resolve().parents[1] / "migdata" / "survey" / "draw.py"
    mods = {n.module for n in ast.walk(ast.parse(src.read_text())) if isinstance(n, ast.ImportFrom)}
    mods |= {a.name for n in ast.walk(ast.parse(src.read_text())) if isinstance(n, ast.Import) for a in n.names}
    assert not {m for m in mods if m and m.split(".")[1:2] in (["model"], ["indicators"], ["publish"])}
