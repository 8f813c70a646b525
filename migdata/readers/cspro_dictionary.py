"""CSPro data dictionaries (``.dcf``): levels, ID items, record types, items, subitems, value sets.

Hand-written because no maintained Python library reads CSPro dictionaries. The text format
(CSPro 6-8) is an INI-like sequence of sections::

    [Dictionary]  Version, RecordTypeStart, RecordTypeLen, ZeroFill, DecimalChar
    [Level]       one per level; followed by
    [IdItems]     the level's case-ID items ([Item] sections until the first [Record])
    [Record]      Name, RecordTypeValue='x', Required, MaxRecords, RecordLen; followed by its items
    [Item]        Name, Label, Start (1-based), Len, DataType, Decimal, DecimalChar, ZeroFill,
                  ItemType=SubItem, Occurrences
    [ValueSet]    belongs to the item before it; Value=code or from:to (several separated by
                  spaces); ;label; a following ``Name=NOTAPPL,Special`` (or MISSING, DEFAULT)
                  marks that value as a CSPro special value

CSPro 8 JSON dictionaries (``{"software": "CSPro", "fileType": "dictionary", ...}``) are read
too (same model). Parsing tolerates a UTF-8 BOM, CRLF line ends and trimmed trailing blanks.

Example:
    >>> d = parse_dictionary_text('''[Dictionary]
    ... Name=D
    ... RecordTypeStart=1
    ... RecordTypeLen=1
    ... [Level]
    ... Name=L
    ... [IdItems]
    ... [Item]
    ... Name=HH
    ... Start=2
    ... Len=3
    ... [Record]
    ... Name=PERSON
    ... RecordTypeValue='1'
    ... MaxRecords=30
    ... [Item]
    ... Name=SEX
    ... Start=5
    ... Len=1
    ... [ValueSet]
    ... Name=SEX_VS1
    ... Value=1;Male
    ... Value=2;Female
    ... ''')
    >>> d.record("PERSON").max_records, d.item("SEX").value_labels()
    (30, {1: 'Male', 2: 'Female'})
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from migdata.errors import DataError

SPECIALS = ("NOTAPPL", "MISSING", "DEFAULT", "REFUSED")


@dataclass
class Value:
    """One ``Value=`` line: a code or a range (``low``..``high``), its label and special kind."""

    low: Any  # int, float or str (alpha items, or a blank code such as ' ' for NOTAPPL)
    high: Any = None  # None for a single code
    label: str = ""
    special: str | None = None  # NOTAPPL | MISSING | DEFAULT | REFUSED

    @property
    def is_range(self) -> bool:
        return self.high is not None

    def contains(self, v: Any) -> bool:
        if self.high is None:
            return v == self.low
        try:
            return self.low <= v <= self.high
        except TypeError:
            return False


@dataclass
class ValueSet:
    name: str
    label: str = ""
    values: list[Value] = field(default_factory=list)


@dataclass
class Item:
    """One item (or subitem) with its 1-based ``start`` and ``length`` in the record line."""

    name: str
    label: str = ""
    start: int = 0
    length: int = 0
    data_type: str = "numeric"  # numeric | alpha
    decimals: int = 0
    decimal_char: bool | None = None  # True: the decimal point is written in the data (None: dictionary default)
    zero_fill: bool = False
    subitem_of: str | None = None
    item_type: str = "item"  # item | subitem
    occurrences: int = 1
    stride: int = 0  # columns between occurrences (0: the item's own length)
    record: str | None = None  # record name; None for ID items
    is_id: bool = False
    value_sets: list[ValueSet] = field(default_factory=list)
    occurrence_labels: list[str] = field(default_factory=list)
    line: int | None = None  # line of its [Item] section in the .dcf (for messages)

    @property
    def end(self) -> int:
        """1-based last column of the last occurrence."""
        return self.occurrence_start(self.occurrences) + self.length - 1

    def occurrence_start(self, k: int) -> int:
        """1-based start column of occurrence ``k`` (1-based)."""
        return self.start + (k - 1) * (self.stride or self.length)

    @property
    def numeric(self) -> bool:
        return self.data_type == "numeric"

    @property
    def value_set(self) -> ValueSet | None:
        """The first (primary) value set, as CSPro uses for validation."""
        return self.value_sets[0] if self.value_sets else None

    def value_labels(self) -> dict[Any, str]:
        """Single-code labels of the primary value set (ranges and specials left out)."""
        vs = self.value_set
        if vs is None:
            return {}
        return {v.low: v.label for v in vs.values if not v.is_range and v.special is None}

    def special_values(self) -> dict[Any, str]:
        """Codes of the primary value set marked NOTAPPL/MISSING/DEFAULT: code -> kind."""
        vs = self.value_set
        if vs is None:
            return {}
        return {v.low: v.special for v in vs.values if v.special is not None}


@dataclass
class Record:
    """A record type: its type value, whether each case needs one, how often it may repeat."""

    name: str
    label: str = ""
    type_value: str = ""
    required: bool = True
    max_records: int = 1
    record_len: int | None = None  # RecordLen= when the dictionary states it
    level: int = 0
    items: list[Item] = field(default_factory=list)
    line: int | None = None  # line of its [Record] section in the .dcf (for messages)

    @property
    def length(self) -> int:
        """Stated RecordLen, else the last column used by an item."""
        if self.record_len:
            return self.record_len
        return max((it.end for it in self.items), default=0)

    @property
    def repeating(self) -> bool:
        return self.max_records > 1


@dataclass
class Level:
    name: str
    label: str = ""
    id_items: list[Item] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)


@dataclass
class CsproDictionary:
    """A parsed CSPro dictionary. ``records`` and ``id_items`` span all levels."""

    name: str
    label: str = ""
    version: str = ""
    record_type_start: int = 1
    record_type_len: int = 1
    zero_fill: bool = False
    decimal_char: bool = False
    levels: list[Level] = field(default_factory=list)
    path: str | None = None
    line: int | None = None  # line of the [Dictionary] section (for messages)

    @property
    def records(self) -> list[Record]:
        return [r for lv in self.levels for r in lv.records]

    @property
    def id_items(self) -> list[Item]:
        return [it for lv in self.levels for it in lv.id_items]

    def id_items_for(self, record: Record) -> list[Item]:
        """The case-ID items a record carries: those of its level and every level above."""
        return [it for lv in self.levels[: record.level + 1] for it in lv.id_items]

    def items(self) -> Iterator[Item]:
        """ID items first, then every record's items (subitems included)."""
        yield from self.id_items
        for r in self.records:
            yield from r.items

    def item(self, name: str) -> Item:
        for it in self.items():
            if it.name == name:
                return it
        raise KeyError(name)

    def record(self, name: str) -> Record:
        for r in self.records:
            if r.name == name:
                return r
        raise KeyError(name)

    def record_by_type(self) -> dict[str, Record]:
        return {r.type_value: r for r in self.records}


