"""Area boundaries for maps: the shipped PSGC boundaries, any other GeoJSON or shapefile, and
the matching of their codes to the PSGC reference.

**Shipped** (``migdata/areas/boundaries/``, see its README for the attribution): low-resolution
boundaries of the whole country's regions, provinces and cities/municipalities, and of Region
IV-A's barangays, PSGC as of 31 December 2023 (faeldon/philippines-json-maps, MIT, built from
PSA and UN OCHA data). :func:`shipped` reads them once per process.

**Your own**: :func:`read_boundaries` reads a GeoJSON FeatureCollection or an ESRI shapefile
(``.shp`` with its ``.dbf``/``.shx``, or a ``.zip`` of them). The property holding the PSGC code
is found by name (``psgc``, ``adm4_psgc`` ... ``adm1_psgc``, ``ADM4_PCODE`` ...; the finest
level present) or named with ``code_field``. Codes may be 10 digits, 9 digits that lost the
leading zero, or carry OCHA's ``PH`` prefix. Coordinates are drawn as they are: longitude and
latitude (WGS84, as GeoJSON requires) or any projected system of a shapefile, which is not
reprojected (maps need no reprojection; the aspect is set from the coordinates).

**Matching** (:func:`match`): a boundary file is coded in some PSGC release, the data in the
shipped reference's. The file's areas are turned into a release table and paired with the
reference by :func:`migdata.areas.crosswalk.crosswalk`, which maps only one-to-one changes
(same, renamed, reclassified, recoded, boundary changed). The file carries no correspondence
codes, so those of codes the reference does not know are derived from the code's layout:
``RR0PPMMBBB`` -> ``RRPPMMBBB`` (the 10-digit code inserted one digit into the 9-digit one),
with region 19 (BARMM) written 15, as PSA kept ARMM's correspondence codes. In the shipped
reference the layout rule holds for every one of the 36,533 units at such positions outside
regions IX, XVIII and BARMM (whose units moved since), and the BARMM rule for 1,639 of its
2,284 units. A derived code only pairs units when it is the reference's code of exactly one
unit that the file lacks; the crosswalk decides the rest. That is what pairs Negros Occidental ``0604500000`` (2023) with ``1804500000`` (Negros Island Region, 2024)
and Sulu ``1906600000`` with ``0906600000``.

Nothing is dropped silently: :func:`map_areas` returns every area of the requested level with
its shape or none, and a table of located problems (MD213 boundary area without a single
reference area, MD214 boundary feature without a shape, MD215 area without a boundary, MD218
unreadable code, MD219 repeated code).

Hand-written because the few operations needed (read polygons, look up codes) do not justify
geopandas (GDAL, PROJ and shapely, tens of MB): GeoJSON is JSON and pyshp (pure Python, MIT)
reads shapefiles.

Example:
    >>> layer = map_areas("city", "0403400000")          # Laguna's cities/municipalities
    >>> len(layer.areas), int(layer.areas["geometry"].notna().sum())
    (30, 29)
    >>> layer.problems["code"].tolist()                  # San Pedro has no shape in the file
    ['MD214']
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from migdata.errors import DataError, UsageError, render

#: Folder of the shipped boundaries inside the package and its layers.
SHIPPED_FOLDER = "boundaries"
SHIPPED_LAYERS = ("regions.geojson", "provinces.geojson", "cities.geojson", "barangays_r04.geojson")
SHIPPED_RELEASE = "2023-12"
SHIPPED_SOURCE = "the boundaries shipped with migdata (PSGC as of Dec 2023)"
ATTRIBUTION = ("Boundaries: PSA PSGC and UN OCHA administrative boundaries, via "
               "faeldon/philippines-json-maps (MIT), PSGC as of 31 Dec 2023")

#: Map levels (the table levels of :mod:`migdata.areas.levels` but national) and the reference
#: column naming each barangay's area at that level (a highly urbanised city is an area at the
#: province and the city level, as in the indicator tables).
REFERENCE_COLUMN = {"region": "region", "province": "province", "city": "city_mun", "barangay": "psgc"}
#: Property names holding PSGC codes, finest level first (case is ignored).
CODE_FIELDS = ("psgc", "adm4_psgc", "adm3_psgc", "adm2_psgc", "adm1_psgc", "adm4_pcode",
               "adm3_pcode", "adm2_pcode", "adm1_pcode", "psgc_code", "code", "pcode")
NAME_FIELDS = ("name", "adm4_en", "adm3_en", "adm2_en", "adm1_en", "name_en", "area_name")
_POSITION_LEVEL = {"region": "region", "province": "province", "city_mun": "municipality",
                   "barangay": "barangay"}
_PSA_LEVELS = {"reg": "region", "prov": "province", "dist": "special", "city": "city",
               "mun": "municipality", "submun": "submunicipality", "bgy": "barangay"}

Polygon = list  # list of rings, each an (n, 2) float array; the first ring is the outline


@dataclass
class Boundaries:
    """Features of one or more boundary files.

    ``features`` columns: ``code`` (10-digit PSGC as in the file's release), ``name``,
    ``level``, ``file``, ``feature`` (1-based position in its file), ``field`` (the code's
    property), ``geometry`` (the GeoJSON geometry as read, or None; :func:`polygons` turns
    it into arrays, only for the areas a map draws). ``release``: the PSGC release of the
    file when known. ``lonlat``: coordinates are longitude/latitude. ``problems``: located
    problems found while reading (MD218, MD219).
    """

    features: pd.DataFrame
    release: str | None = None
    source: str = ""
    lonlat: bool = True
    problems: pd.DataFrame = field(default_factory=lambda: _problems([]))
    _match: pd.DataFrame | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.features)


@dataclass
class MapLayer:
    """The areas of one map: ``areas`` (``psgc``, ``name``, ``level``, ``geometry`` or None,
    ``boundary_code`` of the shape used), located ``problems``, and what a map must say
    about its boundaries (``source``, ``release``, ``lonlat``)."""

    areas: pd.DataFrame
    problems: pd.DataFrame
    source: str
    release: str | None
    lonlat: bool


def _problems(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["code", "value", "name", "file", "feature", "message"])


def _problem(code: str, value: Any, name: Any, file: Any, feature: Any, **fields: Any) -> dict[str, Any]:
    return {"code": code, "value": value, "name": name, "file": file, "feature": feature,
            "message": render(code, value=value, name=name, file=file, feature=feature, **fields)}


# ----------------------------------------------------------------------------- reading
def _ring(coords: Any) -> np.ndarray | None:
    a = np.asarray(coords, dtype="float64")
    if a.ndim != 2 or a.shape[0] < 3 or a.shape[1] < 2:
        return None
    return a[:, :2]


def polygons(geometry: dict[str, Any] | None) -> list[Polygon]:
    """A GeoJSON geometry (``Polygon``, ``MultiPolygon``, ``GeometryCollection``) as a list of
    polygons, each a list of ``(n, 2)`` arrays (outline first, then holes); other types give [].

    Example:
        >>> p = polygons({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]})
        >>> len(p), p[0][0].shape
        (1, (4, 2))
    """
    if not geometry:
        return []
    kind = geometry.get("type")
    if kind == "GeometryCollection":
        return [p for g in geometry.get("geometries") or [] for p in polygons(g)]
    parts = ([geometry.get("coordinates")] if kind == "Polygon"
             else geometry.get("coordinates") if kind == "MultiPolygon" else [])
    out = []
    for poly in parts or []:
        rings = [_ring(r) for r in poly or []]
        if rings and rings[0] is not None:
            out.append([rings[0], *[r for r in rings[1:] if r is not None]])
    return out


def _clean_code(value: Any) -> str | None:
    """A boundary file's code as 10 digits, or None when it cannot be one."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = re.sub(r"^PH", "", str(value).strip(), flags=re.I)
    if text.endswith(".0"):
        text = text[:-2]
    if not text.isdigit() or not text.isascii():
        return None
    if len(text) == 10:
        return text
    if len(text) in (8, 9):
        from migdata.areas.codes import read_code
        from migdata.areas.reference import index

        r = read_code(text, index())
        if r.code is not None and not r.error:
            return r.code
        if len(text) == 9 and text[0] != "0":
            return "0" + text        # a 10-digit code stored as a number: its zero was lost
        if text.zfill(9)[:2] <= "19":  # a correspondence code the reference does not know
            c = text.zfill(9)
            return c[:2] + "0" + c[2:]
    return None


