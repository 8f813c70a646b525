"""Calibrated designs, design effects, contrasts and regression against live R ``survey``.

The design is the seeded random design of ``test_survey_r`` (6 strata, one with a single PSU,
clusters of 1-8 persons, unequal weights, missing values, a domain with no case in three strata)
with calibration variables added. R fits ``postStratify``, ``rake``, ``calibrate`` (linear,
raking, logit with bounds, linear with bounds) on it and writes estimates and SEs of means,
totals, ratios, proportions, ``svyciprop`` and quantiles per domain, design effects
(``deff=TRUE`` and ``"replace"``), ``svycontrast`` of domain estimates and ``svyglm``
(gaussian, quasibinomial). Everything must agree to 1e-8 relative. Skipped without Rscript +
survey.
"""

from __future__ import annotations

import subprocess
import textwrap

import numpy as np
import pandas as pd
import pytest

from migdata.survey import Design
from tests.test_survey_r import make_data

RTOL = 1e-8
LONELY = ("adjust", "average")


def calib_data(seed: int = 5) -> pd.DataFrame:
    df = make_data()
    rng = np.random.default_rng(seed)
    n = len(df)
    df["sex"] = rng.choice(["f", "m"], n)
    df["agegrp"] = rng.choice(["a1", "a2", "a3"], n, p=[0.3, 0.4, 0.3])
    df["region"] = rng.choice(["r1", "r2", "r3", "r4"], n)
    df["inc"] = rng.gamma(3.0, 2.0, n).round(2)
    df["z"] = rng.normal(3, 1, n).round(3)
    df["urban"] = rng.random(n) < 0.5
    df["ind_s"] = df["ind"].map({0: "no", 1: "yes"})
    return df


def populations(df: pd.DataFrame) -> dict:
    """Population totals near the weighted sample totals (so every method can reach them)."""
    w = df["w"]
    N = float(w.sum()) * 1.07
    rng = np.random.default_rng(9)

    def margin(col):
        t = w.groupby(df[col]).sum()
        t = t * rng.uniform(0.9, 1.1, len(t))
        return t / t.sum() * N

    cell = w.groupby([df["sex"], df["agegrp"]]).sum() * rng.uniform(0.9, 1.1, 6)
    return {"N": N, "sex": margin("sex"), "region": margin("region"),
            "inc": float((w * df["inc"]).sum()) * 1.04, "cell": cell}


