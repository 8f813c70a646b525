"""Synthetic questionnaire submissions, and a writer for Kobo's XLSX export layout.

* :func:`fake_submissions` makes plausible random submissions that obey a form's relevance
  (skip) rules, constraints, required flags and repeat counts, using the XPath subset in
  :mod:`migdata.questionnaires.xpath`. Plausibility comes from per-form hints (``FAKE`` in each
  form's source module: choice weights, ranges, typical amounts); any other XLSForm gets generic
  values within its constraints.
* :func:`write_kobo_xlsx` writes submissions the way KoboToolbox exports XLSX ("XML values and
  headers", groups included), matching the real export in ``realdata/kobo/kobocruncher/data.xlsx``:
  one main sheet named after the form title (31 characters at most) and one sheet per repeat;
  columns are group paths (``hh/psgc``; separator ``/`` by default, ``.`` as in that export);
  a ``select_multiple`` question gives the answer column ``q`` followed by one 0/1 column
  ``q/choice`` per choice (empty when the question was not asked); main-sheet metadata
  ``_id, _uuid, _submission_time, _validation_status, _notes, _status, _submitted_by, _tags,
  _index``; repeat sheets add ``_index, _parent_table_name, _parent_index`` and the parent
  submission's metadata prefixed ``_submission_``. Notes are not exported; calculations are.

A submission is a dict in Kobo's JSON shape: keys are group paths (``"hh/psgc"``; bare question
names are accepted too), values are strings or numbers, a ``select_multiple`` answer is a
space-separated string, and a repeat is a list of such dicts under the repeat's path
(``"members": [{"members/A05_SEX": "2", ...}, ...]``). Optional keys ``_id``, ``_uuid`` and
``_submission_time`` are used when present.

Example:
    >>> subs = fake_submissions("children_left_behind_survey", 3, seed=1)
    >>> len(subs)
    3
"""

from __future__ import annotations

import datetime as dt
import math
import os
import random
import re
import uuid
from pathlib import Path
from typing import Any, Iterable

from openpyxl import Workbook

from migdata.fileio import atomic_write
from migdata.errors import DataError
from migdata.publish.safe import guard_sheet
from migdata.questionnaires.form import (META_TYPES, NO_DATA, SELECT_MULTIPLE, SELECT_ONE, Element,
                                         Form, load_form)
from migdata.questionnaires.xlsform import FORMS, form_module
from migdata.questionnaires.xpath import evaluate, string, truthy

#: Reference date of generated submissions (fixed, so a seed always gives the same data).
REFERENCE_DATE = dt.date(2026, 11, 2)

MAIN_META = ["_id", "_uuid", "_submission_time", "_validation_status", "_notes", "_status",
             "_submitted_by", "_tags", "_index"]
REPEAT_META = ["_index", "_parent_table_name", "_parent_index", "_submission__id", "_submission__uuid",
               "_submission__submission_time", "_submission__validation_status", "_submission__notes",
               "_submission__status", "_submission__submitted_by", "_submission__tags"]

# Real CALABARZON barangays (PSGC July 2025) used for generic PSGC answers.
CALABARZON_BARANGAYS = ["0405623008", "0405639016", "0401029023", "0405623015", "0401005065",
                        "0405629001", "0401024002", "0405631001", "0405605008", "0405618006",
                        "0405646038", "0401010014"]


# --------------------------------------------------------------------------- fake submissions

def _hints(form: Form) -> dict[str, dict[str, Any]]:
    if form.name in FORMS:
        return getattr(form_module(form.name), "FAKE", {})
    return {}


def _bounds(constraint: str | None) -> tuple[float | None, float | None]:
    lo = hi = None
    if constraint:
        m = re.search(r"\.\s*>=?\s*(-?\d+(?:\.\d+)?)", constraint)
        if m:
            lo = float(m.group(1))
        m = re.search(r"\.\s*<=?\s*(-?\d+(?:\.\d+)?)", constraint)
        if m:
            hi = float(m.group(1))
    return lo, hi


def _fmt(v: float, integer: bool) -> str:
    return str(int(round(v))) if integer else (str(int(v)) if v == int(v) else f"{v:.2f}")


