"""Benchmark of PSGC roll-up and code normalisation at Calabarzon scale, against plain pandas peers.

A seeded generator draws one barangay code per person from the 3,993 Region IV-A barangays of
the shipped reference, in proportion to their 2020 population (16.2 M persons by default).
Each case runs in its own subprocess so that its peak memory (ru_maxrss) is its own; the peer
runs in the same subprocess right after migdata on the same data, and both times and the ratio
are printed.

- rollup:     ``migdata.areas.rollup(codes, "province")`` (statistical province; validates the
              code format, handles codes outside the reference) vs ``codes.map(ref.stat_province)``.
- rollup_cat: the same on a categorical column (what the dataset store holds).
- normalize:  ``migdata.areas.normalize_codes`` on an int64 column (codes that went through a
              number: leading zeros lost) vs ``astype(str).str.zfill(10)`` (pads blindly,
              checks nothing, cannot tell 9-digit correspondence codes from lost zeros).

Usage:
    python benchmarks/bench_areas.py --n 1000000                       # quick
    flock /tmp/migdata-bench.lock python benchmarks/bench_areas.py --n 16200000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def generate_codes(n: int, seed: int = 20250731) -> pd.Series:
    from migdata import areas

    ref = areas.reference()
    bgy = ref[ref["region"].eq("0400000000") & ref["level"].eq("barangay")]
    w = bgy["population_2020"].fillna(0).to_numpy(dtype=float)
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(bgy), size=n, p=w / w.sum())
    return pd.Series(bgy["psgc"].to_numpy()[idx], dtype="str")


def run_case(case: str, n: int) -> dict:
    from migdata import areas

    codes = generate_codes(n)
    ref = areas.reference()
    areas.index()  # build the cached look-ups outside the timing, as a long session would
    out: dict = {"case": case, "n": n}
    if case in ("rollup", "rollup_cat"):
        data = codes.astype("category") if case == "rollup_cat" else codes
        t = time.perf_counter()
        mine = areas.rollup(data, "province")
        out["migdata_s"] = time.perf_counter() - t
        stat = pd.Series(ref["stat_province"].to_numpy(), index=ref["psgc"].to_numpy())
        t = time.perf_counter()
        peer = data.map(stat)
        out["peer_s"] = time.perf_counter() - t
        assert (mine.astype(str).to_numpy() == peer.astype(str).to_numpy()).all()
    elif case == "normalize":
        data = codes.astype("int64")
        t = time.perf_counter()
        mine = areas.normalize_codes(data)
        out["migdata_s"] = time.perf_counter() - t
        t = time.perf_counter()
        peer = data.astype(str).str.zfill(10)
        out["peer_s"] = time.perf_counter() - t
        assert (mine.to_numpy() == codes.to_numpy()).all() and (peer.to_numpy() == codes.to_numpy()).all()
    else:
        raise SystemExit(f"unknown case {case}")
    out["ratio"] = out["migdata_s"] / out["peer_s"]
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--cases", default="rollup,rollup_cat,normalize")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(run_case(args.one, args.n)))
        return
    print(f"{'case':<12}{'n':>12}{'migdata s':>11}{'peer s':>9}{'ratio':>7}{'peak MB':>9}")
    for case in args.cases.split(","):
        r = subprocess.run([sys.executable, __file__, "--n", str(args.n), "--one", case],
                           capture_output=True, text=True, check=True)
        d = json.loads(r.stdout.strip().splitlines()[-1])
        print(f"{d['case']:<12}{d['n']:>12,}{d['migdata_s']:>11.2f}{d['peer_s']:>9.2f}"
              f"{d['ratio']:>7.2f}{d['peak_rss_mb']:>9.0f}")


if __name__ == "__main__":
    main()
