"""The bundled Kobo exports are drawn from the bundled CBMS sample (issue: linked sample data).

Everything here is read from the committed files with plain tools, not with the generator: the
CBMS fixed-width file by string slicing at PSA's positions (DOMAIN.md §2.2.2-2.2.4: geo ID 2-28,
LNO 29-30, A05 col 230, A07 cols 239-241, B06 col 140), the Kobo exports with openpyxl, the
sample lists and planted problems with csv. Expected values:

- every answered CBMS id links to a CBMS household (and member) with the same sex, the same
  barangay, an age equal to the CBMS age or one more (fieldwork within five months of CBMS), and
  the overseas status the survey says, EXCEPT the rows listed in ``planted_link_problems.csv``,
  which show exactly the problem listed there;
- the design columns equal the field list, the list's probabilities are n_h / N_h, and N_h is
  the number of CBMS overseas Filipinos of the stratum's province (counted here from the file)
  or, for the CLB survey, of CBMS children whose father or mother is abroad (counted with the
  indicator layer's own child-parent rule, a second implementation);
- non-response: fewer submissions than selected units, refusals with consent = no.
"""

from __future__ import annotations

import csv
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

sys.path.insert(0, str(Path(__file__).parent))
from sample_slices import cbms_by_slicing  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"
KOBO = SAMPLE / "kobo"
# old 2-digit province code of the CBMS geo ID -> statistical province PSGC (DOMAIN.md §4.2;
# Lucena, old code 56 24, is tabulated with Quezon)
PROVINCE = {"10": "0401000000", "21": "0402100000", "34": "0403400000", "56": "0405600000", "58": "0405800000"}


def _need(p: Path) -> Path:
    if not p.exists():
        pytest.skip(f"{p} is not in this checkout")
    return p


@pytest.fixture(scope="module")
def cbms() -> dict:
    """CBMS households (geo code) and members (sex, age, B06) by plain slicing."""
    return cbms_by_slicing(_need(SAMPLE / "cbms_2022_hpq.dat"))


@pytest.fixture(scope="module")
def psgc_of():
    """9-digit geo code -> 10-digit barangay PSGC (the PSGC reference's correspondence codes)."""
    from migdata.areas.reference import reference

    ref = reference()
    cc = ref["correspondence_code"]
    ok = cc.notna()
    return dict(zip(cc[ok].astype(str).str.zfill(9), ref.loc[ok, "psgc"].astype(str)))


def _sheet(form: str, index: int = 0) -> list[dict]:
    wb = load_workbook(_need(KOBO / f"{form}.xlsx"), read_only=True)
    ws = wb.worksheets[index]
    rows = ws.iter_rows(values_only=True)
    header = list(next(rows))
    return [dict(zip(header, r)) for r in rows]


