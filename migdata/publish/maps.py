"""Choropleth maps and sorted area bars of one indicator, from a published indicator table.

:func:`choropleth` draws every area of a level inside a parent area (a province's cities and
municipalities, a municipality's barangays), coloured by the indicator's value:

- **classes**: ``k`` quantile classes of the publishable values (at most as many as distinct
  values), coloured from matplotlib's *viridis* ramp (light = low, dark = high): it is
  colour-blind safe and its lightness rises monotonically, so the classes stay in order when
  printed in greyscale. The legend shows each class's range in the indicator's unit;
- **suppressed** areas (too few cases, or an unreliable survey estimate) are white with dense
  diagonal hatching; estimates to **use with caution** keep their class colour under a dotted
  hatch; areas with **no data** (no row in the table) are plain white, so they never look like
  a zero, which is a value in the lowest class. Each kind is a legend entry with its count;
- areas the boundary file lacks are named under the map (with their value), never dropped;
- a title, the source and period of the data, the PSGC release of the areas and the
  boundaries' attribution under the map;
- alternative text (:func:`migdata.publish.charts.title`) that starts with ``Map:`` and names
  the indicator, the level and the area, the highest and lowest areas and what is hidden.

:func:`area_bars` is the companion chart: the areas with publishable values as sorted bars.

Drawing: matplotlib draws the polygons itself (one :class:`~matplotlib.patches.PathPatch` per
area, holes kept by ring orientation, each patch's ``gid`` = its PSGC code, so an SVG names
its areas). No geometry library is needed: the maps only fill polygons, which matplotlib
does, and geopandas would add GDAL, PROJ and shapely (tens of MB) for nothing used here.
Boundaries come from :mod:`migdata.areas.boundaries` (shipped, or any GeoJSON/shapefile).

Example:
    >>> import pandas as pd
    >>> from migdata.areas.boundaries import level_areas
    >>> ar = level_areas("city", "0403400000")
    >>> t = pd.DataFrame({"indicator_id": "HH02", "name": "Households with an OFW",
    ...     "area_level": "city", "area_code": ar["psgc"], "area_name": ar["name"],
    ...     "category": "", "estimate": range(len(ar)), "flag": "complete_count",
    ...     "suppressed": False, "unit": "household", "measure": "%", "source": "CBMS",
    ...     "period": "2022"})
    >>> fig = choropleth(t, "HH02", "city", "0403400000")
    >>> from migdata.publish import charts
    >>> charts.title(fig)[:58]
    'Map: Households with an OFW (HH02), by city/municipality, '
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from migdata.errors import UsageError
from migdata.publish import charts

LEVEL_WORDS = {"region": ("region", "regions"), "province": ("province/HUC", "provinces and HUCs"),
               "city": ("city/municipality", "cities and municipalities"),
               "barangay": ("barangay", "barangays")}
NO_DATA = "#ffffff"
SUPPRESSED_FILL = "#ffffff"
SUPPRESSED_HATCH = "////"
CAUTION_HATCH = "...."
EDGE = "#4d4d4d"
#: Columns of a local migration database's tables that say where a row comes from.
DATABASE_COLUMNS = ("stream", "design")
#: Where on viridis the lowest and highest classes sit: the lightest class stays clearly
#: darker than white (no data) in greyscale, the darkest light enough to see the hatching.
RAMP = (0.9, 0.12)


def palette(k: int) -> list[tuple[float, float, float, float]]:
    """``k`` class colours, light to dark (viridis).

    Example:
        >>> [round(luminance(c), 2) for c in palette(3)]   # lightness falls with the class
        [0.64, 0.23, 0.04]
    """
    import matplotlib

    cmap = matplotlib.colormaps["viridis"]
    return [tuple(float(x) for x in cmap(t)) for t in np.linspace(RAMP[0], RAMP[1], max(k, 1))]


def luminance(color: Any) -> float:
    """Relative luminance of a colour (what a greyscale print keeps), 0 black .. 1 white.

    Example:
        >>> luminance("#ffffff"), luminance("#000000")
        (1.0, 0.0)
    """
    from matplotlib.colors import to_rgb

    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in to_rgb(color))
    return round(0.2126 * r + 0.7152 * g + 0.0722 * b, 6)


def classify(values: np.ndarray, k: int = 5) -> np.ndarray:
    """Class edges of the finite ``values`` (class ``j`` holds values above edge ``j`` up to
    edge ``j + 1``; the first class includes its lower edge): quantiles, so that each class
    holds about as many areas, and at most as many classes as distinct values. When the
    smallest value is 0 and positive values exist, 0 is a class of its own (edges ``0, 0``)
    and the positive values share the other ``k - 1`` classes: "none" reads apart from
    "a few" (and both apart from "no data", which is not a value).

    Example:
        >>> classify(np.array([0, 0, 1, 2, 3, 10.0]), k=3).tolist()
        [0.0, 0.0, 2.5, 10.0]
        >>> classify(np.array([4.0, 1.0, 2.0, 3.0]), k=2).tolist()
        [1.0, 2.5, 4.0]
    """
    v = np.asarray(values, dtype="float64")
    v = v[np.isfinite(v)]
    if v.size == 0:
        return np.array([], dtype="float64")
    if k >= 2 and v.min() == 0 and (v > 0).any():
        pos = v[v > 0]
        kk = max(1, min(k - 1, np.unique(pos).size))
        edges = np.unique(np.quantile(pos, np.linspace(0, 1, kk + 1)))
        return np.concatenate([[0.0, 0.0], edges[1:] if len(edges) > 1 else edges])
    k = max(1, min(k, np.unique(v).size))
    return np.unique(np.quantile(v, np.linspace(0, 1, k + 1)))


def class_of(values: np.ndarray, breaks: np.ndarray) -> np.ndarray:
    """The class (0-based) of each value; the upper edge of a class belongs to it, the
    lowest edge to the first class; -1 for missing values.

    Example:
        >>> class_of(np.array([0.0, 0.5, 1.0, 7.0, np.nan]), np.array([0.0, 1.0, 10.0])).tolist()
        [0, 0, 0, 1, -1]
    """
    v = np.asarray(values, dtype="float64")
    out = np.full(v.shape, -1, dtype=np.int64)
    ok = np.isfinite(v)
    if len(breaks) < 2:
        out[ok] = 0
        return out
    out[ok] = np.clip(np.searchsorted(breaks[1:-1], v[ok], side="left"), 0, len(breaks) - 2)
    return out


def _by_columns(t: pd.DataFrame) -> list[str]:
    from migdata.publish.excel import _by_columns as by_columns

    return [c for c in (t.attrs.get("by") or by_columns(t)) if c in t.columns]


def map_values(table: pd.DataFrame, indicator: str, level: str, area: str | None = None, *,
               category: str | None = None, by: Mapping[str, str] | None = None,
               boundaries: Any = None, shapes: bool = True) -> tuple[pd.DataFrame, Any]:
    """The rows of one map: every area of ``level`` inside ``area`` with its shape, value and
    kind (``value``, ``caution``, ``suppressed``, ``no_data``). Returns ``(frame, layer)``.

    ``by`` picks one cell of the disaggregations (default ``Total`` of each, e.g.
    ``{"sex": "female"}``); ``category`` one category of a distribution indicator.
    ``shapes=False`` skips the boundaries (every ``geometry`` is None, no boundary problems).
    Table rows of the level inside ``area`` that are not areas of the reference are added to
    the layer's problems (MD722), not dropped silently.
    """
    from migdata.areas.boundaries import MapLayer, level_areas, map_areas, map_level
    from migdata.errors import render
    from migdata.publish.tables import protect

    table = protect(table)   # as every writer: nothing unprotected is drawn
    lv = map_level(level)
    ids = table["indicator_id"].astype(str)
    t = table[(ids == str(indicator)).to_numpy()]
    levels = sorted(set(t["area_level"].astype(str)))
    t = t[(t["area_level"].astype(str) == lv).to_numpy()]
    if t.empty:
        raise UsageError("MD720", indicator=indicator, level=lv,
                         ids=", ".join(sorted(set(ids))[:40]) or "none", levels=", ".join(levels) or "none")
    for col in _by_columns(t):
        if col in DATABASE_COLUMNS and col not in (by or {}):
            # a database table's stream (and the design it names) is not a disaggregation:
            # one stream per map, named when the table has several
            streams = sorted(set(t[col].astype(str)))
            if col == "stream" and len(streams) > 1:
                raise UsageError("MD723", indicator=indicator, level=lv, streams=", ".join(streams))
            continue
        want = str((by or {}).get(col, "Total"))
        t = t[(t[col].astype(str) == want).to_numpy()]
    cats = [c for c in dict.fromkeys(t["category"].astype(str)) if c] if "category" in t else []
    if cats:
        if category is None or str(category) not in cats:
            given = "no category was given" if category is None else f"{category!r} is not one of them"
            raise UsageError("MD721", indicator=indicator, value=category, given=given, choices=", ".join(cats))
        t = t[(t["category"].astype(str) == str(category)).to_numpy()]
    if shapes:
        layer = map_areas(lv, area, boundaries)
    else:
        ar = level_areas(lv, area).assign(boundary_code=None, geometry=None)
        layer = MapLayer(ar, pd.DataFrame(columns=["code", "value", "name", "file", "feature", "message"]),
                         "", None, True)
    rows = t.drop_duplicates("area_code").set_index(t["area_code"].astype(str).drop_duplicates().to_numpy())
    f = layer.areas.copy()
    have = f["psgc"].isin(rows.index)
    r = rows.reindex(f["psgc"])
    est = pd.to_numeric(r["estimate"], errors="coerce").to_numpy(dtype="float64")
    kinds = []
    for ok, fl, sup, v in zip(have, r["flag"] if "flag" in r else [None] * len(r),
                              r["suppressed"] if "suppressed" in r else [False] * len(r), est):
        if not ok:
            kinds.append("no_data")
            continue
        k = charts.flag_kind(fl, sup)
        kinds.append("suppressed" if k in ("suppressed", "unreliable") else
                     "no_data" if not np.isfinite(v) else "caution" if k == "caution" else "value")
    f["kind"] = kinds
    f["estimate"] = np.where(np.isin(f["kind"], ["value", "caution"]), est, np.nan)
    for c in ("ci_low", "ci_high", "n"):
        if c in r:
            f[c] = pd.to_numeric(r[c], errors="coerce").to_numpy()
    # Rows of the table at this level that no area of the map is.
    extra = rows.index.difference(pd.Index(f["psgc"]))
    if len(extra) and area is not None:
        p = str(area)
        prefix = p[:2] if p[2:] == "00000000" else p[:5] if p[5:] == "00000" else p[:7]
        extra = [c for c in extra if c.startswith(prefix)]
    if len(extra):
        add = [{"code": "MD722", "value": c, "name": str(rows.at[c, "area_name"]) if "area_name" in rows else "",
                "file": None, "feature": None,
                "message": render("MD722", value=c, name=str(rows.at[c, "area_name"]) if "area_name" in rows else "",
                                  level=lv)} for c in extra]
        layer.problems = pd.concat([layer.problems, pd.DataFrame(add)], ignore_index=True)
    first = t.iloc[0] if len(t) else None
    f.attrs.update(indicator=str(indicator), level=lv, area=area, category=category,
                   name=str(first["name"]) if first is not None and "name" in t else str(indicator),
                   measure=str(first["measure"]) if first is not None and "measure" in t else "",
                   unit=str(first["unit"]) if first is not None and "unit" in t else "",
                   source=_join(t, "source"), period=_join(t, "period"))
    return f, layer


def _join(t: pd.DataFrame, col: str) -> str:
    if col not in t:
        return ""
    return ", ".join(sorted({str(x) for x in t[col].dropna() if str(x)}))


def _area_name(area: str | None) -> str:
    if area is None or str(area).upper() in ("PH", "NATIONAL"):
        return "Philippines"
    from migdata.areas import name

    return name(area)


def _oriented(ring: np.ndarray, ccw: bool) -> np.ndarray:
    x, y = ring[:, 0], ring[:, 1]
    area2 = float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))
    return ring if (area2 > 0) == ccw else ring[::-1]


def _rings(polys: list, holes: list | None = None) -> tuple[list[np.ndarray], float]:
    """The rings of an area, outlines counter-clockwise and holes clockwise (so matplotlib's
    non-zero fill leaves the holes empty), with ``holes`` (outlines of enclosed areas) cut
    out; and the area's size (for the draw order)."""
    out, size = [], 0.0
    for poly in polys:
        for j, ring in enumerate(poly):
            r = _oriented(ring, ccw=(j == 0))
            out.append(r)
            if j == 0:
                x, y = r[:, 0], r[:, 1]
                size += abs(float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))) / 2
    for poly in holes or []:
        out.append(_oriented(poly[0], ccw=False))
    return out, size


