"""Benchmarks of the demo pipeline and of the migration profile report.

``demo``: ``migdata demo`` on the bundled sample (or the seeded 3,000-household sample when the
checkout has no ``sample_data/``), timed step by step from its progress messages.

``province``: a province report (Laguna, 0403400000) from a CALABARZON-scale dataset store made
by the indicator benchmark's seeded generator (``bench_indicators.generate``: the real 3,993
barangays, households allocated by 2020 population). In the same process, the peer: Jupyter's
own ``jupyter nbconvert --execute --to html --no-input`` on the same notebook with the same
parameters (papermill-injected), i.e. what a user would run without migdata's runner.

``maps``: the same province report with and without its maps (the notebook's ``area_maps``
parameter: the choropleths and sorted bars of the areas one level down), alternating in the
same process on the same store, ``--repeat`` times each; medians, every run and the load
average. The machine is shared, so beside wall time each run records its CPU time (this
process and the notebook kernel it started and reaped: ``RUSAGE_SELF`` + ``RUSAGE_CHILDREN``
differences) and the wall time of the maps' own cell (papermill's cell durations).

Peak memory: this process (RSS) and the notebook kernels it started (``RUSAGE_CHILDREN``).

Usage:
    python benchmarks/bench_report.py demo
    python benchmarks/bench_report.py province --persons 1000000
    flock /tmp/migdata-bench.lock python benchmarks/bench_report.py province --persons 16200000
    flock /tmp/migdata-bench.lock python benchmarks/bench_report.py maps --persons 16200000 --repeat 3
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def peak_gb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024 ** 2


class KernelPeak:
    """Highest VmHWM of this process's child processes (the notebook kernels), polled from /proc.

    ``RUSAGE_CHILDREN`` cannot be used here: a child started with vfork/exec inherits the
    parent's RSS high-water mark, so after generating a large store in this process it reports
    the generator's peak, not the kernel's."""

    def __init__(self) -> None:
        import threading

        self.peak_kb = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import os

        me = str(os.getpid())
        while not self._stop.wait(0.5):
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    text = Path(f"/proc/{pid}/status").read_text()
                except OSError:
                    continue
                fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
                if fields.get("PPid", "").strip() == me and "VmHWM" in fields:
                    self.peak_kb = max(self.peak_kb, int(fields["VmHWM"].split()[0]))

    def __enter__(self) -> "KernelPeak":
        self._t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()

    @property
    def gb(self) -> float:
        return self.peak_kb / 1024 ** 2


def bench_demo(args: argparse.Namespace) -> None:
    from migdata.demo import run_demo

    out = Path(tempfile.mkdtemp(prefix="migdata-bench-demo-"))
    marks: list[tuple[float, str]] = []
    t0 = time.perf_counter()

    def progress(msg: str) -> None:
        marks.append((time.perf_counter() - t0, msg))

    with KernelPeak() as kp:
        files = run_demo(out, progress=progress)
    total = time.perf_counter() - t0
    steps = [(t, m) for t, m in marks if m.startswith("[")]
    for (t, m), nxt in zip(steps, [*steps[1:], (total, "end")]):
        print(f"  {nxt[0] - t:6.1f} s  {m}")
    print(f"migdata demo: {total:.1f} s, {len(files)} files; peak RSS {peak_gb(resource.RUSAGE_SELF):.2f} GB, "
          f"kernels {kp.gb:.2f} GB")
    shutil.rmtree(out, ignore_errors=True)


def _store(args: argparse.Namespace) -> tuple[Path, Path]:
    """The benchmark's dataset store (generated unless ``--workdir`` already holds one)."""
    from bench_indicators import generate

    work = Path(args.workdir or tempfile.mkdtemp(prefix="migdata-bench-report-"))
    store = work / "store"
    if not (store / "manifest.json").exists():
        t0 = time.perf_counter()
        data = generate(args.persons, args.seed)
        data.provenance.design = data.spec.replace(complete_count=True)
        data.provenance.sources = data.provenance.sources or ["bench_generator"]
        data.save(store, force=True)
        print(f"generated {len(data.persons):,} persons, {len(data.households):,} households in "
              f"{time.perf_counter() - t0:.1f} s", flush=True)
        del data
    return work, store


