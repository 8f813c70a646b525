"""The ``migdata`` command line: thin wrappers that parse arguments, call the library and print.

Why click: it is mature, widely packaged, gives nested sub-commands (``migdata areas show``),
generated ``--help``, exit code 2 for usage errors and a progress bar, with no other
dependency; its ``CliRunner`` lets tests drive the CLI in-process.

Exit codes: 0 ok; 1 data problems found (bad input, rejected rows, corrupted store); 2 usage
error (unknown option, unknown area code or profile). Expected errors are printed as one
plain message (never a traceback); ``--debug`` shows the traceback for bug reports.
"""

from __future__ import annotations

import errno
import sys
from pathlib import Path
from typing import Any

import click

from migdata import __version__
from migdata.errors import MigdataError

_DEBUG = False


def _progress():
    """Progress on stderr: bars with the time left in a terminal, plain lines otherwise
    (:class:`migdata.progress.Console`)."""
    from migdata.progress import Console

    return Console()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="migdata")
@click.option("--debug", is_flag=True, help="Show Python tracebacks (for bug reports).")
def cli(debug: bool) -> None:
    """migdata: local migration data for development planning.

    Import census, CBMS and survey files into one tidy household model, compute
    migration indicators by sex, age and area with their precision, and publish
    Excel tables and a migration profile report.
    """
    global _DEBUG
    _DEBUG = debug


# --- demo ----------------------------------------------------------------------------------
@cli.command()
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("migdata-demo"), show_default=True, help="Folder for everything the demo writes.")
def demo(out_dir: Path) -> None:
    """Run the whole pipeline on the bundled CALABARZON sample data."""
    from migdata.demo import run_demo

    progress = _progress()
    try:
        run_demo(out_dir, progress=progress)  # prints progress and the closing list of files
    finally:
        progress.close()


# --- dataset store -------------------------------------------------------------------------
def _keep_area_summaries(store: Path) -> None:
    """After a partitioned import: the comparison numbers every area report shows, kept in the
    store (:func:`migdata.report.keep_area_summaries`), so the first report is as fast as the next."""
    from migdata.report import keep_area_summaries

    progress = _progress()
    try:
        keep_area_summaries(store, progress=lambda msg, done=None, total=None:
                            progress(f"area summaries ({msg})", done, total))
    finally:
        progress.close()