def _path(rings: list[np.ndarray]) -> Any:
    from matplotlib.path import Path

    codes = []
    for r in rings:
        c = np.full(len(r), Path.LINETO, dtype=Path.code_type)
        c[0], c[-1] = Path.MOVETO, Path.CLOSEPOLY
        codes.append(c)
    return Path(np.concatenate(rings), np.concatenate(codes))


def _enclosed(drawn: pd.DataFrame, level: str) -> dict[str, list]:
    """Outlines to cut out of each drawn area: a highly urbanised city that boundary files
    draw inside its geographic province (Lucena in Quezon) is a separate area at the
    province level, so the province is drawn around it, not under it."""
    if level != "province":
        return {}
    from migdata.areas.reference import index

    ix = index()
    codes = set(drawn["psgc"])
    cut: dict[str, list] = {}
    for code, lvl, geom in zip(drawn["psgc"], drawn["level"], drawn["geometry"]):
        row = ix.row(code)
        if lvl == "city" and row is not None and isinstance(row["stat_province"], str) \
                and row["stat_province"] != code and row["stat_province"] in codes:
            cut.setdefault(row["stat_province"], []).extend(geom)
    return cut


def choropleth(table: pd.DataFrame, indicator: str, level: str, area: str | None = None, *,
               category: str | None = None, by: Mapping[str, str] | None = None,
               boundaries: Any = None, k: int = 5, title: str | None = None,
               source: str | None = None, note: str | None = None, width: float = 7.5) -> Figure:
    """A choropleth map of ``indicator`` at ``level`` inside ``area`` (a PSGC code; None:
    the whole country) from a published indicator table (see the module docstring).

    ``boundaries``: None (shipped), a :class:`~migdata.areas.boundaries.Boundaries` or a file
    path. ``k``: number of classes. The map's areas are drawn as one
    :class:`~matplotlib.collections.PathCollection` (gid ``map-areas``; its
    ``area_codes`` attribute lists the PSGC code of each path in order) plus hatch overlays
    (gid ``map-suppressed`` and ``map-caution``, each with its ``area_codes``). Located
    boundary problems are in ``fig.migdata_problems`` (a DataFrame), the class breaks in
    ``fig.migdata_breaks``.
    """
    from matplotlib.collections import PathCollection
    from matplotlib.patches import Patch

    f, layer = map_values(table, indicator, level, area, category=category, by=by, boundaries=boundaries)
    meta = f.attrs
    measure, unit = meta["measure"], meta["unit"]
    vals = f["estimate"].to_numpy(dtype="float64")
    breaks = classify(vals, k)
    cls = class_of(vals, breaks)
    colors = palette(max(len(breaks) - 1, 1))
    one, many = LEVEL_WORDS[meta["level"]]
    where = _area_name(area)
    cat = f", {category}" if category else ""
    head = title or f"{meta['name']}{cat}, by {one}, {where}"
    has = f["geometry"].notna().to_numpy()
    drawn = f[has]
    dcls = cls[has]
    cut = _enclosed(drawn, meta["level"])
    rings = [_rings(g, cut.get(c)) for c, g in zip(drawn["psgc"], drawn["geometry"])]
    order = np.argsort([-size for _, size in rings], kind="stable")  # large first
    paths = [_path(rs) for rs, _ in rings]
    kinds = drawn["kind"].to_numpy()
    codes = drawn["psgc"].to_numpy()
    fills = np.array([colors[c] if kd in ("value", "caution") and c >= 0 else
                      (SUPPRESSED_FILL if kd == "suppressed" else NO_DATA)
                      for kd, c in zip(kinds, dcls)], dtype=object)
    with charts._rc():
        if rings:
            allv = np.concatenate([r for rs, _ in rings for r in rs])
            (x0, y0), (x1, y1) = allv.min(axis=0), allv.max(axis=0)
        else:
            x0, y0, x1, y1 = 0.0, 0.0, 1.0, 1.0
        span_x, span_y = (x1 - x0) or 1.0, (y1 - y0) or 1.0
        aspect = 1.0 / np.cos(np.radians((y0 + y1) / 2)) if layer.lonlat else 1.0
        map_w = width - 2.6
        height = float(np.clip(map_w * span_y * aspect / span_x + 1.5, 3.6, 9.0))
        fig = charts._new_figure(width, height)
        ax = fig.add_subplot()

        def collection(idx: np.ndarray, gid: str, **kw: Any) -> PathCollection:
            coll = PathCollection([paths[int(i)] for i in idx], transform=ax.transData, **kw)
            coll.set_gid(gid)
            coll.area_codes = [str(codes[int(i)]) for i in idx]  # type: ignore[attr-defined]
            ax.add_collection(coll, autolim=False)
            return coll

        collection(order, "map-areas", facecolors=list(fills[order]), edgecolors=EDGE, linewidths=0.4,
                   zorder=1)
        sup = order[kinds[order] == "suppressed"]
        if len(sup):
            collection(sup, "map-suppressed", facecolors="none", edgecolors="none", hatch=SUPPRESSED_HATCH,
                       hatchcolor="#000000", zorder=2)
        cau = order[kinds[order] == "caution"]
        if len(cau):
            hc = ["#ffffff" if luminance(fills[int(i)]) < 0.25 else "#000000" for i in cau]
            collection(cau, "map-caution", facecolors="none", edgecolors="none", hatch=CAUTION_HATCH,
                       hatchcolor=hc, zorder=2)
        ax.set_xlim(x0 - span_x * 0.02, x1 + span_x * 0.02)
        ax.set_ylim(y0 - span_y * 0.02, y1 + span_y * 0.02)
        ax.set_aspect(aspect)
        ax.set_axis_off()

        def fmt(v: float) -> str:
            return charts._fmt(v, measure)

        handles = []
        for j in range(len(colors) if len(breaks) else 0):
            members = vals[cls == j]
            if not members.size:
                continue
            lo, hi = fmt(float(members.min())), fmt(float(members.max()))
            handles.append(Patch(facecolor=colors[j], edgecolor=EDGE, linewidth=0.4,
                                 label=lo if lo == hi else f"{lo} – {hi}"))
        counts = f["kind"].value_counts()
        if counts.get("caution", 0):
            handles.append(Patch(facecolor="#ffffff", edgecolor=EDGE, linewidth=0.4, hatch=CAUTION_HATCH,
                                 label=f"Use with caution (CV 20-30%): {counts['caution']}"))
        if counts.get("suppressed", 0):
            handles.append(Patch(facecolor=SUPPRESSED_FILL, edgecolor=EDGE, linewidth=0.4,
                                 hatch=SUPPRESSED_HATCH,
                                 label=f"Suppressed (too few cases\nor unreliable): {counts['suppressed']}"))
        if counts.get("no_data", 0):
            handles.append(Patch(facecolor=NO_DATA, edgecolor=EDGE, linewidth=0.4,
                                 label=f"No data: {counts['no_data']}"))
        # a figure legend "outside": the constrained layout makes room for it beside the map
        # (a legend anchored to the axes would be pushed off a wide map once its aspect is set)
        leg = fig.legend(handles=handles, title=_legend_title(charts.unit_label(measure, unit)),
                         loc="outside right center", frameon=False, fontsize=8, title_fontsize=8.5,
                         alignment="left")
        leg.set_gid("map-legend")
        missing = f[~has]
        notes = [n for n in [note] if n]
        if len(missing):
            parts = [f"{r.name} ({_value_text(r, measure)})" for r in missing.itertuples()]
            notes.append(f"No boundary in the map file for {len(missing)} "
                         f"{one if len(missing) == 1 else many}: " + _clip(", ".join(parts), 300))
        chars = int(width * 15)
        src = _wrap_lines(_source_line(meta, source, layer), chars - 8)
        charts._finish(fig, ax, head, src, _wrap_lines("\n".join(notes), chars) or None)
        fig.set_label(_alt_text(f, meta, one, many, where, cat, measure))
        fig.migdata_problems = layer.problems  # type: ignore[attr-defined]
        fig.migdata_breaks = breaks  # type: ignore[attr-defined]
        return fig


