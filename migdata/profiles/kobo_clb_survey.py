"""Hooks of the ``kobo_clb_survey`` profile (stream iv): ISO3 countries of the parents abroad,
and the survey-only dataset shape shared with ``kobo_of_survey``."""

from __future__ import annotations

from typing import Any

import pandas as pd

from migdata.profiles.kobo_cbms_rider import iso3
from migdata.profiles.kobo_of_survey import coerce, survey_only


def derive(tables: dict[str, pd.DataFrame], raw: dict[str, pd.DataFrame], codebook: Any,
           report: Any) -> dict[str, pd.DataFrame]:
    t = tables["clb_survey"]
    coerce(t, "kobo_clb_survey", "clb_survey", report, getattr(codebook, "source", None))
    t["father_country"] = iso3(t["father_country_src"])
    t["mother_country"] = iso3(t["mother_country_src"])
    return survey_only(tables, "clb_survey", report)
