"""Stream (iv): survey of children left behind (CLB) by migrant parents, with their caregiver.

Consent of the parent/caregiver and assent of the child (aged 7+) come FIRST; every later block
is relevant only when consent is given and the child assents (or is under 7, when the caregiver
answers alone). Topics follow DOMAIN.md §2.4: the child, the parent(s) abroad, care, contact,
remittances for schooling, schooling (enrolment, attendance, repetition, general average),
well-being, and referral flags with the referral protocol written into the form.

Well-being uses six SHORT ORIGINAL items written for this project (not a licensed scale). The
Strengths and Difficulties Questionnaire (SDQ), used by CHAMPSEA, is licensed by Youthinmind: it
is named here only as an OPTIONAL MODULE that a team may add with permission and the official
Filipino version; migdata does not ship it.

When the children were drawn from the CBMS frame (``migdata.survey.draw``), the enumerator copies
the child's stratum, selection probability and the frame count of the stratum from the field
team's sample list (in the household group, after consent and assent: nothing is recorded before
them); ``sample_weight`` (1 / probability) is computed by the form. ``father_line_no`` and
``mother_line_no`` name the parents abroad on the CBMS roster, as ``child_line_no`` names the child.
"""

from __future__ import annotations

from migdata.questionnaires.forms import common as c
from migdata.questionnaires.xlsform import end, q

SETTINGS = {
    "form_title": "Survey of children left behind",
    "form_id": "children_left_behind_survey",
    "version": "2026112301",
    "default_language": "English (en)",
}

YEAR_NOW = "int(format-date(today(), '%Y'))"
GO = "${consent} = '1' and (${assent} = '1' or ${assent} = '3')"
FATHER = "(${parent_abroad} = '1' or ${parent_abroad} = '3')"
MOTHER = "(${parent_abroad} = '2' or ${parent_abroad} = '3')"
WB_ITEMS = [
    ("wb_happy", "I feel happy.", "Masaya ako.", False),
    ("wb_lonely", "I feel lonely.", "Nalulungkot ako nang mag-isa.", True),
    ("wb_worry", "I worry about my parent who is abroad.", "Nag-aalala ako sa magulang kong nasa ibang bansa.", True),
    ("wb_talk", "I have someone I can talk to when I have a problem.",
     "May makakausap ako kapag may problema ako.", False),
    ("wb_school", "I enjoy going to school.", "Gusto kong pumasok sa paaralan.", False),
    ("wb_fights", "I get into fights or quarrels.", "Nakikipag-away o nakikipagtalo ako.", True),
]


def _wb(name: str, en: str, fil: str) -> dict:
    return q("select_one frequency4", name, en, fil, required=True)


def _score() -> str:
    # Positive items score 1-4 as answered; negative items are reversed (5 - answer): 6-24, higher = better.
    parts = [f"(5 - ${{{n}}})" if neg else f"${{{n}}}" for n, _, _, neg in WB_ITEMS]
    return " + ".join(parts)


