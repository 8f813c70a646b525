"""LFS PUF December 2022 through the lfs_puf_2022 profile: counts, keys, and what happens when a
round's file does not fit the profile (unknown layout, changed value sets, policies). PSA's
published figures, rounds, layouts and the design are checked in test_lfs_rounds.py."""

from __future__ import annotations

import pandas as pd
import pytest

from migdata.cli import main
from migdata.errors import DataError, render
from migdata.importer import import_files
from tests.conftest import realfile


@pytest.fixture(scope="module")
def lfs():
    dat = realfile("ph", "lfs", "LFS_PUF_December_2022.F2")
    dcf = realfile("ph", "lfs", "LFS_PUF_December_2022.dcf")
    return import_files([dat, dcf], "lfs_puf_2022")


def test_counts(lfs):
    # realdata README: 45,687 persons, 10,896 households, 483 PSUs
    assert len(lfs.persons) == 45687
    assert len(lfs.households) == 10896
    assert lfs.households["psu"].nunique() == 483
    assert lfs.report.problems == []
    assert lfs.report.counts["persons"] == {"read": 45687, "kept": 45687, "rejected": 0}


def test_keys_and_areas(lfs):
    hh = lfs.households
    # round (PUFSVYYR 2022, PUFSVYMO 12), PUFREG 01, PUFHHNUM 00001 on line 1: the household
    # number restarts every round, so the id carries the round
    assert hh["hh_id"].iloc[0] == "2022-12-01-00001"
    assert set(hh["psgc"].dropna()) <= {f"{r:02d}00000000" for r in range(1, 20)}
    assert hh["psgc"].notna().all()
    assert (hh["round"] == "2022-12").all()
    assert lfs.provenance.rounds == ["2022-12"] and lfs.provenance.period == "2022-12"
    # Region IV-A is LFS region 4
    assert (hh["psgc"] == "0400000000").sum() == hh["hh_id"].str.startswith("2022-12-04-").sum()
    assert (hh["stratum"] == "04").sum() == (hh["psgc"] == "0400000000").sum()


def _universe(lfs):
    p = lfs.persons.merge(lfs.households[["hh_id", "psu"]], on="hh_id")
    # PSA's labour-force universe: household members 15+ with a labour-force status (OFs excluded)
    u = p[p["lf_status"].notna() & (p["age"] >= 15)].copy()
    u["in_lf"] = u["lf_status"].isin(["employed", "unemployed"]).astype(float)
    u["unemp"] = (u["lf_status"] == "unemployed").astype(float)
    u["one"] = 1.0
    return p, u


def test_published_lfpr_and_unemployment(lfs):
    """PSA, December 2022 LFS: LFPR 66.4 %, unemployment rate 4.3 % (published rounding)."""
    from migdata.survey import Design

    _, u = _universe(lfs)
    d = Design(u, weights="weight", psu="psu")
    lfpr = d.ratio("in_lf", "one").iloc[0]
    ur = d.ratio("unemp", "in_lf").iloc[0]
    assert round(100 * lfpr["estimate"], 1) == 66.4
    assert round(100 * ur["estimate"], 1) == 4.3
    # the design gives a sampling error; PSA does not publish one for the PUF, so only its sanity
    assert 0 < lfpr["se"] < 0.02 and 0 < ur["se"] < 0.01


def test_overseas_contract_workers(lfs):
    """About 1.83 million OCWs (PUFC08_CONWR = 1), 54.8 % female (realdata brief)."""
    p = lfs.persons
    ocw = p[p["of_status_src"] == "1"]
    assert (ocw["of_status"] == "ofw_contract").all()
    total = ocw["weight"].sum()
    assert round(total / 1e6, 2) == 1.83
    assert round(100 * ocw.loc[ocw["sex"] == "female", "weight"].sum() / total, 1) == 54.8
    # code 4 "Students abroad/Tourists" -> other_of (documented in the profile)
    assert set(p.loc[p["of_status_src"] == "4", "of_status"].dropna()) <= {"other_of"}


def _round_copy(tmp_path, edit_dcf, edit_lines=None, n=300):
    dcf = realfile("ph", "lfs", "LFS_PUF_December_2022.dcf").read_text(encoding="utf-8-sig")
    lines = realfile("ph", "lfs", "LFS_PUF_December_2022.F2").read_text(encoding="utf-8-sig").splitlines()[:n]
    if edit_lines:
        lines = edit_lines(lines)
    (tmp_path / "r.dcf").write_text(edit_dcf(dcf), encoding="utf-8")
    (tmp_path / "r.dat").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path / "r.dat"


def run(capsys, *args):
    """``migdata ARGS``: exit code and output as a user sees them."""
    with pytest.raises(SystemExit) as e:
        main(list(args))
    out = capsys.readouterr()
    return e.value.code, out.out + out.err


