"""The import pipeline: read -> map (profile) -> validate -> a :class:`HouseholdData` ready to save.

Also :func:`codebook_table` (``migdata codebook``), which dispatches on the file extension to
the registered readers; the workbook writer is :func:`migdata.publish.codebook.write_codebook`.

Policies (see :mod:`migdata.model.report`): ``lenient`` keeps rows with bad values (set
missing, reported); ``reject`` also rejects every row with a value problem found while reading
or mapping (the counts add those rows to ``read`` and ``rejected``); ``strict`` fails on the
first batch of problems with :class:`~migdata.errors.DataError` ``MD119``, the report attached.

Example:
    >>> data = import_files(["LFS_PUF_December_2022.F2", "LFS_PUF_December_2022.dcf"],
    ...                     "lfs_puf_2022")                                    # doctest: +SKIP
    >>> data.save("lfs_2022_12")                                               # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import inspect

from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd

from migdata.errors import DataError, UsageError
from migdata.model.report import POLICIES, ImportReport
from migdata.model.rounds import cross_strata, record_period
from migdata.model.spec import Provenance
from migdata.profiles import fit, free_text, load_profile
from migdata.progress import Progress, as_progress
from migdata.profiles.engine import Profile, apply_profile
from migdata.readers import get_reader, reader_for
from migdata.readers.codebook import Codebook

#: reader problems that blank one value of a row (rejected under the "reject" policy)
VALUE_PROBLEMS = {"MD402", "MD404", "MD504", "MD506", "MD201", "MD202", "MD204", "MD205"}


def _paths(paths: str | Path | Iterable[str | Path]) -> list[Path]:
    if isinstance(paths, (str, Path)):
        paths = [paths]
    out = [Path(p) for p in paths]
    if not out:
        raise UsageError("MD512")
    for p in out:
        if not p.exists():
            raise DataError("MD001", path=str(p))
    return out


def _accepts(fn: Callable[..., Any], name: str) -> bool:
    """True when ``fn`` names the parameter itself (a ``**options`` forwarder may not honour it)."""
    return name in inspect.signature(fn).parameters


def _check_options(fn: Callable[..., Any], reader: str, opts: dict[str, Any]) -> None:
    """A reader option the reader does not take (``--encoding`` for a Kobo XLSX export, a
    misspelt profile ``[reader]`` key) is a usage error naming it, not a crash."""
    params = inspect.signature(fn).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return  # a forwarder: the function it calls checks
    takes = [n for n, p in params.items() if p.kind is not inspect.Parameter.POSITIONAL_ONLY][1:]
    for name in opts:
        if name not in params:
            raise UsageError("MD006", option=name, reader=reader, choices=", ".join(takes) or "none")


def identifier_sources(profile: Profile) -> set[str]:
    """Raw columns that feed only direct identifiers (``drop = true`` columns) of ``profile``:
    without ``keep_identifiers`` they are never decoded or read, so no message, manifest or
    terminal line can quote their values (a CBMS house number that is not a number, say). The
    exception: when the profile keeps free text, the household's names are read to redact them
    from it, then dropped.

    Example:
        >>> from migdata.profiles import load_profile
        >>> sorted(identifier_sources(load_profile("cbms_2022_hpq")))[:3]
        ['A01_HHNAME', 'FIRSTNAME', 'HBN']
    """
    dropped: set[str] = set()
    used: set[str] = set()
    for tspec in profile.tables.values():
        used.update(tspec.get("keys", []))
        for spec in tspec.get("columns", {}).values():
            cols = ([spec["from"]] if spec.get("from") else []) + list(spec.get("concat", []))
            (dropped if spec.get("drop") else used).update(cols)
    # names kept free text is redacted of are read, never stored or quoted (profiles/free_text.py)
    return dropped - used - free_text.raw_identifier_columns(profile)


def read_raw(paths: str | Path | Iterable[str | Path], profile: Profile | None = None,
             report: ImportReport | None = None, progress: Progress | None = None,
             layouts: dict[str, str | None] | None = None,
             **options: Any) -> tuple[dict[str, pd.DataFrame], Codebook]:
    """Read every file with the profile's reader (or the one the extension names) and stack
    same-named raw tables; ``_source_file`` is added when there is more than one data file.

    With a profile, each file is first fitted to it (:mod:`migdata.profiles.fit`): its layout is
    chosen by item names (a CSPro file by its dictionary, before the data is decoded) and its
    raw columns are renamed to the names the profile's tables use, so files of different
    layouts stack; ``layouts`` (when given) receives each file's layout. A CSPro data file is
    read with the ``.dcf`` of the same name among ``paths``, else the only one given, else the
    one beside it."""
    files = _paths(paths)
    say = as_progress(progress)
    report = report if report is not None else ImportReport()
    reader = (profile.reader if profile and profile.reader else None) or reader_for(files[0])
    opts = dict(profile.reader_options) if profile else {}
    opts.update(options)
    fitted = layouts if layouts is not None else {}
    # raw columns of direct identifiers the profile drops: never decoded (CSPro) nor kept (others)
    hidden = identifier_sources(profile) if profile is not None and not opts.get("keep_identifiers") else set()
    results: list[tuple[Path, dict[str, pd.DataFrame], Codebook]] = []
    if reader == "cspro":
        from migdata.readers.cspro import read_cspro

        opts.pop("keep_identifiers", None)  # CSPro identifiers are dropped by the profile (drop = true)
        _check_options(read_cspro, reader, {k: v for k, v in opts.items() if k != "dictionary"})
        for f, d, fopts, layout in fit_cspro_files(profile, files, opts, hidden):
            fitted[str(f)] = layout["name"] if layout else None
            size = f.stat().st_size
            step = f"reading {f.name} ({size / 1e6:,.0f} MB)"
            say(step, 0, size)
            tables, cb = read_cspro(f, d, report=report,
                                    progress=lambda done, total, step=step: say(step, done, size), **fopts)
            say(step, size, size)  # the reader's last chunk ends at the last line, not the file's end
            _valid_codes(d, cb)
            results.append((f, *fit.to_profile_names(tables, cb, layout)))
    else:
        fn = get_reader(reader)
        if "keep_identifiers" in opts and not _accepts(fn, "keep_identifiers"):
            opts.pop("keep_identifiers")  # this format has no identifier columns of its own to strip
        _check_options(fn, reader, opts)
        for f in files:
            say(f"reading {f.name}")
            tables, cb = fn(f, **opts)
            if hidden:  # formats read whole: the identifier columns go before anything sees them
                tables = {t: df.drop(columns=[c for c in df.columns if c in hidden]) for t, df in tables.items()}
            if cb.report is not report:
                report.extend(cb.report)
                cb.report = report
            role = fit.role_of(profile, f) if profile is not None else None
            if role is not None:
                tables = _as_role(tables, cb, role)
            layout = fit.choose(profile, fit.available_items(cb, tables), str(f)) if profile is not None else None
            fitted[str(f)] = layout["name"] if layout else None
            results.append((f, *fit.to_profile_names(tables, cb, layout)))
    if profile is not None:  # each file's own dictionary, in the profile's names
        for _, _, cb in results:
            fit.check_value_sets(profile, cb, report)
    raw: dict[str, list[pd.DataFrame]] = {}
    for f, tables, _ in results:
        for name, df in tables.items():
            if len(results) > 1 and "_source_file" not in df.columns:
                df = df.assign(_source_file=pd.Categorical.from_codes(np.zeros(len(df), dtype=np.int8),
                                                                      categories=[str(f)]))
            raw.setdefault(name, []).append(df)
    merged = {k: (v[0] if len(v) == 1 else pd.concat(v, ignore_index=True)) for k, v in raw.items()}
    cb = results[0][2]
    if len(results) > 1:
        cb.source = ", ".join(str(f) for f, _, _ in results)
    return merged, cb


def fit_cspro_files(profile: Profile | None, files: list[Path], opts: dict[str, Any],
                    hidden: set[str] | None = None) -> list[tuple[Path, Any, dict[str, Any], dict[str, Any] | None]]:
    """Every CSPro data file among ``files`` with its dictionary (:func:`_pair_dictionary`), the
    reader options for it (the items its layout maps, the identifier items ``hidden`` never
    decoded) and its layout (:func:`migdata.profiles.fit.choose`; None without a profile): the
    one fitting step of the in-memory and the streaming import. Every file is fitted before any
    is decoded, so a misfit stops at once (MD520/MD521)."""
    from migdata.readers.cspro import read_dictionary

    dcfs = [p for p in files if p.suffix.lower() == ".dcf"]
    data = [p for p in files if p.suffix.lower() != ".dcf"]
    if not data:
        raise UsageError("MD512")
    wanted = sorted(set().union(*profile.raw_columns().values())) if profile and profile.tables else None
    dictionaries: dict[Path, Any] = {}
    fitted = []
    for f in data:
        dcf = _pair_dictionary(f, dcfs, data)
        if dcf not in dictionaries:
            dictionaries[dcf] = read_dictionary(dcf)
        d = dictionaries[dcf]
        fitted.append((f, d, fit.choose(profile, _cspro_items(d), str(f)) if profile is not None else None))
    out = []
    for f, d, layout in fitted:
        fopts = dict(opts)
        if wanted is not None and "items" not in opts:
            fopts["items"] = fit.file_items(wanted, layout)
        if hidden:
            fopts["skip_items"] = sorted(set(fit.file_items(hidden, layout)) | set(opts.get("skip_items") or ()))
        out.append((f, d, fopts, layout))
    return out


def layout_note(path: str | Path, layout: str, profile: Profile) -> str:
    """The import report's note naming the layout a file was read with (both imports)."""
    return f"{Path(path).name} has the {layout} layout of profile {profile.name}"


