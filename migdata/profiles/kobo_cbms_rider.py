"""Hooks of the ``kobo_cbms_rider`` profile: what the TOML cannot say.

- hh_id: Kobo links a member row to its submission by uuid; the household id users know is the
  CBMS case id (when recorded) or the barangay PSGC + household number (``0405623008-00012``),
  taken from the main sheet, and the uuid itself when neither is usable (a choice among
  candidate ids across two sheets, with first-submission-wins for duplicates).
- refusals (consent = 2) are counted in a report note (validation rejects them: no roster).

Countries, lf_status and cash_abroad are data in ``kobo_cbms_rider.toml`` (code table, cases,
set_when).
"""

from __future__ import annotations

from typing import Any

import pandas as pd


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
    return tables
