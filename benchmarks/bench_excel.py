"""Time ``write_workbook`` on the bundled CBMS sample, with ``DataFrame.to_excel`` of the same
long table as the peer (same process).

Usage (after ``migdata import sample_data/cbms_2022_hpq.dat sample_data/cbms_2022_hpq_layout.dcf
--profile cbms_2022_hpq --out /tmp/g2store``)::

    python benchmarks/bench_excel.py /tmp/g2store [--level city] [--by sex,age_group]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import migdata
from migdata import compute
from migdata.publish.excel import publishable, write_workbook


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("store")
    ap.add_argument("--level", default="city")
    ap.add_argument("--by", default="sex,age_group")
    a = ap.parse_args()
    data = migdata.load(a.store)
    t0 = time.perf_counter()
    t = compute(data, level=a.level, by=a.by.split(","))
    print(f"compute: {time.perf_counter() - t0:.1f} s, {len(t):,} rows, {t['indicator_id'].nunique()} indicators")
    with tempfile.TemporaryDirectory() as d:
        t0, c0 = time.perf_counter(), time.process_time()
        write_workbook(t, os.path.join(d, "tables.xlsx"))
        ours, cpu = time.perf_counter() - t0, time.process_time() - c0
        size = os.path.getsize(os.path.join(d, "tables.xlsx"))
        print(f"write_workbook: {ours:.1f} s, CPU {cpu:.1f} s ({size / 1e6:.1f} MB)")
        pub = publishable(t)
        t0 = time.perf_counter()
        pub.to_excel(os.path.join(d, "peer.xlsx"), sheet_name="data", index=False, engine="openpyxl")
        peer = time.perf_counter() - t0
        print(f"peer DataFrame.to_excel (long table only, openpyxl): {peer:.1f} s "
              f"({os.path.getsize(os.path.join(d, 'peer.xlsx')) / 1e6:.1f} MB)")
        print(f"ratio write_workbook / to_excel: {ours / peer:.2f}")


if __name__ == "__main__":
    main()
