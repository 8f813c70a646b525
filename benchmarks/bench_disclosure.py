"""Benchmark of disclosure control (the cell-key method) on a raw indicator table.

A seeded generator makes a raw complete-count table as ``migdata.indicators.compute`` hands it to
disclosure control: ``--rows`` rows of catalogue indicators in the catalogue's mix of statistics
(shares, counts, distributions, totals, means, ratios, a median), counts from a lognormal (many
small barangay cells), uniform cell keys and top contributions. It times
``migdata.publish.disclosure.control`` on the whole table (best of ``--repeat``), and in the same
process the peer: DuckDB SQL doing the core of the method, the ptable lookup of every count and
denominator (a range join of (count, cell key) on the ptable's key intervals), whose results are
checked equal to migdata's.

With ``--store DIR`` (a complete-count store, e.g. ``migdata sample --out DIR --households N``
then ``migdata import``), it also times ``migdata estimate``'s published estimates
(:func:`migdata.publish.estimates.estimate`: the design's estimate plus each domain's sums, record
keys and the cell-key method) against the raw design estimate of the same request
(:func:`migdata.survey.frontend.estimate`, the peer), for a proportion of persons by barangay x sex
and a household total by barangay.

Usage:
    python benchmarks/bench_disclosure.py --rows 1000000 [--store DIR]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from migdata.publish.disclosure import control, ptable  # noqa: E402

# (indicator, share of rows): the catalogue's mix, distributions and shares dominating
MIX = [("OF03", 0.30), ("OF05", 0.25), ("HH01", 0.15), ("OF02", 0.10), ("ED01", 0.08), ("RM02", 0.04),
       ("RM03", 0.03), ("RM04", 0.03), ("OF11", 0.02)]


def raw_table(rows: int, seed: int = 17) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ids = rng.choice([m[0] for m in MIX], rows, p=[m[1] for m in MIX])
    n = np.maximum(np.rint(rng.lognormal(3.0, 1.6, rows)), 1)
    units = np.minimum(np.rint(n * rng.beta(0.6, 6, rows)), n)
    top = rng.uniform(1000, 200000, rows)
    total = top * np.maximum(units, 1) * rng.uniform(0.3, 1.0, rows)
    est = np.where(np.isin(ids, ["OF02"]), units, 100 * units / n)
    return pd.DataFrame({
        "indicator_id": pd.Categorical(ids), "area_level": "barangay",
        "area_code": pd.Categorical(rng.integers(0, 4000, rows).astype(str)),
        "estimate": est, "se": 0.0, "ci_low": est, "ci_high": est, "cv": 0.0, "n": n,
        "numerator": np.where(np.isin(ids, ["RM02", "RM03", "RM04"]), total, units),
        "denominator": np.where(ids == "RM04", total * 4, n), "units": units,
        "flag": pd.Categorical(np.full(rows, "complete_count")),
        "_ck_num": rng.random(rows), "_ck_den": rng.random(rows), "_top_num": top, "_top_den": top * 2})


def duckdb_lookup(t: pd.DataFrame) -> tuple[float, np.ndarray]:
    """Published denominators by a DuckDB range join on the ptable's key intervals."""
    import duckdb

    pt = ptable(3, 2.0, 2).frame()
    last = int(pt["i"].max())
    con = duckdb.connect()
    con.register("t", t[["n", "_ck_den"]].reset_index())
    con.register("pt", pt[["i", "v", "p_lower", "p_upper"]])
    start = time.perf_counter()
    res = con.execute(f"""
        SELECT t.index, CAST(t.n AS BIGINT) + pt.v AS published
        FROM t JOIN pt ON pt.i = LEAST(CAST(t.n AS BIGINT), {last})
                      AND t._ck_den >= pt.p_lower AND t._ck_den < pt.p_upper
        ORDER BY t.index""").fetchnumpy()
    return time.perf_counter() - start, res["published"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--store", default=None, help="a complete-count store: also time migdata estimate")
    args = ap.parse_args()
    t = raw_table(args.rows)
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        out = control(t, k=3)
        times.append(time.perf_counter() - start)
    pt = ptable(3, 2.0, 2)
    start = time.perf_counter()
    mine = pt.perturb(t["n"].to_numpy().astype(np.int64), t["_ck_den"].to_numpy())
    lookup = time.perf_counter() - start
    peer, theirs = duckdb_lookup(t)
    assert np.array_equal(mine, theirs), "DuckDB and migdata disagree"
    print(f"rows {args.rows:,} ({len(out):,} published; {int(out['suppressed'].sum()):,} hidden)")
    print(f"control(): best {min(times):.3f} s of {args.repeat} ({', '.join(f'{x:.3f}' for x in times)})")
    print(f"ptable lookup of {args.rows:,} denominators: migdata {lookup:.3f} s, DuckDB range join "
          f"{peer:.3f} s (x{peer / lookup:.1f}), identical")
    if args.store:
        estimates(args.store, args.repeat)
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2:.2f} GB")


def estimates(store: str, repeat: int) -> None:
    """Published (protected) vs raw estimates of the same requests on one store."""
    import migdata
    from migdata.publish.estimates import estimate as published
    from migdata.survey.frontend import estimate as raw

    data = migdata.load(store)
    print(f"store {store}: {len(data.persons):,} persons, {len(data.households):,} households")
    requests = [("proportion", "sex", ["barangay", "sex"], "persons"),
                ("total", "cash_abroad", ["barangay"], "households")]
    for kind, var, by, table in requests:
        best = {}
        for name, fn in (("raw", raw), ("published", published)):
            times = []
            for _ in range(repeat):
                start = time.process_time()
                out = fn(data, kind, var, by=by, table=table)
                times.append(time.process_time() - start)
            best[name] = (min(times), len(out))
        print(f"estimate {kind} {var} by {','.join(by)} ({table}): published {best['published'][0]:.3f} s CPU "
              f"({best['published'][1]:,} rows), raw design estimate {best['raw'][0]:.3f} s CPU "
              f"({best['raw'][1]:,} rows): x{best['published'][0] / best['raw'][0]:.2f}")


if __name__ == "__main__":
    main()
