"""The command line: exit codes 0/1/2, one plain message (no traceback) for bad input."""

from __future__ import annotations

import pandas as pd
import pytest

from migdata.cli import main
from migdata.errors import render
from migdata.model import HouseholdData, validate


def run(capsys, *args):
    with pytest.raises(SystemExit) as e:
        main(list(args))
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


@pytest.fixture()
def store(tmp_path):
    hh = pd.DataFrame({"hh_id": ["a", "b"], "weight": [1.0, 1.0], "source": ["t", "t"]})
    pp = pd.DataFrame({"hh_id": ["a", "a", "b"], "line_no": [1, 2, 1], "sex": ["female", "male", "male"],
                       "age": [40, 9, 70], "relationship": ["head", "child", "head"]})
    d = validate(HouseholdData({"households": hh, "persons": pp}, provenance={"sources": ["test"],
                                                                              "complete_count": True}))
    return d.save(tmp_path / "store")


def test_help_and_version(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "import" in out and "indicators" in out
    code, out, _ = run(capsys, "--version")
    assert code == 0 and "migdata" in out


def test_unknown_command_is_a_usage_error(capsys):
    code, _, err = run(capsys, "frobnicate")
    assert code == 2 and "No such command" in err


def test_validate_and_info_on_a_good_store(capsys, store):
    code, out, _ = run(capsys, "validate", str(store))
    assert code == 0 and "no problems found" in out
    code, out, _ = run(capsys, "info", str(store))
    assert code == 0 and "persons" in out and "female" in out
    # hand count: 1 female, 2 male
    line = [ln for ln in out.splitlines() if ln.strip().startswith("male")][0]
    assert line.split()[-1] == "2"


def test_missing_store_is_one_message_and_exit_1(capsys, tmp_path):
    code, out, err = run(capsys, "info", str(tmp_path / "nope"))
    assert code == 1
    assert err.strip() == "Error: " + render("MD123", path=tmp_path / "nope")
    assert "Traceback" not in err + out


def test_corrupted_store_exit_1(capsys, store):
    (store / "persons.parquet").write_bytes(b"garbage")
    code, _, err = run(capsys, "validate", str(store))
    assert code == 1 and "MD127" in err and "Traceback" not in err
