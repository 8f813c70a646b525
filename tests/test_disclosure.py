"""Disclosure control by the cell-key method: the perturbation table's properties (checked against
an independent maximum-entropy solve), the lookup kernel against its plain numpy equivalent, and
what ``control`` publishes on hand-made rows and on synthetic cubes built in tests/ckm_audit.py
(straight from persons with pandas, not by the evaluator)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize

from migdata.errors import UsageError, render
from migdata.publish.disclosure import HIDDEN, REASONS, control, perturb_magnitude, ptable

sys.path.insert(0, str(Path(__file__).parent))
import ckm_audit as audit  # noqa: E402

PARAMS = [(3, 2.0, 2), (4, 2.5, 2), (5, 3.0, 2), (2, 1.0, 0), (5, 3.0, 4), (3, 1.0, 1)]


# ----------------------------------------------------------------------------- the ptable
@pytest.mark.parametrize("D,V,js", PARAMS)
def test_ptable_rows_are_distributions_within_D_that_skip_1_to_js(D, V, js):
    t = ptable(D, V, js)
    f = t.frame()
    sums = f.groupby("i")["p"].sum()
    assert np.allclose(sums, 1.0, atol=1e-12) and list(sums.index) == list(range(js + D + 2))
    assert (f["v"].abs() <= D).all() and (f["j"] >= 0).all()
    assert not f["j"].between(1, js).any()  # no published count in 1..js
    assert f.loc[f["i"] == 0, ["j", "p"]].values.tolist() == [[0.0, 1.0]]  # zero stays zero
    mean = (f["p"] * f["v"]).groupby(f["i"]).sum()
    assert np.abs(mean[mean.index > js]).max() < 1e-12  # unbiased above js (and below, as built)
    var = (f["p"] * f["v"] ** 2).groupby(f["i"]).sum()
    rule = f.groupby("i")["rule"].first()
    assert np.allclose(var[rule == "mean and variance"], V, atol=1e-9)
    # every count from js + D + 1 up uses one row, symmetric around 0
    last = f[f["i"] == js + D + 1]
    assert last["v"].tolist() == list(range(-D, D + 1))
    assert np.allclose(last["p"].to_numpy(), last["p"].to_numpy()[::-1], atol=1e-12)
    # key intervals tile [0, 1) in order of the deviation
    for _, g in f.groupby("i"):
        assert g["p_lower"].iloc[0] == 0 and g["p_upper"].iloc[-1] == 1
        assert np.allclose(g["p_lower"].to_numpy()[1:], g["p_upper"].to_numpy()[:-1])


def _primal_maxent(v: np.ndarray, V: float | None) -> np.ndarray:
    """Maximum entropy over probabilities directly (SLSQP on the primal problem): an independent
    route to the same distribution the module finds through the Gibbs form and its dual."""
    cons = [{"type": "eq", "fun": lambda p: p.sum() - 1}, {"type": "eq", "fun": lambda p: p @ v}]
    if V is not None:
        cons.append({"type": "eq", "fun": lambda p: p @ (v * v) - V})
    r = minimize(lambda p: float(np.sum(p * np.log(np.maximum(p, 1e-300)))), np.full(len(v), 1 / len(v)),
                 method="SLSQP", bounds=[(1e-12, 1)] * len(v), constraints=cons,
                 options={"ftol": 1e-14, "maxiter": 1000})
    assert r.success, r.message
    return r.x


@pytest.mark.parametrize("D,V,js", PARAMS[:3])
def test_ptable_rows_are_the_maximum_entropy_solution(D, V, js):
    f = ptable(D, V, js).frame()
    for i, g in f[f["i"] > 0].groupby("i"):
        v = g["v"].to_numpy(dtype=float)
        rule = g["rule"].iloc[0]
        expected = _primal_maxent(v, V if rule == "mean and variance" else None)
        assert np.allclose(g["p"].to_numpy(), expected, atol=2e-5), (i, rule)


def test_ptable_hand_checked_row():
    # D=3, js=2, count 1: targets 0, 3, 4 (deviations -1, +2, +3). A variance of 2 cannot be met
    # with mean 0 (the least is 1*2 = 2, at two points), so the row has the mean constraint only:
    # p ~ exp(a v); mean 0 <=> -e^-a + 2 e^2a + 3 e^3a = 0, i.e. with x = e^a: 3x^4 + 2x^3 = 1.
    x = np.roots([3, 2, 0, 0, -1])
    x = float(x[(abs(x.imag) < 1e-12) & (x.real > 0)].real[0])
    p = np.array([1 / x, x**2, x**3])
    p /= p.sum()
    g = ptable(3, 2.0, 2).frame().query("i == 1")
    assert g["j"].tolist() == [0, 3, 4] and np.allclose(g["p"], p, atol=1e-12)


def test_lookup_equals_searchsorted_per_row():
    t = ptable(4, 2.5, 2)
    rng = np.random.default_rng(7)
    counts = rng.integers(0, 40, 20_000)
    keys = rng.random(20_000)
    keys[:50] = 0.0
    up = t.upper
    expect = np.array([t.deviations[np.searchsorted(up[min(c, len(up) - 1)], u, side="right")]
                       for c, u in zip(counts, keys)])
    assert np.array_equal(t.deviation(counts, keys), expect)


@pytest.mark.parametrize("count", [1, 2, 3, 7, 250])
def test_lookup_reproduces_the_probabilities(count):
    # evenly spread keys: each deviation is chosen for its probability's share of them
    t = ptable(3, 2.0, 2)
    N = 200_000
    keys = (np.arange(N) + 0.5) / N
    out = t.perturb(np.full(N, count), keys)
    f = t.frame()
    f = f[f["i"] == min(count, 6)]
    freq = pd.Series(out - count).value_counts(normalize=True).sort_index()
    assert np.allclose(freq.to_numpy(), f["p"].to_numpy(), atol=2 / N)
    assert abs((out - count).mean()) < 1e-4
    assert not ((out >= 1) & (out <= 2)).any() and (out >= 0).all()


# ----------------------------------------------------------------------------- hand rows
def raw_rows() -> pd.DataFrame:
    """Complete-count rows in the evaluator's raw layout. Row by row (D=3, V=2, k=3):
    OF02 count 2 of 5 persons 15+; OF03 the same units as a share; OF11 a median of 4 and of 9;
    RM02 a total of 30000 PHP with a top contribution of 12000; RM03 its mean over 6 households;
    RM04 a ratio 30000 / 120000 x 100; an empty OF02 cell (0 of 8)."""
    rows = [
        ("OF02", 2.0, 2.0, np.nan, 5, 2, 0.80, 0.10, np.nan, np.nan),
        ("OF03", 40.0, 2.0, 5.0, 5, 2, 0.80, 0.10, np.nan, np.nan),
        ("OF11", 7.5, np.nan, np.nan, 4, 4, np.nan, 0.10, np.nan, np.nan),
        ("OF11", 12.0, np.nan, np.nan, 9, 9, np.nan, 0.50, np.nan, np.nan),
        ("RM02", 30000.0, 30000.0, np.nan, 6, 3, 0.30, 0.50, 12000.0, np.nan),
        ("RM03", 5000.0, 30000.0, 6.0, 6, 3, 0.30, 0.50, 12000.0, np.nan),
        ("RM04", 25.0, 30000.0, 120000.0, 6, 3, 0.30, 0.50, 12000.0, 40000.0),
        ("OF02", 0.0, 0.0, np.nan, 8, 0, 0.0, 0.25, np.nan, np.nan),
    ]
    t = pd.DataFrame(rows, columns=["indicator_id", "estimate", "numerator", "denominator", "n", "units",
                                    "_ck_num", "_ck_den", "_top_num", "_top_den"])
    return t.assign(area_level="barangay", area_code="B", flag="complete_count", se=0.0, cv=0.0,
                    ci_low=t["estimate"], ci_high=t["estimate"])


def interval_of(D: int, V: float, js: int, count: int, key: float) -> int:
    """The published value read off the ptable's key intervals (the table as data)."""
    f = ptable(D, V, js).frame()
    g = f[(f["i"] == min(count, js + D + 1)) & (f["p_lower"] <= key) & (key < f["p_upper"])]
    assert len(g) == 1
    return count + int(g["v"].iloc[0])