def drawn_areas(fig: Figure) -> list[str]:
    """The PSGC codes of the areas a :func:`choropleth` drew with a shape (empty when the
    boundaries have none of them: the figure then holds only its legend and notes).

    Example:
        >>> from migdata.areas.boundaries import level_areas
        >>> ar = level_areas("city", "0403400000")
        >>> t = pd.DataFrame({"indicator_id": "HH02", "name": "OFW households", "area_level": "city",
        ...                   "area_code": ar["psgc"], "area_name": ar["name"], "estimate": 1.0, "measure": "%"})
        >>> len(drawn_areas(choropleth(t, "HH02", "city", "0403400000")))   # San Pedro has no shape
        29
    """
    for ax in fig.axes:
        for coll in ax.collections:
            if coll.get_gid() == "map-areas":
                return list(getattr(coll, "area_codes", []))
    return []


def _wrap_lines(text: str, width: int) -> str:
    import textwrap

    return "\n".join(w for line in text.split("\n") for w in (textwrap.wrap(line, width) or [""]))


def _legend_title(ulabel: str) -> str:
    return charts._wrap(ulabel[:1].upper() + ulabel[1:], 24) if ulabel else "Value"


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 3].rsplit(",", 1)[0] + ", ..."


def _value_text(r: Any, measure: str) -> str:
    if r.kind == "suppressed":
        return "suppressed"
    if r.kind == "no_data":
        return "no data"
    return charts._fmt(r.estimate, measure) + ("*" if r.kind == "caution" else "")