def _yes(v: str) -> bool:
    return v.strip().lower() in ("yes", "true", "1")


def _parse_code(text: str, numeric: bool) -> Any:
    t = text.strip() if not text.startswith("'") else text
    if t.startswith("'") and t.endswith("'") and len(t) >= 2:
        s = t[1:-1]
        if numeric and s.strip():
            return _parse_code(s, True)
        return s  # alpha code, or a blank (NOTAPPL) code of a numeric item
    if numeric:
        try:
            return int(t)
        except ValueError:
            try:
                return float(t)
            except ValueError:
                return t
    return t


def _split_values(spec: str) -> list[tuple[str, str | None]]:
    """``'0:1000 2000'`` -> [('0','1000'), ('2000', None)]; quoted codes may hold blanks."""
    out: list[tuple[str, str | None]] = []
    tokens: list[str] = []
    i, n = 0, len(spec)
    while i < n:
        c = spec[i]
        if c == "'":
            j = spec.find("'", i + 1)
            j = n - 1 if j < 0 else j
            tokens.append(spec[i:j + 1])
            i = j + 1
        elif c in " \t":
            i += 1
        elif c == ":":
            tokens.append(":")
            i += 1
        else:
            j = i
            while j < n and spec[j] not in " \t:'":
                j += 1
            tokens.append(spec[i:j])
            i = j
    k = 0
    while k < len(tokens):
        if k + 2 < len(tokens) and tokens[k + 1] == ":":
            out.append((tokens[k], tokens[k + 2]))
            k += 3
        else:
            out.append((tokens[k], None))
            k += 1
    return out


