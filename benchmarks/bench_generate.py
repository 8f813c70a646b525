"""Benchmark: stream a synthetic CALABARZON CBMS 2022 file at full scale (16.2 M persons).

Measures, chunk by chunk in one process: the population model (``make_chunk``), our CSPro
fixed-width writer (``write_chunk``) and, as the peer, ``pandas.DataFrame.to_csv`` writing the
same households and persons (the usual way to write such tables). Reports wall time, rows per
second, bytes written, peak memory (ru_maxrss) and the ratio writer / peer. The files are
written into a temporary folder (``--out``) and deleted at the end unless ``--keep``.

Run the full scale only under the machine's benchmark lock:

    flock /tmp/migdata-bench.lock python benchmarks/bench_generate.py

Quick check (not a measurement): ``python benchmarks/bench_generate.py --persons 200000``.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from migdata.areas.reference import reference
from migdata.sample import cbms
from migdata.sample.dataset import DEFAULT_CHUNK, barangays, chunks, make_chunk, write_chunk
from migdata.sample.population import Places

MEAN_SIZE = 4.2  # persons per household in the model (measured on the sample)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--persons", type=int, default=16_200_000)
    ap.add_argument("--seed", type=int, default=2022)
    ap.add_argument("--chunk", type=int, default=DEFAULT_CHUNK, help="households per chunk")
    ap.add_argument("--out", type=Path, default=None, help="folder for the files (default: a temp folder)")
    ap.add_argument("--keep", action="store_true", help="keep the files")
    ap.add_argument("--no-peer", action="store_true", help="skip the pandas to_csv peer")
    a = ap.parse_args()

    households = int(round(a.persons / MEAN_SIZE))
    out = a.out or Path(tempfile.mkdtemp(prefix="migdata-bench-gen-"))
    out.mkdir(parents=True, exist_ok=True)
    dat, peer_h, peer_p = out / "cbms_2022_hpq.dat", out / "peer_households.csv", out / "peer_persons.csv"

    t_all = time.perf_counter()
    ref = reference()
    bgy = barangays(ref)
    places = Places.from_reference(ref)
    layout = cbms.Layout()
    root = np.random.default_rng([a.seed, 0])
    counts = root.multinomial(households, bgy["population"] / bgy["population"].sum())
    t_model = t_write = t_peer = 0.0
    n_h = n_p = n_lines = 0
    with open(dat, "wb") as fh, open(peer_h, "w") as ph, open(peer_p, "w") as pp:
        fh.write(b"\xef\xbb\xbf")
        for k, group in enumerate(chunks(counts, a.chunk)):
            rng = np.random.default_rng([a.seed, 1, k])
            t0 = time.perf_counter()
            h, p = make_chunk(rng, bgy, np.repeat(group, counts[group]), places)
            t1 = time.perf_counter()
            n_lines += write_chunk(fh, layout, h, p)
            t2 = time.perf_counter()
            if not a.no_peer:
                h.to_csv(ph, header=k == 0, index=False)
                p.to_csv(pp, header=k == 0, index=False)
            t3 = time.perf_counter()
            t_model += t1 - t0
            t_write += t2 - t1
            t_peer += t3 - t2
            n_h += len(h)
            n_p += len(p)
            if k % 20 == 0:
                print(f"  chunk {k}: {n_h:,} households, {n_p:,} persons, "
                      f"{time.perf_counter() - t_all:,.0f} s", flush=True)
    total = time.perf_counter() - t_all
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB (Linux)
    size = dat.stat().st_size
    psize = peer_h.stat().st_size + peer_p.stat().st_size
    print(f"households {n_h:,}  persons {n_p:,}  lines {n_lines:,}")
    print(f"total wall time            {total:10.1f} s")
    print(f"  population model         {t_model:10.1f} s  ({n_p / t_model:,.0f} persons/s)")
    print(f"  fixed-width writer       {t_write:10.1f} s  ({n_p / t_write:,.0f} persons/s, {size / 2**30:.2f} GiB)")
    if not a.no_peer:
        print(f"  peer pandas to_csv       {t_peer:10.1f} s  ({n_p / t_peer:,.0f} persons/s, {psize / 2**30:.2f} GiB)")
        print(f"  ratio writer / peer      {t_write / t_peer:10.2f}")
    print(f"peak memory (ru_maxrss)    {peak:10.0f} MiB")
    if not a.keep:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
