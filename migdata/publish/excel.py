"""Excel workbook and CSV writers for indicator tables (openpyxl, write-only mode).

Workbook layout (one workbook stands alone):

- ``contents``: title, source, reference period, disclosure threshold, notes, and the list of
  sheets;
- one sheet per indicator (named by its id), laid out for pasting into a plan: areas down
  (region, then provinces, cities, barangays in code order; a category column for
  distributions), disaggregations across (one header row per ``by`` column, ``Total`` first),
  frozen headers; under the table its definition, universe, source, reference period and the
  legend of flags;
- ``data``: the long table for analysts (every column);
- ``metadata``: every catalogue indicator with its definition, formula, sources and provenance,
  and whether it was computed or why it is not computable from this dataset.

Number formats: percentages with one decimal (stored as fractions, shown ``12.3%``), counts with
thousands separators, pesos as ``PHP 1,234``. Flags: ``*`` after a number = use with caution
(survey CV 20-30 %); ``x`` = suppressed (too few units in a complete count, or unreliable survey
estimate); the value of a suppressed cell is never written. No text from data becomes a formula
(:mod:`migdata.publish.safe`). Files are written to a temporary name and then renamed.

Speed: openpyxl builds a Python cell object and serialises it element by element, about 15-20 µs
per cell, so the long ``data`` sheet (25 columns x tens of thousands of rows) took most of a
minute. That one sheet is therefore written by hand (:func:`_long_sheet_xml`): openpyxl writes the
workbook with a one-row placeholder ``data`` sheet (so it owns styles, relationships and the
frozen header), then the placeholder's ``<sheetData>`` is replaced in the zip by rows built per
*column* (numbers formatted once per column, each category label escaped once). Text stays
inline strings (never formulas) and risky text keeps openpyxl's ``quotePrefix`` style. The
indicator and metadata sheets (few cells) stay pure openpyxl.

Example:
    >>> from migdata.indicators import compute          # doctest: +SKIP
    >>> t = compute(migdata.load("store"), level="province", by=["sex"])  # doctest: +SKIP
    >>> write_workbook(t, "tables.xlsx")                 # doctest: +SKIP
"""

from __future__ import annotations

import os
import re
import shutil
import zipfile
from xml.sax.saxutils import escape
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.hyperlink import Hyperlink

from migdata.errors import UsageError
from migdata.fileio import atomic_write
from migdata.publish.safe import csv_text, excel_value, risky
from migdata.publish.tables import protect
from migdata.publish.units import unit_label

REQUIRED = ["indicator_id", "name", "area_level", "area_code", "estimate", "flag", "suppressed"]
VALUE_COLUMNS = ["estimate", "se", "ci_low", "ci_high", "cv", "numerator", "denominator", "n", "units"]
LEGEND = [
    "Total: all categories of the column (or all areas of the parent area).",
    "* after a number: use with caution (sample survey, coefficient of variation 20-30 %).",
    "x: suppressed. Complete counts (CBMS, census): based on fewer than {k} units, or hidden so that "
    "a suppressed cell cannot be worked out from a total (secondary suppression). Sample surveys: "
    "unreliable (coefficient of variation above 30 % or fewer than 30 sample units).",
    "Blank: no units in this cell.",
]
#: The legend in one line, for the top of each indicator sheet (the full one is under the table).
LEGEND_SHORT = "* use with caution   x suppressed   blank: no units   (legend under the table)"
MAX_WIDTH = 60      # characters: wider text wraps or spills into the empty cells beside it
LINK = Font(color="0563C1", underline="single")
WRAP_HEADER = Alignment(wrap_text=True, vertical="bottom", horizontal="center")
MAX_ROWS = 1_048_576  # rows in one Excel sheet
LEVEL_LABEL = {"region": "Region", "province": "Province/HUC", "city": "City/municipality",
               "barangay": "Barangay"}


