"""``generate()``: write a synthetic CALABARZON data set in the real file formats.

The population model is in :mod:`migdata.sample.population` (its docstring lists every assumption
and its source). This module places households in barangays, assigns the CBMS geo IDs and
serial numbers, and streams chunks of households to the writers, so memory stays bounded at any
size (16.2 M persons for the benchmarks).

Files written into ``out_dir``:

- ``cbms_2022_hpq.dat``: CBMS 2022 HPQ cases, CSPro fixed width in the layout of PSA's CBMS 2022
  HPQ dictionary;
- ``cbms_2022_hpq_layout.dcf``: the CSPro dictionary of the records and items written, generated
  from the project's layout subset (:mod:`migdata.sample.layout`); the importer reads it;
- ``lfs_like_survey.sav``: a person-level sample survey with weights, strata and PSUs
  (:mod:`migdata.sample.survey`);
- ``kobo/``: Kobo XLSX exports of the three questionnaires, drawn from the CBMS households and
  members written here (:mod:`migdata.sample.linked`), with the sample lists and the list of
  planted link problems;
- ``dirty/`` (``dirty=True``): a small CBMS file with planted problems and a README listing them.

Example:
    >>> import tempfile
    >>> files = generate(tempfile.mkdtemp(), households=20, seed=1, survey=False, kobo=False)
    >>> sorted(f.name for f in files)[:2]
    ['cbms_2022_hpq.dat', 'cbms_2022_hpq_layout.dcf']
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from migdata.errors import UsageError
from migdata.sample import cbms, population as popmod, welfare

REGION = "04"
CBMS_FILE = "cbms_2022_hpq.dat"
SURVEY_FILE = "lfs_like_survey.sav"
DEFAULT_CHUNK = 20_000


def _reference() -> pd.DataFrame:
    from migdata.areas.reference import reference

    return reference()


def barangays(ref: pd.DataFrame | None = None) -> pd.DataFrame:
    """Region IV-A barangays with a 2020 population and a 9-digit code, in geo-ID order.

    Columns: psgc, corr9 (the 2022 CBMS geo ID), ppmm, urban_rural, population.
    """
    ref = _reference() if ref is None else ref
    lv = ref["level"].astype(str).str.lower()
    b = ref[lv.isin(["barangay", "bgy"]) & ref["psgc"].astype(str).str.startswith(REGION)].copy()
    b["population_2020"] = pd.to_numeric(b["population_2020"], errors="coerce").fillna(0)
    # barangays created after 2022 (18 consolidated Bacoor barangays, about 1 % of the region's
    # population) have no 9-digit correspondence code, so a 2022 CBMS geo ID cannot name them
    b = b[(b["population_2020"] > 0) & b["correspondence_code"].notna()]
    if b.empty:
        raise UsageError("MD651")
    out = pd.DataFrame({
        "psgc": b["psgc"].astype(str).to_numpy(),
        "corr9": b["correspondence_code"].astype(str).str.zfill(9).to_numpy(),
        "urban_rural": b["urban_rural"].astype(object).to_numpy(),
        "population": b["population_2020"].astype(float).to_numpy(),
    })
    out["ppmm"] = out["corr9"].str[2:6].astype(int)
    return out.sort_values("corr9", kind="stable").reset_index(drop=True)


def serials(rng: np.random.Generator, bgy_index: np.ndarray) -> dict[str, np.ndarray]:
    """EAN, BSN, HUSN, HSN for households sorted by barangay (150 households per EA; 4 % share a unit)."""
    n = len(bgy_index)
    first_in_bgy = np.r_[True, bgy_index[1:] != bgy_index[:-1]] if n else np.zeros(0, bool)
    pos = np.arange(n) - np.maximum.accumulate(np.where(first_in_bgy, np.arange(n), 0))
    ean = 1 + pos // 150
    first_in_ea = first_in_bgy | np.r_[False, ean[1:] != ean[:-1]] if n else first_in_bgy
    shares = (rng.random(n) < 0.04) & ~first_in_ea
    unit_start = ~shares
    unit_no = np.cumsum(unit_start)
    ea_start_unit = np.maximum.accumulate(np.where(first_in_ea, unit_no, 0))
    bsn = unit_no - ea_start_unit + 1
    hsn = np.arange(n) - np.maximum.accumulate(np.where(unit_start, np.arange(n), 0)) + 1
    return {"EAN": ean, "BSN": bsn, "HUSN": np.ones(n, dtype=np.int64), "HSN": hsn}


def hh_ids(corr9: np.ndarray, s: dict[str, np.ndarray]) -> np.ndarray:
    """The household id the CBMS profile builds: the 27 digits of the case id (geo 9, EAN 6, BSN, HUSN, HSN 4)."""
    return (pd.Series(corr9, dtype=str) + pd.Series(s["EAN"]).astype(str).str.zfill(6)
            + pd.Series(s["BSN"]).astype(str).str.zfill(4)
            + pd.Series(s["HUSN"]).astype(str).str.zfill(4)
            + pd.Series(s["HSN"]).astype(str).str.zfill(4)).to_numpy()


def make_chunk(rng: np.random.Generator, bgy: pd.DataFrame, bgy_index: np.ndarray,
               places: popmod.Places) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Households and persons (CBMS source codes) of one chunk of households."""
    n = len(bgy_index)
    p = popmod.build_households(rng, n)
    p = popmod.add_migration(rng, p, bgy["ppmm"].to_numpy()[bgy_index], places)
    p = popmod.add_school_work(rng, p)
    p = popmod.names(rng, p)
    h = popmod.household_items(rng, p, n)
    # Sections A20, C (grades), H (by source), L, P, Q, R: a stream of their own, spawned without
    # drawing from ``rng``, so they leave the roster, migration and identification items unchanged
    more = rng.spawn(1)[0]
    p = welfare.add_education_health(more, p)
    h = welfare.household_welfare(more, p, h)
    corr = bgy["corr9"].to_numpy()[bgy_index]
    s = serials(rng, bgy_index)
    h["REG_PSGC"] = pd.Series(corr).str[0:2].astype(int).to_numpy()
    h["PROV_PSGC"] = pd.Series(corr).str[2:4].astype(int).to_numpy()
    h["CITY_MUN_PSGC"] = pd.Series(corr).str[4:6].astype(int).to_numpy()
    h["BRGY_PSGC"] = pd.Series(corr).str[6:9].astype(int).to_numpy()
    for k, v in s.items():
        h[k] = v
    h["hh_id"] = hh_ids(corr, s)
    h["psgc"] = bgy["psgc"].to_numpy()[bgy_index]
    heads = p[p["line_no"] == 1].set_index("hh")
    h["LSTNAME"] = heads["A01_LSTNAME"].reindex(h["hh"]).to_numpy()
    h["FIRSTNAME"] = heads["A01_FIRSTNAME"].reindex(h["hh"]).to_numpy()
    h["STRTNME"] = np.array(popmod.STREETS, dtype=object)[rng.integers(0, len(popmod.STREETS), n)]
    h["HBN"] = rng.integers(1, 3000, n)
    # synthetic coordinates inside the region's bounding box (not real dwellings)
    h["X_LONG"] = np.char.mod("%.6f", rng.uniform(120.6, 122.4, n))
    h["Y_LAT"] = np.char.mod("%.6f", rng.uniform(13.5, 14.8, n))
    return h, p


