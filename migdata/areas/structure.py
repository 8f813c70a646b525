"""The PSGC code structure: parents and roll-up codes derived from the code itself.

A 10-digit PSGC is ``RR PPP MM BBB`` (region, province or highly urbanised city, city or
municipality, barangay); the 9-digit correspondence code of the older releases is
``RR PP MM BBB``. Everything here works on the digits, never on names, so that a release
with renamed areas rolls up the same way. The only facts taken from the table are the
*levels* PSA assigns (a unit at the province position may be a province or a highly
urbanised city) and the correspondence codes (which tell the geographic province of a
highly urbanised city: Lucena ``0431200000`` has correspondence ``045624000``, inside
Quezon ``045600000``).

Hand-written because no library knows the PSGC layout; it is a few vectorised string slices.

Example:
    >>> import pandas as pd
    >>> position(pd.Series(["0400000000", "0403400000", "0403405000", "0403405012", "0431200001"])).tolist()
    ['region', 'province', 'city_mun', 'barangay', 'barangay']
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Levels a unit can have in the reference, coarse to fine. ``special`` holds the two PSA
#: rows at the province position that are not provinces (City of Isabela "(Not a
#: Province)" and the BARMM Special Geographic Area).
PSGC_LEVELS = ("region", "province", "special", "city", "municipality", "submunicipality", "barangay")

#: PSA's "Geographic Level" values and the reference's level names.
PSA_LEVELS = {"Reg": "region", "Prov": "province", "City": "city", "Mun": "municipality",
              "SubMun": "submunicipality", "Bgy": "barangay"}

#: Which code positions each level may occupy (a highly urbanised city sits at the province
#: position; Manila's sub-municipalities at the city/municipality position).
ALLOWED_POSITIONS = {
    "region": {"region"},
    "province": {"province"},
    "special": {"province"},
    "city": {"province", "city_mun"},
    "municipality": {"city_mun"},
    "submunicipality": {"city_mun"},
    "barangay": {"barangay"},
}


def position(codes: pd.Series) -> pd.Series:
    """The structural position of each 10-digit code: region, province, city_mun or barangay."""
    c = codes.astype("string")
    # From the finest field up: Caloocan's barangay 1380100001 has MM = 00 but BBB = 001.
    pos = np.select(
        [c.str[7:10].ne("000").to_numpy(bool), c.str[5:7].ne("00").to_numpy(bool),
         c.str[2:5].ne("000").to_numpy(bool)],
        ["barangay", "city_mun", "province"], "region")
    return pd.Series(pos, index=codes.index)


def structural_parent(codes: pd.Series) -> pd.Series:
    """The administrative parent of each 10-digit code, from the digits alone (NA for regions)."""
    c = codes.astype("string")
    pos = position(c)
    out = pd.Series(pd.NA, index=c.index, dtype="string")
    out[pos.eq("province")] = c.str[:2] + "00000000"
    out[pos.eq("city_mun")] = c.str[:5] + "00000"
    out[pos.eq("barangay")] = c.str[:7] + "000"
    return out[pos.ne("region")].reindex(c.index).astype("string")


def derive(units: pd.DataFrame) -> pd.DataFrame:
    """Add the hierarchy columns to a table of units.

    ``units`` needs ``psgc`` (10-digit strings, unique), ``level`` (one of :data:`PSGC_LEVELS`) and
    ``correspondence_code`` (9-digit or NA). Added: ``parent`` (administrative parent),
    ``region``, ``province`` (the unit at the province position: a province, a highly
    urbanised city or a special area; NA for Pateros, which has none), ``city_mun`` (the city or municipality; Manila's
    sub-municipalities roll up to the City of Manila), ``stat_province`` (geographic province
    as PSA shows it in statistical tables; independent cities outside any province, as in
    NCR, stand for themselves) and ``ppmm`` (old 2-digit province + 2-digit city/municipality
    code, for cities, municipalities and sub-municipalities).
    """
    df = units.copy()
    c = df["psgc"].astype("string")
    pos = position(c)
    known = set(c.dropna())
    parent = structural_parent(c)
    # A unit whose province-position parent does not exist (Pateros, the one municipality of
    # NCR, 1381701000) hangs from its region.
    lost = parent.notna() & ~parent.isin(known) & pos.eq("city_mun")
    parent[lost] = c[lost].str[:2] + "00000000"
    df["parent"] = parent
    df["region"] = (c.str[:2] + "00000000").astype("string")
    prov = (c.str[:5] + "00000").where(pos.ne("region"))
    df["province"] = prov.where(prov.isin(known)).astype("string")

    level_of = pd.Series(df["level"].astype(str).to_numpy(), index=c.to_numpy())
    parent_of = pd.Series(df["parent"].to_numpy(), index=c.to_numpy())
    lvl = df["level"].astype(str)
    city_mun = pd.Series(pd.NA, index=df.index, dtype="string")
    own = lvl.isin(["city", "municipality"])
    city_mun[own] = c[own]
    sub = lvl.eq("submunicipality")
    city_mun[sub] = df.loc[sub, "parent"]
    bgy = lvl.eq("barangay")
    p = df.loc[bgy, "parent"]
    plevel = p.map(level_of)
    up = p.where(plevel.isin(["city", "municipality"]))
    up = up.fillna(p.map(parent_of).where(plevel.eq("submunicipality")))
    city_mun[bgy] = up
    df["city_mun"] = city_mun

    # Statistical province: the province-position unit itself when it is a province; for a
    # city or special area there, the province whose correspondence code has the same RRPP.
    corr = df["correspondence_code"].astype("string")
    corr_of = pd.Series(corr.to_numpy(), index=c.to_numpy())
    is_prov = lvl.eq("province")
    prov_by_corr = pd.Series(c[is_prov & corr.notna()].to_numpy(),
                             index=corr[is_prov & corr.notna()].str[:4].to_numpy())
    prov_by_corr = prov_by_corr[~prov_by_corr.index.duplicated(keep=False)]
    P = df["province"]
    geo = P.map(corr_of).str[:4].map(prov_by_corr)
    stat = P.where(P.map(level_of).eq("province"), geo.fillna(P))
    # No unit at the province position (Pateros): the city or municipality stands for itself.
    stat = stat.fillna(df["city_mun"].where(pos.ne("region")))
    df["stat_province"] = stat.astype("string")

    citylike = lvl.isin(["city", "municipality", "submunicipality"]) & corr.notna()
    df["ppmm"] = corr.str[2:6].where(citylike).astype("string")
    return df


def check(df: pd.DataFrame) -> list[tuple[int, str, str]]:
    """Structural problems of a derived table: ``(row index, column, problem)`` triples.

    Checks that each level sits at a code position it may occupy and that every parent exists.
    """
    problems: list[tuple[int, str, str]] = []
    pos = position(df["psgc"])
    for i, (lvl, ps) in enumerate(zip(df["level"].astype(str), pos)):
        if ps not in ALLOWED_POSITIONS.get(lvl, set()):
            problems.append((df.index[i], "psgc",
                             f"a {lvl} cannot have a code at the {ps} position"))
    known = set(df["psgc"])
    orphan = df["parent"].notna() & ~df["parent"].isin(known)
    for i in df.index[orphan]:
        problems.append((i, "psgc", f"its parent {df.at[i, 'parent']} is not in the table"))
    return problems
