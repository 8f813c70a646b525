"""Small-cell disclosure control for complete-count tables (CBMS, census): primary and secondary
cell suppression.

Primary: a cell based on fewer than ``k`` units (default 3) is suppressed, i.e. when the units
its numerator rests on (``units``) or those of its denominator (``n``) number 1 to k-1, whatever
the statistic, category or disaggregation. For counts and shares ``units`` is the count of units
in the numerator; for totals, means and ratios it is the count of units with a non-zero value
(the evaluator fills it so), since only those contribute to the sum. Empty cells (0 units)
reveal nothing and stay.

Secondary: a suppressed cell must not be recoverable from a margin. The table's linear relations
are found from its shape:

- each ``by`` column: the cells of its categories (with ``not stated``) add up to its ``Total``
  row, for fixed values of everything else;
- the area hierarchy: the areas with the same ``parent_code`` add up to the parent's row;
- categories of a distribution: their numerators add up to the (published) denominator, used
  where the numbers show it (the sum equals the denominator).

Whenever a relation holds exactly one suppressed cell, the smallest non-zero unsuppressed member
(by ``units``) is suppressed too, or, if there is none, the margin; this repeats until no
relation has exactly one suppressed cell. Rows are marked (``suppressed``, ``suppression`` =
``primary`` / ``secondary``), never dropped; writers blank their values.

This is the classical hypercube-free heuristic (as in tau-Argus' "singleton" rules); it is
hand-written because no maintained Python library does cell suppression on a pandas table.
It guarantees no *single* suppressed cell in any one relation; it does not solve the full
linear-programming audit across many overlapping relations.

Example:
    >>> import pandas as pd
    >>> t = pd.DataFrame({"indicator_id": "X", "area_level": "city", "area_code": "c",
    ...     "parent_code": "", "category": "", "sex": ["Total", "male", "female"],
    ...     "units": [12, 2, 10], "n": [12, 2, 10], "flag": "complete_count"})
    >>> suppress(t, k=3, by=["sex"])["suppression"].tolist()
    ['', 'primary', 'secondary']
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from migdata.errors import UsageError

TOTAL = "Total"
LEVELS = ["barangay", "city", "province", "region", "national"]
REQUIRED = ["indicator_id", "area_level", "area_code", "units", "n"]


def _groups(cols: list[np.ndarray]) -> np.ndarray:
    """Group number of each row over integer key columns (combine, then ``np.unique``)."""
    if not cols:
        return np.zeros(0, dtype=np.int64)
    from migdata.survey.cells import group_index

    combined = np.zeros(len(cols[0]), dtype=np.int64)
    span = 1
    for c in cols:
        c = np.asarray(c, dtype=np.int64)
        size = int(c.max()) + 2 if len(c) else 1
        if span * size >= 1 << 62:  # keep the mixed-radix key inside int64
            combined = group_index(combined)[1]
            span = int(combined.max()) + 1 if len(combined) else 1
        combined = combined * size + (c + 1)
        span *= size
    return group_index(combined)[1]


def _codes(s: pd.Series) -> tuple[np.ndarray, list[Any]]:
    """Integer codes and labels of a column (Categorical codes, or factorised)."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        return s.cat.codes.to_numpy().astype(np.int64), list(s.cat.categories)
    codes, uniq = pd.factorize(s.astype(object).where(s.notna(), ""))
    return codes.astype(np.int64), list(uniq)


def _label_code(labels: list[Any], value: str) -> int:
    return labels.index(value) if value in labels else -99


