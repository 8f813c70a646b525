"""Benchmark: synthetic Kobo exports of the CBMS migration rider (seeded).

Measures, for N households (default 1,000): fake_submissions, write_kobo_xlsx, and as the peer
in the same process pandas' DataFrame.to_excel (openpyxl engine) writing the same two sheets
(cells read back from our file), then reading the export with migdata's Kobo reader.

    python benchmarks/bench_questionnaires.py [N]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import pandas as pd


def main(n: int = 1000) -> None:
    from migdata.questionnaires.submissions import fake_submissions, write_kobo_xlsx
    from migdata.readers.kobo import read_kobo_xlsx

    tmp = Path(tempfile.mkdtemp())
    t0 = time.perf_counter()
    subs = fake_submissions("cbms_migration_rider", n, seed=2026)
    t1 = time.perf_counter()
    ours = write_kobo_xlsx("cbms_migration_rider", subs, tmp / "ours.xlsx")
    t2 = time.perf_counter()
    sheets = pd.read_excel(ours, sheet_name=None)
    t3 = time.perf_counter()
    with pd.ExcelWriter(tmp / "peer.xlsx", engine="openpyxl") as xw:
        for name, df in sheets.items():
            df.to_excel(xw, sheet_name=name, index=False)
    t4 = time.perf_counter()
    tables, _ = read_kobo_xlsx(ours)
    t5 = time.perf_counter()
    members = sum(len(s.get("members", [])) for s in subs)
    print(f"households {n:,}, members {members:,}")
    print(f"fake_submissions      {t1 - t0:6.2f} s")
    print(f"write_kobo_xlsx       {t2 - t1:6.2f} s")
    print(f"peer pandas.to_excel  {t4 - t3:6.2f} s  (ratio ours/peer {(t2 - t1) / (t4 - t3):.2f})")
    print(f"read_kobo_xlsx        {t5 - t4:6.2f} s  ({len(tables['members']):,} member rows)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
