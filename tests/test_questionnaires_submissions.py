"""Kobo XLSX export writer (checked cell by cell against a real Kobo export), fake submissions
(their rules re-checked here in plain Python, not with the generator's own evaluator), the XPath
subset on hand-worked cases, and the rider export imported end to end into the tidy model."""

from __future__ import annotations

import datetime as dt

import openpyxl
import pytest

from migdata.errors import DataError, render
from migdata.questionnaires.form import load_form
from migdata.questionnaires.submissions import (fake_submissions, submissions_from_kobo_xlsx,
                                                write_kobo_xlsx)
from migdata.questionnaires.xpath import evaluate
from tests.conftest import realfile


# -- the real Kobo export ----------------------------------------------------------------------

def _sheets(path):
    wb = openpyxl.load_workbook(path)
    return {ws.title: [list(r) for r in ws.iter_rows(values_only=True)] for ws in wb}


def test_writer_reproduces_a_real_kobo_export():
    """Rebuild the submissions of kobocruncher's data.xlsx (5 submissions, 12 members) from its own
    cells, write them with the form, and compare every header and cell with the real file."""
    real = realfile("kobo", "kobocruncher", "data.xlsx")
    form = realfile("kobo", "kobocruncher", "sample_xlsform.xlsx")
    sheets = _sheets(real)
    main_name, rep_name = list(sheets)
    head, *rows = sheets[main_name]
    mhead, *mrows = sheets[rep_name]
    subs = []
    for r in rows:
        rec = dict(zip(head, r))
        s = {"start": rec["start"], "end": rec["end"], "location": rec["location"],
             "profile/country": rec["profile.country"], "profile/occupation": rec["profile.occupation"],
             "profile/reason": rec["profile.reason"], "profile/HHSize": rec["profile.HHSize"],
             "_id": rec["_id"], "_uuid": rec["_uuid"], "_submission_time": rec["_submission_time"],
             "members": []}
        for m in mrows:
            mrec = dict(zip(mhead, m))
            if mrec["_parent_index"] == rec["_index"]:
                s["members"].append({"members/age": mrec["members.age"], "members/sex": mrec["members.sex"]})
        subs.append(s)
    assert len(subs) == 5 and sum(len(s["members"]) for s in subs) == 12  # realdata README
    import tempfile, os
    out = write_kobo_xlsx(form, subs, os.path.join(tempfile.mkdtemp(), "x.xlsx"), group_sep=".", check=False)
    mine = _sheets(out)
    assert list(mine) == [main_name, rep_name]
    # The deployed form had no 'today' and 'date' columns (its XLSForm has them): drop those two.
    mhead_mine, *mrows_mine = mine[main_name]
    keep = [i for i, h in enumerate(mhead_mine) if h not in ("today", "date")]
    assert [mhead_mine[i] for i in keep] == head
    assert [[r[i] for i in keep] for r in mrows_mine] == rows
    assert mine[rep_name] == sheets[rep_name]


# -- fake submissions, re-checked in plain Python ------------------------------------------------

@pytest.fixture(scope="module")
def of_subs():
    return fake_submissions("overseas_filipino_survey", 150, seed=11)


@pytest.fixture(scope="module")
def rider_subs():
    return fake_submissions("cbms_migration_rider", 60, seed=5)


@pytest.fixture(scope="module")
def clb_subs():
    return fake_submissions("children_left_behind_survey", 150, seed=3)


def test_fake_submissions_are_reproducible():
    a = fake_submissions("children_left_behind_survey", 5, seed=42)
    b = fake_submissions("children_left_behind_survey", 5, seed=42)
    assert a == b and a != fake_submissions("children_left_behind_survey", 5, seed=43)


def test_of_allocation_sums_to_100_and_fees_within_amount(of_subs):
    alloc = ["food", "education", "health", "housing", "debt", "savings", "business", "other"]
    n_sent = 0
    for s in of_subs:
        if s.get("rem/sent_money") == "1":
            n_sent += 1
            assert sum(int(s[f"rem/alloc/alloc_{a}"]) for a in alloc) == 100
            assert 0 <= float(s["rem/last_fee"]) <= float(s["rem/last_amount"])
        else:
            assert not any(k.startswith("rem/alloc/") for k in s)
    assert n_sent > 50


