"""Seeded mutants of CSPro dictionaries and data files (issue 16, items 2, 7, 14, 15, 19).

Dictionaries: items placed over other items or beyond their record, duplicate names, record
types and sections, absurd lengths, occurrences and decimals are located errors (file, line of
the .dcf, item) raised before any data is read; random damage never crashes. Data: numbers such
as ``inf``, ``1e9`` or a sign in integer items, cut or joined lines, unknown record types, never
crash and every line is counted (lines read = kept + rejected = the lines of the file). A dropped
identifier (the CBMS house number) is never decoded, so never quoted anywhere.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pandas as pd
import pytest

from conftest import REALDATA
from migdata.cli import main
from migdata.errors import DataError
from migdata.readers.cspro import read_cspro
from migdata.readers.cspro_dictionary import parse_dictionary_text, read_dictionary

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"
LAYOUT = SAMPLE / "cbms_2022_hpq_layout.dcf"
DATA = SAMPLE / "cbms_2022_hpq.dat"

DICTIONARIES = [LAYOUT] + [REALDATA / p for p in (
    "ph/cbms/HPQF2_DICT.dcf", "ph/cbms/HPQF2_PILOT_DICT.dcf", "ph/lfs/LFS_PUF_December_2022.dcf",
    "cspro/popstan/Census Dictionary.dcf")]


def _dictionaries() -> list[Path]:
    return [p for p in DICTIONARIES if p.exists()]


# -- the .dcf as sections, to mutate it by line ---------------------------------------------------

class Dcf:
    """The lines of a text .dcf and where its sections are (1-based line numbers)."""

    def __init__(self, text: str) -> None:
        self.lines = text.lstrip("\ufeff").splitlines()
        self.sections: list[dict] = []
        record = None
        for i, ln in enumerate(self.lines):
            s = ln.strip()
            if s.startswith("[") and s.endswith("]"):
                cur = {"kind": s[1:-1], "line": i + 1, "keys": {}, "record": record}
                self.sections.append(cur)
                if cur["kind"] == "Record":
                    record = cur
                elif cur["kind"] in ("Level", "IdItems"):
                    record = None
                    cur["record"] = None
            elif "=" in s and self.sections:
                k, _, v = s.partition("=")
                self.sections[-1]["keys"].setdefault(k.strip(), (i, v))

    def items(self, record: dict | None = "any") -> list[dict]:
        return [s for s in self.sections if s["kind"] == "Item"
                and s["keys"].get("ItemType", (0, "Item"))[1].strip().lower() != "subitem"
                and (record == "any" or s["record"] is record)]

    def records(self) -> list[dict]:
        return [s for s in self.sections if s["kind"] == "Record"]

    def get(self, sec: dict, key: str) -> str:
        return sec["keys"][key][1].strip()

    def set(self, sec: dict, key: str, value: object) -> None:
        if key in sec["keys"]:
            i, _ = sec["keys"][key]
            self.lines[i] = f"{key}={value}"
        else:  # add the key right after the section header
            self.lines.insert(sec["line"], f"{key}={value}")
            self.__init__(self.text())  # line numbers moved

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"

    def item_line(self, name: str) -> int:
        for s in self.sections:
            if s["kind"] in ("Item", "Record") and s["keys"].get("Name", (0, ""))[1].strip() == name:
                return s["line"]
        raise KeyError(name)

    def item_lines(self, name: str) -> list[int]:
        return [s["line"] for s in self.sections
                if s["kind"] in ("Item", "Record") and s["keys"].get("Name", (0, ""))[1].strip() == name]


def _mutate(dcf: Dcf, kind: str, rng: random.Random) -> tuple[str, set[str]]:
    """Apply one mutation of ``kind``; returns (the codes it must raise, ...) as (kind, codes)."""
    recs = [r for r in dcf.records() if len(dcf.items(r)) >= 2]
    rec = rng.choice(recs)
    a, b = rng.sample(dcf.items(rec), 2)
    if kind == "overlap":
        b_start, b_len = int(dcf.get(b, "Start")), int(dcf.get(b, "Len"))
        dcf.set(a, "Start", b_start + rng.randrange(b_len))
        return kind, {"MD412", "MD413"}
    if kind == "outside":
        dcf.set(a, "Start", int(dcf.get(rec, "RecordLen")) + 1 + rng.randrange(50))
        return kind, {"MD413"}
    if kind == "duplicate name":
        dcf.set(a, "Name", dcf.get(b, "Name"))
        return kind, {"MD414"}
    if kind == "duplicate record type":
        other = rng.choice([r for r in dcf.records() if r is not rec])
        dcf.set(rec, "RecordTypeValue", dcf.get(other, "RecordTypeValue"))
        return kind, {"MD414"}
    if kind == "repeated record":
        i0 = rec["line"] - 1
        nxt = [r["line"] - 1 for r in dcf.records() if r["line"] > rec["line"]]
        block = dcf.lines[i0:(nxt[0] if nxt else len(dcf.lines))]
        dcf.lines += [""] + block
        return kind, {"MD414"}
    if kind == "absurd length":
        dcf.set(a, "Len", 10 ** rng.randrange(5, 13))
        return kind, {"MD415"}
    if kind == "many occurrences":
        dcf.set(a, "Occurrences", rng.choice([10_000, 100_000, 10 ** 9]))
        return kind, {"MD415"}
    if kind == "decimals beyond length":
        dcf.set(a, "DataType", "Numeric")
        dcf.set(a, "Decimal", int(dcf.get(a, "Len")) + 1 + rng.randrange(5))
        return kind, {"MD415"}
    if kind == "start not positive":
        dcf.set(a, "Start", rng.choice([0, -1, -40]))
        return kind, {"MD400"}
    if kind == "absurd record length":
        dcf.set(rec, "RecordLen", 10 ** rng.randrange(6, 12))
        return kind, {"MD415"}
    if kind == "no records allowed":
        dcf.set(rec, "MaxRecords", 0)
        return kind, {"MD415"}
    if kind == "second dictionary section":
        dcf.lines.insert(a["line"] - 1, "[Dictionary]")
        return kind, {"MD414"}
    raise ValueError(kind)


KINDS = ["overlap", "outside", "duplicate name", "duplicate record type", "repeated record", "absurd length",
         "many occurrences", "decimals beyond length", "start not positive", "absurd record length",
         "no records allowed", "second dictionary section"]


@pytest.mark.parametrize("seed", range(2))
def test_seeded_dictionary_mutants_are_located_errors(seed):
    rng = random.Random(seed)
    for path in _dictionaries():
        base = Dcf(path.read_text(encoding="utf-8-sig", errors="replace"))
        if len(base.records()) < 2 and "duplicate record type" in KINDS:
            kinds = [k for k in KINDS if k != "duplicate record type"]
        else:
            kinds = KINDS
        parse_dictionary_text(base.text(), str(path))  # the real dictionary itself is fine
        for kind in kinds:
            dcf = Dcf(base.text())
            kind, codes = _mutate(dcf, kind, rng)
            text = dcf.text()
            with pytest.raises(DataError) as e:
                parse_dictionary_text(text, str(path))
            err = e.value
            assert err.code in codes, (path.name, kind, err.message)
            assert err.fields["file"] == str(path)
            row, item = err.fields["row"], err.fields.get("item")
            # the location is right: the line named is where the item (or record) named is defined
            if err.code == "MD400":
                assert Dcf(text).lines[row - 1].startswith("[Item]"), (kind, err.message)
            elif kind == "second dictionary section":
                assert Dcf(text).lines[row - 1] == "[Dictionary]"
            else:
                assert row in Dcf(text).item_lines(item), (path.name, kind, err.message)


@pytest.mark.parametrize("seed", range(3))
def test_seeded_random_dictionary_damage_never_crashes(seed, tmp_path):
    """Lines deleted, repeated or given junk values: the dictionary is read or refused with an
    MD error; when it is read, the data are read with every line counted."""
    rng = random.Random(seed)
    data = tmp_path / "part.dat"
    lines = DATA.read_bytes().split(b"\n")[:1500]
    data.write_bytes(b"\n".join(lines) + b"\n")
    base = LAYOUT.read_text(encoding="utf-8-sig").splitlines()
    junk = ["abc", "", "-1", "0", "99999999999999999999", "1e9", "'", "[", "Yes", "9" * 400]
    for _ in range(12):
        mut = list(base)
        for _ in range(rng.randrange(1, 4)):
            i = rng.randrange(len(mut))
            op = rng.random()
            if op < 0.3:
                del mut[i]
            elif op < 0.5:
                mut.insert(i, mut[i])
            elif "=" in mut[i]:
                mut[i] = mut[i].split("=")[0] + "=" + rng.choice(junk)
        try:
            d = parse_dictionary_text("\n".join(mut), "mutant.dcf")
        except DataError as e:
            assert e.code.startswith("MD4"), e.message
            continue
        try:
            tables, cb = read_cspro(data, d)
        except DataError as e:
            assert e.code in ("MD416", "MD002"), e.message
            continue
        c = cb.report.counts[f"lines of {data.name}"]
        assert c["read"] == len(lines) and c["kept"] + c["rejected"] == c["read"]


def test_the_two_silent_failures_of_the_issue(tmp_path):
    """An item read from inside another (age inside the name) and an item starting beyond its
    record were read without a word: 253 ages became 0, a variable emptied."""
    dcf = Dcf(LAYOUT.read_text(encoding="utf-8-sig"))
    age = next(s for s in dcf.items() if dcf.get(s, "Name") == "A07_AGE")
    name = next(s for s in dcf.items() if dcf.get(s, "Name") == "A01_HHNAME")
    dcf.set(age, "Start", int(dcf.get(name, "Start")) + 3)
    with pytest.raises(DataError) as e:
        parse_dictionary_text(dcf.text(), "x.dcf")
    assert e.value.code == "MD412" and {e.value.fields["item"]} <= {"A07_AGE", "A01_HHNAME"}
    assert "A07_AGE" in e.value.message and "A01_HHNAME" in e.value.message
    dcf = Dcf(LAYOUT.read_text(encoding="utf-8-sig"))
    age = next(s for s in dcf.items() if dcf.get(s, "Name") == "A07_AGE")
    rec = age["record"]
    dcf.set(age, "Start", int(dcf.get(rec, "RecordLen")) + 5)
    with pytest.raises(DataError) as e:
        parse_dictionary_text(dcf.text(), "x.dcf")
    assert e.value.code == "MD413" and e.value.fields["item"] == "A07_AGE"
    assert e.value.fields["row"] == dcf.item_line("A07_AGE")


def test_cli_import_with_a_damaged_dictionary_is_one_message(tmp_path, capsys):
    dcf = Dcf(LAYOUT.read_text(encoding="utf-8-sig"))
    age = next(s for s in dcf.items() if dcf.get(s, "Name") == "A07_AGE")
    dcf.set(age, "Occurrences", 100_000)
    (tmp_path / "hpq.dcf").write_text(dcf.text())
    (tmp_path / "hpq.dat").write_bytes(DATA.read_bytes()[:200_000])
    with pytest.raises(SystemExit) as e:
        main(["import", str(tmp_path / "hpq.dat"), "--profile", "cbms_2022_hpq", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert e.value.code == 1 and "[MD415]" in err and "Occurrences=100000" in err and "Traceback" not in err
    assert f"line {dcf.item_line('A07_AGE')}" in err


def test_json_dictionary_with_values_of_the_wrong_kind_is_md400():
    bad = json.dumps({"software": "CSPro", "fileType": "dictionary", "name": "D",
                      "recordType": {"start": "one", "length": 1}, "levels": []})
    with pytest.raises(DataError) as e:
        parse_dictionary_text(bad, "d.dcf")
    assert e.value.code == "MD400"


# -- data --------------------------------------------------------------------------------------------

def _layout():
    d = read_dictionary(LAYOUT)
    return d, {it.name: it for it in d.items()}


def test_items_beyond_every_line_read_as_missing_like_blank_columns(tmp_path):
    """Columns no line reaches are not decoded: the result equals reading the same lines padded
    with blanks to the record length (the plain way)."""
    d, _ = _layout()
    lines = DATA.read_bytes().split(b"\n")[:3000]
    lines = [ln for ln in lines if ln]
    short = tmp_path / "short.dat"
    short.write_bytes(b"\n".join(lines) + b"\n")
    width = max(r.length for r in d.records)
    padded = tmp_path / "padded.dat"
    padded.write_bytes(b"\n".join(ln.ljust(width) for ln in lines) + b"\n")
    a, _ = read_cspro(short, d)
    b, _ = read_cspro(padded, d)
    assert sorted(a) == sorted(b)
    absent = 0
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], check_dtype=True)
        absent += sum(a[name][c].isna().all() for c in a[name].columns)
    assert absent > 0  # the short file does leave trailing items unread


def _line_count(raw: bytes) -> int:
    return raw.count(b"\n") + (0 if raw.endswith(b"\n") or not raw else 1)


def _mutant_data(seed: int) -> bytes:
    """The CBMS sample's first 2,500 lines with 25 seeded defects: bad numbers (signs, exponents,
    non-ASCII), cut, joined, lengthened and emptied lines, unknown record types."""
    rng = random.Random(seed)
    d, items = _layout()
    lines = DATA.read_bytes().split(b"\n")[:2500]
    ints = [items[n] for n in ("A07_AGE", "LNO", "B08_STAY", "A05_SEX", "NO_HHMEM") if n in items]
    values = [b"inf", b"nan", b"1e9", b"-9", b"+1", b"1e12", b"-1e308"[:3], b"9" * 20, b"\xc3\xb1", b"  "]
    for _ in range(25):
        k = rng.randrange(len(lines))
        ln = bytearray(lines[k])
        op = rng.random()
        if op < 0.5:
            it = rng.choice(ints)
            v = rng.choice(values)[:it.length].rjust(it.length)
            if len(ln) >= it.start - 1:
                ln[it.start - 1:it.start - 1 + it.length] = v
        elif op < 0.65:
            ln = ln[:rng.randrange(len(ln) + 1)]
        elif op < 0.75:
            ln[:1] = b"#"  # an unknown record type
        elif op < 0.85:
            ln += b"x" * rng.randrange(1, 5000)
        elif op < 0.92 and k + 1 < len(lines):
            ln += lines.pop(k + 1)  # two lines joined
        else:
            ln = bytearray()
        lines[k] = bytes(ln)
    return b"\n".join(lines)


@pytest.mark.parametrize("seed", range(5))
def test_seeded_data_mutants_never_crash_and_count_every_line(seed, tmp_path, capsys):
    d, _ = _layout()
    raw = _mutant_data(seed)
    f = tmp_path / "hpq.dat"
    f.write_bytes(raw)
    (tmp_path / "hpq.dcf").write_bytes(LAYOUT.read_bytes())
    tables, cb = read_cspro(f, d)
    c = cb.report.counts[f"lines of {f.name}"]
    assert c["read"] == _line_count(raw) and c["kept"] + c["rejected"] == c["read"]
    with pytest.raises(SystemExit) as e:
        main(["import", str(f), "--profile", "cbms_2022_hpq", "--out", str(tmp_path / "o")])
    out = capsys.readouterr()
    assert e.value.code in (0, 1, 2) and "Traceback" not in out.err + out.out, out.err
    assert "Internal error" not in out.err


@pytest.mark.parametrize("seed", range(6))
def test_lines_gathered_at_each_records_width_read_as_at_the_widest(seed, tmp_path, monkeypatch):
    """The reader gathers a line's head for every line and the rest at its own record's width;
    on seeded mutants with non-ASCII text (names with ñ, a non-ASCII byte in an id or a
    number) the tables and the report equal those of gathering every line at the widest
    record's width, as it did."""
    import migdata.readers.cspro as C

    rng = random.Random(100 + seed)
    lines = _mutant_data(seed).split(b"\n")
    decoded = [k for k, ln in enumerate(lines) if ln[:1] in (b"1", b"3", b"4", b"6", b"B", b"M")]
    for i in range(16):  # a character of two bytes for a blank and the byte after it: later items move
        k = rng.choice(decoded) if i % 4 else rng.randrange(len(lines))
        pos = rng.randrange(1, 60) if i % 4 else rng.randrange(len(lines[k]) + 1)  # (also in the id)
        lines[k] = lines[k][:pos] + rng.choice(["ñ", "Ñ", "é", "ü"]).encode() + lines[k][pos + 2:]
    f = tmp_path / "hpq.dat"
    f.write_bytes(b"\n".join(lines))
    d, _ = _layout()
    got, cb = read_cspro(f, d)
    init = C._Reader.__init__

    def widest(self, *a, **kw):  # every line gathered at the widest width, the records' rows taken from it
        init(self, *a, **kw)
        self.hw = self.wp
        self.rec_wp = dict.fromkeys(self.rec_wp, self.wp)

    monkeypatch.setattr(C._Reader, "__init__", widest)
    monkeypatch.setattr(C._Reader, "rows", lambda self, rec, M, s, sel, c0: M[sel])
    want, cb_want = read_cspro(f, d)
    assert sorted(got) == sorted(want)
    for name in want:
        pd.testing.assert_frame_equal(got[name], want[name])
    assert [p.__dict__ for p in cb.report.problems] == [p.__dict__ for p in cb_want.report.problems]
    assert cb.report.problems  # (the mutants are reported)


