"""Stream (ii): the CBMS migration rider (household identification, roster, CBMS 2022 Section B,
and the items CBMS lacks: return migrants, remittances received, OWWA membership).

Items that CBMS 2022 has keep the CBMS item NAME and CBMS CODES (A02_RELTOHHH, A05_SEX, A07_AGE,
A09_MSTAT, B01_MIG ... B10_PTSENDMNY) and the CBMS universes and skips (DOMAIN.md §2.2.4-2.2.5):
B01-B05 for members aged 5+, B06-B10 for 15+; B07-B08 only for B06 in {1, 2}; B09 for B06 in
1-6; B10 for B06 in {1, 2, 3, 4, 6}. Items CBMS lacks have lower-case names.

No names are collected: the roster is keyed by line number and the household by barangay PSGC +
household number (and, optionally, the CBMS case id for linking).
"""

from __future__ import annotations

from migdata.questionnaires.forms import common as c
from migdata.questionnaires.xlsform import end, q

SETTINGS = {
    "form_title": "CBMS migration rider",
    "form_id": "cbms_migration_rider",
    "version": "2026112301",
    "default_language": "English (en)",
}

AGE5 = "${A07_AGE} >= 5"
AGE15 = "${A07_AGE} >= 15"
OFW = "(${B06_OFI} = '1' or ${B06_OFI} = '2')"
YEAR_NOW = "int(format-date(today(), '%Y'))"


def _residence(item: str, ppmm: str, country: str, en: str, fil: str) -> list[dict]:
    """A CBMS residence item (1 same, 2 other PH city/mun with PPMM, 3 abroad with country, 4 DK)."""
    return [
        q("select_one cbms_residence", item, en, fil, required=True, relevant=AGE5),
        q("text", ppmm, "Province and city/municipality code (PPMM, 4 digits)",
          "Code ng lalawigan at lungsod/bayan (PPMM, 4 na numero)",
          hint=("Old PSGC: 2-digit province + 2-digit city/municipality; PP99 if only the province is known.",
                "Lumang PSGC: 2 numero ng lalawigan + 2 numero ng lungsod/bayan; PP99 kung lalawigan lamang ang alam."),
          required=True, relevant=f"${{{item}}} = '2'",
          constraint="regex(., '^[0-9]{4}$')",
          msg=("Enter exactly 4 digits (PPMM).", "Maglagay ng eksaktong 4 na numero (PPMM).")),
        q("select_one cbms_country", country, "Country", "Bansa", required=True,
          relevant=f"${{{item}}} = '3'", appearance="minimal"),
    ]


def _reason(item: str, other: str, residence: str, en: str, fil: str) -> list[dict]:
    moved = f"(${{{residence}}} = '2' or ${{{residence}}} = '3')"
    return [
        q("select_one cbms_move_reason", item, en, fil, required=True, relevant=moved),
        q("text", other, "Other reason, specify", "Ibang dahilan, tukuyin", required=True,
          relevant=f"${{{item}}} = '99'"),
    ]


