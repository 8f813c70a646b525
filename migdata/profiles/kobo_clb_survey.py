"""Hooks of the ``kobo_clb_survey`` profile (stream iv): ISO3 countries of the parents abroad.

The survey table ``clb_survey`` is declared in the tidy model (``migdata/model/schema.toml``):
validation types its columns, checks their ranges and rejects a submission listed twice."""

from __future__ import annotations

from typing import Any

import pandas as pd

from migdata.profiles.kobo_cbms_rider import iso3


def derive(tables: dict[str, pd.DataFrame], raw: dict[str, pd.DataFrame], codebook: Any,
           report: Any) -> dict[str, pd.DataFrame]:
    t = tables["clb_survey"]
    t["father_country"] = iso3(t["father_country_src"])
    t["mother_country"] = iso3(t["mother_country_src"])
    return tables
