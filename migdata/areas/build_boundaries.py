"""Rebuild the boundary files shipped in ``migdata/areas/boundaries/`` (maintainers only).

Usage::

    pip install -e '.[boundaries]'      # shapely, used only here
    python -m migdata.areas.build_boundaries ../shared/realdata/ph/boundaries migdata/areas/boundaries

The source is the low-resolution GeoJSON of faeldon/philippines-json-maps (PSGC as of 31 Dec
2023, MIT, built from PSA PSGC and UN OCHA boundaries): one file for the regions, one per
region for its provinces, one per province for its cities/municipalities, one per Region IV-A
city/municipality for its barangays. This step writes four layers, one file each:

- ``regions.geojson``, ``provinces.geojson`` (with NCR's four districts, as the source has
  them), ``cities.geojson`` (cities and municipalities of the whole country) and
  ``barangays_r04.geojson`` (Region IV-A);
- each feature keeps three properties: ``psgc`` (10-digit text; the source stores codes as
  integers without the leading zero), ``name`` and ``level`` (the reference's level names);
- coordinates are rounded to 4 decimals (about 11 m, finer than the source's own 0.001 degree
  simplification), repeated points dropped; features without geometry are kept with a null
  geometry so that readers can say which areas have no shape;
- a city/municipality whose own shape is missing but whose barangays are present (the City of
  Lucena, a highly urbanised city the source lists only through its barangays) is added as
  the union of its barangays (``shapely.unary_union``; the barangays share their edges, so the
  union is exact) and marked ``"derived": "union of its N barangays"``;
- ``match.json``: the matching of every boundary code to the shipped PSGC reference through
  :func:`migdata.areas.crosswalk.crosswalk` (see :mod:`migdata.areas.boundaries`), saved so
  that a map does not recompute it; it is recomputed at run time when the shipped reference
  is of another release.

Example:
    >>> build("../shared/realdata/ph/boundaries", "migdata/areas/boundaries")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from migdata.fileio import atomic_write

#: The source's geo_level values and the reference's level names.
GEO_LEVELS = {"Reg": "region", "Prov": "province", "Dist": "special", "City": "city",
              "Mun": "municipality", "Bgy": "barangay"}
#: Layers: output file, source glob, the source's property prefix.
LAYERS = [("regions.geojson", "regions_ph.json", "adm1"),
          ("provinces.geojson", "provinces/*.json", "adm2"),
          ("cities.geojson", "municipalities/*.json", "adm3"),
          ("barangays_r04.geojson", "barangays_iva/*.json", "adm4")]
RELEASE = "2023-12"
DECIMALS = 4
SOURCE = ("faeldon/philippines-json-maps @8eeead5 (MIT), low resolution; built from PSA PSGC and "
          "UN OCHA administrative boundaries (PSGC as of 31 December 2023)")


def _ring(ring: list[list[float]]) -> list[list[float]] | None:
    out: list[list[float]] = []
    for x, y in ring:
        p = [round(float(x), DECIMALS), round(float(y), DECIMALS)]
        if not out or p != out[-1]:
            out.append(p)
    if out and out[0] != out[-1]:
        out.append(out[0])
    return out if len(out) >= 4 else None


def _polygons(geometry: dict[str, Any] | None) -> list[list[list[list[float]]]]:
    """A GeoJSON geometry as a list of polygons (rings rounded; degenerate rings dropped)."""
    if not geometry:
        return []
    kind = geometry.get("type")
    if kind == "Polygon":
        parts = [geometry["coordinates"]]
    elif kind == "MultiPolygon":
        parts = geometry["coordinates"]
    elif kind == "GeometryCollection":
        return [p for g in geometry.get("geometries", []) for p in _polygons(g)]
    else:
        return []
    out = []
    for poly in parts:
        rings = [_ring(r) for r in poly]
        if rings and rings[0] is not None:
            out.append([rings[0]] + [r for r in rings[1:] if r is not None])
    return out


def _geometry(polys: list) -> dict[str, Any] | None:
    if not polys:
        return None
    if len(polys) == 1:
        return {"type": "Polygon", "coordinates": polys[0]}
    return {"type": "MultiPolygon", "coordinates": polys}


def read_layer(src: Path, pattern: str, prefix: str) -> list[dict[str, Any]]:
    """The features of one source layer, with the three kept properties, rounded."""
    feats = []
    for path in sorted(src.glob(pattern)):
        data = json.loads(path.read_text(encoding="utf-8"))
        for f in data.get("features", []):
            p = f.get("properties") or {}
            code = p.get(f"{prefix}_psgc")
            if code is None:
                continue
            level = GEO_LEVELS.get(p.get("geo_level"))
            name = p.get(f"{prefix}_en")
            feats.append({"type": "Feature",
                          "properties": {"psgc": str(int(code)).zfill(10), "name": name, "level": level},
                          "geometry": _geometry(_polygons(f.get("geometry")))})
    return feats


def _union(features: list[dict[str, Any]]) -> dict[str, Any] | None:
    from shapely.geometry import mapping, shape
    from shapely.ops import unary_union

    shapes = [shape(f["geometry"]) for f in features if f["geometry"]]
    if not shapes:
        return None
    merged = mapping(unary_union(shapes))
    return _geometry(_polygons(json.loads(json.dumps(merged))))


def build(src: str | Path, out: str | Path) -> list[Path]:
    """Write the four layers and ``match.json`` into ``out``; returns the files written."""
    from migdata.areas.reference import reference

    src, out = Path(src), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    layers = {name: read_layer(src, pattern, prefix) for name, pattern, prefix in LAYERS}
    cities = layers["cities.geojson"]
    have = {f["properties"]["psgc"] for f in cities}
    ref = reference().set_index("psgc")
    by_parent: dict[str, list] = {}
    for f in layers["barangays_r04.geojson"]:
        by_parent.setdefault(f["properties"]["psgc"][:7] + "000", []).append(f)
    for code, bgys in sorted(by_parent.items()):
        if code in have:
            continue
        name = str(ref.at[code, "name"]) if code in ref.index else None
        level = str(ref.at[code, "level"]) if code in ref.index else "municipality"
        cities.append({"type": "Feature",
                       "properties": {"psgc": code, "name": name, "level": level,
                                      "derived": f"union of its {len(bgys)} barangays"},
                       "geometry": _union(bgys)})
    written = []
    for name, feats in layers.items():
        doc = {"type": "FeatureCollection",
               "migdata": {"psgc_release": RELEASE, "source": SOURCE, "decimals": DECIMALS,
                           "lonlat": True},
               "features": feats}
        written.append(atomic_write(out / name, lambda tmp, d=doc: tmp.write_text(
            json.dumps(d, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")))
    from migdata.areas.boundaries import compute_match, read_boundaries

    shipped = read_boundaries([out / name for name, _, _ in LAYERS], release=RELEASE)
    table = compute_match(shipped)
    written.append(atomic_write(out / "match.json", lambda tmp: tmp.write_text(
        _lines(match_document(table)), encoding="utf-8")))
    for p in written:
        p.chmod(0o644)
    return written


def _lines(doc: dict[str, Any]) -> str:
    """JSON with one change per line (readable in a diff when the reference is rebuilt)."""
    head = {k: v for k, v in doc.items() if k != "changes"}
    body = ",\n".join(f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}"
                      for k, v in doc["changes"].items())
    return json.dumps(head, ensure_ascii=False)[:-1] + ', "changes": {\n' + body + "\n}}\n"


def match_document(table: Any) -> dict[str, Any]:
    """The part of a match table worth saving: every code that is not the same in both releases."""
    import pandas as pd

    rows = table[table["change"].astype(str).ne("same")]
    return {"boundary_release": table.attrs.get("old_release"),
            "reference_release": table.attrs.get("new_release"),
            "changes": {str(c): [None if pd.isna(p) else str(p), str(ch), "" if pd.isna(n) else str(n)]
                        for c, p, ch, n in zip(rows["code"], rows["psgc"], rows["change"], rows["note"])}}


if __name__ == "__main__":  # pragma: no cover
    if len(sys.argv) != 3:
        sys.exit("usage: python -m migdata.areas.build_boundaries SOURCE_FOLDER OUT_FOLDER")
    for p in build(sys.argv[1], sys.argv[2]):
        print(p)
