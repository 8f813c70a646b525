"""The migration profile report: run notebook 03 for one area and export it as HTML.

The report *is* a notebook (``03_migration_profile.ipynb``) so that a planning officer can open
it, read how every number was made and change it; :func:`render_report` runs it with papermill
(parameters ``dataset``, ``area``, ``output_dir``) and exports the result with nbconvert's
``HTMLExporter`` without code cells, prompts or warnings, so the reader sees text, tables and
charts only.

Where the notebooks live: the single copy is ``migdata/notebooks/*.ipynb`` (package data, so an
installed migdata can still render reports); the repository's top-level ``notebooks/`` holds
links to the same files for people who browse or open them in Jupyter.

Example:
    >>> from migdata.report import render_report
    >>> render_report("demo/store", "0403400000", "laguna.html")     # doctest: +SKIP
    PosixPath('laguna.html')
"""

from __future__ import annotations

import contextlib
import difflib
import os
import re
import sys
import tempfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Iterator

import pandas as pd

from migdata.areas.levels import COLUMN, LEVELS, NAMES, NATIONAL_CODE, NATIONAL_NAME
from migdata.fileio import atomic_write_text
from migdata.errors import MigdataError, UsageError

NOTEBOOKS = ("01_import_and_check.ipynb", "02_indicator_tables.ipynb",
             "03_migration_profile.ipynb")
PROFILE_NOTEBOOK = "03_migration_profile.ipynb"
# The household columns of the area levels, coarse to fine (the national level has none).
LEVEL_ORDER = LEVELS
LEVELS = tuple(COLUMN[lv] for lv in LEVEL_ORDER if COLUMN[lv])

from migdata.progress import Progress, as_progress
from migdata._kernels.parallel import map_in_threads
from migdata.model.partitions import Store


_MARKDOWN = re.compile(r"([\\`*_{}\[\]()+!|~>])")


def plain(text: object) -> str:
    """Text from data, profiles or manifests made inert for the report: HTML special characters
    escaped, Markdown punctuation backslashed and line breaks flattened, so a name or a label
    can never become a tag, a script, a link or a heading.

    >>> print(plain('<img src=x onerror=alert(1)> [x](javascript:y)'))
    &lt;img src=x onerror=alert\\(1\\)&gt; \\[x\\]\\(javascript:y\\)
    """
    import html

    return _MARKDOWN.sub(r"\\\1", html.escape(" ".join(str(text).split()), quote=False))


# --- notebooks ------------------------------------------------------------------------------
def notebook_dir() -> Path:
    """The folder holding the shipped notebooks (inside the installed package)."""
    return Path(str(resources.files("migdata") / "notebooks"))


def notebook_path(name: str) -> Path:
    """Path of a shipped notebook, e.g. ``notebook_path("03_migration_profile.ipynb")``."""
    candidates = [notebook_dir() / name, Path(__file__).resolve().parents[1] / "notebooks" / name]
    for c in candidates:
        if c.is_file():
            return c
    raise MigdataError("MD803", name=name, path=", ".join(str(c.parent) for c in candidates))


@contextlib.contextmanager
def _kernel_env() -> Iterator[None]:
    """Make the notebook kernel use this Python and this migdata.

    The ipykernel spec starts ``python`` from PATH, which may be another interpreter than the
    one running migdata (e.g. when migdata runs from a virtual environment that is not
    activated), and an uninstalled checkout is only importable from its own folder.
    """
    saved = {k: os.environ.get(k) for k in ("PATH", "PYTHONPATH", "MPLBACKEND")}
    pkg_parent = str(Path(__file__).resolve().parents[1])
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), saved["PATH"] or ""])
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in [pkg_parent, saved["PYTHONPATH"]] if p)
    os.environ.pop("MPLBACKEND", None)  # the kernel's inline backend, not the caller's
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_notebook(name: str | Path, parameters: dict[str, Any], *, out_ipynb: Path | None = None,
                 cwd: Path | None = None, timeout: int | None = 1800,
                 dataset: str | Path | None = None, progress: Any = None) -> Any:
    """Execute a notebook with papermill and return the executed notebook (nbformat node).

    ``progress`` hears ``("running <notebook>", cells done, cells)`` as cells finish
    (:mod:`migdata.progress`; a bar with the time left on the command line).

    An error in any cell becomes a :class:`~migdata.errors.MigdataError` (MD804) naming the cell
    and the error, not a Python traceback.

    Example:
        >>> nb = run_notebook("02_indicator_tables.ipynb", {"dataset": "store"})  # doctest: +SKIP
    """
    try:
        import papermill as pm
        from papermill.exceptions import PapermillExecutionError
    except ImportError:
        raise MigdataError("MD805", what="papermill") from None
    src = Path(name) if Path(name).is_file() else notebook_path(str(name))
    with tempfile.TemporaryDirectory(prefix="migdata-nb-") as tmp:
        out = Path(out_ipynb) if out_ipynb is not None else Path(tmp) / src.name
        from migdata.cell_progress import engine_name

        try:
            with _kernel_env():
                nb = pm.execute_notebook(str(src), str(out), parameters=parameters,
                                         cwd=str(cwd or tmp), progress_bar=False,
                                         engine_name=engine_name(), cell_progress=progress,
                                         cell_message=f"running {src.name}",
                                         log_output=False, execution_timeout=timeout,
                                         kernel_name="python3",
                                         # ipykernel 7 logs a TCP warning and a shutdown
                                         # "KeyboardInterrupt" on every run
                                         extra_arguments=["--IPKernelApp.log_level=CRITICAL"])
        except PapermillExecutionError as exc:
            detail = f"{exc.ename}: {_plain(exc.evalue)}"
            raise MigdataError("MD804", name=src.name, cell=exc.exec_count, detail=detail,
                               dataset=dataset or parameters.get("dataset", "?")) from None
    return nb


def _plain(text: str) -> str:
    """Error text without terminal colour codes."""
    return re.sub(r"\x1b\[[0-9;]*m", "", str(text)).strip()


