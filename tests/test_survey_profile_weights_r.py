"""A profile's weighting of a survey drawn from a frame (``[design.calibration]``) against live R.

The fixture is a seeded stratified simple random sample written here: five strata with frame
counts N_h (the FPC), n_h units drawn by SRS within each (weight N_h / n_h), respondents marked
by ``consent`` (refusals and missing answers are non-respondents), two records with no stratum
(not drawn from the list; ``missing_design = "exclude"``), one stratum left with a single
respondent (lonely PSU, ``adjust``). R builds the same design on the respondents,
post-stratifies them to N_h within strata (the non-response adjustment) and calibrates to
population totals by stratum and sex (``postStratify``, ``rake``, ``calibrate`` with linear,
raking and bounded logit). Weights, means, totals, domain means and proportions with their SEs
must agree to 1e-8 relative; the calibrated weights must reproduce the totals. Skipped without
Rscript + survey.
"""

from __future__ import annotations

import subprocess
import textwrap

import numpy as np
import pandas as pd
import pytest

from migdata.model.spec import CalibrationSpec, DesignSpec
from migdata.survey import Design

RTOL = 1e-8
FRAME_N = {"s1": 40, "s2": 25, "s3": 60, "s4": 12, "s5": 30}
SAMPLE_N = {"s1": 9, "s2": 6, "s3": 12, "s4": 4, "s5": 7}
SEX_TOTAL = {"female": 84.0, "male": 83.0}   # sums to the frame's 167 units
METHODS = {"ps": ("poststratify", None), "rk": ("rake", None), "cl": ("linear", None),
           "cr": ("raking", None), "cg": ("logit", (0.4, 3.0))}


