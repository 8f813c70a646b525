"""Education, functioning, health, social protection, income by source and housing of the synthetic
population, coded as in the CBMS 2022 HPQ (Sections A20, C, H, L, P, Q and R).

Hand-written for the same reason as :mod:`migdata.sample.population` (no library simulates a
Philippine household population with CBMS codes), and vectorised the same way. The items are drawn
from their own random stream (``rng`` given by the caller), after the population model, so they
never change the roster or migration items of a seed.

Universes and item rules follow PSA's 2022 validation scripts (``rcbms-app``,
``2022-cbms/sections/section-{a,c,l,p}.R``): A20 and C01-C02 for persons 5+; C03-C06 for 3-24 (the
population model fills attendance for 5-24); C07-C08 for 15+; the HGC level is the first digit
of a five-digit HGC code (0 for no grade, nursery and kindergarten); L01/L06/L08 only in
households with a female member 10+; L02/L07/L09 name females 10+; L10, L15 and L33 in every
household; the members of each L list and of the P02 membership lists are line numbers.

Shares are our assumptions ("[A]": plausible for CALABARZON, not published figures):

- **Highest grade (C02)** of adults by birth cohort: younger adults more often finished high school
  or college [A]. Children's highest grade follows their age (grade 1 completed at 7, elementary
  at 12, junior high at 16), a fifth one grade behind [A]; OFWs are more often high-school or
  college graduates [A, SOF: most OFWs finished at least high school].
- **Current grade (C05)** of those attending: the grade after their highest grade [A].
- **TVET (C07, C08)**: 8 % of persons 15+ are TVET graduates, 2 % attend [A].
- **Functional difficulty (A20, Washington Group short set)**: a lot of difficulty or unable in at
  least one domain for 1 % of ages 5-17, 1.5 % of 18-49, 5 % of 50-64, 15 % of 65-79 and 35 % of
  80+ [A, the rise with age of WG-SS surveys]; "some difficulty" three times as often.
- **Section L**: women 15-49 pregnant in the past 3 years 24 % (10-14 and 50-54 rarely) [A, a total
  fertility near 2]; currently pregnant 5 %, lactating 8 % [A]; a child born alive who died in the
  past 3 years in 1 % of households with a recent pregnancy [A]; members with a disability (L15/L16)
  are most of those with a lot of difficulty in A20 [A]; ill or injured in the past 12 months 15 %
  of members at home, more among the old and the very young [A].
- **Section P**: SSS members among employed adults 40 % and OFWs 45 %, GSIS 5 % of employed,
  Pag-IBIG 35 % of employed and 60 % of OFWs [A]; programmes (P05) go mostly to low-income
  households: 4Ps (regular, and modified for 1 %), UCT, social pension (households with a member
  60+), IMAP, StuFAP, SHS voucher (members 16-17 at school), ESA, housing, WASH, feeding (P08,
  households with children 0-12) [A].
- **Section H** (family income, PHP a year): the non-remittance income of the population model is
  split over wages (H2A; households with an employed member), commissions and other compensation
  (H2B, H2C), entrepreneurial and professional receipts, crop shares, domestic cash receipts,
  dividends, rentals, interest, gifts and sustenance activities [A]; 4Ps cash (H3H) for 4Ps
  households (PHP 8,000-30,000 a year [A]), the social pension (H3I) PHP 6,000 a year (PHP 500 a
  month, the 2022 rate of RA 9994 before RA 11916); H05 = the sum of every source incl. H3G.
- **Sections Q and R** (water, sanitation, housing, electricity, cooking fuel): most households
  drink refilling-station or piped water, have a flush toilet to a septic tank, a galvanised iron
  roof, concrete or hollow-block walls, a concrete floor, electricity and LPG for cooking;
  unimproved or makeshift answers are 2.5 times as frequent in the lowest income fifth and far more
  frequent in the poorest 6 % (deprivations cluster), where a quarter have no electricity [A].

Example:
    >>> import numpy as np, pandas as pd
    >>> p = pd.DataFrame({"hh": [0, 0], "line_no": [1, 2], "A05": [1, 2], "A07": [40, 8],
    ...                   "A02": [1, 3], "B06_OFI": [7, -1], "C03_CURATTEND": [-1, 1],
    ...                   "E01_WORK": [1, -1], "E03_JOBBUS": [-1, -1]})
    >>> out = add_education_health(np.random.default_rng(0), p)
    >>> int(out.loc[1, "C02_HGC"]) in (10011, 10012)   # an 8-year-old finished grade 2, or grade 1
    True
"""

