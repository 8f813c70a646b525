"""Charts for migration profiles, in one style that still reads when printed in greyscale.

Every function takes a tidy DataFrame (for example rows of the indicator table from
:func:`migdata.indicators.compute`: ``estimate``, ``ci_low``, ``ci_high``, ``flag``,
``suppressed`` ...) and returns a :class:`matplotlib.figure.Figure` with a title, the unit on
the value axis and a source line under the plot. Groups are told apart by hatching, markers
and shades of grey, never by colour alone.

Figures are built with :class:`matplotlib.figure.Figure` directly (not ``pyplot``) so that a
library call never opens a window, never touches global state and never leaks figures when
hundreds of charts are drawn in a batch; notebooks display them with ``display(fig)``.

Example:
    >>> import pandas as pd
    >>> t = pd.DataFrame({"country": ["Saudi Arabia", "UAE"], "estimate": [120, 80]})
    >>> fig = bar_chart(t, category="country", title="Where OFWs work", unit="persons",
    ...                 source="CBMS 2022")
    >>> fig.axes[0].get_title(loc="left")
    'Where OFWs work'
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from migdata.publish.units import unit_label

# Greyscale-safe palette: shades that differ in lightness, each paired with a hatch.
SHADES = ["#404040", "#a6a6a6", "#ffffff", "#707070", "#d9d9d9"]
HATCHES = ["", "///", "...", "xx", "\\\\\\"]
EDGE = "#000000"
FONT = {"font.size": 9, "axes.titlesize": 11, "axes.labelsize": 9, "xtick.labelsize": 8.5,
        "ytick.labelsize": 8.5, "legend.fontsize": 8.5, "hatch.linewidth": 0.6}

# How each reliability flag is drawn in the dot/interval plot. Keys are lower-cased flag
# values; the reliability module's own wording is matched by the first word we recognise.
FLAG_STYLES = {
    "reliable": dict(marker="o", facecolor="#000000", label="Reliable"),
    "complete": dict(marker="s", facecolor="#000000", label="Complete count (no sampling error)"),
    "caution": dict(marker="o", facecolor="#ffffff", label="Use with caution (CV 20-30%)"),
    "unreliable": dict(marker="^", facecolor="#ffffff", label="Unreliable: do not publish"),
    "suppressed": dict(marker="x", facecolor="#000000", label="Suppressed (too few cases)"),
}


def flag_kind(flag: object, suppressed: object = False) -> str:
    """Map a reliability flag (any wording) onto one of ``reliable``, ``complete`` (a complete
    count: no sampling error), ``caution``, ``unreliable`` or ``suppressed``.

    >>> flag_kind("Use with caution"), flag_kind(None), flag_kind("ok", suppressed=True)
    ('caution', 'reliable', 'suppressed')
    """
    if _truthy(suppressed):
        return "suppressed"
    text = "" if flag is None or (isinstance(flag, float) and np.isnan(flag)) else str(flag).lower()
    if "suppress" in text:
        return "suppressed"
    if "caution" in text:
        return "caution"
    if "unreliable" in text or "not reliable" in text or "do not" in text:
        return "unreliable"
    if "complete" in text:
        return "complete"
    return "reliable"


def _truthy(v: object) -> bool:
    try:
        return bool(v) and not pd.isna(v)
    except (TypeError, ValueError):
        return bool(v)


def _new_figure(width: float = 7.5, height: float = 4.2) -> Figure:
    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    fig.set_facecolor("white")
    return fig


def _finish(fig: Figure, ax, title: str, source: str, note: str | None = None) -> Figure:
    """Title on the axes, source (and note) line under the plot, quiet spines."""
    ax.set_title(_wrap(title, 70), loc="left", fontweight="bold")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    footer = f"Source: {source}" if source else "Source: not stated"
    if note:
        footer = f"{note}\n{footer}"
    # Reserve room under the axes for the footer (constrained layout ignores figure texts).
    height = fig.get_figheight()
    bottom = min(0.4, (0.12 + 0.15 * (footer.count("\n") + 1)) / height)
    fig.get_layout_engine().set(rect=(0, bottom, 1, 1 - bottom))
    fig.text(0.01, 0.012, footer, fontsize=7.5, color="#333333", ha="left", va="bottom",
             gid="source")
    return fig


def _legend_below(ax, ncols: int) -> None:
    # Under the x-axis label, inside the constrained layout, so it never covers data or footer.
    fig = ax.get_figure()
    axes_height = max(fig.get_figheight() - 1.8, 1.0)  # inches, roughly, before layout
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.55 / axes_height), ncols=max(ncols, 1),
              frameon=False)


def title(fig: Figure) -> str:
    """The alternative text of a chart made by this module: its title, or for a map (whose
    figure carries a longer description) that description, which starts with ``Map:``.

    >>> title(bar_chart(pd.DataFrame({"c": ["a"], "estimate": [1]}), category="c", title="T",
    ...                 unit="u", source="s"))
    'T'
    """
    alt = fig.get_label()
    if alt:
        return alt
    return fig.axes[0].get_title(loc="left").replace("\n", " ") if fig.axes else ""


def source_line(fig: Figure) -> str | None:
    """The source line written under a chart by this module (``None`` if there is none).

    >>> source_line(bar_chart(pd.DataFrame({"c": ["a"], "estimate": [1]}), category="c",
    ...             title="t", unit="u", source="CBMS")).endswith("Source: CBMS")
    True
    """
    for t in fig.texts:
        if t.get_gid() == "source":
            return t.get_text()
    return None


def _fmt(v: float, unit: str) -> str:
    if v is None or pd.isna(v):
        return ""
    if unit.strip().startswith("%"):
        return f"{v:.1f}%"
    return f"{v:,.0f}" if abs(v) >= 10 or float(v).is_integer() else f"{v:,.1f}"


def _rc():
    import matplotlib

    return matplotlib.rc_context(FONT)


def population_pyramid(overseas: pd.DataFrame, population: pd.DataFrame, *, title: str,
                       source: str, age: str = "age_group", sex: str = "sex",
                       value: str = "estimate", as_share: bool = True,
                       labels: Sequence[str] = ("Overseas Filipinos", "Household population"),
                       note: str | None = None, unit: str | None = None) -> Figure:
    """Population pyramid of overseas Filipinos by sex and age against the household population.

    ``overseas`` and ``population`` hold one row per (``age``, ``sex``) with ``value``; ``sex``
    uses the code list values ``male``/``female``. With ``as_share`` each group is shown as a
    percentage of its own total, so that the two shapes can be compared even though OFs are
    few: the household population is drawn as an outline, overseas Filipinos as hatched bars.
    Callers that compute their own shares (e.g. over a total that includes suppressed cells)
    pass ``as_share=False`` and name the ``unit``.

    Example:
        >>> ages = ["15-24", "25-34"]
        >>> of = pd.DataFrame({"age_group": ages * 2, "sex": ["male"] * 2 + ["female"] * 2,
        ...                    "estimate": [5, 20, 8, 30]})
        >>> pop = of.assign(estimate=[300, 250, 310, 240])
        >>> population_pyramid(of, pop, title="OFs by age", source="CBMS").axes[0].get_xlabel()
        'Percent of each group (male to the left, female to the right)'
    """
    order = _age_order(pd.concat([overseas[age], population[age]]))
    with _rc():
        fig = _new_figure(7.5, 0.32 * len(order) + 2.0)
        ax = fig.add_subplot()
        for i, (frame, lab) in enumerate(((population, labels[1]), (overseas, labels[0]))):
            tab = (frame.assign(**{age: frame[age].astype(str)})
                   .pivot_table(index=age, columns=sex, values=value, aggfunc="sum",
                                observed=False)
                   .reindex(index=order).reindex(columns=["male", "female"]).fillna(0.0))
            total = float(tab.to_numpy().sum())
            if as_share and total > 0:
                tab = tab / total * 100
            y = np.arange(len(order))
            if i == 0:  # household population: outline
                kw = dict(height=0.8, facecolor="none", edgecolor=EDGE, linewidth=1.0, label=lab)
            else:  # overseas Filipinos: hatched grey, narrower so the outline stays visible
                kw = dict(height=0.5, facecolor=SHADES[1], edgecolor=EDGE, hatch="///",
                          linewidth=0.6, label=lab)
            ax.barh(y, -tab["male"].to_numpy(), **kw)
            kw.pop("label")
            ax.barh(y, tab["female"].to_numpy(), **kw)
        ax.set_yticks(np.arange(len(order)), order)
        ax.axvline(0, color=EDGE, linewidth=0.8)
        lim = max(abs(v) for v in ax.get_xlim())
        ax.set_xlim(-lim, lim)
        ticks = ax.get_xticks()
        ax.set_xticks(ticks, [f"{abs(t):g}" for t in ticks])
        ax.set_xlim(-lim, lim)
        unit = unit or ("Percent of each group" if as_share else "Persons")
        ax.set_xlabel(f"{unit} (male to the left, female to the right)")
        ax.set_ylabel("Age group (years)")
        ax.text(0.02, 0.98, "Male", transform=ax.transAxes, ha="left", va="top", fontweight="bold")
        ax.text(0.98, 0.98, "Female", transform=ax.transAxes, ha="right", va="top",
                fontweight="bold")
        _legend_below(ax, ncols=2)
        return _finish(fig, ax, title, source, note)


def _age_order(ages: pd.Series) -> list[str]:
    if isinstance(ages.dtype, pd.CategoricalDtype):
        cats = [str(c) for c in ages.cat.categories if (ages == c).any()]
        if cats:
            return cats

    def lower(s: str) -> float:
        digits = "".join(ch if ch.isdigit() else " " for ch in s).split()
        return float(digits[0]) if digits else float("inf")

    return sorted({str(a) for a in ages.dropna()}, key=lower)


def bar_chart(table: pd.DataFrame, *, category: str, title: str, unit: str, source: str,
              value: str = "estimate", top: int | None = None, other_label: str | None = None,
              ci: tuple[str, str] | None = None, flag: str | None = "flag",
              note: str | None = None, sort: bool = True) -> Figure:
    """Horizontal bars of ``value`` by ``category`` (destinations, reasons, uses ...).

    ``top`` keeps the largest categories (the rest are summed into ``other_label`` when given).
    When the table has CI columns (``ci``) they are drawn as whiskers; flagged values are
    marked in the value label ("*" use with caution, "S" suppressed).

    Example:
        >>> t = pd.DataFrame({"country": list("abc"), "estimate": [3, 9, 1]})
        >>> [t.get_text() for t in bar_chart(t, category="country", title="x", unit="persons",
        ...  source="s").axes[0].get_yticklabels()]
        ['b', 'a', 'c']
    """
    t = table[[c for c in table.columns]].copy()
    t[category] = t[category].astype(str)
    kinds = [flag_kind(t[flag].iloc[i] if flag in t else None,
                       t["suppressed"].iloc[i] if "suppressed" in t else False)
             for i in range(len(t))]
    t["_kind"] = kinds
    t["_v"] = pd.to_numeric(t[value], errors="coerce").where(t["_kind"] != "suppressed")
    if sort:
        t = t.sort_values("_v", ascending=False, na_position="last", kind="stable")  # ties: input order
    if top is not None and len(t) > top:
        rest = t.iloc[top:]
        t = t.iloc[:top]
        if other_label:
            t = pd.concat([t, pd.DataFrame({category: [other_label], "_v": [rest["_v"].sum()],
                                            "_kind": ["reliable"]})], ignore_index=True)
    with _rc():
        fig = _new_figure(7.5, 0.34 * max(len(t), 2) + 1.9)
        ax = fig.add_subplot()
        y = np.arange(len(t))[::-1]
        vals = t["_v"].fillna(0).to_numpy(dtype=float)
        ax.barh(y, vals, height=0.65, color=SHADES[3], edgecolor=EDGE, linewidth=0.6)
        if ci is not None and ci[0] in t and ci[1] in t:
            lo = pd.to_numeric(t[ci[0]], errors="coerce").to_numpy(dtype=float)
            hi = pd.to_numeric(t[ci[1]], errors="coerce").to_numpy(dtype=float)
            ok = ~(np.isnan(lo) | np.isnan(hi) | np.isnan(t["_v"].to_numpy(dtype=float)))
            ax.errorbar(vals[ok], y[ok], xerr=[vals[ok] - lo[ok], hi[ok] - vals[ok]], fmt="none",
                        ecolor=EDGE, elinewidth=0.9, capsize=2.5)
        span = float(np.nanmax(vals)) if len(vals) and np.nanmax(vals) > 0 else 1.0
        for yi, v, k in zip(y, t["_v"], t["_kind"]):
            text = "S" if k == "suppressed" else _fmt(v, unit) + ("*" if k == "caution" else "")
            ax.text((0 if pd.isna(v) else v) + span * 0.01, yi, text, va="center", fontsize=8)
        ax.set_yticks(y, t[category].tolist())
        ax.set_xlim(0, span * 1.15)
        ax.set_xlabel(unit)
        marks = []
        if (t["_kind"] == "caution").any():
            marks.append("* use with caution")
        if (t["_kind"] == "suppressed").any():
            marks.append("S suppressed (too few cases)")
        full_note = "; ".join([n for n in [note, ", ".join(marks)] if n]) or None
        return _finish(fig, ax, title, source, full_note)


def comparison_chart(table: pd.DataFrame, *, measure: str, area: str = "area_name",
                     title: str, unit: str, source: str, value: str = "estimate",
                     ci: tuple[str, str] = ("ci_low", "ci_high"), flag: str = "flag",
                     note: str | None = None) -> Figure:
    """Grouped bars comparing areas (e.g. the area, its province and the region) on several
    measures, with confidence intervals as whiskers where the table has them.

    ``measure`` names the column whose values become the groups on the axis (e.g. an
    indicator name); ``area`` the column whose values become the bars within a group (in the
    order they first appear). Suppressed cells are drawn as an empty slot marked "S".

    Example:
        >>> t = pd.DataFrame({"name": ["HH with OFs"] * 2, "area_name": ["Laguna", "Region"],
        ...                   "estimate": [12.0, 10.5], "ci_low": [11.0, 10.0],
        ...                   "ci_high": [13.0, 11.0]})
        >>> len(comparison_chart(t, measure="name", title="t", unit="% of households",
        ...                      source="CBMS").axes[0].patches)
        2
    """
    t = table.copy()
    measures = list(dict.fromkeys(t[measure].astype(str)))
    areas = list(dict.fromkeys(t[area].astype(str)))
    width = 0.8 / max(len(areas), 1)
    with _rc():
        fig = _new_figure(7.5, max(3.2, 0.55 * len(measures) * max(len(areas), 1) * 0.45 + 2.2))
        ax = fig.add_subplot()
        marks = set()
        top = 0.0
        for j, a in enumerate(areas):
            sub = t[t[area].astype(str) == a].set_index(t[measure].astype(str)[t[area].astype(str) == a])
            ys, vs, los, his = [], [], [], []
            for i, m in enumerate(measures):
                y = len(measures) - 1 - i + (len(areas) - 1) / 2 * width - j * width
                if m not in sub.index:
                    continue
                row = sub.loc[m]
                if isinstance(row, pd.DataFrame):
                    row = row.iloc[0]
                kind = flag_kind(row.get(flag), row.get("suppressed", False))
                v = row.get(value)
                if kind == "suppressed" or v is None or pd.isna(v):
                    ax.text(0, y, " S", va="center", fontsize=8)
                    marks.add("S suppressed (too few cases)")
                    continue
                ys.append(y)
                vs.append(float(v))
                los.append(row.get(ci[0]))
                his.append(row.get(ci[1]))
                label = _fmt(float(v), unit) + ("*" if kind == "caution" else "")
                if kind == "caution":
                    marks.add("* use with caution")
                top = max(top, float(v), float(his[-1]) if _num(his[-1]) else 0.0)
                # the label sits past the whisker so that the two never overlap
                at = float(his[-1]) if _num(his[-1]) else float(v)
                ax.annotate(label, (at, y), xytext=(4, 0), textcoords="offset points",
                            va="center", fontsize=7.5)
            ax.barh(ys, vs, height=width * 0.92, color=SHADES[j % len(SHADES)],
                    hatch=HATCHES[j % len(HATCHES)], edgecolor=EDGE, linewidth=0.6, label=a)
            ok = [k for k in range(len(ys)) if _num(los[k]) and _num(his[k])
                  and float(his[k]) > float(los[k])]
            if ok:
                v_ok = np.array([vs[k] for k in ok])
                ax.errorbar(v_ok, [ys[k] for k in ok],
                            xerr=[v_ok - np.array([float(los[k]) for k in ok]),
                                  np.array([float(his[k]) for k in ok]) - v_ok],
                            fmt="none", ecolor=EDGE, elinewidth=0.9, capsize=2.5)
        ax.set_yticks(np.arange(len(measures))[::-1], [_wrap(m) for m in measures])
        ax.set_xlim(0, (top or 1.0) * 1.2)
        ax.set_xlabel(unit)
        _legend_below(ax, ncols=min(len(areas), 4))
        full_note = "; ".join([n for n in [note, ", ".join(sorted(marks))] if n]) or None
        if _has_intervals(t, ci):
            full_note = "; ".join([x for x in [full_note, "whiskers: 95% confidence interval"] if x])
        return _finish(fig, ax, title, source, full_note)


def _has_intervals(t: pd.DataFrame, ci: tuple[str, str]) -> bool:
    """True when some row has a real interval (complete counts have ci_low == ci_high)."""
    if ci[0] not in t or ci[1] not in t:
        return False
    lo = pd.to_numeric(t[ci[0]], errors="coerce")
    hi = pd.to_numeric(t[ci[1]], errors="coerce")
    return bool((hi > lo).any())


def _num(v: object) -> bool:
    try:
        return v is not None and not pd.isna(v) and np.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def _wrap(text: str, width: int = 28) -> str:
    words, lines, cur = text.split(), [], ""
    for w in words:
        if cur and len(cur) + len(w) + 1 > width:
            lines.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}".strip()
    lines.append(cur)
    return "\n".join(lines)


def remittance_uses(table: pd.DataFrame, *, category: str = "use", title: str, source: str,
                    value: str = "estimate", unit: str = "% of receiving households",
                    note: str | None = None) -> Figure:
    """Uses of remittances as horizontal bars (largest first); a thin wrapper of
    :func:`bar_chart` so that reports call it by name.

    Example:
        >>> t = pd.DataFrame({"use": ["Food", "Education"], "estimate": [80.0, 55.0]})
        >>> remittance_uses(t, title="Uses", source="Rider").axes[0].get_xlabel()
        '% of receiving households'
    """
    return bar_chart(table, category=category, value=value, title=title, unit=unit,
                     source=source, note=note)


def estimates_plot(table: pd.DataFrame, *, label: str, title: str, unit: str, source: str,
                   value: str = "estimate", ci: tuple[str, str] = ("ci_low", "ci_high"),
                   flag: str = "flag", note: str | None = None) -> Figure:
    """Dot-and-interval plot: one row per estimate, the dot's marker telling its reliability
    (filled: reliable; hollow: use with caution; triangle: unreliable; x: suppressed, drawn at
    the axis without a value) and the line its 95% confidence interval.

    Example:
        >>> t = pd.DataFrame({"label": ["Batangas", "Laguna"], "estimate": [8.1, 6.0],
        ...                   "ci_low": [7.0, 3.1], "ci_high": [9.2, 8.9],
        ...                   "flag": ["reliable", "caution"]})
        >>> estimates_plot(t, label="label", title="OF households", unit="%",
        ...                source="LFS").axes[0].get_legend() is not None
        True
    """
    t = table.reset_index(drop=True)
    with _rc():
        fig = _new_figure(7.5, 0.32 * max(len(t), 2) + 2.0)
        ax = fig.add_subplot()
        y = np.arange(len(t))[::-1]
        seen: set[str] = set()
        hi_all = [float(t[value].max()) if t[value].notna().any() else 1.0]
        for yi, (_, row) in zip(y, t.iterrows()):
            kind = flag_kind(row.get(flag), row.get("suppressed", False))
            style = FLAG_STYLES[kind]
            v = row.get(value)
            if kind != "suppressed" and _num(row.get(ci[0])) and _num(row.get(ci[1])) \
                    and float(row[ci[1]]) > float(row[ci[0]]):
                ax.hlines(yi, float(row[ci[0]]), float(row[ci[1]]), color=EDGE, linewidth=1.1)
                hi_all.append(float(row[ci[1]]))
            x = 0.0 if kind == "suppressed" or not _num(v) else float(v)
            edge = {} if style["marker"] == "x" else {"edgecolors": EDGE}
            ax.scatter([x], [yi], marker=style["marker"], s=36, zorder=3,
                       facecolors=style["facecolor"], linewidths=1.0,
                       label=None if kind in seen else style["label"], **edge)
            seen.add(kind)
        ax.set_yticks(y, [_wrap(str(s), 40) for s in t[label]])
        ax.set_xlim(0, max(hi_all) * 1.1 or 1.0)
        ax.set_xlabel(unit)
        ax.grid(axis="x", color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
        _legend_below(ax, ncols=min(len(seen), 2))
        ci_note = "lines: 95% confidence interval" if _has_intervals(t, ci) else None
        return _finish(fig, ax, title, source, "; ".join(x for x in [note, ci_note] if x) or None)


def save(fig: Figure, path: str, dpi: int = 150) -> None:
    """Write ``fig`` to ``path`` (format from the suffix: .png, .svg, .pdf)."""
    fig.savefig(path, dpi=dpi, facecolor="white")


def __getattr__(name: str):
    # Maps live in their own module (which uses this one); charts.choropleth etc. still work.
    if name in ("choropleth", "area_bars"):
        from migdata.publish import maps

        return getattr(maps, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__: Iterable[str] = ["population_pyramid", "bar_chart", "comparison_chart", "remittance_uses",
                          "estimates_plot", "choropleth", "area_bars", "flag_kind", "source_line",
                          "title", "unit_label", "save"]
