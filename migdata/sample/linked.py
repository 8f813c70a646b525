"""The three Kobo exports of the sample, drawn from the synthetic CBMS households and members.

Streams (ii)-(iv) of the Calabarzon approach use CBMS as their frame, so the bundled exports are
made from the CBMS sample itself, with :func:`migdata.survey.draw.draw`:

- **CBMS migration rider** (:data:`RIDER`): barangays drawn with probability proportional to
  their number of CBMS households, within provinces (PPS systematic); every CBMS household of a
  drawn barangay is visited (a take-all rider in the barangays where it runs). The roster and
  Section B answers are the household's CBMS answers; the items CBMS lacks (returns, uses and
  channels of remittances) are drawn by the form's generator.
- **Survey of overseas Filipinos** (:data:`OF_SURVEY`): CBMS members with B06 1-6, stratified by
  statistical province, simple random sampling within strata. The household's ``cbms_case_id``
  and the OF's line number identify the member; sex, age, marital status, education (C02),
  overseas status (B06), country (B09) and departure (B07) are the member's CBMS answers.
- **Survey of children left behind** (:data:`CLB_SURVEY`): CBMS children 0-17 with a father or
  mother abroad (B06 1-6), found through the roster's family structure (a son or daughter of a
  family's head, linked to that family's head and spouse, A03/A04), stratified by statistical
  province, simple random sampling. The household id, the child's line and the lines of the
  parents abroad identify them; sex, age, grade (C05) and enrolment (C03) are the CBMS answers.

The OF and CLB exports carry each respondent's stratum, selection probability and the frame
count of the stratum, as the enumerator copies them from the field team's sample list
(``sample/...`` in the form), and the lists themselves are written beside the exports
(``sample_lists/*.csv``: the selected units, before the fieldwork).

Fieldwork is made realistic: some selected units are never reached (no submission), some refuse
(consent = no: a row without answers), some respondents do not know the CBMS case id (blank),
and one id per survey is mistyped (not in CBMS). A few link conflicts are planted on purpose,
one of each kind per survey: sex differs, age beyond the tolerance, area differs (a barangay of
another city/municipality), overseas status differs. Every planted problem is a row of ``planted_link_problems.csv``; every
other answered id links to its CBMS household and member without a conflict, where "no
conflict" means: same sex, same barangay, age equal to the CBMS age or one more (the surveys take
place within five months of the CBMS reference date; a link checker should allow at least that),
and the CBMS member is an overseas Filipino (OF survey, CLB parents) as the survey says.

Example:
    >>> sorted(SURVEYS)
    ['cbms_migration_rider', 'children_left_behind_survey', 'overseas_filipino_survey']
"""

from __future__ import annotations

import csv
import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from migdata.survey.draw import draw

RIDER, OF_SURVEY, CLB_SURVEY = "cbms_migration_rider", "overseas_filipino_survey", "children_left_behind_survey"
SURVEYS = (RIDER, OF_SURVEY, CLB_SURVEY)
#: When the fieldwork took place (the CBMS reference date is 1 July 2022)
SURVEY_DATE = {RIDER: dt.date(2022, 8, 12), OF_SURVEY: dt.date(2022, 11, 20), CLB_SURVEY: dt.date(2022, 11, 20)}
#: sample sizes: rider barangays, OF respondents, CLB children
SAMPLE_N = {RIDER: 30, OF_SURVEY: 80, CLB_SURVEY: 60}


def _sample_n(stream: str, frame: pd.DataFrame) -> int:
    # a small generated CBMS file (``migdata sample --households 300``) has a smaller frame than
    # the sample size: then every unit is taken (a take-all draw), as a field team would
    return min(SAMPLE_N[stream], len(frame))
NON_CONTACT = {RIDER: 0.0, OF_SURVEY: 0.10, CLB_SURVEY: 0.08}   # selected, never reached [A]
REFUSAL = {RIDER: 0.04, OF_SURVEY: 0.05, CLB_SURVEY: 0.05}      # reached, consent = no [A]
NO_ID = {RIDER: 0.05, OF_SURVEY: 0.10, CLB_SURVEY: 0.08}        # the case id not known [A]
PROBLEM_FIELDS = ["survey", "submission_id", "response_uuid", "cbms_case_id", "line_no", "problem", "item",
                  "survey_value", "cbms_value", "expected"]
