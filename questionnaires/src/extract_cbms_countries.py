"""Refresh the labels of the CBMS 2022 country list (9001-9256, 9997) used by the questionnaires.

There is ONE country file in the package: ``migdata/profiles/cbms_countries.csv`` (CBMS code,
CBMS label, ISO 3166 alpha-3 crosswalk, match, note, label). The profile maps codes to ISO3 with
it; the questionnaires' choice lists (``migdata/questionnaires/forms/common.py``) and the
synthetic sample's dictionary take their labels from its ``label`` column, which this script
derives from ``cbms_label`` ("BOLIVIA, PLURINATIONAL STATE OF" -> "Bolivia, Plurinational State
of"; 9997 -> "Don't know").

When PSA's CBMS 2022 HPQ dictionary (``HPQF2_DICT.dcf``) is given, the codes and ``cbms_label``
are first checked against its country value set ``B01_COUNTRY4_VS1``; the dictionary is read from
../shared/realdata and never copied. The ISO3 columns are hand-checked and are kept as they are.

    python questionnaires/src/extract_cbms_countries.py [path/to/HPQF2_DICT.dcf]
"""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DCF = ROOT.parent / "shared" / "realdata" / "ph" / "cbms" / "HPQF2_DICT.dcf"
OUT = ROOT / "migdata" / "profiles" / "cbms_countries.csv"

# Country names in the dictionary are upper case; these words stay lower case in labels.
_SMALL = {"of", "and", "the", "da", "du", "de", "la", "part"}


def nice(name: str) -> str:
    """'BOLIVIA, PLURINATIONAL STATE OF' -> 'Bolivia, Plurinational State of'."""
    words = []
    for i, w in enumerate(name.lower().split(" ")):
        if i and w in _SMALL:
            words.append(w)
        elif w.startswith("(") and len(w) > 1:
            words.append("(" + w[1:2].upper() + w[2:])
        else:
            words.append("/".join("-".join(p[:1].upper() + p[1:] for p in part.split("-"))
                                  for part in w.split("/")))
    out = " ".join(words)
    # Abbreviations the dictionary writes in capitals.
    for abbr in ("Sar", "U.s.", "Uk", "Usa"):
        out = re.sub(rf"\b{re.escape(abbr)}(?=\W|$)", abbr.upper(), out)
    return out


def extract(dcf: Path) -> list[tuple[str, str]]:
    """(code, label) of the dictionary's country value set."""
    text = dcf.read_text(encoding="utf-8-sig").replace("\r", "")
    block = text.split("Name=B01_COUNTRY4_VS1", 1)[1].split("\n[", 1)[0]
    return re.findall(r"^Value=(\d+);\d+ - (.*)$", block, flags=re.M)


def main(argv: list[str]) -> None:
    with OUT.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    dcf = Path(argv[1]) if len(argv) > 1 else DEFAULT_DCF
    if dcf.is_file():
        real = extract(dcf)
        mine = [(r["cbms_code"], r["cbms_label"]) for r in rows]
        if real != mine:
            raise SystemExit(f"{OUT} and the value set in {dcf} differ: update codes and ISO3 by hand first")
    for r in rows:
        r["label"] = "Don't know" if r["cbms_code"] == "9997" else nice(r["cbms_label"])
    fields = ["cbms_code", "cbms_label", "iso3", "match", "note", "label"]
    with OUT.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {len(rows)} codes to {OUT}")


if __name__ == "__main__":
    main(sys.argv)