DERIVED_LABELS = {
    "hh_migratory_status": {"ofw_household": "OFW household", "of_household": "OF household (no OFW)",
                            "other": "Other household"},
    "migratory_status": {"of_worker": "Overseas Filipino worker", "of_non_worker": "Other overseas Filipino",
                         "returned_from_abroad_5y": "Returned from abroad (5 years)",
                         "internal_migrant_5y": "Internal migrant (5 years)", "lifetime_migrant": "Lifetime migrant",
                         "resident_non_mover": "Resident, non-mover", "unknown": "Unknown"},
}


def labels_for(column: str | None) -> dict[str, str]:
    """Plain labels of a column's codes (canonical code lists and derived attributes), for tables
    a planning office reads; codes without a label are shown as they are."""
    if not column:
        return {}
    if column in DERIVED_LABELS:
        return DERIVED_LABELS[column]
    if column in ("head_sex",):
        column = "sex"
    if column == "parent_abroad":
        from migdata.model.codes import labels
        return labels("parent_abroad")
    try:
        from migdata.model.codes import labels
        from migdata.model.schema import schema

        for table in ("persons", "households"):
            spec = schema()[table]["columns"].get(column)
            if spec and spec.get("codes"):
                return labels(spec["codes"])
    except Exception:  # labels are a convenience; codes stay readable
        return {}
    return {}


def _check(table: pd.DataFrame) -> None:
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        raise UsageError("MD709", columns=", ".join(missing))


def _number_format(measure: str, caution: bool = False) -> str:
    if measure == "%":
        fmt = "0.0%"
    elif measure in ("persons", "households", "associations"):
        fmt = "#,##0"
    elif measure.startswith("PHP"):
        fmt = '"PHP "#,##0'
    elif measure in ("months", "score"):
        fmt = "0.0"
    else:
        fmt = "0.00"
    return fmt + '" *"' if caution else fmt


def _display_value(measure: str, value: float) -> float:
    return value / 100.0 if measure == "%" else value


def publishable(table: pd.DataFrame) -> pd.DataFrame:
    """The long table as published: values of suppressed rows blanked (rows kept, marked)."""
    out = table.copy()
    sup = out["suppressed"].to_numpy(dtype=bool)
    for c in VALUE_COLUMNS:
        if c in out.columns:
            out[c] = out[c].astype("float64")
            out.loc[sup, c] = np.nan
    return out



BOLD = Font(bold=True)
RIGHT = Alignment(horizontal="right")
TOP = Alignment(wrap_text=False, vertical="top")


def _cell(ws: Any, value: Any, bold: bool = False, fmt: str | None = None, wrap: bool = False) -> WriteOnlyCell:
    c = WriteOnlyCell(ws)
    if value is None or (isinstance(value, float) and np.isnan(value)):
        value = None
    elif isinstance(value, (np.integer,)):
        value = int(value)
    elif isinstance(value, (np.floating,)):
        value = float(value)
    excel_value(c, value)
    if bold:
        c.font = BOLD
    if fmt:
        c.number_format = fmt
    if wrap:
        c.alignment = TOP
    return c


def _sheet_name(name: str, used: set[str]) -> str:
    base = "".join(ch for ch in name if ch not in '[]:*?/\\')[:31] or "sheet"
    out, i = base, 2
    while out.lower() in used:
        out = f"{base[:28]}_{i}"
        i += 1
    used.add(out.lower())
    return out


