"""KoboToolbox and ODK exports: Kobo XLSX, Kobo JSON submissions, ODK Central CSV (zip or folder).

All three come out in one shape, so one source profile serves a form whatever the export:

- **tables**: ``main`` (one row per submission) and one table per repeat group, named after the
  repeat's XLSForm ``name`` (Kobo XLSX sheet names are the repeat names cut to 31 characters; they
  are mapped back through the form). Nested repeats (to any depth) are their own tables.
- **link columns**: every table has ``_index`` (1-based row id within the table) and
  ``_submission__uuid`` (the submission's uuid, ``_index:<n>`` when the export has none; it is
  the table's case key in ``codebook.tables[t]["keys"]``, so a profile can ``join`` a repeat
  table to ``main``); every repeat table has ``_parent_index`` (the parent row's ``_index``),
  ``_parent_table_name`` and ``_repeat_position`` (1-based position within its parent, e.g. a
  roster line number). Kobo XLSX exports carry most of these already; for JSON and ODK Central
  (``KEY``/``PARENT_KEY``) the reader builds them. ``_source_row`` is the spreadsheet row (XLSX),
  the CSV line (ODK) or the 1-based position in the flattened table (JSON).
- **column names**: the question ``name`` without its group path (``household/members/age`` ->
  ``age``); when two questions share a name, the full ``/`` path is kept for both. Kobo's own
  ``_id``, ``_uuid``, ``_submission_time`` ... columns keep their names.
- **values** are text, as in the CSV reader; the profile converts them.
- **select_multiple** questions keep their space-separated answer column ``q`` and get one
  nullable 0/1 (``Int8``) indicator column ``q__<choice>`` per choice of the list (from the form;
  without a form, per choice seen in the data). Kobo XLSX ``q/choice`` (or ``q.choice``) columns
  and ODK Central split columns are renamed to the same ``q__<choice>``. Unanswered -> <NA>.

**The form** (``form=`` an XLSForm .xlsx, or the ``content`` of a Kobo asset JSON, which formpack
fixtures and the Kobo API carry beside the submissions) gives variable labels and choice lists
(value labels) in the codebook; ``language=`` picks a translation (``label::English (en)``),
otherwise the untranslated ``label`` column or the first translation is used. With a form, a Kobo
XLSX or ODK export that lacks a repeat the form declares is error MD460 (a known Kobo export
failure); a repeat row whose parent does not exist is a reported rejection (MD461), and so are
its own child rows.

**Direct identifiers are dropped** unless ``keep_identifiers=True`` (the drop is listed in
``codebook.tables[t]["dropped_identifiers"]`` and in the notes):

- questions of type ``geopoint``, ``geotrace``, ``geoshape`` (without a form: any column whose
  every answer looks like ``lat lon [alt [accuracy]]``, or a ``;``-list of such points), their split columns
  (``_q_latitude``/``_longitude``/``_altitude``/``_precision``, ODK ``q-Latitude`` ...),
  Kobo's ``_geolocation``, and any column named ``*latitude``/``*longitude``/``*altitude``/``*precision``;
- columns whose question name matches :data:`IDENTIFIER_PATTERNS`: personal names (``name``,
  ``full_name``, ``first_name``, ``last_name``, ``surname``, ``respondent_name``,
  ``member_name``, ``head_name``, ... any ``*_name`` naming a person), phone numbers (``phone``,
  ``mobile``, ``cellphone``, ``telephone``, ``contact_number``), ``email`` and addresses
  (``address``, ``street``, ``house_number``). The list is data; extend it by passing
  ``identifier_patterns=``.

Example:
    >>> tables, cb = read_kobo_xlsx("data.xlsx", form="form.xlsx")    # doctest: +SKIP
    >>> tables["members"][["_parent_index", "age", "sex"]].head()      # doctest: +SKIP
"""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from migdata.errors import DataError, UsageError
from migdata.readers.codebook import Codebook, Variable
from migdata.readers.tabular import _cell_text, read_csv

MAIN = "main"
GEO_TYPES = ("geopoint", "geotrace", "geoshape")
IDENTIFIER_PATTERNS: tuple[str, ...] = (
    r"^(name|names|full_?name|first_?name|given_?name|last_?name|family_?name|middle_?name|"
    r"surname|nickname|maiden_?name)$",
    r"(^|[_.\-/])(respondent|member|head|hh_?head|household_?head|person|child|children|parent|"
    r"mother|father|spouse|interviewee|informant|migrant|ofw|enumerator|contact)s?_?(full_?|first_?|last_?)?name$",
    r"(^|[_.\-/])(phone|phones|phone_?no|phone_?number|mobile|mobile_?no|mobile_?number|cellphone|cell_?no|"
    r"telephone|tel_?no|contact_?no|contact_?number|email|e_?mail|address|street|house_?no|"
    r"house_?number)($|[_.\-/])",
    r"(^|[_.\-/])(latitude|longitude|altitude|precision|accuracy|geolocation|gps)$",
)
KOBO_LINKS = ("_index", "_parent_index", "_parent_table_name", "_submission__uuid", "_repeat_position")