def test_of_skip_rules_and_exclusive_none(of_subs):
    for s in of_subs:
        if s["consent"] != "1":
            assert set(k for k in s if not k.startswith("_")) <= {"start", "end", "today", "consent"}
            continue
        worker = s["hist/of_type"] in ("1", "2", "3")
        assert ("work/occupation_group" in s) == worker
        assert ("recruit/first_month_earnings" in s) == worker
        sp = s["sp/social_protection"].split()
        assert not ("none" in sp and len(sp) > 1)
        assert int(s["hist/last_dep_year"]) >= int(s["hist/first_dep_year"])
        assert 15 <= int(s["demo/age"]) <= 99
        if worker:  # recruitment cost total = sum of its parts
            parts = ["placement", "documents", "medical", "training", "travel", "other"]
            assert float(s["recruit/recruit_cost"]) == pytest.approx(
                sum(float(s[f"recruit/cost_{p}"]) for p in parts))


def test_rider_roster_follows_cbms_universes(rider_subs):
    n_members = 0
    for s in rider_subs:
        if s["consent"] != "1":
            assert "members" not in s
            continue
        members = s["members"]
        assert len(members) == int(s["hh_size"])
        for i, m in enumerate(members, start=1):
            n_members += 1
            assert m["members/line_no"] == str(i)
            assert (m["members/A02_RELTOHHH"] == "1") == (i == 1)
            age = int(m["members/A07_AGE"])
            assert ("members/B01_MIG" in m) == (age >= 5)
            assert ("members/B06_OFI" in m) == (age >= 15)
            ofi = m.get("members/B06_OFI")
            assert ("members/B07_LEAVE_YR" in m) == (ofi in ("1", "2"))
            assert ("members/B09_COUNTRY" in m) == (ofi in ("1", "2", "3", "4", "5", "6"))
            assert ("members/B10_PTSENDMNY" in m) == (ofi in ("1", "2", "3", "4", "6"))
            assert ("members/ret_abroad" in m) == (ofi == "7")
            assert ("members/E01_WORK" in m) == (m.get("members/ret_abroad") == "1")
            assert ("members/E25_PWLOOKEST" in m) == (m.get("members/E01_WORK") == "2"
                                                       and m.get("members/E03_JOBBUS") in ("2", "3"))
            if m.get("members/B02_FYRSRESIDE") == "2":
                assert len(m["members/B01_PHILIPPINES2"]) == 4 and m["members/B01_PHILIPPINES2"].isdigit()
        if s["remit/rem_received"] == "1":
            assert float(s["remit/rem_amount"]) > 0 and s["remit/rem_uses"]
        else:
            assert "remit/rem_amount" not in s
    assert n_members > 100


def test_clb_consent_assent_and_age(clb_subs):
    for s in clb_subs:
        go = s["consent"] == "1" and s.get("assent") in ("1", "3")
        assert ("child/child_age" in s) == go
        if not go:
            continue
        age = int(s["child/child_age"])
        assert (s["assent"] == "3") == (age < 7)
        assert ("wb/wb_score" in s) == (age >= 7)
        if age >= 7:  # score by hand: positive items as answered, negative items reversed
            pos = sum(int(s[f"wb/wb_{k}"]) for k in ("happy", "talk", "school"))
            neg = sum(5 - int(s[f"wb/wb_{k}"]) for k in ("lonely", "worry", "fights"))
            assert s["wb/wb_score"] == str(pos + neg)
        flags = s["referral/risk_flags"].split()
        assert s["referral/referral_needed"] == ("0" if flags == ["none"] else "1")
        pa = s["parents/parent_abroad"]
        assert ("parents/father_country" in s) == (pa in ("1", "3"))
        assert ("parents/mother_country" in s) == (pa in ("2", "3"))


# -- writer layout and errors ------------------------------------------------------------------

