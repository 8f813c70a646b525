"""Benchmark of the survey engine (migdata.survey) against R survey (svyby) and the svy package.

Seeded generator: N persons in 80 strata x 50 PSUs (4,000 PSUs), 1,000 barangay-like domains
(each PSU lies in one barangay, four PSUs per barangay), sex x 17 age groups, unequal weights,
an income-like variable with 2 % missing, a yes/no overseas-worker indicator, a 3-category status.

Tasks: overall mean / total / proportion; means for 1,000 barangays; sex x age cell means; a
ratio. Every peer that is available runs the same tasks on the same data in the same run; the
script checks that the numbers agree and prints the time ratios.

Usage (full scale under the shared lock):
    flock /tmp/migdata-bench.lock python benchmarks/bench_survey.py --n 4000000 --peers r,svy
    flock /tmp/migdata-bench.lock python benchmarks/bench_survey.py --n 16000000 --peers none
"""

from __future__ import annotations

import argparse
import os
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

N_STRATA, PSU_PER_STRATUM, N_BRGY = 80, 50, 1000


def generate(n: int, seed: int = 12345) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n_psu = N_STRATA * PSU_PER_STRATUM
    psu = np.sort(rng.integers(0, n_psu, n)).astype(np.int32)
    stratum = (psu // PSU_PER_STRATUM).astype(np.int32)
    brgy_of_psu = rng.permutation(np.repeat(np.arange(N_BRGY), n_psu // N_BRGY))
    psu_weight = rng.uniform(50, 500, n_psu)
    w = psu_weight[psu] * rng.uniform(0.8, 1.2, n)
    sex = rng.integers(0, 2, n).astype(np.int8)
    age = rng.integers(0, 17, n).astype(np.int8)
    income = rng.gamma(2.0, 5000.0, n) * (1 + 0.3 * sex)
    income[rng.random(n) < 0.02] = np.nan
    return pd.DataFrame({
        "stratum": stratum,
        "psu": psu,
        "w": w,
        "brgy": pd.Categorical.from_codes(brgy_of_psu[psu], [f"B{i:04d}" for i in range(N_BRGY)]),
        "sex": pd.Categorical.from_codes(sex, ["male", "female"]),
        "age": pd.Categorical.from_codes(age, [f"{5 * i}-{5 * i + 4}" for i in range(16)] + ["80+"]),
        "income": income,
        "ofw": rng.random(n) < 0.08,
        "status": pd.Categorical.from_codes(rng.integers(0, 3, n), ["employed", "unemployed", "nilf"]),
        "hhsize": rng.integers(1, 9, n).astype(float),
    })


def timed(fn, repeat: int = 3):
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def run_migdata(df: pd.DataFrame, repeat: int) -> tuple[dict, dict]:
    times, res = {}, {}
    t = time.perf_counter()
    d = Design(df, weights="w", strata="stratum", psu="psu")
    times["design (build once)"] = time.perf_counter() - t
    times["overall mean"], res["mean"] = timed(lambda: d.mean("income"), repeat)
    times["overall total"], res["total"] = timed(lambda: d.total("income"), repeat)
    times["overall proportion (3 cats)"], res["prop"] = timed(lambda: d.proportion("status"), repeat)
    times["ratio income/hhsize"], res["ratio"] = timed(lambda: d.ratio("income", "hhsize"), repeat)
    times["1,000 domain means"], res["brgy"] = timed(lambda: d.mean("income", by="brgy"), repeat)
    dom = d.domains("brgy")
    times["1,000 domain means (codes reused)"], _ = timed(lambda: d.mean("income", by=dom), repeat)
    times["sex x age (34 cells) means"], res["sexage"] = timed(lambda: d.mean("income", by=["sex", "age"]), repeat)
    times["sex x age proportions (ofw)"], res["sexage_p"] = timed(
        lambda: d.proportion("ofw", by=["sex", "age"]), repeat)
    times["sex x age x brgy (34,000 cells) means"], _ = timed(
        lambda: d.mean("income", by=["brgy", "sex", "age"]), repeat)
    return times, res


R_CODE = r"""
suppressMessages(library(survey))
args <- commandArgs(TRUE)
d <- read.csv(args[1])
d$status <- factor(d$status, levels = c("employed", "unemployed", "nilf"))
d$brgy <- factor(d$brgy); d$sex <- factor(d$sex); d$age <- factor(d$age)
d$ofw <- as.numeric(d$ofw == "True")
des <- svydesign(id = ~psu, strata = ~stratum, weights = ~w, data = d, nest = TRUE)
tm <- list(); res <- list()
tick <- function(name, expr) { t <- system.time(v <- expr)[["elapsed"]]; tm[[name]] <<- t; v }
m <- tick("overall mean", svymean(~income, des, na.rm = TRUE))
res$mean <- c(coef(m), SE(m))
tt <- tick("overall total", svytotal(~income, des, na.rm = TRUE))
res$total <- c(coef(tt), SE(tt))
p <- tick("overall proportion (3 cats)", svymean(~status, des))
res$prop <- c(coef(p)[1], SE(p)[1])
r <- tick("ratio income/hhsize", svyratio(~income, ~hhsize, des, na.rm = TRUE))
res$ratio <- c(coef(r), SE(r))
lev <- levels(d$brgy)
ndom <- as.integer(args[3])
# svyby on the FULL design; with ndom < 1000 the other barangays get NA (svyby skips them, but
# every domain is still estimated on the full design, as in the real task), time scaled up.
des <- update(des, brgy_k = factor(ifelse(brgy %in% lev[1:ndom], as.character(brgy), NA)))
b <- tick("1,000 domain means", svyby(~income, ~brgy_k, des, svymean, na.rm = TRUE))
res$brgy <- c(coef(b)[1], SE(b)[1])
sa <- tick("sex x age (34 cells) means", svyby(~income, ~sex + age, des, svymean, na.rm = TRUE))
k <- which(sa$sex == "female" & sa$age == "0-4")
res$sexage <- c(coef(sa)[k], SE(sa)[k])
cells <- rbind(data.frame(task = "brgy", key = as.character(b$brgy_k), est = coef(b), se = SE(b)),
               data.frame(task = "sexage", key = paste(sa$sex, sa$age), est = coef(sa), se = SE(sa)))
write.csv(cells, sub(".csv$", "_cells.csv", args[2]), row.names = FALSE)
out <- data.frame(task = names(tm), seconds = unlist(tm))
out$scale <- ifelse(out$task == "1,000 domain means", length(lev) / ndom, 1)
write.csv(out, args[2], row.names = FALSE)
vals <- data.frame(key = names(res), est = sapply(res, `[`, 1), se = sapply(res, `[`, 2))
write.csv(vals, sub(".csv$", "_values.csv", args[2]), row.names = FALSE)
"""


def run_r(df: pd.DataFrame, timeout: int, n_dom: int) -> tuple[dict, dict, str]:
    if shutil.which("Rscript") is None:
        return {}, {}, "Rscript not installed"
    with tempfile.TemporaryDirectory() as tmp:
        data, out, script = Path(tmp, "d.csv"), Path(tmp, "times.csv"), Path(tmp, "b.R")
        df.to_csv(data, index=False)
        script.write_text(R_CODE)
        try:
            run = subprocess.run(["Rscript", str(script), str(data), str(out), str(n_dom)],
                                 capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {}, {}, f"R did not finish within {timeout} s"
        if run.returncode != 0:
            return {}, {}, "R failed: " + run.stderr[-500:]
        t = pd.read_csv(out)
        v = pd.read_csv(Path(tmp, "times_values.csv")).set_index("key")
        cells = pd.read_csv(Path(tmp, "times_cells.csv"))
        times = {row.task: row.seconds * row.scale for row in t.itertuples()}
        note = "" if n_dom >= N_BRGY else f"R svyby ran on {n_dom} of 1,000 barangays; time scaled x{N_BRGY / n_dom:g}"
        vals = {k: (v.loc[k, "est"], v.loc[k, "se"]) for k in v.index}
        vals["_cells"] = cells
        return times, vals, note


def run_svy(df: pd.DataFrame, repeat: int, skip_domains: bool = False) -> tuple[dict, dict, str]:
    try:
        import polars as pl
        import svy
    except Exception as e:  # pragma: no cover - optional peer
        return {}, {}, f"svy not importable: {e}"
    times, res = {}, {}
    pdf = pl.from_pandas(df.assign(brgy=df["brgy"].astype(str), sex=df["sex"].astype(str),
                                   age=df["age"].astype(str), status=df["status"].astype(str)))
    design = svy.Design(stratum="stratum", psu="psu", wgt="w", wr=True)
    sample = svy.Sample(data=pdf, design=design)
    try:
        times["overall mean"], m = timed(lambda: sample.estimation.mean("income", drop_nulls=True), repeat)
        res["mean"] = _svy_first(m)
        if not skip_domains:
            times["1,000 domain means"], b = timed(
                lambda: sample.estimation.mean("income", by="brgy", drop_nulls=True), 1)
            res["brgy"] = _svy_first(b)
            bb = b.to_polars().to_pandas()
            res["_cells"] = pd.DataFrame({"task": "brgy", "key": bb["brgy"].astype(str), "est": bb["est"],
                                          "se": bb["se"]})
        times["sex x age (34 cells) means"], sa = timed(
            lambda: sample.estimation.mean("income", by=["sex", "age"], drop_nulls=True), repeat)
        res["sexage"] = _svy_first(sa, sex="female", age="0-4")
        times["ratio income/hhsize"], r = timed(
            lambda: sample.estimation.ratio("income", "hhsize", drop_nulls=True), repeat)
        res["ratio"] = _svy_first(r)
    except Exception as e:  # report what did not run rather than fail the benchmark
        return times, res, f"svy {svy.__version__}: stopped with {type(e).__name__}: {e}"
    note = " (1,000 domain means skipped: --svy-skip-domains)" if skip_domains else ""
    return times, res, f"svy {svy.__version__}{note}"


def _svy_first(r, **where):
    df = r.to_polars() if hasattr(r, "to_polars") else r
    if hasattr(df, "to_pandas"):
        df = df.to_pandas()
    for k, v in where.items():
        df = df[df[k].astype(str) == v]
    return float(df["est"].iloc[0]), float(df["se"].iloc[0])


def ours_first(res: dict) -> dict:
    """First row of each result; for sex x age the (female, 0-4) cell that the peers report."""
    out = {}
    for k, r in res.items():
        if k == "sexage":
            r = r[(r["sex"] == "female") & (r["age"] == "0-4")]
        row = r.iloc[0]
        out[k] = (float(row["estimate"]), float(row["se"]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--peers", default="r,svy")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--r-timeout", type=int, default=1800)
    ap.add_argument("--r-domains", type=int, default=N_BRGY,
                    help="run R svyby on this many barangays and scale the time (R is slow)")
    ap.add_argument("--svy-skip-domains", action="store_true",
                    help="skip svy's 1,000-domain task (at 4 M rows svy 0.35.0 needed > 23 GB and was OOM-killed)")
    args = ap.parse_args()
    t = time.perf_counter()
    df = generate(args.n)
    print(f"generated {args.n:,} persons in {time.perf_counter() - t:.1f} s", flush=True)
    times, res = run_migdata(df, args.repeat)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2
    print(f"migdata peak RSS so far (data + estimates): {peak:.2f} GB", flush=True)
    ours = ours_first(res)
    peers = {}
    names = [p for p in args.peers.split(",") if p and p != "none"]
    if "svy" in names:
        peers["svy"] = run_svy(df, args.repeat, args.svy_skip_domains)
        print("svy:", peers["svy"][2], flush=True)
    if "r" in names:
        peers["R survey"] = run_r(df, args.r_timeout, args.r_domains)
        print("R:", peers["R survey"][2] or "ok", flush=True)
    print(f"\nN = {args.n:,}; {os.cpu_count()} cores; best of {args.repeat} for migdata\n")
    head = "| task | migdata (s) |" + "".join(f" {p} (s) | ratio {p}/migdata |" for p in peers)
    print(head)
    print("|" + "---|" * (2 + 2 * len(peers)))
    for task, sec in times.items():
        line = f"| {task} | {sec:.3f} |"
        for p, (pt, _, _) in peers.items():
            if task in pt:
                line += f" {pt[task]:.2f} | {pt[task] / sec:,.0f}x |"
            else:
                line += " - | - |"
        print(line)
    print("\nagreement (first row of each task: estimate, SE relative difference):")
    cells = pd.concat([
        pd.DataFrame({"task": "brgy", "key": res["brgy"]["brgy"].astype(str),
                      "o_est": res["brgy"]["estimate"], "o_se": res["brgy"]["se"]}),
        pd.DataFrame({"task": "sexage", "key": res["sexage"]["sex"].astype(str) + " " + res["sexage"]["age"].astype(str),
                      "o_est": res["sexage"]["estimate"], "o_se": res["sexage"]["se"]})])
    for p, (_, pv, _) in peers.items():
        if "_cells" in pv:
            m = cells.merge(pv["_cells"], on=["task", "key"])
            for task, g in m.groupby("task"):
                de = (abs(g["est"] - g["o_est"]) / abs(g["o_est"])).max()
                ds = (abs(g["se"] - g["o_se"]) / abs(g["o_se"])).max()
                print(f"  {p:9s} all {len(g)} {task} domains: max rel. diff est {de:.1e}, se {ds:.1e}")
        for k, (e, s) in ((k, v) for k, v in pv.items() if k != "_cells"):
            if k in ours:
                oe, os_ = ours[k]
                print(f"  {p:9s} {k:8s} est {abs(e - oe) / abs(oe):.1e}  se {abs(s - os_) / abs(os_):.1e}")


if __name__ == "__main__":
    main()