def _relations(t: dict[str, Any], by: list[str]) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """(member group, margin group, n groups) for every relation type of one indicator's table.

    ``t`` holds integer codes: ``level`` (index in LEVELS), ``area`` and ``parent`` (codes in one
    shared area list, -1 for none), ``category`` and each ``by`` column, plus ``total_<by>`` and
    ``has_category`` booleans and ``numerator``/``denominator`` floats."""
    rels = []
    n = len(t["area"])
    has_cat = "category" in t
    base = ["level", "area"] + (["category"] if has_cat else [])
    for d in by:
        is_total = t["total_" + d]
        if is_total.all() or not is_total.any():
            continue
        g = _groups([t[c] for c in base + [b for b in by if b != d]])
        rels.append((np.where(~is_total, g, -1), np.where(is_total, g, -1), int(g.max()) + 1))
    if "parent" in t:
        dims = (["category"] if has_cat else []) + by
        lev, pc = t["level"], t["parent"]
        is_mem = (pc >= 0) & (lev + 1 < len(LEVELS))
        m = int(is_mem.sum())
        if m:
            cols = [np.concatenate([lev[is_mem] + 1, lev]), np.concatenate([pc[is_mem], t["area"]])]
            cols += [np.concatenate([t[d][is_mem], t[d]]) for d in dims]
            g = _groups(cols)
            gm = np.full(n, -1, dtype=np.int64)
            gm[np.flatnonzero(is_mem)] = g[:m]
            gg = g[m:]
            has_mem = np.zeros(int(g.max()) + 1, dtype=bool)
            has_mem[g[:m]] = True
            rels.append((gm, np.where(has_mem[gg], gg, -1), int(g.max()) + 1))
    if has_cat and t["has_category"].any() and "denominator" in t and "numerator" in t:
        g = _groups([t[c] for c in ["level", "area", *by]])
        ng = int(g.max()) + 1
        num = np.nan_to_num(np.asarray(t["numerator"], dtype="float64"))
        den = np.asarray(t["denominator"], dtype="float64")
        sums = np.bincount(g, weights=num, minlength=ng)
        dens = np.full(ng, np.nan)
        dens[g] = den
        closed = np.isclose(sums, dens)
        # the margin (the denominator) is published with any unsuppressed category of the domain:
        # a virtual margin, marked by -2
        rels.append((np.where(closed[g] & t["has_category"], g, -1), np.full(n, -2, dtype=np.int64), ng))
    return rels


def _at_risk(gm: np.ndarray, gmar: np.ndarray, ng: int, supp: np.ndarray) -> np.ndarray:
    """Groups whose relation holds exactly one suppressed cell (and so reveals it).

    A virtual margin (-2: a published denominator) is known only while some member of the group
    is unsuppressed, so a group whose members are all suppressed is safe."""
    mem = gm >= 0
    cnt = np.bincount(gm[mem & supp], minlength=ng) + np.bincount(gmar[(gmar >= 0) & supp], minlength=ng)
    need = cnt == 1
    if (gmar == -2).all():
        size = np.bincount(gm[mem], minlength=ng)
        need &= size > 1
    return need


def _secondary(supp: np.ndarray, val: np.ndarray, rels: list[tuple[np.ndarray, np.ndarray, int]]
               ) -> np.ndarray:
    """Iterate the singleton rule until stable; returns the new suppression mask."""
    supp = supp.copy()
    for _ in range(1000):
        changed = False
        for gm, gmar, ng in rels:
            if ng == 0:
                continue
            need = _at_risk(gm, gmar, ng, supp)
            if not need.any():
                continue
            picked_groups = np.zeros(ng, dtype=bool)
            # the smallest non-zero member; else any member (a known zero still reveals)
            for pool in ((gm >= 0) & ~supp & (val > 0), (gm >= 0) & ~supp):
                cand = np.flatnonzero(pool)
                cand = cand[need[gm[cand]] & ~picked_groups[gm[cand]]]
                if len(cand):
                    order = cand[np.lexsort((cand, val[cand], gm[cand]))]
                    g_sorted = gm[order]
                    first = np.ones(len(order), dtype=bool)
                    first[1:] = g_sorted[1:] != g_sorted[:-1]
                    pick = order[first]
                    supp[pick] = True
                    picked_groups[gm[pick]] = True
                    changed = True
            rest = need & ~picked_groups
            if rest.any():
                mar = np.flatnonzero((gmar >= 0) & ~supp)
                mar = mar[rest[gmar[mar]]]
                if len(mar):
                    supp[mar] = True
                    changed = True
        if not changed:
            break
    return supp