GEO_ITEMS = ("MODE", "LSTNAME", "FIRSTNAME", "STRTNME", "HBN", "AGREE_INT", "X_LONG", "Y_LAT", "NO_HHMEM")
PERSON_ITEMS = {
    "SECTION_A": ("LNO", "A01_HHNAME", "A01_LSTNAME", "A01_FIRSTNAME", "A02_RELTOHHH", "A03_NUCLEAR",
                  "A04_RELTONUCFH", "A05_SEX", "A07_AGE", "A09_MSTAT", "A20_DIFFSEEING", "A20_DIFFHRING",
                  "A20_DIFFWALK", "A20_DIFFREMEM", "A20_DIFFSLFCARE", "A20_DIFFCOMM"),
    "SECTION_B": ("B01_MIG", "B01_PHILIPPINES1", "B01_COUNTRY1", "B02_FYRSRESIDE", "B01_PHILIPPINES2",
                  "B01_COUNTRY2", "B03_REASONFYRS", "B04_SMOSRESIDE", "B01_PHILIPPINES4", "B01_COUNTRY4",
                  "B05_REASONSMOS", "B06_OFI", "B07_LEAVE_MONTH", "B07_LEAVE_YR", "B08_STAY",
                  "B09_COUNTRY", "B10_PTSENDMNY"),
    "SECTION_C": ("C02_HGCLEVEL", "C02_HGC", "C03_CURATTEND", "C04_CURSCH", "C05_CURGRADELEVEL", "C05_CURGRADE",
                  "C06_NOTCURSCH", "C07_GRADTECH", "C08_TRNSKL"),
    "SECTION_E": ("E01_WORK", "E03_JOBBUS", "E25_PWLOOKEST", "E31_OPPORLFW", "E32_WILLINGTOWORK"),
}
HOUSEHOLD_ITEMS = {
    "SECTION_H": (*welfare.INCOME_SOURCES[:3], "H3D_NETENTREP", "H3E_NETPROF", "H3F_NETSHARE",
                  "H3G_CASHRECEIPTS", "H3H_PANTAWID", "H3I_SOCIAL", "H3J_SAP", *welfare.INCOME_SOURCES[6:],
                  "H03EN_CASHRECEIPTSN", "H05_SOURCESOFINCOME"),
    "SECTION_K": ("K01A_BANK", "K01C_EMONEY", "K01E_COOP", "K03_REMITTANCE"),
    "SECTION_L": ("L01_PREG", "L06_CPREG", "L08_LACTMOM", "L10_TYZFDIED", "L10A_NOCHLDDIED", "L15_DIS",
                  "L33_TMSICK"),
    "SECTION_P": ("P01A_SSS", "P01B_GSIS", "P01C_OWWA", "P01F_PAGIBIG", "P01G_PHLHEALTH", "P02_1A_SSS",
                  "P02_1B_GSIS", "P02_1C_OWWA", "P02_1F_PAGIBIG", "P02_1G_PHLHEALTH", *welfare.PROGRAMMES,
                  "P08_MEMFEEDNG"),
    "SECTION_Q": ("Q03_WDRINK", "Q06_WGET", "Q14_TOILET", "Q19_TSHARE"),
    "SECTION_R": ("R03_ROOF", "R04_WALLS", "R06_MFLOOR", "R12_ELCTRCTY", "R15_FUELCOOK"),
}
#: repeating records with their own number of occurrences (not one per member): Section L1 lists
LIST_ITEMS = {"SECTION_L1": ("L02_LNO", "L03_LBIRTHS", "L04_NLBIRTHS", "L07_LNO", "L09_LNO", "L16_LNO",
                             "L34_LNO")}
