"""A survey extract calibrated to population totals given as data in its profile (an LFS-like
survey calibrated to PSA population projections), and the checks on such totals.

The bundled ``lfs_like_survey.sav`` is imported with a copy of the ``sample_survey`` profile
that adds ``[design.calibration]`` with totals by province and sex written here (the
"projections": numbers of this test). Expected values: the totals themselves (the calibrated
weights must reproduce them) and live R ``calibrate(calfun = "raking", epsilon = 1e-11)`` on the
same person frame (means, totals, domain means and their SEs to 1e-8 relative; skipped without R).
"""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from migdata.errors import UsageError, render

ROOT = Path(__file__).resolve().parents[1]
SAV = ROOT / "sample_data" / "lfs_like_survey.sav"
PROFILE = ROOT / "migdata" / "profiles" / "sample_survey.toml"
PROVINCES = {"0401000000": 3.9e6, "0402100000": 4.5e6, "0403400000": 3.3e6, "0405600000": 2.1e6,
             "0405800000": 3.2e6}
SEXES = {"male": 8.55e6, "female": 8.45e6}   # sums to the provinces' 17.0 M

CALIBRATION = """
[design.calibration]
margins = [["psgc"], ["sex"]]
method = "raking"

[[design.calibration.totals.person]]
columns = ["psgc"]
cells = [{prov_cells}]
total = [{prov_totals}]

[[design.calibration.totals.person]]
columns = ["sex"]
cells = [["male"], ["female"]]
total = [{male}, {female}]
"""


def _profile(tmp: Path) -> Path:
    text = PROFILE.read_text(encoding="utf-8").replace('name = "sample_survey"', 'name = "sample_survey_calibrated"')
    cal = CALIBRATION.format(prov_cells=", ".join(f'["{p}"]' for p in PROVINCES),
                             prov_totals=", ".join(f"{v:.1f}" for v in PROVINCES.values()),
                             male=SEXES["male"], female=SEXES["female"])
    # the calibration table goes right after [design] (before the first [tables...])
    head, sep, tail = text.partition("\n[tables.")
    out = tmp / "sample_survey_calibrated.toml"
    out.write_text(head + cal + sep + tail, encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from migdata.importer import import_files

    if not SAV.exists():
        pytest.skip(f"{SAV} is not in this checkout")
    return import_files([SAV], _profile(tmp_path_factory.mktemp("lfs_profile")))


def test_calibrated_weights_reproduce_the_profile_totals(data):
    d = data.design("person")
    f = data.frame("person")
    w = pd.Series(d.w)
    assert w.groupby(f["psgc"].astype(str).to_numpy()).sum().to_dict() == \
        {p: pytest.approx(v, rel=1e-9) for p, v in PROVINCES.items()}
    assert w.groupby(f["sex"].astype(str).to_numpy()).sum().to_dict() == \
        {s: pytest.approx(v, rel=1e-9) for s, v in SEXES.items()}
    assert "calibrated (raking) to the profile's totals by psgc; sex" in data.spec.describe("person")


R_SCRIPT = r"""
suppressMessages(library(survey))
args <- commandArgs(TRUE)
d <- read.csv(args[1], stringsAsFactors = FALSE, colClasses = c(psgc = "character"))
d$psgc <- factor(d$psgc, levels = c("0401000000", "0402100000", "0403400000", "0405600000", "0405800000"))
d$sex <- factor(d$sex, levels = c("female", "male"))
x <- svydesign(ids = ~psu, strata = ~stratum, weights = ~weight, data = d, nest = TRUE)
pop <- c(`(Intercept)` = 17.0e6, psgc0402100000 = 4.5e6, psgc0403400000 = 3.3e6, psgc0405600000 = 2.1e6,
         psgc0405800000 = 3.2e6, sexmale = 8.55e6)
x <- calibrate(x, ~psgc + sex, pop, calfun = "raking", epsilon = 1e-11)
out <- list()
add <- function(kind, dom, est, se) out[[length(out) + 1]] <<- data.frame(kind = kind, dom = dom,
                                                                          estimate = as.numeric(est), se = as.numeric(se))
m <- svymean(~age, x); add("mean", "all", coef(m), SE(m))
t <- svytotal(~age, x); add("total", "all", coef(t), SE(t))
b <- svyby(~age, ~psgc, x, svymean); add("mean_psgc", as.character(b$psgc), coef(b), SE(b))
add("weights", as.character(seq_len(nrow(d))), weights(x), NA)
write.csv(do.call(rbind, out), args[2], row.names = FALSE)
"""


def test_profile_totals_calibration_agrees_with_r(data, rscript, tmp_path):
    f = data.frame("person")
    d = data.design("person")
    base = data.design("person", calibration=None)
    cols = f[["psgc", "sex", "stratum", "psu", "age"]].astype({"psgc": str, "sex": str})
    cols["weight"] = base.w
    cols.to_csv(tmp_path / "d.csv", index=False, float_format="%.17g")
    (tmp_path / "c.R").write_text(textwrap.dedent(R_SCRIPT))
    run = subprocess.run([rscript, str(tmp_path / "c.R"), str(tmp_path / "d.csv"), str(tmp_path / "r.csv")],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    R = pd.read_csv(tmp_path / "r.csv", dtype={"dom": str})
    np.testing.assert_allclose(d.w, R[R["kind"] == "weights"]["estimate"], rtol=1e-8)
    for kind, o in (("mean", d.mean("age")), ("total", d.total("age"))):
        r = R[R["kind"] == kind]
        np.testing.assert_allclose(o[["estimate", "se"]].to_numpy(float).ravel(),
                                   r[["estimate", "se"]].to_numpy(float).ravel(), rtol=1e-8)
    o = d.mean("age", by=["psgc"])
    o = o.assign(psgc=o["psgc"].astype(str)).sort_values("psgc")
    r = R[R["kind"] == "mean_psgc"].sort_values("dom")
    assert o["psgc"].tolist() == r["dom"].tolist()
    np.testing.assert_allclose(o[["estimate", "se"]].to_numpy(float), r[["estimate", "se"]].to_numpy(float),
                               rtol=1e-8)


@pytest.mark.parametrize("item, detail", [
    ({"columns": ["sex"], "cells": [["male"]]}, "it has cells, columns, not exactly columns, cells and total"),
    ({"columns": ["age"], "cells": [["1"]], "total": [1.0]},
     "its columns age are not one of the margins (sex)"),
    ({"columns": ["sex"], "cells": [["male"], ["female"]], "total": [1.0]}, "it has 2 cells but 1 totals"),
    ({"columns": ["sex"], "cells": [["male", "x"]], "total": [1.0]},
     "cell ['male', 'x'] has 2 value(s) for 1 column(s)"),
    ({"columns": ["sex"], "cells": [["male"]], "total": [-3.0]},
     "the total of cell ['male'] is -3.0, not a number >= 0"),
])
def test_malformed_totals_are_a_clear_error(item, detail):
    from migdata.model.spec import CalibrationSpec

    with pytest.raises(UsageError) as e:
        CalibrationSpec.from_dict({"margins": [["sex"]], "totals": {"person": [item]}})
    assert str(e.value) == render("MD314", where="totals.person[1]", detail=detail)
