"""Hooks of the generic IPUMS profile (``ipums_generic.toml``): what the TOML cannot say.

Picks the weight, stratum and cluster variables an extract happens to have, qualifies the
household serial by its sample, and builds the households table (one row per hh_id, household
weight). Each choice is documented in the TOML's header.

Example:
    >>> from migdata.importer import import_files                        # doctest: +SKIP
    >>> data = import_files("usa_00172.xml", "ipums_generic")            # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from migdata.model.report import ImportReport
from migdata.readers.codebook import Codebook

PERSON_WEIGHTS = ("PERWT", "ASECWT", "WTFINL", "WTSUPP")
HOUSEHOLD_WEIGHTS = ("HHWT", "ASECWTH", "HWTFINL", "HWTSUPP")
STRING = pd.StringDtype("pyarrow")


def _first(raw: pd.DataFrame, names: tuple[str, ...]) -> str | None:
    return next((n for n in names if n in raw.columns), None)


def _as_text(s: pd.Series, width: int = 0) -> pd.Series:
    t = pd.Series(pd.array(s, dtype="Int64")).astype(str)
    return t.str.zfill(width) if width else t


def household_id(raw: pd.DataFrame) -> pd.Series:
    """The sample-qualified household id (see the profile header)."""
    serial = _as_text(raw["SERIAL"])
    if "SAMPLE" in raw.columns:
        return (_as_text(raw["SAMPLE"]) + "-" + serial).astype(STRING)
    if "YEAR" in raw.columns and "MONTH" in raw.columns:
        return (_as_text(raw["YEAR"]) + _as_text(raw["MONTH"], 2) + "-" + serial).astype(STRING)
    if "YEAR" in raw.columns:
        return (_as_text(raw["YEAR"]) + "-" + serial).astype(STRING)
    return serial.astype(STRING)


#: (words in the DDI value label, canonical relationship), first match wins; order matters
RELATE_WORDS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("head", "householder"), "head"),
    (("child-in-law", "son-in-law", "daughter-in-law", "child in law"), "child_in_law"),
    (("parent-in-law", "father-in-law", "mother-in-law", "parent in law"), "parent_in_law"),
    (("sibling-in-law", "brother-in-law", "sister-in-law", "sibling in law"), "sibling_in_law"),
    (("grandchild",), "grandchild"),
    (("spouse", "husband", "wife"), "spouse"),
    (("child", "stepchild", "adopted", "son", "daughter"), "child"),
    (("parent", "father", "mother"), "parent"),
    (("sibling", "brother", "sister"), "sibling"),
    (("housekeeper", "maid", "domestic", "servant"), "domestic_helper"),
    (("boarder", "roomer", "lodger"), "boarder"),
    (("other relative", "relative"), "other_relative"),
    (("non-relative", "nonrelative", "partner", "friend", "visitor", "roommate", "employee"), "non_relative"),
)


def relationship_codes(value_labels: dict[Any, str]) -> dict[Any, str | None]:
    """IPUMS RELATE code -> canonical relationship, from the words of the value labels.

    Example:
        >>> relationship_codes({1: "Head/Householder", 4: "Child-in-law", 13: "Institutional inmates"})
        {1: 'head', 4: 'child_in_law', 13: None}
    """
    out: dict[Any, str | None] = {}
    for code, label in value_labels.items():
        low = str(label).lower()
        if "non-relative" in low or "nonrelative" in low or "not related" in low:
            out[code] = "non_relative"
            continue
        out[code] = next((target for words, target in RELATE_WORDS if any(w in low for w in words)), None)
    return out


def derive(tables: dict[str, pd.DataFrame], raw: dict[str, pd.DataFrame], codebook: Codebook,
           report: ImportReport) -> dict[str, pd.DataFrame]:
    """Set hh_id, weights, stratum and psu on persons and rebuild households from persons."""
    src = raw["person"].reset_index(drop=True)
    p = tables["persons"].reset_index(drop=True)
    # the engine maps every raw person row in order (no filtering), so rows align by position
    p["hh_id"] = household_id(src).to_numpy()
    if "RELATE" in src.columns:
        try:
            labels = codebook.variable("RELATE", "person").value_labels
        except KeyError:
            labels = {}
        mapping = relationship_codes(labels)
        codes = pd.array(src["RELATE"], dtype="Int64")
        rel = pd.Series([mapping.get(int(c)) if not pd.isna(c) else None for c in codes], dtype=object)
        bad = rel.isna().to_numpy() & ~pd.isna(codes)
        for i in np.flatnonzero(bad)[:1000]:
            report.add("MD504", table="persons", source_file=codebook.source,
                       source_row=int(p["_source_row"].iat[i]) if "_source_row" in p else None,
                       column="relationship", value=int(codes[i]), action="set_missing",
                       raw_column="RELATE", allowed="RELATE codes whose label names a relationship")
        p["relationship"] = rel.to_numpy()
    pw = _first(src, PERSON_WEIGHTS)
    if pw is not None:
        p["weight"] = pd.to_numeric(src[pw], errors="coerce").astype("float64").to_numpy()
    hw = _first(src, HOUSEHOLD_WEIGHTS)
    hweight = (pd.to_numeric(src[hw], errors="coerce").astype("float64").to_numpy() if hw
               else (p["weight"].to_numpy() if "weight" in p else np.ones(len(p))))
    cols = {"hh_id": p["hh_id"].to_numpy(), "weight": hweight,
            "_source_row": p["_source_row"].to_numpy() if "_source_row" in p else np.arange(1, len(p) + 1)}
    if "STRATA" in src.columns:
        cols["stratum"] = _as_text(src["STRATA"]).astype(STRING).to_numpy()
    if "CLUSTER" in src.columns:
        cols["psu"] = _as_text(src["CLUSTER"]).astype(STRING).to_numpy()
    h = pd.DataFrame(cols).drop_duplicates("hh_id").reset_index(drop=True)
    h["source"] = pd.Series(["ipums_generic"] * len(h), dtype=STRING)
    used = ", ".join(x for x in (pw, hw) if x)
    report.notes.append(f"ipums_generic: weights from {used or 'none (weight 1)'}; "
                        f"hh_id = {'SAMPLE' if 'SAMPLE' in src else ('YEAR+MONTH' if 'MONTH' in src else 'YEAR') if 'YEAR' in src or 'SAMPLE' in src else ''}-SERIAL.")
    if "weight" not in h or h["weight"].isna().all():
        h["weight"] = 1.0
    out = dict(tables)
    out["persons"] = p
    out["households"] = h
    return out
