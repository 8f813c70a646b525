"""The profile mechanisms of issue 15 on small hand-made inputs: layouts, absent items, value
sets, per-case aggregates (kernel against pandas), optional items, file roles. No real files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from migdata.errors import DataError
from migdata.profiles import parse_profile
from migdata.profiles import fit
from migdata._kernels.keys import run_reduce as _run_reduce
from migdata.profiles.engine import apply_profile
from migdata.readers.codebook import Codebook, Variable

LAYOUTS = """
[profile]
name = "two_layouts"
reader = "csv"
[layouts.old]
doc = "rounds 1-3"
[layouts.new]
items = { Q8 = "Q10", W = "WGT" }
[tables.persons]
from = "P"
[tables.persons.columns]
hh_id = "HH"
line_no = "LN"
age = "Q8"
weight = "W"
"""


def test_layout_is_chosen_by_the_items_a_file_has():
    prof = parse_profile(LAYOUTS)
    assert fit.choose(prof, {"P": {"HH", "LN", "Q8", "W"}}, "a")["name"] == "old"
    assert fit.choose(prof, {"P": {"HH", "LN", "Q10", "WGT", "Q8", "W"}}, "b")["name"] == "old"  # first that fits
    assert fit.choose(prof, {"P": {"HH", "LN", "Q10", "WGT"}}, "c")["name"] == "new"
    with pytest.raises(DataError) as ei:
        fit.choose(prof, {"P": {"HH", "LN", "Q10", "W"}}, "d.csv")
    assert ei.value.code == "MD521"
    assert ei.value.fields["differ"] == "layout old lacks Q8; layout new lacks WGT"


def test_files_of_two_layouts_stack_under_the_profiles_names():
    prof = parse_profile(LAYOUTS)
    cb = Codebook("new.csv", "csv")
    cb.add(Variable(name="Q10", table="P", value_labels={1: "x"}))
    raw = {"P": pd.DataFrame({"HH": ["1"], "LN": [1], "Q10": [33], "WGT": [2.5]})}
    lay = fit.choose(prof, fit.available_items(cb, raw), "new.csv")
    tables, cb2 = fit.to_profile_names(raw, cb, lay)
    assert list(tables["P"].columns) == ["HH", "LN", "Q8", "W"]
    assert cb2.variable("Q8").extra["name_in_file"] == "Q10"
    assert fit.file_items(["HH", "Q8", "W"], lay) == ["HH", "Q10", "WGT"]


def test_absent_items_are_listed_once_each_with_their_columns():
    prof = parse_profile(LAYOUTS.replace("[layouts.old]\ndoc = \"rounds 1-3\"\n[layouts.new]\n"
                                         "items = { Q8 = \"Q10\", W = \"WGT\" }\n", ""))
    assert prof.layouts == []
    with pytest.raises(DataError) as ei:
        fit.choose(prof, {"P": {"HH", "Q8"}}, "x.csv")
    assert ei.value.code == "MD520" and ei.value.fields["items"] == ["LN", "W"]
    assert ei.value.fields["missing"] == "LN (persons.line_no), W (persons.weight)"


@pytest.mark.parametrize("bad, where", [
    ("[layouts]\nold = 3\n", "[layouts]"),
    ("[layouts.x]\ncolour = 1\n", "[layouts.x]"),
    ("[layouts.x]\nitems = { Q8 = 10 }\n", "[layouts.x] items"),
    ("[files]\nP = []\n", "[files] P"),
])
def test_bad_layouts_and_files_tables_are_located(bad, where):
    with pytest.raises(DataError) as ei:
        parse_profile(LAYOUTS.split("[layouts.old]")[0] + bad + "[tables.persons]" + LAYOUTS.split("[tables.persons]")[1])
    assert ei.value.code == "MD501" and ei.value.fields["where"] == where


def test_value_set_differences_both_ways():
    spec = {"codes": {"1": "a", "2": "b", "3:5": "c"}, "missing": [9]}
    new, gone = fit.value_set_differences(spec, {1: "A", 2: "B", 4: "in range", 7: "new", 9: "DK"},
                                          valid=[1, 2, 4, 7, 9])
    assert new == ["7 (new)"] and gone == []
    new, gone = fit.value_set_differences(spec, {1: "A"}, valid=[1])
    assert new == [] and gone == ["2"]
    # without the full list of valid codes (SPSS labels are often partial) no "gone" check
    assert fit.value_set_differences(spec, {1: "A"}) == ([], [])


@pytest.mark.parametrize("seed", range(5))
def test_run_reduce_equals_pandas_groupby(seed):
    """The per-case aggregate kernel against ``pd.Series.groupby(...).agg`` (seeded generator)."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 500))
    runs = np.sort(rng.integers(0, max(2, n // 3), n))
    v = rng.normal(size=n) * 1000
    v[rng.random(n) < 0.3] = np.nan
    starts = np.flatnonzero(np.r_[True, runs[1:] != runs[:-1]])
    for how in ("mean", "sum", "min", "max", "first"):
        expected = pd.Series(v).groupby(runs, sort=False).agg(how).to_numpy()
        np.testing.assert_allclose(_run_reduce(v, starts, how), expected, equal_nan=True, rtol=1e-12)


AGG = """
[profile]
name = "agg"
reader = "csv"
[tables.persons]
from = "P"
[tables.persons.columns]
hh_id = { from = "HH", dtype = "string" }
line_no = "LN"
weight = "W"
[tables.households]
from = "P"
one_per_case = true
keys = ["HH"]
[tables.households.columns]
hh_id = { from = "HH", dtype = "string" }
weight = { from = "W", aggregate = "mean" }
size_w = { from = "W", aggregate = "sum", dtype = "float" }
"""


@pytest.mark.parametrize("contiguous", [True, False])
def test_household_weight_as_the_mean_of_its_members(contiguous):
    hh = ["a", "a", "b", "c", "c", "c"] if contiguous else ["a", "b", "a", "c", "c", "c"]
    w = [1.0, 3.0, 5.0, 2.0, np.nan, 4.0]
    raw = {"P": pd.DataFrame({"HH": hh, "LN": [1, 2, 1, 1, 2, 3], "W": w, "_source_row": range(2, 8)})}
    out = apply_profile(parse_profile(AGG), raw, Codebook("p.csv", "csv"))["households"]
    expected = pd.DataFrame({"HH": hh, "W": w}).groupby("HH", sort=False)["W"].agg(["mean", "sum"])
    assert out["hh_id"].tolist() == list(expected.index)
    assert out["weight"].tolist() == pytest.approx(expected["mean"].tolist())
    assert out["size_w"].tolist() == pytest.approx(expected["sum"].tolist())


def test_aggregate_needs_a_one_row_per_case_table():
    with pytest.raises(DataError) as ei:
        parse_profile(AGG.replace('weight = "W"', 'weight = { from = "W", aggregate = "mean" }'))
    assert ei.value.code == "MD501" and "one_per_case" in ei.value.fields["reason"]
    with pytest.raises(DataError):
        parse_profile(AGG.replace('aggregate = "mean"', 'aggregate = "median"'))


def test_coded_true_false_column_is_typed_boolean_on_mapping():
    # codes = { 1 = true, 2 = false }: typed once on mapping (an object column made validation
    # convert every cell to text); blanks and unlisted codes stay missing
    text = AGG.replace('weight = "W"\n[tables.households]', 'weight = "W"\nflag = { from = "F", codes = { 1 = true, 2 = false }, dtype = "bool" }\n[tables.households]', 1)
    prof = parse_profile(text.replace("[tables.persons.columns]", "[tables.persons.columns]", 1))
    raw = {"P": pd.DataFrame({"HH": ["a", "a", "b"], "LN": [1, 2, 1], "W": [1.0, 2.0, 3.0], "F": [1, 2, None],
                              "_source_row": range(2, 5)})}
    out = apply_profile(prof, raw, Codebook("p.csv", "csv"))["persons"]
    assert str(out["flag"].dtype) == "boolean"
    assert out["flag"].tolist()[:2] == [True, False] and pd.isna(out["flag"].iloc[2])