SURVEY: list[dict] = [
    q("start", "start"),
    q("end", "end"),
    q("today", "today"),
    q("note", "consent_info",
      "Read to the parent or caregiver: we are asking families with a parent working or living abroad about "
      "their children's care, schooling and well-being. Answers are confidential, no names are recorded, and "
      "you may stop at any time. If we learn that a child may be at risk, we will tell you and offer help "
      "from the local social welfare office.",
      "Basahin sa magulang o tagapag-alaga: nagtatanong kami sa mga pamilyang may magulang na nagtatrabaho o "
      "nakatira sa ibang bansa tungkol sa pag-aalaga, pag-aaral at kapakanan ng mga bata. Kumpidensiyal ang "
      "mga sagot, walang pangalang itatala, at maaari kayong tumigil anumang oras. Kung malaman naming "
      "maaaring nasa panganib ang bata, sasabihin namin ito sa inyo at mag-aalok ng tulong mula sa lokal na "
      "tanggapan ng social welfare."),
    q("select_one yes_no", "consent", "Does the parent or caregiver give consent?",
      "Pumapayag ba ang magulang o tagapag-alaga?", required=True),
    q("select_one assent", "assent",
      "Read to the child (7 and over) in simple words, then ask: do you agree to answer some questions?",
      "Basahin sa bata (7 pataas) sa simpleng salita, saka itanong: pumapayag ka bang sumagot ng ilang tanong?",
      required=True, relevant="${consent} = '1'"),
    q("note", "stop_note", "Thank the family and end the interview.", "Pasalamatan ang pamilya at tapusin ang panayam.",
      relevant="${consent} = '2' or ${assent} = '2'"),

    q("begin_group", "link", "Household", "Sambahayan", relevant=GO),
    q("text", "psgc", "Barangay PSGC code (10 digits)", "PSGC code ng barangay (10 numero)", required=True,
      constraint="regex(., '^[0-9]{10}$')",
      msg=("The PSGC code has exactly 10 digits.", "Ang PSGC code ay may eksaktong 10 numero.")),
    q("text", "cbms_case_id", "CBMS case id of the child's household, if known",
      "CBMS case id ng sambahayan ng bata, kung alam",
      constraint="regex(., '^[0-9]{9,30}$')",
      msg=("Digits only, 9 to 30 of them.", "Mga numero lamang, 9 hanggang 30.")),
    q("integer", "child_line_no", "Line number of the child in the CBMS household roster",
      "Bilang ng bata sa listahan ng sambahayan sa CBMS", required=True,
      relevant="${cbms_case_id} != ''", constraint=". >= 1 and . <= 35",
      msg=("Line numbers are 1-35.", "Ang bilang ay 1-35.")),
    q("select_one caregiver_rel", "respondent_rel", "Relationship of the adult respondent to the child",
      "Relasyon ng sumasagot na nakatatanda sa bata", required=True),
    q("text", "sample_stratum", "Stratum (from the sample list; blank if the child was not drawn from it)",
      "Stratum (mula sa listahan ng sample; blangko kung hindi napili mula rito)"),
    *c.sample_list_items(),
    end("group"),

    q("begin_group", "child", "The child", "Ang bata", relevant=GO),
    q("select_one cbms_sex", "child_sex", "Sex of the child", "Kasarian ng bata", required=True),
    q("integer", "child_age", "Age of the child in completed years", "Edad ng bata (buong taon)", required=True,
      constraint=". >= 0 and . <= 17 and not(${assent} = '3' and . >= 7) and not(${assent} = '1' and . < 7)",
      msg=("Age 0-17; children 7+ give their own assent, under 7 are 'not applicable'.",
           "Edad 0-17; ang batang 7 pataas ay nagbibigay ng sariling pahintulot, ang wala pang 7 ay 'hindi angkop'.")),
    q("select_one grade", "child_grade", "Grade or level the child is in (this school year)",
      "Baitang o antas ng bata (ngayong taong-aralan)", required=True,
      constraint=". = '0' or . = 'als' or (. = 'k' and ${child_age} >= 3 and ${child_age} <= 7) "
                 "or (. = 'college' and ${child_age} >= 15) "
                 "or (number(.) >= 1 and ${child_age} >= number(.) + 4 and ${child_age} <= number(.) + 10)",
      msg=("This grade is unusual for the child's age; check the age and the grade.",
           "Hindi karaniwan ang baitang na ito sa edad ng bata; suriin ang edad at baitang.")),
    end("group"),

    q("begin_group", "parents", "Parent(s) abroad", "Magulang na nasa ibang bansa", relevant=GO),
    q("select_one parent_abroad", "parent_abroad", "Which parent is abroad?", "Sinong magulang ang nasa ibang bansa?",
      required=True),
    q("integer", "father_line_no", "Line number of the father in the CBMS household roster, if listed",
      "Bilang ng ama sa listahan ng sambahayan sa CBMS, kung nakalista",
      relevant=f"${{cbms_case_id}} != '' and {FATHER}", constraint=". >= 1 and . <= 35",
      msg=("Line numbers are 1-35.", "Ang bilang ay 1-35.")),
    q("integer", "mother_line_no", "Line number of the mother in the CBMS household roster, if listed",
      "Bilang ng ina sa listahan ng sambahayan sa CBMS, kung nakalista",
      relevant=f"${{cbms_case_id}} != '' and {MOTHER}", constraint=". >= 1 and . <= 35",
      msg=("Line numbers are 1-35.", "Ang bilang ay 1-35.")),
    q("integer", "father_since", "Year the father last left for abroad", "Taon ng huling pag-alis ng ama",
      required=True, relevant=FATHER, constraint=f". >= 1990 and . <= {YEAR_NOW}",
      msg=("A year from 1990 to this year.", "Taon mula 1990 hanggang ngayong taon.")),
    q("select_one cbms_country", "father_country", "Country where the father is", "Bansa kung nasaan ang ama",
      required=True, relevant=FATHER, appearance="minimal"),
    q("integer", "mother_since", "Year the mother last left for abroad", "Taon ng huling pag-alis ng ina",
      required=True, relevant=MOTHER, constraint=f". >= 1990 and . <= {YEAR_NOW}",
      msg=("A year from 1990 to this year.", "Taon mula 1990 hanggang ngayong taon.")),
    q("select_one cbms_country", "mother_country", "Country where the mother is", "Bansa kung nasaan ang ina",
      required=True, relevant=MOTHER, appearance="minimal"),
    q("integer", "months_apart", "In the past 12 months, how many months has the child lived apart from the "
      "parent(s) abroad?",
      "Sa nakaraang 12 buwan, ilang buwan nang hiwalay ang bata sa magulang na nasa ibang bansa?",
      required=True, constraint=". >= 0 and . <= 12", msg=("0-12 months.", "0-12 buwan.")),
    end("group"),

    q("begin_group", "care", "Care and contact", "Pag-aalaga at komunikasyon", relevant=GO),
    q("select_one caregiver_rel", "caregiver", "Who mainly takes care of the child?",
      "Sino ang pangunahing nag-aalaga sa bata?", required=True),
    q("select_one contact_freq", "contact_freq", "How often does the child talk with the parent abroad?",
      "Gaano kadalas nakakausap ng bata ang magulang na nasa ibang bansa?", required=True),
    q("select_multiple contact_mode", "contact_mode", "How do they keep in touch? (all that apply)",
      "Paano sila nag-uusap? (lahat ng angkop)", required=True, relevant="${contact_freq} != '6'"),
    q("select_one yes_no_dk", "remit_school",
      "Is money sent by the parent abroad used for the child's schooling?",
      "Ginagamit ba sa pag-aaral ng bata ang perang padala ng magulang?", required=True),
    end("group"),

    q("begin_group", "school", "Schooling", "Pag-aaral", relevant=f"{GO} and ${{child_age}} >= 5"),
    q("select_one yes_no", "enrolled", "Is the child enrolled in school this school year?",
      "Naka-enroll ba ang bata ngayong taong-aralan?", required=True),
    q("integer", "days_absent", "School days missed in the past 4 weeks", "Araw na lumiban sa nakaraang 4 na linggo",
      required=True, relevant="${enrolled} = '1'", constraint=". >= 0 and . <= 20",
      msg=("0-20 school days.", "0-20 araw ng pasok.")),
    q("select_one yes_no", "repeated_grade", "Has the child ever repeated a grade?",
      "Umulit na ba ng baitang ang bata?", required=True),
    q("decimal", "general_average", "General average in the last completed school year (60-100)",
      "General average sa huling natapos na taong-aralan (60-100)",
      hint=("Leave blank if there is no grade (e.g. kindergarten).", "Iwanang blangko kung walang grado (hal. kinder)."),
      relevant="${child_age} >= 7", constraint=". >= 60 and . <= 100",
      msg=("A general average is between 60 and 100.", "Ang general average ay mula 60 hanggang 100.")),
    end("group"),

    q("begin_group", "wb", "Well-being", "Kapakanan", relevant=f"{GO} and ${{child_age}} >= 7"),
    q("note", "wb_note",
      "Ask the child. How often is each of these true for you? Never, sometimes, often or always.",
      "Itanong sa bata. Gaano kadalas totoo sa iyo ang bawat isa? Hindi kailanman, minsan, madalas o palagi."),
    *[_wb(n, en, fil) for n, en, fil, _ in WB_ITEMS],
    q("calculate", "wb_score", calc=_score()),
    q("note", "sdq_note",
      "Optional module (not included): the Strengths and Difficulties Questionnaire (SDQ) is licensed; add it "
      "only with permission and its official Filipino version.",
      "Opsiyonal na module (hindi kasama): lisensiyado ang Strengths and Difficulties Questionnaire (SDQ); "
      "idagdag lamang kung may pahintulot at ang opisyal na bersiyong Filipino nito."),
    end("group"),

    q("begin_group", "referral", "Referral", "Referral", relevant=GO),
    q("select_multiple risk_flags", "risk_flags",
      "Interviewer: tick any sign seen or reported during the interview (all that apply)",
      "Tagapanayam: markahan ang anumang palatandaang nakita o naiulat (lahat ng angkop)", required=True,
      constraint="not(selected(., 'none') and count-selected(.) > 1)",
      msg=("'None' cannot be ticked together with a risk sign.",
           "Hindi maaaring markahan ang 'Wala' kasama ng isang palatandaan.")),
    q("calculate", "referral_needed",
      calc="if(count-selected(${risk_flags}) > 0 and not(selected(${risk_flags}, 'none')), 1, 0)"),
    q("note", "referral_protocol",
      "Referral protocol: if any sign is ticked, (1) tell the caregiver (and the child, in simple words) what "
      "help exists; (2) ask consent to refer; (3) the same day, pass the case to the Municipal/City Social "
      "Welfare and Development Office (MSWDO/CSWDO) or the barangay Council for the Protection of Children; "
      "(4) if the child is in immediate danger, contact the Women and Children Protection Desk of the police "
      "at once (RA 7610). Never confront a suspected abuser.",
      "Protocol ng referral: kung may minarkahang palatandaan, (1) sabihin sa tagapag-alaga (at sa bata, sa "
      "simpleng salita) kung anong tulong ang mayroon; (2) humingi ng pahintulot na i-refer; (3) sa araw ding "
      "iyon, ipasa ang kaso sa MSWDO/CSWDO o sa Barangay Council for the Protection of Children; (4) kung nasa "
      "agarang panganib ang bata, agad makipag-ugnayan sa Women and Children Protection Desk ng pulisya "
      "(RA 7610). Huwag harapin ang pinaghihinalaang nang-aabuso.",
      relevant="${referral_needed} = 1"),
    q("select_one yes_no", "referral_consent", "Does the caregiver agree to a referral?",
      "Pumapayag ba ang tagapag-alaga na i-refer?", required=True, relevant="${referral_needed} = 1"),
    q("select_one referral_to", "referral_to", "Referred to", "Ini-refer sa", required=True,
      relevant="${referral_needed} = 1"),
    end("group"),
]

