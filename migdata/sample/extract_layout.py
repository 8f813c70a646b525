"""Derive ``cbms_2022_layout.csv`` (the project's CBMS 2022 layout subset) from PSA's dictionary.

For maintainers. The layout of the synthetic CBMS file is the layout of PSA's CBMS 2022 HPQ
dictionary (``HPQF2_DICT.dcf``), but that file is third-party and is not shipped. This script
reads it and writes only what migdata needs: the records the generator writes (the records with
items below plus every record the dictionary marks as required, written blank) and the items the
generator writes or the ``cbms_2022_hpq`` profile reads, with their record type, positions,
lengths, decimals and zero fill. Labels and value sets are the project's own (``LABELS``,
``VALUE_SETS`` below, and ``cbms_2022_value_sets.csv``); nothing else of the dictionary is kept.

Run from the repository root (the dictionary is read from ``../shared/realdata``, never copied)::

    python -m migdata.sample.extract_layout ../shared/realdata/ph/cbms/HPQF2_DICT.dcf

The output is deterministic: running it again on the same dictionary gives the same file, so
``git diff`` shows any change of layout.

Example:
    >>> sorted(wanted_items())[:3]
    ['A01_FIRSTNAME', 'A01_HHNAME', 'A01_LSTNAME']
"""

from __future__ import annotations

import csv
import sys
import tomllib
from importlib import resources
from pathlib import Path

from migdata.readers.cspro import read_dictionary

OUT = Path(__file__).with_name("cbms_2022_layout.csv")
DEFAULT_DCF = Path("..") / "shared" / "realdata" / "ph" / "cbms" / "HPQF2_DICT.dcf"
FIELDS = ["record", "record_label", "type_value", "required", "max_records", "record_len",
          "item", "label", "start", "length", "data_type", "decimals", "zero_fill", "value_set"]

