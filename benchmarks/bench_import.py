"""Benchmark: CSPro import end to end (read + map + validate + save), reload, and pandas.read_fwf.

A seeded generator writes a fixed-width file in the PSA LFS PUF layout (the real
``LFS_PUF_December_2022.dcf`` when ``../shared/realdata`` has it, else a bundled dictionary with
the same positions for every item the ``lfs_puf_2022`` profile uses). Lines have trailing
blanks trimmed, as CSPro writes them. Values are drawn from each item's value set; the
household structure (region, household number, line numbers, ages, OF status, labour-force
status, PSUs, weights) is generated consistently so validation has real work and finds nothing.
16.2 M persons are about 3.5 M households, more than the LFS case id PUFREG+PUFHHNUM can number
(17 x 99,999), so the benchmark's copy of the dictionary lists PUFPSU among the ID items (same
byte positions) and households are numbered within PSUs.

Not a test: figures go to ``benchmarks/results/import.md``. Full scale (16.2 M persons, about
1.5 GB) must run under the shared lock:

    flock /tmp/migdata-bench.lock python benchmarks/bench_import.py --persons 16200000

``pandas.read_fwf`` on the full file would need more memory than the 6 GB target allows
(42 int64 columns); it runs on the first ``--fwf-lines`` lines, and our reader runs on the same
slice in the same process, so the ratio is like for like; the full-file read_fwf time is an
extrapolation and is labelled as such.
"""

from __future__ import annotations

import argparse
import gc
import os
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

from migdata.readers.cspro import CsproDictionary, read_dictionary  # noqa: E402

REAL_DCF = (Path(os.environ.get("MIGDATA_REALDATA", ROOT.parent / "shared" / "realdata"))
            / "ph" / "lfs" / "LFS_PUF_December_2022.dcf")

# Positions of the real LFS PUF items (from the December 2022 dictionary), used when it is absent.
BUNDLED = [("PUFREG", 2, 2, 0), ("PUFHHNUM", 4, 5, 0), None, ("PUFURB2015", 9, 1, 0),
           ("PUFPWGTPRV", 10, 10, 4), ("PUFSVYMO", 20, 2, 0), ("PUFSVYYR", 22, 4, 0),
           ("PUFPSU", 26, 5, 0), ("PUFRPL", 31, 3, 0), ("PUFHHSIZE", 34, 2, 0),
           ("PUFC01_LNO", 36, 2, 0), ("PUFC03_REL", 38, 2, 0), ("PUFC04_SEX", 40, 1, 0),
           ("PUFC05_AGE", 41, 2, 0), ("PUFC06_MSTAT", 43, 1, 0), ("PUFC07_GRADE", 44, 5, 0),
           ("PUFC08_CONWR", 49, 1, 0), ("PUFFILLER", 50, 17, 0), ("PUFC19_PWMORE", 67, 1, 0),
           ("PUFFILLER2", 68, 25, 0), ("PUFNEWEMPSTAT", 93, 1, 0)]


def psu_as_id(dcf_text: str) -> str:
    """Move the PUFPSU item into the ID items. Positions (so the bytes of every line) do not
    change; the case id becomes PUFREG+PUFHHNUM+PUFPSU, which can number the 3.5 M households
    of the benchmark (PUFREG+PUFHHNUM, 5 digits, holds at most 17 x 99,999)."""
    lines = dcf_text.replace("\r\n", "\n").split("\n")
    blocks, cur = [], []
    for ln in lines:
        if ln.startswith("[") and cur:
            blocks.append(cur)
            cur = []
        cur.append(ln)
    blocks.append(cur)
    psu = [b for b in blocks if b[0] == "[Item]" and "Name=PUFPSU" in b]
    assert len(psu) == 1, "PUFPSU item not found"
    i_psu = blocks.index(psu[0])
    psu_blocks = [blocks[i_psu]]
    j = i_psu + 1
    while j < len(blocks) and blocks[j][0] == "[ValueSet]":
        psu_blocks.append(blocks[j])
        j += 1
    rest = blocks[:i_psu] + blocks[j:]
    first_record = next(k for k, b in enumerate(rest) if b[0] == "[Record]")
    out = rest[:first_record] + psu_blocks + rest[first_record:]
    return "\n".join(ln for b in out for ln in b)


