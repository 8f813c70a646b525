"""Hooks of the ``kobo_cbms_rider`` profile: what the TOML cannot say.

- hh_id: Kobo links a member row to its submission by uuid; the household id users know is the
  CBMS case id (when recorded) or the barangay PSGC + household number (``0405623008-00012``),
  taken from the main sheet.
- countries: CBMS codes 9001-9256 -> ISO 3166 alpha-3 through ``cbms_countries.csv`` (the CBMS
  profile's crosswalk; 9997 don't know and codes without an ISO code give no country).
- lf_status: return migrants' labour-force status from E01/E03/E25/E32 (the CBMS rule).
- refusals (consent = 2) are counted in a report note (validation rejects them: no roster).
- cash_abroad: 0 for households that answered "no money received" (the amount is not asked).
"""

from __future__ import annotations

import csv
from functools import lru_cache
from importlib import resources
from typing import Any

import pandas as pd


@lru_cache(maxsize=1)
def cbms_to_iso3() -> dict[str, str]:
    """CBMS country code (text) -> ISO3, from ``migdata/profiles/cbms_countries.csv``."""
    text = resources.files("migdata.profiles").joinpath("cbms_countries.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    return {r["cbms_code"]: r["iso3"] for r in rows if r.get("iso3")}


def iso3(codes: pd.Series) -> pd.Series:
    m = cbms_to_iso3()
    return pd.Series([m.get(str(c).strip()) if pd.notna(c) else None for c in codes],
                     index=codes.index, dtype="string")


def _text(v: Any) -> str:
    s = "" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v).strip()
    return s[:-2] if s.endswith(".0") else s


def household_ids(main: pd.DataFrame) -> dict[str, str]:
    """Kobo submission uuid -> household id: the CBMS case id when recorded, else
    ``<PSGC>-<household number, 5 digits>``; the uuid itself when neither is usable. A uuid
    submitted twice keeps the id of its first submission, so validation rejects the copy (a
    duplicate household, MD108, and its members, MD109); a submission with a blank uuid has no
    household id, nor have its members (MD107: located, rejected)."""
    out: dict[str, str] = {}
    case = main["cbms_case_id"] if "cbms_case_id" in main else pd.Series([None] * len(main))
    for uid, cid, psgc, hh in zip(main["_uuid"], case, main["psgc"], main["hh_no"]):
        cid, psgc, hh = _text(cid), _text(psgc), _text(hh)
        if not _text(uid) or str(uid) in out:
            continue
        if cid.isdigit():
            out[str(uid)] = cid
        elif psgc and hh.isdigit():
            out[str(uid)] = f"{psgc}-{int(hh):05d}"
        else:
            out[str(uid)] = str(uid)
    return out


def derive(tables: dict[str, pd.DataFrame], raw: dict[str, pd.DataFrame], codebook: Any,
           report: Any) -> dict[str, pd.DataFrame]:
    main = raw["main"]
    ids = household_ids(main)
    if "consent" in main:
        refused = int((main["consent"].astype("string").str.strip() == "2").fillna(False).sum())
        if refused:
            report.notes.append(
                f"{refused} household(s) did not consent to the rider interview: they have no roster "
                "and are rejected by validation (MD111); count them as refusals in the response rate.")
    hh, pp = tables["households"], tables["persons"]
    hh["hh_id"] = hh["hh_id"].astype("string").map(lambda u: ids.get(u, u)).astype("string")
    pp["hh_id"] = pp["hh_id"].astype("string").map(lambda u: ids.get(u, u)).astype("string")
    pp["of_country"] = iso3(pp["of_country_src"])
    for ref in ("birth", "5y", "6m"):
        src = f"_res_{ref}_country_src"
        pp[f"res_{ref}_country"] = iso3(pp.pop(src))
    pp["return_country"] = iso3(pp.pop("_return_country_src"))
    e01, e03, e25, e32 = (pp.pop(c).astype("string") for c in ("_e01", "_e03", "_e25", "_e32"))
    employed = ((e01 == "1") | (e03 == "1")).fillna(False)
    unemployed = (~employed & (e25 == "1") & (e32 == "1")).fillna(False)
    status = pd.Series("not_in_labour_force", index=pp.index, dtype="object")
    status[unemployed.to_numpy()] = "unemployed"
    status[employed.to_numpy()] = "employed"
    status[e01.isna().to_numpy()] = None
    pp["lf_status"] = status
    received = hh.pop("_rem_received").astype("string")
    no = (received == "2").fillna(False).to_numpy()
    cash = pd.to_numeric(hh["cash_abroad"], errors="coerce")
    cash[no] = 0.0
    hh["cash_abroad"] = cash
    return tables
