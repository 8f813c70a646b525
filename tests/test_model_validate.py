"""Validation of the tidy tables: each bad-input case gives a located, catalogued problem and
rows read = kept + rejected. Expected counts are hand counts on the small fixture below."""

from __future__ import annotations

import pandas as pd
import pytest

from migdata.errors import DataError, render
from migdata.model import HouseholdData, validate


def make(hh_rows, pp_rows):
    hh = pd.DataFrame(hh_rows, columns=["hh_id", "weight", "source", "_source_row"])
    pp = pd.DataFrame(pp_rows, columns=["hh_id", "line_no", "sex", "age", "relationship", "_source_row"])
    return HouseholdData({"households": hh, "persons": pp}, provenance={"files": ["fixture.csv"]})


GOOD_HH = [("h1", 1.0, "t", 2), ("h2", 1.0, "t", 3)]
GOOD_PP = [("h1", 1, "female", 40, "head", 2), ("h1", 2, "male", 12, "child", 3),
           ("h2", 1, "male", 70, "head", 4)]


def test_clean_data_has_no_problems_and_typed_columns():
    out = validate(make(GOOD_HH, GOOD_PP))
    assert out.report.problems == []
    assert out.report.counts["persons"] == {"read": 3, "kept": 3, "rejected": 0}
    assert list(out.persons["sex"].cat.categories) == ["male", "female"]
    assert str(out.persons["age"].dtype) == "Int32"


def test_duplicate_household_id_rejects_the_second_row():
    out = validate(make(GOOD_HH + [("h1", 2.0, "t", 9)], GOOD_PP))
    [p] = out.report.problems
    assert (p.code, p.table, p.source_row, p.value, p.action) == ("MD108", "households", 9, "h1", "rejected")
    assert p.message == render("MD108", table="households", file="fixture.csv", row=9, column="hh_id",
                               value="h1", record="hh_id h1")
    assert out.report.counts["households"] == {"read": 3, "kept": 2, "rejected": 1}


def test_person_whose_household_is_missing_is_rejected():
    out = validate(make(GOOD_HH, GOOD_PP + [("h9", 1, "male", 30, "head", 7)]))
    [p] = out.report.problems
    assert (p.code, p.source_row, p.column, p.value) == ("MD110", 7, "hh_id", "h9")
    assert out.report.counts["persons"] == {"read": 4, "kept": 3, "rejected": 1}


@pytest.mark.parametrize("age", [250, -1])
def test_age_out_of_range_is_blanked_under_lenient(age):
    out = validate(make(GOOD_HH, GOOD_PP[:2] + [("h2", 1, "male", age, "head", 4)]))
    [p] = out.report.problems
    assert (p.code, p.column, p.value, p.action, p.source_row) == ("MD105", "age", age, "set_missing", 4)
    assert "0 to 120" in p.message and "hh_id h2 line_no 1" in p.message
    assert out.persons["age"].isna().sum() == 1
    assert out.report.counts["persons"]["kept"] == 3


def test_age_out_of_range_rejects_the_row_under_reject_policy():
    out = validate(make(GOOD_HH, GOOD_PP + [("h2", 2, "female", 250, "spouse", 5)]), policy="reject")
    assert out.report.counts["persons"] == {"read": 4, "kept": 3, "rejected": 1}


def test_sex_code_3_is_reported_as_unknown_code():
    out = validate(make(GOOD_HH, GOOD_PP[:2] + [("h2", 1, "3", 70, "head", 4)]))
    [p] = out.report.problems
    assert (p.code, p.column, p.value) == ("MD104", "sex", "3")
    assert "male, female" in p.message


def test_strict_policy_fails_with_the_first_problems():
    with pytest.raises(DataError) as e:
        validate(make(GOOD_HH, GOOD_PP + [("h2", 2, "female", 250, "spouse", 5)]), policy="strict")
    assert e.value.code == "MD119"
    assert "250" in str(e.value)
    assert e.value.report.problems[0].action == "failed"


def test_household_without_members_and_two_heads():
    hh = GOOD_HH + [("h3", 1.0, "t", 4)]
    pp = GOOD_PP + [("h2", 2, "female", 68, "head", 5)]
    out = validate(make(hh, pp))
    codes = sorted(p.code for p in out.report.problems)
    assert codes == ["MD111", "MD112"]
    assert out.report.counts["households"] == {"read": 3, "kept": 2, "rejected": 1}


def test_missing_required_column_is_an_error():
    d = make(GOOD_HH, GOOD_PP)
    d.tables["persons"] = d.persons.drop(columns=["sex"])
    with pytest.raises(DataError) as e:
        validate(d)
    assert e.value.code == "MD101" and "sex" in str(e.value)


def test_text_in_number_field():
    out = validate(make(GOOD_HH, GOOD_PP[:2] + [("h2", 1, "male", "seventy", "head", 4)]))
    [p] = out.report.problems
    assert (p.code, p.value) == ("MD103", "seventy")


def test_standalone_survey_table_without_household_model():
    # a table the model does not declare passes through untouched
    survey = pd.DataFrame({"resp_id": [1, 2], "income_abroad_monthly": [30000, 45000]})
    out = validate(HouseholdData({"my_survey": survey}))
    assert list(out.tables) == ["my_survey"] and out.report.problems == []