def bundled_dictionary() -> str:
    out = ["[Dictionary]", "Name=LFS_BENCH", "RecordTypeStart=1", "RecordTypeLen=1", "ZeroFill=Yes",
           "DecimalChar=No", "", "[Level]", "Name=QUEST", "", "[IdItems]", ""]
    for spec in BUNDLED:
        if spec is None:
            out += ["[Record]", "Name=HHMEM", "RecordTypeValue='2'", "Required=No", "MaxRecords=35", ""]
            continue
        name, start, length, dec = spec
        kind = "Alpha" if name.startswith("PUFFILLER") else "Numeric"  # the items the profile does not use
        out += ["[Item]", f"Name={name}", f"Start={start}", f"Len={length}", f"DataType={kind}"]
        if dec:
            out.append(f"Decimal={dec}")
        out.append("")
    return "\n".join(out)


def _digits(v: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded ASCII digits of non-negative integers, shape (n, width)."""
    p = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return ((v[:, None] // p[None, :]) % 10 + 48).astype(np.uint8)


def generate(path: Path, d: CsproDictionary, persons: int, seed: int = 20221201,
             chunk: int = 1_000_000) -> tuple[int, int]:
    """Write ``persons`` person lines; returns (households, bytes)."""
    rng = np.random.default_rng(seed)
    rec = d.records[0]
    width = max(it.end for it in d.items())
    # household sizes 1..12 (mean about 4), drawn until the person count is reached
    sizes = rng.choice(np.arange(1, 13), size=persons // 2,
                       p=np.array([6, 11, 17, 19, 16, 11, 8, 5, 3, 2, 1, 1]) / 100)
    cut = np.searchsorted(np.cumsum(sizes), persons)
    sizes = sizes[:cut + 1]
    sizes[-1] -= sizes.sum() - persons
    sizes = sizes[sizes > 0]
    n_hh = len(sizes)
    region = rng.choice([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17], size=n_hh)
    order = np.argsort(region, kind="stable")
    region, sizes = region[order], sizes[order]
    # PSUs of 8 households numbered within region, households numbered within PSU: the LFS
    # key PUFREG+PUFHHNUM (5 digits) holds at most 17 x 99,999 households, fewer than 16.2 M
    # persons need, so the benchmark keys cases by PUFREG+PUFPSU+PUFHHNUM (see psu_as_id).
    within = np.arange(n_hh) - np.searchsorted(region, region)
    psu = within // 8 + 1
    hhnum = within % 8 + 1
    urban = np.where(rng.random(n_hh) < 0.5, 1, 2)
    hh_of_person = np.repeat(np.arange(n_hh), sizes)
    first = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    line = np.arange(persons) - np.repeat(first, sizes) + 1
    total = 0
    with open(path, "wb") as f:
        f.write(b"\xef\xbb\xbf")
        for c0 in range(0, persons, chunk):
            c1 = min(c0 + chunk, persons)
            n = c1 - c0
            h = hh_of_person[c0:c1]
            ln = line[c0:c1]
            M = np.full((n, width + 1), 32, dtype=np.uint8)
            M[:, d.record_type_start - 1] = ord(rec.type_value)
            age = np.where(ln == 1, rng.integers(20, 90, n), rng.integers(0, 99, n))
            conwr = np.where(rng.random(n) < 0.03, rng.integers(1, 5, n), 5)
            emp = rng.choice([1, 2, 3], size=n, p=[0.62, 0.03, 0.35])
            values = {
                "PUFREG": region[h], "PUFHHNUM": hhnum[h], "PUFPSU": psu[h],
                "PUFHHSIZE": np.minimum(sizes[h], 99), "PUFC01_LNO": ln,
                "PUFC03_REL": np.where(ln == 1, 1, rng.integers(2, 12, n)),
                "PUFC05_AGE": age, "PUFPWGTPRV": rng.integers(1_000_000, 40_000_000, n),
                "PUFSVYMO": np.full(n, 12), "PUFSVYYR": np.full(n, 2022),
                "PUFC04_SEX": rng.integers(1, 3, n), "PUFC06_MSTAT": rng.integers(1, 7, n),
                "PUFURB2015": urban[h],
            }
            for it in rec.items + d.id_items:
                if it.item_type == "subitem" or not it.numeric:
                    continue  # alpha items stay blank
                if it.name in values:
                    v = values[it.name]
                else:
                    vs = it.value_set
                    codes = [x.low for x in vs.values if not x.is_range and isinstance(x.low, int)] if vs else []
                    if codes:
                        v = rng.choice(codes, size=n)
                    else:
                        v = rng.integers(0, min(10 ** it.length, 10 ** 9), n)
                blank = np.zeros(n, dtype=bool)
                if it.name == "PUFC08_CONWR":
                    v, blank = conwr, age < 15
                elif it.name == "PUFNEWEMPSTAT":
                    v, blank = emp, (age < 15) | (conwr < 5)
                elif it.name == "PUFC19_PWMORE":  # want more hours: asked of the employed
                    v, blank = rng.integers(1, 3, n), (age < 15) | (conwr < 5) | (emp != 1)
                elif it.name not in values and it.start > 52:
                    blank = rng.random(n) < 0.3  # later items are skipped for many persons
                s = it.start - 1
                digs = _digits(np.asarray(v, dtype=np.int64) % 10 ** it.length, it.length)
                digs[blank] = 32
                M[:, s:s + it.length] = digs
            # trim trailing blanks, as CSPro does, then end each line with '\n'
            nonblank = M[:, :width] != 32
            length = width - np.argmax(nonblank[:, ::-1], axis=1)
            M[np.arange(n), length] = 10
            keep = np.arange(width + 1)[None, :] <= length[:, None]
            data = M[keep].tobytes()
            f.write(data)
            total += len(data)
    return n_hh, total + 3


def bench_profile():
    """The shipped lfs_puf_2022 profile with households keyed by round+PUFREG+PUFPSU+PUFHHNUM
    (see :func:`generate`); everything else unchanged."""
    from migdata.profiles import load_profile
    from migdata.profiles.engine import parse_profile

    path = load_profile("lfs_puf_2022").path
    text = Path(path).read_text(encoding="utf-8")
    old = '["PUFSVYYR", "PUFSVYMO", "PUFREG", "PUFHHNUM"]'
    assert text.count(old) == 3, "the shipped profile changed; update the benchmark"
    text = text.replace(old, '["PUFSVYYR", "PUFSVYMO", "PUFREG", "PUFPSU", "PUFHHNUM"]')
    return parse_profile(text, path)


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--persons", type=int, default=1_000_000)
    ap.add_argument("--fwf-lines", type=int, default=1_000_000)
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--keep", action="store_true", help="keep the generated file and store")
    ap.add_argument("--bundled", action="store_true", help="use the bundled layout even if the real .dcf exists")
    ap.add_argument("--generate-only", action="store_true",
                    help="only write the file (run in a child process so that its memory does not "
                         "count in the import's peak)")
    args = ap.parse_args(argv)

    from migdata.importer import read_raw
    from migdata.model.data import HouseholdData, load
    from migdata.model.report import ImportReport
    from migdata.model.validate import validate
    from migdata.profiles.engine import apply_profile
    from migdata.readers.cspro import read_cspro

    work = Path(args.workdir or tempfile.mkdtemp(prefix="migdata-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    if REAL_DCF.is_file() and not args.bundled:
        dcf_text, layout = REAL_DCF.read_text(encoding="utf-8-sig"), f"real {REAL_DCF.name}"
    else:
        dcf_text, layout = bundled_dictionary(), "bundled LFS-equivalent layout"
    dcf = work / "lfs_bench.dcf"
    dcf.write_text(psu_as_id(dcf_text), encoding="utf-8")
    d = read_dictionary(dcf)
    dat = work / "lfs_bench.dat"
    if args.generate_only:
        t = time.perf_counter()
        n_hh, nbytes = generate(dat, d, args.persons)
        print(f"layout: {layout}; generated {args.persons:,} persons, {n_hh:,} households, "
              f"{nbytes / 1e6:,.0f} MB in {time.perf_counter() - t:.1f} s", flush=True)
        return 0
    if not dat.exists():
        import subprocess
        subprocess.run([sys.executable, __file__, "--generate-only", "--persons", str(args.persons),
                        "--workdir", str(work)] + (["--bundled"] if args.bundled else []), check=True)
    nbytes = dat.stat().st_size

    prof = bench_profile()
    gc.collect()
    times: dict[str, float] = {}

    def done(stage: str, since: float) -> None:
        times[stage] = time.perf_counter() - since
        print(f"  {stage:<11}{times[stage]:8.2f} s   peak RSS so far {peak_rss_gb():.2f} GB", flush=True)

    t0 = time.perf_counter()
    report = ImportReport()
    raw, cb = read_raw([dat, dcf], prof, report)
    done("read", t0)
    t = time.perf_counter()
    tidy = apply_profile(prof, raw, cb, report)
    del raw
    done("map", t)
    t = time.perf_counter()
    data = validate(HouseholdData(tidy, codebook=cb.to_frame(), provenance={"sources": [prof.name]},
                                  report=report))
    del tidy
    done("validate", t)
    t = time.perf_counter()
    store = data.save(work / "store", force=True)
    done("save", t)
    times["end_to_end"] = time.perf_counter() - t0
    n_p, n_h, n_prob = len(data.persons), len(data.households), len(data.report.problems)
    del data
    gc.collect()
    peak_import = peak_rss_gb()
    t = time.perf_counter()
    back = load(store)
    done("reload", t)
    assert len(back.persons) == n_p
    assert n_prob == 0, "the generated file should import without problems"
    del back
    gc.collect()
    mbps = nbytes / 1e6 / times["end_to_end"]
    rm = nbytes / 1e6 / (times["read"] + times["map"])
    print(f"persons {n_p:,}, households {n_h:,}, problems {n_prob}", flush=True)
    print(f"  end to end {times['end_to_end']:.1f} s = {mbps:,.0f} MB/s (read + map alone {rm:,.0f} MB/s); "
          f"peak RSS after import {peak_import:.2f} GB", flush=True)

    # like-for-like slice: our reader vs pandas.read_fwf on the first --fwf-lines lines
    k = min(args.fwf_lines, args.persons)
    sl = work / "slice.dat"
    with open(dat, "rb") as src, open(sl, "wb") as out:
        for i, lnb in enumerate(src):
            if i >= k:
                break
            out.write(lnb)
    slice_mb = sl.stat().st_size / 1e6
    t = time.perf_counter()
    read_cspro(sl, d)
    t_ours = time.perf_counter() - t
    items = [it for it in d.items() if it.item_type != "subitem"]
    t = time.perf_counter()
    ref = pd.read_fwf(sl, colspecs=[(it.start - 1, it.end) for it in items],
                      names=[it.name for it in items], header=None, encoding="utf-8-sig")
    t_fwf = time.perf_counter() - t
    assert len(ref) == k
    ratio = t_fwf / t_ours
    print(f"slice {k:,} lines ({slice_mb:,.0f} MB): read_cspro {t_ours:.2f} s, "
          f"pandas.read_fwf {t_fwf:.2f} s, ratio {ratio:.1f}x; read_fwf on the full file "
          f"extrapolated {t_fwf * nbytes / 1e6 / slice_mb:,.0f} s", flush=True)
    print(f"peak RSS overall {peak_rss_gb():.2f} GB")
    if not args.keep and args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