SURVEY: list[dict] = [
    q("start", "start"),
    q("end", "end"),
    q("today", "today"),
    # Identification is recorded by the enumerator before the interview, so refusals keep an id.
    q("begin_group", "hh", "Household identification", "Pagkakakilanlan ng sambahayan"),
    q("text", "psgc", "Barangay PSGC code (10 digits)", "PSGC code ng barangay (10 numero)", required=True,
      constraint="regex(., '^[0-9]{10}$')",
      msg=("The PSGC code has exactly 10 digits (e.g. 0402103001).",
           "Ang PSGC code ay may eksaktong 10 numero (hal. 0402103001).")),
    q("integer", "hh_no", "Household number in the barangay listing", "Numero ng sambahayan sa listahan",
      required=True, constraint=". >= 1 and . <= 99999",
      msg=("Household number is 1-99999.", "Ang numero ng sambahayan ay 1-99999.")),
    q("text", "cbms_case_id", "CBMS case id, if known", "CBMS case id, kung alam",
      hint=("Region+province+city/mun+barangay+EA+building+housing unit+household serials (digits only).",
            "Mga numero lamang: rehiyon+lalawigan+lungsod/bayan+barangay+EA+gusali+housing unit+sambahayan."),
      constraint="regex(., '^[0-9]{9,30}$')",
      msg=("Digits only, 9 to 30 of them.", "Mga numero lamang, 9 hanggang 30.")),
    q("text", "enumerator", "Enumerator code", "Code ng enumerator"),
    end("group"),

    q("note", "privacy_note",
      "Data privacy: answers are confidential (RA 10625, RA 10173) and are used only for statistics and "
      "local planning. No names are recorded. Participation is voluntary.",
      "Pagkapribado ng datos: kumpidensiyal ang mga sagot (RA 10625, RA 10173) at gagamitin lamang para sa "
      "estadistika at lokal na pagpaplano. Walang pangalang itatala. Kusang-loob ang paglahok."),
    q("select_one yes_no", "consent", "Does the household agree to answer?",
      "Pumapayag ba ang sambahayan na sumagot?", required=True),

    q("integer", "hh_size", "How many members does the household have, including those abroad?",
      "Ilan ang miyembro ng sambahayan, kasama ang mga nasa ibang bansa?",
      hint=("Overseas Filipinos stay on the household roster (as in CBMS).",
            "Kasama sa listahan ang mga Pilipinong nasa ibang bansa (tulad sa CBMS)."),
      required=True, relevant="${consent} = '1'", constraint=". >= 1 and . <= 35",
      msg=("Between 1 and 35 members (the CBMS limit).", "Mula 1 hanggang 35 miyembro (hangganan ng CBMS).")),

    q("begin_repeat", "members", "Household members", "Mga miyembro ng sambahayan",
      relevant="${consent} = '1'", repeat_count="${hh_size}"),
    q("calculate", "line_no", calc="position(..)"),
    q("note", "member_note", "Member line ${line_no}", "Miyembro bilang ${line_no}"),
    q("select_one cbms_relationship", "A02_RELTOHHH", "Relationship to the household head",
      "Relasyon sa puno ng sambahayan", required=True,
      constraint="(position(..) = 1 and . = '1') or (position(..) > 1 and . != '1')",
      msg=("Line 1 is the household head, and only line 1.",
           "Ang bilang 1 ang puno ng sambahayan, at siya lamang.")),
    q("select_one cbms_sex", "A05_SEX", "Sex", "Kasarian", required=True),
    q("integer", "A07_AGE", "Age in completed years", "Edad (buong taon)", required=True,
      constraint=". >= 0 and . <= 120",
      msg=("Age must be 0-120.", "Ang edad ay dapat 0-120.")),
    q("select_one cbms_marital", "A09_MSTAT", "Marital status", "Katayuang sibil", required=True,
      relevant="${A07_AGE} >= 10"),

    *_residence("B01_MIG", "B01_PHILIPPINES1", "B01_COUNTRY1",
                "Where did the mother usually live when this member was born?",
                "Saan karaniwang nakatira ang ina nang ipanganak ang miyembrong ito?"),
    *_residence("B02_FYRSRESIDE", "B01_PHILIPPINES2", "B01_COUNTRY2",
                "Where did this member usually live five years ago?",
                "Saan karaniwang nakatira ang miyembrong ito limang taon na ang nakalipas?"),
    *_reason("B03_REASONFYRS", "B03A_REASONFYRSOS", "B02_FYRSRESIDE",
             "Main reason for moving (five years ago)", "Pangunahing dahilan ng paglipat (limang taon)"),
    *_residence("B04_SMOSRESIDE", "B01_PHILIPPINES4", "B01_COUNTRY4",
                "Where did this member usually live six months ago?",
                "Saan karaniwang nakatira ang miyembrong ito anim na buwan na ang nakalipas?"),
    *_reason("B05_REASONSMOS", "B05A_REASONFYRSOS", "B04_SMOSRESIDE",
             "Main reason for moving (six months ago)", "Pangunahing dahilan ng paglipat (anim na buwan)"),

    q("select_one cbms_ofi", "B06_OFI", "Is this member an overseas Filipino?",
      "Ang miyembro bang ito ay Pilipinong nasa ibang bansa (overseas Filipino)?",
      required=True, relevant=AGE15),
    q("select_one cbms_month", "B07_LEAVE_MONTH", "Month this member last left the Philippines",
      "Buwan ng huling pag-alis sa Pilipinas", required=True, relevant=OFW),
    q("integer", "B07_LEAVE_YR", "Year this member last left the Philippines (9998 = don't know)",
      "Taon ng huling pag-alis sa Pilipinas (9998 = hindi alam)", required=True, relevant=OFW,
      constraint=f"(. >= 1950 and . <= {YEAR_NOW}) or . = 9998",
      msg=("A year from 1950 to this year, or 9998 if not known.",
           "Taon mula 1950 hanggang ngayong taon, o 9998 kung hindi alam.")),
    q("integer", "B08_STAY", "How many months has this member been abroad? (98 = don't know)",
      "Ilang buwan nang nasa ibang bansa ang miyembrong ito? (98 = hindi alam)", required=True,
      relevant=OFW, constraint="(. >= 1 and . <= 60) or . = 98",
      msg=("1-60 months (the CBMS 2022 range), or 98 if not known.",
           "1-60 buwan (saklaw ng CBMS 2022), o 98 kung hindi alam.")),
    q("select_one cbms_country", "B09_COUNTRY", "Country of work, study or visit",
      "Bansa ng trabaho, pag-aaral o pagbisita", required=True, appearance="minimal",
      relevant="${B06_OFI} != '' and ${B06_OFI} != '7'"),
    q("integer", "B10_PTSENDMNY", "How many times did this member send money? (98 = don't know)",
      "Ilang beses nagpadala ng pera ang miyembrong ito? (98 = hindi alam)", required=True,
      relevant="${B06_OFI} = '1' or ${B06_OFI} = '2' or ${B06_OFI} = '3' or ${B06_OFI} = '4' "
               "or ${B06_OFI} = '6'",
      constraint="(. >= 0 and . <= 48) or . = 98",
      msg=("0-48 times, or 98 if not known.", "0-48 beses, o 98 kung hindi alam.")),

    # Rider items CBMS lacks (DOMAIN.md §0 point 4).
    q("select_one yes_no", "ret_abroad",
      "In the past 5 years, did this member come back to live in the Philippines after living or working "
      "abroad for 6 months or more?",
      "Sa nakaraang 5 taon, bumalik ba ang miyembrong ito para manirahan sa Pilipinas matapos tumira o "
      "magtrabaho sa ibang bansa nang 6 na buwan o higit pa?",
      required=True, relevant=f"{AGE15} and ${{B06_OFI}} = '7'"),
    q("integer", "ret_year", "Year of return", "Taon ng pagbalik", required=True,
      relevant="${ret_abroad} = '1'",
      constraint=f". >= {YEAR_NOW} - 5 and . <= {YEAR_NOW}",
      msg=("The return must be within the past 5 years.", "Ang pagbalik ay dapat sa loob ng nakaraang 5 taon.")),
    q("select_one cbms_country", "ret_country", "Country returned from", "Bansang pinanggalingan",
      required=True, relevant="${ret_abroad} = '1'", appearance="minimal"),
    q("select_one return_reason", "ret_reason", "Main reason for returning", "Pangunahing dahilan ng pagbalik",
      required=True, relevant="${ret_abroad} = '1'"),
    q("text", "ret_reason_other", "Other reason, specify", "Ibang dahilan, tukuyin", required=True,
      relevant="${ret_reason} = '99'"),
    q("select_one intend_leave", "ret_intend", "Does this member intend to go abroad again?",
      "May balak bang umalis muli papuntang ibang bansa ang miyembrong ito?", required=True,
      relevant="${ret_abroad} = '1'"),
    # Labour-force status of return migrants (EM03), with the CBMS 2022 Section E items and codes
    # that the CBMS profile uses for lf_status (CBMS asks them of every member 5+; the rider only
    # of return migrants).
    q("select_one yes_no", "E01_WORK", "During the past week, did this member do any work for at least one hour?",
      "Noong nakaraang linggo, nagtrabaho ba ang miyembrong ito nang kahit isang oras?",
      required=True, relevant="${ret_abroad} = '1'"),
    q("select_one cbms_jobbus", "E03_JOBBUS",
      "Although not working, did this member have a job or business during the past week?",
      "Kahit hindi nagtrabaho, may trabaho o negosyo ba ang miyembrong ito noong nakaraang linggo?",
      required=True, relevant="${E01_WORK} = '2'"),
    q("select_one yes_no", "E25_PWLOOKEST",
      "During the past week, did this member look for work or try to establish a business?",
      "Noong nakaraang linggo, naghanap ba ng trabaho o sinubukang magtayo ng negosyo ang miyembrong ito?",
      required=True, relevant="${E01_WORK} = '2' and ${E03_JOBBUS} != '1' and ${E03_JOBBUS} != ''"),
    q("select_one yes_no", "E32_WILLINGTOWORK",
      "Was this member willing to take up work during the past week or within two weeks?",
      "Handa bang magtrabaho ang miyembrong ito noong nakaraang linggo o sa loob ng dalawang linggo?",
      required=True, relevant="${E01_WORK} = '2' and ${E03_JOBBUS} != '1' and ${E03_JOBBUS} != ''"),
    q("select_one yes_no_dk", "owwa", "Is this member an active OWWA member?",
      "Aktibong miyembro ba ng OWWA ang miyembrong ito?", required=True,
      relevant="${B06_OFI} = '1' or ${B06_OFI} = '2' or ${B06_OFI} = '3' or ${ret_abroad} = '1'"),
    end("repeat"),

    q("begin_group", "remit", "Money received from abroad", "Perang natanggap mula sa ibang bansa",
      relevant="${consent} = '1'"),
    q("select_one yes_no", "rem_received",
      "In the past 12 months, did the household receive money from members, relatives or others abroad?",
      "Sa nakaraang 12 buwan, nakatanggap ba ang sambahayan ng pera mula sa mga miyembro, kamag-anak o "
      "iba pang nasa ibang bansa?", required=True),
    q("decimal", "rem_amount", "Total amount received in the past 12 months (PHP)",
      "Kabuuang halagang natanggap sa nakaraang 12 buwan (PHP)", required=True,
      relevant="${rem_received} = '1'", constraint=". > 0 and . < 100000000",
      msg=("Enter an amount in pesos above 0 and below 100 million.",
           "Maglagay ng halaga sa piso na higit sa 0 at mas mababa sa 100 milyon.")),
    q("select_one remit_frequency", "rem_freq", "How often was money received?",
      "Gaano kadalas nakatanggap ng pera?", required=True, relevant="${rem_received} = '1'"),
    q("select_one remit_channel", "rem_channel", "Usual way the money was received",
      "Karaniwang paraan ng pagtanggap ng pera", required=True, relevant="${rem_received} = '1'"),
    q("text", "rem_channel_other", "Other channel, specify", "Ibang paraan, tukuyin", required=True,
      relevant="${rem_channel} = '9'"),
    q("select_one yes_no_pna", "has_account",
      "Does any household member have an account with a bank, digital bank, e-money/e-wallet, "
      "cooperative or microfinance institution?",
      "May miyembro ba ng sambahayan na may account sa bangko, digital bank, e-money/e-wallet, "
      "kooperatiba o microfinance?",
      hint=("Summary of CBMS 2022 K01A-K01Z (same codes: 9 = prefers not to answer).",
            "Buod ng K01A-K01Z ng CBMS 2022 (parehong code: 9 = ayaw sumagot)."),
      required=True),
    q("select_one yes_no", "K03_REMITTANCE", "Is any of these accounts used to receive remittances?",
      "Ginagamit ba ang alinman sa mga account na ito sa pagtanggap ng padala?", required=True,
      relevant="${has_account} = '1'"),
    q("select_multiple remit_use", "rem_uses", "What was the money mainly used for? (all that apply)",
      "Saan pangunahing ginamit ang pera? (lahat ng angkop)", required=True,
      relevant="${rem_received} = '1'"),
    end("group"),
]

