"""One frame, one design, one estimation path: two outputs of one number give the same number.

- Every number the migration profile report prints is the same cell (estimate, SE, CI, CV, n,
  flag, suppression) as in the workbook/CSV ``migdata indicators`` writes, for a complete count
  (the bundled CBMS sample) and for sample surveys (the bundled LFS-like survey; the real LFS
  December 2022 file), at several areas and levels.
- The report's survey estimates are domain estimates of the full design: equal to R
  ``svyby`` on the whole design (not to R on a subset of the data).
- ``migdata estimate`` on a store whose profile declares strata, two nested stages and FPCs
  agrees with R ``survey`` and with the indicator tables.
"""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import migdata
from migdata.cli import main
from migdata.model.data import HouseholdData
from migdata.report import MigrationProfile
from conftest import SAMPLE_DATA, realfile

KEYS = ["indicator_id", "area_code", "category"]
VALUES = ["estimate", "se", "ci_low", "ci_high", "cv", "n"]


def run_cli(*args: str) -> None:
    with pytest.raises(SystemExit) as e:
        main(list(args))
    assert e.value.code == 0


def workbook_csv(store: Path, tmp: Path, name: str, *args: str) -> pd.DataFrame:
    """The long table ``migdata indicators --csv`` writes beside the workbook."""
    out = tmp / f"{name}.xlsx"
    run_cli("indicators", str(store), "--out", str(out), "--csv", *args)
    return pd.read_csv(out.with_suffix(".csv"), dtype={"area_code": str, "parent_code": str, "category": str},
                       keep_default_na=False, na_values=[""], encoding="utf-8-sig", low_memory=False)  # one type per column


def report_rows(p: MigrationProfile) -> pd.DataFrame:
    """Every row of the published tables the report shows (headline, comparisons, sub-areas,
    distributions, return migrants): all rows of its main table for the area and the areas
    above and below it."""
    t = p.table
    keep = t["area_code"].isin(p.chain) | (t["parent_code"] == p.area.code)
    return t[keep]


def same_cells(report: pd.DataFrame, book: pd.DataFrame, by: list[str]) -> int:
    """Assert every report row has the identical workbook row; returns how many were compared."""
    keys = KEYS + by
    r = report.copy()
    for c in keys:
        r[c] = r[c].astype(object).where(r[c].notna(), "").astype(str)
        book[c] = book[c].astype(object).where(book[c].notna(), "").astype(str)
    r["suppressed"] = r["suppressed"].astype(bool)
    m = r.merge(book, on=keys, how="left", suffixes=("", "_book"), indicator=True)
    missing = m[m["_merge"] != "both"]
    assert missing.empty, missing[keys].head()
    assert (m["suppressed"] == m["suppressed_book"].astype(bool)).all()
    assert (m["flag"].astype(str) == m["flag_book"].astype(str)).all()
    shown = m[~m["suppressed"]]
    for c in VALUES:
        a, b = shown[c].to_numpy(float), shown[c + "_book"].to_numpy(float)
        assert np.allclose(a, b, rtol=1e-9, atol=1e-9, equal_nan=True), c
    return len(m)


