"""PSA Labor Force Survey rounds through one profile: published figures, rounds from the data,
both 2022 layouts, the design against R ``survey``, pooled rounds (skipped without realdata).

Expected values come from outside migdata: PSA's published headline figures (December 2022:
LFPR 66.4 %, unemployment 4.3 %; February 2022: 63.8 %, 6.4 %), plain pandas on the raw
fixed-width files read at the positions their own ``.dcf`` gives (parsed here with regular
expressions), R ``survey`` on the same declaration, and a quarterly-layout file written here from
the April 2022 dictionary with counts known by construction.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from migdata.errors import render
from migdata.importer import import_files
from migdata.model.rounds import pool
from tests.conftest import realfile

PUBLISHED = {"December": (66.4, 4.3), "February": (63.8, 6.4)}  # PSA, LFS press releases
ITEMS = ["PUFREG", "PUFHHNUM", "PUFPWGTPRV", "PUFSVYMO", "PUFSVYYR", "PUFPSU", "PUFC01_LNO", "PUFC05_AGE",
         "PUFNEWEMPSTAT", "PUFC19_PWMORE"]


# -- the raw files, read without migdata ----------------------------------------------------------

def dcf_items(path: Path) -> dict[str, tuple[int, int, int]]:
    """name -> (1-based start, length, implied decimals), from the dictionary text."""
    text = path.read_text(encoding="utf-8-sig")
    out = {}
    for block in text.split("[Item]")[1:]:
        name = re.search(r"^Name=(\S+)", block, re.M).group(1)
        dec = re.search(r"^Decimal=(\d+)", block, re.M)
        out[name] = (int(re.search(r"^Start=(\d+)", block, re.M).group(1)),
                     int(re.search(r"^Len=(\d+)", block, re.M).group(1)), int(dec.group(1)) if dec else 0)
    return out


def raw_month(month: str) -> pd.DataFrame:
    spec = dcf_items(realfile("ph", "lfs", f"LFS_PUF_{month}_2022.dcf"))
    df = pd.read_fwf(realfile("ph", "lfs", f"LFS_PUF_{month}_2022.F2"),
                     colspecs=[(spec[n][0] - 1, spec[n][0] - 1 + spec[n][1]) for n in ITEMS],
                     names=ITEMS, header=None, encoding="utf-8-sig", dtype=str)
    for n in ITEMS:
        df[n] = pd.to_numeric(df[n].str.strip(), errors="coerce") / 10 ** spec[n][2]
    return df


def plain_rates(raw: pd.DataFrame) -> dict[str, float]:
    """PSA's rates by hand: universe = persons 15+ with a labour-force status."""
    w, st = raw["PUFPWGTPRV"], raw["PUFNEWEMPSTAT"]
    univ = st.notna() & (raw["PUFC05_AGE"] >= 15)
    lf, emp = univ & st.isin([1, 2]), univ & (st == 1)
    return {"LF01": 100 * w[lf].sum() / w[univ].sum(), "EM02": 100 * w[univ & (st == 2)].sum() / w[lf].sum(),
            "LF02": 100 * w[emp].sum() / w[lf].sum(),
            "LF03": 100 * w[emp & (raw["PUFC19_PWMORE"] == 1)].sum() / w[emp].sum()}


def month_files(month: str) -> list[Path]:
    return [realfile("ph", "lfs", f"LFS_PUF_{month}_2022.F2"), realfile("ph", "lfs", f"LFS_PUF_{month}_2022.dcf")]


@pytest.fixture(scope="module")
def rounds():
    return {m: import_files(month_files(m), "lfs_puf_2022") for m in ("December", "February")}


def national(table: pd.DataFrame, ind: str, **cells: str) -> pd.Series:
    t = table[(table["indicator_id"] == ind) & (table["area_level"] == "national")]
    for k, v in cells.items():
        t = t[t[k].astype(str) == v]
    assert len(t) == 1
    return t.iloc[0]


# -- PSA's figures -------------------------------------------------------------------------------

