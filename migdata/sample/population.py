"""The synthetic CALABARZON population model: households and persons coded as in the CBMS 2022 HPQ.

Hand-written because no library simulates a Philippine household population with CBMS codes.
Everything is vectorised with numpy per chunk of households, so the model streams to 16.2 M
persons in bounded memory. Persons come out with the *source* codes of the 2022 HPQ (A02, B06,
B09, ...), ``-1`` meaning a blank item; the writers (:mod:`migdata.sample.cbms`,
:mod:`migdata.sample.survey`) turn them into files.

Assumptions and their sources (figures from DOMAIN.md unless stated; "[A]" = our assumption,
chosen to be plausible, not a published figure):

- **Placement.** Households are placed in the real barangays of Region IV-A (five provinces and
  Lucena) in proportion to the barangays' 2020 CPH population (``migdata.areas.reference()``,
  PSA PSGC publication; region total 16,195,042).
- **Household size.** Distribution over 1..12 with mean about 4.15 (2020 CPH: CALABARZON household
  population 16.1 M in about 3.9 M households, i.e. 4.1-4.2 per household). Shares [A].
- **Age-sex structure.** Households are built from roles (head, spouse, children, a married child's
  family, parents of the head, other relatives, domestic helpers); ages follow from the head's age
  and the age of mothers at birth. This gives a young pyramid: 0-14 about 27-30 %, 65+ about 6 %
  (2020 CPH national: 0-14 30.7 %, 65+ 5.4 %, median age 25.3; CALABARZON is slightly older).
  Heads are male in about 80 % of couple households [A]; children's sex ratio 105 males per
  100 females (sex ratio at birth).
- **Overseas workers (OFWs, B06 1-2).** 2.3 % of the population (2020 CPH: 372,301 overseas workers
  from CALABARZON, 16.2 M persons), 52 % female (2020 CPH national: 51.8 % female), age pattern of
  the 2010 CPH overseas-worker table (largest group 30-34; 2020 CPH also 30-34). OFWs are drawn
  from household members aged 18-64 who are heads, spouses, children, children-in-law, siblings
  or other relatives. 95 % have a contract (B06=1; SOF 2022: 1.94 M of 1.96 M OFWs are OCWs).
- **Other overseas Filipinos.** A few students (B06=4, age 18-30), tourists (5), embassy staff (3)
  and others (6): together about 0.15 % of the population [A].
- **Destinations (B09, CBMS country codes).** OFW shares in the order of SOF tables: Saudi
  Arabia 22 %, UAE 14 %, Hong Kong 8 %, Kuwait 6.5 %, Qatar 5.5 %, Singapore 5 %, Taiwan 4.5 %,
  Japan 4 %, USA 3.5 %, Malaysia, Canada, Italy, Oman, Bahrain, South Korea, UK, Australia, ...
  Exact shares [A]; 0.5 % "don't know" (9997).
- **Departure and stay (B07, B08).** Reference date July 2022 (CBMS 2022 enumeration). Last
  departure mostly 2019-2022 (two-year contracts), some back to 2015; months abroad = months since
  departure; 1 % don't know (98 / 9998). Times money sent (B10): mostly 8-14 in the year for OFWs,
  fewer for other OFs; tourists are skipped (DOMAIN §2.2.4).
- **Cash from abroad (H3G) and income (H05).** 90 % of households with an OFW receive cash from
  abroad (median about PHP 150,000 a year, log-normal) [A, FIES orders of magnitude]; 3 % of other
  households receive smaller amounts from relatives abroad. Family income is log-normal with a
  median about PHP 260,000 plus the cash from abroad [A; FIES 2021 CALABARZON average family income
  about PHP 350,000].
- **Parents abroad.** Children 0-17 get a parent abroad whenever an OFW is the head/spouse of their
  family (the A02/A03/A04 codes let the DOMAIN §7 link rule find the parent).
- **Internal migration (B01-B05).** Birthplace (mother's residence at birth, B01, age 5+): 57 %
  same city/municipality, 42 % elsewhere in the Philippines, 0.2 % abroad, 0.5 % don't know
  (2020 CPH: CALABARZON lifetime migrants 6.23 M vs 8.33 M non-migrants, i.e. 43 %; foreign-born
  about 0.2 %). Residence 5 years ago (B02): 4.5 % elsewhere in the Philippines and 0.6 % abroad
  (returnees, residents 15+) [A; 2020 CPH national non-movers 95.5 %]. Places in the Philippines
  are PPMM codes of real cities/municipalities (the same province is favoured: 28 % of national
  lifetime migrants moved within their province). A fifth of 5-year movers moved in the last
  6 months (B04/B05 repeat the origin and reason). Reasons (B03): employment, housing, family
  reasons, school, ...; returnees mostly "finished contract" [A].
- **School (C03)** for ages 5-24, attendance by age (5: 85 %, 6-11: 97 %, 12-15: 93 %, 16-17: 85 %,
  18-20: 50 %, 21-24: 20 %) [A, close to PSA APIS/LFS patterns].
- **Economic activity (Section E)** for persons 5+ at home, skipping OFs with B06 in {1,2,3,6}
  (DOMAIN §2.2.5). Employment by age and sex gives a labour-force participation rate of about
  61 % and unemployment of about 6 % for ages 15+ (LFS 2022 orders of magnitude: LFPR 66.4 %,
  unemployment 4.3 % nationally in December 2022) [A].
- **OWWA and PhilHealth (Section P)** are household items with the members' line numbers
  (two digits each, as PSA's validation scripts read them): 80 % of OFWs with a contract are OWWA
  members [A]; 75 % of households have PhilHealth members [A].
- **Accounts (Section K)**: bank 35 %, e-money 30 %, cooperative 5 % [A]; K03 "account used for
  remittances" yes for 65 % of receiving households with an account [A].
- **Names and addresses** are synthetic (drawn from short lists), so that the privacy rule of the
  importer (drop names, streets, GPS) has something to drop.

Example:
    >>> import numpy as np
    >>> from migdata.sample.population import household_sizes
    >>> int(household_sizes(np.random.default_rng(1), 5).min()) >= 1
    True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from migdata.sample.welfare import member_list

REFERENCE_YEAR = 2022
REFERENCE_MONTH = 7

BLANK = -1

# Household size 1..12 [A], mean about 4.15.
SIZE_P = np.array([0.08, 0.15, 0.18, 0.195, 0.155, 0.10, 0.06, 0.035, 0.02, 0.01, 0.006, 0.004])
SIZE_P = SIZE_P / SIZE_P.sum()

# 2010 CPH overseas workers by age (thousands): <20 (used as 18-19), 20-24, ..., 55-59, 60+ (60-64 here).
OW_AGE_EDGES = np.array([18, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65])
OW_AGE_COUNTS = np.array([57.7, 115.6, 256.5, 281.1, 249.4, 198.2, 144.1, 98.4, 54.5, 49.7])
OW_SHARE = 0.023  # overseas workers / population (2020 CPH CALABARZON: 372,301 / 16.2 M)
OW_FEMALE = 0.52

# OFW destinations: CBMS 2022 country codes and shares [A, ordered as in SOF tables].
OFW_DESTINATIONS = {
    9201: 0.22, 9240: 0.14, 9104: 0.08, 9125: 0.065, 9185: 0.055, 9207: 0.05, 9224: 0.045,
    9116: 0.04, 9243: 0.035, 9139: 0.025, 9039: 0.02, 9114: 0.02, 9173: 0.02, 9019: 0.015,
    9123: 0.015, 9241: 0.01, 9015: 0.01, 9086: 0.008, 9163: 0.008, 9113: 0.008, 9060: 0.006,
    9161: 0.005, 9222: 0.005, 9021: 0.0, 9097: 0.0,
}
OFW_DESTINATIONS = {k: v for k, v in OFW_DESTINATIONS.items() if v > 0}
OTHER_OF_DESTINATIONS = {9243: 0.25, 9015: 0.15, 9116: 0.12, 9039: 0.12, 9241: 0.08, 9207: 0.08,
                         9104: 0.05, 9123: 0.05, 9163: 0.05, 9240: 0.05}
COUNTRY_DK = 9997

# Reasons for moving (B03/B05): code -> share for internal 5-year movers [A].
MOVE_REASONS = {2: 0.30, 6: 0.17, 10: 0.10, 9: 0.08, 1: 0.07, 17: 0.06, 12: 0.05, 7: 0.04,
                11: 0.03, 8: 0.03, 16: 0.02, 14: 0.01, 15: 0.01, 5: 0.01, 3: 0.01, 99: 0.01}
RETURN_REASONS = {4: 0.55, 9: 0.1, 10: 0.1, 16: 0.1, 14: 0.05, 5: 0.05, 99: 0.05}

LAST_NAMES = ["DELA CRUZ", "GARCIA", "REYES", "RAMOS", "MENDOZA", "SANTOS", "FLORES", "GONZALES",
              "BAUTISTA", "VILLANUEVA", "FERNANDEZ", "CRUZ", "DE GUZMAN", "LOPEZ", "PEREZ",
              "CASTILLO", "FRANCISCO", "RIVERA", "AQUINO", "CASTRO", "HERNANDEZ", "TORRES"]
MALE_NAMES = ["JOSE", "JUAN", "MARK", "JOHN", "MICHAEL", "RONALDO", "EDUARDO", "ANTONIO",
              "CARLO", "PAOLO", "RAMON", "JOSHUA", "ANGELO", "RICARDO", "DANILO"]
FEMALE_NAMES = ["MARIA", "ANA", "ROSALIE", "JENNIFER", "MARICEL", "ANGELICA", "KRISTINE",
                "JOY", "LORNA", "ELENA", "CRISTINA", "MARY ANN", "JASMINE", "NORMA", "LIZA"]
STREETS = ["RIZAL ST", "MABINI ST", "BONIFACIO ST", "LUNA ST", "BURGOS ST", "MAHARLIKA HWY",
           "J.P. LAUREL ST", "SAMPAGUITA ST", "ACACIA ST", "NARRA ST"]


def household_sizes(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` household sizes drawn from :data:`SIZE_P` (1..12)."""
    return rng.choice(np.arange(1, len(SIZE_P) + 1), size=n, p=SIZE_P)