def _value_line(raw: str, item: Item) -> list[Value]:
    # A label never contains the separator before the first ';' outside quotes.
    spec, label = raw, ""
    in_q = False
    for i, c in enumerate(raw):
        if c == "'":
            in_q = not in_q
        elif c == ";" and not in_q:
            spec, label = raw[:i], raw[i + 1:]
            break
    label = label.strip()
    values = []
    for lo, hi in _split_values(spec):
        low = _parse_code(lo, item.numeric)
        high = None if hi is None else _parse_code(hi, item.numeric)
        values.append(Value(low, high, label))
    if not values:  # 'Value=;label' is not valid CSPro but must not crash
        values.append(Value("", None, label))
    return values


def parse_dictionary_text(text: str, path: str | None = None) -> CsproDictionary:
    """Parse the text of a CSPro 6-8 ``.dcf`` dictionary (see the module docstring)."""
    src = path or "<dictionary>"
    if text.startswith("\ufeff"):
        text = text[1:]
    if text.lstrip().startswith("{"):
        return _parse_json(text, path)
    lines = text.splitlines()
    d: CsproDictionary | None = None
    section = None
    cur_level: Level | None = None
    cur_record: Record | None = None
    cur_item: Item | None = None
    cur_vs: ValueSet | None = None
    last_values: list[Value] = []
    in_ids = False
    dict_line = 0
    pending: list[tuple[int, Item]] = []  # items with their line number, checked after parsing

    def fail(lineno: int, reason: str) -> DataError:
        return DataError("MD400", file=src, row=lineno, reason=reason)

    for lineno, raw in enumerate(lines, start=1):
        line = raw.rstrip()
        if not line or line.startswith(";"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
            last_values = []
            if section == "Dictionary":
                if d is not None:
                    raise DataError("MD414", file=src, row=lineno, item="[Dictionary]", what="section",
                                    value="[Dictionary]", first=dict_line)
                d = CsproDictionary(name="", path=path, line=lineno)
                dict_line = lineno
            elif d is None:
                raise fail(lineno, f"the file does not start with [Dictionary] (found [{section}])")
            elif section == "Level":
                cur_level = Level(name="")
                d.levels.append(cur_level)
                cur_record, cur_item, cur_vs, in_ids = None, None, None, False
            elif section == "IdItems":
                if cur_level is None:
                    cur_level = Level(name="")
                    d.levels.append(cur_level)
                in_ids, cur_record = True, None
            elif section == "Record":
                if cur_level is None:
                    cur_level = Level(name="")
                    d.levels.append(cur_level)
                cur_record = Record(name="", level=len(d.levels) - 1, line=lineno)
                cur_level.records.append(cur_record)
                in_ids, cur_item, cur_vs = False, None, None
            elif section == "Item":
                if cur_level is None:
                    raise fail(lineno, "an [Item] comes before any [Level], [IdItems] or [Record]")
                cur_item = Item(name="", line=lineno)
                if in_ids or cur_record is None:
                    cur_item.is_id = True
                    cur_level.id_items.append(cur_item)
                else:
                    cur_item.record = cur_record.name
                    cur_record.items.append(cur_item)
                pending.append((lineno, cur_item))
                cur_vs = None
            elif section == "ValueSet":
                if cur_item is None:
                    raise fail(lineno, "a [ValueSet] comes before any [Item]")
                cur_vs = ValueSet(name="")
                cur_item.value_sets.append(cur_vs)
            elif section in ("Relation", "Relations"):
                pass  # relations between records do not change the data layout
            else:
                pass  # unknown sections are skipped: newer CSPro versions add some
            continue
        if "=" not in line:
            raise fail(lineno, f"line {line[:60]!r} is neither a [Section] nor Key=Value")
        key, _, val = line.partition("=")
        key = key.strip()
        if d is None:
            raise fail(lineno, "the file does not start with [Dictionary]")
        try:
            if section == "Dictionary":
                if key == "Name":
                    d.name = val.strip()
                elif key == "Label":
                    d.label = val
                elif key == "Version":
                    d.version = val.strip()
                elif key == "RecordTypeStart":
                    d.record_type_start = int(val)
                elif key == "RecordTypeLen":
                    d.record_type_len = int(val)
                elif key == "ZeroFill":
                    d.zero_fill = _yes(val)
                elif key == "DecimalChar":
                    d.decimal_char = _yes(val)
            elif section == "Level" and cur_level is not None:
                if key == "Name":
                    cur_level.name = val.strip()
                elif key == "Label":
                    cur_level.label = val
            elif section == "Record" and cur_record is not None:
                if key == "Name":
                    cur_record.name = val.strip()
                elif key == "Label":
                    cur_record.label = val
                elif key == "RecordTypeValue":
                    v = val.strip()
                    cur_record.type_value = v[1:-1] if len(v) >= 2 and v[0] == v[-1] == "'" else v
                elif key == "Required":
                    cur_record.required = _yes(val)
                elif key == "MaxRecords":
                    cur_record.max_records = int(val)
                elif key == "RecordLen":
                    cur_record.record_len = int(val)
                elif key == "OccurrenceLabel":
                    pass
            elif section == "Item" and cur_item is not None:
                if key == "Name":
                    cur_item.name = val.strip()
                elif key == "Label":
                    cur_item.label = val
                elif key == "Start":
                    cur_item.start = int(val)
                elif key == "Len":
                    cur_item.length = int(val)
                elif key == "DataType":
                    cur_item.data_type = "alpha" if val.strip().lower() == "alpha" else "numeric"
                elif key == "Decimal":
                    cur_item.decimals = int(val)
                elif key == "DecimalChar":
                    cur_item.decimal_char = _yes(val)
                elif key == "ZeroFill":
                    cur_item.zero_fill = _yes(val)
                elif key == "ItemType":
                    cur_item.item_type = "subitem" if val.strip().lower() == "subitem" else "item"
                elif key == "Occurrences":
                    cur_item.occurrences = int(val)
                elif key == "OccurrenceLabel":
                    cur_item.occurrence_labels.append(val.split(",", 1)[-1])
            elif section == "ValueSet" and cur_vs is not None and cur_item is not None:
                if key == "Name":
                    parts = [p.strip() for p in val.split(",")]
                    if len(parts) == 2 and parts[1].lower() == "special" and last_values:
                        for v in last_values:
                            v.special = parts[0].upper()
                    elif not cur_vs.name:
                        cur_vs.name = val.strip()
                elif key == "Label":
                    cur_vs.label = val
                elif key == "Value":
                    last_values = _value_line(val, cur_item)
                    cur_vs.values.extend(last_values)
                    continue
            if key not in ("Value", "Name"):
                last_values = []
        except ValueError as exc:
            raise fail(lineno, f"{key}={val.strip()!r} is not a number ({exc})") from None
    # Second pass: parents of subitems, defaults from the dictionary, sanity checks.
    if d is None:
        raise fail(1, "the file is empty or does not start with [Dictionary]")
    last_parent = None
    for lineno, it in pending:
        if not it.name:
            raise fail(lineno, "an [Item] has no Name=")
        if it.start < 1 or it.length < 1:
            raise fail(lineno, f"item {it.name} has Start={it.start} Len={it.length}; both must be >= 1")
        # A subitem belongs to the nearest item before it (CSPro writes them in that order).
        if it.item_type == "subitem":
            it.subitem_of = last_parent.name if last_parent else None
            if last_parent is not None and last_parent.occurrences > 1 and it.occurrences == 1:
                it.occurrences = last_parent.occurrences
                it.stride = last_parent.stride or last_parent.length
        else:
            last_parent = it
        if it.decimal_char is None:
            it.decimal_char = d.decimal_char
    for r in d.records:
        if not r.name:
            raise fail(r.line or 1, "a [Record] has no Name=")
    check_layout(d)
    return d


def _parse_json(text: str, path: str | None) -> CsproDictionary:
    """CSPro 8 JSON dictionary -> the same model as the text format."""
    src = path or "<dictionary>"
    try:
        j = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError("MD400", file=src, row=exc.lineno, reason=f"invalid JSON: {exc.msg}") from None
    except RecursionError:
        raise DataError("MD400", file=src, row=1, reason="invalid JSON: nested too deeply") from None
    try:
        return _json_dictionary(j, text, path)
    except (ValueError, TypeError, AttributeError, KeyError, IndexError) as exc:
        # a value of the wrong kind ("length": "abc", a list where an object belongs)
        raise DataError("MD400", file=src, row="?", reason=f"not a CSPro JSON dictionary "
                        f"({type(exc).__name__}: {exc})") from None


def _json_dictionary(j: Any, text: str, path: str | None) -> CsproDictionary:

    def label(obj: dict) -> str:
        lab = obj.get("labels") or obj.get("label") or ""
        if isinstance(lab, list):
            return lab[0].get("text", "") if lab and isinstance(lab[0], dict) else ""
        return str(lab)

    rt = j.get("recordType", {})
    d = CsproDictionary(name=j.get("name", ""), label=label(j), version=str(j.get("version", "")),
                        record_type_start=int(rt.get("start", 1)), record_type_len=int(rt.get("length", 1)),
                        zero_fill=bool(j.get("defaults", {}).get("zeroFill", False)),
                        decimal_char=bool(j.get("defaults", {}).get("decimalMark", False)), path=path)

    def items(objs: list[dict], record: str | None, is_id: bool) -> list[Item]:
        out: list[Item] = []
        for o in objs:
            it = _json_item(o, record, is_id, d)
            out.append(it)
            for s in o.get("subitems", []):
                si = _json_item(s, record, is_id, d)
                si.subitem_of = it.name
                si.item_type = "subitem"
                if it.occurrences > 1 and si.occurrences == 1:
                    si.occurrences = it.occurrences
                    si.stride = it.length
                out.append(si)
        return out

    for li, lv in enumerate(j.get("levels", [])):
        level = Level(name=lv.get("name", ""), label=label(lv))
        ids = lv.get("ids", {})
        level.id_items = items(ids.get("items", []) if isinstance(ids, dict) else ids, None, True)
        for ro in lv.get("records", []):
            occ = ro.get("occurrences", {})
            if not isinstance(occ, dict):
                occ = {"maximum": occ}
            rec = Record(name=ro.get("name", ""), label=label(ro), type_value=str(ro.get("recordType", "")),
                         required=bool(occ.get("required", ro.get("required", True))),
                         max_records=int(occ.get("maximum", 1)), record_len=ro.get("length"), level=li)
            rec.items = items(ro.get("items", []), rec.name, False)
            level.records.append(rec)
        d.levels.append(level)
    _relative_positions(d)
    _json_lines(d, text)
    check_layout(d)
    return d


def _json_lines(d: CsproDictionary, text: str) -> None:
    """Give JSON items and records the line of their first ``"name": "..."`` (for messages)."""
    import re

    lines: dict[str, int] = {}
    for m in re.finditer(r'"name"\s*:\s*"([^"]*)"', text):
        lines.setdefault(m.group(1), text.count("\n", 0, m.start()) + 1)
    for r in d.records:
        r.line = lines.get(r.name)
    for it in d.items():
        it.line = lines.get(it.name)


def _relative_positions(d: CsproDictionary) -> None:
    """Fill in ``start`` for items written without one (CSPro's relative positions): ID items
    follow the record type, each record's items follow the ID items; a subitem without a start
    begins where its parent begins."""
    pos = d.record_type_start + d.record_type_len if d.record_type_len else 1
    for lv in d.levels:
        for it in lv.id_items:
            if not it.start:
                it.start = pos
            pos = max(pos, it.end + 1)
    after_ids = pos
    for r in d.records:
        pos = after_ids
        parent = None
        for it in r.items:
            if it.item_type == "subitem":
                if not it.start and parent is not None:
                    it.start = parent.start
                continue
            if not it.start:
                it.start = pos
            pos = max(pos, it.end + 1)
            parent = it


# -- layout checks -------------------------------------------------------------------------------
#
# A dictionary that places two items on the same columns, or an item beyond its record, reads
# wrong values without any error (an age read from inside a name field); one with absurd lengths
# or occurrences makes the reader allocate or loop without end. So the layout is checked before
# any data is read. The bounds are far above any real dictionary (the widest record we know,
# CBMS 2022 HPQ, is 4,372 columns; the real dictionaries use at most 15-digit numbers) and far
# below what would exhaust a computer.

MAX_RECORD_LEN = 100_000  # columns of one record
MAX_NUMERIC_LEN = 30  # digits (with sign and point) of one numeric item
MAX_OCCURRENCES = 9_999  # occurrences of one item
MAX_RECORDS = 1_000_000  # MaxRecords of one record type
MAX_TYPE_LEN = 100  # RecordTypeLen


def check_layout(d: CsproDictionary) -> None:
    """Raise a located :class:`~migdata.errors.DataError` when the dictionary's layout cannot
    describe a data file: duplicate names, record types or records (MD414), items on the same
    columns (MD412), items beyond their record or subitems beyond their item (MD413), lengths,
    positions or occurrences beyond sane bounds (MD415). Each names the file, the line of the
    .dcf and the item.

    Example:
        >>> d = CsproDictionary(name="D", levels=[Level("L", records=[Record("P", type_value="1",
        ...     items=[Item("AGE", start=2, length=3, line=9), Item("NAME", start=4, length=10, line=14)])])])
        >>> check_layout(d)
        Traceback (most recent call last):
        ...
        migdata.errors.DataError: [MD412] ...
    """
    src = d.path or "<dictionary>"

    def err(code: str, it: Item | Record | None, **fields: Any) -> DataError:
        return DataError(code, file=src, row=(it.line if it is not None and it.line else "?"),
                         item=(it.name if it is not None else "?"), **fields)

    rts, rtl = d.record_type_start, d.record_type_len
    if (rtl and rts < 1) or not 0 <= rtl <= MAX_TYPE_LEN or rts + rtl - 1 > MAX_RECORD_LEN:
        raise DataError("MD415", file=src, row=d.line or "?", item="[Dictionary]", key="RecordTypeStart/RecordTypeLen",
                        value=f"{rts}/{rtl}", bound=f"a start of 1 or more and a length of 0 to {MAX_TYPE_LEN}")
    # names: items (subitems included) and records are one name space in CSPro
    seen: dict[str, Item | Record] = {}
    for thing in list(d.items()) + d.records:
        first = seen.get(thing.name)
        if first is not None:
            kind = "record" if isinstance(thing, Record) else "item"
            raise err("MD414", thing, what=f"{kind} name", value=thing.name, first=first.line or "?")
        seen[thing.name] = thing
    types: dict[str, Record] = {}
    for r in d.records:
        if r.type_value in types:
            raise err("MD414", r, what="record type value", value=r.type_value,
                      first=types[r.type_value].line or "?")
        types[r.type_value] = r
        if len(r.type_value) > rtl and (rtl or len(d.records) > 1):
            raise err("MD415", r, key="RecordTypeValue", value=r.type_value,
                      bound=f"at most RecordTypeLen={rtl} characters")
        if r.max_records < 1 or r.max_records > MAX_RECORDS:
            raise err("MD415", r, key="MaxRecords", value=r.max_records, bound=f"1 to {MAX_RECORDS:,}")
        if r.record_len is not None and not 1 <= r.record_len <= MAX_RECORD_LEN:
            raise err("MD415", r, key="RecordLen", value=r.record_len, bound=f"1 to {MAX_RECORD_LEN:,}")
    for it in d.items():
        if not 1 <= it.occurrences <= MAX_OCCURRENCES:
            raise err("MD415", it, key="Occurrences", value=it.occurrences, bound=f"1 to {MAX_OCCURRENCES:,}")
        top = MAX_NUMERIC_LEN if it.numeric else MAX_RECORD_LEN
        if not 1 <= it.length <= top:
            raise err("MD415", it, key="Len", value=it.length, bound=f"1 to {top:,} for a "
                      f"{'numeric' if it.numeric else 'alpha'} item")
        if it.start < 1 or it.end > MAX_RECORD_LEN:
            raise err("MD415", it, key="Start", value=it.start,
                      bound=f"columns 1 to {MAX_RECORD_LEN:,} for the item and its occurrences")
        if it.numeric and not 0 <= it.decimals <= it.length - (1 if it.decimal_char else 0):
            raise err("MD415", it, key="Decimal", value=it.decimals,
                      bound=f"0 to {it.length - (1 if it.decimal_char else 0)} for Len={it.length}"
                            + (" with the decimal point written" if it.decimal_char else ""))
    # columns: within each record (its type, the case-id items it carries, its items), no two
    # items share a column; a subitem lies inside its item; nothing lies beyond RecordLen
    by_name = {it.name: it for it in d.items()}
    for r in d.records:
        spans: list[tuple[int, int, Item | None]] = [(rts, rts + rtl - 1, None)] if rtl else []
        for it in d.id_items_for(r) + r.items:
            if it.item_type == "subitem":
                parent = by_name.get(it.subitem_of or "")
                if parent is None:
                    raise err("MD413", it, start=it.start, end=it.end, where="a subitem with no item before it")
                p_end = parent.start + parent.length - 1
                if it.start < parent.start or it.start + it.length - 1 > p_end:
                    raise err("MD413", it, start=it.start, end=it.start + it.length - 1,
                              where=f"outside its item {parent.name} (columns {parent.start}-{p_end})")
                continue
            spans.append((it.start, it.end, it))
        limit = r.record_len
        if limit:
            for a, b, it in spans:
                if b > limit:
                    who = it if it is not None else r
                    raise err("MD413", who, start=a, end=b,
                              where=f"beyond the end of record {r.name} (RecordLen={limit})")
        spans.sort(key=lambda t: (t[0], t[1]))
        last: tuple[int, int, Item | None] | None = None
        for span in spans:
            if last is not None and span[0] <= last[1]:
                # blame the item defined later in the file (never the record type)
                later = (span if last[2] is None or (span[2] is not None and
                                                       (span[2].line or 0) >= (last[2].line or 0)) else last)
                first = last if later is span else span
                other = "the record type" if first[2] is None else f"item {first[2].name}"
                raise err("MD412", later[2], start=later[0], end=later[1], other=other,
                          other_start=first[0], other_end=first[1], record=r.name)
            if last is None or span[1] > last[1]:
                last = span


def _json_item(o: dict, record: str | None, is_id: bool, d: CsproDictionary) -> Item:
    lab = o.get("labels") or ""
    if isinstance(lab, list):
        lab = lab[0].get("text", "") if lab and isinstance(lab[0], dict) else ""
    it = Item(name=o.get("name", ""), label=str(lab), start=int(o.get("start", 0)),
              length=int(o.get("length", 0)),
              data_type="alpha" if str(o.get("contentType", "numeric")).lower() == "alpha" else "numeric",
              decimals=int(o.get("decimals", 0)), decimal_char=bool(o.get("decimalMark", d.decimal_char)),
              zero_fill=bool(o.get("zeroFill", d.zero_fill)),
              occurrences=int(o["occurrences"].get("maximum", 1)) if isinstance(o.get("occurrences"), dict)
              else int(o.get("occurrences", 1)),
              record=record, is_id=is_id)
    for vso in o.get("valueSets", []):
        vs = ValueSet(name=vso.get("name", ""), label=str(vso.get("labels", [{}])[0].get("text", ""))
                      if vso.get("labels") else "")
        for vo in vso.get("values", []):
            vlab = vo.get("labels", [{}])
            vlab = vlab[0].get("text", "") if vlab and isinstance(vlab[0], dict) else ""
            for p in vo.get("pairs", []):
                if "range" in p:
                    lo, hi = p["range"]
                    vs.values.append(Value(lo, hi, vlab, (vo.get("special") or "").upper() or None))
                else:
                    vs.values.append(Value(p.get("value"), None, vlab,
                                           (vo.get("special") or "").upper() or None))
        it.value_sets.append(vs)
    return it


def read_dictionary(path: str | Path) -> CsproDictionary:
    """Read a CSPro dictionary file (``.dcf``, text CSPro 6-8 or CSPro 8 JSON).

    Raises :class:`~migdata.errors.DataError` ``MD001`` when the file is missing, ``MD003``
    when it is not UTF-8 (or cp1252, CSPro 6's ANSI), ``MD400`` with the line number when the
    text cannot be parsed.

    Example:
        >>> d = read_dictionary("LFS_PUF_December_2022.dcf")     # doctest: +SKIP
        >>> d.item("PUFPWGTPRV").decimals                         # doctest: +SKIP
        4
    """
    p = Path(path)
    if not p.is_file():
        raise DataError("MD001", path=str(p))
    raw = p.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        # CSPro before 7 wrote dictionaries in the Windows ANSI code page.
        text = raw.decode("cp1252", errors="strict") if _cp1252_ok(raw) else None
        if text is None:
            exc = _first_bad(raw)
            raise DataError("MD003", path=str(p), encoding="UTF-8", offset=exc) from None
    return parse_dictionary_text(text, str(p))


def _cp1252_ok(raw: bytes) -> bool:
    try:
        raw.decode("cp1252")
        return True
    except UnicodeDecodeError:
        return False


def _first_bad(raw: bytes) -> int:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start
    return -1