def test_declared_survey_table_has_its_key_and_number_rules():
    """of_survey is declared in schema.toml: hand count on four responses: row 3 repeats the
    submission id of row 2 (MD113, rejected), row 5 has none (MD107, rejected), row 2's income
    is inf (MD117, set missing). Then a zero weight is reported and kept (lenient: a design
    gives it no weight), a missing one rejects its row under every policy (MD118)."""
    survey = pd.DataFrame({"response_id": ["u1", "u2", "u2", None],
                           "income_abroad_monthly": ["30000", "inf", "45000", "1"],
                           "weight": [1.0, 1.0, 1.0, 1.0], "_source_row": [2, 3, 4, 5]})
    out = validate(HouseholdData({"of_survey": survey}))
    got = sorted((p.code, p.source_row, p.action) for p in out.report.problems)
    assert got == [("MD107", 5, "rejected"), ("MD113", 4, "rejected"), ("MD117", 3, "set_missing")]
    assert out.report.counts["of_survey"] == {"read": 4, "kept": 2, "rejected": 2}
    assert out.tables["of_survey"]["income_abroad_monthly"].isna().tolist() == [False, True]
    survey.loc[0, "weight"], survey.loc[1, "weight"] = 0.0, None
    for policy, kept in (("lenient", 1), ("reject", 0)):
        out = validate(HouseholdData({"of_survey": survey.iloc[:2]}), policy=policy)
        got = sorted((p.code, p.source_row, p.action) for p in out.report.problems if p.column == "weight")
        zero = "kept" if policy == "lenient" else "rejected"
        assert got == [("MD105", 2, zero), ("MD118", 3, "rejected")]
        assert out.report.counts["of_survey"]["kept"] == kept
    assert "more than 0" in [p for p in out.report.problems if p.code == "MD105"][0].message


def test_persons_without_households_is_an_error():
    d = make(GOOD_HH, GOOD_PP)
    del d.tables["households"]
    with pytest.raises(DataError) as e:
        validate(d)
    assert e.value.code == "MD102"


def test_unknown_and_malformed_psgc_are_reported_and_areas_derived():
    hh = pd.DataFrame({"hh_id": ["h1", "h2", "h3"], "weight": 1.0, "source": "t",
                       "psgc": ["0403405010", "0403499999", "43405010"], "_source_row": [2, 3, 4]})
    pp = pd.DataFrame({"hh_id": ["h1", "h2", "h3"], "line_no": 1, "sex": "male", "age": 30,
                       "relationship": "head", "_source_row": [2, 3, 4]})
    out = validate(HouseholdData({"households": hh, "persons": pp}))
    got = sorted((p.code, p.value) for p in out.report.problems)
    # 0403499999: right form, no such barangay; 43405010: 8 digits, wrong form
    assert got == [("MD106", "43405010"), ("MD114", "0403499999")]
    h = out.households.set_index("hh_id")
    # Calamba (0403405) is in Laguna (0403400000), Region IV-A (0400000000)
    assert h.loc["h1", "province"] == "0403400000" and h.loc["h1", "region"] == "0400000000"
    assert pd.isna(h.loc["h2", "psgc"]) and pd.isna(h.loc["h3", "psgc"])


def test_validation_never_changes_the_callers_tables():
    # the checker works on a shallow copy: a blanked value must not reach the input frame
    d = make(GOOD_HH, GOOD_PP[:2] + [("h2", 1, "male", 250, "head", 4)])
    before = d.persons.copy(deep=True)
    out = validate(d)
    assert out.persons["age"].isna().sum() == 1
    pd.testing.assert_frame_equal(d.persons, before)


def test_shipped_profiles_map_only_columns_the_schema_declares():
    """A stand-alone survey table is typed by the schema alone: a column a shipped profile maps
    (or its hooks derive) into a declared table must be declared, or it would stay untyped."""
    from migdata.model.schema import schema
    from migdata.profiles import list_profiles, load_profile

    undeclared = []
    for name in list_profiles()["name"]:
        prof = load_profile(name)
        for table, tspec in prof.tables.items():
            if table in ("households", "persons") or table not in schema():
                continue
            declared = schema()[table]["columns"]
            for col, spec in tspec["columns"].items():
                out = [col] + ([spec["source_column"]] if spec.get("source_column") else [])
                undeclared += [f"{name}: {table}.{c}" for c in out
                               if not c.startswith("_") and not spec.get("drop") and c not in declared]
    assert not undeclared, undeclared


@pytest.mark.parametrize("seed", range(4))
def test_true_false_objects_read_as_their_text(seed):
    # a hook's flags arrive as True/False objects with None/NaN/NA: typed without a string per
    # row, they must equal what the text "True"/"False" reads as (the path for any other column)
    import importlib

    import numpy as np

    from migdata.model.report import ImportReport

    v = importlib.import_module("migdata.model.validate")
    rng = np.random.default_rng(seed)
    pool = [True, False, None, np.nan, pd.NA, np.True_, np.False_]
    vals = [pool[i] for i in rng.integers(0, len(pool), 300)]
    text = [None if (x is None or x is pd.NA or (isinstance(x, float) and np.isnan(x))) else str(bool(x)) for x in vals]
    got, want = ({"hh_id": [f"h{i}" for i in range(300)], "line_no": 1, "sex": "female", "age": 30,
                  "relationship": "head", "owwa_member": col}
                 for col in (pd.Series(vals, dtype=object), pd.Series(text, dtype=object)))
    out = [v._check_table(pd.DataFrame(d), "persons", ImportReport(), "lenient", None) for d in (got, want)]
    assert str(out[0].df["owwa_member"].dtype) == "boolean"
    pd.testing.assert_series_equal(out[0].df["owwa_member"], out[1].df["owwa_member"])
    assert out[0].report.problems == out[1].report.problems == []
