"""The OF and CLB surveys of the bundled sample, weighted as their profiles declare, in a database
with the CBMS stream: design weights 1/pi from the sample list, non-response within strata,
raking to the CBMS counts by stratum and sex.

Expected values come from outside the code under test:

- the CBMS counts of overseas Filipinos by statistical province and sex are counted here from
  the CBMS fixed-width file by string slicing at PSA's positions (geo ID 2-28, LNO 29-30, A05
  col 230, B06 col 140; as ``test_sample_linked``);
- the CBMS counts of children with a parent abroad by stratum are the sample list's frame counts
  (written by the generator), their total the README's 101;
- the calibrated weights are recomputed here by hand: respondents (consent; assent for the CLB
  survey) with a stratum, w = 1/pi scaled to N_h within each stratum, then iterative
  proportional fitting on stratum and sex until the margins move less than 1e-13 (raking's
  fixed point is the calibration of R ``calibrate(calfun = "raking")``);
- an indicator of each stream, computed by the database path, equals the weighted share/mean
  of those hand weights.
"""

from __future__ import annotations

import csv
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from sample_slices import cbms_by_slicing  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"
KOBO = SAMPLE / "kobo"
PROVINCE = {"10": "0401000000", "21": "0402100000", "34": "0403400000", "56": "0405600000", "58": "0405800000"}
SEX = {"1": "male", "2": "female"}


def _need(p: Path) -> Path:
    if not p.exists():
        pytest.skip(f"{p} is not in this checkout")
    return p


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    from migdata.importer import import_files
    from migdata.model.database import Database

    d = Database.create(tmp_path_factory.mktemp("weights") / "db")
    d.add(import_files([_need(SAMPLE / "cbms_2022_hpq.dat"), SAMPLE / "cbms_2022_hpq_layout.dcf"], "cbms_2022_hpq"))
    for form, profile in (("overseas_filipino_survey", "kobo_of_survey"), ("children_left_behind_survey", "kobo_clb_survey")):
        d.add(import_files([_need(KOBO / f"{form}.xlsx")], profile))
    return d


@pytest.fixture(scope="module")
def of_counts() -> Counter:
    return Counter({k: len(v) for k, v in cbms_ofs().items()})


def cbms_ofs() -> dict[tuple[str, str], list[tuple[str, int]]]:
    """CBMS overseas Filipinos (B06 1-6) by (province stratum, sex): their (case id, line), by
    slicing the file."""
    cbms = cbms_by_slicing(_need(SAMPLE / "cbms_2022_hpq.dat"))
    out: dict[tuple[str, str], list[tuple[str, int]]] = defaultdict(list)
    for (case, n), m in cbms["members"].items():
        v = m.get("b06")
        if v is not None and 1 <= v <= 6:
            out[(PROVINCE[cbms["geo"][case][2:4]], SEX[m["sex"]])].append((case, n))
    return out


def _hand_weights(t: pd.DataFrame, inside: np.ndarray, strata: dict, sexes: dict) -> np.ndarray:
    """Non-response within strata then raking by iterative proportional fitting (see the module)."""
    w = np.where(inside, t["weight"].to_numpy(dtype=float), 0.0)
    st = t["stratum"].astype(object).fillna("").to_numpy()
    sx = t["sex"].astype(object).fillna("").to_numpy()
    for h in strata:
        m = inside & (st == h)
        w[m] *= float(t["fpc"].to_numpy()[m][0]) / w[m].sum()
    for _ in range(1000):
        before = w.copy()
        for col, target in ((st, strata), (sx, sexes)):
            for k, N in target.items():
                m = inside & (col == k)
                w[m] *= N / w[m].sum()
        if np.abs(w - before).max() < 1e-13:
            break
    return w


def test_of_survey_weights_reproduce_the_cbms_counts(db, of_counts):
    from migdata.indicators.streams import linked_dataset

    data = linked_dataset(db, "of_survey-2026")
    d = data.design("person")
    t = data.tables["of_survey"]
    inside = (t["stratum"].notna() & t["consent"].fillna(False)).to_numpy(dtype=bool)
    assert (d.w[~inside] == 0).all() and (~inside).sum() == 6   # the six refusals (README)
    got = pd.Series(d.w[inside]).groupby([t["stratum"][inside].to_numpy(), t["sex"][inside].to_numpy()]).sum()
    strata = Counter()
    sexes = Counter()
    for (h, s), n in of_counts.items():
        strata[h] += n
        sexes[s] += n
    assert sum(of_counts.values()) == 120
    by_h = got.groupby(level=0).sum()
    by_s = got.groupby(level=1).sum()
    assert by_h.to_dict() == {h: pytest.approx(n, rel=1e-9) for h, n in strata.items()}
    assert by_s.to_dict() == {s: pytest.approx(n, rel=1e-9) for s, n in sexes.items()}
    np.testing.assert_allclose(d.w, _hand_weights(t, inside, strata, sexes), rtol=1e-9)
    assert "calibrated (raking) to CBMS of counts by stratum; sex" in data.spec.describe("person")


