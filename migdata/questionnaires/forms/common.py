"""Choice lists shared by the three questionnaires.

Lists named ``cbms_*`` carry the PSA CBMS 2022 Household Profile Questionnaire codes unchanged
(HPQF2_DICT.dcf value sets; DOMAIN.md §2.2.3-2.2.4): a rider answer is then the same code a CBMS
file would hold, and one profile mapping serves both. ``tests/test_questionnaires.py`` re-reads
the value sets from the dictionary and checks that the codes are equal.

Filipino labels are the project's own translation; a native-speaker review against the PSA
enumerator manual's Filipino terms is still due (see ``questionnaires/README.md``).
"""

from __future__ import annotations

import csv
from importlib import resources

from migdata.questionnaires.xlsform import q

Choice = tuple[str, str, str]  # (code, English label, Filipino label)


def _countries() -> list[Choice]:
    # the one CBMS country list of the package (the profile's ISO3 crosswalk holds the labels too)
    text = resources.files("migdata.profiles").joinpath("cbms_countries.csv").read_text(encoding="utf-8")
    out = []
    for r in csv.DictReader(text.splitlines()):
        fil = "Hindi alam" if r["cbms_code"] == "9997" else r["label"]
        out.append((r["cbms_code"], r["label"], fil))
    return out


YES_NO: list[Choice] = [("1", "Yes", "Oo"), ("2", "No", "Hindi")]
YES_NO_DK: list[Choice] = YES_NO + [("8", "Don't know", "Hindi alam")]

# A05_SEX
CBMS_SEX: list[Choice] = [("1", "Male", "Lalaki"), ("2", "Female", "Babae")]

# A02_RELTOHHH (1-26)
CBMS_RELATIONSHIP: list[Choice] = [
    ("1", "Head", "Puno ng sambahayan"),
    ("2", "Spouse", "Asawa"),
    ("3", "Son", "Anak na lalaki"),
    ("4", "Daughter", "Anak na babae"),
    ("5", "Stepson", "Anak-anakang lalaki (anak ng asawa)"),
    ("6", "Stepdaughter", "Anak-anakang babae (anak ng asawa)"),
    ("7", "Son-in-law", "Manugang na lalaki"),
    ("8", "Daughter-in-law", "Manugang na babae"),
    ("9", "Grandson", "Apo na lalaki"),
    ("10", "Granddaughter", "Apo na babae"),
    ("11", "Father", "Ama"),
    ("12", "Mother", "Ina"),
    ("13", "Father-in-law", "Biyenang lalaki"),
    ("14", "Mother-in-law", "Biyenang babae"),
    ("15", "Brother", "Kapatid na lalaki"),
    ("16", "Sister", "Kapatid na babae"),
    ("17", "Brother-in-law", "Bayaw"),
    ("18", "Sister-in-law", "Hipag"),
    ("19", "Uncle", "Tiyo"),
    ("20", "Aunt", "Tiya"),
    ("21", "Nephew", "Pamangking lalaki"),
    ("22", "Niece", "Pamangking babae"),
    ("23", "Other relative", "Ibang kamag-anak"),
    ("24", "Boarder", "Boarder / nangungupahan"),
    ("25", "Domestic helper", "Kasambahay"),
    ("26", "Non-relative", "Hindi kamag-anak"),
]

# A09_MSTAT (1-8)
CBMS_MARITAL: list[Choice] = [
    ("1", "Single", "Walang asawa"),
    ("2", "Married", "May asawa (kasal)"),
    ("3", "Common-law/live-in", "Nagsasama nang hindi kasal (live-in)"),
    ("4", "Widowed", "Balo"),
    ("5", "Divorced", "Diborsiyado"),
    ("6", "Separated", "Hiwalay"),
    ("7", "Annulled", "Napawalang-bisa ang kasal (annulled)"),
    ("8", "Unknown", "Hindi alam"),
]

# B01_MIG / B02_FYRSRESIDE / B04_SMOSRESIDE (1-4)
CBMS_RESIDENCE: list[Choice] = [
    ("1", "Same as current city/municipality", "Pareho ng kasalukuyang lungsod/bayan"),
    ("2", "Other city/municipality in the Philippines", "Ibang lungsod/bayan sa Pilipinas"),
    ("3", "Outside the Philippines", "Sa labas ng Pilipinas"),
    ("4", "Don't know", "Hindi alam"),
]

