"""Time the choropleth maps a report adds: Laguna's barangays (681 areas) and CALABARZON's
cities and municipalities (142), drawn and saved as PNG (150 dpi, as reports save charts).

The table: one indicator (HH01, % of households) for every area of the two maps, values from a
seeded generator, 10 % suppressed and 5 % without data (drawing costs the same whatever the
values). ``--store STORE`` computes it from a dataset store instead.

Peer, same process: the chart reports drew for the areas before maps,
:func:`migdata.publish.charts.estimates_plot` (a dot plot of the same areas), saved the same way.
The first map of a process also reads the shipped boundaries and builds the PSGC index; that
one-time cost is timed on its own (fresh process: ``--cold``).

Usage:
    python benchmarks/bench_maps.py [--repeat 3] [--store STORE]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LAGUNA, REGION = "0403400000", "0400000000"
CASES = [("barangay", LAGUNA, "Laguna's barangays"), ("city", REGION, "CALABARZON's cities/municipalities")]


def synthetic_table(seed: int = 2022) -> pd.DataFrame:
    from migdata.areas.boundaries import level_areas

    rng = np.random.default_rng(seed)
    rows = []
    for level, parent, _ in CASES:
        ar = level_areas(level, parent)
        n = len(ar)
        est = np.round(rng.gamma(2.0, 4.0, n), 1)
        sup = rng.random(n) < 0.10
        keep = rng.random(n) >= 0.05
        for code, name, e, s, k in zip(ar["psgc"], ar["name"], est, sup, keep):
            if k:
                rows.append({"indicator_id": "HH01", "name": "Households with an overseas Filipino",
                             "area_level": level, "area_code": code, "area_name": name, "parent_code": parent,
                             "category": "", "estimate": np.nan if s else e, "se": 0.0,
                             "ci_low": e, "ci_high": e, "cv": np.nan, "n": 100.0, "flag": "complete_count",
                             "suppressed": bool(s), "unit": "household", "measure": "%",
                             "source": "synthetic", "period": "2022"})
    return pd.DataFrame(rows)


def timed(fn, repeat: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--store", default=None)
    a = ap.parse_args()
    t0 = time.perf_counter()
    from migdata.areas import boundaries
    from migdata.areas.reference import index

    boundaries.shipped()
    index()
    print(f"one-time: read the shipped boundaries and the PSGC index: {time.perf_counter() - t0:.2f} s")
    from migdata.publish import charts, maps

    if a.store:
        from migdata import load
        from migdata.indicators import compute

        table = compute(load(a.store), ids=["HH01"], level="barangay", by=[])
    else:
        table = synthetic_table()
    with tempfile.TemporaryDirectory() as d:
        for level, parent, label in CASES:
            rows = table[(table["area_level"].astype(str) == level)]
            rows = rows[rows["area_code"].astype(str).isin(boundaries.level_areas(level, parent)["psgc"])]

            def draw_map() -> None:
                fig = maps.choropleth(table, "HH01", level, parent)
                fig.savefig(os.path.join(d, "map.png"), dpi=150, facecolor="white")

            def draw_dots() -> None:
                fig = charts.estimates_plot(rows, label="area_name", title="HH01", unit="% of households",
                                            source="synthetic")
                fig.savefig(os.path.join(d, "dots.png"), dpi=150, facecolor="white")

            def draw_bars() -> None:
                fig = maps.area_bars(table, "HH01", level, parent)
                fig.savefig(os.path.join(d, "bars.png"), dpi=150, facecolor="white")

            m, mt = timed(draw_map, a.repeat)
            b, bt = timed(draw_bars, a.repeat)
            p, pt = timed(draw_dots, a.repeat)
            print(f"{label} ({len(rows):,} areas with rows): map {m:.2f} s {[round(x, 2) for x in mt]}, "
                  f"sorted bars {b:.2f} s, peer dot plot {p:.2f} s {[round(x, 2) for x in pt]}; "
                  f"map / dot plot x{m / p:.2f}")


if __name__ == "__main__":
    main()