def test_counts_shares_medians_and_magnitudes_on_hand_rows():
    out = control(raw_rows(), k=3)
    pub = lambda c, k: interval_of(3, 2.0, 2, c, k)  # noqa: E731
    num, den = pub(2, 0.80), pub(5, 0.10)
    assert (num, den) == (4, 3)  # 2 -> +2 (key 0.80 in row 2), 5 -> -2 (key 0.10 in row 5)
    r = out.iloc[0]
    assert (r["estimate"], r["numerator"], r["n"]) == (num, num, den) and np.isnan(r["denominator"])
    # the share: the same numerator and denominator, capped at 100 % (4 > 3)
    r = out.iloc[1]
    assert (r["numerator"], r["denominator"], r["n"], r["estimate"]) == (num, den, den, 100.0)
    # medians: shown only from a published count of k + D = 6 up (4 units published as 3: hidden)
    assert pub(4, 0.10) == 3 and out.iloc[2]["suppressed"] and np.isnan(out.iloc[2]["estimate"])
    assert out.iloc[2]["suppression"] == "small base" and out.iloc[2]["n"] == 3
    assert pub(9, 0.50) >= 6 and not out.iloc[3]["suppressed"] and out.iloc[3]["estimate"] == 12.0
    # magnitudes: 10-20 % of the top contribution away, the same sum in the total and the mean
    tot = out.iloc[4]["estimate"]
    assert 1200 <= abs(tot - 30000) <= 2400
    n6 = pub(6, 0.50)
    assert out.iloc[5]["numerator"] == tot and out.iloc[5]["n"] == n6
    assert out.iloc[5]["estimate"] == pytest.approx(tot / n6)
    b = out.iloc[6]["denominator"]
    assert 4000 <= abs(b - 120000) <= 8000  # the denominator's own top contribution, 40000
    assert out.iloc[6]["estimate"] == pytest.approx(100 * tot / b)
    # an empty cell stays empty and shown
    r = out.iloc[7]
    assert (r["estimate"], r["numerator"]) == (0.0, 0.0) and r["n"] == pub(8, 0.25)
    # no sampling error; the interval is the value
    shown = out[~out["suppressed"]]
    assert (shown["se"] == 0).all() and (shown["ci_low"] == shown["estimate"]).all()