def test_file_of_an_unknown_layout_fails_naming_the_items_that_differ(tmp_path, capsys):
    # neither the monthly (PUFC08_CONWR) nor the quarterly (PUFC10_CONWR) name: no empty column
    dat = _round_copy(tmp_path, lambda t: t.replace("Name=PUFC08_CONWR", "Name=PUFC12_CONWR"))
    with pytest.raises(DataError) as ei:
        import_files([dat], "lfs_puf_2022")
    e = ei.value
    assert e.code == "MD521"
    assert e.fields["missing"] == {"monthly": ["PUFC08_CONWR"], "quarterly": ["PUFC10_CONWR", "PUFC20_PWMORE"]}
    assert e.message == render("MD521", profile="lfs_puf_2022", file=str(dat),
                               differ="layout monthly lacks PUFC08_CONWR; "
                                      "layout quarterly lacks PUFC10_CONWR, PUFC20_PWMORE")
    # the command line: one message, exit 1 (data problem), nothing saved
    code, out = run(capsys, "import", str(dat), "--profile", "lfs_puf_2022", "--out", str(tmp_path / "o"))
    assert code == 1 and "[MD521]" in out and "Traceback" not in out and not (tmp_path / "o").exists()


def test_new_code_in_other_round_is_a_problem_and_located(tmp_path, capsys):
    def lines(ls):
        ls[0] = ls[0][:48] + "6" + ls[0][49:]  # PUFC08_CONWR is column 49
        return ls

    dat = _round_copy(tmp_path, lambda t: t.replace("Value=5;Residents", "Value=5;Residents\nValue=6;New category"),
                      lines)
    data = import_files([dat], "lfs_puf_2022")
    (vs,) = [p for p in data.report.problems if p.code == "MD522"]
    assert (vs.table, vs.column, vs.value, vs.action) == ("persons", "of_status", "PUFC08_CONWR", "kept")
    assert "6 (New category)" in vs.message
    (prob,) = [p for p in data.report.problems if p.code == "MD504"]
    assert (prob.source_row, prob.column, prob.value, prob.action) == (1, "of_status", 6, "set_missing")
    assert pd.isna(data.persons["of_status"].iloc[0]) and data.persons["of_status_src"].iloc[0] == "6"
    # a value set that no longer matches is a non-zero exit of migdata import
    code, out = run(capsys, "import", str(dat), "--profile", "lfs_puf_2022", "--out", str(tmp_path / "o"))
    assert code == 1 and "MD522" in out


def test_renumbered_value_set_is_a_problem(tmp_path):
    # a round whose dictionary drops code 5 and uses 6 for residents: both directions are named
    dat = _round_copy(tmp_path, lambda t: t.replace("Value=5;Residents", "Value=6;Residents"))
    data = import_files([dat], "lfs_puf_2022")
    (vs,) = [p for p in data.report.problems if p.code == "MD522"]
    assert "the file labels 6 (Residents), which the profile does not map" in vs.message
    assert "the profile maps 5, which the file no longer labels" in vs.message


def test_reject_and_strict_policies(tmp_path):
    def lines(ls):
        ls[0] = ls[0][:48] + "6" + ls[0][49:]
        return ls

    dat = _round_copy(tmp_path, lambda t: t, lines, n=50)
    data = import_files([dat], "lfs_puf_2022", policy="reject")
    assert data.report.counts["persons"]["rejected"] == 1
    assert data.report.counts["persons"]["read"] == 50
    assert 1 not in set(data.persons["_source_row"])
    with pytest.raises(DataError) as ei:
        import_files([dat], "lfs_puf_2022", policy="strict")
    assert ei.value.code == "MD119"


def test_reject_policy_with_two_files_uses_file_and_row(tmp_path):
    lines = realfile("ph", "lfs", "LFS_PUF_December_2022.F2").read_text(encoding="utf-8-sig").splitlines()[:120]
    # split at a household boundary (case id = columns 2-8)
    cut = next(i for i in range(60, 120) if lines[i][1:8] != lines[i - 1][1:8])
    a, b = lines[:cut], lines[cut:]
    a[0] = a[0][:48] + "6" + a[0][49:]  # an unmapped OF code on line 1 of the first file only
    dcf = realfile("ph", "lfs", "LFS_PUF_December_2022.dcf")
    (tmp_path / "a.dat").write_text("\n".join(a) + "\n")
    (tmp_path / "b.dat").write_text("\n".join(b) + "\n")
    data = import_files([tmp_path / "a.dat", tmp_path / "b.dat", dcf], "lfs_puf_2022", policy="reject")
    p = data.persons
    assert data.report.counts["persons"] == {"read": 120, "kept": 119, "rejected": 1}
    kept_rows = set(zip(p["_source_file"].astype(str), p["_source_row"]))
    assert (str(tmp_path / "a.dat"), 1) not in kept_rows
    assert (str(tmp_path / "b.dat"), 1) in kept_rows