def bench_province(args: argparse.Namespace) -> None:
    from migdata.report import notebook_path, render_report

    work, store = _store(args)
    t0 = time.perf_counter()
    with KernelPeak() as kp:
        html = render_report(store, args.area, work / "report.html")
    t_ours = time.perf_counter() - t0
    print(f"migdata render_report {args.area}: {t_ours:.1f} s, {html.stat().st_size / 1e6:.2f} MB; "
          f"peak RSS {peak_gb(resource.RUSAGE_SELF):.2f} GB (includes generating the store), "
          f"kernel {kp.gb:.2f} GB", flush=True)
    if args.no_peer:
        return
    # Peer: nbconvert executes the same notebook (parameters injected by papermill without
    # running it) and exports HTML without input.
    import papermill as pm

    nb_in = work / "peer_in.ipynb"
    pm.execute_notebook(str(notebook_path("03_migration_profile.ipynb")), str(nb_in),
                        parameters={"dataset": str(store), "area": args.area,
                                    "output_dir": str(work / "peer_files")},
                        prepare_only=True, progress_bar=False)
    t0 = time.perf_counter()
    env = {"PYTHONPATH": str(ROOT), "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"}
    subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--execute", "--to", "html",
                    "--no-input", "--ExecutePreprocessor.timeout=1800", "--output", "peer.html",
                    str(nb_in)], check=True, cwd=work, env=env, capture_output=True)
    t_peer = time.perf_counter() - t0
    print(f"peer jupyter nbconvert --execute --no-input: {t_peer:.1f} s; ratio migdata/peer {t_ours / t_peer:.2f}")
    if not args.keep and args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)


def bench_maps(args: argparse.Namespace) -> None:
    """A province report with and without its maps, alternating, same store, same process."""
    import os
    import statistics

    from migdata.report import PROFILE_NOTEBOOK, run_notebook, to_html

    work, store = _store(args)

    def cpu() -> float:
        return sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
                   for f in ("ru_utime", "ru_stime"))

    def render(with_maps: bool, i: int) -> tuple[float, float, float]:
        """Wall and CPU seconds of one report, and the wall seconds of its maps' cell."""
        files = work / f"{'maps' if with_maps else 'nomaps'}{i}_files"
        files.mkdir(parents=True, exist_ok=True)
        t0, c0 = time.perf_counter(), cpu()
        nb = run_notebook(PROFILE_NOTEBOOK, {"dataset": str(store), "area": args.area, "output_dir": str(files),
                                             "area_maps": with_maps}, cwd=files)
        to_html(nb, work / f"{files.name[:-6]}.html", title="bench")
        cell = sum(c.metadata.get("papermill", {}).get("duration") or 0.0 for c in nb.cells
                   if "MAPPED = " in c.source)
        return time.perf_counter() - t0, cpu() - c0, cell

    runs: dict[bool, list[tuple[float, float, float]]] = {True: [], False: []}
    loads = [os.getloadavg()[0]]
    for i in range(args.repeat):
        for flag in ((True, False) if i % 2 == 0 else (False, True)):   # alternate which runs first
            runs[flag].append(render(flag, i))
            loads.append(os.getloadavg()[0])
            wall, cpu_s, cell = runs[flag][-1]
            print(f"  run {i + 1} {'with' if flag else 'without'} maps: {wall:.1f} s wall, {cpu_s:.1f} s CPU, "
                  f"maps cell {cell:.1f} s (load {loads[-1]:.1f})", flush=True)

    def med(flag: bool, j: int) -> float:
        return statistics.median(r[j] for r in runs[flag])

    def every(flag: bool, j: int) -> list[float]:
        return [round(r[j], 1) for r in runs[flag]]

    print(f"province report {args.area}: with maps median {med(True, 0):.1f} s wall {every(True, 0)}, "
          f"{med(True, 1):.1f} s CPU {every(True, 1)}, maps cell {med(True, 2):.1f} s; "
          f"without maps median {med(False, 0):.1f} s wall {every(False, 0)}, {med(False, 1):.1f} s CPU "
          f"{every(False, 1)}; ratio wall {med(True, 0) / med(False, 0):.3f}, CPU {med(True, 1) / med(False, 1):.3f}; "
          f"load average (1 min) {min(loads):.1f}-{max(loads):.1f}")
    if not args.keep and args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="what", required=True)
    sub.add_parser("demo")
    p = sub.add_parser("province")
    p.add_argument("--persons", type=int, default=16_200_000)
    p.add_argument("--seed", type=int, default=2022)
    p.add_argument("--area", default="0403400000")
    p.add_argument("--workdir", default=None)
    p.add_argument("--keep", action="store_true")
    p.add_argument("--no-peer", action="store_true")
    m = sub.add_parser("maps")
    m.add_argument("--persons", type=int, default=16_200_000)
    m.add_argument("--seed", type=int, default=2022)
    m.add_argument("--area", default="0403400000")
    m.add_argument("--workdir", default=None)
    m.add_argument("--keep", action="store_true")
    m.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    {"demo": bench_demo, "province": bench_province, "maps": bench_maps}[args.what](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