@cli.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--profile", required=True, help="Source profile (see 'migdata profiles').")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Dataset folder to write (one dataset).")
@click.option("--into", "into", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Local migration database folder to add the dataset to (or to replace the same "
                   "stream and round in); created when new.")
@click.option("--policy", type=click.Choice(["lenient", "reject", "strict"]), default="lenient",
              show_default=True, help="What to do with bad rows (see README).")
@click.option("--force", is_flag=True, help="Replace a different dataset already in --out.")
@click.option("--keep-identifiers", is_flag=True,
              help="Keep names, addresses, phone numbers and GPS (dropped by default).")
@click.option("--reference-date", default=None, metavar="YYYY-MM-DD",
              help="Reference date of the census/survey round (overrides the profile's).")
@click.option("--period", default=None, metavar="ROUND",
              help="Round/period of the data, e.g. 2022-08 (default: what the data says, e.g. the "
                   "LFS survey year and month, else the profile's round).")
@click.option("--encoding", default=None, metavar="NAME",
              help="Text encoding of the data files (e.g. cp1252, latin-1); default UTF-8 "
                   "(CSV: detected).")
@click.option("--stream", "streaming", is_flag=True,
              help="Read, check and write a large CSPro file chunk by chunk (bounded memory) into a store "
                   "partitioned by area (with --out); compressed files (.gz, .zst) too.")
@click.option("--partition", type=click.Choice(["province", "region"]), default=None,
              help="Write the store partitioned by area (implied by --stream, by province).")
def import_(files: tuple[Path, ...], profile: str, out_dir: Path | None, into: Path | None, policy: str,
            force: bool, keep_identifiers: bool, reference_date: str | None, period: str | None,
            encoding: str | None, streaming: bool, partition: str | None) -> None:
    """Import FILES with a source profile into a dataset folder (--out) or a database (--into).

    --force replaces another migdata dataset in --out; a folder holding anything else (a
    document, the input files) is never replaced."""
    from migdata.errors import UsageError
    from migdata.importer import import_files
    from migdata.model.data import check_target

    if (out_dir is None) == (into is None):
        raise click.UsageError("give exactly one of --out (a dataset folder) or --into (a database folder)")
    if out_dir is not None:
        check_target(out_dir, None, force, inputs=list(files))  # before reading: a refusal costs nothing
    options = {"encoding": encoding} if encoding else {}
    if streaming:
        if into is not None:
            raise click.UsageError("--stream writes a dataset folder: use --out")
        if period:
            raise click.UsageError("--stream takes the round from the profile: leave --period out")
        from migdata.streaming import import_stream

        progress = _progress()
        try:
            store = import_stream(list(files), profile, out_dir, policy=policy, keep_identifiers=keep_identifiers,
                                  progress=progress, reference_date=reference_date, force=force,
                                  partition_by=partition or "province", **options)
        except OSError as exc:
            raise UsageError("MD005", path=out_dir, detail=exc.strerror or str(exc)) from None
        finally:
            progress.close()
        _keep_area_summaries(out_dir)
        click.echo(store.report.summary())
        click.echo(f"\nSaved to {out_dir} ({len(store.partitions)} partitions by {store.levels[-1]})")
        if store.report.problems:
            sys.exit(1)
        return
    progress = _progress()
    try:
        data = import_files(list(files), profile, policy=policy, keep_identifiers=keep_identifiers,
                            progress=progress, reference_date=reference_date, period=period,
                            **options)
    finally:
        progress.close()
    try:  # a full disk or a read-only folder: the old store (if any) is untouched
        if into is not None:
            from migdata.model.database import Database

            db = Database.create(into)
            key = db.add(data)
        else:
            data.save(out_dir, force=force, partition_by=partition)
    except OSError as exc:
        raise UsageError("MD005", path=into or out_dir, detail=exc.strerror or str(exc)) from None
    if out_dir is not None and partition:
        _keep_area_summaries(out_dir)
    click.echo(data.report.summary())
    if into is not None:
        click.echo(f"\nSaved as {key} in the database {into}")
        report = db.link_report()
        if len(report):
            click.echo("\nLinks:\n" + report.to_string(index=False))
    else:
        click.echo(f"\nSaved to {out_dir}")
    if data.report.problems:
        sys.exit(1)


@cli.command()
@click.argument("store", type=click.Path(path_type=Path))
@click.option("--policy", type=click.Choice(["lenient", "reject", "strict"]), default="lenient")
def validate(store: Path, policy: str) -> None:
    """Check a dataset folder again: checksums, schema, keys, codes and ranges."""
    from migdata.model import HouseholdData, ImportReport
    from migdata.model import validate as run_validate
    from migdata.model.data import load as load_dataset, read_manifest

    data = load_dataset(store)  # every checksum: the tables' and the manifest's own
    fresh = run_validate(HouseholdData(data.tables, provenance=data.provenance, report=ImportReport()),
                         policy=policy)
    click.echo(fresh.report.summary())
    if read_manifest(store).get("format_version", 1) < 3:
        click.echo("\nNote: this dataset was saved by an older migdata; its manifest.json carries no "
                   "checksum of its own, so edits to it cannot be detected. Import it again to add one.")
    stored = data.report
    if stored.n_problems:
        click.echo(f"\nThe import report saved with this dataset lists {stored.n_problems:,} problem(s) "
                   f"found on import ({stored.n_rejected:,} row(s) rejected then).")
    sys.exit(1 if fresh.report.problems else 0)


@cli.command()
@click.argument("store", type=click.Path(path_type=Path))
def info(store: Path) -> None:
    """Describe a dataset folder: sources, counts by area level and sex."""
    from migdata.summary import describe_store

    click.echo(describe_store(store))


# --- areas ---------------------------------------------------------------------------------
@cli.group()
def areas() -> None:
    """Philippine Standard Geographic Codes (PSGC)."""


@areas.command("show")
@click.argument("code")
def areas_show(code: str) -> None:
    """Show an area, its parents and the counts of its sub-areas."""
    from migdata import areas as a
    from migdata.errors import DataError, UsageError

    try:
        text = a.describe(code)
    except DataError as exc:  # a code the user typed that names no area: a usage error
        raise UsageError(exc.code, **exc.fields) from None
    click.echo(text)


@areas.command("search")
@click.argument("name", nargs=-1, required=True)
@click.option("--level", type=click.Choice(["region", "province", "city", "municipality",
                                            "submunicipality", "barangay", "special"]), default=None)
def areas_search(name: tuple[str, ...], level: str | None) -> None:
    """Find areas by name (accents and case ignored)."""
    from migdata import areas as a

    click.echo(a.search_text(" ".join(name), level=level))


# --- profiles, codebooks -------------------------------------------------------------------
@cli.command()
def profiles() -> None:
    """List the source profiles."""
    from migdata.profiles import profiles_text

    click.echo(profiles_text())


@cli.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write an Excel codebook instead of printing.")
@click.option("--encoding", default=None, metavar="NAME",
              help="Text encoding of FILE (e.g. cp1252); default UTF-8 (CSV: detected).")
def codebook(file: Path, out: Path | None, encoding: str | None) -> None:
    """Show the codebook (variables, labels, value labels) of a data or dictionary FILE."""
    from migdata.importer import codebook_table
    from migdata.publish.codebook import write_codebook

    options = {"encoding": encoding} if encoding else {}
    if out is not None:
        click.echo(f"Wrote {write_codebook(codebook_table(file, **options), out)}")
    else:
        click.echo(_as_text(codebook_table(file, **options)))


# --- sample data, questionnaires -----------------------------------------------------------
@cli.command()
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--households", type=click.IntRange(1), default=3000, show_default=True)
@click.option("--seed", type=int, default=2022, show_default=True)
@click.option("--dirty", is_flag=True, help="Also plant problems, to see what the import report says.")
def sample(out_dir: Path, households: int, seed: int, dirty: bool) -> None:
    """Write synthetic CALABARZON sample data in the real file formats."""
    from migdata.sample import generate

    progress = _progress()
    written = generate(out_dir, households=households, seed=seed, dirty=dirty, progress=progress)
    progress.close()
    for f in written or []:
        click.echo(f"  {f}")


@cli.command("draw")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--survey", required=True, type=click.Choice(["of", "clb", "rider", "of_household"]),
              help="of: overseas Filipinos; clb: children 0-17 with a parent abroad; rider: barangays "
                   "(every household of a drawn barangay is visited); of_household: households with an OF.")
