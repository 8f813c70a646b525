"""Benchmark of weighting (migdata.survey.calibration) against R survey, same data, same run.

Seeded generator: N persons in 80 strata x 50 PSUs, 500 barangay-like areas (each PSU in one,
eight PSUs per barangay), sex, 17 age groups, unequal weights, an income variable. Population
totals per barangay x sex (1,000 cells) and per age group are the weighted sample counts times a
seeded factor in 0.9-1.1, rescaled to one population.

Tasks (each run by migdata, then by R on the same CSV in the same run):
- post-stratification to the 1,000 barangay x sex cells (R ``postStratify``), and the same as a
  linear calibration on one joint margin (R ``calibrate(~cell, sparse=TRUE)``);
- raking on two margins, barangay (500) and age group (17), to convergence
  (``epsilon`` 1e-8 of the weight total, at most 100 sweeps; R ``rake`` with the same control);
- raking calibration (``method="raking"``, Newton) on the same two margins (R ``calibrate(...,
  calfun="raking", sparse=TRUE)``);
- 500 barangay means of income on the post-stratified design (calibrated SEs). R's ``svyby`` on a
  calibrated design is slow: it runs on ``--r-domains`` barangays and its time is scaled.
The script checks that the weights and estimates agree and prints the ratios.

Usage (under the shared lock):
    flock /tmp/migdata-bench.lock python benchmarks/bench_calibration.py --n 1000000
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from migdata.survey import Design  # noqa: E402

N_STRATA, PSU_PER_STRATUM, N_BRGY = 80, 50, 500


def generate(n: int, seed: int = 2024) -> tuple[pd.DataFrame, dict]:
    rng = np.random.default_rng(seed)
    n_psu = N_STRATA * PSU_PER_STRATUM
    psu = np.sort(rng.integers(0, n_psu, n))
    brgy_of_psu = rng.permutation(np.repeat(np.arange(N_BRGY), n_psu // N_BRGY))
    w = rng.uniform(50, 500, n_psu)[psu] * rng.uniform(0.8, 1.2, n)
    # categorical columns, as the tidy model stores code lists (and as R reads them: factors)
    cat = lambda codes, prefix, k: pd.Categorical.from_codes(codes, [f"{prefix}{i:03d}" for i in range(k)])
    df = pd.DataFrame({
        "stratum": psu // PSU_PER_STRATUM, "psu": psu, "w": w,
        "brgy": cat(brgy_of_psu[psu], "B", N_BRGY),
        "sex": pd.Categorical.from_codes((rng.random(n) < 0.5).astype(int), ["f", "m"]),
        "age": cat(rng.integers(0, 17, n), "a", 17),
        "income": rng.gamma(2.0, 5000.0, n),
    })
    N = float(w.sum()) * 1.05
    fac = lambda k: rng.uniform(0.9, 1.1, k)
    cell = df.groupby(["brgy", "sex"], observed=True)["w"].sum()
    cell = cell * fac(len(cell))
    cell = cell / cell.sum() * N
    brgy = cell.groupby(level=0).sum()
    age = df.groupby("age", observed=True)["w"].sum()
    age = age * fac(len(age))
    age = age / age.sum() * N
    return df, {"cell": cell, "brgy": brgy, "age": age}


def timed(fn, repeat: int):
    """(best wall time, best CPU time of this process, result) over ``repeat`` calls."""
    best, cpu, out = float("inf"), float("inf"), None
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        best, cpu = min(best, time.perf_counter() - t), min(cpu, time.process_time() - c)
    return (best, cpu), out


def run_migdata(df: pd.DataFrame, pops: dict, repeat: int) -> tuple[dict, dict]:
    times, res = {}, {}
    d = Design(df, weights="w", strata="stratum", psu="psu")
    cell = pops["cell"].rename("total").reset_index()
    times["post-stratify, 1,000 cells"], ps = timed(lambda: d.poststratify(["brgy", "sex"], cell), repeat)
    times["linear calibration, 1,000 cells"], cl = timed(
        lambda: d.calibrate(margins={("brgy", "sex"): pops["cell"]}), repeat)
    margins = {"brgy": pops["brgy"], "age": pops["age"]}
    times["rake, 2 margins (500 + 17) to convergence"], rk = timed(
        lambda: d.rake(margins, maxit=100, epsilon=1e-8), repeat)
    times["raking calibration (Newton), 2 margins"], cr = timed(
        lambda: d.calibrate(margins=margins, method="raking"), repeat)
    times["500 barangay means, post-stratified design"], m = timed(lambda: ps.mean("income", by="brgy"), 1)
    res.update(ps=ps.w, cl=cl.w, rk=rk.w, cr=cr.w, means=m.set_index("brgy")[["estimate", "se"]])
    return times, res


R_CODE = r"""
suppressMessages(library(survey))
args <- commandArgs(TRUE)
d <- read.csv(args[1], stringsAsFactors = TRUE)
cell <- read.csv(args[2], stringsAsFactors = TRUE)
brgy_t <- read.csv(args[3], stringsAsFactors = TRUE)
age_t <- read.csv(args[4], stringsAsFactors = TRUE)
outdir <- args[5]
ndom <- as.integer(args[6])
des <- svydesign(id = ~psu, strata = ~stratum, weights = ~w, data = d, nest = TRUE)
tm <- list()
cpu <- list()
tick <- function(name, expr) {
  t <- system.time(v <- expr); tm[[name]] <<- t[["elapsed"]]; cpu[[name]] <<- t[["user.self"]] + t[["sys.self"]]; v
}
names(cell)[names(cell) == "total"] <- "Freq"
ps <- tick("post-stratify, 1,000 cells", postStratify(des, ~brgy + sex, cell))
d$cell <- interaction(d$brgy, d$sex, sep = ":", lex.order = TRUE)
des2 <- update(des, cell = d$cell)
lev <- levels(d$cell)
key <- paste(cell$brgy, cell$sex, sep = ":")
pop <- c(sum(cell$Freq), cell$Freq[match(lev[-1], key)])
names(pop) <- c("(Intercept)", paste0("cell", lev[-1]))
cl <- tryCatch(tick("linear calibration, 1,000 cells", calibrate(des2, ~cell, pop, sparse = TRUE)),
               error = function(e) { message("calibrate: ", conditionMessage(e)); NULL })