CHOICES: dict[str, list[c.Choice]] = {
    "yes_no": c.YES_NO,
    "yes_no_dk": c.YES_NO_DK,
    "cbms_sex": c.CBMS_SEX,
    "cbms_country": c.CBMS_COUNTRY,
    "assent": [("1", "Yes, the child agrees", "Oo, pumapayag ang bata"),
               ("2", "No, the child does not agree", "Hindi pumapayag ang bata"),
               ("3", "Not applicable: child under 7 (caregiver answers)",
                "Hindi angkop: wala pang 7 taong gulang ang bata (tagapag-alaga ang sasagot)")],
    "grade": [
        ("0", "Not in school", "Hindi nag-aaral"),
        ("k", "Kindergarten / day care", "Kindergarten / day care"),
        *[(str(g), f"Grade {g}", f"Baitang {g}") for g in range(1, 13)],
        ("als", "Alternative Learning System", "Alternative Learning System (ALS)"),
        ("college", "College or TVET", "Kolehiyo o TVET"),
    ],
    "parent_abroad": [("1", "Father only", "Ama lamang"), ("2", "Mother only", "Ina lamang"),
                      ("3", "Both parents", "Parehong magulang")],
    "caregiver_rel": [
        ("1", "Mother", "Ina"), ("2", "Father", "Ama"), ("3", "Grandparent", "Lolo o lola"),
        ("4", "Aunt or uncle", "Tiya o tiyo"), ("5", "Older brother or sister", "Nakatatandang kapatid"),
        ("6", "Other relative", "Ibang kamag-anak"), ("7", "Non-relative (e.g. helper)", "Hindi kamag-anak (hal. kasambahay)"),
        ("8", "No adult caregiver", "Walang nakatatandang nag-aalaga"),
    ],
    "contact_freq": [
        ("1", "Every day", "Araw-araw"), ("2", "Several times a week", "Ilang beses sa isang linggo"),
        ("3", "About once a week", "Mga isang beses sa isang linggo"), ("4", "About once a month", "Mga isang beses sa isang buwan"),
        ("5", "Less than once a month", "Mas madalang sa isang beses sa isang buwan"), ("6", "Never", "Hindi kailanman"),
    ],
    "contact_mode": [
        ("video", "Video call", "Video call"), ("voice", "Voice call", "Tawag sa telepono"),
        ("chat", "Chat or text messages", "Chat o text"), ("social", "Social media posts", "Mga post sa social media"),
        ("letters", "Letters or parcels", "Sulat o padala"), ("other", "Other", "Iba pa"),
    ],
    "frequency4": [("1", "Never", "Hindi kailanman"), ("2", "Sometimes", "Minsan"),
                   ("3", "Often", "Madalas"), ("4", "Always", "Palagi")],
    "risk_flags": [
        ("child_labour", "Child works long hours or in hazardous work", "Matagal o mapanganib na trabaho ng bata"),
        ("early_pregnancy", "Pregnancy or early marriage/union", "Maagang pagbubuntis o pag-aasawa"),
        ("abuse", "Signs of abuse or neglect", "Palatandaan ng pang-aabuso o pagpapabaya"),
        ("dropout", "Dropped out or long absence from school", "Huminto o matagal na lumiban sa pag-aaral"),
        ("distress", "Severe distress or talk of self-harm", "Matinding pagkabalisa o pagbanggit ng pananakit sa sarili"),
        ("no_caregiver", "No adult caregiver", "Walang nakatatandang nag-aalaga"),
        ("none", "None", "Wala"),
    ],
    "referral_to": [
        ("mswdo", "Municipal/City Social Welfare and Development Office", "MSWDO/CSWDO"),
        ("bcpc", "Barangay Council for the Protection of Children", "Barangay Council for the Protection of Children"),
        ("wcpd", "Police Women and Children Protection Desk", "Women and Children Protection Desk ng pulisya"),
        ("school", "School guidance counsellor", "Guidance counselor ng paaralan"),
        ("health", "Health centre", "Health center"),
        ("none", "Not referred (caregiver declined)", "Hindi na-refer (tumanggi ang tagapag-alaga)"),
    ],
}