@click.option("--n", "n_text", required=True, metavar="N | CODE=N,...",
              help="Units to draw in all (allocated in proportion to the strata), or per stratum code.")
@click.option("--seed", type=int, required=True, help="Seed of the random numbers (the same seed gives the same sample).")
@click.option("--strata", default="city", show_default=True,
              type=click.Choice(["province", "city", "barangay", "region", "none"]),
              help="Area level of the strata.")
@click.option("--method", type=click.Choice(["srs", "pps"]), default=None,
              help="Selection within strata: simple random (default; PPS for the rider's barangays).")
@click.option("--size", default=None, help="PPS size measure column (default: the frame's, e.g. households).")
@click.option("--min-per-stratum", type=click.IntRange(1), default=2, show_default=True)
@click.option("--round", "round_", default=None, help="In a database: the CBMS round (default: latest).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The list's CSV file; the strata table and an Excel workbook are written beside it.")
def draw_(source: Path, survey: str, n_text: str, seed: int, strata: str, method: str | None, size: str | None,
          min_per_stratum: int, round_: str | None, out: Path) -> None:
    """Draw a survey's sample from the CBMS frame of SOURCE (a CBMS dataset or a database).

    Writes the list the field team takes (CBMS ids, strata, selection probabilities, weights,
    frame counts) as CSV and Excel."""
    import migdata
    from migdata.indicators.frames import draw_survey
    from migdata.publish.samplelist import write_sample_list

    n: Any
    try:
        n = int(n_text)
    except ValueError:
        try:
            n = {k.strip(): int(v) for k, v in (part.split("=") for part in n_text.split(",") if part.strip())}
        except ValueError:
            raise click.BadParameter(f"{n_text!r} is neither a number nor CODE=N pairs", param_hint="--n") from None
    d = draw_survey(migdata.load(source), survey, n, seed=seed, strata=None if strata == "none" else strata,
                    method=method, size=size, min_per_stratum=min_per_stratum, round=round_)
    files = write_sample_list(d, out)
    click.echo(d.summary())
    for f in files:
        click.echo(f"  {f}")