@pytest.fixture(scope="module")
def cbms_store(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("cbms")
    data = migdata.import_files([SAMPLE_DATA / "cbms_2022_hpq.dat"], "cbms_2022_hpq")
    return data.save(tmp / "store")


def test_report_equals_workbook_on_a_complete_count(cbms_store, tmp_path):
    data = migdata.load(cbms_store)
    book = workbook_csv(cbms_store, tmp_path, "all", "--level", "barangay", "--by", "none")
    hh = data.households
    city = str(hh.loc[hh["province"] == "0403400000", "city_mun"].iloc[0])
    # the city's largest barangay: a barangay of a few persons may publish every count as 0 (the
    # cell-key method), and then has no rows to compare
    bgy = str(hh.loc[hh["city_mun"] == city, "barangay"].value_counts().index[0])
    compared = 0
    for area in ("0400000000", "0403400000", city, bgy):
        p = MigrationProfile.from_dataset(data, area)
        compared += same_cells(report_rows(p), book.copy(), [])
    assert compared > 500
    # the pyramid's and the children's cells: the same disaggregation in the workbook
    p = MigrationProfile.from_dataset(data, "0403400000")
    detail = workbook_csv(cbms_store, tmp_path, "detail", "--level", "province", "--ids", "OF01,DM03,ED01",
                          "--by", "sex,age_group,parent_abroad",
                          "--age-scheme", ",".join(map(str, p.age_scheme)))
    assert same_cells(p.detail, detail, ["sex", "age_group", "parent_abroad"]) > 50


def test_report_equals_workbook_on_a_sample_survey(tmp_path):
    data = migdata.import_files([SAMPLE_DATA / "lfs_like_survey.sav"], "sample_survey")
    store = data.save(tmp_path / "store")
    book = workbook_csv(store, tmp_path, "all", "--level", "region", "--by", "none")
    p = MigrationProfile.from_dataset(migdata.load(store), "0400000000")
    assert same_cells(report_rows(p), book, []) >= 10
    assert (p.rows["se"] > 0).any()


R_DOMAIN = r"""
suppressMessages(library(survey))
args <- commandArgs(TRUE)
d <- read.csv(args[1], stringsAsFactors = FALSE, colClasses = c(region = "character"))
ids <- if (args[3] == "") ~1 else as.formula(paste0("~", args[3]))
strata <- if (args[4] == "") NULL else as.formula(paste0("~", args[4]))
des <- svydesign(ids = ids, strata = strata, weights = ~w, data = d, nest = TRUE)
r <- svyby(~y, ~region, des, svytotal)
write.csv(data.frame(region = r$region, estimate = r$y, se = SE(r)), args[2], row.names = FALSE)
"""


def test_lfs_report_is_a_domain_estimate_of_the_full_design(tmp_path, rscript):
    dat = realfile("ph", "lfs", "LFS_PUF_December_2022.F2")
    dcf = realfile("ph", "lfs", "LFS_PUF_December_2022.dcf")
    data = migdata.import_files([dat, dcf], "lfs_puf_2022")
    store = data.save(tmp_path / "store")
    data = migdata.load(store)
    p = MigrationProfile.from_dataset(data, "0400000000")
    book = workbook_csv(store, tmp_path, "all", "--level", "region", "--by", "none", "--ids", ",".join(
        sorted(set(p.table["indicator_id"].astype(str)))))
    assert same_cells(report_rows(p), book, []) >= 10
    # R on the whole design: the overseas Filipinos 15+ (OF01) of every region
    spec = data.spec
    f = data.frame("person")
    of = f["of_status"].astype(str).isin(["ofw_contract", "ofw_no_contract", "embassy_staff", "student",
                                          "tourist", "other_of"])
    pd.DataFrame({"region": f["region"].astype(str), "w": f[spec.weight_column("person")],
                  **{c: f[c].astype(str) for c in (*spec.psu, *spec.strata) if c},
                  "y": (of & (f["age"] >= 15)).astype(float)}).to_csv(tmp_path / "d.csv", index=False)
    (tmp_path / "r.R").write_text(textwrap.dedent(R_DOMAIN))
    run = subprocess.run([rscript, str(tmp_path / "r.R"), str(tmp_path / "d.csv"), str(tmp_path / "out.csv"),
                          "+".join(c for c in spec.psu if c), "+".join(c for c in spec.strata if c)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    r = pd.read_csv(tmp_path / "out.csv", dtype={"region": str}).set_index("region").loc["0400000000"]
    ours = p.get("OF01")
    assert ours["estimate"] == pytest.approx(r["estimate"], rel=1e-9)
    assert ours["se"] == pytest.approx(r["se"], rel=1e-8)


# ---------------------------------------------------------------------------- migdata estimate
def two_stage_store(tmp: Path) -> Path:
    """A survey with 3 strata (provinces), PSUs sampled from N1 per stratum, households sampled
    from N2 per PSU (FPC at both stages, weights derived from them), every member interviewed."""
    rng = np.random.default_rng(12)
    provs = ["0401000000", "0402100000", "0403400000"]
    hh, pp = [], []
    for s, prov in enumerate(provs):
        for j in range(3 + s):
            n2 = int(rng.integers(3, 7))
            for k in range(n2):
                hid = f"{s}-{j}-{k}"
                cash = float(rng.choice([0.0, 0.0, rng.integers(1, 40) * 5000.0]))
                hh.append({"hh_id": hid, "stratum": prov, "psu": f"p{j}", "N1": 10 + 4 * s, "N2": 20 + j,
                           "region": "0400000000", "province": prov, "psgc": prov,
                           "cash_abroad": cash if rng.random() > 0.05 else np.nan, "source": "t"})
                for ln in range(1, int(rng.integers(1, 6)) + 1):
                    pp.append({"hh_id": hid, "line_no": ln, "sex": rng.choice(["male", "female"]),
                               "age": int(rng.integers(0, 80))})
    design = {"weights": "", "strata": "stratum", "psu": ["psu", "hh_id"], "fpc": ["N1", "N2"],
              "design_domain": "province"}
    data = HouseholdData({"households": pd.DataFrame(hh), "persons": pd.DataFrame(pp)},
                         provenance={"design": design, "sources": ["two-stage test"]})
    return data.save(tmp / "store")


R_TWO_STAGE = r"""
suppressMessages(library(survey))
args <- commandArgs(TRUE)
h <- read.csv(args[1], stringsAsFactors = FALSE, colClasses = c(province = "character"))
des <- svydesign(ids = ~psu + hh_id, strata = ~stratum, fpc = ~N1 + N2, data = h, nest = TRUE)
r <- svyby(~cash_abroad, ~province, des, svytotal, na.rm = TRUE)
write.csv(data.frame(province = r$province, estimate = r$cash_abroad, se = SE(r)), args[2], row.names = FALSE)
"""


def test_estimate_uses_the_declared_design_and_agrees_with_r_and_the_tables(tmp_path, rscript):
    store = two_stage_store(tmp_path)
    out = tmp_path / "est.csv"
    run_cli("estimate", str(store), "--kind", "total", "--var", "cash_abroad", "--table", "households",
            "--by", "province", "--out", str(out))
    ours = pd.read_csv(out, dtype={"province": str}).set_index("province")
    data = migdata.load(store)
    data.households.to_csv(tmp_path / "h.csv", index=False)
    (tmp_path / "r.R").write_text(textwrap.dedent(R_TWO_STAGE))
    run = subprocess.run([rscript, str(tmp_path / "r.R"), str(tmp_path / "h.csv"), str(tmp_path / "r.csv")],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    r = pd.read_csv(tmp_path / "r.csv", dtype={"province": str}).set_index("province")
    assert np.allclose(ours.loc[r.index, "estimate"], r["estimate"], rtol=1e-9)
    assert np.allclose(ours.loc[r.index, "se"], r["se"], rtol=1e-8)
    # the indicator table's RM02 (total cash receipts) is the same estimate of the same design
    t = migdata.compute(data, ids=["RM02"], level="province", by=[])
    t = t[t["area_level"] == "province"].set_index(t["area_code"].astype(str)[t["area_level"] == "province"])
    for c in ("estimate", "se", "ci_low", "ci_high", "cv", "n"):
        assert np.allclose(t.loc[r.index, c].to_numpy(float), ours.loc[r.index, c].to_numpy(float),
                           rtol=1e-9), c
    assert (t.loc[r.index, "flag"].astype(str) == ours.loc[r.index, "flag"].astype(str)).all()
