"""A parsed XLSForm: its questions in order, with group paths, repeats, binds and choice lists.

Parsing is pyxform's (``xls2json.parse_file_to_json``); this module only walks pyxform's JSON
tree into a flat list of :class:`Element` so that the codebook, the Kobo export writer and the
fake-submission generator share one view of a form. A form is given by the name of a bundled
questionnaire (see :data:`~migdata.questionnaires.xlsform.FORMS`) or the path of any XLSForm.

Example:
    >>> f = load_form("cbms_migration_rider")
    >>> f.element("B06_OFI").path
    'members/B06_OFI'
    >>> f.element("B06_OFI").repeat
    'members'
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from pyxform.errors import PyXFormError
from pyxform.xls2json import parse_file_to_json

from migdata.errors import DataError, UsageError
from migdata.questionnaires.xlsform import FORMS, write_xlsform

#: pyxform types that hold no answer in an export.
NO_DATA = {"note"}
#: Metadata question types Kobo exports as columns.
META_TYPES = {"start", "end", "today", "deviceid", "username", "phonenumber", "audit",
              "simserial", "subscriberid", "start-geopoint"}
SELECT_ONE = "select one"
SELECT_MULTIPLE = "select all that apply"


@dataclass
class Element:
    """One survey element (question, group or repeat) with its place in the form."""

    name: str
    type: str
    path: str  # group path joined with "/", as in Kobo JSON and XForm instance paths
    groups: tuple[str, ...]  # names of enclosing groups and repeats, outermost first
    repeat: str | None  # path of the innermost enclosing repeat, None at the top level
    label: dict[str, str] = field(default_factory=dict)
    hint: dict[str, str] = field(default_factory=dict)
    bind: dict[str, Any] = field(default_factory=dict)
    list_name: str | None = None
    control: dict[str, Any] = field(default_factory=dict)
    relevant_chain: tuple[str, ...] = ()  # relevance of enclosing groups/repeats, outermost first

    @property
    def relevant(self) -> str | None:
        return self.bind.get("relevant")

    @property
    def constraint(self) -> str | None:
        return self.bind.get("constraint")

    @property
    def calculation(self) -> str | None:
        return self.bind.get("calculate")

    @property
    def required(self) -> bool:
        return str(self.bind.get("required", "")).lower() in ("yes", "true", "true()")

    @property
    def is_group(self) -> bool:
        return self.type in ("group", "repeat")

    def text(self, what: str = "label", lang: str | None = None) -> str:
        d = getattr(self, what)
        if isinstance(d, str):
            return d
        if not d:
            return ""
        return d.get(lang) if lang in d else next(iter(d.values()))


@dataclass
class Form:
    """A parsed XLSForm."""

    name: str
    title: str
    form_id: str
    version: str
    default_language: str
    elements: list[Element]
    choices: dict[str, list[dict[str, Any]]]
    source: str

    def element(self, name_or_path: str) -> Element:
        for e in self.elements:
            if e.path == name_or_path:
                return e
        found = [e for e in self.elements if e.name == name_or_path]
        if len(found) == 1:
            return found[0]
        raise KeyError(name_or_path)

    def questions(self) -> list[Element]:
        """Elements that hold data (no groups, repeats or notes), in form order."""
        return [e for e in self.elements if not e.is_group and e.type not in NO_DATA
                and not e.path.startswith("meta/")]

    def repeats(self) -> list[Element]:
        return [e for e in self.elements if e.type == "repeat"]

    def choice_names(self, list_name: str) -> list[str]:
        return [str(c["name"]) for c in self.choices.get(list_name, [])]

    def choice_label(self, list_name: str, name: str, lang: str | None = None) -> str:
        for c in self.choices.get(list_name, []):
            if str(c["name"]) == str(name):
                lab = c.get("label", "")
                if isinstance(lab, dict):
                    return lab.get(lang or self.default_language) or next(iter(lab.values()), "")
                return lab
        return ""

    @property
    def languages(self) -> list[str]:
        langs: list[str] = []
        for e in self.elements:
            if isinstance(e.label, dict):
                for k in e.label:
                    if k not in langs:
                        langs.append(k)
        return langs


def _walk(children: list[dict], groups: tuple[str, ...], repeat: str | None,
          chain: tuple[str, ...], out: list[Element]) -> None:
    for ch in children:
        typ = ch.get("type", "")
        name = ch["name"]
        path = "/".join(groups + (name,))
        bind = dict(ch.get("bind", {}) or {})
        el = Element(
            name=name, type=typ, path=path, groups=groups, repeat=repeat,
            label=ch.get("label", {}) or {}, hint=ch.get("hint", {}) or {}, bind=bind,
            list_name=ch.get("list_name") or ch.get("itemset"), control=ch.get("control", {}) or {},
            relevant_chain=chain,
        )
        out.append(el)
        if typ in ("group", "repeat"):
            sub_chain = chain + ((bind["relevant"],) if bind.get("relevant") else ())
            _walk(ch.get("children", []), groups + (name,), path if typ == "repeat" else repeat,
                  sub_chain, out)


def parse_xlsform(path: str | os.PathLike[str], name: str | None = None) -> Form:
    """Parse an XLSForm workbook with pyxform (MD601 when pyxform rejects it)."""
    path = Path(path)
    if not path.exists():
        raise DataError("MD001", path=str(path))
    warnings: list[str] = []
    try:
        d = parse_file_to_json(str(path), warnings=warnings)
    except PyXFormError as exc:
        raise DataError("MD601", file=str(path), detail=str(exc)) from exc
    elements: list[Element] = []
    _walk(d.get("children", []), (), None, (), elements)
    return Form(
        name=name or path.stem, title=str(d.get("title", path.stem)).strip(),
        form_id=str(d.get("id_string", path.stem)), version=str(d.get("version", "") or ""),
        default_language=str(d.get("default_language", "default")), elements=elements,
        choices=d.get("choices", {}) or {}, source=str(path),
    )


@lru_cache(maxsize=8)
def _bundled(name: str) -> Form:
    with tempfile.TemporaryDirectory() as tmp:
        return parse_xlsform(write_xlsform(name, Path(tmp) / f"{name}.xlsx"), name=name)


def load_form(form: "str | os.PathLike[str] | Form") -> Form:
    """A bundled form by name, an XLSForm by path, or a :class:`Form` unchanged."""
    if isinstance(form, Form):
        return form
    s = str(form)
    if s in FORMS:
        return _bundled(s)
    if s.lower().endswith((".xlsx", ".xls")) or os.path.sep in s:
        return parse_xlsform(s)
    raise UsageError("MD600", form=s, choices=", ".join(FORMS))