def _source_line(meta: Mapping[str, Any], source: str | None, layer: Any) -> str:
    from migdata.areas.boundaries import ATTRIBUTION, SHIPPED_SOURCE
    from migdata.areas.reference import release

    data = source or ", ".join(x for x in (meta.get("source"), meta.get("period")) if x) or "not stated"
    bnd = ATTRIBUTION if layer.source == SHIPPED_SOURCE else f"Boundaries: {layer.source}"
    return f"{data}. Areas: PSGC {release()}. {bnd}."


def _alt_text(f: pd.DataFrame, meta: Mapping[str, Any], one: str, many: str, where: str, cat: str,
              measure: str) -> str:
    shown = f[f["kind"].isin(["value", "caution"])].sort_values("estimate", kind="stable")
    parts = [f"Map: {meta['name']}{cat} ({meta['indicator']}), by {one}, {where}: {len(f)} {many}"]
    if len(shown):
        hi, lo = shown.iloc[-1], shown.iloc[0]
        parts.append(f"highest {hi['name']} ({charts._fmt(hi['estimate'], measure)}), "
                     f"lowest {lo['name']} ({charts._fmt(lo['estimate'], measure)})")
    counts = f["kind"].value_counts()
    for kind, words in (("caution", "to use with caution"), ("suppressed", "suppressed"),
                        ("no_data", "without data")):
        if counts.get(kind, 0):
            parts.append(f"{counts[kind]} {words}")
    nob = int(f["geometry"].isna().sum())
    if nob:
        parts.append(f"{nob} without a boundary")
    return "; ".join(parts) + "."


