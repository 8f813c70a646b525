"""Extract the CBMS 2022 country code list (9001-9256, 9997) for the questionnaires' choice lists.

The list is the value set ``B01_COUNTRY4_VS1`` of PSA's CBMS 2022 Household Profile Questionnaire
CSPro dictionary (``HPQF2_DICT.dcf``, distributed by yng-me/rcbms-app under the MIT licence).
Only the codes and names are kept (facts of the classification), written to
``migdata/questionnaires/forms/cbms_countries.csv`` with a provenance header line.

Run from the repository root (the dictionary is read from ../shared/realdata, never copied):

    python questionnaires/src/extract_cbms_countries.py [path/to/HPQF2_DICT.dcf]
"""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DCF = ROOT.parent / "shared" / "realdata" / "ph" / "cbms" / "HPQF2_DICT.dcf"
OUT = ROOT / "migdata" / "questionnaires" / "forms" / "cbms_countries.csv"

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
    text = dcf.read_text(encoding="utf-8-sig").replace("\r", "")
    block = text.split("Name=B01_COUNTRY4_VS1", 1)[1].split("\n[", 1)[0]
    return re.findall(r"^Value=(\d+);\d+ - (.*)$", block, flags=re.M)


def main(argv: list[str]) -> None:
    dcf = Path(argv[1]) if len(argv) > 1 else DEFAULT_DCF
    rows = extract(dcf)
    with OUT.open("w", newline="", encoding="utf-8") as f:
        f.write("# CBMS 2022 HPQ country codes (value set B01_COUNTRY4_VS1 of HPQF2_DICT.dcf, PSA; "
                "via yng-me/rcbms-app, MIT). Regenerate: python questionnaires/src/extract_cbms_countries.py\n")
        w = csv.writer(f)
        w.writerow(["code", "label", "cbms_label"])
        for code, label in rows:
            w.writerow([code, "Don't know" if code == "9997" else nice(label), label])
    print(f"wrote {len(rows)} codes to {OUT}")


if __name__ == "__main__":
    main(sys.argv)
