"""What an import keeps and quotes (``migdata/model/privacy.py``): codes only in ``*_src``,
personal values withheld in messages, free text without phone numbers, e-mail addresses or the
household's own names. Expected texts are written by hand."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from migdata.importer import import_files
from migdata.model import ImportReport
from migdata.model.privacy import is_code, looks_personal, redact_text, withheld

FIX = Path(__file__).parent / "fixtures" / "profiles_engine"


@pytest.mark.parametrize("value, personal", [
    ("M", False), ("DK", False), ("3", False), ("9997", False), ("ofw_contract", False),
    ("0403405010", False),                   # a 10-digit PSGC code
    ("045623008000123000100010001", False),  # a 27-digit CBMS case id
    ("H0001", False), ("1e309", False), ("Infinity", False), ("seventy", False),
    ("Juan", True), ("Juan Dela Cruz", True), ("MARIA CLARA", True),
    ("09171234567", True), ("0917 123 4567", True), ("+63 917 123 4567", True), ("(02) 8123-4567", True),
    (9171234567, True),                      # a mobile number read as a number
    ("juan@mail.ph", True),
])
def test_what_looks_personal(value, personal):
    assert looks_personal(value) is personal


def test_listed_codes_are_kept_whatever_their_form():
    assert is_code("Other", listed={"Other"}) and not is_code("Other")


def test_redaction_by_hand():
    text, found = redact_text("Driver; call Rosa at 0917-555-0142 or rosa.v@mail.ph; PSGC 0403405010; 25,000",
                              {"rosa", "villanueva"})
    assert text == "Driver; call [name] at [phone] or [e-mail]; PSGC 0403405010; 25,000"
    assert found == {"e-mail": 1, "phone": 1, "name": 1}


def test_messages_withhold_personal_values_and_private_columns():
    r = ImportReport()
    r.add("MD504", table="persons", source_row=2, column="sex", value="Juan Dela Cruz", action="set_missing")
    r.add("MD504", table="persons", source_row=3, column="sex", value="X", action="set_missing")
    r.add("MD103", table="persons", source_row=4, column="note", value="seventy", mask=True)
    assert [p.value for p in r.problems] == [withheld("Juan Dela Cruz"), "X", withheld("seventy")]
    assert "Juan" not in r.summary() and "'X'" in r.problems[1].message


PROFILE = FIX / "lgu_survey_2024.toml"


def test_free_text_loses_phones_emails_and_the_households_own_names(tmp_path):
    """Hand fixture: the members of H001 are Juan and Rosa, its head Juan Dela Cruz; Rosa's
    occupation names Juan and a phone, Ana's (H003) an e-mail and Rosa (not her household's)."""
    text = PROFILE.read_text().replace(
        'name = { from = "member_name", drop = true }',
        'name = { from = "member_name", drop = true }\noccupation = { from = "occupation", free_text = true }')
    prof = tmp_path / "p.toml"
    prof.write_text(text)
    hh = (FIX / "households.csv").read_text()
    members = (FIX / "members.csv").read_text().splitlines()
    occ = {"Rosa": "vendor, ask Juan at 0917 555 0142", "Ana": "ana.s@mail.ph, works for Rosa"}
    rows = [members[0] + ",occupation"] + [ln + ',"' + occ.get(ln.split(",")[-1], "") + '"' for ln in members[1:]]
    (tmp_path / "households.csv").write_text(hh)
    (tmp_path / "members.csv").write_text("\n".join(rows) + "\n")
    names = [ln.split(",")[-1] for ln in members[1:]]
    data = import_files([tmp_path / "households.csv", tmp_path / "members.csv"], prof)
    got = dict(zip(names, data.persons["occupation"].tolist()))
    assert got["Rosa"] == "vendor, ask [name] at [phone]"
    # Rosa is not in Ana's household: her name stays (only a household's own names are known)
    assert got["Ana"] == "[e-mail], works for Rosa"
    red = [p for p in data.report.problems if p.code == "MD515"]
    assert {p.action for p in red} == {"kept"} and all(p.value is None for p in red)
    assert "Juan" not in " ".join(p.message for p in red)
    kept = import_files([tmp_path / "households.csv", tmp_path / "members.csv"], prof, keep_identifiers=True)
    assert dict(zip(names, kept.persons["occupation"].tolist()))["Rosa"] == occ["Rosa"]
    assert not pd.isna(kept.persons["name"]).all()