def test_writer_layout_for_the_rider(rider_subs, tmp_path):
    p = write_kobo_xlsx("cbms_migration_rider", rider_subs, tmp_path / "rider.xlsx")
    sheets = _sheets(p)
    assert list(sheets) == ["CBMS migration rider", "members"]
    head = sheets["CBMS migration rider"][0]
    assert head[:6] == ["start", "end", "today", "hh/psgc", "hh/hh_no", "hh/cbms_case_id"]
    assert head[-9:] == ["_id", "_uuid", "_submission_time", "_validation_status", "_notes", "_status",
                         "_submitted_by", "_tags", "_index"]
    i = head.index("remit/rem_uses")
    assert head[i + 1:i + 11] == [f"remit/rem_uses/{c}" for c in
                                   load_form("cbms_migration_rider").choice_names("remit_use")]
    mhead = sheets["members"][0]
    assert mhead[0] == "members/line_no" and mhead[-11:-8] == ["_index", "_parent_table_name", "_parent_index"]
    n_members = sum(len(s.get("members", [])) for s in rider_subs)
    assert len(sheets["members"]) - 1 == n_members
    # every member row points at an existing submission with the same uuid
    main = {r[-1]: r[head.index("_uuid")] for r in sheets["CBMS migration rider"][1:]}
    for r in sheets["members"][1:]:
        rec = dict(zip(mhead, r))
        assert rec["_parent_table_name"] == "CBMS migration rider"
        assert main[rec["_parent_index"]] == rec["_submission__uuid"]
    # round trip
    back = submissions_from_kobo_xlsx("cbms_migration_rider", p)
    assert [len(s.get("members", [])) for s in back] == [len(s.get("members", [])) for s in rider_subs]
    assert back[0]["hh/psgc"] == rider_subs[0]["hh/psgc"]


def test_writer_accepts_bare_names_and_keeps_text_literal(tmp_path):
    s = [{"consent": "1", "psgc": "0405623008", "hh_no": 12, "enumerator": "=HYPERLINK(\"x\")", "hh_size": 1,
          "members": [{"line_no": "1", "A02_RELTOHHH": "1", "A05_SEX": "2", "A07_AGE": 40}],
          "rem_received": "2"}]
    p = write_kobo_xlsx("cbms_migration_rider", s, tmp_path / "r.xlsx")
    wb = openpyxl.load_workbook(p)
    ws = wb["CBMS migration rider"]
    head = [c.value for c in ws[1]]
    cell = ws.cell(row=2, column=head.index("hh/enumerator") + 1)
    assert cell.data_type == "s" and cell.value == "=HYPERLINK(\"x\")"
    assert ws.cell(row=2, column=head.index("hh/hh_no") + 1).value == 12


@pytest.mark.parametrize("sub,code,fields", [
    ({"consent": "yes"}, "MD605", dict(submission=1, column="consent", value="yes", list_name="yes_no")),
    ({"consent": "1", "hh_colour": "red"}, "MD604",
     dict(submission=1, column="hh_colour", form="cbms_migration_rider")),
    ({"consent": "1", "members": {"A05_SEX": "1"}}, "MD606",
     dict(submission=1, column="members", value={"A05_SEX": "1"})),
    ({"consent": "1", "hh_size": "four"}, "MD609",
     dict(submission=1, column="hh_size", value="four", type="integer")),
])
def test_writer_errors_are_located(sub, code, fields, tmp_path):
    with pytest.raises(DataError) as e:
        write_kobo_xlsx("cbms_migration_rider", [sub], tmp_path / "bad.xlsx")
    assert e.value.code == code
    assert str(e.value) == render(code, **fields)


def test_dirty_values_can_be_planted_with_check_false(tmp_path):
    p = write_kobo_xlsx("cbms_migration_rider", [{"consent": "7", "hh_size": "four"}], tmp_path / "d.xlsx",
                        check=False)
    ws = openpyxl.load_workbook(p)["CBMS migration rider"]
    head = [c.value for c in ws[1]]
    assert ws.cell(row=2, column=head.index("consent") + 1).value == "7"


# -- XPath subset on hand-worked cases ---------------------------------------------------------

