"""Derived person and household attributes the indicator catalogue is written over, computed once.

- person: ``is_of`` (overseas Filipino, CBMS B06 1-6), ``is_ofw`` (OFW, B06 1-2),
  ``migratory_status`` (DOMAIN.md §4.4), ``age_group`` (scheme chosen by the caller),
  ``parent_abroad`` (children 0-17, link rule of DOMAIN.md §7), ``months_since_departure``
  (needs ``provenance["reference_date"]``), ``origin_5y`` (statistical province of residence 5
  years ago, from a PSGC or CBMS PPMM code through ``migdata.areas``), ``returned_abroad_5y``
  (lived abroad 5 years ago, or a rider's explicit return in the past 5 years);
- household: ``hh_size`` (all roster members, OFs included, as CPH and CBMS count them),
  ``hh_n_of``, ``hh_n_ofw``, ``hh_migratory_status`` (``ofw_household`` / ``of_household`` /
  ``other``), ``head_sex``, ``per_capita_income`` and ``below_poverty``.

Person units also carry the household's area, design and household-level columns, so one table
serves every person indicator. Everything is vectorised (no loop over households).

Child-parent link (never guessing): a person aged 0-17 whose relationship to the *family* head is
son/daughter (CBMS A04 4/5, with a family number) is linked to the head/spouse/partner of that
family (A04 1/2/3); otherwise a son/daughter of the *household* head (harmonised relationship
``child``) is linked to the household head and spouse. Grandchildren are therefore linked only
through their own nuclear family; any other child is ``parent_unlisted``.

Example:
    >>> import pandas as pd
    >>> from migdata.model import HouseholdData
    >>> hh = pd.DataFrame({"hh_id": ["A"], "weight": [1.0], "source": ["demo"]})
    >>> pp = pd.DataFrame({"hh_id": ["A", "A", "A"], "line_no": [1, 2, 3], "age": [40, 38, 9],
    ...     "sex": ["male", "female", "female"], "relationship": ["head", "spouse", "child"],
    ...     "of_status": ["ofw_contract", "resident", "resident"]})
    >>> u = units(HouseholdData({"households": hh, "persons": pp}))
    >>> u["person"]["parent_abroad"].tolist()
    [nan, nan, 'father']
    >>> u["household"]["hh_migratory_status"].tolist()
    ['ofw_household']
"""

from __future__ import annotations

import datetime as _dt
import functools
from typing import Any, Callable, Collection, Sequence

import numpy as np
import pandas as pd

from migdata._kernels.codes import isin as kernel_isin
from migdata.model.agegroups import age_group
from migdata.model.frame import attach_households, household_positions

OF_ALL = ["ofw_contract", "ofw_no_contract", "embassy_staff", "student", "tourist", "other_of"]
OFW = ["ofw_contract", "ofw_no_contract"]
PERSON_STATUS = ["of_worker", "of_non_worker", "returned_from_abroad_5y", "internal_migrant_5y",
                 "lifetime_migrant", "resident_non_mover", "unknown"]
HOUSEHOLD_STATUS = ["ofw_household", "of_household", "other"]
PARENT_ABROAD = ["none", "father", "mother", "both", "parent_unlisted"]

#: Derived column -> the source columns (or ``@provenance`` keys) it needs. The evaluator uses
#: this to say *why* an indicator cannot be computed from a dataset.
DEPENDS: dict[str, list[str]] = {
    "is_of": ["of_status"], "is_ofw": ["of_status"],
    "migratory_status": ["of_status"],
    "age_group": ["age"],
    "parent_abroad": ["relationship", "of_status", "sex", "age"],
    "months_since_departure": ["departure_year", "departure_month", "@reference_date"],
    "origin_5y": ["res_5y_place"],
    # CBMS has no return item: residence abroad 5 years ago is the proxy (DOMAIN.md §3, RT01);
    # a rider's explicit return question counts too when the dataset has it
    "returned_abroad_5y": ["res_5y"],
    "hh_size": [], "hh_n_of": ["of_status"], "hh_n_ofw": ["of_status"],
    "hh_migratory_status": ["of_status"], "head_sex": ["sex", "relationship"],
    "per_capita_income": ["income"], "below_poverty": ["income", "poverty_threshold"],
}


def _col(df: pd.DataFrame, name: str, dtype: str | None = None) -> pd.Series:
    if name in df.columns:
        return df[name]
    # typed when the caller says how it reads the column: no per-row conversion of a missing one
    return pd.Series(np.nan if dtype == "float64" else pd.NA, index=df.index, dtype=dtype or "object")