@pytest.mark.parametrize("month", ["December", "February"])
def test_labour_force_rates_equal_psa_and_a_plain_computation(rounds, month):
    from migdata.indicators import compute

    t = compute(rounds[month], ids=["LF01", "EM02", "LF02", "LF03"], level="region", by=[])
    lfpr, ur = PUBLISHED[month]
    assert round(national(t, "LF01")["estimate"], 1) == lfpr
    assert round(national(t, "EM02")["estimate"], 1) == ur
    plain = plain_rates(raw_month(month))
    for ind, value in plain.items():
        # 0.01 pp: February has two persons without a line number (rejected on import, reported)
        assert national(t, ind)["estimate"] == pytest.approx(value, abs=0.01), ind
    assert national(t, "LF02")["estimate"] == pytest.approx(100 - national(t, "EM02")["estimate"], abs=1e-9)
    assert {"MD107"} >= {p.code for p in rounds[month].report.problems}


def test_underemployment_item_is_in_both_layouts():
    monthly = dcf_items(realfile("ph", "lfs", "LFS_PUF_December_2022.dcf"))
    quarterly = dcf_items(realfile("ph", "lfs", "LFS_PUF_April_2022.dcf"))
    assert "PUFC19_PWMORE" in monthly and "PUFC20_PWMORE" in quarterly
    assert "PUFC08_CONWR" in monthly and "PUFC10_CONWR" in quarterly
    assert "PUFC08_CONWR" not in quarterly  # PUFC08 is a schooling item there


# -- rounds from the data ----------------------------------------------------------------------

def test_round_and_period_come_from_the_data_everywhere(rounds, tmp_path, capsys):
    from openpyxl import load_workbook

    import migdata
    from migdata.cli import main
    from migdata.publish.excel import write_workbook
    from migdata.report import MigrationProfile

    feb = rounds["February"]
    assert (feb.households["round"] == "2022-02").all()
    assert feb.provenance.rounds == ["2022-02"] and feb.provenance.period == "2022-02"
    store = feb.save(tmp_path / "feb")
    manifest = json.loads((store / "manifest.json").read_text())
    assert manifest["period"] == "2022-02" and manifest["rounds"] == ["2022-02"]
    assert manifest["provenance"]["extra"]["layouts"] == {str(month_files("February")[0]): "monthly"}
    with pytest.raises(SystemExit):
        main(["info", str(store)])
    assert "rounds: 2022-02; layout monthly" in capsys.readouterr().out
    table = migdata.compute(feb, ids=["LF01", "OF02"], level="region", by=["sex"])
    assert set(table["period"].astype(str)) == {"2022-02"}
    write_workbook(table, tmp_path / "t.xlsx")
    ws = load_workbook(tmp_path / "t.xlsx", read_only=True)["contents"]
    rows = {r[0]: r[1] for r in ws.iter_rows(values_only=True) if len(r) > 1 and r[0]}
    assert rows["Reference period"] == "2022-02"
    assert "lfs_puf_2022 2022-02" in MigrationProfile.from_dataset(feb, "PH").source


def test_an_explicit_period_overrides_the_data(tmp_path, capsys):
    from migdata.cli import main
    from migdata.model.data import load

    data = import_files(month_files("December"), "lfs_puf_2022", period="2022-08")
    assert data.provenance.period == "2022-08" and data.provenance.rounds == ["2022-08"]
    assert (data.households["round"] == "2022-08").all()
    assert any("2022-12" in n and "2022-08" in n for n in data.report.notes)
    with pytest.raises(SystemExit) as e:
        main(["import", *map(str, month_files("December")), "--profile", "lfs_puf_2022", "--period", "2022-08",
              "--out", str(tmp_path / "s")])
    assert e.value.code == 0
    assert load(tmp_path / "s").provenance.period == "2022-08"


# -- the quarterly layout ------------------------------------------------------------------------