@pytest.mark.parametrize("expr,values,current,position,expected", [
    ("${a} = '1'", {"a": "1"}, None, None, True),
    ("${a} = 1", {"a": "01"}, None, None, True),           # number comparison: "01" -> 1
    ("${a} = '1'", {"a": "01"}, None, None, False),        # string comparison
    ("${a} >= 5", {}, None, None, False),                  # empty -> NaN -> false
    ("${a} != ''", {}, None, None, False),
    (". >= 1 and . <= 60 or . = 98", {}, "98", None, True),
    ("(. >= 1 and . <= 60) or . = 98", {}, "61", None, False),
    ("selected(., 'b')", {}, "a b c", None, True),
    ("count-selected(.) = 3", {}, "a b c", None, True),
    ("regex(., '^[0-9]{4}$')", {}, "12a4", None, False),
    ("position(..) = 2", {}, None, 2, True),
    ("if(${x} > 1, 'big', 'small')", {"x": "3"}, None, None, "big"),
    ("10 - 2 - 3", {}, None, None, 5.0),
    ("7 mod 4 + 2 * 3", {}, None, None, 9.0),
    ("int(format-date(today(), '%Y')) - 5", {}, None, None, 2021.0),
    ("not(${a} = '1' or ${b} = '2')", {"a": "0", "b": "2"}, None, None, False),
])
def test_xpath_subset(expr, values, current, position, expected):
    assert evaluate(expr, values, current=current, position=position, today=dt.date(2026, 3, 1)) == expected


def test_xpath_unsupported_is_reported():
    with pytest.raises(DataError) as e:
        evaluate("pulldata('x', 'y', 'z', 'w')", {}, column="q")
    assert e.value.code == "MD608" and "pulldata" in str(e.value)


# -- rider export -> tidy model ----------------------------------------------------------------

def test_rider_export_imports_into_households_and_persons(rider_subs, tmp_path):
    from migdata.importer import import_files

    p = write_kobo_xlsx("cbms_migration_rider", rider_subs, tmp_path / "rider.xlsx")
    data = import_files([p], profile="kobo_cbms_rider")
    consented = [s for s in rider_subs if s["consent"] == "1"]
    members = [m for s in consented for m in s["members"]]
    # households without consent have no members: reported and rejected (MD111), never silent,
    # and keep their PSGC-household id (identification comes before consent)
    assert data.report.counts["households"] == {"read": len(rider_subs), "kept": len(consented),
                                                "rejected": len(rider_subs) - len(consented)}
    assert data.report.counts["persons"]["kept"] == len(members)
    refused = [s for s in rider_subs if s["consent"] != "1"]
    rejected_ids = {q.record for q in data.report.problems if q.code == "MD111"}
    assert rejected_ids == {f"hh_id {s['hh/psgc']}-{int(s['hh/hh_no']):05d}" for s in refused}
    assert any("did not consent" in n for n in data.report.notes) == bool(refused)
    hh = data.households.set_index("hh_id")
    s0 = consented[0]
    hid = f"{s0['hh/psgc']}-{int(s0['hh/hh_no']):05d}"
    assert hh.loc[hid, "psgc"] == s0["hh/psgc"]
    expected_cash = float(s0["remit/rem_amount"]) if s0["remit/rem_received"] == "1" else 0.0
    assert hh.loc[hid, "cash_abroad"] == expected_cash
    pp = data.persons
    ofw = [m for m in members if m.get("members/B06_OFI") == "1"]
    assert (pp["of_status"] == "ofw_contract").sum() == len(ofw)
    assert (pp["sex"] == "female").sum() == sum(m["members/A05_SEX"] == "2" for m in members)
    # CBMS country codes -> ISO3 (hand-looked-up pairs from the CBMS list)
    hand = {"9201": "SAU", "9240": "ARE", "9104": "HKG", "9207": "SGP", "9243": "USA", "9116": "JPN"}
    got = pp.dropna(subset=["of_country_src"])
    for src, iso in zip(got["of_country_src"], got["of_country"]):
        if src in hand:
            assert iso == hand[src]


# -- OF and CLB survey exports -> their own tables -----------------------------------------------

