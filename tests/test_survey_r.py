"""Live agreement with R ``survey`` on seeded random designs (skipped without Rscript + survey).

Design 1: 6 strata, one of them with a single PSU (lonely), clusters of 1-8 persons, unequal
weights, missing values, a domain with no cases in some strata; every lonely-PSU option R offers
(except ``fail``, tested on its own). Design 2: two-stage with an FPC at each stage.
R computes each domain on ``subset(design, dom == level)`` (what ``svyby`` does) and writes a CSV;
estimates and SEs must agree to 1e-8 relative.
"""

from __future__ import annotations

import subprocess
import textwrap

import numpy as np
import pandas as pd
import pytest

from migdata.errors import DesignError
from migdata.survey import Design

RTOL = 1e-8


def make_data(seed: int = 20261123) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for h, n_psu in enumerate([1, 2, 3, 4, 5, 3]):
        for j in range(n_psu):
            for _ in range(int(rng.integers(1, 9))):
                rows.append((f"s{h}", f"p{h}_{j}", h))
    df = pd.DataFrame(rows, columns=["stratum", "psu", "h"])
    n = len(df)
    df["w"] = rng.uniform(5, 50, n) * (1 + df["h"])
    df["y"] = rng.gamma(2.0, 10.0, n).round(1)
    df.loc[rng.random(n) < 0.08, "y"] = np.nan
    df["x"] = (df["y"].fillna(10) * rng.uniform(0.5, 1.5, n) + 1).round(2)
    df.loc[rng.random(n) < 0.03, "x"] = np.nan
    df["cat"] = rng.choice(["a", "b", "c"], n, p=[0.5, 0.35, 0.15]).astype(object)
    df.loc[rng.random(n) < 0.05, "cat"] = np.nan
    df["ind"] = (rng.random(n) < 0.3).astype(int)
    df["dom"] = rng.choice(["d1", "d2", "d3"], n)
    df.loc[(df["h"] >= 3) & (rng.random(n) < 0.4), "dom"] = "d4"   # d4: no cases in strata 0-2
    return df.drop(columns="h")