def to_html(nb: Any, out_html: str | Path, title: str) -> Path:
    """Export an executed notebook to one self-contained HTML file without code cells.

    Cells tagged ``remove_cell`` and stderr output (warnings) are left out too: the reader of a
    report is a planning officer, not the analyst who ran it.
    """
    try:
        import nbformat
        from nbconvert import HTMLExporter
        from traitlets.config import Config
    except ImportError:
        raise MigdataError("MD805", what="nbconvert") from None
    nb = nbformat.from_dict(nb)
    for cell in nb.cells:
        if cell.get("cell_type") == "code":
            cell["outputs"] = [o for o in cell.get("outputs", [])
                               if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
    nb.metadata["title"] = title
    c = Config()
    c.TagRemovePreprocessor.remove_cell_tags = ("remove_cell", "parameters", "injected-parameters")
    c.TagRemovePreprocessor.enabled = True
    exporter = HTMLExporter(config=c, exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    return _atomic_write(Path(out_html), body)


def _atomic_write(path: Path, text: str) -> Path:
    return atomic_write_text(path, text)


# --- areas ----------------------------------------------------------------------------------
@dataclass
class Area:
    """An area of a dataset: its code, level, name and the codes of the areas above it."""

    code: str
    level: str
    name: str
    parents: dict[str, str] = field(default_factory=dict)
    parent_names: dict[str, str] = field(default_factory=dict)

    @property
    def level_name(self) -> str:
        return NAMES[COMPUTE_LEVEL[self.level]]

    @property
    def label(self) -> str:
        """E.g. ``Laguna (province, PSGC 0403400000)``."""
        return f"{self.name} ({self.level_name}, PSGC {self.code})"


def area_name(code: str) -> str | None:
    """The PSGC name of ``code`` from :mod:`migdata.areas`, or None when unknown/unavailable."""
    try:
        from migdata import areas
        return str(areas.name(code))
    except Exception:  # an unknown code or a missing areas module: the caller falls back
        return None


def _area_suggestions(value: str, codes: list[str], n: int = 5) -> list[str]:
    """Close matches for ``value`` among ``codes`` (and among PSGC names if ``value`` is text)."""
    out: list[str] = []
    if not value.isdigit():
        try:
            from migdata import areas
            found = areas.search(value)
            if isinstance(found, pd.DataFrame):
                code_col = "code" if "code" in found else found.columns[0]
                found = found[code_col].astype(str).tolist()
            out = [str(c) for c in list(found)[:n]]
        except Exception:
            out = []
        names = {c: area_name(c) or "" for c in codes}
        by_name = difflib.get_close_matches(value.lower(), [v.lower() for v in names.values()], n, 0.6)
        out += [c for c, nm in names.items() if nm.lower() in by_name]
    else:
        out = _close_codes(value, codes, n)
    seen = list(dict.fromkeys(out))[:n]
    return [f"{c} {area_name(c) or ''}".strip() for c in seen]


def _close_codes(value: str, codes: list[str], n: int) -> list[str]:
    """Codes nearest to ``value``: longest shared prefix first (PSGC codes are hierarchical, so
    a shared prefix means the same region/province/city), then fewest differing digits.

    >>> _close_codes("0403400001", ["0403401000", "0403400000", "0401000000"], 2)
    ['0403400000', '0403401000']
    """
    def prefix(c: str) -> int:
        k = 0
        for a, b in zip(value, c):
            if a != b:
                break
            k += 1
        return k

    def digits_apart(c: str) -> int:
        return sum(a != b for a, b in zip(value.ljust(10), c)) + abs(len(value) - len(c))

    ranked = sorted(codes, key=lambda c: (-prefix(c), digits_apart(c), c))
    return [c for c in ranked[:n] if prefix(c) >= 2 or digits_apart(c) <= 3]


def _suggest_text(s: list[str]) -> str:
    return f" (close matches: {', '.join(s)})" if s else ""


def resolve_area(households: pd.DataFrame, area: str, dataset: str | Path = "the dataset") -> Area:
    """Check that ``area`` is a 10-digit PSGC code with households in the dataset and return its
    level, name and parents; otherwise a :class:`UsageError` that suggests close matches.

    Example:
        >>> hh = pd.DataFrame({"region": ["0400000000"], "province": ["0403400000"],
        ...                    "city_mun": ["0403405000"], "barangay": ["0403405001"]})
        >>> resolve_area(hh, "0403400000").level
        'province'
    """
    value = str(area).strip()
    if value.upper() in (NATIONAL_CODE, "NATIONAL"):  # the whole country (every region of the data)
        return Area(NATIONAL_CODE, "national", NATIONAL_NAME)
    levels = [lv for lv in LEVELS if lv in households.columns]
    present = {lv: set(households[lv].dropna().astype(str).unique()) for lv in levels}
    all_codes = sorted(set().union(*present.values())) if present else []
    if not re.fullmatch(r"\d{10}", value):
        raise UsageError("MD801", value=value,
                         suggestions=_suggest_text(_area_suggestions(value, all_codes)))
    for lv in levels:
        if value in present[lv]:
            row = households.loc[households[lv].astype(str) == value].iloc[0]
            parents = {p: str(row[p]) for p in levels[:levels.index(lv)] if pd.notna(row[p])}
            name = area_name(value) or value
            return Area(value, lv, name, parents,
                        {p: area_name(c) or c for p, c in parents.items()})
    nm = area_name(value)
    sugg = _suggest_text(_area_suggestions(value, all_codes))
    if nm is None and _psgc_available():
        raise UsageError("MD810", value=value, suggestions=sugg)
    raise UsageError("MD802", value=value, name=f" ({nm})" if nm else "", dataset=dataset,
                     suggestions=sugg)


def _psgc_available() -> bool:
    try:
        from migdata import areas
        return bool(areas.name("0400000000"))
    except Exception:
        return False


# --- the numbers of a profile ----------------------------------------------------------------
#: Indicators of the profile (DOMAIN.md §3 catalogue ids), computed once per report.
PROFILE_IDS = ["DM01", "DM02", "OF01", "OF02", "OF03", "OF05", "HH01", "HH02", "RM01", "RM02", "RM03", "RM08",
               "IM01", "IM04", "IM05", "RT01", "CL01", "CL02"]
#: Indicators a database profile adds from its survey streams (overseas Filipinos, children left
#: behind, the CBMS rider): each is shown from the stream that has it.
STREAM_IDS = ["OF08", "OF09", "RM06", "RM07", "RM09", "RM11", "BU01", "BU03", "SD01", "EM03",
              "OS01", "OS02", "OS03", "OS04", "OS05", "OS06", "OS07", "OS08",
              "CL03", "CL04", "CL05", "CL06", "CL07"]
#: Indicators shown by sex, age group and parent abroad (the pyramid and the children's schooling).
DETAIL_IDS = ["OF01", "DM03", "ED01"]
#: The headline table: indicator -> the label readers see.
HEADLINE = {"DM02": "Households",
            "DM01": "Household population (all ages, overseas members included)",
            "OF01": "Overseas Filipinos (15 years and over)",
            "OF02": "Overseas Filipino workers (OFWs)",
            "OF03": "OFWs per 100 household members aged 15 and over",
            "HH01": "Households with an overseas Filipino member",
            "RM01": "Households receiving cash from abroad",
            "RM02": "Cash received from abroad in the past 12 months",
            "IM01": "Persons 5+ who lived elsewhere 5 years ago (in-movers)",
            "RT01": "Return migrants 15+ (proxy)",
            "CL01": "Children 0-17 with a parent abroad"}
TOTAL, NOT_STATED = "Total", "not stated"
#: Indicators mapped for the areas one level down (section 4): a map and sorted bars of each.
MAP_IDS = ["HH01", "RM01"]
#: Indicators compared across the area, its province and the region.
COMPARE_IDS = ["HH01", "HH02", "RM01"]
COMPUTE_LEVEL = {"national": "national", "region": "region", "province": "province", "city_mun": "city",
                 "barangay": "barangay"}
FINER = {"national": "region", "region": "province", "province": "city", "city": "barangay", "barangay": "barangay"}
#: Streams in the order a section looks for its numbers (the CBMS count first, then the surveys).
STREAM_ORDER = ("cbms", "cbms_rider", "of_survey", "clb_survey", "census", "lfs", "sample_survey")
#: Words for the streams of a database.
STREAM_NAMES = {"cbms": "CBMS (complete count)", "cbms_rider": "CBMS migration rider",
                "of_survey": "survey of overseas Filipinos", "clb_survey": "survey of children left behind",
                "lfs": "Labor Force Survey", "sample_survey": "sample survey", "census": "census"}
FIVE_YEAR_15 = [15, 20, 25, 30, 35, 40, 45, 50, 55, 60]
BROAD_15 = [15, 25, 35, 45, 55, 65]
SHORT_COUNTRY = {"ARE": "United Arab Emirates", "GBR": "United Kingdom", "USA": "United States",
                 "HKG": "Hong Kong SAR", "KOR": "South Korea", "PRK": "North Korea", "TWN": "Taiwan",
                 "MAC": "Macao SAR", "RUS": "Russia", "IRN": "Iran", "VNM": "Viet Nam",
                 "CHN": "China", "SYR": "Syria", "LAO": "Laos", "BOL": "Bolivia",
                 "VEN": "Venezuela", "TZA": "Tanzania", "MDA": "Moldova", "PSE": "Palestine"}
SMALL = {"And", "Of", "The", "Da", "De"}


def country_name(iso3: str) -> str:
    """A short English name for an ISO 3166 alpha-3 code (from the CBMS country list).

    >>> country_name("SAU"), country_name("HKG"), country_name("not stated")
    ('Saudi Arabia', 'Hong Kong SAR', 'Not stated')
    """
    code = str(iso3)
    if code in SHORT_COUNTRY:
        return SHORT_COUNTRY[code]
    names = _country_names()
    if code in names:
        return names[code]
    return code[:1].upper() + code[1:]


def _country_names() -> dict[str, str]:
    global _COUNTRIES
    if _COUNTRIES is None:
        path = resources.files("migdata.profiles") / "cbms_countries.csv"
        df = pd.read_csv(str(path), dtype=str)
        df = df[df["iso3"].notna() & (df["match"] == "iso_name")]
        _COUNTRIES = {r.iso3: " ".join(w if i == 0 or w not in SMALL else w.lower()
                                       for i, w in enumerate(str(r.cbms_label).title().split()))
                      for r in df.itertuples()}
    return _COUNTRIES


_COUNTRIES: dict[str, str] | None = None


def fmt_value(row: pd.Series | dict) -> str:
    """An estimate as text: ``12.3%``, ``1,234``, ``PHP 9,778,900``; ``S`` when suppressed;
    ``12.3%*`` when it is to be used with caution.

    >>> fmt_value({"estimate": 9.7372, "measure": "%", "flag": "complete_count"})
    '9.7%'
    >>> fmt_value({"estimate": 61.0, "measure": "persons", "flag": "caution"})
    '61*'
    """
    r = dict(row)
    if _truthy(r.get("suppressed")) or str(r.get("flag")) == "suppress":
        return "S"
    v = r.get("estimate")
    if v is None or pd.isna(v):
        return "–"
    measure = str(r.get("measure") or "")
    if measure == "%":
        text = f"{v:.1f}%"
    elif measure.startswith("PHP"):
        text = f"PHP {v:,.0f}"
    elif measure in ("months", "ratio"):
        text = f"{v:,.1f}"
    else:
        text = f"{v:,.0f}"
    return text + ("*" if str(r.get("flag")) == "caution" else "")


def _truthy(v: object) -> bool:
    try:
        return bool(v) and not pd.isna(v)
    except (TypeError, ValueError):
        return bool(v)


def fmt_ci(row: pd.Series | dict) -> str:
    """The 95% confidence interval as text, or why there is none."""
    r = dict(row)
    if str(r.get("flag")) == "complete_count":
        return "complete count: no sampling error"
    if _truthy(r.get("suppressed")) or r.get("ci_low") is None or pd.isna(r.get("ci_low")):
        return "–"
    pct = str(r.get("measure")) == "%"
    f = (lambda v: f"{v:.1f}%") if pct else (lambda v: f"{v:,.0f}")
    return f"{f(r['ci_low'])} to {f(r['ci_high'])}"


def fmt_reliability(row: pd.Series | dict, k: int = 3) -> str:
    """Plain words for a row's reliability flag and suppression (``k``: the disclosure threshold
    of the table the row comes from)."""
    r = dict(row)
    flag = str(r.get("flag"))
    if _truthy(r.get("suppressed")):
        why = str(r.get("suppression") or "")
        if why == "reliability" or flag == "suppress":
            return "suppressed: too unreliable to publish"
        # complete counts: a median or ratio whose published base is below k + D, or 0
        return "suppressed: too few cases to show"
    cv = r.get("cv")
    cv_text = f" (CV {100 * float(cv):.0f}%)" if cv is not None and pd.notna(cv) else ""
    return {"complete_count": "complete count", "publish": f"reliable{cv_text}",
            "caution": f"use with caution{cv_text}"}.get(flag, flag)


def collapse(rows: pd.DataFrame, label: str, top: int, other: str) -> pd.DataFrame:
    """The ``top`` largest rows that can be shown, then one row ``other`` holding the rest.

    The rest is the total (100% for shares, the universe count ``n`` for counts) minus the rows
    shown, so it includes every suppressed cell. It is computed from published values only (for
    complete counts, the perturbed shares of the cell-key method), so it reveals nothing the
    table does not.

    >>> t = pd.DataFrame({"c": list("abcd"), "estimate": [50.0, 30.0, 15.0, 5.0], "n": 20,
    ...                   "measure": "%", "suppressed": [False, False, True, True], "flag": ""})
    >>> collapse(t, "c", 5, "other")[["c", "estimate"]].values.tolist()
    [['a', 50.0], ['b', 30.0], ['other', 20.0]]
    >>> len(collapse(t.assign(suppressed=True), "c", 5, "other"))
    0
    """
    shown = rows[~rows["suppressed"].astype(bool) & (rows["estimate"] > 0)]
    shown = shown.sort_values("estimate", ascending=False).head(top)
    if shown.empty:  # everything hidden: a lone "all others" bar would say nothing
        return shown
    pct = str(rows["measure"].iloc[0]) == "%"
    total = 100.0 if pct else float(rows["n"].iloc[0])
    rest = total - float(shown["estimate"].sum())
    if rest > 1e-9:
        extra = shown.iloc[:0].copy()
        base = rows.iloc[0].to_dict()
        base.update({label: other, "estimate": rest, "suppressed": False, "suppression": "",
                     "se": float("nan"), "ci_low": float("nan"), "ci_high": float("nan"),
                     "category": other})
        extra = pd.DataFrame([base])
        shown = pd.concat([shown, extra], ignore_index=True)
    return shown


class MigrationProfile:
    """The numbers of one area's migration profile: rows of published indicator tables.

    The report estimates nothing and protects nothing itself: :meth:`from_dataset` computes the
    tables it needs with :func:`migdata.compute` (the same call, design and disclosure control
    as the workbook) on the *whole* dataset, so the area's figures are domain estimates of the
    full design; every method then selects and labels rows of those tables.

    Example:
        >>> p = MigrationProfile.from_dataset(migdata.load("store"), "0403400000")   # doctest: +SKIP

    A partitioned store (``migdata.load(store, lazy=True)``, a
    :class:`~migdata.model.partitions.Store`) gives the same tables without loading it: the area
    is found in its own partitions, and every table is reduced from the partitions' cell sums,
    which are computed once and kept in the store (:func:`migdata.model.partitions.cached`).
        >>> p.headline()                                                     # doctest: +SKIP
    """

    def __init__(self, tables: dict[str, pd.DataFrame], area: Area, provenance: Any, report: Any,
                 k: int = 3, sources: list[dict[str, Any]] | None = None, links: pd.DataFrame | None = None) -> None:
        self.tables = tables
        self.sources = sources or []
        self.links = links if links is not None else pd.DataFrame()
        self.area = area
        self.provenance = provenance
        self.report = report
        self.k = k
        self.level = COMPUTE_LEVEL[area.level]
        self.complete = bool(provenance.complete_count)
        # the tables' attributes (not-computable list, notes) are kept apart: pandas compares
        # attrs when sections concatenate rows, and these hold DataFrames
        self.meta = {name: dict(t.attrs) for name, t in tables.items()}
        for t in tables.values():
            t.attrs = {}
        self.table = tables["main"]
        self.not_computable = self.meta["main"].get("not_computable", pd.DataFrame())
        self.rows = self.table[self.table["area_code"] == area.code]
        if self.rows.empty:
            lv = sorted(set(self.table["area_level"].astype(str)))
            raise UsageError("MD809", value=area.code, name=area.name, levels=", ".join(lv) or "none",
                             notes=" ".join(self.meta["main"].get("notes", [])) or "no rows")
        self.chain = [area.code, *reversed(list(area.parents.values()))]
        self.detail = tables["detail"]
        self.age_scheme = self.meta["detail"].get("age_scheme", BROAD_15)

    @classmethod
    def from_dataset(cls, data: Any, area: str | Area, k: int = 3) -> "MigrationProfile":
        """Compute the profile's tables for ``area`` from ``data``: a dataset, or a local migration
        database (every stream: each section then draws on the stream that has it)."""
        from migdata.model.database import Database
        from migdata.publish.tables import compute

        db = data if isinstance(data, Database) else None
        base = data if db is None else db.dataset(_base_stream(db))
        a = area if isinstance(area, Area) else resolve_area(_area_table(base, area), area)
        _check_design_domain(base.provenance, a)
        level = COMPUTE_LEVEL[a.level]
        ids = PROFILE_IDS + (STREAM_IDS if db is not None else [])
        # An area of a partitioned complete count is computed from its own partitions; the areas
        # above it (comparisons) from the store's area summaries (:func:`area_summaries`).
        local = _area_store(data, a)
        # One call at the level below the area gives the area, the areas above it (comparisons)
        # and the areas below it (the sub-area chart): every higher level comes with it.
        scheme = FIVE_YEAR_15 if a.level in ("national", "region", "province") else BROAD_15
        by = ["sex", "age_group", "parent_abroad"]
        jobs = [lambda: compute(local, ids=ids, level=FINER[level], by=[], k=k),
                lambda: compute(local, ids=DETAIL_IDS, level=level, by=by, age_scheme=scheme, k=k)]
        # two tables of one store side by side: each reads its partitions on its own (a dataset in
        # memory may cache its frames, so it is computed one table after the other)
        main, detail = map_in_threads(lambda job: job(), jobs, parallel=isinstance(local, Store))
        if local is not data:
            main = _with_areas_above(main, area_summaries(data, k=k), local.levels[-1])
        detail = _area_rows(detail, a.code)
        of = detail[(detail["indicator_id"] == "OF01") & (detail["parent_abroad"] == TOTAL)
                    & ~detail["sex"].isin([TOTAL]) & ~detail["age_group"].isin([TOTAL])]
        if scheme != BROAD_15 and len(of) and of["suppressed"].astype(bool).mean() > 1 / 3:
            # too many hidden cells in five-year groups: broad groups read better
            scheme = BROAD_15
            detail = _area_rows(compute(local, ids=DETAIL_IDS, level=level, by=by, age_scheme=scheme, k=k), a.code)
        detail.attrs["age_scheme"] = scheme
        sources = ([{"stream": e["stream"], "round": e.get("round"), "design": e.get("design", ""),
                     "complete_count": e.get("complete_count", False)} for e in db.datasets()] if db is not None
                   else [{"stream": base.provenance.stream or "data", "round": base.provenance.period,
                          "design": base.spec.describe(), "complete_count": base.complete_count}])
        links = db.link_report() if db is not None else pd.DataFrame()
        return cls({"main": main, "detail": detail}, a, base.provenance, base.report, k=k, sources=sources,
                   links=links)

    # -- helpers --------------------------------------------------------------------------------
    def data_used(self) -> list[str]:
        """The streams and rounds behind the numbers, one entry per dataset, for the report's
        first page, e.g. ``["CBMS (complete count) 2022", "survey of overseas Filipinos 2026
        (sample survey)"]``. They come from profiles and manifests: pass each through
        :func:`plain` before it goes into Markdown or HTML."""
        if len(self.sources) > 1:
            return [_source_words(e) for e in self.sources]
        prov = self.provenance
        kind = "complete count" if self.complete else "sample survey, weighted estimates"
        return [f"{prov.label} ({kind}); migdata dataset {prov.dataset_id[:8]}"]

    @property
    def source(self) -> str:
        """:meth:`data_used` as one line, for chart source lines (pass it through :func:`plain`
        before Markdown or HTML)."""
        return "; ".join(self.data_used())

    def source_of(self, ind: str) -> str:
        """The source line of a chart of ``ind`` alone: in a database profile the stream and
        round it is taken from (:meth:`stream_of`), else :attr:`source`."""
        stream = self.stream_of(ind)
        words = [_source_words(e) for e in self.sources if e["stream"] == stream] if len(self.sources) > 1 else []
        return "; ".join(words) or self.source

    @property
    def below(self) -> str | None:
        """The level of the areas one level down that the report maps (a region's provinces, a
        province's cities/municipalities ...); None for a barangay."""
        below = FINER[self.level]
        return None if below == self.level else below

    @property
    def map_area(self) -> str | None:
        """The area the maps are drawn inside: the report's area, None for the whole country."""
        return None if self.level == "national" else self.area.code

    def stream_of(self, ind: str) -> str | None:
        """The stream a section takes indicator ``ind`` from: the first in :data:`STREAM_ORDER`
        that has it (None in a one-dataset profile)."""
        t = self.table
        if "stream" not in t.columns:
            return None
        have = set(t.loc[t["indicator_id"] == ind, "stream"].astype(str))
        return next((s for s in (*STREAM_ORDER, *sorted(have)) if s in have), None)

    def _select(self, t: pd.DataFrame, ind: str) -> pd.Series:
        m = t["indicator_id"] == ind
        stream = self.stream_of(ind)
        if stream is not None:
            m &= t["stream"].astype(str) == stream
        return m

    def alongside(self, ind: str) -> pd.DataFrame:
        """The area's rows of ``ind`` from every stream that measures it (e.g. OFWs counted by
        CBMS and estimated by a survey), each with its own precision."""
        t = self.table
        return t[(t["indicator_id"] == ind) & (t["area_code"] == self.area.code)].copy()

    def get(self, ind: str, code: str | None = None, category: str | None = None) -> pd.Series | None:
        """One row of the indicator table (the area's own by default)."""
        t = self.table
        m = self._select(t, ind) & (t["area_code"] == (code or self.area.code))
        if category is not None:
            m &= t["category"].astype(str) == category
        sub = t[m]
        return None if sub.empty else sub.iloc[0]

    def available(self, ind: str) -> bool:
        return bool((self.table["indicator_id"] == ind).any())

    def reason(self, ind: str) -> str:
        nc = self.not_computable
        if isinstance(nc, pd.DataFrame) and len(nc) and ind in set(nc["indicator_id"]):
            return str(nc.loc[nc["indicator_id"] == ind, "reason"].iloc[0])
        return "no data for this area"

    def _own(self, ind: str) -> pd.DataFrame:
        t = self.table
        return t[self._select(t, ind) & (t["area_code"] == self.area.code)].copy()

    # -- sections -----------------------------------------------------------------------------
    def headline(self) -> pd.DataFrame:
        """The headline numbers of the area with their reliability."""
        rows = []
        for ind, label in HEADLINE.items():
            r = self.get(ind)
            if r is None:
                continue
            rows.append({"Measure": label, "Value": fmt_value(r), "95% CI": fmt_ci(r),
                         "Reliability": fmt_reliability(r, self.k),
                         "Based on (records)": f"{int(r['n']):,}" if pd.notna(r["n"]) else "–"})
        out = pd.DataFrame(rows)
        # A complete count has no interval: one sentence in the reading guide says so.
        return out.drop(columns="95% CI") if self.complete and len(out) else out

    def pyramid(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Overseas Filipinos (OF01) and the household population 15+ (DM03) by sex and age group,
        each as a percentage of its own total (OFs: of *all* OFs, hidden cells included, so a
        hidden cell never inflates the others). Five-year groups for regions and provinces, broad
        groups below or when more than a third of the OF cells would be hidden."""
        from migdata.model.agegroups import age_group

        order = list(age_group([self.age_scheme[0]], self.age_scheme).cat.categories)
        out = []
        for ind in ("OF01", "DM03"):
            t = self.detail[(self.detail["indicator_id"] == ind) & (self.detail["parent_abroad"] == TOTAL)]
            tot = t[(t["sex"] == TOTAL) & (t["age_group"] == TOTAL)]["estimate"]
            total = float(tot.iloc[0]) if len(tot) else float("nan")
            g = t[~t["sex"].isin([TOTAL, NOT_STATED]) & ~t["age_group"].isin([TOTAL, NOT_STATED])].copy()
            g["count"] = g["estimate"]
            g["estimate"] = 100 * g["estimate"] / total if total else float("nan")
            g.loc[g["suppressed"].astype(bool), ["estimate", "count"]] = float("nan")
            g["sex"] = g["sex"].astype(str)
            g["age_group"] = pd.Categorical(g["age_group"].astype(str), order, ordered=True)
            out.append(g)
        return out[0], out[1]

    def of_total(self) -> float:
        """Overseas Filipinos in the area (OF01), 0 when unknown or hidden."""
        r = self.get("OF01")
        if r is None or _truthy(r["suppressed"]) or pd.isna(r["estimate"]):
            return 0.0
        return float(r["estimate"])

    def destinations(self, top: int = 10) -> pd.DataFrame:
        """OFWs by country (OF05) for the area: the ``top`` countries that can be shown, largest
        first, then "All other countries" (the rest, hidden cells included)."""
        r = self._own("OF05")
        r["country"] = r["category"].map(country_name)
        return collapse(r, "country", top, "All other countries")

    def comparison(self) -> pd.DataFrame:
        """Household indicators for the area and every area above it (region last)."""
        t = self.table
        keep = pd.Series(False, index=t.index)
        for ind in COMPARE_IDS:
            keep |= self._select(t, ind)
        t = t[keep & t["area_code"].isin(self.chain)].copy()
        # plain integers: a categorical's map would sort by its categories' order
        t["rank"] = t["area_code"].astype(str).map({c: i for i, c in enumerate(self.chain)}).astype(int)
        t["order"] = t["indicator_id"].astype(str).map({c: i for i, c in enumerate(COMPARE_IDS)}).astype(int)
        return t.sort_values(["order", "rank"]).drop(columns=["rank", "order"])

    def sub_areas(self, ind: str = "HH01") -> pd.DataFrame:
        """``ind`` for the areas one level down (e.g. the provinces of a region)."""
        below = self.below
        if below is None:
            return self.table.iloc[0:0]
        t = self.table
        return t[self._select(t, ind) & (t["area_level"] == below)
                 & (t["parent_code"] == self.area.code)].sort_values("area_name", key=lambda c: c.astype(str))

    def remittance_uses(self) -> pd.DataFrame | None:
        """RM08 for the area, or None when the dataset has no uses of remittances."""
        if not self.available("RM08"):
            return None
        r = self._own("RM08")
        r["use"] = r["category"].astype(str).str.replace("_", " ").str.capitalize()
        return r

    def children(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Children by parent abroad (CL02) and school attendance 5-17 by parent abroad (ED01)."""
        from migdata.model.codes import labels as code_labels

        lab = code_labels("parent_abroad")
        cl = self._own("CL02")
        cl["group"] = cl["category"].map(lambda c: lab.get(str(c), str(c)))
        t = self.detail
        ed = t[(t["indicator_id"] == "ED01") & (t["sex"] == TOTAL) & (t["age_group"] == TOTAL)
               & (t["parent_abroad"] != NOT_STATED)].copy()
        ed["group"] = ed["parent_abroad"].map(lambda c: "All children 5-17" if c == TOTAL else lab.get(str(c), str(c)))
        return cl, ed

    def origins(self, top: int = 10) -> pd.DataFrame:
        """Five-year in-movers by place of residence 5 years ago (IM05), largest first."""
        r = self._own("IM05")

        def place(c: str) -> str:
            if c == "abroad":
                return "Abroad"
            if c.startswith("PPMM:"):
                # old 2-digit province code (CBMS 2022 PPMM): PP99 = "province known"
                try:
                    from migdata.areas.codes import ppmm_to_psgc
                    return area_name(ppmm_to_psgc(c[5:7] + "99")) or c
                except Exception:
                    return f"Province with old code {c[5:]}"
            return area_name(c) or c
        r["place"] = r["category"].astype(str).map(place)
        return collapse(r, "place", top, "All other places")

    def reasons(self) -> pd.DataFrame:
        """Five-year movers by reason for moving (IM04), largest first."""
        from migdata.model.codes import labels as code_labels

        lab = code_labels("move_reason")
        r = self._own("IM04")
        r["reason"] = r["category"].astype(str).map(lambda c: lab.get(c, c))
        return collapse(r, "reason", 12, "All other reasons")

    def returns(self) -> pd.DataFrame:
        """Return migrants (RT01), or an empty table when the dataset cannot give them."""
        r = self.get("RT01")
        return pd.DataFrame([r]) if r is not None else pd.DataFrame()

    def section(self, ids: list[str]) -> pd.DataFrame:
        """The area's rows of ``ids`` (each from the stream that has it), with readable category
        labels in ``label`` and the stream in ``stream``; empty when no stream has any of them."""
        from migdata.indicators.catalogue import catalogue

        cat = catalogue()
        frames = []
        for ind in ids:
            r = self._own(ind)
            if r.empty:
                continue
            column = cat[ind].category if ind in cat else None
            r["label"] = [category_label(column, str(c)) if str(c) else "" for c in r["category"]]
            r["stream"] = STREAM_NAMES.get(self.stream_of(ind) or "", self.stream_of(ind) or "")
            frames.append(r)
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def missing(self, ids: list[str]) -> str:
        """Why none of ``ids`` is in this profile, naming the stream or questionnaire that would
        give them (from the catalogue's sources)."""
        from migdata.indicators.catalogue import catalogue

        srcs = sorted({s for i in ids for s in catalogue()[i].sources})
        names = [STREAM_NAMES.get(s, s) for s in srcs]
        return (f"_No stream of this database has these numbers. They come from: {', '.join(names)}; "
                "the questionnaires are in `questionnaires/` (`migdata questionnaires build`). Import "
                "the exports with `migdata import ... --into DATABASE` to fill this section._")

    def quality(self) -> dict[str, pd.DataFrame]:
        """Reliability of this report's numbers and the problems found when the data was imported."""
        rows = self.rows
        flags = rows.assign(Reliability=[fmt_reliability(r, self.k) for _, r in rows.iterrows()]) \
            .groupby("Reliability").size().rename("Estimates").reset_index()
        rep = self.report
        counts = pd.DataFrame([{"Table": t, "Rows read": f"{c['read']:,}", "Kept": f"{c['kept']:,}",
                                "Rejected": f"{c['rejected']:,}"} for t, c in rep.counts.items()])
        probs = rep.to_frame()
        if len(probs):
            by_rule = (probs.groupby(["code", "rule", "table", "action"]).size().rename("Problems")
                       .reset_index().rename(columns={"code": "Code", "rule": "Rule", "table": "Table",
                                                      "action": "What was done"}))
            examples = probs.head(10)[["code", "table", "source_row", "column", "value", "message"]]
        else:
            by_rule = pd.DataFrame(columns=["Code", "Rule", "Table", "What was done", "Problems"])
            examples = pd.DataFrame()
        nc = self.not_computable if isinstance(self.not_computable, pd.DataFrame) else pd.DataFrame()
        return {"flags": flags, "counts": counts, "problems": by_rule, "examples": examples,
                "not_computable": nc}


def _source_words(entry: dict[str, Any]) -> str:
    """One stream and round of a database profile in words, e.g. ``survey of overseas Filipinos
    2026 (sample survey)``."""
    name = STREAM_NAMES.get(entry["stream"], entry["stream"])
    kind = "complete count" if entry["complete_count"] else "sample survey"
    words = f"{name} {entry.get('round') or ''}".strip()
    return words if kind in name else f"{words} ({kind})"


def area_summaries(store: Any, k: int = 3, progress: Any = None) -> pd.DataFrame:
    """The comparison indicators (:data:`COMPARE_IDS`) of every city/municipality and every area
    above it in a partitioned store: what an area's report shows beside its own numbers. One
    plan for every area of the store, so its partition sums are kept in the store (the import
    computes them, :func:`keep_area_summaries`) and a report reads a few kilobytes per
    partition instead of the partitions it does not show.

    Example:
        >>> area_summaries(Store("store"))["area_level"].unique().tolist()  # doctest: +SKIP
        ['region', 'province', 'city']
    """
    from migdata.publish.tables import compute

    return compute(store, ids=COMPARE_IDS, level="city", by=[], k=k, progress=progress)


def keep_area_summaries(store: Any, progress: Any = None) -> None:
    """Compute and keep :func:`area_summaries` in a partitioned complete-count store (nothing
    for other stores): run after an import so that the first area report is as fast as the
    next."""
    st = store if isinstance(store, Store) else Store(store)
    if st.partitioned and st.complete_count:
        area_summaries(st, progress=progress)


def _area_store(data: Any, area: "Area") -> Any:
    """The partitions of a partitioned complete-count store that hold ``area`` (the store
    itself for the whole country, a dataset in memory, a database or a sample survey)."""
    if not isinstance(data, Store) or not data.partitioned or not data.complete_count or area.level == "national":
        return data
    view = data.view(area.code)
    return view if len(view.partitions) < len(data.partitions) else data


def _with_areas_above(main: pd.DataFrame, summaries: pd.DataFrame, partition_level: str) -> pd.DataFrame:
    """An area's table computed from its partitions, whose rows above the partition level
    (a region computed from one of its provinces) are replaced by the store's summaries."""
    rank = {lv: i for i, lv in enumerate(LEVEL_ORDER)}
    cut = rank[partition_level]
    own = main[main["area_level"].astype(str).map(rank).to_numpy() >= cut]
    above = summaries[summaries["area_level"].astype(str).map(rank).to_numpy() < cut]
    above, own = above.copy(), own.copy()
    above.attrs, own.attrs = {}, {}  # pandas compares attrs on concat (they hold frames)
    out = pd.concat([above, own], ignore_index=True)
    for c in main.columns:  # concat of categoricals with different categories gives objects
        if isinstance(main[c].dtype, pd.CategoricalDtype) and not isinstance(out[c].dtype, pd.CategoricalDtype):
            out[c] = out[c].astype("category")
    out.attrs = dict(main.attrs)
    return out


def _area_rows(table: pd.DataFrame, code: str) -> pd.DataFrame:
    out = table[table["area_code"] == code].copy()
    out.attrs.update(table.attrs)
    return out


def _base_stream(db: Any) -> str:
    """The stream a database profile is framed on: CBMS when present (every household)."""
    have = db.streams()
    return next((s for s in (*STREAM_ORDER, *have) if s in have))


def _area_table(data: Any, area: str | None = None) -> pd.DataFrame:
    """The table holding a dataset's area columns (its households, or a stand-alone survey's own).

    Of a partitioned store (:class:`~migdata.model.partitions.Store`), only the area columns of
    the partitions that hold ``area`` (all partitions when the store does not hold it, so that
    the error suggests the codes it does hold)."""
    if isinstance(data, Store):
        cols = [c for c in LEVELS if c in data.present("households")]
        try:
            parts = data.select(None if str(area).strip().upper() in (NATIONAL_CODE, "NATIONAL") else area)
        except UsageError:
            parts = data.partitions
        frames = [data.read_table(p, "households", cols) for p in parts]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)
    units = {"person": "persons", "household": "households", **data.provenance.units}
    hh = data.tables.get(units["household"])
    if hh is not None and len(hh):
        return hh
    return data.tables.get(units["person"], data.households)


# --- text and tables for the notebook -------------------------------------------------------
#: The report's style sheet, on screen and in print. Printing ("Save as PDF" gives the plan's
#: annex): no page size is forced, so the reader's paper (A4 or Letter) stays selectable, and the
#: margins fit both: the text block is at most 182 mm wide (A4: 210 - 2 x 14 mm) and 246 mm tall
#: (Letter: 279 - 15 - 18 mm), and a chart is never taller than that, so it fits a page whole.
#: The first page holds the title, the data used and how to read the report; every numbered
#: section starts a new page; tables break between rows (their header repeated), never inside a
#: row; charts and maps are never cut. Page numbers are written in the bottom margin where the
#: browser supports page-margin boxes (Chromium 131+); elsewhere the browser's own footer can add them.
REPORT_CSS = """<style>
body, .jp-Notebook { font-family: "DejaVu Sans", Arial, sans-serif; color: #111; }
.jp-Notebook { max-width: 60em; margin: auto; }
table.profile-table { border-collapse: collapse; margin: 0.6em 0 1.2em 0; font-size: 0.92em; }
table.profile-table th { text-align: left !important; border-bottom: 2px solid #333; padding: 4px 10px; }
table.profile-table td { text-align: left !important; border-bottom: 1px solid #ccc; padding: 4px 10px;
                         vertical-align: top; }
.jp-RenderedHTMLCommon h1 { border-bottom: 3px solid #333; padding-bottom: 0.2em; }
.jp-RenderedHTMLCommon h2 { border-bottom: 1px solid #999; margin-top: 1.6em; }
.jp-OutputArea-output img { max-width: 100%; }
ul.data-used { margin: 0.2em 0 0.6em 0; }
@page { margin: 15mm 14mm 18mm 14mm;
        @bottom-right { content: "Page " counter(page) " of " counter(pages);
                        font: 8pt "DejaVu Sans", Arial, sans-serif; color: #444; } }
@media print {
  body, .jp-Notebook { font-size: 10pt; max-width: none; margin: 0; padding: 0; background: #fff; }
  .jp-Cell, .jp-Cell-outputWrapper, .jp-Cell-inputWrapper, .jp-OutputArea, .jp-OutputArea-child,
  .jp-OutputArea-output, .jp-InputArea, .jp-MarkdownOutput, main {
    display: block !important; overflow: visible !important; padding: 0 !important; margin: 0 !important;
    break-inside: auto !important; }
  .jp-Collapser, .jp-InputPrompt, .jp-OutputPrompt, .anchor-link { display: none !important; }
  h2 { break-before: page; page-break-before: always; margin-top: 0 !important; }
  h1, h2, h3, h4 { break-after: avoid; page-break-after: avoid; }
  p { orphans: 3; widows: 3; }
  img, figure, svg { break-inside: avoid; page-break-inside: avoid; }
  img.profile-chart { display: block; max-width: 100%; max-height: 240mm; width: auto; height: auto;
                      margin: 0.4em 0 0.8em 0; }
  table.profile-table { width: 100%; font-size: 8.5pt; break-inside: auto; }
  table.profile-table thead { display: table-header-group; }
  table.profile-table tr, table.profile-table td, table.profile-table th { break-inside: avoid;
                                                                          page-break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
}
</style>"""


def img_tag(path: str | Path, alt: str) -> str:
    """An ``<img>`` with the PNG embedded (the HTML report stays one file) and alt text."""
    import base64
    import html

    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return (f'<img class="profile-chart" alt="{html.escape(alt, quote=True)}" '
            f'src="data:image/png;base64,{data}">')


def reading_guide(p: "MigrationProfile") -> str:
    """How to read the numbers of this report: census wording for a complete count, survey
    wording (estimate, margin of error, reliability) for a sample survey, with the thresholds
    of the reliability policy the flags come from."""
    if p.complete:
        return ("**How to read this report.** The data is a complete count (every household was "
                "visited), so the numbers have no sampling error. To protect privacy, every count "
                "carries a small random error of at most a few persons or households (cell-key "
                f"method{f': no count of 1 to {p.k - 1} is shown' if p.k > 1 else ''}); the same "
                "number is shown the same way in every table, and parts need not add up exactly to "
                "their total.")
    from migdata.survey.reliability import get_policy

    pol = get_policy(None)
    return ("**How to read this report.** The data comes from a sample survey, so every number "
            "is an estimate with a margin of error. Where shown, the 95% confidence interval gives "
            "the range the true value most likely lies in. Numbers marked __*__ have a coefficient "
            f"of variation (CV) between {100 * pol.cv_publish:.0f}% and {100 * pol.cv_caution:.0f}%: "
            "use them with caution. Numbers marked **S** are too unreliable to publish (CV above "
            f"{100 * pol.cv_caution:.0f}% or fewer than {pol.min_n} sample cases).")


def suppression_note(rows: pd.DataFrame) -> str | None:
    """A chart note saying how many cells are hidden, or None."""
    n = int(rows["suppressed"].astype(bool).sum()) if "suppressed" in rows else 0
    if not n:
        return None
    return f"{n} cell(s) hidden (too few cases) and drawn as zero"


def category_label(column: str | None, code: str) -> str:
    """Words for a category code: the code list's label, a country's name, else the code."""
    from migdata.model.codes import code_lists

    if column == "country" or (column or "").endswith("country") or len(code) == 3 and code.isupper():
        return country_name(code)
    lists = code_lists()
    column = _code_list_of(column)
    if column and column in lists:
        return lists[column]["labels"][lists[column]["categories"].index(code)] \
            if code in lists[column]["categories"] else code
    return code.replace("_", " ").capitalize() if code else code


def _code_list_of(column: str | None) -> str | None:
    """The code list a tidy column uses (``schema.toml``'s ``codes``), else its own name."""
    if not column:
        return column
    from migdata.model.schema import schema

    for table in schema().values():
        spec = table.get("columns", {}).get(column) if isinstance(table, dict) else None
        if spec and spec.get("codes"):
            return spec["codes"]
    return column


def display_rows(rows: pd.DataFrame, label: str, k: int = 3) -> pd.DataFrame:
    """Indicator rows as a reader's table: label, indicator, value, 95% CI, reliability, base."""
    out = pd.DataFrame({
        label: rows[label].astype(str).to_numpy(),
        "Indicator": rows["name"].to_numpy(),
        "Value": [fmt_value(r) for _, r in rows.iterrows()],
        "95% CI": [fmt_ci(r) for _, r in rows.iterrows()],
        "Reliability": [fmt_reliability(r, k) for _, r in rows.iterrows()],
        "Based on": [f"{int(v):,}" if pd.notna(v) else "–" for v in rows["n"]],
    })
    if out["Indicator"].nunique() == 1:
        out = out.drop(columns="Indicator")
    if (rows["flag"].astype(str) == "complete_count").all():
        out = out.drop(columns="95% CI")
    return out


def display_section(rows: pd.DataFrame, k: int = 3) -> pd.DataFrame:
    """Rows of :meth:`MigrationProfile.section` as a reader's table: indicator, category, value,
    95% CI, reliability, base and the stream each number comes from."""
    out = pd.DataFrame({
        "Indicator": rows["name"].astype(str).to_numpy(),
        "Category": rows["label"].astype(str).to_numpy(),
        "Value": [fmt_value(r) for _, r in rows.iterrows()],
        "95% CI": [fmt_ci(r) for _, r in rows.iterrows()],
        "Reliability": [fmt_reliability(r, k) for _, r in rows.iterrows()],
        "Based on": [f"{int(v):,}" if pd.notna(v) else "–" for v in rows["n"]],
        "Source": rows["stream"].astype(str).to_numpy(),
    })
    if not out["Category"].str.len().any():
        out = out.drop(columns="Category")
    return out


def known_ids() -> set[str]:
    """The ids of the indicator catalogue."""
    from migdata.indicators.catalogue import catalogue

    return set(catalogue())


def returns_text(ret: pd.DataFrame, name: str, k: int = 3) -> str:
    """The return-migrant paragraph: the number, or why there is none."""
    if ret is None or ret.empty:
        return ("_This dataset has no item on return from abroad. The CBMS migration rider and "
                "the overseas Filipino survey ask it._")
    r = ret.iloc[0]
    if _truthy(r.get("suppressed")):
        return (f"The share of return migrants in {name} is not shown "
                f"({fmt_reliability(r, k)}).")
    ci = "" if str(r.get("flag")) == "complete_count" else f"; 95% CI {fmt_ci(r)}"
    return (f"Return migrants aged 15 and over (residents who lived abroad five years ago or report "
            f"a return in the past five years): **{fmt_value(r)}** of persons 15+ in {name} "
            f"({fmt_reliability(r, k)}{ci}).")


def quality_text(p: "MigrationProfile", q: dict[str, pd.DataFrame]) -> str:
    """The opening paragraph of the data-quality section."""
    rows = p.rows
    n_sup = int(rows["suppressed"].astype(bool).sum())
    rep = p.report
    n_prob = rep.n_problems
    n_rej = rep.n_rejected
    kind = ("a complete count, so no number has sampling error" if p.complete else
            "a sample survey: each estimate carries a reliability flag from its CV and sample size")
    parts = [f"This report uses {len(rows):,} estimates for {plain(p.area.name)}. The data is {kind}. "
             f"{n_sup:,} of them are suppressed (shown as S)."]
    if n_prob:
        parts.append(f"The import found **{n_prob:,} problem(s)** in the source files and rejected "
                     f"{n_rej:,} row(s); every problem is listed, with its file, row and column, "
                     "in the dataset's import report (`migdata validate DATASET`).")
    else:
        parts.append("The import found no problems in the source files.")
    return " ".join(parts)


def _check_design_domain(provenance: Any, a: Area) -> None:
    """A sample survey is published only down to its design domain (region by default)."""
    domain = provenance.design.design_domain
    if LEVEL_ORDER.index(COMPUTE_LEVEL[a.level]) > LEVEL_ORDER.index(domain):
        allowed = LEVEL_ORDER[1:LEVEL_ORDER.index(domain) + 1]
        raise UsageError("MD809", value=a.code, name=a.name,
                         levels=", ".join(NAMES[lv] for lv in allowed),
                         notes=f"it is a sample survey designed for estimates by {NAMES[domain]}, "
                               f"not by {a.level_name}.")


# --- the report -----------------------------------------------------------------------------
def render_report(dataset_dir: str | Path, area: str, out_html: str | Path, *,
                  progress: Progress | None = None, keep_notebook: bool = False,
                  timeout: int | None = 1800) -> Path:
    """Write the migration profile of ``area`` (a 10-digit PSGC code) from the dataset store
    ``dataset_dir`` to ``out_html``; returns the path written.

    Charts and the numbers behind them are also saved in ``<out_html stem>_files/``; with
    ``keep_notebook`` the executed notebook is kept there too (for checking how a number was
    made). ``progress`` hears the steps and the notebook's cells as they run
    (:mod:`migdata.progress`).

    Example:
        >>> render_report("demo/store", "0400000000", "calabarzon.html")   # doctest: +SKIP
    """
    say = as_progress(progress)
    from migdata.model.data import load
    from migdata.model.database import Database, is_database

    dataset_dir = Path(dataset_dir)
    out_html = Path(out_html)
    if out_html.suffix.lower() not in (".html", ".htm"):
        out_html = out_html.with_suffix(".html")
    if is_database(dataset_dir):  # the area must exist in the stream the profile is framed on
        db = Database(dataset_dir)
        base = db.dataset(_base_stream(db))
    else:
        base = Store(dataset_dir)
        if not base.partitioned:
            base = load(dataset_dir, tables=["households"])
    a = resolve_area(_area_table(base, area), area, dataset_dir)
    _check_design_domain(base.provenance, a)
    del base
    files_dir = out_html.parent / f"{out_html.stem}_files"
    try:
        files_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError("MD806", path=files_dir, detail=exc.strerror or str(exc)) from None
    say(f"Running the migration profile of {a.label} ...")
    nb = run_notebook(PROFILE_NOTEBOOK,
                      {"dataset": str(dataset_dir.resolve()), "area": a.code,
                       "output_dir": str(files_dir.resolve())},
                      out_ipynb=files_dir / PROFILE_NOTEBOOK if keep_notebook else None,
                      cwd=files_dir, timeout=timeout, dataset=dataset_dir, progress=say)
    say(f"Writing {out_html} ...")
    return to_html(nb, out_html, title=f"Migration profile: {a.name}")


__all__ = ["Area", "NOTEBOOKS", "MigrationProfile", "country_name", "fmt_ci", "fmt_reliability", "fmt_value", "area_name", "notebook_path", "render_report", "resolve_area",
           "run_notebook", "to_html"]