# B03_REASONFYRS / B05_REASONSMOS (1-18, 99)
CBMS_MOVE_REASON: list[Choice] = [
    ("1", "School", "Pag-aaral"),
    ("2", "Employment/job change/job relocation", "Trabaho / paglipat o pagbabago ng trabaho"),
    ("3", "Family business succession", "Pagpapatuloy ng negosyo ng pamilya"),
    ("4", "Finished contract", "Natapos ang kontrata"),
    ("5", "Retirement", "Pagretiro"),
    ("6", "Housing-related reason", "Dahil sa pabahay"),
    ("7", "Living environment", "Kapaligiran ng tirahan"),
    ("8", "Commuting-related reasons", "Dahil sa pagbiyahe papasok"),
    ("9", "To live with parents", "Para tumira kasama ang mga magulang"),
    ("10", "To join spouse/partner", "Para sumama sa asawa/kapareha"),
    ("11", "To live with children", "Para tumira kasama ang mga anak"),
    ("12", "Marriage", "Pag-aasawa"),
    ("13", "Divorce/annulment", "Diborsiyo/annulment"),
    ("14", "Health-related reasons", "Dahil sa kalusugan"),
    ("15", "Peace and security", "Kapayapaan at seguridad"),
    ("16", "COVID-related reasons", "Dahil sa COVID-19"),
    ("17", "To live with other relatives", "Para tumira kasama ang ibang kamag-anak"),
    ("18", "Birthplace", "Lugar ng kapanganakan"),
    ("99", "Others, specify", "Iba pa, tukuyin"),
]

# B06_OFI (1-7)
CBMS_OFI: list[Choice] = [
    ("1", "Yes, overseas Filipino worker (OFW) with contract", "Oo, OFW na may kontrata"),
    ("2", "Yes, other OFW with no contract", "Oo, ibang OFW na walang kontrata"),
    ("3", "Yes, employee in Philippine embassy, consulate or other mission",
     "Oo, empleyado ng embahada, konsulado o ibang misyon ng Pilipinas"),
    ("4", "Yes, student abroad", "Oo, nag-aaral sa ibang bansa"),
    ("5", "Yes, tourist", "Oo, turista"),
    ("6", "Yes, other overseas Filipino not elsewhere classified", "Oo, ibang Pilipino sa ibang bansa"),
    ("7", "No, resident (Philippines)", "Hindi, naninirahan sa Pilipinas"),
]

# B07_LEAVE_MONTH (1-12, 98)
CBMS_MONTH: list[Choice] = [
    ("1", "January", "Enero"), ("2", "February", "Pebrero"), ("3", "March", "Marso"),
    ("4", "April", "Abril"), ("5", "May", "Mayo"), ("6", "June", "Hunyo"),
    ("7", "July", "Hulyo"), ("8", "August", "Agosto"), ("9", "September", "Setyembre"),
    ("10", "October", "Oktubre"), ("11", "November", "Nobyembre"), ("12", "December", "Disyembre"),
    ("98", "Don't know", "Hindi alam"),
]

# B09_COUNTRY, B01_COUNTRY1/2/4 (9001-9256 alphabetical, 9997 don't know)
CBMS_COUNTRY: list[Choice] = _countries()

# Usual channel of money received from abroad: SOF Q21/RQ26 modes (1-4) plus channels the SOF
# folds into "others" (money-transfer companies, e-wallets). Mapped onto the canonical
# ``remittance_channel`` code list by the profiles.
REMIT_CHANNEL: list[Choice] = [
    ("1", "Bank", "Bangko"),
    ("2", "Agency/local office", "Ahensiya/lokal na opisina"),
    ("3", "Friends/co-workers", "Kaibigan/katrabaho"),
    ("4", "Door-to-door", "Door-to-door"),
    ("5", "Money-transfer company / remittance centre", "Remittance center / padala"),
    ("6", "E-wallet or mobile money (e.g. GCash, Maya)", "E-wallet o mobile money (hal. GCash, Maya)"),
    ("9", "Other", "Iba pa"),
]

REMIT_FREQUENCY: list[Choice] = [
    ("1", "Monthly or more often", "Buwan-buwan o mas madalas"),
    ("2", "Every 2-3 months", "Tuwing 2-3 buwan"),
    ("3", "2-3 times a year", "2-3 beses sa isang taon"),
    ("4", "Once a year", "Minsan sa isang taon"),
    ("5", "Irregularly / only when needed", "Paminsan-minsan / kapag kailangan lamang"),
]