@pytest.mark.parametrize("form,profile,table,with_form", [
    ("overseas_filipino_survey", "kobo_of_survey", "of_survey", True),
    ("overseas_filipino_survey", "kobo_of_survey", "of_survey", False),
    ("children_left_behind_survey", "kobo_clb_survey", "clb_survey", False),
])
def test_survey_exports_import_into_their_own_tables(form, profile, table, with_form, tmp_path):
    """With or without the XLSForm given to the Kobo reader, the same table comes out."""
    from migdata.importer import import_files
    from tests.conftest import ROOT

    subs = fake_submissions(form, 40, seed=21)
    p = write_kobo_xlsx(form, subs, tmp_path / f"{form}.xlsx")
    opts = {"form": str(ROOT / "questionnaires" / f"{form}.xlsx")} if with_form else {}
    data = import_files([p], profile=profile, **opts)
    t = data.tables[table]
    assert data.report.counts[table] == {"read": 40, "kept": 40, "rejected": 0}
    assert len(data.households) == 0 and len(data.persons) == 0
    # the generated submissions leave the sample group blank (not drawn from a sample list): each
    # is kept and reported once, MD367, at its sheet row (header row 1)
    assert not any(s.get("link/sample_stratum") or s.get("sample/sample_stratum") for s in subs)
    assert [(p.code, p.source_row, p.action) for p in data.report.problems] == \
        [("MD367", i + 2, "kept") for i in range(len(subs))]
    assert t["response_id"].tolist() == [s["_uuid"] for s in subs]
    if table == "of_survey":
        sent = [s for s in subs if s.get("rem/sent_money") == "1"]
        assert int(t["sent_money"].sum()) == len(sent)
        owwa = sum("owwa" in s.get("sp/social_protection", "").split() for s in subs)
        assert int(t["owwa_member"].sum()) == owwa
        for s, tot, fee, amt in zip(subs, t["remittance_total"], t["remit_fees"], t["remit_amount"]):
            if s["consent"] == "1":
                exp = float(s.get("rem/remit_12m", 0)) + float(s["rem/cash_brought"])
                assert tot == pytest.approx(exp)
            if s.get("rem/sent_money") == "1":
                assert fee == pytest.approx(float(s["rem/last_fee"])) and amt == pytest.approx(float(s["rem/last_amount"]))
        linked = [s for s in subs if s.get("link/cbms_case_id")]
        assert t["hh_id"].notna().sum() == len(linked)
    else:
        mothers = sum(s.get("parents/parent_abroad") in ("2", "3") for s in subs)
        assert t["parent_abroad"].isin(["mother", "both"]).sum() == mothers
        assert t["mother_country"].notna().sum() == sum(
            s.get("parents/mother_country") not in (None, "9997", "9002") for s in subs)
    data.save(tmp_path / "store")


def _member(line, rel, sex, age, **more):
    m = {"line_no": str(line), "A02_RELTOHHH": rel, "A05_SEX": sex, "A07_AGE": age}
    m.update(more)
    return m


def test_rider_household_ids_and_duplicates_hand_fixture(tmp_path):
    """Three hand-written households: one with a CBMS case id, one without, and a second interview
    of the first barangay/household number (a duplicate household, reported and rejected)."""
    from migdata.importer import import_files

    base = {"consent": "1", "rem_received": "2", "has_account": "2"}
    subs = [
        {**base, "psgc": "0405623008", "hh_no": 12, "cbms_case_id": "045623008000123000100010001",
         "hh_size": 2, "members": [_member(1, "1", "1", 50, B01_MIG="1", B02_FYRSRESIDE="1",
                                           B04_SMOSRESIDE="1", B06_OFI="7", ret_abroad="1", ret_year=2024,
                                           ret_country="9201", ret_reason="1", ret_intend="1",
                                           E01_WORK="2", E03_JOBBUS="2", E25_PWLOOKEST="1",
                                           E32_WILLINGTOWORK="1", owwa="1"),
                                   _member(2, "2", "2", 45, B01_MIG="1", B02_FYRSRESIDE="1",
                                           B04_SMOSRESIDE="1", B06_OFI="1", B07_LEAVE_MONTH="3",
                                           B07_LEAVE_YR=2025, B08_STAY=20, B09_COUNTRY="9104",
                                           B10_PTSENDMNY=12, owwa="1")]},
        {**base, "psgc": "0401010014", "hh_no": 7, "hh_size": 1, "rem_received": "1", "rem_amount": 60000,
         "rem_freq": "1", "rem_channel": "6", "rem_uses": "food education", "has_account": "1",
         "K03_REMITTANCE": "1",
         "members": [_member(1, "1", "2", 70, B01_MIG="2", B01_PHILIPPINES1="2103", B02_FYRSRESIDE="1",
                             B04_SMOSRESIDE="1", B06_OFI="7", ret_abroad="2")]},
        {**base, "psgc": "0401010014", "hh_no": 7, "hh_size": 1,
         "members": [_member(1, "1", "1", 33, B01_MIG="1", B02_FYRSRESIDE="1", B04_SMOSRESIDE="1",
                             B06_OFI="7", ret_abroad="2")]},
    ]
    p = write_kobo_xlsx("cbms_migration_rider", subs, tmp_path / "hand.xlsx")
    data = import_files([p], profile="kobo_cbms_rider")
    hh = data.households.set_index("hh_id")
    assert list(hh.index) == ["045623008000123000100010001", "0401010014-00007"]
    assert hh.loc["0401010014-00007", "cash_abroad"] == 60000.0
    assert hh.loc["045623008000123000100010001", "cash_abroad"] == 0.0
    assert hh.loc["0401010014-00007", "remit_channel"] == "e_wallet"
    assert hh.loc["0401010014-00007", "remit_uses"] == "food education"
    assert bool(hh.loc["0401010014-00007", "remittance_account"]) is True
    assert bool(hh.loc["045623008000123000100010001", "has_account"]) is False
    dup = [q for q in data.report.problems if q.code == "MD108"]
    assert len(dup) == 1 and dup[0].value == "0401010014-00007"
    pp = data.persons.set_index(["hh_id", "line_no"])
    head = pp.loc[("045623008000123000100010001", 1)]
    assert bool(head["returned_5y"]) and head["return_year"] == 2024 and head["return_country"] == "SAU"
    assert bool(head["intends_to_leave"]) and head["lf_status"] == "unemployed"  # E01 2, E03 2, E25 1, E32 1
    spouse = pp.loc[("045623008000123000100010001", 2)]
    assert spouse["of_status"] == "ofw_contract" and spouse["of_country"] == "HKG"
    assert spouse["departure_year"] == 2025 and spouse["months_abroad"] == 20 and spouse["times_sent_money"] == 12
    assert pp.loc[("0401010014-00007", 1), "res_birth_place"] == "2103"