CHOICES: dict[str, list[c.Choice]] = {
    "yes_no": c.YES_NO,
    "yes_no_dk": c.YES_NO_DK,
    "yes_no_pna": c.YES_NO + [("9", "Prefers not to answer", "Ayaw sumagot")],
    "cbms_sex": c.CBMS_SEX,
    "cbms_relationship": c.CBMS_RELATIONSHIP,
    "cbms_marital": c.CBMS_MARITAL,
    "cbms_residence": c.CBMS_RESIDENCE,
    "cbms_move_reason": c.CBMS_MOVE_REASON,
    "cbms_ofi": c.CBMS_OFI,
    "cbms_month": c.CBMS_MONTH,
    "cbms_country": c.CBMS_COUNTRY,
    "cbms_jobbus": c.YES_NO + [("3", "No, temporarily", "Hindi, pansamantala")],
    "return_reason": [
        ("1", "Contract ended", "Natapos ang kontrata"),
        ("2", "Lost job or was terminated", "Nawalan ng trabaho o tinanggal"),
        ("3", "Family reasons", "Dahilang pampamilya"),
        ("4", "Health", "Kalusugan"),
        ("5", "Retirement", "Pagretiro"),
        ("6", "Crisis, war or disaster in the host country (repatriation)",
         "Krisis, digmaan o sakuna sa bansang pinagtrabahuhan (repatriation)"),
        ("7", "COVID-19", "COVID-19"),
        ("8", "Abuse or maltreatment by employer", "Pang-aabuso o pagmamaltrato ng employer"),
        ("9", "To start a business or work in the Philippines", "Para magnegosyo o magtrabaho sa Pilipinas"),
        ("99", "Other", "Iba pa"),
    ],
    "intend_leave": [
        ("1", "Yes, within the next 12 months", "Oo, sa loob ng susunod na 12 buwan"),
        ("2", "Yes, later", "Oo, sa ibang panahon"),
        ("3", "No", "Hindi"),
        ("8", "Undecided", "Hindi pa nakapagpasya"),
    ],
    "remit_frequency": c.REMIT_FREQUENCY,
    "remit_channel": c.REMIT_CHANNEL,
    "remit_use": c.REMIT_USE,
}

