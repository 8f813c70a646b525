"""Estimates straight from a dataset (``HouseholdData``): what ``migdata estimate`` runs.

The design is the dataset's own (``data.design(unit)``, from the profile's declared
:class:`~migdata.model.spec.DesignSpec`: weights, strata, nested PSUs, FPC, lonely-PSU rule,
complete count), so the command gives the same estimate, SE and flag as the indicator tables.

Example:
    >>> import pandas as pd
    >>> from migdata.model.data import HouseholdData
    >>> hh = pd.DataFrame({"hh_id": ["a", "b"], "weight": [1.0, 1.0], "source": ["cbms", "cbms"]})
    >>> pp = pd.DataFrame({"hh_id": ["a", "a", "b"], "line_no": [1, 2, 1], "age": [30, 5, 70]})
    >>> d = HouseholdData({"households": hh, "persons": pp}, provenance={"complete_count": True})
    >>> r = estimate(d, "total", "age")
    >>> r[["estimate", "se", "flag"]].values.tolist()
    [[105.0, 0.0, 'complete_count']]
"""

from __future__ import annotations

from typing import Any, Sequence

import pandas as pd

from migdata.errors import UsageError

KINDS = ("mean", "total", "proportion", "ratio", "quantile")
#: Table names users type for the two household-model units.
UNIT_OF_TABLE = {"persons": "person", "person": "person", "households": "household", "household": "household"}


def estimate(data: Any, kind: str, variables: str | Sequence[str], by: str | Sequence[str] | None = None,
             table: str = "persons", denominator: str | None = None, probs: Sequence[float] = (0.5,),
             ci_method: str = "logit", lonely_psu: str | None = None, policy: Any = None) -> pd.DataFrame:
    """One estimate table: ``kind`` is mean, total, proportion, ratio or quantile, for every
    domain of ``by`` at once, on the dataset's design of ``table`` (``persons``, ``households``
    or a survey table). ``lonely_psu`` overrides the declared rule.

    Raises :class:`~migdata.errors.MigdataError` subclasses on bad input (unknown column,
    lonely PSU under ``fail``, ...), never a bare traceback.
    """
    if kind not in KINDS:
        raise UsageError("MD307", what="Estimate kind", value=kind, choices=", ".join(KINDS))
    unit = UNIT_OF_TABLE.get(table, table)
    changes = {"lonely_psu": lonely_psu} if lonely_psu else {}
    d = data.design(unit, policy=policy, **changes)
    if kind == "quantile":
        return d.quantile(variables, list(probs), by=by)
    return d.estimate_many(kind, variables, by=by, ci_method=ci_method, denominator=denominator)


def format_table(result: pd.DataFrame, digits: int = 4) -> str:
    """Plain text of an estimate table for the terminal."""
    return result.to_string(index=False, float_format=lambda x: f"{x:.{digits}g}")