_DEST = {"9201": 24, "9240": 16, "9104": 8, "9125": 6, "9185": 6, "9207": 6, "9224": 5, "9116": 4,
         "9243": 4, "9039": 3, "9114": 2, "9139": 2, "9123": 2}

# Hints for migdata.questionnaires.submissions.fake_submissions (plausible values only).
FAKE: dict[str, dict] = {
    "consent": {"choices": {"1": 95, "2": 5}},
    "assent": {"choices": {"1": 72, "2": 3, "3": 25}},
    "psgc": {"psgc": True},
    "cbms_case_id": {"p": 0.5},
    "child_line_no": {"int": (3, 7)},
    "father_line_no": {"int": (1, 2)},
    "mother_line_no": {"int": (1, 2)},
    "sample_stratum": {"p": 0.0},  # stand-alone fakes are not drawn from a frame
    "respondent_rel": {"choices": {"1": 45, "2": 15, "3": 30, "4": 6, "6": 4}},
    "child_age": {"int": (0, 17)},
    "child_grade": {"choices": {"0": 2, "k": 10, **{str(g): 10 for g in range(1, 13)}, "als": 1, "college": 3}},
    "parent_abroad": {"choices": {"1": 50, "2": 36, "3": 14}},
    "father_since": {"int": (2012, 2026)},
    "mother_since": {"int": (2012, 2026)},
    "father_country": {"choices": _DEST},
    "mother_country": {"choices": _DEST},
    "months_apart": {"int": (6, 12)},
    "caregiver": {"choices": {"1": 45, "2": 15, "3": 28, "4": 6, "5": 3, "6": 2, "7": 1}},
    "contact_freq": {"choices": {"1": 40, "2": 30, "3": 18, "4": 8, "5": 3, "6": 1}},
    "contact_mode": {"choices": {"video": 8, "voice": 4, "chat": 7, "social": 3, "letters": 1, "other": 0.3},
                     "k": (1, 3)},
    "remit_school": {"choices": {"1": 80, "2": 15, "8": 5}},
    "enrolled": {"choices": {"1": 93, "2": 7}},
    "days_absent": {"int": (0, 4)},
    "repeated_grade": {"choices": {"1": 6, "2": 94}},
    "general_average": {"num": (86, 0.05, 75, 99), "round": 1, "p": 0.85},
    "wb_happy": {"choices": {"1": 3, "2": 25, "3": 40, "4": 32}},
    "wb_lonely": {"choices": {"1": 30, "2": 45, "3": 18, "4": 7}},
    "wb_worry": {"choices": {"1": 20, "2": 45, "3": 25, "4": 10}},
    "wb_talk": {"choices": {"1": 5, "2": 20, "3": 35, "4": 40}},
    "wb_school": {"choices": {"1": 4, "2": 20, "3": 36, "4": 40}},
    "wb_fights": {"choices": {"1": 50, "2": 38, "3": 9, "4": 3}},
    "risk_flags": {"choices": {"none": 90, "child_labour": 2, "early_pregnancy": 1, "abuse": 1,
                               "dropout": 3, "distress": 2, "no_caregiver": 1}, "k": (1, 1)},
    "referral_consent": {"choices": {"1": 85, "2": 15}},
    "referral_to": {"choices": {"mswdo": 50, "bcpc": 20, "school": 15, "health": 10, "wcpd": 5}},
}
