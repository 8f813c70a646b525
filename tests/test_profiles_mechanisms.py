"""Declarative column mechanisms of the profile engine (code tables from files, select_multiple
choices, conditional values, sums, first-match cases, area codes) on small hand-built tables;
every expected value is written here by hand from the rows of the fixture."""

from __future__ import annotations

import random

import pandas as pd
import pytest

from migdata.areas import normalize_codes
from migdata.errors import DataError
from migdata.errors import render
from migdata.model.report import ImportReport
from migdata.profiles import load_profile, parse_profile
from migdata.profiles.engine import apply_profile
from migdata.readers.codebook import Codebook

HEAD = '''
[profile]
name = "t"
reader = "csv"
'''


def _apply(text: str, raw: pd.DataFrame, path: str | None = None) -> tuple[pd.DataFrame, Codebook]:
    prof = parse_profile(HEAD + text, path)
    raw = raw.assign(_source_row=range(2, len(raw) + 2))
    cb = Codebook("t.csv", "csv")
    return apply_profile(prof, {"t": raw}, cb)["of_survey"], cb


def test_code_table_from_a_csv_file_beside_the_profile(tmp_path):
    (tmp_path / "places.csv").write_text("# a comment line\ncode,iso,label\n1,PHL,Philippines\n2,SAU,Saudi\n97,,don't know\n")
    text = '''
[code_tables.place]
file = "places.csv"
code = "code"
value = "iso"
[tables.of_survey]
from = "t"
[tables.of_survey.columns]
response_id = "id"
country = { from = "c", codes_file = "place", dtype = "string" }
inline = { from = "c", codes_file = { file = "places.csv", code = "code", value = "iso" }, codes = { 2 = "ARE" }, dtype = "string" }
'''
    raw = pd.DataFrame({"id": ["a", "b", "c", "d", "e"], "c": [1, 2, 97, 5, None]})
    out, cb = _apply(text, raw, str(tmp_path / "p.toml"))
    assert out["country"].tolist()[:2] == ["PHL", "SAU"]
    assert out["country"].iloc[2:].isna().all()          # 97 blank in the file = missing; 5 unknown; blank
    assert out["inline"].tolist()[:2] == ["PHL", "ARE"]   # the profile's own codes win over the file
    # the unknown code 5 (row 5 of the file) is reported, the missing-value code 97 is not
    got = [(p.code, p.source_row, p.column, p.value) for p in cb.report.problems]
    assert got == [("MD504", 5, "country", 5), ("MD504", 5, "inline", 5)]


def test_shipped_code_table_maps_cbms_countries():
    """The OF-survey profile's country column uses cbms_countries.csv: 9201 is Saudi Arabia,
    9997 don't know (missing), as that file's rows say."""
    prof = load_profile("kobo_of_survey")
    codes = prof.tables["of_survey"]["columns"]["country"]["codes"]
    assert codes["9201"] == "SAU" and "9997" not in codes
    assert "9997" in prof.tables["of_survey"]["columns"]["country"]["missing"]


def test_choice_set_when_sum_and_cases():
    text = '''
[tables.of_survey]
from = "t"
[tables.of_survey.columns]
response_id = "id"
owwa_member = { from = "sp", choice = "owwa", dtype = "bool" }
_sent = { from = "amount", dtype = "float", set_when = { from = "sent", codes = [2], value = 0.0 } }
cash_brought = { from = "brought", dtype = "float" }
remittance_total = { sum = ["_sent", "cash_brought"], dtype = "float" }
location_now = { cases = [
  { when = { w = "blank" } },
  { when = { w = [1] }, value = "abroad" },
  { when = { w = [2], v = [1, 3] }, value = "returned" },
  { value = "on_vacation" } ] }
'''
    raw = pd.DataFrame({
        "id": ["a", "b", "c", "d", "e"],
        "sp": ["owwa sss", "sss", None, "owwa_x", "philhealth owwa"],
        "amount": [100.0, 50.0, None, 7.0, None],
        "sent": [1, 2, 2, None, 1],
        "brought": [10.0, 5.0, 1.0, None, 3.0],
        "w": [1, 2, 2, None, "2"],
        "v": [None, 3, 2, 1, 1.0],
    })
    out, cb = _apply(text, raw)
    assert out["owwa_member"].tolist()[:2] == [True, False]
    assert pd.isna(out["owwa_member"].iloc[2]) and out["owwa_member"].tolist()[3:] == [False, True]
    # a: 100 + 10; b: sent nothing -> 0 + 5; c: sent nothing, amount blank -> 0 + 1;
    # d: brought unknown -> missing; e: sent, amount unknown -> missing
    total = out["remittance_total"].tolist()
    assert total[:3] == [110.0, 5.0, 1.0] and pd.isna(total[3]) and pd.isna(total[4])
    assert "_sent" not in out.columns                      # scratch columns are dropped
    loc = out["location_now"].astype(object).tolist()
    assert loc[0] == "abroad" and loc[1] == "returned" and loc[2] == "on_vacation"
    assert pd.isna(loc[3]) and loc[4] == "returned"        # "2" and 1.0 read as the codes 2 and 1
    assert cb.report.problems == []