def _pair_dictionary(data: Path, dcfs: list[Path], others: Iterable[Path] = ()) -> Path:
    """The CSPro dictionary of a data file: a given ``.dcf`` of the same name, else the only one
    given (unless it is named after another of the data files ``others`` and this file has its
    own beside it: rounds' layouts differ), else the one beside it (same name, or the only one
    in its folder)."""
    from migdata.readers.cspro import find_dictionary

    same = [d for d in dcfs if d.stem.lower() == data.stem.lower()]
    if same:
        return same[0]
    own = next((c for c in (data.with_suffix(".dcf"), data.with_suffix(".DCF")) if c.is_file()), None)
    if len(dcfs) == 1:
        theirs = any(dcfs[0].stem.lower() == o.stem.lower() for o in others if o != data)
        return own if theirs and own is not None else dcfs[0]
    return find_dictionary(data)


def _valid_codes(d: Any, cb: Codebook) -> None:
    """Every code the value sets of each item allow (a CSPro item may split its codes over
    several value sets), in ``Variable.extra["valid_codes"]`` / ``["valid_ranges"]``, for the
    value-set check of :mod:`migdata.profiles.fit`."""
    items = {it.name: it for it in d.items()}
    for v in cb.variables:
        it = items.get(v.name)
        if it is None or not it.value_sets:
            continue
        vals = [x for vs in it.value_sets for x in vs.values]
        v.extra["valid_codes"] = [x.low for x in vals if not x.is_range]
        v.extra["valid_ranges"] = [(x.low, x.high) for x in vals if x.is_range]