def test_clb_survey_weights_reproduce_the_cbms_counts(db):
    from migdata.indicators import derive
    from migdata.indicators.streams import linked_dataset

    with open(_need(KOBO / "sample_lists" / "children_left_behind_survey_sample.csv"), encoding="utf-8") as fh:
        strata = {r["stratum"]: float(r["frame_n"]) for r in csv.DictReader(fh)}
    assert sum(strata.values()) == 101
    # sex of the CBMS children with a parent abroad: the indicator layer's units, counted here
    p = derive.units(db.dataset("cbms"))["person"]
    kids = p[(p["age"] <= 17) & p["parent_abroad"].astype(object).isin(["father", "mother", "both"])]
    sexes = kids["sex"].astype(object).value_counts().astype(float).to_dict()
    assert sum(sexes.values()) == 101
    data = linked_dataset(db, "clb_survey-2026")
    d = data.design("person")
    t = data.tables["clb_survey"]
    inside = (t["stratum"].notna() & t["consent"].fillna(False)
              & t["assent"].astype(object).isin(["yes", "under_7"])).to_numpy(dtype=bool)
    assert (d.w[~inside] == 0).all() and (~inside).sum() == 5   # 2 refusals, 3 without assent (README)
    st, sx = t["stratum"][inside].to_numpy(), t["sex"][inside].to_numpy()
    w = pd.Series(d.w[inside])
    assert w.groupby(st).sum().to_dict() == {h: pytest.approx(n, rel=1e-9) for h, n in strata.items()}
    assert w.groupby(sx).sum().to_dict() == {s: pytest.approx(n, rel=1e-9) for s, n in sexes.items()}
    np.testing.assert_allclose(d.w, _hand_weights(t, inside, strata, sexes), rtol=1e-9)


def test_survey_indicators_use_the_calibrated_weights(db, of_counts):
    """OS01 (OF survey, share by channel) and CL03 (CLB survey, mean score) for the region equal
    the weighted share and mean of the hand-made calibrated weights, over the records whose CBMS
    link gives them an area (a record is placed in an area by its CBMS household)."""
    from migdata.indicators import derive
    from migdata.indicators.streams import compute_database, linked_dataset

    out = compute_database(db, ["OS01", "CL03"], level="region", by=[])
    strata, sexes = Counter(), Counter()
    for (h, s), n in of_counts.items():
        strata[h] += n
        sexes[s] += n
    t = db.dataset("of_survey").tables["of_survey"]
    inside = (t["stratum"].notna() & t["consent"].fillna(False)).to_numpy(dtype=bool)
    w = _hand_weights(t, inside, strata, sexes)
    placed = derive.units(linked_dataset(db, "of_survey-2026"))["person"]["region"].notna().to_numpy()
    uni = (t["sent_money"].fillna(False) & t["remit_channel"].notna()).to_numpy(dtype=bool) & placed
    ch = t["remit_channel"].astype(object).where(t["remit_channel"].notna(), "").to_numpy()
    os01 = out[out["indicator_id"] == "OS01"].set_index("category")["estimate"]
    assert len(os01) >= 2
    for cat, est in os01.items():
        want = 100 * w[uni & (ch == cat)].sum() / w[uni].sum()
        assert est == pytest.approx(want, rel=1e-9), cat
    c = db.dataset("clb_survey").tables["clb_survey"]
    with open(_need(KOBO / "sample_lists" / "children_left_behind_survey_sample.csv"), encoding="utf-8") as fh:
        cstrata = {r["stratum"]: float(r["frame_n"]) for r in csv.DictReader(fh)}
    p = derive.units(db.dataset("cbms"))["person"]
    kids = p[(p["age"] <= 17) & p["parent_abroad"].astype(object).isin(["father", "mother", "both"])]
    cin = (c["stratum"].notna() & c["consent"].fillna(False)
           & c["assent"].astype(object).isin(["yes", "under_7"])).to_numpy(dtype=bool)
    cw = _hand_weights(c, cin, cstrata, kids["sex"].astype(object).value_counts().astype(float).to_dict())
    score = c["wb_score"].to_numpy(dtype=float, na_value=np.nan)
    ok = cin & ~np.isnan(score) & derive.units(linked_dataset(db, "clb_survey-2026"))["person"]["region"].notna().to_numpy()
    cl03 = out[out["indicator_id"] == "CL03"]["estimate"]
    assert len(cl03) == 1
    assert cl03.iloc[0] == pytest.approx((cw[ok] * score[ok]).sum() / cw[ok].sum(), rel=1e-9)


def test_a_stratum_without_respondents_leaves_the_others_calibrated(db, of_counts):
    """Everyone drawn in Quezon (0405600000) refuses: the weights carry the CBMS counts of the
    other four provinces, by province and by sex (counted from the file without Quezon)."""
    from migdata.indicators.frames import calibrated
    from migdata.model.data import HouseholdData

    data = db.dataset("of_survey")
    t = data.tables["of_survey"].copy()
    t["consent"] = t["consent"].where(t["stratum"].astype(object) != "0405600000", False)
    view = calibrated(HouseholdData({**data.tables, "of_survey": t}, codebook=data.codebook,
                                    provenance=data.provenance, report=data.report), db.dataset("cbms"))
    d = view.design("person")
    inside = (t["stratum"].notna() & t["consent"].fillna(False)).to_numpy(dtype=bool)
    strata, sexes = Counter(), Counter()
    for (h, s), n in of_counts.items():
        if h != "0405600000":
            strata[h] += n
            sexes[s] += n
    w = pd.Series(d.w[inside])
    assert w.groupby(t["stratum"][inside].to_numpy()).sum().to_dict() == \
        {h: pytest.approx(n, rel=1e-9) for h, n in strata.items()}
    assert w.groupby(t["sex"][inside].to_numpy()).sum().to_dict() == \
        {s: pytest.approx(n, rel=1e-9) for s, n in sexes.items()}
    assert d.w.sum() == pytest.approx(120 - 18, rel=1e-9)