_RENAME = {"LNO": "line_no", "A02_RELTOHHH": "A02", "A03_NUCLEAR": "A03", "A04_RELTONUCFH": "A04",
           "A05_SEX": "A05", "A07_AGE": "A07", "A09_MSTAT": "A09"}


def write_chunk(fh, layout: cbms.Layout, h: pd.DataFrame, p: pd.DataFrame) -> int:
    """Write one chunk of cases to the open CBMS file; returns lines written."""
    h = h.assign(MODE=1, AGREE_INT=1)
    ids = {k: h[k].to_numpy() for k in cbms.ID_ITEMS}
    members = h["NO_HHMEM"].to_numpy()
    pv = {rec: {item: p[_RENAME.get(item, item)].to_numpy() for item in items}
          for rec, items in PERSON_ITEMS.items()}
    hv = {rec: {item: h[item].to_numpy() for item in items} for rec, items in HOUSEHOLD_ITEMS.items()}
    hv["GEO_ID"] = {item: h[item].to_numpy() for item in GEO_ITEMS}
    counts, l1 = welfare.l1_occurrences(p, len(h))
    lv = {"SECTION_L1": (counts, {item: l1[item] for item in LIST_ITEMS["SECTION_L1"]})}
    return cbms.write_cases(fh, layout, ids, members, pv, hv, lv)