CONFLICTS = ("sex", "age", "area", "overseas_status")
#: what a link checker must report for each planted problem
EXPECTED = {"no_id": "not linked: no CBMS case id given", "not_found": "id not found in CBMS",
            "sex": "conflicting: sex differs", "age": "conflicting: age beyond the tolerance",
            "area": "conflicting: area differs (another city/municipality)",
            "overseas_status": "conflicting: overseas status differs"}


@dataclass
class Cbms:
    """The CBMS sample as the generator made it: households and persons with source codes."""

    households: pd.DataFrame  # hh_id, psgc, province, H3G..., K..., P02 lists
    persons: pd.DataFrame     # hh_id, line_no, A02..., B..., C..., E...

    @classmethod
    def from_chunks(cls, chunks: list[tuple[pd.DataFrame, pd.DataFrame]]) -> "Cbms":
        from migdata.areas import rollup

        hs, ps = [], []
        for h, p in chunks:
            p = p.merge(h[["hh", "hh_id"]], on="hh", how="left")
            hs.append(h)
            ps.append(p)
        h = pd.concat(hs, ignore_index=True)
        p = pd.concat(ps, ignore_index=True)
        h["province"] = rollup(h["psgc"].astype(str), "province").astype(str).to_numpy()
        h["city_mun"] = rollup(h["psgc"].astype(str), "city_mun").astype(str).to_numpy()
        p = p.merge(h[["hh_id", "psgc", "province"]], on="hh_id", how="left")
        return cls(h, p)


# --------------------------------------------------------------------------- frames

def of_frame(c: Cbms) -> pd.DataFrame:
    """CBMS overseas Filipinos (B06 1-6): one row per member."""
    p = c.persons
    return p[p["B06_OFI"].between(1, 6)].reset_index(drop=True)