# --- the form ------------------------------------------------------------------------------------

@dataclass
class Question:
    name: str
    type: str  # base type: text, integer, select_one, select_multiple, geopoint, ...
    path: tuple[str, ...]  # enclosing groups and repeats, outermost first
    repeat: str | None  # innermost enclosing repeat (None: main)
    label: str | None = None
    list_name: str | None = None
    or_other: bool = False


@dataclass
class Form:
    """The parts of an XLSForm the readers need."""

    questions: list[Question] = field(default_factory=list)
    repeats: dict[str, str | None] = field(default_factory=dict)  # repeat -> parent repeat (None: main)
    repeat_labels: dict[str, str | None] = field(default_factory=dict)
    choices: dict[str, dict[str, str]] = field(default_factory=dict)
    title: str | None = None
    form_id: str | None = None
    source: str | None = None

    def question(self, name: str) -> Question | None:
        for q in self.questions:
            if q.name == name:
                return q
        return None

    def choice_names(self, q: Question) -> list[str]:
        names = list(self.choices.get(q.list_name or "", {}))
        if q.or_other and "other" not in names:
            names.append("other")
        return names


def _pick_label(row: dict[str, Any], language: str | None, prefix: str = "label") -> str | None:
    if language:
        for k, v in row.items():
            if k.startswith(prefix + "::") and k.split("::", 1)[1].strip() == language:
                return None if v is None else str(v)
    if row.get(prefix) not in (None, ""):
        return str(row[prefix])
    for k, v in row.items():
        if k.startswith(prefix + "::") and v not in (None, ""):
            return str(v)
    return None


def _norm_type(t: str) -> str:
    return re.sub(r"\s+", "_", t.strip().lower())


def _form_from_rows(survey: list[dict[str, Any]], choices: list[dict[str, Any]], language: str | None,
                    source: str | None, title: str | None = None, form_id: str | None = None) -> Form:
    form = Form(source=source, title=title, form_id=form_id)
    for c in choices:
        ln = c.get("list_name") or c.get("list name")
        name = c.get("name")
        if ln in (None, "") or name in (None, ""):
            continue
        form.choices.setdefault(str(ln).strip(), {})[_cell_text(name).strip()] = _pick_label(c, language) or str(name)
    stack: list[tuple[str, str]] = []  # (kind, name)
    for row in survey:
        raw_type = str(row.get("type") or "").strip()
        if not raw_type:
            continue
        t = _norm_type(raw_type)
        name = str(row.get("name") or "").strip()
        if t in ("begin_group", "begin_repeat"):
            kind = "repeat" if t == "begin_repeat" else "group"
            if kind == "repeat":
                parent = next((n for k, n in reversed(stack) if k == "repeat"), None)
                form.repeats[name] = parent
                form.repeat_labels[name] = _pick_label(row, language)
            stack.append((kind, name))
            continue
        if t in ("end_group", "end_repeat"):
            if stack:
                stack.pop()
            continue
        if not name:
            continue
        parts = raw_type.split()
        base = parts[0].lower()
        list_name = row.get("select_from_list_name")
        or_other = "or_other" in [p.lower() for p in parts[1:]]
        if base in ("select_one", "select_multiple") and not list_name and len(parts) > 1:
            list_name = parts[1]
        repeat = next((n for k, n in reversed(stack) if k == "repeat"), None)
        form.questions.append(Question(name=name, type=base, path=tuple(n for _, n in stack),
                                       repeat=repeat, label=_pick_label(row, language),
                                       list_name=str(list_name) if list_name else None, or_other=or_other))
        if or_other:
            form.questions.append(Question(name=name + "_other", type="text",
                                           path=tuple(n for _, n in stack), repeat=repeat,
                                           label=f"{_pick_label(row, language) or name}: other"))
    return form


def form_from_content(content: dict[str, Any], language: str | None = None, source: str | None = None) -> Form:
    """A :class:`Form` from a Kobo asset's JSON ``content`` (labels are lists, one per translation).

    Example:
        >>> f = form_from_content({"survey": [{"type": "integer", "name": "age", "label": ["Age"]}]})
        >>> f.question("age").label
        'Age'
    """
    translations = content.get("translations") or [None]
    idx = 0
    if language is not None and language in translations:
        idx = translations.index(language)

    def flat(row: dict[str, Any]) -> dict[str, Any]:
        out = dict(row)
        for k in ("label",):
            v = row.get(k)
            if isinstance(v, list):
                out[k] = v[idx] if idx < len(v) else (v[0] if v else None)
        return out

    return _form_from_rows([flat(r) for r in content.get("survey", [])],
                           [flat(r) for r in content.get("choices", [])], None, source,
                           title=(content.get("settings") or {}).get("form_title") if isinstance(content.get("settings"), dict) else None)


