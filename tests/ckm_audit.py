"""Test helpers for the cell-key method: a seeded synthetic population, the raw indicator cube an
evaluator hands to disclosure control (with record-key sums), and two attackers.

Nothing here calls the code under test except where a test passes a cube to ``protect``. The cube
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


def population(seed: int = 16, barangays: int = 24) -> pd.DataFrame:
    """Persons of a made-up region: 2 provinces, cities of 3-5 barangays, barangay sizes from 25 to
    ~600 persons (lognormal), a young age pyramid, 0.5 % sex not stated, OFWs mostly aged 25-49
    (about 4 % of adults, 55 % women), six destinations; one uniform 32-bit record key each."""
    rng = np.random.default_rng(seed)
    rows = []
    city = 0
    b = 0
    while b < barangays:
        size = int(rng.integers(3, 6))
        prov = "P1" if city % 2 == 0 else "P2"
        for _ in range(min(size, barangays - b)):
            n = int(np.clip(rng.lognormal(np.log(150), 0.8), 25, 600))
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
    pp["months"] = np.where(pp["is_ofw"], rng.integers(1, 120, len(pp)), 0)
    return pp


@dataclass
class Spec:
    """A synthetic indicator: statistic, universe and numerator (columns of the persons)."""

    id: str
    statistic: str
    universe: str
    numerator: str | None = None
    category: str | None = None
    value: str | None = None


SPECS = {
    "OF02": Spec("OF02", "count", "age >= 15", "is_ofw"),
    "OF03": Spec("OF03", "share", "age >= 15", "is_ofw"),
    "OF05": Spec("OF05", "share", "is_ofw and age >= 15", category="country"),
    "OF11": Spec("OF11", "median", "is_ofw and age >= 15", value="months"),
}


def _labels(pp: pd.DataFrame, scheme: str | list[int]) -> pd.Series:
    g = age_group(pp["age"], scheme)
    return g.astype(object).where(g.notna(), NOT_STATED)


def _frac_key(keys: pd.Series) -> float:
    return float(int(keys.sum()) % 2**32) / 2**32


def cube(pp: pd.DataFrame, spec: Spec, by: list[str], scheme: str | list[int] = "broad") -> pd.DataFrame:
    """The raw table ``indicators.compute`` would give for one indicator (contract columns):
    every level x every subset of ``by`` ("Total" elsewhere) [x category], rows where the
    denominator is not empty; for distributions every category in each such domain."""
    df = pp.query(spec.universe).copy()
    df["sex"] = df["sex"].astype(object).where(df["sex"].notna(), NOT_STATED)
    if "age_group" in by:
        df["age_group"] = _labels(df, scheme)
    cats = sorted(df[spec.category].dropna().unique()) if spec.category else None
    out = []
    parent_of = {"barangay": "city", "city": "province", "province": "region"}
    for level in LEVELS:
        for r in range(len(by), -1, -1):
            for keep in itertools.combinations(by, r):
                keys = [level, *keep]
                g = df.groupby(keys, sort=True)
                den = g.agg(n=("rkey", "size"), _ck_den=("rkey", _frac_key))
                if spec.statistic == "median":
                    den["estimate"] = g[spec.value].median()
                    dom = den.reset_index().assign(category="", units=den["n"].to_numpy(),
                                                   numerator=np.nan, denominator=np.nan, _ck_num=np.nan)
                elif spec.category:
                    num = df.groupby(keys + [spec.category], sort=True).agg(
                        units=("rkey", "size"), _ck_num=("rkey", _frac_key))
                    full = pd.MultiIndex.from_tuples(
                        [(*((i,) if not isinstance(i, tuple) else i), c) for i in den.index for c in cats],
                        names=keys + [spec.category])
                    num = num.reindex(full).fillna({"units": 0, "_ck_num": 0.0}).reset_index()
                    dom = num.merge(den.reset_index(), on=keys).rename(columns={spec.category: "category"})
                    dom["numerator"] = dom["units"]
                    dom["denominator"] = dom["n"]
                    dom["estimate"] = 100 * dom["units"] / dom["n"]
                else:
                    sel = df[df[spec.numerator]]
                    num = sel.groupby(keys, sort=True).agg(units=("rkey", "size"), _ck_num=("rkey", _frac_key))
                    dom = den.join(num).fillna({"units": 0, "_ck_num": 0.0}).reset_index()
                    dom["category"] = ""
                    dom["numerator"] = dom["units"]
                    dom["denominator"] = dom["n"] if spec.statistic == "share" else np.nan
                    dom["estimate"] = dom["units"] * (100 / dom["n"] if spec.statistic == "share" else 1)
                dom = dom.rename(columns={level: "area_code"})
                dom["area_level"] = level
                if level in parent_of:
                    up = pp.drop_duplicates(level).set_index(level)[parent_of[level]]
                    dom["parent_code"] = dom["area_code"].map(up)
                else:
                    dom["parent_code"] = ""
                for d in by:
                    if d not in keep:
                        dom[d] = TOTAL
                out.append(dom)
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


@dataclass
class Cells:
    """Every cell of the union of tables: ``frame`` has one row per distinct cell (role, level,
    area, sex, age scheme and label, urban_rural, category) with its true and published count
    (NaN when no published table shows it), and ``members`` the (cell, atom) incidence."""

    frame: pd.DataFrame
    members: sp.csr_matrix
    atoms: pd.DataFrame
    atom_role: np.ndarray  # 0 = denominator atom, 1 = numerator atom


def _atoms(pp: pd.DataFrame, spec: Spec, cuts: list[int]) -> pd.DataFrame:
    df = pp.query(spec.universe).copy()
    df["sex"] = df["sex"].astype(object).where(df["sex"].notna(), NOT_STATED)
    df["age_atom"] = np.searchsorted(np.asarray(cuts), df["age"].to_numpy(), side="right") - 1
    keys = ["barangay", "city", "province", "region", "urban_rural", "sex", "age_atom"]
    # every combination the attacker cannot rule out: all barangays x sex x age atoms
    brg = pp.drop_duplicates("barangay")[["barangay", "city", "province", "region", "urban_rural"]]
    grid = brg.merge(pd.DataFrame({"sex": ["male", "female", NOT_STATED]}), how="cross").merge(
        pd.DataFrame({"age_atom": np.arange(len(cuts) - 1)}), how="cross")
    # the universe starts at 15, a cut point of every scheme audited: younger atoms are empty
    grid = grid[np.asarray(cuts)[grid["age_atom"].to_numpy()] >= 15].reset_index(drop=True)
    den = grid.merge(df.groupby(keys).size().rename("true").reset_index(), how="left", on=keys)
    den["true"] = den["true"].fillna(0)
    den["role"], den["category"] = 0, ""
    parts = [den]
    if spec.category:
        for c in sorted(df[spec.category].dropna().unique()):
            sub = df[df[spec.category] == c].groupby(keys).size().rename("true").reset_index()
            num = grid.merge(sub, how="left", on=keys).assign(role=1, category=c)
            num["true"] = num["true"].fillna(0)
            parts.append(num)
    elif spec.numerator:
        sub = df[df[spec.numerator]].groupby(keys).size().rename("true").reset_index()
        num = grid.merge(sub, how="left", on=keys).assign(role=1, category="")
        num["true"] = num["true"].fillna(0)
        parts.append(num)
    atoms = pd.concat(parts, ignore_index=True)
    atoms["lo"] = np.asarray(cuts)[atoms["age_atom"].to_numpy()]
    atoms["hi"] = np.asarray(cuts)[atoms["age_atom"].to_numpy() + 1]
    return atoms


def cells(pp: pd.DataFrame, spec: Spec, published: list[tuple[list[str], str | list[int], pd.DataFrame]],
          schemes: list[str | list[int]]) -> Cells:
    """Cells of every table the CLI could publish for ``spec`` (every level, by in the published
    list) with their atoms, their true counts and, where published, the published counts."""
    cuts = age_cuts(schemes)
    atoms = _atoms(pp, spec, cuts)
    rows = []
    inc_r, inc_c = [], []
    seen: dict[tuple, int] = {}
    pub: dict[tuple, float] = {}
    for by, scheme, table in published:
        sname = scheme_name(scheme)
        for lev in LEVELS:
            for r in range(len(by) + 1):
                for keep in itertools.combinations(by, r):
                    for role in ((0, 1) if spec.numerator or spec.category else (0,)):
                        a = atoms[atoms["role"] == role]
                        labels = {}
                        if "age_group" in keep:
                            g = age_group(pd.Series(a["lo"].to_numpy()), scheme)
                            labels["age_group"] = g.astype(object).where(g.notna(), NOT_STATED).to_numpy()
                        key = [a[lev].to_numpy()]
                        names = ["area"]
                        for d in ("sex", "age_group", "urban_rural"):
                            if d in keep:
                                key.append(labels[d] if d == "age_group" else a[d].to_numpy())
                                names.append(d)
                        if role == 1 and spec.category:
                            key.append(a["category"].to_numpy())
                            names.append("category")
                        kdf = pd.DataFrame(dict(zip(names, key)))
                        codes, uniq = pd.factorize(pd.MultiIndex.from_frame(kdf))
                        for j, u in enumerate(uniq):
                            d = dict(zip(names, u if isinstance(u, tuple) else (u,)))
                            cid = (role, lev, d["area"], d.get("sex", TOTAL),
                                   (sname if "age_group" in d else "") + ":" + str(d.get("age_group", TOTAL)),
                                   d.get("urban_rural", TOTAL), d.get("category", ""))
                            if cid in seen:
                                continue
                            seen[cid] = len(rows)
                            idx = a.index.to_numpy()[codes == j]
                            rows.append(cid + (float(atoms.loc[idx, "true"].sum()),))
                            inc_r.extend([seen[cid]] * len(idx))
                            inc_c.extend(idx.tolist())
        # published values of this table
        for r in table.itertuples(index=False):
            rd = r._asdict()
            age = (sname + ":" + str(rd["age_group"])) if rd.get("age_group", TOTAL) != TOTAL else ":" + TOTAL
            base = (r.area_level, r.area_code, rd.get("sex", TOTAL), age, rd.get("urban_rural", TOTAL))
            for role, val in ((0, r.n), (1, r.numerator)):
                if role == 1 and not (spec.numerator or spec.category):
                    continue
                cid = (role, *base, r.category if role == 1 else "")
                if cid in pub and pub[cid] != val:
                    raise AssertionError(f"one cell, two published values: {cid} {pub[cid]} {val}")
                pub[cid] = float(val)
    frame = pd.DataFrame(rows, columns=["role", "level", "area", "sex", "age", "urban_rural", "category", "true"])
    cid = list(zip(*(frame[c] for c in ["role", "level", "area", "sex", "age", "urban_rural", "category"])))
    missing = [c for c in pub if c not in seen]
    assert not missing, f"published cells without atoms: {missing[:3]}"
    frame["published"] = [pub.get(c, np.nan) for c in cid]
    m = sp.csr_matrix((np.ones(len(inc_r)), (inc_r, inc_c)), shape=(len(rows), len(atoms)))
    return Cells(frame, m, atoms, atoms["role"].to_numpy())


def _constraints(c: Cells, spec: Spec, D: int) -> tuple[sp.csr_matrix, np.ndarray, sp.csr_matrix | None,
                                                        np.ndarray | None]:
    """A_ub z <= b_ub and A_eq z = b_eq over the atoms z >= 0.

    Published cells: |sum - published| <= D. Cells a table would show but that are not published
    (their published denominator was 0, so the row was dropped): the attacker knows the row would
    have shown 0, i.e. a denominator of at most D. Numerator atoms never exceed their denominator
    atom; distribution atoms add up to it."""
    f = c.frame
    pub = f["published"].to_numpy()
    shown = ~np.isnan(pub)
    # the denominators of dropped rows: at most D
    dropped = (~shown) & (f["role"].to_numpy() == 0)
    blocks, rhs = [], []
    M = c.members
    blocks += [M[shown], -M[shown], M[dropped]]
    rhs += [pub[shown] + D, -(np.maximum(pub[shown] - D, 0)), np.full(int(dropped.sum()), float(D))]
    a = c.atoms
    den = a[a["role"] == 0]
    pos = pd.Series(den.index.to_numpy(), index=pd.MultiIndex.from_frame(
        den[["barangay", "sex", "age_atom"]]))
    num = a[a["role"] == 1]
    if len(num):
        mate = pos.reindex(pd.MultiIndex.from_frame(num[["barangay", "sex", "age_atom"]])).to_numpy()
        n = len(num)
        row = np.arange(n)
        if spec.category:  # one equation per denominator atom: its category atoms add up to it
            where = pd.Series(np.arange(len(den)), index=den.index.to_numpy())
            rows = np.r_[where[mate].to_numpy(), np.arange(len(den))]
            cols = np.r_[num.index.to_numpy(), den.index.to_numpy()]
            vals = np.r_[np.ones(n), -np.ones(len(den))]
            A_eq = sp.csr_matrix((vals, (rows, cols)), shape=(len(den), len(a)))
            return sp.vstack(blocks).tocsr(), np.concatenate(rhs), A_eq, np.zeros(len(den))
        blocks.append(sp.csr_matrix((np.r_[np.ones(n), -np.ones(n)], (np.r_[row, row],
                                     np.r_[num.index.to_numpy(), mate])), shape=(n, len(a))))
        rhs.append(np.zeros(n))
    return sp.vstack(blocks).tocsr(), np.concatenate(rhs), None, None


def lp_intervals(c: Cells, spec: Spec, D: int, small: np.ndarray) -> pd.DataFrame:
    """Feasible interval [low, high] of each cell in ``small`` (indices into ``c.frame``).

    A cell is cleared as soon as a feasible table puts it 1 or more away from its true value
    (found first by maximising, then minimising, the sum of the uncleared cells; the true table is
    always feasible, so the interval is then at least 1 wide); cells never cleared get their own
    exact minimum and maximum. Returns ``low``/``high`` (exact for those cells, else the true value
    and the value found) and ``lps`` (linear programs solved)."""
    A, b, Aeq, beq = _constraints(c, spec, D)
    M = c.members
    true = c.frame["true"].to_numpy()
    low = true[small].astype(float).copy()
    high = true[small].astype(float).copy()
    todo = np.ones(len(small), dtype=bool)
    lps = 0

    def solve(obj: np.ndarray) -> np.ndarray:
        nonlocal lps
        lps += 1
        r = linprog(obj, A_ub=A, b_ub=b, A_eq=Aeq, b_eq=beq, bounds=(0, None), method="highs")
        assert r.status == 0, r.message  # the true table is feasible
        return M[small] @ r.x

    for sign in itertools.islice(itertools.cycle((-1.0, 1.0)), 12):  # maximise, then minimise, ...
        if not todo.any():
            break
        before = int(todo.sum())
        obj = np.asarray(sign * M[small[todo]].sum(axis=0)).ravel()
        vals = solve(obj)
        high = np.maximum(high, vals)
        low = np.minimum(low, vals)
        todo &= ~((high - true[small] >= 1 - 1e-6) | (true[small] - low >= 1 - 1e-6))
        if lps >= 2 and int(todo.sum()) == before:
            break
    for i in np.flatnonzero(todo):
        row = np.asarray(M[small[i]].todense()).ravel()
        low[i] = min(low[i], solve(row)[i])
        high[i] = max(high[i], solve(-row)[i])
    return pd.DataFrame({"cell": small, "true": true[small], "low": low, "high": high, "lps": lps})


def relations(c: Cells) -> list[tuple[int, list[int]]]:
    """(margin, members) of every additive relation between cells of the cube: the categories of
    each ``by`` column add up to its Total, areas to their parent, categories to the domain, and
    the groups of one age scheme that nest in a group of another add up to it."""
    f = c.frame.reset_index(drop=True)
    key = {tuple(r[1:8]): r[0] for r in f[["role", "level", "area", "sex", "age", "urban_rural",
                                          "category"]].itertuples()}
    out: dict[int, list[int]] = {}
    rel = []
    parents = {}
    a = c.atoms
    for lev, up in (("barangay", "city"), ("city", "province"), ("province", "region")):
        parents.update(dict(zip(a[lev], a[up])))
    uplevel = {"barangay": "city", "city": "province", "province": "region"}
    for cid, i in key.items():
        role, lev, area, sex, age, ur, cat = cid
        if lev in uplevel:
            out.setdefault(key.get((role, uplevel[lev], parents[area], sex, age, ur, cat), -1), []).append(i)
    rel += [(m, v) for m, v in out.items() if m >= 0]
    for pos, total in ((3, TOTAL), (5, TOTAL)):
        out = {}
        for cid, i in key.items():
            if cid[pos] != total:
                t = list(cid)
                t[pos] = total
                out.setdefault(key.get(tuple(t), -1), []).append(i)
        rel += [(m, v) for m, v in out.items() if m >= 0]
    out = {}
    for cid, i in key.items():
        if not cid[4].endswith(":" + TOTAL):
            t = list(cid)
            t[4] = ":" + TOTAL
            out.setdefault((cid[4].split(":")[0], key.get(tuple(t), -1)), []).append(i)
    rel += [(m, v) for (_, m), v in out.items() if m >= 0]
    if (f["category"] != "").any():
        out = {}
        for cid, i in key.items():
            if cid[0] == 1:
                t = (0, *cid[1:6], "")
                out.setdefault(key.get(t, -1), []).append(i)
        rel += [(m, v) for m, v in out.items() if m >= 0]
    # nesting of age groups across schemes (atoms of the group = union of the members' atoms)
    M = c.members.tocsr()
    ages = f[f["age"].str.contains(":") & ~f["age"].str.endswith(":" + TOTAL)]
    bycell: dict[tuple, list[int]] = {}
    for r in ages.itertuples():
        bycell.setdefault((r.role, r.level, r.area, r.sex, r.urban_rural, r.category), []).append(r.Index)
    for idx in bycell.values():
        sets = {i: frozenset(M[i].indices) for i in idx}
        for i in idx:
            inner = [j for j in idx if j != i and sets[j] and sets[j] < sets[i]]
            if inner:
                schemes = {}
                for j in inner:
                    schemes.setdefault(f.at[j, "age"].split(":")[0], []).append(j)
                for js in schemes.values():
                    if frozenset().union(*(sets[j] for j in js)) == sets[i]:
                        rel.append((i, js))
    return rel


def propagate(c: Cells, D: int, rels: list[tuple[int, list[int]]], rounds: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Iterated subtraction: integer intervals of every cell, from the published values (within D,
    not negative; rows dropped at a published denominator of 0: at most D) narrowed through every
    relation (margin = sum of members) until no interval changes."""
    f = c.frame
    pub = f["published"].to_numpy()
    lo = np.where(np.isnan(pub), 0.0, np.maximum(pub - D, 0))
    big = float(c.atoms["true"].sum())  # no cell exceeds the population: a finite "unknown"
    hi = np.where(np.isnan(pub), np.where(f["role"].to_numpy() == 0, float(D), big), pub + D)
    for _ in range(rounds):
        changed = False
        for m, mem in rels:
            mem = np.asarray(mem)
            slo, shi = lo[mem].sum(), hi[mem].sum()
            nlo, nhi = max(lo[m], slo), min(hi[m], shi)
            if nlo > lo[m] or nhi < hi[m]:
                lo[m], hi[m] = nlo, nhi
                changed = True
            new_lo = np.maximum(lo[mem], lo[m] - (shi - hi[mem]))
            new_hi = np.minimum(hi[mem], hi[m] - (slo - lo[mem]))
            if (new_lo > lo[mem]).any() or (new_hi < hi[mem]).any():
                lo[mem], hi[mem] = new_lo, new_hi
                changed = True
        if not changed:
            break
    return lo, hi