# Our own short labels (the dictionary's labels are PSA's wording and are not copied).
RECORD_LABELS = {
    "GEO_ID": "Geographic identification and household listing",
    "INTERVIEW_RECORD": "Interview visits",
    "SECTION_A": "Section A: household members",
    "SECTION_B": "Section B: migration",
    "SECTION_C": "Section C: education",
    "SECTION_D": "Section D: community participation",
    "SECTION_E": "Section E: economic activity",
    "SECTION_F": "Section F: household production",
    "SECTION_F1": "Section F1: family enterprises",
    "SECTION_H": "Section H: family income",
    "SECTION_H1": "Section H1: income details",
    "SECTION_I": "Section I: food spending",
    "SECTION_J": "Section J: food security",
    "SECTION_K": "Section K: financial accounts",
    "SECTION_L": "Section L: health",
    "SECTION_L1": "Section L1: health of members",
    "SECTION_M": "Section M: community and disasters",
    "SECTION_N": "Section N: communication",
    "SECTION_O": "Section O: safety",
    "SECTION_O1": "Section O1: crime experienced",
    "SECTION_P": "Section P: social protection",
    "SECTION_P1": "Section P1: health insurance of members",
    "SECTION_Q": "Section Q: water and sanitation",
    "SECTION_R": "Section R: housing",
    "SECTION_S": "Section S: respondent",
    "CERTIFICATION": "Certification",
    "SUMMARY_OF_VISIT": "Summary of visits",
    "SECTION_G_NEW": "Section G: agriculture",
    "SECTION_G1_NEW": "Section G1: agricultural parcels",
}
LABELS = {
    "REG_PSGC": "Region (old PSGC, 2 digits)",
    "PROV_PSGC": "Province (old PSGC, 2 digits)",
    "CITY_MUN_PSGC": "City or municipality (old PSGC, 2 digits)",
    "BRGY_PSGC": "Barangay (old PSGC, 3 digits)",
    "EAN": "Enumeration area number",
    "BSN": "Building serial number",
    "HUSN": "Housing unit serial number",
    "HSN": "Household serial number",
    "MODE": "How the interview was done",
    "LSTNAME": "Last name of the household head",
    "FIRSTNAME": "First name of the household head",
    "HBN": "House or building number",
    "STRTNME": "Street",
    "AGREE_INT": "Agreed to be interviewed",
    "X_LONG": "GPS longitude",
    "Y_LAT": "GPS latitude",
    "NO_HHMEM": "Number of household members",
    "LNO": "Roster line number",
    "A01_HHNAME": "Full name of the member",
    "A01_LSTNAME": "Last name of the member",
    "A01_FIRSTNAME": "First name of the member",
    "A02_RELTOHHH": "Relationship to the household head",
    "A03_NUCLEAR": "Family number within the household",
    "A04_RELTONUCFH": "Relationship to the family head",
    "A05_SEX": "Sex",
    "A07_AGE": "Age in completed years",
    "A09_MSTAT": "Marital status",
    "B01_MIG": "Mother's usual residence when the member was born",
    "B01_PHILIPPINES1": "Place of birth residence in the Philippines (PPMM)",
    "B01_COUNTRY1": "Country of birth residence",
    "B02_FYRSRESIDE": "Residence five years ago",
    "B01_PHILIPPINES2": "Place five years ago in the Philippines (PPMM)",
    "B01_COUNTRY2": "Country five years ago",
    "B03_REASONFYRS": "Reason for moving (five years)",
    "B04_SMOSRESIDE": "Residence six months ago",
    "B01_PHILIPPINES4": "Place six months ago in the Philippines (PPMM)",
    "B01_COUNTRY4": "Country six months ago",
    "B05_REASONSMOS": "Reason for moving (six months)",
    "B06_OFI": "Overseas Filipino status",
    "B07_LEAVE_MONTH": "Month last left the Philippines",
    "B07_LEAVE_YR": "Year last left the Philippines",
    "B08_STAY": "Months abroad",
    "B09_COUNTRY": "Country of work, study or visit",
    "B10_PTSENDMNY": "Times money was sent home",
    "C03_CURATTEND": "Attends school now",
    "C04_CURSCH": "Kind of school attended",
    "C06_NOTCURSCH": "Reason for not attending school",
    "E01_WORK": "Worked in the past week",
    "E03_JOBBUS": "Had a job or business in the past week",
    "E25_PWLOOKEST": "Looked for work or tried to start a business",
    "E31_OPPORLFW": "Had a chance of work",
    "E32_WILLINGTOWORK": "Available for work",
    "H3G_CASHRECEIPTS": "Cash and gifts received from abroad (PHP)",
    "H05_SOURCESOFINCOME": "Total family income (PHP)",
    "H03EN_CASHRECEIPTSN": "Answered the amount received from abroad",
    "K01A_BANK": "Has a bank account",
    "K01B_DIGITALBANK": "Has a digital bank account",
    "K01C_EMONEY": "Has an e-money account",
    "K01D_NSSLANONSTOCK": "Has a non-stock savings and loan account",
    "K01E_COOP": "Has a cooperative account",
    "K01F_MICROFIN": "Has a microfinance account",
    "K01Z_OTH": "Has another kind of account",
    "K03_REMITTANCE": "Uses an account for remittances",
    "P01C_OWWA": "Any member in OWWA",
    "P01G_PHLHEALTH": "Any member in PhilHealth",
    "P02_1C_OWWA": "OWWA members (two-digit line numbers)",
    "P02_1G_PHLHEALTH": "PhilHealth members (two-digit line numbers)",
    "P05A_REG4PS": "Received regular 4Ps",
    "P05B_MOD4PS": "Received modified 4Ps",
    "P05C_UCT": "Received unconditional cash transfer",
    "P05D_SOCPEN": "Received social pension",
    "P05E_IMAP": "Received medical assistance",
    "P05F_STUFAP": "Received student financial aid",
    "P05G_SNRHIGH": "Received senior high school voucher",
    "P05H_ESA": "Received emergency shelter assistance",
    "P05I_HOUSING": "Received housing programme",
    "P05J_HEALTH": "Received health assistance",
    "P05Z_OTHERS": "Received another programme",
    "P05K_COMM": "Received water and sanitation programme",
    "P08_MEMFEEDNG": "Benefited from a feeding programme",
    "A20_DIFFSEEING": "Difficulty seeing",
    "A20_DIFFHRING": "Difficulty hearing",
    "A20_DIFFWALK": "Difficulty walking or climbing steps",
    "A20_DIFFREMEM": "Difficulty remembering or concentrating",
    "A20_DIFFSLFCARE": "Difficulty with self-care",
    "A20_DIFFCOMM": "Difficulty communicating",
    "C02_HGCLEVEL": "Level of the highest grade completed (PSCED)",
    "C02_HGC": "Highest grade completed (five-digit code)",
    "C05_CURGRADELEVEL": "Level of the grade attended now (PSCED)",
    "C05_CURGRADE": "Grade attended now (five-digit code)",
    "C07_GRADTECH": "Graduate of a technical-vocational course",
    "C08_TRNSKL": "Attends a technical-vocational course now",
    "H2A_TOTAL": "Salaries and wages (PHP)",
    "H2B_TOTAL": "Commissions, tips and bonuses (PHP)",
    "H2C_TOTAL": "Other compensation (PHP)",
    "H3D_NETENTREP": "Net receipts from family enterprises (PHP)",
    "H3E_NETPROF": "Net receipts from a profession (PHP)",
    "H3F_NETSHARE": "Net share of crops (PHP)",
    "H3H_PANTAWID": "4Ps cash received (PHP)",
    "H3I_SOCIAL": "Social pension received (PHP)",
    "H3J_SAP": "Social amelioration cash received (PHP)",
    "H3K_OTHER": "Other cash receipts from domestic sources (PHP)",
    "H3L_DIVIDEND": "Dividends (PHP)",
    "H3M_RENTALS": "Rentals from non-agricultural land (PHP)",
    "H3N_INTERESTS": "Interest (PHP)",
    "H3O_GIFTS": "Gifts received (PHP)",
    "H3P_FSA": "Family sustenance activities (PHP)",
    "L01_PREG": "A member was pregnant in the past three years",
    "L06_CPREG": "A member is pregnant now",
    "L08_LACTMOM": "A member is breastfeeding",
    "L10_TYZFDIED": "A child born alive in the past three years has died",
    "L10A_NOCHLDDIED": "Number of such children who died",
    "L15_DIS": "A member has a disability",
    "L33_TMSICK": "A member was ill or injured in the past 12 months",
    "L02_LNO": "Line of a member pregnant in the past three years",
    "L03_LBIRTHS": "Her pregnancies in the past three years",
    "L04_NLBIRTHS": "Of which live births",
    "L07_LNO": "Line of a member pregnant now",
    "L09_LNO": "Line of a breastfeeding member",
    "L16_LNO": "Line of a member with a disability",
    "L34_LNO": "Line of a member ill or injured in the past 12 months",
    "P01A_SSS": "Any member in SSS",
    "P01B_GSIS": "Any member in GSIS",
    "P01F_PAGIBIG": "Any member in Pag-IBIG",
    "P02_1A_SSS": "SSS members (two-digit line numbers)",
    "P02_1B_GSIS": "GSIS members (two-digit line numbers)",
    "P02_1F_PAGIBIG": "Pag-IBIG members (two-digit line numbers)",
    "Q03_WDRINK": "Main source of drinking water",
    "Q06_WGET": "Minutes to fetch water and come back",
    "Q14_TOILET": "Toilet facility",
    "Q19_TSHARE": "Toilet shared with other households",
    "R03_ROOF": "Roof material",
    "R04_WALLS": "Outer wall material",
    "R06_MFLOOR": "Floor material",
    "R12_ELCTRCTY": "Electricity in the dwelling",
    "R15_FUELCOOK": "Main cooking fuel",
}
# Items whose codes the profile maps or the codebook labels -> code list (cbms_2022_value_sets.csv;
# "country" is cbms_countries.csv).
VALUE_SETS = {
    "A02_RELTOHHH": "relationship", "A05_SEX": "sex", "A09_MSTAT": "marital_status",
    "B01_MIG": "residence", "B02_FYRSRESIDE": "residence", "B04_SMOSRESIDE": "residence",
    "B03_REASONFYRS": "move_reason", "B05_REASONSMOS": "move_reason", "B06_OFI": "of_indicator",
    "B01_COUNTRY1": "country", "B01_COUNTRY2": "country", "B01_COUNTRY4": "country",
    "B09_COUNTRY": "country", "C03_CURATTEND": "yes_no", "K03_REMITTANCE": "yes_no",
    **{f"A20_{d}": "difficulty" for d in ("DIFFSEEING", "DIFFHRING", "DIFFWALK", "DIFFREMEM", "DIFFSLFCARE",
                                          "DIFFCOMM")},
    "C02_HGCLEVEL": "psced_level", "C05_CURGRADELEVEL": "psced_level", "C04_CURSCH": "school_type",
    **{k: "yes_no" for k in ("C07_GRADTECH", "C08_TRNSKL", "L01_PREG", "L06_CPREG", "L08_LACTMOM",
                             "L10_TYZFDIED", "L15_DIS", "L33_TMSICK", "P01A_SSS", "P01B_GSIS", "P01C_OWWA",
                             "P01F_PAGIBIG", "P01G_PHLHEALTH", "P05A_REG4PS", "P05B_MOD4PS", "P05C_UCT",
                             "P05D_SOCPEN", "P05E_IMAP", "P05F_STUFAP", "P05G_SNRHIGH", "P05H_ESA",
                             "P05I_HOUSING", "P05J_HEALTH", "P05Z_OTHERS", "P05K_COMM", "P08_MEMFEEDNG",
                             "Q19_TSHARE", "R12_ELCTRCTY")},
    "Q03_WDRINK": "drinking_water", "Q14_TOILET": "toilet", "R03_ROOF": "roof", "R04_WALLS": "walls",
    "R06_MFLOOR": "floor", "R15_FUELCOOK": "cooking_fuel",
}


