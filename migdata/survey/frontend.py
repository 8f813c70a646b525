"""Estimates straight from a dataset (``HouseholdData``): the functions the CLI calls.

The design columns of the tidy model live on ``households`` (``weight``, ``stratum``, ``psu``);
person-level estimates join them to ``persons`` by ``hh_id`` (a person ``weight`` wins where the
source has one). A dataset without strata and PSUs whose weights are all 1 is a complete count
(CBMS, census): no sampling error, flags ``complete_count``.

Example:
    >>> import pandas as pd
    >>> from migdata.model.data import HouseholdData
    >>> hh = pd.DataFrame({"hh_id": ["a", "b"], "weight": [1.0, 1.0], "source": ["cbms", "cbms"]})
    >>> pp = pd.DataFrame({"hh_id": ["a", "a", "b"], "line_no": [1, 2, 1], "age": [30, 5, 70]})
    >>> r = estimate(HouseholdData({"households": hh, "persons": pp}), "total", "age")
    >>> r[["estimate", "se", "flag"]].values.tolist()
    [[105.0, 0.0, 'complete_count']]
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from migdata.errors import UsageError
from migdata.survey.design import Design

DESIGN_COLUMNS = ("weight", "stratum", "psu")
# household columns persons are most often tabulated by; joined when the person table lacks them
AREA_COLUMNS = ("region", "province", "city_mun", "barangay", "urban_rural")


def analysis_frame(data: Any, table: str = "persons") -> pd.DataFrame:
    """``table`` with the household design columns joined on (persons) or as is (households)."""
    tables = getattr(data, "tables", None) or {}
    if table not in tables:
        raise UsageError("MD307", what="Table", value=table, choices=", ".join(sorted(tables)))
    df = tables[table]
    if table == "households" or "households" not in tables or "hh_id" not in df.columns:
        return df
    hh = tables["households"]
    cols = [c for c in DESIGN_COLUMNS if c in hh.columns]
    cols += [c for c in AREA_COLUMNS if c in hh.columns and c not in df.columns]
    joined = df.merge(hh[["hh_id", *cols]], on="hh_id", how="left", suffixes=("", "_hh"),
                      validate="many_to_one")
    if "weight_hh" in joined.columns:
        joined["weight"] = joined["weight"].fillna(joined.pop("weight_hh"))
    return joined


def design_for(data: Any, table: str = "persons", lonely_psu: str = "fail",
               complete: bool | None = None, **options: Any) -> Design:
    """The survey design of a dataset table (complete count detected when ``complete`` is None)."""
    df = analysis_frame(data, table)
    has = {c: c in df.columns and df[c].notna().any() for c in DESIGN_COLUMNS}
    if complete is None:
        complete = (not has["stratum"] and not has["psu"]
                    and (not has["weight"] or bool(np.all(df["weight"].to_numpy(float) == 1.0))))
    if complete:
        return Design.complete_count(df, policy=options.get("policy"))
    return Design(df, weights="weight" if has["weight"] else None,
                  strata="stratum" if has["stratum"] else None,
                  psu="psu" if has["psu"] else None, lonely_psu=lonely_psu, **options)


def estimate(data: Any, kind: str, variables: str | Sequence[str], by: str | Sequence[str] | None = None,
             table: str = "persons", denominator: str | None = None, probs: Sequence[float] = (0.5,),
             ci_method: str = "logit", lonely_psu: str = "fail", complete: bool | None = None,
             **options: Any) -> pd.DataFrame:
    """One estimate table: ``kind`` is mean, total, proportion, ratio or quantile.

    Raises :class:`~migdata.errors.MigdataError` subclasses on bad input (unknown column,
    lonely PSU under ``fail``, ...), never a bare traceback.
    """
    d = design_for(data, table, lonely_psu=lonely_psu, complete=complete, **options)
    if kind == "quantile":
        return d.quantile(variables, list(probs), by=by)
    return d.estimate_many(kind, variables, by=by, ci_method=ci_method, denominator=denominator)


def format_table(result: pd.DataFrame, digits: int = 4) -> str:
    """Plain text of an estimate table for the terminal."""
    return result.to_string(index=False, float_format=lambda x: f"{x:.{digits}g}")