class _Faker:
    def __init__(self, form: Form, rng: random.Random, today: dt.date, hints: dict[str, dict]) -> None:
        self.form, self.rng, self.today, self.hints = form, rng, today, hints

    # -- candidates -------------------------------------------------------
    def candidate(self, e: Element, ctx: dict[str, Any], outer: dict[str, Any]) -> Any:
        h = self.hints.get(e.name, {})
        rng = self.rng
        if "alloc" in h:
            key = "__alloc_" + h["alloc_group"]
            if key not in ctx:
                k = h["alloc_n"]
                w = [rng.gammavariate(h.get("alpha", 1.0), 1.0) for _ in range(k)]
                raw = [100 * x / sum(w) for x in w]
                parts = [int(math.floor(x)) for x in raw]
                order = sorted(range(k), key=lambda i: raw[i] - parts[i], reverse=True)
                for i in order[: 100 - sum(parts)]:
                    parts[i] += 1
                ctx[key] = parts
            return str(ctx[key][h["alloc"]])
        if "zero" in h and rng.random() < h["zero"]:
            return "0"
        if "ratio_of" in h:
            ref, a, b = h["ratio_of"]
            base = float(ctx.get(ref) or outer.get(ref) or 0)
            return _fmt(round(base * rng.uniform(a, b), 2), e.type == "integer")
        if e.type in (SELECT_ONE, SELECT_MULTIPLE):
            names = self.form.choice_names(e.list_name or "")
            weights = h.get("choices")
            pool = [n for n in names if not weights or n in weights]
            w = [weights.get(n, 0) for n in pool] if weights else None
            if e.type == SELECT_ONE:
                return rng.choices(pool, weights=w)[0]
            k_lo, k_hi = h.get("k", (1, 3))
            k = min(rng.randint(k_lo, k_hi), len(pool))
            picked: list[str] = []
            while len(picked) < k:
                c = rng.choices(pool, weights=w)[0]
                if c not in picked:
                    picked.append(c)
            return " ".join(n for n in names if n in picked)
        if e.type in ("integer", "decimal"):
            if "int" in h:
                lo, hi = h["int"]
                return str(rng.randint(lo, hi))
            if "num" in h:
                median, sigma, lo, hi = h["num"]
                v = min(max(rng.lognormvariate(math.log(median), sigma), lo), hi)
                step = h.get("round", 100 if median >= 1000 else 1)
                v = round(v / step) * step
                return _fmt(v, e.type == "integer")
            lo, hi = _bounds(e.constraint)
            lo = 0 if lo is None else lo
            hi = lo + 10 if hi is None else max(hi, lo)  # contradictory bounds: the check fails (MD607)
            return _fmt(rng.randint(int(math.ceil(lo)), int(math.floor(hi))), True) \
                if e.type == "integer" else _fmt(round(rng.uniform(lo, hi), 2), False)
        if e.type == "text":
            if h.get("psgc"):
                return rng.choice(CALABARZON_BARANGAYS)
            if "text" in h:
                return rng.choice(h["text"])
            m = re.search(r"\[0-9\]\{(\d+)(?:,(\d+))?\}", e.constraint or "")
            if m:
                n = rng.randint(int(m.group(1)), int(m.group(2) or m.group(1)))
                return "".join(rng.choice("0123456789") for _ in range(n))
            return rng.choice(["sample answer", "other", "see notes"])
        if e.type == "date":
            return (self.today - dt.timedelta(days=rng.randint(0, 365 * 5))).isoformat()
        return "x"

    def fallback(self, e: Element) -> list[str]:
        """Every value worth trying when random candidates keep failing the constraint."""
        if e.type == SELECT_ONE:
            names = self.form.choice_names(e.list_name or "")
            return self.rng.sample(names, len(names))
        if e.type == SELECT_MULTIPLE:
            return self.form.choice_names(e.list_name or "")
        if e.type == "integer":
            lo, hi = _bounds(e.constraint)
            lo = -10 if lo is None else lo
            hi = 10000 if hi is None else hi
            hi = min(hi, lo + 20000)
            vals = [str(i) for i in range(int(math.ceil(lo)), int(math.floor(hi)) + 1)]
            return self.rng.sample(vals, len(vals))
        return []

    # -- walking the form -------------------------------------------------
    def value(self, e: Element, ctx: dict[str, Any], outer: dict[str, Any], position: int | None) -> str:
        kw = dict(outer=outer, position=position, today=self.today, column=e.path)
        tries = 0
        for _ in range(60):
            tries += 1
            v = self.candidate(e, ctx, outer)
            if truthy(e.constraint, ctx, current=v, **kw):
                return v
        for v in self.fallback(e):
            tries += 1
            if truthy(e.constraint, ctx, current=v, **kw):
                return v
        raise DataError("MD607", column=e.path, form=self.form.form_id, constraint=e.constraint, tries=tries)

    def answer(self, e: Element, ctx: dict[str, Any], outer: dict[str, Any], position: int | None,
               start: dt.datetime, fixed: dict[str, Any] | None = None) -> Any:
        """The answer to ``e`` (None when not asked or skipped); a relevant question named in
        ``fixed`` (by path or name) gets the fixed answer as given (None: left blank)."""
        kw = dict(outer=outer, position=position, today=self.today, column=e.path)
        if e.type in META_TYPES:
            if e.type == "start":
                return start
            if e.type == "end":
                return start + dt.timedelta(minutes=self.rng.randint(12, 55))
            if e.type == "today":
                return self.today.isoformat()
            return None
        for rel in e.relevant_chain + ((e.relevant,) if e.relevant else ()):
            if not truthy(rel, ctx, **kw):
                return None
        if e.type == "calculate":
            r = evaluate(e.calculation or "''", ctx, **kw)
            return string(r) if not isinstance(r, bool) else ("true" if r else "false")
        if fixed is not None and (e.path in fixed or e.name in fixed):
            v = fixed[e.path] if e.path in fixed else fixed[e.name]
            return None if v is None else (v if isinstance(v, (dt.date, dt.datetime)) else str(v))
        p = self.hints.get(e.name, {}).get("p", 1.0 if e.required else 0.5)
        if not e.required and self.rng.random() >= p:
            return None
        return self.value(e, ctx, outer, position)

    def fill(self, elements: list[Element], repeat: str | None, ctx: dict[str, Any], out: dict[str, Any],
             outer: dict[str, Any], position: int | None, start: dt.datetime,
             fixed: dict[str, Any] | None = None) -> None:
        for e in elements:
            if e.repeat != repeat or e.type in NO_DATA or e.type == "group" or e.path.startswith("meta/"):
                continue
            if e.type == "repeat":
                kw = dict(outer=outer, position=position, today=self.today, column=e.path)
                chain = e.relevant_chain + ((e.relevant,) if e.relevant else ())
                if not all(truthy(r, ctx, **kw) for r in chain):
                    continue
                count_expr = e.control.get("jr:count")
                if count_expr:
                    n = evaluate(count_expr, ctx, **kw)
                    n = 0 if isinstance(n, float) and math.isnan(n) else int(float(string(n) or 0))
                else:
                    n = self.rng.randint(1, 3)
                inner_outer = {**outer, **ctx}
                instances = []
                fixed_rows = (fixed or {}).get(e.path, (fixed or {}).get(e.name)) or []
                for i in range(1, n + 1):
                    ictx: dict[str, Any] = {}
                    inst: dict[str, Any] = {}
                    self.fill(elements, e.path, ictx, inst, inner_outer, i, start,
                              fixed_rows[i - 1] if i <= len(fixed_rows) else None)
                    instances.append(inst)
                out[e.path] = instances
                continue
            v = self.answer(e, ctx, outer, position, start, fixed)
            if v is not None:
                ctx[e.name] = v if not isinstance(v, dt.datetime) else v.isoformat()
                out[e.path] = v


