"""Benchmarks of national scale (issue 17): partitioned stores, streaming import, out-of-core
estimation, the distributed engine and area reports, each beside its peer in the same run.

Subcommands (figures go to ``BENCHMARKS.md`` and ``benchmarks/results/scale.md``):

``store``       a partitioned complete-count store written province by province (bounded
                memory) from the indicator benchmark's seeded model (``bench_indicators.generate``:
                real barangays, households by 2020 population), for CALABARZON or the country.
``catalogue``   the full catalogue, barangay x sex x age group + every level, with disclosure
                control, on a partitioned store (local engine); peers in the same process: DuckDB
                SQL computing the stage-1 cell sums of the 11 person count/share indicators over
                the same Parquet parts (``bench_indicators.duckdb_stage1``), and, with
                ``--in-memory``, the whole store loaded and computed in memory.
``distributed`` the same catalogue on Dask local clusters of 1 and 2 workers vs the local engine.
``report``      an area's migration profile tables (``MigrationProfile.from_dataset``) from a
                partitioned store: first (cell sums computed and kept) and again (kept sums),
                and the whole HTML report (notebook); peer: the same tables from the whole store
                loaded in memory (``--in-memory``).
``registry``    the streaming import's exact registry of household ids (``_Registry``) fed a
                national census's ids chunk by chunk (27.5 M by default, 30,500 per chunk of
                128k persons, each chunk looked up, then added); peers in the same process: one
                sorted array that takes each chunk by ``np.insert`` (the registry before its
                runs) and, with ``--dict``, a Python dict.
``import``      streaming import of a CSPro file (``--layout lfs``: the import benchmark's LFS
                generator, ``--layout cbms``: ``migdata.sample.scale``) vs the in-memory import of
                the same file (``--in-memory``, when it fits).

Peak memory is the process's ru_maxrss (generation runs in a child process). Heavy runs go
under the machine's benchmark lock:

    flock /tmp/migdata-bench.lock python benchmarks/bench_scale.py store --persons 16200000 --out /tmp/s16
    flock /tmp/migdata-bench.lock python benchmarks/bench_scale.py catalogue --store /tmp/s16 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2


class TreeRss:
    """The peak of the summed RSS of this process and all its descendants (worker processes,
    which a forkserver starts as its own children), sampled from /proc every 0.2 s."""

    def __init__(self) -> None:
        import threading

        self.peak = 0.0
        self.at_mark: float | None = None  # the summed RSS when :meth:`mark` was called
        self.after_mark = 0.0  # and its peak since
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @staticmethod
    def _tree_kb() -> int:
        parent: dict[int, int] = {}
        rss: dict[int, int] = {}
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open(f"/proc/{d}/status") as fh:
                    st = dict(line.split(":", 1) for line in fh if ":" in line)
                parent[int(d)] = int(st["PPid"])
                rss[int(d)] = int(st.get("VmRSS", "0 kB").split()[0])
            except (OSError, KeyError, ValueError):
                continue
        mine, total = {os.getpid()}, 0
        changed = True
        while changed:
            changed = False
            for pid, pp in parent.items():
                if pp in mine and pid not in mine:
                    mine.add(pid)
                    changed = True
        for pid in mine:
            total += rss.get(pid, 0)
        return total

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            now = self._tree_kb() / 1024 ** 2
            self.peak = max(self.peak, now)
            if self.at_mark is not None:
                self.after_mark = max(self.after_mark, now)

    def mark(self) -> None:
        """Start following the peak from here on (a phase of the job, e.g. after the chunks)."""
        if self.at_mark is None:
            self.at_mark = self.after_mark = self._tree_kb() / 1024 ** 2

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def say(msg: str) -> None:
    print(msg, flush=True)


# ----------------------------------------------------------------------------- store
def store(args: argparse.Namespace) -> None:

    import bench_indicators as bi
    from migdata.model import partitions
    from migdata.model.data import HouseholdData
    from migdata.model.spec import Provenance

    t0 = time.perf_counter()
    region = None if args.region in ("", "PH", "national") else args.region
    bgy = bi.barangays(region)
    prov = Provenance.from_dict({"complete_count": True, "sources": ["bench_indicators"],
                                 "reference_date": "2022-08-01"})
    groups = list(bgy.groupby("province", sort=True))
    pop = bgy["pop"].sum()
    w = partitions.PartitionWriter(args.out, prov.dataset_id, force=True)
    n_p = n_h = 0
    try:
        for i, (code, b) in enumerate(groups):
            persons = int(round(args.persons * b["pop"].sum() / pop))
            if persons < 10:
                continue
            d = bi.generate(persons, seed=args.seed + i, bgy=b, prefix=f"P{i:03d}H")
            keys, kcode = partitions.household_keys(d.households)
            assert len(keys) == 1, keys
            w.write("households", keys[0], d.households)
            w.write("persons", keys[0], d.persons)
            n_p += len(d.persons)
            n_h += len(d.households)
            if i % 10 == 0:
                say(f"  {i + 1}/{len(groups)} provinces, {n_p:,} persons, {time.perf_counter() - t0:,.0f} s, "
                    f"peak RSS {rss_gb():.2f} GB")
        data = HouseholdData({}, provenance=prov)
        w.close(partitions.base_manifest(data))
    except BaseException:
        w.abort()
        raise
    say(f"store {args.out}: {n_p:,} persons, {n_h:,} households, {len(groups)} provinces, "
        f"{time.perf_counter() - t0:,.0f} s, peak RSS {rss_gb():.2f} GB, load {load()}")


# ----------------------------------------------------------------------------- catalogue
def _catalogue_once(path: str, engine=None, level: str = "barangay"):
    import migdata

    t, c, k = time.perf_counter(), time.process_time(), os.times().system
    table = migdata.compute(path, level=level, by=["sex", "age_group"], age_scheme="broad", k=3,
                            engine=engine, cache=False)
    table.attrs["cpu"] = time.process_time() - c  # this process's CPU (the machine is shared)
    # the kernel's share: on this virtual machine the first touches of fresh memory cost 2-5x
    # more in some states of the host than in others (results/scale.md, afternoon of 7 December)
    table.attrs["kernel"] = os.times().system - k
    return time.perf_counter() - t, table


def _catalogue_parquet(path, out: str, level: str = "barangay"):
    """The full catalogue written one indicator at a time to Parquet (``migdata indicators STORE
    --out X.parquet``): what a national table needs, as it does not fit in memory whole."""
    import pyarrow.parquet as pq

    from migdata.publish.tables import compute_batches, write_parquet

    t, c = time.perf_counter(), time.process_time()
    write_parquet(compute_batches(path, level=level, by=["sex", "age_group"], age_scheme="broad", k=3,
                                  cache=False), out)
    return time.perf_counter() - t, time.process_time() - c, pq.ParquetFile(out).metadata.num_rows


def catalogue(args: argparse.Namespace) -> None:
    import bench_indicators as bi
    from migdata.model.partitions import Store

    st = Store(args.store, verify=False)
    rows = st.rows("persons")
    say(f"store {args.store}: {rows:,} persons in {len(st.partitions)} partitions; load {load()}")
    times = []
    if args.parquet:
        source = st.view(args.area) if args.area else args.store
        if args.area:
            say(f"  area {args.area}: {len(source.partitions)} partition(s), "
                f"{sum(p.rows.get('persons', 0) for p in source.partitions):,} persons")
        for r in range(args.repeat):
            t, cpu, n = _catalogue_parquet(source, args.parquet, level=args.level)
            times.append(t)
            say(f"  migdata full catalogue to Parquet, one indicator at a time: {t:.1f} s (CPU {cpu:.1f} s), "
                f"{n:,} rows, {Path(args.parquet).stat().st_size / 1e6:,.0f} MB; peak RSS {rss_gb():.2f} GB; "
                f"load {load()}")
    for r in range(args.repeat if not args.parquet else 0):
        t, table = _catalogue_once(args.store, level=args.level)
        times.append(t)
        say(f"  migdata full catalogue (local engine, partition by partition): {t:.1f} s (CPU {table.attrs['cpu']:.1f} s, "
            f"of it the kernel's {table.attrs['kernel']:.1f} s), "
            f"{len(table):,} rows, "
            f"{table['indicator_id'].nunique()} indicators, suppressed {int(table['suppressed'].sum()):,}; "
            f"peak RSS {rss_gb():.2f} GB; load {load()}")
        del table
    if args.duckdb:
        duck = []
        for r in range(args.repeat):
            t, n = bi.duckdb_stage1(Path(args.store), parts="/*/*/*")
            duck.append(t)
            say(f"  DuckDB stage-1 cell sums, 11 person indicators, barangay x sex x age group: {t:.1f} s, "
                f"{n:,} cells; load {load()}")
        say(f"median migdata {statistics.median(times):.1f} s, DuckDB {statistics.median(duck):.1f} s, "
            f"ratio {statistics.median(times) / statistics.median(duck):.2f}")
    if args.in_memory:
        import migdata

        t0 = time.perf_counter()
        data = migdata.load(args.store, verify=False)
        t_load = time.perf_counter() - t0
        t0, c0 = time.perf_counter(), time.process_time()
        table = migdata.compute(data, level=args.level, by=["sex", "age_group"], age_scheme="broad", k=3)
        say(f"  in memory: load {t_load:.1f} s, compute {time.perf_counter() - t0:.1f} s "
            f"(CPU {time.process_time() - c0:.1f} s), {len(table):,} rows; "
            f"peak RSS {rss_gb():.2f} GB; load {load()}")
    say(f"median {statistics.median(times):.1f} s over {len(times)} runs; peak RSS {rss_gb():.2f} GB")


# ----------------------------------------------------------------------------- same cells as DuckDB
def duckdb_cube(store: Path, levels: list[str]) -> tuple[float, int]:
    """DuckDB SQL computing the cells migdata's table has for the 11 person count/share
    indicators of ``bench_indicators.DUCK_INDICATORS``: numerator and denominator counts for every
    area level x every subset of (sex, age group), as GROUPING SETS over the partitioned store."""
    import duckdb

    import bench_indicators as bi

    cols = {"barangay": "barangay", "city": "city_mun", "province": "province", "region": "region"}
    sets = []
    for lev in levels:
        area = [cols[lv] for lv in ("region", "province", "city", "barangay")
                if ("region", "province", "city", "barangay").index(lv) <= ("region", "province", "city", "barangay").index(lev)]
        for keep in ([], ["sex"], ["age_group"], ["sex", "age_group"]):
            sets.append("(" + ", ".join(area + keep) + ")")
    sums = ",\n".join(f"SUM(CASE WHEN {num} THEN 1 ELSE 0 END) AS {k}_num, "
                      f"SUM(CASE WHEN {den} THEN 1 ELSE 0 END) AS {k}_den"
                      for k, (num, den) in bi.DUCK_INDICATORS.items())
    sql = f"""
        SELECT h.region, h.province, h.city_mun, h.barangay, p.sex, {bi.AGE_CASE} AS age_group, {sums}
        FROM read_parquet('{store}/persons/*/*/*.parquet') p
        JOIN read_parquet('{store}/households/*/*/*.parquet') h USING (hh_id)
        GROUP BY GROUPING SETS ({", ".join(sets)})
    """
    con = duckdb.connect()
    con.execute("SET threads TO 2")
    t0 = time.perf_counter()
    res = con.execute(sql).fetchdf()
    return time.perf_counter() - t0, len(res)


def cells11(args: argparse.Namespace) -> None:
    """The 11 person count/share indicators, every level x subset of (sex, age group): migdata
    (stage 1 per partition, reduction, roll-up, estimates, labels; no disclosure control) vs
    DuckDB computing the same cells (``duckdb_cube``)."""
    import bench_indicators as bi
    from migdata.indicators import compute

    ours, duck = [], []
    for _ in range(args.repeat):
        t, c = time.perf_counter(), time.process_time()
        table = compute(args.store, ids=list(bi.DUCK_INDICATORS), level="barangay", by=["sex", "age_group"],
                        cache=False)
        ours.append(time.perf_counter() - t)
        say(f"  migdata, 11 indicators, every level x subset: {ours[-1]:.1f} s (CPU {time.process_time() - c:.1f} s), "
            f"{len(table):,} rows; load {load()}")
        t, n = duckdb_cube(Path(args.store), ["barangay", "city", "province", "region"])
        duck.append(t)
        say(f"  DuckDB, the same cells (GROUPING SETS, 2 threads): {t:.1f} s, {n:,} grouped rows; load {load()}")
    say(f"median migdata {statistics.median(ours):.1f} s, DuckDB {statistics.median(duck):.1f} s, "
        f"ratio {statistics.median(ours) / statistics.median(duck):.2f}; peak RSS {rss_gb():.2f} GB")


# ----------------------------------------------------------------------------- distributed
def distributed(args: argparse.Namespace) -> None:
    from migdata.survey.engine import DaskEngine

    base = []
    for _ in range(args.repeat):
        t, table = _catalogue_once(args.store, level=args.level)
        base.append(t)
        ref = table
    say(f"local engine: median {statistics.median(base):.1f} s ({', '.join(f'{x:.1f}' for x in base)}); load {load()}")
    for n in args.workers:
        eng = DaskEngine(n_workers=n)
        try:
            ts = []
            for _ in range(args.repeat):
                t, table = _catalogue_once(args.store, engine=eng, level=args.level)
                ts.append(t)
            same = table.equals(ref)
            say(f"Dask, {n} worker(s): median {statistics.median(ts):.1f} s ({', '.join(f'{x:.1f}' for x in ts)}), "
                f"identical to local: {same}; load {load()}")
        finally:
            eng.close()


# ----------------------------------------------------------------------------- report
def report(args: argparse.Namespace) -> None:
    import shutil

    import migdata
    from migdata.model.partitions import CACHE
    from migdata.report import MigrationProfile, render_report

    cache = Path(args.store) / CACHE
    shutil.rmtree(cache, ignore_errors=True)
    import migdata.publish.tables  # noqa: F401  (imports, scipy among them, are not the report's time)

    from migdata.report import keep_area_summaries

    t, c = time.perf_counter(), time.process_time()
    keep_area_summaries(args.store)
    say(f"  area summaries kept in the store (the import's last step): {time.perf_counter() - t:.1f} s "
        f"(CPU {time.process_time() - c:.1f} s); peak RSS {rss_gb():.2f} GB; load {load()}")
    for label in ("first (the area's partitions computed and kept)", "again (kept cell sums)", "again"):
        t, c = time.perf_counter(), time.process_time()
        p = MigrationProfile.from_dataset(migdata.load(args.store, lazy=True, verify=False), args.area)
        say(f"  profile tables of {args.area}, {label}: {time.perf_counter() - t:.1f} s (CPU {time.process_time() - c:.1f} s) "
            f"({len(p.tables['main']):,} + {len(p.tables['detail']):,} rows); peak RSS {rss_gb():.2f} GB; load {load()}")
    if args.html:
        t = time.perf_counter()
        out = render_report(args.store, args.area, Path(args.html))
        say(f"  HTML report {out}: {time.perf_counter() - t:.1f} s; load {load()}")
    if args.in_memory:
        t = time.perf_counter()
        data = migdata.load(args.store, verify=False)
        t1 = time.perf_counter() - t
        q = MigrationProfile.from_dataset(data, args.area)
        same = _same_report(p, q)
        say(f"  peer: whole store in memory: load {t1:.1f} s, tables {time.perf_counter() - t - t1:.1f} s, "
            f"identical: {same}; peak RSS {rss_gb():.2f} GB; load {load()}")


def _same_report(p, q) -> bool:
    """The sections two profiles show are equal (the area's own rows, the comparison with the
    areas above, the sub-areas, the pyramid, the detail table)."""
    import pandas as pd

    def plain(t):
        t = t.reset_index(drop=True)
        return t.astype({c: object for c in t.columns if isinstance(t[c].dtype, pd.CategoricalDtype)})

    pairs = [(p.headline(), q.headline()), (p.comparison(), q.comparison()), (p.sub_areas(), q.sub_areas()),
             (p.tables["detail"], q.tables["detail"]), *zip(p.pyramid(), q.pyramid())]
    for a, b in pairs:
        try:
            pd.testing.assert_frame_equal(plain(a), plain(b), check_dtype=False)
        except AssertionError:
            return False
    return True


# ----------------------------------------------------------------------------- import
def make_file(args: argparse.Namespace) -> tuple[list[Path], object]:
    """The input file (generated in a child process if absent) and the profile to import it with."""
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    if args.layout == "lfs":
        import bench_import as bim

        dcf = work / "lfs_bench.dcf"
        dat = work / "lfs_bench.dat"
        if not dat.exists():
            subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_import.py"), "--generate-only",
                            "--persons", str(args.persons), "--workdir", str(work), "--bundled"], check=True)
        return [dat, dcf], bim.bench_profile()
    suffix = {"zstd": ".zst", "gzip": ".gz", None: ""}[args.compression]
    dat = work / f"cbms_2022_hpq.dat{suffix}"
    if not dat.exists():
        # ``--generators`` child processes write consecutive parts at once (the same bytes as
        # one process: ``write_cbms_scale(part=...)``), joined in order into the one file; one
        # process writes the file itself (no copy)
        k = max(args.generators, 1)
        parts = [dat] if k == 1 else [dat.with_name(f"{dat.name}.{i}") for i in range(k)]
        t = time.perf_counter()
        procs = [subprocess.Popen([sys.executable, "-c", (
            "import time; from migdata.sample.scale import write_cbms_scale; t=time.perf_counter(); "
            f"c=write_cbms_scale({str(parts[i])!r}, {args.persons}, seed=2022, region={args.region!r}, "
            f"compression={args.compression!r}, part=({i}, {k})); "
            f"print('generated part {i}', c, round(time.perf_counter()-t, 1), 's', flush=True)")], cwd=ROOT)
            for i in range(k)]
        if any(p.wait() for p in procs):
            raise SystemExit("generation failed")
        if k > 1:
            with open(dat.with_name(dat.name + ".tmp"), "wb") as out:
                for part in parts:
                    with open(part, "rb") as fh:
                        shutil.copyfileobj(fh, out, 16 << 20)
                    part.unlink()
            dat.with_name(dat.name + ".tmp").replace(dat)
        say(f"generated {dat.name} ({dat.stat().st_size / 1e9:.1f} GB) in {time.perf_counter() - t:.0f} s "
            f"with {k} process(es)")
    return [dat], "cbms_2022_hpq"


def import_(args: argparse.Namespace) -> None:
    import migdata
    from migdata.streaming import import_stream

    files, profile = make_file(args)
    size = sum(f.stat().st_size for f in files)
    say(f"input {', '.join(f.name for f in files)}: {size / 1e6:,.0f} MB; load {load()}")
    if args.in_memory:
        t, cpu = time.perf_counter(), time.process_time()
        data = migdata.import_files(files, profile)
        data.save(Path(args.workdir) / "store-mem", force=True, partition_by="province")
        t_mem = time.perf_counter() - t
        say(f"  peer, in memory (import_files + partitioned save): {t_mem:.1f} s (CPU {time.process_time() - cpu:.1f} s) "
            f"= {size / 1e6 / t_mem:,.0f} MB/s, "
            f"{len(data.persons):,} persons; peak RSS {rss_gb():.2f} GB; load {load()}")
        del data
    times = []
    for _ in range(args.repeat):
        tree = TreeRss()
        t, cpu = time.perf_counter(), time.process_time()
        # the rules between rows run after the last chunk, on every row's codes: their memory
        # grows with the whole file, where the chunks' does not
        st = import_stream(files, profile, Path(args.workdir) / "store", force=True, chunk_bytes=args.chunk_mb << 20,
                           workers=args.workers,
                           progress=lambda msg, done=None, total=None: tree.mark()
                           if msg.startswith("checking ids") else None)
        dt = time.perf_counter() - t
        times.append(dt)
        c = st.report.counts
        say(f"  streaming import ({args.workers} worker processes): {dt:.1f} s (CPU of this process {time.process_time() - cpu:.1f} s) = {size / 1e6 / dt:,.0f} MB/s, "
            f"{c['persons']['kept']:,} persons, "
            f"{c['households']['kept']:,} households, {len(st.partitions)} partitions, "
            f"{len(st.report.problems)} problems; peak RSS {rss_gb():.2f} GB"
            + f", this process and its workers together {tree.stop():.2f} GB (sampled)"
            + (f" (after the chunks: {tree.at_mark:.2f} GB when the rules between rows began, "
               f"peak {tree.after_mark:.2f} GB)" if tree.at_mark is not None else "")
            + f"; load {load()}")
    say(f"median {statistics.median(times):.1f} s; peak RSS {rss_gb():.2f} GB")


def registry(args: argparse.Namespace) -> None:
    import numpy as np

    from migdata.streaming import _Registry

    class OneArray:  # the peer: one sorted array, each chunk's keys inserted (copies all keys)
        def __init__(self):
            self.keys, self.vals = np.zeros(0, dtype="S1"), np.zeros(0, dtype=np.int64)

        def lookup(self, keys):
            if not len(self.keys):
                return np.full(len(keys), -1, dtype=np.int64)
            k = keys.astype(self.keys.dtype)
            pos = np.minimum(np.searchsorted(self.keys, k), len(self.keys) - 1)
            return np.where(self.keys[pos] == k, self.vals[pos], -1)

        def add(self, keys, vals):
            order = np.argsort(keys, kind="stable")
            k = keys[order].astype(f"S{max(self.keys.dtype.itemsize, keys.dtype.itemsize)}")
            pos = np.searchsorted(self.keys.astype(k.dtype), k)
            self.keys, self.vals = np.insert(self.keys.astype(k.dtype), pos, k), np.insert(self.vals, pos, vals[order])

    class Dict:
        def __init__(self):
            self.d = {}

        def lookup(self, keys):
            return np.array([self.d.get(k, -1) for k in keys.tolist()], dtype=np.int64)

        def add(self, keys, vals):
            self.d.update(zip(keys.tolist(), vals.tolist()))

    per = args.chunk
    chunks = -(-args.keys // per)
    # CBMS case ids (28 digits here) rise through the file, as PSA's files are sorted by area
    ids = [np.char.zfill(np.arange(c * per, min((c + 1) * per, args.keys)).astype("S12"), 28).astype("S28")
           for c in range(chunks)]
    peers = {"migdata _Registry": _Registry, "one sorted array (np.insert)": OneArray}
    if args.dict:
        peers["Python dict"] = Dict
    results = {}
    for name, cls in peers.items():
        reg = cls()
        t, cpu = time.perf_counter(), time.process_time()
        found = 0
        for c, k in enumerate(ids):
            found += int((reg.lookup(k) >= 0).sum())
            reg.add(k, np.arange(c * per, c * per + len(k), dtype=np.int64))
        last = reg.lookup(ids[0])  # the first chunk's ids, found at the end
        dt = time.perf_counter() - t
        results[name] = last
        say(f"  {name}: {args.keys:,} ids in {chunks:,} chunks: {dt:.1f} s (CPU {time.process_time() - cpu:.1f} s), "
            f"{found} found again (0 expected); peak RSS {rss_gb():.2f} GB; load {load()}")
        del reg
    first = next(iter(results.values()))
    assert all((v == first).all() for v in results.values()) and (first == np.arange(len(first))).all()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("store")
    a.add_argument("--persons", type=int, default=16_200_000)
    a.add_argument("--region", default="0400000000", help="a region code, or PH for the country")
    a.add_argument("--seed", type=int, default=2022)
    a.add_argument("--out", required=True)
    for name in ("catalogue", "distributed"):
        a = sub.add_parser(name)
        a.add_argument("--store", required=True)
        a.add_argument("--level", default="barangay")
        a.add_argument("--repeat", type=int, default=1)
        if name == "catalogue":
            a.add_argument("--duckdb", action="store_true")
            a.add_argument("--area", default=None, help="with --parquet: only this area's partitions")
            a.add_argument("--parquet", default=None,
                           help="write the catalogue one indicator at a time to this Parquet file "
                                "(instead of the table in memory)")
            a.add_argument("--in-memory", action="store_true")
        else:
            a.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    a = sub.add_parser("cells11")
    a.add_argument("--store", required=True)
    a.add_argument("--repeat", type=int, default=1)
    a = sub.add_parser("report")
    a.add_argument("--store", required=True)
    a.add_argument("--area", default="0403400000")
    a.add_argument("--html", default=None)
    a.add_argument("--in-memory", action="store_true")
    a = sub.add_parser("registry")
    a.add_argument("--keys", type=int, default=27_500_000)
    a.add_argument("--chunk", type=int, default=30_500)
    a.add_argument("--dict", action="store_true")
    a = sub.add_parser("import")
    a.add_argument("--layout", choices=["lfs", "cbms"], default="lfs")
    a.add_argument("--persons", type=int, default=1_000_000)
    a.add_argument("--region", default=None)
    a.add_argument("--compression", choices=["zstd", "gzip"], default=None)
    a.add_argument("--generators", type=int, default=1, help="processes writing the CBMS file (parts joined)")
    a.add_argument("--workdir", required=True)
    a.add_argument("--chunk-mb", type=int, default=256)
    a.add_argument("--workers", type=int, default=2, help="processes preparing chunks (0: none)")
    a.add_argument("--repeat", type=int, default=1)
    a.add_argument("--in-memory", action="store_true")
    args = ap.parse_args(argv)
    say(f"bench_scale {args.cmd}: {json.dumps({k: v for k, v in vars(args).items() if k != 'cmd'})}")
    {"store": store, "catalogue": catalogue, "distributed": distributed, "report": report,
     "import": import_, "cells11": cells11, "registry": registry}[args.cmd](args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