def read_xlsform(path: str | Path, language: str | None = None) -> Form:
    """Read an XLSForm (.xlsx): survey rows, groups/repeats, choice lists, labels.

    Example:
        >>> form = read_xlsform("sample_xlsform.xlsx")              # doctest: +SKIP
        >>> form.repeats                                             # doctest: +SKIP
        {'members': None}
    """
    import openpyxl

    path = Path(path)
    if not path.exists():
        raise DataError("MD001", path=str(path))
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # openpyxl raises several unrelated types for non-workbooks
        raise DataError("MD463", file=str(path), detail=str(e)) from e

    def sheet_rows(name: str) -> list[dict[str, Any]]:
        ws = next((wb[s] for s in wb.sheetnames if s.strip().lower() == name), None)
        if ws is None:
            return []
        rows = list(ws.iter_rows(values_only=True))
        if not rows:
            return []
        header = [str(h).strip() if h is not None else "" for h in rows[0]]
        out = []
        for r in rows[1:]:
            d = {h: (v.strip() if isinstance(v, str) else v) for h, v in zip(header, r) if h}
            if any(v not in (None, "") for v in d.values()):
                out.append(d)
        return out

    try:
        if not any(s.strip().lower() == "survey" for s in wb.sheetnames):
            raise DataError("MD463", file=str(path), detail=f"no 'survey' sheet (sheets: {', '.join(wb.sheetnames)})")
        survey = sheet_rows("survey")
        if survey and not {"type", "name"} <= set(survey[0]):
            raise DataError("MD463", file=str(path), detail="the survey sheet needs 'type' and 'name' columns")
        choices = sheet_rows("choices")
        settings = sheet_rows("settings")
    except DataError:
        raise
    except Exception as e:  # damaged XML inside the workbook: parsed only while rows are read
        raise DataError("MD463", file=str(path), detail=f"{type(e).__name__}: {e}") from None
    finally:
        wb.close()
    st = settings[0] if settings else {}
    return _form_from_rows(survey, choices, language, str(path),
                           title=(str(st.get("form_title")).strip() if st.get("form_title") else None),
                           form_id=(str(st.get("form_id")).strip() if st.get("form_id") else None))


def _load_form(form: Any, language: str | None) -> Form | None:
    if form is None or isinstance(form, Form):
        return form
    if isinstance(form, dict):
        return form_from_content(form.get("content", form), language)
    p = Path(form)
    if p.suffix.lower() == ".json":
        return form_from_content(json.loads(p.read_text(encoding="utf-8")).get("content", {}), language, str(p))
    return read_xlsform(p, language)


# --- column naming ----------------------------------------------------------------------------------

def _candidates(form: Form) -> dict[str, tuple[Question, str | None]]:
    """Every header spelling an export may use for a question (or a select_multiple choice)."""
    m: dict[str, tuple[Question, str | None]] = {}
    for q in form.questions:
        fulls = {q.name}
        for sep in ("/", ".", "-"):
            fulls.add(sep.join(q.path + (q.name,)))
        for f in fulls:
            m.setdefault(f, (q, None))
            if q.type == "select_multiple":
                for c in form.choice_names(q):
                    for sep in ("/", ".", "-"):
                        m.setdefault(f + sep + c, (q, c))
            if q.type in GEO_TYPES:
                for part in ("latitude", "longitude", "altitude", "precision"):
                    m.setdefault(f"_{f}_{part}", (q, part))
                for part in ("Latitude", "Longitude", "Altitude", "Accuracy"):
                    m.setdefault(f"{f}-{part}", (q, part.lower()))
    return m


# latitude and longitude always carry decimals, so "1 3" (a select_multiple of numeric codes) is not a point
_GEO_POINT = r"-?\d{1,3}\.\d+ -?\d{1,3}\.\d+( -?\d+(\.\d+)?){0,2}"
_GEO_VALUE = re.compile(rf"^{_GEO_POINT}(\s*;\s*{_GEO_POINT})*;?$")


def _looks_geo(col: pd.Series) -> bool:
    """Every non-empty answer is an ODK geopoint/geotrace/geoshape ("lat lon [alt [accuracy]]")."""
    vals = [v for v in col.astype(object).tolist() if isinstance(v, str) and v.strip()]
    return bool(vals) and all(_GEO_VALUE.match(v.strip()) for v in vals[:1000])


def _is_identifier(name: str, patterns: Iterable[str]) -> bool:
    low = name.lower()
    return any(re.search(p, low) for p in patterns)