def fake_submissions(form: str | os.PathLike[str] | Form, n: int, seed: int = 0, *,
                     today: dt.date | None = None,
                     fixed: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """``n`` random valid submissions of ``form`` (a bundled name or an XLSForm path).

    Deterministic for a given seed. Relevance, constraints, required flags and repeat counts
    of the form are obeyed; values follow the form's ``FAKE`` hints where it has them.
    ``fixed[i]`` (optional) gives submission ``i`` answers known in advance, by question name or
    path (a repeat: a list of such dicts, one per instance); they are used as given where the
    question is relevant (so planted problems can be written), the other questions are drawn.

    Example:
        >>> s = fake_submissions("overseas_filipino_survey", 2, seed=7)
        >>> sorted(k for k in s[0] if k.startswith("demo/"))[:2]
        ['demo/age', 'demo/education']
    """
    f = load_form(form)
    rng = random.Random(seed)
    today = today or REFERENCE_DATE
    faker = _Faker(f, rng, today, _hints(f))
    subs = []
    base = dt.datetime.combine(today, dt.time(8, 0)) - dt.timedelta(days=30)
    for i in range(n):
        start = base + dt.timedelta(days=rng.randint(0, 29), minutes=rng.randint(0, 600),
                                    seconds=rng.randint(0, 59))
        out: dict[str, Any] = {}
        faker.fill(f.elements, None, {}, out, {}, None, start, fixed[i] if fixed and i < len(fixed) else None)
        out["_id"] = 100000 + i + 1
        out["_uuid"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        end = out.get("end") if isinstance(out.get("end"), dt.datetime) else start
        out["_submission_time"] = end + dt.timedelta(minutes=rng.randint(1, 240))
        subs.append(out)
    return subs


# --------------------------------------------------------------------------- Kobo XLSX writer

_BAD_SHEET = re.compile(r"[\[\]:*?/\\]")


def _sheet_name(name: str, used: set[str]) -> str:
    base = _BAD_SHEET.sub("_", name.strip())[:31] or "data"
    out, i = base, 1
    while out in used:
        i += 1
        out = f"{base[:31 - len(str(i)) - 1]}_{i}"
    used.add(out)
    return out


def _column(e: Element, sep: str, include_groups: bool) -> str:
    return sep.join(e.path.split("/")) if include_groups else e.name


def _typed(e: Element, v: Any, sub_no: int, form: Form, check: bool) -> Any:
    """``v`` converted to the cell type Kobo's export uses for question type ``e.type``."""
    if v is None or v == "":
        return None
    try:
        if e.type == "integer":
            return int(float(v)) if float(v) == int(float(v)) else float(v)
        if e.type == "decimal":
            return float(v)
        if e.type in ("start", "end"):
            return v if isinstance(v, dt.datetime) else dt.datetime.fromisoformat(str(v))
        if e.type in ("date", "today"):
            return v if isinstance(v, dt.date) else dt.date.fromisoformat(str(v)[:10])
    except (TypeError, ValueError, OverflowError) as exc:  # OverflowError: int(inf)
        if check:
            raise DataError("MD609", submission=sub_no, column=e.path, value=v, type=e.type) from exc
        return str(v)
    if check and e.type in (SELECT_ONE, SELECT_MULTIPLE) and e.list_name:
        names = set(form.choice_names(e.list_name))
        for tok in (str(v).split() if e.type == SELECT_MULTIPLE else [str(v)]):
            if tok not in names:
                raise DataError("MD605", submission=sub_no, column=e.path, value=tok, list_name=e.list_name)
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v)


def _normalise(form: Form, rec: dict[str, Any], repeat: str | None, sub_no: int) -> dict[str, Any]:
    """Keys of one submission (or repeat instance) as full paths; MD604/MD606 on bad keys."""
    by_name: dict[str, list[Element]] = {}
    paths = {}
    for e in form.elements:
        if e.repeat == repeat and not (e.type == "group"):
            paths[e.path] = e
            by_name.setdefault(e.name, []).append(e)
    out: dict[str, Any] = {}
    for k, v in rec.items():
        if k.startswith("_") or k in ("meta/instanceID", "__version__", "formhub/uuid") \
                or (repeat is None and k in ("start", "end") and k not in paths):
            out[k] = v
            continue
        e = paths.get(k) or (by_name[k][0] if len(by_name.get(k, [])) == 1 else None)
        if e is None:
            raise DataError("MD604", submission=sub_no, column=k, form=form.form_id)
        if e.type == "repeat":
            if not isinstance(v, list):
                raise DataError("MD606", submission=sub_no, column=k, value=v)
            out[e.path] = [_normalise(form, inst, e.path, sub_no) for inst in v]
        else:
            out[e.path] = v
    return out


def write_kobo_xlsx(form: str | os.PathLike[str] | Form, submissions: Iterable[dict[str, Any]],
                    path: str | os.PathLike[str], *, group_sep: str = "/", include_groups: bool = True,
                    check: bool = True) -> Path:
    """Write ``submissions`` of ``form`` as a Kobo XLSX export at ``path`` (atomic); return the path.

    ``check=False`` writes values as given (to plant problems in a "dirty" sample); otherwise a
    choice that is not in the form's list (MD605), an unknown question (MD604), a repeat that is
    not a list (MD606) or a number that is not a number (MD609) fails with a located error.
    Text cells are stored as text (never as formulas), unchanged, so the file round-trips.

    Example:
        >>> import tempfile, os
        >>> subs = fake_submissions("children_left_behind_survey", 2, seed=3)
        >>> p = write_kobo_xlsx("children_left_behind_survey", subs,
        ...                     os.path.join(tempfile.mkdtemp(), "clb.xlsx"))
        >>> p.suffix
        '.xlsx'
    """
    f = load_form(form)
    subs = [_normalise(f, s, None, i + 1) for i, s in enumerate(submissions)]
    used: set[str] = set()
    main_name = _sheet_name(f.title or f.form_id, used)
    # Columns per table (None = main sheet): (header, element, choice or None)
    tables: dict[str | None, list[tuple[str, Element, str | None]]] = {None: []}
    sheet_names: dict[str | None, str] = {None: main_name}
    for rep in f.repeats():
        tables[rep.path] = []
        sheet_names[rep.path] = _sheet_name(rep.name, used)
    # Forms built in Kobo's web editor get start/end metadata automatically; when submissions
    # carry them but the XLSForm does not declare them, they lead the main sheet as Kobo writes them.
    declared = {e.path for e in f.elements}
    questions = [Element(name=m, type=m, path=m, groups=(), repeat=None) for m in ("start", "end")
                 if m not in declared and any(m in s for s in subs)] + f.questions()
    for e in questions:
        if e.type == "repeat":
            continue
        col = _column(e, group_sep, include_groups)
        tables[e.repeat].append((col, e, None))
        if e.type == SELECT_MULTIPLE:
            for c in f.choice_names(e.list_name or ""):
                tables[e.repeat].append((f"{col}{group_sep}{c}", e, c))
    rows: dict[str | None, list[list[Any]]] = {k: [] for k in tables}
    counters = {k: 0 for k in tables}

    def cells(rec: dict[str, Any], table: str | None, sub_no: int) -> list[Any]:
        out = []
        for _, e, choice in tables[table]:
            v = rec.get(e.path)
            if choice is None:
                out.append(_typed(e, v, sub_no, f, check))
            else:
                out.append(None if v in (None, "") else int(choice in str(v).split()))
        return out

    def add_repeats(rec: dict[str, Any], parent_table: str | None, parent_index: int, meta: list[Any],
                    sub_no: int) -> None:
        for rep in f.repeats():
            parent_rep = rep.repeat if rep.repeat else None
            if parent_rep != parent_table:
                continue
            for inst in rec.get(rep.path, []) or []:
                counters[rep.path] += 1
                idx = counters[rep.path]
                rows[rep.path].append(cells(inst, rep.path, sub_no)
                                      + [idx, sheet_names[parent_table], parent_index] + meta)
                add_repeats(inst, rep.path, idx, meta, sub_no)

    for i, rec in enumerate(subs, start=1):
        counters[None] += 1
        sub_meta = [rec.get("_id", i), rec.get("_uuid") or str(uuid.uuid4()),
                    rec.get("_submission_time"), None, None, rec.get("_status", "submitted_via_web"),
                    rec.get("_submitted_by"), None]
        if isinstance(sub_meta[2], str):
            sub_meta[2] = dt.datetime.fromisoformat(sub_meta[2])
        rows[None].append(cells(rec, None, i) + sub_meta + [i])
        add_repeats(rec, None, i, sub_meta, i)

    wb = Workbook()
    first = True
    for table, cols in tables.items():
        ws = wb.active if first else wb.create_sheet()
        first = False
        ws.title = sheet_names[table]
        meta = MAIN_META if table is None else REPEAT_META
        ws.append([c for c, _, _ in cols] + meta)
        for r in rows[table]:
            ws.append(r)
    for ws in wb.worksheets:
        guard_sheet(ws)  # literal text, never a formula
    return atomic_write(path, wb.save)


def submissions_from_kobo_xlsx(form: str | os.PathLike[str] | Form, path: str | os.PathLike[str], *,
                               group_sep: str = "/") -> list[dict[str, Any]]:
    """Read a Kobo XLSX export back into submissions (the inverse of :func:`write_kobo_xlsx`).

    Used by the tests to check a round trip; the importer uses :mod:`migdata.readers.kobo`.
    """
    from openpyxl import load_workbook

    f = load_form(form)
    wb = load_workbook(path, read_only=True)
    sheets = wb.sheetnames

    def records(ws: Any) -> list[dict[str, Any]]:
        it = ws.iter_rows(values_only=True)
        header = list(next(it))
        return [dict(zip(header, r)) for r in it]

    main = records(wb[sheets[0]])
    col_of = {e.path: group_sep.join(e.path.split("/")) for e in f.questions()}
    rep_rows = {}
    for rep, name in zip(f.repeats(), sheets[1:]):
        rep_rows[rep.path] = records(wb[name])

    def build(rec: dict[str, Any], table: str | None, index: int, parent_name: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for e in f.questions():
            if e.repeat != table or e.type == "repeat":
                continue
            v = rec.get(col_of[e.path])
            if v is not None:
                out[e.path] = v
        for rep in f.repeats():
            if (rep.repeat or None) != table:
                continue
            sheet = sheets[1 + f.repeats().index(rep)]
            kids = [r for r in rep_rows[rep.path] if r["_parent_index"] == index
                    and r["_parent_table_name"] == parent_name]
            if kids:
                out[rep.path] = [build(k, rep.path, k["_index"], sheet) for k in kids]
        return out

    subs = []
    for rec in main:
        s = build(rec, None, rec["_index"], sheets[0])
        for k in ("_id", "_uuid", "_submission_time"):
            s[k] = rec.get(k)
        subs.append(s)
    return subs
