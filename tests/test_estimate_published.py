"""``migdata estimate`` on a complete count (the bundled CBMS sample) publishes through the one
disclosure control: each number equals the protected indicator table's cell for the same units
(``migdata.compute``, a different path: the indicator cube), and differs from the true count by
at most D (true counts: pandas on the stored tables)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import migdata
from migdata.cli import main
from migdata.errors import MigdataError, render
from migdata.publish.disclosure import DEFAULT_D
from migdata.publish.estimates import estimate
from conftest import SAMPLE_DATA


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    data = migdata.import_files([SAMPLE_DATA / "cbms_2022_hpq.dat"], "cbms_2022_hpq")
    return data.save(tmp_path_factory.mktemp("cbms") / "store")


def cli_estimate(store: Path, tmp: Path, *args: str) -> pd.DataFrame:
    out = tmp / "est.csv"
    with pytest.raises(SystemExit) as e:
        main(["estimate", str(store), *args, "--out", str(out)])
    assert e.value.code == 0
    return pd.read_csv(out, dtype={"province": str, "sex": str, "category": str}, encoding="utf-8-sig")


def provinces(t: pd.DataFrame, ind: str, by: list[str] = ()) -> pd.DataFrame:
    r = t[(t["indicator_id"] == ind) & (t["area_level"] == "province")].copy()
    r["province"] = r["area_code"].astype(str)
    for b in by:
        r[b] = r[b].astype(str)
    return r.set_index(["province", *by])


def test_household_share_count_and_total_equal_the_indicator_cells(store, tmp_path):
    data = migdata.load(store)
    t = migdata.compute(data, ids=["PV02", "RM02"], level="province", by=[])
    pv02, rm02 = provinces(t, "PV02"), provinces(t, "RM02")
    assert len(pv02) >= 4 and len(rm02) >= 4

    prop = cli_estimate(store, tmp_path, "--kind", "proportion", "--var", "mpi_poor", "--table", "households",
                        "--by", "province")
    poor = prop[prop["category"] == "True"].set_index("province")
    assert set(poor.index) == set(pv02.index)
    assert np.allclose(poor["estimate"] * 100, pv02.loc[poor.index, "estimate"], rtol=1e-12)
    assert (poor["n"] == pv02.loc[poor.index, "n"]).all()
    assert not {"n_missing"} & set(prop.columns) and (prop["se"] == 0).all()
    mean = cli_estimate(store, tmp_path, "--kind", "mean", "--var", "mpi_poor", "--table", "households",
                        "--by", "province").set_index("province")
    assert np.allclose(mean.loc[poor.index, "estimate"], poor["estimate"], rtol=1e-12)
    # the count of poor households is PV02's published numerator
    total = cli_estimate(store, tmp_path, "--kind", "total", "--var", "mpi_poor", "--table", "households",
                         "--by", "province").set_index("province")
    assert (total.loc[pv02.index, "estimate"] == pv02["numerator"]).all()

    cash = cli_estimate(store, tmp_path, "--kind", "total", "--var", "cash_abroad", "--table", "households",
                        "--by", "province").set_index("province")
    assert np.allclose(cash.loc[rm02.index, "estimate"], rm02["estimate"], rtol=1e-12)
    assert (cash.loc[rm02.index, "n"] == rm02["n"]).all()

    # within D of the true counts (pandas on the stored households), and not all of them equal
    hh = data.frame("household")
    truth = hh[hh["mpi_poor"].notna()].groupby(hh["province"].astype(str))["mpi_poor"].agg(["sum", "size"])
    assert ((total["estimate"] - truth.loc[total.index, "sum"]).abs() <= DEFAULT_D).all()
    assert ((poor["n"] - truth.loc[poor.index, "size"]).abs() <= DEFAULT_D).all()
    moved = (total["estimate"] != truth.loc[total.index, "sum"]).sum() + (poor["n"] != truth.loc[poor.index, "size"]).sum()
    assert moved > 0
    # no published count lies in 1..k-1
    assert not total["estimate"].between(1, 2).any() and not poor["n"].between(1, 2).any()


def test_person_share_by_sex_equals_the_indicator_cells(store, tmp_path):
    data = migdata.load(store)
    t = migdata.compute(data, ids=["HE01"], level="province", by=["sex"])
    he01 = provinces(t, "HE01", ["sex"])
    he01 = he01[he01.index.get_level_values("sex") != "Total"]
    est = cli_estimate(store, tmp_path, "--kind", "mean", "--var", "philhealth", "--by", "province,sex")
    est = est.set_index(["province", "sex"])
    assert set(est.index) == set(he01.index) and len(est) >= 8
    assert np.allclose(est["estimate"] * 100, he01.loc[est.index, "estimate"], rtol=1e-12)
    assert (est["n"] == he01.loc[est.index, "n"]).all()


def test_quantiles_need_a_published_base_of_k_plus_D(store):
    data = migdata.load(store)
    r = estimate(data, "quantile", "months_abroad", by=["province", "sex"], k=3)
    shown = ~r["suppressed"]
    assert (r.loc[shown, "n"] >= 3 + DEFAULT_D).all() and r.loc[~shown, "estimate"].isna().all()
    assert (r.loc[~shown, "suppression"] == "small base").all()
    assert set(r["suppression"].astype(str)) <= {"", "small base"}


def test_a_table_without_unit_ids_is_refused(store, tmp_path):
    data = migdata.load(store)
    data.tables["extra"] = pd.DataFrame({"x": [1.0, 2.0]})
    data.provenance.units["extra"] = "extra"
    with pytest.raises(MigdataError) as e:
        estimate(data, "total", "x", table="extra")
    assert str(e.value) == render("MD716", table="extra", columns="hh_id, line_no")