def _cspro_items(d: Any) -> dict[str, set[str]]:
    """The items each record of a CSPro dictionary gives (ID items included; repeated items
    also as ``NAME_k``; the reader's ``_occ`` and ``_source_row``), for fitting a profile before
    the data is decoded."""
    out: dict[str, set[str]] = {}
    for rec in d.records:
        names = out.setdefault(rec.name, {"_occ", "_source_row"})  # columns the reader adds
        for it in d.id_items_for(rec) + rec.items:
            names.add(it.name)
            if it.occurrences > 1:
                names.update(f"{it.name}_{k}" for k in range(1, it.occurrences + 1))
    return out


def _as_role(tables: dict[str, pd.DataFrame], cb: Codebook, role: str) -> dict[str, pd.DataFrame]:
    """A one-table file renamed to the raw table (role) the profile's ``[files]`` gives it, so
    that ``lfs_2022_08.csv`` and ``lfs_2022_12.csv`` both become, say, ``members``."""
    if len(tables) != 1 or role in tables:
        return tables
    (old, df), = tables.items()
    for v in cb.variables:
        if v.table == old:
            v.table = role
    if old in cb.tables:
        cb.tables[role] = cb.tables.pop(old)
    return {role: df}


def import_files(paths: str | Path | Iterable[str | Path], profile: str | Path | Profile,
                 policy: str = "lenient", keep_identifiers: bool = False,
                 progress: Progress | None = None, reference_date: str | None = None,
                 period: str | None = None, **reader_options: Any):
    """Import source files with a profile into a validated :class:`~migdata.model.data.HouseholdData`.

    ``paths``: the data file(s) (for CSPro, the ``.dcf`` may be among them or lie beside the
    data). ``profile``: a shipped profile name, a profile file path, or a parsed profile.
    ``progress(message, done, total)`` (see :mod:`migdata.progress`; a one-argument callback
    works too) hears each step and the bytes read of a CSPro file.
    Direct identifiers (columns marked ``drop = true``) are dropped unless ``keep_identifiers``.
    ``reference_date`` (``YYYY-MM-DD``) is the census/survey reference date, used by indicators such
    as OF10 (recent departures); it overrides the profile's ``reference_date``.

    The rounds come from the data (the households' ``round`` column, e.g. the LFS ``PUFSVYYR`` and
    ``PUFSVYMO``), else from the profile's ``round``; ``period`` (e.g. ``2022-08``) overrides
    them (see :mod:`migdata.model.rounds`). Before any row is mapped the profile is fitted to the
    files (:mod:`migdata.profiles.fit`): the layout is chosen by item names, a mapped item the
    file lacks stops the import (MD520/MD521), a value set that no longer matches is reported
    (MD522).

    Example:
        >>> data = import_files("Popstan Census.dat", "popstan_census")   # doctest: +SKIP
        >>> print(data.report.summary())                                  # doctest: +SKIP
    """
    from migdata.model.data import HouseholdData
    from migdata.model.sampled import report_missing_design
    from migdata.model.validate import validate

    if policy not in POLICIES:
        raise UsageError("MD004", what="validation policy", value=policy, choices=", ".join(POLICIES))
    prof = load_profile(profile)
    report = ImportReport()
    layouts: dict[str, str | None] = {}
    # readers that strip identifiers themselves (Kobo: GPS, names, phones) must hear the user's choice
    say = as_progress(progress)
    raw, cb = read_raw(paths, prof, report, say, layouts=layouts, keep_identifiers=keep_identifiers,
                       **reader_options)
    for f, name in layouts.items():
        if name:
            report.notes.append(layout_note(f, name, prof))
    fit.check_round_keys(prof, raw, cb)
    say(f"mapping with profile {prof.name}")
    tidy = apply_profile(prof, raw, cb, report, keep_identifiers=keep_identifiers)
    del raw
    rounds, period = record_period(tidy, period, [prof.round], report)
    if "households" in tidy and len(rounds) > 1:
        tidy["households"], design = cross_strata(tidy["households"], prof.design)
        prof = dataclasses.replace(prof, design=design)
    extra_rejected = {}
    if policy == "reject":
        tidy, extra_rejected = _reject_value_problems(tidy, report, prof)
    if policy == "strict" and report.n_problems:
        raise strict_error(report)
    provenance = provenance_of(prof, paths, policy, keep_identifiers, reference_date,
                               rounds=rounds, period=period, layouts=layouts)
    data = HouseholdData(tidy, codebook=cb.to_frame(), provenance=provenance, report=report)
    say("validating")
    out = validate(data, policy=policy)
    report_missing_design(out)  # records of a sample design without it (MD367; kept)
    for t, n in extra_rejected.items():
        c = out.report.counts.get(t)
        if c is not None:
            out.report.set_counts(t, read=c["read"] + n, kept=c["kept"], rejected=c["rejected"] + n)
    out.report.check_balance()
    return out