from __future__ import annotations

import numpy as np
import pandas as pd

BLANK = -1
OF_ABROAD = (1, 2, 3, 4, 5, 6)  # B06 codes of members abroad

# C02_HGC codes (HPQF2_DICT value sets C02_HGC_VS1-VS9) by attainment step
HGC_NONE, HGC_NURSERY, HGC_KINDER = 0, 1000, 2000
ELEM = [10011, 10012, 10013, 10014, 10015]            # grades 1-5 completed
ELEM_GRAD = 10018
JHS = [24011, 24012, 24013]                           # grades 7-9 completed
JHS_GRAD = 24015
SHS_G11 = [34011, 34021, 34031, 35011]                # grade 11 completed, by track
SHS_GRAD = [34013, 34014, 34015, 34016, 34017, 35013, 35014, 35015, 35016, 34023, 34033]
POSTSEC = [40001, 40002, 49998]
SHORT_CYCLE = [50001, 59998]
COLLEGE = [60001, 60002, 60003, 60004]
COLLEGE_GRAD = 69998
POSTGRAD = [70010, 79998, 80010, 89998]

# Attainment of adults 25+ (cohort-adjusted below) [A]
ADULT_STEPS = ["elem_u", "elem_g", "jhs_u", "jhs_g", "shs_g", "postsec", "short", "coll_u", "coll_g", "post"]
ADULT_P_OLD = [0.20, 0.22, 0.10, 0.26, 0.00, 0.04, 0.01, 0.07, 0.09, 0.01]    # born before 1965
ADULT_P_YOUNG = [0.05, 0.07, 0.08, 0.30, 0.10, 0.05, 0.02, 0.13, 0.19, 0.01]  # born 1965 and later
OFW_P = [0.01, 0.04, 0.04, 0.28, 0.07, 0.10, 0.03, 0.14, 0.27, 0.02]

# Water, sanitation, housing [A] (codes of HPQF2_DICT: Q03, Q14, R03, R04, R06, R15)
DRINKING_WATER = {72: 0.45, 11: 0.28, 12: 0.05, 14: 0.03, 21: 0.06, 31: 0.02, 32: 0.015, 41: 0.01,
                  42: 0.005, 51: 0.002, 61: 0.005, 81: 0.003, 91: 0.04, 92: 0.005, 99: 0.005}
TOILET = {12: 0.85, 11: 0.03, 13: 0.03, 22: 0.03, 23: 0.015, 21: 0.005, 14: 0.01, 71: 0.01,
          95: 0.015, 41: 0.002, 51: 0.003, 31: 0.002, 15: 0.003, 99: 0.002}
ROOF = {1: 0.80, 2: 0.08, 3: 0.05, 4: 0.01, 5: 0.03, 6: 0.01, 7: 0.015, 9: 0.005}
WALLS = {10: 0.40, 1: 0.25, 3: 0.15, 11: 0.05, 2: 0.06, 5: 0.04, 4: 0.02, 8: 0.015, 6: 0.005,
         7: 0.002, 12: 0.003, 9: 0.002, 99: 0.003}
FLOOR = {1: 0.88, 2: 0.05, 3: 0.01, 4: 0.02, 5: 0.03, 6: 0.005, 9: 0.005}
COOKING = {3: 0.70, 5: 0.15, 4: 0.05, 1: 0.07, 2: 0.005, 6: 0.02, 9: 0.005}
# codes made more frequent in the lowest income fifth (unimproved, natural or makeshift, solid fuel)
POOR_CODES = {"Q03_WDRINK": {32, 42, 81, 51}, "Q14_TOILET": {14, 15, 23, 41, 51, 95},
              "R03_ROOF": {5, 7}, "R04_WALLS": {5, 8, 9}, "R06_MFLOOR": {5, 6}, "R15_FUELCOOK": {4, 5}}

#: household-level items this module writes (Section -> items)
SOCIAL_PENSION_YEAR = 6000
PROGRAMMES = ["P05A_REG4PS", "P05B_MOD4PS", "P05C_UCT", "P05D_SOCPEN", "P05E_IMAP", "P05F_STUFAP",
              "P05G_SNRHIGH", "P05H_ESA", "P05I_HOUSING", "P05J_HEALTH", "P05Z_OTHERS", "P05K_COMM"]