def _indicator_sheet(wb: Workbook, t: pd.DataFrame, by: list[str], meta: dict[str, Any], k: int,
                     used: set[str]) -> None:
    ind = str(t["indicator_id"].iloc[0])
    ws = wb.create_sheet(_sheet_name(ind, used))
    measure = str(t["measure"].iloc[0]) if "measure" in t.columns else ""
    has_cat = "category" in t.columns and (t["category"].astype(str) != "").any()
    across = [b for b in by if b in t.columns and (t[b] != "Total").any()]
    left = ["Area level", "Area code", "Area name"] + (["Category"] if has_cat else [])
    # column keys in order of first appearance (the evaluator sorts Total first, then code order)
    col_keys = list(dict.fromkeys(zip(*[t[b] for b in across]))) if across else [()]
    row_cols = ["area_level", "area_code", "area_name"] + (["category"] if has_cat else [])
    for c in row_cols:
        if c not in t.columns:
            t = t.assign(**{c: ""})
    row_keys = list(dict.fromkeys(zip(*[t[c].astype(object).where(t[c].notna(), "") for c in row_cols])))
    cat_names = labels_for(meta.get("category"))
    across_labels = [[labels_for(b).get(key[i], key[i]) for key in col_keys] for i, b in enumerate(across)]
    # Widths fitted to the content (Excel counts characters of the default font), set before
    # the first row as write-only sheets require: the left columns by their longest entry,
    # each value column by its widest number (as formatted) or, up to 24, its header label.
    lefts = [[LEVEL_LABEL.get(k[0], k[0]) for k in row_keys], [k[1] for k in row_keys],
             [k[2] for k in row_keys]] + ([[cat_names.get(k[3], k[3]) for k in row_keys]] if has_cat else [])
    for j, (head, values) in enumerate(zip(left, lefts), start=1):
        ws.column_dimensions[get_column_letter(j)].width = _width([head, *values])
    num = _number_width(measure, t["estimate"].to_numpy(dtype="float64"))
    if across:
        ws.column_dimensions[get_column_letter(len(left))].width = max(
            ws.column_dimensions[get_column_letter(len(left))].width,
            _width([b.replace("_", " ").capitalize() for b in across]))
    for j in range(len(col_keys)):
        head = max((len(str(lab[j])) for lab in across_labels), default=len("Value"))
        ws.column_dimensions[get_column_letter(len(left) + 1 + j)].width = max(num, min(head, 24)) + 2
    header_rows = len(across) + 1
    ws.freeze_panes = f"{get_column_letter(len(left) + 1)}{3 + header_rows + 1}"
    unit = unit_label(measure, meta.get("unit"))
    ws.append([_cell(ws, f"{ind} {t['name'].iloc[0]}", bold=True)])
    ws.append([_cell(ws, f"Unit: {unit}")])
    ws.append([_cell(ws, LEGEND_SHORT)])
    for i, b in enumerate(across):
        label = b.replace("_", " ").capitalize()
        ws.append([None] * (len(left) - 1) + [_cell(ws, label, bold=True)]
                  + [_header(ws, name) for name in across_labels[i]])
    ws.append([_cell(ws, x, bold=True) for x in left] + ([] if across else [_cell(ws, "Value", bold=True)]))
    est = t["estimate"].to_numpy(dtype="float64")
    sup = t["suppressed"].to_numpy(dtype=bool)
    caution = (t["flag"].astype(str) == "caution").to_numpy()
    keys_r = list(zip(*[t[c].astype(object).where(t[c].notna(), "") for c in row_cols]))
    keys_c = list(zip(*[t[b] for b in across])) if across else [()] * len(t)
    cidx = {k2: j for j, k2 in enumerate(col_keys)}
    grid: dict[tuple[int, int], int] = {}
    ridx = {k2: i for i, k2 in enumerate(row_keys)}
    for r, (kr, kc) in enumerate(zip(keys_r, keys_c)):
        grid[(ridx[kr], cidx[kc])] = r
    for i, kr in enumerate(row_keys):
        lev, code, name = kr[0], kr[1], kr[2]
        cells = [_cell(ws, LEVEL_LABEL.get(lev, lev)), _cell(ws, code), _cell(ws, name)]
        if has_cat:
            cells.append(_cell(ws, cat_names.get(kr[3], kr[3])))
        for j in range(len(col_keys)):
            r = grid.get((i, j))
            if r is None or (np.isnan(est[r]) and not sup[r]):
                cells.append(_cell(ws, None))
            elif sup[r]:
                c = _cell(ws, "x")
                c.alignment = RIGHT
                cells.append(c)
            else:
                cells.append(_cell(ws, _display_value(measure, est[r]), fmt=_number_format(measure, caution[r])))
        ws.append(cells)
    ws.append([])
    notes = [("Definition", meta.get("definition", "")), ("Universe", meta.get("universe", "")),
             ("Source", str(t["source"].iloc[0]) if "source" in t.columns else ""),
             ("Reference period", str(t["period"].iloc[0]) if "period" in t.columns else ""),
             ("Note", meta.get("note", ""))]
    for label, text in notes:
        if text:
            ws.append([_cell(ws, label, bold=True), _cell(ws, text)])
    _legend_rows(ws, k)