@dataclass
class _Raw:
    """One raw table before naming: rows of {header: value} plus link columns."""

    name: str
    df: pd.DataFrame
    parent: str | None = None
    sheet: str | None = None


def _finish(raws: dict[str, _Raw], *, form: Form | None, fmt: str, source: str,
            keep_identifiers: bool, identifier_patterns: Iterable[str],
            select_multiple_seen: dict[str, set[str]] | None = None) -> tuple[dict[str, pd.DataFrame], Codebook]:
    cb = Codebook(source=source, format=fmt)
    report = cb.report
    cand = _candidates(form) if form else {}
    patterns = tuple(identifier_patterns)
    # 1. orphans, top-down so a rejected parent takes its children with it
    order = _topo(raws)
    kept_index: dict[str, set] = {}
    for tname in order:
        raw = raws[tname]
        df = raw.df
        read = len(df)
        if raw.parent is None:
            kept_index[tname] = set(df["_index"].tolist())
            report.set_counts(tname, read=read, kept=read, rejected=0)
            if "_submission__uuid" not in df.columns:
                # one submission key on every table, so that profiles can join repeats to main
                uuid = df["_uuid"] if "_uuid" in df.columns else pd.Series([""] * len(df), index=df.index)
                fallback = "_index:" + df["_index"].astype("Int64").astype(str)
                df["_submission__uuid"] = uuid.astype(object).where(uuid.astype(str) != "", fallback)
                raw.df = df
            continue
        pidx = pd.to_numeric(df["_parent_index"], errors="coerce")
        empty = pidx.isna()
        parents = kept_index.get(raw.parent, set())
        orphan = ~empty & ~pidx.isin(list(parents))
        for _, r in df[empty].iterrows():
            report.add("MD464", table=tname, source_file=source, source_row=int(r["_source_row"]),
                       column="_parent_index", value=None, action="rejected")
        for _, r in df[orphan].iterrows():
            report.add("MD461", table=tname, source_file=source, source_row=int(r["_source_row"]),
                       column="_parent_index", value=r["_parent_index"], action="rejected",
                       parent=raws[raw.parent].sheet or raw.parent)
        bad = empty | orphan
        df = df[~bad].reset_index(drop=True)
        # 1-based position of the row within its parent (a roster line number)
        df["_repeat_position"] = (df.groupby(pd.to_numeric(df["_parent_index"], errors="coerce"),
                                             sort=False).cumcount() + 1).astype("int64")
        if "_submission__uuid" not in df.columns or (df["_submission__uuid"].astype(str) == "").any():
            puuid = dict(zip(raws[raw.parent].df["_index"], raws[raw.parent].df["_submission__uuid"]))
            df["_submission__uuid"] = [puuid.get(i, "") for i in pd.to_numeric(df["_parent_index"])]
        raw.df = df
        kept_index[tname] = set(df["_index"].tolist())
        report.set_counts(tname, read=read, kept=len(df), rejected=int(bad.sum()))
    # 2. names, select_multiple indicators, identifiers, codebook
    tables: dict[str, pd.DataFrame] = {}
    for tname in order:
        df = raws[tname].df
        new_cols: dict[str, Any] = {}
        dropped: list[str] = []
        multi: dict[str, Question | str] = {}
        indicator_sources: dict[tuple[str, str], str] = {}
        names_seen: dict[str, list[str]] = {}
        plan: list[tuple[str, str, Question | None, str | None]] = []
        for col in df.columns:
            if col in ("_source_row",) + KOBO_LINKS or col.startswith("_") and col not in cand:
                if not keep_identifiers and col not in ("_source_row",) + KOBO_LINKS and \
                        (col == "_geolocation" or _is_identifier(col, patterns)):
                    dropped.append(col)  # e.g. _<q>_latitude split columns when no form is given
                    continue
                plan.append((col, col, None, None))
                continue
            q, choice = cand.get(col, (None, None))
            if q is None:
                # no form, or a column the form does not know: strip the group path
                base = re.split(r"/", col)[-1]
                if not keep_identifiers and _looks_geo(df[col]):
                    dropped.append(col)  # GPS answers ("lat lon alt accuracy"), type unknown
                    continue
                plan.append((col, base, None, None))
                names_seen.setdefault(base, []).append(col)
                continue
            if choice is not None and q.type == "select_multiple":
                indicator_sources[(q.name, choice)] = col
                multi[q.name] = q
                continue
            if q.type in GEO_TYPES and not keep_identifiers:
                dropped.append(col)
                continue
            plan.append((col, q.name, q, None))
            names_seen.setdefault(q.name, []).append(col)
            if q.type == "select_multiple":
                multi[q.name] = q
        dup = {b for b, cols in names_seen.items() if len(set(cols)) > 1}
        for col, base, q, _ in plan:
            name = col if base in dup else base
            if not keep_identifiers and q is None and not col.startswith("_") and _is_identifier(base, patterns):
                dropped.append(col)
                continue
            if not keep_identifiers and q is not None and _is_identifier(q.name, patterns):
                dropped.append(col)
                continue
            new_cols[name] = df[col]
        # select_multiple without form: columns the caller saw as space-separated lists (JSON)
        for qn in (select_multiple_seen or {}):
            if qn in new_cols and qn not in multi:
                multi[qn] = qn
        for qn, q in multi.items():
            answer = new_cols.get(qn)
            if isinstance(q, Question) and form is not None:
                choices = form.choice_names(q)
            else:
                choices = sorted((select_multiple_seen or {}).get(qn, set()))
            for c in choices:
                src = indicator_sources.get((qn, c))
                if src is not None:
                    v = pd.to_numeric(df[src].replace("", np.nan), errors="coerce")
                elif answer is not None:
                    a = answer.astype(object)
                    blank = a.isna() | (a.astype(str).str.strip() == "")
                    v = a.astype(str).str.split().map(lambda xs, c=c: 1 if c in xs else 0)
                    v = v.where(~blank, np.nan)
                else:
                    continue
                new_cols[f"{qn}__{c}"] = pd.array(v, dtype="Int8")
        out = pd.DataFrame(new_cols, index=df.index)
        for c in out.columns:
            if out[c].dtype != "Int8" and c not in ("_source_row",):
                out[c] = out[c].astype(object)
        tables[tname] = out
        info: dict[str, Any] = {"role": "main" if raws[tname].parent is None else "repeat",
                                "parent": raws[tname].parent, "sheet": raws[tname].sheet,
                                "n_rows": len(out), "keys": ["_submission__uuid"]}
        if dropped:
            info["dropped_identifiers"] = dropped
            cb.notes.append(f"{tname}: direct identifiers dropped ({', '.join(dropped)}); "
                            "pass keep_identifiers=True to keep them.")
        cb.tables[tname] = info
        for c in out.columns:
            if c == "_source_row":
                continue
            q = form.question(c) if form else None
            base_q = c.split("__", 1)[0] if "__" in c else None
            var = Variable(name=c, table=tname, type="string")
            if q is not None:
                var.label = q.label
                var.extra["kobo_type"] = q.type
                if q.type in ("select_one", "select_multiple") and q.list_name:
                    var.value_labels = dict(form.choices.get(q.list_name, {}))
                    if q.or_other:
                        var.value_labels.setdefault("other", "Other")
            elif base_q and form is not None and form.question(base_q) is not None and out[c].dtype == "Int8":
                pq = form.question(base_q)
                choice = c.split("__", 1)[1]
                clab = form.choices.get(pq.list_name or "", {}).get(choice, choice)
                var.label = f"{pq.label or pq.name}: {clab}"
                var.type = "numeric"
                var.value_labels = {0: "No", 1: "Yes"}
            elif out[c].dtype == "Int8":
                var.type = "numeric"
                var.value_labels = {0: "No", 1: "Yes"}
            cb.add(var)
    report.check_balance()
    return tables, cb