INCOME_SOURCES = ["H2A_TOTAL", "H2B_TOTAL", "H2C_TOTAL", "H3D_NETENTREP", "H3E_NETPROF", "H3F_NETSHARE",
                  "H3K_OTHER", "H3L_DIVIDEND", "H3M_RENTALS", "H3N_INTERESTS", "H3O_GIFTS", "H3P_FSA"]
# chance that a household has each source (wages only with an employed member) and its weight in
# the split of the non-remittance income [A]
SOURCE_P = [0.0, 0.10, 0.10, 0.30, 0.03, 0.05, 0.15, 0.02, 0.05, 0.05, 0.12, 0.10]
SOURCE_W = [6.0, 0.4, 0.4, 3.0, 3.0, 0.8, 0.6, 0.5, 1.0, 0.2, 0.4, 0.3]


def _choice(rng: np.random.Generator, table: dict[int, float], n: int) -> np.ndarray:
    codes = np.fromiter(table.keys(), dtype=np.int64)
    p = np.fromiter(table.values(), dtype=float)
    return rng.choice(codes, size=n, p=p / p.sum())


def _pick(rng: np.random.Generator, options: list[int], n: int) -> np.ndarray:
    return np.asarray(options, dtype=np.int64)[rng.integers(0, len(options), n)]


def _hgc_of_step(rng: np.random.Generator, step: np.ndarray) -> np.ndarray:
    """A five-digit HGC code for each attainment step name."""
    n = len(step)
    out = np.full(n, HGC_NONE, dtype=np.int64)
    table = {"elem_u": ELEM, "elem_g": [ELEM_GRAD], "jhs_u": JHS, "jhs_g": [JHS_GRAD], "shs_g": SHS_GRAD,
             "postsec": POSTSEC, "short": SHORT_CYCLE, "coll_u": COLLEGE, "coll_g": [COLLEGE_GRAD],
             "post": POSTGRAD}
    for name, codes in table.items():
        sel = step == name
        out[sel] = _pick(rng, codes, int(sel.sum()))
    return out


# The highest grade a child of each age has completed when on time (index = age 0..24):
# 6 kindergarten, 7 grade 1 ... 11 grade 5, 12 elementary graduate, 13-15 grades 7-9,
# 16 junior-high graduate, 17 grade 11, 18 senior-high graduate, 19-22 college years 1-4.
_ON_TIME = ([HGC_NONE] * 5 + [HGC_NURSERY, HGC_KINDER] + ELEM + [ELEM_GRAD] + JHS + [JHS_GRAD]
            + [34011, 34014] + COLLEGE + [COLLEGE_GRAD, COLLEGE_GRAD])


def _young_hgc(rng: np.random.Generator, age: np.ndarray) -> np.ndarray:
    """Highest grade of persons 5-24: on time, or one step behind for a fifth of them [A]."""
    ladder = np.asarray(_ON_TIME, dtype=np.int64)
    idx = np.clip(age, 0, len(ladder) - 1)
    behind = (rng.random(len(age)) < 0.2) & (idx > 5)
    idx = idx - behind
    out = ladder[idx]
    # a third of 18-24-year-olds stopped after junior or senior high school
    stop = (age >= 18) & (rng.random(len(age)) < 0.33)
    out = np.where(stop, np.where(rng.random(len(age)) < 0.5, JHS_GRAD, 34014), out)
    # senior-high tracks and strands vary
    shs = np.isin(out, [34011])
    out[shs] = _pick(rng, SHS_G11, int(shs.sum()))
    shs = np.isin(out, [34014])
    out[shs] = _pick(rng, SHS_GRAD, int(shs.sum()))
    return out


