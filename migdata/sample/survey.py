"""A synthetic LFS/SOF-like sample survey of CALABARZON persons, written as SPSS ``.sav``.

Design (two stages, stratified), documented so the survey engine can be checked against it:

- **Frame**: the region's barangays with their 2020 CPH population (the same frame the CBMS
  sample uses). **Strata**: statistical province (old 2-digit province code; Lucena goes with
  Quezon, as in PSA regional tables) x urban/rural (PSGC 2020 flag): 10 strata.
- **First stage**: ``n_psu`` barangays (PSUs) allocated to strata in proportion to population
  (at least 2 each), drawn by systematic PPS on population after a random start;
  ``pi_i = n_h * pop_i / pop_h`` (below 1 for every barangay at the default size).
- **Second stage**: ``m`` households by simple random sampling out of ``M_i = round(pop_i / 4.15)``
  households (4.15 = the model's mean household size); ``pi_j|i = m / M_i``.
- **Weight** = ``1 / (pi_i * pi_j|i)``, the same for every member of a household (``pwgt``).
  The weighted number of persons estimates the region's 16.2 M people.

Only the sampled households are simulated (with the population model of
:mod:`migdata.sample.population`), so the file stays small. Value labels, variable labels and
one user-missing code (``98`` = don't know in ``months_abroad``) are written with
``pyreadstat.write_sav``.

Example:
    >>> import numpy as np
    >>> pps_systematic(np.random.default_rng(0), np.array([10., 30., 60.]), 2).tolist()
    [1, 2]
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat

from migdata.fileio import atomic_write
from migdata.sample import population as popmod

PROVINCES = {10: "Batangas", 21: "Cavite", 34: "Laguna", 56: "Quezon (incl. Lucena)", 58: "Rizal"}
MEAN_HH_SIZE = 4.15

B06_LABELS = {1: "OFW with contract", 2: "OFW without contract", 3: "Employee in PH embassy/consulate",
              4: "Student abroad", 5: "Tourist", 6: "Other OF", 7: "Not an OF (resident)"}
A02_LABELS = {1: "Head", 2: "Spouse", 3: "Son", 4: "Daughter", 5: "Stepson", 6: "Stepdaughter",
              7: "Son-in-law", 8: "Daughter-in-law", 9: "Grandson", 10: "Granddaughter", 11: "Father",
              12: "Mother", 13: "Father-in-law", 14: "Mother-in-law", 15: "Brother", 16: "Sister",
              17: "Brother-in-law", 18: "Sister-in-law", 19: "Uncle", 20: "Aunt", 21: "Nephew",
              22: "Niece", 23: "Other relative", 24: "Boarder", 25: "Domestic helper", 26: "Non-relative"}


def lf_status_code(age: np.ndarray, e01: np.ndarray, e03: np.ndarray, e25: np.ndarray,
                   e32: np.ndarray) -> np.ndarray:
    """LFS-style status for persons 15+ who answered Section E: 1 employed, 2 unemployed, 3 NILF, -1 n/a.

    Employed: worked (E01=1) or had a job/business (E03=1); unemployed: neither, looked for work
    (E25=1) and available (E32=1); otherwise not in the labour force.
    """
    answered = (age >= 15) & (e01 > 0)
    emp = (e01 == 1) | (e03 == 1)
    unemp = ~emp & (e25 == 1) & (e32 == 1)
    return np.where(~answered, -1, np.where(emp, 1, np.where(unemp, 2, 3)))


def pps_systematic(rng: np.random.Generator, size: np.ndarray, n: int) -> np.ndarray:
    """Indices of ``n`` units drawn by systematic PPS on ``size`` (random start, sorted frame order)."""
    cum = np.cumsum(size)
    step = cum[-1] / n
    points = rng.uniform(0, step) + step * np.arange(n)
    return np.searchsorted(cum, points, side="right")


def draw_sample(rng: np.random.Generator, bgy: pd.DataFrame, n_psu: int = 60, m: int = 12) -> pd.DataFrame:
    """Selected PSUs with stratum, pi_i, M_i and the household weight."""
    b = bgy.copy()
    b["prov"] = b["corr9"].str[2:4].astype(int)
    b["urb"] = np.where(b["urban_rural"].astype(str) == "urban", 1, 2)
    b["stratum"] = b["prov"] * 10 + b["urb"]
    pop_h = b.groupby("stratum")["population"].sum()
    alloc = np.maximum(2, np.round(n_psu * pop_h / pop_h.sum())).astype(int)
    rows = []
    for h, n_h in alloc.items():
        frame = b[b["stratum"] == h]
        idx = pps_systematic(rng, frame["population"].to_numpy(), int(n_h))
        sel = frame.iloc[idx].copy()
        sel["pi_psu"] = n_h * sel["population"] / pop_h[h]
        rows.append(sel)
    s = pd.concat(rows, ignore_index=True)
    s["M"] = np.maximum(np.round(s["population"] / MEAN_HH_SIZE), m).astype(int)
    s["pi_hh"] = m / s["M"]
    s["weight"] = 1.0 / (s["pi_psu"] * s["pi_hh"])
    s["psu"] = np.arange(1, len(s) + 1)
    return s


def build_survey(seed: int, ref: pd.DataFrame, n_psu: int = 60, m: int = 12) -> pd.DataFrame:
    """The person-level survey table (SPSS column names, numeric codes)."""
    from migdata.sample.dataset import barangays, make_chunk

    rng = np.random.default_rng([seed, 7])
    bgy = barangays(ref)
    s = draw_sample(rng, bgy, n_psu, m)
    pos = pd.Series(np.arange(len(bgy)), index=bgy["corr9"])
    bgy_index = np.repeat(pos[s["corr9"]].to_numpy(), m)
    order = np.argsort(bgy_index, kind="stable")
    places = popmod.Places.from_reference(ref)
    h, p = make_chunk(rng, bgy, bgy_index[order], places)
    psu_of_hh = np.repeat(np.arange(len(s)), m)[order]
    h["psu_row"] = psu_of_hh
    p = p.merge(h[["hh", "hh_id", "psu_row", "H3G_CASHRECEIPTS"]], on="hh")
    sp = s.iloc[p["psu_row"].to_numpy()].reset_index(drop=True)
    lf = lf_status_code(p["A07"].to_numpy(), p["E01_WORK"].to_numpy(), p["E03_JOBBUS"].to_numpy(),
                        p["E25_PWLOOKEST"].to_numpy(), p["E32_WILLINGTOWORK"].to_numpy())

    def opt(v: np.ndarray) -> np.ndarray:
        return np.where(np.asarray(v) < 0, np.nan, np.asarray(v, dtype=float))

    return pd.DataFrame({
        "hhid": "S" + p["hh_id"].astype(str).to_numpy(),  # not the same households as the CBMS file
        "lineno": p["line_no"].to_numpy(),
        "region": 4,
        "prov": sp["prov"].to_numpy(),
        "urb": sp["urb"].to_numpy(),
        "stratum": sp["stratum"].to_numpy(),
        "psu": sp["psu"].to_numpy(),
        "pwgt": np.round(sp["weight"].to_numpy(), 4),
        "sex": p["A05"].to_numpy(),
        "age": p["A07"].to_numpy(),
        "reltohead": p["A02"].to_numpy(),
        "ofi": opt(p["B06_OFI"].to_numpy()),
        "country": opt(p["B09_COUNTRY"].to_numpy()),
        "months_abroad": opt(p["B08_STAY"].to_numpy()),
        "lfstat": opt(lf),
        "attending": opt(p["C03_CURATTEND"].to_numpy()),
        "res5y": opt(p["B02_FYRSRESIDE"].to_numpy()),
        "cash_abroad": p["H3G_CASHRECEIPTS"].to_numpy().astype(float),
    })


def write_survey(path: str | os.PathLike[str], seed: int, ref: pd.DataFrame,
                 n_psu: int = 60, m: int = 12) -> Path:
    """Write the sample survey as SPSS ``.sav`` with labels; returns the path."""
    from migdata.sample.cbms import Layout

    df = build_survey(seed, ref, n_psu, m)
    countries = Layout().item("B01_COUNTRY4").value_labels()  # the value set sits on B01_COUNTRY4
    labels = {
        "region": {4: "Region IV-A (CALABARZON)"},
        "prov": PROVINCES,
        "urb": {1: "Urban", 2: "Rural"},
        "sex": {1: "Male", 2: "Female"},
        "reltohead": A02_LABELS,
        "ofi": B06_LABELS,
        "country": {int(k): str(v) for k, v in countries.items()},
        "months_abroad": {98: "Don't know"},
        "lfstat": {1: "Employed", 2: "Unemployed", 3: "Not in the labour force"},
        "attending": {1: "Yes", 2: "No"},
        "res5y": {1: "Same city/municipality", 2: "Other city/municipality in the Philippines",
                  3: "Abroad", 4: "Don't know"},
    }
    column_labels = {
        "hhid": "Household id", "lineno": "Line number", "region": "Region", "prov": "Province (statistical)",
        "urb": "Urban/rural (barangay, 2020)", "stratum": "Stratum (province x urban/rural)",
        "psu": "Primary sampling unit (barangay)", "pwgt": "Person weight (inverse inclusion probability)",
        "sex": "Sex", "age": "Age in completed years", "reltohead": "Relationship to household head",
        "ofi": "Overseas Filipino indicator (persons 15+)", "country": "Country of work/study/visit",
        "months_abroad": "Months abroad", "lfstat": "Labour force status (15+ at home)",
        "attending": "Currently attending school (5-24)", "res5y": "Residence 5 years ago (5+)",
        "cash_abroad": "Household cash receipts from abroad, past 12 months (PHP)",
    }
    return atomic_write(path, lambda tmp: pyreadstat.write_sav(
        df, str(tmp), column_labels=column_labels, variable_value_labels=labels,
        missing_ranges={"months_abroad": [98]}))
