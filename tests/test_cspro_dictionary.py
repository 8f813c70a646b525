"""CSPro dictionary parsing, checked against independent plain-text scans of real dictionaries."""

from __future__ import annotations

import re

import pytest

from migdata.errors import DataError
from migdata.readers.cspro_dictionary import parse_dictionary_text, read_dictionary
from tests.conftest import realfile


def scan(path):
    """Independent count of sections and keys (no use of the parser under test)."""
    text = path.read_text(encoding="utf-8-sig")
    return {
        "items": len(re.findall(r"^\[Item\]\s*$", text, re.M)),
        "valuesets": len(re.findall(r"^\[ValueSet\]\s*$", text, re.M)),
        "records": len(re.findall(r"^\[Record\]\s*$", text, re.M)),
        "types": re.findall(r"^RecordTypeValue='([^']*)'", text, re.M),
        "subitems": len(re.findall(r"^ItemType=SubItem", text, re.M)),
    }


@pytest.mark.parametrize("parts", [
    ("ph", "cbms", "HPQF2_DICT.dcf"),
    ("ph", "cbms", "HPQF2_PILOT_DICT.dcf"),
    ("ph", "lfs", "LFS_PUF_December_2022.dcf"),
    ("cspro", "popstan", "Census Dictionary.dcf"),
])
def test_counts_match_plain_scan(parts):
    path = realfile(*parts)
    expected = scan(path)
    d = read_dictionary(path)
    items = list(d.items())
    assert len(items) == expected["items"]
    assert sum(len(it.value_sets) for it in items) == expected["valuesets"]
    assert len(d.records) == expected["records"]
    assert [r.type_value for r in d.records] == expected["types"]
    assert sum(it.item_type == "subitem" for it in items) == expected["subitems"]


def test_cbms_2022_published_shape():
    # The realdata README states: 30 record types, 1,497 items, 1,025 value sets, persons up to 35.
    d = read_dictionary(realfile("ph", "cbms", "HPQF2_DICT.dcf"))
    assert len(d.records) == 30
    assert len(list(d.items())) == 1497
    assert sum(len(it.value_sets) for it in d.items()) == 1025
    assert d.record("SECTION_A").max_records == 35
    assert d.decimal_char is True
    b06 = d.item("B06_OFI")
    assert b06.record == "SECTION_B"
    assert d.item("REG_PSGC").is_id and d.item("REG_PSGC").start == 2


def test_pilot_three_character_record_types():
    d = read_dictionary(realfile("ph", "cbms", "HPQF2_PILOT_DICT.dcf"))
    assert d.record_type_len == 3
    assert all(len(r.type_value) == 3 for r in d.records)
    assert d.records[0].type_value == "002"


def test_lfs_items_decimals_and_value_set():
    d = read_dictionary(realfile("ph", "lfs", "LFS_PUF_December_2022.dcf"))
    assert [it.name for it in d.id_items] == ["PUFREG", "PUFHHNUM"]
    rec = d.records[0]
    assert (rec.name, rec.type_value, rec.max_records, rec.required) == ("HHMEM", "2", 35, False)
    w = d.item("PUFPWGTPRV")
    assert (w.start, w.length, w.decimals, w.decimal_char) == (10, 10, 4, False)
    c08 = d.item("PUFC08_CONWR")
    # From the .dcf text: Value=1;Overseas Contract Workers ... Value=' ';... Name=NOTAPPL,Special
    assert c08.value_labels()[1] == "Overseas Contract Workers"
    assert c08.value_labels()[4] == "Students abroad/Tourists"
    assert c08.special_values() == {" ": "NOTAPPL"}
    reg = d.item("PUFREG").value_labels()
    assert reg[4] == "Region IV-A  (CALABARZON)"
    grade = d.item("PUFC07_GRADE").value_sets[0].values
    # Value=0:1000 2000;No grade completed -> a range and a single code
    assert (grade[0].low, grade[0].high, grade[1].low, grade[1].high) == (0, 1000, 2000, None)


def test_popstan_subitems_and_specials():
    d = read_dictionary(realfile("cspro", "popstan", "Census Dictionary.dcf"))
    assert d.item("P15A_OCC").subitem_of == "P15_OCC"
    assert d.item("INTERVIEW_MONTH").subitem_of == "INTERVIEW_DATE"
    assert d.item("ENUMERATOR").data_type == "alpha"
    assert d.item("P08_RES95").special_values() == {"  ": "NOTAPPL"}
    assert d.record("PERSON").record_len == 49