def hgc_level(code: np.ndarray) -> np.ndarray:
    """C02/C05 level: the first digit of a five-digit grade code, else 0 (PSA's rule)."""
    code = np.asarray(code, dtype=np.int64)
    return np.where(code >= 10000, code // 10000, 0)


# The grade someone with each highest grade would attend next (C05_CURGRADE codes).
def _next_grade(hgc: np.ndarray, age: np.ndarray) -> np.ndarray:
    out = np.full(len(hgc), BLANK, dtype=np.int64)
    out[hgc == HGC_NONE] = np.where(age[hgc == HGC_NONE] <= 3, 1000, 2000)
    out[hgc == HGC_NURSERY] = 2000
    out[hgc == HGC_KINDER] = 10011
    for k, code in enumerate(ELEM):  # grade k+1 done -> grade k+2 (grade 6 = 10016)
        out[hgc == code] = 10012 + k
    out[hgc == ELEM_GRAD] = 24011
    for k, code in enumerate(JHS):
        out[hgc == code] = 24012 + k
    out[hgc == JHS_GRAD] = 34011
    out[np.isin(hgc, SHS_G11)] = 34012
    grad = np.isin(hgc, SHS_GRAD) | np.isin(hgc, POSTSEC)
    out[grad] = 60001
    for k, code in enumerate(COLLEGE):
        out[hgc == code] = min(60002 + k, 60004)
    out[(hgc == COLLEGE_GRAD) | np.isin(hgc, POSTGRAD) | np.isin(hgc, SHORT_CYCLE)] = 70010
    return out


def add_education_health(rng: np.random.Generator, p: pd.DataFrame) -> pd.DataFrame:
    """Person items: C02 (highest grade), C05 (current grade), C07-C08 (TVET), A20 (functioning),
    and the person flags behind the household's Section L and P lists (``_preg3y``, ``_pregnow``,
    ``_lactating``, ``_disabled``, ``_ill``, ``_sss``, ``_gsis``, ``_pagibig``).

    ``p`` needs ``hh``, ``line_no``, ``A05`` (sex), ``A07`` (age), ``B06_OFI``, ``C03_CURATTEND``,
    ``E01_WORK`` and ``E03_JOBBUS`` (source codes, -1 blank).
    """
    m = len(p)
    age = p["A07"].to_numpy()
    female = p["A05"].to_numpy() == 2
    b06 = p["B06_OFI"].to_numpy()
    abroad = np.isin(b06, OF_ABROAD)
    ofw = np.isin(b06, [1, 2])
    out = p.copy()

    # C02 highest grade completed (5+)
    hgc = np.full(m, BLANK, dtype=np.int64)
    young = (age >= 5) & (age <= 24)
    hgc[young] = _young_hgc(rng, age[young])
    adult = age >= 25
    cohort_old = age >= 57  # born before 1965 (reference year 2022)
    for sel, probs in ((adult & cohort_old & ~ofw, ADULT_P_OLD), (adult & ~cohort_old & ~ofw, ADULT_P_YOUNG),
                       (adult & ofw, OFW_P)):
        k = int(sel.sum())
        step = np.asarray(ADULT_STEPS)[rng.choice(len(ADULT_STEPS), size=k, p=np.asarray(probs) / sum(probs))]
        hgc[sel] = _hgc_of_step(rng, step)
    hgc[adult & (rng.random(m) < 0.01)] = HGC_NONE  # no grade completed [A]
    out["C02_HGC"] = hgc
    out["C02_HGCLEVEL"] = np.where(hgc >= 0, hgc_level(np.maximum(hgc, 0)), BLANK)

    # C05 current grade of those attending (C03 = 1)
    att = p["C03_CURATTEND"].to_numpy() == 1
    cur = np.where(att, _next_grade(np.maximum(hgc, 0), age), BLANK)
    out["C05_CURGRADE"] = cur
    out["C05_CURGRADELEVEL"] = np.where(cur >= 0, hgc_level(np.maximum(cur, 0)), BLANK)

    # C07-C08 TVET, persons 15+
    a15 = age >= 15
    out["C07_GRADTECH"] = np.where(a15, np.where(rng.random(m) < 0.08, 1, 2), BLANK)
    out["C08_TRNSKL"] = np.where(a15, np.where(rng.random(m) < 0.02, 1, 2), BLANK)

    # A20 functioning (5+): a lot / cannot in some domain, some difficulty more often
    p_severe = np.select([age < 18, age < 50, age < 65, age < 80], [0.01, 0.015, 0.05, 0.15], 0.35)
    severe = rng.random(m) < p_severe
    some = ~severe & (rng.random(m) < 3 * p_severe)
    domains = ["A20_DIFFSEEING", "A20_DIFFHRING", "A20_DIFFWALK", "A20_DIFFREMEM", "A20_DIFFSLFCARE",
               "A20_DIFFCOMM"]
    dom_p = np.array([0.30, 0.15, 0.30, 0.12, 0.08, 0.05])
    main = rng.choice(6, size=m, p=dom_p / dom_p.sum())
    five = age >= 5
    for j, item in enumerate(domains):
        v = np.ones(m, dtype=np.int64)
        v[(main == j) & some] = 2
        v[(main == j) & severe] = np.where(rng.random(int(((main == j) & severe).sum())) < 0.8, 3, 4)
        v[severe & (main != j) & (rng.random(m) < 0.15)] = 2  # other domains too, sometimes
        out[item] = np.where(five, v, BLANK)

    # Section L flags (at home only: members abroad are not in these lists)
    home = ~abroad
    fert = np.select([age < 10, age < 15, age < 20, age < 35, age < 45, age < 50, age < 55],
                     [0.0, 0.01, 0.15, 0.35, 0.18, 0.04, 0.005], 0.0)
    preg3y = female & home & (rng.random(m) < fert)
    out["_preg3y"] = preg3y
    births = np.where(preg3y, 1 + (rng.random(m) < 0.2), 0)  # L03 pregnancies, L04 live births
    out["_pregnancies"] = births
    out["_live_births"] = births - (preg3y & (rng.random(m) < 0.05))
    out["_pregnow"] = preg3y & (rng.random(m) < 0.17) & (age >= 15) & (age <= 49)
    out["_lactating"] = preg3y & ~out["_pregnow"].to_numpy() & (rng.random(m) < 0.3)
    out["_disabled"] = five & home & ((severe & (rng.random(m) < 0.8)) | (some & (rng.random(m) < 0.05)))
    p_ill = np.select([age < 5, age < 60], [0.22, 0.12], 0.30)
    out["_ill"] = home & (rng.random(m) < p_ill)

    # Section P memberships (SSS, GSIS, Pag-IBIG), persons 15+
    employed = (p["E01_WORK"].to_numpy() == 1) | (p["E03_JOBBUS"].to_numpy() == 1)
    u = rng.random(m)
    out["_sss"] = a15 & ((employed & (u < 0.40)) | (ofw & (u < 0.45)))
    out["_gsis"] = a15 & employed & ~out["_sss"].to_numpy() & (rng.random(m) < 0.06)
    out["_pagibig"] = a15 & ((employed & (rng.random(m) < 0.35)) | (ofw & (rng.random(m) < 0.60)))
    out["_employed"] = employed
    return out


def _bump(rng: np.random.Generator, table: dict[int, float], poor: set[int], low: np.ndarray,
          very_low: np.ndarray) -> np.ndarray:
    """Codes drawn from ``table``; the ``poor`` codes 2.5 times as likely where ``low`` is true and
    15 times where ``very_low`` is (deprivations cluster in the poorest households)."""
    n = len(low)
    out = _choice(rng, table, n)
    for mask, factor in ((low & ~very_low, 2.5), (very_low, 15.0)):
        boosted = {k: v * (factor if k in poor else 1.0) for k, v in table.items()}
        idx = np.flatnonzero(mask)
        out[idx] = _choice(rng, boosted, len(idx))
    return out


def household_welfare(rng: np.random.Generator, p: pd.DataFrame, h: pd.DataFrame) -> pd.DataFrame:
    """Household items of Sections H (income by source), L, P, Q and R for the households ``h``
    (one row per household, ``hh`` = 0..n-1, with ``H3G_CASHRECEIPTS``, ``H05_SOURCESOFINCOME``,
    ``P05A_REG4PS`` and ``P05J_HEALTH`` of the population model); ``p`` are the persons from
    :func:`add_education_health`."""
    n = len(h)
    out = h.copy()
    hh = p["hh"].to_numpy()
    age = p["A07"].to_numpy()
    female = p["A05"].to_numpy() == 2
    h3g = h["H3G_CASHRECEIPTS"].to_numpy()
    other = h["H05_SOURCESOFINCOME"].to_numpy() - h3g  # the population model's other income

    def any_in_hh(flag: np.ndarray) -> np.ndarray:
        return np.bincount(hh, weights=np.asarray(flag, dtype=float), minlength=n) > 0

    # income fifth of the household (per capita), for programme targeting and deprivation
    size = np.bincount(hh, minlength=n)
    pci = other / np.maximum(size, 1)
    low = pci <= np.quantile(pci, 0.2) if n else np.zeros(0, bool)
    very_low = pci <= np.quantile(pci, 0.06) if n else np.zeros(0, bool)
    poorish = pci <= np.quantile(pci, 0.35) if n else np.zeros(0, bool)

    # Section L: yes/no items and the lists behind them (lists are written as L1 occurrences)
    fem10 = any_in_hh(female & (age >= 10))
    yn = lambda flag: np.where(any_in_hh(flag), 1, 2)  # noqa: E731
    out["L01_PREG"] = np.where(fem10, yn(p["_preg3y"]), BLANK)
    out["L06_CPREG"] = np.where(fem10, yn(p["_pregnow"]), BLANK)
    out["L08_LACTMOM"] = np.where(fem10, yn(p["_lactating"]), BLANK)
    died = any_in_hh(p["_preg3y"]) & (rng.random(n) < 0.01 * np.where(low, 2.0, 1.0))
    out["L10_TYZFDIED"] = np.where(died, 1, 2)
    out["L10A_NOCHLDDIED"] = np.where(died, 1, BLANK)
    out["L15_DIS"] = yn(p["_disabled"])
    out["L33_TMSICK"] = yn(p["_ill"])

    # Section P: memberships (household flag + member list) and programmes
    line = p["line_no"].to_numpy()
    for flag, item, lst in (("_sss", "P01A_SSS", "P02_1A_SSS"), ("_gsis", "P01B_GSIS", "P02_1B_GSIS"),
                            ("_pagibig", "P01F_PAGIBIG", "P02_1F_PAGIBIG")):
        out[item] = yn(p[flag])
        out[lst] = member_list(hh, line, p[flag].to_numpy(), n)
    reg4ps = h["P05A_REG4PS"].to_numpy() == 1
    mod4ps = ~reg4ps & low & (rng.random(n) < 0.05)
    senior = any_in_hh(age >= 60)
    shs_age = any_in_hh((age >= 16) & (age <= 17) & (p["C03_CURATTEND"].to_numpy() == 1))
    college_age = any_in_hh((age >= 18) & (age <= 24) & (p["C03_CURATTEND"].to_numpy() == 1))
    kids = any_in_hh(age <= 12)
    u = lambda: rng.random(n)  # noqa: E731
    prog = {
        "P05A_REG4PS": reg4ps,
        "P05B_MOD4PS": mod4ps,
        "P05C_UCT": u() < np.where(low, 0.20, 0.02),
        "P05D_SOCPEN": senior & (u() < np.where(poorish, 0.40, 0.08)),
        "P05E_IMAP": u() < 0.03,
        "P05F_STUFAP": college_age & (u() < 0.10),
        "P05G_SNRHIGH": shs_age & (u() < 0.35),
        "P05H_ESA": u() < 0.01,
        "P05I_HOUSING": u() < 0.01,
        "P05J_HEALTH": h["P05J_HEALTH"].to_numpy() == 1,
        "P05Z_OTHERS": u() < 0.02,
        "P05K_COMM": u() < 0.02,
    }
    for item, flag in prog.items():
        out[item] = np.where(flag, 1, 2)
    out["P08_MEMFEEDNG"] = np.where(kids & (u() < np.where(low, 0.25, 0.06)), 1, 2)

    # Section H: the non-remittance income split over sources; 4Ps and social pension added
    employed = any_in_hh(p["_employed"])
    has = rng.random((n, len(INCOME_SOURCES))) < np.asarray(SOURCE_P)
    has[:, 0] = employed
    none = ~has.any(axis=1)
    has[none, 6] = True  # no earner: domestic cash receipts (support from relatives)
    w = has * rng.gamma(2.0, 1.0, (n, len(INCOME_SOURCES))) * np.asarray(SOURCE_W)
    w = w / w.sum(axis=1, keepdims=True)
    parts = np.round(w * other[:, None], -2).astype(np.int64)
    parts[:, 0] += other - parts.sum(axis=1)  # rounding to the wage (or first) source
    fix = parts[:, 0] < 0
    parts[fix, 6] += parts[fix, 0]
    parts[fix, 0] = 0
    for j, item in enumerate(INCOME_SOURCES):
        out[item] = parts[:, j]  # 0 for a source the family does not have
    cash4ps = np.where(reg4ps | mod4ps, np.round(rng.uniform(8000, 30000, n), -2), 0).astype(np.int64)
    socpen = np.where(prog["P05D_SOCPEN"], SOCIAL_PENSION_YEAR, 0)
    out["H3H_PANTAWID"] = cash4ps
    out["H3I_SOCIAL"] = socpen
    out["H3J_SAP"] = 0
    out["H05_SOURCESOFINCOME"] = other + h3g + cash4ps + socpen

    # Sections Q and R
    out["Q03_WDRINK"] = _bump(rng, DRINKING_WATER, POOR_CODES["Q03_WDRINK"], low, very_low)
    piped_home = np.isin(out["Q03_WDRINK"].to_numpy(), [11, 12])
    delivered = np.isin(out["Q03_WDRINK"].to_numpy(), [72, 91, 92]) & (rng.random(n) < 0.6)
    minutes = np.clip(np.round(rng.gamma(2.0, 6.0, n)), 1, 180).astype(np.int64)
    minutes = np.where(rng.random(n) < 0.01, 998, minutes)
    out["Q06_WGET"] = np.where(piped_home | delivered, 0, minutes)
    toilet = _bump(rng, TOILET, POOR_CODES["Q14_TOILET"], low, very_low)
    out["Q14_TOILET"] = toilet
    out["Q19_TSHARE"] = np.where(toilet == 95, BLANK, np.where(rng.random(n) < np.where(low, 0.25, 0.10), 1, 2))
    out["R03_ROOF"] = _bump(rng, ROOF, POOR_CODES["R03_ROOF"], low, very_low)
    out["R04_WALLS"] = _bump(rng, WALLS, POOR_CODES["R04_WALLS"], low, very_low)
    out["R06_MFLOOR"] = _bump(rng, FLOOR, POOR_CODES["R06_MFLOOR"], low, very_low)
    out["R12_ELCTRCTY"] = np.where(rng.random(n) < np.select([very_low, low], [0.75, 0.93], 0.985), 1, 2)
    out["R15_FUELCOOK"] = _bump(rng, COOKING, POOR_CODES["R15_FUELCOOK"], low, very_low)
    return out


def member_list(hh: np.ndarray, line: np.ndarray, flag: np.ndarray, n: int) -> np.ndarray:
    """Per household, the flagged members' line numbers as two-digit codes ("0103"), at most 15."""
    out = np.full(n, "", dtype=object)
    sel = np.flatnonzero(flag)
    if len(sel):
        s = pd.Series(np.char.zfill(line[sel].astype(str), 2), index=hh[sel])
        joined = s.groupby(level=0).agg("".join).str[:30]
        out[joined.index.to_numpy()] = joined.to_numpy()
    return out


#: L1 list items (one occurrence per listed member, positional: the k-th pregnant woman, the k-th
#: ill member ... of a household share the k-th L1 occurrence)
L1_LISTS = {"L02_LNO": "_preg3y", "L07_LNO": "_pregnow", "L09_LNO": "_lactating", "L16_LNO": "_disabled",
            "L34_LNO": "_ill"}


def l1_occurrences(p: pd.DataFrame, n: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The Section L1 occurrences of ``n`` households: the number per household (at least 1, a
    blank line where the household lists nobody) and the item arrays, in household order."""
    hh = p["hh"].to_numpy()
    line = p["line_no"].to_numpy()
    per_list = {}
    for item, flag in L1_LISTS.items():
        sel = np.asarray(p[flag].to_numpy(), dtype=bool)
        per_list[item] = (hh[sel], line[sel])
    counts = np.ones(n, dtype=np.int64)
    for hsel, _ in per_list.values():
        counts = np.maximum(counts, np.bincount(hsel, minlength=n))
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    total = int(counts.sum())
    vals = {item: np.full(total, BLANK, dtype=np.int64) for item in list(L1_LISTS) + ["L03_LBIRTHS", "L04_NLBIRTHS"]}
    preg = np.asarray(p["_preg3y"].to_numpy(), dtype=bool)
    for item, (hsel, lsel) in per_list.items():
        if len(hsel) == 0:
            continue
        # persons come in (household, line) order, so the k-th listed member of a household is
        # its k-th row here
        k = np.arange(len(hsel)) - np.searchsorted(hsel, hsel, side="left")
        pos = start[hsel] + k
        vals[item][pos] = lsel
        if item == "L02_LNO":
            vals["L03_LBIRTHS"][pos] = p["_pregnancies"].to_numpy()[preg]
            vals["L04_NLBIRTHS"][pos] = p["_live_births"].to_numpy()[preg]
    return counts, vals
