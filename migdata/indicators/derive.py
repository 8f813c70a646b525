"""Derived person and household attributes the indicator catalogue is written over, computed once.

- person: ``is_of`` (overseas Filipino, CBMS B06 1-6), ``is_ofw`` (OFW, B06 1-2),
  ``migratory_status`` (DOMAIN.md §4.4), ``age_group`` (scheme chosen by the caller),
  ``parent_abroad`` (children 0-17, link rule of DOMAIN.md §7), ``months_since_departure``
  (needs ``provenance["reference_date"]``), ``origin_5y`` (province of residence 5 years ago);
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
from typing import Any, Sequence

import numpy as np
import pandas as pd

from migdata.model.agegroups import age_group

OF_ALL = ["ofw_contract", "ofw_no_contract", "embassy_staff", "student", "tourist", "other_of"]
OFW = ["ofw_contract", "ofw_no_contract"]
PERSON_STATUS = ["of_worker", "of_non_worker", "returned_from_abroad_5y", "internal_migrant_5y",
                 "lifetime_migrant", "resident_non_mover", "unknown"]
HOUSEHOLD_STATUS = ["ofw_household", "of_household", "other"]
AREA_COLUMNS = ["region", "province", "city_mun", "barangay"]

#: Derived column -> the source columns (or ``@provenance`` keys) it needs. The evaluator uses
#: this to say *why* an indicator cannot be computed from a dataset.
DEPENDS: dict[str, list[str]] = {
    "is_of": ["of_status"], "is_ofw": ["of_status"],
    "migratory_status": ["of_status"],
    "age_group": ["age"],
    "parent_abroad": ["relationship", "of_status", "sex", "age"],
    "months_since_departure": ["departure_year", "departure_month", "@reference_date"],
    "origin_5y": ["res_5y_place"],
    "hh_size": [], "hh_n_of": ["of_status"], "hh_n_ofw": ["of_status"],
    "hh_migratory_status": ["of_status"], "head_sex": ["sex", "relationship"],
    "per_capita_income": ["income"], "below_poverty": ["income", "poverty_threshold"],
}


def _col(df: pd.DataFrame, name: str, dtype: str | None = None) -> pd.Series:
    if name in df.columns:
        return df[name]
    return pd.Series(pd.NA, index=df.index, dtype=dtype or "object")


def _str(s: pd.Series) -> pd.Series:
    """Category/string column as plain object strings with NaN for missing (fast for categoricals)."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        return s.astype(object).where(s.notna(), np.nan)
    return s.astype(object).where(s.notna(), np.nan)


def _reference_date(provenance: dict[str, Any]) -> _dt.date | None:
    ref = provenance.get("reference_date")
    if not ref:
        return None
    try:
        return _dt.date.fromisoformat(str(ref)[:10])
    except ValueError:
        return None


def household_index(hh: pd.DataFrame, persons: pd.DataFrame) -> np.ndarray:
    """Row position of each person's household in ``hh`` (-1 for orphans)."""
    return pd.Index(hh["hh_id"]).get_indexer(persons["hh_id"])


