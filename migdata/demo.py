"""The one-command demo: bundled sample data → the local migration database (CBMS, the CBMS
migration rider, the surveys of overseas Filipinos and of children left behind, and an LFS-like
survey, linked) → indicator workbook → integrated migration profiles of the region and one
province.

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
from typing import Any

from migdata.errors import MigdataError
from migdata.progress import Progress, as_progress, indent

REGION = "0400000000"  # CALABARZON
PROVINCE = "0403400000"  # Laguna
CBMS_PROFILE = "cbms_2022_hpq"
SAMPLE_HOUSEHOLDS = 1200  # the bundled sample_data (sample_data/README.md)
SAMPLE_SEED = 2022

#: The other streams of the bundled sample: (file pattern, profile), imported when their profile exists.
EXTRA_IMPORTS = [("kobo/cbms_migration_rider.xlsx", "kobo_cbms_rider"),
                 ("kobo/overseas_filipino_survey.xlsx", "kobo_of_survey"),
                 ("kobo/children_left_behind_survey.xlsx", "kobo_clb_survey"),
                 ("*.sav", "sample_survey")]


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
    say = as_progress(progress)
    say(f"generating a sample of {households:,} households (seed {seed}) in {out}")
    generate(out, households=households, seed=seed, dirty=True, progress=indent(say, "  "))
    return out


def _cbms_files(folder: Path) -> list[Path]:
    """The CBMS fixed-width data file (and its dictionary, which the importer reads with it)."""
    dat = sorted([*folder.glob("*.dat"), *folder.glob("*.DAT")])
    if not dat:
        raise MigdataError("MD808", path=folder)
    dcf = sorted(folder.glob("*.dcf"))
    return [dat[0], *dcf[:1]]


def _extra_imports(src: Path, db: Any, progress: Progress) -> list[str]:
    """Import the Kobo exports and the SPSS survey into the database, when their profile exists
    (a profile missing from this build is reported, not an error). Returns the dataset keys."""
    from migdata.importer import import_files
    from migdata.profiles import list_profiles

    known = set(list_profiles()["name"])
    keys = []
    for pattern, profile in EXTRA_IMPORTS:
        files = sorted(src.glob(pattern))
        if not files:
            continue
        if profile not in known:
            progress(f"      {files[0].name}: no {profile!r} profile in this build, not imported")
            continue
        data = import_files(files, profile)
        key = db.add(data)
        rows = ", ".join(f"{t} {len(df):,}" for t, df in data.tables.items())
        progress(f"      {files[0].name} ({profile}): {rows}; {data.report.n_problems:,} problem(s); "
                 f"added as {key}")
        keys.append(key)
    return keys


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
    (2) build the local migration database ``out_dir/database``: the CBMS 2022 file
    (``cbms_2022_hpq`` profile), the CBMS migration rider, the surveys of overseas Filipinos and
    of children left behind (Kobo exports, linked to the CBMS roster by their profiles' links)
    and the LFS-like SPSS survey; (3) compute the indicator catalogue on every stream by
    ``level`` (city/municipality) and ``by`` (sex) and write ``out_dir/indicators.xlsx``;
    (4) write the integrated migration profiles of the region and of Laguna province
    (``report_calabarzon.html``, ``report_laguna.html``), each section drawn from the stream
    that has it.

    Example:
        >>> run_demo("/tmp/demo", progress=lambda s: None)[-1].name  # doctest: +SKIP
        'report_laguna.html'
    """
    progress = as_progress(progress)
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
        src = ensure_sample(out / "sample_data", households=households, progress=indent(progress))
        written += sorted(p for p in src.rglob("*") if p.is_file())
    progress(f"      using {src}")

    _step(progress, 2, total, "Building the local migration database: CBMS 2022, the CBMS migration "
                              "rider, the surveys of overseas Filipinos and of children left behind, "
                              "an LFS-like survey ...")
    try:
        from migdata.importer import import_files
        from migdata.model.database import Database
    except ImportError as exc:
        raise MigdataError("MD807", step="import", detail=str(exc)) from None
    files = _cbms_files(src)
    data = import_files(files, CBMS_PROFILE, progress=indent(progress))
    dbdir = out / "database"
    db = Database.create(dbdir)  # a database from an earlier run opens; each stream is replaced
    key = db.add(data)
    counts = data.report.counts
    for table, c in counts.items():
        progress(f"      {table}: {c['read']:,} read, {c['kept']:,} kept, {c['rejected']:,} rejected")
    progress(f"      {data.report.n_problems:,} problem(s) in the import report; added as {key}")
    del data
    _extra_imports(src, db, progress)
    for _, r in db.link_report().iterrows():
        progress(f"      link {r['link']}: {r['records']:,} records, {r['linked'] + r['conflict']:,} linked "
                 f"({r['conflict']:,} conflicting), {r['not_linked']:,} without id, {r['not_found']:,} id not found")
    written.append(dbdir / "database.json")

    _step(progress, 3, total, f"Computing indicators of every stream by {level}, "
                              f"{', '.join(by) or 'no disaggregation'} ...")
    try:
        import migdata
        from migdata.publish.excel import write_workbook
    except ImportError as exc:
        raise MigdataError("MD807", step="indicators", detail=str(exc)) from None
    table = migdata.compute(db, level=level, by=list(by), progress=indent(progress))
    wb = write_workbook(table, out / "indicators.xlsx")
    progress(f"      {len(table):,} indicator rows from {table['stream'].nunique()} streams written to {wb}")
    written.append(Path(wb))
    del table

    if reports:
        from migdata.report import render_report

        _step(progress, 4, total, "Writing the migration profile reports (every stream of the database) ...")
        for code, name in ((REGION, "calabarzon"), (PROVINCE, "laguna")):
            html = render_report(dbdir, code, out / f"report_{name}.html",
                                 progress=indent(progress))
            written.append(Path(html))
    progress(f"Done in {time.perf_counter() - t0:.0f} s. Files written:")
    for f in written:
        progress(f"  {f}")
    return written


__all__ = ["run_demo", "sample_dir", "REGION", "PROVINCE"]