def _tiny_form(tmp_path, rows):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "survey"
    ws.append(["type", "name", "label", "constraint", "required", "relevant"])
    for r in rows:
        ws.append(r)
    p = tmp_path / "tiny.xlsx"
    wb.save(p)
    return p


def test_unsatisfiable_constraint_is_reported(tmp_path):
    p = _tiny_form(tmp_path, [["integer", "n", "N", ". > 5 and . < 3", "yes", None]])
    with pytest.raises(DataError) as e:
        fake_submissions(p, 1, seed=1)
    assert e.value.code == "MD607" and "'. > 5 and . < 3'" in str(e.value)


def test_generic_form_relevance_is_obeyed(tmp_path):
    p = _tiny_form(tmp_path, [["select_one yn", "q1", "Q1", None, "yes", None],
                              ["integer", "q2", "Q2", ". >= 1 and . <= 3", "yes", "${q1} = 'y'"]])
    wb = openpyxl.load_workbook(p)
    ch = wb.create_sheet("choices")
    ch.append(["list_name", "name", "label"])
    ch.append(["yn", "y", "Yes"])
    ch.append(["yn", "n", "No"])
    wb.save(p)
    subs = fake_submissions(p, 40, seed=2)
    for s in subs:
        if s["q1"] == "y":
            assert 1 <= int(s["q2"]) <= 3
        else:
            assert "q2" not in s
    assert {s["q1"] for s in subs} == {"y", "n"}


def test_unknown_form_names_and_missing_files(tmp_path):
    from migdata.errors import UsageError

    with pytest.raises(UsageError) as e:
        load_form("census_2030")
    assert e.value.code == "MD600"
    with pytest.raises(DataError) as e:
        load_form(tmp_path / "nowhere.xlsx")
    assert e.value.code == "MD001"


def test_survey_text_in_a_number_column_is_reported(tmp_path):
    from migdata.importer import import_files

    subs = fake_submissions("children_left_behind_survey", 6, seed=8)
    target = next(i for i, s in enumerate(subs) if "child/child_age" in s)
    subs[target]["child/child_age"] = "twelve"
    p = write_kobo_xlsx("children_left_behind_survey", subs, tmp_path / "dirty.xlsx", check=False)
    data = import_files([p], profile="kobo_clb_survey")
    probs = [q for q in data.report.problems if q.code == "MD103"]  # validation: clb_survey is in the schema
    assert len(probs) == 1
    q = probs[0]
    assert (q.table, q.column, q.value, q.source_row, q.action) == ("clb_survey", "age", "twelve", target + 2,
                                                                     "set_missing")
    assert data.tables["clb_survey"]["age"].isna().sum() == sum("child/child_age" not in s for s in subs) + 1
