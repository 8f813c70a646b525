"""Plain-text summaries of a dataset store for ``migdata info``.

Example:
    >>> print(describe_store("sample_data/store"))   # doctest: +SKIP
"""

from __future__ import annotations

import os

import pandas as pd

from migdata.model.data import load, read_manifest


def describe_store(path: str | os.PathLike[str]) -> str:
    """Sources, rounds, table sizes, and persons by area level and sex (weighted when a survey)."""
    manifest = read_manifest(path)
    data = load(path)
    prov = data.provenance
    lines = [f"Dataset {path}",
             f"  sources: {', '.join(manifest.get('sources') or []) or 'unknown'}",
             f"  rounds: {', '.join(map(str, manifest.get('rounds') or [])) or 'unknown'}",
             f"  PSGC release: {manifest.get('psgc_release') or 'not recorded'}",
             f"  kind: {'complete count (census)' if data.complete_count else 'sample survey (weighted)'}",
             f"  saved by migdata {manifest.get('migdata_version')} at {manifest.get('saved_at')}",
             "  tables:"]
    for name, meta in manifest["tables"].items():
        if not name.startswith("_"):
            lines.append(f"    {name:<12}{meta['rows']:>12,} rows")
    report = data.report
    if report.counts:
        lines.append(f"  import: {len(report.problems):,} problem(s) reported, {report.n_rejected:,} row(s) rejected")
    hh, pp = data.households, data.persons
    merged = pp[["hh_id", "sex"]].merge(hh.drop(columns=["sex"], errors="ignore"), on="hh_id", how="left")
    w = merged["weight"] if ("weight" in merged and not data.complete_count) else None
    for level in ("region", "province", "city_mun", "barangay"):
        if level not in merged.columns or merged[level].isna().all():
            continue
        n_areas = merged[level].nunique()
        lines.append(f"  {level.replace('_', '/')}: {n_areas:,} area(s)")
    lines.append("  persons by sex" + (" (weighted)" if w is not None else "") + ":")
    counts = (w.groupby(merged["sex"], observed=False).sum() if w is not None
              else merged.groupby("sex", observed=False).size())
    missing = (w[merged["sex"].isna()].sum() if w is not None else int(merged["sex"].isna().sum()))
    for sex, n in counts.items():
        lines.append(f"    {sex:<10}{n:>14,.0f}")
    if missing:
        lines.append(f"    {'unknown':<10}{missing:>14,.0f}")
    if "region" in merged.columns and merged["region"].notna().any():
        lines.append("  persons by region and sex" + (" (weighted)" if w is not None else "") + ":")
        val = w if w is not None else pd.Series(1, index=merged.index)
        tab = val.groupby([merged["region"], merged["sex"]], observed=False).sum().unstack(fill_value=0)
        try:
            from migdata import areas
            tab.index = [f"{c} {areas.name(c)}" for c in tab.index]
        except Exception:  # names are a convenience; codes alone are still right
            pass
        lines.append("    " + tab.round(0).astype("int64").to_string().replace("\n", "\n    "))
    if prov.get("design"):
        lines.append(f"  survey design: {prov['design']}")
    return "\n".join(lines)
