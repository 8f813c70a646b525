"""Test helpers for the cell-key method: a seeded synthetic population, the raw indicator cube an
evaluator hands to disclosure control (with record-key sums), and two attackers.

Nothing here calls the code under test except where a test passes a cube to ``control``. The cube
is built with pandas ``groupby`` straight from the persons (not with the evaluator), and cell keys
from 32-bit integer record keys summed modulo 2^32 (exact, so the order of summation and the
partitioning cannot change a key).

Attackers (what the disclosure audit of issue 16 asks for, re-expressed for noise):
- :func:`lp_intervals`: knows D, that every published count is within D of the truth, that counts
  are not negative, and every relation of the cube, written as *atoms*: the count of every
  finest combination (barangay x sex x age interval between any two cut points of any age scheme
  [x category]); each published cell is a sum of atoms, so all margins, area sums, categories
  summing to their domain and age groups of one scheme nesting in another's hold by construction.
  It solves linear programs (scipy ``linprog``, HiGHS) for the least and greatest value of each
  small true count.
- :func:`propagate`: iterated subtraction, interval arithmetic over the explicit relations
  (members sum to their margin) until nothing changes.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import linprog

from migdata.model.agegroups import CLOSED, SCHEMES, age_group

LEVELS = ["barangay", "city", "province", "region"]
TOTAL, NOT_STATED = "Total", "not stated"
COUNTRIES = ["SAU", "ARE", "HKG", "KWT", "QAT", "SGP"]


def population(seed: int = 16, barangays: int = 24, persons: tuple[int, int, int] = (25, 150, 600)) -> pd.DataFrame:
    """Persons of a made-up region: 2 provinces, cities of 3-5 barangays, barangay sizes from
    ``persons`` (least, median, most; lognormal), a young age pyramid, 0.5 % sex not stated,
    OFWs mostly aged 25-49 (about 4 % of adults, 55 % women), six destinations; one uniform 32-bit
    record key each."""
    rng = np.random.default_rng(seed)
    rows = []
    city = 0
    b = 0
    while b < barangays:
        size = int(rng.integers(3, 6))
        prov = "P1" if city % 2 == 0 else "P2"
        for _ in range(min(size, barangays - b)):
            n = int(np.clip(rng.lognormal(np.log(persons[1]), 0.8), persons[0], persons[2]))
            ur = "urban" if rng.random() < 0.4 else "rural"
            rows.append((f"B{b:03d}", f"C{city:02d}", prov, "R", ur, n))
            b += 1
        city += 1
    parts = []
    for brgy, cty, prov, reg, ur, n in rows:
        age = np.minimum(rng.exponential(28, n).astype(int), 99)
        sex = np.where(rng.random(n) < 0.5, "male", "female").astype(object)
        sex[rng.random(n) < 0.005] = None
        adult = (age >= 25) & (age < 50)
        p = np.where(adult, 0.075, np.where(age >= 15, 0.012, 0.0)) * np.where(sex == "female", 1.2, 1.0)
        ofw = rng.random(n) < p
        country = np.where(ofw, rng.choice(COUNTRIES, n, p=[0.3, 0.2, 0.15, 0.15, 0.1, 0.1]), None)
        parts.append(pd.DataFrame({"barangay": brgy, "city": cty, "province": prov, "region": reg,
                                   "urban_rural": ur, "sex": sex, "age": age, "is_ofw": ofw,
                                   "country": country}))
    pp = pd.concat(parts, ignore_index=True)
    pp["rkey"] = rng.integers(0, 2**32, len(pp), dtype=np.int64)
    return pp


@dataclass
class Spec:
    """A synthetic indicator: statistic, universe and numerator (columns of the persons)."""

    id: str
    statistic: str
    universe: str
    numerator: str | None = None
    category: str | None = None


SPECS = {
    "OF02": Spec("OF02", "count", "age >= 15", "is_ofw"),
    "OF03": Spec("OF03", "share", "age >= 15", "is_ofw"),
    "OF05": Spec("OF05", "share", "is_ofw and age >= 15", category="country"),
}


def _labels(pp: pd.DataFrame, scheme: str | list[int]) -> pd.Series:
    g = age_group(pp["age"], scheme)
    return g.astype(object).where(g.notna(), NOT_STATED)


def cube(pp: pd.DataFrame, spec: Spec, by: list[str], scheme: str | list[int] = "broad") -> pd.DataFrame:
    """The raw table ``indicators.compute`` would give for one indicator (contract columns):
    every level x every subset of ``by`` ("Total" elsewhere) [x category], rows where the
    denominator is not empty; for distributions every category in each such domain. Cell keys:
    sums of the 32-bit record keys modulo 2^32, as fractions (numpy bincount per grouping)."""
    df = pp.query(spec.universe)
    dims = {"sex": df["sex"].astype(object).where(df["sex"].notna(), NOT_STATED).to_numpy(),
            "urban_rural": df["urban_rural"].to_numpy()}
    if "age_group" in by:
        dims["age_group"] = _labels(df, scheme).to_numpy()
    codes = {d: pd.factorize(dims[d]) for d in by}
    rkey = df["rkey"].to_numpy().astype("float64")  # sums stay below 2^53: exact
    num = df[spec.numerator].to_numpy() if spec.numerator else None
    cats, ccode = None, None
    if spec.category:
        ccode, cats = pd.factorize(df[spec.category].to_numpy(), sort=True)
    parent_of = {"barangay": "city", "city": "province", "province": "region"}
    out = []
    for level in LEVELS:
        acode, alabels = pd.factorize(df[level].to_numpy())
        up = pp.drop_duplicates(level).set_index(level)[parent_of[level]] if level in parent_of else None
        for r in range(len(by), -1, -1):
            for keep in itertools.combinations(by, r):
                key = acode.astype(np.int64)
                for d in keep:
                    key = key * (len(codes[d][1]) + 1) + codes[d][0]
                uniq, inv = np.unique(key, return_inverse=True)
                g = len(uniq)
                dom = {"n": np.bincount(inv, minlength=g).astype(float),
                       "_ck_den": np.bincount(inv, weights=rkey, minlength=g) % 2**32 / 2**32}
                rest = uniq.copy()
                lab = {}
                for d in reversed(keep):
                    size = len(codes[d][1]) + 1
                    lab[d] = np.asarray(codes[d][1], dtype=object)[rest % size]
                    rest //= size
                lab["area_code"] = np.asarray(alabels, dtype=object)[rest]
                if spec.category:
                    K = len(cats)
                    k2 = inv * K + ccode
                    units = np.bincount(k2, minlength=g * K).astype(float)
                    ks = np.bincount(k2, weights=rkey, minlength=g * K) % 2**32 / 2**32
                    t = pd.DataFrame({c: np.repeat(v, K) for c, v in {**lab, **dom}.items()})
                    t["category"] = np.tile(np.asarray(cats, dtype=object), g)
                    t["units"], t["_ck_num"] = units, ks
                    t["numerator"], t["denominator"] = units, t["n"]
                    t["estimate"] = 100 * units / t["n"]
                else:
                    t = pd.DataFrame({**lab, **dom})
                    t["units"] = np.bincount(inv, weights=num.astype(float), minlength=g)
                    t["_ck_num"] = np.bincount(inv, weights=rkey * num, minlength=g) % 2**32 / 2**32
                    t["category"] = ""
                    t["numerator"] = t["units"]
                    share = spec.statistic == "share"
                    t["denominator"] = t["n"] if share else np.nan
                    t["estimate"] = t["units"] * (100 / t["n"] if share else 1)
                t["area_level"] = level
                t["parent_code"] = t["area_code"].map(up).to_numpy() if up is not None else ""
                for d in by:
                    if d not in keep:
                        t[d] = TOTAL
                out.append(t)
    t = pd.concat(out, ignore_index=True)
    t["indicator_id"] = spec.id
    t["flag"] = "complete_count"
    for c in ("se", "cv"):
        t[c] = 0.0
    t["ci_low"] = t["ci_high"] = t["estimate"]
    return t[["indicator_id", "area_level", "area_code", "parent_code", *by, "category", "estimate", "se",
              "ci_low", "ci_high", "cv", "n", "numerator", "denominator", "units", "flag", "_ck_num",
              "_ck_den"]]


# ----------------------------------------------------------------------------- attackers
SCHEMES_AUDITED: list[str | list[int]] = ["broad", "five_year", "children", "working_age", "seniors",
                                          "school_age", [0, 15, 30, 60]]


def scheme_name(s: str | list[int]) -> str:
    return s if isinstance(s, str) else ",".join(map(str, s))


def age_cuts(schemes: list[str | list[int]]) -> list[int]:
    cuts = {0, 100}
    for s in schemes:
        if isinstance(s, str) and s in SCHEMES:
            cuts |= set(SCHEMES[s])
        elif isinstance(s, str):
            c, upper = CLOSED[s]
            cuts |= set(c) | {upper}
        else:
            cuts |= set(s)
    return sorted(cuts)


ID = ["role", "level", "area", "sex", "age", "urban_rural", "category"]
UP = {"barangay": "city", "city": "province", "province": "region"}


@dataclass
class Cells:
    """Every cell of the union of tables for one indicator.

    ``frame``: one row per distinct cell (``ID`` columns; ``role`` 0 = denominator count, 1 =
    numerator count; ``age`` = "scheme:label" or ":Total") with its ``true`` count and its
    ``published`` count (NaN when no table shows it). ``atoms``: the finest counts. ``parts``:
    a sparse matrix, one row per cell, over [atoms, cells]: a barangay cell is the sum of its
    atoms, a higher area's cell the sum of the same cell of the areas inside it."""

    frame: pd.DataFrame
    atoms: pd.DataFrame
    parts: sp.csr_matrix
    holders: list[np.ndarray]  # per grouping and level: the cell holding each atom (-1: none)


