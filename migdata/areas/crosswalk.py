"""PSGC releases: read an older release, and cross-walk its codes to a newer one.

:func:`read_release` reads either a PSA publication workbook (sheet ``PSGC``) or the wide
barangay list PSA's CBMS processing used (one row per barangay with region, province and
city/municipality columns, c. 2022) into the same table as :func:`migdata.areas.reference`.

:func:`crosswalk` pairs the units of two releases. A pair is made only when it is
one-to-one: the same 10-digit code, or (when the code changed, e.g. Negros Occidental
moving from region 06 to the Negros Island Region 18) the same 9-digit correspondence code.
Codes that vanished or appeared are grouped by their (new) parent and labelled by what the
counts show (``merged``, ``split``, ``abolished``, ``new``, ``unmapped``) but are NEVER
mapped: the PSGC publication does not say which old barangay went into which new one.

Hand-written: no library knows PSGC releases; the logic is a few joins.

Example:
    >>> old = read_release("rcbms-app_psgc_barangay_wide.xlsx")      # doctest: +SKIP
    >>> cw = crosswalk(old, reference())                              # doctest: +SKIP
    >>> cw.set_index("old_code").loc["0401007000", "change"]          # doctest: +SKIP
    'reclassified'
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from migdata.areas.build import _population, _text, clean_code, finish, read_publication, release_label
from migdata.areas.reference import fold
from migdata.errors import DataError

#: Values of the ``change`` column.
CHANGES = ("same", "renamed", "reclassified", "recoded", "boundary_changed", "merged", "split",
           "new", "abolished", "unmapped")

_WIDE = {"region": "region", "reg code": "reg_code", "province": "province",
         "prov code": "prov_code", "city/municipality": "mun", "mun code": "mun_code",
         "name": "name", "10-digit psgc": "psgc", "correspondence code": "corr",
         "city class": "city_class", "income classification": "income_class",
         "urban / rural": "urban_rural", "2020 population": "population_2020"}
_CITY_CLASSES = {"HUC", "ICC", "CC"}
_POB = re.compile(r"\s*\(Pob\.?\)\s*$", re.I)


def _key(h: Any) -> str:
    return re.sub(r"\s+", " ", str(h or "")).strip().lower()


def read_release(path: str | Path, release: str | None = None) -> pd.DataFrame:
    """A PSGC release file as a reference table (same columns as :func:`reference`).

    Accepts the PSA publication workbook or the wide barangay list (``10-digit PSGC``,
    ``Reg Code``, ``Prov Code``, ``Mun Code`` ... columns). In the wide list only barangays
    carry populations and correspondence codes; those of larger units are derived from
    their barangays (sums; the first 6 or 4 digits followed by zeros).

    Example:
        >>> old = read_release("rcbms-app_psgc_barangay_wide.xlsx")   # doctest: +SKIP
        >>> int((old.region.eq("0400000000") & old.level.eq("barangay")).sum())  # doctest: +SKIP
        4019
    """
    import openpyxl

    path = Path(path)
    if not path.exists():
        raise DataError("MD001", path=str(path))
    release = release or release_label(path)
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise DataError("MD206", file=str(path), problem=f"cannot be opened as an .xlsx workbook ({exc})")
    try:
        if "PSGC" in wb.sheetnames:
            wb.close()
            return finish(read_publication(path), release, source=str(path))
        for ws in wb.worksheets:
            rows = ws.iter_rows(values_only=True)
            header = next(rows, None) or ()
            keys = [_key(h) for h in header]
            cols = {}
            for i, k in enumerate(keys):
                for prefix, col in _WIDE.items():
                    if k == prefix or k.startswith(prefix + " ") or k.startswith(prefix + "("):
                        cols.setdefault(col, i)
            if {"psgc", "mun_code", "reg_code", "name"} <= cols.keys():
                return _read_wide(rows, cols, path, ws.title, release)
    finally:
        wb.close()
    raise DataError("MD206", file=str(path),
                    problem="no sheet 'PSGC' and no sheet with '10-digit PSGC', 'Reg Code' and 'Mun Code' columns")


def _read_wide(rows: Any, cols: dict[str, int], path: Path, sheet: str, release: str) -> pd.DataFrame:
    recs = []
    for rowno, row in enumerate(rows, start=2):
        if row is None or all(v is None for v in row):
            continue
        get = {c: (row[i] if i < len(row) else None) for c, i in cols.items()}
        try:
            rec = {"_source_row": rowno,
                   "psgc": clean_code(get.get("psgc"), 10),
                   "correspondence_code": clean_code(get.get("corr"), 9),
                   "reg_code": clean_code(get.get("reg_code"), 10),
                   "mun_code": clean_code(get.get("mun_code"), 10)}
            prov = get.get("prov_code")
            # NCR rows carry a 9-digit district code here (an int such as 137500000), not a province.
            rec["prov_code"] = clean_code(prov, 10) if prov is not None and len(str(prov).strip()) == 10 else None
            rec["population_2020"] = _population(get.get("population_2020"))
        except ValueError as exc:
            raise DataError("MD207", file=str(path), sheet=sheet, row=rowno, column="code",
                            value=get.get("psgc"), problem=str(exc))
        if rec["psgc"] is None:
            raise DataError("MD207", file=str(path), sheet=sheet, row=rowno, column="10-digit PSGC",
                            value=None, problem="the code is empty")
        for c in ("name", "region", "province", "mun", "city_class", "income_class"):
            rec[c] = _text(get.get(c))
        ur = _text(get.get("urban_rural"))
        rec["urban_rural"] = {"U": "urban", "R": "rural"}.get(ur or "")
        # The wide list writes the poblacion mark into the name ("Adams (Pob.)"); the PSA
        # publication keeps it in a Status column. Use the publication's layout.
        if rec["name"] and _POB.search(rec["name"]):
            rec["name"] = _POB.sub("", rec["name"]).strip()
            rec["status"] = "Pob."
        recs.append(rec)
    b = pd.DataFrame.from_records(recs)
    b["prov_of"] = b["psgc"].str[:5] + "00000"
    units: list[dict[str, Any]] = []
    for code, g in b.groupby("reg_code", sort=False):
        units.append({"psgc": code, "name": g["region"].iloc[0], "level": "region",
                      "population_2020": g["population_2020"].sum(min_count=1)})
    # The province of a barangay is read from its own code; the Prov Code column only confirms
    # it and gives the name. (The column cannot be trusted alone: for the 63 BARMM barangays
    # it was filled down as a series, 1999900000, 1999900001, ...)
    confirmed = b[b["prov_code"].eq(b["prov_of"]).fillna(False)]
    prov_names = confirmed.groupby("prov_code", sort=False)["province"].first()
    mine = b[b["prov_of"].isin(prov_names.index)]
    prov_corr = _mode(mine["prov_of"], mine["correspondence_code"].str[:4] + "00000")
    prov_pop = mine.groupby("prov_of")["population_2020"].sum(min_count=1)
    for code, nm in prov_names.items():
        units.append({"psgc": code, "name": nm,
                      "level": "special" if re.search(r"not a province|interim", nm, re.I) else "province",
                      "correspondence_code": prov_corr.get(code),
                      "population_2020": prov_pop.get(code)})
    g = b.groupby("mun_code", sort=False)
    mun = g.agg(name=("mun", "first"), city_class=("city_class", "first"),
                income_class=("income_class", "first"), province=("province", "first"))
    mun["population_2020"] = g["population_2020"].sum(min_count=1)
    mun_corr = _mode(b["mun_code"], b["correspondence_code"].str[:6] + "000")
    for code, r in mun.iterrows():
        nm = str(r["name"])
        status = "Capital" if "(capital)" in nm.lower() else None
        nm = re.sub(r"\s*\(capital\)\s*", " ", nm, flags=re.I).strip()
        cc = r["city_class"] if isinstance(r["city_class"], str) else None
        level = ("submunicipality" if code[5:7] != "00" and "city of manila" in str(r["province"]).lower()
                 else "city" if cc in _CITY_CLASSES else "municipality")
        units.append({"psgc": code, "name": nm, "level": level, "city_class": cc,
                      "income_class": r["income_class"] if isinstance(r["income_class"], str) else None,
                      "status": status, "correspondence_code": mun_corr.get(code),
                      "population_2020": r["population_2020"]})
    have = {u["psgc"] for u in units}
    # Manila's sub-municipalities hang from the City of Manila, which the wide list names only
    # inside its province column ("NCR, City of Manila, First District (Not a Province)").
    for u in list(units):
        if u["level"] == "submunicipality":
            top = u["psgc"][:5] + "00000"
            if top not in have:
                g = b[b["mun_code"].str[:5].eq(u["psgc"][:5])]
                m = re.search(r"(City of [^,()]+)", str(g["province"].iloc[0]))
                units.append({"psgc": top, "name": m.group(1).strip() if m else str(g["province"].iloc[0]),
                              "level": "city", "city_class": "HUC",
                              "correspondence_code": _common(g["correspondence_code"].str[:4] + "00000"),
                              "population_2020": g["population_2020"].sum(min_count=1)})
                have.add(top)
    if "status" not in b:
        b["status"] = None
    bg = b.assign(level="barangay")[["psgc", "name", "level", "correspondence_code", "urban_rural",
                                     "population_2020", "status", "_source_row"]]
    df = pd.concat([pd.DataFrame.from_records(units), bg], ignore_index=True)
    dup = df["psgc"].duplicated()
    if dup.any():
        r = df[dup].iloc[0]
        raise DataError("MD207", file=str(path), sheet=sheet, row=r.get("_source_row"),
                        column="10-digit PSGC", value=r["psgc"], problem="this code appears twice")
    return finish(df, release, source=str(path))


def _common(s: pd.Series) -> str | None:
    s = s.dropna()
    return None if s.empty else Counter(s).most_common(1)[0][0]


def _mode(keys: pd.Series, values: pd.Series) -> dict[str, str]:
    """The most frequent non-missing value per key."""
    df = pd.DataFrame({"k": keys.to_numpy(), "v": values.to_numpy()}).dropna()
    n = df.groupby(["k", "v"]).size().sort_values(ascending=False, kind="stable").reset_index()
    n = n.drop_duplicates("k")
    return dict(zip(n["k"], n["v"]))


def crosswalk(old_reference: pd.DataFrame, new_reference: pd.DataFrame) -> pd.DataFrame:
    """Old codes to new codes between two releases, mapped only where the change is one-to-one.

    Columns: ``old_code``, ``old_name``, ``old_level``, ``new_code``, ``new_name``,
    ``new_level``, ``change`` (one of :data:`CHANGES`), ``note`` (what changed; for unmapped
    rows, the codes on the other side of the group, for a person to decide).

    - ``same``, ``renamed``, ``reclassified`` (e.g. municipality -> city), ``recoded`` (new
      10-digit code, same correspondence code, e.g. a province moved to a new region) and
      ``boundary_changed`` (same code, but some of its units moved to or from another) carry
      both codes;
    - ``merged``/``split``/``unmapped`` (codes that vanished while others appeared under the
      same parent: more vanished, more appeared, or as many), ``abolished`` (vanished, nothing
      new under the parent) and ``new`` have only one side.

    Example:
        >>> cw = crosswalk(old, reference())                              # doctest: +SKIP
        >>> cw.query("old_code == '0402104000'")["change"].item()         # doctest: +SKIP
        'reclassified'
    """
    O = _side(old_reference)
    N = _side(new_reference)
    same = O.index.intersection(N.index)
    # Correspondence-code matches for codes that are gone, onto codes that are new, when the
    # correspondence code is unique on both sides and the kind (barangay or not) agrees.
    gone = O.loc[O.index.difference(N.index)].dropna(subset=["corr"])
    fresh = N.loc[N.index.difference(O.index)].dropna(subset=["corr"])
    gone = gone[~gone["corr"].duplicated(keep=False)]
    fresh = fresh[~fresh["corr"].duplicated(keep=False)]
    by_corr = (gone.reset_index().rename(columns={"psgc": "oc"})
               .merge(fresh.reset_index().rename(columns={"psgc": "nc"}), on="corr", suffixes=("_o", "_n")))
    by_corr = by_corr[(by_corr["level_o"] == "barangay") == (by_corr["level_n"] == "barangay")]
    pairs = pd.DataFrame({"oc": np.concatenate([same.to_numpy(), by_corr["oc"].to_numpy()]),
                          "nc": np.concatenate([same.to_numpy(), by_corr["nc"].to_numpy()])})
    pairs["op"] = O["parent"].reindex(pairs["oc"]).to_numpy()
    pairs["np"] = N["parent"].reindex(pairs["nc"]).to_numpy()

    # Territory: a unit whose paired children now sit under several new parents (moved_out),
    # or a new unit whose children come from several old parents (moved_in).
    edges = pairs[["op", "np"]].dropna().drop_duplicates()
    out_m = pairs[["oc", "nc"]].merge(edges, left_on="oc", right_on="op")
    out_m = out_m[out_m["np"] != out_m["nc"]]
    moved_out = out_m.groupby("oc")["np"].agg(lambda x: ", ".join(sorted(x)))
    in_m = pairs[["oc", "nc"]].merge(edges, left_on="nc", right_on="np")
    in_m = in_m[in_m["op"] != in_m["oc"]]
    moved_in = in_m.groupby("nc")["op"].agg(lambda x: ", ".join(sorted(x)))
    pairs["moved_out"] = pairs["oc"].map(moved_out)
    pairs["moved_in"] = pairs["nc"].map(moved_in)
    recoded = pairs["oc"] != pairs["nc"]
    # A recoded unit whose territory also changed is not one-to-one: unpair it.
    broken = recoded & (pairs["moved_out"].notna() | pairs["moved_in"].notna())
    pairs = pairs[~broken].reset_index(drop=True)
    recoded = pairs["oc"] != pairs["nc"]

    o = O.reindex(pairs["oc"])
    n = N.reindex(pairs["nc"])
    ol, nl = o["level"].to_numpy(), n["level"].to_numpy()
    renamed = np.array([fold(a) != fold(b) for a, b in zip(o["name"], n["name"])], dtype=bool)
    territory = (pairs["moved_out"].notna() | pairs["moved_in"].notna()).to_numpy()
    change = np.select([ol != nl, recoded.to_numpy(), territory, renamed],
                       ["reclassified", "recoded", "boundary_changed", "renamed"], "same")
    o2n = dict(zip(pairs["oc"], pairs["nc"]))
    notes = []
    for i, (oc, nc, corr, op, np_, oname, nname, mo, mi) in enumerate(zip(
            pairs["oc"], pairs["nc"], o["corr"], pairs["op"], pairs["np"], o["name"], n["name"],
            pairs["moved_out"], pairs["moved_in"])):
        parts = []
        if ol[i] != nl[i]:
            parts.append(f"{ol[i]} -> {nl[i]}")
        if oc != nc:
            parts.append(f"code {oc} -> {nc} (same correspondence code {corr})")
            if isinstance(op, str) and o2n.get(op) != np_:
                parts.append(f"parent {op} -> {np_}")
        if renamed[i]:
            parts.append(f"name {oname!r} -> {nname!r}")
        if isinstance(mo, str):
            parts.append("some of its units are now under " + mo)
        if isinstance(mi, str):
            parts.append("it received units from " + mi)
        notes.append("; ".join(parts))
    matched = pd.DataFrame({"old_code": pairs["oc"], "old_name": o["name"].to_numpy(), "old_level": ol,
                            "new_code": pairs["nc"], "new_name": n["name"].to_numpy(), "new_level": nl,
                            "change": change, "note": notes})

    # Codes left on either side, grouped by their parent in the new release.
    lost = O.loc[~O.index.isin(pairs["oc"])].copy()
    born = N.loc[~N.index.isin(pairs["nc"])].copy()
    lost["key"] = [o2n.get(p, p) if isinstance(p, str) else "-" for p in lost["parent"]]
    born["key"] = born["parent"].fillna("-")
    lost["bgy"] = lost["level"].eq("barangay")
    born["bgy"] = born["level"].eq("barangay")
    # plain dicts: the loop below looks groups up once per unmatched unit (tens of thousands
    # when one side is a partial release), and a MultiIndex lookup costs ~50 µs each
    k_old = lost.groupby(["key", "bgy"]).size().to_dict()
    k_new = born.groupby(["key", "bgy"]).size().to_dict()
    codes_old = lost.reset_index().groupby(["key", "bgy"])["psgc"].agg(lambda x: " ".join(sorted(x))).to_dict()
    codes_new = born.reset_index().groupby(["key", "bgy"])["psgc"].agg(lambda x: " ".join(sorted(x))).to_dict()

    def label(ko: int, kn: int) -> str:
        if kn == 0:
            return "abolished"
        if ko == 0:
            return "new"
        return "merged" if ko > kn else "split" if ko < kn else "unmapped"

    rest = []
    for side, df in (("old", lost), ("new", born)):
        # object arrays: iterating pandas' Arrow-backed strings row by row is ~10x slower
        cols = [df.index.to_numpy(dtype=object)] + [df[c].to_numpy(dtype=object)
                                                    for c in ("key", "bgy", "name", "level")]
        for code, key, bgy, name, level in zip(*cols):
            g = (key, bool(bgy))
            ko, kn = int(k_old.get(g, 0)), int(k_new.get(g, 0))
            where = "" if key == "-" else f" under {key}"
            if ko and kn:
                other = codes_new[g] if side == "old" else codes_old[g]
                note = (f"{ko} old and {kn} new codes{where}; not one-to-one, so not mapped; "
                        f"{'new' if side == 'old' else 'old'} codes: {other}")
            else:
                note = f"no {'new' if side == 'old' else 'old'} code{where}"
            rest.append({"old_code": code if side == "old" else None,
                         "old_name": name if side == "old" else None,
                         "old_level": level if side == "old" else None,
                         "new_code": code if side == "new" else None,
                         "new_name": name if side == "new" else None,
                         "new_level": level if side == "new" else None,
                         "change": label(ko, kn), "note": note})
    out = pd.concat([matched, pd.DataFrame(rest, columns=matched.columns)], ignore_index=True)
    out = out.astype({c: "string" for c in out.columns if c != "change"})
    out["change"] = pd.Categorical(out["change"], categories=list(CHANGES))
    out = out.sort_values(["old_code", "new_code"], na_position="last", kind="stable")
    out.attrs["old_release"] = old_reference.attrs.get("release", "?")
    out.attrs["new_release"] = new_reference.attrs.get("release", "?")
    return out.reset_index(drop=True)


def _side(ref: pd.DataFrame) -> pd.DataFrame:
    d = pd.DataFrame({"name": ref["name"].astype(str).to_numpy(),
                      "level": ref["level"].astype(str).to_numpy(),
                      "parent": ref["parent"].astype(object).where(ref["parent"].notna(), None).to_numpy(),
                      "corr": ref["correspondence_code"].astype(object)
                      .where(ref["correspondence_code"].notna(), None).to_numpy()},
                     index=pd.Index(ref["psgc"].astype(str).to_numpy(), name="psgc"))
    return d


#: Changes whose pairs carry both codes (and so can translate data).
MAPPED = ("same", "renamed", "reclassified", "recoded", "boundary_changed")


def translate(codes: Any, cw: pd.DataFrame, *, errors: str = "raise", report: Any = None,
              table: str = "", column: str | None = None, source_file: str | None = None,
              source_rows: Any = None) -> pd.Series:
    """Codes of the old release of ``cw`` (from :func:`crosswalk`) as codes of the new one.

    Only one-to-one changes translate (``same``, ``renamed``, ``reclassified``, ``recoded``,
    ``boundary_changed``). A code that was merged, split, abolished or left unmapped raises
    MD211 (``errors="raise"``) or becomes NA and is reported once per distinct value
    (``errors="report"``, action ``set_missing``); so does a code the old release does not
    have (MD212). Missing values stay missing.

    Example:
        >>> translate(["0604500000"], crosswalk(old, reference())).tolist()   # doctest: +SKIP
        ['1804500000']
    """
    from migdata.areas.codes import _where
    from migdata.errors import UsageError

    if errors not in ("raise", "report"):
        raise UsageError("MD004", what="errors", value=errors, choices="raise, report")
    if errors == "report" and report is None:
        raise UsageError("MD004", what="report", value=None, choices="an ImportReport when errors='report'")
    s = codes if isinstance(codes, pd.Series) else pd.Series(list(codes), dtype=object)
    fcodes, uniques = pd.factorize(s, use_na_sentinel=True)
    known = cw.dropna(subset=["old_code"]).set_index("old_code")
    rows = None if source_rows is None else np.asarray(pd.Series(source_rows).to_numpy())
    releases = {"old_release": cw.attrs.get("old_release", "?"),
                "new_release": cw.attrs.get("new_release", "?")}
    out_u = np.empty(len(uniques), dtype=object)
    for k, v in enumerate(uniques):
        v = str(v)
        if v in known.index and known.at[v, "change"] in MAPPED:
            out_u[k] = known.at[v, "new_code"]
            continue
        out_u[k] = pd.NA
        pos = int(np.flatnonzero(fcodes == k)[0])
        n = int((fcodes == k).sum())
        row = int(rows[pos]) if rows is not None else None
        where = _where(source_file, row, column, n)
        if v in known.index:
            code = "MD211"
            fields = dict(name=known.at[v, "old_name"], change=known.at[v, "change"],
                          note=known.at[v, "note"], **releases)
        else:
            code, fields = "MD212", dict(releases)
        if errors == "raise":
            raise DataError(code, value=v, where=where, file=source_file, row=row, column=column, **fields)
        report.add(code, table=table, source_file=source_file, source_row=row, column=column,
                   value=v, action="set_missing", where=where, n=n, **fields)
    result = pd.array(out_u, dtype="string").take(fcodes, allow_fill=True)
    return pd.Series(result, index=s.index, name=s.name if isinstance(codes, pd.Series) else None)