def _header(ws: Any, text: Any) -> WriteOnlyCell:
    c = _cell(ws, text, bold=True)
    c.alignment = WRAP_HEADER
    return c


def _width(values: Sequence[Any]) -> float:
    """A column width (characters) that shows the longest of ``values``, within MAX_WIDTH."""
    longest = max((len(str(v)) for v in values if v is not None), default=8)
    return float(min(max(longest, 6) + 2, MAX_WIDTH))


def _number_width(measure: str, values: np.ndarray) -> int:
    """Characters of the widest value as the number format shows it (``12.3% *``, ``1,234``,
    ``PHP 1,234,567``)."""
    v = values[np.isfinite(values)]
    top = float(np.abs(v).max()) if v.size else 0.0
    if measure == "%":
        text = f"{top:.1f}%"
    elif measure in ("persons", "households", "associations") or measure.startswith("PHP"):
        text = ("PHP " if measure.startswith("PHP") else "") + f"{top:,.0f}"
    elif measure in ("months", "score"):
        text = f"{top:,.1f}"
    else:
        text = f"{top:,.2f}"
    return len(text) + 2 + (1 if (v < 0).any() else 0)     # + " *" of a value to use with caution


def _legend_rows(ws: Any, k: int, col: int = 0) -> None:
    """The legend of flags and suppression, one line a row, starting in column ``col``."""
    ws.append([None] * col + [_cell(ws, "Legend", bold=True), _cell(ws, LEGEND[0])])
    for line in LEGEND[1:]:
        ws.append([None] * (col + 1) + [_cell(ws, line.format(k=k))])


def _frame_sheet(wb: Workbook, name: str, df: pd.DataFrame, used: set[str], k: int | None = None) -> None:
    ws = wb.create_sheet(_sheet_name(name, used))
    ws.freeze_panes = "B2"
    for j, c in enumerate(df.columns, start=1):
        ws.column_dimensions[get_column_letter(j)].width = _width([c, *df[c].astype(str).head(2000)])
    ws.append([_cell(ws, str(c), bold=True) for c in df.columns])
    cols = [df[c].to_numpy(dtype=object) for c in df.columns]
    for row in zip(*cols):
        ws.append([_cell(ws, v if not (isinstance(v, float) and np.isnan(v)) else None) for v in row])
    if k is not None:
        ws.append([])
        _legend_rows(ws, k)


def _by_columns(table: pd.DataFrame) -> list[str]:
    """The disaggregation columns of a table that lost its ``attrs`` (filtered, concatenated):
    the columns the evaluator puts between ``parent_code`` and ``category``. Without them the
    cells of one area would all land in one "Value" column."""
    from migdata.indicators.evaluate import OUT_COLUMNS, VALUE_COLUMNS as OUT_VALUES

    return [c for c in table.columns if c not in OUT_COLUMNS and c not in OUT_VALUES]


PLACEHOLDER = "migdata:long-sheet"


def _placeholder_sheet(wb: Workbook, name: str, df: pd.DataFrame, used: set[str]) -> str:
    """A one-row stand-in for the long sheet: its header (bold) and one quotePrefix text cell,
    so the workbook's styles hold both; returns the sheet name."""
    ws = wb.create_sheet(_sheet_name(name, used))
    ws.freeze_panes = "A2"
    for j, c in enumerate(df.columns, start=1):
        s = df[c]
        if isinstance(s.dtype, pd.CategoricalDtype):   # widths from the few labels, not the rows
            values = [str(x) for x in s.cat.categories]
        elif pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
            values = ["-0.000000000"]                  # about what Excel's General format shows
        else:
            values = s.head(2000).astype(str).tolist()
        ws.column_dimensions[get_column_letter(j)].width = _width([c, *values])
    ws.append([_cell(ws, str(c), bold=True) for c in df.columns])
    ws.append([_cell(ws, "=" + PLACEHOLDER)])
    return ws.title


