"""The local migration database on a hand-built linked fixture: the link report and the
cross-stream indicators are counted by hand here."""

from __future__ import annotations

import pandas as pd
import pytest

import migdata
from migdata.errors import UsageError, render
from migdata.model.data import HouseholdData
from migdata.model.database import Database

BGY1, BGY2 = "0403405001", "0403406001"  # two barangays of two cities of Laguna


def cbms() -> HouseholdData:
    hh = pd.DataFrame({"hh_id": ["H1", "H2", "H3", "H4"], "weight": 1.0, "source": "cbms",
                       "psgc": [BGY1, BGY1, BGY2, BGY2], "region": "0400000000", "province": "0403400000",
                       "city_mun": [BGY1[:7] + "000", BGY1[:7] + "000", BGY2[:7] + "000", BGY2[:7] + "000"],
                       "barangay": [BGY1, BGY1, BGY2, BGY2]})
    pp = pd.DataFrame({
        "hh_id":     ["H1", "H1", "H2", "H2", "H3", "H3", "H3", "H4", "H4"],
        "line_no":   [1, 2, 1, 2, 1, 2, 3, 1, 2],
        "sex":       ["male", "female", "male", "female", "female", "male", "male", "male", "female"],
        "age":       [40, 30, 50, 45, 60, 35, 25, 33, 31],
        "relationship": ["head", "spouse", "head", "spouse", "head", "child", "child", "head", "spouse"],
        "of_status": ["resident", "ofw_contract", "ofw_contract", "resident", "resident", "resident",
                      "ofw_no_contract", "resident", "resident"]})
    return HouseholdData({"households": hh, "persons": pp},
                         provenance={"design": {"complete_count": True}, "sources": ["cbms_fixture"],
                                     "stream": "cbms", "rounds": ["2022"], "period": "2022"})


LINK = {"name": "respondent", "table": "of_survey", "to": "cbms", "to_table": "persons",
        "on": {"hh_id": "hh_id", "line_no": "line_no"}, "compare": ["sex", "age", "area", "of_status"],
        "age_tolerance": 1, "of_status": "abroad"}


def of_survey() -> HouseholdData:
    # r1 agrees (age 31 vs 30: within 1 year); r2 sex differs; r3 age differs by 15; r4 the CBMS
    # member is not abroad; r5 id not in CBMS; r6 no id; r7 area differs (says city of BGY2)
    t = pd.DataFrame({
        "response_id": [f"r{i}" for i in range(1, 8)],
        "hh_id":   ["H1", "H2", "H3", "H4", "H9", None, "H1"],
        "line_no": [2, 1, 3, 2, 1, None, 2],
        "sex":     ["female", "female", "male", "female", "male", "female", "female"],
        "age":     [31, 50, 40, 31, 29, 27, 30],
        "psgc":    [BGY1, BGY1, BGY2, BGY2, BGY1, BGY2, BGY2],
        "of_status": ["ofw_contract", "ofw_contract", "ofw_no_contract", "ofw_contract", "ofw_contract",
                      "student", "ofw_contract"],
        "occupation_abroad": ["5", "7", "9", "5", "9", None, "5"],
        "income_abroad_monthly": [30000.0, 50000.0, 20000.0, 40000.0, 25000.0, None, 35000.0],
        "weight": [10.0, 20.0, 30.0, 10.0, 20.0, 30.0, 40.0],
        "_source_row": [2, 3, 4, 5, 6, 7, 8]})
    from migdata import areas  # the import derives the area columns from psgc the same way
    for level in ("region", "province", "city_mun", "barangay"):
        t[level] = areas.rollup(t["psgc"], level).astype(str)
    return HouseholdData({"of_survey": t}, provenance={
        "stream": "of_survey", "sources": ["of_fixture"], "rounds": ["2026"], "period": "2026",
        "design": {"weights": "weight", "design_domain": "city"}, "units": {"person": "of_survey"},
        "links": [LINK]})


@pytest.fixture()
def db(tmp_path) -> Database:
    d = Database.create(tmp_path / "db")
    d.add(cbms())
    d.add(of_survey())
    return d


def test_link_report_counted_by_hand(db):
    rep = db.link_report().iloc[0]
    assert (rep["records"], rep["linked"], rep["conflict"], rep["not_found"], rep["not_linked"]) == (7, 1, 4, 1, 1)
    assert rep["link_rate"] == pytest.approx(100 * 5 / 7)
    probs = db.link_problems().set_index("source_row")
    assert probs.loc[3, "code"] == "MD152" and probs.loc[4, "code"] == "MD153"
    assert probs.loc[5, "code"] == "MD155" and probs.loc[6, "code"] == "MD157"
    assert probs.loc[8, "code"] == "MD154"
    assert set(probs.index) == {3, 4, 5, 6, 8}  # r1 and r6 have none
    assert probs.loc[3, "message"] == render("MD152", dataset="of_survey-2026", link="respondent", row=3,
                                             column="sex", value="female (survey) vs male (CBMS)")