def wanted_items() -> set[str]:
    """Items the generator writes (``migdata.sample.dataset``) or the profile reads (its TOML)."""
    from migdata.sample import dataset

    prof = tomllib.loads(resources.files("migdata.profiles").joinpath("cbms_2022_hpq.toml")
                         .read_text(encoding="utf-8"))
    names = set(prof["reader"]["items"]) | set(dataset.GEO_ITEMS)
    for group in (dataset.PERSON_ITEMS, dataset.HOUSEHOLD_ITEMS, dataset.LIST_ITEMS):
        for items in group.values():
            names |= set(items)
    return names


def extract(dcf: str | Path) -> tuple[dict[str, str], list[dict[str, object]]]:
    """The dictionary settings and the layout rows (``FIELDS``) for ``dcf``."""
    d = read_dictionary(dcf)
    names = wanted_items()
    missing = names - {it.name for it in d.items()}
    if missing:
        raise SystemExit(f"{dcf} has no item(s) {', '.join(sorted(missing))}: is it the CBMS 2022 HPQ dictionary?")
    unlabelled = names - set(LABELS)
    if unlabelled:
        raise SystemExit(f"add a label to LABELS for {', '.join(sorted(unlabelled))}")
    settings = {"RecordTypeStart": str(d.record_type_start), "RecordTypeLen": str(d.record_type_len),
                "ZeroFill": "Yes" if d.zero_fill else "No", "DecimalChar": "Yes" if d.decimal_char else "No"}

    def row(rec, it) -> dict[str, object]:
        r = {k: "" for k in FIELDS}
        if rec is not None:
            r.update(record=rec.name, record_label=RECORD_LABELS.get(rec.name, rec.name),
                     type_value=rec.type_value, required="yes" if rec.required else "no",
                     max_records=rec.max_records, record_len=rec.length)
        if it is not None:
            r.update(item=it.name, label=LABELS[it.name], start=it.start, length=it.length,
                     data_type=it.data_type, decimals=it.decimals, zero_fill="yes" if it.zero_fill else "no",
                     value_set=VALUE_SETS.get(it.name, ""))
        return r

    rows = [row(None, it) for it in d.id_items]
    for rec in d.records:
        items = [it for it in rec.items if it.name in names]
        if not items and not rec.required:
            continue  # neither written nor read (the notes record)
        rows += [row(rec, it) for it in items] or [row(rec, None)]
    return settings, rows


