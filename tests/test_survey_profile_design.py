"""The design a profile declares for a survey drawn from a list: records outside the sample
reported at import (MD367), and the clear errors of ``[design.calibration]`` (MD346-MD349).

Expected values: the bundled CLB export read with openpyxl (rows whose sample group is blank),
and hand-made fixtures written here; messages rebuilt with ``migdata.errors.render``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from migdata.errors import DesignError, UsageError, render
from migdata.model.spec import CalibrationSpec, DesignSpec
from migdata.survey import Design

KOBO = Path(__file__).resolve().parents[1] / "sample_data" / "kobo"


def test_records_without_their_sample_design_are_reported_and_kept():
    from migdata.importer import import_files

    path = KOBO / "children_left_behind_survey.xlsx"
    if not path.exists():
        pytest.skip(f"{path} is not in this checkout")
    ws = load_workbook(path, read_only=True).worksheets[0]
    rows = ws.iter_rows(values_only=True)
    header = list(next(rows))
    col = header.index("link/sample_stratum")
    blank = [i for i, r in enumerate(rows, start=2) if r[col] in (None, "")]
    assert blank                                                # refusals carry no sample group
    data = import_files([path], "kobo_clb_survey")
    probs = [p for p in data.report.problems if p.code == "MD367"]
    assert sorted(p.source_row for p in probs) == blank
    assert {p.action for p in probs} == {"kept"} and {p.column for p in probs} == {"stratum"}
    c = data.report.counts["clb_survey"]
    assert (c["read"], c["kept"], c["rejected"]) == (53, 53, 0)
    first = min(probs, key=lambda p: p.source_row)
    assert render("MD367", row=first.source_row, table="clb_survey", file="children_left_behind_survey.xlsx",
                  column="stratum") in data.report.summary()


def _df() -> pd.DataFrame:
    return pd.DataFrame({"s": ["a", "a", "a", "b", "b"], "N": [30.0, 30, 30, 20, 20], "weight": [10.0] * 5,
                         "ok": [True, True, False, True, True], "sex": ["f", "m", "f", "m", "f"]})


def test_non_response_by_hand():
    """3 drawn in a (N 30), one refusal: the two respondents carry 15 each; b untouched (N 20)."""
    cal = CalibrationSpec(respondent=(("ok", (True,)),), nonresponse=("s",))
    d = Design.from_spec(_df(), DesignSpec(strata="s", fpc="N", calibration=cal))
    assert d.w.tolist() == [15.0, 15.0, 0.0, 10.0, 10.0]
    est = d.total("ok")            # a domain-free total over the respondents: 30 + 20
    assert float(est["estimate"].iloc[0]) == pytest.approx(50.0)


def test_calibration_errors_are_clear():
    df = _df()
    with pytest.raises(UsageError) as e:
        Design.from_spec(df, DesignSpec(strata="s", fpc="N", calibration=CalibrationSpec(
            respondent=(("consent", (True,)),))))
    assert str(e.value) == render("MD349", column="consent", unit="person", known="s, N, weight, ok, sex")
    with pytest.raises(DesignError) as e:
        Design.from_spec(df, DesignSpec(strata="s", calibration=CalibrationSpec(nonresponse=("s",))))
    assert str(e.value) == render("MD347", cells="s", detail="the design has no FPC")
    with pytest.raises(DesignError) as e:      # non-response cells that are not the strata
        Design.from_spec(df, DesignSpec(strata="s", fpc="N", calibration=CalibrationSpec(nonresponse=("sex",))))
    assert str(e.value) == render("MD347", cells="sex", detail="the FPC differs within cell 'f' (20 and 30), so "
                                                                 "the cells are not the strata")
    totals = {"person": [{"columns": ["region"], "cells": [["r1"]], "total": [50.0]}]}
    with pytest.raises(UsageError) as e:
        Design.from_spec(df, DesignSpec(strata="s", fpc="N", calibration=CalibrationSpec(
            margins=(("region",),), totals=totals)))
    assert str(e.value) == render("MD348", column="region", margin="region", unit="person",
                                  known="s, N, weight, ok, sex")
    with pytest.raises(UsageError) as e:
        CalibrationSpec.from_dict({"method": "poststratify", "margins": [["s"], ["sex"]]})
    assert str(e.value) == render("MD346", margins="s and sex")
    with pytest.raises(UsageError) as e:
        DesignSpec(strata="s", missing_design="drop")
    assert str(e.value) == render("MD307", what="missing_design rule", value="drop", choices="fail, exclude")


def _random_survey(rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for h in range(int(rng.integers(2, 6))):
        N = int(rng.integers(8, 60))
        n = int(rng.integers(2, min(N, 12) + 1))
        rows += [{"s": f"h{h}", "N": float(N), "weight": N / n} for _ in range(n)]
    df = pd.DataFrame(rows)
    df["sex"] = rng.choice(["f", "m"], len(df))
    df["y"] = rng.normal(10, 3, len(df)).round(2)
    return df


@pytest.mark.parametrize("seed", range(8))
def test_records_outside_the_design_change_no_estimate(seed):
    """Seeded generator: refusals and records without a stratum, added anywhere, leave every
    estimate, SE and df of the weighted respondents as they are without them (R's design on
    the respondents); the weights of the added records are 0."""
    rng = np.random.default_rng(seed)
    resp = _random_survey(rng).assign(ok=True)
    tot = resp.groupby("s")["N"].first()
    sexes = {"f": float(tot.sum()) * 0.52, "m": float(tot.sum()) * 0.48}
    cal = CalibrationSpec.from_dict({
        "respondent": {"ok": True}, "nonresponse": ["s"], "margins": [["sex"]], "method": "raking",
        "totals": {"person": [{"columns": ["sex"], "cells": [["f"], ["m"]], "total": list(sexes.values())}]}})
    spec = DesignSpec(strata="s", fpc="N", lonely_psu="adjust", missing_design="exclude", calibration=cal)
    k = int(rng.integers(1, 6))
    extra = resp.sample(k, random_state=seed).assign(ok=False)          # refusals of drawn strata
    extra.loc[extra.index[: k // 2], ["s", "N"]] = [None, np.nan]       # and records not from the list
    extra["y"] = rng.normal(100, 50, k)                                 # far off: any leak would show
    full = pd.concat([resp, extra]).sample(frac=1, random_state=seed).reset_index(drop=True)
    a, b = Design.from_spec(resp, spec), Design.from_spec(full, spec)
    assert (b.w[~full["ok"].to_numpy()] == 0).all()
    for f in (lambda d: d.mean("y"), lambda d: d.total("y"), lambda d: d.mean("y", by=["sex"])):
        x, y = f(a), f(b)
        for col in ("estimate", "se", "df"):
            np.testing.assert_allclose(y[col].to_numpy(float), x[col].to_numpy(float), rtol=1e-12)