REMIT_USE: list[Choice] = [
    ("food", "Food and daily needs", "Pagkain at pang-araw-araw na pangangailangan"),
    ("education", "Education", "Pag-aaral"),
    ("health", "Health and medicine", "Kalusugan at gamot"),
    ("housing", "House construction, repair or rent", "Pagpapatayo, pagpapaayos o upa ng bahay"),
    ("debt", "Paying debts", "Pagbabayad ng utang"),
    ("savings", "Savings", "Ipon"),
    ("business", "Business or investment", "Negosyo o puhunan"),
    ("land", "Buying land or property", "Pagbili ng lupa o ari-arian"),
    ("occasions", "Celebrations and special occasions", "Handaan at espesyal na okasyon"),
    ("other", "Other", "Iba pa"),
]

# PSOC 2012 major groups (DOMAIN.md §4.5)
PSOC_MAJOR: list[Choice] = [
    ("1", "Managers", "Mga tagapamahala"),
    ("2", "Professionals", "Mga propesyonal"),
    ("3", "Technicians and associate professionals", "Mga technician at katuwang na propesyonal"),
    ("4", "Clerical support workers", "Mga klerk"),
    ("5", "Service and sales workers", "Mga manggagawa sa serbisyo at pagbebenta"),
    ("6", "Skilled agricultural, forestry and fishery workers",
     "Mga bihasang manggagawa sa agrikultura, kagubatan at pangingisda"),
    ("7", "Craft and related trades workers", "Mga manggagawa sa craft at kaugnay na hanapbuhay"),
    ("8", "Plant and machine operators, and assemblers", "Mga operator ng planta at makina, at assembler"),
    ("9", "Elementary occupations", "Mga elementaryang hanapbuhay (hal. kasambahay, tagalinis)"),
    ("0", "Armed forces occupations", "Sandatahang lakas"),
]

# PSIC 2009 sections (industry of work abroad or of a business)
PSIC_SECTION: list[Choice] = [
    ("A", "Agriculture, forestry and fishing", "Agrikultura, kagubatan at pangingisda"),
    ("B", "Mining and quarrying", "Pagmimina at pag-quarry"),
    ("C", "Manufacturing", "Pagmamanupaktura"),
    ("D", "Electricity, gas, steam and air-conditioning supply", "Kuryente, gas, singaw at air-conditioning"),
    ("E", "Water supply, sewerage, waste management", "Tubig, alkantarilya at basura"),
    ("F", "Construction", "Konstruksiyon"),
    ("G", "Wholesale and retail trade; repair of vehicles", "Pakyawan at tingiang kalakalan; pagkukumpuni ng sasakyan"),
    ("H", "Transportation and storage (incl. shipping)", "Transportasyon at imbakan (kasama ang barko)"),
    ("I", "Accommodation and food service", "Akomodasyon at serbisyo ng pagkain"),
    ("J", "Information and communication", "Impormasyon at komunikasyon"),
    ("K", "Financial and insurance activities", "Pananalapi at seguro"),
    ("L", "Real estate activities", "Real estate"),
    ("M", "Professional, scientific and technical activities", "Propesyonal, siyentipiko at teknikal"),
    ("N", "Administrative and support services", "Administratibo at suportang serbisyo"),
    ("O", "Public administration and defence", "Pampublikong administrasyon at depensa"),
    ("P", "Education", "Edukasyon"),
    ("Q", "Human health and social work", "Kalusugan at gawaing panlipunan"),
    ("R", "Arts, entertainment and recreation", "Sining, libangan at rekreasyon"),
    ("S", "Other service activities", "Iba pang serbisyo"),
    ("T", "Activities of households as employers (domestic work)",
     "Gawain ng sambahayan bilang employer (kasambahay)"),
    ("U", "Extraterritorial organizations", "Mga organisasyong ekstrateritoryal"),
]


def sample_list_items() -> list[dict]:
    """The rows that copy a unit's selection probability and frame count from the sample list.

    One definition for every survey drawn from the CBMS frame (``migdata draw`` writes the list),
    so the design weight ``sample_weight = 1 / sample_pi`` is computed the same way in each form.
    They follow the form's own ``sample_stratum`` row, which each form words for its unit.
    """
    return [
        q("decimal", "sample_pi", "Selection probability (from the sample list)",
          "Probabilidad ng pagkakapili (mula sa listahan)", relevant="${sample_stratum} != ''",
          required=True, constraint=". > 0 and . <= 1",
          msg=("A probability above 0 and at most 1.", "Probabilidad na higit sa 0 at hanggang 1.")),
        q("integer", "sample_frame_n", "Units of the stratum in the frame (from the sample list)",
          "Bilang ng yunit ng stratum sa frame (mula sa listahan)", relevant="${sample_stratum} != ''",
          required=True, constraint=". >= 1", msg=("At least 1.", "Hindi bababa sa 1.")),
        q("calculate", "sample_weight", calc="1 div ${sample_pi}", relevant="${sample_pi} > 0"),
    ]
