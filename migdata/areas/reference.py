"""The shipped PSGC reference and lookups on it: names, search, children, a text description.

The reference is a compact Parquet table built from the PSA publication by
:mod:`migdata.areas.build` (``psgc_2025_07.parquet``, whole country). Every function takes an
optional ``ref`` so that data coded in another release can be checked against that release
(see :func:`migdata.areas.crosswalk.read_release`).

Example:
    >>> name("0403400000")
    'Laguna'
    >>> search("binan").iloc[0]["name"]
    'City of Biñan'
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from migdata.errors import UsageError

#: The file shipped in the package and the PSGC release it holds.
REFERENCE_FILE = "psgc_2025_07.parquet"

#: Levels :func:`children` and :func:`search` accept besides the reference levels.
LEVEL_ALIASES = {"city_mun": ("city", "municipality"), "cities": ("city",),
                 "municipalities": ("municipality",), "barangays": ("barangay",),
                 "provinces": ("province",), "regions": ("region",)}


@lru_cache(maxsize=1)
def _shipped() -> pd.DataFrame:
    import pyarrow.parquet as pq

    src = resources.files("migdata.areas").joinpath(REFERENCE_FILE)
    with resources.as_file(src) as path:
        table = pq.read_table(path)
    meta = table.schema.metadata or {}
    df = table.to_pandas()
    df.attrs["release"] = meta.get(b"migdata.psgc_release", b"2025-07").decode()
    df.attrs["source"] = meta.get(b"migdata.psgc_source", b"").decode()
    return df


def reference() -> pd.DataFrame:
    """The PSGC reference table shipped with migdata (a copy; the file is read once).

    Columns: ``psgc`` (10-digit), ``name``, ``level`` (region, province, special, city,
    municipality, submunicipality, barangay), ``parent`` (administrative parent),
    ``correspondence_code`` (9-digit), ``urban_rural`` (urban/rural/NA, 2020 CPH),
    ``population_2020``, ``city_class`` (HUC/ICC/CC), ``income_class``, ``region``,
    ``province`` (unit at the province position), ``city_mun``, ``stat_province``
    (geographic province used in PSA statistical tables), ``ppmm``, ``old_name``, ``status``
    (Pob./Capital), ``note`` (PSA footnote). ``attrs["release"]`` is the release (``2025-07``).

    Example:
        >>> ref = reference()
        >>> int(ref.query("region == '0400000000' and level == 'barangay'").shape[0])
        3993
    """
    df = _shipped().copy()
    df.attrs = dict(_shipped().attrs)
    return df


def release(ref: pd.DataFrame | None = None) -> str:
    """The PSGC release of ``ref`` (default: the shipped one), e.g. ``"2025-07"``."""
    return (ref if ref is not None else _shipped()).attrs.get("release", "?")


def fold(text: Any) -> str:
    """Text for matching: accents removed, case folded, punctuation as spaces (``Biñan`` -> ``binan``)."""
    t = unicodedata.normalize("NFKD", str(text))
    t = "".join(ch for ch in t if not unicodedata.combining(ch)).casefold()
    return re.sub(r"[^0-9a-z]+", " ", t).strip()


class Index:
    """Lookups built once per reference table: by code, correspondence code, PPMM, name."""

    def __init__(self, ref: pd.DataFrame) -> None:
        self.ref = ref
        self.release = release(ref)
        #: :func:`migdata.areas.codes.read_code`'s readings of text values already read against
        #: this table (a streaming import reads the same few thousand codes in every chunk)
        self.readings: dict[str, Any] = {}
        codes = ref["psgc"].astype(str).to_numpy()
        self.pos = pd.Series(np.arange(len(ref)), index=codes)
        self.codes = frozenset(codes)
        corr = ref["correspondence_code"]
        has = corr.notna().to_numpy()
        c9 = pd.Series(codes[has], index=corr[has].astype(str).to_numpy())
        self.by_corr = c9[~c9.index.duplicated(keep=False)]
        pp = ref["ppmm"]
        has = pp.notna().to_numpy()
        pm = pd.Series(codes[has], index=pp[has].astype(str).to_numpy())
        self.by_ppmm = pm[~pm.index.duplicated(keep=False)]
        # PP99: the unit at the province position whose correspondence code is RRPP00000,
        # a province where there is one (Manila, with no province around it, stands for itself).
        lvl = ref["level"].astype(str).to_numpy()
        top = (corr.notna() & corr.astype("string").str[4:].eq("00000")
               & pd.Series(lvl).isin(["province", "city", "special"]).to_numpy()).to_numpy(bool)
        order = np.argsort(pd.Series(lvl[top]).map({"province": 0, "city": 1, "special": 2}).to_numpy(),
                           kind="stable")
        pp_codes = corr[top].astype(str).str[2:4].to_numpy()[order]
        self.by_pp = pd.Series(codes[top][order], index=pp_codes)
        self.by_pp = self.by_pp[~self.by_pp.index.duplicated(keep="first")]
        self.digits10 = np.frombuffer("".join(codes).encode(), dtype=np.uint8).reshape(-1, 10)
        self._folded: pd.Series | None = None

    def row(self, code: str) -> pd.Series | None:
        i = self.pos.get(code)
        return None if i is None else self.ref.iloc[int(i)]

    def name(self, code: str) -> str:
        r = self.row(code)
        return "?" if r is None else str(r["name"])

    def label(self, code: str) -> str:
        r = self.row(code)
        return f"{code} (not in the reference)" if r is None else f"{code} {r['name']} ({r['level']})"

    def folded(self) -> pd.Series:
        if self._folded is None:
            names = self.ref["name"].astype(str).map(fold)
            old = self.ref["old_name"].fillna("").astype(str).map(fold)
            self._folded = names.where(old.eq(""), names + " | " + old)
        return self._folded

    def close(self, digits: str, limit: int = 5) -> list[str]:
        """Reference codes within two digits of ``digits`` (padded or cut to 10), nearest first."""
        d = (digits + "0" * 10)[:10] if len(digits) < 10 else digits[:10]
        # The nearest existing ancestor by the code structure (the city of an unknown
        # barangay code), then codes one or two digits away (typing errors).
        out: list[str] = []
        for cut, pad in ((7, "000"), (5, "00000"), (2, "00000000")):
            cand = d[:cut] + pad
            if cand != d and cand in self.codes:
                out.append(cand)
                break
        probe = np.frombuffer(d.encode(), dtype=np.uint8)
        diff = self.digits10 != probe
        dist = diff.sum(axis=1)
        near = np.flatnonzero(dist <= 2)
        first_diff = np.where(diff[near].any(axis=1), diff[near].argmax(axis=1), 10)
        order = np.lexsort((-first_diff, dist[near]))
        for i in near[order]:
            c = self.ref["psgc"].iat[int(i)]
            if c not in out:
                out.append(c)
            if len(out) >= limit:
                break
        return [self.label(c) for c in out]


@lru_cache(maxsize=1)
def _shipped_index() -> Index:
    return Index(_shipped())


_OTHER: dict[int, tuple[pd.DataFrame, Index]] = {}


def index(ref: pd.DataFrame | None = None) -> Index:
    """The lookup index of ``ref`` (cached for the shipped reference and a few others).

    Other tables are cached by identity (the table is kept alive with its index, so the id
    cannot be reused); do not modify a table after passing it to an areas function.
    """
    if ref is None:
        return _shipped_index()
    hit = _OTHER.get(id(ref))
    if hit is not None and hit[0] is ref:
        return hit[1]
    ix = Index(ref)
    if len(_OTHER) >= 4:
        _OTHER.pop(next(iter(_OTHER)))
    _OTHER[id(ref)] = (ref, ix)
    return ix


def _code(code: Any, ref: pd.DataFrame | None) -> str:
    from migdata.areas.codes import normalize

    return normalize(code, ref=ref)


def lookup(code: Any, ref: pd.DataFrame | None = None) -> pd.Series:
    """The reference row of one area (any accepted code form, see :func:`normalize`).

    Example:
        >>> lookup("0403400000")["level"]
        'province'
    """
    ix = index(ref)
    return ix.row(_code(code, ref))


def name(code: Any, ref: pd.DataFrame | None = None) -> str:
    """The PSA name of one area.

    Example:
        >>> name("0431200000")
        'City of Lucena'
    """
    return str(lookup(code, ref)["name"])


def _levels(level: str | None) -> tuple[str, ...] | None:
    from migdata.areas.structure import PSGC_LEVELS as LEVELS

    if level is None:
        return None
    if level in LEVELS:
        return (level,)
    if level in LEVEL_ALIASES:
        return LEVEL_ALIASES[level]
    raise UsageError("MD208", value=level, choices=", ".join([*LEVELS, "city_mun"]))


def search(text: str, level: str | None = None, ref: pd.DataFrame | None = None) -> pd.DataFrame:
    """Areas whose name (or former name) contains every word of ``text``, accents and case ignored.

    Exact names first, then names starting with the text, then the rest; within each, coarse
    levels first. Columns: ``psgc``, ``name``, ``level``, ``where`` (its city/municipality,
    province and region names), ``population_2020``. Empty when nothing matches.

    Example:
        >>> search("binan", level="city")[["psgc", "name"]].values.tolist()
        [['0403403000', 'City of Biñan']]
    """
    ix = index(ref)
    levels = _levels(level)
    words = fold(text).split()
    if not words:
        return _search_frame(ix, np.array([], dtype=int))
    folded = ix.folded()
    mask = np.ones(len(folded), dtype=bool)
    for w in words:
        mask &= folded.str.contains(rf"\b{re.escape(w)}", regex=True).to_numpy()
    if levels is not None:
        mask &= ix.ref["level"].astype(str).isin(levels).to_numpy()
    hits = np.flatnonzero(mask)
    q = " ".join(words)
    names = folded.iloc[hits].str.split(" | ", regex=False).str[0]
    bare = names.str.replace(r"^(city of|municipality of) ", "", regex=True)
    rank = np.where(names.eq(q) | bare.eq(q), 0, np.where(names.str.startswith(q) | bare.str.startswith(q), 1, 2))
    from migdata.areas.structure import PSGC_LEVELS as LEVELS

    lv = ix.ref["level"].astype(str).iloc[hits].map({k: i for i, k in enumerate(LEVELS)}).to_numpy()
    order = np.lexsort((hits, lv, rank))
    return _search_frame(ix, hits[order])


def _where(ix: Index, r: pd.Series) -> str:
    parts = []
    for col in ("city_mun", "province", "region"):
        c = r[col]
        if pd.notna(c) and c != r["psgc"]:
            n = ix.name(c)
            if n not in parts:
                parts.append(n)
    if pd.notna(r["stat_province"]) and r["stat_province"] not in (r["province"], r["psgc"]) \
            and r["level"] != "barangay":
        parts.insert(0, f"in {ix.name(r['stat_province'])} for statistics")
    return ", ".join(parts)


def _search_frame(ix: Index, rows: np.ndarray) -> pd.DataFrame:
    sub = ix.ref.iloc[rows]
    return pd.DataFrame({
        "psgc": sub["psgc"].to_numpy(),
        "name": sub["name"].to_numpy(),
        "level": sub["level"].astype(str).to_numpy(),
        "where": [_where(ix, r) for _, r in sub.iterrows()],
        "population_2020": sub["population_2020"].to_numpy(),
    })


def search_text(text: str, level: str | None = None, limit: int = 30,
                ref: pd.DataFrame | None = None) -> str:
    """:func:`search` as text for ``migdata areas search NAME``; raises MD210 when nothing matches.

    Example:
        >>> print(search_text("binan", level="city"))  # doctest: +NORMALIZE_WHITESPACE
        0403403000  City of Biñan  city  Laguna, Region IV-A (CALABARZON)
        1 area found.
    """
    hits = search(text, level=level, ref=ref)
    if hits.empty:
        raise UsageError("MD210", value=text, level_text=f" at level {level}" if level else "")
    shown = hits.head(limit)
    w_name = max(len(n) for n in shown["name"])
    w_lvl = max(len(v) for v in shown["level"])
    lines = [f"{r.psgc}  {r.name:<{w_name}}  {r.level:<{w_lvl}}  {r.where}".rstrip()
             for r in shown.itertuples()]
    more = len(hits) - len(shown)
    lines.append(f"{len(hits):,} area{'s' if len(hits) != 1 else ''} found"
                 + (f"; the first {limit} shown (give more of the name, or --level)." if more else "."))
    return "\n".join(lines)


def children(code: Any, level: str | None = None, statistical: bool = False,
             ref: pd.DataFrame | None = None) -> pd.DataFrame:
    """Reference rows of the areas inside ``code``.

    ``level`` None gives the direct children (rows whose administrative parent is ``code``);
    a level (``"barangay"``, ``"city"``, ``"municipality"``, ``"city_mun"``, ...) gives every
    descendant at that level. ``statistical=True`` also counts, for a province, the
    independent cities PSA tabulates with it (Lucena with Quezon).

    Example:
        >>> len(children("0403400000", "city"))
        6
    """
    ix = index(ref)
    c = _code(code, ref)
    r = ix.row(c)
    df = ix.ref
    levels = _levels(level)
    if levels is None:
        return df[df["parent"].eq(c).fillna(False).to_numpy(bool)].copy()
    lvl = str(r["level"])
    if lvl == "region":
        inside = df["region"].eq(c)
    elif lvl in ("province", "special") or (lvl == "city" and c == r["province"]):
        inside = df["stat_province" if statistical else "province"].eq(c)
        if lvl == "province" and statistical:
            inside |= df["province"].eq(c)
    elif lvl in ("city", "municipality"):
        inside = df["city_mun"].eq(c)
    else:
        inside = df["parent"].eq(c)
    inside = inside.fillna(False) & df["psgc"].ne(c) & df["level"].astype(str).isin(levels)
    return df[inside.to_numpy(bool)].copy()


def describe(code: Any, ref: pd.DataFrame | None = None) -> str:
    """A short text about one area, for ``migdata areas show CODE``.

    Example:
        >>> print(describe("0403400000"))  # doctest: +ELLIPSIS
        Laguna (province), PSGC 0403400000
          region: Region IV-A (CALABARZON), 0400000000
        ...
    """
    ix = index(ref)
    c = _code(code, ref)
    r = ix.row(c)
    lvl = str(r["level"])
    lines = [f"{r['name']} ({lvl}{', ' + r['city_class'] if pd.notna(r['city_class']) else ''}), PSGC {c}"]
    if lvl != "region":
        lines.append(f"  region: {ix.name(r['region'])}, {r['region']}")
    if pd.notna(r["province"]) and r["province"] != c and lvl != "province":
        lines.append(f"  province: {ix.name(r['province'])}, {r['province']}")
    if pd.notna(r["stat_province"]) and r["stat_province"] not in (r["province"], c):
        lines.append(f"  shown with {ix.name(r['stat_province'])} ({r['stat_province']}) in PSA statistical tables")
    if lvl in ("municipality", "submunicipality") or (lvl == "city" and r["province"] != c):
        if pd.notna(r["city_mun"]) and r["city_mun"] != c:
            lines.append(f"  city: {ix.name(r['city_mun'])}, {r['city_mun']}")
    if lvl == "barangay":
        lines.append(f"  city/municipality: {ix.name(r['city_mun'])}, {r['city_mun']}")
    corr = r["correspondence_code"]
    if pd.notna(corr):
        extra = f" (PPMM {r['ppmm']})" if pd.notna(r["ppmm"]) else (
            f" (PPMM {corr[2:4]}99 = province known)" if lvl == "province" else "")
        lines.append(f"  correspondence code: {corr}{extra}")
    if lvl != "barangay":
        counts = []
        for lv, one, many in (("province", "province", "provinces"), ("city", "city", "cities"),
                              ("municipality", "municipality", "municipalities"),
                              ("submunicipality", "sub-municipality", "sub-municipalities"),
                              ("barangay", "barangay", "barangays")):
            n = len(children(c, lv, ref=ref))
            if n:
                counts.append(f"{n:,} {one if n == 1 else many}")
        if counts:
            lines.append("  contains: " + ", ".join(counts))
        if lvl == "province":
            extra = children(c, "city", statistical=True, ref=ref)
            extra = extra[extra["province"].ne(c)]
            for e in extra.itertuples():
                lines.append(f"  PSA statistical tables also include {e.name} ({e.city_class}, {e.psgc})")
    for col, label in (("income_class", "income class"), ("status", "status")):
        if pd.notna(r[col]):
            lines.append(f"  {label}: {r[col]}")
    if pd.notna(r["urban_rural"]):
        lines.append(f"  urban/rural (2020 CPH): {r['urban_rural']}")
    if pd.notna(r["population_2020"]):
        lines.append(f"  population (2020 CPH): {int(r['population_2020']):,}")
    if pd.notna(r["note"]) and str(r["note"]).startswith("("):
        lines.append(f"  PSA note: {r['note']}")
    if pd.notna(r["old_name"]):
        lines.append(f"  former name: {r['old_name']}")
    lines.append(f"  PSGC release: {ix.release} (Philippine Statistics Authority)")
    return "\n".join(lines)