def _atoms(pp: pd.DataFrame, spec: Spec, cuts: list[int]) -> pd.DataFrame:
    df = pp.query(spec.universe).copy()
    df["sex"] = df["sex"].astype(object).where(df["sex"].notna(), NOT_STATED)
    df["age_atom"] = np.searchsorted(np.asarray(cuts), df["age"].to_numpy(), side="right") - 1
    keys = ["barangay", "city", "province", "region", "urban_rural", "sex", "age_atom"]
    # every combination the attacker cannot rule out: all barangays x sex x age atoms (the
    # universe starts at 15, a cut point of every scheme audited: younger atoms are empty)
    brg = pp.drop_duplicates("barangay")[["barangay", "city", "province", "region", "urban_rural"]]
    # sex "not stated" is a column of the tables only where someone's sex is missing
    sexes = ["male", "female"] + ([NOT_STATED] if (df["sex"] == NOT_STATED).any() else [])
    grid = brg.merge(pd.DataFrame({"sex": sexes}), how="cross").merge(
        pd.DataFrame({"age_atom": np.arange(len(cuts) - 1)}), how="cross")
    grid = grid[np.asarray(cuts)[grid["age_atom"].to_numpy()] >= 15].reset_index(drop=True)

    def counted(sub: pd.DataFrame, role: int, category: str) -> pd.DataFrame:
        out = grid.merge(sub.groupby(keys).size().rename("true").reset_index(), how="left", on=keys)
        return out.assign(true=out["true"].fillna(0.0), role=role, category=category)

    parts = [counted(df, 0, "")]
    if spec.category:
        parts += [counted(df[df[spec.category] == c], 1, c) for c in sorted(df[spec.category].dropna().unique())]
    elif spec.numerator:
        parts.append(counted(df[df[spec.numerator]], 1, ""))
    atoms = pd.concat(parts, ignore_index=True)
    atoms["lo"] = np.asarray(cuts)[atoms["age_atom"].to_numpy()]
    return atoms


