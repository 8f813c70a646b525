"""Hooks of the ``kobo_of_survey`` profile (stream iii), shared with ``kobo_clb_survey``.

The engine needs a households or persons table; an OF-survey (or CLB-survey) dataset has neither,
so the placeholder households table is emptied and an empty persons table added, and the survey
table gets its own read/kept/rejected counts in the report (nothing is dropped: every response
row stays in the survey table). CBMS country codes become ISO3 as in the rider profile.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from migdata.profiles.kobo_cbms_rider import iso3

PERSON_COLUMNS = ["hh_id", "line_no", "sex", "age", "relationship"]


def survey_only(tables: dict[str, pd.DataFrame], name: str, report: Any) -> dict[str, pd.DataFrame]:
    """Keep ``tables[name]``; households and persons become empty tables."""
    hh = tables["households"]
    tables["households"] = pd.DataFrame({"hh_id": pd.Series([], dtype="string"),
                                         "weight": pd.Series([], dtype="float64"),
                                         "source": pd.Series([], dtype="string")})
    tables["persons"] = pd.DataFrame({c: pd.Series([], dtype="object") for c in PERSON_COLUMNS})
    n = len(tables[name])
    report.set_counts(name, read=n, kept=n, rejected=0)
    return tables


def derive(tables: dict[str, pd.DataFrame], raw: dict[str, pd.DataFrame], codebook: Any,
           report: Any) -> dict[str, pd.DataFrame]:
    t = tables["of_survey"]
    t["country"] = iso3(t["country_src"])
    t["association_country"] = iso3(t["association_country_src"])
    # From the answer string, so the profile works with or without the form's choice columns.
    sp = t["social_protection"].astype("string")
    for col, code in (("owwa_member", "owwa"), ("sss_member", "sss"), ("philhealth", "philhealth"),
                      ("pagibig_member", "pagibig")):
        t[col] = sp.map(lambda v, c=code: pd.NA if pd.isna(v) else c in str(v).split()).astype("boolean")
    return survey_only(tables, "of_survey", report)
