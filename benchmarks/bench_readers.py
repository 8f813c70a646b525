"""Benchmark of the CSV, SPSS, Kobo JSON and IPUMS readers against their plain-library peers.

Each case runs in its own subprocess so that peak memory (ru_maxrss) belongs to that case alone;
the peer runs in the same subprocess right after migdata's reader on the same file, and the
script prints both times and the ratio.

- csv:  a seeded flat person file (12 columns, ids with leading zeros, text, blanks), read by
        ``migdata.readers.tabular.read_csv`` vs ``pandas.read_csv(dtype=str, keep_default_na=False)``
        (what the reader promises to return; the peer detects nothing and reports nothing).
- sav:  the same persons written with pyreadstat (value labels, user-missing 98/99), read by
        ``migdata.readers.stats.read_spss`` vs ``pyreadstat.read_sav(user_missing=True)``.
- kobo: seeded Kobo JSON submissions (one household, 1-8 members each, a select_multiple), read
        by ``migdata.readers.kobo.read_kobo_json`` vs ``pandas.json_normalize`` of the main level
        plus the member lists (flattening only; no links, names or indicators).
- ipums: the real hierarchical extract ``cps_00421`` (339,278 lines) read by
        ``migdata.readers.ipums`` vs ``ipumspy.readers.read_hierarchical_microdata``.

Usage:
    python benchmarks/bench_readers.py --n 200000                       # quick
    flock /tmp/migdata-bench.lock python benchmarks/bench_readers.py --n 1000000 --cases csv,sav,kobo,ipums
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
REALDATA = Path(os.environ.get("MIGDATA_REALDATA", ROOT.parent / "shared" / "realdata"))


def generate_persons(n: int, seed: int = 20240501) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    size = rng.integers(1, 9, n // 4 + 1)
    hh = np.repeat(np.arange(1, len(size) + 1), size)[:n]
    line = np.concatenate([np.arange(1, s + 1) for s in size])[:n]
    brgy = rng.integers(0, 3993, len(size))[hh - 1]
    return pd.DataFrame({
        "hh_no": [f"{h:07d}" for h in hh],
        "barangay_psgc": [f"04{b:08d}" for b in brgy],
        "member_no": line,
        "sex": rng.choice(["M", "F"], n),
        "age": rng.integers(0, 95, n),
        "relationship": rng.integers(1, 9, n),
        "marital": rng.choice(["S", "M", "L", "W", "SEP"], n),
        "ofw_status": rng.choice([0, 0, 0, 0, 0, 0, 1, 2, 3, 9], n),
        "country": rng.choice(["", "", "", "SAU", "ARE", "QAT", "JPN", "USA"], n),
        "months_abroad": rng.choice([0, 6, 12, 30, 98], n),
        "cash_from_abroad": rng.integers(0, 300000, n),
        "remarks": rng.choice(["", "nanay sa Dubai", "seaman", "balikbayan; returned 2023"], n),
    })


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def case_csv(n: int, tmp: Path) -> dict:
    from migdata.readers import tabular

    path = tmp / "persons.csv"
    generate_persons(n).to_csv(path, index=False)
    base = _rss_mb()
    t_m, (tables, cb) = _timed(lambda: tabular.read_csv(path))
    rss_m = _rss_mb()
    del tables
    t_p, df = _timed(lambda: pd.read_csv(path, dtype=str, keep_default_na=False))
    return {"rows": len(df), "migdata_s": t_m, "peer_s": t_p, "peer": "pandas.read_csv(dtype=str)",
            "peak_rss_mb_migdata": rss_m, "rss_before_mb": base}


def case_sav(n: int, tmp: Path) -> dict:
    import pyreadstat

    from migdata.readers import stats

    df = generate_persons(n)
    num = df[["member_no", "age", "relationship", "ofw_status", "months_abroad", "cash_from_abroad"]].astype(float)
    num["sex"] = (df["sex"] == "F").astype(float) + 1
    num["hh_no"] = df["hh_no"]
    path = tmp / "persons.sav"
    pyreadstat.write_sav(num, str(path), variable_value_labels={"sex": {1: "Male", 2: "Female"}},
                         missing_ranges={"months_abroad": [98], "ofw_status": [9]})
    base = _rss_mb()
    t_m, (tables, cb) = _timed(lambda: stats.read_spss(path))
    rss_m = _rss_mb()
    del tables
    t_p, (d, m) = _timed(lambda: pyreadstat.read_sav(str(path), user_missing=True))
    return {"rows": len(d), "migdata_s": t_m, "peer_s": t_p, "peer": "pyreadstat.read_sav(user_missing=True)",
            "peak_rss_mb_migdata": rss_m, "rss_before_mb": base}


def case_kobo(n: int, tmp: Path) -> dict:
    from migdata.readers import kobo

    persons = generate_persons(n)
    rng = np.random.default_rng(7)
    subs = []
    for h, g in persons.groupby("hh_no", sort=False):
        subs.append({
            "_id": int(h), "_uuid": f"uuid-{h}", "hh/barangay": g["barangay_psgc"].iat[0],
            "hh/respondent_name": "Juan dela Cruz",
            "remit_uses": " ".join(rng.choice(["food", "school", "house", "business"], 2, replace=False)),
            "_geolocation": [14.27, 121.41],
            "hh/members": [{"hh/members/age": str(a), "hh/members/sex": s}
                           for a, s in zip(g["age"], g["sex"])],
        })
    path = tmp / "subs.json"
    path.write_text(json.dumps(subs))
    form = {"survey": [
        {"type": "begin_group", "name": "hh"}, {"type": "text", "name": "barangay"},
        {"type": "text", "name": "respondent_name"},
        {"type": "begin_repeat", "name": "members"}, {"type": "integer", "name": "age"},
        {"type": "select_one sex", "name": "sex"}, {"type": "end_repeat"}, {"type": "end_group"},
        {"type": "select_multiple uses", "name": "remit_uses"}],
        "choices": [{"list_name": "uses", "name": c, "label": c} for c in ("food", "school", "house", "business")]}
    base = _rss_mb()
    t_m, (tables, cb) = _timed(lambda: kobo.read_kobo_json(path, form=form))
    rss_m = _rss_mb()
    n_members = len(tables["members"])
    del tables

    def peer():
        data = json.loads(path.read_text())
        main = pd.json_normalize(data, max_level=0)
        mem = pd.json_normalize(data, record_path="hh/members", meta=["_id"])
        return main, mem

    t_p, (main, mem) = _timed(peer)
    assert len(mem) == n_members
    return {"rows": f"{len(main)} submissions, {len(mem)} members", "migdata_s": t_m, "peer_s": t_p,
            "peer": "pandas.json_normalize", "peak_rss_mb_migdata": rss_m, "rss_before_mb": base}


def case_ipums(n: int, tmp: Path) -> dict:
    from ipumspy import readers

    from migdata.readers import ipums

    ddi_path = REALDATA / "ipums" / "cps_00421.xml"
    if not ddi_path.exists():
        return {"skipped": f"{ddi_path} absent"}
    base = _rss_mb()
    t_m, (tables, cb) = _timed(lambda: ipums.read(ddi_path))
    rss_m = _rss_mb()
    rows = f"{len(tables['household'])} H + {cb.report.counts['person']['read']} P lines"
    del tables
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ddi = readers.read_ipums_ddi(str(ddi_path))
        t_p, _ = _timed(lambda: readers.read_hierarchical_microdata(ddi, str(ddi_path.with_suffix(".dat.gz"))))
    return {"rows": rows, "migdata_s": t_m, "peer_s": t_p, "peer": "ipumspy.read_hierarchical_microdata",
            "peak_rss_mb_migdata": rss_m, "rss_before_mb": base}


CASES = {"csv": case_csv, "sav": case_sav, "kobo": case_kobo, "ipums": case_ipums}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200_000, help="persons (csv, sav, kobo)")
    ap.add_argument("--cases", default="csv,sav,kobo,ipums")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        with tempfile.TemporaryDirectory() as td:
            print(json.dumps(CASES[args.one](args.n, Path(td))))
        return
    print(f"python {sys.version.split()[0]}, pandas {pd.__version__}, cpus {os.cpu_count()}")
    for name in args.cases.split(","):
        r = subprocess.run([sys.executable, __file__, "--n", str(args.n), "--one", name],
                           capture_output=True, text=True)
        if r.returncode != 0:
            print(f"{name}: FAILED\n{r.stderr[-2000:]}")
            continue
        res = json.loads(r.stdout.strip().splitlines()[-1])
        if "skipped" in res:
            print(f"{name}: skipped ({res['skipped']})")
            continue
        print(f"{name:6s} rows={res['rows']}  migdata {res['migdata_s']:.2f} s  "
              f"{res['peer']} {res['peer_s']:.2f} s  ratio {res['migdata_s'] / res['peer_s']:.2f}  "
              f"peak RSS after migdata {res['peak_rss_mb_migdata']:.0f} MB (before {res['rss_before_mb']:.0f} MB)")


if __name__ == "__main__":
    main()