def test_numbers_beyond_integer_range_in_a_wide_item(tmp_path):
    """20-digit numbers, signs, inf and exponents in numeric items of every width: numbers are
    read (exactly up to 15 digits), the rest is a located MD404; nothing raises."""
    dcf = """[Dictionary]
Name=D
RecordTypeStart=1
RecordTypeLen=0
[Level]
Name=L
[IdItems]
[Item]
Name=ID
Start=1
Len=2
[Record]
Name=R
RecordTypeValue=''
RecordLen=42
[Item]
Name=WIDE
Start=3
Len=20
[Item]
Name=NARROW
Start=23
Len=15
[Item]
Name=DEC
Start=38
Len=5
Decimal=2
"""
    rows = [("01", "12345678901234567890", "999999999999999", "  1.5"),
            ("02", "                 inf", "            nan", "  inf"),
            ("03", "              -1e308", "           1e12", "-9.99"),
            ("04", "-9223372036854775809", "-99999999999999", "1e300")]
    (tmp_path / "w.dat").write_text("".join(a + b + c + e + "\n" for a, b, c, e in rows))
    tables, cb = read_cspro(tmp_path / "w.dat", parse_dictionary_text(dcf, "d.dcf"))
    t = tables["R"]
    assert t["WIDE"].iloc[0] == float(12345678901234567890) and t["WIDE"].iloc[3] == -9223372036854775809.0
    assert t["NARROW"].tolist()[0] == 999999999999999 and t["NARROW"].tolist()[3] == -99999999999999
    assert t["DEC"].iloc[0] == 1.5 and t["DEC"].iloc[2] == -9.99
    bad = {(p.source_row, p.column, str(p.value).strip()) for p in cb.report.problems}
    assert bad == {(2, "WIDE", "inf"), (2, "NARROW", "nan"), (2, "DEC", "inf"), (3, "WIDE", "-1e308"),
                   (3, "NARROW", "1e12"), (4, "DEC", "1e300")}
    assert all(p.code == "MD404" for p in cb.report.problems)