@cli.group()
def questionnaires() -> None:
    """The XLSForms of the CBMS migration rider and the two migration surveys."""


@questionnaires.command("build")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("xforms"),
              show_default=True)
def questionnaires_build(out_dir: Path) -> None:
    """Convert the XLSForms to XForms (XML) for KoboToolbox/ODK."""
    from migdata.questionnaires import build

    for f in build(out_dir):
        click.echo(f"  {f}")


@questionnaires.command("codebook")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("questionnaires_codebook.xlsx"), show_default=True)
def questionnaires_codebook(out: Path) -> None:
    """Write an Excel codebook of the questionnaires."""
    from migdata.questionnaires import codebook as make_codebook

    click.echo(f"Wrote {make_codebook(out)}")


# --- indicators, reports -------------------------------------------------------------------
@cli.command()
@click.argument("store", type=click.Path(path_type=Path), required=False)
@click.option("--level", default="city", show_default=True,
              type=click.Choice(["national", "region", "province", "city", "barangay"]),
              help="Finest area level; totals for every higher level are included.")
@click.option("--by", default="sex,age_group", show_default=True,
              help="Comma-separated disaggregations (sex, age_group, urban_rural, migratory_status, "
                   "round for pooled rounds, ...), or 'none'.")
@click.option("--ids", default=None, help="Comma-separated indicator ids (default: all).")
@click.option("--age-scheme", default="broad", show_default=True,
              help="five_year, broad, children, working_age, seniors, or cut points such as 0,15,30,60.")
@click.option("--k", "k", type=click.IntRange(1), default=3, show_default=True,
              help="Disclosure threshold for complete counts (cells of fewer units are suppressed).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("indicators.xlsx"),
              show_default=True,
              help="The Excel workbook (.xlsx), or the long table as Parquet (.parquet): any size, written one "
                   "indicator at a time (a national table at barangay level does not fit a workbook).")
@click.option("--csv", "csv_out", is_flag=True, help="Also write the long table as CSV beside the workbook.")
@click.option("--list", "list_only", is_flag=True, help="List the indicator catalogue and stop.")
@click.option("--engine", default=None, metavar="local|dask|ADDRESS",
              help="Where a partitioned store's partitions are evaluated: local (this process, the default), "
                   "dask (a Dask cluster of this machine's cores) or a Dask scheduler address, e.g. "
                   "tcp://10.0.0.5:8786 (pip install 'migdata[distributed]').")
def indicators(store: Path | None, level: str, by: str, ids: str | None, age_scheme: str, k: int, out: Path,
               csv_out: bool, list_only: bool, engine: str | None) -> None:
    """Compute the indicator catalogue for a dataset STORE and write the Excel tables."""
    if list_only:
        from migdata.indicators import catalogue_text

        click.echo(catalogue_text())
        return
    if store is None:
        raise click.UsageError("give the dataset folder (STORE), or --list to see the catalogue")
    from migdata.publish.tables import write_tables

    by_arg = [] if by.strip().lower() == "none" else by
    from migdata.survey.engine import get_engine

    runner = get_engine(engine)
    progress = _progress()
    try:
        paths = write_tables(store, out, level=level, by=by_arg, ids=ids, age_scheme=age_scheme, k=k,
                             csv=csv_out, progress=progress, engine=runner)
    finally:
        progress.close()
        if hasattr(runner, "close"):
            runner.close()
    for path in paths:
        click.echo(f"Wrote {path}")