R_SCRIPT = r"""
suppressMessages(library(survey))
args <- commandArgs(TRUE)
d <- read.csv(args[1], stringsAsFactors = FALSE)
d$cat <- factor(d$cat, levels = c("a", "b", "c"))
d$sex <- factor(d$sex, levels = c("f", "m"))
d$agegrp <- factor(d$agegrp, levels = c("a1", "a2", "a3"))
d$region <- factor(d$region, levels = c("r1", "r2", "r3", "r4"))
d$urban <- as.logical(d$urban)
levs <- sort(unique(d$dom))
for (lv in levs) {
  d[[paste0("n_", lv)]] <- as.numeric(d$dom == lv)
  d[[paste0("z_", lv)]] <- d$z * (d$dom == lv)
  d[[paste0("ind_", lv)]] <- d$ind * (d$dom == lv)
}
pop <- read.csv(args[2], stringsAsFactors = FALSE)
getp <- function(k) pop$total[pop$key == k]
sex_t <- data.frame(sex = c("f", "m"), Freq = c(getp("sex:f"), getp("sex:m")))
reg_t <- data.frame(region = paste0("r", 1:4), Freq = sapply(paste0("region:r", 1:4), getp))
cell_t <- expand.grid(sex = c("f", "m"), agegrp = c("a1", "a2", "a3"), stringsAsFactors = FALSE)
cell_t$Freq <- mapply(function(s, a) getp(paste0("cell:", s, ":", a)), cell_t$sex, cell_t$agegrp)
popvec <- c(`(Intercept)` = getp("N"), sexm = getp("sex:m"), regionr2 = getp("region:r2"),
            regionr3 = getp("region:r3"), regionr4 = getp("region:r4"), inc = getp("inc"))
out <- list()
add <- function(...) out[[length(out) + 1]] <<- data.frame(..., stringsAsFactors = FALSE)
for (lonely in c("adjust", "average")) {
  options(survey.lonely.psu = lonely)
  base <- svydesign(id = ~psu, strata = ~stratum, weights = ~w, data = d, nest = TRUE)
  designs <- list(
    none = base,
    ps = postStratify(base, ~sex + agegrp, cell_t),
    rk = rake(base, list(~sex, ~region), list(sex_t, reg_t)),
    cl = calibrate(base, ~sex + region + inc, popvec),
    cr = calibrate(base, ~sex + region + inc, popvec, calfun = "raking"),
    cg = calibrate(base, ~sex + region + inc, popvec, calfun = "logit", bounds = c(0.5, 2.5)),
    cb = calibrate(base, ~sex + region + inc, popvec, bounds = c(0.9, 1.2)))
  for (nm in names(designs)) {
    des <- designs[[nm]]
    add(design = nm, lonely = lonely, kind = "weights", dom = "all", var = as.character(seq_along(weights(des))),
        estimate = weights(des), se = NA, ci_low = NA, ci_high = NA, deff = NA, df = NA)
    for (lev in sort(unique(d$dom))) {
      sd <- subset(des, dom == lev)
      m <- svymean(~y, sd, na.rm = TRUE, deff = TRUE); ci <- confint(m, df = degf(des))
      add(design = nm, lonely = lonely, kind = "mean", dom = lev, var = "y", estimate = coef(m)[[1]],
          se = SE(m)[[1]], ci_low = ci[1], ci_high = ci[2], deff = deff(m)[[1]], df = degf(des))
      mr <- svymean(~y, sd, na.rm = TRUE, deff = "replace")
      add(design = nm, lonely = lonely, kind = "mean_replace", dom = lev, var = "y", estimate = coef(mr)[[1]],
          se = SE(mr)[[1]], ci_low = NA, ci_high = NA, deff = deff(mr)[[1]], df = NA)
      t <- svytotal(~y, sd, na.rm = TRUE, deff = TRUE)
      add(design = nm, lonely = lonely, kind = "total", dom = lev, var = "y", estimate = coef(t)[[1]],
          se = SE(t)[[1]], ci_low = NA, ci_high = NA, deff = deff(t)[[1]], df = NA)
      r <- svyratio(~y, ~x, sd, na.rm = TRUE, deff = TRUE)
      add(design = nm, lonely = lonely, kind = "ratio", dom = lev, var = "y/x", estimate = coef(r)[[1]],
          se = SE(r)[[1]], ci_low = NA, ci_high = NA, deff = attr(r, "deff")[[1]], df = NA)
      p <- svymean(~cat, sd, na.rm = TRUE, deff = TRUE)
      add(design = nm, lonely = lonely, kind = "proportion", dom = lev, var = sub("^cat", "", names(coef(p))),
          estimate = as.vector(coef(p)), se = as.vector(SE(p)), ci_low = NA, ci_high = NA,
          deff = as.vector(deff(p)), df = NA)
      cp <- svyciprop(~I(ind == 1), sd, method = "logit")
      add(design = nm, lonely = lonely, kind = "ciprop", dom = lev, var = "ind", estimate = as.vector(cp),
          se = sqrt(as.vector(attr(cp, "var"))), ci_low = attr(cp, "ci")[[1]], ci_high = attr(cp, "ci")[[2]],
          deff = NA, df = degf(sd))
      q <- svyquantile(~y, sd, 0.5, na.rm = TRUE)
      add(design = nm, lonely = lonely, kind = "quantile", dom = lev, var = "0.5", estimate = q$y[, 1],
          se = q$y[, 4], ci_low = q$y[, 2], ci_high = q$y[, 3], deff = NA, df = NA)
    }
    m <- svymean(~y, des, na.rm = TRUE)
    add(design = nm, lonely = lonely, kind = "mean", dom = "all", var = "y", estimate = coef(m)[[1]],
        se = SE(m)[[1]], ci_low = NA, ci_high = NA, deff = NA, df = NA)
    for (v in c("z", "ind")) {
      # svyby(covmat=TRUE) fails on calibrated designs in survey 4.1; the same contrasts from the
      # joint totals of v * [dom == d] and [dom == d] (delta method = the combined influence)
      nm_v <- paste0(v, "_", levs); nm_n <- paste0("n_", levs)
      tot <- svytotal(as.formula(paste("~", paste(c(nm_v, nm_n), collapse = "+"))), des)
      ex <- function(a, b) parse(text = a)[[1]]
      cm <- svycontrast(tot, list(
        d2_d1 = ex(sprintf("%s_d2/n_d2 - %s_d1/n_d1", v, v)),
        avg = ex(sprintf("0.5*%s_d1/n_d1 + 0.5*%s_d3/n_d3", v, v)),
        d4_d3 = ex(sprintf("%s_d4/n_d4 - %s_d3/n_d3", v, v))))
      add(design = nm, lonely = lonely, kind = "contrast_mean", dom = c("d2_d1", "avg", "d4_d3"), var = v,
          estimate = as.vector(coef(cm)), se = as.vector(SE(cm)), ci_low = NA, ci_high = NA, deff = NA, df = NA)
      k <- setNames(rep(0, length(c(nm_v, nm_n))), c(nm_v, nm_n))
      lin <- function(pairs) { kk <- k; for (p in names(pairs)) kk[p] <- pairs[[p]]; kk }
      ct <- svycontrast(tot, list(
        d2_d1 = lin(setNames(list(1, -1), paste0(v, c("_d2", "_d1")))),
        avg = lin(setNames(list(0.5, 0.5), paste0(v, c("_d1", "_d3")))),
        d4_d3 = lin(setNames(list(1, -1), paste0(v, c("_d4", "_d3"))))))
      add(design = nm, lonely = lonely, kind = "contrast_total", dom = c("d2_d1", "avg", "d4_d3"), var = v,
          estimate = as.vector(coef(ct)), se = as.vector(SE(ct)), ci_low = NA, ci_high = NA, deff = NA, df = NA)
    }
    g <- svyglm(y ~ agegrp + inc + urban, des)
    ci <- confint(g)
    add(design = nm, lonely = lonely, kind = "glm_gaussian", dom = "all", var = names(coef(g)),
        estimate = as.vector(coef(g)), se = as.vector(SE(g)), ci_low = ci[, 1], ci_high = ci[, 2],
        deff = summary(g)$coefficients[, 4], df = g$df.residual)
    g <- svyglm(ind ~ agegrp + inc + urban, des, family = quasibinomial)
    ci <- confint(g)
    add(design = nm, lonely = lonely, kind = "glm_binomial", dom = "all", var = names(coef(g)),
        estimate = as.vector(coef(g)), se = as.vector(SE(g)), ci_low = ci[, 1], ci_high = ci[, 2],
        deff = summary(g)$coefficients[, 4], df = g$df.residual)
  }
}
write.csv(do.call(rbind, out), args[3], row.names = FALSE)
"""