names(brgy_t)[2] <- "Freq"; names(age_t)[2] <- "Freq"
rk <- tick("rake, 2 margins (500 + 17) to convergence",
           rake(des, list(~brgy, ~age), list(brgy_t, age_t), control = list(maxit = 100, epsilon = 1e-8)))
popr <- c(sum(brgy_t$Freq), brgy_t$Freq[-1], age_t$Freq[-1])
names(popr) <- c("(Intercept)", paste0("brgy", brgy_t$brgy[-1]), paste0("age", age_t$age[-1]))
cr <- tryCatch(tick("raking calibration (Newton), 2 margins",
                    calibrate(des, ~brgy + age, popr, calfun = "raking", sparse = TRUE)),
               error = function(e) { message("calibrate raking: ", conditionMessage(e)); NULL })
blev <- levels(d$brgy)
psd <- update(ps, brgy_k = factor(ifelse(d$brgy %in% blev[1:ndom], as.character(d$brgy), NA)))
b <- tick("500 barangay means, post-stratified design", svyby(~income, ~brgy_k, psd, svymean))
write.csv(data.frame(brgy = b$brgy_k, estimate = coef(b), se = SE(b)), file.path(outdir, "means.csv"),
          row.names = FALSE)
w <- data.frame(ps = weights(ps), rk = weights(rk))
if (!is.null(cl)) w$cl <- weights(cl)
if (!is.null(cr)) w$cr <- weights(cr)
write.csv(w, file.path(outdir, "weights.csv"), row.names = FALSE)
out <- data.frame(task = names(tm), seconds = unlist(tm), cpu = unlist(cpu))
out$scale <- ifelse(out$task == "500 barangay means, post-stratified design", length(blev) / ndom, 1)
write.csv(out, file.path(outdir, "times.csv"), row.names = FALSE)
"""


def run_r(df: pd.DataFrame, pops: dict, timeout: int, ndom: int):
    if shutil.which("Rscript") is None:
        return {}, {}, "Rscript not installed"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        df.to_csv(tmp / "d.csv", index=False)
        pops["cell"].rename("total").reset_index().to_csv(tmp / "cell.csv", index=False, float_format="%.17g")
        pops["brgy"].rename("total").reset_index().to_csv(tmp / "brgy.csv", index=False, float_format="%.17g")
        pops["age"].rename("total").reset_index().to_csv(tmp / "age.csv", index=False, float_format="%.17g")
        (tmp / "b.R").write_text(R_CODE)
        try:
            run = subprocess.run(["Rscript", str(tmp / "b.R"), *(str(tmp / f) for f in
                                  ("d.csv", "cell.csv", "brgy.csv", "age.csv")), str(tmp), str(ndom)],
                                 capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {}, {}, f"R did not finish within {timeout} s"
        if run.returncode != 0:
            return {}, {}, "R failed: " + run.stderr[-800:]
        t = pd.read_csv(tmp / "times.csv")
        times = {r.task: (r.seconds * r.scale, r.cpu * r.scale) for r in t.itertuples()}
        vals = {"weights": pd.read_csv(tmp / "weights.csv"), "means": pd.read_csv(tmp / "means.csv")}
        note = (run.stderr.strip().splitlines()[-1] if "calibrate" in run.stderr else "")
        return times, vals, note + (f" R svyby ran on {ndom} of {N_BRGY} barangays, time scaled"
                                    if ndom < N_BRGY else "")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--peers", default="r")
    ap.add_argument("--r-domains", type=int, default=10)
    ap.add_argument("--timeout", type=int, default=3600)
    a = ap.parse_args()
    t0 = time.perf_counter()
    df, pops = generate(a.n)
    print(f"generated {a.n:,} rows in {time.perf_counter() - t0:.1f} s")
    times, res = run_migdata(df, pops, a.repeat)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    rt, rv, note = run_r(df, pops, a.timeout, a.r_domains) if "r" in a.peers.split(",") else ({}, {}, "not run")
    print("\nseconds, wall (CPU of the process); the machine may be shared: CPU is the steadier figure")
    print("\n| task | migdata | R survey | R / migdata (CPU) |\n|---|---|---|---|")
    for k, (v, c) in times.items():
        r = rt.get(k)
        rs = "–" if r is None else f"{r[0]:.2f} ({r[1]:.2f})"
        ratio = "–" if r is None else f"x{r[1] / c:.1f}"
        print(f"| {k} | {v:.3f} ({c:.3f}) | {rs} | {ratio} |")
    print(f"\npeak RSS (migdata part): {peak:.2f} GB; R: {note or 'ok'}")
    if rv:
        w = rv["weights"]
        for col in w.columns:
            diff = np.max(np.abs(res[col] - w[col].to_numpy()) / w[col].to_numpy())
            print(f"weights {col}: max relative difference to R {diff:.2e}")
        m = rv["means"].dropna().set_index("brgy")
        o = res["means"].loc[m.index]
        print("barangay means: estimate max rel diff "
              f"{np.max(np.abs(o['estimate'] - m['estimate']) / m['estimate']):.2e}, "
              f"SE max rel diff {np.max(np.abs(o['se'] - m['se']) / m['se']):.2e} ({len(m)} barangays)")


if __name__ == "__main__":
    main()