# Hints for migdata.questionnaires.submissions.fake_submissions (plausible values; the rules of
# the form are enforced separately). The sample-data generator writes rider exports from its own
# synthetic CBMS population instead; these hints only make stand-alone fakes look reasonable.
FAKE: dict[str, dict] = {
    "consent": {"choices": {"1": 97, "2": 3}},
    "psgc": {"psgc": True},
    "hh_size": {"int": (1, 8)},
    "cbms_case_id": {"p": 0.0},
    "enumerator": {"text": ["E01", "E02", "E03", "E04"], "p": 0.9},
    "A02_RELTOHHH": {"choices": {"1": 1, "2": 12, "3": 20, "4": 20, "9": 5, "10": 5, "12": 2, "15": 2,
                                 "16": 2, "23": 2, "25": 1}},
    "A05_SEX": {"choices": {"1": 50, "2": 50}},
    "A07_AGE": {"int": (0, 80)},
    "A09_MSTAT": {"choices": {"1": 45, "2": 35, "3": 10, "4": 6, "6": 4}},
    "B01_MIG": {"choices": {"1": 70, "2": 28, "3": 1, "4": 1}},
    "B02_FYRSRESIDE": {"choices": {"1": 92, "2": 7, "3": 0.7, "4": 0.3}},
    "B04_SMOSRESIDE": {"choices": {"1": 98, "2": 1.6, "3": 0.3, "4": 0.1}},
    "B01_PHILIPPINES1": {"text": ["1005", "2103", "3405", "5647", "5801", "3904", "1380"]},
    "B01_PHILIPPINES2": {"text": ["1005", "2103", "3405", "5647", "5801", "3904", "1380"]},
    "B01_PHILIPPINES4": {"text": ["1005", "2103", "3405", "5647", "5801", "3904", "1380"]},
    "B06_OFI": {"choices": {"1": 3.0, "2": 0.3, "3": 0.05, "4": 0.2, "5": 0.2, "6": 0.2, "7": 96}},
    "B07_LEAVE_YR": {"int": (2020, 2026)},
    "B08_STAY": {"int": (1, 60)},
    "B09_COUNTRY": {"choices": {"9201": 24, "9240": 16, "9104": 8, "9125": 6, "9185": 6, "9207": 6,
                                "9224": 5, "9116": 4, "9243": 4, "9039": 3, "9114": 2, "9139": 2,
                                "9123": 2}},
    "B10_PTSENDMNY": {"int": (0, 24)},
    "ret_abroad": {"choices": {"1": 2, "2": 98}},
    "ret_country": {"choices": {"9201": 30, "9240": 20, "9104": 10, "9125": 10, "9185": 10, "9207": 10,
                                "9224": 10}},
    "E01_WORK": {"choices": {"1": 55, "2": 45}},
    "E03_JOBBUS": {"choices": {"1": 10, "2": 85, "3": 5}},
    "E25_PWLOOKEST": {"choices": {"1": 40, "2": 60}},
    "E32_WILLINGTOWORK": {"choices": {"1": 70, "2": 30}},
    "rem_received": {"choices": {"1": 12, "2": 88}},
    "has_account": {"choices": {"1": 55, "2": 43, "9": 2}},
    "K03_REMITTANCE": {"choices": {"1": 20, "2": 80}},
    "rem_amount": {"num": (120000, 0.6, 2000, 5000000), "round": 500},
    "rem_uses": {"choices": {"food": 9, "education": 6, "health": 4, "housing": 3, "debt": 3,
                             "savings": 3, "business": 1, "land": 0.5, "occasions": 1, "other": 0.5},
                 "k": (1, 4)},
}