def write(settings: dict[str, str], rows: list[dict[str, object]], out: Path = OUT) -> Path:
    with out.open("w", newline="", encoding="utf-8") as fh:
        fh.write("# CBMS 2022 HPQ layout subset used by migdata (generator and cbms_2022_hpq profile).\n"
                 "# Positions, lengths, record types and lengths are those of PSA's CBMS 2022 HPQ dictionary\n"
                 "# (HPQF2_DICT.dcf); labels and code lists are the project's own. Regenerate with\n"
                 "#   python -m migdata.sample.extract_layout ../shared/realdata/ph/cbms/HPQF2_DICT.dcf\n"
                 "# Rows without a record are the case-ID items; a record row without an item is a\n"
                 "# record written blank (type and case ID only).\n")
        for k, v in settings.items():
            fh.write(f"# {k}={v}\n")
        w = csv.DictWriter(fh, fieldnames=FIELDS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return out


def main(argv: list[str]) -> None:
    dcf = Path(argv[1]) if len(argv) > 1 else DEFAULT_DCF
    settings, rows = extract(dcf)
    out = write(settings, rows)
    print(f"wrote {sum(1 for r in rows if r['item'])} items of "
          f"{len({r['record'] for r in rows if r['record']})} records to {out}")


if __name__ == "__main__":
    main(sys.argv)