def survey_data(seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for s, n in SAMPLE_N.items():
        for i in range(n):
            rows.append({"stratum": s, "fpc": float(FRAME_N[s]), "weight": FRAME_N[s] / n})
    df = pd.DataFrame(rows)
    m = len(df)
    df["sex"] = rng.choice(["female", "male"], m)
    df["y"] = rng.gamma(2.0, 3.0, m).round(3)
    df["kind"] = rng.choice(["a", "b", "c"], m)
    consent = rng.choice([True, False], m, p=[0.8, 0.2]).astype(object)
    consent[rng.choice(m, 2, replace=False)] = None          # no answer: not a respondent
    df["consent"] = pd.array(consent, dtype="boolean")
    s4 = np.flatnonzero(df["stratum"].to_numpy() == "s4")
    df.loc[s4, "consent"] = [True, False, False, pd.NA]      # one respondent left: a lonely PSU
    df.loc[s4[0], "sex"] = "male"
    outside = pd.DataFrame({"stratum": [None, None], "fpc": [np.nan, np.nan], "weight": [1.0, 1.0],
                            "sex": ["female", "male"], "y": [50.0, 70.0], "kind": ["a", "c"],
                            "consent": pd.array([True, True], dtype="boolean")})
    return pd.concat([df, outside], ignore_index=True)


def totals_item() -> list[dict]:
    """The calibration totals as a profile (or the CBMS counts) gives them."""
    return [{"columns": ["stratum"], "cells": [[s] for s in FRAME_N], "total": [float(v) for v in FRAME_N.values()]},
            {"columns": ["sex"], "cells": [[s] for s in SEX_TOTAL], "total": list(SEX_TOTAL.values())}]




def spec(name: str) -> DesignSpec:
    method, bounds = METHODS[name]
    cal = CalibrationSpec.from_dict({
        "respondent": {"consent": True}, "nonresponse": ["stratum"], "frames": {"person": "of"},
        "margins": [["sex"]] if method == "poststratify" else [["stratum"], ["sex"]],
        "method": method, "bounds": bounds,
        "totals": {"person": totals_item()[1:] if method == "poststratify" else totals_item()}})
    return DesignSpec(weights="weight", strata="stratum", fpc="fpc", lonely_psu="adjust",
                      missing_design="exclude", calibration=cal)


R_SCRIPT = r"""
suppressMessages(library(survey))
options(survey.lonely.psu = "adjust")
args <- commandArgs(TRUE)
d <- read.csv(args[1], stringsAsFactors = FALSE, na.strings = "")
d$sex <- factor(d$sex, levels = c("female", "male"))
d$stratum <- factor(d$stratum)
d$kind <- factor(d$kind, levels = c("a", "b", "c"))
resp <- d[!is.na(d$stratum) & d$consent %in% "True", ]
base <- svydesign(ids = ~1, strata = ~stratum, fpc = ~fpc, weights = ~weight, data = resp)
Nh <- data.frame(stratum = levels(d$stratum), Freq = tapply(resp$fpc, resp$stratum, function(v) v[1]))
nr <- postStratify(base, ~stratum, Nh)
st <- data.frame(stratum = levels(d$stratum), Freq = c(40, 25, 60, 12, 30))
sx <- data.frame(sex = c("female", "male"), Freq = c(84, 83))
pop <- c(`(Intercept)` = 167, stratums2 = 25, stratums3 = 60, stratums4 = 12, stratums5 = 30, sexmale = 83)
designs <- list(
  nr = nr,
  ps = postStratify(nr, ~sex, sx),
  rk = rake(nr, list(~stratum, ~sex), list(st, sx), control = list(maxit = 100, epsilon = 1e-10)),
  cl = calibrate(nr, ~stratum + sex, pop, calfun = "linear", epsilon = 1e-11),
  cr = calibrate(nr, ~stratum + sex, pop, calfun = "raking", epsilon = 1e-11),
  cg = calibrate(nr, ~stratum + sex, pop, calfun = "logit", bounds = c(0.4, 3.0), epsilon = 1e-11))
out <- list()
add <- function(name, kind, dom, est, se) {
  out[[length(out) + 1]] <<- data.frame(design = name, kind = kind, dom = dom, estimate = as.numeric(est),
                                        se = as.numeric(se))
}
for (name in names(designs)) {
  x <- designs[[name]]
  add(name, "weights", as.character(seq_len(nrow(resp))), weights(x), NA)
  m <- svymean(~y, x); add(name, "mean", "all", coef(m), SE(m))
  t <- svytotal(~y, x); add(name, "total", "all", coef(t), SE(t))
  b <- svyby(~y, ~sex, x, svymean); add(name, "mean_sex", as.character(b$sex), coef(b), SE(b))
  p <- svymean(~kind, x); add(name, "prop", levels(d$kind), coef(p), SE(p))
}
write.csv(do.call(rbind, out), args[2], row.names = FALSE)
"""


@pytest.fixture(scope="module")
def r_results(rscript, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("profile_weights_r")
    data, res, script = tmp / "d.csv", tmp / "res.csv", tmp / "w.R"
    survey_data().to_csv(data, index=False)
    script.write_text(textwrap.dedent(R_SCRIPT))
    run = subprocess.run([rscript, str(script), str(data), str(res)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    return pd.read_csv(res, dtype={"dom": str})


def _close(ours, theirs, rtol=RTOL):
    ours, theirs = np.asarray(ours, float), np.asarray(theirs, float)
    assert len(theirs) > 0 and ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=1e-12 * np.nanmax(np.abs(theirs)))


def _inside(df: pd.DataFrame) -> np.ndarray:
    """The respondents drawn from the list (hand rule: a stratum and consent true)."""
    return (df["stratum"].notna() & df["consent"].fillna(False)).to_numpy(dtype=bool)


def _design(name: str) -> Design:
    df = survey_data()
    if name == "nr":
        s = spec("rk")
        s = s.replace(calibration=CalibrationSpec(respondent=s.calibration.respondent, nonresponse=("stratum",)))
        return Design.from_spec(df, s)
    return Design.from_spec(df, spec(name))


@pytest.mark.parametrize("name", ["nr", *METHODS])
def test_profile_weighting_agrees_with_r(r_results, name):
    R = r_results[r_results["design"] == name]
    d = _design(name)
    inside = _inside(survey_data())
    assert (d.w[~inside] == 0).all()              # refusals, no answer, not from the list: weight 0
    _close(d.w[inside], R[R["kind"] == "weights"]["estimate"])
    for kind, o in (("mean", d.mean("y")), ("total", d.total("y"))):
        r = R[R["kind"] == kind]
        _close(o["estimate"], r["estimate"])
        _close(o["se"], r["se"])
    o = d.mean("y", by=["sex"]).sort_values("sex")
    r = R[R["kind"] == "mean_sex"].sort_values("dom")
    assert o["sex"].astype(str).tolist() == r["dom"].tolist()
    _close(o["estimate"], r["estimate"])
    _close(o["se"], r["se"])
    o = d.proportion("kind").sort_values("category")
    r = R[R["kind"] == "prop"].sort_values("dom")
    _close(o["estimate"], r["estimate"])
    _close(o["se"], r["se"])


@pytest.mark.parametrize("name", list(METHODS))
def test_profile_calibration_reproduces_the_totals(name):
    """Totals written in this test: the calibrated weights sum to them in every cell."""
    df = survey_data()
    d = _design(name)
    w = pd.Series(d.w)
    inside = _inside(df)
    by_stratum = w[inside].groupby(df["stratum"][inside]).sum()
    by_sex = w[inside].groupby(df["sex"][inside]).sum()
    if name != "ps":      # post-stratification by sex after the strata's frame counts: sex only
        for s, N in FRAME_N.items():
            assert by_stratum[s] == pytest.approx(N, rel=1e-9)
    for s, N in SEX_TOTAL.items():
        assert by_sex[s] == pytest.approx(N, rel=1e-9)