def strict_error(report: ImportReport, n_before: int = 0, listed_before: int = 0) -> DataError:
    """The error of the strict policy: how many problems (after the first ``n_before``, of
    which ``listed_before`` were listed) and the first three listed, with the report attached."""
    first = "; ".join(p.message for p in report.problems[listed_before:listed_before + 3])
    err = DataError("MD119", n=report.n_problems - n_before, first=first)
    err.report = report  # type: ignore[attr-defined]
    return err


def provenance_of(prof: Profile, paths: Any, policy: str, keep_identifiers: bool,
                  reference_date: str | None, *, rounds: list[str] | None = None, period: str | None = None,
                  layouts: dict[str, str | None] | None = None) -> Provenance:
    """The provenance an import writes (every field the product reads); ``rounds`` and
    ``period`` as the data gave them (default: the profile's round), ``layouts`` per file."""
    files = [str(p) for p in _paths(paths)]
    ref_date = reference_date or prof.meta.get("reference_date")
    if ref_date:
        try:
            ref_date = _dt.date.fromisoformat(str(ref_date)).isoformat()
        except ValueError:
            raise UsageError("MD004", what="reference date", value=str(ref_date),
                             choices="a date written YYYY-MM-DD, e.g. 2022-07-01") from None
    try:
        from migdata.areas.reference import release
        psgc_release = release()
    except Exception:  # the reference is optional for sources without PSGC codes
        psgc_release = None
    if rounds is None:
        rounds = [prof.round] if prof.round else []
    layouts = layouts or {}
    return Provenance(
        stream=prof.meta.get("stream") or prof.source or None, sources=[prof.name], rounds=rounds,
        period=period or (str(prof.meta["period"]) if prof.meta.get("period") else None), reference_date=ref_date,
        design=prof.design, psgc_release=psgc_release, profile=prof.name, profile_path=prof.path,
        reader=prof.reader, files=files, policy=policy, keep_identifiers=bool(keep_identifiers),
        units={"person": "persons", "household": "households", **dict(prof.meta.get("units") or {})},
        links=list(prof.links), extra={"layouts": layouts} if any(layouts.values()) else {})