# -- a dropped identifier is never decoded --------------------------------------------------------------

def _plant_house_numbers(tmp_path: Path, token: bytes) -> Path:
    d, items = _layout()
    hbn = items["HBN"]
    lines = DATA.read_bytes().split(b"\n")[:3000]
    planted = 0
    rt = d.record(hbn.record).type_value.encode()  # GEO_ID lines hold the house number
    for k, ln in enumerate(lines):
        if k and ln[:1] == rt and len(ln) >= hbn.end:  # (line 1 starts with a byte-order mark)
            ln = bytearray(ln)
            ln[hbn.start - 1:hbn.start - 1 + hbn.length] = token
            lines[k] = bytes(ln)
            planted += 1
    assert planted > 10
    (tmp_path / "hpq.dat").write_bytes(b"\n".join(lines))
    (tmp_path / "hpq.dcf").write_bytes(LAYOUT.read_bytes())
    return tmp_path / "hpq.dat"


def _everything_written(out: Path, terminal: str) -> str:
    parts = [terminal]
    for p in sorted(out.rglob("*")):
        if p.suffix == ".parquet":
            df = pd.read_parquet(p)
            parts.append(df.astype(str).to_csv())
        elif p.is_file():
            parts.append(p.read_text(errors="replace"))
    return "\n".join(parts)