def _topo(raws: dict[str, _Raw]) -> list[str]:
    order: list[str] = []
    seen: set[str] = set()

    def visit(n: str) -> None:
        if n in seen:
            return
        seen.add(n)
        p = raws[n].parent
        if p is not None and p in raws:
            visit(p)
        order.append(n)

    for n in raws:
        visit(n)
    return order


# --- Kobo XLSX ----------------------------------------------------------------------------------------

def read_kobo_xlsx(path: str | Path, form: Any = None, language: str | None = None,
                   keep_identifiers: bool = False,
                   identifier_patterns: Iterable[str] = IDENTIFIER_PATTERNS) -> tuple[dict[str, pd.DataFrame], Codebook]:
    """Read a KoboToolbox XLSX export: first sheet = submissions (``main``), one sheet per repeat.

    Example:
        >>> tables, cb = read_kobo_xlsx("data.xlsx", form="sample_xlsform.xlsx")   # doctest: +SKIP
        >>> len(tables["main"]), len(tables["members"])                             # doctest: +SKIP
        (5, 12)
    """
    import openpyxl

    path = Path(path)
    if not path.exists():
        raise DataError("MD001", path=str(path))
    if path.stat().st_size == 0:
        raise DataError("MD002", path=str(path))
    frm = _load_form(form, language)
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # openpyxl raises many unrelated types for damaged workbooks
        raise DataError("MD462", file=str(path), format="Kobo XLSX", detail=f"{type(e).__name__}: {e}") from None
    sheets: dict[str, pd.DataFrame] = {}
    try:
        for s in wb.sheetnames:
            try:
                rows = list(wb[s].iter_rows(values_only=True))
            except Exception as e:  # damaged XML or a damaged zip member: parsed only here
                raise DataError("MD462", file=str(path), format="Kobo XLSX",
                                detail=f"sheet {s!r} cannot be read ({type(e).__name__}: {e})") from None
            if not rows or all(v is None for v in rows[0]):
                continue
            header = [str(h) if h is not None else f"column_{j + 1}" for j, h in enumerate(rows[0])]
            while header and header[-1].startswith("column_"):
                header.pop()
            _unique_header(header, str(path), s)
            body = [[_cell_text(v) for v in r[:len(header)]] + [""] * (len(header) - len(r))
                    for r in rows[1:]]
            keep = [i for i, r in enumerate(body) if any(v != "" for v in r)]
            df = pd.DataFrame([body[i] for i in keep], columns=header, dtype=object)
            df.insert(0, "_source_row", pd.Series([i + 2 for i in keep], dtype="int64"))
            sheets[s] = df
    finally:
        wb.close()
    if not sheets:
        raise DataError("MD002", path=str(path))
    main_sheet = next(iter(sheets))
    if "_parent_index" in sheets[main_sheet].columns:
        raise DataError("MD465", file=str(path), detail=f"the first sheet {main_sheet!r} is a repeat sheet")
    # sheet -> repeat name (Kobo cuts sheet names to 31 characters)
    rep_of_sheet: dict[str, str] = {}
    if frm is not None:
        for rep in frm.repeats:
            s = next((s for s in sheets if s == rep[:31] or s.lower() == rep[:31].lower()), None)
            if s is None:
                raise DataError("MD460", file=str(path), value=rep, column=rep[:31])
            rep_of_sheet[s] = rep
    raws: dict[str, _Raw] = {}
    raws[MAIN] = _Raw(MAIN, sheets[main_sheet], None, main_sheet)
    if "_index" not in raws[MAIN].df.columns:
        raws[MAIN].df["_index"] = np.arange(1, len(raws[MAIN].df) + 1).astype(str)
    for s, df in sheets.items():
        if s == main_sheet:
            continue
        if "_parent_index" not in df.columns:
            if frm is not None and s not in rep_of_sheet:
                continue  # an extra sheet (e.g. a user's notes) that is not part of the export
            raise DataError("MD464", file=str(path), table=s, row=1, column="_parent_index")
        name = rep_of_sheet.get(s, s)
        parent_sheet = None
        if "_parent_table_name" in df.columns and len(df):
            parent_sheet = next((v for v in df["_parent_table_name"] if v), None)
        if frm is not None:
            parent = frm.repeats.get(name)
            parent = MAIN if parent is None else parent
        elif parent_sheet is None or parent_sheet == main_sheet:
            parent = MAIN
        else:
            parent = rep_of_sheet.get(parent_sheet, parent_sheet)
            if parent_sheet not in sheets:
                raise DataError("MD460", file=str(path), value=parent_sheet, column=parent_sheet)
        raws[name] = _Raw(name, df, parent, s)
    for raw in raws.values():
        raw.df["_index"] = pd.to_numeric(raw.df["_index"], errors="coerce")
        if "_parent_index" in raw.df.columns:
            raw.df["_parent_index"] = raw.df["_parent_index"].replace("", np.nan)
    return _finish(raws, form=frm, fmt="kobo_xlsx", source=str(path), keep_identifiers=keep_identifiers,
                   identifier_patterns=identifier_patterns)


