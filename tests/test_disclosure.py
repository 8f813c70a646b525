"""Disclosure control: primary and secondary suppression on hand-made tables; the margins of the
result cannot reveal any suppressed cell (checked by linear algebra, not by the code under test)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from migdata.errors import UsageError
from migdata.publish.disclosure import singletons, suppress

sys.path.insert(0, str(Path(__file__).parent))


def city_table() -> pd.DataFrame:
    # counts of OFWs: three barangays of one city, by sex (Total = male + female)
    rows = [  # level, code, parent, sex, count
        ("city", "C", "", "Total", 31), ("city", "C", "", "male", 15), ("city", "C", "", "female", 16),
        ("barangay", "B1", "C", "Total", 6), ("barangay", "B1", "C", "male", 5), ("barangay", "B1", "C", "female", 1),
        ("barangay", "B2", "C", "Total", 11), ("barangay", "B2", "C", "male", 4), ("barangay", "B2", "C", "female", 7),
        ("barangay", "B3", "C", "Total", 14), ("barangay", "B3", "C", "male", 6), ("barangay", "B3", "C", "female", 8),
    ]
    t = pd.DataFrame(rows, columns=["area_level", "area_code", "parent_code", "sex", "numerator"])
    return t.assign(indicator_id="OF02", category="", units=t["numerator"], n=t["numerator"],
                    estimate=t["numerator"].astype(float), flag="complete_count")


def recoverable(t: pd.DataFrame) -> list[str]:
    """Suppressed cells whose value follows from the published cells and the table's additive
    relations (sex: male + female = Total; area: barangays = city): a cell is recoverable when
    its unit vector lies in the row space of the relations restricted to the unknowns."""
    sup = t["suppressed"].to_numpy()
    idx = {(r.area_code, r.sex): i for i, r in enumerate(t.itertuples())}
    unknown = [i for i in range(len(t)) if sup[i]]
    col = {i: j for j, i in enumerate(unknown)}
    eqs = []
    for code in ("C", "B1", "B2", "B3"):
        eqs.append([(idx[(code, "male")], 1), (idx[(code, "female")], 1), (idx[(code, "Total")], -1)])
    for sex in ("Total", "male", "female"):
        eqs.append([(idx[(b, sex)], 1) for b in ("B1", "B2", "B3")] + [(idx[("C", sex)], -1)])
    A = np.zeros((len(eqs), len(unknown)))
    for r, eq in enumerate(eqs):
        for i, coef in eq:
            if i in col:
                A[r, col[i]] = coef
    out = []
    rank = np.linalg.matrix_rank(A)
    for i in unknown:
        e = np.zeros(len(unknown))
        e[col[i]] = 1
        if np.linalg.matrix_rank(np.vstack([A, e])) == rank:
            out.append(f"{t.loc[i, 'area_code']}/{t.loc[i, 'sex']}")
    return out


def test_primary_forces_secondary_and_margins_do_not_reveal():
    t = suppress(city_table(), k=3, by=["sex"])
    got = {(r.area_code, r.sex): r.suppression for r in t.itertuples() if r.suppressed}
    # B1 female = 1 < 3: primary. Then: B1 male (only other cell of B1's sex margin);
    # female column: smallest other barangay is B2 (7 < 8); male column: B2 (4 < 6).
    assert got == {("B1", "female"): "primary", ("B1", "male"): "secondary",
                   ("B2", "female"): "secondary", ("B2", "male"): "secondary"}
    assert recoverable(t) == []
    assert singletons(t, by=["sex"]) == 0
    # rows are never dropped
    assert len(t) == 12


def test_without_secondary_the_cell_would_be_recoverable():
    t = city_table()
    t["suppressed"] = (t["units"] < 3).to_numpy()
    assert recoverable(t) == ["B1/female"]


def test_threshold_is_configurable():
    t = suppress(city_table(), k=5, by=["sex"])
    # primary: cells of 1..4 units: B1 female (1), B2 male (4)
    prim = {(r.area_code, r.sex) for r in t.itertuples() if r.suppression == "primary"}
    assert prim == {("B1", "female"), ("B2", "male")}
    assert recoverable(t) == []
    t1 = suppress(city_table(), k=1, by=["sex"])
    assert not t1["suppressed"].any()


def test_zero_cells_are_not_primary():
    t = city_table()
    t.loc[t["area_code"] == "B3", ["units", "n", "numerator"]] = 0
    out = suppress(t, k=3, by=["sex"])
    assert not out.loc[out["area_code"] == "B3", "suppression"].eq("primary").any()


def test_survey_rows_are_left_to_the_reliability_policy():
    t = city_table().assign(flag="caution")
    out = suppress(t, k=3, by=["sex"])
    assert not out["suppressed"].any()


def test_distribution_categories_hide_a_second_cell():
    # OFWs of one barangay by country: SAU 10, HKG 1, USA 4 of 15 (published denominator)
    t = pd.DataFrame({"indicator_id": "OF05", "area_level": "barangay", "area_code": "B", "parent_code": "",
                      "category": ["SAU", "HKG", "USA"], "numerator": [10, 1, 4], "units": [10, 1, 4],
                      "denominator": 15, "n": 15, "flag": "complete_count"})
    out = suppress(t, k=3, by=[])
    # HKG primary; 15 - 10 - 4 would give it back, so the smallest other (USA, 4) goes too
    assert dict(zip(out["category"], out["suppression"])) == {"SAU": "", "HKG": "primary", "USA": "secondary"}


def test_bad_arguments():
    with pytest.raises(UsageError) as e:
        suppress(city_table(), k=0)
    assert e.value.code == "MD708"
    with pytest.raises(UsageError) as e:
        suppress(city_table().drop(columns=["units"]), k=3)
    assert e.value.code == "MD709" and "units" in str(e.value)  # MD713 was not in the catalogue


def test_evaluator_output_has_no_singleton_after_suppression():
    from test_indicators import fixture_data

    from migdata.publish.tables import compute

    t = compute(fixture_data(), ids=["OF01", "OF02", "OF05", "HH01", "CL02"], level="barangay",
                by=["sex", "age_group"], k=3)
    assert t["suppressed"].any() and (t["suppression"] == "secondary").any()
    assert singletons(t) == 0
    # Adia has 2 OFWs (A2, B2): primary; Bagong Sikat 2 (D1, D2): primary; city 4 stays
    of02 = t[(t["indicator_id"] == "OF02") & (t["sex"] == "Total") & (t["age_group"] == "Total")]
    got = dict(zip(of02["area_code"], of02["suppression"]))
    assert got["0401001001"] == "primary" and got["0401001002"] == "primary" and got["0401001000"] == ""