def _str(s: pd.Series) -> pd.Series:
    """Category/string column as plain object strings with NaN for missing (fast for categoricals)."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        return s.astype(object).where(s.notna(), np.nan)
    return s.astype(object).where(s.notna(), np.nan)


def _is(s: pd.Series, values: Sequence[str]) -> np.ndarray:
    """Boolean array: the value is one of ``values`` (on category codes when categorical: no
    conversion of millions of values to Python strings)."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        pos = [s.cat.categories.get_loc(v) for v in values if v in s.cat.categories]
        return kernel_isin(s.cat.codes.to_numpy(), pos)
    return s.isin(values).to_numpy(dtype=bool)


def _float(s: pd.Series) -> np.ndarray:
    """A column as float64 with NaN for missing; numeric columns skip ``pd.to_numeric``."""
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        return s.to_numpy(dtype="float64", na_value=np.nan)
    if s.dtype == object and s.isna().all():  # an absent column (``_col``): nothing to parse
        return np.full(len(s), np.nan)
    return pd.to_numeric(s, errors="coerce").astype("Float64").to_numpy(dtype="float64", na_value=np.nan)


def _notna(s: pd.Series) -> np.ndarray:
    return s.notna().to_numpy(dtype=bool)


def _reference_date(ref: str | None) -> _dt.date | None:
    if not ref:
        return None
    try:
        return _dt.date.fromisoformat(str(ref)[:10])
    except ValueError:
        return None


#: Keys below this many per row are looked up in a table indexed by the key (household
#: positions); wider keys (household x family number) through their distinct values.
_TABLE_KEYS = 4


def _parent_abroad(pp: pd.DataFrame, hpos: np.ndarray, is_of: np.ndarray) -> pd.Series:
    """Link rule of DOMAIN.md §7, vectorised with group keys (household position, family number)."""
    n = len(pp)
    age = _float(_col(pp, "age"))
    child_age = (age >= 0) & (age <= 17)
    rel_s, sex_s = _col(pp, "relationship"), _col(pp, "sex")
    fam = _float(_col(pp, "family_no"))
    a04 = _float(_col(pp, "rel_family_head_src", "float64"))
    male_of = is_of & _is(sex_s, ["male"])
    female_of = is_of & _is(sex_s, ["female"])

    # Rule 1: through the nuclear family (A04 4/5 -> family head/spouse/partner A04 1/2/3).
    fam_ok = ~np.isnan(fam) & (hpos >= 0)
    fam_parent = fam_ok & np.isin(a04, [1, 2, 3])
    fam_child = fam_ok & np.isin(a04, [4, 5])

    # Rule 2: through the household (relationship child -> head and spouse).
    hh_parent = _is(rel_s, ["head", "spouse"]) & (hpos >= 0)
    hh_child = _is(rel_s, ["child"]) & ~fam_child & (hpos >= 0)

    def fam_key(rows: np.ndarray) -> np.ndarray:
        """Household position x family number of ``rows`` (only parents' and children's rows
        are keyed: most persons are neither)."""
        return hpos[rows].astype("int64") * 1000 + fam[rows].astype("int64")

    def hh_key(rows: np.ndarray) -> np.ndarray:
        return hpos[rows].astype("int64")

    def link(parent: np.ndarray, child: np.ndarray, key: Callable[[np.ndarray], np.ndarray]
             ) -> tuple[np.ndarray, ...]:
        """For each child: has a linked parent; father abroad; mother abroad."""
        nc = int(child.sum())
        prow = np.flatnonzero(parent)
        kp, kc = key(prow), key(np.flatnonzero(child))
        if len(kp) == 0:
            return np.zeros(nc, bool), np.zeros(nc, bool), np.zeros(nc, bool)
        top = int(max(kp.max(), kc.max(initial=0))) + 1
        if min(int(kp.min()), int(kc.min(initial=0))) >= 0 and top <= _TABLE_KEYS * n:
            # keys that are household positions index a table of their own: no hashing (the
            # same answers as the distinct keys below)
            inv, size = kp, top
            pos = np.where(np.bincount(kp, minlength=size)[kc] > 0, kc, -1)
        else:
            uniq, inv = np.unique(kp, return_inverse=True)
            size = len(uniq)
            pos = pd.Index(uniq).get_indexer(kc)
        fa = np.bincount(inv, weights=male_of[prow], minlength=size) > 0
        mo = np.bincount(inv, weights=female_of[prow], minlength=size) > 0
        found = pos >= 0
        p = np.where(found, pos, 0)
        return found, found & fa[p], found & mo[p]

    # codes into PARENT_ABROAD: 0 none, 1 father, 2 mother, 3 both, 4 parent_unlisted
    out = np.full(n, 4, dtype=np.int8)
    for parent, child, key in ((fam_parent, fam_child, fam_key), (hh_parent, hh_child, hh_key)):
        cidx = np.flatnonzero(child)
        if len(cidx) == 0:
            continue
        has_par, fa, mo = link(parent, child, key)
        val = np.where(fa & mo, 3, np.where(fa, 1, np.where(mo, 2, 0)))
        out[cidx] = np.where(has_par, val, 4)
    out = _direct_parent_items(pp, out)
    out[~child_age] = -1
    return pd.Series(pd.Categorical.from_codes(out, categories=PARENT_ABROAD), index=pp.index)


