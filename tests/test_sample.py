"""The synthetic sample generator: file layout, counts, determinism, skip rules, survey design,
and realism against published figures.

The fixed-width files are read here independently of migdata (plain string slicing at the
positions of PSA's HPQF2_DICT.dcf, written out below and cross-checked against the real
dictionary when it is present), so the counts and shares below do not come from the code under
test. The layout subset and the dictionary written beside the data are tested in
test_cbms_layout.py.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest
from scipy import stats

from conftest import realfile
from migdata.errors import UsageError, render
from migdata.sample import generate
from migdata.sample.cbms import DICTIONARY_NAME, Layout
from migdata.sample.dataset import write_cbms

# Positions (1-based start, length) from HPQF2_DICT.dcf; test_positions_match_real_dictionary
# checks them against the real dictionary.
POS = {
    "LNO": (29, 2), "A02": (224, 2), "A03": (226, 2), "A04": (228, 2), "A05": (230, 1), "A07": (239, 3),
    "B01": (29, 1), "B02": (38, 1), "B06": (140, 1), "B07M": (141, 2), "B07Y": (143, 4), "B08": (147, 2),
    "B09": (149, 4), "B10": (153, 2), "E01": (29, 1), "H3G": (113, 9), "NO_HHMEM": (332, 2),
}
DCF_NAMES = {"LNO": "LNO", "A02": "A02_RELTOHHH", "A03": "A03_NUCLEAR", "A04": "A04_RELTONUCFH",
             "A05": "A05_SEX", "A07": "A07_AGE", "B01": "B01_MIG", "B02": "B02_FYRSRESIDE",
             "B06": "B06_OFI", "B07M": "B07_LEAVE_MONTH", "B07Y": "B07_LEAVE_YR", "B08": "B08_STAY",
             "B09": "B09_COUNTRY", "B10": "B10_PTSENDMNY", "E01": "E01_WORK", "H3G": "H3G_CASHRECEIPTS",
             "NO_HHMEM": "NO_HHMEM"}


def field(line: str, name: str) -> str:
    s, n = POS[name]
    return line[s - 1:s - 1 + n].strip()


def num(line: str, name: str) -> int | None:
    v = field(line, name)
    return int(v) if v else None


def parse(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Households (one per R record) and persons (Section A joined with the n-th B and E record)."""
    text = path.read_bytes().decode("utf-8-sig")
    cases: dict[str, dict[str, list[str]]] = {}
    for line in text.split("\n"):
        if line and line[0] in "R136B":
            cases.setdefault(line[1:28], {}).setdefault(line[0], []).append(line)
    hh, pp = [], []
    for cid, recs in cases.items():
        geo = recs["R"][0]
        h3g = num(recs["B"][0], "H3G") if "B" in recs else None
        hh.append({"case": cid, "city_mun": cid[:6], "members": num(geo, "NO_HHMEM"), "h3g": h3g})
        for k, a in enumerate(recs.get("1", [])):
            b = recs["3"][k]
            e = recs["6"][k]
            pp.append({"case": cid, "k": k, "line": num(a, "LNO"), "a02": num(a, "A02"), "a03": num(a, "A03"),
                       "a04": num(a, "A04"), "sex": num(a, "A05"), "age": num(a, "A07"),
                       "b01": num(b, "B01"), "b02": num(b, "B02"), "b06": num(b, "B06"),
                       "b07y": num(b, "B07Y"), "b08": num(b, "B08"), "b09": num(b, "B09"), "b10": num(b, "B10"),
                       "b_any_1_5": bool(b[28:139].strip()), "b_any_7_10": bool(b[140:154].strip()),
                       "e_any": bool(e[28:].strip())})
    return pd.DataFrame(hh), pd.DataFrame(pp)


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sample_small")
    generate(out, households=120, seed=5, survey=True, kobo=False)
    return out


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> tuple[pd.DataFrame, pd.DataFrame]:
    """20,000 households (about 84,000 persons), enough for shares to within a few tenths of a point."""
    path = tmp_path_factory.mktemp("sample_big") / "cbms.dat"
    write_cbms(path, 20_000, seed=7)
    return parse(path)


# --- layout and counts ---------------------------------------------------------------------------

def test_positions_match_real_dictionary():
    real = realfile("ph", "cbms", "HPQF2_DICT.dcf")
    text = real.read_text(encoding="utf-8-sig").replace("\r\n", "\n")
    for key, name in DCF_NAMES.items():
        block = text.split(f"\nName={name}\n", 1)[1]
        start = int(block.split("Start=", 1)[1].split("\n", 1)[0])
        length = int(block.split("Len=", 1)[1].split("\n", 1)[0])
        assert (start, length) == POS[key], name