def chunks(counts: np.ndarray, size: int) -> list[np.ndarray]:
    """Consecutive barangay index groups holding about ``size`` households each."""
    out, cur, tot = [], [], 0
    for i in np.flatnonzero(counts):
        cur.append(i)
        tot += counts[i]
        if tot >= size:
            out.append(np.array(cur))
            cur, tot = [], 0
    if cur:
        out.append(np.array(cur))
    return out


def write_cbms(path: Path, households: int, seed: int, *, ref: pd.DataFrame | None = None,
               chunk_households: int = DEFAULT_CHUNK,
               on_chunk: Callable[[int, int], None] | None = None,
               keep: list[tuple[pd.DataFrame, pd.DataFrame]] | None = None) -> dict[str, int]:
    """Write ``households`` synthetic CBMS 2022 cases to ``path``; returns counts written.

    ``keep`` (a list) receives each chunk's households and persons (source codes), for the
    exports drawn from them; leave it None at census scale.
    """
    ref = _reference() if ref is None else ref
    bgy = barangays(ref)
    places = popmod.Places.from_reference(ref)
    layout = cbms.Layout()
    root = np.random.default_rng([seed, 0])
    counts = root.multinomial(households, bgy["population"] / bgy["population"].sum())
    totals = {"households": 0, "persons": 0, "lines": 0}
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as fh:
        fh.write(b"\xef\xbb\xbf")
        for k, group in enumerate(chunks(counts, chunk_households)):
            rng = np.random.default_rng([seed, 1, k])
            bgy_index = np.repeat(group, counts[group])
            h, p = make_chunk(rng, bgy, bgy_index, places)
            totals["lines"] += write_chunk(fh, layout, h, p)
            if keep is not None:
                keep.append((h, p))
            totals["households"] += len(h)
            totals["persons"] += len(p)
            if on_chunk:
                on_chunk(totals["households"], households)
    os.replace(tmp, path)
    return totals


def generate(out_dir: str | os.PathLike[str], households: int = 3000, seed: int = 2022,
             dirty: bool = False, *, survey: bool = True, kobo: bool = True,
             chunk_households: int = DEFAULT_CHUNK,
             progress: Callable[..., None] | None = None) -> list[Path]:
    """Write a synthetic CALABARZON data set into ``out_dir``; returns the files written.

    ``progress(message, done, total)`` (see :mod:`migdata.progress`; a one-argument callback
    works too) hears the households written to the CBMS file and each other file.

    The same ``households``, ``seed`` and ``chunk_households`` give byte-identical CBMS files
    (the ``.sav`` and ``.xlsx`` files also hold their creation time).
    """
    if households < 1:
        raise UsageError("MD650", value=households)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError("MD652", path=str(out), reason=exc.strerror or type(exc).__name__) from None
    ref = _reference()
    written: list[Path] = []
    dat = out / CBMS_FILE
    from migdata.progress import as_progress

    say = as_progress(progress)
    step = f"CBMS 2022 file ({households:,} households)"
    say(step, 0, households)
    chunks: list[tuple[pd.DataFrame, pd.DataFrame]] | None = [] if kobo else None
    counts = write_cbms(dat, households, seed, ref=ref, chunk_households=chunk_households,
                        on_chunk=lambda done, total: say(step, done, total), keep=chunks)
    written.append(dat)
    written.append(cbms.write_dictionary(out))
    if survey:
        from migdata.sample.survey import write_survey

        say("sample survey (SPSS) ...")
        written.append(write_survey(out / SURVEY_FILE, seed=seed, ref=ref))
    if kobo:
        from migdata.sample.linked import write_linked_exports

        say("Kobo exports of the three questionnaires, drawn from the CBMS sample ...")
        written += write_linked_exports(out / "kobo", chunks, seed=seed)
    if dirty:
        from migdata.sample.dirty import write_dirty

        say("dirty CBMS sample ...")
        written += write_dirty(out / "dirty", seed=seed + 1, ref=ref)
    info = {"generator": "migdata.sample.generate", "households": households, "seed": seed,
            "cbms_counts": counts, "files": sorted(str(f.relative_to(out)) for f in written)}
    (out / "generated.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    written.append(out / "generated.json")
    return written