@pytest.fixture(scope="module")
def r_calib(rscript, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("calib_r")
    data, popf, res, script = tmp / "d.csv", tmp / "pop.csv", tmp / "res.csv", tmp / "c.R"
    df = calib_data()
    pops = populations(df)
    rows = [("N", pops["N"]), ("inc", pops["inc"])]
    rows += [(f"sex:{k}", v) for k, v in pops["sex"].items()]
    rows += [(f"region:{k}", v) for k, v in pops["region"].items()]
    rows += [(f"cell:{s}:{a}", v) for (s, a), v in pops["cell"].items()]
    pd.DataFrame(rows, columns=["key", "total"]).to_csv(popf, index=False, float_format="%.17g")
    df.to_csv(data, index=False)
    script.write_text(textwrap.dedent(R_SCRIPT))
    run = subprocess.run([rscript, str(script), str(data), str(popf), str(res)], capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    return pd.read_csv(res, keep_default_na=True, dtype={"var": str, "dom": str})


def _designs(lonely: str) -> dict[str, Design]:
    df = calib_data()
    pops = populations(df)
    base = Design(df, weights="w", strata="stratum", psu="psu", lonely_psu=lonely)
    margins = {"sex": pops["sex"], "region": pops["region"]}
    cal = dict(margins=margins, totals={"inc": pops["inc"]})
    cell = pops["cell"].rename("total").reset_index()
    return {
        "none": base,
        "ps": base.poststratify(["sex", "agegrp"], cell),
        "rk": base.rake(margins),
        "cl": base.calibrate(**cal),
        "cr": base.calibrate(**cal, method="raking"),
        "cg": base.calibrate(**cal, method="logit", bounds=(0.5, 2.5)),
        "cb": base.calibrate(**cal, bounds=(0.9, 1.2)),
    }


def _close(ours, theirs, rtol=RTOL):
    ours, theirs = np.asarray(ours, float), np.asarray(theirs, float)
    assert len(theirs) > 0 and ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=1e-12 * np.nanmax(np.abs(theirs)))


DESIGNS = ("none", "ps", "rk", "cl", "cr", "cg", "cb")


@pytest.mark.parametrize("lonely", LONELY)
@pytest.mark.parametrize("name", DESIGNS)
def test_calibrated_domain_estimates_agree_with_r(r_calib, lonely, name):
    R = r_calib[(r_calib["design"] == name) & (r_calib["lonely"] == lonely)]
    d = _designs(lonely)[name]
    _close(d.w, R[R["kind"] == "weights"]["estimate"])
    checks = {
        "mean": d.mean("y", by="dom", deff=True),
        "total": d.total("y", by="dom", deff=True),
        "ratio": d.ratio("y", "x", by="dom", deff=True),
    }
    for kind, o in checks.items():
        r = R[(R["kind"] == kind) & (R["dom"] != "all")].sort_values("dom")
        o = o.sort_values("dom")
        assert o["dom"].tolist() == r["dom"].tolist()
        _close(o["estimate"], r["estimate"])
        _close(o["se"], r["se"])
        _close(o["deff"], r["deff"])
        if kind == "mean":
            _close(o["ci_low"], r["ci_low"])
            _close(o["ci_high"], r["ci_high"])
            _close(o["df"], r["df"])
    rr = R[R["kind"] == "mean_replace"].sort_values("dom")
    _close(d.mean("y", by="dom", deff="replace").sort_values("dom")["deff"], rr["deff"])
    r = R[R["kind"] == "proportion"].sort_values(["dom", "var"])
    o = d.proportion("cat", by="dom", deff=True).sort_values(["dom", "category"])
    _close(o["estimate"], r["estimate"])
    _close(o["se"], r["se"])
    _close(o["deff"], r["deff"])
    o = d.proportion("ind_s", by="dom")
    o = o[o["category"] == "yes"].sort_values("dom")
    r = R[R["kind"] == "ciprop"].sort_values("dom")
    for col in ("estimate", "se", "ci_low", "ci_high", "df"):
        _close(o[col], r[col])
    r = R[R["kind"] == "quantile"].sort_values("dom")
    o = d.quantile("y", 0.5, by="dom").sort_values("dom")
    for col in ("estimate", "se", "ci_low", "ci_high"):
        _close(o[col], r[col])
    r = R[(R["kind"] == "mean") & (R["dom"] == "all")]
    o = d.mean("y")
    _close(o["estimate"], r["estimate"])
    _close(o["se"], r["se"])


CONTRASTS = {"d2_d1": {"d2": 1, "d1": -1}, "avg": {"d1": 0.5, "d3": 0.5}, "d4_d3": {"d4": 1, "d3": -1}}


@pytest.mark.parametrize("lonely", LONELY)
@pytest.mark.parametrize("name", DESIGNS)
def test_contrasts_agree_with_r(r_calib, lonely, name):
    R = r_calib[(r_calib["design"] == name) & (r_calib["lonely"] == lonely)]
    d = _designs(lonely)[name]
    for v in ("z", "ind"):
        for fn in ("mean", "total"):
            r = R[(R["kind"] == f"contrast_{fn}") & (R["var"] == v)].set_index("dom").loc[list(CONTRASTS)]
            o = d.contrast(fn, v, "dom", CONTRASTS).set_index("contrast").loc[list(CONTRASTS)]
            _close(o["estimate"], r["estimate"])
            _close(o["se"], r["se"])


@pytest.mark.parametrize("lonely", LONELY)
@pytest.mark.parametrize("name", DESIGNS)
@pytest.mark.parametrize("family", ["gaussian", "binomial"])
def test_glm_agrees_with_r(r_calib, lonely, name, family):
    R = r_calib[(r_calib["design"] == name) & (r_calib["lonely"] == lonely)
                & (r_calib["kind"] == f"glm_{family}")]
    d = _designs(lonely)[name]
    o = d.glm("y" if family == "gaussian" else "ind", ["agegrp", "inc", "urban"], family=family)
    assert o["term"].tolist() == R["var"].tolist()
    for col in ("estimate", "se", "ci_low", "ci_high"):
        _close(o[col], R[col])
    _close(o["p"], R["deff"], rtol=1e-6)     # the R script stores Pr(>|t|) in the deff column
    assert (o["df"] == R["df"].to_numpy()).all()


def test_calibrated_weights_reproduce_the_totals_exactly():
    """Calibration property: each method's weights give back the totals it was given."""
    df = calib_data()
    pops = populations(df)
    base = Design(df, weights="w", strata="stratum", psu="psu", lonely_psu="adjust")
    margins = {"sex": pops["sex"], "region": pops["region"]}
    for kw in ({}, {"method": "raking"}, {"method": "logit", "bounds": (0.5, 2.5)}, {"bounds": (0.9, 1.2)}):
        c = base.calibrate(margins=margins, totals={"inc": pops["inc"]}, **kw)
        for col in ("sex", "region"):
            got = pd.Series(c.w).groupby(df[col].to_numpy()).sum()
            np.testing.assert_allclose(got.loc[pops[col].index], pops[col], rtol=1e-6)
        assert float((c.w * df["inc"]).sum()) == pytest.approx(pops["inc"], rel=1e-6)
    ps = base.poststratify(["sex", "agegrp"], pops["cell"].rename("total").reset_index())
    got = pd.Series(ps.w).groupby([df["sex"].to_numpy(), df["agegrp"].to_numpy()]).sum()
    np.testing.assert_allclose(got.loc[pops["cell"].index], pops["cell"], rtol=1e-12)
    rk = base.rake(margins, epsilon=1e-10, maxit=200)
    for col in ("sex", "region"):
        got = pd.Series(rk.w).groupby(df[col].to_numpy()).sum()
        np.testing.assert_allclose(got.loc[pops[col].index], pops[col], rtol=1e-9)


def test_calibrating_to_own_totals_changes_nothing():
    """Calibration property: totals equal to the design's own weighted totals give g = 1, the
    same estimates, and (linear) the GREG variance of the residuals."""
    df = calib_data()
    base = Design(df, weights="w", strata="stratum", psu="psu", lonely_psu="adjust")
    own = {c: pd.Series(base.w).groupby(df[c].to_numpy()).sum() for c in ("sex", "region")}
    inc = float((base.w * df["inc"]).sum())
    for kw in ({}, {"method": "raking"}, {"method": "logit", "bounds": (0.5, 2.5)}):
        c = base.calibrate(margins=own, totals={"inc": inc}, **kw)
        np.testing.assert_allclose(c.w, base.w, rtol=1e-12)
        a, b = base.mean("y", by="dom"), c.mean("y", by="dom")
        np.testing.assert_allclose(b["estimate"], a["estimate"], rtol=1e-12)
    ps = base.poststratify("sex", own["sex"])
    np.testing.assert_allclose(ps.w, base.w, rtol=1e-12)
    np.testing.assert_allclose(ps.total("y", by="dom")["estimate"], base.total("y", by="dom")["estimate"],
                               rtol=1e-12)
