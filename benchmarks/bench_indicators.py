"""Benchmark of the indicator evaluator: the full catalogue on a CALABARZON-scale complete count.

A seeded generator writes tidy ``households`` and ``persons`` tables (the real 3,993 barangays of
Region IV-A from ``migdata.areas.reference()``, households allocated by 2020 population, about 4
persons per household, OFWs and other OFs, movers, remittances...) into a dataset store. The
benchmark then loads the store and times ``migdata.indicators.compute`` for every computable
indicator at barangay x sex x broad age group (plus every higher level and all totals) with
disclosure control, and in the same process the peer: DuckDB SQL computing the stage-1 cell sums
(barangay x sex x age group) of the person-level count/share indicators over the same Parquet
files, against migdata's own stage-1+2 for the same indicators.

Usage:
    python benchmarks/bench_indicators.py --persons 1000000            # quick
    flock /tmp/migdata-bench.lock python benchmarks/bench_indicators.py --persons 16200000
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from migdata.model import HouseholdData, load  # noqa: E402
from migdata.model.codes import dtype  # noqa: E402

COUNTRIES = np.array(["SAU", "ARE", "HKG", "SGP", "KWT", "QAT", "TWN", "JPN", "USA", "CAN", "ITA", "GBR"])


def rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2


def barangays(region: str | None = "0400000000") -> pd.DataFrame:
    """The barangays of ``region`` (None: the whole country) with their 2020 population."""
    from migdata.areas import reference

    ref = reference()
    b = ref[(ref["level"] == "barangay") & ((ref["region"] == region) if region else True)].copy()
    b["pop"] = pd.to_numeric(b["population_2020"], errors="coerce").fillna(500).clip(lower=50)
    b["province"] = b["stat_province"].fillna(b["province"])
    return b[["psgc", "region", "province", "city_mun", "urban_rural", "pop"]].reset_index(drop=True)


def generate(persons: int, seed: int = 2022, bgy: pd.DataFrame | None = None, prefix: str = "H") -> HouseholdData:
    """Tidy households and persons of ``persons`` persons in the barangays ``bgy`` (default:
    CALABARZON's); household ids start with ``prefix``."""
    rng = np.random.default_rng(seed)
    bgy = barangays() if bgy is None else bgy.reset_index(drop=True)
    n_hh = int(persons / 4.0)
    p = bgy["pop"].to_numpy() / bgy["pop"].sum()
    b_of_hh = np.sort(rng.choice(len(bgy), size=n_hh, p=p))
    size = np.clip(rng.poisson(3.0, n_hh) + 1, 1, 15)
    # trim/extend to the exact person count
    diff = persons - int(size.sum())
    if diff > 0:
        np.add.at(size, rng.integers(0, n_hh, diff), 1)
    elif diff < 0:
        big = np.flatnonzero(size > 1)
        size[rng.choice(big, -diff, replace=False)] -= 1
    n = int(size.sum())
    hh_of_p = np.repeat(np.arange(n_hh), size)
    start = np.cumsum(size) - size
    line = np.arange(n) - start[hh_of_p] + 1
    hh_id = pd.array([f"{prefix}{i:08d}" for i in range(n_hh)], dtype="string")

    age = np.where(line == 1, rng.integers(22, 85, n), np.where(line == 2, rng.integers(20, 80, n),
                                                                 rng.integers(0, 40, n)))
    sex = np.where(line == 1, rng.random(n) < 0.3, np.where(line == 2, rng.random(n) < 0.9,
                                                           rng.random(n) < 0.5)).astype(np.int8)
    rel = np.where(line == 1, 0, np.where(line == 2, 1, np.where(age < 30, 2, 9)))  # head, spouse, child, other rel.
    a15 = age >= 15
    u = rng.random(n)
    of = np.full(n, 6, dtype=np.int8)  # resident
    of[a15 & (u < 0.045)] = 0
    of[a15 & (u >= 0.045) & (u < 0.05)] = 1
    of[a15 & (u >= 0.05) & (u < 0.052)] = 3
    of[a15 & (u >= 0.052) & (u < 0.054)] = 4
    of[a15 & (u >= 0.054) & (u < 0.056)] = 5
    of_codes = np.where(a15, of, -1)
    is_of = (of_codes >= 0) & (of_codes <= 5)
    ofw = (of_codes == 0) | (of_codes == 1)
    a5 = age >= 5
    r5 = np.where(a5, rng.choice(4, n, p=[0.9, 0.08, 0.01, 0.01]), -1)
    rb = np.where(a5, rng.choice(4, n, p=[0.7, 0.28, 0.01, 0.01]), -1)
    r6 = np.where(a5, rng.choice(4, n, p=[0.98, 0.015, 0.003, 0.002]), -1)
    mover = (r5 == 1) | (r5 == 2)
    school = (age >= 3) & (age <= 24)
    lf_univ = a15 & ~is_of
    lf = np.where(lf_univ, rng.choice(3, n, p=[0.6, 0.03, 0.37]), -1)

    def cat(codes, name):
        return pd.Categorical.from_codes(np.asarray(codes, dtype=np.int64), dtype=dtype(name))

    def opt_int(values, mask):
        return pd.arrays.IntegerArray(np.where(mask, values, 0).astype(np.int32), ~mask)

    def opt_bool(values, mask):
        return pd.arrays.BooleanArray(np.asarray(values, dtype=bool), ~mask)

    dep_y = rng.integers(2015, 2023, n)
    persons_df = pd.DataFrame({
        "hh_id": hh_id[hh_of_p],
        "line_no": line.astype(np.int32),
        "sex": cat(sex, "sex"),
        "age": age.astype(np.int32),
        "relationship": cat(rel, "relationship"),
        "family_no": np.ones(n, dtype=np.int32),
        "of_status": cat(of_codes, "of_status"),
        "of_country": pd.array(np.where(is_of, COUNTRIES[rng.integers(0, len(COUNTRIES), n)], None), dtype="string"),
        "departure_year": opt_int(dep_y, ofw),
        "departure_month": opt_int(rng.integers(1, 13, n), ofw),
        "months_abroad": opt_int(rng.integers(1, 61, n), ofw),
        "times_sent_money": opt_int(rng.integers(0, 13, n), is_of & (of_codes != 4)),
        "res_birth": cat(rb, "residence_type"),
        "res_5y": cat(r5, "residence_type"),
        "res_5y_place": pd.array(np.where(r5 == 1, "0402108000", None), dtype="string"),
        "reason_5y": cat(np.where(mover, rng.integers(0, 19, n), -1), "move_reason"),
        "res_6m": cat(r6, "residence_type"),
        "owwa_member": opt_bool(rng.random(n) < 0.6, ofw),
        "philhealth": opt_bool(rng.random(n) < 0.7, np.ones(n, bool)),
        "school_attendance": cat(np.where(school, (rng.random(n) < 0.15).astype(int), -1), "school_attendance"),
        "lf_status": cat(lf, "lf_status"),
        "difficulty": opt_bool(rng.random(n) < 0.03, a5),
        "ill_12m": opt_bool(rng.random(n) < 0.1, np.ones(n, bool)),
    })
    n_ofw_hh = np.bincount(hh_of_p, weights=ofw, minlength=n_hh) > 0
    cash = np.where(n_ofw_hh | (rng.random(n_hh) < 0.05), rng.gamma(2.0, 60000, n_hh), 0.0)
    income = rng.gamma(2.5, 80000, n_hh) + cash
    acct = rng.random(n_hh) < 0.45
    b = bgy.iloc[b_of_hh]
    households_df = pd.DataFrame({
        "hh_id": hh_id,
        "psgc": b["psgc"].to_numpy(), "region": b["region"].to_numpy(), "province": b["province"].to_numpy(),
        "city_mun": b["city_mun"].to_numpy(), "barangay": b["psgc"].to_numpy(),
        "urban_rural": pd.Categorical(b["urban_rural"].to_numpy(), dtype=dtype("urban_rural")),
        "weight": np.ones(n_hh), "source": "bench_indicators",
        "cash_abroad": cash, "income": income,
        "has_account": acct, "remittance_account": opt_bool(rng.random(n_hh) < 0.5, acct),
        "remit_channel": cat(np.where(cash > 0, rng.integers(0, 7, n_hh), -1), "remittance_channel"),
        "remit_uses": pd.array(np.where(cash > 0, "food education savings", None), dtype="string"),
        "programme_4ps": rng.random(n_hh) < 0.15, "programme_any": rng.random(n_hh) < 0.3,
        "poverty_threshold": np.full(n_hh, 30000.0),
    })
    for c in ("region", "province", "city_mun", "barangay", "psgc"):
        households_df[c] = households_df[c].astype("string")
    return HouseholdData({"households": households_df, "persons": persons_df},
                         provenance={"complete_count": True, "sources": ["bench_indicators"],
                                     "reference_date": "2022-08-01"})


DUCK_INDICATORS = {  # person-level count/share indicators and their SQL numerator/denominator
    "OF01": ("age >= 15 AND of_status IN ('ofw_contract','ofw_no_contract','embassy_staff','student','tourist','other_of')",
             "age >= 15"),
    "OF02": ("age >= 15 AND of_status IN ('ofw_contract','ofw_no_contract')", "age >= 15"),
    "OF03": ("age >= 15 AND of_status IN ('ofw_contract','ofw_no_contract')", "age >= 15 AND of_status IS NOT NULL"),
    "IM01": ("age >= 5 AND res_5y IN ('other_ph','abroad')", "age >= 5 AND res_5y IS NOT NULL"),
    "IM02": ("age >= 5 AND res_birth IN ('other_ph','abroad')", "age >= 5 AND res_birth IS NOT NULL"),
    "IM03": ("age >= 5 AND res_6m IN ('other_ph','abroad')", "age >= 5 AND res_6m IS NOT NULL"),
    "HE01": ("philhealth", "philhealth IS NOT NULL"),
    "HE02": ("difficulty", "difficulty IS NOT NULL"),
    "HE04": ("ill_12m", "ill_12m IS NOT NULL"),
    "EM01": ("age >= 15 AND lf_status = 'employed'", "age >= 15 AND lf_status IS NOT NULL"),
    "EM02": ("age >= 15 AND lf_status = 'unemployed'", "age >= 15 AND lf_status IN ('employed','unemployed')"),
}
AGE_CASE = ("CASE WHEN age < 15 THEN '0-14' WHEN age < 25 THEN '15-24' WHEN age < 35 THEN '25-34' "
            "WHEN age < 45 THEN '35-44' WHEN age < 55 THEN '45-54' WHEN age < 65 THEN '55-64' ELSE '65+' END")


def duckdb_stage1(store: Path, parts: str | None = None) -> tuple[float, int]:
    """DuckDB's stage 1 over the store's Parquet files; ``parts``: the folders of a partitioned
    store's parts (``"*/*/*/"`` reads ``persons/reg=.../prov=.../part-*.parquet``)."""
    import duckdb

    sums = ",\n".join(f"SUM(CASE WHEN {num} THEN 1 ELSE 0 END) AS {k}_num, "
                      f"SUM(CASE WHEN {den} THEN 1 ELSE 0 END) AS {k}_den"
                      for k, (num, den) in DUCK_INDICATORS.items())
    sql = f"""
        SELECT h.barangay, p.sex, {AGE_CASE} AS age_group, {sums}
        FROM read_parquet('{store}/persons{parts or "*"}.parquet') p
        JOIN read_parquet('{store}/households{parts or "*"}.parquet') h USING (hh_id)
        GROUP BY ALL
    """
    con = duckdb.connect()
    con.execute("SET threads TO 2")
    t0 = time.perf_counter()
    res = con.execute(sql).fetchdf()
    return time.perf_counter() - t0, len(res)


def migdata_stage1(data: HouseholdData) -> tuple[float, int]:
    """migdata's own stage 1 for the same indicators: unit table, masks, one bincount per sum into
    the barangay x sex x age-group cells (no roll-up, no labels, no disclosure)."""
    from migdata.indicators import catalogue, derive
    from migdata.indicators.evaluate import _masks
    from migdata.survey import cells as kernel

    t0 = time.perf_counter()
    levels = ["barangay", "city", "province", "region"]
    by = ["sex", "age_group"]
    units = derive.units(data, "broad", household_columns=["barangay", "city_mun", "province", "region"])
    df = units["person"]
    space = kernel.cell_space(df, levels, by)
    print(f"  (derived unit tables + keys: {time.perf_counter() - t0:.1f} s)", flush=True)
    cache: dict = {}
    n = 0
    for i in DUCK_INDICATORS:
        ind = catalogue()[i]
        m = _masks(ind, df, cache)
        cells, _ = kernel.stage1(space, by, m, ind.statistic)
        n += len(cells)
    return time.perf_counter() - t0, n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--persons", type=int, default=16_200_000)
    ap.add_argument("--seed", type=int, default=2022)
    ap.add_argument("--workdir", default=None, help="where to write the store (default: a temp folder)")
    ap.add_argument("--keep", action="store_true", help="keep the generated store")
    ap.add_argument("--reuse", action="store_true",
                    help="use the store already in --workdir (no generation: peak memory is the compute's)")
    args = ap.parse_args(argv)
    from migdata.indicators import compute
    from migdata.publish.tables import compute as publish

    work = Path(args.workdir or tempfile.mkdtemp(prefix="migdata-bench-ind-"))
    store = work / "store"
    t_gen = 0.0
    if not (args.reuse and (store / "manifest.json").exists()):
        t0 = time.perf_counter()
        data = generate(args.persons, args.seed)
        t_gen = time.perf_counter() - t0
        data.save(store, force=True)
        del data
    t0 = time.perf_counter()
    data = load(store, verify=False)
    t_load = time.perf_counter() - t0
    nh, npers = len(data.households), len(data.persons)
    print(f"generated {npers:,} persons, {nh:,} households in {t_gen:.1f} s; load {t_load:.1f} s; "
          f"peak RSS so far {rss_gb():.2f} GB", flush=True)

    t0 = time.perf_counter()
    table = publish(data, level="barangay", by=["sex", "age_group"], age_scheme="broad", k=3)
    t_all = time.perf_counter() - t0
    n_ind = table["indicator_id"].nunique()
    print(f"migdata full catalogue: {n_ind} indicators, {len(table):,} rows, {t_all:.1f} s, "
          f"suppressed {int(table['suppressed'].sum()):,}; peak RSS {rss_gb():.2f} GB", flush=True)
    del table
    t0 = time.perf_counter()
    sub = compute(data, ids=list(DUCK_INDICATORS), level="barangay", by=["sex", "age_group"])
    t_sub = time.perf_counter() - t0
    print(f"migdata {len(DUCK_INDICATORS)} person indicators (stage 1 + roll-up, no disclosure): "
          f"{t_sub:.1f} s, {len(sub):,} rows", flush=True)
    t_st1, n_st1 = migdata_stage1(data)
    print(f"migdata stage-1 cell sums for the same {len(DUCK_INDICATORS)} indicators (incl. derived unit "
          f"table): {t_st1:.1f} s, {n_st1:,} cells over all indicators", flush=True)
    t_duck, n_cells = duckdb_stage1(store)
    print(f"DuckDB stage-1 cell sums for the same {len(DUCK_INDICATORS)} indicators "
          f"(barangay x sex x age group, join + GROUP BY, 2 threads): {t_duck:.1f} s, {n_cells:,} cells", flush=True)
    print(f"ratio migdata stage 1 / DuckDB stage 1: {t_st1 / t_duck:.2f}; "
          f"migdata subset incl. roll-up / DuckDB stage 1: {t_sub / t_duck:.2f}; "
          f"full catalogue / DuckDB stage 1: {t_all / t_duck:.2f}; peak RSS {rss_gb():.2f} GB")
    if not args.keep and args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