#: a small quarterly-round file: (region, household number, PSU, persons as
#: (line, relationship, sex, age, PUFC10_CONWR, PUFNEWEMPSTAT, PUFC20_PWMORE, weight))
QUARTERLY = [
    (4, 123456, 101, [(1, 1, 1, 45, 5, 1, 1, 1200.5), (2, 2, 2, 43, 1, None, None, 1100.25),
                      (3, 3, 1, 12, None, None, None, 900.0)]),
    (4, 123457, 101, [(1, 1, 2, 60, 5, 3, None, 1500.0), (2, 3, 1, 30, 2, None, None, 1500.0),
                      (3, 3, 2, 25, 4, 2, None, 1400.0)]),
    (13, 5, 7, [(1, 1, 1, 38, 5, 1, 2, 2000.0), (2, 2, 2, 36, 1, None, None, 2100.0),
                (3, 3, 2, 8, None, None, None, 1800.0), (4, 3, 1, 19, 3, None, None, 1900.0)]),
    (15, 99999, 7, [(1, 1, 1, 50, 5, 1, 1, 800.0), (2, 2, 2, 47, 5, 1, 2, 810.0), (3, 3, 2, 22, 1, None, None, 820.0),
                    (4, 3, 1, 20, 4, 3, None, 830.0), (5, 3, 2, 3, None, None, None, 700.0)]),
]


def write_quarterly(path: Path, month: int = 4) -> None:
    """Fixed-width lines laid out from the April 2022 dictionary (record type '2' in column 1)."""
    items = dcf_items(realfile("ph", "lfs", "LFS_PUF_April_2022.dcf"))
    reclen = int(re.search(r"^RecordLen=(\d+)", realfile("ph", "lfs", "LFS_PUF_April_2022.dcf")
                           .read_text(encoding="utf-8-sig"), re.M).group(1))
    lines = []
    for reg, hh, psu, people in QUARTERLY:
        for ln, rel, sex, age, conwr, stat, more, w in people:
            vals = {"PUFREG": reg, "PUFHHNUM": hh, "PUFURB2015": 1, "PUFPWGTPRV": round(w * 10_000),
                    "PUFSVYMO": month, "PUFSVYYR": 2022, "PUFPSU": psu, "PUFRPL": 1, "PUFHHSIZE": len(people),
                    "PUFC01_LNO": ln, "PUFC03_REL": rel, "PUFC04_SEX": sex, "PUFC05_AGE": age, "PUFC06_MSTAT": 1,
                    "PUFC10_CONWR": conwr, "PUFNEWEMPSTAT": stat, "PUFC20_PWMORE": more}
            line = [" "] * reclen
            line[0] = "2"
            for name, v in vals.items():
                start, length, _ = items[name]
                if v is not None:
                    line[start - 1:start - 1 + length] = str(v).zfill(length)
            lines.append("".join(line).rstrip())
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_quarterly_layout_file_imports_with_its_of_status_counts(tmp_path):
    dat = tmp_path / "LFS_PUF_April_2022.dat"
    write_quarterly(dat)
    data = import_files([dat, realfile("ph", "lfs", "LFS_PUF_April_2022.dcf")], "lfs_puf_2022")
    assert data.report.problems == []
    assert data.provenance.extra["layouts"] == {str(dat): "quarterly"}
    assert data.provenance.rounds == ["2022-04"]
    # by construction (QUARTERLY): PUFC10_CONWR 1 OCW x3, 2 other worker x1, 3 embassy x1,
    # 4 student/tourist x2, 5 resident x5, blank (under 15) x3
    counts = data.persons["of_status"].value_counts(dropna=False)
    assert counts[counts > 0].to_dict() == {"resident": 5, "ofw_contract": 3, np.nan: 3, "other_of": 2,
                                            "ofw_no_contract": 1, "embassy_staff": 1}
    assert data.persons["underemployed"].tolist()[:1] == [True]
    assert int(data.persons["underemployed"].sum()) == 2 and data.persons["underemployed"].notna().sum() == 4
    # PUFHHNUM has six digits in this layout
    assert data.households["hh_id"].tolist() == ["2022-04-04-123456", "2022-04-04-123457", "2022-04-13-000005",
                                                  "2022-04-15-099999"]
    assert data.households["psgc"].tolist()[-1] == "1900000000"  # ARMM -> BARMM