def test_hidden_columns_never_published_and_reasons_are_plain():
    out = control(raw_rows(), k=3)
    assert not set(HIDDEN) & set(out.columns)
    assert list(out["suppression"].cat.categories) == REASONS == ["", "small base", "reliability"]
    assert out.attrs["disclosure"] == {"method": "cell key", "k": 3}


def test_a_domain_published_as_empty_has_no_row():
    t = raw_rows().iloc[[0]].assign(n=2, units=1, _ck_num=0.1, _ck_den=0.1)
    assert interval_of(3, 2.0, 2, 2, 0.1) == 0
    assert len(control(t, k=3)) == 0


def test_survey_rows_get_no_noise_and_suppress_hides_the_value():
    t = raw_rows().iloc[:3].assign(flag=["publish", "caution", "suppress"], se=[1.0, 2.0, 3.0],
                                   cv=[0.1, 0.25, 0.4])
    t = t.drop(columns=["_ck_num", "_ck_den", "_top_num", "_top_den"])
    out = control(t, k=3)
    assert out["estimate"].tolist()[:2] == t["estimate"].tolist()[:2]
    assert out["n"].tolist() == t["n"].tolist() and out["se"].tolist()[:2] == [1.0, 2.0]
    assert out["suppressed"].tolist() == [False, False, True]
    assert out["suppression"].tolist() == ["", "", "reliability"]
    # unreliable, not confidential: the value stays for the writers to blank
    assert out.iloc[2]["estimate"] == t.iloc[2]["estimate"]


def test_magnitude_noise_bounds_and_sign():
    t = ptable(3, 2.0, 2)
    rng = np.random.default_rng(3)
    top = rng.uniform(10, 1e6, 5000)
    x = top * rng.uniform(1, 20, 5000)
    keys = rng.random(5000)
    out = perturb_magnitude(x, top, keys, t)
    rel = np.abs(out - x) / top
    assert (rel >= 0.1 - 1e-9).all() and (rel <= 0.2 + 1e-9).all()
    assert abs(np.mean((out - x) / top)) < 0.01  # unbiased: the sign is + for half of the keys
    # one contributor: its own value is never published to better than 10 %
    single = perturb_magnitude(top, top, keys, t)
    assert (np.abs(single - top) >= 0.1 * top - 1e-6).all()
    # small integer values (net migrants: +1/-1): count-like noise within D, never a sign change
    s = perturb_magnitude(np.array([2.0, -2.0, 0.0, 5.0]), np.ones(4), np.array([0.01, 0.99, 0.5, 0.3]), t)
    assert s[0] >= 0 and s[1] <= 0 and (np.abs(s - [2, -2, 0, 5]) <= 3).all()
    # nothing contributes: nothing moves
    assert perturb_magnitude(np.zeros(3), np.zeros(3), keys[:3], t).tolist() == [0.0, 0.0, 0.0]


def test_bad_arguments_and_keys():
    with pytest.raises(UsageError) as e:
        control(raw_rows(), k=0)
    assert e.value.code == "MD708" and str(e.value) == render("MD708", value=0)
    with pytest.raises(UsageError) as e:
        control(raw_rows(), k=3, D=1)
    assert e.value.code == "MD714" and "D=1" in str(e.value)
    with pytest.raises(UsageError) as e:
        control(raw_rows(), k=3, D=3, V=9.0)
    assert e.value.code == "MD714" and "V=9.0" in str(e.value)
    with pytest.raises(UsageError) as e:
        control(raw_rows().drop(columns=["_ck_den"]), k=3)
    assert e.value.code == "MD709" and str(e.value) == render("MD709", columns="_ck_den")
    bad = raw_rows().assign(_ck_den=[0.1, 1.0, 0.2, 0.3, np.nan, 0.5, 0.5, 0.5])
    with pytest.raises(UsageError) as e:
        control(bad, k=3)
    assert e.value.code == "MD715"
    assert str(e.value) == render("MD715", column="_ck_den", count=2, id="OF03", area="B", value=1.0)


