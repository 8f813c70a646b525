"""The project's CBMS 2022 HPQ layout subset and the CSPro dictionary written from it.

``cbms_2022_layout.csv`` (beside this module) lists only the records and items migdata uses: the
records the synthetic CBMS file holds and the items the generator writes or the ``cbms_2022_hpq``
profile reads, at the positions of PSA's CBMS 2022 HPQ dictionary (``HPQF2_DICT.dcf``, which is
third-party and not shipped; ``python -m migdata.sample.extract_layout`` re-derives the CSV from
it). Labels and code lists are the project's own (``cbms_2022_value_sets.csv``; countries from
``migdata/profiles/cbms_countries.csv``).

:func:`write_dictionary` writes that layout as a CSPro 7.7 text dictionary
(``cbms_2022_hpq_layout.dcf``) with the sections migdata's parser and CSPro read: ``[Dictionary]``,
``[Level]``, ``[IdItems]``, ``[Record]``, ``[Item]``, ``[ValueSet]``. Hand-written because no
library writes CSPro dictionaries; the format is small and the parser in
:mod:`migdata.readers.cspro_dictionary` reads the result back in the tests.

Example:
    >>> lay = load_layout()
    >>> lay.item("A05_SEX").start, lay.record("SECTION_A").type_value
    (230, '1')
    >>> d = parse_dictionary_text(dictionary_text(lay))
    >>> d.item("B06_OFI").value_labels()[7]
    'Not an overseas Filipino (resident)'
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from migdata.readers.cspro_dictionary import CsproDictionary, parse_dictionary_text

LAYOUT_FILE = "cbms_2022_layout.csv"
VALUE_SET_FILE = "cbms_2022_value_sets.csv"
DICTIONARY_NAME = "cbms_2022_hpq_layout.dcf"
DICTIONARY_LABEL = "CBMS 2022 HPQ layout subset (migdata-generated)"
DICTIONARY_NOTE = ("Written by migdata (migdata.sample.layout). It describes only the records and items of the "
                   "synthetic CBMS file beside it, in the fixed-width layout of the PSA CBMS 2022 Household "
                   "Profile Questionnaire dictionary (HPQF2_DICT.dcf). It is not the PSA dictionary: labels "
                   "and code lists are migdata's own.")


@dataclass(frozen=True)
class LayoutItem:
    name: str
    label: str
    start: int
    length: int
    data_type: str = "numeric"
    decimals: int = 0
    zero_fill: bool = False
    value_set: str = ""
    record: str | None = None  # None for a case-ID item


@dataclass
class LayoutRecord:
    name: str
    label: str
    type_value: str
    required: bool
    max_records: int
    record_len: int
    items: list[LayoutItem] = field(default_factory=list)


@dataclass
class Layout:
    """Dictionary settings, case-ID items and records (in file order) of the layout subset."""

    settings: dict[str, str]
    id_items: list[LayoutItem]
    records: list[LayoutRecord]
    value_sets: dict[str, list[tuple[int, str]]]

    def record(self, name: str) -> LayoutRecord:
        for r in self.records:
            if r.name == name:
                return r
        raise KeyError(name)

    def item(self, name: str) -> LayoutItem:
        for it in self.id_items + [it for r in self.records for it in r.items]:
            if it.name == name:
                return it
        raise KeyError(name)


def _text(name: str, package: str = "migdata.sample") -> str:
    return resources.files(package).joinpath(name).read_text(encoding="utf-8")


def _value_sets() -> dict[str, list[tuple[int, str]]]:
    out: dict[str, list[tuple[int, str]]] = {}
    rows = csv.DictReader(ln for ln in _text(VALUE_SET_FILE).splitlines() if not ln.startswith("#"))
    for r in rows:
        out.setdefault(r["value_set"], []).append((int(r["code"]), r["label"]))
    countries = csv.DictReader(_text("cbms_countries.csv", "migdata.profiles").splitlines())
    out["country"] = [(int(r["cbms_code"]), r["label"]) for r in countries]
    return out


def load_layout(path: str | Path | None = None) -> Layout:
    """Read the layout subset (default: the ``cbms_2022_layout.csv`` shipped with migdata)."""
    text = Path(path).read_text(encoding="utf-8") if path else _text(LAYOUT_FILE)
    settings: dict[str, str] = {}
    body = []
    for ln in text.splitlines():
        if ln.startswith("#"):
            key, eq, val = ln[1:].strip().partition("=")
            if eq and key.isalnum():
                settings[key] = val
        else:
            body.append(ln)
    ids: list[LayoutItem] = []
    records: dict[str, LayoutRecord] = {}
    for r in csv.DictReader(body):
        rec = r["record"] or None
        if rec and rec not in records:
            records[rec] = LayoutRecord(rec, r["record_label"], r["type_value"], r["required"] == "yes",
                                        int(r["max_records"]), int(r["record_len"]))
        if r["item"]:
            it = LayoutItem(r["item"], r["label"], int(r["start"]), int(r["length"]), r["data_type"],
                            int(r["decimals"] or 0), r["zero_fill"] == "yes", r["value_set"], rec)
            (records[rec].items if rec else ids).append(it)
    return Layout(settings, ids, list(records.values()), _value_sets())


def _item_lines(it: LayoutItem, value_sets: dict[str, list[tuple[int, str]]]) -> list[str]:
    out = ["[Item]", f"Label={it.label}", f"Name={it.name}", f"Start={it.start}", f"Len={it.length}"]
    out.append("DataType=Alpha" if it.data_type == "alpha" else "DataType=Numeric")
    if it.decimals:
        out.append(f"Decimal={it.decimals}")
    if it.zero_fill:
        out.append("ZeroFill=Yes")
    out.append("")
    if it.value_set:
        out += ["[ValueSet]", f"Label={it.label}", f"Name={it.name}_VS1"]
        out += [f"Value={code};{label}" for code, label in value_sets[it.value_set]]
        out.append("")
    return out


def dictionary_text(layout: Layout) -> str:
    """The CSPro 7.7 text dictionary of ``layout`` (lines joined with CRLF, as CSPro writes)."""
    s = layout.settings
    lines = ["[Dictionary]", "Version=CSPro 7.7", f"Label={DICTIONARY_LABEL}", "Name=CBMS_2022_HPQ_LAYOUT",
             f"Note={DICTIONARY_NOTE}",
             f"RecordTypeStart={s.get('RecordTypeStart', '1')}", f"RecordTypeLen={s.get('RecordTypeLen', '1')}",
             "Positions=Absolute", f"ZeroFill={s.get('ZeroFill', 'No')}", f"DecimalChar={s.get('DecimalChar', 'No')}",
             "", "[Level]", "Label=Household", "Name=CBMS_2022_HPQ_LEVEL", "", "[IdItems]", ""]
    for it in layout.id_items:
        lines += _item_lines(it, layout.value_sets)
    for rec in layout.records:
        lines += ["[Record]", f"Label={rec.label}", f"Name={rec.name}", f"RecordTypeValue='{rec.type_value}'"]
        if not rec.required:
            lines.append("Required=No")
        if rec.max_records != 1:
            lines.append(f"MaxRecords={rec.max_records}")
        lines += [f"RecordLen={rec.record_len}", ""]
        for it in rec.items:
            lines += _item_lines(it, layout.value_sets)
    return "\r\n".join(lines) + "\r\n"


def write_dictionary(layout: Layout, path: str | Path) -> Path:
    """Write ``layout`` as a CSPro text dictionary (UTF-8 with BOM, CRLF) at ``path``.

    Example:
        >>> import tempfile
        >>> p = write_dictionary(load_layout(), Path(tempfile.mkdtemp()) / DICTIONARY_NAME)
        >>> from migdata.readers.cspro import read_dictionary
        >>> read_dictionary(p).record("SECTION_B").length
        254
    """
    p = Path(path)
    p.write_bytes(b"\xef\xbb\xbf" + dictionary_text(layout).encode("utf-8"))
    return p


def cspro_dictionary(layout: Layout | None = None) -> CsproDictionary:
    """The layout as the parsed dictionary the generator and readers use (via the written text,
    so the generator uses exactly what :func:`write_dictionary` writes)."""
    return parse_dictionary_text(dictionary_text(layout or load_layout()), path=DICTIONARY_NAME)
