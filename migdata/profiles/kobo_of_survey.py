"""Hooks of the ``kobo_of_survey`` profile (stream iii), shared with ``kobo_clb_survey``.

The engine needs a households or persons table; an OF-survey (or CLB-survey) dataset has neither,
so the placeholder households table is emptied and an empty persons table added, and the survey
table gets its own read/kept/rejected counts in the report (nothing is dropped: every response
row stays in the survey table). The survey table has no schema for validation to type it, so
its columns are typed here from the ``dtype`` the profile gives them (a value that is not a
number is reported, MD610, and set missing). CBMS country codes become ISO3 as in the rider.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from migdata.profiles.kobo_cbms_rider import iso3

def coerce(df: pd.DataFrame, profile: str, table: str, report: Any, source: str | None) -> None:
    """Type the columns of ``df`` by the profile's ``dtype`` (int, float, bool, string)."""
    from migdata.profiles import load_profile

    spec = load_profile(profile).tables[table]["columns"]
    for col, cs in spec.items():
        kind = cs.get("dtype")
        if col not in df.columns or kind is None:
            continue
        s = df[col]
        if kind in ("int", "float"):
            num = pd.to_numeric(s.astype("string").str.strip().replace("", pd.NA), errors="coerce")
            bad = num.isna() & s.notna() & (s.astype("string").str.strip() != "")
            report.record("MD610", table=table, column=col, action="set_missing", source_file=source,
                          rows=df.loc[bad, "_source_row"] if "_source_row" in df else None, values=s[bad])
            df[col] = num.astype("Int64") if kind == "int" and (num.dropna() % 1 == 0).all() else num.astype("float64")
        elif kind == "bool":
            df[col] = s.astype("boolean")
        elif kind == "string":
            df[col] = s.astype("string")


def survey_only(tables: dict[str, pd.DataFrame], name: str, report: Any) -> dict[str, pd.DataFrame]:
    """Record the counts of the stand-alone survey table ``name`` (validation checks only the
    household roster, which this dataset does not have)."""
    n = len(tables[name])
    report.set_counts(name, read=n, kept=n, rejected=0)
    return tables


def derive(tables: dict[str, pd.DataFrame], raw: dict[str, pd.DataFrame], codebook: Any,
           report: Any) -> dict[str, pd.DataFrame]:
    t = tables["of_survey"]
    coerce(t, "kobo_of_survey", "of_survey", report, getattr(codebook, "source", None))
    t["country"] = iso3(t["country_src"])
    t["association_country"] = iso3(t["association_country_src"])
    sent = pd.to_numeric(t["remit_12m"], errors="coerce")
    sent = sent.where(t["sent_money"].astype("boolean").fillna(True), 0.0)  # "sent nothing" = 0
    brought = pd.to_numeric(t["cash_brought"], errors="coerce")
    t["remittance_total"] = sent + brought
    # From the answer string, so the profile works with or without the form's choice columns.
    sp = t["social_protection"].astype("string")
    for col, code in (("owwa_member", "owwa"), ("sss_member", "sss"), ("philhealth", "philhealth"),
                      ("pagibig_member", "pagibig")):
        t[col] = sp.map(lambda v, c=code: pd.NA if pd.isna(v) else c in str(v).split()).astype("boolean")
    return survey_only(tables, "of_survey", report)