def _choice(rng: np.random.Generator, table: dict[int, float], n: int) -> np.ndarray:
    codes = np.fromiter(table.keys(), dtype=np.int64)
    p = np.fromiter(table.values(), dtype=float)
    return rng.choice(codes, size=n, p=p / p.sum())


@dataclass
class Places:
    """Where people come from: PPMM codes of cities/municipalities with weights."""

    ppmm: np.ndarray          # int codes PPMM (old province 2 digits + city/mun 2 digits)
    province: np.ndarray      # old 2-digit province of each
    weight: np.ndarray        # 2020 population

    @classmethod
    def from_reference(cls, ref: pd.DataFrame) -> "Places":
        lv = ref["level"].astype(str).str.lower()
        cm = ref[lv.isin(["city", "municipality", "mun"]) & ref["population_2020"].notna()
                 & ref["correspondence_code"].notna()]
        corr = cm["correspondence_code"].astype(str).str.zfill(9)
        ppmm = corr.str[2:6].astype(int).to_numpy()
        return cls(ppmm=ppmm, province=ppmm // 100, weight=cm["population_2020"].astype(float).to_numpy())

    def draw(self, rng: np.random.Generator, current_ppmm: np.ndarray) -> np.ndarray:
        """One origin PPMM per person, never the person's current city/mun; same province favoured."""
        n = len(current_ppmm)
        out = np.empty(n, dtype=np.int64)
        p = self.weight / self.weight.sum()
        same_prov = rng.random(n) < 0.28
        idx = rng.choice(len(self.ppmm), size=n, p=p)
        out[:] = self.ppmm[idx]
        # same-province moves: pick another city/mun of the same province, weighted by population
        for prov in np.unique(current_ppmm[same_prov] // 100):
            sel = np.flatnonzero(same_prov & (current_ppmm // 100 == prov))
            cand = np.flatnonzero(self.province == prov)
            if len(cand) > 1:
                w = self.weight[cand] / self.weight[cand].sum()
                out[sel] = self.ppmm[cand[rng.choice(len(cand), size=len(sel), p=w)]]
        clash = out == current_ppmm
        while clash.any():
            out[clash] = self.ppmm[rng.choice(len(self.ppmm), size=int(clash.sum()), p=p)]
            clash = out == current_ppmm
        return out


# Relationship codes (A02) of the 2022 HPQ.
HEAD, SPOUSE, SON, DAUGHTER = 1, 2, 3, 4
SON_IL, DAUGHTER_IL, GRANDSON, GRANDDAUGHTER = 7, 8, 9, 10
FATHER, MOTHER, BROTHER, SISTER = 11, 12, 15, 16
OTHER_REL, BOARDER, HELPER = 23, 24, 25


def _ages_of_children(rng: np.random.Generator, parent_age: np.ndarray) -> np.ndarray:
    """Children's ages from a parent's age: the parent's age at the birth is 19-44, mode mid-20s."""
    at_birth = 19 + rng.gamma(3.0, 3.0, size=len(parent_age))
    age = np.floor(parent_age - at_birth)
    bad = age < 0
    age[bad] = np.floor(rng.random(int(bad.sum())) * np.maximum(parent_age[bad] - 18, 1))
    return np.clip(age, 0, None).astype(np.int64)


def build_households(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Persons of ``n`` households: household index, line number, A02, A03, A04, sex, age, marital.

    Returns one row per person sorted by (hh, line_no); line 1 is the head.
    """
    size = household_sizes(rng, n)
    head_age = np.clip(np.round(19 + rng.gamma(3.0, 9.0, n)), 18, 98).astype(np.int64)
    has_spouse = (size >= 2) & (rng.random(n) < np.where(head_age < 65, 0.80, 0.55))
    rest = size - 1 - has_spouse
    head_male = np.where(has_spouse, rng.random(n) < 0.80, rng.random(n) < 0.45)

    # a married child's family (married child + in-law + grandchildren) for older heads
    married_child = (head_age >= 50) & (rest >= 3) & (rng.random(n) < 0.55)
    n_parents = np.where((head_age < 50) & (rest >= 1) & (rng.random(n) < 0.10),
                         1 + ((rest >= 2) & (rng.random(n) < 0.5)), 0)
    rest2 = rest - n_parents - married_child * 2
    n_helper = ((rest2 >= 1) & (rng.random(n) < 0.025)).astype(np.int64)
    rest2 = rest2 - n_helper
    n_grand = np.where(married_child, np.minimum(rest2, 1 + rng.poisson(1.6, n)), 0)
    rest2 = rest2 - n_grand
    n_other = np.where(rest2 >= 1, rng.binomial(rest2, 0.12), 0)
    n_sibling = np.where(rest2 - n_other >= 1, rng.binomial(rest2 - n_other, 0.05), 0)
    n_child = rest2 - n_other - n_sibling
    # young parents cannot have many children: the excess become other relatives of the head's age
    mother_age0 = np.where(head_male & has_spouse, head_age - 3, head_age)
    max_kids = np.maximum((mother_age0 - 17) // 3, 0)
    excess = np.maximum(n_child - max_kids, 0)
    n_child = n_child - excess
    n_other = n_other + excess  # nephews, nieces, cousins: mostly young (ages below)
    # an old head without spouse and many "children": keep them, adult children live at home in PH

    parts = []  # (hh index, role, order)

    def add(role: int, counts: np.ndarray, order: int) -> None:
        idx = np.repeat(np.arange(n), counts)
        parts.append(pd.DataFrame({"hh": idx, "role": role, "order": order}))

    add(HEAD, np.ones(n, dtype=np.int64), 0)
    add(SPOUSE, has_spouse.astype(np.int64), 1)
    add(SON, n_child, 2)                 # sex decided below (son or daughter)
    add(SON_IL, married_child.astype(np.int64), 3)     # the married child (3/4) -- fixed below
    add(DAUGHTER_IL, married_child.astype(np.int64), 4)  # the in-law -- fixed below
    add(GRANDSON, n_grand, 5)
    add(FATHER, n_parents, 6)
    add(BROTHER, n_sibling, 7)
    add(OTHER_REL, n_other, 8)
    add(HELPER, n_helper, 9)
    p = pd.concat(parts, ignore_index=True)
    m = len(p)
    hh = p["hh"].to_numpy()
    role = p["role"].to_numpy()
    order = p["order"].to_numpy()
    h_age = head_age[hh]
    h_male = head_male[hh]

    age = np.zeros(m, dtype=np.int64)
    male = np.zeros(m, dtype=bool)
    rel = role.copy()
    fam = np.ones(m, dtype=np.int64)
    a04 = np.full(m, 10, dtype=np.int64)
    mstat = np.ones(m, dtype=np.int64)

    r = role == HEAD
    age[r] = h_age[r]
    male[r] = h_male[r]
    a04[r] = np.where(size[hh[r]] == 1, 0, 1)
    hs = has_spouse[hh]
    old = h_age >= 60
    mstat[r] = np.where(hs[r], np.where(rng.random(r.sum()) < 0.75, 2, 3),
                        np.where(old[r], np.where(rng.random(r.sum()) < 0.7, 4, 6),
                                 np.where(rng.random(r.sum()) < 0.5, 1, 6)))

    r = role == SPOUSE
    male[r] = ~h_male[r]
    age[r] = np.clip(h_age[r] + np.where(h_male[r], -1, 1) * np.round(rng.normal(3, 3, r.sum())), 18, 99)
    a04[r] = 2
    mstat[r] = 0  # filled from the head below

    # the mother's age (for children's ages): the female of the couple, else the head
    mother_age = np.where(h_male & hs, np.clip(h_age - 3, 18, None), h_age)
    r = role == SON
    male[r] = rng.random(r.sum()) < 105 / 205
    rel[r] = np.where(male[r], SON, DAUGHTER)
    age[r] = _ages_of_children(rng, mother_age[r].astype(float))
    a04[r] = np.where(male[r], 4, 5)
    adult = age[r] >= 25
    mstat[r] = np.where(adult & (rng.random(r.sum()) < 0.15), 6, 1)

    # married child (family 2 head) and the in-law (family 2 spouse)
    r = role == SON_IL
    mc_male = rng.random(r.sum()) < 0.5
    male[r] = mc_male
    rel[r] = np.where(mc_male, SON, DAUGHTER)
    mc_age = np.clip(h_age[r] - np.round(20 + rng.gamma(3, 3, r.sum())), 20, None)
    age[r] = mc_age
    fam[r] = 2
    a04[r] = 1
    mstat[r] = 2
    mc_age_by_hh = np.zeros(n, dtype=np.int64)
    mc_age_by_hh[hh[r]] = mc_age
    mc_male_by_hh = np.zeros(n, dtype=bool)
    mc_male_by_hh[hh[r]] = mc_male
    r = role == DAUGHTER_IL
    male[r] = ~mc_male_by_hh[hh[r]]
    rel[r] = np.where(male[r], SON_IL, DAUGHTER_IL)
    age[r] = np.clip(mc_age_by_hh[hh[r]] + np.round(rng.normal(0, 3, r.sum())), 18, None)
    fam[r] = 2
    a04[r] = 2
    mstat[r] = 2

    r = role == GRANDSON
    male[r] = rng.random(r.sum()) < 105 / 205
    rel[r] = np.where(male[r], GRANDSON, GRANDDAUGHTER)
    age[r] = _ages_of_children(rng, mc_age_by_hh[hh[r]].astype(float))
    fam[r] = 2
    a04[r] = np.where(male[r], 4, 5)

    r = role == FATHER
    # first parent: mother (widowed) or father; a second parent makes a couple
    first = np.r_[True, hh[r][1:] != hh[r][:-1]] if r.any() else np.zeros(0, bool)
    is_mother = np.where(first, rng.random(r.sum()) < 0.65, True)
    two = np.zeros(r.sum(), bool)
    if r.any():
        counts = np.bincount(hh[r], minlength=n)[hh[r]]
        two = counts == 2
        is_mother = np.where(two, ~first, is_mother)
    male[r] = ~is_mother
    rel[r] = np.where(is_mother, MOTHER, FATHER)
    age[r] = np.clip(h_age[r] + np.round(24 + rng.gamma(3, 2.5, r.sum())), 40, 100)
    fam[r] = 3
    a04[r] = np.where(two, np.where(is_mother, 2, 1), 1)
    mstat[r] = np.where(two, 2, 4)

    r = role == BROTHER
    male[r] = rng.random(r.sum()) < 0.5
    rel[r] = np.where(male[r], BROTHER, SISTER)
    age[r] = np.clip(h_age[r] + np.round(rng.normal(0, 6, r.sum())), 15, 95)
    a04[r] = 10
    mstat[r] = 1

    r = role == OTHER_REL
    male[r] = rng.random(r.sum()) < 0.5
    age[r] = np.clip(np.round(rng.gamma(1.6, 11.0, r.sum())), 0, 95)
    a04[r] = 10

    r = role == HELPER
    male[r] = rng.random(r.sum()) < 0.15
    age[r] = np.clip(np.round(18 + rng.gamma(2.5, 6, r.sum())), 16, 70)
    a04[r] = 10

    # spouse's marital status equals the head's
    sp = role == SPOUSE
    head_mstat = np.zeros(n, dtype=np.int64)
    head_mstat[hh[role == HEAD]] = mstat[role == HEAD]
    mstat[sp] = head_mstat[hh[sp]]
    mstat[(age >= 18) & (mstat == 1) & (role == OTHER_REL) & (rng.random(m) < 0.4)] = 2

    # line numbers: head, spouse, own children by age (eldest first), married child's family, others
    df = pd.DataFrame({"hh": hh, "order": order, "age": age, "A02": rel, "A03": fam, "A04": a04,
                       "A05": np.where(male, 1, 2), "A07": age, "A09": mstat})
    df["_neg_age"] = -df["age"]
    df = df.sort_values(["hh", "order", "_neg_age"], kind="stable").drop(columns=["_neg_age", "order", "age"])
    df["line_no"] = df.groupby("hh").cumcount().to_numpy() + 1
    return df.reset_index(drop=True)


def _ow_age_index(age: np.ndarray) -> np.ndarray:
    """Index into :data:`OW_AGE_COUNTS` (-1 outside 18-64)."""
    idx = np.searchsorted(OW_AGE_EDGES, age, side="right") - 1
    return np.where((age >= 18) & (age < 65), idx, -1)


def add_migration(rng: np.random.Generator, p: pd.DataFrame, hh_ppmm: np.ndarray,
                  places: Places) -> pd.DataFrame:
    """Section B items (B01-B10) for the persons ``p`` (one row per person; ``hh`` indexes ``hh_ppmm``)."""
    m = len(p)
    age = p["A07"].to_numpy()
    sex = p["A05"].to_numpy()
    rel = p["A02"].to_numpy()
    cur = hh_ppmm[p["hh"].to_numpy()]
    B = {k: np.full(m, BLANK, dtype=np.int64) for k in (
        "B01_MIG", "B01_PHILIPPINES1", "B01_COUNTRY1", "B02_FYRSRESIDE", "B01_PHILIPPINES2",
        "B01_COUNTRY2", "B03_REASONFYRS", "B04_SMOSRESIDE", "B01_PHILIPPINES4", "B01_COUNTRY4",
        "B05_REASONSMOS", "B06_OFI", "B07_LEAVE_MONTH", "B07_LEAVE_YR", "B08_STAY", "B09_COUNTRY",
        "B10_PTSENDMNY")}

    # B06: overseas Filipinos, persons 15+ (workers 18-64 from eligible roles)
    b06 = np.full(m, BLANK, dtype=np.int64)
    b06[age >= 15] = 7
    eligible = np.isin(rel, [HEAD, SPOUSE, SON, DAUGHTER, SON_IL, DAUGHTER_IL, BROTHER, SISTER, OTHER_REL])
    ai = np.where(eligible, _ow_age_index(age), -1)
    share = OW_AGE_COUNTS / OW_AGE_COUNTS.sum()
    prob = np.zeros(m)
    for s_code, s_share in ((1, 1 - OW_FEMALE), (2, OW_FEMALE)):
        for g in range(len(share)):
            sel = (ai == g) & (sex == s_code)
            k = int(sel.sum())
            if k:
                prob[sel] = min(OW_SHARE * m * share[g] * s_share / k, 0.9)
    ofw = rng.random(m) < prob
    b06[ofw] = np.where(rng.random(int(ofw.sum())) < 0.95, 1, 2)
    # other overseas Filipinos (a few): students 18-30, tourists, embassy staff, others
    u = rng.random(m)
    free = (b06 == 7) & ~np.isin(rel, [HELPER, BOARDER])
    b06[free & (age >= 18) & (age <= 30) & np.isin(rel, [SON, DAUGHTER]) & (u < 0.004)] = 4
    b06[free & (age >= 20) & (u > 0.9994)] = 5
    b06[free & (age >= 25) & (age <= 60) & (u > 0.0040) & (u < 0.0042)] = 3
    b06[free & (age >= 18) & (u > 0.9988) & (u <= 0.9994)] = 6
    B["B06_OFI"] = b06

    worker = np.isin(b06, [1, 2])
    nw = int(worker.sum())
    # departure: months before July 2022, mostly within two years
    back = np.where(rng.random(nw) < 0.75, rng.integers(1, 30, nw), rng.integers(30, 90, nw))
    t = REFERENCE_YEAR * 12 + (REFERENCE_MONTH - 1) - back
    yr, mo = t // 12, t % 12 + 1
    dk = rng.random(nw) < 0.01
    B["B07_LEAVE_MONTH"][worker] = np.where(dk, 98, mo)
    B["B07_LEAVE_YR"][worker] = np.where(dk, 9998, yr)
    B["B08_STAY"][worker] = np.where(dk, 98, np.clip(back, 1, 90))
    abroad = np.isin(b06, [1, 2, 3, 4, 5, 6])
    country = np.full(m, BLANK, dtype=np.int64)
    country[worker] = _choice(rng, OFW_DESTINATIONS, nw)
    other = abroad & ~worker
    country[other] = _choice(rng, OTHER_OF_DESTINATIONS, int(other.sum()))
    country[abroad & (rng.random(m) < 0.005)] = COUNTRY_DK
    B["B09_COUNTRY"] = country
    sends = np.isin(b06, [1, 2, 3, 4, 6])
    times = np.where(worker, np.clip(np.round(rng.normal(11, 3, m)), 0, 48),
                     np.clip(np.round(rng.normal(2, 2, m)), 0, 48))
    times = np.where(rng.random(m) < 0.01, 98, times)
    B["B10_PTSENDMNY"][sends] = times[sends].astype(np.int64)

    # B01 birthplace (mother's residence at birth), ages 5+
    five = age >= 5
    u = rng.random(m)
    b01 = np.where(u < 0.42, 2, np.where(u < 0.422, 3, np.where(u < 0.427, 4, 1)))
    B["B01_MIG"][five] = b01[five]
    sel = five & (b01 == 2)
    B["B01_PHILIPPINES1"][sel] = places.draw(rng, cur[sel])
    sel = five & (b01 == 3)
    B["B01_COUNTRY1"][sel] = _choice(rng, OTHER_OF_DESTINATIONS, int(sel.sum()))

    # B02 residence 5 years ago (ages 5+); returnees from abroad are residents 15+
    u = rng.random(m)
    b02 = np.where(u < 0.045, 2, 1)
    returnee = (b06 == 7) & (age >= 20) & (rng.random(m) < 0.008)
    b02 = np.where(returnee, 3, b02)
    b02 = np.where((rng.random(m) < 0.002) & (b02 == 1), 4, b02)
    B["B02_FYRSRESIDE"][five] = b02[five]
    mover = five & (b02 == 2)
    B["B01_PHILIPPINES2"][mover] = places.draw(rng, cur[mover])
    B["B03_REASONFYRS"][mover] = _choice(rng, MOVE_REASONS, int(mover.sum()))
    ret = five & (b02 == 3)
    B["B01_COUNTRY2"][ret] = _choice(rng, OFW_DESTINATIONS, int(ret.sum()))
    B["B03_REASONFYRS"][ret] = _choice(rng, RETURN_REASONS, int(ret.sum()))

    # B04 residence 6 months ago: a fifth of 5-year movers moved recently (same origin and reason)
    B["B04_SMOSRESIDE"][five] = 1
    recent = (mover | ret) & (rng.random(m) < 0.2)
    B["B04_SMOSRESIDE"][recent] = b02[recent]
    rp = recent & mover
    B["B01_PHILIPPINES4"][rp] = B["B01_PHILIPPINES2"][rp]
    ra = recent & ret
    B["B01_COUNTRY4"][ra] = B["B01_COUNTRY2"][ra]
    B["B05_REASONSMOS"][recent] = B["B03_REASONFYRS"][recent]
    B["B04_SMOSRESIDE"][five & (B["B02_FYRSRESIDE"] == 4)] = 4
    out = p.copy()
    for k, v in B.items():
        out[k] = v
    return out


def add_school_work(rng: np.random.Generator, p: pd.DataFrame) -> pd.DataFrame:
    """Sections C (C03 attendance, C04, C06) and E (E01, E03, E25, E31, E32) items."""
    m = len(p)
    age = p["A07"].to_numpy()
    sex = p["A05"].to_numpy()
    b06 = p["B06_OFI"].to_numpy()
    out = p.copy()
    c03 = np.full(m, BLANK, dtype=np.int64)
    asked = (age >= 5) & (age <= 24)
    pa = np.select([age == 5, age <= 11, age <= 15, age <= 17, age <= 20, age <= 24],
                   [0.85, 0.97, 0.93, 0.85, 0.50, 0.20], 0.0)
    pa = np.where(np.isin(b06, [1, 2, 3, 5, 6]), 0.02, np.where(b06 == 4, 1.0, pa))
    att = rng.random(m) < pa
    c03[asked] = np.where(att[asked], 1, 2)
    out["C03_CURATTEND"] = c03
    out["C04_CURSCH"] = np.where(c03 == 1, np.where(rng.random(m) < 0.82, 1, 2), BLANK)
    reasons = np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    out["C06_NOTCURSCH"] = np.where(c03 == 2, rng.choice(reasons, m), BLANK)

    # Section E: persons 5+ except OFs B06 in {1,2,3,6}
    e_asked = (age >= 5) & ~np.isin(b06, [1, 2, 3, 6])
    student = c03 == 1
    pe = np.select([age < 15, age < 20, age < 25, age < 60, age < 65],
                   [0.02, 0.25, 0.55, 0.0, 0.45], 0.20)
    core = (age >= 25) & (age < 60)
    pe = np.where(core, np.where(sex == 1, 0.87, 0.58), pe)
    pe = np.where(student, pe * 0.15, pe)
    emp = rng.random(m) < pe
    e01 = np.where(emp & (rng.random(m) < 0.96), 1, 2)  # a few have a job but did not work
    e03 = np.where(e01 == 2, np.where(emp, 1, 2), BLANK)
    seek = (~emp) & (age >= 15) & (rng.random(m) < np.where(student, 0.02, np.where(core & (sex == 1), 0.30, 0.07)))
    e25 = np.where(e03 == 2, np.where(seek, 1, 2), BLANK)
    e32 = np.where(e03 == 2, np.where(seek | (rng.random(m) < 0.05), 1, 2), BLANK)
    e31 = np.where(e03 == 2, np.where(rng.random(m) < 0.3, 1, 2), BLANK)
    for k, v in (("E01_WORK", e01), ("E03_JOBBUS", e03), ("E25_PWLOOKEST", e25),
                 ("E31_OPPORLFW", e31), ("E32_WILLINGTOWORK", e32)):
        out[k] = np.where(e_asked, v, BLANK)
    return out


def household_items(rng: np.random.Generator, p: pd.DataFrame, n: int) -> pd.DataFrame:
    """Household-level items: H3G cash from abroad, H05 income, K01/K03 accounts, P01/P02 lists."""
    hh = p["hh"].to_numpy()
    b06 = p["B06_OFI"].to_numpy()
    line = p["line_no"].to_numpy()
    has_ofw = np.bincount(hh, weights=np.isin(b06, [1, 2]), minlength=n) > 0
    has_of = np.bincount(hh, weights=np.isin(b06, [3, 4, 6]), minlength=n) > 0
    u = rng.random(n)
    receives = np.where(has_ofw, u < 0.90, np.where(has_of, u < 0.3, u < 0.03))
    amount = np.where(has_ofw, rng.lognormal(np.log(150_000), 0.6, n), rng.lognormal(np.log(30_000), 0.8, n))
    h3g = np.where(receives, np.round(amount, -2), 0).astype(np.int64)
    other_income = np.round(rng.lognormal(np.log(260_000), 0.7, n), -2).astype(np.int64)
    size = np.bincount(hh, minlength=n)
    out = pd.DataFrame({"hh": np.arange(n), "NO_HHMEM": size, "H3G_CASHRECEIPTS": h3g,
                        "H03EN_CASHRECEIPTSN": 1, "H05_SOURCESOFINCOME": other_income + h3g})
    bank = rng.random(n) < np.where(receives, 0.55, 0.32)
    emoney = rng.random(n) < np.where(receives, 0.45, 0.28)
    coop = rng.random(n) < 0.05
    any_acct = bank | emoney | coop
    out["K01A_BANK"] = np.where(bank, 1, 2)
    out["K01C_EMONEY"] = np.where(emoney, 1, 2)
    out["K01E_COOP"] = np.where(coop, 1, 2)
    out["K03_REMITTANCE"] = np.where(any_acct, np.where(receives & (rng.random(n) < 0.65), 1, 2), BLANK)

    # OWWA: 80 % of OFWs with a contract; PhilHealth: members of 75 % of households
    owwa = (b06 == 1) & (rng.random(len(p)) < 0.8)
    ph_hh = rng.random(n) < 0.75
    ph = ph_hh[hh] & ((p["A02"].to_numpy() <= 2) | (rng.random(len(p)) < 0.8))
    out["P01C_OWWA"] = np.where(np.bincount(hh, weights=owwa, minlength=n) > 0, 1, 2)
    out["P02_1C_OWWA"] = member_list(hh, line, owwa, n)
    out["P01G_PHLHEALTH"] = np.where(np.bincount(hh, weights=ph, minlength=n) > 0, 1, 2)
    out["P02_1G_PHLHEALTH"] = member_list(hh, line, ph, n)
    out["P05A_REG4PS"] = np.where(rng.random(n) < np.where(other_income < 150_000, 0.35, 0.03), 1, 2)
    out["P05J_HEALTH"] = np.where(rng.random(n) < 0.08, 1, 2)
    return out


def names(rng: np.random.Generator, p: pd.DataFrame) -> pd.DataFrame:
    """Synthetic names for roster members (one surname per household, a few exceptions)."""
    n_hh = int(p["hh"].max()) + 1 if len(p) else 0
    surname = np.array(LAST_NAMES, dtype=object)[rng.integers(0, len(LAST_NAMES), n_hh)]
    own = np.array(LAST_NAMES, dtype=object)[rng.integers(0, len(LAST_NAMES), len(p))]
    keeps = np.isin(p["A02"].to_numpy(), [HEAD, SON, DAUGHTER, GRANDSON, GRANDDAUGHTER])
    last = np.where(keeps, surname[p["hh"].to_numpy()], own)
    male = p["A05"].to_numpy() == 1
    first = np.where(male, np.array(MALE_NAMES, dtype=object)[rng.integers(0, len(MALE_NAMES), len(p))],
                     np.array(FEMALE_NAMES, dtype=object)[rng.integers(0, len(FEMALE_NAMES), len(p))])
    out = p.copy()
    out["A01_LSTNAME"] = last
    out["A01_FIRSTNAME"] = first
    out["A01_HHNAME"] = first + " " + last
    return out
