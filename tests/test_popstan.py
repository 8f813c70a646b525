"""Popstan census through the popstan_census profile; expected values from a plain scan of the text."""

from __future__ import annotations

from collections import Counter

import pytest

from migdata.importer import import_files
from tests.conftest import realfile


@pytest.fixture(scope="module")
def files():
    return (realfile("cspro", "popstan", "Popstan Census.dat"),
            realfile("cspro", "popstan", "Census Dictionary.dcf"))


@pytest.fixture(scope="module")
def popstan(files):
    return import_files(list(files), "popstan_census")


@pytest.fixture(scope="module")
def scan(files):
    """Hand count with string slicing: record type col 1, case id cols 2-19, province cols 2-3,
    P08_RES95 cols 30-31 (positions from the dictionary text)."""
    lines = files[0].read_text(encoding="utf-8-sig").splitlines()
    by_type = {t: [ln for ln in lines if ln[:1] == t] for t in "123"}
    cases = {t: {ln[1:19] for ln in v} for t, v in by_type.items()}
    res = Counter()
    for ln in by_type["1"]:
        code = ln[29:31].strip()
        if not code:
            res["blank"] += 1
        elif 1 <= int(code) <= 15:
            res["same" if int(code) == int(ln[1:3]) else "other_ph"] += 1
        elif int(code) == 0:
            res["unknown"] += 1
        else:
            res["abroad"] += 1
    return {"persons": len(by_type["1"]), "cases": cases, "res": res}


def test_counts(popstan, scan):
    assert len(popstan.persons) == scan["persons"]
    assert len(popstan.households) == len(scan["cases"]["1"])
    all_cases = scan["cases"]["1"] | scan["cases"]["2"] | scan["cases"]["3"]
    assert popstan.report.counts["households"] == {
        "read": len(all_cases), "kept": len(scan["cases"]["1"]),
        "rejected": len(all_cases - scan["cases"]["1"])}


def test_cases_without_housing_are_reported(popstan, scan):
    all_cases = scan["cases"]["1"] | scan["cases"]["2"] | scan["cases"]["3"]
    no_housing = all_cases - scan["cases"]["2"]
    md507 = [p for p in popstan.report.problems if p.code == "MD507"]
    assert len(md507) == len(no_housing) > 0
    assert all(p.action == "kept" for p in md507)
    no_person = all_cases - scan["cases"]["1"]
    assert sum(p.code == "MD513" for p in popstan.report.problems) == len(no_person)
    assert sum(p.code == "MD111" for p in popstan.report.problems) == len(no_person)


def test_residence_five_years_ago(popstan, scan):
    vc = popstan.persons["res_5y"].value_counts(dropna=False)
    for cat in ("same", "other_ph", "abroad", "unknown"):
        assert vc.get(cat, 0) == scan["res"][cat]
    assert popstan.persons["res_5y"].isna().sum() == scan["res"]["blank"]
    movers = popstan.persons[popstan.persons["res_5y"] == "other_ph"]
    assert movers["res_5y_place"].str.fullmatch(r"\d\d").all()


def test_areas_kept_as_source_codes(popstan):
    hh = popstan.households
    assert "psgc" not in hh.columns or hh["psgc"].isna().all()
    assert hh["area_src"].str.fullmatch(r"\d{10}").all()
    assert (hh["weight"] == 1.0).all() and popstan.complete_count
    assert hh["hh_id"].str.len().eq(18).all()


def test_case_with_persons_but_no_housing_is_kept(tmp_path, files):
    """A hand-made two-case file in the Popstan layout: case 2 has a person but no housing record."""
    case1, case2 = "010100300110210011", "010100300110870021"
    # type, case id, LINE, REL, SEX, AGE, MS, MOTHER, BIRTH (cols 28-29), RES95 (cols 30-31)
    lines = [
        "1" + case1 + "01" + "1" + "2" + "34" + "5" + "1" + "01" + "01",
        "2" + case1 + "1",
        "1" + case2 + "01" + "1" + "1" + "40" + "1" + "1" + "03" + "05",
    ]
    dat = tmp_path / "mini.dat"
    dat.write_text("\n".join(lines) + "\n")
    data = import_files([dat, files[1]], "popstan_census")
    assert sorted(data.households["hh_id"]) == [case1, case2]
    (p,) = [p for p in data.report.problems if p.code == "MD507" and "no HOUSING record" in p.message]
    assert (p.source_row, p.action) == (3, "kept")
    res = dict(zip(data.persons["hh_id"], data.persons["res_5y"]))
    # case 1 lives in province 01 and lived in 01; case 2 lives in 01 and lived in 05
    assert res == {case1: "same", case2: "other_ph"}
    assert data.persons.set_index("hh_id").loc[case2, "res_birth"] == "other_ph"
