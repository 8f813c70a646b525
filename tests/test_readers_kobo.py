"""Kobo XLSX / Kobo JSON / ODK Central CSV reader.

Expected counts are hand counts of the fixture files (noted beside each assertion): formpack
JSON submissions, the kobocruncher export (5 submissions, 12 members: realdata README), and the
small ODK Central export written for these tests in ``tests/fixtures/readers/odk_household``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from migdata.errors import DataError, render
from migdata.readers import kobo
from tests.conftest import realfile

FIX = Path(__file__).parent / "fixtures" / "readers"
ODK = FIX / "odk_household"


def _formpack(*parts: str) -> Path:
    return realfile("kobo", "formpack", *parts)


def _kc(name: str) -> Path:
    return realfile("kobo", "kobocruncher", name)


# --- Kobo JSON (formpack) ---------------------------------------------------------------------

def test_grouped_repeatable_members():
    tables, cb = kobo.read(_formpack("grouped_repeatable", "v1.json"), keep_identifiers=True)
    main, mem = tables["main"], tables["houshold_member_repeat"]
    # 6 submissions with 1, 2, 1, 2, 2 and 5 members
    assert len(main) == 6 and len(mem) == 13
    assert mem.groupby("_parent_index").size().tolist() == [1, 2, 1, 2, 2, 5]
    assert main["household_location"].tolist() == ["montreal", "marseille", "rocky mountains",
                                                   "toronto", "new york", "boston"]
    assert mem.loc[mem["_parent_index"] == 6, "household_member_name"].tolist() == [
        "amadou", "esteban", "suzie", "fiona", "phillip"]
    assert cb.variable("household_location").label == "household location"
    cb.report.check_balance()


def test_member_names_dropped_by_default():
    tables, cb = kobo.read(_formpack("grouped_repeatable", "v1.json"))
    assert "household_member_name" not in tables["houshold_member_repeat"].columns
    assert cb.tables["houshold_member_repeat"]["dropped_identifiers"] == [
        "household_visit/houshold_member_repeat/household_member_name"]


@pytest.mark.parametrize("version", ["v1.json", "v2.json"])
def test_nested_repeats_three_levels(version):
    tables, _ = kobo.read(_formpack("nested_grouped_repeatable", version))
    # 2 submissions; trees pine, spruce (submission 1) and maple (2; v2 answers the choice
    # named "nan", "Not a tree", which must stay text); nests with 3,1 / 2 / 1 eggs
    assert len(tables["main"]) == 2
    tree, nest, egg = tables["group_tree"], tables["group_nest"], tables["group_egg"]
    third = "maple" if version == "v1.json" else "nan"
    assert tree["What_kind_of_tree_is_this"].tolist() == ["pine", "spruce", third]
    assert tree["_parent_index"].tolist() == [1, 1, 2]
    assert nest["_parent_index"].tolist() == [1, 1, 2, 3]
    assert egg.groupby("_parent_index").size().tolist() == [3, 1, 2, 1]
    assert egg["Describe_the_egg"].iloc[0] == "brown and speckled; medium"
    assert (nest["_parent_table_name"] == "group_tree").all()


def test_simple_nested_translations():
    path = _formpack("simple_nested_grouped_repeatable", "v2.json")
    tables, cb = kobo.read(path, keep_identifiers=True)
    # 1 submission, 1 city, respondents Caesar (55) and Augustus (75), items Sword and Thrown
    assert [len(tables[t]) for t in ("main", "cities", "respondents", "items")] == [1, 1, 2, 2]
    assert tables["respondents"]["respondent_name"].tolist() == ["Caesar", "Augustus"]
    assert tables["respondents"]["respondent_age"].tolist() == ["55", "75"]
    assert cb.variable("respondent_age").label == "What is the respondent's age?"
    _, cb_eo = kobo.read(path, language="Esperanto (eo)")
    assert cb_eo.variable("respondent_age").label == "Kio estas la aĝo de la respondanto?"


def test_select_multiple_from_json_with_or_other():
    tables, cb = kobo.read(_formpack("or_other", "v1.json"))
    m = tables["main"]
    # submissions: "caligula other", "julius tiberius", "julius augustus"
    assert m["fav_emperors__julius"].tolist() == [0, 1, 1]
    assert m["fav_emperors__caligula"].tolist() == [1, 0, 0]
    assert m["fav_emperors__other"].tolist() == [1, 0, 0]
    assert m["fav_emperors_other"].tolist() == ["Commodus", "", ""]
    assert str(m["fav_emperors__augustus"].dtype) == "Int8"
    assert cb.variable("fav_emperors__tiberius").label == "Who are your favourite emperors?: Tiberius"
    assert cb.variable("fav_emperor").value_labels["augustus"] == "Augustus"


def test_geo_types_dropped_unless_kept():
    path = _formpack("all_geo_types", "v2.json")
    tables, cb = kobo.read(path)
    cols = set(tables["main"].columns)
    assert not cols & {"Point", "Trace", "Shape", "Outer_Point", "_geolocation"}
    assert "Just_a_regular_text_question" in cols
    kept, _ = kobo.read(path, keep_identifiers=True)
    assert {"Point", "Trace", "Shape", "Outer_Point", "_geolocation"} <= set(kept["main"].columns)


def test_not_a_submission_list():
    path = _formpack("favcolor", "xml_instances.json")  # a list of XML strings, not submissions
    with pytest.raises(DataError) as ei:
        kobo.read_kobo_json(path)
    assert ei.value.code == "MD462" and str(path) in str(ei.value)


def test_bad_and_empty_json(tmp_path):
    p = tmp_path / "x.json"
    p.write_text("{not json")
    with pytest.raises(DataError) as ei:
        kobo.read_kobo_json(p)
    assert ei.value.code == "MD462"
    p.write_text("")
    with pytest.raises(DataError) as ei:
        kobo.read_kobo_json(p)
    assert str(ei.value) == render("MD002", path=str(p))


# --- Kobo XLSX (kobocruncher) --------------------------------------------------------------------

def test_kobocruncher_xlsx_with_form():
    tables, cb = kobo.read(_kc("data.xlsx"), form=_kc("sample_xlsform.xlsx"))
    main, mem = tables["main"], tables["members"]
    assert len(main) == 5 and len(mem) == 12  # realdata README: 5 submissions, 12 members
    # members per submission (hand count of the members sheet: 1, 5, 3, 1, 2), which is
    # also the household size each respondent gave in the main sheet (HHSize)
    assert mem["_parent_index"].value_counts().sort_index().tolist() == [1, 5, 3, 1, 2]
    assert main["HHSize"].astype(int).tolist() == [1, 5, 3, 1, 2]
    assert mem["_submission__uuid"].iloc[0] == main["_uuid"].iloc[0]
    # first member row of the sheet: age 56, male
    assert (mem["age"].iloc[0], mem["sex"].iloc[0]) == ("56", "male")
    # select_multiple: the export's profile.reason.<choice> columns, renamed, agree with the
    # space-separated answer column of the same export
    for choice in ["accomodation", "employment", "education", "community", "safety", "movement",
                   "reunification", "no_answer", "other"]:
        want = main["reason"].str.split().map(lambda xs: int(choice in xs)).tolist()
        assert main[f"reason__{choice}"].tolist() == want, choice
    assert cb.variable("sex").value_labels == {"male": "Male", "female": "Female"}
    assert cb.variable("country").label == "What is your country of Origin?"
    assert cb.variable("reason__safety").label.endswith("I did not feel safe and/or I faced security threats")
    assert cb.report.counts == {"main": {"read": 5, "kept": 5, "rejected": 0},
                                "members": {"read": 12, "kept": 12, "rejected": 0}}


def test_kobocruncher_xlsx_without_form_keeps_sheets():
    tables, _ = kobo.read_kobo_xlsx(_kc("data.xlsx"))
    assert set(tables) == {"main", "members"} and len(tables["members"]) == 12


def _edit_copy(tmp_path: Path, fn) -> Path:
    dst = tmp_path / "data.xlsx"
    shutil.copy(_kc("data.xlsx"), dst)
    wb = openpyxl.load_workbook(dst)
    fn(wb)
    wb.save(dst)
    return dst


def test_orphan_member_row_is_a_reported_rejection(tmp_path):
    def orphan(wb):
        ws = wb["members"]
        col = [c.value for c in ws[1]].index("_parent_index") + 1
        ws.cell(row=4, column=col, value=99)  # sheet row 4 now points at no submission

    path = _edit_copy(tmp_path, orphan)
    tables, cb = kobo.read(path, form=_kc("sample_xlsform.xlsx"))
    assert len(tables["members"]) == 11
    assert cb.report.counts["members"] == {"read": 12, "kept": 11, "rejected": 1}
    (p,) = cb.report.problems
    assert (p.code, p.table, p.source_row, p.column, p.value) == ("MD461", "members", 4, "_parent_index", "99")
    assert "Sample Dataset KoboloadeR" in p.message and str(path) in p.message


def test_missing_repeat_sheet_is_an_error(tmp_path):
    path = _edit_copy(tmp_path, lambda wb: wb.remove(wb["members"]))
    with pytest.raises(DataError) as ei:
        kobo.read(path, form=_kc("sample_xlsform.xlsx"))
    assert str(ei.value) == render("MD460", file=str(path), value="members", column="members")
    assert "Include groups in headers" in str(ei.value)


def _write_form(path: Path, survey: list[tuple], choices: list[tuple]) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "survey"
    ws.append(["type", "name", "label::English (en)", "label::Filipino (fil)"])
    for r in survey:
        ws.append(list(r))
    wc = wb.create_sheet("choices")
    wc.append(["list_name", "name", "label::English (en)", "label::Filipino (fil)"])
    for r in choices:
        wc.append(list(r))
    wb.save(path)
    return path


def test_long_repeat_name_truncated_sheet(tmp_path):
    rep = "household_members_roster_repeat_group"  # 37 characters; Kobo names the sheet rep[:31]
    form = _write_form(tmp_path / "f.xlsx", [
        ("text", "barangay", "Barangay", "Barangay"),
        ("begin_repeat", rep, "Members", "Miyembro"),
        ("integer", "age", "Age", "Edad"),
        ("end_repeat", None, None, None)], [])
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "LGU survey"
    ws.append(["barangay", "_uuid", "_index"])
    ws.append(["Poblacion", "u1", 1])
    ws.append(["San Jose", "u2", 2])
    ws2 = wb.create_sheet(rep[:31])
    ws2.append(["age", "_index", "_parent_table_name", "_parent_index", "_submission__uuid"])
    for i, (age, parent) in enumerate([(40, 1), (12, 1), (70, 2)], start=1):
        ws2.append([age, i, "LGU survey", parent, f"u{parent}"])
    data = tmp_path / "d.xlsx"
    wb.save(data)
    tables, cb = kobo.read(data, form=form, language="Filipino (fil)")
    assert set(tables) == {"main", rep}
    assert tables[rep]["age"].tolist() == ["40", "12", "70"]
    assert cb.variable("age").label == "Edad"


# --- ODK Central CSV -------------------------------------------------------------------------------

def _odk_form(tmp_path: Path) -> Path:
    return _write_form(tmp_path / "household.xlsx", [
        ("begin_group", "hh", "Household", "Sambahayan"),
        ("text", "barangay", "Barangay", "Barangay"),
        ("text", "respondent_name", "Respondent name", "Pangalan"),
        ("text", "phone", "Phone", "Telepono"),
        ("geopoint", "location", "Location", "Lokasyon"),
        ("end_group", None, None, None),
        ("select_multiple uses", "remit_uses", "Uses of remittances", "Gamit"),
        ("begin_repeat", "members", "Members", "Miyembro"),
        ("text", "member_name", "Name", "Pangalan"),
        ("integer", "age", "Age", "Edad"),
        ("select_one sex", "sex", "Sex", "Kasarian"),
        ("end_repeat", None, None, None),
    ], [("uses", "food", "Food", "Pagkain"), ("uses", "school", "Schooling", "Pag-aaral"),
        ("uses", "house", "Housing", "Bahay"), ("uses", "business", "Business", "Negosyo"),
        ("sex", "1", "Male", "Lalaki"), ("sex", "2", "Female", "Babae")])


@pytest.mark.parametrize("as_zip", [False, True])
def test_odk_central_folder_and_zip(tmp_path, as_zip):
    form = _odk_form(tmp_path)
    src = ODK
    if as_zip:
        src = Path(shutil.make_archive(str(tmp_path / "household"), "zip", ODK))
    tables, cb = kobo.read(src, form=form)
    main, mem = tables["main"], tables["members"]
    # household.csv: 3 submissions; household-members.csv: 6 rows, of which line 5 points at
    # uuid:zzz9 (no such submission) and line 7 has an empty PARENT_KEY
    assert main["barangay"].tolist() == ["Poblacion", "San Isidro", "Poblacion"]
    assert mem["age"].tolist() == ["44", "47", "61", "29"]
    assert mem["_parent_index"].tolist() == [1, 1, 2, 3]
    assert cb.report.counts["members"] == {"read": 6, "kept": 4, "rejected": 2}
    probs = {(p.code, p.source_row) for p in cb.report.problems}
    assert probs == {("MD461", 5), ("MD464", 7)}
    # identifiers: names, phone and the split geopoint are gone
    for gone in ("respondent_name", "phone", "member_name", "hh-location-Latitude", "location"):
        assert gone not in main.columns and gone not in mem.columns
    # select_multiple from the space-separated answer: "food school", "", "house"
    assert main["remit_uses__food"].tolist() == [1, pd.NA, 0]
    assert main["remit_uses__house"].tolist() == [0, pd.NA, 1]
    assert cb.variable("sex").value_labels == {"1": "Male", "2": "Female"}


def test_odk_missing_repeat_file(tmp_path):
    folder = tmp_path / "exp"
    folder.mkdir()
    shutil.copy(ODK / "household.csv", folder / "household.csv")
    with pytest.raises(DataError) as ei:
        kobo.read(folder, form=_odk_form(tmp_path))
    assert ei.value.code == "MD460" and "household-members.csv" in str(ei.value)


def test_odk_without_form_keeps_identifiers_only_when_asked():
    tables, _ = kobo.read(ODK)
    assert "hh-respondent_name" not in tables["main"].columns
    assert "hh-location-Latitude" not in tables["main"].columns
    tables, _ = kobo.read(ODK, keep_identifiers=True)
    assert "hh-respondent_name" in tables["main"].columns


def test_bad_xlsform(tmp_path):
    p = tmp_path / "f.xlsx"
    wb = openpyxl.Workbook()
    wb.active.title = "questions"
    wb.save(p)
    with pytest.raises(DataError) as ei:
        kobo.read_xlsform(p)
    assert ei.value.code == "MD463" and "questions" in str(ei.value)


def test_export_without_main_table(tmp_path):
    folder = tmp_path / "exp"
    folder.mkdir()
    shutil.copy(ODK / "household-members.csv", folder / "household-members.csv")
    with pytest.raises(DataError) as ei:
        kobo.read(folder)
    assert ei.value.code == "MD465"
    # a Kobo workbook whose first sheet is a repeat sheet
    path = _edit_copy(tmp_path, lambda wb: wb.move_sheet("members", offset=-1))
    with pytest.raises(DataError) as ei:
        kobo.read_kobo_xlsx(path)
    assert ei.value.code == "MD465" and "'members'" in str(ei.value)


def test_geopoint_split_columns_dropped_without_form(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "LGU survey"
    ws.append(["barangay", "location", "_location_latitude", "_location_longitude",
               "_location_altitude", "_location_precision", "_uuid", "_index"])
    ws.append(["Poblacion", "14.27 121.41 10 5", 14.27, 121.41, 10, 5, "u1", 1])
    p = tmp_path / "d.xlsx"
    wb.save(p)
    tables, cb = kobo.read_kobo_xlsx(p)
    assert [c for c in tables["main"].columns if "location" in c] == []
    assert sorted(cb.tables["main"]["dropped_identifiers"]) == [
        "_location_altitude", "_location_latitude", "_location_longitude", "_location_precision", "location"]
    assert tables["main"]["barangay"].tolist() == ["Poblacion"]


def test_geo_guess_spares_numeric_multiple_choice():
    assert kobo._looks_geo(pd.Series(["14.2691 121.4113 12 5", "", "14.27 121.41"]))
    assert kobo._looks_geo(pd.Series(["14.1 121.1 0 0;14.2 121.2 0 0"]))
    assert not kobo._looks_geo(pd.Series(["1 3", "2"]))
    assert not kobo._looks_geo(pd.Series(["", ""]))