# ----------------------------------------------------------------------------- synthetic cubes
@pytest.fixture(scope="module")
def people() -> pd.DataFrame:
    return audit.population(seed=16, barangays=16)


def _cell(t: pd.DataFrame, **key) -> pd.Series:
    sel = np.ones(len(t), dtype=bool)
    for c, v in key.items():
        sel &= (t[c] == v).to_numpy()
    assert sel.sum() == 1, key
    return t[sel].iloc[0]


def test_same_cell_same_value_in_every_table(people):
    spec = audit.SPECS["OF03"]
    by_sex = control(audit.cube(people, spec, ["sex"]), k=3)
    by_age = control(audit.cube(people, spec, ["age_group"], "five_year"), k=3)
    by_both = control(audit.cube(people, spec, ["sex", "age_group"], [0, 15, 30, 60]), k=3)
    count = control(audit.cube(people, audit.SPECS["OF02"], ["urban_rural"]), k=3)
    compared = 0
    for r in by_sex[by_sex["sex"] == "Total"].itertuples():
        a = _cell(by_age, area_code=r.area_code, age_group="Total")
        b = _cell(by_both, area_code=r.area_code, sex="Total", age_group="Total")
        c = _cell(count, area_code=r.area_code, urban_rural="Total")
        assert r.numerator == a["numerator"] == b["numerator"] == c["numerator"]
        assert r.n == a["n"] == b["n"] == c["n"]  # OF02's universe is OF03's (everyone has a status)
        assert r.estimate == a["estimate"] == b["estimate"]
        compared += 1
    # a female cell of the sex table and of the sex x age table
    for r in by_sex[by_sex["sex"] == "female"].itertuples():
        b = _cell(by_both, area_code=r.area_code, sex="female", age_group="Total")
        assert (r.numerator, r.n) == (b["numerator"], b["n"])
        compared += 1
    assert compared == 2 * (16 + people["city"].nunique() + 2 + 1)


def test_published_values_are_close_and_unbiased(people):
    raw = audit.cube(people, audit.SPECS["OF03"], ["sex", "age_group"], "five_year")
    out = control(raw, k=3)
    key = ["area_level", "area_code", "sex", "age_group"]
    m = out.merge(raw[key + ["n", "units"]], on=key, suffixes=("", "_true"))
    dev = m["n"] - m["n_true"]
    assert (dev.abs() <= 3).all() and (m["n"] > 0).all()
    assert not m["n"].between(1, 2).any() and not m["numerator"].between(1, 2).any()
    big = m["n_true"] >= 6  # rows of the symmetric ptable row: mean 0, variance 2
    assert abs(dev[big].mean()) < 0.1 and abs(dev[big].var() - 2.0) < 0.3
    # share in 0..100, from the published counts
    assert out["estimate"].between(0, 100).all()
    assert np.allclose(out["estimate"], 100 * np.minimum(out["numerator"], out["n"]) / out["n"])


@pytest.mark.parametrize("block", [1, 3, 7, 50])
def test_a_table_protected_in_blocks_equals_it_protected_whole(people, monkeypatch, block):
    # control is row by row: blocks of rows (two at a time) give the rows, values, types and
    # attributes of one pass over the whole table; a bad key is reported as for the whole table
    import migdata.publish.disclosure as D

    raw = pd.concat([audit.cube(people, audit.SPECS["OF03"], ["sex", "age_group"], "five_year"),
                     raw_rows()], ignore_index=True)
    raw.attrs = {"by": ["sex"]}
    whole = control(raw, k=3)
    bad = raw.assign(_ck_den=np.where(np.arange(len(raw)) % 40 == 39, 1.0, raw["_ck_den"]))
    with pytest.raises(UsageError) as e_whole:
        control(bad, k=3)
    monkeypatch.setattr(D, "BLOCK_ROWS", block)
    pd.testing.assert_frame_equal(control(raw, k=3), whole)
    assert control(raw, k=3).attrs == whole.attrs == {"by": ["sex"], "disclosure": {"method": "cell key", "k": 3}}
    with pytest.raises(UsageError) as e_blocks:
        control(bad, k=3)
    assert str(e_blocks.value) == str(e_whole.value)