def area_bars(table: pd.DataFrame, indicator: str, level: str, area: str | None = None, *,
              category: str | None = None, by: Mapping[str, str] | None = None,
              title: str | None = None, source: str | None = None, top: int | None = 40) -> Figure:
    """The areas of ``level`` inside ``area`` with a publishable value, as bars sorted from the
    highest (values to use with caution marked ``*``); the note says how many areas are
    suppressed or have no data. Same selection as :func:`choropleth`, without boundaries.
    The alternative text (:func:`migdata.publish.charts.title`) starts with ``Bar chart:`` and
    says how many areas are shown, the highest and the lowest shown.
    ``top``: at most that many bars, the highest (None: all; a bar chart of hundreds of
    barangays is neither readable nor quick to draw: the map shows them all).

    Example:
        >>> from migdata.areas.boundaries import level_areas
        >>> ar = level_areas("city", "0403400000").head(3)
        >>> t = pd.DataFrame({"indicator_id": "HH02", "name": "OFW households", "area_level": "city",
        ...     "area_code": ar["psgc"], "area_name": ar["name"], "category": "",
        ...     "estimate": [5.0, 9.0, 1.0], "flag": "complete_count", "suppressed": [False, False, True],
        ...     "unit": "household", "measure": "%", "source": "CBMS", "period": "2022"})
        >>> fig = area_bars(t, "HH02", "city", "0403400000")
        >>> [x.get_text() for x in fig.axes[0].get_yticklabels()]   # the third is suppressed
        ['Bay', 'Alaminos']
    """
    f, _ = map_values(table, indicator, level, area, category=category, by=by, shapes=False)
    meta = f.attrs
    one, many = LEVEL_WORDS[meta["level"]]
    where = _area_name(area)
    cat = f", {category}" if category else ""
    pub = f[f["kind"].isin(["value", "caution"])].assign(
        flag=lambda d: np.where(d["kind"] == "caution", "caution", "reliable"), suppressed=False)
    counts = f["kind"].value_counts()
    hidden = [f"{counts[k]} {w}" for k, w in (("suppressed", "suppressed"), ("no_data", "without data"))
              if counts.get(k, 0)]
    shown = len(pub) if top is None else min(top, len(pub))
    note = (f"{shown} of {len(f)} {many} shown" + (f" (the {shown} highest of {len(pub)} with a value)"
                                                    if shown < len(pub) else "")
            + (f"; {', '.join(hidden)}" if hidden else ""))
    data_src = source or ", ".join(x for x in (meta.get("source"), meta.get("period")) if x) or "not stated"
    cols = ["name", "estimate", "flag", "suppressed"] + [c for c in ("ci_low", "ci_high") if c in pub]
    fig = charts.bar_chart(pub[cols], category="name", value="estimate",
                           title=title or f"{meta['name']}{cat}, {many} of {where}",
                           unit=charts.unit_label(meta["measure"], meta["unit"]) or "value", source=data_src,
                           ci=("ci_low", "ci_high") if "ci_low" in pub and _intervals(pub) else None,
                           note=note, top=top)
    alt = f"Bar chart: {meta['name']}{cat} ({meta['indicator']}), {many} of {where}: {note}"
    if len(pub):
        ranked = pub.sort_values("estimate", ascending=False, kind="stable")
        hi, lo = ranked.iloc[0], ranked.iloc[shown - 1]
        alt += (f"; highest {hi['name']} ({charts._fmt(hi['estimate'], meta['measure'])}), "
                f"lowest shown {lo['name']} ({charts._fmt(lo['estimate'], meta['measure'])})")
    fig.set_label(alt + ".")
    return fig


