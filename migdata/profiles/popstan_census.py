"""Hooks for the ``popstan_census`` profile: derivations that compare two source columns.

Residence five years ago and place of birth are coded as a Popstan province (1-15) or a place
abroad; whether the person moved depends on the *current* province, which a code table alone
cannot express. Everything else in the profile is data (``popstan_census.toml``).

Example:
    >>> import pandas as pd
    >>> residence(pd.Series([3, 3, 40, 0, None]), pd.Series([3, 5, 3, 3, 3])).tolist()
    ['same', 'other_ph', 'abroad', 'unknown', None]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from migdata.model import codes as codelists
from migdata.model.report import ImportReport
from migdata.readers.codebook import Codebook

POPSTAN = (1, 15)
ABROAD = (21, 84)


def residence(code: pd.Series, province: pd.Series) -> pd.Series:
    """Residence-type category of a Popstan place code relative to the current province."""
    c = pd.to_numeric(code, errors="coerce").astype("float64").to_numpy()
    prov = pd.to_numeric(province, errors="coerce").astype("float64").to_numpy()
    out = np.full(len(c), None, dtype=object)
    home = (c >= POPSTAN[0]) & (c <= POPSTAN[1])
    out[home & (c == prov)] = "same"
    out[home & (c != prov)] = "other_ph"
    out[(c >= ABROAD[0]) & (c <= ABROAD[1])] = "abroad"
    out[c == 0] = "unknown"
    return pd.Series(out, index=code.index, dtype=object)


def _report_unknown(p: pd.DataFrame, src: str, derived: pd.Series, column: str, codebook: Codebook,
                    report: ImportReport) -> None:
    bad = p[src].notna().to_numpy() & derived.isna().to_numpy()
    if bad.any():
        report.record("MD504", table="persons", column=column, action="set_missing",
                      source_file=codebook.source, rows=p.loc[bad, "_source_row"], values=p.loc[bad, src],
                      raw_column=src, allowed="0, 1-15, 21-84")


def derive(tables: dict[str, pd.DataFrame], raw: dict[str, pd.DataFrame], codebook: Codebook,
           report: ImportReport) -> dict[str, Any]:
    """res_5y, res_5y_place, res_5y_src and res_birth from the scratch columns."""
    p = tables["persons"]
    res5 = residence(p["_res95"], p["_province"])
    _report_unknown(p, "_res95", res5, "res_5y", codebook, report)
    p["res_5y"] = pd.Categorical(res5, dtype=codelists.dtype("residence_type"))
    src = pd.to_numeric(p["_res95"], errors="coerce")
    p["res_5y_src"] = src.astype("Int64").astype("string")
    place = src.where(res5 == "other_ph")
    p["res_5y_place"] = place.astype("Int64").astype("string").str.zfill(2)
    birth = residence(p["_birth"], p["_province"])
    _report_unknown(p, "_birth", birth, "res_birth", codebook, report)
    p["res_birth"] = pd.Categorical(birth, dtype=codelists.dtype("residence_type"))
    tables["persons"] = p
    return tables