def _find_field(props: list[dict[str, Any]], wanted: str | None, names: Sequence[str],
                file: str, what: str) -> str | None:
    keys: dict[str, str] = {}
    for p in props[:50]:
        for k in p:
            keys.setdefault(str(k).lower(), str(k))
    if wanted is not None:
        if wanted.lower() in keys:
            return keys[wanted.lower()]
        if what == "code":
            raise DataError("MD217", file=file, tried=repr(wanted), fields=", ".join(keys.values()) or "none")
        return None
    for n in names:
        if n in keys:
            return keys[n]
    if what == "code":
        raise DataError("MD217", file=file, tried=", ".join(names), fields=", ".join(keys.values()) or "none")
    return None


def _read_geojson(path: Path) -> tuple[list[dict[str, Any]], list[Any], dict[str, Any]]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError("MD216", file=str(path), problem=f"is not JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        kind = doc.get("type") if isinstance(doc, dict) else type(doc).__name__
        raise DataError("MD216", file=str(path),
                        problem=f"is a {kind!r}, not a GeoJSON FeatureCollection")
    feats = doc.get("features") or []
    props = [dict(f.get("properties") or {}) for f in feats]
    return props, [f.get("geometry") for f in feats], doc.get("migdata") or {}


def _read_shapefile(path: Path) -> tuple[list[dict[str, Any]], list[Any], dict[str, Any]]:
    import shapefile  # pyshp

    try:
        with shapefile.Reader(str(path), encodingErrors="replace") as r:
            names = [f[0] for f in r.fields[1:]]
            props, geoms = [], []
            for rec, shp in zip(r.iterRecords(), r.iterShapes()):
                props.append(dict(zip(names, list(rec))))
                geoms.append(shp.__geo_interface__ if shp.shapeType != shapefile.NULL else None)
    except shapefile.ShapefileException as exc:
        raise DataError("MD216", file=str(path), problem=f"cannot be read as a shapefile ({exc})") from None
    return props, geoms, {}


def read_boundaries(paths: str | Path | Iterable[str | Path], *, code_field: str | None = None,
                    name_field: str | None = None, release: str | None = None) -> Boundaries:
    """Read boundary files (GeoJSON ``.json``/``.geojson``, shapefile ``.shp`` or ``.zip``).

    ``code_field``/``name_field`` name the properties holding the PSGC code and the name
    (found by name when omitted, see the module docstring). ``release`` is the PSGC release
    the file is coded in (for messages; e.g. ``"2023-12"``). A feature whose code cannot be
    read (MD218) or repeats an earlier one (MD219) is not used and is listed in ``problems``.

    Example:
        >>> b = read_boundaries("my_barangays.geojson", code_field="BRGY_CODE")  # doctest: +SKIP
    """
    files = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    if not files:
        raise UsageError("MD004", what="boundary files", value="(none)", choices="one or more files")
    rows: list[dict[str, Any]] = []
    problems: list[dict[str, Any]] = []
    seen: dict[str, str] = {}
    meta: dict[str, Any] = {}
    for path in files:
        if not path.exists():
            raise DataError("MD001", path=str(path))
        suffix = path.suffix.lower()
        if suffix in (".json", ".geojson"):
            props, geoms, m = _read_geojson(path)
        elif suffix in (".shp", ".zip"):
            props, geoms, m = _read_shapefile(path)
        else:
            raise DataError("MD216", file=str(path), problem=f"has the extension {suffix or '(none)'!r}; "
                            "boundary files are .geojson/.json or .shp/.zip")
        meta = meta or m
        if not props:
            raise DataError("MD216", file=str(path), problem="has no features")
        cf = _find_field(props, code_field, CODE_FIELDS, str(path), "code")
        nf = _find_field(props, name_field, NAME_FIELDS, str(path), "name")
        lf = next((k for k in props[0] if str(k).lower() in ("level", "geo_level")), None)
        for i, (p, g) in enumerate(zip(props, geoms), start=1):
            raw = p.get(cf)
            code = _clean_code(raw)
            name = p.get(nf) if nf else None
            name = None if name is None or (isinstance(name, float) and np.isnan(name)) else str(name)
            if code is None:
                problems.append(_problem("MD218", raw, name, str(path), i, field=cf))
                continue
            if code in seen:
                problems.append(_problem("MD219", code, name, str(path), i, first=seen[code]))
                continue
            seen[code] = f"{path.name}, feature {i}"
            lvl = str(p.get(lf) or "").strip().lower() if lf else ""
            rows.append({"code": code, "name": name, "level": _PSA_LEVELS.get(lvl, lvl) or None,
                         "file": str(path), "feature": i, "field": cf, "derived": p.get("derived"),
                         "geometry": g or None})
    feats = pd.DataFrame(rows, columns=["code", "name", "level", "file", "feature", "field", "derived",
                                        "geometry"])
    # The shipped files were checked when they were built; others are looked at once.
    lonlat = bool(meta.get("lonlat")) or _is_lonlat(feats["geometry"])
    source = meta.get("source") or ", ".join(p.name for p in files)
    return Boundaries(feats, release=release or meta.get("psgc_release"), source=source,
                      lonlat=lonlat, problems=_problems(problems))


def _is_lonlat(geoms: pd.Series) -> bool:
    for g in geoms:
        for poly in polygons(g):
            a = poly[0]
            if (np.abs(a[:, 0]) > 180).any() or (np.abs(a[:, 1]) > 90).any():
                return False
    return True


@lru_cache(maxsize=1)
def _shipped() -> Boundaries:
    folder = resources.files("migdata.areas").joinpath(SHIPPED_FOLDER)
    with resources.as_file(folder) as path:
        b = read_boundaries([Path(path) / name for name in SHIPPED_LAYERS], release=SHIPPED_RELEASE)
        saved = json.loads((Path(path) / "match.json").read_text(encoding="utf-8"))
    b.source = SHIPPED_SOURCE
    from migdata.areas.reference import release

    if saved.get("reference_release") == release() and saved.get("boundary_release") == b.release:
        b._match = _from_saved(b, saved)
    return b


def shipped() -> Boundaries:
    """The boundaries shipped with migdata (read once per process; do not modify).

    Example:
        >>> b = shipped()
        >>> int(b.features["code"].str.startswith("04").sum()) > 4000
        True
    """
    return _shipped()


# ----------------------------------------------------------------------------- matching
def derived_correspondence(codes: pd.Series) -> pd.Series:
    """Correspondence codes derived from 10-digit codes' layout (see the module docstring);
    NA for codes at a highly urbanised city's position (PPP 3xx ...), which have none by layout.

    Example:
        >>> derived_correspondence(pd.Series(["0604500000", "1906601000", "0431200000"])).tolist()
        ['064500000', '156601000', <NA>]
    """
    c = codes.astype("string")
    region = c.str[:2].where(c.str[:2].ne("19"), "15")
    return (region + c.str[3:]).where(c.str[2].eq("0")).astype("string")


def _release_table(b: Boundaries, ref: pd.DataFrame) -> pd.DataFrame:
    """The boundary file's areas as a PSGC release table (for the crosswalk)."""
    from migdata.areas.build import finish
    from migdata.areas.structure import ALLOWED_POSITIONS, position, structural_parent

    f = b.features
    u = pd.DataFrame({"psgc": f["code"].astype(str).to_numpy(),
                      "name": f["name"].fillna("").astype(str).to_numpy(),
                      "level": f["level"].astype(object).to_numpy()})
    pos = position(u["psgc"])
    by_pos = pos.map(_POSITION_LEVEL)
    ok = [isinstance(lv, str) and p in ALLOWED_POSITIONS.get(lv, ()) for lv, p in zip(u["level"], pos)]
    u["level"] = u["level"].where(ok, by_pos)
    r = ref.set_index(ref["psgc"].astype(str))
    # Parents the file does not hold: from the reference, or a placeholder of the right level.
    # (A unit at the city position whose province-position parent exists nowhere, Pateros,
    # hangs from its region, as the reference's own derivation does.)
    while True:
        par = structural_parent(u["psgc"])
        have = set(u["psgc"])
        need = sorted({p for p, s in zip(par, position(u["psgc"])) if isinstance(p, str) and p not in have
                       and (p in r.index or s != "city_mun")})
        if not need:
            break
        add = pd.DataFrame({"psgc": need})
        add["name"] = add["psgc"].map(r["name"]).fillna("").astype(str)
        add["level"] = add["psgc"].map(r["level"].astype(str)).fillna(position(add["psgc"]).map(_POSITION_LEVEL))
        u = pd.concat([u, add], ignore_index=True)
    corr = u["psgc"].map(r["correspondence_code"]).astype("string")
    u["correspondence_code"] = corr.fillna(derived_correspondence(u["psgc"]))
    return finish(u, b.release or "boundary file", source=b.source)


def compute_match(b: Boundaries, ref: pd.DataFrame | None = None) -> pd.DataFrame:
    """Pair every boundary area with a reference area through the release crosswalk.

    Returns one row per feature: ``code``, ``name``, ``level``, ``file``, ``feature``,
    ``psgc`` (the reference code, NA when the change is not one-to-one), ``change`` and
    ``note`` (from :func:`~migdata.areas.crosswalk.crosswalk`).
    """
    from migdata.areas.crosswalk import MAPPED, crosswalk
    from migdata.areas.reference import reference

    ref = reference() if ref is None else ref
    cw = crosswalk(_release_table(b, ref), ref)
    cw = cw[cw["old_code"].notna()].set_index(cw["old_code"].dropna().astype(str))
    f = b.features
    codes = f["code"].astype(str)
    change = codes.map(cw["change"].astype(str))
    out = f[["code", "name", "level", "file", "feature"]].copy()
    out["psgc"] = codes.map(cw["new_code"]).where(change.isin(MAPPED)).astype("string")
    out["change"] = change.astype("string")
    out["note"] = codes.map(cw["note"]).astype("string")
    out.attrs.update(old_release=b.release or "boundary file", new_release=ref.attrs.get("release", "?"))
    return out


def _from_saved(b: Boundaries, saved: dict[str, Any]) -> pd.DataFrame:
    ch = saved.get("changes", {})
    f = b.features
    codes = f["code"].astype(str)
    out = f[["code", "name", "level", "file", "feature"]].copy()
    out["psgc"] = pd.array([ch[c][0] if c in ch else c for c in codes], dtype="string")
    out["change"] = pd.array([ch[c][1] if c in ch else "same" for c in codes], dtype="string")
    out["note"] = pd.array([ch[c][2] if c in ch else "" for c in codes], dtype="string")
    out.attrs.update(old_release=saved.get("boundary_release"), new_release=saved.get("reference_release"))
    return out


def match(b: Boundaries | None = None) -> pd.DataFrame:
    """:func:`compute_match` for ``b`` (default: the shipped boundaries), computed once per
    :class:`Boundaries` against the shipped reference (for the shipped boundaries, read from
    the saved ``match.json`` when it was made for this reference release).

    Example:
        >>> m = match()
        >>> m.set_index("code").loc["0604500000", ["psgc", "change"]].tolist()
        ['1804500000', 'recoded']
    """
    b = shipped() if b is None else b
    if b._match is None:
        b._match = compute_match(b)
    return b._match


# ----------------------------------------------------------------------------- map layers
def map_level(level: str) -> str:
    """A map level's canonical name (``region``, ``province``, ``city``, ``barangay``).

    Example:
        >>> map_level("municipality")
        'city'
    """
    from migdata.areas import levels

    key = str(level).strip().lower()
    lv = levels.ALIASES.get(key, key)
    if lv not in REFERENCE_COLUMN:
        raise UsageError("MD208", value=level, choices=", ".join(REFERENCE_COLUMN))
    return lv


def level_areas(level: str, parent: str | None = None, ref: pd.DataFrame | None = None) -> pd.DataFrame:
    """The reference areas at a map ``level`` inside ``parent`` (a PSGC code; None or ``"PH"``:
    the whole country), as indicator tables count them: a highly urbanised city is an area at
    both the province and the city level. Columns ``psgc``, ``name``, ``level``.

    Example:
        >>> level_areas("province", "0400000000")["name"].tolist()
        ['Batangas', 'Cavite', 'Laguna', 'Quezon', 'Rizal', 'City of Lucena']
    """
    from migdata.areas.codes import normalize
    from migdata.areas.reference import index

    lv = map_level(level)
    ix = index(ref)          # the shipped table itself when ref is None (no copy)
    ref = ix.ref
    bgy = ref[ref["level"].astype(str).eq("barangay").to_numpy()]
    if parent is not None and str(parent).upper() not in ("PH", "NATIONAL"):
        code = normalize(parent, ref=None if ref is index().ref else ref)
        row = ix.row(code)
        plv = str(row["level"])
        col = ("region" if plv == "region" else "province" if plv in ("province", "special")
               or code == row["province"] else "city_mun" if plv in ("city", "municipality")
               else "parent" if plv == "submunicipality" else "psgc")
        bgy = bgy[bgy[col].eq(code).fillna(False).to_numpy()]
    codes = pd.unique(bgy[REFERENCE_COLUMN[lv]].dropna().astype(str))
    out = ref[ref["psgc"].astype(str).isin(codes).to_numpy()][["psgc", "name", "level"]]
    return out.astype({"psgc": str, "name": str, "level": str}).reset_index(drop=True)


def map_areas(level: str, parent: str | None = None, boundaries: Boundaries | str | Path | None = None,
              ref: pd.DataFrame | None = None) -> MapLayer:
    """Every area of ``level`` inside ``parent`` with its shape (or None), and the located
    problems: areas without a shape (MD215, or MD214 when the file has the area but no shape)
    and areas of the file in that extent that match no reference area (MD213), besides the
    file's own reading problems (MD218, MD219) in that extent.

    ``boundaries``: a :class:`Boundaries`, a file path, or None for the shipped ones.

    Example:
        >>> layer = map_areas("barangay", "0403401000")     # Alaminos, Laguna
        >>> len(layer.areas), layer.problems.empty
        (15, True)
    """
    from migdata.areas.reference import index

    b = (shipped() if boundaries is None else boundaries if isinstance(boundaries, Boundaries)
         else read_boundaries(boundaries))
    allm = match(b) if ref is None else compute_match(b, ref)
    # the shipped table itself and its cached index (reference() copies the table, and a
    # table passed in gets an index of its own): a map is drawn for each of a report's indicators
    areas = level_areas(level, parent, ref)
    ref = index().ref if ref is None else ref
    m = allm[allm["psgc"].notna()]
    pos_of = {c: i for i, c in enumerate(b.features["code"].astype(str))}
    shape_of = dict(zip(m["psgc"].astype(str)[::-1], m["code"].astype(str)[::-1]))  # first wins
    geoms = b.features["geometry"].to_numpy(dtype=object)
    rows, problems = [], []
    for code, name, lvl in zip(areas["psgc"], areas["name"], areas["level"]):
        hit = shape_of.get(code)
        geom = None
        if hit is not None:
            i = pos_of[hit]
            geom = polygons(geoms[i])
            if not geom:
                f = b.features.iloc[i]
                problems.append(_problem("MD214", hit, name, f["file"], int(f["feature"]),
                                         source=b.source))
        else:
            problems.append(_problem("MD215", code, name, b.source, None, level=lvl,
                                     release=ref.attrs.get("release", "?"), source=b.source))
        rows.append({"psgc": code, "name": name, "level": lvl, "boundary_code": hit,
                     "geometry": geom or None})
    # Areas of the file inside the extent that the reference does not have one-to-one.
    lv = map_level(level)
    unmatched = allm[allm["psgc"].isna()]
    if len(unmatched):
        from migdata.areas.structure import position

        want = {"region": {"region"}, "province": {"province"}, "city": {"city_mun", "province"},
                "barangay": {"barangay"}}[lv]
        inside = position(unmatched["code"].astype(str)).isin(want)
        if parent is not None and str(parent).upper() not in ("PH", "NATIONAL"):
            p = str(parent)
            prefix = p[:2] if p[2:] == "00000000" else p[:5] if p[5:] == "00000" else p[:7]
            inside &= unmatched["code"].astype(str).str.startswith(prefix)
        for r in unmatched[inside.to_numpy()].itertuples():
            problems.append(_problem("MD213", r.code, r.name or "no name", r.file, int(r.feature),
                                     change=r.change, note=r.note, old_release=allm.attrs.get("old_release"),
                                     new_release=allm.attrs.get("new_release"), field="code"))
    if len(b.problems):
        # reading problems: a repeated code (MD219) where it lies; an unreadable code (MD218)
        # could lie anywhere, so it is always listed
        rp = b.problems
        keep = rp["code"].ne("MD219").to_numpy().copy()
        if parent is not None and str(parent).upper() not in ("PH", "NATIONAL"):
            p = str(parent)
            prefix = p[:2] if p[2:] == "00000000" else p[:5] if p[5:] == "00000" else p[:7]
            keep |= rp["value"].astype(str).str.startswith(prefix).to_numpy()
        else:
            keep[:] = True
        problems += rp[keep].to_dict("records")
    out = pd.DataFrame(rows, columns=["psgc", "name", "level", "boundary_code", "geometry"])
    return MapLayer(out, _problems(problems), b.source, b.release, b.lonlat)


__all__ = ["ATTRIBUTION", "Boundaries", "MapLayer", "compute_match", "derived_correspondence",
           "level_areas", "map_areas", "map_level", "match", "polygons", "read_boundaries", "shipped"]