def _column_xml(s: pd.Series, quote_style: str | None) -> np.ndarray:
    """The ``<c>`` elements of one column, as an object array (one string per row)."""
    n = len(s)
    if isinstance(s.dtype, pd.CategoricalDtype) or s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
        if isinstance(s.dtype, pd.CategoricalDtype):
            codes = s.cat.codes.to_numpy()
            labels = list(s.cat.categories)
        else:
            codes, labels = pd.factorize(s, use_na_sentinel=True)
            labels = list(labels)
        xml = []
        for v in labels:
            if isinstance(v, (bool, np.bool_)):
                xml.append(f'<c t="b"><v>{int(v)}</v></c>')
            elif isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
                xml.append(f"<c><v>{float(v)!r}</v></c>" if np.isfinite(v) else "<c/>")
            else:
                text = escape(ILLEGAL_CHARACTERS_RE.sub("", str(v)))  # as openpyxl refuses them
                space = ' xml:space="preserve"' if text != text.strip() else ""
                st = f' s="{quote_style}"' if quote_style is not None and risky(str(v)) else ""
                xml.append(f'<c t="inlineStr"{st}><is><t{space}>{text}</t></is></c>' if text else "<c/>")
        table = np.array(xml + ["<c/>"], dtype=object)
        return table[np.where(codes < 0, len(xml), codes)]
    if pd.api.types.is_bool_dtype(s.dtype):
        v = s.to_numpy(dtype=object)
        out = np.full(n, "<c/>", dtype=object)
        ok = pd.notna(v)
        out[ok] = np.where(v[ok].astype(bool), '<c t="b"><v>1</v></c>', '<c t="b"><v>0</v></c>')
        return out
    v = pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    out = np.full(n, "<c/>", dtype=object)
    ok = np.isfinite(v)
    out[ok] = [f"<c><v>{x!r}</v></c>" for x in v[ok].tolist()]
    return out


def _long_sheet_xml(df: pd.DataFrame, bold_style: str | None, quote_style: str | None,
                    chunk: int = 20_000, legend: Sequence[str] = ()):
    """The ``<sheetData>`` of the long sheet, in pieces (a generator, to bound memory). The
    ``legend`` lines go one a row from row 1, one empty column right of the table."""
    st = f' s="{bold_style}"' if bold_style is not None else ""
    side = [f'<c/><c t="inlineStr"{st}><is><t>Legend</t></is></c>'] + [
        f'<c/><c t="inlineStr"><is><t>{escape(line)}</t></is></c>' for line in legend] if legend else []
    head = "".join(f'<c t="inlineStr"{st}><is><t>{escape(str(c))}</t></is></c>' for c in df.columns)
    yield f'<sheetData><row r="1">{head}{side[0] if side else ""}</row>'
    for start in range(0, len(df), chunk):
        part = df.iloc[start:start + chunk]
        cols = [_column_xml(part[c], quote_style) for c in part.columns]
        rows = ["".join(cells) for cells in zip(*cols)] if cols else []
        if start == 0:
            for i, extra in enumerate(side[1:len(rows) + 1]):
                rows[i] += extra
        yield "".join(f'<row r="{start + i + 2}">{r}</row>' for i, r in enumerate(rows))
    yield "</sheetData>"