def _direct_parent_items(pp: pd.DataFrame, out: np.ndarray) -> np.ndarray:
    """The roster link (codes into PARENT_ABROAD) completed by a survey's direct items
    ``father_abroad`` / ``mother_abroad`` (MICS HL14/HL18): a parent abroad is usually not on the
    roster, so the item, where asked, says what the link cannot. A child stays
    ``parent_unlisted`` unless the items name a parent abroad or answer for both parents."""
    if "father_abroad" not in pp.columns and "mother_abroad" not in pp.columns:
        return out
    fa_s = _col(pp, "father_abroad").astype("boolean")
    mo_s = _col(pp, "mother_abroad").astype("boolean")
    fa_d, mo_d = fa_s.fillna(False).to_numpy(dtype=bool), mo_s.fillna(False).to_numpy(dtype=bool)
    both_known = fa_s.notna().to_numpy() & mo_s.notna().to_numpy()
    fa = np.isin(out, [1, 3]) | fa_d
    mo = np.isin(out, [2, 3]) | mo_d
    combined = np.where(fa & mo, 3, np.where(fa, 1, np.where(mo, 2, 0))).astype(np.int8)
    answered = (out != 4) | both_known | fa_d | mo_d
    return np.where(answered & (out >= 0), combined, out).astype(np.int8)


def _migratory_status(pp: pd.DataFrame, is_of: np.ndarray, is_ofw: np.ndarray) -> np.ndarray:
    r5, rb, ofs = _col(pp, "res_5y"), _col(pp, "res_birth"), _col(pp, "of_status")
    ret = _col(pp, "returned_5y", "boolean").astype("boolean").fillna(False).to_numpy(dtype=bool)
    known = (_notna(ofs) & ~_is(ofs, ["unknown"])) | _notna(r5) | _notna(rb)
    conds = [is_ofw, is_of, _is(r5, ["abroad"]) | ret, _is(r5, ["other_ph"]),
             _is(rb, ["other_ph", "abroad"]), known]
    codes = np.select(conds, np.arange(6), default=6)
    return pd.Categorical.from_codes(codes, categories=PERSON_STATUS)


@functools.lru_cache(maxsize=1)
def _stat_provinces() -> dict[str, Any]:
    """PSGC code -> statistical province, from the areas reference (read once: every partition
    of a store looks places up)."""
    from migdata.areas import reference

    ref = reference()
    return dict(zip(ref["psgc"].astype(str), ref["stat_province"].astype(object)))


def _province_of(places: np.ndarray) -> np.ndarray:
    """Statistical province (PSGC) of each distinct place code: 10-digit PSGC or CBMS PPMM.

    Uses the areas reference (HUCs go to the province PSA tables show them with, e.g. Lucena to
    Quezon); a code the reference does not know keeps its structural province (10-digit) or
    becomes ``PPMM:PP`` (never guessed)."""
    try:
        from migdata.areas import ppmm_to_psgc

        stat = _stat_provinces()
    except Exception:  # no reference available: structural codes only
        ppmm_to_psgc, stat = None, {}
    out = []
    for u in places:
        u = str(u).strip()
        prov = None
        if len(u) == 10 and u.isdigit():
            prov = stat.get(u[:7] + "000") or stat.get(u) or (u[:5] + "00000")
        elif len(u) == 4 and u.isdigit():
            try:
                city = ppmm_to_psgc(u) if ppmm_to_psgc else None
            except Exception:  # an unknown PPMM code stays visible as such
                city = None
            prov = stat.get(str(city)) if city else None
            prov = prov if isinstance(prov, str) and prov else "PPMM:" + u[:2]
        out.append(prov if isinstance(prov, str) else None)
    return np.asarray(out, dtype=object)