def _factorize(df: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """Group number of each row (in order of first appearance) and the distinct rows."""
    codes = df.groupby(list(df.columns), sort=False, dropna=False).ngroup().to_numpy()
    return codes, df.drop_duplicates().reset_index(drop=True)


def cells(pp: pd.DataFrame, spec: Spec, published: list[tuple[list[str], str | list[int], pd.DataFrame]],
          schemes: list[str | list[int]]) -> Cells:
    """Cells of every table in ``published`` ((by, age scheme, published table) triples), at every
    level and for every subset of ``by``, with their atoms, true counts and published counts."""
    atoms = _atoms(pp, spec, age_cuts(schemes))
    labels = {}
    for sc in schemes:
        g = age_group(pd.Series(atoms["lo"].to_numpy()), sc)
        labels[scheme_name(sc)] = scheme_name(sc) + ":" + g.astype(object).where(g.notna(), NOT_STATED).astype(str)
    groupings = set()
    for by, sc, _ in published:
        for r in range(len(by) + 1):
            for keep in itertools.combinations(by, r):
                groupings.add((keep, scheme_name(sc) if "age_group" in keep else ""))
    roles = (0, 1) if (spec.numerator or spec.category) else (0,)
    frames, inc = [], []
    base = 0
    for keep, sc in sorted(groupings):
        for lev in LEVELS:
            key = pd.DataFrame({"role": atoms["role"].to_numpy(), "level": lev, "area": atoms[lev].to_numpy(),
                                "sex": atoms["sex"].to_numpy() if "sex" in keep else TOTAL,
                                "age": labels[sc].to_numpy() if "age_group" in keep else ":" + TOTAL,
                                "urban_rural": atoms["urban_rural"].to_numpy() if "urban_rural" in keep else TOTAL,
                                "category": atoms["category"].to_numpy()})
            key = key[key["role"].isin(roles)]
            codes, f = _factorize(key)
            f["true"] = np.bincount(codes, weights=atoms["true"].to_numpy()[key.index], minlength=len(f))
            frames.append(f)
            inc.append((lev, base + codes, key.index.to_numpy()))
            base += len(f)
    allc = pd.concat(frames, ignore_index=True)
    gid, _ = _factorize(allc[ID])
    first = ~pd.Series(gid).duplicated().to_numpy()
    frame = allc[first].reset_index(drop=True)  # in order of first appearance = gid order
    na = len(atoms)
    # barangay cells: their atoms (only from a cell's first appearance: duplicates are one cell)
    rows = [np.concatenate([gid[r[first[r]]] for lev, r, _ in inc if lev == "barangay"])]
    cols = [np.concatenate([a[first[r]] for lev, r, a in inc if lev == "barangay"])]
    holders = []
    for _, r, a in inc:
        h = np.full(na, -1, dtype=np.int64)
        h[a] = gid[r]
        holders.append(h)

    # higher cells: the same cell of each area inside
    pos = pd.Series(np.arange(len(frame)), index=pd.MultiIndex.from_frame(frame[ID]))
    par = {}
    for lev, up in UP.items():
        par.update(dict(zip(atoms[lev], atoms[up])))
    child = frame[frame["level"] != "region"]
    parent = child.assign(level=child["level"].map(UP), area=child["area"].map(par))
    rows.append(pos.reindex(pd.MultiIndex.from_frame(parent[ID])).to_numpy())
    cols.append(na + child.index.to_numpy())
    r, c = np.concatenate(rows), np.concatenate(cols)
    assert not np.isnan(r.astype(float)).any()
    parts = sp.csr_matrix((np.ones(len(r)), (r.astype(np.int64), c)), shape=(len(frame), na + len(frame)))
    # published counts, row by row of every table (role 0: n, role 1: the numerator)
    pubs = []
    for by, sc, t in published:
        sname = scheme_name(sc)
        age = (sname + ":" + t["age_group"].astype(str)).where(t["age_group"] != TOTAL, ":" + TOTAL) \
            if "age_group" in t.columns else ":" + TOTAL
        common = {"level": t["area_level"].to_numpy(), "area": t["area_code"].to_numpy(),
                  "sex": t["sex"].to_numpy() if "sex" in t.columns else TOTAL, "age": np.asarray(age),
                  "urban_rural": t["urban_rural"].to_numpy() if "urban_rural" in t.columns else TOTAL}
        pubs.append(pd.DataFrame({"role": 0, **common, "category": "", "value": t["n"].to_numpy()}))
        if 1 in roles:
            pubs.append(pd.DataFrame({"role": 1, **common, "category": t["category"].to_numpy(),
                                      "value": t["numerator"].to_numpy()}))
    pub = pd.concat(pubs, ignore_index=True).drop_duplicates()
    clash = pub[pub.duplicated(ID, keep=False)]
    assert clash.empty, f"one cell, two published values:\n{clash.head()}"
    idx = pos.reindex(pd.MultiIndex.from_frame(pub[ID])).to_numpy()
    assert not np.isnan(idx.astype(float)).any(), "a published cell outside the attacker's cube"
    frame["published"] = np.nan
    frame.loc[idx.astype(np.int64), "published"] = pub["value"].to_numpy()
    return Cells(frame, atoms, parts, holders)


def _program(c: Cells, spec: Spec, D: int) -> dict:
    """The attacker's linear constraints over x = [atoms, cells], all x >= 0:
    every cell equals its parts; a published cell lies within D of its published value; a cell a
    table would show but no table shows has a published denominator of 0 (its row was dropped),
    so a denominator of at most D; numerator atoms never exceed their denominator atom, and
    distribution atoms add up to it."""
    f, a = c.frame, c.atoms
    na, nc = len(a), len(f)
    eye = sp.hstack([sp.csr_matrix((nc, na)), sp.identity(nc, format="csr")])
    eqs, rhs = [eye - c.parts], [np.zeros(nc)]
    pub = f["published"].to_numpy()
    lo = np.r_[np.zeros(na), np.where(np.isnan(pub), 0.0, np.maximum(pub - D, 0.0))]
    hi = np.r_[np.full(na, np.inf), np.where(np.isnan(pub), np.where(f["role"].to_numpy() == 0, float(D), np.inf),
                                              pub + D)]
    den = a[a["role"] == 0]
    num = a[a["role"] == 1]
    ub, ubr = None, None
    if len(num):
        where = pd.Series(np.arange(len(den)), index=pd.MultiIndex.from_frame(den[["barangay", "sex", "age_atom"]]))
        k = where.reindex(pd.MultiIndex.from_frame(num[["barangay", "sex", "age_atom"]])).to_numpy()
        mate = den.index.to_numpy()[k]
        n = len(num)
        if spec.category:  # one equation per denominator atom: its category atoms add up to it
            eqs.append(sp.csr_matrix((np.r_[np.ones(n), -np.ones(len(den))],
                                      (np.r_[k, np.arange(len(den))], np.r_[num.index.to_numpy(), den.index.to_numpy()])),
                                     shape=(len(den), na + nc)))
            rhs.append(np.zeros(len(den)))
        else:
            i = np.arange(n)
            ub = sp.csr_matrix((np.r_[np.ones(n), -np.ones(n)], (np.r_[i, i], np.r_[num.index.to_numpy(), mate])),
                               shape=(n, na + nc))
            ubr = np.zeros(n)
    return {"A_eq": sp.vstack(eqs).tocsr(), "b_eq": np.concatenate(rhs), "A_ub": ub, "b_ub": ubr,
            "bounds": np.c_[lo, hi], "offset": na}


def certify(c: Cells, spec: Spec, D: int, small: np.ndarray) -> np.ndarray:
    """Which cells of ``small`` a one-unit change of the true table moves while every constraint
    of :func:`_program` still holds: proof, without a linear program, that the cell's feasible
    interval is at least 1 wide.

    Changes tried at every atom: one unit more or less in the numerator and the denominator
    together; in the numerator alone (a member of the universe turned in or out of it); in the
    denominator alone (a unit outside the numerator); for distributions, one unit more or less in
    a category and its domain together, or one unit moved between two categories of a domain. A
    change is allowed when every cell holding a changed atom stays within its bounds, no atom goes
    below 0 and no numerator atom above its denominator atom."""
    f, a = c.frame, c.atoms
    pub = f["published"].to_numpy()
    lo = np.where(np.isnan(pub), 0.0, np.maximum(pub - D, 0.0))
    hi = np.where(np.isnan(pub), np.where(f["role"].to_numpy() == 0, float(D), np.inf), pub + D)
    true = f["true"].to_numpy().astype(float)
    na = len(a)
    up, dn = np.full(na, np.inf), np.full(na, np.inf)  # room to add / remove a unit at each atom
    for h in c.holders:
        ok = np.flatnonzero(h >= 0)
        up[ok] = np.minimum(up[ok], hi[h[ok]] - true[h[ok]])
        dn[ok] = np.minimum(dn[ok], true[h[ok]] - lo[h[ok]])
    t = a["true"].to_numpy()
    den = a[a["role"] == 0]
    num = a[a["role"] == 1]
    moved = np.zeros(na, dtype=bool)  # the atom changes in some allowed change
    if len(num):
        where = pd.Series(den.index.to_numpy(), index=pd.MultiIndex.from_frame(den[["barangay", "sex", "age_atom"]]))
        mate = where.reindex(pd.MultiIndex.from_frame(num[["barangay", "sex", "age_atom"]])).to_numpy()
        i = num.index.to_numpy()
        can_add, can_drop = up[i] >= 1, (t[i] >= 1) & (dn[i] >= 1)
        both = (can_add & (up[mate] >= 1)) | (can_drop & (dn[mate] >= 1))
        if spec.category:  # move a unit between two categories of one domain atom
            adds = pd.Series(can_add).groupby(mate).transform("sum").to_numpy()
            drops = pd.Series(can_drop).groupby(mate).transform("sum").to_numpy()
            alone = (can_add & (drops - can_drop >= 1)) | (can_drop & (adds - can_add >= 1))
            moved[i] = both | alone
            moved[np.unique(mate[both])] = True
        else:
            spare = t[mate] - t[i] >= 1  # units of the universe outside the numerator
            moved[i] = both | (can_add & spare) | can_drop
            moved[np.unique(mate[both])] = True
            moved[mate[(up[mate] >= 1) | (spare & (dn[mate] >= 1))]] = True
    else:
        moved = (up >= 1) | ((t >= 1) & (dn >= 1))
    hit = np.zeros(len(f), dtype=bool)
    for h in c.holders:
        sel = (h >= 0) & moved
        hit[h[sel]] = True
    return hit[small]


def _local(prog: dict, c: Cells, lev: str, true_all: np.ndarray) -> list[tuple[np.ndarray, dict]]:
    """The program restricted to each area of level ``lev``: its atoms and the cells inside it,
    the area's own cells held at their true values. A solution of it, with the true table
    everywhere else, is a solution of the whole program (every cell outside is unchanged)."""
    f, a = c.frame, c.atoms
    na, nc = len(a), len(f)
    rank = {x: i for i, x in enumerate(LEVELS)}
    level = f["level"].map(rank).to_numpy()
    up = {}
    for x in LEVELS[: rank[lev] + 1]:
        up.update(dict(zip(a[x], a[lev])))
    cell_area = f["area"].map(up).to_numpy()
    atom_area = a[lev].to_numpy()
    A_eq, A_ub = prog["A_eq"].tocsr(), prog["A_ub"]
    out = []
    for area in pd.unique(atom_area):
        inside = (cell_area == area) & (level <= rank[lev])
        cols = np.r_[np.flatnonzero(atom_area == area), na + np.flatnonzero(inside)]
        outside = np.ones(na + nc)
        outside[cols] = 0.0
        rows = np.flatnonzero(np.r_[inside, np.zeros(A_eq.shape[0] - nc, dtype=bool)])
        atom_rows = nc + np.flatnonzero(np.asarray(abs(A_eq[nc:]) @ outside == 0).ravel())
        rows = np.r_[rows, atom_rows]
        sub = {"A_eq": A_eq[rows][:, cols], "b_eq": prog["b_eq"][rows], "A_ub": None, "b_ub": None}
        if A_ub is not None:
            keep = np.asarray(abs(A_ub) @ outside == 0).ravel()
            sub["A_ub"], sub["b_ub"] = A_ub[keep][:, cols], prog["b_ub"][keep]
        bounds = prog["bounds"][cols].copy()
        own = np.flatnonzero(inside & (level == rank[lev]))
        where = np.searchsorted(cols, na + own)
        bounds[where, 0] = bounds[where, 1] = true_all[own]
        sub["bounds"] = bounds
        local = np.full(na + nc, -1, dtype=np.int64)
        local[cols] = np.arange(len(cols))
        sub["local"] = local
        out.append((np.flatnonzero(inside & (level < rank[lev])), sub))
    return out


def lp_intervals(c: Cells, spec: Spec, D: int, small: np.ndarray, scopes: tuple[str, ...] = (),
                 certificates: bool = True, verbose: bool = False) -> pd.DataFrame:
    """Feasible interval [low, high] of each cell in ``small`` (indices into ``c.frame``) under
    the constraints of :func:`_program`; ``pinned`` when it is narrower than 1.

    The true table is always feasible, so a cell's interval is at least 1 wide as soon as some
    feasible table puts the cell 1 or more away from its true value. Such tables are searched by
    maximising, then minimising, the sum of the cells still unproven, while that proves any; each
    cell left gets its own maximum and, if that is not 1 above its true value, its minimum (the
    attacker's exact interval). ``low``/``high`` are exact for those cells and otherwise span the
    true value and the values found; ``exact`` marks the former, ``lps`` counts the programs.

    Cells a one-unit change moves (:func:`certify`) need no program (``certified``).
    ``scopes`` (e.g. ``("city", "province")``) first searches within each area of those levels,
    with the area's own cells held at their true values (:func:`_local`): small programs that
    settle most cells of a large, sparse cube before the whole program is solved."""
    prog = _program(c, spec, D)
    col = prog["offset"] + small
    nvar = prog["bounds"].shape[0]
    true = c.frame["true"].to_numpy()[small].astype(float)
    low, high = true.copy(), true.copy()
    todo = np.ones(len(small), dtype=bool)
    exact = np.zeros(len(small), dtype=bool)
    lps = 0

    def solve(obj: np.ndarray) -> np.ndarray:
        nonlocal lps
        lps += 1
        r = linprog(obj, A_ub=prog["A_ub"], b_ub=prog["b_ub"], A_eq=prog["A_eq"], b_eq=prog["b_eq"],
                    bounds=prog["bounds"], method="highs-ipm")
        assert r.status == 0, r.message  # the true table is feasible
        return r.x[col]

    cert = certify(c, spec, D, small) if certificates else np.zeros(len(small), dtype=bool)
    todo &= ~cert
    offset = prog["offset"]
    true_all = c.frame["true"].to_numpy().astype(float)
    for lev in scopes:
        for inside, sub in _local(prog, c, lev, true_all):
            mine = np.flatnonzero(todo & np.isin(small, inside))
            for sign in (-1.0, 1.0, -1.0, 1.0):
                mine = mine[todo[mine]]
                if not len(mine):
                    break
                obj = np.zeros(sub["bounds"].shape[0])
                pos = sub["local"][offset + small[mine]]
                obj[pos] = sign
                lps += 1
                r = linprog(obj, A_ub=sub["A_ub"], b_ub=sub["b_ub"], A_eq=sub["A_eq"], b_eq=sub["b_eq"],
                            bounds=sub["bounds"], method="highs-ipm")
                assert r.status == 0, r.message
                high[mine] = np.maximum(high[mine], r.x[pos])
                low[mine] = np.minimum(low[mine], r.x[pos])
                before = len(mine)
                todo[mine] &= ~((high[mine] - true[mine] >= 1 - 1e-6) | (true[mine] - low[mine] >= 1 - 1e-6))
                if int(todo[mine].sum()) == before:
                    break
    if verbose:
        left = c.frame.iloc[small[todo]]
        print(f"after certificates and local programs ({lps}): {int(todo.sum())} cells left, by level "
              f"{left['level'].value_counts().to_dict()}, role {left['role'].value_counts().to_dict()}", flush=True)
    stalled = 0
    for sign in itertools.islice(itertools.cycle((-1.0, 1.0)), 16):
        if not todo.any() or stalled == 2:
            break
        before = int(todo.sum())
        obj = np.zeros(nvar)
        obj[col[todo]] = sign
        vals = solve(obj)
        high, low = np.maximum(high, vals), np.minimum(low, vals)
        todo &= ~((high - true >= 1 - 1e-6) | (true - low >= 1 - 1e-6))
        stalled = stalled + 1 if int(todo.sum()) == before else 0
    if verbose:
        print(f"after whole-program passes ({lps}): {int(todo.sum())} cells left", flush=True)
    for i in np.flatnonzero(todo):
        obj = np.zeros(nvar)
        obj[col[i]] = -1.0
        high[i] = solve(obj)[i]
        if high[i] - true[i] < 1 - 1e-6:
            obj[col[i]] = 1.0
            low[i] = solve(obj)[i]
            exact[i] = True
    return pd.DataFrame({"cell": small, "true": true, "low": low, "high": high, "exact": exact,
                         "certified": cert, "pinned": (high - low < 1 - 1e-6) & ~cert, "lps": lps})


def relations(c: Cells, schemes: list[str | list[int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every additive relation between cells, as (relation, member) pairs and each relation's
    margin: the areas inside an area, the categories of sex and urban_rural, the groups of each age
    scheme, and the categories of a distribution add up to their margin; so do the groups of one
    age scheme that exactly tile a group of another."""
    f = c.frame
    pos = pd.Series(np.arange(len(f)), index=pd.MultiIndex.from_frame(f[ID]))
    par = {}
    for lev, up in UP.items():
        par.update(dict(zip(c.atoms[lev], c.atoms[up])))
    links = []  # (member index, margin index, relation kind)

    def link(members: pd.DataFrame, margins: pd.DataFrame, kind: str) -> None:
        m = pos.reindex(pd.MultiIndex.from_frame(margins[ID])).to_numpy()
        ok = ~np.isnan(m.astype(float))
        links.append(pd.DataFrame({"member": members.index.to_numpy()[ok], "margin": m[ok].astype(np.int64),
                                   "kind": kind}))

    ch = f[f["level"] != "region"]
    link(ch, ch.assign(level=ch["level"].map(UP), area=ch["area"].map(par)), "area")
    for d in ("sex", "urban_rural"):
        ch = f[f[d] != TOTAL]
        link(ch, ch.assign(**{d: TOTAL}), d)
    ch = f[f["age"] != ":" + TOTAL]
    link(ch, ch.assign(age=":" + TOTAL), "age:" + ch["age"].str.split(":").str[0])
    ch = f[f["role"] == 1]
    if (ch["category"] != "").any():
        link(ch, ch.assign(role=0, category=""), "category")
    # nesting across schemes, found on the atoms' ages: group g of scheme A is tiled by groups of B
    atoms_lo = np.sort(c.atoms["lo"].unique())
    sets = {}
    for sc in schemes:
        g = age_group(pd.Series(atoms_lo), sc)
        lab = scheme_name(sc) + ":" + g.astype(object).where(g.notna(), NOT_STATED).astype(str)
        for label in lab.unique():
            sets[label] = frozenset(atoms_lo[(lab == label).to_numpy()])
    nest = []
    names = list(sets)
    for ga in names:
        for sb in {n.split(":")[0] for n in names} - {ga.split(":")[0]}:
            inner = [gb for gb in names if gb.startswith(sb + ":") and sets[gb] <= sets[ga] and sets[gb]]
            if inner and len(inner) > 1 and frozenset().union(*(sets[gb] for gb in inner)) == sets[ga]:
                nest += [(gb, ga, f"nest:{sb}") for gb in inner]
    for gb, ga, kind in nest:
        ch = f[f["age"] == gb]
        link(ch, ch.assign(age=ga), kind)
    L = pd.concat(links, ignore_index=True)
    rel, margin_of = pd.factorize(pd.MultiIndex.from_arrays([L["margin"], L["kind"]]))
    margins = margin_of.get_level_values(0).to_numpy().astype(np.int64)
    return rel, L["member"].to_numpy(), margins


def propagate(c: Cells, D: int, rels: tuple[np.ndarray, np.ndarray, np.ndarray], rounds: int = 200
              ) -> tuple[np.ndarray, np.ndarray]:
    """Iterated subtraction: intervals of every cell, from the published values (within D, not
    negative; a denominator no table shows: at most D) narrowed through every relation (margin =
    sum of its members, so each member = margin - the others) until no interval changes."""
    rel, mem, margin = rels
    f = c.frame
    pub = f["published"].to_numpy()
    big = float(c.atoms["true"].sum())  # no count exceeds the population: a finite "unknown"
    lo = np.where(np.isnan(pub), 0.0, np.maximum(pub - D, 0))
    hi = np.where(np.isnan(pub), np.where(f["role"].to_numpy() == 0, float(D), big), np.minimum(pub + D, big))
    nrel = len(margin)
    for _ in range(rounds):
        slo = np.bincount(rel, weights=lo[mem], minlength=nrel)
        shi = np.bincount(rel, weights=hi[mem], minlength=nrel)
        new_lo, new_hi = lo.copy(), hi.copy()
        np.maximum.at(new_lo, margin, slo)
        np.minimum.at(new_hi, margin, shi)
        np.maximum.at(new_lo, mem, lo[margin[rel]] - (shi[rel] - hi[mem]))
        np.minimum.at(new_hi, mem, hi[margin[rel]] - (slo[rel] - lo[mem]))
        if np.array_equal(new_lo, lo) and np.array_equal(new_hi, hi):
            break
        lo, hi = new_lo, new_hi
    return lo, hi
