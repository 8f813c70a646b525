"""Small-cell disclosure control for complete-count tables (CBMS, census): primary and secondary
cell suppression.

Primary: a cell based on fewer than ``k`` units (default 3) is suppressed, i.e. when the units
counted in its numerator (``units``) or in its denominator (``n``) number 1 to k-1. Empty cells
(0 units) reveal nothing and stay.

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

from typing import Sequence

import numpy as np
import pandas as pd

from migdata.errors import UsageError

TOTAL = "Total"
LEVELS = ["barangay", "city", "province", "region"]
REQUIRED = ["indicator_id", "area_level", "area_code", "units", "n"]


def _groups(keys: pd.DataFrame) -> np.ndarray:
    if keys.shape[1] == 0:
        return np.zeros(len(keys), dtype=np.int64)
    return keys.groupby(list(keys.columns), sort=False, dropna=False).ngroup().to_numpy().astype(np.int64)


def _relations(t: pd.DataFrame, by: list[str]) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """(member group, margin group, n groups) for every relation type of one indicator's table."""
    rels = []
    n = len(t)
    base = ["area_level", "area_code"] + (["category"] if "category" in t.columns else [])
    for d in by:
        others = base + [b for b in by if b != d]
        g = _groups(t[others].astype(str))
        is_total = (t[d].astype(str) == TOTAL).to_numpy()
        if is_total.all() or not is_total.any():
            continue
        rels.append((np.where(~is_total, g, -1), np.where(is_total, g, -1), int(g.max()) + 1))
    if "parent_code" in t.columns:
        dims = (["category"] if "category" in t.columns else []) + by
        lev = t["area_level"].astype(str).to_numpy()
        parent_level = pd.Series(lev).map({a: b for a, b in zip(LEVELS[:-1], LEVELS[1:])}).to_numpy()
        pc = t["parent_code"].fillna("").astype(str).to_numpy()
        mem = pd.DataFrame({"l": parent_level, "c": pc, **{d: t[d].astype(str).to_numpy() for d in dims}})
        mar = pd.DataFrame({"l": lev, "c": t["area_code"].astype(str).to_numpy(),
                            **{d: t[d].astype(str).to_numpy() for d in dims}})
        is_mem = (pc != "") & pd.notna(parent_level)
        both = pd.concat([mem[is_mem], mar], ignore_index=True)
        g = _groups(both)
        gm = np.full(n, -1, dtype=np.int64)
        gm[np.flatnonzero(is_mem)] = g[: int(is_mem.sum())]
        gg = g[int(is_mem.sum()):]
        # a margin only matters if it has members
        has_mem = np.zeros(int(g.max()) + 1 if len(g) else 0, dtype=bool)
        has_mem[gm[gm >= 0]] = True
        gmar = np.where(has_mem[gg], gg, -1) if len(gg) else gg
        if (gm >= 0).any():
            rels.append((gm, gmar, int(g.max()) + 1))
    if "category" in t.columns and (t["category"].astype(str) != "").any() and "denominator" in t.columns:
        others = ["area_level", "area_code"] + list(by)
        g = _groups(t[others].astype(str))
        num = pd.to_numeric(t.get("numerator"), errors="coerce").fillna(0).to_numpy()
        den = pd.to_numeric(t["denominator"], errors="coerce").to_numpy()
        sums = np.bincount(g, weights=num, minlength=int(g.max()) + 1)
        dens = pd.Series(den).groupby(g).max().reindex(range(int(g.max()) + 1)).to_numpy()
        closed = np.isclose(sums, dens)
        member = np.where(closed[g], g, -1)
        # the margin (the denominator) is published: a virtual, never-suppressed margin
        rels.append((member, np.full(n, -1, dtype=np.int64), int(g.max()) + 1))
    return rels


def _secondary(supp: np.ndarray, val: np.ndarray, rels: list[tuple[np.ndarray, np.ndarray, int]]
               ) -> np.ndarray:
    """Iterate the singleton rule until stable; returns the new suppression mask."""
    supp = supp.copy()
    for _ in range(1000):
        changed = False
        for gm, gmar, ng in rels:
            if ng == 0:
                continue
            cnt = np.bincount(gm[(gm >= 0) & supp], minlength=ng) + \
                np.bincount(gmar[(gmar >= 0) & supp], minlength=ng)
            need = cnt == 1
            if not need.any():
                continue
            cand = np.flatnonzero((gm >= 0) & ~supp & (val > 0))
            cand = cand[need[gm[cand]]]
            picked_groups = np.zeros(ng, dtype=bool)
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
        raise UsageError("MD713", columns=", ".join(missing))
    by = list(by if by is not None else table.attrs.get("by", []))
    by = [b for b in by if b in table.columns]
    out = table.copy()
    if "suppressed" not in out.columns:
        out["suppressed"] = False
    if "suppression" not in out.columns:
        out["suppression"] = ""
    cc = (out["flag"] == "complete_count").to_numpy() if "flag" in out.columns else np.ones(len(out), bool)
    units = pd.to_numeric(out["units"], errors="coerce").fillna(0).to_numpy()
    nden = pd.to_numeric(out["n"], errors="coerce").fillna(0).to_numpy()
    primary = cc & (((units > 0) & (units < k)) | ((nden > 0) & (nden < k)))
    sup = out["suppressed"].to_numpy(dtype=bool).copy()
    reason = out["suppression"].astype(object).to_numpy().copy()
    sup |= primary
    reason[primary] = "primary"
    for _, idx in out[cc].groupby("indicator_id", sort=False).indices.items():
        rows = np.flatnonzero(cc)[idx]
        t = out.iloc[rows].reset_index(drop=True)
        s0 = sup[rows]
        if not s0.any():
            continue
        s1 = _secondary(s0, units[rows], _relations(t, by))
        new = s1 & ~s0
        sup[rows[new]] = True
        reason[rows[new]] = "secondary"
    out["suppressed"] = sup
    out["suppression"] = reason
    return out


def singletons(table: pd.DataFrame, by: Sequence[str] | None = None) -> int:
    """How many relations (margin with its members) hold exactly one suppressed cell: 0 means no
    suppressed cell can be recovered by subtraction from a single margin. For checks and tests."""
    by = [b for b in (by if by is not None else table.attrs.get("by", [])) if b in table.columns]
    total = 0
    sup = table["suppressed"].to_numpy(dtype=bool)
    for _, idx in table.groupby("indicator_id", sort=False).indices.items():
        t = table.iloc[idx].reset_index(drop=True)
        s = sup[idx]
        for gm, gmar, ng in _relations(t, by):
            if ng == 0:
                continue
            cnt = np.bincount(gm[(gm >= 0) & s], minlength=ng) + np.bincount(gmar[(gmar >= 0) & s], minlength=ng)
            total += int((cnt == 1).sum())
    return total
