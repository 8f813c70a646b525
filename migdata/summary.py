"""Plain-text summaries of a dataset store for ``migdata info``.

Counts of persons are estimates of the dataset's own design (``data.design("person")``): sums
of the weights the design gives each person (person weights where the profile declares them,
else household weights; 1 in a complete count), so ``info`` shows the same population as the
indicator tables.

Example:
    >>> print(describe_store("sample_data/store"))   # doctest: +SKIP
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from migdata.areas.levels import COLUMN, LEVELS, NAMES
from migdata.model.data import load, read_manifest


def _counts(design, by: list[str]) -> pd.DataFrame:
    """Estimated persons per domain of ``by`` (rows missing a ``by`` value are 'unknown')."""
    df = design.data
    cols = {}
    for b in by:
        s = df[b].astype(object).where(df[b].notna(), "unknown")
        cols[b] = s.astype(str)
    d = design.update(_one=np.ones(design.n_rows), **cols)
    res = d.total("_one", by=by)
    return res[[*by, "estimate", "n"]]


def describe_database(path: str | os.PathLike[str]) -> str:
    """The streams and rounds of a database, their row counts and design, and its links."""
    from migdata.model.database import Database

    db = Database(path)
    lines = [f"Database {path}", "  datasets (stream, round, rows, design):"]
    for e in db.datasets():
        rows = ", ".join(f"{t} {n:,}" for t, n in e["rows"].items() if not t.startswith("_"))
        lines.append(f"    {e['stream']:<12}{str(e.get('round') or ''):<10}{rows}")
        lines.append(f"      {e.get('design', '')}")
    rep = db.link_report()
    if len(rep):
        lines.append("  links (records of the survey: linked, of which conflicting; no id given; id not found):")
        for _, r in rep.iterrows():
            lines.append(f"    {r['link']} ({r['from']} -> {r['to']}): {r['records']:,} records, "
                         f"{r['linked'] + r['conflict']:,} linked ({r['link_rate']:.1f}%; "
                         f"{r['conflict']:,} conflicting), {r['not_linked']:,} without id, "
                         f"{r['not_found']:,} id not found")
    return "\n".join(lines)


def describe_store(path: str | os.PathLike[str]) -> str:
    """Sources, rounds, design, table sizes, and persons by area level and sex (a database
    folder: its streams, rounds and links)."""
    from migdata.model.database import is_database

    if is_database(path):
        return describe_database(path)
    manifest = read_manifest(path)
    data = load(path)
    prov = data.provenance
    lines = [f"Dataset {path}",
             f"  sources: {', '.join(prov.sources) or 'unknown'}",
             f"  rounds: {', '.join(prov.rounds) or 'unknown'}"
             + (f" (period {prov.period})" if prov.period and prov.rounds != [prov.period] else ""),
             f"  PSGC release: {prov.psgc_release or 'not recorded'}",
             f"  design: {prov.design.describe()}",
             f"  saved by migdata {manifest.get('migdata_version')} at {manifest.get('saved_at')}",
             "  tables:"]
    for name, meta in manifest["tables"].items():
        if not name.startswith("_"):
            lines.append(f"    {name:<12}{meta['rows']:>12,} rows")
    report = data.report
    if report.counts:
        lines.append(f"  import: {report.n_problems:,} problem(s) reported, {report.n_rejected:,} row(s) rejected")
    if not len(data.persons):
        return "\n".join(lines)
    frame = data.frame("person", columns=[c for c in COLUMN.values() if c] + ["sex"])
    for lev in LEVELS[1:]:
        col = COLUMN[lev]
        if col in frame.columns and frame[col].notna().any():
            lines.append(f"  {NAMES[lev]}: {frame[col].nunique():,} area(s)")
    design = data.design("person", frame=frame)
    weighted = "" if data.complete_count else " (estimated: sums of the design's weights)"
    lines.append(f"  persons by sex{weighted}:")
    for _, r in _counts(design, ["sex"]).iterrows():
        lines.append(f"    {r['sex']:<10}{r['estimate']:>14,.0f}")
    if "region" in frame.columns and frame["region"].notna().any():
        lines.append(f"  persons by region and sex{weighted}:")
        tab = _counts(design, ["region", "sex"]).pivot(index="region", columns="sex", values="estimate").fillna(0)
        try:
            from migdata import areas
            tab.index = [f"{c} {areas.name(c)}" if c != "unknown" else c for c in tab.index]
        except Exception:  # names are a convenience; codes alone are still right
            pass
        lines.append("    " + tab.round(0).astype("int64").to_string().replace("\n", "\n    "))
    return "\n".join(lines)