def _origin_5y(pp: pd.DataFrame) -> pd.Series:
    """Province of residence 5 years ago (statistical province PSGC; ``abroad`` for movers from
    abroad), as a Categorical of the values met (sorted)."""
    n = len(pp)
    labels: list[Any] = []
    codes = np.full(n, -1, dtype=np.int64)
    raw = _col(pp, "res_5y_place")
    if raw.notna().any():
        # distinct places are few: map each once (the text is stripped by Arrow, not in Python)
        fc, uniq = pd.factorize(raw.astype("string[pyarrow]").str.strip())
        labels = list(_province_of(np.asarray(uniq, dtype=object)))
        codes = np.asarray(fc, dtype=np.int64)
    abroad = _is(_col(pp, "res_5y"), ["abroad"])
    if abroad.any():
        labels.append("abroad")
        codes = np.where(abroad, len(labels) - 1, codes)
    # the categories of pd.Categorical(values): the distinct values met, sorted
    lab = np.asarray(labels + [None], dtype=object)
    used = np.bincount(codes[codes >= 0], minlength=len(labels)) > 0 if len(labels) else np.zeros(0, bool)
    cats = sorted({lab[i] for i in np.flatnonzero(used) if lab[i] is not None})
    pos = {c: i for i, c in enumerate(cats)}
    remap = np.array([pos.get(x, -1) if x is not None else -1 for x in lab], dtype=np.int64)
    return pd.Series(pd.Categorical.from_codes(remap[codes], categories=cats), index=pp.index)