def _arrays(table: pd.DataFrame, by: list[str]) -> dict[str, np.ndarray]:
    """The table's keys as integer codes (see :func:`_relations`), computed once for all rows."""
    t: dict[str, Any] = {}
    lev_codes, lev_labels = _codes(table["area_level"])
    lmap = np.array([LEVELS.index(str(x)) if str(x) in LEVELS else len(LEVELS) for x in lev_labels] + [-1])
    t["level"] = lmap[lev_codes]
    area, alabels = _codes(table["area_code"])
    t["area"] = area
    if "parent_code" in table.columns:
        pcodes, plabels = _codes(table["parent_code"])
        where = pd.Index([str(x) for x in alabels]).get_indexer([str(x) for x in plabels])
        where = np.where(np.array([str(x) == "" for x in plabels], dtype=bool), -1, where) if len(plabels) else where
        t["parent"] = np.append(where, -1)[pcodes] if len(plabels) else np.full(len(table), -1)
        t["parent"] = np.where(pcodes < 0, -1, t["parent"])
    if "category" in table.columns:
        t["category"], clabels = _codes(table["category"])
        t["has_category"] = t["category"] != _label_code([str(x) for x in clabels], "")
    for b in by:
        t[b], blabels = _codes(table[b])
        t["total_" + b] = t[b] == _label_code([str(x) for x in blabels], TOTAL)
    for c in ("numerator", "denominator"):
        if c in table.columns:
            t[c] = pd.to_numeric(table[c], errors="coerce").to_numpy(dtype="float64")
    return t


def suppress(table: pd.DataFrame, k: int = 3, by: Sequence[str] | None = None) -> pd.DataFrame:
    """Mark cells to suppress in a complete-count indicator table (a copy is returned).

    Args:
        table: the long table of :func:`migdata.indicators.compute` (any rows whose ``flag`` is not
            ``complete_count`` are left as they are).
        k: threshold; cells from 1..k-1 units are primary suppressions.
        by: the disaggregation columns (default: ``table.attrs["by"]``).
    """
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise UsageError("MD708", value=k)
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        raise UsageError("MD709", columns=", ".join(missing))
    by = list(by if by is not None else table.attrs.get("by", []))
    by = [b for b in by if b in table.columns]
    out = table.copy(deep=False)  # new columns only: the input table is not modified
    if "suppressed" not in out.columns:
        out["suppressed"] = False
    if "suppression" not in out.columns:
        out["suppression"] = ""
    cc = (out["flag"] == "complete_count").to_numpy() if "flag" in out.columns else np.ones(len(out), bool)
    units = pd.to_numeric(out["units"], errors="coerce").fillna(0).to_numpy()
    nden = pd.to_numeric(out["n"], errors="coerce").fillna(0).to_numpy()
    primary = cc & (((units > 0) & (units < k)) | ((nden > 0) & (nden < k)))
    sup = out["suppressed"].to_numpy(dtype=bool).copy()
    reasons = ["", "primary", "secondary", "reliability"]
    old = out["suppression"].astype(object).where(out["suppression"].notna(), "")
    reason = pd.Categorical(old, categories=reasons).codes.astype(np.int64).copy() \
        if not isinstance(out["suppression"].dtype, pd.CategoricalDtype) or \
        list(out["suppression"].cat.categories) != reasons else out["suppression"].cat.codes.to_numpy().astype(np.int64)
    reason = np.where(reason < 0, 0, reason)
    sup |= primary
    reason[primary] = 1
    whole = _arrays(out, by)
    for _, idx in out[cc].groupby("indicator_id", sort=False).indices.items():
        rows = np.flatnonzero(cc)[idx]
        s0 = sup[rows]
        if not s0.any():
            continue
        t = {c: v[rows] for c, v in whole.items()}
        s1 = _secondary(s0, units[rows], _relations(t, by))
        new = s1 & ~s0
        sup[rows[new]] = True
        reason[rows[new]] = 2
    out["suppressed"] = sup
    out["suppression"] = pd.Categorical.from_codes(reason, categories=pd.Index(reasons, dtype=object))
    return out


def singletons(table: pd.DataFrame, by: Sequence[str] | None = None) -> int:
    """How many relations (margin with its members) hold exactly one suppressed cell: 0 means no
    suppressed cell can be recovered by subtraction from a single margin. For checks and tests."""
    by = [b for b in (by if by is not None else table.attrs.get("by", [])) if b in table.columns]
    total = 0
    sup = table["suppressed"].to_numpy(dtype=bool)
    whole = _arrays(table, by)
    for _, idx in table.groupby("indicator_id", sort=False).indices.items():
        t = {c: v[idx] for c, v in whole.items()}
        s = sup[idx]
        for gm, gmar, ng in _relations(t, by):
            if ng == 0:
                continue
            total += int(_at_risk(gm, gmar, ng, s).sum())
    return total