def test_cases_target_outside_the_code_list_is_a_profile_error():
    text = '''
[tables.persons]
from = "t"
[tables.persons.columns]
hh_id = "id"
line_no = "ln"
lf_status = { cases = [ { when = { w = [1] }, value = "working" } ] }
'''
    prof = parse_profile(HEAD + text)
    raw = {"t": pd.DataFrame({"id": ["a"], "ln": [1], "w": [1], "_source_row": [2]})}
    with pytest.raises(DataError) as e:
        apply_profile(prof, raw, Codebook("t.csv", "csv"))
    assert e.value.code == "MD505"


@pytest.mark.parametrize("column, reason", [
    ('x = { from = "a", choice = ["owwa"] }', "needs from"),
    ('x = { from = "a", set_when = { from = "b", codes = 2, value = 0 } }', "set_when is a table"),
    ('x = { cases = [ { when = { a = 3 }, value = "y" } ] }', "is a list of codes"),
    ('x = { sum = ["nope"] }', "not columns of [tables.of_survey]"),
    ('x = { from = "a", codes_file = "nope" }', "names no [code_tables.nope]"),
    ('x = { from = "a", codes_file = { file = "absent.csv", code = "a", value = "b" } }', "neither beside"),
])
def test_bad_mechanism_specs_name_the_column(column, reason):
    text = f'''
[tables.of_survey]
from = "t"
[tables.of_survey.columns]
response_id = "id"
{column}
'''
    with pytest.raises(DataError) as e:
        parse_profile(HEAD + text, "p.toml")
    assert e.value.code == "MD501" and "column x" in e.value.message and reason in e.value.message


# -- area codes: the engine reads them with the areas rule, never by padding zeros --------------

FORMS = ["0403405000", "043405000", "3405", "403405000", "0401001001", "401001001", "5699",
         "0499999000", "9999", "12", "abc", "04034050001", "", None, 403405000, 3405.0, "0410"]


def test_area_column_equals_normalize_codes_and_reports_every_bad_row():
    """Seeded inputs of the defect class (area codes typed in every form, good and bad): the
    engine's psgc column equals :func:`migdata.areas.normalize_codes` value for value, and each
    row with a value it cannot read has its own located problem (so the reject policy can drop
    exactly those rows)."""
    rng = random.Random(13)
    for _ in range(20):
        values = [rng.choice(FORMS) for _ in range(rng.randint(1, 40))]
        text = '''
[tables.households]
from = "t"
[tables.households.columns]
hh_id = "id"
psgc = { from = "code", area = "psgc" }
'''
        prof = parse_profile(HEAD + text)
        raw = pd.DataFrame({"id": [f"h{i}" for i in range(len(values))], "code": pd.Series(values, dtype=object),
                            "_source_row": range(2, len(values) + 2)})
        cb = Codebook("t.csv", "csv")
        out = apply_profile(prof, {"t": raw}, cb)["households"]
        blank = raw["code"].map(lambda v: v is None or str(v).strip() == "")
        expected = normalize_codes(raw["code"].where(~blank, None), errors="report", report=ImportReport())
        assert out["psgc"].astype(object).where(out["psgc"].notna(), None).tolist() == \
            expected.astype(object).where(expected.notna(), None).tolist()
        bad_rows = sorted(int(r) for r, e, b in zip(raw["_source_row"], expected, blank) if pd.isna(e) and not b)
        errors = [p for p in cb.report.problems if p.action == "set_missing"]
        assert sorted(p.source_row for p in errors) == bad_rows
        assert all(p.code in ("MD201", "MD202", "MD204", "MD205") and p.column == "psgc" for p in errors)


def test_area_problem_message_is_the_areas_rule_located():
    text = '''
[tables.households]
from = "t"
[tables.households.columns]
hh_id = "id"
psgc = { from = "code", area = "psgc10" }
'''
    prof = parse_profile(HEAD + text)
    raw = pd.DataFrame({"id": ["a", "b"], "code": ["0403405000", "abc"], "_source_row": [2, 3]})
    cb = Codebook("t.csv", "csv")
    apply_profile(prof, {"t": raw}, cb)
    (p,) = cb.report.problems
    assert p.message == render("MD204", value="abc", where=" (in t.csv, row 3, column code)")


