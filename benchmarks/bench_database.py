"""Benchmark of the local migration database: links and the catalogue across streams.

A CALABARZON-scale CBMS complete count (the indicator benchmark's seeded generator,
``bench_indicators.generate``) goes into a database with two linked sample surveys drawn from it:
a survey of overseas Filipinos (respondents drawn from the CBMS overseas Filipinos, linked to
their household and line) and a survey of children left behind (children 0-17 of households with
an overseas Filipino), 10,000 respondents each by default, with a few per cent of missing,
mistyped and conflicting ids. In the same process and on the same store the benchmark times:

- the CBMS-only catalogue (``migdata.compute`` on the CBMS dataset), the peer;
- building the links (the link report of both surveys);
- the catalogue across every stream (``migdata.compute`` on the database).

Target (issue 13): links + cross-stream catalogue within 1.2x the CBMS-only catalogue.

Usage:
    python benchmarks/bench_database.py --persons 1000000
    flock /tmp/migdata-bench.lock python benchmarks/bench_database.py --persons 16200000
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from migdata.model.data import HouseholdData  # noqa: E402

OF = ["ofw_contract", "ofw_no_contract", "embassy_staff", "student", "tourist", "other_of"]


def rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2


def surveys(cbms: HouseholdData, n: int, seed: int) -> tuple[HouseholdData, HouseholdData]:
    """Two linked survey datasets drawn from ``cbms`` (SRS within provinces, weight N_h / n_h)."""
    rng = np.random.default_rng(seed)
    pp = cbms.persons
    hh = cbms.households.set_index("hh_id")
    of = pp[pp["of_status"].astype(str).isin(OF)].reset_index(drop=True)
    pick = of.iloc[np.sort(rng.choice(len(of), size=min(n, len(of)), replace=False))].reset_index(drop=True)
    prov = hh.loc[pick["hh_id"], "province"].astype(str).to_numpy()
    frame_n = pd.Series(hh.loc[of["hh_id"], "province"].astype(str).to_numpy()).value_counts()
    samp_n = pd.Series(prov).value_counts()
    w = (frame_n / samp_n).reindex(prov).to_numpy()
    m = len(pick)
    hh_id = pick["hh_id"].astype(object).to_numpy().copy()
    hh_id[rng.random(m) < 0.03] = None                                   # no id given
    bad = rng.random(m) < 0.01
    hh_id[bad] = [f"X{i}" for i in range(int(bad.sum()))]                # mistyped id
    sex = pick["sex"].astype(str).to_numpy().copy()
    flip = rng.random(m) < 0.01                                          # conflicting sex
    sex[flip] = np.where(sex[flip] == "male", "female", "male")
    of_t = pd.DataFrame({
        "response_id": [f"of{i}" for i in range(m)], "hh_id": hh_id, "line_no": pick["line_no"].to_numpy(),
        "sex": sex, "age": pick["age"].to_numpy(), "of_status": pick["of_status"].astype(str).to_numpy(),
        "psgc": hh.loc[pick["hh_id"], "psgc"].astype(str).to_numpy(), "stratum": prov, "weight": w,
        "occupation_abroad": rng.choice(list("123456789"), m),
        "income_abroad_monthly": rng.gamma(3.0, 12000.0, m).round(),
        "sent_money": rng.random(m) < 0.85, "remit_12m": rng.gamma(2.0, 60000.0, m).round(),
        "remit_channel": rng.choice(["bank", "money_transfer", "e_wallet", "agency"], m),
        "remit_amount": rng.gamma(2.0, 8000.0, m).round(), "alloc_education": rng.integers(0, 60, m),
        "alloc_savings": rng.integers(0, 30, m), "alloc_business": rng.integers(0, 20, m),
        "has_savings": rng.random(m) < 0.5, "association_member": rng.random(m) < 0.2})
    of_t["remit_fees"] = (of_t["remit_amount"] * rng.uniform(0.01, 0.08, m)).round()
    for level in ("region", "province", "city_mun", "barangay"):
        of_t[level] = hh.loc[pick["hh_id"], level].astype(str).to_numpy()
    of_data = HouseholdData({"of_survey": of_t}, provenance={
        "stream": "of_survey", "sources": ["bench_of_survey"], "period": "2026", "units": {"person": "of_survey"},
        "design": {"weights": "weight", "strata": "stratum", "design_domain": "province"},
        "links": [{"name": "overseas Filipino", "table": "of_survey", "to": "cbms", "to_table": "persons",
                   "on": {"hh_id": "hh_id", "line_no": "line_no"}, "compare": ["sex", "age", "area", "of_status"],
                   "of_status": "abroad"}]})
    kids = pp[(pp["age"] <= 17) & pp["hh_id"].isin(of["hh_id"].unique())].reset_index(drop=True)
    k = kids.iloc[np.sort(rng.choice(len(kids), size=min(n, len(kids)), replace=False))].reset_index(drop=True)
    mk = len(k)
    kprov = hh.loc[k["hh_id"], "province"].astype(str).to_numpy()
    kw = (pd.Series(hh.loc[kids["hh_id"], "province"].astype(str).to_numpy()).value_counts()
          / pd.Series(kprov).value_counts()).reindex(kprov).to_numpy()
    clb_t = pd.DataFrame({
        "response_id": [f"c{i}" for i in range(mk)], "hh_id": k["hh_id"].to_numpy(), "line_no": k["line_no"].to_numpy(),
        "sex": k["sex"].astype(str).to_numpy(), "age": k["age"].to_numpy(), "stratum": kprov, "weight": kw,
        "wb_score": rng.integers(6, 25, mk), "enrolled": rng.random(mk) < 0.93,
        "caregiver": rng.choice(["mother", "father", "grandparent", "aunt_uncle"], mk),
        "contact_frequency": rng.choice(["daily", "several_weekly", "weekly", "monthly"], mk),
        "remit_for_school": rng.random(mk) < 0.8})
    for level in ("region", "province", "city_mun", "barangay"):
        clb_t[level] = hh.loc[k["hh_id"], level].astype(str).to_numpy()
    clb_data = HouseholdData({"clb_survey": clb_t}, provenance={
        "stream": "clb_survey", "sources": ["bench_clb_survey"], "period": "2026", "units": {"person": "clb_survey"},
        "design": {"weights": "weight", "strata": "stratum", "design_domain": "province"},
        "links": [{"name": "child", "table": "clb_survey", "to": "cbms", "to_table": "persons",
                   "on": {"hh_id": "hh_id", "line_no": "line_no"}, "compare": ["sex", "age", "area"]}]})
    return of_data, clb_data


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--persons", type=int, default=16_200_000)
    ap.add_argument("--respondents", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=2022)
    ap.add_argument("--level", default="barangay")
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args(argv)
    import migdata
    from bench_indicators import generate
    from migdata.model.database import Database

    work = Path(args.workdir or tempfile.mkdtemp(prefix="migdata-bench-db-"))
    t0 = time.perf_counter()
    cbms = generate(args.persons, args.seed)
    cbms.provenance.stream, cbms.provenance.period = "cbms", "2022"
    of_data, clb_data = surveys(cbms, args.respondents, args.seed + 1)
    db = Database.create(work / "db")
    for d in (cbms, of_data, clb_data):
        db.add(d)
    print(f"generated and stored {len(cbms.persons):,} persons + {len(of_data.tables['of_survey']):,} OF "
          f"+ {len(clb_data.tables['clb_survey']):,} CLB respondents in {time.perf_counter() - t0:.1f} s", flush=True)
    del cbms, of_data, clb_data
    db = Database(work / "db")
    by = ["sex", "age_group"]
    t0 = time.perf_counter()
    cbms_only = migdata.compute(db.dataset("cbms"), level=args.level, by=by)
    t_cbms = time.perf_counter() - t0
    print(f"peer, CBMS-only catalogue: {t_cbms:.1f} s, {len(cbms_only):,} rows; peak RSS {rss_gb():.2f} GB", flush=True)
    del cbms_only
    db = Database(work / "db")   # links and frames from a fresh open
    t0 = time.perf_counter()
    rep = db.link_report()
    t_links = time.perf_counter() - t0
    print(f"links: {t_links:.1f} s\n{rep.to_string(index=False)}", flush=True)
    t0 = time.perf_counter()
    table = migdata.compute(db, level=args.level, by=by)
    t_db = time.perf_counter() - t0
    streams = table.groupby("stream", observed=True)["indicator_id"].nunique().to_dict()
    print(f"catalogue across streams: {t_db:.1f} s, {len(table):,} rows, indicators per stream {streams}; "
          f"peak RSS {rss_gb():.2f} GB", flush=True)
    print(f"ratio (links + cross-stream catalogue) / CBMS-only catalogue: {(t_links + t_db) / t_cbms:.2f}")
    if args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
