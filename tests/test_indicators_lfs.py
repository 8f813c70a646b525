"""Indicators on the real LFS December 2022 public-use file (skipped when absent).

Expected values come from outside the evaluator: the raw fixed-width file is read here with
pandas.read_fwf at the positions written in the file's own CSPro dictionary (.dcf) and summed
directly; the standard error of Region IV-A's share of overseas contract workers is compared with
R ``survey`` (skipped when R is absent).
"""

from __future__ import annotations

import re
import subprocess

import pandas as pd
import pytest

from conftest import realfile
from migdata.indicators import compute

ITEMS = ["PUFREG", "PUFHHNUM", "PUFPWGTPRV", "PUFPSU", "PUFC04_SEX", "PUFC05_AGE", "PUFC08_CONWR"]


def raw_lfs() -> pd.DataFrame:
    dcf = realfile("ph", "lfs", "LFS_PUF_December_2022.dcf").read_text(encoding="utf-8-sig")
    specs = {}
    for block in dcf.split("[Item]")[1:]:
        name = re.search(r"^Name=(\S+)", block, re.M).group(1)
        if name in ITEMS:
            start = int(re.search(r"^Start=(\d+)", block, re.M).group(1))
            length = int(re.search(r"^Len=(\d+)", block, re.M).group(1))
            dec = re.search(r"^Decimal=(\d+)", block, re.M)
            specs[name] = (start - 1, start - 1 + length, int(dec.group(1)) if dec else 0)
    data = realfile("ph", "lfs", "LFS_PUF_December_2022.F2")
    df = pd.read_fwf(data, colspecs=[specs[n][:2] for n in ITEMS], names=ITEMS, header=None,
                     encoding="utf-8-sig", dtype=str)
    for n in ITEMS:
        df[n] = pd.to_numeric(df[n].str.strip(), errors="coerce")
    # implied decimals (Decimal= in the dictionary, no decimal point in the data)
    df["PUFPWGTPRV"] = df["PUFPWGTPRV"] / 10 ** specs["PUFPWGTPRV"][2]
    return df


@pytest.fixture(scope="module")
def lfs():
    from migdata.importer import import_files

    dcf = realfile("ph", "lfs", "LFS_PUF_December_2022.dcf")
    dat = realfile("ph", "lfs", "LFS_PUF_December_2022.F2")
    data = import_files([dcf, dat], profile="lfs_puf_2022")
    table = compute(data, ids=["OF02", "OF04", "OF12", "EM02"], level="region", by=["sex"])
    return raw_lfs(), table


def region_code(reg: int) -> str:
    # LFS PUFREG 15 is BARMM, whose PSGC region code is 19 (PSA PSGC); the others keep their number
    return f"{19 if reg == 15 else reg:02d}00000000"


def test_ofw_stock_by_region_equals_direct_weighted_sum(lfs):
    raw, t = lfs
    assert len(raw) == 45_687
    ofw = raw[raw["PUFC08_CONWR"].isin([1, 2]) & (raw["PUFC05_AGE"] >= 15)]
    direct = ofw.groupby("PUFREG")["PUFPWGTPRV"].sum()
    got = t[(t["indicator_id"] == "OF02") & (t["area_level"] == "region") & (t["sex"] == "Total")]
    got = got.set_index("area_code")["estimate"]
    assert len(got) == len(direct) == 17
    for reg, value in direct.items():
        assert got[region_code(reg)] == pytest.approx(value, rel=1e-9)
    nat = t[(t["indicator_id"] == "OF02") & (t["area_level"] == "national") & (t["sex"] == "Total")]
    assert nat["estimate"].iloc[0] == pytest.approx(ofw["PUFPWGTPRV"].sum(), rel=1e-9)
    # by sex too (PUFC04_SEX 1 male, 2 female)
    fem = ofw[ofw["PUFC04_SEX"] == 2].groupby("PUFREG")["PUFPWGTPRV"].sum()
    got_f = t[(t["indicator_id"] == "OF02") & (t["area_level"] == "region") & (t["sex"] == "female")]
    got_f = got_f.set_index("area_code")["estimate"]
    for reg, value in fem.items():
        assert got_f[region_code(reg)] == pytest.approx(value, rel=1e-9)


def test_female_share_of_ofws_by_region(lfs):
    raw, t = lfs
    ofw = raw[raw["PUFC08_CONWR"].isin([1, 2]) & (raw["PUFC05_AGE"] >= 15)]
    w = ofw["PUFPWGTPRV"]
    share = 100 * (w * (ofw["PUFC04_SEX"] == 2)).groupby(ofw["PUFREG"]).sum() / w.groupby(ofw["PUFREG"]).sum()
    got = t[(t["indicator_id"] == "OF04") & (t["area_level"] == "region")].set_index("area_code")
    for reg, value in share.items():
        assert got.loc[region_code(reg), "estimate"] == pytest.approx(value, rel=1e-9)
        assert got.loc[region_code(reg), "se"] > 0


def iva_share(raw: pd.DataFrame) -> float:
    ocw = raw[(raw["PUFC08_CONWR"] == 1) & (raw["PUFC05_AGE"] >= 15)]
    return 100 * ocw.loc[ocw["PUFREG"] == 4, "PUFPWGTPRV"].sum() / ocw["PUFPWGTPRV"].sum()


def test_region_iva_share_of_contract_workers_has_an_se(lfs):
    raw, t = lfs
    row = t[(t["indicator_id"] == "OF12") & (t["category"] == "0400000000") & (t["sex"] == "Total")]
    assert len(row) == 1
    r = row.iloc[0]
    assert r["area_level"] == "national"
    assert r["estimate"] == pytest.approx(iva_share(raw), rel=1e-9)
    assert r["se"] > 0 and r["ci_low"] < r["estimate"] < r["ci_high"]
    assert r["cv"] == pytest.approx(r["se"] / r["estimate"])


def test_region_iva_share_se_agrees_with_r_survey(lfs, rscript, tmp_path):
    raw, t = lfs
    path = tmp_path / "lfs.csv"
    raw.to_csv(path, index=False)
    code = f"""
    suppressMessages(library(survey))
    d <- read.csv("{path}")
    d$iva <- as.numeric(d$PUFREG == 4)
    # the profile's design: PSUs nested in regions, regions as strata (lfs_puf_2022.toml)
    des <- svydesign(ids = ~PUFPSU, strata = ~PUFREG, weights = ~PUFPWGTPRV, nest = TRUE, data = d)
    s <- subset(des, PUFC08_CONWR == 1 & PUFC05_AGE >= 15)
    m <- svymean(~iva, s)
    cat(sprintf("%.10f %.10f\\n", coef(m)[1] * 100, SE(m)[1] * 100))
    """
    out = subprocess.run([rscript, "-e", code], capture_output=True, text=True, check=True).stdout.split()
    r_est, r_se = float(out[0]), float(out[1])
    row = t[(t["indicator_id"] == "OF12") & (t["category"] == "0400000000") & (t["sex"] == "Total")].iloc[0]
    assert row["estimate"] == pytest.approx(r_est, rel=1e-8)
    assert row["se"] == pytest.approx(r_se, rel=1e-6)


def test_unemployment_rate_matches_psa_published_figure(lfs):
    # PSA: December 2022 unemployment rate 4.3 % (household members 15+ in the labour force)
    _, t = lfs
    r = t[(t["indicator_id"] == "EM02") & (t["area_level"] == "national") & (t["sex"] == "Total")].iloc[0]
    assert round(r["estimate"], 1) == 4.3
    assert r["se"] > 0 and r["flag"] == "publish"
