"""Benchmark: the CBMS sample generator and the ``cbms_2022_hpq`` import with the Sections added
for issue 13 (A20, C grades, H by source, L/L1, P lists and programmes, Q, R), beside another
checkout of migdata (the peer: e.g. the main branch before them), in the same session.

Each checkout runs in its own Python process (the two ``migdata`` packages cannot share one),
one after the other, twice; CPU time (``time.process_time``) of ``write_cbms`` and of
``import_files`` on the file it wrote, so machine load from other sessions counts less.

Usage:
    flock /tmp/migdata-bench.lock python benchmarks/bench_cbms_sections.py --households 20000 --peer OTHER_CHECKOUT
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

CHILD = r'''
import os, sys, tempfile, time
from pathlib import Path
root, n, label = sys.argv[1], int(sys.argv[2]), sys.argv[3]
sys.path.insert(0, root)
import migdata
assert migdata.__file__.startswith(root), migdata.__file__
from migdata.importer import import_files
from migdata.sample.dataset import write_cbms
from migdata.sample.layout import DICTIONARY_NAME, load_layout, write_dictionary
d = Path(tempfile.mkdtemp())
t = time.process_time(); write_cbms(d / "c.dat", n, seed=5); tg = time.process_time() - t
write_dictionary(load_layout(), d / DICTIONARY_NAME)
size = os.path.getsize(d / "c.dat")
t = time.process_time(); data = import_files([d / "c.dat"], "cbms_2022_hpq"); ti = time.process_time() - t
print(f"| {label} | {n:,} | {tg:.2f} | {size / 1e6:.1f} | {ti:.2f} | {size / 1e6 / ti:.1f} | "
      f"{len(data.persons.columns)} + {len(data.households.columns)} |")
'''


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--households", type=int, default=20000)
    ap.add_argument("--peer", required=True, help="another migdata checkout (e.g. ../main)")
    ap.add_argument("--repeat", type=int, default=2)
    a = ap.parse_args(argv)
    ours = str(Path(__file__).resolve().parents[1])
    peer = str(Path(a.peer).resolve())
    print("| checkout | households | generate, s CPU | file, MB | import, s CPU | import MB/s CPU | tidy columns (persons + households) |")
    print("|---|---|---|---|---|---|---|")
    for _ in range(a.repeat):
        for root, label in ((peer, "peer"), (ours, "this checkout")):
            subprocess.run([sys.executable, "-c", CHILD, root, str(a.households), label], check=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