SMALL = """\ufeff[Dictionary]\r
Name=T\r
RecordTypeStart=1\r
RecordTypeLen=1\r
DecimalChar=No\r
\r
[Level]\r
Name=L\r
\r
[IdItems]\r
\r
[Item]\r
Name=ID\r
Start=2\r
Len=3\r
\r
[Record]\r
Name=P\r
RecordTypeValue='1'\r
MaxRecords=5\r
\r
[Item]\r
Name=X\r
Start=5\r
Len=2\r
Occurrences=3\r
\r
[Item]\r
Name=X1\r
Start=5\r
Len=1\r
ItemType=SubItem\r
\r
[Item]\r
Name=W\r
Start=11\r
Len=5\r
Decimal=2\r
\r
[ValueSet]\r
Name=W_VS1\r
Value=0:999.99;ok\r
Value=999.98;dk\r
Name=MISSING,Special\r
"""


def test_crlf_bom_occurrences_subitems_specials():
    d = parse_dictionary_text(SMALL)
    x, x1, w = d.item("X"), d.item("X1"), d.item("W")
    assert (x.occurrences, x.end) == (3, 10)
    # a subitem of a repeating item repeats with the parent's stride
    assert (x1.subitem_of, x1.occurrences, x1.occurrence_start(2)) == ("X", 3, 7)
    assert (w.decimals, w.decimal_char) == (2, False)
    assert w.special_values() == {999.98: "MISSING"}
    assert w.value_sets[0].values[0].contains(12.5)


def test_bad_dictionary_is_located(tmp_path):
    p = tmp_path / "bad.dcf"
    p.write_text("[Dictionary]\nName=T\n[Level]\nName=L\n[IdItems]\n[Item]\nName=A\nStart=x\n")
    with pytest.raises(DataError) as ei:
        read_dictionary(p)
    assert ei.value.code == "MD400" and ei.value.fields["row"] == 8


def test_missing_and_misencoded_dictionary(tmp_path):
    with pytest.raises(DataError) as ei:
        read_dictionary(tmp_path / "nope.dcf")
    assert ei.value.code == "MD001"
    p = tmp_path / "bad.dcf"
    p.write_bytes(b"[Dictionary]\nName=T\x81\x8d\n")  # not UTF-8 and not cp1252 (0x81 undefined)
    with pytest.raises(DataError) as ei:
        read_dictionary(p)
    assert ei.value.code == "MD003" and ei.value.fields["offset"] == 19


JSON_DCF = """{
  "software": "CSPro", "version": 8.0, "fileType": "dictionary", "name": "T",
  "labels": [{"text": "Test"}],
  "recordType": {"start": 1, "length": 1},
  "defaults": {"decimalMark": false, "zeroFill": true},
  "relativePositions": true,
  "levels": [{
    "name": "L", "labels": [{"text": "Level"}],
    "ids": {"items": [{"name": "ID", "labels": [{"text": "Id"}], "contentType": "numeric", "length": 3}]},
    "records": [{
      "name": "P", "labels": [{"text": "Person"}], "recordType": "1",
      "occurrences": {"required": false, "maximum": 5},
      "items": [
        {"name": "X", "labels": [{"text": "X"}], "contentType": "numeric", "length": 2,
         "occurrences": {"maximum": 3}},
        {"name": "W", "labels": [{"text": "W"}], "contentType": "numeric", "length": 5, "decimals": 2,
         "valueSets": [{"name": "W_VS1", "labels": [{"text": "W"}],
                        "values": [{"labels": [{"text": "ok"}], "pairs": [{"range": [0, 999.99]}]},
                                   {"labels": [{"text": "dk"}], "pairs": [{"value": 999.98}],
                                    "special": "missing"}]}]},
        {"name": "NAME", "labels": [{"text": "Name"}], "contentType": "alpha", "start": 17, "length": 4}
      ]
    }]
  }]
}"""


def test_cspro8_json_dictionary_relative_positions():
    """Same layout as the text fixture above: ID at 2-4, X (3 x 2) at 5-10, W at 11-15."""
    d = parse_dictionary_text(JSON_DCF)
    rec = d.record("P")
    assert (rec.type_value, rec.max_records, rec.required) == ("1", 5, False)
    assert d.item("ID").start == 2 and d.item("ID").is_id
    x, w, name = d.item("X"), d.item("W"), d.item("NAME")
    assert (x.start, x.occurrences, x.end) == (5, 3, 10)
    assert (w.start, w.length, w.decimals, w.decimal_char) == (11, 5, 2, False)
    assert w.special_values() == {999.98: "MISSING"}
    assert w.value_sets[0].values[0].contains(12.5)
    assert (name.start, name.data_type) == (17, "alpha")  # an explicit start is kept
