"""CBMS 2022 Sections A20, C, H, L/L1, P, Q and R in the ``cbms_2022_hpq`` profile.

The bundled CBMS file is read here with plain string slicing at the positions of PSA's
HPQF2_DICT.dcf (written out below; ``tests/test_cbms_layout.py`` checks the layout subset, and
``test_positions_are_psa_positions`` here checks these very numbers, against the real dictionary
when it is present), and every expected value is computed from those raw answers with plain
Python: the PSA code tables (HPQF2_DICT value sets C02_HGC_VS1-VS9), the Washington Group rule,
the L1 member lists, the programme flags, the income items, PSA's 2021 national poverty threshold
(PHP 12,030 a month for a family of five, x 12 / 5) and the multidimensional-poverty rule of
the profile's ``[mpi]`` table (global MPI structure) re-implemented here on the raw items.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pandas as pd
import pytest

from conftest import realfile
from migdata.importer import import_files

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"

# record type -> item -> (start, length), from HPQF2_DICT.dcf
POS = {
    "1": {"LNO": (29, 2), "A05_SEX": (230, 1), "A07_AGE": (239, 3), "A20_DIFFSEEING": (878, 1),
          "A20_DIFFHRING": (879, 1), "A20_DIFFWALK": (880, 1), "A20_DIFFREMEM": (881, 1),
          "A20_DIFFSLFCARE": (882, 1), "A20_DIFFCOMM": (883, 1)},
    "4": {"C02_HGCLEVEL": (30, 1), "C02_HGC": (31, 8), "C03_CURATTEND": (47, 1), "C04_CURSCH": (48, 1),
          "C05_CURGRADELEVEL": (49, 8), "C05_CURGRADE": (57, 8), "C07_GRADTECH": (97, 1), "C08_TRNSKL": (98, 1)},
    "B": {"H2A_TOTAL": (59, 9), "H2B_TOTAL": (68, 9), "H2C_TOTAL": (77, 9), "H3D_NETENTREP": (86, 9),
          "H3E_NETPROF": (95, 9), "H3F_NETSHARE": (104, 9), "H3G_CASHRECEIPTS": (113, 9), "H3H_PANTAWID": (122, 9),
          "H3I_SOCIAL": (131, 9), "H3J_SAP": (140, 9), "H3K_OTHER": (149, 9), "H3L_DIVIDEND": (158, 9),
          "H3M_RENTALS": (167, 9), "H3N_INTERESTS": (176, 9), "H3O_GIFTS": (185, 9), "H3P_FSA": (194, 9),
          "H05_SOURCESOFINCOME": (533, 9)},
    "G": {"L01_PREG": (29, 1), "L06_CPREG": (60, 1), "L08_LACTMOM": (91, 1), "L10_TYZFDIED": (122, 1),
          "L15_DIS": (123, 1), "L33_TMSICK": (278, 1), "L10A_NOCHLDDIED": (309, 2)},
    "H": {"L02_LNO": (29, 2), "L03_LBIRTHS": (31, 2), "L04_NLBIRTHS": (33, 1), "L07_LNO": (40, 2),
          "L09_LNO": (42, 2), "L16_LNO": (173, 2), "L34_LNO": (448, 2)},
    "M": {"P01A_SSS": (29, 1), "P01B_GSIS": (30, 1), "P01F_PAGIBIG": (34, 1), "P02_1A_SSS": (36, 30),
          "P02_1B_GSIS": (66, 30), "P02_1F_PAGIBIG": (186, 30), "P05A_REG4PS": (463, 1), "P05B_MOD4PS": (464, 1),
          "P05C_UCT": (465, 1), "P05D_SOCPEN": (466, 1), "P05E_IMAP": (467, 1), "P05F_STUFAP": (468, 1),
          "P05G_SNRHIGH": (469, 1), "P05H_ESA": (470, 1), "P05I_HOUSING": (471, 1), "P05J_HEALTH": (472, 1),
          "P05Z_OTHERS": (473, 1), "P05K_COMM": (504, 1), "P08_MEMFEEDNG": (887, 1)},
    "O": {"Q03_WDRINK": (65, 2), "Q06_WGET": (130, 3), "Q14_TOILET": (262, 2), "Q19_TSHARE": (348, 1)},
    "P": {"R03_ROOF": (63, 1), "R04_WALLS": (125, 2), "R06_MFLOOR": (188, 1), "R12_ELCTRCTY": (272, 1),
          "R15_FUELCOOK": (339, 1)},
}
RECORD = {"1": "SECTION_A", "4": "SECTION_C", "B": "SECTION_H", "G": "SECTION_L", "H": "SECTION_L1",
          "M": "SECTION_P", "O": "SECTION_Q", "P": "SECTION_R"}

# PSA's C02_HGC codes (HPQF2_DICT value sets C02_HGC_VS1-VS9) -> attainment step, by hand
HGC = {0: "none", 1000: "early_childhood", 2000: "early_childhood",
       **{c: "elementary_undergraduate" for c in (10011, 10012, 10013, 10014, 10015)},
       10017: "elementary_graduate", 10018: "elementary_graduate",
       **{c: "jhs_undergraduate" for c in (24011, 24012, 24013)}, 24015: "jhs_graduate",
       **{c: "shs_undergraduate" for c in (34011, 34021, 34031, 35011)},
       **{c: "shs_graduate" for c in (34013, 34014, 34015, 34016, 34017, 34018, 34023, 34024, 34025, 34026,
                                      34027, 34028, 34033, 35013, 35014, 35015, 35016, 35017, 35018)},
       **{c: "post_secondary" for c in (40001, 40002, 40003, 49998)},
       **{c: "short_cycle_tertiary" for c in (50001, 50002, 50003, 59998)},
       **{c: "college_undergraduate" for c in (60001, 60002, 60003, 60004, 60005, 60006)},
       69998: "college_graduate", **{c: "post_graduate" for c in (70010, 79998, 80010, 89998)}}
PROGRAMMES = {"P05A_REG4PS": "4ps_regular", "P05B_MOD4PS": "4ps_modified", "P05C_UCT": "uct",
              "P05D_SOCPEN": "social_pension", "P05E_IMAP": "medical_assistance", "P05F_STUFAP": "student_aid",
              "P05G_SNRHIGH": "shs_voucher", "P05H_ESA": "emergency_shelter", "P05I_HOUSING": "housing",
              "P05J_HEALTH": "health_assistance", "P05K_COMM": "wash", "P05Z_OTHERS": "other",
              "P08_MEMFEEDNG": "feeding"}


def _need(p: Path) -> Path:
    if not p.exists():
        pytest.skip(f"{p} is not in this checkout")
    return p


def _v(line: str, start: int, length: int) -> int | None:
    s = line[start - 1:start - 1 + length].strip()
    return int(s) if s.isdigit() else None


@pytest.fixture(scope="module")
def raw() -> dict:
    """case id -> record type -> list of {item: value} (occurrence order)."""
    text = _need(SAMPLE / "cbms_2022_hpq.dat").read_bytes().decode("utf-8-sig")
    out: dict = defaultdict(lambda: defaultdict(list))
    for line in text.split("\n"):
        if line and line[0] in POS:
            items = {k: (line[s - 1:s - 1 + n].strip() if k.startswith("P02") else _v(line, s, n))
                     for k, (s, n) in POS[line[0]].items()}
            out[line[1:28]][line[0]].append(items)
    return out


@pytest.fixture(scope="module")
def tidy():
    data = import_files([_need(SAMPLE / "cbms_2022_hpq.dat"), SAMPLE / "cbms_2022_hpq_layout.dcf"], "cbms_2022_hpq")
    assert data.report.problems == []
    p = data.persons.set_index(["hh_id", "line_no"])
    h = data.households.set_index("hh_id")
    return p, h


def test_positions_are_psa_positions():
    from migdata.sample.layout import load_layout

    lay = load_layout()
    for rtype, items in POS.items():
        for name, (start, length) in items.items():
            it = lay.item(name)
            assert (it.start, it.length, it.record) == (start, length, RECORD[rtype]), name
            assert lay.record(RECORD[rtype]).type_value == rtype


def test_positions_against_psa_dictionary():
    from migdata.readers.cspro import read_dictionary

    d = read_dictionary(realfile("ph", "cbms", "HPQF2_DICT.dcf"))
    for rtype, items in POS.items():
        assert d.record(RECORD[rtype]).type_value == rtype
        for name, (start, length) in items.items():
            it = d.item(name)
            assert (it.start, it.length, it.record) == (start, length, RECORD[rtype]), name


def _persons(raw):
    for case, recs in raw.items():
        for a, c in zip(recs["1"], recs["4"]):
            yield case, a, c


def test_highest_grade_and_levels(raw, tidy):
    p, _ = tidy
    n = 0
    for case, a, c in _persons(raw):
        row = p.loc[(case, a["LNO"])]
        code = c["C02_HGC"]
        assert (row["highest_grade"] if pd.notna(row["highest_grade"]) else None) == (None if code is None else HGC[code])
        assert (row["highest_grade_src"] if pd.notna(row["highest_grade_src"]) else None) == \
            (None if code is None else str(code))
        # the level is the first digit of a five-digit code (PSA's rule), 0 otherwise
        if code is not None:
            assert c["C02_HGCLEVEL"] == (code // 10000 if code >= 10000 else 0)
        n += code is not None
    assert n > 4000


def test_difficulty_from_a20(raw, tidy):
    p, _ = tidy
    seen = {True: 0, False: 0, None: 0}
    for case, a, _ in _persons(raw):
        vals = [a[k] for k in a if k.startswith("A20")]
        want = True if any(v in (3, 4) for v in vals) else (False if all(v in (1, 2) for v in vals) else None)
        got = p.loc[(case, a["LNO"]), "difficulty"]
        assert (None if pd.isna(got) else bool(got)) == want
        seen[want] += 1
        if a["A07_AGE"] < 5:
            assert vals == [None] * 6  # A20 is asked of persons 5+
    assert seen[True] > 20 and seen[False] > 3000


def test_section_l_lists(raw, tidy):
    p, h = tidy
    for case, recs in raw.items():
        lists = {k: {o[k] for o in recs["H"] if o[k] is not None} for k in ("L02_LNO", "L34_LNO", "L16_LNO")}
        lrec = recs["G"][0]
        for a in recs["1"]:
            row = p.loc[(case, a["LNO"])]
            ill = a["LNO"] in lists["L34_LNO"]
            assert bool(row["ill_12m"]) == ill  # L33 is asked in every household
            assert bool(row["disability"]) == (a["LNO"] in lists["L16_LNO"])
            woman10 = a["A05_SEX"] == 2 and a["A07_AGE"] >= 10
            preg = row["pregnant_3y"]
            if woman10 and lrec["L01_PREG"] in (1, 2):
                assert bool(preg) == (a["LNO"] in lists["L02_LNO"])
            else:
                assert pd.isna(preg)
        # the yes/no item agrees with its list
        assert (lrec["L33_TMSICK"] == 1) == bool(lists["L34_LNO"])
        assert bool(h.loc[case, "child_death_3y"]) == (lrec["L10_TYZFDIED"] == 1)


def test_programmes_memberships_and_income(raw, tidy):
    p, h = tidy
    for case, recs in raw.items():
        prec, hrec = recs["M"][0], recs["B"][0]
        want = {PROGRAMMES[k] for k in PROGRAMMES if prec[k] == 1}
        assert set(str(h.loc[case, "programmes"]).split()) == want
        assert bool(h.loc[case, "programme_4ps"]) == (prec["P05A_REG4PS"] == 1 or prec["P05B_MOD4PS"] == 1)
        sss = {int(prec["P02_1A_SSS"][i:i + 2]) for i in range(0, len(prec["P02_1A_SSS"]), 2)}
        for a in recs["1"]:
            assert bool(p.loc[(case, a["LNO"]), "sss_member"]) == (a["LNO"] in sss)
        for col, item in (("income_salaries", "H2A_TOTAL"), ("income_4ps", "H3H_PANTAWID"),
                          ("income_social_pension", "H3I_SOCIAL"), ("income_enterprise", "H3D_NETENTREP"),
                          ("cash_abroad", "H3G_CASHRECEIPTS"), ("income", "H05_SOURCESOFINCOME")):
            assert h.loc[case, col] == hrec[item], (case, col)
        # H05 is the family's total income: the sum of every source (H2A-H3P)
        sources = [v for k, v in hrec.items() if k != "H05_SOURCESOFINCOME"]
        assert sum(sources) == hrec["H05_SOURCESOFINCOME"]
        assert (prec["P05A_REG4PS"] == 1 or prec["P05B_MOD4PS"] == 1) == (hrec["H3H_PANTAWID"] > 0)


def test_poverty_threshold_is_psa_2021(tidy):
    _, h = tidy
    # PSA 2021: PHP 12,030 a month for a family of five (national; the regional 2021 figure is not in
    # the thresholds file, see its header) -> 12,030 x 12 / 5 a year per person
    assert (h["poverty_threshold"] == 12030 * 12 / 5).all()


def test_a_copy_of_the_profile_uses_its_own_poverty_settings(tmp_path):
    """A user's copy of the profile with threshold_year = 2023 gets the 2023 thresholds (the
    hooks read [poverty] from the file applied, not from the shipped profile)."""
    from migdata.profiles import load_profile

    text = Path(load_profile("cbms_2022_hpq").path).read_text(encoding="utf-8")
    assert "threshold_year = 2021" in text
    copy = tmp_path / "my_cbms.toml"
    copy.write_text(text.replace("threshold_year = 2021", "threshold_year = 2023"), encoding="utf-8")
    data = import_files([_need(SAMPLE / "cbms_2022_hpq.dat"), SAMPLE / "cbms_2022_hpq_layout.dcf"], copy)
    # PSA 2023: PHP 15,457 a month for a family of five in Region IV-A -> 15,457 x 12 / 5 = 37,096.8
    # a year per person, which the thresholds file records rounded to the peso
    assert (data.households["poverty_threshold"] == 37097).all()


def test_multidimensional_poverty(raw, tidy):
    _, h = tidy
    w = {"schooling": 1 / 6, "attendance": 1 / 6, "mortality": 1 / 3, "fuel": 1 / 15, "sanitation": 1 / 15,
         "water": 1 / 15, "electricity": 1 / 15, "housing": 1 / 15}
    poor = 0
    for case, recs in raw.items():
        pers = list(zip(recs["1"], recs["4"]))
        q, r, lrec = recs["O"][0], recs["P"][0], recs["G"][0]
        grades = [c["C02_HGC"] for a, c in pers if a["A07_AGE"] >= 10 and c["C02_HGC"] is not None]
        d = {"schooling": None if not grades else not any(g in (10017, 10018) or g >= 24011 for g in grades),
             "attendance": any(6 <= a["A07_AGE"] <= 14 and c["C03_CURATTEND"] == 2 for a, c in pers),
             "mortality": lrec["L10_TYZFDIED"] == 1,
             "fuel": None if r["R15_FUELCOOK"] == 9 else r["R15_FUELCOOK"] in (4, 5),
             "electricity": r["R12_ELCTRCTY"] == 2}
        improved = q["Q14_TOILET"] in (11, 12, 13, 21, 22, 31, 71)
        shared = q["Q19_TSHARE"] == 1 or q["Q14_TOILET"] == 71
        d["sanitation"] = True if (q["Q14_TOILET"] != 99 and not improved) or shared else \
            (None if q["Q14_TOILET"] == 99 else False)
        far = q["Q06_WGET"] is not None and q["Q06_WGET"] != 998 and q["Q06_WGET"] > 30
        unimproved = q["Q03_WDRINK"] in (32, 42, 81)
        d["water"] = True if unimproved or far else (None if q["Q03_WDRINK"] == 99 or q["Q06_WGET"] == 998 else False)
        natural = r["R06_MFLOOR"] in (5, 6) or r["R03_ROOF"] in (5, 7) or r["R04_WALLS"] in (5, 8, 9)
        unknown = r["R06_MFLOOR"] == 9 or r["R03_ROOF"] == 9 or r["R04_WALLS"] == 99
        d["housing"] = True if natural else (None if unknown else False)
        if any(v is None for v in d.values()):
            assert pd.isna(h.loc[case, "mpi_poor"]) and pd.isna(h.loc[case, "mpi_score"])
            continue
        score = sum(w[k] for k, v in d.items() if v)
        assert h.loc[case, "mpi_score"] == pytest.approx(score, abs=1e-12)
        assert bool(h.loc[case, "mpi_poor"]) == (score >= 1 / 3 - 1e-12)
        poor += score >= 1 / 3 - 1e-12
    assert poor >= 5  # the sample has multidimensionally poor households


# --- the profile's code maps against PSA's value sets ------------------------------------------

def _mapped(spec: dict) -> set[int]:
    """Source codes a profile column maps (ranges "a:b" expanded over ``universe``) or declares missing."""
    out = set()
    for k in spec.get("codes", {}):
        if ":" in str(k):
            lo, hi = (int(x) for x in str(k).split(":"))
            out |= {("range", lo, hi)}
        else:
            out.add(int(k))
    return out | {int(m) for m in spec.get("missing", [])}


def _covers(spec: dict, code: int) -> bool:
    for k in spec.get("codes", {}):
        if ":" in str(k):
            lo, hi = (int(x) for x in str(k).split(":"))
            if lo <= code <= hi:
                return True
        elif int(k) == code:
            return True
    return code in {int(m) for m in spec.get("missing", [])}


def test_profile_codes_equal_psa_value_sets():
    from migdata.profiles import load_profile
    from migdata.readers.cspro import read_dictionary

    d = read_dictionary(realfile("ph", "cbms", "HPQF2_DICT.dcf"))
    prof = load_profile("cbms_2022_hpq")
    cols = {**prof.tables["persons"]["columns"], **prof.tables["households"]["columns"]}

    def psa(item: str) -> set[int]:
        return {v.low for vs in d.item(item).value_sets for v in vs.values if not v.is_range and v.special is None}

    # every PSA highest-grade code maps to an attainment step, and to the step written out above
    hgc = psa("C02_HGC")
    assert hgc == set(HGC)
    for code in hgc:
        assert _covers(cols["highest_grade"], code), code
    # PSCED levels 0-8, school type 1-3
    assert psa("C02_HGCLEVEL") == set(range(9)) == {int(k) for k in cols["highest_level"]["codes"]}
    assert psa("C05_CURGRADELEVEL") == {int(k) for k in cols["current_level"]["codes"]}
    assert psa("C04_CURSCH") == {int(k) for k in cols["school_type"]["codes"]}
    # items with a yes/no or deprivation map: mapped codes + missing codes = PSA's value set exactly
    for col, item in (("water_improved", "Q03_WDRINK"), ("sanitation_improved", "Q14_TOILET"),
                      ("toilet_shared", "Q19_TSHARE"), ("electricity", "R12_ELCTRCTY"),
                      ("cooking_fuel_solid", "R15_FUELCOOK"), ("roof_natural", "R03_ROOF"),
                      ("walls_natural", "R04_WALLS"), ("floor_natural", "R06_MFLOOR"),
                      ("child_death_3y", "L10_TYZFDIED"), ("tvet_graduate", "C07_GRADTECH"),
                      ("tvet_attending", "C08_TRNSKL")):
        assert _mapped(cols[col]) == psa(item), (col, item)
    # the member lists and programme items the hooks read are yes/no items in PSA's dictionary
    for item in [*PROGRAMMES, "L01_PREG", "L06_CPREG", "L08_LACTMOM", "L15_DIS", "L33_TMSICK", "P01A_SSS",
                 "P01B_GSIS", "P01F_PAGIBIG"]:
        assert psa(item) == {1, 2}, item
    for item in ("A20_DIFFSEEING", "A20_DIFFHRING", "A20_DIFFWALK", "A20_DIFFREMEM", "A20_DIFFSLFCARE",
                 "A20_DIFFCOMM"):
        assert psa(item) == {1, 2, 3, 4}, item  # 3 a lot of difficulty, 4 cannot do at all
