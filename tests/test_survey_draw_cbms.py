"""``migdata draw``: the OF survey's sample drawn from the CBMS frame of a database, and the
list the field team takes (CSV and Excel).

Expected values from outside the code under test: the overseas Filipinos of the bundled CBMS
file counted by string slicing (``test_survey_profile_weights_sample.cbms_ofs``), proportional
allocation computed here by hand, and the list read back with csv and openpyxl.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest
from openpyxl import load_workbook

from migdata.cli import main
from migdata.errors import render
from tests.test_survey_profile_weights_sample import SAMPLE, _need, cbms_ofs


def run(capsys, *args):
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in args])
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    from migdata.importer import import_files
    from migdata.model.database import Database

    d = Database.create(tmp_path_factory.mktemp("draw") / "db")
    d.add(import_files([_need(SAMPLE / "cbms_2022_hpq.dat"), SAMPLE / "cbms_2022_hpq_layout.dcf"], "cbms_2022_hpq"))
    return d


def _read(path: Path) -> list[dict]:
    with open(path, encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


def test_draw_of_survey_list(db, tmp_path, capsys):
    code, out, err = run(capsys, "draw", db.path, "--survey", "of", "--n", 40, "--seed", 3, "--strata", "province",
                         "--out", tmp_path / "of.csv")
    assert code == 0, err
    ofs = cbms_ofs()
    frame = Counter()
    members = set()
    for (prov, _), units in ofs.items():
        frame[prov] += len(units)
        members |= set(units)
    assert sum(frame.values()) == 120
    assert "40 of 120 overseas Filipinos" in out
    rows = _read(tmp_path / "of.csv")
    strata = {r["stratum"]: r for r in _read(tmp_path / "of_strata.csv")}
    # proportional allocation by hand: 40 * N_h / 120, rounded so the sizes add to 40
    exact = {h: 40 * n / 120 for h, n in frame.items()}
    planned = {h: int(v) for h, v in exact.items()}
    for h in sorted(exact, key=lambda h: exact[h] - planned[h], reverse=True)[:40 - sum(planned.values())]:
        planned[h] += 1
    assert {h: int(r["sample_n"]) for h, r in strata.items()} == planned
    assert {h: int(r["frame_n"]) for h, r in strata.items()} == dict(frame)
    drawn = Counter(r["stratum"] for r in rows)
    assert drawn == Counter(planned)
    for r in rows:
        assert (r["hh_id"], int(r["line_no"])) in members          # every one an OF of CBMS
        assert int(r["frame_n"]) == frame[r["stratum"]] and int(r["sample_n"]) == planned[r["stratum"]]
        assert float(r["weight"]) == pytest.approx(1 / float(r["pi"]), rel=1e-11)
        # SRS within strata: pi = n_h / N_h (so the frame's probabilities sum to n_h)
        assert float(r["pi"]) == pytest.approx(planned[r["stratum"]] / frame[r["stratum"]], rel=1e-11)
    assert len({(r["hh_id"], r["line_no"]) for r in rows}) == 40     # without replacement
    wb = load_workbook(tmp_path / "of.xlsx", read_only=True)
    assert wb.sheetnames == ["sample", "strata", "about"]
    sheet = list(wb["sample"].iter_rows(values_only=True))
    assert len(sheet) == 41 and [str(v) for v in sheet[1][:3]] == [rows[0]["list_no"], rows[0]["hh_id"],
                                                                     rows[0]["line_no"]]
    # the same seed gives the same list; another seed another one
    assert run(capsys, "draw", db.path, "--survey", "of", "--n", 40, "--seed", 3, "--strata", "province",
               "--out", tmp_path / "again.csv")[0] == 0
    assert _read(tmp_path / "again.csv") == rows
    assert run(capsys, "draw", db.path, "--survey", "of", "--n", 40, "--seed", 4, "--strata", "province",
               "--out", tmp_path / "other.csv")[0] == 0
    assert _read(tmp_path / "other.csv") != rows


def test_draw_per_stratum_sizes_and_errors(db, tmp_path, capsys):
    code, _, err = run(capsys, "draw", db.path, "--survey", "of", "--n", "0401000000=5,0402100000=25",
                       "--seed", 1, "--strata", "province", "--out", tmp_path / "x.csv")
    assert code == 0, err
    assert Counter(r["stratum"] for r in _read(tmp_path / "x.csv")) == {"0401000000": 5, "0402100000": 25}
    code, _, err = run(capsys, "draw", db.path, "--survey", "of", "--n", "many", "--seed", 1,
                       "--out", tmp_path / "y.csv")
    assert code == 2 and "'many' is neither a number nor CODE=N pairs" in err
    # a database without CBMS: nothing to draw from
    from migdata.model.database import Database

    empty = Database.create(tmp_path / "empty")
    code, _, err = run(capsys, "draw", empty.path, "--survey", "clb", "--n", 10, "--seed", 1,
                       "--out", tmp_path / "z.csv")
    assert code == 2 and render("MD368", path=empty.path, survey="clb", have="nothing") in err
    assert not (tmp_path / "z.csv").exists()
