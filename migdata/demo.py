"""The one-command demo: bundled sample data → import → dataset store → indicator workbook →
migration profile reports for the region and one province.

``migdata demo`` calls :func:`run_demo`. It uses the repository's ``sample_data/`` when it is
there; an installed migdata without that folder generates the same seeded sample first
(:func:`migdata.sample.generate`), so the demo works the same from a checkout and a wheel.

Example:
    >>> from migdata.demo import run_demo
    >>> files = run_demo("migdata-demo")          # doctest: +SKIP
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from migdata.errors import MigdataError

REGION = "0400000000"  # CALABARZON
PROVINCE = "0403400000"  # Laguna
CBMS_PROFILE = "cbms_2022_hpq"
SAMPLE_HOUSEHOLDS = 1200  # the bundled sample_data (sample_data/README.md)
SAMPLE_SEED = 2022

Progress = Callable[[str], None]
#: Other bundled files imported when their profile exists: (file pattern, profile, store name).
EXTRA_IMPORTS = [("kobo/cbms_migration_rider.xlsx", "kobo_cbms_rider", "store_rider"),
                 ("kobo/overseas_filipino_survey.xlsx", "kobo_of_survey", "store_of_survey"),
                 ("kobo/children_left_behind_survey.xlsx", "kobo_clb_survey", "store_clb_survey"),
                 ("*.sav", "sample_survey", "store_survey")]


def sample_dir() -> Path | None:
    """The bundled ``sample_data/`` folder of a checkout, or None when it is absent."""
    p = Path(__file__).resolve().parents[1] / "sample_data"
    return p if any(p.glob("*.dat")) or any(p.glob("*.DAT")) else None


def ensure_sample(folder: str | Path | None = None, households: int = SAMPLE_HOUSEHOLDS,
                  seed: int = SAMPLE_SEED, progress: Progress = print) -> Path:
    """A folder of sample data: ``folder`` if it already holds a data file, else the bundled
    ``sample_data/`` of a checkout, else the seeded sample (with the dirty file in ``dirty/``)
    generated into ``folder`` (default ``./sample_data``).

    Example:
        >>> src = ensure_sample("/tmp/sample", households=300)   # doctest: +SKIP
    """
    out = Path(folder or "sample_data")
    if any(out.glob("*.dat")):
        return out
    bundled = sample_dir()
    if bundled is not None:
        return bundled
    try:
        from migdata.sample import generate
    except ImportError as exc:
        raise MigdataError("MD807", step="generate sample data", detail=str(exc)) from None
    progress(f"generating a sample of {households:,} households (seed {seed}) in {out}")
    generate(out, households=households, seed=seed, dirty=True)
    return out


def _cbms_files(folder: Path) -> list[Path]:
    """The CBMS fixed-width data file (and its dictionary, which the importer reads with it)."""
    dat = sorted([*folder.glob("*.dat"), *folder.glob("*.DAT")])
    if not dat:
        raise MigdataError("MD808", path=folder)
    dcf = sorted(folder.glob("*.dcf"))
    return [dat[0], *dcf[:1]]


def _extra_imports(src: Path, out: Path, progress: Progress) -> list[Path]:
    """Import the Kobo exports and the SPSS survey into their own stores, when the profile
    exists (a profile missing from this build is reported, not an error)."""
    from migdata.importer import import_files
    from migdata.profiles import list_profiles

    known = set(list_profiles()["name"])
    written = []
    for pattern, profile, name in EXTRA_IMPORTS:
        files = sorted(src.glob(pattern))
        if not files:
            continue
        if profile not in known:
            progress(f"      {files[0].name}: no {profile!r} profile in this build, not imported")
            continue
        data = import_files(files, profile)
        store = data.save(out / name, force=True)
        rows = ", ".join(f"{t} {len(df):,}" for t, df in data.tables.items())
        progress(f"      {files[0].name} ({profile}): {rows}; {len(data.report.problems):,} problem(s); "
                 f"saved to {store}")
        written.append(store / "manifest.json")
    return written


def _step(progress: Progress, n: int, total: int, text: str) -> float:
    progress(f"[{n}/{total}] {text}")
    return time.perf_counter()


def run_demo(out_dir: str | Path = "migdata-demo", progress: Progress = print,
             households: int = SAMPLE_HOUSEHOLDS, reports: bool = True,
             sample: str | Path | None = None, level: str = "city",
             by: tuple[str, ...] = ("sex",)) -> list[Path]:
    """Run the whole pipeline on the CALABARZON sample data into ``out_dir``; returns the
    files written (also listed at the end through ``progress``).

    Steps: (1) find or generate the sample data (``sample`` names a folder to use instead);
    (2) import the CBMS 2022 file with the ``cbms_2022_hpq`` profile and save the dataset store
    ``out_dir/store`` (the Kobo exports and the SPSS survey go to their own stores when their
    profiles exist); (3) compute the
    indicator catalogue by ``level`` (city/municipality) and ``by`` (sex; age groups are one
    argument away, but the workbook then takes three times longer to write) and write
    ``out_dir/indicators.xlsx``; (4) write the migration profile reports of the region and of
    Laguna province (``report_calabarzon.html``, ``report_laguna.html``), and of the region from
    the CBMS migration rider sample when it was imported (``report_calabarzon_rider.html``:
    uses of remittances and return migrants, which CBMS does not ask).

    Example:
        >>> run_demo("/tmp/demo", progress=lambda s: None)[-1].name  # doctest: +SKIP
        'report_laguna.html'
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    total = 4 if reports else 3
    t0 = time.perf_counter()

    _step(progress, 1, total, "Finding the sample data ...")
    bundled = sample_dir()
    if sample is not None:
        src = Path(sample)
        if not any(src.glob("*.dat")):
            raise MigdataError("MD808", path=src)
    elif bundled is not None:
        src = bundled
    else:
        src = ensure_sample(out / "sample_data", households=households,
                            progress=lambda s: progress(f"      {s}"))
        written += sorted(p for p in src.rglob("*") if p.is_file())
    progress(f"      using {src}")

    _step(progress, 2, total, f"Importing the CBMS 2022 file with the {CBMS_PROFILE!r} profile ...")
    try:
        from migdata.importer import import_files
    except ImportError as exc:
        raise MigdataError("MD807", step="import", detail=str(exc)) from None
    files = _cbms_files(src)
    data = import_files(files, CBMS_PROFILE)
    store = data.save(out / "store", force=True)
    counts = data.report.counts
    for table, c in counts.items():
        progress(f"      {table}: {c['read']:,} read, {c['kept']:,} kept, {c['rejected']:,} rejected")
    progress(f"      {len(data.report.problems):,} problem(s) in the import report; dataset saved to {store}")
    written.append(store / "manifest.json")
    del data
    written += _extra_imports(src, out, progress)

    _step(progress, 3, total, f"Computing indicators by {level}, {', '.join(by) or 'no disaggregation'} ...")
    try:
        from migdata import load
        from migdata.indicators import compute
        from migdata.publish.excel import write_workbook
    except ImportError as exc:
        raise MigdataError("MD807", step="indicators", detail=str(exc)) from None
    data = load(store)
    table = compute(data, level=level, by=list(by))
    wb = write_workbook(table, out / "indicators.xlsx")
    progress(f"      {len(table):,} indicator rows written to {wb}")
    written.append(Path(wb))
    del data, table

    if reports:
        from migdata.report import render_report

        _step(progress, 4, total, "Writing the migration profile reports ...")
        jobs = [(store, REGION, "calabarzon"), (store, PROVINCE, "laguna")]
        rider = out / "store_rider"
        if (rider / "manifest.json").exists():
            # the rider sample asks what CBMS does not: uses of remittances, return migration
            jobs.append((rider, REGION, "calabarzon_rider"))
        for st, code, name in jobs:
            html = render_report(st, code, out / f"report_{name}.html",
                                 progress=lambda s: progress(f"      {s}"))
            written.append(Path(html))
    progress(f"Done in {time.perf_counter() - t0:.0f} s. Files written:")
    for f in written:
        progress(f"  {f}")
    return written


__all__ = ["run_demo", "sample_dir", "REGION", "PROVINCE"]