def test_files_written_and_counts(small):
    names = {p.name for p in small.iterdir()}
    assert {"cbms_2022_hpq.dat", "cbms_2022_hpq_layout.dcf", "lfs_like_survey.sav", "generated.json"} <= names
    assert DICTIONARY_NAME == "cbms_2022_hpq_layout.dcf"
    # PSA's dictionary itself is never shipped
    assert not any(n.upper().startswith("HPQF2") for n in names)
    hh, pp = parse(small / "cbms_2022_hpq.dat")
    assert len(hh) == 120  # one case per household asked for
    # the roster size on the geo record equals the number of Section A lines of the case
    per_case = pp.groupby("case").size()
    assert (hh.set_index("case")["members"] == per_case.reindex(hh["case"]).to_numpy()).all()
    # line numbers run 1..n in each case
    assert (pp.groupby("case")["line"].apply(lambda s: list(s) == list(range(1, len(s) + 1)))).all()


def test_lines_fit_the_dictionary(small):
    lay = Layout()
    lengths = {r.type_value: r.length for r in lay.dictionary.records}
    raw = (small / "cbms_2022_hpq.dat").read_bytes()
    assert raw[:3] == b"\xef\xbb\xbf"  # UTF-8 with BOM, as CSPro writes
    lines = raw[3:].decode("utf-8").split("\n")
    assert lines[-1] == ""
    for i, line in enumerate(lines[:-1], start=1):
        assert line[0] in lengths, f"line {i}: unknown record type {line[0]!r}"
        assert 28 <= len(line) <= lengths[line[0]], f"line {i}"
        assert line == line.rstrip(" "), f"line {i}: trailing blanks"
        assert line[1:28].isdigit(), f"line {i}: case id"


def test_every_required_record_present(small):
    lay = Layout()
    required = {r.type_value for r in lay.dictionary.records if r.required}
    text = (small / "cbms_2022_hpq.dat").read_bytes().decode("utf-8-sig")
    seen: dict[str, set[str]] = {}
    for line in text.split("\n"):
        if line:
            seen.setdefault(line[1:28], set()).add(line[0])
    assert all(required <= s for s in seen.values())


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    a, b, c = tmp_path / "a.dat", tmp_path / "b.dat", tmp_path / "c.dat"
    write_cbms(a, 60, seed=3)
    write_cbms(b, 60, seed=3)
    write_cbms(c, 60, seed=4)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()


def test_bad_household_count(tmp_path):
    with pytest.raises(UsageError) as e:
        generate(tmp_path, households=0, seed=1, survey=False, kobo=False)
    assert e.value.code == "MD650"
    assert str(e.value) == render("MD650", value=0)


def test_numeric_items_zero_fill_and_blanks():
    lay = Layout()
    m = lay.encode("SECTION_A", 3, {"LNO": np.array([1, 12, -1]), "A07_AGE": np.array([7, 41, 100])})
    rows = [bytes(r).decode() for r in m]
    assert [r[28:30] for r in rows] == ["01", "12", "  "]  # LNO is zero-filled in the dictionary
    assert [r[238:241] for r in rows] == ["  7", " 41", "100"]  # A07_AGE is right-justified
    with pytest.raises(ValueError):
        lay.encode("SECTION_A", 1, {"A07_AGE": np.array([1000])})


# --- skip rules and structure of the generated households (DOMAIN.md §2.2.5, §7) ---------------

def test_generated_data_follow_the_skip_rules(big):
    _, pp = big
    assert not pp.loc[pp["age"] < 5, "b_any_1_5"].any()
    assert not pp.loc[pp["age"] < 15, "b_any_7_10"].any()
    assert pp.loc[pp["age"] < 15, "b06"].isna().all()
    assert pp.loc[pp["age"] >= 15, "b06"].isin(range(1, 8)).all()
    res = pp["b06"] == 7
    assert pp.loc[res, ["b07y", "b08", "b09", "b10"]].isna().all().all()
    assert pp.loc[pp["b06"].isin([3, 4, 5, 6]), ["b07y", "b08"]].isna().all().all()
    assert pp.loc[pp["b06"] == 5, "b10"].isna().all()
    assert not pp.loc[pp["b06"].isin([1, 2, 3, 6]), "e_any"].any()
    assert not pp.loc[pp["age"] < 5, "e_any"].any()
    ofw = pp["b06"].isin([1, 2])
    assert pp.loc[ofw, "b09"].between(9001, 9997).all()