@pytest.fixture(scope="module")
def planted() -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = defaultdict(list)
    with open(_need(KOBO / "planted_link_problems.csv"), encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            out[r["response_uuid"]].append(r)
    return out


def _text(v) -> str:
    return "" if v is None else str(v).strip()


def _age_ok(survey_age: int, cbms_age: int) -> bool:
    return survey_age - cbms_age in (0, 1)


def _check(found: dict[str, set[str]], planted: dict[str, list[dict]], survey: str) -> None:
    """The problems found by hand equal the planted ones, row by row."""
    want = {u: {r["problem"] for r in rows} for u, rows in planted.items() if rows[0]["survey"] == survey}
    assert {u: p for u, p in found.items() if p} == want
    kinds = Counter(p for ps in want.values() for p in ps)
    # one conflict of each kind, one mistyped id, and some rows without an id, per survey
    assert {k: kinds[k] for k in ("sex", "age", "area", "overseas_status", "not_found")} == \
        {"sex": 1, "age": 1, "area": 1, "overseas_status": 1, "not_found": 1}
    assert kinds["no_id"] >= 3


def _linked_case(r: dict, cbms: dict, probs: set[str]) -> str | None:
    # the CBMS case a response names, or None with the reason it has none
    case = _text(r["link/cbms_case_id"])
    if not case:
        probs.add("no_id")
        return None
    if case not in cbms["geo"]:
        probs.add("not_found")
        return None
    return case


def test_of_survey_links(cbms, psgc_of, planted):
    found: dict[str, set[str]] = {}
    for r in _sheet("overseas_filipino_survey"):
        u, probs = r["_uuid"], set()
        found[u] = probs
        if _text(r["consent"]) != "1":
            continue
        case = _linked_case(r, cbms, probs)
        if case is None:
            continue
        m = cbms["members"][(case, int(r["link/line_no"]))]
        if _text(r["demo/sex"]) != m["sex"]:
            probs.add("sex")
        if not _age_ok(int(r["demo/age"]), m["age"]):
            probs.add("age")
        if _text(r["link/origin_psgc"]) != psgc_of[cbms["geo"][case]]:
            probs.add("area")
        if int(r["hist/of_type"]) != m["b06"]:
            probs.add("overseas_status")
    _check(found, planted, "overseas_filipino_survey")


def test_clb_survey_links(cbms, psgc_of, planted):
    found: dict[str, set[str]] = {}
    for r in _sheet("children_left_behind_survey"):
        u, probs = r["_uuid"], set()
        found[u] = probs
        if _text(r["consent"]) != "1" or _text(r["assent"]) == "2":
            continue
        case = _linked_case(r, cbms, probs)
        if case is None:
            continue
        child = cbms["members"][(case, int(r["link/child_line_no"]))]
        if _text(r["child/child_sex"]) != child["sex"]:
            probs.add("sex")
        if not _age_ok(int(r["child/child_age"]), child["age"]):
            probs.add("age")
        if _text(r["link/psgc"]) != psgc_of[cbms["geo"][case]]:
            probs.add("area")
        for who in ("father", "mother"):
            line = _text(r[f"parents/{who}_line_no"])
            if line and not 1 <= (cbms["members"][(case, int(line))]["b06"] or 7) <= 6:
                probs.add("overseas_status")
        # the parents named are the child's parents' sex
        for who, sex in (("father", "1"), ("mother", "2")):
            line = _text(r[f"parents/{who}_line_no"])
            assert not line or cbms["members"][(case, int(line))]["sex"] == sex
    _check(found, planted, "children_left_behind_survey")


def test_rider_links(cbms, psgc_of, planted):
    members_by_sub = defaultdict(list)
    for m in _sheet("cbms_migration_rider", 1):
        members_by_sub[m["_submission__uuid"]].append(m)
    found: dict[str, set[str]] = {}
    for r in _sheet("cbms_migration_rider"):
        u, probs = r["_uuid"], set()
        found[u] = probs
        if _text(r["consent"]) != "1":
            continue
        case = _text(r["hh/cbms_case_id"])
        if not case:
            probs.add("no_id")
            continue
        if case not in cbms["geo"]:
            probs.add("not_found")
            continue
        if _text(r["hh/psgc"]) != psgc_of[cbms["geo"][case]]:
            probs.add("area")
        roster = members_by_sub[u]
        assert len(roster) == sum(1 for (c, _) in cbms["members"] if c == case)  # the whole roster
        for m in roster:
            cm = cbms["members"][(case, int(m["members/line_no"]))]
            if _text(m["members/A05_SEX"]) != cm["sex"]:
                probs.add("sex")
            if not _age_ok(int(m["members/A07_AGE"]), cm["age"]):
                probs.add("age")
            if _text(m["members/B06_OFI"]) != ("" if cm.get("b06") is None else str(cm["b06"])):
                probs.add("overseas_status")
    _check(found, planted, "cbms_migration_rider")


def _list(form: str) -> list[dict]:
    with open(_need(KOBO / "sample_lists" / f"{form}_sample.csv"), encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_of_design_from_the_sample_list(cbms):
    lst = _list("overseas_filipino_survey")
    # frame: CBMS members with B06 1-6, by the province of their household (counted here)
    frame = Counter(PROVINCE[cbms["geo"][c][2:4]] for (c, _), m in cbms["members"].items()
                    if m.get("b06") is not None and 1 <= m["b06"] <= 6)
    drawn = Counter(r["stratum"] for r in lst)
    for r in lst:
        assert int(r["frame_n"]) == frame[r["stratum"]]
        assert int(r["sample_n"]) == drawn[r["stratum"]]
        assert float(r["pi"]) == pytest.approx(drawn[r["stratum"]] / frame[r["stratum"]], rel=1e-9)
        assert 1 <= cbms["members"][(r["cbms_case_id"], int(r["line_no"]))]["b06"] <= 6
    assert sum(drawn.values()) == 80 and set(drawn) == set(frame)
    # the exports carry each respondent's list entry (stratum, probability, frame count)
    by_unit = {(r["cbms_case_id"], r["line_no"]): r for r in lst}
    subs = _sheet("overseas_filipino_survey")
    assert len(subs) < len(lst)  # selected units never reached leave no submission
    refusals = [s for s in subs if _text(s["consent"]) == "2"]
    assert refusals and all(_text(s["sample/sample_stratum"]) for s in refusals)
    checked = 0
    for s in subs:
        key = (_text(s["link/cbms_case_id"]), _text(s["link/line_no"]))
        if key in by_unit:
            e = by_unit[key]
            assert _text(s["sample/sample_stratum"]) == e["stratum"]
            assert int(s["sample/sample_frame_n"]) == int(e["frame_n"])
            assert float(s["sample/sample_pi"]) == pytest.approx(float(e["pi"]), rel=1e-9)
            assert float(s["sample/sample_weight"]) == pytest.approx(1 / float(e["pi"]), rel=1e-9)
            checked += 1
    assert checked >= 50


def test_clb_frame_counts_agree_with_the_indicator_child_parent_rule():
    from migdata.importer import import_files
    from migdata.indicators.derive import units

    data = import_files([_need(SAMPLE / "cbms_2022_hpq.dat"), SAMPLE / "cbms_2022_hpq_layout.dcf"], "cbms_2022_hpq")
    p = units(data)["person"]
    kids = p[p["parent_abroad"].isin(["father", "mother", "both"])]
    frame = Counter(kids["province"].astype(str))
    lst = _list("children_left_behind_survey")
    drawn = Counter(r["stratum"] for r in lst)
    for r in lst:
        assert int(r["frame_n"]) == frame[r["stratum"]], r["stratum"]
        assert float(r["pi"]) == pytest.approx(drawn[r["stratum"]] / frame[r["stratum"]], rel=1e-9)
    assert sum(drawn.values()) == 60


def test_kobo_profiles_map_the_design_columns():
    from migdata.importer import import_files

    for form, profile, table in (("overseas_filipino_survey", "kobo_of_survey", "of_survey"),
                                 ("children_left_behind_survey", "kobo_clb_survey", "clb_survey")):
        data = import_files([_need(KOBO / f"{form}.xlsx")], profile)
        t = data.tables[table]
        subs = {s["_uuid"]: s for s in _sheet(form)}
        grp = "sample" if form == "overseas_filipino_survey" else "link"
        for _, r in t.iterrows():
            s = subs[r["response_id"]]
            if _text(s[f"{grp}/sample_stratum"]):
                assert r["stratum"] == _text(s[f"{grp}/sample_stratum"])
                assert r["fpc"] == float(s[f"{grp}/sample_frame_n"])
                assert r["weight"] == pytest.approx(1 / float(s[f"{grp}/sample_pi"]), rel=1e-12)
            else:  # not drawn from the list (a child who did not assent): weight 1 as before
                assert r["weight"] == 1.0 and pd.isna(r["stratum"])


def test_the_database_link_check_reports_exactly_the_planted_problems(tmp_path, planted):
    """The database's link check (links declared here as a profile would) on the bundled data
    finds the planted conflicts and mistyped ids, and nothing else. Codes: MD152 sex, MD153 age,
    MD154 area, MD155 overseas status, MD157 id not found; a problem's row is the Kobo main
    sheet's row, which is the submission's ``_id`` - 99,999 (``_id`` counts from 100,001)."""
    from migdata.importer import import_files
    from migdata.model.database import Database, LinkSpec

    member = {"hh_id": "hh_id", "line_no": "line_no"}
    links = {
        "kobo_cbms_rider": [
            {"name": "rider household", "table": "households", "to": "cbms", "to_table": "households",
             "on": {"hh_id": "hh_id"}, "compare": ["area"]},
            {"name": "rider member", "table": "persons", "to": "cbms", "to_table": "persons", "on": member,
             "compare": ["sex", "age", "of_status"]}],
        "kobo_of_survey": [
            {"name": "overseas Filipino", "table": "of_survey", "to": "cbms", "to_table": "persons", "on": member,
             "compare": ["sex", "age", "area", "of_status"], "of_status": "abroad"}],
        "kobo_clb_survey": [
            {"name": "child", "table": "clb_survey", "to": "cbms", "to_table": "persons", "on": member,
             "compare": ["sex", "age", "area"]},
            *[{"name": who, "table": "clb_survey", "to": "cbms", "to_table": "persons",
               "on": {"hh_id": "hh_id", "line_no": f"{who}_line_no"}, "compare": ["of_status"], "of_status": "abroad"}
              for who in ("father", "mother")]],
    }
    db = Database.create(tmp_path / "db")
    db.add(import_files([_need(SAMPLE / "cbms_2022_hpq.dat"), SAMPLE / "cbms_2022_hpq_layout.dcf"], "cbms_2022_hpq"))
    for form, profile in (("cbms_migration_rider", "kobo_cbms_rider"), ("overseas_filipino_survey", "kobo_of_survey"),
                          ("children_left_behind_survey", "kobo_clb_survey")):
        data = import_files([_need(KOBO / f"{form}.xlsx")], profile)
        # the profile declares its links (data): the same as the ones written out above
        assert [LinkSpec.from_dict(d) for d in data.provenance.links] == [LinkSpec.from_dict(d) for d in links[profile]]
        db.add(data)
    got = db.link_problems()
    code = {"sex": "MD152", "age": "MD153", "area": "MD154", "overseas_status": "MD155", "not_found": "MD157"}
    rows = [r for rs in planted.values() for r in rs]
    for survey, key in (("overseas_filipino_survey", "of_survey"), ("children_left_behind_survey", "clb_survey")):
        want = {(code[r["problem"]], int(r["submission_id"]) - 99999) for r in rows
                if r["survey"] == survey and r["problem"] != "no_id"}
        mine = got[got["record"].str.startswith(key)]
        assert set(zip(mine["code"], mine["source_row"].astype(int))) == want, survey
    rider = got[got["record"].str.startswith("cbms_rider")]
    kinds = Counter(r["problem"] for r in rows if r["survey"] == "cbms_migration_rider")
    households = rider[rider["table"] == "households"]
    # the mistyped id, and the households without an id (hh_id = PSGC-number, see the README)
    assert Counter(households["code"]) == {"MD154": 1, "MD157": kinds["not_found"] + kinds["no_id"]}
    persons = rider[(rider["table"] == "persons") & (rider["code"] != "MD157")]
    assert Counter(persons["code"]) == {"MD152": 1, "MD153": 1, "MD155": 1}
    report = db.link_report().set_index("link")
    # not linked = records without an id + refusals (no answers), counted on the sheets
    refused_of = sum(_text(r["consent"]) != "1" for r in _sheet("overseas_filipino_survey"))
    refused_clb = sum(_text(r["consent"]) != "1" or _text(r["assent"]) == "2"
                      for r in _sheet("children_left_behind_survey"))
    assert report.loc["overseas Filipino", "not_linked"] == kinds_of(rows, "overseas_filipino_survey") + refused_of
    assert report.loc["child", "not_linked"] == kinds_of(rows, "children_left_behind_survey") + refused_clb


def kinds_of(rows: list[dict], survey: str) -> int:
    """Records without an id planted in ``survey``."""
    return sum(1 for r in rows if r["survey"] == survey and r["problem"] == "no_id")


def test_fixed_answers_are_used_where_relevant():
    from migdata.questionnaires.submissions import fake_submissions

    fixed = [{"consent": "1", "cbms_case_id": "041001001000001000100010001", "line_no": "3", "of_type": "4",
              "land_sea": "2"},  # land_sea is asked of workers only (of_type 1-3): not written
             {"consent": "2", "sex": "1"}]  # nothing is asked after a refusal
    a, b = fake_submissions("overseas_filipino_survey", 2, seed=3, fixed=fixed)
    assert (a["link/cbms_case_id"], a["link/line_no"], a["hist/of_type"]) == ("041001001000001000100010001", "3", "4")
    assert "hist/land_sea" not in a and "work/income_month" not in a
    assert b["consent"] == "2" and "demo/sex" not in b


def test_a_small_sample_takes_every_unit_of_a_small_frame(tmp_path):
    # 300 households hold fewer children with a parent abroad than the CLB survey's 60: the
    # generator takes them all (before: exit 2, MD362 "60 units asked for, the frame has 25")
    from migdata.cli import main

    with pytest.raises(SystemExit) as done:
        main(["sample", "--households", "300", "--out", str(tmp_path)])
    assert done.value.code == 0
    lst = pd.read_csv(tmp_path / "kobo" / "sample_lists" / "children_left_behind_survey_sample.csv")
    per_stratum = lst.groupby("stratum").agg(rows=("pi", "size"), frame_n=("frame_n", "first"))
    assert len(lst) < 60
    assert (per_stratum["rows"] == per_stratum["frame_n"]).all() and (lst["pi"] == 1).all()


def test_an_area_conflict_is_planted_where_the_province_has_one_town():
    # migdata sample --households 100000 stopped with "high <= 0": the only town of its province
    import numpy as np

    from migdata.sample.linked import _other_barangay

    frame = np.array(["0401001001", "0401001002", "0402101001", "0402102001"])
    rng = np.random.default_rng(1)
    assert _other_barangay("0401001001", frame, rng) in {"0402101001", "0402102001"}
    assert _other_barangay("0402101001", frame, rng) == "0402102001"  # same province first