def test_a_dropped_house_number_is_never_decoded_nor_quoted(tmp_path, capsys):
    token = b"Q7ZX"  # a house number that is not a number: decoding it would report it
    f = _plant_house_numbers(tmp_path, token)
    with pytest.raises(SystemExit) as e:
        main(["import", str(f), "--profile", "cbms_2022_hpq", "--out", str(tmp_path / "o")])
    out = capsys.readouterr()
    assert e.value.code in (0, 1)
    assert token.decode() not in _everything_written(tmp_path / "o", out.out + out.err)
    # the test can fail: keeping identifiers decodes the item, and the bad value is reported
    with pytest.raises(SystemExit) as e:
        main(["import", str(f), "--profile", "cbms_2022_hpq", "--out", str(tmp_path / "k"),
              "--keep-identifiers"])
    out = capsys.readouterr()
    assert token.decode() in _everything_written(tmp_path / "k", out.out + out.err)


def test_thousands_of_occurrences_beyond_every_line_is_md416(tmp_path):
    """A dictionary without RecordLen (nothing to check the item against before reading) whose
    item has 5,000 occurrences past the end of every line: refused, located, before any column is
    built (a few trailing items beyond the lines are normal and read as missing)."""
    base = """[Dictionary]
Name=D
RecordTypeStart=1
RecordTypeLen=1
[Level]
Name=L
[IdItems]
[Item]
Name=HH
Start=2
Len=3
[Record]
Name=P
RecordTypeValue='1'
[Item]
Name=AGE
Start=5
Len=2
[Item]
Name=KIDS
Start=7
Len=1
Occurrences={occ}
"""
    (tmp_path / "d.dat").write_text("100130\n100245\n")
    few = parse_dictionary_text(base.format(occ=3), "d.dcf")
    tables, _ = read_cspro(tmp_path / "d.dat", few)
    assert tables["P"][["KIDS_1", "KIDS_2", "KIDS_3"]].isna().all().all()
    many = parse_dictionary_text(base.format(occ=5000), "d.dcf")
    with pytest.raises(DataError) as e:
        read_cspro(tmp_path / "d.dat", many)
    assert e.value.code == "MD416" and e.value.fields["item"] == "KIDS"
    assert e.value.fields["row"] == Dcf(base.format(occ=5000)).item_line("KIDS")