def _reject_value_problems(tidy: dict[str, pd.DataFrame], report: ImportReport, prof: Profile
                           ) -> tuple[dict[str, pd.DataFrame], dict[str, int]]:
    """Under the reject policy: drop the tidy rows whose source row had a value problem in a
    column that table uses (a reader problem names the raw item, a mapping problem its table)."""
    uses = {}
    for t, tspec in prof.tables.items():
        cols = set()
        for spec in tspec["columns"].values():
            cols.update([spec["from"]] if spec.get("from") else [])
            cols.update(spec.get("concat", []))
        uses[t] = cols
    bad: dict[str, set[tuple[str | None, int]]] = {t: set() for t in tidy}
    for code, table, column, source_file, row in report.rows_with(VALUE_PROBLEMS):
        for t in tidy:
            if table == t or column in uses.get(t, ()):
                bad[t].add((source_file, row))
    def used(table: str, column: str | None) -> bool:
        return any(table == t or column in uses.get(t, ()) for t in tidy)

    for p in report.problems:
        if p.code in VALUE_PROBLEMS and p.source_row and p.action == "set_missing" and used(p.table, p.column):
            p.action = "rejected"
    for (code, table, column, action), n in list(report.unlisted.items()):
        if code in VALUE_PROBLEMS and action == "set_missing" and used(table, column):
            del report.unlisted[(code, table, column, action)]
            key = (code, table, column, "rejected")
            report.unlisted[key] = report.unlisted.get(key, 0) + n
    out, removed = {}, {}
    for name, df in tidy.items():
        if "_source_row" not in df.columns or not bad.get(name):
            out[name] = df
            continue
        if "_source_file" in df.columns:  # several files: a row number is only unique per file
            keys = pd.Series(list(zip(df["_source_file"].astype(str), df["_source_row"].astype(int))))
            m = keys.isin(bad[name]).to_numpy()
        else:
            m = df["_source_row"].isin([r for _, r in bad[name]]).to_numpy()
        out[name] = df.loc[~m].reset_index(drop=True)
        removed[name] = int(m.sum())
    return out, removed


# -- codebook ---------------------------------------------------------------------------------

def codebook_table(path: str | Path, **options: Any) -> pd.DataFrame:
    """The codebook of any readable file as a table (one row per variable): the reader is chosen
    by extension; a CSPro ``.dcf`` alone is enough.

    Example:
        >>> codebook_table("HPQF2_DICT.dcf").shape[0]          # doctest: +SKIP
        1497
    """
    p = _paths(path)[0]
    fn = get_reader(reader_for(p))
    _, cb = fn(p, **options)
    return cb.to_frame()