def test_family_codes_let_children_link_to_parents(big):
    _, pp = big
    heads = pp[pp["a02"] == 1]
    assert heads.groupby("case").size().eq(1).all()
    assert (heads["line"] == 1).all() and heads["a04"].isin([0, 1]).all()
    # every nuclear family has exactly one family head (A04 0 or 1)
    fam_heads = pp[pp["a04"].isin([0, 1])].groupby(["case", "a03"]).size()
    families = pp.groupby(["case", "a03"]).size()
    assert fam_heads.reindex(families.index).eq(1).all()
    # children (A02 3-6 or A04 4/5) under 18 whose family head or spouse is abroad: the §7 rule finds some
    parents = pp[pp["a04"].isin([1, 2, 3]) & pp["b06"].isin(range(1, 7))][["case", "a03"]].drop_duplicates()
    kids = pp[(pp["a04"].isin([4, 5])) & (pp["age"] < 18)].merge(parents, on=["case", "a03"])
    share = len(kids) / (pp["age"] < 18).sum()
    assert 0.01 < share < 0.15


# --- realism against published figures -----------------------------------------------------------

def test_household_size(big):
    hh, pp = big
    mean = len(pp) / len(hh)
    # 2020 CPH CALABARZON: about 16.1 M household population in about 3.9 M households (4.1-4.2);
    # the brief asks for 4.1-4.3. Sampling error at 30,000 households is about 0.01.
    assert 4.1 <= mean <= 4.3


def test_overseas_workers_share_sex_and_age(big):
    _, pp = big
    ofw = pp["b06"].isin([1, 2])
    share = ofw.mean()
    # 2020 CPH: 372,301 overseas workers of 16,195,042 CALABARZON residents = 2.30 %. Binomial SE at
    # 84,000 persons is 0.05 pp; household clustering and the chunk-wise calibration add a little:
    # ±0.35 pp.
    assert abs(share - 372_301 / 16_195_042) < 0.0035
    # 2020 CPH national: 51.8 % of overseas workers are women (SE here about 1.2 pp): ±3 pp.
    female = (pp.loc[ofw, "sex"] == 2).mean()
    assert abs(female - 0.518) < 0.03
    # 2020 CPH (and 2010): the largest five-year age group of overseas workers is 30-34.
    groups = pd.cut(pp.loc[ofw, "age"], [15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 200], right=False)
    assert str(groups.value_counts().idxmax()) == "[30, 35)"


def test_destinations_in_sof_order(big):
    _, pp = big
    top = Counter(pp.loc[pp["b06"].isin([1, 2]), "b09"]).most_common(3)
    # SOF tables: Saudi Arabia (9201) first, United Arab Emirates (9240) second, then Hong Kong (9104).
    assert [c for c, _ in top] == [9201, 9240, 9104]


def test_age_structure_is_young(big):
    _, pp = big
    # 2020 CPH national: 0-14 30.7 %, 65+ 5.4 % (CALABARZON slightly older; regional figure not retrieved).
    assert 0.24 <= (pp["age"] < 15).mean() <= 0.33
    assert 0.04 <= (pp["age"] >= 65).mean() <= 0.09


def test_cash_from_abroad_goes_with_overseas_members(big):
    hh, pp = big
    of_cases = set(pp.loc[pp["b06"].isin(range(1, 7)), "case"])
    receives = hh["h3g"].fillna(0) > 0
    has_of = hh["case"].isin(of_cases)
    assert receives[has_of & hh["case"].isin(set(pp.loc[pp["b06"].isin([1, 2]), "case"]))].mean() > 0.75
    assert receives[~has_of].mean() < 0.06
    assert has_of[receives].mean() > 0.6  # most receiving households have someone abroad


def test_households_placed_by_population(big):
    hh, pp = big
    from migdata.areas.reference import reference

    ref = reference()
    b = ref[(ref["level"] == "barangay") & ref["psgc"].str.startswith("04") & ref["correspondence_code"].notna()]
    pop = b.groupby(b["correspondence_code"].str[:6])["population_2020"].sum().astype(float)
    observed = hh["city_mun"].value_counts().reindex(pop.index, fill_value=0)
    expected = pop / pop.sum() * len(hh)
    # multinomial placement: a chi-square goodness-of-fit test over the 142 cities/municipalities
    # (expected counts 9 to 840 households)
    chi = stats.chisquare(observed.to_numpy(), expected.to_numpy())
    assert chi.pvalue > 0.001
    # persons by province against the published 2020 CPH populations (DOMAIN.md §5.5); ±1.5 pp
    # covers sampling and the 18 post-2022 Bacoor barangays (1 % of the region) left out.
    published = {"0410": 2_908_494, "0421": 4_344_829, "0434": 3_382_193, "0456": 1_950_459 + 278_924,
                 "0458": 3_330_143}
    total = sum(published.values())
    shares = pp["case"].str[:4].value_counts(normalize=True)
    for prov, n in published.items():
        assert abs(shares[prov] - n / total) < 0.015, prov


# --- the sample survey ---------------------------------------------------------------------------