def _fill_long_sheet(path: str, sheet: str, df: pd.DataFrame, legend: Sequence[str] = ()) -> None:
    """Replace the placeholder sheet's rows in the saved workbook at ``path`` by ``df``."""
    with zipfile.ZipFile(path) as z:
        wbxml = z.read("xl/workbook.xml").decode("utf-8")
        rels = z.read("xl/_rels/workbook.xml.rels").decode("utf-8")
        rid = re.search(r'<sheet [^>]*name="%s"[^>]*r:id="([^"]+)"' % re.escape(escape(sheet, {'"': "&quot;"})),
                        wbxml)
        rid = rid or re.search(r'<sheet [^>]*r:id="([^"]+)"[^>]*name="%s"' % re.escape(sheet), wbxml)
        target = re.search(r'<Relationship [^>]*Id="%s"[^>]*Target="([^"]+)"' % rid.group(1), rels) or \
            re.search(r'<Relationship [^>]*Target="([^"]+)"[^>]*Id="%s"' % rid.group(1), rels)
        member = target.group(1).lstrip("/")
        member = member if member.startswith("xl/") else "xl/" + member
        xml = z.read(member).decode("utf-8")
        head, rest = xml.split("<sheetData", 1)
        body, tail = rest.split("</sheetData>", 1)
        bold = re.search(r'<c r="A1"[^>]* s="(\d+)"', body)
        quote = re.search(r'<c r="A2"[^>]* s="(\d+)"', body)
        last = get_column_letter(max(len(df.columns) + (2 if legend else 0), 1))
        head = re.sub(r'<dimension ref="[^"]*"\s*/>', f'<dimension ref="A1:{last}{len(df) + 1}"/>', head)
        tmp = path + ".long"
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as out:
            for info in z.infolist():
                if info.filename != member:
                    out.writestr(info, z.read(info.filename))
                    continue
                with out.open(member, "w", force_zip64=True) as f:
                    f.write(head.encode("utf-8"))
                    for piece in _long_sheet_xml(df, bold and bold.group(1), quote and quote.group(1),
                                                 legend=legend):
                        f.write(piece.encode("utf-8"))
                    f.write(tail.encode("utf-8"))
    shutil.move(tmp, path)


def write_workbook(table: pd.DataFrame, path: str | os.PathLike[str], title: str = "Migration indicators",
                   not_computable: pd.DataFrame | None = None, by: Sequence[str] | None = None,
                   long_sheet: bool = True) -> Path:
    """Write the indicator ``table`` (from :func:`migdata.compute`) to an Excel workbook at
    ``path`` (atomic). Returns the path. A table that was not published yet (straight from
    :func:`migdata.indicators.compute`) gets disclosure control first: nothing unprotected is
    written."""
    from migdata.indicators.catalogue import catalogue

    table = protect(table)
    _check(table)
    by = list(by if by is not None else table.attrs.get("by", _by_columns(table)))
    if not_computable is None:
        from migdata.indicators.evaluate import not_computable as _nc

        not_computable = _nc(table)
    nc = not_computable
    k = table.attrs.get("k", 3)
    cat = catalogue()
    pub = publishable(table)
    too_long = long_sheet and len(pub) + 1 > MAX_ROWS
    long_sheet = long_sheet and not too_long

    def build(tmp: Path) -> None:
        wb = Workbook(write_only=True)
        used: set[str] = set()
        ws = wb.create_sheet(_sheet_name("contents", used))
        ids = list(dict.fromkeys(pub["indicator_id"]))
        # sheet names first (the contents links to them); each indicator sheet takes the next
        names = {}
        taken = set(used)
        for i in ids:
            names[i] = _sheet_name(str(i), taken)
        ws.column_dimensions["A"].width = _width(["Reference period", *names.values()])
        ws.column_dimensions["B"].width = MAX_WIDTH + 20
        src = ", ".join(sorted(set(map(str, table["source"].dropna())))) if "source" in table.columns else ""
        period = ", ".join(sorted(set(map(str, table["period"].dropna())))) if "period" in table.columns else ""
        ws.append([_cell(ws, title, bold=True)])
        ws.append([_cell(ws, "Source", bold=True), _cell(ws, src)])
        ws.append([_cell(ws, "Reference period", bold=True), _cell(ws, period)])
        if table.attrs.get("complete_count"):
            text = (f"cells based on fewer than {k} units suppressed, with secondary suppression" if k > 1
                    else "none (threshold k=1)")
            ws.append([_cell(ws, "Disclosure control", bold=True), _cell(ws, text)])
        for note in table.attrs.get("notes", []):
            ws.append([_cell(ws, "Note", bold=True), _cell(ws, note)])
        if too_long:
            ws.append([_cell(ws, "Note", bold=True),
                       _cell(ws, f"the long table has {len(pub):,} rows, more than an Excel sheet holds; "
                                 "it is not in this workbook: write it as CSV (write_csv / --csv)")])
        ws.append([])
        ws.append([_cell(ws, "Sheet", bold=True), _cell(ws, "Indicator (click the sheet name to open it)", bold=True)])
        for i in ids:
            link = _cell(ws, names[i])
            link.hyperlink = Hyperlink(ref="", location=f"'{names[i]}'!A1", display=names[i])
            link.font = LINK
            ws.append([link, _cell(ws, cat[i].name if i in cat else i)])
        if long_sheet:
            ws.append([_cell(ws, "data"), _cell(ws, "all rows and columns (long format, for analysts)")])
        ws.append([_cell(ws, "metadata"), _cell(ws, "definitions of every indicator, and those not computable")])
        ws.append([])
        _legend_rows(ws, k)
        for i, idx in pub.groupby("indicator_id", sort=False).indices.items():
            ind = cat.get(i)
            meta = {"definition": ind.definition, "universe": ind.universe, "note": ind.note,
                    "unit": ind.unit, "measure": ind.measure, "category": ind.category} if ind else {}
            _indicator_sheet(wb, pub.iloc[idx].reset_index(drop=True), by, meta, k, used)
        data_sheet = _placeholder_sheet(wb, "data", pub, used) if long_sheet else None
        meta = _metadata(pub, nc)
        _frame_sheet(wb, "metadata", meta, used, k=k)
        wb.save(tmp)
        if data_sheet is not None:
            _fill_long_sheet(str(tmp), data_sheet, pub, [line.format(k=k) for line in LEGEND])

    return atomic_write(path, build)


