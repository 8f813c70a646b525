"""One problem reporter: every step records problems through ``ImportReport.record``, which lists
the first ``max_listed`` of each (code, table, column) and counts the rest. Expected counts are
hand counts of the small files written here."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from migdata.errors import render
from migdata.importer import import_files
from migdata.model import HouseholdData, ImportReport, validate

FIX = Path(__file__).parent / "fixtures" / "profiles_engine"
PROFILE = FIX / "lgu_survey_2024.toml"


def test_the_cap_lists_the_first_and_counts_the_rest_per_kind():
    r = ImportReport(max_listed=3)
    assert r.record("MD105", table="persons", column="age", rows=range(10, 15), values=[200] * 5,
                    action="set_missing", min=0, max=120) == 5
    r.record("MD105", table="persons", column="line_no", rows=[7], values=[0], action="rejected",
             min=1, max=99)  # another column: its own cap
    r.add("MD105", table="persons", source_row=99, column="age", value=300, action="set_missing")
    assert [(p.column, p.source_row) for p in r.problems] == [("age", 10), ("age", 11), ("age", 12),
                                                              ("line_no", 7)]
    assert r.unlisted == {("MD105", "persons", "age", "set_missing"): 3} and r.n_problems == 7
    assert render("MD116", n=3, kind="MD105", table="persons", column="age", cap=3) in r.summary()
    assert "7 problem(s)" in r.summary() and "MD105 value in range (set_missing): 6" in r.summary()
    back = ImportReport.from_dict(r.to_dict())
    assert back.unlisted == r.unlisted and back.n_problems == 7
    # rows beyond the cap are still known to the reject policy (not saved in the manifest)
    assert sorted(row for *_, row in r.rows_with(["MD105"])) == [7, 10, 11, 12, 13, 14, 99]


def test_merged_reports_keep_one_cap():
    """Columns mapped in threads report into their own reports; merged, the cap still holds."""
    a, b = ImportReport(max_listed=2), ImportReport(max_listed=2)
    a.record("MD504", table="persons", column="sex", rows=[1, 2], values=["X", "Y"], action="set_missing")
    b.record("MD504", table="persons", column="sex", rows=[3, 4, 5], values=["X"] * 3, action="set_missing")
    a.extend(b)
    assert [p.source_row for p in a.problems] == [1, 2]
    assert a.unlisted == {("MD504", "persons", "sex", "set_missing"): 3}
    assert sorted(row for *_, row in a.rows_with(["MD504"])) == [1, 2, 3, 4, 5]



def test_rows_dropped_from_a_report_listed_or_counted():
    """Problems of rows a later step removes (a repeated case's later household, in a streaming
    import) are forgotten whether listed or counted beyond the cap; other tables keep theirs."""
    r = ImportReport(max_listed=2)
    r.record("MD504", table="households", column="tenure", rows=[3, 5, 8, 9], values=["X"] * 4,
             action="set_missing")
    r.record("MD504", table="persons", column="sex", rows=[8], values=["X"], action="set_missing")
    r.drop_rows("households", lambda at: ((at["_source_row"] >= 5) & (at["_source_row"] < 9)).to_numpy())
    assert [(p.table, p.source_row) for p in r.problems] == [("households", 3), ("persons", 8)]
    assert r.unlisted == {("MD504", "households", "tenure", "set_missing"): 1} and r.n_problems == 3
    assert sorted(row for *_, row in r.rows_with(["MD504"])) == [3, 8, 9]
    r.record("MD504", table="households", column="tenure", rows=[10], values=["X"], action="set_missing")
    assert [p.source_row for p in r.problems] == [3, 8, 10]  # the freed place of the cap is used


def test_a_line_number_from_a_float_column_reads_as_a_whole_number():
    """Line numbers of a column with gaps (a left join) are floats: the message says row 5114."""
    r = ImportReport()
    r.record("MD504", table="persons", column="sex", rows=pd.Series([5114.0, float("nan")]),
             values=["X", "Y"], action="set_missing")
    assert [p.source_row for p in r.problems] == [5114, None]
    assert "row 5114 of" in r.problems[0].message and "5114.0" not in r.problems[0].message


def test_chunk_reports_merged_in_order_equal_one_report():
    """A streaming import records each chunk in its own report and merges them in file order
    (``extend_problems``, with what each chunk counted but did not list): the same listed
    problems, counts and rows as one report of the whole file, for random chunk cuts and caps
    (seeded)."""
    import numpy as np

    rng = np.random.default_rng(17)
    for _ in range(40):
        cap = int(rng.integers(1, 6))
        n = int(rng.integers(0, 25))
        rows = np.sort(rng.choice(1000, n, replace=False)) + 1
        cols = rng.choice(["sex", "age"], n)
        whole = ImportReport(max_listed=cap)
        for c in ("sex", "age"):
            whole.record("MD504", table="persons", column=c, rows=rows[cols == c],
                         values=["X"] * int((cols == c).sum()), action="set_missing")
        cuts = np.sort(rng.choice(np.arange(1, max(n, 1) + 1), int(rng.integers(0, 4)), replace=True))
        chunks = []
        for part in np.split(np.arange(n), cuts):
            r = ImportReport(max_listed=cap)  # a chunk's own report, with the import's cap
            for c in ("sex", "age"):
                sel = part[cols[part] == c]
                r.record("MD504", table="persons", column=c, rows=rows[sel], values=["X"] * len(sel),
                         action="set_missing")
            chunks.append(r)
        merged = ImportReport(max_listed=cap)
        # listed problems of one kind in chunk order (kinds in order of first appearance)
        groups: dict = {}
        for r in chunks:
            for p in r.problems:
                groups.setdefault(p.column, []).append(p)
        merged.extend_problems([p for c in groups for p in groups[c]], chunks)
        assert sorted((p.column, p.source_row) for p in merged.problems) == \
            sorted((p.column, p.source_row) for p in whole.problems)
        assert merged.unlisted == whole.unlisted and merged.n_problems == whole.n_problems == n
        assert sorted(merged.rows_with(["MD504"])) == sorted(whole.rows_with(["MD504"]))

def test_one_value_per_problem_and_key_columns_as_the_record():
    r = ImportReport()
    keys = pd.DataFrame({"hh_id": ["h1", "h2"], "line_no": [1, 3]})
    r.record("MD105", table="persons", column="age", rows=pd.Series([4, 6], index=[10, 20]),
             values=pd.Series([250, -1], index=[10, 20]), records=keys, source_file="f.csv",
             action="set_missing", min=0, max=120)
    p = r.problems[1]
    assert (p.source_row, p.value, p.record) == (6, -1, "hh_id h2 line_no 3")
    assert p.message == render("MD105", table="persons", record="hh_id h2 line_no 3", row=6, file="f.csv",
                               column="age", value=-1, min=0, max=120)


def _members(tmp_path: Path, n_bad: int, n_good: int) -> list[Path]:
    hh = ["hh_no,municipality_code,urban,head_name,phone,remit_php"]
    pp = ["hh_no,line,sex,age,rel,ofw,member_name"]
    for i in range(n_bad + n_good):
        hh.append(f"H{i:05d},0401007000,U,,,0")
        pp.append(f"H{i:05d},1,{'Q' if i < n_bad else 'F'},{30 + i % 50},1,5,")
    (tmp_path / "households.csv").write_text("\n".join(hh) + "\n")
    (tmp_path / "members.csv").write_text("\n".join(pp) + "\n")
    return [tmp_path / "households.csv", tmp_path / "members.csv"]


def test_mapping_problems_beyond_the_cap_are_counted_and_rejected_under_reject(tmp_path):
    # hand count: 1,200 members with the unmapped sex code Q, 100 with F, one per household
    files = _members(tmp_path, 1200, 100)
    lenient = import_files(files, PROFILE)
    listed = [p for p in lenient.report.problems if p.code == "MD504"]
    assert len(listed) == 1000 and lenient.report.unlisted == {("MD504", "persons", "sex", "set_missing"): 200}
    assert lenient.report.counts["persons"] == {"read": 1300, "kept": 1300, "rejected": 0}
    # reject: every row with the problem goes, listed or not (before, only the 1,000 listed did)
    strict_rows = import_files(files, PROFILE, policy="reject")
    assert strict_rows.report.counts["persons"] == {"read": 1300, "kept": 100, "rejected": 1200}
    assert len(strict_rows.persons) == 100 and set(strict_rows.persons["sex"]) == {"female"}
    assert strict_rows.report.unlisted[("MD504", "persons", "sex", "rejected")] == 200


def test_validation_problems_beyond_the_cap_are_counted():
    n = 1500  # hand count: every person is 130 years old
    hh = pd.DataFrame({"hh_id": [f"h{i}" for i in range(n)], "weight": 1.0, "source": "t",
                       "_source_row": range(2, n + 2)})
    pp = pd.DataFrame({"hh_id": hh["hh_id"], "line_no": 1, "sex": "male", "age": 130,
                       "relationship": "head", "_source_row": range(2, n + 2)})
    out = validate(HouseholdData({"households": hh, "persons": pp}))
    assert len(out.report.problems) == 1000
    assert out.report.unlisted == {("MD105", "persons", "age", "set_missing"): 500}
    assert out.persons["age"].isna().sum() == n  # all blanked, listed or not


def test_a_quoted_value_does_not_depend_on_the_other_rows():
    """A duplicate line number is quoted as the integer it is, though another row's line number
    is missing (whose numpy form would turn the whole column into floats: 1.0)."""
    hh = pd.DataFrame({"hh_id": ["a", "b"], "weight": [1.0, 1.0], "source": ["t", "t"]})
    pp = pd.DataFrame({"hh_id": ["a", "a", "b"], "line_no": pd.array([1, 1, None], dtype="Int32"),
                       "sex": ["male", "female", "male"], "age": [30, 31, 5],
                       "relationship": ["head", "spouse", "head"]})
    data = validate(HouseholdData({"households": hh, "persons": pp}, provenance={"sources": ["t"]}))
    dup = [p for p in data.report.problems if p.code == "MD109"]
    assert [p.value for p in dup] == [1] and type(dup[0].value) is int
    assert "line_no 1," in dup[0].message