def load_table(source: str | Path, indicator: str | None = None, level: str = "city") -> pd.DataFrame:
    """A published indicator table from ``source``: a CSV written by
    :func:`migdata.publish.excel.write_csv` (``migdata indicators --csv``), or a dataset store
    or database folder, for which ``indicator`` is computed at ``level`` (and above) and
    published (:func:`migdata.compute`: disclosure control applied).

    Example:
        >>> t = load_table("indicators.csv")                           # doctest: +SKIP
        >>> t = load_table("store", indicator="HH01", level="barangay")   # doctest: +SKIP
    """
    path = Path(source)
    if path.is_file() and path.suffix.lower() == ".csv":
        from migdata.publish.excel import read_csv

        return read_csv(path)
    from migdata.model.database import open_path
    from migdata.publish.tables import compute

    return compute(open_path(path), ids=[indicator] if indicator else None, level=level, by=[])


def write_map(table: pd.DataFrame, out: str | Path, indicator: str, level: str, area: str | None = None, *,
              category: str | None = None, by: Mapping[str, str] | None = None, boundaries: Any = None,
              k: int = 5, bars: str | Path | None = None, dpi: int = 150) -> tuple[list[Path], pd.DataFrame]:
    """Draw the map (and with ``bars`` the sorted area bars) of one indicator and write it to
    ``out`` (PNG, SVG or PDF by the suffix, written atomically). Returns the files written and
    the located boundary problems (what ``migdata map`` prints).

    Example:
        >>> write_map(load_table("store", "HH01", "barangay"), "laguna.png", "HH01", "barangay",
        ...           "0403400000")                                    # doctest: +SKIP
    """
    from migdata.fileio import atomic_write

    fig = choropleth(table, indicator, level, area, category=category, by=by, boundaries=boundaries, k=k)
    paths = [atomic_write(out, lambda tmp: fig.savefig(tmp, dpi=dpi, facecolor="white"))]
    if bars is not None:
        bf = area_bars(table, indicator, level, area, category=category, by=by)
        paths.append(atomic_write(bars, lambda tmp: bf.savefig(tmp, dpi=dpi, facecolor="white")))
    return paths, fig.migdata_problems


def _intervals(t: pd.DataFrame) -> bool:
    lo = pd.to_numeric(t["ci_low"], errors="coerce")
    hi = pd.to_numeric(t["ci_high"], errors="coerce")
    return bool((hi > lo).any())


__all__ = ["area_bars", "choropleth", "classify", "class_of", "drawn_areas", "load_table", "luminance", "map_values",
           "palette", "write_map"]