def _metadata(table: pd.DataFrame, nc: pd.DataFrame | None) -> pd.DataFrame:
    from migdata.indicators.catalogue import metadata

    meta = metadata()
    computed = set(table["indicator_id"])
    reasons = dict(zip(nc["indicator_id"], nc["reason"])) if nc is not None and len(nc) else {}
    status = []
    for i in meta["indicator_id"]:
        if i in computed:
            status.append(("computed", ""))
        elif i in reasons:
            status.append(("not computable from this dataset", reasons[i]))
        else:
            status.append(("not requested", ""))
    meta.insert(2, "status", [s for s, _ in status])
    meta.insert(3, "reason", [r for _, r in status])
    return meta


def write_csv(table: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write the long table as published (suppressed values blank) to CSV (UTF-8 with BOM so
    Excel opens it correctly); text cells that could start a formula get a leading apostrophe.
    Disclosure control is applied first when the table is not published yet."""
    table = protect(table)
    _check(table)
    pub = publishable(table)
    for c in pub.columns:
        s = pub[c]
        if isinstance(s.dtype, pd.CategoricalDtype):
            # the result's text columns are Categoricals: guard their labels once, not every cell
            safe = [csv_text(v) for v in s.cat.categories]
            pub[c] = (s.cat.rename_categories(safe) if len(set(safe)) == len(safe)
                      else s.astype(object).map(csv_text))
        elif s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
            pub[c] = s.map(csv_text)

    def build(tmp: Path) -> None:
        pub.to_csv(tmp, index=False, encoding="utf-8-sig")

    return atomic_write(path, build)


def read_csv(path: str | os.PathLike[str]) -> pd.DataFrame:
    """A long table written by :func:`write_csv`, read back (codes as text, ``suppressed`` as
    booleans, values as numbers; suppressed values stay blank), e.g. to draw maps from it.

    Example:
        >>> t = read_csv("indicators.csv")          # doctest: +SKIP
    """
    from migdata.errors import DataError

    p = Path(path)
    if not p.exists():
        raise DataError("MD001", path=str(p))
    df = pd.read_csv(p, dtype=str, encoding="utf-8-sig", keep_default_na=False, na_values=[""])
    _check(df)
    for c in VALUE_COLUMNS:
        if c in df.columns:
            df[c] = pd.to_numeric(df[c], errors="coerce")
    df["suppressed"] = df["suppressed"].astype(str).str.strip().str.lower().isin(["true", "1", "yes"])
    for c in df.columns:
        if c not in VALUE_COLUMNS and c != "suppressed":
            df[c] = df[c].fillna("")
    return df
