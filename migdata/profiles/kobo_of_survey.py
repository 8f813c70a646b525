"""Hooks of the ``kobo_of_survey`` profile (stream iii): what the TOML cannot say.

The survey table ``of_survey`` is declared in the tidy model (``migdata/model/schema.toml``):
validation types its columns, checks their ranges and rejects a submission listed twice (the
same ``_uuid``). These hooks only derive columns: CBMS country codes become ISO3 as in the
rider, the total of money sent and brought home, and four social-protection booleans.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from migdata.profiles.kobo_cbms_rider import iso3


def derive(tables: dict[str, pd.DataFrame], raw: dict[str, pd.DataFrame], codebook: Any,
           report: Any) -> dict[str, pd.DataFrame]:
    t = tables["of_survey"]
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
    return tables