def test_quarterly_and_monthly_files_import_together(tmp_path):
    dat = tmp_path / "LFS_PUF_April_2022.dat"
    write_quarterly(dat)
    files = [dat, realfile("ph", "lfs", "LFS_PUF_April_2022.dcf"), *month_files("December")]
    data = import_files(files, "lfs_puf_2022")
    assert data.provenance.rounds == ["2022-04", "2022-12"]
    assert set(data.provenance.extra["layouts"].values()) == {"quarterly", "monthly"}
    apr = data.persons[data.persons["hh_id"].str.startswith("2022-04")]
    assert apr["of_status"].value_counts().to_dict()["ofw_contract"] == 3
    assert len(data.persons) == 45_687 + 15


# -- the design ------------------------------------------------------------------------------------

def test_household_weight_is_the_mean_of_the_members_person_weights(rounds):
    dec = rounds["December"]
    p = dec.persons
    mean = p.groupby("hh_id")["weight"].mean()
    hh = dec.households.set_index("hh_id")
    assert hh["weight"].to_numpy() == pytest.approx(mean.loc[hh.index].to_numpy(), rel=1e-12)
    # so the household population counted from households equals the sum of the person weights
    size = p.groupby("hh_id").size().loc[hh.index]
    assert float((size * hh["weight"]).sum()) == pytest.approx(float(p["weight"].sum()), rel=1e-12)


def test_design_se_and_df_agree_with_r(rounds, rscript, tmp_path):
    from migdata.indicators import compute

    raw = raw_month("December")
    path = tmp_path / "dec.csv"
    raw.to_csv(path, index=False)
    code = f"""
    suppressMessages(library(survey))
    d <- read.csv("{path}")
    d$univ <- as.numeric(!is.na(d$PUFNEWEMPSTAT) & d$PUFC05_AGE >= 15)
    d$inlf <- as.numeric(d$univ == 1 & d$PUFNEWEMPSTAT %in% c(1, 2))
    des <- svydesign(ids = ~PUFPSU, strata = ~PUFREG, weights = ~PUFPWGTPRV, nest = TRUE, data = d)
    r <- svyratio(~inlf, ~univ, des)
    b <- svyby(~inlf, ~PUFREG, des, svyratio, denominator = ~univ)
    cat(sprintf("%.12f %.12f %d\\n", coef(r), SE(r), degf(des)))
    cat(sprintf("%d %.12f %.12f\\n", b$PUFREG, b[["inlf/univ"]], b[["se.inlf/univ"]]), sep = "")
    """
    out = subprocess.run([rscript, "-e", code], capture_output=True, text=True, check=True).stdout.split("\n")
    r_est, r_se, r_df = out[0].split()
    by_region = {int(a): (float(b), float(c)) for a, b, c in (ln.split() for ln in out[1:] if ln.strip())}
    dec = rounds["December"]
    fr = dec.frame("person")
    univ = (fr["age"] >= 15) & fr["lf_status"].notna()
    d = dec.design("person").update(univ=univ.astype(float).to_numpy(),
                                    inlf=(univ & fr["lf_status"].isin(["employed", "unemployed"])).astype(float).to_numpy())
    res = d.ratio("inlf", "univ").iloc[0]
    assert res["estimate"] == pytest.approx(float(r_est), rel=1e-10)
    assert res["se"] == pytest.approx(float(r_se), rel=1e-8)
    assert int(res["df"]) == int(r_df) == 708 - 17  # region-qualified PSUs minus regions
    reg = d.update(region_no=fr["hh_id"].str[8:10].astype(int).to_numpy()).ratio("inlf", "univ", by="region_no")
    for _, row in reg.iterrows():
        est, se = by_region[int(row["region_no"])]
        assert row["estimate"] == pytest.approx(est, rel=1e-10) and row["se"] == pytest.approx(se, rel=1e-8)
    # the catalogue's LFPR (a domain share) carries the same SE
    t = compute(dec, ids=["LF01"], level="region", by=[])
    assert national(t, "LF01")["se"] == pytest.approx(100 * float(r_se), rel=1e-8)