def _parent_abroad(pp: pd.DataFrame, hpos: np.ndarray, is_of: np.ndarray) -> pd.Series:
    """Link rule of DOMAIN.md §7, vectorised with group keys (household position, family number)."""
    n = len(pp)
    age = pd.to_numeric(_col(pp, "age"), errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    child_age = (age >= 0) & (age <= 17)
    rel = _str(_col(pp, "relationship")).to_numpy()
    sex = _str(_col(pp, "sex")).to_numpy()
    fam = pd.to_numeric(_col(pp, "family_no"), errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    a04 = pd.to_numeric(_col(pp, "rel_family_head_src"), errors="coerce").to_numpy(dtype="float64",
                                                                                     na_value=np.nan)
    male_of = is_of & (sex == "male")
    female_of = is_of & (sex == "female")

    # Rule 1: through the nuclear family (A04 4/5 -> family head/spouse/partner A04 1/2/3).
    fam_ok = ~np.isnan(fam) & (hpos >= 0)
    fam_key = np.where(fam_ok, hpos.astype("int64") * 1000 + np.nan_to_num(fam).astype("int64"), -1)
    fam_parent = fam_ok & np.isin(a04, [1, 2, 3])
    fam_child = fam_ok & np.isin(a04, [4, 5])

    # Rule 2: through the household (relationship child -> head and spouse).
    hh_parent = np.isin(rel, ["head", "spouse"]) & (hpos >= 0)
    hh_child = (rel == "child") & ~fam_child & (hpos >= 0)

    def link(parent: np.ndarray, child: np.ndarray, key: np.ndarray) -> tuple[np.ndarray, ...]:
        """For each child: has a linked parent; father abroad; mother abroad."""
        nc = int(child.sum())
        uniq, inv = np.unique(key[parent], return_inverse=True)
        if len(uniq) == 0:
            return np.zeros(nc, bool), np.zeros(nc, bool), np.zeros(nc, bool)
        fa = np.bincount(inv, weights=male_of[parent], minlength=len(uniq)) > 0
        mo = np.bincount(inv, weights=female_of[parent], minlength=len(uniq)) > 0
        pos = pd.Index(uniq).get_indexer(key[child])
        found = pos >= 0
        p = np.where(found, pos, 0)
        return found, found & fa[p], found & mo[p]

    out = np.full(n, "parent_unlisted", dtype=object)
    for parent, child, key in ((fam_parent, fam_child, fam_key), (hh_parent, hh_child, hpos.astype("int64"))):
        cidx = np.flatnonzero(child)
        if len(cidx) == 0:
            continue
        has_par, fa, mo = link(parent, child, key)
        val = np.where(fa & mo, "both", np.where(fa, "father", np.where(mo, "mother", "none")))
        out[cidx] = np.where(has_par, val, "parent_unlisted")
    out = out.astype(object)
    out[~child_age] = np.nan
    return pd.Series(out, index=pp.index, dtype="object")


def _migratory_status(pp: pd.DataFrame, is_of: np.ndarray, is_ofw: np.ndarray) -> np.ndarray:
    r5 = _str(_col(pp, "res_5y")).to_numpy()
    rb = _str(_col(pp, "res_birth")).to_numpy()
    ret = _col(pp, "returned_5y").astype("boolean").fillna(False).to_numpy(dtype=bool)
    ofs = _str(_col(pp, "of_status")).to_numpy()
    known = (pd.notna(ofs) & (ofs != "unknown")) | pd.notna(r5) | pd.notna(rb)
    conds = [is_ofw, is_of, (r5 == "abroad") | ret, r5 == "other_ph",
             np.isin(rb, ["other_ph", "abroad"]), known]
    return np.select(conds, PERSON_STATUS[:6], default="unknown")


def _origin_5y(pp: pd.DataFrame) -> pd.Series:
    """Province of residence 5 years ago: 10-digit PSGC -> its province code; CBMS PPMM codes
    -> ``PPMM:PP`` (old province number; the areas crosswalk turns these into PSGC)."""
    place = _col(pp, "res_5y_place").astype("string").str.strip()
    r5 = _str(_col(pp, "res_5y"))
    out = pd.Series(np.nan, index=pp.index, dtype="object")
    ten = place.str.fullmatch(r"\d{10}").fillna(False).to_numpy(dtype=bool)
    four = place.str.fullmatch(r"\d{4}").fillna(False).to_numpy(dtype=bool)
    out[ten] = place[ten].str.slice(0, 5) + "00000"
    out[four] = "PPMM:" + place[four].str.slice(0, 2)
    out[(r5 == "abroad").to_numpy(dtype=bool)] = "abroad"
    return out


def units(dataset: Any, age_scheme: str | Sequence[int] = "broad") -> dict[str, pd.DataFrame]:
    """The unit tables indicators are computed over: ``{"person": ..., "household": ...}``.

    Person rows carry every household column (area, design, income...) under its own name
    (``weight`` is the person weight when the persons table has one, else the household weight).
    """
    hh = dataset.households.reset_index(drop=True)
    pp = dataset.persons.reset_index(drop=True)
    hpos = household_index(hh, pp)
    ofs = _str(_col(pp, "of_status")).to_numpy()
    is_of = np.isin(ofs, OF_ALL)
    is_ofw = np.isin(ofs, OFW)
    has_of_col = "of_status" in pp.columns and pp["of_status"].notna().any()

    # Household aggregates over members (bincount on household positions).
    nh = len(hh)
    ok = hpos >= 0
    hh_size = np.bincount(hpos[ok], minlength=nh)
    n_of = np.bincount(hpos[ok], weights=is_of[ok], minlength=nh).astype("int64")
    n_ofw = np.bincount(hpos[ok], weights=is_ofw[ok], minlength=nh).astype("int64")
    hu = hh.copy()
    hu["hh_size"] = hh_size
    if has_of_col:
        of_known = np.bincount(hpos[ok], weights=pd.notna(ofs[ok]), minlength=nh) > 0
        hu["hh_n_of"] = pd.array(np.where(of_known, n_of, 0), dtype="Int64")
        hu.loc[~of_known, "hh_n_of"] = pd.NA
        hu["hh_n_ofw"] = pd.array(n_ofw, dtype="Int64")
        hu.loc[~of_known, "hh_n_ofw"] = pd.NA
        status = np.where(n_ofw > 0, "ofw_household", np.where(n_of > 0, "of_household", "other"))
        hu["hh_migratory_status"] = pd.Series(status, dtype="object").where(of_known, np.nan).values
    else:
        hu["hh_n_of"] = pd.array([pd.NA] * nh, dtype="Int64")
        hu["hh_n_ofw"] = pd.array([pd.NA] * nh, dtype="Int64")
        hu["hh_migratory_status"] = np.nan
    rel = _str(_col(pp, "relationship")).to_numpy()
    head = ok & (rel == "head")
    head_sex = np.full(nh, np.nan, dtype=object)
    head_sex[hpos[head]] = _str(_col(pp, "sex")).to_numpy()[head]
    hu["head_sex"] = head_sex
    income = pd.to_numeric(_col(hh, "income"), errors="coerce").astype("Float64")
    pci = income / pd.Series(np.where(hh_size > 0, hh_size, np.nan), dtype="Float64")
    hu["per_capita_income"] = pci.to_numpy(dtype="float64", na_value=np.nan)
    thr = pd.to_numeric(_col(hh, "poverty_threshold"), errors="coerce").to_numpy(dtype="float64",
                                                                                   na_value=np.nan)
    pc = hu["per_capita_income"].to_numpy()
    below = pd.array(pc < thr, dtype="boolean")
    below[np.isnan(pc) | np.isnan(thr)] = pd.NA
    hu["below_poverty"] = below

    # Person units: person columns, derived columns, then household columns by position.
    pu = pp.copy()
    pu["is_of"] = pd.array(is_of, dtype="boolean")
    pu["is_ofw"] = pd.array(is_ofw, dtype="boolean")
    if not has_of_col:
        pu["is_of"] = pd.array([pd.NA] * len(pp), dtype="boolean")
        pu["is_ofw"] = pd.array([pd.NA] * len(pp), dtype="boolean")
    else:
        miss = pd.isna(ofs)
        pu.loc[miss, "is_of"] = pd.NA
        pu.loc[miss, "is_ofw"] = pd.NA
    pu["migratory_status"] = _migratory_status(pp, is_of, is_ofw)
    if "age" in pp.columns:
        pu["age_group"] = age_group(pp["age"], age_scheme).values
    pu["parent_abroad"] = _parent_abroad(pp, hpos, is_of) if has_of_col else np.nan
    ref = _reference_date(getattr(dataset, "provenance", {}) or {})
    dy = pd.to_numeric(_col(pp, "departure_year"), errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    dm = pd.to_numeric(_col(pp, "departure_month"), errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    pu["months_since_departure"] = ((ref.year - dy) * 12 + (ref.month - dm)) if ref else np.nan
    pu["origin_5y"] = _origin_5y(pp)
    take = np.where(ok, hpos, 0)
    for c in hu.columns:
        if c == "hh_id" or (c in pu.columns and c != "weight"):
            continue
        if c == "weight" and "weight" in pp.columns and pp["weight"].notna().any():
            continue
        vals = hu[c].iloc[take].reset_index(drop=True)
        if not ok.all():
            vals = vals.where(pd.Series(ok), other=pd.NA if not isinstance(vals.dtype, pd.CategoricalDtype)
                              else np.nan)
        pu[c] = vals.values
    return {"person": pu, "household": hu}


def columns_present(dataset: Any) -> dict[str, set[str]]:
    """Columns with at least one non-missing value, per unit (``person`` / ``household``)."""
    hh, pp = dataset.households, dataset.persons
    hcols = {c for c in hh.columns if hh[c].notna().any()}
    pcols = {c for c in pp.columns if pp[c].notna().any()}
    prov = getattr(dataset, "provenance", {}) or {}
    extra = {"@reference_date"} if _reference_date(prov) else set()
    return {"person": pcols | hcols | extra, "household": hcols | pcols | extra}