def _unique_header(header: list[str], file: str, sheet: str) -> None:
    """MD466 when two columns of a sheet carry one header (their values cannot be told apart)."""
    from openpyxl.utils import get_column_letter

    seen: dict[str, int] = {}
    for j, h in enumerate(header):
        if h in seen:
            raise DataError("MD466", file=file, table=sheet, column=h,
                            first=get_column_letter(seen[h] + 1), second=get_column_letter(j + 1))
        seen[h] = j


# --- Kobo JSON ------------------------------------------------------------------------------------------

def _scalar(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float, str)):
        return v if isinstance(v, str) else _cell_text(v)
    return json.dumps(v, ensure_ascii=False)


def read_kobo_json(path: str | Path, form: Any = None, language: str | None = None,
                   keep_identifiers: bool = False,
                   identifier_patterns: Iterable[str] = IDENTIFIER_PATTERNS) -> tuple[dict[str, pd.DataFrame], Codebook]:
    """Read Kobo JSON submissions: a list, ``{"results": [...]}`` (the API) or ``{"submissions": [...],
    "content": {...}}`` (a Kobo asset with its form). Nested repeats become their own tables.

    Example:
        >>> tables, cb = read_kobo_json("grouped_repeatable/v1.json")        # doctest: +SKIP
        >>> len(tables["houshold_member_repeat"])                             # doctest: +SKIP
        13
    """
    path = Path(path)
    if not path.exists():
        raise DataError("MD001", path=str(path))
    text = path.read_bytes()
    if not text.strip():
        raise DataError("MD002", path=str(path))
    try:
        data = json.loads(text.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError("MD462", file=str(path), format="Kobo JSON", detail=str(e)) from e
    content = None
    if isinstance(data, dict):
        content = data.get("content") if isinstance(data.get("content"), dict) else None
        subs = data.get("results", data.get("submissions"))
    else:
        subs = data
    if not isinstance(subs, list) or not all(isinstance(s, dict) for s in subs):
        raise DataError("MD462", file=str(path), format="Kobo JSON",
                        detail="expected a list of submissions (objects)")
    frm = _load_form(form, language)
    if frm is None and content is not None:
        frm = form_from_content(content, language, str(path))
    rows: dict[str, list[dict[str, Any]]] = {MAIN: []}
    parents: dict[str, str] = {}
    seen_multi: dict[str, set[str]] = {}
    multi_names = {q.name for q in frm.questions if q.type == "select_multiple"} if frm else set()

    def walk(obj: dict[str, Any], table: str, parent_index: int | None, sub_uuid: str, parent_table: str | None) -> None:
        row: dict[str, Any] = {}
        idx = len(rows[table]) + 1
        row["_index"] = idx
        if parent_index is not None:
            row["_parent_index"] = parent_index
            row["_parent_table_name"] = parent_table
            row["_submission__uuid"] = sub_uuid
        rows[table].append(row)
        for k, v in obj.items():
            if isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
                child = k.split("/")[-1]
                rows.setdefault(child, [])
                parents[child] = table
                for item in v:
                    walk(item, child, idx, sub_uuid, table)
            else:
                row[k] = _scalar(v)
                base = k.split("/")[-1]
                if base in multi_names and isinstance(v, str):
                    seen_multi.setdefault(base, set()).update(v.split())

    for s in subs:
        uuid = s.get("_uuid") or str(s.get("meta/instanceID", "")).replace("uuid:", "") \
            or f"_index:{len(rows[MAIN]) + 1}"
        walk(s, MAIN, None, str(uuid), None)
        rows[MAIN][-1]["_submission__uuid"] = str(uuid)
    if frm is not None:
        for rep, parent in frm.repeats.items():
            rows.setdefault(rep, [])
            parents.setdefault(rep, parent or MAIN)
    raws: dict[str, _Raw] = {}
    for t, rs in rows.items():
        df = pd.DataFrame(rs, dtype=object)
        if df.empty:
            df = pd.DataFrame(columns=["_index"] + (["_parent_index", "_parent_table_name", "_submission__uuid"]
                                                   if t != MAIN else []), dtype=object)
        df = df.fillna("") if len(df) else df
        df.insert(0, "_source_row", pd.Series(np.arange(1, len(df) + 1), dtype="int64"))
        for c in ("_index", "_parent_index"):
            if c in df.columns:
                df[c] = pd.to_numeric(df[c], errors="coerce")
        raws[t] = _Raw(t, df, None if t == MAIN else parents.get(t, MAIN), None)
    if frm is None:
        # without a form, a column whose every answer is a space-separated list cannot be told
        # from free text; only the form names select_multiple questions
        seen_multi = {}
    return _finish(raws, form=frm, fmt="kobo_json", source=str(path), keep_identifiers=keep_identifiers,
                   identifier_patterns=identifier_patterns, select_multiple_seen=seen_multi)


# --- ODK Central CSV ------------------------------------------------------------------------------------------

def _odk_files(path: Path) -> dict[str, tuple[str, bytes]]:
    """{file stem: (display name, bytes)} of the CSVs in a zip, a folder, or a single CSV."""
    if path.is_dir():
        return {p.stem: (str(p), p.read_bytes()) for p in sorted(path.glob("*.csv"))}
    if path.suffix.lower() == ".zip":
        try:
            with zipfile.ZipFile(path) as z:
                return {Path(n).stem: (f"{path}!{n}", z.read(n)) for n in sorted(z.namelist())
                        if n.lower().endswith(".csv") and not n.startswith("__MACOSX")}
        except zipfile.BadZipFile as e:
            raise DataError("MD462", file=str(path), format="ODK Central zip", detail=str(e)) from e
    return {path.stem: (str(path), path.read_bytes())}


def read_odk_csv(path: str | Path, form: Any = None, language: str | None = None,
                 keep_identifiers: bool = False,
                 identifier_patterns: Iterable[str] = IDENTIFIER_PATTERNS) -> tuple[dict[str, pd.DataFrame], Codebook]:
    """Read an ODK Central CSV export (zip or folder): the main CSV plus one CSV per repeat,
    linked by ``KEY``/``PARENT_KEY``.

    Example:
        >>> tables, cb = read_odk_csv("household.zip", form="household.xlsx")     # doctest: +SKIP
    """
    import tempfile

    path = Path(path)
    if not path.exists():
        raise DataError("MD001", path=str(path))
    files = _odk_files(path)
    if not files:
        raise DataError("MD465", file=str(path), detail="no CSV files found")
    frm = _load_form(form, language)
    parsed: dict[str, tuple[str, pd.DataFrame]] = {}
    for stem, (display, raw) in files.items():
        with tempfile.TemporaryDirectory() as td:
            p = Path(td) / (stem + ".csv")
            p.write_bytes(raw)
            try:
                t, sub_cb = read_csv(p, header_row=1, delimiter=",")
            except DataError as e:
                if e.code == "MD002":
                    continue
                raise
        df = t[stem]
        if sub_cb.report.problems:
            raise DataError("MD462", file=display, format="ODK Central CSV",
                            detail=sub_cb.report.problems[0].message)
        parsed[stem] = (display, df)
    mains = [s for s, (_, df) in parsed.items() if "PARENT_KEY" not in df.columns]
    if len(mains) != 1:
        raise DataError("MD465", file=str(path),
                        detail=f"expected exactly one CSV without PARENT_KEY, found {len(mains)}")
    main_stem = mains[0]
    raws: dict[str, _Raw] = {}
    key_owner: dict[str, tuple[str, int]] = {}

    def rep_name(stem: str) -> str:
        if stem.startswith(main_stem + "-"):
            return stem[len(main_stem) + 1:]
        return stem

    names = {s: (MAIN if s == main_stem else rep_name(s)) for s in parsed}
    if frm is not None:
        present = set(names.values())
        for rep in frm.repeats:
            if rep not in present:
                raise DataError("MD460", file=str(path), value=rep, column=f"{main_stem}-{rep}.csv")
    for stem, (display, df) in parsed.items():
        name = names[stem]
        if "KEY" not in df.columns:
            raise DataError("MD464", file=display, table=name, row=1, column="KEY")
        df = df.copy()
        df["_index"] = np.arange(1, len(df) + 1)
        df["_submission__uuid"] = [str(k).split("/")[0].replace("uuid:", "") for k in df["KEY"]]
        for i, k in zip(df["_index"], df["KEY"]):
            key_owner[k] = (name, int(i))
        raws[name] = _Raw(name, df, None, Path(display).name)
    for name, raw in raws.items():
        if name == MAIN:
            continue
        df = raw.df
        pk = df["PARENT_KEY"]
        owners = [key_owner.get(k) for k in pk]
        parent_names = {o[0] for o in owners if o}
        if frm is not None and name in frm.repeats:
            parent = frm.repeats[name] or MAIN
        elif parent_names:
            parent = sorted(parent_names)[0]
        else:
            parent = MAIN
        raw.parent = parent
        # empty PARENT_KEY -> missing (MD464); a key found nowhere, or in another table -> -1,
        # which matches no parent _index (MD461)
        df["_parent_index"] = [np.nan if k == "" else (o[1] if (o and o[0] == parent) else -1)
                               for o, k in zip(owners, pk)]
        df["_parent_table_name"] = parent
        raw.df = df
    return _finish(raws, form=frm, fmt="odk_csv", source=str(path), keep_identifiers=keep_identifiers,
                   identifier_patterns=identifier_patterns)


def read(path: str | Path, **options: Any) -> tuple[dict[str, pd.DataFrame], Codebook]:
    """Read a Kobo/ODK export, choosing by form: ``.xlsx`` Kobo XLSX, ``.json`` Kobo JSON,
    ``.zip``/folder/``.csv`` ODK Central CSV. Pass ``format=`` (``kobo_xlsx``, ``kobo_json``,
    ``odk_csv``) to override.

    Example:
        >>> tables, cb = read("data.xlsx", form="form.xlsx")               # doctest: +SKIP
    """
    fmt = options.pop("format", None)
    p = Path(path)
    if fmt is None:
        ext = p.suffix.lower()
        fmt = {".xlsx": "kobo_xlsx", ".xlsm": "kobo_xlsx", ".json": "kobo_json"}.get(
            ext, "odk_csv" if (ext in (".zip", ".csv") or p.is_dir()) else None)
    readers = {"kobo_xlsx": read_kobo_xlsx, "kobo_json": read_kobo_json, "odk_csv": read_odk_csv}
    if fmt not in readers:
        raise UsageError("MD004", what="Kobo/ODK export format", value=fmt or p.suffix,
                         choices=", ".join(readers))
    return readers[fmt](path, **options)


#: names used by the reader registry (``migdata.readers.READERS``)
read_xlsx = read_kobo_xlsx
read_json = read_kobo_json