def test_linking_keeps_every_record_and_takes_the_cbms_area(db):
    f = db.frame("of_survey", "person")
    assert len(f) == 7 and f["response_id"].tolist() == [f"r{i}" for i in range(1, 8)]
    # linked records take their CBMS household's area; r5 (not found) and r6 (no id) keep their own
    assert f["psgc"].astype(str).tolist() == [BGY1, BGY1, BGY2, BGY2, BGY1, BGY2, BGY1]
    assert f["barangay"].astype(str).tolist()[:4] == [BGY1, BGY1, BGY2, BGY2]


def test_cross_stream_tables(db):
    t = migdata.compute(db, ids=["OF02", "OF08", "OF09"], level="city", by=[])
    region = t[(t["area_level"] == "region") & (t["category"].astype(str).isin(["", "5"]))]
    got = {(r.stream, r.indicator_id): r.estimate for r in region.itertuples()}
    # CBMS: OFWs 15+ are H1/2, H2/1, H3/3 -> 3 (a count, complete)
    assert got[("cbms", "OF02")] == 3
    # OF survey, weighted: OFWs (ofw_*) r1 r2 r3 r4 r5 r7, weights 10+20+30+10+20+40 = 130;
    # occupation 5: r1 r4 r7 = 10+10+40 = 60 -> 60/130
    assert got[("of_survey", "OF08")] == pytest.approx(100 * 60 / 130)
    # mean income of OFWs: (10*30000 + 20*50000 + 30*20000 + 10*40000 + 20*25000 + 40*35000) / 130
    assert got[("of_survey", "OF09")] == pytest.approx((300000 + 1000000 + 600000 + 400000 + 500000 + 1400000) / 130)
    # the survey rows carry their SE; the CBMS rows are complete counts
    assert (t.loc[t["stream"] == "of_survey", "flag"] != "complete_count").all()
    assert (t.loc[t["stream"] == "cbms", "flag"] == "complete_count").all()
    # by city, from the linked CBMS area: city of BGY2 has r3, r4 and r6 (own area; r6 is a student)
    city2 = t[(t["stream"] == "of_survey") & (t["indicator_id"] == "OF09") & (t["area_code"] == BGY2[:7] + "000")]
    assert city2["estimate"].iloc[0] == pytest.approx((30 * 20000 + 10 * 40000) / 40)


def test_replacing_a_stream_round_and_the_info_text(db, tmp_path, capsys):
    key = db.add(of_survey())  # the same stream and round: replaced, not added
    assert key == "of_survey-2026" and len(db.datasets()) == 2
    again = migdata.load(db.path)
    assert isinstance(again, Database) and again.streams() == ["cbms", "of_survey"]
    from migdata.summary import describe_store
    text = describe_store(db.path)
    assert "respondent" in text and "5 linked (71.4%; 4 conflicting)" in text
    with pytest.raises(UsageError) as e:
        again.dataset("clb_survey")
    assert e.value.code == "MD156"


def test_rows_read_kept_rejected_unchanged_by_linking(db):
    before = {k: dict(db.dataset(k).report.counts) for k in db.keys()}
    db.links()
    db.frame("of_survey", "person")
    assert {k: dict(db.dataset(k).report.counts) for k in db.keys()} == before


R_OF09 = r"""
suppressMessages(library(survey))
args <- commandArgs(TRUE)
d <- read.csv(args[1], stringsAsFactors = FALSE)
des <- svydesign(ids = ~1, weights = ~weight, data = d)
r <- svyby(~income, ~ofw, des, svymean, na.rm = TRUE)
write.csv(data.frame(ofw = r$ofw, estimate = r$income, se = SE(r)), args[2], row.names = FALSE)
"""


def test_cross_stream_survey_estimate_agrees_with_r(db, tmp_path, rscript):
    import subprocess

    t = migdata.compute(db, ids=["OF09"], level="region", by=[])
    ours = t[(t["stream"] == "of_survey") & (t["area_level"] == "region")].iloc[0]
    f = db.frame("of_survey", "person")
    pd.DataFrame({"weight": f["weight"], "income": f["income_abroad_monthly"],
                  "ofw": f["of_status"].isin(["ofw_contract", "ofw_no_contract"])}).to_csv(tmp_path / "d.csv",
                                                                                             index=False)
    (tmp_path / "r.R").write_text(R_OF09)
    run = subprocess.run([rscript, str(tmp_path / "r.R"), str(tmp_path / "d.csv"), str(tmp_path / "o.csv")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    r = pd.read_csv(tmp_path / "o.csv").set_index("ofw").loc[True]
    assert ours["estimate"] == pytest.approx(r["estimate"], rel=1e-9)
    assert ours["se"] == pytest.approx(r["se"], rel=1e-8)