def make_two_stage(seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for h in range(3):
        N1 = 20 + 5 * h
        for j in range(3 + h):
            N2 = int(rng.integers(5, 15))
            n2 = int(rng.integers(2, min(N2, 6) + 1))
            for k in range(n2):
                rows.append((f"h{h}", f"c{h}_{j}", f"c{h}_{j}_{k}", N1, N2))
    df = pd.DataFrame(rows, columns=["stratum", "psu", "ssu", "N1", "N2"])
    n = len(df)
    df["y"] = rng.normal(50, 12, n).round(2)
    df["dom"] = rng.choice(["u", "v"], n)
    return df


R_SCRIPT = r"""
suppressMessages(library(survey))
args <- commandArgs(TRUE)
d <- read.csv(args[1], stringsAsFactors = FALSE)
d$cat <- factor(d$cat, levels = c("a", "b", "c"))
out <- list()
add <- function(...) out[[length(out) + 1]] <<- data.frame(...)
for (lonely in c("remove", "certainty", "adjust", "average")) {
  options(survey.lonely.psu = lonely)
  des <- svydesign(id = ~psu, strata = ~stratum, weights = ~w, data = d, nest = TRUE)
  dfull <- degf(des)
  for (lev in sort(unique(d$dom))) {
    sd <- subset(des, dom == lev)
    m <- svymean(~y, sd, na.rm = TRUE); ci <- confint(m, df = dfull)
    add(design = "one", lonely = lonely, kind = "mean", dom = lev, var = "y",
        estimate = coef(m)[[1]], se = SE(m)[[1]], ci_low = ci[1], ci_high = ci[2])
    t <- svytotal(~y, sd, na.rm = TRUE)
    add(design = "one", lonely = lonely, kind = "total", dom = lev, var = "y",
        estimate = coef(t)[[1]], se = SE(t)[[1]], ci_low = NA, ci_high = NA)
    r <- svyratio(~y, ~x, sd, na.rm = TRUE)
    add(design = "one", lonely = lonely, kind = "ratio", dom = lev, var = "y/x",
        estimate = coef(r)[[1]], se = SE(r)[[1]], ci_low = NA, ci_high = NA)
    p <- svymean(~cat, sd, na.rm = TRUE)
    add(design = "one", lonely = lonely, kind = "proportion", dom = lev,
        var = sub("^cat", "", names(coef(p))), estimate = as.vector(coef(p)),
        se = as.vector(SE(p)), ci_low = NA, ci_high = NA)
    for (meth in c("logit", "beta")) {
      cp <- svyciprop(~ind, sd, method = meth)
      add(design = "one", lonely = lonely, kind = paste0("ciprop_", meth), dom = lev, var = "ind",
          estimate = as.vector(cp), se = sqrt(as.vector(attr(cp, "var"))),
          ci_low = attr(cp, "ci")[[1]], ci_high = attr(cp, "ci")[[2]])
    }
    q <- svyquantile(~y, sd, c(0.25, 0.5), na.rm = TRUE)
    add(design = "one", lonely = lonely, kind = "quantile", dom = lev, var = c("0.25", "0.5"),
        estimate = q$y[, 1], se = q$y[, 4], ci_low = q$y[, 2], ci_high = q$y[, 3])
  }
  m <- svymean(~y, des, na.rm = TRUE)
  add(design = "one", lonely = lonely, kind = "mean", dom = "all", var = "y",
      estimate = coef(m)[[1]], se = SE(m)[[1]], ci_low = NA, ci_high = NA)
}
options(survey.lonely.psu = "fail")
d2 <- read.csv(args[2], stringsAsFactors = FALSE)
des2 <- svydesign(id = ~psu + ssu, strata = ~stratum, fpc = ~N1 + N2, data = d2, nest = TRUE)
for (lev in sort(unique(d2$dom))) {
  sd <- subset(des2, dom == lev)
  m <- svymean(~y, sd); t <- svytotal(~y, sd)
  add(design = "two", lonely = "fail", kind = "mean", dom = lev, var = "y",
      estimate = coef(m)[[1]], se = SE(m)[[1]], ci_low = NA, ci_high = NA)
  add(design = "two", lonely = "fail", kind = "total", dom = lev, var = "y",
      estimate = coef(t)[[1]], se = SE(t)[[1]], ci_low = NA, ci_high = NA)
}
write.csv(do.call(rbind, out), args[3], row.names = FALSE)
"""


@pytest.fixture(scope="module")
def r_results(rscript, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("survey_r")
    one, two, res, script = tmp / "one.csv", tmp / "two.csv", tmp / "res.csv", tmp / "check.R"
    make_data().to_csv(one, index=False)
    make_two_stage().to_csv(two, index=False)
    script.write_text(textwrap.dedent(R_SCRIPT))
    run = subprocess.run([rscript, str(script), str(one), str(two), str(res)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    return pd.read_csv(res, keep_default_na=True)


def _ours(lonely: str) -> dict[str, pd.DataFrame]:
    df = make_data()
    d = Design(df, weights="w", strata="stratum", psu="psu", lonely_psu=lonely)
    dd = Design(df, weights="w", strata="stratum", psu="psu", lonely_psu=lonely, domain_df="domain")
    dd_ind = df.assign(ind=df["ind"].map({0: "no", 1: "yes"}))
    ddi = Design(dd_ind, weights="w", strata="stratum", psu="psu", lonely_psu=lonely, domain_df="domain")
    return {
        "mean": d.mean("y", by="dom"),
        "total": d.total("y", by="dom"),
        "ratio": d.ratio("y", "x", by="dom"),
        "proportion": d.proportion("cat", by="dom"),
        "ciprop_logit": ddi.proportion("ind", by="dom", ci_method="logit"),
        "ciprop_beta": ddi.proportion("ind", by="dom", ci_method="beta"),
        "quantile": dd.quantile("y", [0.25, 0.5], by="dom"),
        "overall": d.mean("y"),
    }


def _compare(ours: pd.Series, theirs: pd.Series, rtol: float = RTOL):
    assert len(theirs) > 0 and len(ours) == len(theirs)
    np.testing.assert_allclose(ours.to_numpy(float), theirs.to_numpy(float), rtol=rtol, atol=0)


@pytest.mark.parametrize("lonely", ["remove", "certainty", "adjust", "average"])
def test_domains_agree_with_r(r_results, lonely):
    R = r_results[(r_results["design"] == "one") & (r_results["lonely"] == lonely)]
    ours = _ours(lonely)
    for kind in ("mean", "total", "ratio"):
        r = R[(R["kind"] == kind) & (R["dom"] != "all")].sort_values("dom")
        o = ours[kind].sort_values("dom")
        assert o["dom"].tolist() == r["dom"].tolist()
        _compare(o["estimate"], r["estimate"])
        _compare(o["se"], r["se"])
        if kind == "mean":
            _compare(o["ci_low"], r["ci_low"])
            _compare(o["ci_high"], r["ci_high"])
    r = R[R["kind"] == "proportion"].sort_values(["dom", "var"])
    o = ours["proportion"].sort_values(["dom", "category"])
    _compare(o["estimate"], r["estimate"])
    _compare(o["se"], r["se"])
    for meth in ("logit", "beta"):
        r = R[R["kind"] == f"ciprop_{meth}"].sort_values("dom")
        o = ours[f"ciprop_{meth}"]
        o = o[o["category"] == "yes"].sort_values("dom")
        _compare(o["estimate"], r["estimate"])
        _compare(o["se"], r["se"])
        _compare(o["ci_low"], r["ci_low"], rtol=RTOL)
        _compare(o["ci_high"], r["ci_high"], rtol=RTOL)
    r = R[R["kind"] == "quantile"].sort_values(["dom", "var"])
    o = ours["quantile"].sort_values(["dom", "quantile"])
    _compare(o["estimate"], r["estimate"])
    _compare(o["ci_low"], r["ci_low"])
    _compare(o["ci_high"], r["ci_high"])
    _compare(o["se"], r["se"])
    r = R[(R["kind"] == "mean") & (R["dom"] == "all")]
    _compare(ours["overall"]["estimate"], r["estimate"])
    _compare(ours["overall"]["se"], r["se"])


def test_two_stage_fpc_domains_agree_with_r(r_results):
    R = r_results[r_results["design"] == "two"]
    d = Design(make_two_stage(), strata="stratum", psu=["psu", "ssu"], fpc=["N1", "N2"])
    for kind, res in (("mean", d.mean("y", by="dom")), ("total", d.total("y", by="dom"))):
        r = R[R["kind"] == kind].sort_values("dom")
        o = res.sort_values("dom")
        _compare(o["estimate"], r["estimate"])
        _compare(o["se"], r["se"])


def test_lonely_fail_only_where_the_lonely_stratum_has_cases():
    """As R: domain d4 has no case in the lonely stratum s0, so it can be estimated."""
    df = make_data()
    d = Design(df, weights="w", strata="stratum", psu="psu")
    with pytest.raises(DesignError) as e:
        d.mean("y", by="dom")
    assert "(s0)" in str(e.value)
    r = d.mean("y", by=np.where(df["dom"] == "d4", 0, -1))
    assert len(r) == 1 and np.isfinite(r["se"].iloc[0])


R_REP = r"""
suppressMessages(library(survey))
args <- commandArgs(TRUE)
d <- read.csv(args[1], stringsAsFactors = FALSE)
des <- svydesign(id = ~psu, strata = ~stratum, weights = ~w, data = d, nest = TRUE)
jk <- as.svrepdesign(des)
m <- svyby(~y, ~dom, jk, svymean, na.rm = TRUE)
out <- data.frame(kind = "jkn", dom = m$dom, estimate = coef(m), se = SE(m))
bs <- svrepdesign(data = d, weights = ~w, repweights = "^bw[0-9]+$", type = "bootstrap")
t <- svyby(~y, ~dom, bs, svytotal, na.rm = TRUE)
out <- rbind(out, data.frame(kind = "boot", dom = t$dom, estimate = coef(t), se = SE(t)))
write.csv(out, args[2], row.names = FALSE)
"""


def test_replicate_designs_agree_with_r(rscript, tmp_path):
    from migdata.survey.replicate import ReplicateDesign

    df = make_data()
    df = df[df["stratum"] != "s0"].reset_index(drop=True)      # no lonely PSU
    rng = np.random.default_rng(11)
    boot = df["w"].to_numpy()[:, None] * rng.poisson(1.0, (len(df), 20))
    for r in range(20):
        df[f"bw{r + 1}"] = boot[:, r]
    data, res, script = tmp_path / "d.csv", tmp_path / "r.csv", tmp_path / "rep.R"
    df.to_csv(data, index=False)
    script.write_text(R_REP)
    run = subprocess.run([rscript, str(script), str(data), str(res)], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    R = pd.read_csv(res)
    jk = ReplicateDesign.jackknife(Design(df, weights="w", strata="stratum", psu="psu"))
    o = jk.mean("y", by="dom").sort_values("dom")
    r = R[R["kind"] == "jkn"].sort_values("dom")
    _compare(o["estimate"], r["estimate"])
    _compare(o["se"], r["se"])
    bs = ReplicateDesign(df, "w", [f"bw{i + 1}" for i in range(20)], type="bootstrap")
    o = bs.total("y", by="dom").sort_values("dom")
    r = R[R["kind"] == "boot"].sort_values("dom")
    _compare(o["estimate"], r["estimate"])
    _compare(o["se"], r["se"])