def parents_abroad(p: pd.DataFrame) -> pd.DataFrame:
    """Children 0-17 with their parents' lines and which of them are abroad.

    The parents of a child are the head and spouse of the child's family when the child is a
    son or daughter of that family's head (A04 4/5, same A03); a child without such a family link
    whose relationship to the household head is son/daughter (A02 3-6) has the household head
    and spouse as parents. Columns: hh_id, line_no, father_line, mother_line (0 when none),
    father_abroad, mother_abroad.
    """
    fam_key = p["hh_id"] + ":" + p["A03"].astype(str)
    heads = p[p["A04"].isin([1, 2, 3])].assign(key=fam_key)
    father = heads[heads["A05"] == 1].drop_duplicates("key").set_index("key")
    mother = heads[heads["A05"] == 2].drop_duplicates("key").set_index("key")
    hh_heads = p[p["A02"].isin([1, 2])]
    hh_father = hh_heads[hh_heads["A05"] == 1].drop_duplicates("hh_id").set_index("hh_id")
    hh_mother = hh_heads[hh_heads["A05"] == 2].drop_duplicates("hh_id").set_index("hh_id")
    kids = p[(p["A07"] <= 17)].copy()
    kids["key"] = fam_key[kids.index]
    by_family = kids["A04"].isin([4, 5])
    by_household = ~by_family & kids["A02"].isin([3, 4, 5, 6])

    def line_and_abroad(src: pd.DataFrame, keys: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        line = keys.map(src["line_no"]).fillna(0).astype(int).to_numpy()
        abroad = keys.map(src["B06_OFI"].between(1, 6)).fillna(False).astype(bool).to_numpy()
        return line, abroad

    out = kids[["hh_id", "line_no", "A05", "A07", "psgc", "province", "C03_CURATTEND", "C05_CURGRADE"]].copy()
    for who, fam_src, hh_src in (("father", father, hh_father), ("mother", mother, hh_mother)):
        l1, a1 = line_and_abroad(fam_src, kids["key"])
        l2, a2 = line_and_abroad(hh_src, kids["hh_id"])
        out[f"{who}_line"] = np.where(by_family, l1, np.where(by_household, l2, 0))
        out[f"{who}_abroad"] = np.where(by_family, a1, np.where(by_household, a2, False))
    return out.reset_index(drop=True)


def clb_frame(c: Cbms) -> pd.DataFrame:
    """CBMS children 0-17 with a father or mother abroad."""
    k = parents_abroad(c.persons)
    return k[k["father_abroad"] | k["mother_abroad"]].reset_index(drop=True)


def barangay_frame(c: Cbms) -> pd.DataFrame:
    """Barangays with CBMS households: psgc, province, number of households."""
    h = c.households
    return (h.groupby(["psgc", "province"], as_index=False).size().rename(columns={"size": "households"})
            .sort_values("psgc", kind="stable").reset_index(drop=True))


# --------------------------------------------------------------------------- helpers

def _hgc_to_education(hgc: int) -> str:
    """CBMS C02_HGC -> the OF survey's education code (PSCED broad levels, 0-9)."""
    if hgc < 10011:
        return "0"
    if hgc < 10017:
        return "1"
    if hgc < 24000:
        return "2"
    if hgc < 24015:
        return "3"
    if hgc < 34013 or hgc in (34021, 34031, 35011):
        return "4"
    if hgc < 40000:
        return "5"
    if hgc < 50000:
        return "6"
    if hgc < 69998:
        return "7"
    if hgc == 69998:
        return "8"
    return "9"


def _grade(cur: int, attending: bool) -> str:
    """CBMS C05_CURGRADE -> the CLB form's grade list."""
    if not attending or cur < 0:
        return "0"
    if cur in (1000, 2000):
        return "k"
    if 10011 <= cur <= 10016:
        return str(cur - 10010)
    if 24011 <= cur <= 24014:
        return str(cur - 24004)
    if 34000 <= cur < 36000:
        return "12" if cur % 10 == 2 else "11"
    if cur >= 60000:
        return "college"
    return "0"


def _code(v: Any) -> str | None:
    """A CBMS source code as the form's answer text (None for a blank item)."""
    if v is None or (isinstance(v, float) and np.isnan(v)) or int(v) < 0:
        return None
    return str(int(v))


def _age_now(age: int, rng: np.random.Generator, when: dt.date) -> int:
    """Age at the survey date: a birthday since 1 July 2022 for the share of the year elapsed."""
    elapsed = (when - dt.date(2022, 7, 1)).days / 365.25
    return int(age) + int(rng.random() < elapsed)


def _other_barangay(psgc: str, all_psgc: np.ndarray, rng: np.random.Generator) -> str:
    """A barangay of another city/municipality of the same province (an area conflict shows at
    the city/municipality level too, where a survey that only knows the town can be compared)."""
    pool = [b for b in all_psgc if b[:5] == psgc[:5] and b[:7] != psgc[:7]]
    return str(pool[int(rng.integers(0, len(pool)))])


def _mistype(case_id: str, known: set[str], rng: np.random.Generator) -> str:
    """The case id with one serial digit changed, so it names no CBMS household."""
    for _ in range(100):
        pos = int(rng.integers(15, 27))  # BSN, HUSN or HSN digits
        digit = str((int(case_id[pos]) + int(rng.integers(1, 10))) % 10)
        out = case_id[:pos] + digit + case_id[pos + 1:]
        if out not in known:
            return out
    raise RuntimeError("could not mistype a case id")  # pragma: no cover


def _outcomes(rng: np.random.Generator, n: int, survey: str) -> np.ndarray:
    """'interview', 'refusal' or 'non_contact' for each selected unit."""
    u = rng.random(n)
    return np.where(u < NON_CONTACT[survey], "non_contact",
                    np.where(u < NON_CONTACT[survey] + REFUSAL[survey], "refusal", "interview"))


def _pick_rows(rng: np.random.Generator, candidates: np.ndarray, k: int, taken: set[int]) -> list[int]:
    free = [int(i) for i in candidates if int(i) not in taken]
    chosen = list(rng.choice(free, size=min(k, len(free)), replace=False)) if free else []
    taken.update(int(i) for i in chosen)
    return [int(i) for i in chosen]


# --------------------------------------------------------------------------- the three surveys

def rider_submissions(c: Cbms, seed: int) -> tuple[list[dict], list[dict], pd.DataFrame]:
    """Fixed answers of the rider households, the planted problems, and the barangay sample."""
    rng = np.random.default_rng([seed, 31])
    frame = barangay_frame(c)
    s = draw(frame, _sample_n(RIDER, frame), strata="province", method="pps", size="households", seed=seed * 100 + 1)
    h = c.households[c.households["psgc"].isin(set(s.units["psgc"]))].sort_values(["psgc", "hh_id"])
    h = h.reset_index(drop=True)
    p = c.persons.set_index("hh_id")
    known = set(c.households["hh_id"])
    all_psgc = frame["psgc"].astype(str).to_numpy()
    outcome = _outcomes(rng, len(h), RIDER)
    fixed: list[dict] = []
    rows: list[dict] = []  # which household each submission is, to plant problems after
    listing = h.groupby("psgc").cumcount().to_numpy() + 1  # the household's number in the barangay listing
    for i, r in h.iterrows():
        base = {"psgc": r["psgc"], "hh_no": int(listing[i]), "cbms_case_id": r["hh_id"], "enumerator": f"E{1 + i % 4:02d}"}
        if outcome[i] == "refusal":
            fixed.append({**base, "consent": "2"})
            rows.append({"hh_id": r["hh_id"], "refusal": True})
            continue
        mem = p.loc[[r["hh_id"]]].sort_values("line_no")
        members = [_rider_member(m, rng) for _, m in mem.iterrows()]
        h3g = int(r["H3G_CASHRECEIPTS"])
        acct = any(int(r[k]) == 1 for k in ("K01A_BANK", "K01C_EMONEY", "K01E_COOP") if k in r)
        answers = {**base, "consent": "1", "hh_size": str(len(members)), "members": members,
                   "rem_received": "1" if h3g > 0 else "2", "rem_amount": str(h3g) if h3g > 0 else None,
                   "has_account": "1" if acct else "2",
                   "K03_REMITTANCE": _code(r["K03_REMITTANCE"]) if acct else None}
        fixed.append(answers)
        rows.append({"hh_id": r["hh_id"], "refusal": False})
    problems = _plant_rider(fixed, rows, c, known, all_psgc, rng)
    return fixed, problems, s.units


def _rider_member(m: pd.Series, rng: np.random.Generator) -> dict:
    """A rider roster line from the member's CBMS answers (same items and codes)."""
    age = _age_now(int(m["A07"]), rng, SURVEY_DATE[RIDER])
    out: dict[str, Any] = {"A02_RELTOHHH": _code(m["A02"]), "A05_SEX": _code(m["A05"]), "A07_AGE": str(age),
                           "A09_MSTAT": _code(m["A09"])}
    for item in ("B01_MIG", "B02_FYRSRESIDE", "B04_SMOSRESIDE", "B03_REASONFYRS", "B05_REASONSMOS",
                 "B06_OFI", "B07_LEAVE_MONTH", "B07_LEAVE_YR", "B09_COUNTRY", "B10_PTSENDMNY",
                 "B01_COUNTRY1", "B01_COUNTRY2", "B01_COUNTRY4"):
        out[item] = _code(m[item])
    for item in ("B01_PHILIPPINES1", "B01_PHILIPPINES2", "B01_PHILIPPINES4"):
        v = _code(m[item])
        out[item] = None if v is None else v.zfill(4)
    stay = _code(m["B08_STAY"])
    out["B08_STAY"] = None if stay is None else str(min(int(stay), 60)) if stay != "98" else "98"
    if m["A07"] >= 15 and m["B06_OFI"] == 7:
        out["ret_abroad"] = "1" if m["B02_FYRSRESIDE"] == 3 else "2"
        for item in ("E01_WORK", "E03_JOBBUS", "E25_PWLOOKEST", "E32_WILLINGTOWORK"):
            out[item] = _code(m[item])
    return out


def _plant_rider(fixed: list[dict], rows: list[dict], c: Cbms, known: set[str], all_psgc: np.ndarray,
                 rng: np.random.Generator) -> list[dict]:
    problems: list[dict] = []
    answered = [i for i, r in enumerate(rows) if not r["refusal"]]
    taken: set[int] = set()
    for i in _pick_rows(rng, np.array(answered), max(1, round(NO_ID[RIDER] * len(answered))), taken):
        problems.append(_problem(RIDER, i, fixed[i]["cbms_case_id"], None, "no_id", "cbms_case_id", "", ""))
        fixed[i]["cbms_case_id"] = None
    for i in _pick_rows(rng, np.array(answered), 1, taken):
        bad = _mistype(fixed[i]["cbms_case_id"], known, rng)
        problems.append(_problem(RIDER, i, fixed[i]["cbms_case_id"], None, "not_found", "cbms_case_id", bad, ""))
        fixed[i]["cbms_case_id"] = bad
    adults = [i for i in answered if any(m.get("B06_OFI") in ("1", "7") for m in fixed[i]["members"])]
    for kind in CONFLICTS:
        i = _pick_rows(rng, np.array(adults if kind == "overseas_status" else answered), 1, taken)[0]
        f = fixed[i]
        mem = f["members"]
        if kind == "area":
            new = _other_barangay(f["psgc"], all_psgc, rng)
            problems.append(_problem(RIDER, i, f["cbms_case_id"], None, kind, "psgc", new, f["psgc"]))
            f["psgc"] = new
            continue
        k = 0 if kind in ("sex", "age") else next((j for j, m in enumerate(mem) if m.get("B06_OFI") == "1"), None)
        if k is None:  # no OFW in this household: an adult resident reported as an OFW instead
            k = next(j for j, m in enumerate(mem) if m.get("B06_OFI") == "7")
        line = k + 1
        case = rows[i]["hh_id"]
        cbms_age = int(c.persons.loc[(c.persons["hh_id"] == case) & (c.persons["line_no"] == line), "A07"].iloc[0])
        if kind == "sex":
            old = mem[k]["A05_SEX"]
            mem[k]["A05_SEX"] = "2" if old == "1" else "1"
            problems.append(_problem(RIDER, i, f["cbms_case_id"], line, kind, "A05_SEX", mem[k]["A05_SEX"], old))
        elif kind == "age":
            mem[k]["A07_AGE"] = str(int(mem[k]["A07_AGE"]) + 9)
            problems.append(_problem(RIDER, i, f["cbms_case_id"], line, kind, "A07_AGE", mem[k]["A07_AGE"], cbms_age))
        else:
            old = mem[k]["B06_OFI"]
            new = "7" if old == "1" else "1"
            mem[k]["B06_OFI"] = new
            for item in ("B07_LEAVE_MONTH", "B07_LEAVE_YR", "B08_STAY", "B09_COUNTRY", "B10_PTSENDMNY",
                         "ret_abroad", "E01_WORK", "E03_JOBBUS", "E25_PWLOOKEST", "E32_WILLINGTOWORK"):
                mem[k].pop(item, None)  # the form's skips follow the new status (drawn again)
            problems.append(_problem(RIDER, i, f["cbms_case_id"], line, kind, "B06_OFI", new, old))
    return problems


def of_submissions(c: Cbms, seed: int) -> tuple[list[dict], list[dict], pd.DataFrame]:
    """Fixed answers of the OF survey, the planted problems, and the sample list."""
    rng = np.random.default_rng([seed, 32])
    frame = of_frame(c)
    s = draw(frame, _sample_n(OF_SURVEY, frame), strata="province", method="srs", seed=seed * 100 + 2)
    units = s.units.reset_index(drop=True)
    outcome = _outcomes(rng, len(units), OF_SURVEY)
    fixed, kept = [], []
    for i, u in units.iterrows():
        if outcome[i] == "non_contact":
            continue
        base = {"sample_stratum": u["stratum"], "sample_pi": repr(float(u["pi"])),
                "sample_frame_n": str(int(u["frame_n"]))}
        if outcome[i] == "refusal":
            fixed.append({**base, "consent": "2"})
            kept.append((u, False))
            continue
        b06 = int(u["B06_OFI"])
        ans = {**base, "consent": "1", "origin_psgc": u["psgc"], "cbms_case_id": u["hh_id"],
               "line_no": str(int(u["line_no"])), "sex": _code(u["A05"]),
               "age": str(_age_now(int(u["A07"]), rng, SURVEY_DATE[OF_SURVEY])), "marital_status": _code(u["A09"]),
               "education": _hgc_to_education(int(u["C02_HGC"])), "of_type": str(b06),
               "country": _code(u["B09_COUNTRY"]), "location_now": "1"}
        yr, mo = int(u["B07_LEAVE_YR"]), int(u["B07_LEAVE_MONTH"])
        if b06 in (1, 2) and yr != 9998:
            ans["last_dep_year"] = str(yr)
            ans["last_dep_month"] = str(mo)
            ans["first_dep_year"] = str(yr - int(rng.integers(0, 9) * (rng.random() < 0.6)))
        sent = int(u["B10_PTSENDMNY"])
        if b06 != 5 and 0 <= sent < 98:
            ans["sent_money"] = "1" if sent > 0 else "2"
        fixed.append(ans)
        kept.append((u, True))
    problems = _plant_person_survey(OF_SURVEY, fixed, kept, c, rng)
    return fixed, problems, units


def clb_submissions(c: Cbms, seed: int) -> tuple[list[dict], list[dict], pd.DataFrame]:
    """Fixed answers of the CLB survey, the planted problems, and the sample list."""
    rng = np.random.default_rng([seed, 33])
    frame = clb_frame(c)
    s = draw(frame, _sample_n(CLB_SURVEY, frame), strata="province", method="srs", seed=seed * 100 + 3)
    units = s.units.reset_index(drop=True)
    outcome = _outcomes(rng, len(units), CLB_SURVEY)
    persons = c.persons.set_index(["hh_id", "line_no"])
    fixed, kept = [], []
    for i, u in units.iterrows():
        if outcome[i] == "non_contact":
            continue
        age = _age_now(int(u["A07"]), rng, SURVEY_DATE[CLB_SURVEY])
        assent = "3" if age < 7 else "1"
        if outcome[i] == "refusal":  # the caregiver refuses, or a child of 7+ does not assent
            fixed.append({"consent": "1", "assent": "2"} if age >= 7 and rng.random() < 0.4 else {"consent": "2"})
            kept.append((u, False))
            continue
        which = "3" if u["father_abroad"] and u["mother_abroad"] else ("1" if u["father_abroad"] else "2")
        ans = {"consent": "1", "assent": assent, "sample_stratum": u["stratum"],
               "sample_pi": repr(float(u["pi"])), "sample_frame_n": str(int(u["frame_n"])),
               "psgc": u["psgc"], "cbms_case_id": u["hh_id"], "child_line_no": str(int(u["line_no"])),
               "child_sex": _code(u["A05"]), "child_age": str(age),
               "child_grade": _grade(int(u["C05_CURGRADE"]), int(u["C03_CURATTEND"]) == 1),
               "parent_abroad": which}
        if age >= 5 and int(u["C03_CURATTEND"]) in (1, 2):
            ans["enrolled"] = str(int(u["C03_CURATTEND"]))
        for who, flag in (("father", u["father_abroad"]), ("mother", u["mother_abroad"])):
            if not flag:
                continue
            par = persons.loc[(u["hh_id"], int(u[f"{who}_line"]))]
            ans[f"{who}_line_no"] = str(int(u[f"{who}_line"]))
            ans[f"{who}_country"] = _code(par["B09_COUNTRY"])
            if int(par["B07_LEAVE_YR"]) >= 1990 and int(par["B07_LEAVE_YR"]) != 9998:
                ans[f"{who}_since"] = str(int(par["B07_LEAVE_YR"]))
        fixed.append(ans)
        kept.append((u, True))
    problems = _plant_person_survey(CLB_SURVEY, fixed, kept, c, rng)
    return fixed, problems, units


def _plant_person_survey(survey: str, fixed: list[dict], kept: list[tuple[pd.Series, bool]], c: Cbms,
                         rng: np.random.Generator) -> list[dict]:
    """No ids, a mistyped id and one conflict of each kind in the OF or CLB answers."""
    clb = survey == CLB_SURVEY
    line_item = "child_line_no" if clb else "line_no"
    sex_item, age_item = ("child_sex", "child_age") if clb else ("sex", "age")
    area_item = "psgc" if clb else "origin_psgc"
    known = set(c.households["hh_id"])
    all_psgc = barangay_frame(c)["psgc"].astype(str).to_numpy()
    answered = np.array([i for i, (_, ok) in enumerate(kept) if ok])
    taken: set[int] = set()
    problems: list[dict] = []
    for i in _pick_rows(rng, answered, max(1, round(NO_ID[survey] * len(answered))), taken):
        f = fixed[i]
        problems.append(_problem(survey, i, f["cbms_case_id"], f[line_item], "no_id", "cbms_case_id", "", ""))
        f["cbms_case_id"] = None  # the line numbers are not asked without the case id
    for i in _pick_rows(rng, answered, 1, taken):
        f = fixed[i]
        bad = _mistype(f["cbms_case_id"], known, rng)
        problems.append(_problem(survey, i, f["cbms_case_id"], f[line_item], "not_found", "cbms_case_id", bad, ""))
        f["cbms_case_id"] = bad
    resident = c.persons.set_index(["hh_id", "line_no"])["B06_OFI"] == 7
    for kind in CONFLICTS:
        if kind == "age" and clb:  # +5 keeps the child 0-17 and on the same side of 7 (assent rule)
            cand = answered[[7 <= int(fixed[i]["child_age"]) <= 12 or int(fixed[i]["child_age"]) <= 1
                             for i in answered]]
        elif kind == "overseas_status" and clb:  # one parent abroad, the other on the roster at home
            cand = answered[[fixed[i]["parent_abroad"] != "3" and
                             int(kept[i][0]["mother_line" if fixed[i]["parent_abroad"] == "1" else "father_line"]) > 0
                             and bool(resident.get((kept[i][0]["hh_id"], int(kept[i][0][
                                 "mother_line" if fixed[i]["parent_abroad"] == "1" else "father_line"])), False))
                             for i in answered]]
        elif kind == "overseas_status":  # a household with an adult resident of the respondent's sex
            cand = answered[[bool(_residents_like(c, kept[i][0]["hh_id"], fixed[i]["sex"], int(fixed[i]["age"])))
                             for i in answered]]
            close = [i for i in cand if _residents_like(c, kept[i][0]["hh_id"], fixed[i]["sex"],
                                                        int(fixed[i]["age"]))[0][1] <= 1]
            cand = np.array(close) if close else cand
        else:
            cand = answered
        i = _pick_rows(rng, cand, 1, taken)[0]
        f = fixed[i]
        u = kept[i][0]
        if kind == "sex":
            old = f[sex_item]
            f[sex_item] = "2" if old == "1" else "1"
            problems.append(_problem(survey, i, f["cbms_case_id"], f[line_item], kind, sex_item, f[sex_item], old))
        elif kind == "age":
            f[age_item] = str(int(f[age_item]) + (5 if clb else 6))
            problems.append(_problem(survey, i, f["cbms_case_id"], f[line_item], kind, age_item, f[age_item],
                                     int(u["A07"])))
        elif kind == "area":
            old = f[area_item]
            f[area_item] = _other_barangay(old, all_psgc, rng)
            problems.append(_problem(survey, i, f["cbms_case_id"], f[line_item], kind, area_item, f[area_item], old))
        elif clb:  # "both parents abroad": the other parent is a resident on the CBMS roster
            who = "mother" if f["parent_abroad"] == "1" else "father"
            line = str(int(u[f"{who}_line"]))
            f["parent_abroad"] = "3"
            f[f"{who}_line_no"] = line
            problems.append(_problem(survey, i, f["cbms_case_id"], f[line_item], kind, f"{who}_line_no", line,
                                     f"line {line} ({who}) is a resident, B06 = 7"))
        else:  # a mistyped line number names a member at home (B06 = 7) of the respondent's sex
            (line, gap, cbms_age), = _residents_like(c, u["hh_id"], f["sex"], int(f["age"]))[:1]
            old = f["line_no"]
            f["line_no"] = str(line)
            problems.append(_problem(survey, i, f["cbms_case_id"], old, kind, "line_no", line,
                                     f"line {line} is a resident, B06 = 7 (the overseas Filipino is line {old})"))
            if gap > 1:  # the member named is also of another age: a second conflict of the same record
                problems.append(_problem(survey, i, f["cbms_case_id"], old, "age", "age", f["age"], cbms_age))
    return problems


def _residents_like(c: Cbms, hh_id: str, sex: str, age: int) -> list[tuple[int, int, int]]:
    """Members at home (B06 = 7) aged 15+ of household ``hh_id`` with sex ``sex``, as (line, age
    gap to ``age``, CBMS age), the closest in age first."""
    m = c.persons[(c.persons["hh_id"] == hh_id) & (c.persons["B06_OFI"] == 7) & (c.persons["A07"] >= 15)
                  & (c.persons["A05"] == int(sex))]
    out = [(int(r.line_no), abs(age - int(r.A07)), int(r.A07)) for r in m.itertuples()]
    return sorted(out, key=lambda t: (t[1], t[0]))


def _problem(survey: str, i: int, case_id: Any, line: Any, kind: str, item: str, survey_value: Any,
             cbms_value: Any) -> dict:
    return {"survey": survey, "submission_id": i, "response_uuid": "", "cbms_case_id": case_id or "",
            "line_no": "" if line is None else line, "problem": kind, "item": item,
            "survey_value": "" if survey_value is None else survey_value,
            "cbms_value": "" if cbms_value is None else cbms_value, "expected": EXPECTED[kind]}


# --------------------------------------------------------------------------- writing

SAMPLE_LIST_COLUMNS = {
    OF_SURVEY: ["hh_id", "line_no", "psgc", "stratum", "pi", "weight", "frame_n", "sample_n"],
    CLB_SURVEY: ["hh_id", "line_no", "father_line", "mother_line", "psgc", "stratum", "pi", "weight", "frame_n",
                 "sample_n"],
    RIDER: ["psgc", "households", "stratum", "pi", "weight", "frame_n", "sample_n", "certainty"],
}


def write_linked_exports(out_dir: str | os.PathLike[str], chunks: list[tuple[pd.DataFrame, pd.DataFrame]],
                         seed: int) -> list[Path]:
    """Write the three Kobo exports, their sample lists and ``planted_link_problems.csv``."""
    from migdata.questionnaires.submissions import fake_submissions, write_kobo_xlsx

    c = Cbms.from_chunks(chunks)
    out = Path(out_dir)
    (out / "sample_lists").mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    problems: list[dict] = []
    builders = {RIDER: rider_submissions, OF_SURVEY: of_submissions, CLB_SURVEY: clb_submissions}
    for k, form in enumerate(sorted(SURVEYS)):
        fixed, planted, units = builders[form](c, seed)
        subs = fake_submissions(form, len(fixed), seed=seed * 10 + k, today=SURVEY_DATE[form], fixed=fixed)
        for pr in planted:
            pr["response_uuid"] = subs[pr["submission_id"]]["_uuid"]
            pr["submission_id"] = subs[pr["submission_id"]]["_id"]
        problems += planted
        written.append(write_kobo_xlsx(form, subs, out / f"{form}.xlsx"))
        lst = units[SAMPLE_LIST_COLUMNS[form]].rename(columns={"hh_id": "cbms_case_id"})
        path = out / "sample_lists" / f"{form}_sample.csv"
        lst.to_csv(path, index=False, lineterminator="\n", float_format="%.12g")
        written.append(path)
    path = out / "planted_link_problems.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=PROBLEM_FIELDS, lineterminator="\n")
        w.writeheader()
        w.writerows(problems)
    written.append(path)
    return written