def test_survey_design_and_labels(small):
    df, meta = pyreadstat.read_sav(str(small / "lfs_like_survey.sav"), user_missing=True)
    assert {"hhid", "stratum", "psu", "pwgt", "sex", "age", "ofi", "country"} <= set(df.columns)
    # 5 provinces x urban/rural = 10 strata, at least 2 PSUs each (variance needs 2)
    per_stratum = df.groupby("stratum")["psu"].nunique()
    assert len(per_stratum) == 10 and (per_stratum >= 2).all()
    # one weight per household, constant within the household
    assert (df.groupby("hhid")["pwgt"].nunique() == 1).all()
    # weighted persons estimate the 2020 CPH population of the region (16,195,042); a design with
    # ~60 PSUs has a CV of a few percent on this total: ±12 %
    assert abs(df["pwgt"].sum() / 16_195_042 - 1) < 0.12
    assert meta.variable_value_labels["sex"] == {1.0: "Male", 2.0: "Female"}
    assert meta.variable_value_labels["country"][9201.0] == "Saudi Arabia"  # DOMAIN.md §2.2.4: 9201 Saudi Arabia
    assert meta.missing_ranges["months_abroad"] == [{"lo": 98.0, "hi": 98.0}]
    assert df["hhid"].str.startswith("S").all()


def test_committed_sample_data_is_reproducible(tmp_path):
    root = Path(__file__).resolve().parents[1] / "sample_data"
    if not (root / "cbms_2022_hpq.dat").exists():
        pytest.skip("sample_data/ is not in this checkout")
    write_cbms(tmp_path / "x.dat", 1200, seed=2022)  # sample_data/README.md
    assert (tmp_path / "x.dat").read_bytes() == (root / "cbms_2022_hpq.dat").read_bytes()


def test_committed_kobo_exports_read_back():
    root = Path(__file__).resolve().parents[1] / "sample_data" / "kobo"
    if not root.is_dir():
        pytest.skip("sample_data/kobo is not in this checkout")
    from openpyxl import load_workbook

    from migdata.readers.kobo import read_kobo_xlsx
    from migdata.sample.linked import SURVEYS

    assert sorted(p.stem for p in root.glob("*.xlsx")) == sorted(SURVEYS)
    for form in SURVEYS:
        wb = load_workbook(root / f"{form}.xlsx", read_only=True)
        main = wb.worksheets[0]
        header = next(main.iter_rows(min_row=1, max_row=1, values_only=True))
        rows = sum(1 for _ in main.iter_rows(min_row=2, values_only=True))
        assert rows > 40 and "_uuid" in header and any(str(c).endswith("/cbms_case_id") for c in header)
    # and the project's Kobo reader takes an export as it is (one form keeps the test short)
    tables, cb = read_kobo_xlsx(root / "children_left_behind_survey.xlsx")
    assert "sample_weight" in tables["main"].columns and "father_line_no" in tables["main"].columns
    assert cb.report.problems == []


def test_sample_survey_profile_imports_the_committed_survey():
    sav = Path(__file__).resolve().parents[1] / "sample_data" / "lfs_like_survey.sav"
    if not sav.exists():
        pytest.skip("sample_data/ is not in this checkout")
    from migdata.importer import import_files

    data = import_files([sav], "sample_survey")  # the profile shipped in migdata/profiles
    assert data.report.problems == []
    df, _ = pyreadstat.read_sav(str(sav))
    assert len(data.persons) == len(df)
    assert len(data.households) == df["hhid"].nunique() == df["psu"].nunique() * 12
    # weighted share of overseas workers: tidy table vs the file read directly
    p = data.persons
    tidy = (p["weight"] * p["of_status"].isin(["ofw_contract", "ofw_no_contract"])).sum() / p["weight"].sum()
    direct = (df["pwgt"] * df["ofi"].isin([1, 2])).sum() / df["pwgt"].sum()
    assert tidy == pytest.approx(direct, rel=1e-12)
    h = data.households
    assert h["stratum"].nunique() == 10 and h["psu"].nunique() == df["psu"].nunique()


def test_output_folder_is_a_file(tmp_path):
    target = tmp_path / "taken"
    target.write_text("not a folder")
    with pytest.raises(UsageError) as e:
        generate(target, households=5, seed=1, survey=False, kobo=False)
    assert e.value.code == "MD652"
    assert str(target) in str(e.value)


def test_no_region_barangays_in_the_reference():
    from migdata.sample.dataset import barangays

    ref = pd.DataFrame({"psgc": ["1380100001"], "level": ["barangay"], "correspondence_code": ["137501001"],
                        "urban_rural": ["urban"], "population_2020": [2319]})
    with pytest.raises(UsageError) as e:
        barangays(ref)
    assert e.value.code == "MD651"