@cli.command()
@click.argument("store", type=click.Path(path_type=Path))
@click.option("--kind", type=click.Choice(["mean", "total", "proportion", "ratio", "quantile"]), required=True)
@click.option("--var", "variables", required=True, help="Column(s) to estimate, comma-separated.")
@click.option("--by", default=None, help="Comma-separated domain columns (e.g. province,sex).")
@click.option("--table", default="persons", show_default=True, help="Table of the dataset to use.")
@click.option("--denominator", default=None, help="Denominator column (ratio).")
@click.option("--probs", default="0.5", show_default=True, help="Quantiles, comma-separated.")
@click.option("--ci", "ci_method", type=click.Choice(["logit", "beta", "wilson", "t"]), default="logit",
              show_default=True, help="Confidence interval method for proportions.")
@click.option("--lonely-psu", type=click.Choice(["fail", "remove", "certainty", "adjust", "average"]),
              default=None, help="Rule for strata with a single PSU (as in R survey); default: the "
                                 "rule the dataset's profile declares (fail if none).")
@click.option("--stream", default=None, help="In a database folder: the stream (and --round) to estimate on.")
@click.option("--round", "round_", default=None, help="In a database folder: the round of --stream (default: latest).")
@click.option("--k", "k", type=click.IntRange(1), default=3, show_default=True,
              help="Complete counts: disclosure threshold (no published count of 1 to k-1).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the result as CSV instead of printing it.")
def estimate(store: Path, kind: str, variables: str, by: str | None, table: str, denominator: str | None,
             probs: str, ci_method: str, lonely_psu: str | None, stream: str | None, round_: str | None,
             k: int, out: Path | None) -> None:
    """Design-based estimates with SE, CI, CV, n and reliability flag, for every domain at once,
    on the dataset's own design (as its profile declares it: weights, strata, PSUs, FPC).

    On a complete count (CBMS, census) the numbers are published as the indicator tables
    publish them (cell-key method: a small random error, the same cell the same number)."""
    import migdata
    from migdata.publish.estimates import estimate as run_estimate
    from migdata.publish.safe import write_table_csv
    from migdata.survey.frontend import format_table

    data = migdata.load(store)
    if isinstance(data, migdata.Database):
        if stream is None:
            raise click.UsageError(f"{store} is a database of several streams ({', '.join(data.streams())}): "
                                   "choose one with --stream")
        from migdata.indicators.streams import linked_dataset

        data = linked_dataset(data, data._key(stream, round_))
    try:
        qs = tuple(float(p) for p in probs.split(","))
    except ValueError:
        raise click.BadParameter(f"{probs!r} is not a list of numbers", param_hint="--probs") from None
    result = run_estimate(data, kind, [v.strip() for v in variables.split(",")],
                          by=None if not by else [b.strip() for b in by.split(",")], table=table,
                          denominator=denominator, probs=qs, ci_method=ci_method, lonely_psu=lonely_psu, k=k)
    if out is None:
        click.echo(format_table(result))
    else:
        write_table_csv(result, out)  # atomic; data never becomes a formula
        click.echo(f"Wrote {out}")


@cli.command("map")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--indicator", required=True, help="Indicator id (see 'migdata indicators --list').")
@click.option("--level", required=True, type=click.Choice(["region", "province", "city", "barangay"]),
              help="Level of the areas drawn (city: cities and municipalities).")
@click.option("--area", default=None, help="PSGC code of the area whose sub-areas are drawn (default: the country).")
@click.option("--category", default=None, help="Category of a distribution indicator (e.g. a country).")
@click.option("--by", "by_cell", default=None, metavar="COL=VALUE,...",
              help="One cell of the disaggregations, e.g. sex=female (default: Total).")
@click.option("--boundaries", type=click.Path(path_type=Path), default=None,
              help="A GeoJSON or shapefile of your own (default: the boundaries shipped with migdata).")
@click.option("--code-field", default=None, help="The property of --boundaries that holds PSGC codes.")
@click.option("--classes", type=click.IntRange(2, 9), default=5, show_default=True)
@click.option("--bars", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the sorted bar chart of the areas to this file.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("map.png"),
              show_default=True, help="Image to write (.png, .svg or .pdf).")