# -- pooled rounds ---------------------------------------------------------------------------------

def _rows(table: pd.DataFrame, by_round: str | None = None) -> pd.DataFrame:
    t = table.copy()
    if by_round is not None:
        t = t[t["round"].astype(str) == by_round]
    keys = ["indicator_id", "area_code", "sex", "category"]
    return t.set_index(keys)[["estimate", "se", "n"]].sort_index()


def test_pooled_rounds_give_each_round_alone(rounds, tmp_path):
    from migdata.indicators import compute

    files = [*month_files("December"), *month_files("February")]
    together = import_files(files, "lfs_puf_2022")
    pooled = pool([rounds["February"], rounds["December"]])
    for both in (together, pooled):
        assert both.provenance.rounds == ["2022-02", "2022-12"]
        assert both.households["hh_id"].is_unique
        assert len(both.households) == 10_896 + 10_852
        # strata are round x region
        assert both.households["stratum"].nunique() == 34
        assert set(both.households.loc[both.households["round"] == "2022-02", "stratum"].str[:8]) == {"2022-02:"}
    ids = ["LF01", "EM02", "LF03", "OF02", "OF04"]
    t = compute(together, ids=ids, level="region", by=["round", "sex"])
    tp = compute(pooled, ids=ids, level="region", by=["round", "sex"])
    for month, r in (("December", "2022-12"), ("February", "2022-02")):
        alone = _rows(compute(rounds[month], ids=ids, level="region", by=["sex"]))
        for got in (_rows(t, r), _rows(tp, r)):
            assert got.index.equals(alone.index)
            np.testing.assert_allclose(got["estimate"], alone["estimate"], rtol=1e-10)
            np.testing.assert_allclose(got["se"], alone["se"], rtol=1e-8)
            np.testing.assert_array_equal(got["n"], alone["n"])
        assert set(t.loc[t["round"].astype(str) == r, "period"].astype(str)) == {r}


def test_each_round_is_read_with_its_own_dictionary():
    # December's .dcf given for both files: February's items lie one column further on (it has
    # PUFC11_ONLINE), so February is read with the dictionary beside it, not December's
    dec, feb = month_files("December"), month_files("February")
    data = import_files([dec[0], feb[0], dec[1]], "lfs_puf_2022")
    assert {p.code for p in data.report.problems} == {"MD107"}  # February's two blank line numbers
    assert len(data.persons) == 45_687 + 45_889 - 2


def test_rounds_in_a_database_pool_and_by_round_on_the_command_line(rounds, tmp_path, capsys):
    from migdata.cli import main
    from migdata.model.database import Database

    db = Database.create(tmp_path / "db")
    for m in ("December", "February"):
        db.add(rounds[m])
    assert [e["round"] for e in db.datasets()] == ["2022-12", "2022-02"]
    pooled = db.pooled("lfs")
    assert pooled.provenance.rounds == ["2022-02", "2022-12"]
    store = pooled.save(tmp_path / "pooled")
    with pytest.raises(SystemExit) as e:
        main(["indicators", str(store), "--level", "national", "--by", "round", "--ids", "LF01,EM02",
              "--out", str(tmp_path / "t.xlsx"), "--csv"])
    assert e.value.code == 0
    t = pd.read_csv(tmp_path / "t.csv", dtype={"round": str})
    lfpr = t[t["indicator_id"] == "LF01"].set_index("round")["estimate"]
    assert round(lfpr["2022-12"], 1) == 66.4 and round(lfpr["2022-02"], 1) == 63.8