def units(dataset: Any, age_scheme: str | Sequence[int] = "broad",
          household_columns: Sequence[str] | None = None, persons: bool = True,
          person_columns: Collection[str] | None = None) -> dict[str, pd.DataFrame]:
    """The unit tables indicators are computed over: ``{"person": ..., "household": ...}``.

    Person rows carry the household columns (area, design, income...) under their own names,
    joined by :meth:`HouseholdData.frame`'s join (:func:`migdata.model.frame.attach_households`,
    with the dataset's weight rule); ``household_columns`` limits which (default: all), which
    saves memory at census scale. Rows are in the order of the dataset's frames, so
    ``dataset.design(unit, frame=units[unit])`` is the dataset's design on them.
    ``person_columns`` limits which derived person columns are computed (default: all; the
    household ones are always there): the few indicators of an area comparison need neither the
    child-parent links nor the places of 5 years ago.
    """
    def wanted(col: str) -> bool:
        return person_columns is None or col in person_columns

    units_map = {"person": "persons", "household": "households", **dataset.provenance.units}
    hh = dataset.frame("household") if units_map["household"] in dataset.tables else dataset.households
    pp = (dataset.tables[units_map["person"]] if units_map["person"] in dataset.tables
          else dataset.persons).reset_index(drop=True)
    hpos = household_positions(hh, pp)
    ofs_s = _col(pp, "of_status")
    is_of = _is(ofs_s, OF_ALL)
    is_ofw = _is(ofs_s, OFW)
    of_present = _notna(ofs_s)
    has_of_col = "of_status" in pp.columns and pp["of_status"].notna().any()

    # Household aggregates over members (bincount on household positions).
    nh = len(hh)
    ok = hpos >= 0
    hh_size = np.bincount(hpos[ok], minlength=nh)
    n_of = np.bincount(hpos[ok], weights=is_of[ok], minlength=nh).astype("int64")
    n_ofw = np.bincount(hpos[ok], weights=is_ofw[ok], minlength=nh).astype("int64")
    hu = hh.copy(deep=False)
    hu["hh_size"] = hh_size
    if has_of_col:
        of_known = np.bincount(hpos[ok], weights=of_present[ok], minlength=nh) > 0
        hu["hh_n_of"] = pd.array(np.where(of_known, n_of, 0), dtype="Int64")
        hu.loc[~of_known, "hh_n_of"] = pd.NA
        hu["hh_n_ofw"] = pd.array(n_ofw, dtype="Int64")
        hu.loc[~of_known, "hh_n_ofw"] = pd.NA
        hu["hh_migratory_status"] = pd.Categorical.from_codes(
            np.where(of_known, np.where(n_ofw > 0, 0, np.where(n_of > 0, 1, 2)), -1), categories=HOUSEHOLD_STATUS)
    else:
        hu["hh_n_of"] = pd.array([pd.NA] * nh, dtype="Int64")
        hu["hh_n_ofw"] = pd.array([pd.NA] * nh, dtype="Int64")
        hu["hh_migratory_status"] = np.nan
    head = ok & _is(_col(pp, "relationship"), ["head"])
    sex_s = _col(pp, "sex")
    sex_code = np.where(_is(sex_s, ["male"]), 0, np.where(_is(sex_s, ["female"]), 1, -1))
    head_sex = np.full(nh, -1, dtype=np.int64)
    head_sex[hpos[head]] = sex_code[head]
    hu["head_sex"] = pd.Categorical.from_codes(head_sex, categories=["male", "female"])
    income = pd.to_numeric(_col(hh, "income"), errors="coerce").astype("Float64")
    pci = income / pd.Series(np.where(hh_size > 0, hh_size, np.nan), dtype="Float64")
    hu["per_capita_income"] = pci.to_numpy(dtype="float64", na_value=np.nan)
    thr = pd.to_numeric(_col(hh, "poverty_threshold"), errors="coerce").to_numpy(dtype="float64",
                                                                                   na_value=np.nan)
    pc = hu["per_capita_income"].to_numpy()
    below = pd.array(pc < thr, dtype="boolean")
    below[np.isnan(pc) | np.isnan(thr)] = pd.NA
    hu["below_poverty"] = below

    if not persons:  # the household unit alone (a linked survey needs its households' attributes)
        return {"household": hu}
    # Person units: person columns, derived columns, then household columns by position.
    pu = pp.copy(deep=False)
    # missing where the overseas status is (all of them when the data have no status at all)
    unknown = ~of_present if has_of_col else np.ones(len(pp), dtype=bool)
    pu["is_of"] = pd.arrays.BooleanArray(is_of & ~unknown, unknown)
    pu["is_ofw"] = pd.arrays.BooleanArray(is_ofw & ~unknown, unknown)
    if wanted("migratory_status"):
        pu["migratory_status"] = _migratory_status(pp, is_of, is_ofw)
    if "age" in pp.columns and wanted("age_group"):
        pu["age_group"] = age_group(pp["age"], age_scheme).values
    if wanted("parent_abroad"):
        pu["parent_abroad"] = _parent_abroad(pp, hpos, is_of) if has_of_col else np.nan
    if wanted("months_since_departure"):
        ref = _reference_date(dataset.provenance.reference_date)
        dy, dm = _float(_col(pp, "departure_year")), _float(_col(pp, "departure_month"))
        pu["months_since_departure"] = ((ref.year - dy) * 12 + (ref.month - dm)) if ref else np.nan
    if wanted("origin_5y"):
        pu["origin_5y"] = _origin_5y(pp)
    if wanted("returned_abroad_5y"):
        r5 = _col(pp, "res_5y")
        ret = _col(pp, "returned_5y", "boolean").astype("boolean")
        abroad = pd.array(_is(r5, ["abroad"]), dtype="boolean")
        known = _notna(r5) | ret.notna().to_numpy()
        pu["returned_abroad_5y"] = pd.arrays.BooleanArray(
            (abroad.fillna(False) | ret.fillna(False)).to_numpy(dtype=bool), ~known)
    # household columns (areas, design, household variables, the derived ones above) reach the
    # persons through the dataset's one join, with its weight rule
    pu = attach_households(pu, hu, columns=household_columns, spec=dataset.spec, unit="person", positions=hpos)
    return {"person": pu, "household": hu}


def columns_present(dataset: Any) -> dict[str, set[str]]:
    """Columns with at least one non-missing value, per unit (``person`` / ``household``); for
    a partitioned store (:class:`~migdata.model.partitions.Store`), from its manifest."""
    units_map = {"person": "persons", "household": "households", **dataset.provenance.units}
    if hasattr(dataset, "present"):
        hcols, pcols = dataset.present(units_map["household"]), dataset.present(units_map["person"])
        n_hh, n_pp = dataset.rows(units_map["household"]), dataset.rows(units_map["person"])
    else:
        empty = pd.DataFrame()
        hh = dataset.tables.get(units_map["household"], empty)
        pp = dataset.tables.get(units_map["person"], empty)
        hcols = {c for c in hh.columns if hh[c].notna().any()}
        pcols = {c for c in pp.columns if pp[c].notna().any()}
        n_hh, n_pp = len(hh), len(pp)
    extra = {"@reference_date"} if _reference_date(dataset.provenance.reference_date) else set()
    # a unit without rows in this dataset (households of a stand-alone survey) supports nothing
    return {"person": pcols | hcols | extra if n_pp else set(),
            "household": hcols | pcols | extra if n_hh else set()}
