"""The analysis frame: the one join of household columns onto the units estimated.

Every estimate in migdata (indicators, ``migdata estimate``, the report, ``migdata info``,
notebooks) is made on a frame built here, so a person is always given the same area, design
columns and weight:

- ``unit="household"``: the households table as stored.
- ``unit="person"``: the persons table, with every household column it does not have itself
  (area codes, urban/rural, design columns, household variables) joined on by ``hh_id``. A
  column both tables hold keeps the person's value, except the design columns (strata, PSUs,
  FPCs), which belong to the household. The weight column follows the rule of
  :mod:`migdata.model.spec` (person weight when the profile declares one, else the household's).
- any other table (``of_survey``, ``clb_survey``, ...): that table, with household columns
  joined the same way when it has ``hh_id`` and the dataset has households.

Rows keep the unit table's order and index 0..n-1, so arrays derived from a frame line up with
it. Area codes travel as Categoricals (a few thousand codes for millions of rows).

Example:
    >>> import pandas as pd
    >>> hh = pd.DataFrame({"hh_id": ["a", "b"], "weight": [10.0, 20.0], "region": ["04", "04"]})
    >>> pp = pd.DataFrame({"hh_id": ["a", "b", "b"], "line_no": [1, 1, 2]})
    >>> f = attach_households(pp, hh)
    >>> f["weight"].tolist(), f["region"].astype(str).tolist()
    ([10.0, 20.0, 20.0], ['04', '04', '04'])
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd

from migdata.errors import UsageError
from migdata.model.spec import DesignSpec

AREA_COLUMNS = ("psgc", "region", "province", "city_mun", "barangay")


def household_positions(households: pd.DataFrame, units: pd.DataFrame) -> np.ndarray:
    """Row position of each unit's household in ``households`` (-1 when it has none).

    Equals ``pd.Index(households["hh_id"]).get_indexer(units["hh_id"])``. Units come grouped by
    household (a household's members are consecutive rows), so only the first id of each run is
    looked up, with Arrow's hash look-up (``pyarrow.compute.index_in``), and none at all when the
    runs follow the households one for one (the usual order of a store)."""
    if "hh_id" not in units.columns or "hh_id" not in households.columns or not len(households):
        return np.full(len(units), -1, dtype=np.int64)
    import pyarrow as pa
    import pyarrow.compute as pc

    def arrow(s: pd.Series) -> pa.Array:
        arr = pa.array(s.astype("string[pyarrow]"))
        return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr

    h, u = arrow(households["hh_id"]), arrow(units["hh_id"])
    n = len(u)
    if not n:
        return np.zeros(0, dtype=np.int64)
    start = np.ones(n, dtype=bool)
    if n > 1:
        start[1:] = pc.not_equal(u.slice(1), u.slice(0, n - 1)).fill_null(True).to_numpy(zero_copy_only=False)
    heads = np.flatnonzero(start)
    hu = u.take(pa.array(heads))
    if len(hu) == len(h) and not hu.null_count and not h.null_count \
            and bool(pc.all(pc.equal(hu, h)).as_py()) and (len(h) < 2 or bool(
                pc.all(pc.not_equal(h.slice(1), h.slice(0, len(h) - 1))).as_py())):
        # ids in the households' order, one run each: a run's number is its household's position
        # (= np.arange(len(h))[np.cumsum(start) - 1], without the gather)
        pos = np.cumsum(start)
        pos -= 1
        return pos
    else:
        if pc.count_distinct(h).as_py() != len(h) - h.null_count or h.null_count:
            # ids repeat (an unvalidated table): pandas names the problem as before
            return pd.Index(households["hh_id"]).get_indexer(units["hh_id"]).astype(np.int64)
        pos_heads = pc.index_in(hu, value_set=h).fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    return pos_heads[np.cumsum(start) - 1]


def attach_households(units: pd.DataFrame, households: pd.DataFrame,
                      columns: Iterable[str] | None = None, spec: DesignSpec | None = None,
                      unit: str = "person", positions: np.ndarray | None = None) -> pd.DataFrame:
    """``units`` with household columns joined on by ``hh_id`` (see the module docstring).

    ``columns`` limits which household columns are joined (default: all); the design columns
    of ``spec`` and the weight are always joined. ``positions``: the units' household
    positions when the caller has them (:func:`household_positions` of these tables). Returns a
    new frame (``units`` is not changed; its arrays are shared, not copied).
    """
    spec = spec or DesignSpec()
    out = units.reset_index(drop=True).copy(deep=False)
    if not len(households) or "hh_id" not in units.columns or "hh_id" not in households.columns:
        return out  # a stand-alone table (no household roster in this dataset): nothing to join
    pos = household_positions(households, out) if positions is None else positions
    ok = pos >= 0
    take = np.where(ok, pos, 0)
    design_cols = set(spec.columns())
    wanted = None if columns is None else set(columns) | design_cols
    own_weight = unit == "person" and spec.person_weights is not None
    for c in households.columns:
        if c == "hh_id" or (wanted is not None and c not in wanted):
            continue
        if c in out.columns:
            if c not in design_cols:
                continue  # the unit's own value wins
            if own_weight and c == spec.person_weights:
                continue  # the declared person weight stays
        s = households[c]
        if c in AREA_COLUMNS and not isinstance(s.dtype, pd.CategoricalDtype):
            s = s.astype("category")
        vals = s.iloc[take].reset_index(drop=True)
        if not ok.all():
            vals = vals.where(pd.Series(ok), other=np.nan if isinstance(vals.dtype, pd.CategoricalDtype)
                              else pd.NA)
        out[c] = vals.to_numpy() if not isinstance(vals.dtype, pd.CategoricalDtype) else vals.values
    return out


def unit_frame(tables: dict[str, pd.DataFrame], unit: str, spec: DesignSpec,
               columns: Iterable[str] | None = None, units: dict[str, str] | None = None) -> pd.DataFrame:
    """The frame of ``unit`` from a dataset's tables (the body of ``HouseholdData.frame``).

    ``units`` says which table is each unit (default ``persons`` and ``households``; a
    stand-alone survey of overseas Filipinos declares ``person = "of_survey"``)."""
    units = {"person": "persons", "household": "households", **(units or {})}
    name = units.get(unit, unit)
    if name not in tables:
        raise UsageError("MD307", what="Unit", value=unit,
                         choices=", ".join(["person", "household", *[t for t in tables
                                                                     if t not in ("persons", "households")
                                                                     and not t.startswith("_")]]))
    df = tables[name]
    if name == "households":
        out = df.reset_index(drop=True).copy(deep=False)
        keep = None if columns is None else [c for c in out.columns if c in set(columns) | {"hh_id", *spec.columns()}]
        return out if keep is None else out[keep]
    hh = tables.get("households")
    if hh is None:
        hh = pd.DataFrame()
    out = attach_households(df, hh, columns=None if columns is None else set(columns), spec=spec, unit=unit)
    if columns is not None:
        keep = set(columns) | {"hh_id", "line_no", *spec.columns()}
        out = out[[c for c in out.columns if c in keep]]
    return out