def map_(source: Path, indicator: str, level: str, area: str | None, category: str | None,
         by_cell: str | None, boundaries: Path | None, code_field: str | None, classes: int,
         bars: Path | None, out: Path) -> None:
    """Draw a choropleth map of one indicator from a dataset store or an indicator CSV (SOURCE).

    Areas the boundaries cannot draw are named under the map and listed here; the map is
    written all the same.
    """
    from migdata.areas.boundaries import read_boundaries
    from migdata.publish.maps import load_table, write_map

    by = {}
    for part in (by_cell or "").split(","):
        if part.strip():
            col, sep, value = part.partition("=")
            if not sep:
                raise click.BadParameter(f"{part!r} is not COLUMN=VALUE", param_hint="--by")
            by[col.strip()] = value.strip()
    b = read_boundaries(boundaries, code_field=code_field) if boundaries is not None else None
    table = load_table(source, indicator, level)
    paths, problems = write_map(table, out, indicator, level, area, category=category, by=by, boundaries=b,
                                k=classes, bars=bars)
    for message in problems["message"]:
        click.echo(f"Note: {message}", err=True)
    for p in paths:
        click.echo(f"Wrote {p}")


@cli.command()
@click.argument("store", type=click.Path(path_type=Path))
@click.option("--area", required=True, help="PSGC code of the area (see 'migdata areas search').")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("report.html"),
              show_default=True)
def report(store: Path, area: str, out: Path) -> None:
    """Write the migration profile report of one area as HTML."""
    from migdata.report import render_report

    progress = _progress()
    try:
        written = render_report(store, area, out, progress=progress)
    finally:
        progress.close()
    click.echo(f"Wrote {written}")


def _as_text(obj: Any) -> str:
    try:
        import pandas as pd

        if isinstance(obj, pd.DataFrame):
            with pd.option_context("display.max_rows", 500, "display.max_colwidth", 60, "display.width", 160):
                return obj.to_string(index=False)
    except ImportError:  # pragma: no cover
        pass
    return str(obj)


#: errno values that mean "this output cannot be written here" (full disk, quota, read-only or
#: forbidden folder, file too large): reported as MD005, a usage error, whatever wrote the file
WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG}


def _os_error(exc: OSError) -> MigdataError:
    """The migdata error that says what an OSError that escaped a command means to the user."""
    from migdata.errors import UsageError

    path = exc.filename or "an output file"
    detail = exc.strerror or str(exc)
    if isinstance(exc, FileNotFoundError):
        return UsageError("MD001", path=path)
    return UsageError("MD005", path=path, detail=detail)  # WRITE_ERRNOS and the rest


def _quiet_unraisable(unraisable: Any) -> None:
    """Objects finalised after a failed write (a half-written workbook's generators, a file that
    cannot be flushed on a full disk) raise again in their finalisers; after the one message
    already printed, that is noise: shown with --debug only."""
    if _DEBUG:
        sys.__unraisablehook__(unraisable)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning expected errors into one message and an exit code."""
    sys.unraisablehook = _quiet_unraisable
    try:
        cli.main(args=argv, prog_name="migdata", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except MigdataError as exc:
        if _DEBUG:
            raise
        click.echo(f"Error: {exc.message}", err=True)
        _settle()
        sys.exit(exc.exit_code)
    except OSError as exc:  # full disk, read-only folder, missing path: never a traceback
        if _DEBUG:
            raise
        err = _os_error(exc)
        click.echo(f"Error: {err.message}", err=True)
        _settle()
        sys.exit(err.exit_code)
    except UnicodeDecodeError as exc:
        if _DEBUG:
            raise
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # a bug, not bad input: one line plus how to report it
        if _DEBUG:
            raise
        click.echo(f"Internal error ({type(exc).__name__}: {exc}). This is a bug in migdata; "
                   "run again with 'migdata --debug ...' and report the traceback.", err=True)
        sys.exit(3)
    _settle()
    sys.exit(0)


def _settle() -> None:
    """Finalise what a failed command left behind now, under the quiet hook, and flush the
    output streams while errors can still be handled (a full disk or a closed pipe at exit)."""
    import gc

    gc.collect()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass


if __name__ == "__main__":  # pragma: no cover
    main()
