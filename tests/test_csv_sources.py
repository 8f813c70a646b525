"""CSV sources: a profile selects its files by name pattern (``[files]``), so one profile serves
every round's exports; ``concat`` joins CSV text columns (it used to stop with an internal error).

Expected values are written in the tests: the fixture files' own rows, and ids joined by hand.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from migdata.cli import main
from migdata.errors import UsageError, render
from migdata.importer import import_files
from migdata.profiles import parse_profile
from migdata.profiles.engine import apply_profile
from migdata.readers.codebook import Codebook

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "profiles_engine"
PROFILE = (FIX / "lgu_survey_2024.toml").read_text()
EXAMPLE = ROOT / "migdata" / "profiles" / "example_user_csv.toml"
EXAMPLE_CSV = ROOT / "migdata" / "profiles" / "examples" / "pagsanjan_household_survey_2024.csv"

ROLES = PROFILE.replace('[tables.households]', '''[files]
households = ["*households*.csv", "*_hh.csv"]
members = "*members*.csv"

[tables.households]''')


def run(capsys, *args):
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in args])
    out = capsys.readouterr()
    return e.value.code, out.out + out.err


def _round_files(tmp_path: Path, prefix: str) -> list[Path]:
    hh = tmp_path / f"{prefix}_hh.csv"
    mem = tmp_path / f"{prefix}_members.csv"
    shutil.copy(FIX / "households.csv", hh)
    shutil.copy(FIX / "members.csv", mem)
    return [hh, mem]


def test_files_are_chosen_by_pattern_so_one_profile_serves_every_round(tmp_path):
    prof = tmp_path / "roles.toml"
    prof.write_text(ROLES)
    base = import_files([FIX / "households.csv", FIX / "members.csv"], FIX / "lgu_survey_2024.toml")
    for prefix in ("lgu_2024_08", "lgu_2024_12"):
        data = import_files(_round_files(tmp_path, prefix), prof)
        for name in ("households", "persons"):
            a = base.tables[name].drop(columns=["_source_file"], errors="ignore")
            b = data.tables[name].drop(columns=["_source_file"], errors="ignore")
            pd.testing.assert_frame_equal(a, b)
        # the same problems, located in this round's files
        assert [(p.code, Path(p.source_file).name) for p in data.report.problems] == \
            [(p.code, f"{prefix}_{'hh' if Path(p.source_file).stem == 'households' else 'members'}.csv")
             for p in base.report.problems]


def test_a_file_no_pattern_matches_is_a_usage_error(tmp_path, capsys):
    prof = tmp_path / "roles.toml"
    prof.write_text(ROLES)
    files = _round_files(tmp_path, "aug")
    odd = tmp_path / "aug_people.csv"
    files[1].rename(odd)
    with pytest.raises(UsageError) as ei:
        import_files([files[0], odd], prof)
    assert ei.value.code == "MD524"
    assert ei.value.message == render("MD524", file=str(odd), profile="lgu_survey_2024",
                                      patterns="households: *households*.csv, *_hh.csv; members: *members*.csv")
    code, out = run(capsys, "import", files[0], odd, "--profile", prof, "--out", tmp_path / "o")
    assert code == 2 and "[MD524]" in out and "Traceback" not in out


def test_files_pattern_errors_in_the_profile_are_located():
    from migdata.errors import DataError

    with pytest.raises(DataError) as ei:
        parse_profile(ROLES.replace('members = "*members*.csv"', "members = 3"))
    assert ei.value.code == "MD501" and ei.value.fields["where"] == "[files] members"


def test_concat_joins_csv_text_columns(tmp_path, capsys):
    # the user's example profile with the id its comment suggests for numbers that restart per barangay
    text = EXAMPLE.read_text().replace('hh_id = { from = "hh_no", dtype = "string" }',
                                       'hh_id = { concat = ["barangay_psgc", "hh_no"], sep = "-" }')
    prof = tmp_path / "p.toml"
    prof.write_text(text)
    data = import_files(EXAMPLE_CSV, prof)
    raw = pd.read_csv(EXAMPLE_CSV, header=2, dtype=str)
    heads = raw.drop_duplicates("hh_no")
    assert data.households["hh_id"].tolist() == (heads["barangay_psgc"] + "-" + heads["hh_no"]).tolist()
    assert data.persons["hh_id"].tolist() == (raw["barangay_psgc"] + "-" + raw["hh_no"]).tolist()
    code, out = run(capsys, "import", EXAMPLE_CSV, "--profile", prof, "--out", tmp_path / "o")
    assert code == 0 and "Internal error" not in out


@pytest.mark.parametrize("seed", range(6))
def test_concat_of_mixed_columns_equals_a_plain_join(seed):
    """Seeded generator: text, integer, float and blank parts in any mix and order; the joined id
    is a plain Python join (missing when a part is missing; numbers without '.0', padded to the
    width when one is given)."""
    rng = random.Random(seed)
    n = 40
    kinds = [rng.choice(["text", "int", "float", "blank_text"]) for _ in range(rng.randint(1, 4))]
    cols, plain = {}, []
    for j, kind in enumerate(kinds):
        if kind == "text":
            vals = [rng.choice(["A", "b7", "0042", "x y", None]) for _ in range(n)]
            s = pd.Series(vals, dtype="string[pyarrow]")
        elif kind == "blank_text":
            s = pd.Series([rng.choice(["", "Q", None]) for _ in range(n)], dtype=object)
        elif kind == "int":
            s = pd.Series([rng.choice([0, 7, 123, None]) for _ in range(n)], dtype="Int64")
        else:
            s = pd.Series([rng.choice([1.0, 25.0, np.nan]) for _ in range(n)], dtype="float64")
        cols[f"c{j}"] = s
    widths = [rng.choice([None, 4]) if k in ("int", "float") else None for k in kinds]
    sep = rng.choice(["-", "", "/"])

    def part(v, k, w):
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
            return None
        if k == "blank_text":
            return None if v == "" else v  # blank text cells are missing values
        if k in ("int", "float"):
            t = str(int(v))
            return t.zfill(w) if w else t
        return v

    for i in range(n):
        parts = [part(cols[f"c{j}"].iloc[i], k, w) for j, (k, w) in enumerate(zip(kinds, widths))]
        plain.append(None if any(p is None for p in parts) else sep.join(parts))
    concat = ", ".join(f'"{c}"' for c in cols)
    wtext = (", widths = [" + ", ".join(str(w or 0) for w in widths) + "]") if any(widths) else ""
    prof = parse_profile(f'''
[profile]
name = "gen"
reader = "csv"
[tables.persons]
from = "t"
[tables.persons.columns]
hh_id = {{ concat = [{concat}], sep = "{sep}"{wtext} }}
line_no = {{ value = 1 }}
''')
    raw = {"t": pd.DataFrame({**cols, "_source_row": range(2, n + 2)})}
    out = apply_profile(prof, raw, Codebook("t.csv", "csv"))["persons"]["hh_id"]
    assert [None if pd.isna(v) else v for v in out] == plain