def test_change_between_two_rounds_with_its_se_agrees_with_r(rounds, rscript, tmp_path):
    """December minus February LFPR on the pooled rounds (Design.contrast, R svycontrast)."""
    pooled = pool([rounds["February"], rounds["December"]])
    fr = pooled.frame("person")
    univ = ((fr["age"] >= 15) & fr["lf_status"].notna()).to_numpy()
    inlf = univ & fr["lf_status"].isin(["employed", "unemployed"]).to_numpy()
    d = pooled.design("person").update(univ=univ.astype(float), inlf=inlf.astype(float))
    got = d.contrast("ratio", "inlf", "round", {"2022-12": 1, "2022-02": -1}, denominator="univ").iloc[0]
    path = tmp_path / "both.csv"
    pd.concat([raw_month(m).assign(round=r) for m, r in (("February", "2022-02"), ("December", "2022-12"))]
              ).to_csv(path, index=False)
    code = f"""
    suppressMessages(library(survey))
    d <- read.csv("{path}")
    d$univ <- as.numeric(!is.na(d$PUFNEWEMPSTAT) & d$PUFC05_AGE >= 15 & !is.na(d$PUFC01_LNO))
    d$inlf <- as.numeric(d$univ == 1 & d$PUFNEWEMPSTAT %in% c(1, 2))
    d$stratum <- paste(d$round, d$PUFREG)
    des <- svydesign(ids = ~PUFPSU, strata = ~stratum, weights = ~PUFPWGTPRV, nest = TRUE, data = d)
    b <- svyby(~inlf, ~round, des, svyratio, denominator = ~univ, covmat = TRUE)
    k <- svycontrast(b, c(-1, 1))
    cat(sprintf("%.12f %.12f %d\n", coef(k), SE(k), degf(des)))
    """
    out = subprocess.run([rscript, "-e", code], capture_output=True, text=True, check=True).stdout.split()
    # February's two persons without a line number are rejected on import; R leaves them out of
    # the universe (the design keeps their PSUs), so both sides estimate on the same persons
    assert got["estimate"] == pytest.approx(float(out[0]), rel=1e-9)
    assert got["se"] == pytest.approx(float(out[1]), rel=1e-6)
    # df: the PSUs of both rounds (each nested in its round x region stratum) minus the 34 strata
    assert int(got["df"]) == int(out[2]) == 708 + 699 - 34
    # independent rounds: the variance of the difference is the sum of the two variances
    alone = [rounds[m].design("person").update(
        univ=((f["age"] >= 15) & f["lf_status"].notna()).astype(float).to_numpy(),
        inlf=((f["age"] >= 15) & f["lf_status"].isin(["employed", "unemployed"])).astype(float).to_numpy()
    ).ratio("inlf", "univ").iloc[0] for m in ("February", "December") for f in [rounds[m].frame("person")]]
    assert got["se"] == pytest.approx(float(np.hypot(alone[0]["se"], alone[1]["se"])), rel=1e-9)
    assert got["estimate"] == pytest.approx(alone[1]["estimate"] - alone[0]["estimate"], rel=1e-12)


def test_rounds_sharing_case_ids_are_refused(tmp_path):
    # a profile keyed on region + household number only would merge two rounds' households
    text = Path(__file__).resolve().parents[1].joinpath("migdata", "profiles", "lfs_puf_2022.toml").read_text()
    text = text.replace('keys = ["PUFSVYYR", "PUFSVYMO", "PUFREG", "PUFHHNUM"]', 'keys = ["PUFREG", "PUFHHNUM"]')
    prof = tmp_path / "p.toml"
    prof.write_text(text)
    from migdata.errors import DataError

    with pytest.raises(DataError) as ei:
        import_files([*month_files("December"), *month_files("February")], prof)
    assert ei.value.code == "MD523"
    assert ei.value.fields["rounds"] == "2022-12, 2022-2"  # the raw items as the file writes them
    assert ei.value.message == render("MD523", **ei.value.fields)


# -- national report -------------------------------------------------------------------------------

def test_national_report_on_the_lfs_uses_survey_wording(rounds, tmp_path):
    from migdata.report import render_report

    store = rounds["December"].save(tmp_path / "dec")
    html = render_report(store, "PH", tmp_path / "ph.html").read_text(encoding="utf-8")
    assert "Migration profile: Philippines" in html
    assert "lfs_puf_2022 2022-12 (sample survey" in html
    assert "margin of error" in html and "every household was" not in html
    assert "CBMS item" not in html