def test_reject_policy_rejects_rows_with_unreadable_area_codes(tmp_path):
    from migdata.importer import import_files

    (tmp_path / "hh.csv").write_text("id,code\nh1,0403405000\nh2,3405\nh3,xyz\nh4,0499999000\n")
    (tmp_path / "pp.csv").write_text("id,ln,sex,age,rel\nh1,1,1,30,1\nh2,1,2,40,1\nh3,1,1,50,1\nh4,1,2,60,1\n")
    (tmp_path / "p.toml").write_text(HEAD + '''
[tables.households]
from = "hh"
[tables.households.columns]
hh_id = "id"
psgc = { from = "code", area = "psgc" }
weight = { value = 1.0 }
[tables.persons]
from = "pp"
[tables.persons.columns]
hh_id = "id"
line_no = "ln"
sex = { from = "sex", codes = { 1 = "male", 2 = "female" } }
age = "age"
relationship = { from = "rel", codes = { 1 = "head" } }
''')
    data = import_files([tmp_path / "hh.csv", tmp_path / "pp.csv"], tmp_path / "p.toml", policy="reject")
    assert data.households["hh_id"].tolist() == ["h1", "h2"]     # Calamba twice; h3, h4 unreadable
    assert data.households["psgc"].tolist() == ["0403405000", "0403405000"]
    c = data.report.counts["households"]
    assert c == {"read": 4, "kept": 2, "rejected": 2}


def test_area_fallback_keeps_a_retired_barangay_at_its_city():
    """042103001 is a 2022 barangay of Bacoor (correspondence code) that the current release no
    longer has; Bacoor itself is 0402103000. Cavite has no city/municipality 99 (042199001)."""
    text = '''
[tables.households]
from = "t"
[tables.households.columns]
hh_id = "id"
psgc = { from = "code", area = "psgc9", area_fallback = "city_mun" }
'''
    prof = parse_profile(HEAD + text)
    raw = pd.DataFrame({"id": ["a", "b", "c", "d"], "code": ["043405000", "042103001", "042199001", "042103001"],
                        "_source_row": [2, 3, 4, 5]})
    cb = Codebook("t.csv", "csv")
    out = apply_profile(prof, {"t": raw}, cb)["households"]
    assert out["psgc"].tolist()[:2] == ["0403405000", "0402103000"] and pd.isna(out["psgc"].iloc[2])
    assert out["psgc"].iloc[3] == "0402103000"
    assert [(p.code, p.source_row, p.action) for p in cb.report.problems] == [
        ("MD560", 3, "kept"), ("MD560", 5, "kept"), ("MD201", 4, "set_missing")]
    assert cb.report.problems[0].message == render(
        "MD560", row=3, file="t.csv", table="households", column="psgc", value="042103001",
        city="City of Bacoor", psgc="0402103000")


def test_any_of_and_yes_items():
    text = '''
[tables.households]
from = "t"
[tables.households.columns]
hh_id = "id"
has_account = { any_of = ["bank", "wallet"], yes = [1] }
programmes = { yes_items = { p1 = "4ps", p2 = "uct", p3 = "feeding" }, yes = [1] }
'''
    prof = parse_profile(HEAD + text)
    raw = pd.DataFrame({"id": ["a", "b", "c", "d"],
                        "bank": [1, 2, None, 2], "wallet": [2, 1.0, None, None],
                        "p1": [1, 2, None, 2], "p2": [None, 2, None, 1], "p3": [1, 2, None, "1"],
                        "_source_row": [2, 3, 4, 5]})
    cb = Codebook("t.csv", "csv")
    out = apply_profile(prof, {"t": raw}, cb)["households"]
    # a: bank yes; b: wallet yes (1.0); c: nothing answered; d: bank no, wallet blank
    acc = out["has_account"].tolist()  # typed boolean on mapping: missing is <NA>
    assert acc[:2] == [True, True] and pd.isna(acc[2]) and not pd.isna(acc[3]) and not acc[3]
    # a: p1, p3; b: all no -> ""; c: none answered -> missing; d: p2 and p3 ("1" as text)
    prog = out["programmes"].tolist()
    assert prog[:2] == ["4ps feeding", ""] and pd.isna(prog[2]) and prog[3] == "uct feeding"
    assert cb.report.problems == []


def test_area_attribute_copies_the_reference_for_the_tables_psgc():
    from migdata.areas import reference

    ref = reference().set_index("psgc")
    rural = ref.index[(ref["urban_rural"] == "rural").to_numpy()][0]
    urban = ref.index[(ref["urban_rural"] == "urban").to_numpy()][0]
    text = '''
[tables.households]
from = "t"
[tables.households.columns]
hh_id = "id"
psgc = { from = "code", area = "psgc" }
urban_rural = { area_attribute = "urban_rural" }
'''
    prof = parse_profile(HEAD + text)
    raw = pd.DataFrame({"id": ["a", "b", "c"], "code": [urban, rural, None], "_source_row": [2, 3, 4]})
    out = apply_profile(prof, {"t": raw}, Codebook("t.csv", "csv"))["households"]
    assert out["urban_rural"].tolist()[:2] == ["urban", "rural"] and pd.isna(out["urban_rural"].iloc[2])
    with pytest.raises(DataError, match="needs a psgc column"):
        parse_profile(HEAD + text.replace('psgc = { from = "code", area = "psgc" }\n', ""))
