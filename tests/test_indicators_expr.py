"""The catalogue's safe expression language: semantics on a 5-row table written here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from migdata.errors import UsageError
from migdata.indicators.expr import evaluate, names
from migdata.model.codes import categorical


@pytest.fixture()
def df() -> pd.DataFrame:
    return pd.DataFrame({
        "age": pd.array([3, 15, 40, None, 70], dtype="Int32"),
        "of_status": categorical(["resident", "ofw_contract", "tourist", None, "ofw_no_contract"], "of_status"),
        "uses": pd.array(["food savings", None, "savings", "foodstuff", "food"], dtype="string"),
        "cash": [0.0, 100.0, np.nan, 5.0, 10.0],
        "flag": pd.array([True, None, False, True, False], dtype="boolean"),
    })


def test_comparisons_and_missing_values(df):
    # row 4 has no age: never in either side
    assert evaluate("age >= 15", df).tolist() == [False, True, True, False, True]
    assert evaluate("not (age >= 15)", df).tolist() == [True, False, False, False, False]
    assert evaluate("age >= 15 and age <= 40", df).tolist() == [False, True, True, False, False]


def test_categorical_in_and_not_in(df):
    assert evaluate("of_status in ['ofw_contract', 'ofw_no_contract']", df).tolist() == \
        [False, True, False, False, True]
    # missing status (row 4) is neither in nor not in
    assert evaluate("of_status not in ['resident']", df).tolist() == [False, True, True, False, True]
    assert evaluate("of_status != 'tourist'", df).tolist() == [True, True, False, False, True]


def test_has_matches_whole_codes_only(df):
    # 'foodstuff' is not the code 'food'
    assert evaluate("has(uses, 'food')", df).tolist() == [True, False, False, False, True]
    assert evaluate("has(uses, 'savings')", df).tolist() == [True, False, True, False, False]


def test_functions_arithmetic_and_booleans(df):
    assert evaluate("notna(cash) and cash > 0", df).tolist() == [False, True, False, True, True]
    assert evaluate("isna(age)", df).tolist() == [False, False, False, True, False]
    np.testing.assert_allclose(evaluate("cash / 2", df), [0, 50, np.nan, 2.5, 5])
    assert evaluate("flag == True", df).tolist() == [True, False, False, True, False]
    assert evaluate("", df).tolist() == [True] * 5
    assert names("notna(cash) and of_status in ['x'] or has(uses, 'y')") == {"cash", "of_status", "uses"}


@pytest.mark.parametrize("bad,what", [
    ("open('x')", "function call open()"),
    ("cash.sum()", "function call cash.sum()"),
    ("cash.real", "attribute access .real"),
    ("[c for c in cash]", "ListComp"),
    ("lambda: 1", "Lambda"),
    ("cash[0]", "Subscript"),
    ("age in cash", "other than a list"),
])
def test_unsafe_constructs_are_refused(df, bad, what):
    with pytest.raises(UsageError) as e:
        evaluate(bad, df)
    assert e.value.code == "MD703" and what in str(e.value)


def test_unknown_column_is_named(df):
    with pytest.raises(UsageError) as e:
        evaluate("shoe_size > 3", df)
    assert e.value.code == "MD704" and "'shoe_size'" in str(e.value)
